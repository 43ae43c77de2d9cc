"""Every benchmark of relay-tui against its baselines, side by side in one run, as one table.

Each figure is measured in the same run as its baseline (alternating, so load drifts hit both),
and the median over `--repeat` runs is reported. The demo relay runs in its own process, so its
CPU does not share the GIL with the client being measured.

Rows (targets from issue 6):
  1. throughput: `relay-tui bench` (core fanout.bench over RelayClient) req/s over a bare httpx
     asyncio loop's, and over the `openai` SDK's AsyncOpenAI (same server, model, concurrency,
     no injected delay);
  2. client overhead on TTFT: the app's TTFT (ThreadedClient, as in the TUI; first text as the
     caller receives it) minus the injected delay D, where D is a bare httpx request's TTFT at
     concurrency 1 against the same relay, at concurrency 1 and 50;
  3. start-up: `relay-tui --help` wall time, and time to the first frame of the TUI in a pty,
     each beside its baseline (`python -c pass`, a bare Textual app with one Static);
  4. streaming render: bench/stream_render.py's scenarios (StreamView vs naive Markdown.update);
  5. history: opening a 10,000-message conversation in the app, latency statistics over 100,000
     logged requests (bench/stats.py), database bytes per 1,000 logged requests;
  6. memory: peak RSS of the TUI after an 8-column compare of 5,000 tokens each over its RSS
     after start-up (a headless app in a subprocess);
  7. telemetry: bench req/s with every request logged and telemetry exporting to a collector
     that is down, over the same with telemetry off (target: within 2 %, issue 14).

    python bench/run.py [--repeat N] [--json PATH] [--full-render] [--smoke] [--rows ID,...]
    python bench/run.py --check [--rows ID,...]     # before submitting a change
    python bench/run.py --record [--rows ID,...]    # write the figures into bench/RESULTS.md

Every row has a stable id (its group first: throughput-httpx-c50, render-1x800-at-400, ...) and
a checked figure: its ratio to the baseline measured beside it where it has one, since absolute
times on a shared machine move 2x from day to day. --check re-measures the rows selected (all by
default; a group is measured whole) and exits 1 naming every row whose checked figure is more
than 10 % worse than the one bench/RESULTS.md records; a row that fails is measured once more
and keeps its better figure. --record replaces the recorded rows of the ids measured. Both use
the full render sizes, the ones recorded. A new row needs only an id and a checked figure.

--smoke runs everything with tiny sizes in seconds (the test suite runs it to check the scripts);
its figures mean nothing. The openai row needs `pip install openai` (bench/requirements.txt); it
is skipped, and the table says so, when the SDK is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import results  # noqa: E402

MODEL = "gpt-4.1"
PROMPT = [{"role": "user", "content": "Say hello in one short sentence."}]
SCREEN = (120, 40)


@dataclass(frozen=True)
class Sizes:
    requests: int          # throughput: requests per run
    concurrency: int
    ttft_scale: float      # the TTFT relay's time_scale (gpt-4.1's first token: 0.8 s x this)
    ttft_requests: int     # per run at concurrency 1 (x 5 at concurrency 50)
    startup_runs: int
    conversation: int      # messages
    logged: int            # requests for the stats
    compare_tokens: int
    render: str            # "smoke", "quick" or "full"
    opens: int             # times the long conversation is opened


FULL = Sizes(1000, 50, 0.0625, 30, 10, 10_000, 100_000, 5000, "quick", 3)
SMOKE = Sizes(40, 8, 0.02, 4, 2, 400, 2_000, 200, "smoke", 1)


@dataclass
class Row:
    name: str
    value: str
    baseline: str = "-"
    ratio: float | None = None
    target: str = "-"
    met: bool | None = None
    note: str = ""
    id: str = ""                   # stable: bench/RESULTS.md and --check know the row by it
    checked: float | None = None   # the figure --check compares: the ratio to the baseline, where
    higher_is_better: bool = False  # the row has one (absolute times vary 2x day to day here)
    slack: float = 0.0             # in the checked figure's unit: changes this small are noise
    load: float = dataclasses.field(default_factory=results.load)  # when it was measured

    def cells(self) -> tuple[str, ...]:
        verdict = {True: "yes", False: "NO", None: "-"}[self.met]
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}"
        return (self.id, self.name, self.value, self.baseline, ratio, self.target, verdict,
                self.checked_cell(), f"{self.load:.2f}", self.note)

    def checked_cell(self) -> str:
        if self.checked is None:
            return "-"
        return f"{self.checked:.3g} ({'higher' if self.higher_is_better else 'lower'} is better)"

    def regressed(self, recorded: float, tolerance: float) -> bool:
        """Whether the checked figure is worse than `recorded` by more than `tolerance` of it
        plus `slack`."""
        allowed = abs(recorded) * tolerance + self.slack
        if self.higher_is_better:
            return self.checked < recorded - allowed
        return self.checked > recorded + allowed


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median(values) -> float:
    return statistics.median(values)


def quantile(values: list[float], p: float) -> float:
    from relay_tui.core.fanout import percentile

    return percentile(values, p)


# -- the relay in its own process ---------------------------------------------------------------

def serve_relay(spec: str) -> None:
    """Child process: a DemoRelay with `spec` (JSON: time_scale, model_overrides) until killed."""
    from relay_tui.demo import DemoRelay

    options = json.loads(spec)
    relay = DemoRelay(time_scale=options["time_scale"], model_overrides=options.get("overrides"),
                      granted_usd=1e9)

    def ready(url: str) -> None:
        print(url, flush=True)

    asyncio.run(relay.serve_forever(on_ready=ready))


@contextmanager
def relay_process(time_scale: float, overrides: dict | None = None):
    spec = json.dumps({"time_scale": time_scale, "overrides": overrides})
    proc = subprocess.Popen([sys.executable, __file__, "--serve-relay", spec], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise SystemExit("bench: the demo relay process did not start")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def profile_for(url: str):
    from relay_tui.store.profile import Profile

    return Profile(name="bench", base_url=url, first_byte_timeout=60.0, idle_timeout=60.0)


# -- 1. throughput ------------------------------------------------------------------------------

async def app_bench(url: str, n: int, c: int) -> float:
    """What `relay-tui bench -n N -c C` measures: core fanout.bench over a RelayClient."""
    from relay_tui.core.client import RelayClient
    from relay_tui.core.fanout import bench
    from relay_tui.demo import DEMO_KEY

    async with RelayClient(profile_for(url), DEMO_KEY) as client:
        await bench(client, [MODEL], min(n, c), c, PROMPT)  # warm-up, as for the baselines
        result = await bench(client, [MODEL], n, c, PROMPT)
    if result.per_model[0].errors:
        raise SystemExit(f"bench: relay-tui bench had errors: {result.per_model[0].error_kinds}")
    return result.requests_per_s


async def httpx_bench(url: str, n: int, c: int) -> float:
    """A bare httpx asyncio loop: the same streamed requests, bytes read and dropped."""
    import httpx

    from relay_tui.demo import DEMO_KEY

    body = {"model": MODEL, "messages": PROMPT, "stream": True,
            "stream_options": {"include_usage": True}}
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {DEMO_KEY}"}, timeout=60,
                                 limits=httpx.Limits(max_connections=None,
                                                     max_keepalive_connections=200)) as http:
        return await _loop(n, c, lambda: _httpx_one(http, url, body))


async def _httpx_one(http, url: str, body: dict) -> None:
    async with http.stream("POST", url + "/chat/completions", json=body) as response:
        async for _ in response.aiter_bytes():
            pass
        if response.status_code != 200:
            raise SystemExit(f"bench: bare httpx got HTTP {response.status_code}")


async def openai_bench(url: str, n: int, c: int) -> float:
    """The official SDK's async client, same requests, every chunk parsed by the SDK."""
    from openai import AsyncOpenAI

    from relay_tui.demo import DEMO_KEY

    async with AsyncOpenAI(base_url=url, api_key=DEMO_KEY, max_retries=0) as client:
        async def one() -> None:
            stream = await client.chat.completions.create(
                model=MODEL, messages=PROMPT, stream=True, stream_options={"include_usage": True})
            async for _ in stream:
                pass

        return await _loop(n, c, one)


