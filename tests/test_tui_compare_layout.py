"""The compare pane's layout at 160x48 and 80x24 as a user sees it: whole columns with a line
saying which are in view, a summary of at most two lines (one at 160 where it fits), and a
batch table that fits 80 columns."""

from __future__ import annotations

import re

from textual.widgets import DataTable, Input

from relay_tui.app import AppOptions, make_app
from relay_tui.demo import DemoRelay
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text
from tests.test_tui_compare import MODELS, SIZE, app, compare, open_pane, until  # noqa: F401

SMALL = (80, 24)


def header_row(app) -> str:
    """The screen row with the columns' titles ("▏ A · gpt-4.1  ✓ done  ▏ B · …")."""
    return next(line for line in screen_text(app).splitlines() if re.search(r"▏ [A-H] [·✓ ]", line))


def summary_lines(app) -> list[str]:
    summary = app.query_one("#cmp-summary")
    return str(summary.render()).split("\n") if summary.display and summary.size.height else []


async def test_eight_columns_at_160_show_four_whole_and_say_so(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await compare(pilot, pane, MODELS * 2, "Eight at once")
        row = header_row(app)
        starts = [m.start() for m in re.finditer("▏", row)]
        assert starts == [0, 40, 80, 120], row  # four whole columns of 40 cells, no fifth cut
        assert [row[s + 2] for s in starts] == ["A", "B", "C", "D"]
        text = screen_text(app)
        assert "columns A–D of 8 · tab / shift+tab for E, F, G, H ▸" in text
        pane.columns[3].view.focus()
        await pilot.press("tab")  # to E: one column further, still whole
        await pilot.pause(0.5)
        row = header_row(app)
        assert [m.start() for m in re.finditer("▏", row)] == [0, 40, 80, 120], row
        assert [row[s + 2] for s in (0, 40, 80, 120)] == ["B", "C", "D", "E"]
        assert "◂ columns B–E of 8 · tab / shift+tab for A, F, G, H ▸" in screen_text(app)
        pane.query_one("#cmp-columns").scroll_to(x=97, animate=False)  # a mouse wheel's stop
        await pilot.pause(0.6)
        assert pane.query_one("#cmp-columns").scroll_x == 80  # comes to rest on a column
        assert "◂ columns C–F of 8" in screen_text(app)


async def test_four_columns_at_160_fit_without_a_position_line(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await compare(pilot, pane)
        assert [m.start() for m in re.finditer("▏", header_row(app))] == [0, 40, 80, 120]
        assert "columns A–" not in screen_text(app)


async def test_the_summary_takes_one_line_at_160(monkeypatch):
    # Real pace (short answers): figures as a user sees them (at time_scale 0 a rate reads 10^6 tok/s)
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,),
                      model_overrides={m: {"answer_tokens": 40} for m in MODELS})
    relay.start()
    try:
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        app = make_app(AppOptions(base_url=relay.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_pane(pilot, app)
            result = await compare(pilot, pane)
            lines = summary_lines(app)
            assert len(lines) == 1 and len(lines[0]) <= 158 and "…" not in lines[0], lines
            assert len(result.summary()) == 5
            for _label, (model, _value) in result.summary().items():  # every rank, its winner named
                assert model in lines[0]
            assert f"${result.summary()['cheapest ($)'][1]:.4f}" in lines[0]
    finally:
        relay.stop()


async def test_the_summary_takes_at_most_two_lines_at_80(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    demo_relay.set_fault("server_error", model="gemini-2.5-flash")
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SMALL) as pilot:
        pane = await open_pane(pilot, app)
        await pilot.press("ctrl+b")
        await compare(pilot, pane, prompt="Small screen")
        lines = summary_lines(app)
        assert len(lines) == 2 and all(len(line) <= 78 for line in lines), lines
        assert "F7 to vote" in lines[1] and "1 of 4 failed" in lines[1]
        assert lines[0] == "The figures and the ranking show after the vote."  # they tell models apart
        winner = next(c for c in pane.columns if c.done is not None)  # (the failed one has no key)
        await pilot.press("f7")
        await pilot.press(winner.label.lower())
        await pilot.pause()
        lines = summary_lines(app)
        assert len(lines) == 2 and lines[1].startswith(f"1 of 4 failed · Voted {winner.label} ({winner.model})")
        letters = {c.model: c.label for c in pane.columns}
        for _label, (model, _value) in pane.result.summary().items():
            assert f"{letters[model]}:" in lines[0]  # the ranking, each winner by its letter
        assert pane.query_one("#cmp-columns").size.height >= 14  # 24 rows less the rest


async def test_the_batch_table_fits_80_columns(demo_relay, monkeypatch, tmp_path):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    demo_relay.set_fault("server_error", model="deepseek-v3.2")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("A first prompt that is long enough to be cut in a narrow table\nSecond\n",
                       encoding="utf-8")
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SMALL) as pilot:
        pane = await open_pane(pilot, app)
        pane.query_one("#cmp-models", Input).value = ", ".join(MODELS)
        await pilot.press("ctrl+g")
        await pilot.pause()
        app.screen.query_one("#batch-path", Input).value = str(prompts)
        app.screen.query_one("#batch-path", Input).focus()
        await pilot.press("enter")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 8)
        await pilot.pause()
        text = screen_text(app)
        title = " ".join(line.strip(" │") for line in text.splitlines()[2:4])
        assert all(model in title for model in MODELS), title  # the title wraps, whole
        assert re.search(r"prompt +model +TTFT +tok/s +tok +cost +result", text), text
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no sideways scroll
        rows = [table.get_row_at(i) for i in range(8)]
        costs = [str(r[5]) for r in rows if str(r[6]) == "ok"]
        assert len(costs) == 6 and all(re.fullmatch(r"~?\$\d\.\d{4}", c) for c in costs), costs
        failed = next(i for i, r in enumerate(rows) if str(r[6]).startswith("✗"))
        assert str(rows[failed][1]) == "deepseek-v3.2" and str(rows[failed][6]).endswith("…")
        table.move_cursor(row=failed)
        await pilot.pause()
        detail = " ".join(str(app.screen.query_one("#batch-detail").render()).split())
        error = next(c.error for _p, c in app.screen.rows if c.error is not None)
        assert detail.endswith(" ".join(str(error).split())) and "deepseek-v3.2" in detail
