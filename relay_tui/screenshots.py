"""`relay-tui screenshots`: regenerate the README's SVG screenshots against the demo relay.

Each shot builds the app with `make_app` (exactly what users run), drives it with Textual's
Pilot as a user would, and saves an SVG. Everything runs in a throwaway RELAY_TUI_HOME, so the
shots never show (or touch) the user's own history, config or keys. Before the first shot the
history is filled the way a few minutes of use fill it, at the demo relay's real pace: several
chats on different models, and a latency probe of every model, so the Quota and Latency panes
show spend and percentiles over dozens of requests rather than one.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

SIZE = (160, 48)
MODELS = ("gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2")
WARM_UP_CHATS = (  # (model, prompt): the conversations the sidebar lists, spend on every model
    ("gpt-4.1", "Summarise the trade-offs of streaming responses."),
    ("claude-sonnet-4.5", "Draft a retry policy for a flaky upstream."),
    ("gemini-2.5-flash", "Which model is cheapest for classification?"),
    ("deepseek-v3.2", "Estimate the monthly cost of 10,000 chats."),
)
PROBE = {"n": 30, "c": 10, "max_tokens": 48}  # per model, at the demo's real first-token delays
CHAT_PROMPT = "How should a client retry a streaming request? Show code."
LIGHT_PROMPT = "Compare the latency of four models on one prompt."
COMPARE_PROMPT = "Explain time-to-first-token and why it matters, with a small table."


async def _wait_until(pilot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await pilot.pause(0.1)


def _compare_done(app) -> bool:
    return app.query_one("ComparePane").query_one("#cmp-summary").has_class("-shown")


async def _warm_up(app, pilot) -> None:
    """A few minutes of use: chats on four models at once, then a probe of each model."""
    from relay_tui.core.chat import Conversation

    session = app.session

    async def chat(model: str, prompt: str) -> None:
        conv = Conversation.start(session.client, app.history, profile=session.profile.name,
                                  model=model, title=prompt)
        async for _ in conv.send(prompt):
            pass

    await asyncio.gather(*(chat(model, prompt) for model, prompt in WARM_UP_CHATS))
    await pilot.press("f5")
    await pilot.pause(0.5)
    await pilot.press("ctrl+n")
    await pilot.pause(0.3)
    form = app.screen
    form.query_one("#probe-models").value = ", ".join(MODELS)
    form.query_one("#probe-n").value = str(PROBE["n"])
    form.query_one("#probe-c").value = str(PROBE["c"])
    form.query_one("#probe-max-tokens").value = str(PROBE["max_tokens"])
    form.query_one("#probe-models").focus()
    await pilot.press("enter")
    pane = app.query_one("LatencyPane")
    await pilot.pause(0.5)
    await _wait_until(pilot, lambda: pane.last_probe is not None, timeout=120)


async def _chat_mid_stream(app, pilot) -> None:
    await pilot.press(*CHAT_PROMPT, "enter")
    await pilot.pause(2.8)  # first token after ~0.8 s, then two seconds of streaming


async def _chat_finished(app, pilot) -> None:
    await pilot.press(*LIGHT_PROMPT, "enter")
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
    await pilot.press("f4")
    await pilot.pause(1.5)


async def _latency(app, pilot) -> None:
    await pilot.press("f5")
    await pilot.pause(1.0)
    await pilot.press("down")  # the second model: its recent TTFTs, requests and a waterfall
    await pilot.pause(0.5)


async def _help(app, pilot) -> None:
    await pilot.press("f1")
    await pilot.pause(0.3)


Shot = tuple[str | None, Callable[[object, object], Awaitable[None]], str | None]

# (file name or None for no screenshot, what to do, theme); each fills the history the later
# ones show.
SHOTS: list[Shot] = [
    (None, _warm_up, None),
    ("compare-4-columns", _compare_four, None),
    ("compare-blind-vote", _compare_blind, None),
    ("quota", _quota, None),
    ("latency", _latency, None),
    ("help", _help, None),
    ("chat-mid-stream", _chat_mid_stream, None),
    ("chat-light-theme", _chat_finished, "relay-paper"),
]
NAMES = [name for name, _, _ in SHOTS if name]


async def take_screenshots(directory: Path, only: set[str] | None = None) -> list[Path]:
    """Run every shot in a fresh app against the demo relay; return the SVG paths written.
    A shot picked with `only` still runs after the warm-up, so it shows a history in use."""
    from relay_tui.app import AppOptions, make_app

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, action, theme in SHOTS:
        if only and name is not None and name not in only:
            continue
        app = make_app(AppOptions(demo=True))
        if theme:
            app.theme = theme
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            await action(app, pilot)
            if name is not None:
                app.save_screenshot(filename=f"{name}.svg", path=str(directory))
        if name is not None:
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
