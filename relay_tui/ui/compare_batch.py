"""Batch mode of the compare pane: a prompt file × the chosen models, a progress bar, a table.

Each prompt is saved as one comparison (core/batch.py), exactly like a comparison run by hand.
Closing the screen stops the batch; what finished stays in the history. The table is laid out
for the screen's width (at 80 columns every column shows, prompts and errors cut with "…");
the highlighted row's whole prompt and error are shown under it.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from relay_tui.core.batch import PromptFileError, read_prompt_file, run_batch
from relay_tui.core.compare import Column
from relay_tui.core.sanitize import neutralise
from relay_tui.core.summary import fmt_seconds
from relay_tui.ui.compare_column import short_cost
from relay_tui.ui.compare_dialogs import DIALOG_CSS

TABLE_COLUMNS = ("prompt", "model", "TTFT", "tok/s", "tok", "cost", "result")
FIXED = {"TTFT": 7, "tok/s": 5, "tok": 5, "cost": 8}  # cells: "1234 ms", "180.0", "~$0.0044"
GAP = 1  # cells after each column (the table's own padding is off: it costs 2 a column)


class BatchScreen(ModalScreen[None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="BatchScreen") + """
    BatchScreen > Vertical { width: 95%; max-width: 100%; height: 90%; }
    BatchScreen .dialog-title { width: 1fr; }
    BatchScreen Input { margin-bottom: 1; }
    BatchScreen ProgressBar { margin-bottom: 1; }
    BatchScreen DataTable { height: 1fr; }
    BatchScreen #batch-detail { height: auto; max-height: 3; color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "close", "Close (stops the batch)")]

    def __init__(self, models: list[str], system_prompt: str | None, path: str = "") -> None:
        super().__init__()
        self.models = models
        self.system_prompt = system_prompt
        self.path = path
        self.comparison_ids: list[int] = []
        self.rows: list[tuple[str, Column]] = []  # (prompt, column), in the order they finished
        self._widths: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Batch: every prompt × {', '.join(map(neutralise, self.models))}"),
                         classes="dialog-title")
            yield Input(self.path, placeholder="prompt file: one prompt a line, or JSONL with \"prompt\"",
                        id="batch-path")
            yield ProgressBar(id="batch-progress", show_eta=False)
            yield DataTable(id="batch-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
            yield Static(id="batch-detail")
            yield Label("enter: run the file · esc: close (stops a running batch) · ~ estimate",
                        classes="dialog-hint")

    def on_mount(self) -> None:
        self._lay_out()

    def on_resize(self) -> None:
        self.call_after_refresh(self._lay_out)

    def _lay_out(self) -> None:
        """(Re)build the table's columns for its width, then its rows."""
        narrow = self.size.width < 100  # every cell counts: the whole width
        self.query_one(Vertical).styles.width = "100%" if narrow else "95%"
        table = self.query_one(DataTable)
        width = (self.size.width if narrow else int(self.size.width * 0.95)) - 4  # border, padding
        widths = column_widths(width - 2, self.models)  # room for the vertical scrollbar
        if widths == self._widths:
            return
        self._widths = widths
        table.clear(columns=True)
        for name in TABLE_COLUMNS:
            table.add_column(name, width=widths[name], key=name)
        for prompt, column in self.rows:
            table.add_row(*_row(prompt, column, widths))

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
        self.rows = []
        self.query_one(DataTable).clear()
        self.query_one("#batch-detail", Static).update("")
        self.query_one(ProgressBar).update(total=len(prompts) * len(self.models), progress=0)
        self._run(prompts)

    @work(exclusive=True, group="batch")
    async def _run(self, prompts: list[str]) -> None:
        session = self.app.session
        table = self.query_one(DataTable)
        bar = self.query_one(ProgressBar)

        def on_result(index: int, column: Column) -> None:
            self.rows.append((prompts[index], column))
            table.add_row(*_row(prompts[index], column, self._widths))
            if len(self.rows) == 1:
                self._show_detail(0)

        results = await run_batch(session.client, session.history, profile=session.profile.name,
                                  models=self.models, prompts=prompts,
                                  system_prompt=self.system_prompt, on_result=on_result,
                                  on_progress=lambda done, total: bar.update(progress=done))
        self.comparison_ids = [r.comparison_id for r in results]
        failed = sum(c.error is not None for r in results for c in r.columns)
        self.notify(f"{len(results)} comparisons saved"
                    + (f"; {failed} answers failed" if failed else ""), title="Batch")

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, index: int) -> None:
        """The highlighted row whole: its prompt, its model, and its error if it failed."""
        if not 0 <= index < len(self.rows):
            return
        prompt, column = self.rows[index]
        detail = f"{' '.join(prompt.split())} · {column.model}"
        if column.error is not None:
            detail += f" · {column.error}"
        self.query_one("#batch-detail", Static).update(Text(neutralise(detail)))

    def action_close(self) -> None:
        self.workers.cancel_group(self, "batch")
        self.dismiss(None)


def column_widths(width: int, models: list[str]) -> dict[str, int]:
    """Cells per table column (its gap included) so that a row fits `width`: the figures as
    wide as they need, the model its longest name (at most 20), prompt and result the rest."""
    cells = dict(FIXED)
    cells["model"] = max(5, min(20, max((cell_len(neutralise(m)) for m in models), default=5)))
    rest = width - sum(cells.values()) - GAP * len(TABLE_COLUMNS)
    cells["result"] = max(6, rest // 3)
    cells["prompt"] = max(6, rest - cells["result"])
    return {name: cells[name] + GAP for name in TABLE_COLUMNS}


def _cut(text: str, width: int) -> str:
    """`text` on one line in `width` cells less the gap, "…" marking a cut."""
    text, width = " ".join(text.split()), width - GAP
    return text if cell_len(text) <= width else set_cell_size(text, width - 1) + "…"


def _row(prompt: str, column: Column, widths: dict[str, int]) -> tuple:
    """One results row, each cell cut to its column; text from the relay or the file is plain."""
    def cell(name: str, text: str, style: str = "") -> Text:
        return Text(_cut(neutralise(text), widths[name]), style=style)

    if column.done is None:
        return (cell("prompt", prompt), cell("model", column.model), "–", "–", "–", "–",
                cell("result", f"✗ {column.error}", "bold"))
    m = column.done.metrics
    rate = m.tokens_per_s
    tokens = "?" if m.output_tokens is None else f"{m.output_tokens}{'~' if m.output_tokens_estimated else ''}"
    return (cell("prompt", prompt), cell("model", column.model), fmt_seconds(m.ttft),
            "–" if rate is None else f"{rate:.1f}", tokens, short_cost(column.done.cost),
            cell("result", "ok"))
