"""`relay-tui ... | head`: a reader that leaves early ends the command quietly, as Unix tools do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from relay_tui.store.history import History
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parent.parent


def run_into_closed_pipe(*argv: str, home: Path) -> subprocess.CompletedProcess:
    """Run the CLI with stdout on a pipe whose reader is already gone (`| head` that exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "RELAY_TUI_API_KEY": TEST_KEY, "RELAY_TUI_HOME": str(home)}
    try:
        return subprocess.run([sys.executable, "-m", "relay_tui", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, timeout=60)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("command", [
    ["models"],
    ["models", "--json"],
    ["chat", "-m", "gemini-2.5-flash", "hi"],
    ["chat", "-m", "gemini-2.5-flash", "--json", "hi"],
    ["compare", "-m", "gpt-4.1,gemini-2.5-flash", "hi"],
])
def test_a_closed_stdout_ends_quietly(command, demo_relay, isolated_home):
    proc = run_into_closed_pipe("--base-url", demo_relay.base_url, *command, home=isolated_home)
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert "BrokenPipe" not in proc.stderr and "Broken pipe" not in proc.stderr, proc.stderr
    assert proc.returncode == 141, proc.stderr  # 128 + SIGPIPE, what `yes | head -1` leaves


def test_a_chat_cut_by_a_closed_pipe_is_kept_as_stopped(demo_relay, isolated_home):
    proc = run_into_closed_pipe("--base-url", demo_relay.base_url, "chat", "-m", "gpt-4.1", "hi",
                                home=isolated_home)
    assert proc.returncode == 141, proc.stderr
    with History() as history:
        conv = history.conversations()[0]
        answer = history.messages(conv.id)[-1]
    assert answer.role == "assistant" and answer.state != "streaming"
