"""Many streams at once: `compare` (one prompt, N models) and `bench` (N requests at concurrency C).

Both only orchestrate RelayClient.stream_chat; they add no HTTP of their own, so a benchmark
measures exactly what a chat does. A failing stream never stops the others.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any

from relay_tui.core.errors import RelayError
from relay_tui.core.events import Done, Metrics

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
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


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
    """One bench request, for the request log: metrics and cost, or the error it ended with."""

    model: str
    metrics: Metrics | None
    cost_usd: float | None = None
    cost_estimated: bool = False
    error: RelayError | None = None


@dataclass(slots=True)
class ModelStats:
    model: str
    requests: int
    errors: int
    error_rate: float
    ttft: dict[str, float | None]           # {"p50", "p95", "p99"} seconds
    total: dict[str, float | None]          # {"p50", "p95", "p99"} seconds
    tokens_per_s_p50: float | None
    requests_per_s: float
    cost_usd: float
    cost_estimated: bool                    # any part of cost_usd was an estimate
    wall: float                             # seconds this model's run took
    records: list[BenchRecord] = field(default_factory=list)


@dataclass(slots=True)
class BenchResult:
    models: list[ModelStats]
    n: int
    concurrency: int


def _pcts(values: list[float]) -> dict[str, float | None]:
    return {f"p{p}": percentile(values, p) for p in (50, 95, 99)}


async def bench(client: RelayClient, models: Sequence[str], n: int, concurrency: int,
                messages: list[dict], max_tokens: int | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> BenchResult:
    """`n` requests per model at `concurrency` in flight, one model after the other (so each
    model's req/s is its own). Retries are off: a bench reports failures, it does not hide them.
    `on_progress(done, total)` runs after every request."""
    if n < 1 or concurrency < 1:
        raise ValueError("bench needs n >= 1 and concurrency >= 1")
    total_requests = n * len(models)
    done_count = 0
    stats: list[ModelStats] = []
    for model in models:
        records: list[BenchRecord] = []
        remaining = n

        async def worker() -> None:
            nonlocal remaining, done_count
            while remaining > 0:
                remaining -= 1
                records.append(await _one(client, model, messages, max_tokens))
                done_count += 1
                if on_progress is not None:
                    on_progress(done_count, total_requests)

        started = perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
        stats.append(_summarise(model, records, perf_counter() - started))
    return BenchResult(stats, n, concurrency)


async def _one(client: RelayClient, model: str, messages: list[dict],
               max_tokens: int | None) -> BenchRecord:
    try:
        async with aclosing(client.stream_chat(messages, model, max_tokens=max_tokens,
                                               max_retries=0)) as stream:
            async for event in stream:
                if isinstance(event, Done):
                    cost = event.cost
                    return BenchRecord(model, event.metrics, cost.usd if cost else None,
                                       bool(cost and cost.estimated))
    except RelayError as err:
        return BenchRecord(model, None, error=err)
    raise AssertionError("stream_chat ended without Done or an error")  # pragma: no cover


def _summarise(model: str, records: list[BenchRecord], wall: float) -> ModelStats:
    ok = [r.metrics for r in records if r.metrics is not None]
    errors = len(records) - len(ok)
    rates = [m.tokens_per_s for m in ok if m.tokens_per_s is not None]
    costs = [r for r in records if r.cost_usd is not None]
    return ModelStats(
        model=model, requests=len(records), errors=errors,
        error_rate=errors / len(records) if records else 0.0,
        ttft=_pcts([m.ttft for m in ok if m.ttft is not None]),
        total=_pcts([m.total for m in ok if m.total is not None]),
        tokens_per_s_p50=percentile(rates, 50),
        requests_per_s=len(records) / wall if wall > 0 else 0.0,
        cost_usd=sum(r.cost_usd for r in costs),  # type: ignore[misc]
        cost_estimated=any(r.cost_estimated for r in costs) or len(costs) < len(ok),
        wall=wall, records=records)
