"""Start, wait for and stop a real server the tests run as a child process (LiteLLM, Phoenix)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback_env(**extra: str) -> dict[str, str]:
    """The environment for a server on loopback: no proxy, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    return {**env, "NO_PROXY": "*", **extra}


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def wait_ready(process: subprocess.Popen, url: str, *, name: str, log_path: Path, timeout: float,
               ready: Callable[[int], bool] = lambda status: status == 200) -> None:
    """Poll `url` until it answers; stop the server and raise with its log when it exits or
    does not answer within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            why = "exited" if process.returncode is not None else f"not ready after {timeout} s"
            raise RuntimeError(f"{name} {why}; its log:\n{log_path.read_text(errors='replace')}")
        try:
            with _direct.open(url, timeout=2) as reply:
                if ready(reply.status):
                    return
        except OSError:
            pass
        time.sleep(0.25)