async def _loop(n: int, c: int, one, warm_up: bool = True) -> float:
    """Requests per second of `n` calls of `one` at concurrency `c`, after `c` untimed calls
    (connections opened, lazy imports done: a first call measures start-up, not throughput)."""
    if warm_up:
        await _loop(min(n, c), c, one, warm_up=False)
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(n, c))))
    return n / (time.perf_counter() - started)


def have_openai() -> bool:
    try:
        import openai  # noqa: F401
    except ImportError:
        return False
    return True


def throughput(url: str, sizes: Sizes, repeat: int) -> list[Row]:
    runners = {"relay-tui": app_bench, "httpx": httpx_bench}
    if have_openai():
        runners["openai"] = openai_bench
    rates: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}  # client CPU s per request
    for round_ in range(repeat):
        names = list(runners)
        names = names[round_ % len(names):] + names[:round_ % len(names)]  # rotate the order
        for name in names:
            started = time.process_time()
            rates[name].append(asyncio.run(runners[name](url, sizes.requests, sizes.concurrency)))
            cpu[name].append((time.process_time() - started) / (sizes.requests + sizes.concurrency))
    label = f"n={sizes.requests}, c={sizes.concurrency}, time_scale 0"
    rows = [ratio_row(f"throughput vs bare httpx ({label})", rates, cpu, "httpx", 0.9,
                      f"throughput-httpx-c{sizes.concurrency}")]
    if "openai" in rates:
        rows.append(ratio_row(f"throughput vs openai AsyncOpenAI ({label})", rates, cpu, "openai", 1.0,
                              f"throughput-openai-c{sizes.concurrency}"))
    else:
        rows.append(Row(f"throughput vs openai AsyncOpenAI ({label})", "skipped", target=">= 1.00",
                        note="openai not installed: pip install -r bench/requirements.txt",
                        id=f"throughput-openai-c{sizes.concurrency}"))
    return rows


