"""One column of the compare pane: a header with live figures, the streamed answer, its error.

Events only update plain counters here; the header is redrawn by the pane's one timer (a few
times a second for all columns), so a token never costs more than a StreamView.append. The live
TTFT counts from when the request went out to its first token, as the core reports them (Sent,
FirstToken), so it is the figure the column's Done brings, not one that includes the mounting.
"""

from __future__ import annotations

from time import perf_counter

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from relay_tui.core.compare import Column
from relay_tui.core.errors import RelayError
from relay_tui.core.events import Cost, Done, RetryNotice
from relay_tui.core.sanitize import neutralise
from relay_tui.core.summary import fmt_cost, fmt_seconds
from relay_tui.ui.stream_view import StreamView

LABELS = "ABCDEFGH"
BLIND_FIGURES = Text("figures hidden until you vote (F7)\n(speed and cost identify models)",
                     style="dim")
"""A blind column's figures: a model's latency, speed, length and price identify it."""
STORED_STATES = {"stopped": "■ stopped", "interrupted": "■ interrupted",
                 "unsaved": "■ no answer saved"}


class CompareColumn(Vertical):
    DEFAULT_CSS = """
    CompareColumn {
        width: 1fr;
        height: 1fr;
        border-left: vkey $panel;
        padding-left: 1;
    }
    CompareColumn:focus-within { border-left: vkey $accent; }
    CompareColumn > .cmp-head {
        height: 3;
        background: $boost;
    }
    CompareColumn > .cmp-error {
        display: none;
        height: auto;
        color: $text-error;
        background: $error-muted;
    }
    CompareColumn.-failed > .cmp-error { display: block; }
    """

    def __init__(self, index: int, model: str, *, prompt_tokens: int,
                 price: tuple[float, float, str] | None) -> None:
        super().__init__(id=f"cmp-col-{index}")
        self.index = index
        self.model = model
        self.label = LABELS[index]
        self.prompt_tokens = prompt_tokens
        self.price = price  # (USD per 1M in, per 1M out, source) for the live estimate
        self.started: float | None = None  # perf_counter when the request (attempt) went out
        self.first: float | None = None  # perf_counter of its first token
        self.ttft: float | None = None  # the client's TTFT for it (what Done will carry)
        self.retry: RetryNotice | None = None
        self.chunks = 0
        self.thinking = False
        self.done: Done | None = None
        self.error: RelayError | None = None
        self.stopped = False
        self.stored_state: str | None = None  # read from the history: its saved state
        self.dirty = True
        # held, not queried: events may arrive before they are mounted, or after (a quit mid-stream)
        self.head = Static(classes="cmp-head")
        self.view = StreamView()
        self.error_box = Static(classes="cmp-error")

    def compose(self) -> ComposeResult:
        yield self.head
        yield self.view
        yield self.error_box

    @property
    def finished(self) -> bool:
        return (self.done is not None or self.error is not None or self.stopped
                or self.stored_state is not None)

    def show_stored(self, column: Column) -> None:
        """A column read from the history: its whole answer at once, its figures as saved."""
        self.view.set_text(column.text)
        self.done, self.error, self.dirty = column.done, column.error, True
        self.stored_state = "error" if column.error else "done" if column.done else column.state or "stopped"
        if column.error is not None:
            self.add_class("-failed")

    # -- fed by the pane's worker, once per event (cheap: no layout, no redraw) -----------------

    def take_sent(self, at: float, attempt: int) -> None:
        """The request (or, after a retry, the next attempt) goes out at `at`."""
        self.started, self.first, self.ttft, self.dirty = at, None, None, True
        if attempt == 1:
            self.retry = None

    def take_retry(self, notice: RetryNotice) -> None:
        self.retry, self.dirty = notice, True

    def take_first_token(self, at: float, ttft: float) -> None:
        if self.first is None:
            self.first, self.ttft, self.retry, self.dirty = at, ttft, None, True

    def take_text(self, text: str) -> None:
        self._count()
        self.thinking = False
        self.view.append(text)

    def take_reasoning(self) -> None:
        self._count()
        self.thinking = True

    def _count(self) -> None:
        if self.first is None:  # a client that does not report its first token
            self.first, self.retry = perf_counter(), None
            self.ttft = None if self.started is None else self.first - self.started
        self.chunks += 1
        self.dirty = True

    def take_done(self, done: Done) -> None:
        self.done, self.thinking, self.dirty = done, False, True
        self.view.finish()

    def take_error(self, error: RelayError) -> None:
        self.error, self.thinking, self.dirty = error, False, True
        self.view.finish()
        self.add_class("-failed")

    def stop(self) -> None:
        if not self.finished:
            self.stopped, self.dirty = True, True
            self.view.finish()

    # -- drawn by the pane's timer ---------------------------------------------------------------

    def redraw_header(self, colours: dict[str, str], *, blind: bool, stable: bool) -> None:
        """Redraw the header (title and state, timings, tokens and cost); `colours` are the theme's CSS variables, `stable` hides
        wall-clock figures (snapshots)."""
        self.dirty = False
        title = Text(self.label, style="bold")
        if not blind:
            title.append(" · ").append(neutralise(self.model))
        served = self.done.metrics.served_model if self.done else None
        if served and served != self.model and not blind:
            title.append(f" → {neutralise(served)}")
        state, colour = self._state(blind)
        title.append("  ").append(state, style=colours.get(colour, "dim"))
        figures = BLIND_FIGURES if blind else self._figures(stable)
        self.head.update(Text("\n").join([title, figures]))
        if self.error is not None:
            self.error_box.update(Text(str(self.error)))

    def _state(self, blind: bool = False) -> tuple[str, str]:
        """The column's state and the theme variable that colours it. Blind, a reasoning model
        streams like the others: "thinking…" would tell which letter it is."""
        if self.error is not None:
            return "✗ error", "text-error"
        if self.stopped:
            return "■ stopped", "text-warning"
        if self.done is not None or self.stored_state == "done":
            return "✓ done", "text-success"
        if self.stored_state is not None:
            return STORED_STATES.get(self.stored_state, f"■ {self.stored_state}"), "text-warning"
        if self.first is None:
            if self.retry is not None:
                return f"retry {self.retry.attempt + 1} in {self.retry.delay:.1f} s…", "text-warning"
            return "waiting…", "dim"
        return ("thinking…" if self.thinking and not blind else "streaming…"), "dim"

    def _figures(self, stable: bool) -> Text:
        if self.done is None and self.stored_state is not None:  # saved without its figures
            return Text("TTFT – · – tok/s\n– tok · $?", style="dim")
        if self.done is not None:
            m = self.done.metrics
            ttft, rate, cost = m.ttft, m.tokens_per_s, self.done.cost
            tokens = f"{m.output_tokens if m.output_tokens is not None else '?'}" \
                     f"{'~' if m.output_tokens_estimated else ''}"
        else:
            now = perf_counter()
            ttft = self.ttft
            span = 0.0 if self.first is None else now - self.first
            rate = (self.chunks - 1) / span if self.chunks > 1 and span > 0 else None
            cost = self._live_cost()
            tokens = f"{self.chunks}~" if self.chunks else "0"
        if stable:
            ttft_s, rate_s = "–", "–"
        else:
            ttft_s = fmt_seconds(ttft)
            rate_s = "–" if rate is None else f"{rate:.1f}"
        return Text(f"TTFT {ttft_s} · {rate_s} tok/s\n{tokens} tok · {short_cost(cost)}", style="dim")

    def _live_cost(self) -> Cost | None:
        if self.price is None:
            return None
        per_in, per_out, source = self.price
        return Cost((self.prompt_tokens * per_in + self.chunks * per_out) / 1_000_000, source)


def short_cost(cost: Cost | None) -> str:
    """Cost in a narrow header: "~" marks an estimate (the export and chat footer say from where)."""
    if cost is None:
        return "$?"
    return ("~" if cost.estimated else "") + fmt_cost(Cost(cost.usd, "relay"))
