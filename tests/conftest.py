"""Fixtures every test shares: an isolated app home, an in-memory keyring, a demo relay, and
the machine shared between pytest-xdist workers.

The autouse fixture makes it impossible for a test to touch the user's real config, history or
keyring: RELAY_TUI_HOME points at a temporary folder and the keyring backend is replaced.

The suite runs on every core (`pytest -n auto --dist loadgroup`, the README's command). A test
that cannot share the machine — its checks are timings, e.g. a TTFT within 5 ms — is marked
`alone` and runs while no other test does; a module that starts a heavy real server (LiteLLM, and
later llama.cpp's server or Phoenix) marks itself `xdist_group("<server>")`, so one worker runs
all its tests and starts the server once.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import keyring
import pytest

from tests.support.memkeyring import MemoryKeyring

# A key that looks real; `isolated_home` scans every file a test writes for it (and its first 12 characters).
TEST_KEY = "sk-test-9f3b2c7d1e5a4f60b8c2d9e7a1f3b5c7"


# Session fixtures backed by a real server in a cached venv, and the support module installing it.
SERVER_FIXTURES = {"litellm_relay": "tests.support.litellm_proxy", "phoenix": "tests.support.phoenix"}


def pytest_collection_modifyitems(config, items):
    """Start installing, in the background, the real servers the selected tests need, and run
    the tests that use them last, so the installs (minutes, once per machine) overlap the rest of
    the suite. While an install is not finished, its tests' timeout covers waiting for it."""
    from tests.support import cached_venv

    def server_module(item) -> str | None:
        names = getattr(item, "fixturenames", ())
        return next((module for name, module in SERVER_FIXTURES.items() if name in names), None)

    needed = {module for item in items if (module := server_module(item))}
    if not needed:
        return
    cached_venv.prefetch(needed)
    pending = {module for module in needed if not cached_venv.is_cached(module)}
    for item in items:
        if server_module(item) in pending:
            item.add_marker(pytest.mark.timeout(cached_venv.INSTALL_TIMEOUT + 300))
    items.sort(key=lambda item: server_module(item) is not None)   # stable: order kept otherwise


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point the app's home at a temporary folder; afterwards, scan what the test wrote there.

    Every file a test leaves under its temporary folder (config, history, exports, screenshots)
    is searched for the test key's first 12 characters: finding them fails the test.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("RELAY_TUI_HOME", str(home))
    for var in ("RELAY_TUI_API_KEY", "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY",
                "https_proxy", "http_proxy", "all_proxy", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(var)   # telemetry stays off unless a test switches it on
    yield home
    # The one file whose job is to hold keys, written only when the user asks for it
    # (`keys set --insecure-storage`): it must be readable by its owner alone.
    key_file = home / "keys.json"
    if key_file.exists():
        assert key_file.stat().st_mode & 0o777 == 0o600, oct(key_file.stat().st_mode)
    leaks = [path for path in files_containing(tmp_path, TEST_KEY[:12].encode()) if path != key_file]
    assert not leaks, f"the test key was written to {leaks}"


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every file under `root` whose bytes contain `needle` (the SQLite WAL and journal included)."""
    return [path for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


@pytest.fixture(autouse=True)
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def demo_relay():
    """A demo relay with no injected delays (time_scale=0), accepting the demo key and TEST_KEY."""
    from relay_tui.demo import DEMO_KEY, DemoRelay

    relay = DemoRelay(time_scale=0.0, accept_keys=(DEMO_KEY, TEST_KEY))
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """RELAY_TUI_HOME on a 512 KB tmpfs (tests/support/disk.py): `.fill()` it, or `.read_only()`."""
    from tests.support.disk import SmallDisk

    disk = SmallDisk(tmp_path / "small-home")
    if os.geteuid() != 0 or not disk.mount():
        pytest.skip("mounting a small tmpfs needs root (the suite runs as root in CI)")
    monkeypatch.setenv("RELAY_TUI_HOME", str(disk.folder))
    try:
        yield disk
    finally:
        disk.unmount()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "alone: needs the machine to itself (timing checks): no other xdist worker "
                   "runs a test meanwhile")


@pytest.fixture(autouse=True)
def machine_share(request, tmp_path_factory):
    """Under xdist, every test holds a shared lock on the machine for its run and an `alone` test
    an exclusive one. A turnstile lock taken first keeps the shared holders from starving an
    exclusive one that waits (Linux flock lets new shared holders in ahead of a waiting one)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    folder = tmp_path_factory.getbasetemp().parent  # one per run, shared by its workers
    alone = request.node.get_closest_marker("alone") is not None
    with open(folder / "turnstile.lock", "w") as turnstile, open(folder / "machine.lock", "w") as room:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
