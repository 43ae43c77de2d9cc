"""A comparison: one prompt streamed from several models at once, saved in the history.

Columns fail independently: an error stays in its column and the others go on. The summary ranks
the finished columns the way the compare pane and `relay-tui compare` show them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any

from relay_tui.core import telemetry
from relay_tui.core.errors import RelayError
from relay_tui.core.events import Delta, Done, Metrics, Reasoning, RetryNotice
from relay_tui.core.records import log_done, log_failure, metrics_dict

if TYPE_CHECKING:
    from relay_tui.core.client import RelayClient
    from relay_tui.store.history import ComparisonRow, History, VoteRow


@dataclass(frozen=True, slots=True)
class Sent:
    """A column's request goes out (`at`, perf_counter), or after a retry is due to: the t0 its
    metrics count from, as near as the caller's loop can tell (the client takes t0 itself)."""

    at: float
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class FirstToken:
    """The client saw the column's first token: `ttft` is the client's own figure (what the
    column's Done will carry), `at` when the caller's loop heard of it (perf_counter)."""

    at: float
    ttft: float


class _ColumnClient:
    """One column's view of the shared client: its request announces when it goes out, each
    retry and the first token, through `on_event`, before any of its text arrives."""

    def __init__(self, client: Any, index: int, on_event: Callable[[int, object], None]) -> None:
        self.client = client
        self.index = index
        self.on_event = on_event
        self.metrics = Metrics(request_id="")  # live: a stopped column keeps its TTFT and model

    def _retry(self, notice: RetryNotice) -> None:
        self.on_event(self.index, notice)
        self.on_event(self.index, Sent(perf_counter() + notice.delay, notice.attempt + 1))

    def _first_token(self, ttft: float) -> None:
        self.on_event(self.index, FirstToken(perf_counter(), ttft))

    async def stream_chat(self, messages: list[dict], model: str, **params: Any) -> AsyncIterator[Any]:
        stream = self.client.stream_chat(messages, model, on_retry=self._retry,
                                         on_first_token=self._first_token, metrics=self.metrics,
                                         **params)
        async with aclosing(stream):
            self.on_event(self.index, Sent(perf_counter()))
            async for event in stream:
                yield event


@dataclass
class Column:
    model: str
    parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    done: Done | None = None
    error: RelayError | None = None
    state: str | None = None  # a stored column's state when it neither finished nor failed

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    def as_json(self) -> dict:
        data: dict = {"model": self.model, "text": self.text, "reasoning": self.reasoning or None}
        if self.done is not None:
            m = self.done.metrics
            data.update(served_model=m.served_model, finish_reason=self.done.finish_reason,
                        request_id=m.request_id, metrics=metrics_dict(m),
                        cost_usd=self.done.cost.usd if self.done.cost else None,
                        cost_source=self.done.cost.source if self.done.cost else None)
        if self.error is not None:
            data.update(error=str(self.error), error_kind=self.error.kind,
                        request_id=self.error.request_id)
        return data


