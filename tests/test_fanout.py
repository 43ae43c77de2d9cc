"""compare (N models at once) and bench (N requests at concurrency C) against the demo relay."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from relay_tui.core.client import RelayClient
from relay_tui.core.errors import ServerError
from relay_tui.core.events import Delta, Done
from relay_tui.core.fanout import bench, compare, percentile
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY

HI = [{"role": "user", "content": "hi"}]
MODELS = ["gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash"]


@pytest.fixture
async def client(demo_relay):
    async with RelayClient(Profile("p", demo_relay.base_url, max_retries=0), TEST_KEY) as c:
        yield c


def test_percentile_is_nearest_rank():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert [percentile(values, p) for p in (0, 20, 50, 95, 99, 100)] == [1.0, 1.0, 3.0, 5.0, 5.0, 5.0]
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None
    assert percentile(list(range(1, 101)), 95) == 95


async def test_compare_keeps_going_when_one_column_fails(client, demo_relay):
    demo_relay.set_fault("server_error", model="claude-sonnet-4.5")
    columns: dict[int, list] = {0: [], 1: [], 2: []}
    async for index, item in compare(client, MODELS, HI, max_tokens=20):
        columns[index].append(item)
    assert isinstance(columns[0][-1], Done) and isinstance(columns[2][-1], Done)
    assert columns[0][-1].metrics.served_model == "gpt-4.1"
    assert columns[2][-1].metrics.served_model == "gemini-2.5-flash"
    assert len(columns[1]) == 1 and isinstance(columns[1][0], ServerError)
    assert str(columns[1][0]).startswith("the relay failed (HTTP 500)")


@pytest.mark.alone  # timing checks: the machine to itself
async def test_compare_streams_concurrently():
    from relay_tui.demo import DemoRelay

    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={
        m: {"ttft": 0.2, "tps": 1000.0, "answer_tokens": 5} for m in MODELS})
    relay.start()
    try:
        clients = [RelayClient(Profile(f"p{i}", relay.base_url), TEST_KEY) for i in range(3)]
        started = time.perf_counter()
        done = [item async for _, item in compare(clients, MODELS, HI) if isinstance(item, Done)]
        elapsed = time.perf_counter() - started
        for c in clients:
            await c.aclose()
    finally:
        relay.stop()
    assert len(done) == 3 and elapsed < 0.5  # three 0.2 s first tokens overlapped (queued: >= 0.6 s)


async def test_closing_compare_cancels_every_stream(client, demo_relay):
    demo_relay.set_fault("stall", after=2)  # every stream hangs until its client leaves
    stream = compare(client, MODELS, HI)
    async for _, item in stream:
        assert isinstance(item, Delta)
        break
    await stream.aclose()
    deadline = time.perf_counter() + 1.0
    while demo_relay.books()["requests"] < 3 and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    assert demo_relay.books()["requests"] == 3  # the relay saw all three disconnects


def test_compare_needs_one_client_per_model(demo_relay):
    clients = [RelayClient(Profile("p", demo_relay.base_url), TEST_KEY)]
    with pytest.raises(ValueError, match="one client per model"):
        asyncio.run(anext(compare(clients, MODELS, HI)))


@pytest.mark.alone  # timing checks (a decode speed off a paced relay): the machine to itself
async def test_bench_counts_errors_and_reports_percentiles():
    from relay_tui.demo import DemoRelay

    # paced: 8 tokens 10 ms apart, a decode span long enough to show a speed (events.MIN_RATE_SPAN)
    paced = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={
        m: {"ttft": 0.01, "tps": 100.0} for m in ("gpt-4.1", "gemini-2.5-flash")})
    paced.start()
    paced.set_fault("unavailable", model="gpt-4.1", times=2)
    progress = []
    try:
        async with RelayClient(Profile("p", paced.base_url, max_retries=0), TEST_KEY) as client:
            result = await bench(client, ["gpt-4.1", "gemini-2.5-flash"], n=10, concurrency=4,
                                 messages=HI, max_tokens=8,
                                 on_progress=lambda done, total: progress.append((done, total)))
    finally:
        paced.stop()
    first, second = result.per_model
    assert (first.model, first.requests, first.errors, first.error_rate) == ("gpt-4.1", 10, 2, 0.2)
    assert first.error_kinds == {"server": 2}
    assert (second.requests, second.errors) == (10, 0)  # bench never retries: failures are reported
    assert progress == [(i, 20) for i in range(1, 21)]
    for stats in result.per_model:
        assert stats.ttft_p50 <= stats.ttft_p95 <= stats.ttft_p99
        assert stats.total_p50 <= stats.total_p95 <= stats.total_p99
        assert 50 < stats.tps_p50 <= 105 and stats.requests_per_s > 0
        assert stats.cost_usd > 0 and not stats.cost_estimated  # the demo relay reports usage.cost
    assert result.requests == 20 and [r.model for r in result.records] == ["gpt-4.1"] * 10 + [
        "gemini-2.5-flash"] * 10
    failed = [r for r in result.records if r.error is not None]
    assert len(failed) == 2 and all(r.done is None and r.error.request_id for r in failed)
    assert all(r.done.metrics.output_tokens == 8 for r in result.records[10:])
    summary = result.as_json()
    assert summary["requests"] == 20 and summary["models"][0]["error_kinds"] == {"server": 2}
    json.dumps(summary)  # plain data


async def test_bench_rejects_nonsense(client):
    with pytest.raises(ValueError):
        await bench(client, ["gpt-4.1"], n=0, concurrency=1, messages=HI)
