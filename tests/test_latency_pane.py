"""The Latency pane as a user sees it: the table from the log, windows, waterfalls, the probe."""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable, Input

from relay_tui.app import AppOptions, make_app
from relay_tui.core.stats import BENCH_COLUMNS, bench_cells
from relay_tui.demo import DEMO_KEY, DemoRelay
from relay_tui.demo.catalog import apply_overrides
from relay_tui.ui.latency_pane import LatencyPane
from relay_tui.ui.latency_probe import ProbeForm
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text
from tests.test_quota_pane import settle

SIZE = (160, 48)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)


async def open_latency(app, pilot):
    await settle(app, pilot, 0.1)
    await pilot.press("f5")
    await settle(app, pilot, 0.15)
    pane = app.query_one(LatencyPane)
    assert pane in app.focused.ancestors_with_self       # its keys work at once
    return pane


def cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def run_probe(app, pilot, *, models: str, n: int, c: int):
    await pilot.press("ctrl+n")
    await pilot.pause()
    form = app.screen
    assert isinstance(form, ProbeForm)
    form.query_one("#probe-models", Input).value = models
    form.query_one("#probe-n", Input).value = str(n)
    form.query_one("#probe-c", Input).value = str(c)
    form.query_one("#probe-models", Input).focus()
    await pilot.press("enter")
    await pilot.pause()


async def test_probe_fills_the_table_like_relay_tui_bench(demo_relay):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_latency(app, pilot)
        assert "No requests in this window yet" in screen_text(app), screen_text(app)
        await run_probe(app, pilot, models="gpt-4.1, gemini-2.5-flash", n=6, c=3)
        await settle(app, pilot, 0.4)
        result = pane.last_probe
        assert result is not None and result.requests == 12 and result.concurrency == 3
        probe_table = pane.query_one("#probe-table", DataTable)
        assert [str(c.label) for c in probe_table.columns.values()] == list(BENCH_COLUMNS)
        assert cells(probe_table) == [list(bench_cells(s)) for s in result.per_model]
        logged = app.history.requests()
        assert len(logged) == 12 and {r.kind for r in logged} == {"probe"}
        table = cells(pane.query_one("#latency-table", DataTable))
        assert [row[1] for row in table] == ["gemini-2.5-flash", "gpt-4.1"]
        assert all(row[2] == "6" and row[3] == "0" for row in table)
        text = screen_text(app)
        assert "TTFT of the last 6 requests to gemini-2.5-flash" in text
        assert "12 requests at concurrency 3" in text


