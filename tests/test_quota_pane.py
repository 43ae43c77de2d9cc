"""The Quota pane as a user sees it, against the demo relay (every dialect it serves, its quota
faults) and a canned-shape server for relays without quota endpoints."""

from __future__ import annotations

import json
import re
import time

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.core.chat import Conversation
from relay_tui.demo import DEMO_KEY, DemoRelay
from relay_tui.store.config import Settings
from relay_tui.store.paths import state_dir
from relay_tui.ui.quota_pane import QuotaPane
from tests.conftest import TEST_KEY
from tests.support.quota_server import QuotaServer
from tests.support.screen import screen_text

SIZE = (160, 48)


@pytest.fixture
def relay_factory():
    relays = []

    def make(**kwargs):
        relay = DemoRelay(time_scale=0.0, accept_keys=(DEMO_KEY, TEST_KEY), **kwargs)
        relay.start()
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.stop()


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)


async def settle(app, pilot, seconds=0.0):
    """Let timers fire for `seconds`, then wait (at most 4 s) until no worker is running."""
    if seconds:
        await pilot.pause(seconds)
    for _ in range(200):
        if not any(w.state.name in ("PENDING", "RUNNING") for w in app.workers):
            break
        await pilot.pause(0.02)
    await pilot.pause()


async def open_quota(app, pilot):
    await settle(app, pilot)
    await pilot.press("f4")
    await settle(app, pilot, 0.15)
    pane = app.query_one(QuotaPane)
    assert app.focused is pane, app.focused        # its keys work at once
    return pane


async def chat_once(app, model="gpt-4.1"):
    """A chat request through the core, as the Chat pane sends it (it logs to app.history)."""
    conv = Conversation.start(app.session.client, app.history, profile=app.session.profile.name,
                              model=model, title="t")
    async for _ in conv.send("hello"):
        pass


