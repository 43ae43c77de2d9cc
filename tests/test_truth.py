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
N = 9                     # requests: an odd count, so the median is one of them


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


@pytest.mark.alone  # timing checks: the machine to itself
async def test_ttft_shown_and_stored_and_costs_match_the_relays_books(timed_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions(base_url=timed_relay.base_url))
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_latency(app, pilot)
        await run_probe(app, pilot, models="gemini-2.5-flash", n=N, c=1)
        for _ in range(40):
            await settle(app, pilot, 0.1)
            if pane.last_probe is not None:
                break
        rows = sorted(app.history.requests(), key=lambda r: r.started_at)
        stored = [r.ttft for r in rows]
        # The relay records when it really wrote each first token (its timers can run a few ms
        # late on a loaded machine): that is the known delay the client's figure is held to.
        served = timed_relay.books()["first_token_s"]
        assert len(stored) == len(served) == N, (stored, served)
        assert all(TTFT <= s < TTFT + 0.03 for s in served), served
        late = sorted(t - s for t, s in zip(stored, served))     # c=1: the same requests, in order
        # Reading a first token takes a bare httpx client 1-8 ms after the relay's write on this
        # shared 2-core machine when it is busy (load 1.8); a request read while the whole screen
        # re-renders (the first, as the probe form closes) can be ~12 ms late: the network thread
        # waits for the GIL (DESIGN-NOTES, "Network thread"). So each request gets 30 ms and the
        # median is held to the 5 ms.
        assert all(0 <= d <= 0.03 for d in late), late
        assert late[N // 2] <= 0.005, late
        row = [str(c) for c in app.query_one(LatencyPane).query_one("#latency-table", DataTable).get_row_at(0)]
        p50_ms = int(row[5].split("/")[0])                        # TTFT ms p50/p95/p99 as shown
        assert p50_ms == round(sorted(stored)[N // 2] * 1000), row    # shown as stored, to the ms
        assert abs(p50_ms - sorted(served)[N // 2] * 1000) <= 5, (row, served)

        await pilot.press("f4")
        quota = app.query_one(QuotaPane)
        await pilot.press("ctrl+r")
        await settle(app, pilot, 0.3)
        books = timed_relay.books()
        assert round(quota.reading.used, 2) == round(books["used_usd"], 2)
        assert f"used       ${books['used_usd']:.6f}" in screen_text(app)
        spent = spend_by_model(app.history, profile=app.session.profile.name)
        assert [(r.key, r.requests) for r in spent] == [("gemini-2.5-flash", N)]
        assert round(spent[0].relay_usd, 2) == round(books["used_usd"], 2) and spent[0].estimated_usd == 0
        assert spent[0].relay_usd == pytest.approx(books["per_model"]["gemini-2.5-flash"]["cost_usd"], abs=1e-9)