def ratio_row(name: str, rates: dict[str, list[float]], cpu: dict[str, list[float]], base: str,
              target: float, row_id: str) -> Row:
    """Wall-clock req/s ratio (the target), and client CPU per request beside it: on a loaded
    machine the wall ratio swings with other processes, CPU per request much less."""
    ratios = [a / b for a, b in zip(rates["relay-tui"], rates[base])]
    ratio = median(ratios)
    mine, theirs = median(cpu["relay-tui"]), median(cpu[base])
    return Row(name, f"{median(rates['relay-tui']):.0f} req/s", f"{median(rates[base]):.0f} req/s",
               ratio, f">= {target:.2f}", ratio >= target,
               f"median of {len(ratios)} paired runs, ratios {min(ratios):.2f}-{max(ratios):.2f}; "
               f"client CPU/request {mine * 1e6:.0f} vs {theirs * 1e6:.0f} us ({theirs / mine:.2f})",
               id=row_id, checked=ratio, higher_is_better=True)


async def logged_bench(url: str, n: int, c: int, home: Path) -> float:
    """`app_bench` with every request logged as it lands (core/records.py, where telemetry's hook
    is), the way the latency pane's probe logs."""
    from relay_tui.core.client import RelayClient
    from relay_tui.core.fanout import bench
    from relay_tui.core.records import log_bench_record
    from relay_tui.demo import DEMO_KEY
    from relay_tui.store.history import History

    shm = Path("/dev/shm")   # in memory where there is one: a disk's fsync per row is noise here
    folder = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else home))
    with History(folder / "telemetry.db") as history:
        def log(record) -> None:
            log_bench_record(history, record, profile="bench", kind="bench")

        async with RelayClient(profile_for(url), DEMO_KEY) as client:
            await bench(client, [MODEL], min(n, c), c, PROMPT, on_record=log)
            result = await bench(client, [MODEL], n, c, PROMPT, on_record=log)
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return result.requests_per_s


def telemetry_overhead(url: str, sizes: Sizes, repeat: int, home: Path) -> list[Row]:
    """Row 7: bench with telemetry exporting to a collector that is down (a loopback port nobody
    listens on) over the same bench with telemetry off, alternating, each logging every request."""
    from relay_tui.core import telemetry
    from relay_tui.core.telemetry.config import sdk_installed
    from relay_tui.store.config import TelemetrySettings

    name = f"telemetry on, collector down, vs off (n={sizes.requests}, c={sizes.concurrency})"
    if not sdk_installed():
        return [Row(name, "skipped", target=">= 0.98", note="pip install 'relay-tui[otel]'",
                    id=f"telemetry-c{sizes.concurrency}")]
    from tests.support.server_process import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    rates: dict[str, list[float]] = {"relay-tui": [], "off": []}
    cpu: dict[str, list[float]] = {"relay-tui": [], "off": []}
    problems: list[str] = []
    for round_ in range(repeat):
        for mode in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
            key = "relay-tui" if mode == "on" else "off"
            if mode == "on":
                os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = dead
                telemetry.start(TelemetrySettings(), report=problems.append)
            started = time.process_time()
            rates[key].append(asyncio.run(logged_bench(url, sizes.requests, sizes.concurrency, home)))
            cpu[key].append((time.process_time() - started) / (sizes.requests + sizes.concurrency))
            telemetry.stop(0)
            os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    row = ratio_row(name, rates, cpu, "off", 0.98, f"telemetry-c{sizes.concurrency}")
    row.note += f"; the collector's failure was reported {len(problems)} time(s) a run"
    return [row]


# -- 2. client overhead on TTFT -----------------------------------------------------------------

async def app_ttfts(url: str, n: int, c: int) -> list[float]:
    """TTFT as the app's caller receives it: from calling stream_chat to the first text Delta,
    through the TUI's ThreadedClient (reading on the network thread)."""
    from relay_tui.core.events import Delta
    from relay_tui.core.netloop import ThreadedClient
    from relay_tui.demo import DEMO_KEY

    client = ThreadedClient(profile_for(url), DEMO_KEY)
    times: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        first = None
        async for event in client.stream_chat(PROMPT, MODEL, max_tokens=4, max_retries=0):
            if first is None and isinstance(event, Delta) and event.text:
                first = time.perf_counter() - started
        times.append(first)

    try:
        await _loop(c, c, one, warm_up=False)  # warm-up: connections open, imports done
        times.clear()
        await _loop(n, c, one, warm_up=False)
    finally:
        await client.aclose()
    return times


async def httpx_ttfts(url: str, n: int, c: int) -> list[float]:
    """A bare httpx request's TTFT: from sending to the first chunk carrying text."""
    import httpx

    from relay_tui.demo import DEMO_KEY

    text = re.compile(rb'"content":"[^"]')
    body = {"model": MODEL, "messages": PROMPT, "stream": True, "max_tokens": 4,
            "stream_options": {"include_usage": True}}
    times: list[float] = []
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {DEMO_KEY}"}, timeout=60,
                                 limits=httpx.Limits(max_connections=None)) as http:
        async def one() -> None:
            started = time.perf_counter()
            first = None
            async with http.stream("POST", url + "/chat/completions", json=body) as response:
                async for chunk in response.aiter_bytes():
                    if first is None and text.search(chunk):
                        first = time.perf_counter() - started
            times.append(first)

        await _loop(c, c, one, warm_up=False)
        times.clear()
        await _loop(n, c, one, warm_up=False)
    return times


