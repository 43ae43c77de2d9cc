"""core/stats over a real history.db: percentiles agree with `relay-tui bench`, spend keeps relay
figures and estimates apart, projections, threshold crossings, waterfalls, the request observer."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time

import pytest

from relay_tui.core import stats
from relay_tui.core.fanout import percentile
from relay_tui.core.quota import QuotaReading
from relay_tui.store.history import MIGRATIONS, History


@pytest.fixture
def history(tmp_path):
    with History(tmp_path / "history.db") as h:
        yield h


def log(history, *, model="m", profile="p", ago=0.0, ttft=0.5, total=1.0, tps=50.0, error=None,
        cost=None, source=None, connect=None, headers=None):
    return history.log_request(request_id="rt-1", profile=profile, model=model, kind="chat",
                               started_at=time.time() - ago, error_kind=error, ttft=ttft,
                               total=None if error else total, tokens_per_s=None if error else tps,
                               cost_usd=cost, cost_source=source, connect=connect, headers=headers)


def test_latency_table_equals_bench_percentiles_and_ignores_stopped(history):
    rnd = random.Random(3)
    for i in range(157):
        error = "server_error" if i % 19 == 0 else "stopped" if i % 23 == 0 else None
        log(history, model="a" if i % 3 else "b", ttft=rnd.uniform(0.1, 2), total=rnd.uniform(2, 5),
            tps=rnd.uniform(10, 90), error=error)
    rows = {r.model: r for r in stats.latency_table(history)}
    for model, row in rows.items():
        mine = [r for r in history.requests(model=model)]
        ok = [r for r in mine if r.ok]
        assert row.requests == len(mine)
        assert row.errors == sum(r.error_kind == "server_error" for r in mine) > 0
        for p in (50, 95, 99):
            assert getattr(row, f"ttft_p{p}") == percentile([r.ttft for r in ok], p)
            assert getattr(row, f"total_p{p}") == percentile([r.total for r in ok], p)
        assert row.tps_p50 == percentile([r.tokens_per_s for r in ok], 50)


def test_time_window_and_profile_filter(history):
    log(history, model="old", ago=2 * 86400)
    log(history, model="new", profile="q")
    assert [r.model for r in stats.latency_table(history, since=time.time() - 86400)] == ["new"]
    assert [r.model for r in stats.latency_table(history)] == ["old", "new"]
    assert [r.model for r in stats.latency_table(history, profile="p")] == ["old"]


def test_spend_keeps_relay_figures_and_estimates_apart(history):
    log(history, model="a", cost=0.25, source="relay")
    log(history, model="a", cost=0.5, source="genai-prices")
    log(history, model="b", cost=None)
    log(history, model="b", error="server_error")
    by_model = stats.spend_by_model(history, profile="p")
    assert [(r.key, r.requests, r.relay_usd, r.estimated_usd, r.unpriced) for r in by_model] == \
        [("a", 2, 0.25, 0.5, 0), ("b", 2, 0.0, 0.0, 1)]
    days = stats.spend_by_day(history, profile="p", days=3)
    assert [d.key for d in days][-1] == dt.date.today().isoformat() and len(days) == 3
    assert (days[-1].relay_usd, days[-1].estimated_usd, days[0].requests) == (0.25, 0.5, 0)


def reading(remaining, *, unlimited=False, unit="USD", used=1.0):
    return QuotaReading(None if unlimited else used + remaining, used, remaining, unlimited, unit,
                        time.time(), "simple")


def test_projection_from_the_last_seven_days(history):
    now = time.time()
    log(history, cost=0.7, source="relay", ago=3 * 86400)
    log(history, cost=0.7, source="relay", ago=10 * 86400)       # outside the window
    p = stats.project(history, profile="p", reading=reading(7.0), now=now)
    assert p.relay_usd == pytest.approx(0.7)
    assert p.span_days == pytest.approx(3, abs=0.01) and p.per_day == pytest.approx(0.7 / 3, rel=0.01)
    assert p.days_left == pytest.approx(7.0 / p.per_day)
    assert p.runs_out == dt.date.fromtimestamp(now + p.days_left * 86400)
    assert "unlimited" in stats.project(history, profile="p", reading=reading(None, unlimited=True)).note
    assert "CNY" in stats.project(history, profile="p", reading=reading(5.0, unit="CNY")).note
    assert stats.project(history, profile="nobody", reading=reading(5.0)).runs_out is None


def test_less_than_a_day_of_requests_gives_no_daily_rate(history):
    """Ten minutes of use projected over months read "runs out in 638 days": no rate, no date."""
    log(history, cost=0.04, source="relay", ago=600)
    p = stats.project(history, profile="p", reading=reading(25.0))
    assert p.span_days == pytest.approx(600 / 86400, rel=0.05)
    assert p.per_day is None and p.runs_out is None and "needs a day" in p.note
    assert p.relay_usd == pytest.approx(0.04)


def test_a_threshold_alerts_once_per_crossing():
    t = (0.75, 0.9)
    assert stats.crossed(t, None, 0.5) is None
    assert stats.crossed(t, 0.5, 0.8) == 0.75
    assert stats.crossed(t, 0.8, 0.85) is None          # already alerted
    assert stats.crossed(t, 0.8, 0.95) == 0.9
    assert stats.crossed(t, None, 0.95) == 0.9          # first reading already past both
    assert stats.crossed(t, 0.95, 0.2) is None and stats.crossed(t, 0.2, 0.8) == 0.75  # top-up, again
    assert stats.crossed(t, 0.5, None) is None          # unlimited


def test_waterfall_phases_and_a_reused_connection(history):
    full = history.request(log(history, connect=0.01, headers=0.05, ttft=0.3, total=1.2))
    assert stats.waterfall(full) == [("connect", 0.0, 0.01), ("headers", 0.01, 0.05),
                                     ("first token", 0.05, 0.3), ("last token", 0.3, 1.2)]
    reused = history.request(log(history, headers=0.02, ttft=0.3, total=1.0))
    assert [name for name, _, _ in stats.waterfall(reused)] == ["headers", "first token", "last token"]


def test_subscribers_see_every_logged_request_until_they_leave(history):
    seen = []
    leave = history.subscribe(seen.append)
    row_id = log(history, model="x", cost=0.1, source="relay")
    leave()
    log(history, model="y")
    assert [(r.id, r.model, r.cost_usd, r.ok) for r in seen] == [(row_id, "x", 0.1, True)]


def test_a_version_one_history_gains_the_indexes(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    db.close()
    with History(path) as h:
        log(h, model="m")
        assert stats.latency_table(h)[0].requests == 1
        names = {r[0] for r in h._db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"requests_ttft", "requests_total", "requests_tps", "requests_spend"} <= names


def test_bench_cells_render_a_row_like_the_cli():
    row = stats.LatencyRow("p", "m", 4, 1, 0.25, 0.1, 0.2, 0.3, 1.0, 2.0, 3.0, 42.42)
    assert stats.bench_cells(row) == ("m", "4", "1", "25.0", "100/200/300", "1000/2000/3000",
                                      "42.4", "–")
