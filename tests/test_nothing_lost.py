"""Nothing lost on a bad day: a full or read-only disk keeps the TUI's prompt and says so in one
line; `profiles add` there is one line too; bench logs each request as it finishes, so an
interrupt keeps them; a compare ended by SIGTERM keeps its partial answers.

The disk is a real 512 KB tmpfs (tests/support/disk.py), filled to ENOSPC or remounted read-only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.core.compare import load_comparison
from relay_tui.store.history import History
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from tests.conftest import TEST_KEY
from tests.support.pty_app import ROOT
from tests.test_cli import run_cli
from tests.test_tui_chat import until


async def test_the_prompt_survives_a_full_disk(small_disk, demo_relay, monkeypatch):
    # (A read-only remount is refused while history.db is open for writing, so the read-only
    # disk is met where it can happen: at start, and by `profiles add` below.)
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    app.set_reactive(type(app).model, "gpt-4.1")
    async with app.run_test(size=(100, 30)) as pilot:
        small_disk.fill()
        pane = app.query_one(ChatPane)
        box = pane.query_one(PromptArea)
        box.focus()
        box.text = "a prompt I typed for ten minutes"
        await pilot.press("enter")
        await until(pilot, lambda: box.text == "a prompt I typed for ten minutes" and not pane.streaming
                    and any("could not save" in str(n.message) for n in app._notifications))
        line = next(str(n.message) for n in app._notifications if "could not save" in str(n.message))
        assert line.startswith("could not save to the history: cannot write ")
        assert line.endswith("check that the disk has room and is writable; your prompt is back in the box")
        assert "\n" not in line
        app.exit()


@pytest.mark.parametrize("trouble, why", [("fill", "No space left on device"),
                                          ("read_only", "Read-only file system")])
def test_profiles_add_on_a_full_or_read_only_home_is_one_line(small_disk, capsys, trouble, why):
    getattr(small_disk, trouble)()
    code, out, err = run_cli(capsys, "profiles", "add", "work", "--base-url", "https://relay.example.com/v1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"config.toml: cannot save the change: {why} — check that the disk has room" in err


def spawn(home, *argv: str) -> subprocess.Popen:
    env = {**os.environ, "RELAY_TUI_HOME": str(home), "RELAY_TUI_API_KEY": TEST_KEY}
    return subprocess.Popen([sys.executable, "-m", "relay_tui", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def logged(kind: str) -> list:
    with History() as history:
        return [r for r in history.requests() if r.kind == kind]


@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_an_interrupted_bench_keeps_the_requests_that_finished(isolated_home, sig, code, said):
    from relay_tui.demo import DemoRelay

    relay = DemoRelay(time_scale=0.05, accept_keys=(TEST_KEY,))
    relay.start()
    try:
        proc = spawn(isolated_home, "--base-url", relay.base_url, "bench", "-m", "gpt-4.1",
                     "-n", "400", "-c", "2")
        deadline = time.monotonic() + 30
        while len(logged("bench")) < 5:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        relay.stop()
    rows = logged("bench")
    assert proc.returncode == code and err.strip().endswith(f"relay-tui: {said}"), err
    assert "Traceback" not in err
    assert 5 <= len(rows) < 400 and all(r.ok for r in rows)


def test_a_compare_ended_by_sigterm_keeps_its_partial_answers(isolated_home):
    from relay_tui.demo import DemoRelay

    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,),
                      model_overrides={m: {"answer_tokens": 2000} for m in ("gpt-4.1", "claude-sonnet-4.5")})
    relay.start()
    try:
        proc = spawn(isolated_home, "--base-url", relay.base_url, "compare",
                     "-m", "gpt-4.1,claude-sonnet-4.5", "a long answer please")
        time.sleep(2.5)  # both columns stream (first tokens within a second)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        relay.stop()
    assert proc.returncode == 143 and err.strip().endswith("relay-tui: terminated") and "Traceback" not in err
    with History() as history:
        (row,) = history.comparisons()
        stored = load_comparison(history, row.id)
    columns = stored.result.columns
    assert [c.model for c in columns] == ["gpt-4.1", "claude-sonnet-4.5"]
    assert all(c.state == "stopped" and len(c.text) > 20 for c in columns), columns