async def test_cancel_keeps_the_requests_that_finished():
    relay = DemoRelay(time_scale=1.0, accept_keys=(DEMO_KEY, TEST_KEY),
                      model_overrides={"gpt-4.1": {"ttft": 0.05, "tps": 400, "answer_tokens": 8}})
    relay.start()
    try:
        app = make_app(AppOptions(base_url=relay.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_latency(app, pilot)
            await run_probe(app, pilot, models="gpt-4.1", n=200, c=1)
            await pilot.pause(0.5)
            assert pane.has_class("-probing")
            await pilot.press("ctrl+x")
            await settle(app, pilot, 0.4)
            assert not pane.has_class("-probing") and pane.last_probe is None
            kept = len(app.history.requests())
            assert 0 < kept < 200
            assert f"probe cancelled after {kept} of 200 requests" in screen_text(app)
            assert cells(pane.query_one("#latency-table", DataTable))[0][2] == str(kept)
    finally:
        relay.stop()


async def test_time_window_profile_filter_and_waterfall(demo_relay):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    log = app.history.log_request
    log(request_id="rt-old", profile="elsewhere", model="old-model", kind="chat",
        started_at=time.time() - 3 * 86400, ttft=0.9, total=2.0)
    log(request_id="rt-new", profile=app.session.profile.name, model="gpt-4.1", kind="chat",
        started_at=time.time() - 60, connect=0.002, headers=0.010, ttft=0.300, total=1.5,
        output_tokens=90, tokens_per_s=74.2, cost_usd=0.0012, cost_source="relay")
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_latency(app, pilot)
        table = pane.query_one("#latency-table", DataTable)
        assert [r[1] for r in cells(table)] == ["gpt-4.1"]             # 24 hours
        await pilot.press("ctrl+w")                                   # 7 days
        await pilot.pause()
        assert [r[1] for r in cells(table)] == ["gpt-4.1", "old-model"]
        assert "window: 7 days" in screen_text(app)
        await pilot.press("ctrl+e")                                   # this profile only
        await pilot.pause()
        assert [r[1] for r in cells(table)] == ["gpt-4.1"]
        text = screen_text(app)
        assert "Waterfall of rt-new (gpt-4.1, chat)" in text
        for phase, shown in (("connect", "2.0 ms"), ("headers", "10.0 ms"),
                             ("first token", "300.0 ms"), ("last token", "1500.0 ms")):
            line = next(line for line in text.splitlines() if line.strip().startswith(phase))
            assert "█" in line and line.rstrip().endswith(shown)


async def test_waterfall_of_a_stopped_request_says_it_was_stopped(demo_relay):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    app.history.log_request(request_id="rt-esc", profile=app.session.profile.name, model="gpt-4.1",
                            kind="chat", started_at=time.time() - 5, error_kind="stopped")
    async with app.run_test(size=SIZE) as pilot:
        await open_latency(app, pilot)
        text = screen_text(app)
        assert "Waterfall of rt-esc (gpt-4.1, chat)" in text
        assert "no timings: it was stopped before its timings were recorded" in text
        assert "failed" not in text.split("Waterfall of rt-esc")[1]


async def test_model_and_request_ids_are_shown_as_plain_text(demo_relay):
    # They come from relays: markup in them is not run ("[/v1]" crashed the table), escapes are shown
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    model = "[/v1] [b]x[/b] \x1b]0;pwned\x07"
    app.history.log_request(request_id="rt-[/id]", profile=app.session.profile.name, model=model,
                            kind="chat", started_at=time.time() - 5, ttft=0.2, total=0.5, status=200)
    async with app.run_test(size=SIZE) as pilot:
        await open_latency(app, pilot)
        text = screen_text(app)
        assert "[/v1] [b]x[/b] ␛]0;pwned␇" in text  # the table row and the sparkline label
        assert "Waterfall of rt-[/id] ([/v1] [b]x[/b] ␛]0;pwned␇, chat)" in text


async def test_the_sparkline_needs_two_samples(demo_relay):
    """One TTFT has no trend: the sparkline stays away (it drew a solid bar across the pane)."""
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    log = dict(profile=app.session.profile.name, model="gpt-4.1", kind="chat", total=0.5, status=200)
    app.history.log_request(request_id="rt-1", started_at=time.time() - 9, ttft=0.2, **log)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_latency(app, pilot)
        spark = pane.query_one("#latency-spark")
        assert not spark.display and "TTFT of the last 1 request to gpt-4.1" in screen_text(app)
        app.history.log_request(request_id="rt-2", started_at=time.time() - 5, ttft=0.3, **log)
        await pilot.press("ctrl+r")
        await settle(app, pilot, 0.2)
        assert spark.display and bars(app) == ["█▃", "██"]  # 200 and 300 ms of a 300 ms scale (two rows)


def bars(app) -> list[str]:
    """The sparkline's columns, bottom row first in each, read off the screen."""
    rows = [line for line in screen_text(app).splitlines() if " ms ┤" in line]
    cells = [row.split("┤", 1)[1].rstrip() for row in rows]
    width = max(map(len, cells))
    return ["".join(row.ljust(width)[i] for row in reversed(cells)).strip() or " "
            for i in range(width)]


async def test_the_sparkline_has_a_zero_based_scale(demo_relay):
    """TTFTs of 802-816 ms are bars of nearly equal height under an "816 ms" top and a "0 ms"
    bottom (a min-to-max sparkline drew them from full height to nothing, with no scale)."""
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    log = dict(profile=app.session.profile.name, model="gpt-4.1", kind="chat", total=2.0, status=200)
    ttfts = [0.802, 0.816, 0.809, 0.804, 0.812]
    for i, ttft in enumerate(ttfts):
        app.history.log_request(request_id=f"rt-{i}", started_at=time.time() - 60 + i, ttft=ttft, **log)
    async with app.run_test(size=SIZE) as pilot:
        await open_latency(app, pilot)
        text = screen_text(app)
        assert "816 ms ┤" in text and "  0 ms ┤" in text
        assert bars(app) == ["██"] * 5  # each within a sixteenth of the top: full height, all


def test_latency_pane_snapshot(demo_relay, snap_compare):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    noon = time.mktime((2025, 6, 14, 12, 0, 0, 0, 0, -1))
    profile = app.session.profile.name
    for i in range(24):
        model = ("gpt-4.1", "gemini-2.5-flash", "claude-sonnet-4.5")[i % 3]
        error = "rate_limited" if i == 7 else None
        app.history.log_request(
            request_id=f"rt-{i:03}", profile=profile, model=model, kind="chat",
            started_at=noon - 600 + i * 20, error_kind=error, status=429 if error else 200,
            connect=0.002, headers=0.01, ttft=None if error else 0.3 + (i % 5) * 0.07,
            total=None if error else 1.2 + (i % 4) * 0.2, output_tokens=None if error else 100,
            tokens_per_s=None if error else 90.0 - i, cost_usd=None if error else 0.001,
            cost_source="relay")

    async def pin(pilot):
        await settle(app, pilot, 0.3)         # the chat pane's start-up focus first
        await pilot.press("f5")               # mounts the pane (it is lazy)
        pane = app.query_one(LatencyPane)
        pane.clock = lambda: noon
        await settle(app, pilot, 0.15)
        pane.action_refresh_latency()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=pin)


def palette_keys(app) -> dict[str, str]:
    """Palette title -> its help text, for every command the palette offers now."""
    return {c.title: c.help for c in app.get_system_commands(app.screen)}


@pytest.mark.parametrize("pane", ["ComparePane", "LatencyPane"])
async def test_every_key_of_the_pane_is_in_the_palette(demo_relay, pane):
    from relay_tui.ui.compare_pane import ComparePane

    owner, prefix = {"ComparePane": (ComparePane, "Compare"), "LatencyPane": (LatencyPane, "Latency")}[pane]
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot, 0.1)
        helps = [h for title, h in palette_keys(app).items() if title.startswith(prefix)]
        for binding in owner.BINDINGS:
            keys = [k.strip().replace("escape", "esc") for k in binding.key.split(",")]
            assert any(f"({k}" in h.lower() or f" {k})" in h.lower() for h in helps for k in keys), \
                f"{pane}: {binding.key} ({binding.description}) is not in the palette"


