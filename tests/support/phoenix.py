"""A real OTLP trace receiver on loopback: Arize Phoenix, in its own cached venv.

Phoenix takes OTLP/HTTP traces at /v1/traces and answers what it stored through its REST API
(`GET /v1/projects/<project>/spans`), which is how the tests read our spans back. It receives
traces only; the metrics go to tests/support/otlp_sink.py. Installed once per machine through
tests/support/cached_venv.py (about 1.5 min and 850 MB on an idle machine).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import cached_venv
from tests.support.server_process import free_port, loopback_env, stop, wait_ready

VERSION = "20.26.1"
START_TIMEOUT = 90

INSTALL = cached_venv.Install(name=f"phoenix-{VERSION}", packages=(f"arize-phoenix=={VERSION}",),
                              about="about 1.5 min, 850 MB")

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


@dataclass
class Phoenix:
    """A running Phoenix: `url` is its HTTP root (OTLP traces at url + /v1/traces)."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def spans(self, project: str, limit: int = 1000) -> list[dict]:
        """Every span Phoenix stored for `project` (an empty list when it has none yet)."""
        spans: list[dict] = []
        cursor = None
        while True:
            query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            path = f"/v1/projects/{urllib.parse.quote(project, safe='')}/spans?"
            try:
                with _direct.open(self.url + path + urllib.parse.urlencode(query), timeout=10) as r:
                    body = json.loads(r.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 404:      # the project does not exist until its first span
                    return spans
                raise
            spans += body.get("data", [])
            cursor = body.get("next_cursor")
            if not cursor:
                return spans

    def stop(self) -> None:
        stop(self.process)


def start(folder: Path, log=print) -> Phoenix:
    """Install if needed and start Phoenix with its data in `folder`; wait until it is healthy."""
    exe = cached_venv.ensure(INSTALL, log) / "bin" / "phoenix"
    port, grpc_port = free_port(), free_port()
    env = loopback_env(PHOENIX_WORKING_DIR=str(folder), PHOENIX_HOST="127.0.0.1",
                       PHOENIX_PORT=str(port), PHOENIX_GRPC_PORT=str(grpc_port),
                       PHOENIX_TELEMETRY_ENABLED="false")
    env = {k: v for k, v in env.items() if not k.startswith("OTEL_")}  # Phoenix's own SDK: off
    log_path = folder / "phoenix.log"
    with open(log_path, "wb") as out:
        process = subprocess.Popen([str(exe), "serve"], cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    phoenix = Phoenix(f"http://127.0.0.1:{port}", process, log_path)
    wait_ready(process, phoenix.url + "/healthz", name="Phoenix", log_path=log_path,
               timeout=START_TIMEOUT)
    return phoenix


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory):
    """One Phoenix for the session; each test sends to a project of its own (a resource
    attribute), so tests do not see each other's spans."""
    server = start(tmp_path_factory.mktemp("phoenix"))
    yield server
    server.stop()