@dataclass
class ComparisonResult:
    comparison_id: int
    prompt: str
    columns: list[Column]

    def summary(self) -> dict[str, tuple[str, float | int]]:
        """Winners among the finished columns: label -> (model, figure)."""
        return {label: (self.columns[index].model, value) for label, (index, value) in self.ranked().items()}

    def ranked(self) -> dict[str, tuple[int, float | int]]:
        """Winners among the finished columns: label -> (column index, figure). Ties go by model
        name as in `summary`, then to the leftmost column (a model can fill several)."""
        finished = [(i, c) for i, c in enumerate(self.columns) if c.done is not None]
        ranks: dict[str, tuple[int, float | int]] = {}

        def pick(label, key, best=min):
            scored = [(key(c), c.model, i if best is min else -i) for i, c in finished if key(c) is not None]
            if scored:
                value, _model, index = best(scored)
                ranks[label] = (abs(index), value)

        pick("fastest first token", lambda c: c.done.metrics.ttft)
        pick("fastest output (tok/s)", lambda c: _round(c.done.metrics.tokens_per_s), best=max)
        pick("cheapest ($)", lambda c: c.done.cost.usd if c.done.cost else None)
        pick("shortest answer (chars)", lambda c: len(c.text))
        pick("longest answer (chars)", lambda c: len(c.text), best=max)
        return ranks

    def as_json(self) -> dict:
        return {"comparison_id": self.comparison_id, "prompt": self.prompt,
                "columns": [c.as_json() for c in self.columns],
                "summary": {k: {"model": m, "value": v} for k, (m, v) in self.summary().items()}}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def run_comparison(client: RelayClient, history: History, *, profile: str,
                         models: list[str], prompt: str, system_prompt: str | None = None,
                         max_tokens: int | None = None, blind: bool = False,
                         on_column_done: Callable[[Column], None] | None = None,
                         on_event: Callable[[int, object], None] | None = None,
                         on_start: Callable[[int], None] | None = None) -> ComparisonResult:
    """Stream `prompt` from every model at once; log each request and save the comparison.

    `on_event(index, item)` sees every event (or the column's RelayError) right after the column
    took it in, so a UI can show columns live without a second pass over the stream; and, ahead of
    a column's text, `Sent` when its request goes out, each `RetryNotice` (then `Sent` for the
    next attempt) and `FirstToken`, so a live TTFT counts from where the client's does. Cancelling
    saves the unfinished columns as "stopped" with what they had. `on_start(comparison_id)` runs
    once the comparison is saved, before the first request.
    """
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else [])
    messages.append({"role": "user", "content": prompt})
    comparison_id = history.new_comparison(prompt=prompt, system_prompt=system_prompt,
                                           models=models, blind=blind, profile=profile)
    if on_start:
        on_start(comparison_id)
    columns = [Column(model) for model in models]
    started_at = time.time()
    with telemetry.run("compare", {"relay_tui.comparison_id": comparison_id,
                                   "relay_tui.models": list(models), "relay_tui.profile": profile},
                       key=_telemetry_key(history, profile, comparison_id)):
        await _stream_columns(client, history, profile, comparison_id, columns, messages,
                              max_tokens, started_at, on_column_done, on_event)
    return ComparisonResult(comparison_id, prompt, columns)


def _telemetry_key(history: History, profile: str, comparison_id: int) -> tuple | None:
    """The ids of a comparison's parent span, derived as a backfill derives them."""
    if telemetry.active() is None:
        return None
    from relay_tui.core.telemetry.spans import comparison_key

    return comparison_key(profile, comparison_id, history.comparison(comparison_id).created_at)


async def _stream_columns(client: RelayClient, history: History, profile: str, comparison_id: int,
                          columns: list[Column], messages: list[dict], max_tokens: int | None,
                          started_at: float, on_column_done: Callable[[Column], None] | None,
                          on_event: Callable[[int, object], None] | None) -> None:
    from relay_tui.core.fanout import compare

    models = [column.model for column in columns]
    try:
        tell = on_event or (lambda _index, _item: None)
        clients = [_ColumnClient(client, i, tell) for i in range(len(models))]
        async for index, item in compare(clients, models, messages, max_tokens=max_tokens):
            column = columns[index]
            if isinstance(item, Delta):
                column.parts.append(item.text)
            elif isinstance(item, Reasoning):
                column.reasoning_parts.append(item.text)
            elif isinstance(item, Done | RelayError):
                if isinstance(item, Done):
                    column.done = item
                else:
                    column.error = item
                _save_column(history, comparison_id, index, column, profile, started_at, messages)
                if on_column_done:
                    on_column_done(column)
            if on_event:
                on_event(index, item)
    except asyncio.CancelledError:
        for index, column in enumerate(columns):
            if column.done is None and column.error is None:
                _save_stopped(history, comparison_id, index, column, profile, started_at,
                              clients[index].metrics)
        raise