async def run_from_palette(app, pilot, title: str) -> None:
    from textual.command import CommandInput

    await pilot.press("ctrl+p")
    await pilot.pause()
    # pasted: during a probe, Pilot waits for the app to go idle after each key it types
    app.screen.query_one(CommandInput).value = title
    await pilot.pause(0.3)
    await pilot.press("enter")
    await settle(app, pilot, 0.15)


async def test_palette_refreshes_the_table_with_requests_of_another_process(demo_relay):
    from relay_tui.store.history import History

    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_latency(app, pilot)
        table = pane.query_one("#latency-table", DataTable)
        assert table.row_count == 0
        with History() as other:  # as `relay-tui chat` in another terminal writes it
            other.log_request(request_id="rt-else", profile=app.session.profile.name,
                              model="gemini-2.5-flash", kind="chat", started_at=time.time() - 5,
                              ttft=0.25, total=0.9, status=200)
        await pilot.pause(0.5)
        assert table.row_count == 0  # this app was not told
        await run_from_palette(app, pilot, "Latency: refresh")
        assert [r[1] for r in cells(table)] == ["gemini-2.5-flash"]


async def test_palette_cancels_the_probe():
    relay = DemoRelay(time_scale=1.0, accept_keys=(DEMO_KEY, TEST_KEY),
                      model_overrides={"gpt-4.1": {"ttft": 0.05, "tps": 400, "answer_tokens": 8}})
    relay.start()
    try:
        app = make_app(AppOptions(base_url=relay.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_latency(app, pilot)
            await run_from_palette(app, pilot, "Latency: cancel the probe")
            assert "No probe is running" in [n.message for n in app._notifications][-1]
            await run_probe(app, pilot, models="gpt-4.1", n=200, c=1)
            await pilot.pause(0.5)
            assert pane.has_class("-probing")
            await run_from_palette(app, pilot, "Latency: cancel the probe")
            await settle(app, pilot, 0.4)
            assert not pane.has_class("-probing") and pane.last_probe is None
            kept = len(app.history.requests())
            assert 0 < kept < 200
            assert f"probe cancelled after {kept} of 200 requests" in screen_text(app)
    finally:
        relay.stop()


async def test_auto_requests_are_grouped_under_the_model_that_answered():
    """`auto` is not a model: F5's rows and F4's spend name the model the relay routed to, and a
    request stopped mid-answer shows in F5 with the TTFT its chat footer showed."""
    models = ("gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2")
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={
        m: {"ttft": 0.05, "tps": 300.0, "answer_tokens": 60} for m in models})
    relay.start()
    try:
        app = make_app(AppOptions(base_url=relay.base_url))
        app.set_reactive(type(app).model, "auto")
        async with app.run_test(size=SIZE) as pilot:
            chat = app.query_one("ChatPane")
            await settle(app, pilot, 0.1)
            for prompt in ("one", "two"):
                await pilot.press(*prompt, "enter")
                await pilot.pause(0.2)
                while chat.streaming:
                    await pilot.pause(0.05)
            relay.models = apply_overrides({m: {"ttft": 0.05, "tps": 50.0} for m in models})  # long
            await pilot.press(*"three", "enter")
            while len(chat.query("AnswerBlock")) < 3 or not chat.query("AnswerBlock").last().text:
                await pilot.pause(0.02)
            await pilot.press("escape")
            while chat.streaming:
                await pilot.pause(0.05)
            stopped = chat.query("AnswerBlock").last().status_text
            assert stopped.startswith("■ stopped (partial answer kept) · auto → "), stopped
            footer_ttft = stopped.split("TTFT ")[1].split(" · ")[0]
            served = [r.served_model for r in app.history.requests()]
            assert None not in served and len(set(served)) >= 2, served  # auto took turns

            pane = await open_latency(app, pilot)
            table = cells(pane.query_one("#latency-table", DataTable))
            assert sorted(row[1] for row in table) == sorted(set(served))  # no "auto" row
            last = served[-1]
            row = next(i for i, r in enumerate(table) if r[1] == last)
            pane.query_one("#latency-table", DataTable).move_cursor(row=row)
            await settle(app, pilot, 0.2)
            requests = cells(pane.query_one("#latency-requests", DataTable))
            stop_row = next(r for r in requests if r[2] == "stopped")  # (its HTTP 200 unsaid)
            assert f"{stop_row[3]} ms" == footer_ttft  # was "–"

            await pilot.press("f4")
            await settle(app, pilot, 0.3)
            text = screen_text(app)
            spend = text[text.index("Spend by model"):text.index("Spend by day")]
            assert "auto" not in spend and all(model in spend for model in set(served))
    finally:
        relay.stop()


async def test_the_probe_forms_labels_are_whole_at_80_columns(demo_relay):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_latency(app, pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        text = screen_text(app)
        for label in ("N per model", "C at a time", "Max tokens"):  # "Requests per model (N" was cut
            assert label in text, text
