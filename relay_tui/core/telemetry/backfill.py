"""`relay-tui telemetry export --since 7d`: the local request log, sent to the collector as spans.

Each row becomes the span it would have been live (spans.request_span, same attributes, same ids),
and a comparison's columns hang under one parent span again (comparison_answers name their
request ids). Ids are derived from the rows, so running the export twice, or over requests that
were already sent live, gives the receiver the same spans again rather than new ones. Metrics are
not backfilled: the SDK stamps every metric point with the time it is recorded, so old requests
would read as today's traffic.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from relay_tui.core.telemetry.config import TelemetryUnavailable, plan
from relay_tui.core.telemetry.spans import comparison_key, derived_ids, request_span, run_span

if TYPE_CHECKING:
    from relay_tui.store.config import Settings
    from relay_tui.store.history import History

EXPORT_WAIT = 60.0      # seconds the last batches may take to reach the collector
_SINCE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
OFF = ("telemetry is off: set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://collector:4318) or an "
       "endpoint in the [telemetry] table of config.toml")


@dataclass
class Backfill:
    requests: int      # request spans built from the log
    runs: int          # comparison parent spans
    sent: int          # spans the collector accepted
    dropped: int
    failed: bool


def parse_since(text: str) -> float:
    """'7d', '12h', '30m', '2w' -> seconds."""
    match = _SINCE.fullmatch(text.strip().lower())
    if not match or float(match[1]) <= 0:
        raise ValueError(f"--since takes a duration such as 7d, 12h or 30m, not {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def export_history(history: History, settings: Settings, *, since: float,
                   report: Callable[[str], None]) -> Backfill:
    """Send every request logged since `since` (epoch seconds); raises TelemetryUnavailable when
    telemetry is off or cannot run."""
    from relay_tui.core.telemetry.pipeline import Pipeline

    chosen = plan(settings.telemetry)
    if chosen is None:
        raise TelemetryUnavailable(OFF)
    parents = _comparisons(history, since)
    pipeline = Pipeline(chosen, report, backfill=True)
    ends: dict[tuple, int] = {}
    rows = history.requests(since=since)
    for row in rows:
        data = asdict(row)
        comparison = parents.get(row.request_id) if row.kind == "compare" else None
        parent = derived_ids(*comparison[0]) if comparison else None
        profile = settings.profiles.get(row.profile)
        spec = request_span(data, row.id, base_url=profile.base_url if profile else None,
                            parent=parent, capture_content=False,
                            latest_conventions=chosen.latest_conventions)
        pipeline.put(spec, block=True)
        if comparison:
            ends[comparison[0]] = max(ends.get(comparison[0], 0), spec.end_ns)
    runs = 0
    for key, attributes in {key: attrs for key, attrs in parents.values()}.items():
        if key in ends:
            created_at = float(key[3])
            pipeline.put(run_span("compare", derived_ids(*key), None, created_at,
                                  max(ends[key] / 1e9, created_at), attributes), block=True)
            runs += 1
    pipeline.stop(EXPORT_WAIT)
    return Backfill(len(rows), runs, pipeline.exported, pipeline.dropped, pipeline.failed)


def _comparisons(history: History, since: float) -> dict[str, tuple[tuple, dict]]:
    """request id -> (the comparison's key, its parent span's attributes), for comparisons made
    since `since` (newest first, so the walk stops at the first older one)."""
    found: dict[str, tuple[tuple, dict]] = {}
    for comp in history.comparisons(limit=1_000_000):
        if comp.created_at < since - 60:      # a column may be logged a little after its start
            break
        key = comparison_key(comp.profile, comp.id, comp.created_at)
        attributes = {"relay_tui.run": "compare", "relay_tui.comparison_id": comp.id,
                      "relay_tui.models": list(comp.models), "relay_tui.profile": comp.profile}
        for answer in history.comparison_answers(comp.id):
            if answer.request_id:
                found[answer.request_id] = (key, attributes)
    return found


def since_epoch(text: str) -> float:
    return time.time() - parse_since(text)
