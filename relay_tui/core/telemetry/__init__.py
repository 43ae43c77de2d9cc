"""Team telemetry: every relay request as an OpenTelemetry span and GenAI metrics, sent over
OTLP/HTTP to the collector a team already runs. Off unless the OTEL_* variables or `[telemetry]`
in config.toml switch it on; the SDK comes with `pip install 'relay-tui[otel]'`.

The hooks are small on purpose: core/records.py calls `request_logged` for every request it
logs (chat, compare, batch, bench, probe), and a compare or bench run wraps its requests in
`run("compare" | "bench")` so their spans share a parent. With telemetry off each hook is one
`if`. With it on, a hook puts a plain SpanSpec on the pipeline's queue (pipeline.py) and returns.
"""

from __future__ import annotations

import contextvars
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from relay_tui.core.telemetry.config import Plan, TelemetryUnavailable, plan

if TYPE_CHECKING:
    from relay_tui.core.events import Metrics
    from relay_tui.core.telemetry.pipeline import Pipeline
    from relay_tui.core.telemetry.spans import Content
    from relay_tui.store.config import TelemetrySettings

# Only what start-up needs is imported here (the rest when telemetry is on): the TUI imports this
# module before its first frame.
__all__ = ["TelemetryUnavailable", "plan", "start", "stop", "active", "content", "request_logged",
           "run"]

STOP_WAIT = 2.0   # seconds an exit waits for the last spans to reach a collector that is slow

_pipeline: Pipeline | None = None
_parent: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "relay_tui_telemetry_parent", default=None)


def stderr_line(line: str) -> None:
    """The CLI's way to say a telemetry problem: one line on stderr (it may quote a collector)."""
    from relay_tui.core.sanitize import neutralise

    print(neutralise(f"relay-tui: {line}"), file=sys.stderr, flush=True)


def start(settings: TelemetrySettings | None = None, *,
          report: Callable[[str], None] = stderr_line) -> Plan | None:
    """Switch telemetry on if the environment or config.toml asks for it; returns the plan, or
    None when it stays off. A request that cannot be met (no SDK installed) is reported through
    `report`, once, and telemetry stays off: the app itself goes on."""
    global _pipeline
    stop(0)
    try:
        chosen = plan(settings)
    except TelemetryUnavailable as exc:
        report(str(exc))
        return None
    if chosen is not None:
        from relay_tui.core.telemetry.pipeline import Pipeline

        _pipeline = Pipeline(chosen, report)
    return chosen


def stop(wait: float = STOP_WAIT) -> None:
    """Send what is queued (waiting at most `wait` seconds) and switch telemetry off."""
    global _pipeline
    pipeline, _pipeline = _pipeline, None
    if pipeline is not None:
        pipeline.stop(0 if pipeline.failed else wait)


def active() -> Pipeline | None:
    return _pipeline


def content(messages: list[dict], answer: str | None) -> Content | None:
    """What was asked and answered, for the span: only when the user opted in to capturing it
    (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT or `capture_content`), else None."""
    pipeline = _pipeline
    if pipeline is None or not pipeline.plan.capture_content:
        return None
    from relay_tui.core.telemetry.spans import Content

    return Content(messages, answer)


def request_logged(row: Mapping[str, Any], row_id: int, *, metrics: Metrics | None = None,
                   finish_reason: str | None = None, content: Content | None = None) -> None:
    """core/records.py logged `row` (the request log's columns) as `row_id`: export its span."""
    pipeline = _pipeline
    if pipeline is None:
        return
    if pipeline.shedding():        # the collector is down: nothing to build
        pipeline.dropped += 1
        return
    from relay_tui.core.telemetry.spans import request_span

    p = pipeline.plan
    pipeline.put(request_span(
        row, row_id, base_url=metrics.base_url if metrics else None, parent=_parent.get(),
        finish_reason=finish_reason, temperature=metrics.temperature if metrics else None,
        max_tokens=metrics.max_tokens if metrics else None,
        relay_request_id=metrics.relay_request_id if metrics else None,
        chunk_gaps=metrics.gaps if metrics else (), content=content,
        capture_content=p.capture_content, latest_conventions=p.latest_conventions))


@contextmanager
def run(name: str, attributes: Mapping[str, Any], *,
        key: tuple | None = None) -> Iterator[None]:
    """A compare or bench run: requests logged inside are children of one span `name`, emitted
    when the run ends (also when it is cancelled). `key` derives its ids (see spans.derived_ids;
    a comparison's key lets a backfill name the same parent); else they are random."""
    if _pipeline is None:
        yield
        return
    from relay_tui.core.telemetry.spans import derived_ids, run_span

    ids = derived_ids(*key) if key else (int.from_bytes(os.urandom(16), "big") or 1,
                                         int.from_bytes(os.urandom(8), "big") or 1)
    outer = _parent.get()
    token = _parent.set((outer[0] if outer else ids[0], ids[1]))
    started = time.time()
    try:
        yield
    finally:
        _parent.reset(token)
        pipeline = _pipeline
        if pipeline is not None:
            pipeline.put(run_span(name, ids, outer, started, time.time(),
                                  {"relay_tui.run": name, **attributes}))
