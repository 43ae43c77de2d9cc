"""The app shell without an OS keyring: it opens and says what to do, and first run saves nothing
half-made. The `fail` backend is what keyring picks on a machine with no keyring service."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail
from textual.widgets import Input, RadioButton, RadioSet

from relay_tui.app import AppOptions, make_app
from relay_tui.store.config import load_settings, save_profile
from relay_tui.store.profile import Profile
from relay_tui.ui.status_bar import StatusBar
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text

SIZE = (160, 48)


@pytest.fixture
def no_keyring(memory_keyring):
    keyring.set_keyring(fail.Keyring())  # conftest's memory_keyring puts the previous one back


def problem_text(app, which: str = "#first-run-problem") -> str:
    """The form's problem (after Add), or with "#first-run-reason" why the form is shown."""
    return str(app.screen.query_one(which).render())


async def fill_form(pilot, name: str, url: str, key: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#profile-name", Input).value = name
    screen.query_one("#base-url", Input).value = url
    screen.query_one("#api-key", Input).value = key
    screen.query_one("#api-key", Input).focus()
    await pilot.press("enter")
    await pilot.pause()


async def test_start_with_a_profile_and_no_keyring_opens_first_run_with_the_problem(no_keyring):
    # what `relay-tui profiles add work --base-url …` leaves on a machine without a keyring
    save_profile(Profile(name="work", base_url="https://relay.example.com/v1"), make_active=True)
    app = make_app(AppOptions())  # raised KeyringUnavailable (a traceback at start) before
    async with app.run_test(size=SIZE) as pilot:
        assert type(app.screen).__name__ == "FirstRunScreen"
        problem = problem_text(app, "#first-run-reason")
        assert "'work'" in problem and "no OS keyring" in problem and "RELAY_TUI_API_KEY" in problem
        assert "demo relay" in screen_text(app)
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert app.session is not None and app.session.is_demo


async def test_first_run_without_a_keyring_sets_up_an_environment_variable(no_keyring, demo_relay,
                                                                         isolated_home):
    """No keyring: the form offers the variable (named for the profile), uses the typed key for
    this run, says what to export, and the profile reads the variable from then on."""
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE) as pilot:
        storage = app.screen.query_one("#key-storage", RadioSet)
        assert storage.pressed_button.id == "storage-env"
        assert app.screen.query_one("#storage-keyring").disabled
        assert "none on this machine" in screen_text(app)
        app.screen.query_one("#default-model", Input).value = "gpt-4.1"
        await fill_form(pilot, "local", demo_relay.base_url, TEST_KEY)
        assert app.session is not None and app.session.profile.key_env == "LOCAL_RELAY_KEY"
        assert "set LOCAL_RELAY_KEY in your shell" in [n.message for n in app._notifications][-1]
        assert "typed, this run only" in app.query_one(StatusBar).render().plain
        await pilot.press(*"hi", "enter")
        chat = app.query_one("ChatPane")
        for _ in range(100):
            if chat.query("AnswerBlock") and not chat.streaming:
                break
            await pilot.pause(0.05)
        assert chat.query_one("AnswerBlock").status_text.startswith("gpt-4.1 · TTFT")  # the key worked
    assert load_settings().profiles["local"].key_env == "LOCAL_RELAY_KEY"
    assert not (isolated_home / "keys.json").exists()
    again = make_app(AppOptions())  # not exported yet: the form says which variable to set
    async with again.run_test(size=SIZE):
        assert "LOCAL_RELAY_KEY" in problem_text(again, "#first-run-reason")


async def test_first_run_without_a_keyring_stores_a_file_only_when_chosen(no_keyring, demo_relay,
                                                                       isolated_home):
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE) as pilot:
        assert not app.screen.query_one("#file-warning").display
        app.screen.query_one("#storage-file", RadioButton).value = True
        await pilot.pause()
        assert app.screen.query_one("#file-warning").display  # the warning is in view first
        assert "unencrypted" in screen_text(app)
        await fill_form(pilot, "local", demo_relay.base_url, TEST_KEY)
        assert app.session is not None and app.session.key_state().endswith("(file (plain text))")
    key_file = isolated_home / "keys.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = make_app(AppOptions())  # the next start reads it
    async with again.run_test(size=SIZE):
        assert type(again.screen).__name__ != "FirstRunScreen"
        assert "file (plain text)" in again.query_one(StatusBar).render().plain


async def test_a_keyring_that_fails_keeps_the_typed_key_and_says_what_else_works(demo_relay,
                                                                              memory_keyring):
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE) as pilot:
        keyring.set_keyring(fail.Keyring())  # gone after the form opened on it
        await fill_form(pilot, "local", demo_relay.base_url, TEST_KEY)
        problem = problem_text(app)
        assert problem.startswith("nothing was saved: ") and "environment variable or a file" in problem
        assert app.screen.query_one("#api-key", Input).value == TEST_KEY  # no retyping
    assert load_settings().profiles == {}


async def test_first_run_with_the_key_in_the_environment_needs_no_keyring(no_keyring, demo_relay,
                                                                         monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE) as pilot:
        await fill_form(pilot, "local", demo_relay.base_url, "")
        assert app.session is not None and app.session.profile.name == "local"
    assert load_settings().active_profile == "local"
    again = make_app(AppOptions())  # the next start opens the panes on it
    async with again.run_test(size=SIZE):
        assert type(again.screen).__name__ != "FirstRunScreen"
        assert "local" in again.query_one(StatusBar).render().plain


async def test_first_run_without_a_key_asks_for_it_and_saves_nothing(demo_relay):
    app = make_app(AppOptions())
    async with app.run_test(size=SIZE) as pilot:
        await fill_form(pilot, "local", demo_relay.base_url, "")
        assert app.session is None and "enter the relay's API key" in problem_text(app)
    assert load_settings().profiles == {}
