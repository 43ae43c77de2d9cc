"""F1 help: every key binding of the app and of the pane in front, generated from the bindings.

Generated rather than written by hand, so the help can never drift from what the keys do.
"""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL_NOTES = (
    ("ctrl+p", "command palette: every action, by name"),
    ("tab / shift+tab", "move between fields"),
)


ANSWER_NOTES = [("shift+tab", "select an answer (from the prompt: the last); F10 and ctrl+s copy it")]


def binding_rows(owner) -> list[tuple[str, str]]:
    rows = []
    for binding in getattr(owner, "BINDINGS", []):
        if isinstance(binding, Binding) and binding.description:
            keys = ", ".join(k.strip() for k in binding.key.split(","))
            rows.append((keys, binding.tooltip or binding.description))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close help")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        from relay_tui.app import RelayApp
        from relay_tui.ui.chat_messages import AnswerBlock
        from relay_tui.ui.chat_pane import ChatPane
        from relay_tui.ui.compare_pane import ComparePane
        from relay_tui.ui.latency_pane import LatencyPane
        from relay_tui.ui.quota_pane import QuotaPane

        sections = [("Everywhere", binding_rows(RelayApp) + list(GLOBAL_NOTES)),
                    ("Chat pane", binding_rows(ChatPane) + ANSWER_NOTES
                     + [(k, f"{d}, with an answer selected") for k, d in binding_rows(AnswerBlock)]),
                    ("Compare pane", binding_rows(ComparePane)),
                    ("Quota pane", binding_rows(QuotaPane)),
                    ("Latency pane", binding_rows(LatencyPane))]
        with VerticalScroll():
            for title, rows in sections:
                table = Table(title=title, title_justify="left", show_header=False, box=None,
                              title_style="bold", padding=(0, 1))
                table.add_column("key", style="bold", width=20, no_wrap=True)  # same in every section
                table.add_column("action")
                for key, description in rows:
                    table.add_row(key, description)
                yield Static(table)
            yield Static("Esc closes this help.", classes="dim")
