"""Small modal forms of the chat pane: a text field, a yes/no question, conversation settings,
and the code-block picker (with the fenced-block finder it needs)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from relay_tui.core.sanitize import neutralise
from relay_tui.ui.pickers import FormScroll, FuzzyPicker, InOrderInput

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 70; max-width: 95%; height: auto; max-height: 90%;
    border: round $primary; background: $surface; padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; margin: 0 0 1 0; width: 1fr; }}
{name} .dialog-error {{ color: $text-error; height: auto; }}
{name} .dialog-note {{ color: $text-muted; }}
{name} Horizontal {{ height: auto; align-horizontal: right; margin: 1 0 0 0; }}
{name} Button {{ margin: 0 0 0 1; }}
"""

@dataclass(frozen=True)
class CodeBlock:
    lang: str
    code: str


def code_blocks(markdown: str) -> list[CodeBlock]:
    """The fenced (and indented) code blocks of an answer, in order."""
    from relay_tui.ui.markdown_blocks import parse  # the renderer's parser, loaded on first use

    return [CodeBlock(token.info.split()[0] if token.info.strip() else "", token.content)
            for token in parse(markdown) if token.type in ("fence", "code_block")]


class TextPrompt(ModalScreen[str | None]):
    """One line of text (e.g. a new title): Enter saves, Esc cancels."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel")]
    DEFAULT_CSS = DIALOG_CSS.format(name="TextPrompt")

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="dialog-title")
            yield InOrderInput(self.value, id="dialog-input")
            yield Label("Enter saves · Esc cancels", classes="dialog-note")

    @on(Input.Submitted)
    def _save(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class Confirm(ModalScreen[bool]):
    """A yes/no question: y or Enter on Yes confirms, n or Esc declines."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]
    DEFAULT_CSS = DIALOG_CSS.format(name="Confirm")

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), classes="dialog-title")  # wraps; a title is not markup
            with Horizontal():
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


@dataclass(frozen=True)
class ChatSettings:
    system_prompt: str
    temperature: float | None
    max_tokens: int | None

    @property
    def params(self) -> dict:
        return {k: v for k, v in (("temperature", self.temperature), ("max_tokens", self.max_tokens))
                if v is not None}


class SettingsForm(ModalScreen[ChatSettings | None]):
    """System prompt, temperature and max tokens of a conversation: ctrl+s saves, Esc cancels."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel"), Binding("ctrl+s", "save", "Save")]
    DEFAULT_CSS = DIALOG_CSS.format(name="SettingsForm") + """
    SettingsForm > FormScroll {
        width: 76; max-width: 95%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    SettingsForm .dialog-title { margin: 0; }
    SettingsForm .dialog-note { margin: 0 0 1 0; }
    SettingsForm TextArea { height: 5; }
    SettingsForm #settings-numbers { height: auto; margin: 1 0 0 0; align-horizontal: left; }
    SettingsForm #settings-numbers > Vertical { width: 1fr; height: auto; }
    SettingsForm Input { width: 1fr; }
    SettingsForm .dialog-error { margin: 1 0 0 0; }
    """
    """Fits 80×24 (a 21-row box: the two numbers share a row); it scrolls where even that is too
    tall, and its first rows say how to save."""

    def __init__(self, current: ChatSettings) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        c = self.current
        with FormScroll():
            yield Label("Conversation settings", classes="dialog-title")
            yield Label("ctrl+s saves · Esc cancels · tab moves between fields", classes="dialog-note")
            yield Label("System prompt")
            yield TextArea(c.system_prompt, id="system-prompt", soft_wrap=True)
            with Horizontal(id="settings-numbers"):
                with Vertical():
                    yield Label("Temperature (0–2, empty: default)")
                    yield InOrderInput("" if c.temperature is None else str(c.temperature),
                                       id="temperature")
                with Vertical():
                    yield Label("Max tokens (empty: no limit)")
                    yield InOrderInput("" if c.max_tokens is None else str(c.max_tokens),
                                       id="max-tokens")
            error = Static("", classes="dialog-error", id="settings-error")
            error.display = False
            yield error
            with Horizontal():
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (Esc)", id="cancel")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        temperature = self.query_one("#temperature", Input).value.strip()
        max_tokens = self.query_one("#max-tokens", Input).value.strip()
        error = self.query_one("#settings-error", Static)
        error.display = True
        try:
            temp = float(temperature) if temperature else None
            if temp is not None and not 0 <= temp <= 2:
                raise ValueError
        except ValueError:
            error.update("temperature must be a number from 0 to 2")
            return
        if max_tokens and not (max_tokens.isdigit() and int(max_tokens) > 0):
            error.update("max tokens must be a whole number above 0")
            return
        self.dismiss(ChatSettings(self.query_one("#system-prompt", TextArea).text.strip(), temp,
                                  int(max_tokens) if max_tokens else None))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class CodeBlockPicker(FuzzyPicker):
    """Choose one of an answer's code blocks; dismisses with its number (1-based, as a string)."""

    def __init__(self, blocks: list[CodeBlock]) -> None:
        super().__init__("Copy a code block", "type a block's number, or pick with up/down")
        self.blocks = blocks

    def on_mount(self) -> None:
        self.set_items([str(i) for i in range(1, len(self.blocks) + 1)], "Enter copies · Esc cancels")

    def label_for(self, item: str) -> Text:
        block = self.blocks[int(item) - 1]
        lines = block.code.splitlines() or [""]
        first = neutralise(lines[0].strip())[:50]
        return Text(f"{item}. {neutralise(block.lang) or 'text'} · {len(lines)} lines · {first}")
