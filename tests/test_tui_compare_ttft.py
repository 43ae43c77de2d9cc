"""The live TTFT in a compare column's header is the figure the core measures (from just before
the request is sent, handed over with the first token), so it does not move when the column
finishes and shows the final one."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from textual.widgets import Input

from relay_tui.app import AppOptions, make_app
from relay_tui.demo import DemoRelay
from tests.conftest import TEST_KEY
from tests.test_tui_compare import SIZE, open_pane

TTFT = re.compile(r"TTFT (\d+) ms")


def shown_ttft(column) -> int | None:
    found = TTFT.search(str(column.head.render()))  # (before it is mounted too)
    return None if found is None else int(found.group(1))


@pytest.mark.alone  # timing checks: the machine to itself
async def test_live_ttft_agrees_with_the_final_figure(monkeypatch):
    # Real pace: a first token after 0.3-0.5 s, then about a second of answer.
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={
        "gpt-4.1": {"ttft": 0.5, "tps": 60, "answer_tokens": 60},
        "gemini-2.5-flash": {"ttft": 0.3, "tps": 60, "answer_tokens": 60},
        "claude-sonnet-4.5": {"ttft": 0.4, "tps": 60, "answer_tokens": 60}})
    relay.start()
    try:
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        app = make_app(AppOptions(base_url=relay.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_pane(pilot, app)
            pane.query_one("#cmp-models", Input).value = "gpt-4.1, gemini-2.5-flash, claude-sonnet-4.5"
            pane.query_one("#cmp-prompt", Input).value = "time me"
            pane.query_one("#cmp-prompt", Input).focus()
            # Pilot's press returns once the app is idle, which is after the streams: watch meanwhile
            pressed = asyncio.create_task(pilot.press("enter"))
            live: dict[int, int] = {}
            deadline = time.monotonic() + 20
            while len(pane.columns) < 3 or not all(c.finished for c in pane.columns):
                assert time.monotonic() < deadline, "the comparison did not finish"
                for column in pane.columns:  # the header as drawn while the column streams
                    if column.index not in live and column.done is None and shown_ttft(column) is not None:
                        live[column.index] = shown_ttft(column)
                await asyncio.sleep(0.02)  # not pilot.pause: that waits for every widget to go idle
            await pressed
            await pilot.pause(0.3)  # the final headers are drawn
            assert sorted(live) == [0, 1, 2], "a column finished before its live TTFT was shown"
            for column in pane.columns:
                final = shown_ttft(column)
                assert final == round(column.done.metrics.ttft * 1000)
                assert live[column.index] == final, (column.model, live[column.index], final)
    finally:
        relay.stop()


@pytest.mark.alone  # timing checks: the machine to itself
async def test_after_a_retry_the_live_ttft_counts_from_the_attempt_that_answered(monkeypatch):
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={
        "gpt-4.1": {"ttft": 0.3, "tps": 60, "answer_tokens": 90},
        "gemini-2.5-flash": {"ttft": 0.3, "tps": 60, "answer_tokens": 90}})
    relay.set_fault("rate_limit", model="gpt-4.1", times=1, retry_after=0.6)
    relay.start()
    try:
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        app = make_app(AppOptions(base_url=relay.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_pane(pilot, app)
            pane.query_one("#cmp-models", Input).value = "gpt-4.1, gemini-2.5-flash"
            pane.query_one("#cmp-prompt", Input).value = "retry me"
            pane.query_one("#cmp-prompt", Input).focus()
            pressed = asyncio.create_task(pilot.press("enter"))
            states, live = set(), None
            deadline = time.monotonic() + 20
            while len(pane.columns) < 2 or not all(c.finished for c in pane.columns):
                assert time.monotonic() < deadline, "the comparison did not finish"
                first_line = str(pane.columns[0].head.render()).split("\n")[0] if pane.columns else ""
                states.add(first_line.split("  ")[-1])
                if live is None and pane.columns and pane.columns[0].done is None:
                    live = shown_ttft(pane.columns[0])
                await asyncio.sleep(0.02)
            await pressed
            await pilot.pause(0.3)
            assert "retry 2 in 0.6 s…" in states, states
            column = pane.columns[0]
            assert column.done.metrics.attempts == 2
            assert live is not None and abs(live - shown_ttft(column)) < 20, (live, shown_ttft(column))
    finally:
        relay.stop()
