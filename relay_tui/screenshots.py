"""`relay-tui screenshots`: regenerate the README's SVG screenshots against the demo relay.

Each shot builds the app with `make_app` (exactly what users run), drives it with Textual's
Pilot as a user would, and saves an SVG. Everything runs in a throwaway RELAY_TUI_HOME, so the
shots never show (or touch) the user's own history, config or keys.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

SIZE = (160, 48)
CHAT_PROMPT = "How should a client retry a streaming request? Show code."
COMPARE_PROMPT = "Explain time-to-first-token and why it matters, with a small table."


async def _wait_until(pilot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await pilot.pause(0.1)


def _compare_done(app) -> bool:
    return app.query_one("ComparePane").query_one("#cmp-summary").has_class("-shown")


async def _chat_mid_stream(app, pilot) -> None:
    await pilot.press(*CHAT_PROMPT, "enter")
    await pilot.pause(1.9)  # first token after ~0.8 s, then about a second of streaming


async def _chat_finished(app, pilot) -> None:
    await pilot.press(*CHAT_PROMPT, "enter")
    await pilot.pause(0.5)
    await _wait_until(pilot, lambda: not app.query_one("ChatPane").streaming)
    await pilot.pause(0.3)


async def _compare(app, pilot, *, blind: bool) -> None:
    await pilot.press("f3")
    await pilot.pause(0.5)
    if blind:
        await pilot.press("ctrl+b")
    pane = app.query_one("ComparePane")
    pane.query_one("#cmp-prompt").value = COMPARE_PROMPT
    await pilot.press("ctrl+r")
    await pilot.pause(1.0)
    await _wait_until(pilot, lambda: _compare_done(app), timeout=40)
    await pilot.pause(0.3)


async def _compare_four(app, pilot) -> None:
    await _compare(app, pilot, blind=False)


async def _compare_blind(app, pilot) -> None:
    await _compare(app, pilot, blind=True)


async def _quota(app, pilot) -> None:
    await _chat_finished(app, pilot)  # spend something first, so the pane shows a delta
    await pilot.press("f4")
    await pilot.pause(1.5)


async def _latency(app, pilot) -> None:
    await pilot.press("f5")
    await pilot.pause(1.0)


async def _help(app, pilot) -> None:
    await pilot.press("f1")
    await pilot.pause(0.3)


Shot = tuple[str, Callable[[object, object], Awaitable[None]], str | None]

# (file name, what to do, theme); earlier shots fill the history the later ones show.
SHOTS: list[Shot] = [
    ("compare-4-columns", _compare_four, None),
    ("compare-blind-vote", _compare_blind, None),
    ("quota", _quota, None),
    ("latency", _latency, None),
    ("help", _help, None),
    ("chat-mid-stream", _chat_mid_stream, None),
    ("chat-light-theme", _chat_finished, "relay-paper"),
]


async def take_screenshots(directory: Path, only: set[str] | None = None) -> list[Path]:
    """Run every shot in a fresh app against the demo relay; return the SVG paths written."""
    from relay_tui.app import AppOptions, make_app

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, action, theme in SHOTS:
        if only and name not in only:
            continue
        app = make_app(AppOptions(demo=True))
        if theme:
            app.theme = theme
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            await action(app, pilot)
            app.save_screenshot(filename=f"{name}.svg", path=str(directory))
        written.append(directory / f"{name}.svg")
    return written


def run(directory: Path, only: set[str] | None = None) -> list[Path]:
    """Take the shots in a throwaway app home, restoring the environment afterwards."""
    previous = os.environ.get("RELAY_TUI_HOME")
    with tempfile.TemporaryDirectory(prefix="relay-tui-shots-") as home:
        os.environ["RELAY_TUI_HOME"] = home
        try:
            return asyncio.run(take_screenshots(directory.resolve(), only))
        finally:
            if previous is None:
                os.environ.pop("RELAY_TUI_HOME", None)
            else:
                os.environ["RELAY_TUI_HOME"] = previous
