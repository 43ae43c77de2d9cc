"""Keys typed in a fast burst (a paste-like `tmux send-keys`, a fast typist over ssh) keep their
order: the driver delivers them all before the app has handled the first, as a terminal does.

Pilot's `press` waits for the app to be idle after every key, so it cannot show this; `burst`
hands the keys to the driver in one go instead, like one read from the terminal.
"""

from __future__ import annotations

import time
import unicodedata

import pytest
from textual import events
from textual.keys import _character_to_key, _get_unicode_name_from_key
from textual.widgets import Input

from relay_tui.app import AppOptions, make_app
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from tests.conftest import TEST_KEY

SIZE = (160, 48)


def key_event(key: str, character: str | None = None) -> events.Key:
    """The event the driver makes for a typed character, or (no `character`) a key name."""
    if character is not None:
        return events.Key(_character_to_key(character), character)
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(key))
    except KeyError:
        char = None
    return events.Key(key, char)


def burst(app, *parts: str | list[str]) -> None:
    """Send every key at once: a str is typed character by character, a list holds key names."""
    for part in parts:
        for event in ([key_event(c, c) for c in part] if isinstance(part, str)
                      else [key_event(key) for key in part]):
            event.set_sender(app)
            app._driver.send_message(event)


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await pilot.pause(0.02)


async def settle(pilot) -> None:
    for _ in range(5):
        await pilot.pause(0.05)


@pytest.fixture
def relay_app(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return make_app(AppOptions(base_url=demo_relay.base_url))


async def test_backspaces_then_a_word_in_the_sidebar_search(relay_app):
    async with relay_app.run_test(size=SIZE) as pilot:
        prompt = relay_app.query_one(ChatPane).query_one(PromptArea)
        await until(pilot, lambda: prompt.has_focus)
        await pilot.press("ctrl+f")
        search = relay_app.query_one("#chat-search", Input)
        assert search.has_focus
        for _ in range(3):
            burst(relay_app, "hello world")
            await settle(pilot)
            assert search.value == "hello world"
            burst(relay_app, ["backspace"] * 11, "jitter")
            await settle(pilot)
            assert search.value == "jitter"  # was "hello ": the backspaces came after the word
            burst(relay_app, ["ctrl+u"])
            await settle(pilot)
            assert search.value == ""


async def test_backspaces_then_a_word_in_the_prompt(relay_app):
    async with relay_app.run_test(size=SIZE) as pilot:
        prompt = relay_app.query_one(ChatPane).query_one(PromptArea)
        await until(pilot, lambda: prompt.has_focus)
        burst(relay_app, "some prompt", ["backspace"] * 6, "answer")
        await settle(pilot)
        assert prompt.text == "some answer"


async def test_first_run_fields_get_their_own_text_when_typed_fast(demo_relay):
    app = make_app(AppOptions())
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.query_one("#profile-name", Input).has_focus  # typing starts in the form
        burst(app, "local", ["tab"], demo_relay.base_url, ["tab", "tab"], "sk-abc", ["backspace"], "d")
        await settle(pilot)
        values = {i: app.screen.query_one(f"#{i}", Input).value
                  for i in ("profile-name", "base-url", "default-model", "api-key")}
        assert values == {"profile-name": "local", "base-url": demo_relay.base_url,
                          "default-model": "", "api-key": "sk-abd"}


async def test_model_picker_query_typed_fast(relay_app):
    async with relay_app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await until(pilot, lambda: relay_app.screen.query("#picker-query"))
        query = relay_app.screen.query_one("#picker-query", Input)
        await until(pilot, lambda: query.has_focus)
        burst(relay_app, "claude", ["backspace"] * 6, "gemini")
        await settle(pilot)
        assert query.value == "gemini"
