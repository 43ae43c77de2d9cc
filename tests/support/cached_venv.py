"""Real servers the tests talk to, each installed once per machine into a virtual env of its own.

A server (LiteLLM proxy, llama-cpp-python's server, an OTLP receiver) never goes into the app's
venv: its dependencies would leak into what the app is tested with. Each lives under
${RELAY_TUI_TEST_CACHE:-~/.cache/relay-tui-tests}/<name>. A marker file written after a
successful install tells a finished install from a half one; a file lock keeps parallel pytest
workers (and the background prefetch) from installing the same venv twice.

Installs take minutes (llama.cpp is compiled from source), so conftest starts the ones the
selected tests need in the background as soon as collection ends (`prefetch`), and the fixture
that needs one waits for it (`ensure`): the rest of the suite runs meanwhile.

`python -m tests.support.cached_venv MODULE` installs the `INSTALL` of that support module (the
background prefetch runs exactly this).
"""

from __future__ import annotations

import fcntl
import importlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_TIMEOUT = 1800    # llama.cpp from source: ~4 min on 2 idle cores, ~11 under load


@dataclass(frozen=True)
class Install:
    """What one cached venv holds: `packages` for pip, then `finish(venv)` (e.g. fetch a model)."""

    name: str                                       # folder under the cache root, with a version
    packages: tuple[str, ...]
    about: str                                      # how long it takes, for the log line
    env: dict[str, str] = field(default_factory=dict)  # extra environment for pip (build flags)
    finish: Callable[[Path], None] | None = None


def cache_root() -> Path:
    return Path(os.environ.get("RELAY_TUI_TEST_CACHE") or Path.home() / ".cache" / "relay-tui-tests")


def venv_path(install: Install) -> Path:
    return cache_root() / install.name


def _marker(install: Install) -> Path:
    return venv_path(install) / ".relay-tui-installed"


def is_cached(module: str) -> bool:
    """Whether the `INSTALL` of support module `module` is installed and finished."""
    return _marker(importlib.import_module(module).INSTALL).exists()


def ensure(install: Install, log: Callable[[str], object] = print) -> Path:
    """The venv of `install`, installing it first if needed (waits for an install in progress)."""
    venv = venv_path(install)
    if _marker(install).exists():
        return venv
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / f"{install.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # another worker or the prefetch may be installing
        if _marker(install).exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)   # a half install from an interrupted run
        started = time.monotonic()
        log(f"installing {' '.join(install.packages)} into {venv} (once; {install.about})")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *install.packages],
                             capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                             env={**os.environ, **install.env})
        if pip.returncode != 0:
            raise RuntimeError(f"installing {' '.join(install.packages)} failed (pip exit "
                               f"{pip.returncode}):\n{pip.stderr[-3000:]}")
        if install.finish is not None:
            install.finish(venv)
        _marker(install).write_text(f"installed in {time.monotonic() - started:.0f} s\n")
    return venv


def prefetch(modules: set[str]) -> None:
    """Start installing, in the background, the `INSTALL` of each support module not yet cached.

    Each install runs in a detached process of its own (so llama.cpp's compile overlaps the
    wheels' downloads and the rest of the suite); its output goes to <cache>/<name>.log. A
    failure there is not reported here: the fixture's own `ensure` retries and raises it.
    """
    for module in sorted(modules):
        install = importlib.import_module(module).INSTALL
        if is_cached(module) or _installing(install):
            continue
        with open(cache_root() / f"{install.name}.log", "ab") as out:
            subprocess.Popen([sys.executable, "-m", "tests.support.cached_venv", module],
                             stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=Path(__file__).resolve().parents[2], start_new_session=True)


def _installing(install: Install) -> bool:
    """Whether another process holds the install lock (a pytest worker or an earlier prefetch)."""
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / f"{install.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


if __name__ == "__main__":
    ensure(importlib.import_module(sys.argv[1]).INSTALL)
