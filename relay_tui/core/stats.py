"""What the quota and latency panes show, computed from the request log: latency percentiles per
profile and model, spend by model and by day, the burn-rate projection, threshold crossings and
a request's waterfall.

Percentiles are nearest-rank, as `relay-tui bench` reports them (fanout.nearest_rank), read from
SQLite indexes (store/history.py) rather than by loading rows, so 100,000 logged requests cost
milliseconds, not a Python loop (bench/stats.py measures it).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from relay_tui.core.fanout import nearest_rank

if TYPE_CHECKING:
    from relay_tui.core.fanout import ModelStats
    from relay_tui.core.quota import QuotaReading
    from relay_tui.store.history import History, RequestRow

PERCENTILES = (50, 95, 99)
# Time windows the latency pane cycles through: (label, seconds; None = everything logged).
WINDOWS: tuple[tuple[str, float | None], ...] = (
    ("1 hour", 3600), ("24 hours", 86400), ("7 days", 7 * 86400), ("30 days", 30 * 86400),
    ("all time", None))
BURN_WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class LatencyRow:
    """One profile and model; field names match fanout.ModelStats. Seconds; None = no sample."""

    profile: str
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
    tps_p50: float | None


def latency_table(history: History, *, since: float | None = None,
                  profile: str | None = None) -> list[LatencyRow]:
    """Every profile and model with requests since `since` (all profiles when `profile` is None).

    Errors exclude requests the user stopped; TTFT, total and tok/s are over successful
    requests only, as in `relay-tui bench`."""
    rows = []
    for prof, model, requests, errors in history.request_counts(since=since, profile=profile):
        values: dict[str, float | None] = {}
        for column, prefix, ps in (("ttft", "ttft", PERCENTILES), ("total", "total", PERCENTILES),
                                   ("tokens_per_s", "tps", (50,))):
            count = history.count_values(column, profile=prof, model=model, since=since)
            for p in ps:
                values[f"{prefix}_p{p}"] = history.value_at_rank(
                    column, nearest_rank(p, count), count, profile=prof, model=model, since=since)
        errors = int(errors)
        rows.append(LatencyRow(prof, model, requests, errors, errors / requests if requests else 0.0,
                               **values))
    return rows


def recent_ttfts(history: History, *, profile: str, model: str, limit: int = 60,
                 since: float | None = None) -> list[float]:
    """The latest TTFTs (seconds, oldest first) for the pane's sparkline."""
    return history.recent_values("ttft", profile=profile, model=model, limit=limit, since=since)


# -- spend ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SpendRow:
    """Spend of one model or one day. Relay-reported costs and estimates are kept apart."""

    key: str
    requests: int
    relay_usd: float
    estimated_usd: float
    unpriced: int                  # successful requests with no cost at all

    @property
    def total_usd(self) -> float:
        return self.relay_usd + self.estimated_usd


def spend_by_model(history: History, *, profile: str, since: float | None = None) -> list[SpendRow]:
    """Most spent first."""
    rows = [SpendRow(k, n, relay, est, int(unpriced))
            for k, n, relay, est, unpriced in history.spend(profile=profile, since=since)]
    return sorted(rows, key=lambda r: (-r.total_usd, r.key))


def spend_by_day(history: History, *, profile: str, days: int = 14,
                 now: float | None = None) -> list[SpendRow]:
    """The last `days` local days, oldest first, days without requests included (as zero)."""
    today = dt.date.fromtimestamp(now if now is not None else time.time())
    first = today - dt.timedelta(days=days - 1)
    since = time.mktime(first.timetuple())
    logged = {k: SpendRow(k, n, relay, est, int(unpriced))
              for k, n, relay, est, unpriced in history.spend(profile=profile, since=since, by="day")}
    keys = [(first + dt.timedelta(days=i)).isoformat() for i in range(days)]
    return [logged.get(k, SpendRow(k, 0, 0.0, 0.0, 0)) for k in keys]


@dataclass(frozen=True, slots=True)
class Projection:
    """When the balance runs out at the recent burn rate; `note` says why there is no date."""

    relay_usd: float               # spent over the window, relay-reported
    estimated_usd: float           # spent over the window, estimated
    span_days: float               # the days the rate is taken over (since the first request)
    per_day: float | None          # None with less than MIN_SPAN_DAYS of requests
    days_left: float | None
    runs_out: dt.date | None
    note: str


