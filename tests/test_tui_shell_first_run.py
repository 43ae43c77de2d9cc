"""The first-run form at the smallest size it must work at (80×24): every field and button on
screen, and a problem after Add shown whole, wrapped, next to the button."""

from __future__ import annotations

import keyring
from keyring.backends import fail
from textual.widgets import Input

from relay_tui.app import AppOptions, make_app
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text

SMALL = (80, 24)


def form_text(app) -> str:
    """The form's text as one line: each screen row without the border, joined by spaces."""
    rows = (row.strip().strip("│╭╮╰╯─").strip() for row in screen_text(app).splitlines())
    return " ".join(" ".join(rows).split())


async def test_every_field_and_button_is_on_screen_at_80x24():
    app = make_app(AppOptions())
    async with app.run_test(size=SMALL) as pilot:
        text = form_text(app)
        for label in ("Use the demo relay", "Profile name", "Base URL", "Default model", "API key",
                      "Key stored in", "OS keyring", "environment variable", "Add profile", "Quit"):
            assert label in text
        assert app.screen.query_one("#profile-name", Input).has_focus
        await pilot.press(*"work", "enter")  # Enter moves on to the next field
        assert app.screen.query_one("#base-url", Input).has_focus


async def test_a_long_problem_wraps_and_is_in_view_beside_add(demo_relay, memory_keyring):
    app = make_app(AppOptions())
    async with app.run_test(size=SMALL) as pilot:
        keyring.set_keyring(fail.Keyring())  # the keyring the form offered fails on Add
        screen = app.screen
        screen.query_one("#profile-name", Input).value = "local"
        screen.query_one("#base-url", Input).value = demo_relay.base_url
        screen.query_one("#api-key", Input).value = TEST_KEY
        screen.query_one("#api-key", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        problem = str(screen.query_one("#first-run-problem").render())
        assert problem.startswith("nothing was saved") and len(problem) > SMALL[0]
        text = form_text(app)
        assert " ".join(problem.split()) in text  # all of it, over several rows
        assert "API key" in text and "Add profile" in text
