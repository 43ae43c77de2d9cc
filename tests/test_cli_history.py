"""A history.db that cannot be opened: one line naming the file and the fix, exit 1, never a traceback."""

from __future__ import annotations

import pytest

from relay_tui.cli import main
from relay_tui.store.paths import history_path
from tests.conftest import TEST_KEY

COMMANDS = [
    ["chat", "-m", "gpt-4.1", "hi"],
    ["chat", "-m", "gpt-4.1", "--json", "hi"],
    ["compare", "-m", "gpt-4.1,gemini-2.5-flash", "hi"],
    ["bench", "-m", "gpt-4.1", "-n", "2", "-c", "1"],
    ["quota"],
]


def garbage(path):
    path.write_bytes(b"this is not an SQLite database\n" * 100)


def directory(path):
    path.mkdir()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("spoil", [garbage, directory], ids=["garbage", "directory"])
def test_a_broken_history_is_one_line_naming_the_file(command, spoil, capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    path = history_path()
    spoil(path)
    code = main(["--base-url", demo_relay.base_url, *command])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 1, err
    assert "Traceback" not in err and len(lines) == 1, err
    line = lines[0]
    assert line.startswith(f"relay-tui: cannot open {path}") and "move it aside" in line, line
    assert out == ""
