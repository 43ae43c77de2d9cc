"""The chat transcript's pieces: a prompt, and an answer with its reasoning and one-line status.

An answer's text lives in a StreamView (appends are cheap, rendering happens per frame); the
status line under it is the footer once done, or the error, the stop mark or the retry
countdown in its place. Everything shown is model text or derived from it, so it is built as
plain Text (never markup) from neutralised strings.
"""

from __future__ import annotations

import math
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from relay_tui.core.events import Done, RetryNotice
from relay_tui.core.sanitize import neutralise
from relay_tui.core.summary import footer
from relay_tui.ui.stream_view import StreamView


class AnswerView(StreamView):
    """A StreamView as tall as its text, so the transcript (not each answer) scrolls."""

    DEFAULT_CSS = """
    AnswerView { height: auto; overflow-y: hidden; scrollbar-gutter: auto; }
    """


class UserMessage(Static):
    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $primary;
        background: $boost;
        color: $text;
    }
    """

    def __init__(self, prompt: str) -> None:
        super().__init__(Text(neutralise(prompt)))
        self.prompt = prompt


class AnswerBlock(Vertical):
    """One answer: reasoning (collapsed), the streamed markdown, and its status line."""

    DEFAULT_CSS = """
    AnswerBlock { height: auto; margin: 1 0 0 0; padding: 0 0 0 2; }
    AnswerBlock > Collapsible { display: none; border: none; padding: 0; margin: 0 0 1 0; }
    AnswerBlock.-reasoning > Collapsible { display: block; }
    AnswerBlock Collapsible Contents { padding: 0 0 0 2; }
    AnswerBlock .reasoning-text { color: $text-muted; text-style: italic; }
    AnswerBlock > .answer-status { color: $text-muted; height: auto; }
    AnswerBlock.-error > .answer-status { color: $text-error; }
    AnswerBlock.-retrying > .answer-status { color: $text-warning; }
    AnswerBlock.-stopped > .answer-status { color: $text-warning; }
    """

    def __init__(self, model: str, text: str = "", reasoning: str = "") -> None:
        super().__init__()
        self.model = model
        self._initial = text
        self._reasoning: list[str] = [reasoning] if reasoning else []
        self._reasoning_shown = 0
        self._retry: tuple[float, RetryNotice] | None = None
        self.status_text = ""

    def compose(self) -> ComposeResult:
        with Collapsible(title="Reasoning", collapsed=True):
            yield Static("", classes="reasoning-text")
        yield AnswerView(self._initial)
        yield Static("", classes="answer-status")

    def on_mount(self) -> None:
        self.refresh_live()

    @property
    def view(self) -> AnswerView:
        return self.query_one(AnswerView)

    @property
    def text(self) -> str:
        return self.view.text

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    # -- while streaming (the pane's 250 ms tick calls refresh_live) ------------------------------

    def add_reasoning(self, text: str) -> None:
        self._reasoning.append(text)

    def retrying(self, notice: RetryNotice) -> None:
        self._retry = (time.monotonic() + notice.delay, notice)
        self.set_class(True, "-retrying")
        self.refresh_live()

    def refresh_live(self) -> None:
        """Show the reasoning so far and the retry countdown (cheap; at most every 250 ms)."""
        count = sum(map(len, self._reasoning))
        if count != self._reasoning_shown:
            self._reasoning_shown = count
            self.add_class("-reasoning")
            self.query_one(Collapsible).title = f"Reasoning ({count:,} characters)"
            self.query_one(".reasoning-text", Static).update(Text(neutralise(self.reasoning)))
        if self._retry is not None:
            deadline, notice = self._retry
            left = deadline - time.monotonic()
            if left > 0 and not self.text:
                self._status(f"retrying in {math.ceil(left)} s (attempt {notice.attempt} failed: "
                             f"{notice.reason})")
            else:
                self._retry = None
                self.remove_class("-retrying")
                self._status("")

    # -- endings ------------------------------------------------------------------------------

    def done(self, done: Done | None, requested_model: str | None) -> None:
        self._end()
        self._status(footer(done, requested_model) if done else "")

    def failed(self, message: str) -> None:
        self._end()
        self.add_class("-error")
        self._status(f"✗ {message}")

    def stopped(self, state: str = "stopped") -> None:
        self._end()
        self.add_class("-stopped")
        self._status(f"■ {state}" + (" (partial answer kept)" if self.text else ""))

    def _end(self) -> None:
        self._retry = None
        self.remove_class("-retrying")
        self.refresh_live()
        self.view.finish()

    def _status(self, text: str) -> None:
        self.status_text = text
        self.query_one(".answer-status", Static).update(Text(neutralise(text)))
