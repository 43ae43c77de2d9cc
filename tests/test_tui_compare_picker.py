"""The compare pane's model picker (ctrl+l) as a user drives it: a search box filters the list
with the chat model picker's fuzzy matcher, space ticks, and ticks survive the filter."""

from __future__ import annotations

import re

from textual.widgets import Input
from textual.widgets import SelectionList

from relay_tui.ui.compare_dialogs import ModelsScreen
from tests.support.screen import screen_text
from tests.test_tui_compare import MODELS, SIZE, app, open_pane  # noqa: F401

ROW = re.compile(r"▐(.)▌ (\S+)")


def listed(app) -> list[tuple[str, bool]]:
    """The picker's rows as on screen, with their tick (its colour on screen: read from the list)."""
    ticked = app.screen.query_one(SelectionList).selected
    return [(model, model in ticked) for _mark, model in ROW.findall(screen_text(app))]


async def test_search_filters_the_list_and_ticks_survive_it(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen)
        assert listed(app) == [(m, True) for m in MODELS] + [("auto", False)]
        await pilot.press(*"flash")
        await pilot.pause()
        assert listed(app) == [("gemini-2.5-flash", True)]
        await pilot.press("space")  # untick it, the search box keeping the focus
        await pilot.pause()
        assert listed(app) == [("gemini-2.5-flash", False)]
        assert app.screen.query_one("#models-query", Input).value == "flash"
        await pilot.press(*["backspace"] * 5, *"dsv3")  # fuzzy: not a substring of the id
        await pilot.pause()
        assert listed(app) == [("deepseek-v3.2", True)]
        await pilot.press(*["backspace"] * 4)
        await pilot.pause()
        assert listed(app) == [("gpt-4.1", True), ("claude-sonnet-4.5", True),
                               ("gemini-2.5-flash", False), ("deepseek-v3.2", True), ("auto", False)]
        assert "3 ticked: gpt-4.1, claude-sonnet-4.5, deepseek-v3.2" in screen_text(app)
        await pilot.press(*"aut", "space", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, ModelsScreen)
        assert pane.chosen_models() == ["gpt-4.1", "claude-sonnet-4.5", "deepseek-v3.2", "auto"]


async def test_down_moves_the_highlight_from_the_search_box_and_escape_keeps_the_models(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await pilot.press("ctrl+l")
        await pilot.pause()
        await pilot.press("down", "space")  # the second row: claude-sonnet-4.5
        await pilot.pause()
        assert ("claude-sonnet-4.5", False) in listed(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ModelsScreen)
        assert pane.chosen_models() == MODELS


async def test_a_search_that_matches_nothing_keeps_the_ticks(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        pane.query_one("#cmp-models", Input).value = "gpt-4.1"
        await pilot.press("ctrl+l")
        await pilot.pause()
        await pilot.press(*"zzz", "space")  # nothing listed: space ticks nothing
        await pilot.pause()
        assert listed(app) == [] and "1 ticked: gpt-4.1" in screen_text(app)
        await pilot.press("enter")  # one model is not enough: the picker stays
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen)
        await pilot.press(*["backspace"] * 3, *"gem", "space", "enter")
        await pilot.pause()
        assert pane.chosen_models() == ["gpt-4.1", "gemini-2.5-flash"]
