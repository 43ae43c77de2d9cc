"""Small modal screens of the compare pane: pick models, and pick one of a few choices by a key.

Modal, so single letters work as keys (the pane's inputs would swallow them).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, SelectionList
from textual.widgets.option_list import Option

from relay_tui.core.sanitize import neutralise

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


class ModelsScreen(ModalScreen[list[str] | None]):
    """Tick 2–8 of the relay's models; returns them in list order."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ModelsScreen") + """
    ModelsScreen SelectionList { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("enter", "done", "Use these", priority=True)]

    def __init__(self, available: list[str], chosen: list[str]) -> None:
        super().__init__()
        self.available = available
        self.chosen = chosen

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Models to compare (2–8)", classes="dialog-title")
            yield SelectionList[str](*((Text(neutralise(m)), m, m in self.chosen)
                                       for m in self.available))
            yield Label("space: tick · enter: use these · esc: cancel", classes="dialog-hint")

    def action_done(self) -> None:
        picked = self.query_one(SelectionList).selected
        if not 2 <= len(picked) <= MAX_MODELS:
            self.notify(f"Tick between 2 and {MAX_MODELS} models ({len(picked)} ticked)",
                        severity="warning")
            return
        self.dismiss([m for m in self.available if m in picked])


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
