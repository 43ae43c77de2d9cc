"""Does streaming stay linear? StreamView against a naive `Markdown.update` baseline, headless.

Runs the app headless (240x60) against the real demo relay over HTTP (core ThreadedClient, the
app's client: reading on a network thread, the app's GIL switch interval), and prints one table:
  (a) 1 column, 800 chunks sent within 2 s;
  (b) 4 columns x 5,000 tokens at 50 tok/s each, with a key pressed every 0.5 s.
Figures: display-finish time / the stream's own duration (targets: (a) <= 1.5x, (b) <= 1.05x),
render (CPU) time of the last 1,000 tokens / the first 1,000 (target <= 1.2), the same last 1,000
tokens' time over what their text costs replayed at the same pace into an emptied view (the two
windows hold different markdown, so the first ratio also measures content; this one is growth with
the answer's length alone), screen update gaps and key-press latency (time from the press until its
handler runs). The baseline awaits
`Markdown.update(whole answer)` per token in the reader, as a naive app would; it falls far
behind, so it is stopped at a time limit and reported as a lower bound.

    python bench/stream_render.py [--quick] [--switch-interval S]

--quick is a smoke run for CI (seconds); its render-growth windows are too small to mean much.
Figures depend on machine load: run on an otherwise idle machine when comparing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult  # noqa: E402
from textual.containers import Horizontal, VerticalScroll  # noqa: E402
from textual.widgets import Markdown  # noqa: E402

from relay_tui.core.events import Delta  # noqa: E402
from relay_tui.core.netloop import SWITCH_INTERVAL, ThreadedClient  # noqa: E402
from relay_tui.demo import DEMO_KEY, DemoRelay  # noqa: E402
from relay_tui.store.profile import Profile  # noqa: E402
from relay_tui.ui.markdown_blocks import split_blocks  # noqa: E402
from relay_tui.ui.stream_view import StreamView  # noqa: E402

SIZE = (240, 60)
MODELS = ("gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2")
WARM_UP = "# a\n\n- b\n\n| c | d |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
PROMPT = [{"role": "user", "content": "Write a long technical report with code and tables."}]


@dataclass
class Scenario:
    label: str
    columns: int
    tokens: int
    tps: float
    keys: bool
    baseline_limit: float  # seconds; the naive baseline is stopped there


@dataclass
class Column:
    """What one column's reader and widget saw."""

    arrivals: list[float] = field(default_factory=list)  # per token
    texts: list[str] = field(default_factory=list)  # per token
    renders: list[tuple[float, float]] = field(default_factory=list)  # (at, CPU seconds)
    shown_tokens: int = 0  # tokens on screen (baseline) when stopped
    stop: bool = False  # the baseline's time is up: its reader leaves after the current update
    first_token: float = 0.0
    done_at: float = 0.0  # all text rendered


class TimedView(StreamView):
    """StreamView that records when a frame changed it and what that frame cost."""

    def __init__(self, column: Column) -> None:
        super().__init__()
        self.column = column

    def flush_frame(self, deadline: float) -> bool:
        start, cpu, before = time.perf_counter(), time.thread_time(), self.flushed_at
        more = super().flush_frame(deadline)
        if self.flushed_at != before:
            self.column.renders.append((start, time.thread_time() - cpu))
        return more


class BenchApp(App):
    BINDINGS = [("k", "ping", "")]

    def __init__(self, columns: list[Column], naive: bool) -> None:
        super().__init__()
        self.columns = columns
        self.naive = naive
        self.presses: list[float] = []  # press times waiting for their handler
        self.key_latency: list[float] = []
        self.screen_updates: list[float] = []

    def compose(self) -> ComposeResult:
        with Horizontal():
            for column in self.columns:
                if self.naive:
                    with VerticalScroll():
                        yield Markdown()
                else:
                    yield TimedView(column)

    def action_ping(self) -> None:
        if self.presses:
            self.key_latency.append(time.perf_counter() - self.presses.pop(0))

    def _display(self, screen, renderable) -> None:  # a screen update (not written when headless)
        if renderable is not None:
            self.screen_updates.append(time.perf_counter())
        super()._display(screen, renderable)


async def read_stream(client: ThreadedClient, model: str, column: Column, sink) -> None:
    async for event in client.stream_chat(PROMPT, model):
        if column.stop:
            return  # not a task cancel: cancelling `Markdown.update` midway breaks app shutdown
        if isinstance(event, Delta) and event.text:
            now = time.perf_counter()
            if not column.arrivals:
                column.first_token = now
            column.arrivals.append(now)
            column.texts.append(event.text)
            await sink(event.text)


