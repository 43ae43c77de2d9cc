"""The app shell as a user meets it: first run, status line, help, palette, pickers, themes."""

from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList, TabbedContent

from relay_tui.app import AppOptions, make_app
from relay_tui.store.config import load_settings, save_profile
from relay_tui.store.profile import Profile
from relay_tui.ui.status_bar import StatusBar
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text

SIZE = (160, 48)


def status_text(app) -> str:
    return app.query_one(StatusBar).render().plain


@pytest.fixture
def relay_app(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return make_app(AppOptions(base_url=demo_relay.base_url))


async def test_first_run_offers_the_demo_relay():
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE) as pilot:
        assert type(app.screen).__name__ == "FirstRunScreen"
        assert "demo relay" in screen_text(app).lower()
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert app.session is not None and app.session.is_demo
        status = status_text(app)
        assert "demo" in status and "model auto" in status and "sk-…" in status


async def test_first_run_form_adds_a_profile_with_its_key_in_the_keyring(demo_relay, memory_keyring):
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.query_one("#profile-name", Input).value = "work"
        screen.query_one("#base-url", Input).value = demo_relay.base_url
        screen.query_one("#default-model", Input).value = "gpt-4.1"
        screen.query_one("#api-key", Input).value = TEST_KEY
        screen.query_one("#api-key", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.session is not None and app.session.profile.name == "work"
        assert "work" in status_text(app) and TEST_KEY not in status_text(app)
    assert memory_keyring.get_password("relay-tui", "work") == TEST_KEY
    settings = load_settings()
    assert settings.active_profile == "work" and settings.profiles["work"].default_model == "gpt-4.1"
    assert TEST_KEY not in settings.path.read_text()


async def test_first_run_form_explains_a_missing_url():
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#profile-name", Input).value = "work"
        await pilot.click("#add-profile")
        await pilot.pause()
        assert "base URL" in str(app.screen.query_one("#first-run-problem").render())


async def test_status_line_shows_profile_model_and_masked_key(relay_app):
    async with relay_app.run_test(size=SIZE):
        status = status_text(relay_app)
        assert "base-url" in status and "sk-…" in status and TEST_KEY not in status


async def test_function_keys_switch_panes_and_f1_lists_every_binding(relay_app):
    async with relay_app.run_test(size=SIZE) as pilot:
        tabs = relay_app.query_one("#panes", TabbedContent)
        for key, pane in (("f3", "compare"), ("f4", "quota"), ("f5", "latency"), ("f2", "chat")):
            await pilot.press(key)
            assert tabs.active == pane
        await pilot.press("f1")
        await pilot.pause()
        assert type(relay_app.screen).__name__ == "HelpScreen"
        help_text = screen_text(relay_app)
        for binding in relay_app.BINDINGS:
            assert binding.key.split(",")[0] in help_text
        await pilot.press("escape")
        assert type(relay_app.screen).__name__ != "HelpScreen"


async def test_model_picker_fuzzy_search_sets_the_model(relay_app):
    async with relay_app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        picker = relay_app.screen
        await relay_app.workers.wait_for_complete()
        await pilot.pause()
        options = picker.query_one(OptionList)
        assert options.option_count == 5
        await pilot.press(*"sonet")
        await pilot.pause()
        assert options.get_option_at_index(0).id == "claude-sonnet-4.5"
        await pilot.press("enter")
        await pilot.pause()
        assert relay_app.model == "claude-sonnet-4.5"
        assert "model claude-sonnet-4.5" in status_text(relay_app)


async def test_profile_picker_switches_to_the_demo_relay(relay_app):
    async with relay_app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press(*"demo", "enter")
        await pilot.pause()
        assert relay_app.session.is_demo
        assert "demo relay" in status_text(relay_app)


async def test_palette_reaches_actions(relay_app):
    async with relay_app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to quota")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert relay_app.query_one("#panes", TabbedContent).active == "quota"


async def test_themes_ship_dark_and_light_and_the_choice_is_remembered(relay_app):
    async with relay_app.run_test(size=SIZE) as pilot:
        themes = relay_app.available_themes
        assert themes["relay-night"].dark and not themes["relay-paper"].dark
        assert relay_app.theme == "relay-night"
        relay_app.theme = "relay-paper"
        await pilot.pause()
    assert load_settings().theme == "relay-paper"
    app = make_app(AppOptions(base_url=relay_app.session.profile.base_url))
    async with app.run_test(size=SIZE):
        assert app.theme == "relay-paper"


async def test_a_broken_theme_file_gets_a_message_and_the_default(relay_app, isolated_home):
    themes_dir = isolated_home / "themes"
    themes_dir.mkdir()
    (themes_dir / "broken.toml").write_text('name = "broken"\ndark = true\nprimary = "not-a-colour"\n')
    app = make_app(AppOptions(base_url=relay_app.session.profile.base_url))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("broken.toml" in m and "not-a-colour" in m for m in messages)
        assert app.theme == "relay-night"


async def test_no_color_is_respected(relay_app, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(AppOptions(base_url=relay_app.session.profile.base_url))
    async with app.run_test(size=SIZE):
        assert app.no_color


async def test_profile_without_key_opens_the_first_run_form_with_the_fix(demo_relay):
    save_profile(Profile(name="work", base_url=demo_relay.base_url), make_active=True)
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE):
        assert type(app.screen).__name__ == "FirstRunScreen"
        problem = str(app.screen.query_one("#first-run-reason").render())
        assert "keys set work" in problem


async def test_help_says_what_each_compare_key_does_and_its_scrollbar_is_not_a_hole(relay_app):
    """F1's Compare entries were single words ("Models", "Blind"); and the help's scrollbar track
    was the background darkened to near black beside the dialog's surface."""
    from textual.color import Color

    from relay_tui.ui.compare_pane import ComparePane
    from relay_tui.ui.help_screen import HelpScreen, binding_rows

    async with relay_app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        screen = relay_app.screen
        assert isinstance(screen, HelpScreen)
        for _keys, what in binding_rows(ComparePane):
            assert len(what.split()) > 2, what  # a sentence, not one word
        track = screen.query_one("VerticalScroll").styles.scrollbar_background
        surface = Color.parse(relay_app.get_css_variables()["surface"])
        assert abs(track.brightness - surface.brightness) < 0.05, (track, surface)
