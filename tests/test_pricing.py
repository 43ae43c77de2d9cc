"""Cost resolution: the relay's figure, then profile overrides, genai-prices, the demo table."""

from __future__ import annotations

import math

import pytest

from relay_tui.core.events import Usage
from relay_tui.core.pricing import cost_for, price_of
from relay_tui.demo.catalog import MODELS, ModelSpec
from relay_tui.store.profile import Price, Profile

PLAIN = Profile(name="p", base_url="http://127.0.0.1:9/v1")
USAGE = Usage(prompt_tokens=1000, completion_tokens=1000, total_tokens=2000)


def test_relay_cost_wins_over_every_estimate():
    profile = Profile(name="p", base_url="http://x/v1", prices={"gpt-4.1": Price(100.0, 100.0)})
    usage = Usage(prompt_tokens=1000, completion_tokens=1000, relay_cost=0.0042)
    cost = cost_for(profile, "gpt-4.1", usage, {"x-litellm-response-cost": "9.9"})
    assert (cost.usd, cost.source, cost.estimated) == (0.0042, "relay", False)


def test_free_model_reported_by_relay_costs_zero_not_an_estimate():
    cost = cost_for(PLAIN, "gpt-4.1", Usage(prompt_tokens=10, completion_tokens=10, relay_cost=0.0))
    assert (cost.usd, cost.source) == (0.0, "relay")


@pytest.mark.parametrize("name", ["x-litellm-response-cost", "X-LiteLLM-Response-Cost"])
def test_litellm_cost_header_counts_as_the_relay_figure(name):
    cost = cost_for(PLAIN, "gpt-4.1", USAGE, {"content-type": "text/event-stream", name: "0.000123"})
    assert (cost.usd, cost.source) == (0.000123, "relay")


@pytest.mark.parametrize("bad", ["nan", "-1", "free", ""])
def test_unusable_relay_figures_fall_back_to_an_estimate(bad):
    usage = Usage(prompt_tokens=1000, completion_tokens=1000, relay_cost=float("nan"))
    cost = cost_for(PLAIN, "gpt-4.1", usage, {"x-litellm-response-cost": bad})
    assert cost.source == "genai-prices"
    assert math.isclose(cost.usd, 0.01)


def test_profile_override_beats_list_prices():
    profile = Profile(name="p", base_url="http://x/v1", prices={"gpt-4.1": Price(1.0, 3.0)})
    cost = cost_for(profile, "gpt-4.1", USAGE)
    assert cost.source == "profile" and cost.estimated
    assert math.isclose(cost.usd, 0.004)
    assert price_of(profile, "gpt-4.1") == (1.0, 3.0, "profile")


def test_genai_prices_for_gpt41_is_2_and_8_dollars_per_million():
    cost = cost_for(PLAIN, "gpt-4.1", USAGE)
    assert cost.source == "genai-prices"
    assert math.isclose(cost.usd, 0.01)
    in_m, out_m, source = price_of(PLAIN, "gpt-4.1")
    assert (round(in_m, 6), round(out_m, 6), source) == (2.0, 8.0, "genai-prices")


def test_cached_prompt_tokens_are_billed_at_the_cache_rate():
    # gpt-4.1 cached input is $0.50/1M; the 500 cached tokens are part of the 1000 prompt tokens.
    cost = cost_for(PLAIN, "gpt-4.1", Usage(prompt_tokens=1000, completion_tokens=0, cached_tokens=500))
    assert math.isclose(cost.usd, 500 * 2e-6 + 500 * 0.5e-6)


@pytest.mark.parametrize("model", ["openai/gpt-4.1", "GPT-4.1", "gpt-4.1-2025-04-14"])
def test_relay_spellings_of_a_model_still_find_its_list_price(model):
    cost = cost_for(PLAIN, model, USAGE)
    assert cost.source == "genai-prices"
    assert math.isclose(cost.usd, 0.01)


def test_price_per_million_is_not_skewed_by_a_long_context_tier():
    # claude-sonnet-4.5 costs more above 200k input tokens; the listed price is the base tier.
    assert price_of(PLAIN, "claude-sonnet-4.5")[:2] == pytest.approx((3.0, 15.0))
    big = cost_for(PLAIN, "claude-sonnet-4.5", Usage(prompt_tokens=300_000, completion_tokens=0))
    assert big.usd > 300_000 * 3.0 / 1e6


def test_demo_table_prices_a_model_genai_prices_does_not_know(monkeypatch):
    spec = ModelSpec("relaytui-demo-only", "demo", 0.1, 50.0, 0.5, 1.5)
    monkeypatch.setitem(MODELS, spec.id, spec)
    cost = cost_for(PLAIN, spec.id, USAGE)
    assert cost.source == "demo"
    assert math.isclose(cost.usd, 0.002)
    assert price_of(PLAIN, spec.id) == (0.5, 1.5, "demo")


def test_unknown_model_or_missing_usage_has_no_cost():
    assert cost_for(PLAIN, "no-such-model-anywhere", USAGE) is None
    assert price_of(PLAIN, "no-such-model-anywhere") is None
    assert cost_for(PLAIN, "gpt-4.1", None) is None
    assert cost_for(PLAIN, "gpt-4.1", Usage()) is None


# --- end to end: what a finished request against the demo relay says it cost ---------------

@pytest.mark.parametrize(("report_cost", "source"), [(True, "relay"), (False, "genai-prices")])
async def test_streamed_request_cost_matches_the_relays_books(report_cost, source):
    from relay_tui.core.client import RelayClient
    from relay_tui.demo import DEMO_KEY, DemoRelay

    relay = DemoRelay(time_scale=0.0, report_cost=report_cost)
    profile = Profile(name="demo", base_url=relay.start())
    try:
        async with RelayClient(profile, DEMO_KEY) as client:
            events = [e async for e in client.stream_chat([{"role": "user", "content": "hi"}], "gpt-4.1")]
    finally:
        relay.stop()
    done = events[-1]
    assert done.cost.source == source and done.cost.estimated == (source != "relay")
    # the demo's gpt-4.1 list price is genai-prices' ($2/$8 per 1M), so even the estimate is exact
    assert relay.books()["used_usd"] > 0
    assert done.cost.usd == pytest.approx(relay.books()["used_usd"], rel=1e-9)