@pytest.mark.parametrize("dialect", ["openrouter", "litellm", "newapi-token", "billing", "simple"])
async def test_every_demo_dialect_shows_granted_used_remaining(relay_factory, dialect):
    relay = relay_factory(quota_dialects=[dialect], granted_usd=12.5)
    app = make_app(AppOptions(base_url=relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        await open_quota(app, pilot)
        text = screen_text(app)
        assert f"read from  {dialect} at" in text
        assert "granted    $12.50" in text and "used       $0.00" in text  # one precision
        assert "remaining  $12.50" in text and "unit       USD" in text
        assert "0.0% used" in text


async def test_unlimited_key_and_an_error_sent_as_200(relay_factory):
    relay = relay_factory(quota_dialects=["billing"])   # one-api's errors-as-200 are on this pair
    app = make_app(AppOptions(base_url=relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_quota(app, pilot)
        relay.set_fault("unlimited_token")
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        text = screen_text(app)
        assert "granted    unlimited" in text and "remaining  unlimited" in text
        assert "% used" not in text            # no gauge for an unlimited key
        relay.set_fault("quota_error_200")
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "last refresh failed:" in screen_text(app) and "database is locked" in pane.problem


async def test_a_relay_without_quota_says_so_and_still_shows_local_spend():
    with QuotaServer({}) as srv:
        app = make_app(AppOptions(base_url=srv.url + "/v1"))
        async with app.run_test(size=SIZE) as pilot:
            app.history.log_request(request_id="rt-x", profile=app.session.profile.name,
                                    model="gpt-4.1", kind="chat", started_at=time.time(),
                                    ttft=0.4, total=1.0, cost_usd=0.0123, cost_source="genai-prices")
            await open_quota(app, pilot)
            await pilot.press("ctrl+r")
            await settle(app, pilot, 0.3)
            text = screen_text(app)
            assert "this relay does not report quota" in text
            assert "gpt-4.1" in text and "0.0123" in text     # spend by model, as an estimate
            assert "no balance reading" in text


async def test_model_ids_in_spend_by_model_are_plain_text():
    # They come from relays: "[/v1]" as a Rich table cell crashed the pane, escapes are shown
    with QuotaServer({}) as srv:
        app = make_app(AppOptions(base_url=srv.url + "/v1"))
        app.history.log_request(request_id="rt-x", profile=app.session.profile.name,
                                model="[/v1] \x1b]0;pwned\x07", kind="chat", started_at=time.time(),
                                ttft=0.4, total=1.0, cost_usd=0.0123, cost_source="genai-prices")
        async with app.run_test(size=SIZE) as pilot:
            await open_quota(app, pilot)
            assert "[/v1] ␛]0;pwned␇" in screen_text(app)


async def test_requests_show_their_quota_delta_and_cross_each_threshold_once(relay_factory):
    relay = relay_factory(quota_dialects=["simple"], granted_usd=0.005,
                          model_overrides={"gpt-4.1": {"answer_tokens": 100}})
    app = make_app(AppOptions(base_url=relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_quota(app, pilot)
        alerts = []
        used = relay.books()["used_usd"]
        for _ in range(6):
            before = used
            await chat_once(app)
            await settle(app, pilot, 0.65)
            alerts = [n.message for n in app._notifications if "of the quota used" in n.message]
            used = relay.books()["used_usd"]
            if used / 0.005 < 0.75:
                assert not alerts and not pane.has_class("-warn")
            # the delta of this request alone, to the relay's own books
            assert f"Last chat gpt-4.1: balance used +${used - before:.6f}" in screen_text(app)
        assert len(alerts) == 2 and "75%" in alerts[0] and "90%" in alerts[1]
        assert pane.has_class("-danger") and not pane.has_class("-warn")
        await pilot.press("ctrl+r")                 # a refresh is not a new crossing
        await settle(app, pilot)
        assert len([n for n in app._notifications if "of the quota used" in n.message]) == 2


async def test_refreshes_on_its_interval(relay_factory):
    relay = relay_factory(quota_dialects=["simple"])
    app = make_app(AppOptions(base_url=relay.base_url), settings=Settings(quota_refresh_seconds=0.2))
    async with app.run_test(size=SIZE) as pilot:
        await open_quota(app, pilot)
        await settle(app, pilot, 0.7)
        assert len(app.history.quota_readings(app.session.profile.name)) >= 3


async def test_an_old_key_gets_a_rotation_reminder(relay_factory):
    relay = relay_factory(quota_dialects=["simple"])
    app = make_app(AppOptions(base_url=relay.base_url))
    name = app.session.profile.name
    (state_dir() / "key-meta.json").write_text(json.dumps({name: {"set_at": time.time() - 95 * 86400}}))
    async with app.run_test(size=SIZE) as pilot:
        await open_quota(app, pilot)
        assert "stored 95 days ago: rotate it" in screen_text(app)
        assert any("rotate it" in n.message for n in app._notifications)


def test_quota_pane_snapshot(relay_factory, snap_compare):
    relay = relay_factory(quota_dialects=["openrouter"])
    app = make_app(AppOptions(base_url=relay.base_url))
    noon = time.mktime((2025, 6, 14, 12, 0, 0, 0, 0, -1))
    profile = app.session.profile.name
    for day, (model, cost, source) in enumerate([("gpt-4.1", 0.8, "relay"), ("gemini-2.5-flash", 0.3, "demo"),
                                                 ("gpt-4.1", 1.2, "relay"), ("deepseek-v3.2", 0.1, "demo")]):
        app.history.log_request(request_id=f"rt-{day}", profile=profile, model=model, kind="chat",
                                started_at=noon - day * 86400, cost_usd=cost, cost_source=source)

    async def pin(pilot):
        pane = app.query_one(QuotaPane)
        pane.clock = lambda: noon
        await settle(app, pilot, 0.3)         # the chat pane's start-up focus first
        await pilot.press("f4")
        await settle(app, pilot, 0.15)
        from dataclasses import replace
        pane.reading = replace(pane.reading, read_at=noon)
        pane.show()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=pin)


async def test_the_demo_quota_counts_down_across_runs_in_one_figure_style(isolated_home):
    """The newcomer's Quota pane after a few minutes: one precision for granted, used and
    remaining (not "$25.0000" beside "$0.040695"), spend without a made-up daily rate or
    "runs out in 638 days", days from the first request only, a legend that reads as one, and
    a balance that is still spent when the app starts again (it reset every process)."""
    app = make_app(AppOptions(demo=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot, 0.1)
        app.session.target.demo.settings.time_scale = 0.0  # the answer at once
        await chat_once(app)
        await open_quota(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot, 0.3)
        text = screen_text(app)
        rows = {line.split()[0]: line.split()[1] for line in text.splitlines()
                if line.split()[:1] in (["granted"], ["used"], ["remaining"])}
        decimals = {len(value.split(".")[1]) for value in rows.values()}
        assert len(decimals) == 1 and rows["used"] != "$0.00", rows
        assert "Spent since the first request " in text and "a projection needs a day" in text
        assert "runs out" not in text and "over the last 1 day" not in text
        assert "relay-reported ███ · estimated ▒▒▒" in text
        day_rows = [line for line in text.split("Spend by day")[1].splitlines()
                    if re.match(r"\s*\w{3} \d\d-\d\d ", line)]
        assert len(day_rows) == 1 and "·" not in day_rows[0]  # today only, no row of dots
        used = app.session.target.demo.books()["used_usd"]
    assert json.loads((isolated_home / "demo-books.json").read_text())["used_usd"] == used

    again = make_app(AppOptions(demo=True))  # the next run: the same account
    async with again.run_test(size=SIZE):
        assert again.session.target.demo.books()["used_usd"] == used > 0
