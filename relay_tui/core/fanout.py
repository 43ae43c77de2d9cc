"""Many streams at once: `compare` (one prompt, N models) and `bench` (N requests at concurrency C).

Both only orchestrate RelayClient.stream_chat; they add no HTTP of their own, so a benchmark
measures exactly what a chat does. A failing stream never stops the others.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any

from relay_tui.core.errors import RelayError
from relay_tui.core.events import Done

if TYPE_CHECKING:
    from relay_tui.core.client import RelayClient


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: always a value that was observed, defined for a single sample.

    Chosen over interpolation because bench samples are small (tens of requests) and a p99 that
    no request actually had would mislead.
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[nearest_rank(p, len(ordered)) - 1]


def nearest_rank(p: float, count: int) -> int:
    """The 1-based rank of the p-th percentile among `count` sorted values (the latency pane
    reads the same rank from an index, so the two always agree)."""
    return max(1, math.ceil(p / 100 * count))


async def compare(clients_or_client: RelayClient | Sequence[RelayClient], models: Sequence[str],
                  messages: list[dict], **params: Any) -> AsyncIterator[tuple[int, Any]]:
    """One stream per model, concurrently; yields (column index, event or RelayError) as they
    arrive. A column's RelayError is its last item. Closing this generator cancels every stream.
    `clients_or_client` is one client for all columns or one per column; `params` go to
    stream_chat (temperature, max_tokens, ...)."""
    clients = (list(clients_or_client) if isinstance(clients_or_client, Sequence)
               else [clients_or_client] * len(models))
    if len(clients) != len(models):
        raise ValueError("compare needs one client per model, or a single client")
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    finished = object()

    async def column(index: int) -> None:
        try:
            async with aclosing(clients[index].stream_chat(messages, models[index], **params)) as stream:
                async for event in stream:
                    queue.put_nowait((index, event))
        except RelayError as err:
            queue.put_nowait((index, err))
        finally:
            queue.put_nowait((index, finished))

    tasks = [asyncio.create_task(column(i)) for i in range(len(models))]
    running = len(tasks)
    try:
        while running:
            index, item = await queue.get()
            if item is finished:
                running -= 1
            else:
                yield index, item
        for task in tasks:
            task.result()  # surface a bug (a non-RelayError) rather than swallow it
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(slots=True)
class BenchRecord:
    """One bench request, for the request log: its Done, or the error it ended with."""

    model: str
    started_at: float                       # wall clock, for the log
    done: Done | None = None
    error: RelayError | None = None


@dataclass(slots=True)
class ModelStats:
    """One model's figures. Latencies in seconds, None when no request succeeded."""

    model: str
    requests: int
    errors: int
    error_rate: float
    ttft_p50: float | None
    ttft_p95: float | None
    ttft_p99: float | None
    total_p50: float | None
    total_p95: float | None
    total_p99: float | None
    tps_p50: float | None                   # output tokens/s, (N - 1) / (total - TTFT)
    requests_per_s: float
    cost_usd: float
    cost_estimated: bool                    # some of cost_usd is an estimate, or unknown
    error_kinds: dict[str, int]             # RelayError.kind -> count
    wall: float                             # seconds this model's run took


@dataclass(slots=True)
class BenchResult:
    per_model: list[ModelStats]
    records: list[BenchRecord]              # every request, in completion order per model
    n: int
    concurrency: int
    wall: float

    @property
    def requests(self) -> int:
        return len(self.records)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.wall if self.wall > 0 else 0.0

    def as_json(self) -> dict:
        """Plain data for `relay-tui bench --json` (records left out: they go to the log)."""
        return {"n": self.n, "concurrency": self.concurrency, "requests": self.requests,
                "wall_s": self.wall, "requests_per_s": self.requests_per_s,
                "models": [{f: getattr(s, f) for f in ModelStats.__slots__} for s in self.per_model]}


async def bench(client: RelayClient, models: Sequence[str], n: int, concurrency: int,
                messages: list[dict], max_tokens: int | None = None,
                on_progress: Callable[[int, int], None] | None = None,
                on_record: Callable[[BenchRecord], None] | None = None) -> BenchResult:
    """`n` requests per model at `concurrency` in flight, one model after the other (so each
    model's req/s is its own). Retries are off: a bench reports failures, it does not hide them.
    `on_record(record)` then `on_progress(done, total)` run after every request (the TUI's probe
    logs each record as it lands, so a cancelled probe keeps what finished)."""
    if n < 1 or concurrency < 1:
        raise ValueError("bench needs n >= 1 and concurrency >= 1")
    total_requests = n * len(models)
    records: list[BenchRecord] = []
    stats: list[ModelStats] = []
    started_all = perf_counter()
    for model in models:
        mine: list[BenchRecord] = []
        remaining = n

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                record = await _one(client, model, messages, max_tokens)
                mine.append(record)
                if on_record is not None:
                    on_record(record)
                if on_progress is not None:
                    on_progress(len(records) + len(mine), total_requests)

        started = perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
        stats.append(_summarise(model, mine, perf_counter() - started))
        records += mine
    return BenchResult(stats, records, n, concurrency, perf_counter() - started_all)


async def _one(client: RelayClient, model: str, messages: list[dict],
               max_tokens: int | None) -> BenchRecord:
    record = BenchRecord(model, time.time())
    try:  # chunk by chunk: bench reads no text, and a hop per token was a tenth of its time
        async with aclosing(client.stream_chat_chunks(messages, model, max_tokens=max_tokens,
                                                      max_retries=0)) as stream:
            async for events in stream:
                if isinstance(events[-1], Done):
                    record.done = events[-1]
    except RelayError as err:
        record.error = err
    return record


def _summarise(model: str, records: list[BenchRecord], wall: float) -> ModelStats:
    done = [r.done for r in records if r.done is not None]
    ttft = [d.metrics.ttft for d in done if d.metrics.ttft is not None]
    total = [d.metrics.total for d in done if d.metrics.total is not None]
    rates = [d.metrics.tokens_per_s for d in done if d.metrics.tokens_per_s is not None]
    costs = [d.cost for d in done if d.cost is not None]
    kinds: dict[str, int] = {}
    for r in records:
        if r.error is not None:
            kinds[r.error.kind] = kinds.get(r.error.kind, 0) + 1
    errors = len(records) - len(done)
    return ModelStats(
        model=model, requests=len(records), errors=errors,
        error_rate=errors / len(records) if records else 0.0,
        ttft_p50=percentile(ttft, 50), ttft_p95=percentile(ttft, 95), ttft_p99=percentile(ttft, 99),
        total_p50=percentile(total, 50), total_p95=percentile(total, 95),
        total_p99=percentile(total, 99), tps_p50=percentile(rates, 50),
        requests_per_s=len(records) / wall if wall > 0 else 0.0,
        cost_usd=sum(c.usd for c in costs),
        cost_estimated=any(c.estimated for c in costs) or len(costs) < len(done),
        error_kinds=kinds, wall=wall)
