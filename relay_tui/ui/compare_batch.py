"""Batch mode of the compare pane: a prompt file × the chosen models, a progress bar, a table.

Each prompt is saved as one comparison (core/batch.py), exactly like a comparison run by hand.
Closing the screen stops the batch; what finished stays in the history.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, ProgressBar

from relay_tui.core.batch import PromptFileError, read_prompt_file, run_batch
from relay_tui.core.compare import Column
from relay_tui.core.sanitize import neutralise
from relay_tui.core.summary import fmt_cost, fmt_seconds
from relay_tui.ui.compare_dialogs import DIALOG_CSS

TABLE_COLUMNS = ("prompt", "model", "TTFT", "tok/s", "tokens", "cost", "error")


class BatchScreen(ModalScreen[None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="BatchScreen") + """
    BatchScreen > Vertical { width: 95%; height: 90%; }
    BatchScreen Input { margin-bottom: 1; }
    BatchScreen ProgressBar { margin-bottom: 1; }
    BatchScreen DataTable { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "close", "Close (stops the batch)")]

    def __init__(self, models: list[str], system_prompt: str | None, path: str = "") -> None:
        super().__init__()
        self.models = models
        self.system_prompt = system_prompt
        self.path = path
        self.comparison_ids: list[int] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Batch: every prompt × {', '.join(map(neutralise, self.models))}"),
                        classes="dialog-title")
            yield Input(self.path, placeholder="prompt file: one prompt a line, or JSONL with \"prompt\"",
                        id="batch-path")
            yield ProgressBar(id="batch-progress", show_eta=False)
            yield DataTable(id="batch-table", cursor_type="row", zebra_stripes=True)
            yield Label("enter: run the file · esc: close (stops a running batch)",
                        classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*TABLE_COLUMNS)

    @on(Input.Submitted, "#batch-path")
    def _submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            return
        try:
            prompts = read_prompt_file(path)
        except PromptFileError as exc:
            self.notify(str(exc), title="Batch", severity="error")
            return
        self.query_one(DataTable).clear()
        self.query_one(ProgressBar).update(total=len(prompts) * len(self.models), progress=0)
        self._run(prompts)

    @work(exclusive=True, group="batch")
    async def _run(self, prompts: list[str]) -> None:
        session = self.app.session
        table = self.query_one(DataTable)
        bar = self.query_one(ProgressBar)

        def on_result(index: int, column: Column) -> None:
            table.add_row(*_row(prompts[index], column))

        results = await run_batch(session.client, session.history, profile=session.profile.name,
                                  models=self.models, prompts=prompts,
                                  system_prompt=self.system_prompt, on_result=on_result,
                                  on_progress=lambda done, total: bar.update(progress=done))
        self.comparison_ids = [r.comparison_id for r in results]
        failed = sum(c.error is not None for r in results for c in r.columns)
        self.notify(f"{len(results)} comparisons saved"
                    + (f"; {failed} answers failed" if failed else ""), title="Batch")

    def action_close(self) -> None:
        self.workers.cancel_group(self, "batch")
        self.dismiss(None)


def _row(prompt: str, column: Column) -> tuple:
    """One results row; every string from the relay or the file is shown as plain text."""
    short = neutralise(prompt if len(prompt) <= 40 else prompt[:39] + "…")
    if column.done is None:
        return (Text(short), Text(neutralise(column.model)), "–", "–", "–", "–",
                Text(str(column.error), style="bold"))
    m = column.done.metrics
    rate = m.tokens_per_s
    tokens = "?" if m.output_tokens is None else f"{m.output_tokens}{'~' if m.output_tokens_estimated else ''}"
    return (Text(short), Text(neutralise(column.model)), fmt_seconds(m.ttft),
            "–" if rate is None else f"{rate:.1f}", tokens, fmt_cost(column.done.cost), "")
