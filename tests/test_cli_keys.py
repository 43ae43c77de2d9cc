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


@pytest.fixture
def no_keyring(memory_keyring):
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # conftest's memory_keyring puts the previous one back


def test_without_a_keyring_the_file_store_is_an_explicit_warned_choice(capsys, work, no_keyring,
                                                                      monkeypatch, isolated_home):
    import io

    key_file = isolated_home / "keys.json"
    monkeypatch.setattr("sys.stdin", io.StringIO(TEST_KEY + "\n"))
    code, out, err = run(capsys, "keys", "set", "work")
    assert code == 2 and "--insecure-storage" in only_line(err) and not key_file.exists()
    monkeypatch.setattr("sys.stdin", io.StringIO(TEST_KEY + "\n"))
    code, out, err = run(capsys, "keys", "set", "work", "--insecure-storage")
    assert code == 0 and out.strip() == f"key for work saved in {key_file} (sk-…b5c7)"
    assert "warning: the key is stored unencrypted" in only_line(err)
    assert key_file.stat().st_mode & 0o777 == 0o600
    code, out, _ = run(capsys, "keys", "list")
    assert code == 0 and out.split()[:5] == ["work", "sk-…b5c7", "file", "(plain", "text)"]
    code, out, err = run(capsys, "chat", "hi")  # the key from the file is the one sent
    assert code == 0 and out.strip(), err
    code, out, _ = run(capsys, "keys", "delete", "work")
    assert code == 0 and out.strip() == "key for work deleted" and not key_file.exists()


def test_keys_list_works_without_a_keyring_for_variable_profiles(capsys, work, no_keyring, monkeypatch):
    save_profile(Profile(name="other", base_url=work.base_url), make_active=False)
    monkeypatch.setenv("WORK_KEY", TEST_KEY)
    code, out, err = run(capsys, "keys", "list")
    assert code == 0 and err == "", err
    lines = out.splitlines()
    assert lines[0].split() == ["work", "sk-…b5c7", "env", "WORK_KEY"]
    assert lines[1].startswith("other") and "no OS keyring: set RELAY_TUI_API_KEY" in lines[1]
    monkeypatch.delenv("WORK_KEY")
    assert "no OS keyring: set WORK_KEY or" in run(capsys, "keys", "list")[1].splitlines()[0]


def test_profiles_add_with_a_variable_does_not_ask_for_keys_set(capsys, demo_relay, monkeypatch):
    code, out, _ = run(capsys, "profiles", "add", "ci", "--base-url", demo_relay.base_url,
                       "--key-env", "CI_RELAY_KEY")
    assert code == 0 and "keys set" not in out
    assert "its key is read from the environment variable CI_RELAY_KEY (not set in this shell yet)" in out
