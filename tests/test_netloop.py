"""ThreadedClient: RelayClient's API with the reading done on a network thread.

Against the real demo relay: the proxy must give exactly what the direct client gives (events,
errors, callbacks), close connections when its caller stops, and leave no thread behind.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
import time
from contextlib import aclosing

import pytest

from relay_tui.core.client import RelayClient
from relay_tui.core.errors import RateLimited, RelayError
from relay_tui.core.events import Delta, Done, Reasoning, Usage
from relay_tui.core.fanout import bench, compare
from relay_tui.core.netloop import SWITCH_INTERVAL, NetworkThread, ThreadedClient
from relay_tui.core.quota import read_quota
from relay_tui.demo import DemoRelay
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY
from tests.test_client import _answered_requests

HI = [{"role": "user", "content": "hi"}]


def net_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "relay-net"]


@pytest.fixture
async def proxy(demo_relay):
    client = ThreadedClient(Profile("work", demo_relay.base_url, max_retries=0), TEST_KEY)
    yield client
    await client.aclose()
    assert not net_threads()


def line(err: RelayError) -> str:
    """The error's line without the relay's own request id (new on every request)."""
    return re.sub(r"\(request id: \d+\)", "(request id: ID)", str(err))


def summary(events) -> tuple:
    """What a user sees of a stream: text, reasoning, token counts and how it finished."""
    usage = next(e for e in events if isinstance(e, Usage))
    done = events[-1]
    assert isinstance(done, Done)
    return ("".join(e.text for e in events if isinstance(e, Delta)),
            "".join(e.text for e in events if isinstance(e, Reasoning)),
            usage.prompt_tokens, usage.completion_tokens, done.finish_reason,
            done.metrics.output_tokens, done.cost)


async def test_stream_through_the_proxy_equals_the_direct_stream(proxy, demo_relay):
    demo_relay.set_fault("think_tags", times=2)
    async with RelayClient(proxy.profile, TEST_KEY) as direct:
        expected = [e async for e in direct.stream_chat(HI, "deepseek-v3.2", max_tokens=300)]
    got = [e async for e in proxy.stream_chat(HI, "deepseek-v3.2", max_tokens=300)]
    assert summary(got) == summary(expected) and summary(got)[1]  # reasoning came through too
    assert [type(e) for e in got] == [type(e) for e in expected]
    assert net_threads() and threading.current_thread() is threading.main_thread()


@pytest.mark.parametrize("fault, params", [
    ("auth", {}), ("html_error", {"status": 502}), ("mid_stream_error", {"after": 4}),
    ("truncate", {"after": 6}), ("drop_connection", {}),
])
async def test_errors_arrive_with_the_same_type_and_message(proxy, demo_relay, fault, params):
    async def failure(client) -> RelayError:
        demo_relay.set_fault(fault, times=1, **params)
        with pytest.raises(RelayError) as info:
            async for _ in client.stream_chat(HI, "gpt-4.1", request_id="rt-0123456789ab"):
                pass
        return info.value

    async with RelayClient(proxy.profile, TEST_KEY) as direct:
        expected = await failure(direct)
    err = await failure(proxy)
    assert type(err) is type(expected) and line(err) == line(expected), str(err)
    assert err.metrics is not None and err.metrics.request_id == "rt-0123456789ab"


async def test_text_before_a_mid_stream_error_is_delivered_first(proxy, demo_relay):
    demo_relay.set_fault("mid_stream_error", after=4)
    seen = []
    with pytest.raises(RelayError, match="mid-stream after 4 tokens"):
        async for event in proxy.stream_chat(HI, "gpt-4.1"):
            seen.append(event)
    assert sum(isinstance(e, Delta) for e in seen) == 4


async def test_callbacks_run_on_the_callers_loop_in_order(demo_relay):
    demo_relay.set_fault("rate_limit", retry_after=0.05, times=1)
    loop = asyncio.get_running_loop()
    calls = []

    def note(name):
        calls.append((name, asyncio.get_running_loop() is loop, threading.current_thread().name))

    async with ThreadedClient(Profile("work", demo_relay.base_url, max_retries=2), TEST_KEY) as client:
        async for event in client.stream_chat(HI, "gpt-4.1", on_retry=lambda n: note(f"retry {n.attempt}"),
                                              on_first_token=lambda ttft: note("first")):
            note(type(event).__name__)
    me = threading.current_thread().name
    assert calls[:3] == [("retry 1", True, me), ("first", True, me), ("Delta", True, me)]
    assert calls[-1] == ("Done", True, me)


async def test_a_retryable_error_after_the_retries_keeps_its_type(demo_relay):
    demo_relay.set_fault("rate_limit", retry_after=0.01)
    async with ThreadedClient(Profile("work", demo_relay.base_url, max_retries=1), TEST_KEY) as client:
        with pytest.raises(RateLimited, match=r"\(gave up after 2 attempts\)"):
            async for _ in client.stream_chat(HI, "gpt-4.1"):
                pass


async def test_breaking_out_closes_the_connection(proxy, demo_relay):
    demo_relay.set_fault("stall", after=3)  # the relay holds the stream open until the client leaves
    async with aclosing(proxy.stream_chat(HI, "gpt-4.1")) as stream:
        async for _ in stream:
            break
    assert await _answered_requests(demo_relay, 1) == 1  # the relay saw the disconnect
    assert await proxy.thread.run(_other_tasks()) == 0    # nothing left running on the network loop


async def _other_tasks() -> int:
    return len(asyncio.all_tasks()) - 1


async def test_cancelling_the_reader_closes_the_connection(proxy, demo_relay):
    demo_relay.set_fault("stall", after=3)
    first = asyncio.Event()

    async def consume():
        async for _ in proxy.stream_chat(HI, "gpt-4.1"):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _answered_requests(demo_relay, 1) == 1
    assert await proxy.thread.run(_other_tasks()) == 0


@pytest.mark.alone  # timing checks: the machine to itself
async def test_a_busy_caller_loop_does_not_delay_the_readers_timing():
    """The point of the thread: the caller's loop is blocked (a long render) when the first
    token arrives, and TTFT still says when it arrived, not when the caller got round to it
    (0.5 s with a RelayClient on the caller's loop). With the GIL switch interval the app sets:
    at Python's default 5 ms, the three threads here (caller, relay, reader) add 30-70 ms."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,),
                      model_overrides={"gpt-4.1": {"ttft": 0.1, "tps": 1000, "answer_tokens": 5}})
    relay.start()
    try:
        async with ThreadedClient(Profile("work", relay.base_url), TEST_KEY) as client:
            stream = client.stream_chat(HI, "gpt-4.1")
            first = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(0)          # the request is on its way
            busy_until = time.perf_counter() + 0.4
            while time.perf_counter() < busy_until:
                pass                        # the caller's loop renders for 0.4 s (holding the GIL)
            events = [await first] + [e async for e in stream]
    finally:
        relay.stop()
        sys.setswitchinterval(previous)
    ttft = events[-1].metrics.ttft
    assert 0.1 <= ttft < 0.15, ttft


