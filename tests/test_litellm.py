"""The app against real relay software: a LiteLLM proxy answering from `mock_response`.

Everything the demo relay is trusted for is checked once more against LiteLLM's own wire format:
the model list, a streamed answer with the relay's usage (its usage chunk carries a non-empty
`choices`), a four-model comparison, a real 401, its two kinds of 429, and the quota pane and
command on a proxy without the database that `/key/info` needs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.core.client import RelayClient
from relay_tui.core.errors import RateLimited
from relay_tui.store.config import save_profile
from relay_tui.store.history import History
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY
from tests.support import litellm_proxy
from tests.support.litellm_proxy import litellm_relay  # noqa: F401 (the session fixture)
from tests.support.screen import screen_text
from tests.test_cli import ROOT, one_line, run_cli
from tests.test_quota_pane import SIZE, open_quota, settle

pytestmark = [pytest.mark.integration,
              pytest.mark.xdist_group("litellm")]  # one worker: one proxy started, once

WRONG_KEY = "sk-wrong-litellm-0000000000"


@pytest.fixture
def relay_env(litellm_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return ["--base-url", litellm_relay.base_url]


def test_models_lists_the_configured_models(capsys, relay_env):
    code, out, _ = run_cli(capsys, *relay_env, "models", "--json")
    assert code == 0
    ids = [m["id"] for m in json.loads(out)]
    assert set(litellm_proxy.MODELS) <= set(ids)


def test_chat_streams_the_answer_with_the_relays_usage(capsys, relay_env):
    code, out, err = run_cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "--json", "hello")
    assert code == 0, err
    data = json.loads(out)
    assert data["text"] == litellm_proxy.ANSWER and data["finish_reason"] == "stop"
    metrics = data["metrics"]
    assert metrics["output_tokens"] > 0 and metrics["output_tokens_estimated"] is False
    assert metrics["prompt_tokens"] > 0 and metrics["ttft"] < metrics["total"]
    assert data["served_model"] == "gpt-4.1"
    assert data["cost_source"] == "relay" and data["cost_usd"] > 0   # LiteLLM's usage.cost
    history = History()
    [row] = [r for r in history.messages(history.conversations()[0].id) if r.role == "assistant"]
    assert row.state == "done" and row.content == litellm_proxy.ANSWER
    history.close()


def test_chat_prints_the_stream_and_a_footer(capsys, relay_env):
    code, out, err = run_cli(capsys, *relay_env, "chat", "-m", "deepseek-v3.2", "hello")
    assert code == 0
    assert out.strip() == litellm_proxy.ANSWER
    footer = err.strip().splitlines()[-1]
    assert footer.startswith("deepseek-v3.2") and "TTFT" in footer and "tok/s" in footer


def test_compare_over_all_four_models(capsys, relay_env):
    code, out, err = run_cli(capsys, *relay_env, "compare", "-m", ",".join(litellm_proxy.MODELS),
                             "--json", "Compare yourselves")
    assert code == 0, err
    columns = {c["model"]: c for c in json.loads(out)["columns"]}
    assert set(columns) == set(litellm_proxy.MODELS)
    for column in columns.values():
        assert column["text"] == litellm_proxy.ANSWER and column.get("error") is None
        assert column["metrics"]["output_tokens_estimated"] is False


def test_unknown_model_suggests_the_closest(capsys, relay_env):
    # LiteLLM says 400 "Invalid model name", where the demo relay says 404 model_not_found
    code, _, err = run_cli(capsys, *relay_env, "chat", "-m", "gpt-4.2", "hi")
    assert code == 1
    line = one_line(err)
    assert "does not serve model 'gpt-4.2' (HTTP 400)" in line and "did you mean gpt-4.1?" in line


@pytest.mark.parametrize("command", [["models"], ["chat", "-m", "gpt-4.1", "hi"]])
def test_a_wrong_key_is_our_one_line_401(capsys, litellm_relay, monkeypatch, command):
    monkeypatch.setenv("RELAY_TUI_API_KEY", WRONG_KEY)
    code, out, err = run_cli(capsys, "--base-url", litellm_relay.base_url, *command)
    assert code == 1 and out == ""
    line = one_line(err)
    assert line.startswith("relay-tui: the relay rejected the key for profile base-url (HTTP 401): "
                           "Authentication Error, invalid api key — check RELAY_TUI_API_KEY, the "
                           "environment variable the key was read from")
    assert WRONG_KEY not in err and TEST_KEY not in err


async def test_the_rpm_limit_is_rate_limited_with_litellms_wait(litellm_relay):
    """LiteLLM's own per-model rpm limit sends its wait only as `llm_provider-retry-after`; the
    CLI announces that wait at once and would retry after it."""
    # LiteLLM counts rpm per clock minute ("%H-%M"): three requests straddling a minute's end
    # would each get a fresh allowance, so start with at least 15 s of this minute left.
    left = 60 - time.time() % 60
    if left < 15:
        await asyncio.sleep(left + 0.2)
    profile = Profile("ll", litellm_relay.base_url, max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    async with RelayClient(profile, TEST_KEY) as client:
        first = [e async for e in client.stream_chat(messages, litellm_proxy.RPM_LIMITED)]
        assert first[-1].finish_reason == "stop"      # the one request of this minute
        with pytest.raises(RateLimited) as info:
            async for _ in client.stream_chat(messages, litellm_proxy.RPM_LIMITED):
                pass
    err = info.value
    assert err.retry_after == 60 and str(err).startswith(
        "rate limited by the relay (HTTP 429): litellm.RateLimitError: No deployments available")
    assert "(retry after 60 s) [request rt-" in str(err)

    env = {**os.environ, "RELAY_TUI_API_KEY": TEST_KEY}
    proc = subprocess.Popen([sys.executable, "-m", "relay_tui", "--base-url", litellm_relay.base_url,
                             "chat", "-m", litellm_proxy.RPM_LIMITED, "hi"], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    try:
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert line.rstrip() == ("relay-tui: retrying in 60 s (attempt 2 of 4): rate limited by the relay "
                             "(HTTP 429)"), line


def test_a_cooldown_gives_a_standard_retry_after(capsys, litellm_relay, monkeypatch):
    """A provider 429 puts the deployment in cooldown; calls then get 429 with `retry-after`."""
    save_profile(Profile("ll", litellm_relay.base_url, max_retries=1), make_active=True)
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, _, err = run_cli(capsys, "chat", "-m", litellm_proxy.COOLING, "hi")
    assert code == 1
    notice, final = err.strip().splitlines()
    assert notice.startswith("relay-tui: retrying in ") and notice.endswith(
        " s (attempt 2 of 2): rate limited by the relay (HTTP 429)"), notice   # backoff: no retry-after
    wait = litellm_proxy.COOLDOWN_SECONDS
    assert final.startswith("relay-tui: rate limited by the relay (HTTP 429): No deployments available")
    assert f"(retry after {wait} s) (gave up after 2 attempts) [request rt-" in final


def test_quota_command_says_the_relay_does_not_report_it(capsys, relay_env):
    code, out, err = run_cli(capsys, *relay_env, "quota")
    assert code == 1 and out == ""
    line = one_line(err)
    assert line.startswith("relay-tui: this relay does not report quota (tried: /api/v1/key, /key/info")
    assert "LiteLLM's /key/info needs a database this proxy does not have" in line


async def test_quota_pane_says_the_relay_does_not_report_it(litellm_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions(base_url=litellm_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        await open_quota(app, pilot)
        await settle(app, pilot, 0.3)
        text = screen_text(app)
        assert "this relay does not report quota" in text and "no balance reading" in text
        assert "database" in text

