"""Truth: what the panes show and store equals what the demo relay did — a known first-token
delay within 5 ms (the median shown), and the balance and costs to the cent of the relay's own books."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from textual.widgets import DataTable

from relay_tui.app import AppOptions, make_app
from relay_tui.core.stats import spend_by_model
from relay_tui.ui.latency_pane import LatencyPane
from relay_tui.ui.quota_pane import QuotaPane
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text
from tests.test_latency_pane import open_latency, run_probe
from tests.test_quota_pane import settle

TTFT = 0.250


RELAY = f"""
import sys
from relay_tui.demo import DEMO_KEY, DemoRelay
relay = DemoRelay(time_scale=1.0, accept_keys=(DEMO_KEY, {TEST_KEY!r}), quota_dialects=["simple"],
                  model_overrides={{"gemini-2.5-flash": {{"ttft": {TTFT}, "tps": 500,
                                                          "answer_tokens": 20}}}})
relay.start()
print(relay.base_url, flush=True)
sys.stdin.read()
"""


class RelayProcess:
    """The demo relay in its own process, as a real relay would be: its timers do not wait for
    the app's rendering to release the GIL. Books are read over its control endpoint."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", RELAY], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     cwd=Path(__file__).resolve().parent.parent)
        self.base_url = self.proc.stdout.readline().strip()

    def books(self) -> dict:
        return httpx.get(self.base_url.removesuffix("/v1") + "/_demo/books").json()


@pytest.fixture
def timed_relay():
    relay = RelayProcess()
    yield relay
    relay.proc.stdin.close()
    relay.proc.wait(timeout=10)


async def test_ttft_shown_and_stored_and_costs_match_the_relays_books(timed_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions(base_url=timed_relay.base_url))
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_latency(app, pilot)
        await run_probe(app, pilot, models="gemini-2.5-flash", n=5, c=1)
        for _ in range(40):
            await settle(app, pilot, 0.1)
            if pane.last_probe is not None:
                break
        stored = sorted(r.ttft for r in app.history.requests())
        # The relay counts its delay from the headers it sends, so even a bare client reads
        # 252-255 ms. In the app the reader runs on the network thread (core/netloop.py): the
        # median is 252.8-254.3 ms (it was 255-256.4 ms with the reader on the UI loop). A single
        # request sent while the whole screen re-renders (the first, as the probe form closes)
        # still reads 257-262 ms on this shared 2-core machine: the network thread waits for the
        # GIL at each socket call. So the shown median is held to the 5 ms, each stored
        # request to 15 ms (DESIGN-NOTES, "Network thread").
        assert len(stored) == 5 and all(abs(t - TTFT) <= 0.015 for t in stored), stored
        assert abs(stored[2] - TTFT) <= 0.005, stored
        row = [str(c) for c in app.query_one(LatencyPane).query_one("#latency-table", DataTable).get_row_at(0)]
        p50_ms = int(row[5].split("/")[0])                        # TTFT ms p50/p95/p99 as shown
        assert p50_ms == round(stored[2] * 1000), row             # shown as stored, to the ms
        assert abs(p50_ms - TTFT * 1000) <= 5, row

        await pilot.press("f4")
        quota = app.query_one(QuotaPane)
        await pilot.press("ctrl+r")
        await settle(app, pilot, 0.3)
        books = timed_relay.books()
        assert round(quota.reading.used, 2) == round(books["used_usd"], 2)
        assert f"used       ${books['used_usd']:.6f}" in screen_text(app)
        spent = spend_by_model(app.history, profile=app.session.profile.name)
        assert [(r.key, r.requests) for r in spent] == [("gemini-2.5-flash", 5)]
        assert round(spent[0].relay_usd, 2) == round(books["used_usd"], 2) and spent[0].estimated_usd == 0
        assert spent[0].relay_usd == pytest.approx(books["per_model"]["gemini-2.5-flash"]["cost_usd"], abs=1e-9)
