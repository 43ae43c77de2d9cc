"""Which key the CLI sends, and what a rejected key's line tells the user to do about it."""

from __future__ import annotations

import pytest

from relay_tui.cli import main
from relay_tui.store.config import save_profile
from relay_tui.store.history import History
from relay_tui.store.keys import set_key
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY

WRONG = "sk-wrong-5a5a5a5a5a5a5a5a5a5a"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def only_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def work(demo_relay):
    """Profile "work" (active) on the demo relay, reading its key from WORK_KEY when set."""
    save_profile(Profile(name="work", base_url=demo_relay.base_url, default_model="gpt-4.1",
                         key_env="WORK_KEY", max_retries=0), make_active=True)
    return demo_relay


@pytest.mark.parametrize("command", [["chat", "-m", "gpt-4.1", "hi"], ["models"], ["quota"]])
def test_a_rejected_global_variable_says_to_check_it(command, capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", WRONG)
    code, out, err = run(capsys, "--base-url", demo_relay.base_url, *command)
    line = only_line(err)
    assert code == 1 and out == ""
    assert "HTTP 401" in line and "keys set" not in line, line
    assert "— check RELAY_TUI_API_KEY, the environment variable the key was read from [request " in line
    assert WRONG not in err


def test_the_profiles_variable_wins_and_is_the_one_named(capsys, work, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)     # right, but meant for any relay
    monkeypatch.setenv("WORK_KEY", WRONG)                 # this relay's own: it is the one sent
    code, _, err = run(capsys, "chat", "hi")
    line = only_line(err)
    assert code == 1 and "HTTP 401" in line
    assert "check WORK_KEY, the environment variable the key was read from" in line, line
    assert "RELAY_TUI_API_KEY" not in line and "keys set" not in line
    with History() as history:
        answer = history.messages(history.conversations()[0].id)[-1]
    assert line == f"relay-tui: {answer.error}"            # the history keeps what was shown

    monkeypatch.setenv("RELAY_TUI_API_KEY", WRONG)
    monkeypatch.setenv("WORK_KEY", TEST_KEY)
    code, out, err = run(capsys, "chat", "hi")
    assert code == 0 and out.strip(), err


def test_a_rejected_keyring_key_says_keys_set(capsys, work):
    set_key("work", WRONG)
    code, _, err = run(capsys, "chat", "hi")
    line = only_line(err)
    assert code == 1 and "HTTP 401" in line
    assert "— run `relay-tui keys set work` [request rt-" in line, line


def test_a_mangled_key_from_the_environment_names_the_variable(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", "sk-pasted twice-0123456789")
    code, _, err = run(capsys, "--base-url", demo_relay.base_url, "models")
    line = only_line(err)
    assert code == 1 and "contains spaces" in line
    assert "check RELAY_TUI_API_KEY" in line and "keys set base-url" not in line, line
