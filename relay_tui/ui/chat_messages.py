"""The chat transcript's pieces: a prompt, and an answer with its reasoning and one-line status.

An answer's text lives in a StreamView (appends are cheap, rendering happens per frame); the
status line under it is the footer once done, or the error, the stop mark (with the figures
known so far) or the retry countdown in its place, and while it streams how long the relay has
been silent. Everything shown is model text or derived from it, so it is built as plain Text
(never markup) from neutralised strings.

An answer can be selected (it takes the focus: shift+tab from the prompt, a click, up/down from
one answer to the next); copying acts on the selected answer.
"""

from __future__ import annotations

import math
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from relay_tui.core.events import Cost, Done, RetryNotice
from relay_tui.core.sanitize import neutralise
from relay_tui.core.summary import fmt_cost, fmt_seconds, footer
from relay_tui.ui.stream_view import StreamView

SILENCE = 1.5
"""Seconds without new text after which a streaming answer says how long it has been silent."""


def estimate_tokens(chars: int) -> int:
    """The core's estimate when the relay sends no usage (core/client.py): (characters + 3) // 4."""
    return (chars + 3) // 4


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

    BINDINGS = [Binding("up", "select(-1)", "Previous answer", show=False),
                Binding("down", "select(1)", "Next answer (after the last: the prompt)", show=False)]
    DEFAULT_CSS = """
    AnswerBlock { height: auto; margin: 1 0 0 0; padding: 0 0 0 1; border-left: blank $accent; }
    AnswerBlock:focus-within { border-left: outer $accent; }
    AnswerBlock > Collapsible { border: none; padding: 0; margin: 0 0 1 0; }
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
        self._reasoning_box: Collapsible | None = None  # mounted with the first reasoning
        self._reasoning_text: Static | None = None
        self._retry: tuple[float, RetryNotice] | None = None
        self.status_text = ""
        self.started = time.monotonic()  # live figures while streaming (`begin` resets them)
        self.first: float | None = None
        self.last: float | None = None
        self.chars = 0
        self._live = False

    def compose(self) -> ComposeResult:
        # The reasoning Collapsible (four widgets) is mounted only for an answer that has some:
        # opening a conversation mounts fewer widgets, and lays out and styles fewer.
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

    # -- selection ----------------------------------------------------------------------------

    def action_select(self, step: int) -> None:
        """Select the previous or next answer; past the last one, back to the prompt."""
        blocks = list(self.parent.query_children(AnswerBlock)) if self.parent else [self]
        index = blocks.index(self) + step
        if 0 <= index < len(blocks):
            blocks[index].select()
        elif index >= len(blocks):
            self.screen.focus_next()  # the prompt comes after the transcript

    def select(self) -> None:
        self.view.focus(scroll_visible=False)
        self.scroll_visible(animate=False)

    # -- while streaming (the pane's 250 ms tick calls refresh_live) ------------------------------

    def begin(self) -> None:
        """The request is about to go: the live figures count from now."""
        self.started = time.monotonic()
        self._live = True
        self.refresh_live()

    def append(self, text: str) -> None:
        self._arrived(len(text))
        self.view.append(text)

    def add_reasoning(self, text: str) -> None:
        self._arrived(len(text))
        self._reasoning.append(text)

    def _arrived(self, chars: int) -> None:
        self.last = time.monotonic()
        if self.first is None:
            self.first = self.last
        self.chars += chars

    def retrying(self, notice: RetryNotice) -> None:
        self._retry = (time.monotonic() + notice.delay, notice)
        self.set_class(True, "-retrying")
        self.refresh_live()

    def refresh_live(self) -> None:
        """Show the reasoning so far and the retry countdown (cheap; at most every 250 ms)."""
        count = sum(map(len, self._reasoning))
        if count != self._reasoning_shown:
            self._reasoning_shown = count
            title = f"Reasoning ({count:,} characters)"
            if self._reasoning_box is None:
                self.add_class("-reasoning")
                self._reasoning_text = Static("", classes="reasoning-text")
                self._reasoning_box = Collapsible(self._reasoning_text, title=title, collapsed=True)
                self.mount(self._reasoning_box, before=0)
            else:
                self._reasoning_box.title = title
            self._reasoning_text.update(Text(neutralise(self.reasoning)))
        if self._retry is not None:
            deadline, notice = self._retry
            left = deadline - time.monotonic()
            if left > 0 and not self.text:
                self._status(f"retrying in {math.ceil(left)} s (attempt {notice.attempt} failed: "
                             f"{notice.reason})")
                return
            self._retry = None
            self.remove_class("-retrying")
            self._status("")
        if self._live:  # a stall shows before the idle timeout ends it
            now = time.monotonic()
            if self.first is None:
                self._status(f"waiting for first token · {now - self.started:.1f} s")
            elif now - self.last >= SILENCE:
                self._status(f"no new text for {now - self.last:.1f} s")
            elif self.status_text:
                self._status("")

    # -- endings ------------------------------------------------------------------------------

    def done(self, done: Done | None, requested_model: str | None) -> None:
        self._end()
        self._status(footer(done, requested_model) if done else "")

    def failed(self, message: str) -> None:
        self._end()
        self.add_class("-error")
        self._status(f"✗ {message}")

    def stopped(self, state: str = "stopped", cost: Cost | None = None,
                ttft: float | None = None, served_model: str | None = None) -> None:
        """Marked stopped (or interrupted), with what is known: model, TTFT, tokens, a cost
        estimate. `ttft` and `served_model` are the client's (what the request log keeps)."""
        live = self._live
        self._end()
        self.add_class("-stopped")
        parts = [f"■ {state}" + (" (partial answer kept)" if self.text else "")]
        if self.text or self.reasoning:
            model = self.model if not served_model or served_model == self.model else \
                f"{self.model} → {served_model}"
            parts.append(neutralise(model))
            if ttft is None and live and self.first is not None:
                ttft = self.first - self.started
            if ttft is not None:
                parts.append(f"TTFT {fmt_seconds(ttft)}")
            chars = self.chars if live else len(self.text) + len(self.reasoning)
            parts.append(f"{estimate_tokens(chars)}~ tok so far")
            if cost is not None:
                parts.append(fmt_cost(cost))
        self._status(" · ".join(parts))

    def _end(self) -> None:
        self._retry = None
        self._live = False
        self.remove_class("-retrying")
        self.refresh_live()
        self.view.finish()

    def _status(self, text: str) -> None:
        self.status_text = text
        self.query_one(".answer-status", Static).update(Text(neutralise(text)))
