"""Small modal screens of the compare pane: pick models, pick one of a few choices by a key,
open a past comparison.

Modal, so single letters work as keys (the pane's inputs would swallow them).
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from relay_tui.core.sanitize import neutralise
from relay_tui.ui.pickers import InOrderInput, fuzzy_filter, move_highlight

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: auto;
    min-width: 40;
    max-width: 90%;
    height: auto;
    max-height: 90%;
    border: round $accent;
    background: $surface;
    padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; padding-bottom: 1; }}
{name} .dialog-hint {{ color: $text-muted; padding-top: 1; }}
"""

MAX_MODELS = 8


class _SearchBox(Input):
    """The models search box. Model ids hold no spaces, so a space here ticks the highlighted
    model, as in the list (an Input would otherwise take every printable key as text)."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return key != "space" and super().check_consume_key(key, character)


class ModelsScreen(ModalScreen[list[str] | None]):
    """Tick 2–8 of the relay's models, a search box filtering the list as the chat's model picker
    does (its fuzzy matcher); ticks survive the filter. Returns the ticked models in list order."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ModelsScreen") + """
    ModelsScreen > Vertical { width: 64; max-width: 95%; }
    ModelsScreen #models-query { margin-bottom: 1; }
    ModelsScreen SelectionList { height: auto; max-height: 16; border: none; }
    ModelsScreen #models-ticked { color: $text-muted; width: 1fr; padding-top: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("enter", "done", "Use these", priority=True),
                # model ids hold no spaces: in the search box a space ticks, as in the list
                Binding("space", "toggle", "Tick / untick", priority=True),
                Binding("down", "move(1)", show=False), Binding("up", "move(-1)", show=False)]

    def __init__(self, available: list[str], chosen: list[str]) -> None:
        super().__init__()
        self.available = available
        self.ticked = {m for m in chosen if m in available}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Models to compare (2–8)", classes="dialog-title")
            yield _SearchBox(placeholder="type to search the relay's models", id="models-query")
            yield SelectionList[str](id="models-list")
            yield Static(id="models-ticked")
            yield Label("space: tick · ↑↓: move · enter: use these · esc: cancel",
                        classes="dialog-hint")

    def on_mount(self) -> None:
        self._refilter()
        self.query_one("#models-query", Input).focus()

    @on(Input.Changed, "#models-query")
    def _refilter(self) -> None:
        shown = self.query_one(SelectionList)
        shown.clear_options()
        query = self.query_one("#models-query", Input).value
        shown.add_options((Text(neutralise(m)), m, m in self.ticked)
                          for m in fuzzy_filter(query, self.available))
        if shown.option_count:
            shown.highlighted = 0
        self._show_ticked()

    @on(SelectionList.SelectedChanged)
    def _sync(self, event: SelectionList.SelectedChanged) -> None:
        """Ticks of the models on show, whoever changed them (a key, a click); hidden ones keep theirs."""
        shown = event.selection_list
        visible = {shown.get_option_at_index(i).value for i in range(shown.option_count)}
        self.ticked = (self.ticked - visible) | set(shown.selected)
        self._show_ticked()

    def _show_ticked(self) -> None:
        picked = self.picked()
        text = f"{len(picked)} ticked" + (": " + ", ".join(picked) if picked else "")
        self.query_one("#models-ticked", Static).update(Text(neutralise(text)))

    def picked(self) -> list[str]:
        return [m for m in self.available if m in self.ticked]

    def action_move(self, step: int) -> None:
        move_highlight(self.query_one(SelectionList), step)  # a SelectionList is an OptionList

    def action_toggle(self) -> None:
        shown = self.query_one(SelectionList)
        if shown.highlighted is not None:
            shown.toggle(shown.get_option_at_index(shown.highlighted))

    def action_done(self) -> None:
        picked = self.picked()
        if not 2 <= len(picked) <= MAX_MODELS:
            self.notify(f"Tick between 2 and {MAX_MODELS} models ({len(picked)} ticked)",
                        severity="warning")
            return
        self.dismiss(picked)


class ChoiceScreen(ModalScreen[str | None]):
    """One of a few choices, each with a one-letter key; returns the chosen value."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ChoiceScreen") + """
    ChoiceScreen OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str, str]], hint: str = "") -> None:
        """`choices`: (key, text, value); model names in `text` are shown as plain text."""
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="dialog-title")
            yield OptionList(*(Option(Text.assemble((f"[{key}] ", "bold"), neutralise(text)), id=value)
                               for key, text, value in self.choices))
            yield Label(self.hint or "press a key, or enter on a line · esc: cancel",
                        classes="dialog-hint")

    def on_key(self, event: Key) -> None:
        for key, _text, value in self.choices:
            if event.character and event.character.lower() == key.lower():
                event.stop()
                self.dismiss(value)
                return

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class PastComparisonsScreen(ModalScreen[int | None]):
    """The comparisons in the history, newest first (batch prompts too: each is one), searchable;
    returns the chosen one's id. A blind comparison nobody voted on lists its models in name
    order, not in column order, which would tell which letter is which."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PastComparisonsScreen") + """
    PastComparisonsScreen > Vertical { width: 110; max-width: 95%; }
    PastComparisonsScreen #past-query { margin-bottom: 1; }
    PastComparisonsScreen OptionList { height: auto; max-height: 20; border: none; }
    PastComparisonsScreen #past-note { color: $text-muted; padding-top: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("down", "move(1)", show=False), Binding("up", "move(-1)", show=False)]

    def __init__(self, rows: list, votes: dict, now: float) -> None:
        """`rows`: ComparisonRow, newest first; `votes`: comparison id -> VoteRow."""
        super().__init__()
        self.rows = rows
        self.votes = votes
        self.now = now
        self.groups: dict[str, list] = {}
        for row in rows:  # one search key per prompt and models (re-runs share one)
            self.groups.setdefault(f"{row.prompt} {' '.join(row.models)}", []).append(row)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Open a past comparison", classes="dialog-title")
            yield InOrderInput(placeholder="type to search prompts and models", id="past-query")
            yield OptionList(id="past-list")
            yield Static(id="past-note")
            yield Label("↑↓: move · enter: open (no request is made) · esc: cancel",
                        classes="dialog-hint")

    def on_mount(self) -> None:
        self._refilter()
        self.query_one("#past-query", Input).focus()

    @on(Input.Changed, "#past-query")
    def _refilter(self) -> None:
        query = self.query_one("#past-query", Input).value
        if query.strip():
            shown = [row for key in fuzzy_filter(query, list(self.groups)) for row in self.groups[key]]
        else:
            shown = self.rows
        options = self.query_one("#past-list", OptionList)
        options.clear_options()
        options.add_options(Option(self.label(row), id=str(row.id)) for row in shown)
        if options.option_count:
            options.highlighted = 0
        note = (f"{len(shown)} of {len(self.rows)} comparisons" if self.rows
                else "No comparison saved yet: run one (enter in the prompt) or a batch (ctrl+g).")
        self.query_one("#past-note", Static).update(note)

    def label(self, row) -> Text:
        """Two lines: when and the prompt; the models and how it was run. Plain text throughout."""
        prompt = " ".join(row.prompt.split())
        prompt = prompt if len(prompt) <= 90 else prompt[:89] + "…"
        vote = self.votes.get(row.id)
        models = sorted(row.models) if row.blind and vote is None else row.models
        mode = ("blind, not voted yet" if vote is None else f"blind, voted {_outcome(vote)}") \
            if row.blind else ("voted " + _outcome(vote) if vote else "")
        details = " · ".join(neutralise(m) for m in models) + (f"  ({mode})" if mode else "")
        return Text.assemble((when(row.created_at, self.now), "bold"), "  ", neutralise(prompt),
                             "\n", ("       " + details, "dim"))

    def action_move(self, step: int) -> None:
        move_highlight(self.query_one("#past-list", OptionList), step)

    @on(Input.Submitted, "#past-query")
    def _submit(self) -> None:
        options = self.query_one("#past-list", OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(int(options.get_option_at_index(options.highlighted).id))

    @on(OptionList.OptionSelected, "#past-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))


def _outcome(vote) -> str:
    return {"tie": "a tie", "bad": "all bad"}.get(vote.outcome, vote.outcome)


def when(at: float, now: float) -> str:
    """A short local time: 14:02 today, 06-14 14:02 this year, 2024-06-14 before."""
    moment, today = time.localtime(at), time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    return time.strftime("%m-%d %H:%M" if moment.tm_year == today.tm_year else "%Y-%m-%d", moment)
