"""The compare pane's model list when the relay cannot give one: told in the Compare pane, not as a
"Compare" toast over the pane the user is in."""

from __future__ import annotations

from relay_tui.core.session import open_session
from tests.support.quota_server import QuotaServer
from tests.test_tui_compare import app, open_pane, until  # noqa: F401  (app: the fixture)


def compare_toasts(app) -> list[str]:
    return [n.message for n in app._notifications if n.title == "Compare"]


async def test_a_failed_model_list_waits_for_the_compare_pane(app):  # noqa: F811
    async with app.run_test(size=(160, 48)) as pilot:
        await open_pane(pilot, app)
        await pilot.press("f2")                      # back in Chat
        with QuotaServer({}) as server:              # every path 404: no /models there
            app.use_session(open_session(app.history, base_url=server.url))
            await pilot.pause(0.5)
            assert compare_toasts(app) == []         # nothing about Compare while in Chat
            await pilot.press("f3")
            await until(pilot, lambda: compare_toasts(app))
        assert compare_toasts(app)[0].startswith(
            f"Cannot list models: the relay has no /models endpoint at {server.url}/models (HTTP 404)")