async def test_many_concurrent_streams_through_compare_and_bench(proxy, demo_relay):
    models = ["gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2"] * 10
    async with RelayClient(proxy.profile, TEST_KEY) as direct:
        expected = {m: "".join([e.text async for e in _deltas(direct, m)]) for m in set(models)}
    texts = [""] * len(models)
    async for index, item in compare(proxy, models, HI):
        assert not isinstance(item, RelayError), item
        if isinstance(item, Delta):
            texts[index] += item.text
    assert texts == [expected[m] for m in models]

    done = []
    result = await bench(proxy, ["gpt-4.1"], 30, 10, HI, on_record=done.append)
    assert len(done) == 30 and result.per_model[0].errors == 0 and result.per_model[0].requests == 30


async def _deltas(client, model):
    async for event in client.stream_chat(HI, model):
        if isinstance(event, Delta):
            yield event


async def test_models_get_json_and_quota_through_the_proxy(proxy, demo_relay):
    async with RelayClient(proxy.profile, TEST_KEY) as direct:
        assert await proxy.models() == await direct.models()
        for path, root in (("models", False), ("/nowhere", True)):
            got, expected = await proxy.get_json(path, root=root), await direct.get_json(path, root=root)
            assert (got.status, got.body) == (expected.status, expected.body)
        reading, expected = await read_quota(proxy), await read_quota(direct)
    assert (reading.dialect, reading.granted, reading.unit) == (expected.dialect, expected.granted,
                                                                  expected.unit)


async def test_a_wrong_key_is_the_same_error_through_models(demo_relay):
    async with ThreadedClient(Profile("p", demo_relay.base_url), "sk-wrong-0000000000") as client:
        with pytest.raises(RelayError, match=r"run `relay-tui keys set p`"):
            await client.models()


async def test_closing_the_client_ends_the_thread_and_a_running_stream(demo_relay):
    demo_relay.set_fault("stall", after=3)
    client = ThreadedClient(Profile("work", demo_relay.base_url), TEST_KEY)
    assert not net_threads()  # started on demand
    stream = client.stream_chat(HI, "gpt-4.1")
    await anext(stream)
    assert len(net_threads()) == 1
    await asyncio.wait_for(client.aclose(), 2)
    assert not net_threads()
    with pytest.raises((asyncio.CancelledError, RelayError)):
        async for _ in stream:  # the stream ends instead of hanging
            pass
    assert [m.id for m in await client.models()][:1]  # a closed client opens again on demand
    await client.aclose()
    assert not net_threads()


def test_network_thread_stops_cleanly_from_plain_code():
    net = NetworkThread("relay-net")
    assert net.submit(asyncio.sleep(0, "ok")).result(2) == "ok"
    pending = net.submit(asyncio.sleep(60))
    net.stop()
    assert pending.cancelled() and not net.running and not net_threads()
