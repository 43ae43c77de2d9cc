"""Theme files: a broken one never costs the user their choice, its problems arrive as one toast,
and the light theme draws the sidebar divider in a colour that shows."""

from __future__ import annotations

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.store.config import load_settings, set_ui_value
from relay_tui.store.paths import config_dir
from tests.conftest import TEST_KEY

SIZE = (80, 24)
GOOD = 'name = "mine"\ndark = true\nprimary = "#ff8800"\n'


@pytest.fixture
def relay_app_factory(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return lambda: make_app(AppOptions(base_url=demo_relay.base_url))


def theme_file(name: str, text: str) -> None:
    folder = config_dir() / "themes"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


async def test_a_broken_chosen_theme_falls_back_for_this_run_only(relay_app_factory):
    set_ui_value("theme", "mine")
    theme_file("mine.toml", 'name = "mine"\ndark = true\nprimary = "nope"\n')
    theme_file("other.toml", "name = \n")
    app = relay_app_factory()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert app.theme == "relay-night"
        toasts = list(app._notifications)
        assert len(toasts) == 1  # one toast for both files (it was one each, stacked and cut)
        message = toasts[0].message
        assert "mine.toml" in message and "'nope' is not a colour" in message and "other.toml" in message
        assert "'mine' is not available" in message
    assert load_settings().theme == "mine"  # was overwritten with "relay-night" at start
    theme_file("mine.toml", GOOD)
    fixed = relay_app_factory()
    async with fixed.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert fixed.theme == "mine"
        assert [n.message.count("mine") for n in fixed._notifications] == [0]  # other.toml's only


async def test_every_theme_the_user_picks_is_remembered(relay_app_factory):
    set_ui_value("theme", "mine")  # no such theme: this run uses relay-night
    app = relay_app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "relay-night" and load_settings().theme == "mine"
        app.theme = "relay-paper"
        await pilot.pause()
        assert load_settings().theme == "relay-paper"
        app.theme = "relay-night"  # back to the start theme: a choice too
        await pilot.pause()
        assert load_settings().theme == "relay-night"


@pytest.mark.parametrize("theme", ["relay-night", "relay-paper"])
async def test_sidebar_divider_shows_in_each_theme(relay_app_factory, theme):
    app = relay_app_factory()
    async with app.run_test(size=(160, 48)) as pilot:
        app.theme = theme
        await pilot.pause()
        _, colour = app.query_one("#chat-sidebar").styles.border_right
        background = app.screen.styles.background
        line = background.blend(colour, colour.a)  # a translucent colour as drawn
        assert abs(line.brightness - background.brightness) > 0.12  # paper drew #FFFFFF on #FBFAF7
