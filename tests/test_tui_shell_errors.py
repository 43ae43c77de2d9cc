"""Error wording in the shell: a relay without /models at the configured URL is told to check
its base URL (a 404 there is not an unknown model)."""

from __future__ import annotations

import time

from relay_tui.app import AppOptions, make_app
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from tests.conftest import TEST_KEY
from tests.support.quota_server import QuotaServer


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await pilot.pause(0.02)


async def test_models_404_says_check_the_base_url(monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    with QuotaServer({}) as server:  # every path is 404: a base URL without its /v1, say
        app = make_app(AppOptions(base_url=server.url))
        async with app.run_test(size=(160, 48)) as pilot:
            prompt = app.query_one(ChatPane).query_one(PromptArea)
            await until(pilot, lambda: prompt.has_focus)
            await pilot.press("ctrl+t")
            await until(pilot, lambda: app.screen.query("#picker-note")
                        and "could not" in str(app.screen.query_one("#picker-note").render()))
            note = str(app.screen.query_one("#picker-note").render())
            assert note.startswith(f"could not list models: the relay has no /models endpoint at "
                                   f"{server.url}/models (HTTP 404): check the profile's base URL (it "
                                   f"usually ends in /v1) [request rt-")  # not "does not serve the model"
