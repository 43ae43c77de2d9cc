"""Compare pane: one prompt to 2–8 models, every column streaming at once, side by side.

One worker consumes the fan-out (core/compare.py) and hands each event to its column, which only
queues text for its StreamView; one 4 Hz timer redraws every header. So the network reader never
waits on rendering and a token never costs a message. Blind mode hides the models behind letters
until the user votes. Every run is saved in the history by the core.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import partial

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.geometry import Offset, Region
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from relay_tui.core.compare import (ComparisonResult, FirstToken, Sent, StoredComparison,
                                    continue_as_chat, load_comparison, run_comparison)
from relay_tui.core.errors import RelayError
from relay_tui.core.events import Delta, Done, Reasoning, RetryNotice
from relay_tui.core.pricing import price_of
from relay_tui.core.sanitize import neutralise
from relay_tui.core.summary import fmt_seconds
from relay_tui.ui.compare_column import LABELS, CompareColumn
from relay_tui.ui.compare_dialogs import (MAX_MODELS, ChoiceScreen, ModelsScreen,
                                         PastComparisonsScreen, when)
from relay_tui.ui.pickers import InOrderInput

HEADER_HZ = 4
MIN_COLUMN = 38  # cells, the scrollbar and the divider included
EXPORT_FORMATS = (("m", "Markdown", "md"), ("j", "JSON", "json"), ("c", "CSV", "csv"))
SUMMARY_LABELS = {  # ComparisonResult.summary() label -> (short label, how its figure reads)
    "fastest first token": ("first token", None), "fastest output (tok/s)": ("fastest", "{} tok/s"),
    "cheapest ($)": ("cheapest", "${:.4f}"), "shortest answer (chars)": ("shortest", "{} chars"),
    "longest answer (chars)": ("longest", "{} chars")}
TERSE_LABELS = {  # the same, for a narrow summary: label -> (label or "", figure)
    "fastest first token": ("TTFT", None), "fastest output (tok/s)": ("", "{} tok/s"),
    "cheapest ($)": ("", "${:.4f}"), "shortest answer (chars)": ("short", "{} ch"),
    "longest answer (chars)": ("long", "{} ch")}
TIMING_LABELS = ("fastest first token", "fastest output (tok/s)")
HINT = ("Type a prompt and press enter: every model answers at once, side by side.\n"
        "ctrl+l models · ctrl+b blind · ctrl+g batch from a prompt file · F9 past runs\n"
        "tab moves between columns (they scroll sideways when narrow) · F1 every key")


class ColumnsRow(HorizontalScroll):
    """The columns side by side. Scrolled sideways, it comes to rest on a whole column (a
    mouse or trackpad scrolls by a few cells), and the pane's position line follows."""

    column_width = 0  # cells, every column alike
    shown = 0  # columns in view at once

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_x(old_value, new_value)
        if self.column_width and isinstance(self.parent, ComparePane):
            self.parent.show_position()
            if self._snap is not None:
                self._snap.stop()
            self._snap = self.set_timer(0.2, self._come_to_rest)

    _snap = None

    def scroll_to_region(self, region: Region, **kwargs) -> Offset:
        """Bring a region (a focused column, by tab) into view as whole columns: the least
        scrolling that shows its columns, landing on a column's edge (Textual would centre it)."""
        each, shown = self.column_width, self.shown
        if not each or not shown:
            return super().scroll_to_region(region, **kwargs)
        first = round(self.scroll_x / each)
        left, right = region.x // each, max(region.x, region.right - 1) // each
        if left < first:
            first = left
        elif right > first + shown - 1:
            first = min(left, right - shown + 1)
        kwargs.update(center=False, top=False)
        return super().scroll_to_region(Region(first * each, region.y, shown * each, region.height),
                                        **kwargs)

    def _come_to_rest(self) -> None:
        self._snap = None
        nearest = round(self.scroll_x / self.column_width) * self.column_width
        if nearest != self.scroll_x:
            self.scroll_to(x=nearest, animate=False)


