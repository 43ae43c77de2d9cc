"""A private freedesktop Secret Service for tests: its own D-Bus session bus and gnome-keyring.

Why: the key tests must also pass against the real OS keyring of a Linux desktop, yet never touch
the user's session bus or keyring. So the fixture starts a session bus of its own (a config with no
service directories, so nothing else can be activated on it) and `gnome-keyring-daemon` unlocked
with a throwaway password, both with HOME and the XDG folders in a temporary folder. A test reaches
it by pointing DBUS_SESSION_BUS_ADDRESS at `SecretService.address` (or by running a process with
`SecretService.env`). Missing binaries skip the tests, unless RELAY_TUI_REQUIRE_SECRET_SERVICE=1
(set by `.ci/run`), which turns any failure to start into a test failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_ENV = "RELAY_TUI_REQUIRE_SECRET_SERVICE"
BUS_NAME = "org.freedesktop.secrets"
BINARIES = ("dbus-daemon", "gnome-keyring-daemon", "secret-tool")
DEBIAN_PACKAGES = "gnome-keyring dbus-x11 libsecret-tools"
START_TIMEOUT = 10.0

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass(frozen=True)
class SecretService:
    address: str            # the private bus, for DBUS_SESSION_BUS_ADDRESS
    env: dict[str, str]     # a clean environment for processes that should use this service
    home: Path              # HOME of the daemons (gnome-keyring keeps its files under it)


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory) -> Iterator[SecretService]:
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} not installed (Debian: apt-get install {DEBIAN_PACKAGES})")
    root = tmp_path_factory.mktemp("secret-service")
    env = _isolated_env(root)
    log = root / "daemons.log"
    processes: list[subprocess.Popen] = []
    try:
        with log.open("wb") as log_file:
            address = _start_bus(root, env, log_file, processes)
            env["DBUS_SESSION_BUS_ADDRESS"] = address
            _start_keyring(env, log_file, processes)
        _wait_for_owner(address, processes[-1], log)
        yield SecretService(address=address, env=env, home=Path(env["HOME"]))
    finally:
        for process in reversed(processes):
            _stop(process)


def _unavailable(reason: str) -> None:
    reason = f"no Secret Service for the tests: {reason}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def _isolated_env(root: Path) -> dict[str, str]:
    """HOME, XDG folders and runtime dir under `root`; no DISPLAY, so nothing can prompt."""
    home = root / "home"
    runtime = root / "run"
    for folder in (home / ".config", home / ".local/share", home / ".cache", runtime):
        folder.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_RUNTIME_DIR": str(runtime)}


def _start_bus(root: Path, env: dict[str, str], log_file, processes: list) -> str:
    config = root / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket_dir=root / "run"))
    bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file, env=env)
    processes.append(bus)
    address = bus.stdout.readline().decode().strip()  # printed once it listens; EOF if it failed
    bus.stdout.close()
    if not address:
        _unavailable(f"dbus-daemon did not start (exit {bus.wait()}): {_tail(root / 'daemons.log')}")
    return address


def _start_keyring(env: dict[str, str], log_file, processes: list) -> None:
    keyring_daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log_file, env=env)
    processes.append(keyring_daemon)
    keyring_daemon.stdin.write(b"throwaway")  # the login keyring's password, read up to EOF
    keyring_daemon.stdin.close()


def _wait_for_owner(address: str, daemon: subprocess.Popen, log: Path) -> None:
    """Poll the private bus until gnome-keyring owns org.freedesktop.secrets."""
    from jeepney import DBus
    from jeepney.io.blocking import open_dbus_connection

    deadline = time.monotonic() + START_TIMEOUT
    with open_dbus_connection(bus=address) as connection:
        while not connection.send_and_get_reply(DBus().NameHasOwner(BUS_NAME)).body[0]:
            if daemon.poll() is not None:
                _unavailable(f"gnome-keyring-daemon exited ({daemon.returncode}): {_tail(log)}")
            if time.monotonic() > deadline:
                _unavailable(f"{BUS_NAME} had no owner after {START_TIMEOUT:.0f} s: {_tail(log)}")
            time.sleep(0.02)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return " | ".join(lines[-3:]) or "no output"
