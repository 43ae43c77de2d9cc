"""Keys in the real freedesktop Secret Service (gnome-keyring on a private bus), and with no keyring.

The store and the `relay-tui keys` CLI run their own code paths against the daemon; what they did
is checked with libsecret's `secret-tool`, a separate client. With no usable backend every command
ends in one line naming RELAY_TUI_API_KEY, and that variable still works.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import SecretService, fail

from relay_tui.cli import main
from relay_tui.demo import DemoRelay
from relay_tui.store import keys
from relay_tui.store.keys import KeyringUnavailable
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY, files_containing
from tests.support.secret_service import secret_service  # noqa: F401  (the session fixture)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("secret-service"),
              pytest.mark.skipif(sys.platform != "linux", reason="the freedesktop Secret Service is Linux's")]

ROOT = Path(__file__).resolve().parent.parent
NEW_KEY = "sk-rotated-4c8e1a9b7d2f6e3a5b0c9d8e7f6a5b4c"
WORK = Profile(name="work", base_url="https://relay.example.com/v1")
NO_BUS = "unix:path=/nonexistent/relay-tui-test-bus"


@pytest.fixture
def real_keyring(secret_service, monkeypatch):  # noqa: F811
    """The app's keyring is the Secret Service on the private bus; its relay-tui items go at the end."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    keyring.set_keyring(SecretService.Keyring())  # memory_keyring (autouse) restores its own afterwards
    yield secret_service
    for name in ("work", "home"):
        subprocess.run(["secret-tool", "clear", "service", keys.SERVICE, "username", name],
                       env=secret_service.env, check=False)


def lookup(service, name: str) -> str | None:
    """The secret as libsecret reads it from the daemon (None when there is no such item)."""
    proc = subprocess.run(["secret-tool", "lookup", "service", keys.SERVICE, "username", name],
                          env=service.env, capture_output=True, text=True, timeout=10)
    return proc.stdout if proc.returncode == 0 else None


def items(service) -> int:
    proc = subprocess.run(["secret-tool", "search", "--all", "service", keys.SERVICE],
                          env=service.env, capture_output=True, text=True, timeout=10)
    return proc.stdout.count("secret = ")


