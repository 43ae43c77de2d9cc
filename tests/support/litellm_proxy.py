"""A real LiteLLM proxy on loopback, answering from `mock_response` (no upstream, no database).

LiteLLM lives in its own cached virtual environment, never the app's (tests/support/cached_venv.py:
installed once per machine, about 2.5 min and 750 MB).

The config follows reference/test-components.md: a master key (LiteLLM refuses to start without
one), `custom_auth` accepting one fixed key so a wrong key gets a real 401 rather than the 400
`no_db_connection` LiteLLM gives without a database, and per-model rpm limits (enforced only by
usage-based-routing-v2). Two extra models exercise the two kinds of 429: `RPM_LIMITED` allows one
request a minute (LiteLLM's wait then comes only as `llm_provider-retry-after`), `COOLING` always
fails with a provider rate limit and is cooled down at once, which is how LiteLLM sends a
standard `retry-after`.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY
from tests.support import cached_venv
from tests.support.server_process import free_port, loopback_env, stop, wait_ready

VERSION = "1.106.2"
MODELS = ("gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2")
RPM = 1000                    # per-model limit of the four (tests stay far below it)
RPM_LIMITED = "gpt-4.1-rpm1"  # 1 request a minute: LiteLLM's own 429, wait in llm_provider-retry-after
COOLING = "gpt-4.1-cooldown"  # always a provider 429, then cooled down: 429 with a standard retry-after
COOLDOWN_SECONDS = 3
ANSWER = ("LiteLLM answers from its mock response here. No upstream provider is called. "
          "Every model streams this same short text, a few characters per chunk.")
START_TIMEOUT = 90

_AUTH_MODULE = '''\
"""Accept only the test key, so a wrong key gets LiteLLM's real 401 without a database."""
from fastapi import Request
from litellm.proxy._types import UserAPIKeyAuth

KEYS = {keys!r}


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if (api_key or "").removeprefix("Bearer ").strip() in KEYS:
        return UserAPIKeyAuth(api_key=api_key)
    raise Exception("invalid api key")
'''


INSTALL = cached_venv.Install(
    # prisma: without it a request with no key answers 500 (an import error) instead of 401.
    name=f"litellm-{VERSION}", packages=(f"litellm[proxy]=={VERSION}", "prisma"),
    about="about 2.5 min, 750 MB")


def write_config(folder: Path, key: str, master_key: str) -> Path:
    """config.yaml and the custom_auth module beside it (LiteLLM imports it from there)."""
    (folder / "custom_auth.py").write_text(_AUTH_MODULE.format(keys={key, master_key}))
    def model(name: str, answer: str, rpm: int, upstream: str | None = None) -> dict:
        return {"model_name": name, "litellm_params": {"model": f"openai/{upstream or name}",
                                                       "api_key": "fake-key",
                                                       "mock_response": answer, "rpm": rpm}}

    models = [model(name, ANSWER, RPM) for name in MODELS]
    models.append(model(RPM_LIMITED, ANSWER, 1, "gpt-4.1"))
    models.append({**model(COOLING, "litellm.RateLimitError", RPM, "gpt-4.1"),
                   "model_info": {"allowed_fails_policy": {"RateLimitErrorAllowedFails": 0}}})
    config = {"model_list": models,
              "general_settings": {"master_key": master_key,
                                   "custom_auth": "custom_auth.user_api_key_auth"},
              # rpm is enforced only by this strategy; num_retries 0: a limit reaches the caller
              # at once (else LiteLLM itself waits out the 60 s window before answering).
              "router_settings": {"routing_strategy": "usage-based-routing-v2", "num_retries": 0,
                                  "cooldown_time": COOLDOWN_SECONDS},
              "litellm_settings": {"telemetry": False}}
    path = folder / "config.yaml"
    path.write_text(json.dumps(config, indent=2))   # JSON is YAML
    return path


@dataclass
class LiteLLMProxy:
    """A running proxy: `base_url` ends in /v1, `key` is accepted, `models` are served."""

    base_url: str
    key: str
    models: tuple[str, ...]
    process: subprocess.Popen
    log_path: Path
    started_in: float

    def stop(self) -> None:
        stop(self.process)


def start(folder: Path, key: str, log=print) -> LiteLLMProxy:
    """Install if needed, write the config in `folder`, start the proxy and wait until it serves."""
    exe = cached_venv.ensure(INSTALL, log) / "bin" / "litellm"
    config = write_config(folder, key, master_key="sk-master-relay-tui-tests")
    port = free_port()
    log_path = folder / "litellm.log"
    env = loopback_env(LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(folder))
    started = time.monotonic()
    with open(log_path, "wb") as out:
        process = subprocess.Popen([str(exe), "--config", str(config), "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    proxy = LiteLLMProxy(f"{base}/v1", key, MODELS, process, log_path, 0.0)
    wait_ready(process, f"{base}/health/liveliness", name="LiteLLM proxy", log_path=log_path,
               timeout=START_TIMEOUT)
    proxy.started_in = time.monotonic() - started
    return proxy


@pytest.fixture(scope="session")
def litellm_relay(tmp_path_factory):
    """One LiteLLM proxy for the session. Its config (which holds the test key) lives in a session
    folder, outside every test's tmp_path that the autouse leak scan reads."""
    proxy = start(tmp_path_factory.mktemp("litellm"), TEST_KEY)
    yield proxy
    proxy.stop()
