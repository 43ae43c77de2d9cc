"""How long the latency pane's statistics take over a large request log.

Logs 100,000 requests (4 models × 2 profiles, a fifth of them asking for `auto`, 2% errors, 1%
stopped, spread over 30 days) into a
fresh history.db, then times what the panes compute on every refresh: the latency table (requests,
errors, TTFT/total p50/p95/p99, tok/s p50 per profile and model) for every time window, the
sparkline, and the spend by model and by day. It checks the table against percentiles computed
in Python from all the rows. Target: the latency table in <= 0.2 s.

    python bench/stats.py [--rows N]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from relay_tui.core import stats  # noqa: E402
from relay_tui.core.fanout import percentile  # noqa: E402
from relay_tui.store.history import _REQUEST_COLUMNS, History  # noqa: E402

MODELS = ("gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2")
TARGET_S = 0.2


def fill(history: History, rows: int, now: float) -> None:
    """Insert `rows` requests in one transaction (logging them one by one would take minutes)."""
    rnd = random.Random(7)
    values = []
    for i in range(rows):
        roll = rnd.random()
        error = "server_error" if roll < 0.02 else "stopped" if roll < 0.03 else None
        ttft = rnd.lognormvariate(-0.5, 0.4)
        total = ttft + rnd.uniform(1, 5)
        tokens = rnd.randint(50, 400)
        ok = error is None
        asked = "auto" if i % 5 == 0 else MODELS[i % 4]   # the relay says which model answered
        values.append((f"rt-{i:012x}", "demo" if i % 3 else "work", asked,
                       MODELS[i % 4] if error != "server_error" else None, "chat",
                       now - rnd.uniform(0, 30 * 86400), None if ok else 500, error, None, 0.001,
                       None, 0.01, ttft if error != "server_error" else None, ttft,
                       total if ok else None, tokens if ok else None, 0, 20,
                       (tokens - 1) / (total - ttft) if ok else None,
                       tokens * 4e-6 if ok else None, ("relay" if i % 2 else "demo") if ok else None, 1))
    with history._write() as db:
        db.executemany(f"INSERT INTO requests ({', '.join(_REQUEST_COLUMNS)}) "
                       f"VALUES ({', '.join('?' * len(_REQUEST_COLUMNS))})", values)


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    """Best of `repeat` runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def check(history: History, table: list[stats.LatencyRow]) -> None:
    """The SQL percentiles equal fanout.percentile over every row (what `relay-tui bench` uses)."""
    rows = history.requests()
    for row in table:
        mine = [r for r in rows if (r.profile, r.answered_by) == (row.profile, row.model)]
        ok = [r for r in mine if r.error_kind is None]
        expected = (len(mine), sum(r.error_kind not in (None, "stopped") for r in mine),
                    *(percentile([r.ttft for r in ok], p) for p in stats.PERCENTILES),
                    *(percentile([r.total for r in ok], p) for p in stats.PERCENTILES),
                    percentile([r.tokens_per_s for r in ok], 50))
        got = (row.requests, row.errors, row.ttft_p50, row.ttft_p95, row.ttft_p99, row.total_p50,
               row.total_p95, row.total_p99, row.tps_p50)
        assert got == expected, (row.profile, row.model, got, expected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as folder, History(Path(folder) / "history.db") as history:
        started = time.perf_counter()
        fill(history, args.rows, now)
        print(f"logged {args.rows:,} requests in {time.perf_counter() - started:.2f} s")
        results = []
        for label, seconds in stats.WINDOWS:
            since = None if seconds is None else now - seconds
            took, table = timed(lambda: stats.latency_table(history, since=since))
            results.append(took)
            print(f"latency table, {label:9}: {took * 1000:6.1f} ms ({len(table)} rows)")
        worst = max(results)
        took, table = timed(lambda: stats.latency_table(history))
        check(history, table)
        print("percentiles equal fanout.percentile over all rows: yes")
        took, _ = timed(lambda: stats.recent_ttfts(history, profile="demo", model="gpt-4.1"))
        print(f"sparkline (60 recent TTFTs):  {took * 1000:6.1f} ms")
        took, _ = timed(lambda: stats.spend_by_model(history, profile="demo"))
        print(f"spend by model, all time:     {took * 1000:6.1f} ms")
        took, _ = timed(lambda: stats.spend_by_day(history, profile="demo", now=now))
        print(f"spend by day, 14 days:        {took * 1000:6.1f} ms")
        took, _ = timed(lambda: stats.project(history, profile="demo", reading=None, now=now))
        print(f"burn-rate projection:         {took * 1000:6.1f} ms")
        verdict = "meets" if worst <= TARGET_S else "MISSES"
        print(f"slowest latency table {worst * 1000:.1f} ms: {verdict} the {TARGET_S * 1000:.0f} ms target")
        return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