def ttft_overhead(sizes: Sizes, repeat: int) -> list[Row]:
    rows = []
    with relay_process(sizes.ttft_scale) as url:
        delays, app = {1: [], 50: []}, {1: [], 50: []}
        bare50: list[float] = []
        for _ in range(repeat):
            delays[1] += asyncio.run(httpx_ttfts(url, sizes.ttft_requests, 1))
            app[1] += asyncio.run(app_ttfts(url, sizes.ttft_requests, 1))
            bare50 += asyncio.run(httpx_ttfts(url, sizes.ttft_requests * 5, 50))
            app[50] += asyncio.run(app_ttfts(url, sizes.ttft_requests * 5, 50))
    injected = median(delays[1])  # D: what the relay's delay looks like to the barest client
    for c in (1, 50):
        over = [t - injected for t in app[c]]
        base = [t - injected for t in (delays[1] if c == 1 else bare50)]
        p50, p99, base50 = quantile(over, 50), quantile(over, 99), quantile(base, 50)
        # At c=1 the baseline's overhead is ~0 by definition (D is its median), so the check
        # compares our overhead itself, with 0.5 ms of slack; at c=50 both queue, so the ratio.
        checked = dict(checked=p50 * 1000, slack=0.5) if c == 1 else dict(checked=p50 / base50)
        rows.append(Row(
            f"TTFT client overhead, c={c} (D = {ms(injected)})",
            f"p50 {ms(p50)}, p99 {ms(p99)}",
            f"httpx p50 {ms(base50)}, p99 {ms(quantile(base, 99))}",
            None if c == 1 else p50 / base50, "p50 <= 2 ms" if c == 1 else "-", p50 <= 0.002 if c == 1 else None,
            f"{len(over)} requests; app = ThreadedClient, first text as the caller gets it; "
            f"checked: {'p50 ms' if c == 1 else 'p50 / httpx p50'}", id=f"ttft-c{c}", **checked))
    return rows


# -- 3. start-up --------------------------------------------------------------------------------

