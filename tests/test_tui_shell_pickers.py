"""Pickers: the model count follows the filter, the profile picker's hint is readable at both
sizes, and a profile can be added from inside the app (picker and palette)."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Input, OptionList

from relay_tui.app import AppOptions, make_app
from relay_tui.store.config import load_settings, save_profile
from relay_tui.store.profile import Profile
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from relay_tui.ui.status_bar import StatusBar
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await pilot.pause(0.02)


def one_line(app) -> str:
    """The text inside the dialog box (between its │ borders), as one line."""
    rows = [row.split("│")[1] if row.count("│") >= 2 else row for row in screen_text(app).splitlines()]
    return " ".join(" ".join(rows).split())


@pytest.fixture
def work_app(demo_relay, memory_keyring):
    """An app on a saved, active profile "work" whose key is in the (test) keyring."""
    save_profile(Profile(name="work", base_url=demo_relay.base_url), make_active=True)
    memory_keyring.set_password("relay-tui", "work", TEST_KEY)
    return make_app(AppOptions())


async def started(pilot) -> None:
    prompt = pilot.app.query_one(ChatPane).query_one(PromptArea)
    await until(pilot, lambda: prompt.has_focus)


async def test_model_picker_counts_what_the_filter_shows(work_app):
    async with work_app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: work_app.screen.query("#picker-options")
                    and work_app.screen.query_one("#picker-options").option_count == 5)
        note = work_app.screen.query_one("#picker-note")
        assert str(note.render()) == "5 models · current: none"
        await pilot.press(*"gemini")
        await until(pilot, lambda: work_app.screen.query_one(OptionList).option_count == 1)
        assert str(note.render()) == "1 of 5 models · current: none"  # said "5 models"


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_profile_picker_hint_is_whole(work_app, size):
    async with work_app.run_test(size=size) as pilot:
        await started(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: work_app.screen.query("#picker-note"))
        await pilot.pause()
        hint = str(work_app.screen.query_one("#picker-note").render())
        assert "adds one" in hint and "active" in hint
        assert any(hint in row for row in screen_text(work_app).splitlines())  # on screen, whole


async def test_add_a_profile_from_the_profile_picker(work_app, demo_relay, memory_keyring):
    async with work_app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: work_app.screen.query("#picker-query"))
        await pilot.press(*"add", "enter")
        await until(pilot, lambda: type(work_app.screen).__name__ == "FirstRunScreen")
        form = work_app.screen
        assert "Add a relay profile" in one_line(work_app) and not form.query("#use-demo")
        assert form.query_one("#profile-name", Input).has_focus
        await pilot.press(*"second", "enter", *demo_relay.base_url, "enter", "enter", *TEST_KEY, "enter")
        await until(pilot, lambda: work_app.session.profile.name == "second")
        assert "second" in work_app.query_one(StatusBar).render().plain
    settings = load_settings()
    assert set(settings.profiles) == {"work", "second"} and settings.active_profile == "second"
    assert memory_keyring.get_password("relay-tui", "second") == TEST_KEY


async def test_add_profile_from_the_palette_and_cancel(work_app):
    async with work_app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"add profile")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: type(work_app.screen).__name__ == "FirstRunScreen")
        await pilot.press("escape")
        await until(pilot, lambda: type(work_app.screen).__name__ != "FirstRunScreen")
        assert work_app.is_running and work_app.session.profile.name == "work"
    assert set(load_settings().profiles) == {"work"}


async def test_switching_profile_makes_it_the_active_one(work_app, demo_relay, memory_keyring):
    """ctrl+o is `profiles use`: the picker marks the active profile, and the next start (and
    the CLI) opens the one switched to, not the one the session started on."""
    save_profile(Profile(name="second", base_url=demo_relay.base_url))
    memory_keyring.set_password("relay-tui", "second", TEST_KEY)
    async with work_app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: work_app.screen.query("#picker-query"))
        await pilot.pause()
        assert "work  (current, active)" in screen_text(work_app)
        await pilot.press(*"second", "enter")
        await until(pilot, lambda: work_app.session.profile.name == "second")
        assert "second is now the active profile" in [n.message for n in work_app._notifications]
    assert load_settings().active_profile == "second"