def _save_stopped(history: History, comparison_id: int, index: int, column: Column,
                  profile: str, started_at: float, metrics: Metrics) -> None:
    log_failure(history, profile=profile, model=column.model, kind="compare", error="stopped",
                request_id=None, started_at=started_at, metrics=metrics)
    history.add_comparison_answer(comparison_id, column=index, model=column.model,
                                  content=column.text, reasoning=column.reasoning, state="stopped")


def _save_column(history: History, comparison_id: int, index: int, column: Column,
                 profile: str, started_at: float, messages: list[dict]) -> None:
    done, error = column.done, column.error
    content = telemetry.content(messages, column.text)
    if done is not None:
        log_done(history, profile=profile, model=column.model, kind="compare", done=done,
                 content=content)
    else:
        log_failure(history, profile=profile, model=column.model, kind="compare", error=error,
                    request_id=error.request_id, started_at=started_at,
                    metrics=getattr(error, "metrics", None), content=content)
    history.add_comparison_answer(
        comparison_id, column=index, model=column.model, content=column.text,
        reasoning=column.reasoning,
        served_model=done.metrics.served_model if done else None,
        request_id=done.metrics.request_id if done else error.request_id,
        state="done" if done else "error", error=str(error) if error else None,
        metrics=metrics_dict(done.metrics) if done else None,
        cost_usd=done.cost.usd if done and done.cost else None,
        cost_source=done.cost.source if done and done.cost else None)


@dataclass
class StoredComparison:
    """A comparison read back from the history: as asked, its columns as saved, its vote."""

    row: ComparisonRow
    result: ComparisonResult
    vote: VoteRow | None


def load_comparison(history: History, comparison_id: int) -> StoredComparison | None:
    """A saved comparison with its columns rebuilt from the history (no request is made): a
    finished column gets back its Done (timings, tokens, cost), a failed one its error line,
    and one stopped, interrupted or never saved (the app ended first) says so in `state`."""
    from relay_tui.core.chat import stored_done

    row = history.comparison(comparison_id)
    if row is None:
        return None
    answers = {a.column: a for a in history.comparison_answers(comparison_id)}
    columns = []
    for index, model in enumerate(row.models):
        answer = answers.get(index)
        if answer is None:
            columns.append(Column(model, state="unsaved"))
            continue
        column = Column(answer.model, parts=[answer.content] if answer.content else [],
                        reasoning_parts=[answer.reasoning] if answer.reasoning else [])
        column.done = stored_done(answer)
        if column.done is None:
            if answer.state == "error":
                column.error = RelayError(answer.error or "failed")
            else:
                column.state = answer.state
        columns.append(column)
    return StoredComparison(row, ComparisonResult(comparison_id, row.prompt, columns),
                            history.vote(comparison_id))


def continue_as_chat(history: History, comparison_id: int, column: int) -> int:
    """Start a conversation from one column: the prompt and that column's answer as the first
    turn, so the chat goes on with that model. Returns the new conversation's id."""
    comp = history.comparison(comparison_id)
    answer = next((a for a in history.comparison_answers(comparison_id) if a.column == column), None)
    if comp is None or answer is None:
        raise ValueError(f"comparison {comparison_id} has no column {column}")
    conv_id = history.new_conversation(title=comp.prompt[:80], profile=comp.profile,
                                       model=answer.model, system_prompt=comp.system_prompt)
    history.add_message(conv_id, "user", comp.prompt)
    msg_id = history.begin_answer(conv_id, model=answer.model, request_id=answer.request_id or "")
    history.finish_answer(msg_id, state=answer.state, content=answer.content,
                          reasoning=answer.reasoning, served_model=answer.served_model,
                          metrics=answer.metrics, cost_usd=answer.cost_usd,
                          cost_source=answer.cost_source, error=answer.error)
    return conv_id
