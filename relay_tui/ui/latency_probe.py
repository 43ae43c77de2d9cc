"""The probe form: which models, how many requests, at what concurrency (as `relay-tui bench`)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

MAX_REQUESTS = 10_000
DEFAULT_PROMPT = "Reply with one short sentence about latency."


@dataclass(frozen=True)
class ProbeSpec:
    models: list[str]
    n: int
    concurrency: int
    prompt: str
    max_tokens: int | None


class ProbeForm(ModalScreen[ProbeSpec | None]):
    BINDINGS = [Binding("escape", "dismiss", "Cancel")]
    DEFAULT_CSS = """
    ProbeForm { align: center middle; }
    ProbeForm > Vertical {
        width: 72; max-width: 95%; height: auto; border: round $primary;
        background: $surface; padding: 0 1;
    }
    ProbeForm Input { margin-bottom: 0; }
    ProbeForm #probe-problem { color: $error; }
    ProbeForm Horizontal { height: auto; }
    ProbeForm Horizontal > Vertical { height: auto; width: 1fr; padding-right: 1; }
    """

    def __init__(self, models: list[str]):
        super().__init__()
        self.models = models

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Probe: N requests per model, C at a time, logged like any request.",
                         classes="dim")
            yield Label("Models (comma-separated)")
            yield Input(", ".join(self.models), id="probe-models")
            with Horizontal():
                with Vertical():
                    yield Label("N per model")
                    yield Input("10", id="probe-n", type="integer")
                with Vertical():
                    yield Label("C at a time")
                    yield Input("2", id="probe-c", type="integer")
                with Vertical():
                    yield Label("Max tokens")
                    yield Input("64", id="probe-max-tokens", type="integer")
            yield Label("Prompt")
            yield Input(DEFAULT_PROMPT, id="probe-prompt")
            yield Static("", id="probe-problem")
            yield Button("Run probe (enter)", id="probe-run", variant="primary")

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self) -> None:
        self._submit()

    def _submit(self) -> None:
        spec, problem = self._spec()
        if spec is None:
            self.query_one("#probe-problem", Static).update(problem)
            return
        self.dismiss(spec)

    def _spec(self) -> tuple[ProbeSpec | None, str]:
        def value(name: str) -> str:
            return self.query_one(f"#{name}", Input).value.strip()

        models = [m.strip() for m in value("probe-models").split(",") if m.strip()]
        if not models:
            return None, "Name at least one model."
        try:
            n, c = int(value("probe-n")), int(value("probe-c"))
            max_tokens = int(value("probe-max-tokens")) if value("probe-max-tokens") else None
        except ValueError:
            return None, "N, C and max tokens must be whole numbers."
        if not (1 <= n <= MAX_REQUESTS and 1 <= c <= 100):
            return None, f"N must be 1–{MAX_REQUESTS} and C 1–100."
        if max_tokens is not None and max_tokens < 1:
            return None, "Max tokens must be at least 1 (or empty for the relay's default)."
        prompt = value("probe-prompt") or DEFAULT_PROMPT
        return ProbeSpec(models, n, c, prompt, max_tokens), ""