def run_cli(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", _Pipe(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, f"expected one line on stderr, got: {err!r}"
    return lines[0]


class _Pipe:
    """stdin as a pipe: `keys set` reads the key from it instead of prompting."""

    def __init__(self, text: str):
        self.text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        return self.text


def test_store_set_read_rotate_delete(real_keyring):
    keys.set_key("work", TEST_KEY)
    assert lookup(real_keyring, "work") == TEST_KEY
    assert keys.get_key(WORK) == TEST_KEY and keys.key_source(WORK) == "keyring"
    keys.set_key("work", NEW_KEY)                      # rotation replaces the item, no second one
    assert lookup(real_keyring, "work") == NEW_KEY and items(real_keyring) == 1
    assert keys.get_key(WORK) == NEW_KEY
    assert keys.delete_key("work") is True
    assert lookup(real_keyring, "work") is None and items(real_keyring) == 0
    assert keys.get_key(WORK) is None and keys.delete_key("work") is False


def test_cli_keys_and_chat_through_the_secret_service(real_keyring, capsys, monkeypatch, isolated_home):
    relay = DemoRelay(time_scale=0, accept_keys=(NEW_KEY,))   # the old key has been revoked
    relay.start()
    try:
        cli = lambda *argv, stdin="": run_cli(capsys, monkeypatch, *argv, stdin=stdin)  # noqa: E731
        assert cli("profiles", "add", "work", "--base-url", relay.base_url, "--model", "gpt-4.1")[0] == 0
        code, out, _ = cli("keys", "set", "work", stdin=TEST_KEY + "\n")
        assert code == 0 and out.strip() == "key for work saved in the OS keyring (sk-…b5c7)"
        assert lookup(real_keyring, "work") == TEST_KEY
        code, out, _ = cli("keys", "list")
        assert out.split() == ["work", "sk-…b5c7", "keyring", "set", "0", "days", "ago"]
        code, out, err = cli("chat", "hello")
        assert code == 1 and out == "" and "401" in one_line(err) and TEST_KEY not in err

        code, out, _ = cli("keys", "set", "work", stdin=NEW_KEY + "\n")       # rotate
        assert code == 0 and "(sk-…5b4c)" in out
        assert lookup(real_keyring, "work") == NEW_KEY and items(real_keyring) == 1
        assert cli("keys", "list")[1].split()[:3] == ["work", "sk-…5b4c", "keyring"]
        code, out, err = cli("chat", "hello")
        assert code == 0 and out.strip(), err

        code, out, _ = cli("keys", "delete", "work")
        assert code == 0 and out.strip() == "key for work deleted"
        assert lookup(real_keyring, "work") is None and items(real_keyring) == 0
        assert cli("keys", "list")[1].split() == ["work", "(no", "key)"]
        code, _, err = cli("chat", "hello")
        assert code == 2 and "relay-tui keys set work" in one_line(err)
    finally:
        relay.stop()
    assert files_containing(isolated_home.parent, NEW_KEY[:12].encode()) == []


def test_an_installed_app_finds_the_secret_service_by_itself(real_keyring, isolated_home, capsys,
                                                             monkeypatch):
    """No backend chosen: keyring's own detection picks the Secret Service over keyrings.alt's file."""
    subprocess.run(["secret-tool", "store", "--label=relay-tui work", "service", keys.SERVICE,
                    "username", "work"], input=TEST_KEY, text=True, env=real_keyring.env, check=True)
    run_cli(capsys, monkeypatch, "profiles", "add", "work", "--base-url", "https://relay.example.com/v1")
    env = real_keyring.env | {"RELAY_TUI_HOME": str(isolated_home), "PYTHONPATH": str(ROOT)}
    proc = run_app(env, "keys", "list")
    assert proc.returncode == 0 and proc.stdout.split()[:3] == ["work", "sk-…b5c7", "keyring"], proc.stderr


def run_app(env: dict[str, str], *argv: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "relay_tui", *argv], input=stdin, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


# -- no keyring at all -----------------------------------------------------------------------

@pytest.mark.parametrize("backend, reason", [
    (fail.Keyring, "no OS keyring backend is available"),
    (SecretService.Keyring, "its service cannot be reached: No such file or directory"),
], ids=["fail-backend", "secret-service-without-a-bus"])
def test_no_keyring_is_one_line_and_the_variable_still_works(backend, reason, capsys, monkeypatch,
                                                             demo_relay):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", NO_BUS)
    keyring.set_keyring(backend())
    cli = lambda *argv, stdin="": run_cli(capsys, monkeypatch, *argv, stdin=stdin)  # noqa: E731
    assert cli("profiles", "add", "work", "--base-url", demo_relay.base_url, "--model", "gpt-4.1")[0] == 0
    for argv in (["keys", "set", "work"], ["keys", "delete", "work"], ["chat", "hello"]):
        code, out, err = cli(*argv, stdin=TEST_KEY + "\n")
        line = one_line(err)
        assert code == 2 and out == "" and line.startswith("relay-tui: ") and reason in line
        ending = ("; set RELAY_TUI_API_KEY (or the profile's key_env) instead, or store it in a "
                  "plain file only you can read: relay-tui keys set work --insecure-storage"
                  if argv[1] == "set" else "; set RELAY_TUI_API_KEY (or the profile's key_env) instead")
        assert line.endswith(ending), line
        assert TEST_KEY not in err
    code, out, err = cli("keys", "list")  # it lists, and says what to do
    assert code == 0 and err == "" and out.split()[:3] == ["work", "(no", "key)"]
    assert "no OS keyring: set RELAY_TUI_API_KEY or `keys set work --insecure-storage`" in out
    with pytest.raises(KeyringUnavailable):
        keys.get_key(WORK)

    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, out, err = cli("chat", "hello")
    assert code == 0 and out.strip(), err
    assert cli("keys", "list")[1].split() == ["work", "sk-…b5c7", "env", "RELAY_TUI_API_KEY"]


@pytest.mark.parametrize("chosen, reason", [
    (None, "no OS keyring backend is available"),
    ("keyring.backends.SecretService.Keyring",
     "the configured OS keyring cannot be used (its service cannot be reached: No such file or directory)"),
], ids=["detected", "PYTHON_KEYRING_BACKEND=SecretService"])
def test_no_session_bus_in_a_fresh_process(chosen, reason, tmp_path, isolated_home, capsys, monkeypatch):
    """keyring's own choice with no bus (keyrings.alt's plain file is there) or the user's: one line."""
    run_cli(capsys, monkeypatch, "profiles", "add", "work", "--base-url", "https://relay.example.com/v1")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "DBUS_SESSION_BUS_ADDRESS": NO_BUS,
           "RELAY_TUI_HOME": str(isolated_home), "PYTHONPATH": str(ROOT)}
    if chosen:
        env["PYTHON_KEYRING_BACKEND"] = chosen
    proc = run_app(env, "keys", "set", "work", stdin=TEST_KEY + "\n")
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_line(proc.stderr) == (f"relay-tui: {reason}; set RELAY_TUI_API_KEY (or the "
                                     "profile's key_env) instead, or store it in a plain file only "
                                     "you can read: relay-tui keys set work --insecure-storage")
    assert not (isolated_home / "keys.json").exists()  # never a file unasked
