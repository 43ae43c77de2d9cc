"""Latency pane: per profile and model, how fast the relay answers, from every logged request.

The table is computed by core/stats.py from SQLite indexes, so it is refreshed whole (throttled)
whenever a request is logged, by any pane or by the probe. Highlighting a row shows that model's
recent TTFTs as a sparkline and its recent requests; highlighting a request shows its waterfall.
The probe is `relay-tui bench` run from here: same core call, same log rows, same table cells.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, ProgressBar, Static

from relay_tui.core import telemetry
from relay_tui.core.errors import RelayError
from relay_tui.core.fanout import bench
from relay_tui.core.records import log_bench_record
from relay_tui.core.sanitize import neutralise
from relay_tui.core.stats import (BENCH_COLUMNS, WINDOWS, bench_cells, latency_table, ms,
                                  recent_ttfts, waterfall)
from relay_tui.core.telemetry.spans import bench_attributes
from relay_tui.ui.latency_probe import ProbeForm, ProbeSpec
from relay_tui.ui.quota_pane import claim_focus

REFRESH_S = 0.3          # at most this often while requests are being logged
RECENT = 40              # requests listed for the highlighted model
SPARK = 60               # TTFTs in the sparkline
# Short headers so the table fits 80 columns; the status line says the times are in ms.
TABLE_COLUMNS = ("profile", "model", "req", "err", "err %", "TTFT p50/95/99", "total p50/95/99",
                 "tok/s p50")


class LatencyPane(Vertical, can_focus=False):
    DEFAULT_CSS = """
    LatencyPane { padding: 0 1; }
    LatencyPane #latency-filter { height: auto; color: $text-muted; }
    LatencyPane #latency-table { height: auto; max-height: 10; }
    LatencyPane #latency-spark-label { height: 1; margin-top: 1; }
    LatencyPane #latency-spark { height: 2; color: $accent; }
    LatencyPane #latency-requests { height: 1fr; min-height: 4; margin-top: 1; }
    LatencyPane #latency-waterfall { height: auto; }
    LatencyPane #probe-row { height: auto; }
    LatencyPane #probe-progress { display: none; }
    LatencyPane.-probing #probe-progress { display: block; }
    LatencyPane #probe-table { height: auto; max-height: 8; display: none; }
    LatencyPane.-probed #probe-table { display: block; }
    """
    BINDINGS = [
        # Short footer labels (it holds them all at 80 columns); F1 help shows the tooltips.
        Binding("ctrl+r", "refresh_latency", "Refresh", tooltip="Refresh latency (reread the log)"),
        Binding("ctrl+w", "next_window", "Window", tooltip="Next time window"),
        Binding("ctrl+e", "toggle_profiles", "Profiles", tooltip="All profiles / this profile"),
        Binding("ctrl+n", "probe", "Probe", tooltip="Probe: N requests at concurrency C"),
        Binding("ctrl+x,escape", "cancel_probe", "Cancel", tooltip="Cancel the probe"),
    ]

    def __init__(self) -> None:
        super().__init__(id="latency-pane")
        self.window = 1                          # index into WINDOWS: 24 hours
        self.every_profile = True
        self.clock = time.time                   # tests pin it for snapshots
        self._rows: dict[str, tuple[str, str]] = {}
        self._refresh_due = False
        self._unsubscribe = None
        self._probe = None
        self._probe_done = 0
        self.last_probe = None                   # the last finished probe's BenchResult

    def compose(self) -> ComposeResult:
        yield Static(id="latency-filter")
        table = DataTable(id="latency-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*TABLE_COLUMNS)
        yield table
        yield Static(id="latency-spark-label")
        yield Static(id="latency-spark")
        requests = DataTable(id="latency-requests", cursor_type="row")
        requests.add_columns("when", "kind", "result", "TTFT ms", "total ms", "tok", "tok/s", "cost $")
        yield requests
        yield Static(id="latency-waterfall")
        with Vertical(id="probe-row"):
            yield ProgressBar(id="probe-progress", show_eta=False)
            yield Static(id="probe-status")
            table = DataTable(id="probe-table", cursor_type="none")
            table.add_columns(*BENCH_COLUMNS)
            yield table

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        self._unsubscribe = self.app.history.subscribe(
            lambda _row: loop.call_soon_threadsafe(self._request_logged))
        self.action_refresh_latency()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def on_show(self) -> None:
        claim_focus(self, self.focus_target())
        self.action_refresh_latency()

    def focus_target(self) -> DataTable:
        return self.query_one("#latency-table", DataTable)

    def on_descendant_focus(self, event) -> None:
        # Focus only lands here while the pane is in front; letting it reach the TabPane would
        # make TabbedContent re-activate this pane if the user already switched away.
        event.stop()

    # -- the app's pane protocol ------------------------------------------------------------------

    def session_changed(self) -> None:
        self.action_refresh_latency()

    def palette_commands(self) -> Iterable[SystemCommand]:
        def go(action):
            def run() -> None:
                self.app.action_show_pane("latency")
                action()
            return run

        yield SystemCommand("Latency probe", "N requests at concurrency C to chosen models (ctrl+n "
                            "in the Latency pane)", go(self.action_probe))
        yield SystemCommand("Latency: next time window", "Cycle 1 hour, 24 hours, 7 days, 30 days, "
                            "all time (ctrl+w)", go(self.action_next_window))
        yield SystemCommand("Latency: all profiles or this one", "Toggle the profile filter "
                            "(ctrl+e)", go(self.action_toggle_profiles))
        yield SystemCommand("Latency: refresh", "Read the table again from the request log, with "
                            "requests other relay-tui processes made (ctrl+r)",
                            go(self.action_refresh_latency))
        yield SystemCommand("Latency: cancel the probe", "Stop a running probe; the requests that "
                            "finished stay in the table (ctrl+x or esc)", go(self._cancel_from_palette))

    # -- filters ----------------------------------------------------------------------------------

    def action_next_window(self) -> None:
        self.window = (self.window + 1) % len(WINDOWS)
        self.action_refresh_latency()

    def action_toggle_profiles(self) -> None:
        self.every_profile = not self.every_profile
        self.action_refresh_latency()

    @property
    def since(self) -> float | None:
        seconds = WINDOWS[self.window][1]
        return None if seconds is None else self.clock() - seconds

    # -- the tables -------------------------------------------------------------------------------

    def _request_logged(self) -> None:
        if self.is_mounted and not self._refresh_due:
            self._refresh_due = True
            self.set_timer(REFRESH_S, self.action_refresh_latency)

    def action_refresh_latency(self) -> None:
        self._refresh_due = False
        session = self.app.session
        profile = None if self.every_profile or session is None else session.profile.name
        label, _ = WINDOWS[self.window]
        self.query_one("#latency-filter", Static).update(Text(neutralise(  # plain: a profile name
            f"window: {label} (ctrl+w) · profiles: {'all' if profile is None else profile} (ctrl+e)"
            f" · ctrl+n probe · ctrl+r refresh · times in ms")))
        table = self.query_one("#latency-table", DataTable)
        keep = self._highlighted_row()
        table.clear()
        self._rows = {}
        rows = latency_table(self.app.history, since=self.since, profile=profile)
        for row in rows:
            key = f"{row.profile}\t{row.model}"
            self._rows[key] = (row.profile, row.model)
            table.add_row(*_plain((row.profile, *bench_cells(row)[:-1])), key=key)
        if keep in self._rows:
            table.move_cursor(row=table.get_row_index(keep))
        self._show_model()

    def _highlighted_row(self) -> str | None:
        table = self.query_one("#latency-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "latency-table":
            self._show_model()
        elif event.data_table.id == "latency-requests":
            self._show_waterfall(event.row_key.value)
        event.stop()

    def _show_model(self) -> None:
        """The sparkline and recent requests of the highlighted profile and model."""
        label = self.query_one("#latency-spark-label", Static)
        spark = self.query_one("#latency-spark", Static)
        requests = self.query_one("#latency-requests", DataTable)
        requests.clear()
        chosen = self._rows.get(self._highlighted_row() or "")
        if chosen is None:
            label.update("No requests in this window yet: chat, compare, or run a probe (ctrl+n).")
            spark.display = False
            self.query_one("#latency-waterfall", Static).update("")
            return
        profile, model = chosen
        ttfts = recent_ttfts(self.app.history, profile=profile, model=model, limit=SPARK,
                             since=self.since)
        spark.display = len(ttfts) >= 2  # one sample drew a solid bar across the pane: no trend
        spark.update(ttft_bars([t * 1000 for t in ttfts], max(20, self.size.width - 2)))
        span = f"{min(ttfts) * 1000:.0f}–{max(ttfts) * 1000:.0f} ms" if ttfts else "none succeeded"
        plural = "s" if len(ttfts) != 1 else ""
        where = neutralise(f" request{plural} to {model} via {profile}: ")
        label.update(Text.assemble(("TTFT of the last ", "dim"), (f"{len(ttfts)}", "bold"),
                                   (where, "dim"), span))
        for row in reversed(self.app.history.requests(profile=profile, model=model,
                                                      since=self.since, limit=RECENT)):
            requests.add_row(*_request_cells(row, self.clock()), key=str(row.id))
        if not requests.row_count:
            self.query_one("#latency-waterfall", Static).update("")

    def _show_waterfall(self, row_id: str) -> None:
        row = self.app.history.request(int(row_id))
        target = self.query_one("#latency-waterfall", Static)
        if row is None:
            target.update("")
            return
        target.update(_waterfall_text(row, max(20, self.size.width - 36)))

    # -- the probe --------------------------------------------------------------------------------

    def action_probe(self) -> None:
        session = self.app.session
        if session is None or self._probe is not None:
            return
        chosen = self._rows.get(self._highlighted_row() or "")
        models = [chosen[1]] if chosen else [self.app.model or session.default_model or "auto"]
        self.app.push_screen(ProbeForm(models), self._start_probe)

    def _start_probe(self, spec: ProbeSpec | None) -> None:
        if spec is None:
            return
        self._probe = self.run_worker(self._run_probe(spec), group="probe", exit_on_error=False)

    async def _run_probe(self, spec: ProbeSpec) -> None:
        session = self.app.session
        profile, history = session.profile.name, self.app.history
        bar = self.query_one("#probe-progress", ProgressBar)
        status = self.query_one("#probe-status", Static)
        total = spec.n * len(spec.models)
        bar.update(total=total, progress=0)
        self._probe_done = 0
        self.add_class("-probing")
        status.update(Text(f"probing {neutralise(', '.join(spec.models))}: {total} requests at "
                           f"concurrency {spec.concurrency} · ctrl+x cancels"))
        # Start timing once the form's closing repaint is done: a whole-screen render holds the
        # GIL for milliseconds, which the first request's TTFT would otherwise absorb.
        painted = asyncio.Event()
        self.call_after_refresh(painted.set)
        await painted.wait()

        def on_record(record) -> None:
            log_bench_record(history, record, profile=profile, kind="probe")

        def on_progress(done: int, _total: int) -> None:
            self._probe_done = done
            bar.update(progress=done)

        try:
            with telemetry.run("probe", bench_attributes(spec.models, spec.n, spec.concurrency)):
                result = await bench(session.client, spec.models, spec.n, spec.concurrency,
                                     [{"role": "user", "content": spec.prompt}],
                                     max_tokens=spec.max_tokens, on_progress=on_progress,
                                     on_record=on_record)
        except asyncio.CancelledError:
            status.update(f"probe cancelled after {self._probe_done} of {total} requests "
                          "(those are in the table)")
            raise
        except RelayError as exc:
            status.update(Text(f"probe failed: {exc}"))  # relay text: never markup
            return
        finally:
            self._probe = None
            self.remove_class("-probing")
            self.action_refresh_latency()
        status.update(f"probe: {result.requests} requests at concurrency {result.concurrency} in "
                      f"{result.wall:.2f} s ({result.requests_per_s:.1f} req/s) — as `relay-tui "
                      f"bench`; times in ms as p50/p95/p99")
        table = self.query_one("#probe-table", DataTable)
        table.clear()
        for stats in result.per_model:
            table.add_row(*_plain(bench_cells(stats)))
        self.add_class("-probed")
        self.last_probe = result

    def action_cancel_probe(self) -> None:
        if self._probe is not None:
            self._probe.cancel()

    def _cancel_from_palette(self) -> None:
        """As ctrl+x, saying so when there is nothing to cancel (esc stays silent)."""
        if self._probe is None:
            self.notify("No probe is running (ctrl+n starts one)", title="Latency")
        self.action_cancel_probe()


SPARK_ROWS = 2
BLOCKS = " ▁▂▃▄▅▆▇█"


def ttft_bars(values_ms: list[float], width: int) -> Text:
    """Recent TTFTs as bars on a zero-based axis, one column each (newest right), labelled with
    the top of the scale and 0: a min-to-max sparkline drew 802 and 816 ms as full height and
    nothing, with no scale."""
    top = max(values_ms, default=0.0) or 1.0
    labels = (f"{top:.0f} ms ┤", "0 ms ┤")
    room = max(1, width - max(map(len, labels)))
    shown = values_ms[-room:]
    levels = [round(v / top * SPARK_ROWS * 8) for v in shown]
    text = Text()
    for row in range(SPARK_ROWS):
        label = labels[0] if row == 0 else labels[1] if row == SPARK_ROWS - 1 else "│"
        text.append(label.rjust(max(map(len, labels))), style="dim")
        floor = (SPARK_ROWS - 1 - row) * 8
        text.append("".join(BLOCKS[min(8, max(0, level - floor))] for level in levels))
        if row < SPARK_ROWS - 1:
            text.append("\n")
    return text


def _plain(cells) -> tuple[Text, ...]:
    """Table cells as plain text: a str cell would be Rich markup, and model ids, profile names
    and request ids come from relays and config ("[/v1]" in one would crash the table)."""
    return tuple(Text(neutralise(cell)) for cell in cells)


def _request_cells(row, now: float) -> tuple[str, ...]:
    when = time.localtime(row.started_at)
    shown = time.strftime("%H:%M:%S" if now - row.started_at < 86400 else "%m-%d %H:%M", when)
    result = "ok" if row.ok else (row.error_kind or "error")
    if row.status and row.status >= 400 and not row.ok:  # a stopped or mid-stream failure had a 200
        result += f" {row.status}"
    tokens = "–" if row.output_tokens is None else f"{row.output_tokens}{'~' if row.output_tokens_estimated else ''}"
    rate = "–" if row.tokens_per_s is None else f"{row.tokens_per_s:.1f}"
    cost = "–" if row.cost_usd is None else f"{row.cost_usd:.6f}{'' if row.cost_source == 'relay' else ' est.'}"
    return (shown, row.kind, result, ms(row.ttft), ms(row.total), tokens, rate, cost)


def _waterfall_text(row, width: int) -> Text:
    """One bar per phase, placed on a shared time axis from the request's start."""
    phases = waterfall(row)
    text = Text()
    text.append(neutralise(f"Waterfall of {row.request_id or 'request'} ({row.model}, {row.kind})"),
                style="bold")
    if not phases:
        why = ("it was stopped before its timings were recorded" if row.error_kind == "stopped"
               else f"it failed before connecting ({row.error_kind})" if row.error_kind
               else "none were recorded")
        text.append(f"\nno timings: {why}")
        return text
    end = max(stop for _, _, stop in phases) or 1e-9
    for name, start, stop in phases:
        left = round(start / end * width)
        length = max(1, round(stop / end * width) - left)
        text.append(f"\n{name:<12} ")
        text.append(" " * left + "█" * length)
        text.append(" " * max(1, width - left - length + 1) + f"{stop * 1000:8.1f} ms")
    if row.connect is None:
        text.append("\n(connection reused from the pool: no connect or TLS phase)", style="dim")
    return text