BARE_APP = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("Latency")
Bare().run()
"""
FRAME_MARKER = "Latency"  # the TUI's last tab label; the bare app's only text


def wall(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def first_frame(argv: list[str], env: dict, timeout: float = 30.0) -> float:
    """Seconds from spawning `argv` in a pty until the screen shows FRAME_MARKER: the first
    frame with the app's own content, the same test for both (tests/support/pty_app.py replays
    the output as it arrived, so polling does not round the time)."""
    from tests.support.pty_app import PtyApp

    with PtyApp([], env, *SCREEN, command=argv) as app:
        try:
            app.wait_for(FRAME_MARKER, timeout, f"the first frame of {' '.join(argv[1:3])}")
        except AssertionError as exc:
            raise SystemExit(f"bench: {exc}") from None
        return next(at for at, screen in app.replay() if FRAME_MARKER in screen) - app.started


def startup(url: str, sizes: Sizes, home: Path) -> list[Row]:
    from relay_tui.demo import DEMO_KEY

    env = {**os.environ, "RELAY_TUI_HOME": str(home / "startup"), "RELAY_TUI_API_KEY": DEMO_KEY}
    # As a user's Python does, write bytecode caches (PYTHONDONTWRITEBYTECODE, set on some CI
    # machines, made every start compile our modules), and run each command once untimed first.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    python = [sys.executable]
    wall(python + ["-m", "relay_tui", "--help"], env)
    first_frame(python + ["-c", BARE_APP], env)
    first_frame(python + ["-m", "relay_tui", "--base-url", url], env)
    helps, passes = [], []
    for _ in range(sizes.startup_runs):
        passes.append(wall(python + ["-c", "pass"], env))
        helps.append(wall(python + ["-m", "relay_tui", "--help"], env))
    tui, bare = [], []
    for _ in range(max(1, sizes.startup_runs // 2)):
        bare.append(first_frame(python + ["-c", BARE_APP], env))
        tui.append(first_frame(python + ["-m", "relay_tui", "--base-url", url], env))
    help_s, pass_s, tui_s, bare_s = median(helps), median(passes), median(tui), median(bare)
    return [
        Row("start-up: relay-tui --help", ms(help_s), f"python -c pass {ms(pass_s)}", help_s / pass_s,
            "<= 0.3 s and <= 2.00", help_s <= 0.3 and help_s <= 2 * pass_s,
            f"median of {len(helps)} subprocess runs", id="startup-help", checked=help_s / pass_s),
        Row("start-up: first frame of the TUI", ms(tui_s), f"bare Textual app {ms(bare_s)}",
            tui_s / bare_s, "<= 1.30", tui_s / bare_s <= 1.3,
            f"pty {SCREEN[0]}x{SCREEN[1]}, spawn to '{FRAME_MARKER}' on screen; median of {len(tui)}",
            id="startup-first-frame", checked=tui_s / bare_s),
    ]


# -- 4. streaming render ------------------------------------------------------------------------

def stream_render(sizes: Sizes) -> list[Row]:
    import stream_render as sr

    if sizes.render == "smoke":
        scenarios = [sr.Scenario("(a) 1 col, 100 chunks in 0.25 s", 1, 100, 400.0, False, 1.0),
                     sr.Scenario("(b) 2 cols x 25 tok @ 50/s", 2, 25, 50.0, True, 1.0)]
    elif sizes.render == "quick":
        scenarios = [sr.Scenario("(a) 1 col, 200 chunks in 0.5 s", 1, 200, 400.0, False, 5.0),
                     sr.Scenario("(b) 4 cols x 250 tok @ 50/s", 4, 250, 50.0, True, 3.0)]
    else:
        scenarios = [sr.Scenario("(a) 1 col, 800 chunks in 2 s", 1, 800, 400.0, False, 20.0),
                     sr.Scenario("(b) 4 cols x 5000 tok @ 50/s", 4, 5000, 50.0, True, 30.0)]
    rows = []
    for scenario, target in zip(scenarios, (1.5, 1.05)):
        out = subprocess.run([sys.executable, __file__, "--render-child",
                              json.dumps(dataclasses.asdict(scenario))],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit(f"bench: the stream render run failed: {out.stderr.strip()[-500:]}")
        view, naive = json.loads(out.stdout.strip().splitlines()[-1])
        finish = float(view["ratio"].rstrip("x"))
        rows.append(Row(f"stream render {scenario.label}: finish/stream ({sizes.render} sizes)",
                        view["ratio"], f"Markdown.update {naive['ratio']}", None,
                        f"<= {target}x", finish <= target,
                        f"render last/first {view['growth']} (N={view['window']}, target <= 1.2), "
                        f"last N / same text in a fresh view {view['fresh']}; "
                        f"update gap p50/p95 {view['gaps']}; keys p50/p95 {view['keys']}",
                        id=f"render-{scenario.columns}x{scenario.tokens}-at-{scenario.tps:g}",
                        checked=finish))
    return rows


def render_child(spec: str) -> None:
    """Child process: one stream_render scenario, ours then the naive baseline, as JSON. A
    process of its own, like the app: run after the other rows in one process, the collector's
    work over their leftover heap made the last window's frames 1.24x the first's (0.97-1.00
    alone, 0.96 with collection off)."""
    import stream_render as sr

    from relay_tui.demo import DemoRelay

    scenario = sr.Scenario(**json.loads(spec))
    sys.setswitchinterval(sr.SWITCH_INTERVAL)
    relay = DemoRelay(time_scale=1.0, model_overrides=sr.relay_overrides(scenario))
    url = relay.start()
    try:
        view = asyncio.run(sr.run(url, scenario, naive=False))
        naive = asyncio.run(sr.run(url, scenario, naive=True))
    finally:
        relay.stop()
    print(json.dumps([view, naive]), flush=True)


# -- 5. history ---------------------------------------------------------------------------------

def fill_conversation(history, messages: int) -> int:
    """A conversation of `messages` stored messages (alternating prompt and finished answer)."""
    conv_id = history.new_conversation(title="long", profile="bench", model=MODEL)
    now = time.time()
    answer = "A paragraph of an answer with `code` and **bold** text. " * 8
    rows = [(conv_id, "user" if i % 2 == 0 else "assistant",
             f"question {i}?" if i % 2 == 0 else f"{answer}\n\nanswer {i}",
             None if i % 2 == 0 else MODEL, "done", now + i, now + i) for i in range(messages)]
    with history._write() as db:
        db.executemany("INSERT INTO messages (conversation_id, role, content, model, state, "
                       "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return conv_id


async def open_in_app(url: str, conv_id: int, messages: int) -> tuple[float, float]:
    """(store load, user-felt open): the store's read, and the chat pane opening the
    conversation until its last answer is on screen."""
    from textual.containers import VerticalScroll

    from relay_tui.app import AppOptions, make_app
    from relay_tui.ui.chat_messages import AnswerBlock, AnswerView
    from relay_tui.ui.chat_pane import ChatPane

    app = make_app(AppOptions(base_url=url))
    async with app.run_test(size=SCREEN) as pilot:
        await pilot.pause(0.7)  # the app's idle work after its first frame is done, as for a user
        pane = app.query_one(ChatPane)
        started = time.perf_counter()
        rows = app.history.messages(conv_id)
        load = time.perf_counter() - started
        assert len(rows) == messages
        started = time.perf_counter()
        pane.open_conversation(conv_id)
        last = f"answer {messages - 1}"
        transcript = pane.query_one("#chat-transcript", VerticalScroll)
        while True:
            await asyncio.sleep(0.001)
            blocks = transcript.query(AnswerBlock)
            views = blocks.last().query(AnswerView) if blocks else None
            if views and views.first().text.endswith(last) and views.first().idle:
                break
            if time.perf_counter() - started > 30:
                raise SystemExit("bench: the conversation did not open in 30 s")
        await pilot.pause()  # the frame that shows it
        return load, time.perf_counter() - started


def history_rows(url: str, sizes: Sizes, home: Path, records: list) -> list[Row]:
    import stats as stats_bench

    from relay_tui.core import stats
    from relay_tui.core.records import log_bench_record
    from relay_tui.store.history import History

    rows = []
    loads, opens = [], []
    with History() as history:
        conv_id = fill_conversation(history, sizes.conversation)
    for _ in range(sizes.opens):
        load, opened = asyncio.run(open_in_app(url, conv_id, sizes.conversation))
        loads.append(load)
        opens.append(opened)
    opened = median(opens)
    rows.append(Row(f"history: open a {sizes.conversation:,}-message conversation", ms(opened),
                    f"store reads all: {ms(median(loads))}", opened / median(loads), "<= 300 ms", opened <= 0.3,
                    "chat pane: open_conversation until the last answer is shown; "
                    f"median of {len(opens)}; checked: open / store read",
                    id=f"history-open-{sizes.conversation}", checked=opened / median(loads)))
    now = time.time()
    with History(home / "stats.db") as history:
        stats_bench.fill(history, sizes.logged, now)
        took = max(stats_bench.timed(lambda s=seconds: stats.latency_table(
            history, since=None if s is None else now - s), repeat=3)[0]
            for _, seconds in stats.WINDOWS)
    scan = stats_bench.timed(lambda: _scan(home / "stats.db"), repeat=3)[0]
    rows.append(Row(f"history: latency stats over {sizes.logged:,} requests", ms(took),
                    f"one scan of the rows: {ms(scan)}", took / scan, "<= 200 ms", took <= 0.2,
                    "slowest window of the latency table, best of 3; the scan reads the columns "
                    "it uses from every row (sqlite3)",
                    id=f"history-stats-{sizes.logged}", checked=took / scan))
    path = home / "size.db"
    History(path).close()  # the schema alone
    empty = _db_bytes(path)
    with History(path) as history:
        for record in records:
            log_bench_record(history, record, profile="bench", kind="bench")
    per_1000 = (_db_bytes(path) - empty) * 1000 / len(records)
    rows.append(Row("history: database size per 1,000 requests", f"{per_1000 / 1024:.0f} KiB", "-",
                    None, "-", None, f"{len(records)} bench requests logged as `relay-tui bench` does",
                    id="history-db-size", checked=per_1000 / 1024))
    return rows


def _scan(path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return len(db.execute("SELECT profile, model, error_kind, ttft, total, tokens_per_s "
                              "FROM requests").fetchall())
    finally:
        db.close()


def _db_bytes(path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def bench_records(url: str, n: int) -> list:
    from relay_tui.core.client import RelayClient
    from relay_tui.core.fanout import bench
    from relay_tui.demo import DEMO_KEY

    async with RelayClient(profile_for(url), DEMO_KEY) as client:
        return (await bench(client, [MODEL], n, 50, PROMPT)).records


# -- 6. memory ----------------------------------------------------------------------------------

def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


async def memory_child(url: str) -> None:
    """Child process: the TUI headless; RSS after start-up, then an 8-column compare."""
    from textual.widgets import Input

    from relay_tui.app import AppOptions, make_app
    from relay_tui.ui.compare_pane import ComparePane

    app = make_app(AppOptions(base_url=url))
    async with app.run_test(size=SCREEN) as pilot:
        await pilot.pause(0.2)
        startup_rss = status_kib("VmRSS")
        await pilot.press("f3")
        pane = app.query_one(ComparePane)
        started = time.perf_counter()
        while not pane.chosen_models():
            await pilot.pause(0.02)
            if time.perf_counter() - started > 30:
                raise SystemExit("bench: the compare pane got no models in 30 s")
        pane.query_one("#cmp-models", Input).value = ", ".join(
            ["gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2"] * 2)
        pane.query_one("#cmp-prompt", Input).value = "A long report, please."
        pane.query_one("#cmp-prompt", Input).focus()
        await pilot.press("enter")
        started = time.perf_counter()
        while not (pane.result is not None and all(c.view.idle for c in pane.columns)):
            await pilot.pause(0.05)
            if time.perf_counter() - started > 120:
                raise SystemExit("bench: the compare did not finish in 120 s")
        await pilot.pause()
        tokens = [c.done.metrics.output_tokens for c in pane.columns if c.done is not None]
        print(json.dumps({"startup_kib": startup_rss, "peak_kib": status_kib("VmHWM"),
                          "after_kib": status_kib("VmRSS"), "columns": len(tokens),
                          "tokens": min(tokens) if tokens else 0}), flush=True)


def memory(sizes: Sizes, home: Path) -> list[Row]:
    from relay_tui.demo import DEMO_KEY

    overrides = {m: {"answer_tokens": sizes.compare_tokens, "reasoning_tokens": 0}
                 for m in ("gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2")}
    env = {**os.environ, "RELAY_TUI_HOME": str(home / "memory"), "RELAY_TUI_API_KEY": DEMO_KEY}
    with relay_process(0.0, overrides) as url:
        out = subprocess.run([sys.executable, __file__, "--memory-child", url], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        raise SystemExit(f"bench: the memory run failed: {out.stderr.strip()[-500:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = figures["peak_kib"] / figures["startup_kib"]
    return [Row(f"memory: peak RSS after 8-column compare x {figures['tokens']:,} tokens",
                f"{figures['peak_kib'] / 1024:.0f} MiB", f"after start-up {figures['startup_kib'] / 1024:.0f} MiB",
                ratio, "-", None,
                f"VmHWM over VmRSS; {figures['after_kib'] / 1024:.0f} MiB when done",
                id=f"memory-8x{sizes.compare_tokens}", checked=ratio)]


# -- the table, RESULTS.md and --check -----------------------------------------------------------

GROUPS = ("throughput", "ttft", "startup", "render", "history", "memory", "telemetry")  # ids' first word
COLUMNS = ("id", "benchmark", "relay-tui", "baseline", "ratio", "target", "met", "checked", "load",
           "how")
TOLERANCE = 0.10  # --check: a row this much worse than its recorded figure fails


def table(rows: list[Row]) -> str:
    """The terminal's table: the row's name first (the id beside the figures, for --rows)."""
    order = (1, 2, 3, 4, 5, 6, 7, 8, 0, 9)
    lines = [[COLUMNS[i] for i in order]] + [[row.cells()[i] for i in order] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(order) - 1)]
    out = []
    for index, line in enumerate(lines):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1])
        if index == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 3)
    return "\n".join(line.rstrip() for line in out)


def selected(row_id: str, patterns: list[str] | None) -> bool:
    """A row is selected by its id, a glob over ids, or a prefix ending at a dash ("render")."""
    from fnmatch import fnmatch

    return patterns is None or any(fnmatch(row_id, p) or row_id.startswith(p + "-") for p in patterns)


def groups_for(patterns: list[str] | None) -> list[str]:
    """The groups to run for `patterns`: those their first word (before a dash) matches."""
    from fnmatch import fnmatch

    if patterns is None:
        return list(GROUPS)
    found = [g for g in GROUPS if any(fnmatch(g, p.split("-")[0]) for p in patterns)]
    if not found:
        raise SystemExit(f"bench: --rows {','.join(patterns)} names no row group ({', '.join(GROUPS)})")
    return found


def recorded_rows(path: Path) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in results.parse_table(results.section("run.py", path))
            if row.get("id")}


def record(rows: list[Row], path: Path, command: str) -> None:
    """Write `rows` into RESULTS.md's run.py table: each replaces the recorded row of its id
    (others stay, with their own dates), new ids join their group."""
    kept = recorded_rows(path)
    date = results.today()
    for row in rows:
        if row.id:
            kept[row.id] = {**dict(zip(COLUMNS, row.cells())), "date": date}
    ordered = sorted(kept.values(), key=lambda r: GROUPS.index(r["id"].split("-")[0])
                     if r["id"].split("-")[0] in GROUPS else len(GROUPS))
    header = list(COLUMNS[:-1]) + ["date", COLUMNS[-1]]
    results.replace_section("run.py", (
        f"Last recorded {date} by `{command}; machine: {results.machine()}. `checked` is what "
        "`--check` compares (within 10 %); `load` is the 1-minute load average when the row was "
        "measured.\n\n") + results.markdown_table(header, [[r.get(c, "-") for c in header]
                                                           for r in ordered]), path)


def check(rows: list[Row], recorded: dict[str, dict[str, str]], rerun) -> list[str]:
    """Compare each row's checked figure with RESULTS.md's; a row more than TOLERANCE worse is
    measured once more (`rerun(groups)`) and keeps the better of its two figures, so one
    unlucky moment on a shared machine is not a regression. Prints a table; returns the ids
    still worse."""
    def regressed(batch: list[Row]) -> set[str]:
        return {r.id for r in batch if r.id in recorded and r.checked is not None and
                _number(recorded[r.id]["checked"]) is not None and
                r.regressed(_number(recorded[r.id]["checked"]), TOLERANCE)}

    worse = regressed(rows)
    if worse:
        print(f"bench: {len(worse)} row(s) more than {TOLERANCE:.0%} worse; measuring their groups "
              "once more", file=sys.stderr, flush=True)
        again = {r.id: r for r in rerun(sorted({w.split("-")[0] for w in worse}))}
        for index, row in enumerate(rows):
            other = again.get(row.id)
            if row.id in worse and other is not None and other.checked is not None:
                best = max if row.higher_is_better else min
                rows[index] = other if best(row.checked, other.checked) == other.checked else row
        worse = regressed(rows)
    lines = [["id", "recorded", "now", "change", "verdict"]]
    for row in rows:
        mine = recorded.get(row.id)
        figure = None if mine is None else _number(mine["checked"])
        if figure is None or row.checked is None:
            lines.append([row.id, "-" if mine is None else mine["checked"], row.checked_cell(), "-",
                          "not recorded" if figure is None else "not measured"])
            continue
        lines.append([row.id, f"{figure:.3g} (load {mine.get('load', '?')}, {mine.get('date', '?')})",
                      f"{row.checked:.3g} (load {row.load:.2f})",
                      _change(row, figure),
                      "WORSE" if row.id in worse else "ok"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines))
    return [row.id for row in rows if row.id in worse]


def _change(row: Row, recorded: float) -> str:
    """"12 % better" / "3 % worse" than recorded, whichever way is better for the row."""
    if not recorded:
        return "-"
    gain = (row.checked - recorded) / abs(recorded) * (1 if row.higher_is_better else -1)
    return f"{abs(gain):.0%} {'better' if gain >= 0 else 'worse'}"


def _number(cell: str) -> float | None:
    match = re.match(r"\s*(-?[0-9.]+(?:e-?[0-9]+)?)", cell or "")
    return float(match[1]) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, help="runs per figure (median; default 5, 3 with --check)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the scripts work")
    parser.add_argument("--full-render", action="store_true",
                        help="stream_render's full sizes (about 5 minutes) instead of --quick")
    parser.add_argument("--rows", "--only", action="append", metavar="ID",
                        help="run just these rows: an id, a glob (throughput-*) or a group "
                             f"({', '.join(GROUPS)}); repeatable, or comma-separated")
    parser.add_argument("--check", action="store_true",
                        help="fail (exit 1) for rows more than 10%% worse than bench/RESULTS.md")
    parser.add_argument("--record", action="store_true",
                        help="write the rows measured into bench/RESULTS.md")
    parser.add_argument("--results", type=Path, default=results.PATH, metavar="FILE",
                        help="record into / check against FILE instead of bench/RESULTS.md")
    parser.add_argument("--serve-relay", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--render-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_relay:
        serve_relay(args.serve_relay)
        return 0
    if args.memory_child:
        asyncio.run(memory_child(args.memory_child))
        return 0
    if args.render_child:
        render_child(args.render_child)
        return 0
    if args.smoke and (args.check or args.record) and args.results == results.PATH:
        parser.error("--smoke figures mean nothing: not with --check or --record on "
                     f"{results.PATH.name} (give --results FILE to try the check itself)")
    if args.check and args.record:
        parser.error("--check compares with the recorded figures; record in a run of its own")
    patterns = [p for arg in args.rows for p in arg.split(",") if p] if args.rows else None
    sizes = SMOKE if args.smoke else FULL
    if (args.full_render or args.check or args.record) and not args.smoke:
        sizes = Sizes(**{**sizes.__dict__, "render": "full"})  # the sizes RESULTS.md holds
    repeat = 1 if args.smoke else max(1, args.repeat or (3 if args.check else 5))
    recorded = recorded_rows(args.results) if args.check else {}
    if args.check and not recorded:
        raise SystemExit(f"bench: no recorded rows in {args.results}: run with --record first")

    def measure(groups: list[str]) -> list[Row]:
        return [row for row in run_groups(groups, sizes, repeat, args.smoke)
                if selected(row.id, patterns)]

    rows = measure(groups_for(patterns))
    if not rows:
        raise SystemExit(f"bench: --rows {','.join(patterns or [])} matched no row")
    print(table(rows))
    print(f"\nmachine: {results.machine()}, load average {results.load():.2f} at the end; "
          f"medians of {repeat} run(s)" + (" (smoke sizes)" if args.smoke else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": results.machine(), "repeat": repeat,
                                               "smoke": args.smoke,
                                               "rows": [row.__dict__ for row in rows]}, indent=2))
    if args.record:
        record(rows, args.results, f"python bench/run.py --record` ({repeat} repeats"
               + (f", --rows {','.join(patterns)}" if patterns else "") + ")")
    if args.check:
        print()
        if not any(row.id in recorded for row in rows):
            raise SystemExit(f"bench: none of these rows is recorded in {args.results}: nothing to "
                             "compare (run with --record first)")
        worse = check(rows, recorded, measure)
        if worse:
            print(f"\nbench --check: {len(worse)} row(s) more than {TOLERANCE:.0%} worse than "
                  f"{args.results.name}: {', '.join(worse)}", file=sys.stderr)
            return 1
        print(f"\nbench --check: no row more than {TOLERANCE:.0%} worse than {args.results.name}")
    return 0


def run_groups(groups: list[str], sizes: Sizes, repeat: int, smoke: bool) -> list[Row]:
    """Measure the rows of `groups`, in GROUPS' order, beside a demo relay of their own."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="relay-tui-bench-") as folder, \
            relay_process(0.0) as url:  # the no-delay relay most rows share
        home = Path(folder)
        os.environ["RELAY_TUI_HOME"] = str(home / "app")  # never the user's config or history
        from relay_tui.demo import DEMO_KEY

        os.environ["RELAY_TUI_API_KEY"] = DEMO_KEY
        records = 1000 if not smoke else 100
        steps = {"throughput": lambda: throughput(url, sizes, repeat),
                 "ttft": lambda: ttft_overhead(sizes, repeat),
                 "startup": lambda: startup(url, sizes, home),
                 "render": lambda: stream_render(sizes),
                 "history": lambda: history_rows(
                     url, sizes, home, asyncio.run(bench_records(url, records))),
                 "memory": lambda: memory(sizes, home),
                 "telemetry": lambda: telemetry_overhead(url, sizes, repeat, home)}
        for name in GROUPS:
            if name in groups:
                started = time.perf_counter()
                rows += steps[name]()
                print(f"bench: {name} took {time.perf_counter() - started:.1f} s", file=sys.stderr,
                      flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