MIN_SPAN_DAYS = 1.0
"""History a daily rate needs: ten minutes of requests projected over months was a guess."""


def project(history: History, *, profile: str, reading: QuotaReading | None,
            now: float | None = None, window_days: int = BURN_WINDOW_DAYS) -> Projection:
    """Burn rate over the last `window_days` of the request log (or since its first request, so
    a fresh history is not diluted by empty days), and the date the reading's remaining balance
    runs out at that rate; with less than a day of requests, only what was spent."""
    now = now if now is not None else time.time()
    days = spend_by_day(history, profile=profile, days=window_days, now=now)
    relay = sum(d.relay_usd for d in days)
    estimated = sum(d.estimated_usd for d in days)
    first = history.first_request_at(profile=profile, since=now - window_days * 86400)
    span = window_days if first is None else min(window_days, (now - first) / 86400)
    per_day = None if span < MIN_SPAN_DAYS else (relay + estimated) / span
    days_left = runs_out = None
    if reading is None:
        note = "no balance reading"
    elif reading.unlimited:
        note = "unlimited: it does not run out"
    elif reading.remaining is None or reading.unit.upper() != "USD":
        note = f"no projection: the balance is in {reading.unit}, spend in USD"
    elif per_day is None:
        note = "a projection needs a day of requests"
    elif per_day <= 0:
        note = f"no spend in the last {window_days} days"
    else:
        days_left = max(0.0, reading.remaining) / per_day
        runs_out = dt.date.fromtimestamp(now + days_left * 86400)
        note = ""
    return Projection(relay, estimated, span, per_day, days_left, runs_out, note)


# -- quota ----------------------------------------------------------------------------------------

def store_reading(history: History, profile: str, reading: QuotaReading) -> int:
    """Keep a quota reading (the CLI's `quota` and the quota pane both do)."""
    return history.add_quota_reading(
        profile=profile, dialect=reading.dialect, granted=reading.granted, used=reading.used,
        remaining=reading.remaining, unlimited=reading.unlimited, unit=reading.unit,
        read_at=reading.read_at)


def crossed(thresholds: tuple[float, ...], before: float | None, after: float | None) -> float | None:
    """The highest threshold that `after` reached and `before` had not (None: no crossing).

    Only a crossing alerts, so each threshold alerts once until usage drops below it again (a
    top-up); an unknown `before` (first reading) counts as zero."""
    if after is None:
        return None
    start = before or 0.0
    reached = [t for t in thresholds if start < t <= after]
    return max(reached) if reached else None


# -- a request's waterfall ------------------------------------------------------------------------

def waterfall(row: RequestRow) -> list[tuple[str, float, float]]:
    """(phase, start, end) in seconds from the request's start, for the phases it reached:
    connect, TLS, response headers, first token, last token. A reused connection has no
    connect or TLS phase."""
    phases = []
    start = 0.0
    for name, end in (("connect", row.connect), ("TLS", row.tls), ("headers", row.headers),
                      ("first token", row.ttft), ("last token", row.total)):
        if end is not None:
            phases.append((name, start, end))
            start = end
    return phases


# -- shared table cells (the CLI's bench table and the TUI's probe table) ---------------------------

BENCH_COLUMNS = ("model", "req", "err", "err %", "TTFT ms", "total ms", "tok/s", "cost $")


def ms(*values: float | None) -> str:
    """Seconds as milliseconds, several joined by '/' (p50/p95/p99); '–' for no sample."""
    return "/".join("–" if v is None else f"{v * 1000:.0f}" for v in values)


def bench_cells(s: ModelStats | LatencyRow) -> tuple[str, ...]:
    """The cells of one row under BENCH_COLUMNS (cost only when `s` has it)."""
    cost = getattr(s, "cost_usd", None)
    return (s.model, str(s.requests), str(s.errors), f"{s.error_rate * 100:.1f}",
            ms(s.ttft_p50, s.ttft_p95, s.ttft_p99), ms(s.total_p50, s.total_p95, s.total_p99),
            "–" if s.tps_p50 is None else f"{s.tps_p50:.1f}",
            "–" if cost is None else f"{cost:.4f}{' est.' if s.cost_estimated else ''}")