async def run(relay_url: str, scenario: Scenario, naive: bool) -> dict:
    columns = [Column() for _ in range(scenario.columns)]
    app = BenchApp(columns, naive)
    profile = Profile(name="demo", base_url=relay_url, idle_timeout=600.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        widgets = list(app.query(Markdown if naive else TimedView))
        if not naive:  # warm up (lexers, imports) as any app is after its first answer
            for widget in widgets:
                widget.set_text(WARM_UP)
                widget.clear()
        clients = [ThreadedClient(profile, DEMO_KEY) for _ in columns]
        readers = []
        t0 = time.perf_counter()
        for index, (client, column, widget) in enumerate(zip(clients, columns, widgets)):
            readers.append(asyncio.create_task(read_stream(
                client, MODELS[index], column, naive_sink(widget, column) if naive
                else view_sink(widget))))
        presser = asyncio.create_task(press_keys(pilot, app)) if scenario.keys else None
        limit = scenario.baseline_limit if naive else None
        _, pending = await asyncio.wait(readers, timeout=limit)
        stopped = time.perf_counter() - t0 if pending else None
        if pending:
            shown = [column.shown_tokens for column in columns]
            for column in columns:
                column.stop = True
            await asyncio.wait(pending)
            for column, count in zip(columns, shown):
                column.shown_tokens = count
        if not naive:
            for widget in widgets:
                widget.finish()
            while not all(widget.idle for widget in widgets):
                await asyncio.sleep(0.002)
            for column, widget in zip(columns, widgets):
                column.done_at = widget.flushed_at
        fresh = None
        if not naive and not pending:
            streamed = last_window_cpu(columns, min(1000, scenario.tokens // 5), scenario.tokens)
            renders = [column.renders for column in columns]
            fresh = streamed / await replay_last_window(widgets, columns, scenario)
            for column, kept in zip(columns, renders):
                column.renders = kept
        if presser is not None:
            presser.cancel()
            await asyncio.gather(presser, return_exceptions=True)
        await asyncio.sleep(0.1)
        for client in clients:
            await client.aclose()
    return summarise(scenario, app, columns, t0, stopped, fresh)


async def replay_last_window(widgets: list[TimedView], columns: list[Column],
                             scenario: Scenario) -> float:
    """UI-thread render CPU of the last window's tokens fed again into the emptied views at the
    stream's pace, through the same frame clock: the same text without the answer before it.
    Set against what those tokens cost at the end of the stream, it tells growth with N from
    content. Each replay starts where the block still growing at the window's start began (so
    a table is a table), but only frames after the window's first token count."""
    window = min(1000, scenario.tokens // 5)
    begins, firsts = [], []
    for widget, column in zip(widgets, columns):
        first = len(column.texts) - window
        _, _, live = split_blocks("".join(column.texts[:first]), final=False)
        begin, chars = first, 0
        while begin > 0 and chars < len(live):
            begin -= 1
            chars += len(column.texts[begin])
        begins.append(begin)
        firsts.append(first)
        widget.clear()
        column.renders = []
    starts = [0.0] * len(columns)
    started = time.perf_counter()
    step = 0
    while any(begin + step < len(column.texts) for begin, column in zip(begins, columns)):
        for index, (widget, column, begin) in enumerate(zip(widgets, columns, begins)):
            if begin + step < len(column.texts):
                widget.append(column.texts[begin + step])
                if begin + step == firsts[index]:
                    starts[index] = time.perf_counter()
        step += 1
        await asyncio.sleep(max(0.0, started + step / scenario.tps - time.perf_counter()))
    ended = time.perf_counter()
    while not all(widget.idle for widget in widgets):
        await asyncio.sleep(0.002)
    return sum(cost for column, start in zip(columns, starts)
               for at, cost in column.renders if start <= at <= ended)


def relay_overrides(scenario: Scenario) -> dict:
    """The demo models for a scenario: no first-token delay, its pace and length, no reasoning,
    and an answer that repeats a section as long as the growth windows (varied markdown within
    it), so the first and the last window hold the same text and their ratio is growth alone."""
    window = min(1000, scenario.tokens // 5)
    return {model: {"ttft": 0.0, "tps": scenario.tps, "answer_tokens": scenario.tokens,
                    "answer_period": window, "reasoning_tokens": 0} for model in MODELS}


def view_sink(view: StreamView):
    async def sink(text: str) -> None:
        view.append(text)

    return sink


def naive_sink(markdown: Markdown, column: Column):
    parts: list[str] = []

    async def sink(text: str) -> None:
        parts.append(text)
        start, cpu = time.perf_counter(), time.thread_time()
        await markdown.update("".join(parts))
        column.renders.append((start, time.thread_time() - cpu))
        column.shown_tokens = len(parts)
        column.done_at = time.perf_counter()

    return sink


async def press_keys(pilot, app: BenchApp) -> None:
    """A key every 0.5 s, each in its own task: `pilot.press` waits for the app to be idle."""
    tasks: set[asyncio.Task] = set()
    try:
        while True:
            await asyncio.sleep(0.5)
            app.presses.append(time.perf_counter())
            task = asyncio.create_task(pilot.press("k"))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()


def summarise(scenario: Scenario, app: BenchApp, columns: list[Column], t0: float,
              stopped: float | None, fresh: float | None) -> dict:
    # The stream's own duration: its first token plus the relay's schedule for the rest (the
    # naive reader is blocked by rendering, so its arrival times say nothing about the stream).
    duration = max(c.first_token - t0 for c in columns) + (scenario.tokens - 1) / scenario.tps
    if stopped is not None:
        # Showing k tokens took `stopped` s; with per-token cost not falling, the whole answer
        # takes at least N/k times that: a lower bound on the finish ratio.
        worst = min(c.shown_tokens for c in columns) or 1
        ratio = f"> {stopped * scenario.tps / worst:.1f}x (stopped at {stopped:.0f} s, " \
                f"{worst}/{scenario.tokens} tokens shown)"
    else:
        done = max(c.done_at for c in columns)
        shown = next((t for t in app.screen_updates if t >= done), done)
        ratio = f"{(shown - t0) / duration:.3f}x"
    window = min(1000, scenario.tokens // 5)
    return {
        "ratio": ratio,
        "growth": render_growth(columns, window, scenario.tokens) if stopped is None else "n/a",
        "fresh": f"{fresh:.2f}" if fresh else "n/a",
        "window": window,
        "gaps": percentiles(gaps(app.screen_updates, t0, t0 + duration)),
        "keys": key_figures(app) if scenario.keys else "-",
    }


def render_growth(columns: list[Column], window: int, tokens: int) -> str:
    """Render time spent while the first `window` tokens arrived vs the last `window`.

    Render time is CPU time of the UI thread (wall time on a shared machine also counts other
    processes' load, which drifts over a 100 s run). Gives the ratio of the sums (the target) and of the median frame (robust to a stray pause
    on a shared machine). Frames after the last token (the final freeze, a one-off) count for
    neither window.
    """
    first: list[float] = []
    last: list[float] = []
    for column in columns:
        if len(column.arrivals) < tokens:
            return "n/a"
        early_end = column.arrivals[window - 1]
        late_start = column.arrivals[tokens - window]
        for at, cost in column.renders:
            arrived = bisect_right(column.arrivals, at)
            if arrived <= window and at <= early_end + 0.1:
                first.append(cost)
            elif arrived > tokens - window and late_start <= at <= column.arrivals[-1]:
                last.append(cost)
    if not first or not last:
        return "n/a"
    median = statistics.median(last) / statistics.median(first)
    return f"{sum(last) / sum(first):.2f} (median frame {median:.2f})"


def last_window_cpu(columns: list[Column], window: int, tokens: int) -> float:
    """Render CPU of the frames while each column's last `window` tokens arrived (as in
    render_growth)."""
    total = 0.0
    for column in columns:
        late_start = column.arrivals[tokens - window]
        for at, cost in column.renders:
            if bisect_right(column.arrivals, at) > tokens - window and \
                    late_start <= at <= column.arrivals[-1]:
                total += cost
    return total


def key_figures(app: BenchApp) -> str:
    unanswered = f", {len(app.presses)} unanswered" if app.presses else ""
    return percentiles(app.key_latency) + unanswered


def gaps(times: list[float], start: float, end: float) -> list[float]:
    inside = [t for t in times if start <= t <= end]
    return [b - a for a, b in zip(inside, inside[1:])]


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    cuts = statistics.quantiles(values, n=20)
    return f"{statistics.median(values) * 1000:.0f} / {cuts[18] * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (CI)")
    parser.add_argument("--switch-interval", type=float, default=SWITCH_INTERVAL,
                        help=f"sys.setswitchinterval (default: the app's, {SWITCH_INTERVAL} s)")
    args = parser.parse_args()
    sys.setswitchinterval(args.switch_interval)
    if args.quick:
        scenarios = [Scenario("(a) 1 col, 200 chunks in 0.5 s", 1, 200, 400.0, False, 5.0),
                     Scenario("(b) 4 cols x 250 tok @ 50/s", 4, 250, 50.0, True, 3.0)]
    else:
        scenarios = [Scenario("(a) 1 col, 800 chunks in 2 s", 1, 800, 400.0, False, 20.0),
                     Scenario("(b) 4 cols x 5000 tok @ 50/s", 4, 5000, 50.0, True, 30.0)]
    rows = []
    for scenario in scenarios:
        relay = DemoRelay(time_scale=1.0, model_overrides=relay_overrides(scenario))
        url = relay.start()
        try:
            for naive in (False, True):
                name = "Markdown.update (naive)" if naive else "StreamView"
                print(f"running {scenario.label}: {name} ...", file=sys.stderr, flush=True)
                rows.append((scenario.label, name, asyncio.run(run(url, scenario, naive))))
        finally:
            relay.stop()
    print_table(rows)


def print_table(rows: list[tuple[str, str, dict]]) -> None:
    header = ("scenario", "widget", "finish/stream", "render last/first N tok",
              "last N tok / same text fresh", "update gap p50/p95", "key p50/p95")
    table = [header] + [(label, name, r["ratio"], f'{r["growth"]} (N={r["window"]})', r["fresh"],
                         r["gaps"], r["keys"]) for label, name, r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


if __name__ == "__main__":
    main()