@dataclass(frozen=True)
class Run:
    """What a comparison was asked with, for re-running it: the models in the order asked (a
    blind run deals them to letters anew each time it starts, re-runs included)."""

    prompt: str
    system_prompt: str | None
    models: tuple[str, ...]
    blind: bool


class ComparePane(Vertical):
    DEFAULT_CSS = """
    ComparePane { height: 1fr; }
    ComparePane > .cmp-row { height: 1; margin: 0 1; }
    ComparePane > .cmp-row > Label { width: 8; color: $text-muted; }
    ComparePane > .cmp-row > Input { width: 1fr; }
    ComparePane #cmp-mode { width: auto; min-width: 0; padding: 0 1; color: $text-warning; }
    ComparePane #cmp-position { height: 1; padding: 0 1; color: $text-accent; }
    ComparePane #cmp-columns { height: 1fr; scrollbar-size-horizontal: 0; }
    ComparePane #cmp-hint { padding: 1 2; color: $text-muted; width: 1fr; }
    ComparePane #cmp-summary {
        height: auto;
        max-height: 2;
        padding: 0 1;
        background: $boost;
        display: none;
    }
    ComparePane #cmp-summary.-shown { display: block; }
    """

    # Short descriptions for the footer; the tooltips are what F1 help shows.
    BINDINGS = [
        Binding("ctrl+r", "run", "Run", tooltip="Run the prompt on every chosen model at once"),
        Binding("f6", "rerun", "Rerun", tooltip="Re-run the last prompt (blind if blind mode is on)"),
        Binding("escape", "stop", "Stop", show=False,
                tooltip="Stop every streaming column (the partial answers are kept)"),
        Binding("ctrl+l", "choose_models", "Models", tooltip="Choose the 2–8 models to compare"),
        Binding("ctrl+b", "toggle_blind", "Blind",
                tooltip="Blind mode on/off: names and figures hidden until you vote"),
        Binding("f7", "vote", "Vote", tooltip="Vote for the best answer (reveals blind columns)"),
        Binding("ctrl+n", "continue_chat", "As chat", show=False,
                tooltip="Continue one column's answer as a chat"),
        Binding("f8", "export", "Export", tooltip="Export the comparison (Markdown, JSON, CSV)"),
        Binding("ctrl+g", "batch", "Batch", show=False,
                tooltip="Run a batch: every prompt of a file on every chosen model"),
        Binding("f9", "open_past", "Past runs", show=False,  # the footer is full at 80 columns
                tooltip="Open a past comparison or batch prompt from the history (no request is made)"),
    ]

    blind: reactive[bool] = reactive(False)

    def __init__(self) -> None:
        super().__init__()
        self.stable_figures = False
        """Hide wall-clock figures (TTFT, tok/s) so snapshots and screenshots are reproducible."""
        self.shuffler = random.Random()
        """Deals blind columns their letters (seeded by snapshot tests)."""
        self.columns: list[CompareColumn] = []
        self.available: list[str] = []
        self._models_problem: str | None = None  # a failed model list, told when the pane shows
        self.last: Run | None = None
        self.dealt: tuple[str, ...] = ()
        """The models in column order of the run started last (a blind run's deal)."""
        self.run_blind = False
        """The comparison in the columns was run blind (its names hide until the vote)."""
        self.comparison_id: int | None = None
        self.result: ComparisonResult | None = None
        self.voted = False
        self.vote_line = ""
        self.verdict = ""
        self.rates: list[tuple[str, int, int]] = []  # (model, wins, games) after the vote
        self._summarised: ComparisonResult | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="cmp-row"):
            yield Label("Models")
            yield InOrderInput(id="cmp-models", compact=True, placeholder="model, model, … (ctrl+l to pick)")
            yield Label("blind", id="cmp-mode")
        with Horizontal(classes="cmp-row"):
            yield Label("System")
            yield InOrderInput(id="cmp-system", compact=True, placeholder="optional system prompt")
        with Horizontal(classes="cmp-row"):
            yield Label("Prompt")
            yield InOrderInput(id="cmp-prompt", compact=True,
                        placeholder="ask every model at once (enter to run)")
        yield Static(id="cmp-position")
        with ColumnsRow(id="cmp-columns"):
            yield Static(HINT, id="cmp-hint")
        yield Static(id="cmp-summary")

    def on_mount(self) -> None:
        # The stream decoder is imported by the first request otherwise, on the network thread
        # between the moment a column notes as sent and the client's t0 (tens of ms, holding
        # the GIL): the first comparison's live TTFT would read that much over its final one.
        import relay_tui.core.sse  # noqa: F401

        self._timer = self.set_interval(1 / HEADER_HZ, self._tick, pause=True)
        self.session_changed()

    def on_show(self) -> None:
        """Arriving on the pane puts the cursor in the prompt, so its keys work at once."""
        if self.app.focused is None or self not in self.app.focused.ancestors_with_self:
            self.query_one("#cmp-prompt", Input).focus()
        self._tell_models_problem()

    def _tell_models_problem(self) -> None:
        if self._models_problem:
            self.notify(self._models_problem, title="Compare", severity="error")
            self._models_problem = None

    # -- session and models ----------------------------------------------------------------------

    def session_changed(self) -> None:
        """A new relay profile: its models, and a fresh pane."""
        self.workers.cancel_group(self, "compare")
        self.available = []
        self.query_one("#cmp-models", Input).value = ""
        if self.app.session is not None:
            self.run_worker(self._load_models(), group="compare-models", exclusive=True)

    async def _load_models(self) -> None:
        try:
            models = await self.app.session.models()
        except RelayError as exc:
            self._models_problem = f"Cannot list models: {exc}"
            if self.is_on_screen:  # else when the pane is shown: not a Compare toast over Chat
                self._tell_models_problem()
            return
        self._models_problem = None
        self.available = [m.id for m in models]
        box = self.query_one("#cmp-models", Input)
        if not box.value:
            box.value = ", ".join([m for m in self.available if m != "auto"][:4])

    def chosen_models(self) -> list[str]:
        return [m.strip() for m in self.query_one("#cmp-models", Input).value.split(",") if m.strip()]

    def watch_blind(self, blind: bool) -> None:
        self.query_one("#cmp-mode", Label).display = blind

    # -- running ---------------------------------------------------------------------------------

    @on(Input.Submitted, "#cmp-prompt")
    def _prompt_submitted(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        prompt = self.query_one("#cmp-prompt", Input).value.strip()
        if not prompt:
            self.notify("Type a prompt first", title="Compare", severity="warning")
            self.query_one("#cmp-prompt", Input).focus()
            return
        models = self.chosen_models()
        if not 2 <= len(models) <= MAX_MODELS:
            self.notify(f"Compare needs 2 to {MAX_MODELS} models ({len(models)} given): ctrl+l picks them",
                        title="Compare", severity="warning")
            return
        system = self.query_one("#cmp-system", Input).value.strip() or None
        self.start(Run(prompt, system, tuple(models), self.blind))

    def action_rerun(self) -> None:
        """The last prompt again, blind or not as the toggle says now (ctrl+b before F6)."""
        if self.last is None:
            self.notify("Nothing to re-run yet", title="Compare", severity="warning")
            return
        self.start(replace(self.last, blind=self.blind))

    def start(self, run: Run) -> None:
        if self.app.session is None:
            self.notify("No relay: pick a profile (ctrl+o)", title="Compare", severity="error")
            return
        self.last = run
        # Blind: a fresh deal on every run. The models box lists them in order, and a re-run that
        # kept the last deal would label each model as the user saw it revealed.
        models = self.shuffler.sample(run.models, len(run.models)) if run.blind else run.models
        self.dealt = tuple(models)
        # a callable, not a coroutine: an exclusive worker replaced before it starts never awaits it
        self.run_worker(partial(self._compare, run, self.dealt), group="compare", exclusive=True)

    async def _compare(self, run: Run, models: tuple[str, ...]) -> None:
        session = self.app.session
        self.result, self.comparison_id, self.voted, self.vote_line = None, None, False, ""
        self.verdict = ""
        self.run_blind = run.blind
        self._show_summary(None)
        prompt_tokens = (len(run.prompt) + len(run.system_prompt or "") + 3) // 4
        self.columns = [CompareColumn(i, model, prompt_tokens=prompt_tokens,
                                      price=price_of(session.profile, model))
                        for i, model in enumerate(models)]
        holder = self.query_one("#cmp-columns", ColumnsRow)
        await holder.remove_children()
        await holder.mount_all(self.columns)
        self._fit_columns()
        # Send once the new columns are painted: a whole-pane render holds the GIL for
        # milliseconds, which the network thread would otherwise spend getting the requests out,
        # between the moment a column notes as sent and the client's own t0.
        for _ in range(2):
            painted = asyncio.Event()
            self.call_after_refresh(painted.set)
            await painted.wait()
        self._timer.resume()
        columns = self.columns

        def on_event(index: int, item: object) -> None:
            column = columns[index]
            if isinstance(item, Delta):
                column.take_text(item.text)
            elif isinstance(item, Reasoning):
                column.take_reasoning()
            elif isinstance(item, Done):
                column.take_done(item)
            elif isinstance(item, RelayError):
                column.take_error(item)
            elif isinstance(item, Sent):
                column.take_sent(item.at, item.attempt)
            elif isinstance(item, FirstToken):
                column.take_first_token(item.at, item.ttft)
            elif isinstance(item, RetryNotice):
                column.take_retry(item)

        def on_start(comparison_id: int) -> None:
            self.comparison_id = comparison_id

        try:
            self.result = await run_comparison(
                session.client, session.history, profile=session.profile.name,
                models=list(models), prompt=run.prompt, system_prompt=run.system_prompt,
                blind=run.blind, on_event=on_event, on_start=on_start)
        except asyncio.CancelledError:
            for column in columns:
                column.stop()
            self._tick()
            raise
        self._tick()
        self._show_summary(self.result)

    def on_resize(self) -> None:
        self._fit_columns()
        if self._summarised is not None:
            self._show_summary(self._summarised)

    def _fit_columns(self) -> None:
        """Share the width among the columns, never narrower than MIN_COLUMN: past that as many
        whole columns as fit are shown, the row is exactly that wide (so scrolling, by tab or
        the mouse, lands on whole columns) and a line above says which are in view."""
        if not self.columns:
            self.query_one("#cmp-position", Static).update("")
            return
        width = self.size.width
        count = len(self.columns)
        shown = max(1, min(count, width // MIN_COLUMN))
        each = width // shown
        row = self.query_one("#cmp-columns", ColumnsRow)
        row.column_width, row.shown = each, shown
        row.styles.width = each * shown if shown < count else "1fr"
        for column in self.columns:
            column.styles.width = each
        if shown == count:  # the odd cells go to the last column
            self.columns[-1].styles.width = width - each * (count - 1)
        self.show_position()

    def show_position(self) -> None:
        """"columns A–D of 8 · tab / shift+tab for E–H ▸" while some are out of view."""
        row = self.query_one("#cmp-columns", ColumnsRow)
        count, each, shown = len(self.columns), row.column_width, row.shown
        line = self.query_one("#cmp-position", Static)
        if not self.columns or not each or shown >= count:
            line.update("")
            return
        first = min(count - shown, round(row.scroll_x / each))
        last = first + shown - 1
        left = "◂ " if first else "  "
        right = " ▸" if last < count - 1 else ""
        hidden = [c.label for c in self.columns[:first]] + [c.label for c in self.columns[last + 1:]]
        line.update(Text(f"{left}columns {LABELS[first]}–{LABELS[last]} of {count} · "
                         f"tab / shift+tab for {', '.join(hidden)}{right}"))

    def action_stop(self) -> None:
        if any(not c.finished for c in self.columns):
            self.workers.cancel_group(self, "compare")
            self.notify("Stopped; partial answers kept", title="Compare")

    def _tick(self) -> None:
        """Redraw the headers of columns that changed or still stream (one timer for all)."""
        colours = self.app.get_css_variables()
        hidden = self.hidden
        for column in self.columns:
            if column.is_mounted and (column.dirty or not column.finished):
                column.redraw_header(colours, blind=hidden, stable=self.stable_figures)
        if all(c.finished for c in self.columns):
            self._timer.pause()

    @property
    def hidden(self) -> bool:
        """Models are hidden: a blind comparison nobody has voted on yet."""
        return self.run_blind and not self.voted

    # -- summary and voting ----------------------------------------------------------------------

    def _shown_name(self, index: int) -> str:
        """A column as the summary names it: its letter while blind, else its model (and its
        letter when the model fills more than one column)."""
        if self.hidden:
            return LABELS[index]
        model = self.columns[index].model
        twice = sum(c.model == model for c in self.columns) > 1
        return f"{model} ({LABELS[index]})" if twice else model

    def _show_summary(self, result: ComparisonResult | None) -> None:
        summary = self.query_one("#cmp-summary", Static)
        self._summarised = result
        if result is None:
            summary.remove_class("-shown")
            return
        width = max(20, self.size.width - 2)  # the summary's padding
        summary.update(Text("\n".join(self._summary_lines(result, width))))
        summary.add_class("-shown")

    def _summary_lines(self, result: ComparisonResult, width: int) -> list[str]:
        """At most two lines: the ranks in one line where some wording fits (per rank, then
        per winner, then tersely and by letter), then the state (failures, blind vote, win
        rates), shortened to fit; a line that still does not fit is cut with "…"."""
        ranks = [(label, index, value) for label, (index, value) in result.ranked().items()
                 if not (self.stable_figures and label in TIMING_LABELS)]
        if self.hidden:  # the fastest, cheapest and longest would tell the models apart
            ranks = []
        wordings = [_per_rank(ranks, self._shown_name), _per_winner(ranks, self._shown_name, SUMMARY_LABELS),
                    _per_winner(ranks, self._shown_name, TERSE_LABELS),
                    _per_winner(ranks, lambda index: LABELS[index], TERSE_LABELS)]
        first = next((w for w in wordings if cell_len(w) <= width), wordings[-1]) if ranks \
            else "The figures and the ranking show after the vote." \
            if self.hidden else "No column finished."
        states = self._state_wordings(result)
        state = next((w for w in states if cell_len(w) <= width), states[-1]) if states else ""
        if not state and cell_len(first) > width:  # the ranks may take both lines
            return _pack(first.split(" · "), width, 2)
        return [_cut(first, width)] + ([_cut(state, width)] if state else [])

    def _state_wordings(self, result: ComparisonResult) -> list[str]:
        """The summary's second line, from the fullest wording to the tersest."""
        failed = sum(c.error is not None for c in result.columns)
        parts_long, parts_short = [], []
        if failed:
            parts_long.append(f"{failed} of {len(result.columns)} columns failed (their errors are in the columns)")
            parts_short.append(f"{failed} of {len(result.columns)} failed")
        if self.hidden:
            parts_long.append(f"Blind: F7 to vote ({', '.join(c.label for c in self.columns)}, tie, "
                              "all bad); names are shown after the vote")
            parts_short.append("Blind: F7 to vote; names shown after")
        elif self.vote_line:
            parts_long.append(self.vote_line)
            rates = " · ".join(f"{neutralise(m)} {w}/{g}" for m, w, g in self.rates)
            parts_short.append(f"Voted {self.verdict} · wins: {rates}")
        if not parts_long:
            return []
        return [" · ".join(parts_long), " · ".join(parts_short)]

    def action_vote(self) -> None:
        if self.result is None:
            self.notify("Vote after a comparison has finished", title="Compare", severity="warning")
            return
        if self.run_blind and self.voted:
            self.notify(f"You voted {self.verdict}: the vote is final, as the names are now shown. "
                        "F6 runs the prompt again for a new blind vote",
                        title="Compare", severity="warning")
            return
        choices = [(c.label.lower(), c.label if self.hidden else f"{c.label} · {c.model}", c.label)
                   for c in self.columns if c.done is not None]
        choices += [("t", "tie", "tie"), ("x", "all bad", "bad")]
        title = "Which answer is best?" + (f" (replaces your vote: {self.verdict})" if self.voted else "")
        self.app.push_screen(ChoiceScreen(title, choices), self._voted)

    def _voted(self, outcome: str | None) -> None:
        if outcome is None or self.result is None or (self.run_blind and self.voted):
            return
        history = self.app.session.history
        winner = next((c.model for c in self.columns if c.label == outcome), None)
        history.add_vote(self.result.comparison_id, winner_model=winner, outcome=outcome)
        self._take_vote(outcome, winner)
        for column in self.columns:
            column.dirty = True
        self._tick()
        self._show_summary(self.result)

    def _take_vote(self, outcome: str, winner: str | None) -> None:
        """The comparison in the columns has this vote: the verdict, and the win rates now."""
        self.voted = True
        rates = self.app.session.history.win_rates()
        mine = sorted({c.model for c in self.columns} & set(rates),
                      key=lambda m: (-rates[m][0] / rates[m][1], m))
        self.rates = [(m, rates[m][0], rates[m][1]) for m in mine]
        shown = " · ".join(f"{neutralise(m)} {rates[m][0]}/{rates[m][1]} ({rates[m][0] / rates[m][1]:.0%})"
                           for m in mine)
        self.verdict = {"tie": "a tie", "bad": "all bad"}.get(
            outcome, f"{outcome} ({neutralise(winner or '?')})")
        self.vote_line = f"Voted {self.verdict}. Win rates: {shown}"

    def action_toggle_blind(self) -> None:
        self.blind = not self.blind
        self.notify("Blind mode on: the next run hides model names until you vote" if self.blind
                    else "Blind mode off", title="Compare")

    # -- past comparisons ------------------------------------------------------------------------

    def action_open_past(self) -> None:
        session = self.app.session
        if session is None:
            self.notify("No relay: pick a profile (ctrl+o)", title="Compare", severity="error")
            return
        history = session.history
        rows = history.comparisons()
        votes = {row.id: vote for row in rows if (vote := history.vote(row.id)) is not None}
        self.app.push_screen(PastComparisonsScreen(rows, votes, time.time()), self.open_comparison)

    def open_comparison(self, comparison_id: int | None) -> None:
        """Show a saved comparison in the columns, as it was saved: no request is made. From
        there re-run, vote (a blind one nobody voted on), export and continue as chat work."""
        if comparison_id is None:
            return
        stored = load_comparison(self.app.session.history, comparison_id)
        if stored is None:
            self.notify(f"Comparison {comparison_id} is no longer in the history", title="Compare",
                        severity="warning")
            return
        if any(not c.finished for c in self.columns):
            self.notify("Stopped the running comparison; partial answers kept", title="Compare")
        self.run_worker(partial(self._show_stored, stored), group="compare", exclusive=True)

    async def _show_stored(self, stored: StoredComparison) -> None:
        session, row = self.app.session, stored.row
        self.result, self.comparison_id = stored.result, row.id
        self.voted, self.vote_line, self.verdict = False, "", ""
        self.run_blind = row.blind
        self.last = Run(row.prompt, row.system_prompt, tuple(row.models), row.blind)
        self.dealt = tuple(row.models)
        self.blind = row.blind  # F6 re-runs it as it was run (ctrl+b changes that)
        hidden = row.blind and stored.vote is None
        self.query_one("#cmp-models", Input).value = ", ".join(sorted(row.models) if hidden else row.models)
        self.query_one("#cmp-system", Input).value = row.system_prompt or ""
        self.query_one("#cmp-prompt", Input).value = row.prompt
        prompt_tokens = (len(row.prompt) + len(row.system_prompt or "") + 3) // 4
        self.columns = [CompareColumn(i, column.model, prompt_tokens=prompt_tokens,
                                      price=price_of(session.profile, column.model))
                        for i, column in enumerate(stored.result.columns)]
        for view, column in zip(self.columns, stored.result.columns, strict=True):
            view.show_stored(column)
        if stored.vote is not None:
            self._take_vote(stored.vote.outcome, stored.vote.winner_model)
        holder = self.query_one("#cmp-columns", ColumnsRow)
        await holder.remove_children()
        await holder.mount_all(self.columns)
        self._fit_columns()
        self._tick()
        self._show_summary(self.result)
        self.notify(f"Opened comparison {row.id} ({when(row.created_at, time.time())}) from the history"
                    + (" (blind: F7 to vote)" if hidden else ""), title="Compare")

    # -- models, chat, export, batch -------------------------------------------------------------

    def action_choose_models(self) -> None:
        if not self.available:
            self.notify("The relay's models are not loaded yet", title="Compare", severity="warning")
            return

        def chosen(models: list[str] | None) -> None:
            if models:
                self.query_one("#cmp-models", Input).value = ", ".join(models)

        self.app.push_screen(ModelsScreen(self.available, self.chosen_models()), chosen)

    def action_continue_chat(self) -> None:
        if self.comparison_id is None or not any(c.finished for c in self.columns):
            self.notify("Run a comparison first", title="Compare", severity="warning")
            return
        if self.hidden:
            self.notify("Vote first (F7): blind columns show their model after the vote",
                        title="Compare", severity="warning")
            return
        choices = [(c.label.lower(), f"{c.label} · {c.model}", str(c.index))
                   for c in self.columns if c.finished and c.view.text]
        self.app.push_screen(ChoiceScreen("Continue which answer as a chat?", choices),
                             self._continue)

    def _continue(self, index: str | None) -> None:
        if index is None or self.comparison_id is None:
            return
        conv_id = continue_as_chat(self.app.session.history, self.comparison_id, int(index))
        from relay_tui.ui.chat_pane import ChatPane

        chat = self.app.query_one(ChatPane)
        if not hasattr(chat, "open_conversation"):
            self.notify(f"Saved as conversation {conv_id}", title="Compare")
            return
        chat.open_conversation(conv_id)
        self.app.action_show_pane("chat")

    def action_export(self, fmt: str | None = None) -> None:
        if self.comparison_id is None:
            self.notify("Run a comparison first", title="Compare", severity="warning")
            return
        if self.hidden:
            self.notify("Vote first (F7): the export names the models and their figures",
                        title="Compare", severity="warning")
            return
        if fmt is None:
            self.app.push_screen(ChoiceScreen("Export this comparison as", list(EXPORT_FORMATS)),
                                 self._export)
        else:
            self._export(fmt)

    def _export(self, fmt: str | None) -> None:
        from relay_tui.core.export import ExportError, export_comparison

        if fmt is None or self.comparison_id is None:
            return
        try:
            path = export_comparison(self.app.session.history, self.comparison_id, fmt)
        except ExportError as exc:
            self.notify(str(exc), title="Export", severity="error")
            return
        from relay_tui.ui.toast_text import fold_path, toast_width

        self.notify(fold_path(path, toast_width(self.app.size.width)), title="Exported")

    def action_batch(self) -> None:
        from relay_tui.ui.compare_batch import BatchScreen

        models = self.chosen_models()
        if not 1 <= len(models) <= MAX_MODELS or self.app.session is None:
            self.notify(f"Batch needs 1 to {MAX_MODELS} models and a relay", title="Compare",
                        severity="warning")
            return
        system = self.query_one("#cmp-system", Input).value.strip() or None
        self.app.push_screen(BatchScreen(models, system))

    # -- command palette -------------------------------------------------------------------------

    def palette_commands(self) -> Iterable[SystemCommand]:
        def shown(action):
            def run() -> None:
                self.app.action_show_pane("compare")
                action()
            return run

        yield SystemCommand("Compare: run", "Send the prompt to every chosen model (ctrl+r)",
                            shown(self.action_run))
        yield SystemCommand("Compare: re-run", "Run the last comparison again (F6)", shown(self.action_rerun))
        yield SystemCommand("Compare: stop", "Stop every streaming column (esc)", self.action_stop)
        yield SystemCommand("Compare: choose models", "Tick 2–8 models (ctrl+l)",
                            shown(self.action_choose_models))
        yield SystemCommand("Compare: blind mode on/off", "Hide model names until you vote (ctrl+b)",
                            self.action_toggle_blind)
        yield SystemCommand("Compare: vote", "Pick the best answer; reveals blind columns (F7)",
                            shown(self.action_vote))
        yield SystemCommand("Compare: continue a column as chat", "Open one answer in the chat pane (ctrl+n)",
                            self.action_continue_chat)
        for _key, title, fmt in EXPORT_FORMATS:
            yield SystemCommand(f"Compare: export as {title}", f"Write the comparison as {fmt} (F8)",
                                lambda fmt=fmt: self.action_export(fmt))
        yield SystemCommand("Compare: open a past comparison",
                            "A comparison or batch prompt from the history, with its answers and "
                            "figures (F9)", shown(self.action_open_past))
        yield SystemCommand("Compare: batch from a prompt file",
                            "Every prompt × every model, with a results table (ctrl+g)",
                            shown(self.action_batch))


def _figure(label: str, value: float | int, labels: dict) -> str:
    unit = labels[label][1]
    return fmt_seconds(value) if unit is None else unit.format(value)


def _per_rank(ranks: list, name) -> str:
    """first token: gemini-2.5-flash (479 ms) · fastest: … (one part per rank)."""
    return " · ".join(f"{SUMMARY_LABELS[label][0]}: {neutralise(name(index))} "
                      f"({_figure(label, value, SUMMARY_LABELS)})" for label, index, value in ranks)


def _per_winner(ranks: list, name, labels: dict) -> str:
    """gemini-2.5-flash: first token 479 ms, fastest 180.0 tok/s · … (each winner named once)."""
    wins: dict[str, list[str]] = {}
    for label, index, value in ranks:
        word = labels[label][0]
        wins.setdefault(neutralise(name(index)), []).append(
            f"{word} {_figure(label, value, labels)}".strip())
    return " · ".join(f"{who}: {', '.join(what)}" for who, what in wins.items())


def _cut(line: str, width: int) -> str:
    """One line of at most `width` cells, "…" marking a cut."""
    if cell_len(line) <= width:
        return line
    return set_cell_size(line, width - 1) + "…"


def _pack(parts: list[str], width: int, lines: int) -> list[str]:
    """Parts joined by " · " over at most `lines` lines, breaking between parts."""
    out = [""]
    for part in parts:
        joined = f"{out[-1]} · {part}" if out[-1] else part
        if cell_len(joined) <= width or not out[-1]:
            out[-1] = joined
        elif len(out) < lines:
            out.append("· " + part)
        else:
            out[-1] = joined
    return [_cut(line, width) for line in out]
