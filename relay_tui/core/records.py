"""Turn what a request produced (a Done, or a RelayError) into a row of the request log.

Chat, compare, bench and the probe all log through here, so the latency and spend panes read
one consistent table whatever made the call; and so each logged request is also the one place
its telemetry span comes from (core/telemetry: nothing happens there unless it is switched on).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from relay_tui.core import telemetry
from relay_tui.core.errors import RelayError
from relay_tui.core.events import Done, Metrics

if TYPE_CHECKING:
    from relay_tui.core.fanout import BenchRecord
    from relay_tui.core.telemetry.spans import Content
    from relay_tui.store.history import History


def metrics_dict(metrics: Metrics) -> dict:
    """The timing fields of a request, as stored with a message and in the request log."""
    return {
        "connect": metrics.connect, "tls": metrics.tls, "headers": metrics.headers,
        "ttft": metrics.ttft, "ttfat": metrics.ttfat, "total": metrics.total,
        "output_tokens": metrics.output_tokens,
        "output_tokens_estimated": metrics.output_tokens_estimated,
        "prompt_tokens": metrics.prompt_tokens, "tokens_per_s": metrics.tokens_per_s,
        "attempts": metrics.attempts,
    }


def log_done(history: History, *, profile: str, model: str, kind: str, done: Done,
             content: Content | None = None) -> int:
    """Log a finished request. `content` (what was asked and answered) is only for telemetry's
    opt-in content capture, never stored here."""
    m = done.metrics
    row = dict(request_id=m.request_id, profile=profile, model=model, served_model=m.served_model,
               kind=kind, started_at=m.started_at or time.time(), status=m.status, error_kind=None,
               error=None, cost_usd=done.cost.usd if done.cost else None,
               cost_source=done.cost.source if done.cost else None, **metrics_dict(m))
    row_id = history.log_request(**row)
    telemetry.request_logged(row, row_id, metrics=m, finish_reason=done.finish_reason,
                             content=content)
    return row_id


def log_failure(history: History, *, profile: str, model: str, kind: str, error: RelayError | str,
                request_id: str | None, started_at: float, metrics: Metrics | None = None,
                content: Content | None = None) -> int:
    """Log a failed or stopped request; `error` is a RelayError or a state such as "stopped"."""
    m = metrics or Metrics(request_id=request_id or "")
    is_relay_error = isinstance(error, RelayError)
    row = dict(request_id=request_id or m.request_id or None, profile=profile, model=model,
               served_model=m.served_model, kind=kind, started_at=started_at,
               status=getattr(error, "status", None) if is_relay_error else m.status,
               error_kind=error.kind if is_relay_error else str(error),
               error=str(error) if is_relay_error else None,
               cost_usd=None, cost_source=None, **metrics_dict(m))
    row_id = history.log_request(**row)
    telemetry.request_logged(row, row_id, metrics=metrics, content=content)
    return row_id


def log_bench_record(history: History, record: BenchRecord, *, profile: str, kind: str) -> int:
    """Log one bench or probe request (`relay-tui bench` and the latency pane's probe)."""
    if record.done is not None:
        return log_done(history, profile=profile, model=record.model, kind=kind, done=record.done)
    return log_failure(history, profile=profile, model=record.model, kind=kind, error=record.error,
                       request_id=record.error.request_id, started_at=record.started_at,
                       metrics=getattr(record.error, "metrics", None))


def new_request_id() -> str:
    """Our id for one request: sent as X-Request-ID, stored with its record, shown in errors."""
    return "rt-" + uuid.uuid4().hex[:12]
