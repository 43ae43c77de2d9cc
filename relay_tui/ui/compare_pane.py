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

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll, Vertical
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

HEADER_HZ = 4
MIN_COLUMN = 38  # cells, the scrollbar and the divider included
EXPORT_FORMATS = (("m", "Markdown", "md"), ("j", "JSON", "json"), ("c", "CSV", "csv"))
SUMMARY_LABELS = {  # ComparisonResult.summary() label -> (short label, how its figure reads)
    "fastest first token": ("first token", None), "fastest output (tok/s)": ("fastest", "{} tok/s"),
    "cheapest ($)": ("cheapest", "${:.4f}"), "shortest answer (chars)": ("shortest", "{} chars"),
    "longest answer (chars)": ("longest", "{} chars")}
TIMING_LABELS = ("fastest first token", "fastest output (tok/s)")
HINT = ("Type a prompt and press enter: every model answers at once, side by side.\n"
        "ctrl+l models · ctrl+b blind · ctrl+g batch from a prompt file · F9 past runs\n"
        "tab moves between columns (they scroll sideways when narrow) · F1 every key")


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
    ComparePane #cmp-columns { height: 1fr; margin-top: 1; }
    ComparePane #cmp-hint { padding: 1 2; color: $text-muted; width: 1fr; }
    ComparePane #cmp-summary {
        height: auto;
        max-height: 6;
        padding: 0 1;
        background: $boost;
        display: none;
    }
    ComparePane #cmp-summary.-shown { display: block; }
    """

    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("f6", "rerun", "Re-run"),
        Binding("escape", "stop", "Stop", show=False),
        Binding("ctrl+l", "choose_models", "Models"),
        Binding("ctrl+b", "toggle_blind", "Blind"),
        Binding("f7", "vote", "Vote"),
        Binding("ctrl+n", "continue_chat", "As chat", show=False),
        Binding("f8", "export", "Export"),
        Binding("ctrl+g", "batch", "Batch", show=False),
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

    def compose(self) -> ComposeResult:
        with Horizontal(classes="cmp-row"):
            yield Label("Models")
            yield Input(id="cmp-models", compact=True, placeholder="model, model, … (ctrl+l to pick)")
            yield Label("blind", id="cmp-mode")
        with Horizontal(classes="cmp-row"):
            yield Label("System")
            yield Input(id="cmp-system", compact=True, placeholder="optional system prompt")
        with Horizontal(classes="cmp-row"):
            yield Label("Prompt")
            yield Input(id="cmp-prompt", compact=True,
                        placeholder="ask every model at once (enter to run)")
        with HorizontalScroll(id="cmp-columns"):
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
            self.notify(f"Cannot list models: {exc}", title="Compare", severity="error")
            return
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
        holder = self.query_one("#cmp-columns", HorizontalScroll)
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
                column.take_first_token(item.at)
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

    def _fit_columns(self) -> None:
        """Share the width among the columns, but never narrower than MIN_COLUMN: past that the
        columns scroll sideways (tab moves between them) rather than become unreadable."""
        if not self.columns:
            return
        width = self.query_one("#cmp-columns", HorizontalScroll).scrollable_content_region.width
        each = max(MIN_COLUMN, width // len(self.columns))
        for column in self.columns:
            column.styles.width = each

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

    def _shown_name(self, model: str) -> str:
        """A model as the summary shows it: its column letter(s) while blind."""
        if self.hidden:
            return "/".join(c.label for c in self.columns if c.model == model)
        return model

    def _show_summary(self, result: ComparisonResult | None) -> None:
        summary = self.query_one("#cmp-summary", Static)
        if result is None:
            summary.remove_class("-shown")
            return
        ranks = []
        for label, (model, value) in result.summary().items():
            if self.stable_figures and label in TIMING_LABELS:
                continue
            name, unit = SUMMARY_LABELS[label]
            shown = fmt_seconds(value) if unit is None else unit.format(value)
            ranks.append(f"{name}: {neutralise(self._shown_name(model))} ({shown})")
        failed = sum(c.error is not None for c in result.columns)
        lines = [" · ".join(ranks) or "No column finished."]
        if failed:
            lines.append(f"{failed} of {len(result.columns)} columns failed (their errors are in the columns)")
        if self.hidden:
            lines.append(f"Blind: F7 to vote ({', '.join(c.label for c in self.columns)}, tie, all bad); "
                         "names are shown after the vote")
        elif self.vote_line:
            lines.append(self.vote_line)
        summary.update(Text("\n".join(lines)))
        summary.add_class("-shown")

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
        holder = self.query_one("#cmp-columns", HorizontalScroll)
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
        self.notify(str(path), title="Exported")

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
