"""The peer table: one mock stream shown by relay-tui, oterm and elia, each measured the same way.

Each app runs for real in a pseudo-terminal of 120x40 (tests/support/pty_app.py, the harness of
the pty tests and of run.py's first-frame row), against bench/peer_relay.py, which sends the same
chunks on the same schedule in the protocol each app speaks. A user's steps: start the app on a
chat for the scenario's model, type the prompt, press the app's send key. Measured from the
terminal's side: from the relay writing the first chunk until the last chunk's text (a word of its
own, `Zq<N>end`) is on the screen, replayed from every byte the app wrote, timed as it arrived.

  - finish / stream: that time over the relay's own first-to-last-chunk time (1.00 = the screen
    keeps up with the stream);
  - end shown: how long after the relay sent the last chunk the user sees it;
  - update gaps p50 / p95 / max: time between screen updates that changed the answer, from the
    first chunk to the end on screen. An update is a burst of output (reads less than 2 ms
    apart) that changed the screen's text other than digits, spinner glyphs (braille) and block
    elements (scroll bar thumbs): oterm's elapsed-time spinner is not progress.

Each app in its own venv: relay-tui is this checkout (the interpreter running this script); oterm
and elia are installed once, at the versions pinned in bench/peers/<app>.txt (complete pip
freezes), into cached venvs under ${RELAY_TUI_TEST_CACHE:-~/.cache/relay-tui-tests} (tests/
support/cached_venv.py). Their own network calls are kept on this machine: an HTTPS proxy on a
closed loopback port stops oterm's update check and litellm's price list download. Not part of
the suite or CI (minutes per app, and installs of ~1 GB).

    python bench/peers.py [--apps relay-tui,oterm,elia] [--streams 200,800,1600,800@50]
                          [--repeat N] [--screens DIR] [--record]

--screens saves each run's screen when the end showed (or when the app went quiet without showing
it), to check that the measurement caught the right text; --record writes the table into
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import peer_relay  # noqa: E402
import results  # noqa: E402

from tests.support import cached_venv  # noqa: E402
from tests.support.pty_app import PtyApp  # noqa: E402

SCREEN = (120, 40)
PROMPT = "Write a long technical report."
FRAME_SILENCE = 0.002   # reads closer than this are one screen update
QUIET = 5.0             # after the stream, this long without output: the app is done drawing
LIMIT = 240.0           # at most this long after the last chunk for the end to show
NOT_PROGRESS = re.compile(r"[0-9\u2580-\u259f\u2800-\u28ff]")
# Keep the peers' own traffic on this machine: nothing listens on the discard port.
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": "127.0.0.1,localhost", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


@dataclass(frozen=True)
class Stream:
    chunks: int
    rate: int  # chunks per second

    @property
    def model(self) -> str:
        return peer_relay.model_name(self.chunks, self.rate)

    @property
    def label(self) -> str:
        if self.rate == 400:
            return f"{self.chunks:,} chunks in {self.chunks / self.rate:g} s"
        return f"{self.chunks:,} chunks at {self.rate}/s"


STREAMS = {"200": Stream(200, 400), "800": Stream(800, 400), "1600": Stream(1600, 400),
           "800@50": Stream(800, 50)}


@dataclass
class Launch:
    """How to start one app on a chat with the scenario's model, and how its user sends."""

    command: list[str]
    env: dict[str, str]
    ready: str        # on the screen once the prompt takes keys
    send: bytes       # the app's send key


@dataclass
class Peer:
    name: str
    version: str
    prepare: Callable[[Path, Path, str, str], Launch]  # (venv, home, relay url, model)
    pins: Path | None = None  # a pip freeze; None: this checkout

    def venv(self) -> Path:
        if self.pins is None:
            return Path(sys.prefix)
        digest = hashlib.sha256(self.pins.read_bytes()).hexdigest()[:10]
        install = cached_venv.Install(f"peer-{self.name}-{self.version}-{digest}",
                                      ("-r", str(self.pins)), "a few minutes, once")
        return cached_venv.ensure(install, log=lambda line: print(f"peers: {line}", file=sys.stderr))


def relay_tui(venv: Path, home: Path, url: str, model: str) -> Launch:
    env = {"RELAY_TUI_HOME": str(home), "RELAY_TUI_API_KEY": "sk-bench"}
    subprocess.run([sys.executable, "-c", (
        "import sys\nfrom relay_tui.store.config import save_profile\n"
        "from relay_tui.store.profile import Profile\n"
        "save_profile(Profile(name='bench', base_url=sys.argv[1], default_model=sys.argv[2]),"
        " make_active=True)"), url + "/v1", model], env={**os.environ, **env}, cwd=ROOT, check=True)
    return Launch([sys.executable, "-m", "relay_tui"], env, "Ask anything", b"\r")


def oterm(venv: Path, home: Path, url: str, model: str) -> Launch:
    """oterm on a saved chat (as after a first session: its new-chat dialog is not measured),
    the splash screen off. Ollama's URL is the relay's root: oterm adds /api and /v1."""
    env = {"OTERM_DATA_DIR": str(home), "OLLAMA_URL": url}
    (home / "config.json").write_text(json.dumps({"theme": "textual-dark", "splash-screen": False}))
    subprocess.run([str(venv / "bin" / "python"), "-c", (
        "import asyncio, sys\nfrom oterm.store.store import Store\nfrom oterm.types import ChatModel\n"
        "async def main():\n    store = await Store.get_store()\n"
        "    await store.save_chat(ChatModel(name='bench', model=sys.argv[1], provider='ollama'))\n"
        "asyncio.run(main())"), model], env={**os.environ, **OFFLINE, **env}, check=True,
        capture_output=True)
    return Launch([str(venv / "bin" / "oterm")], env, f"model: {model}", b"\r")


def elia(venv: Path, home: Path, url: str, model: str) -> Launch:
    """elia with one model in its config.toml: litellm's `openai/` provider at the relay's URL.
    Its home screen's prompt sends with ctrl+j and opens the chat."""
    config = home / "config" / "elia"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        f'default_model = "bench"\n\n[[models]]\nid = "bench"\nname = "openai/{model}"\n'
        f'display_name = "bench"\napi_key = "sk-bench"\napi_base = "{url}/v1"\n')
    env = {"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}
    return Launch([str(venv / "bin" / "elia")], env, "Enter your message", b"\n")


PEERS = {"relay-tui": Peer("relay-tui", "this checkout", relay_tui),
         "oterm": Peer("oterm", "0.26.1", oterm, ROOT / "bench" / "peers" / "oterm.txt"),
         "elia": Peer("elia", "1.10.0", elia, ROOT / "bench" / "peers" / "elia.txt")}


@dataclass
class Run:
    finish: float | None       # first chunk sent -> end on screen, over the stream's duration
    end_shown: float | None    # seconds after the last chunk was sent
    gaps: list[float] = field(default_factory=list)
    load: float = 0.0
    screen: str = ""


class Relay:
    """bench/peer_relay.py in its own process, and the reports of the streams it sent."""

    def __init__(self, models: list[str]):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "peer_relay.py"), *models],
                                     stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise SystemExit("peers: the mock relay did not start")
        self.reports: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.reports.put(json.loads(line))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def run_once(peer: Peer, venv: Path, relay: Relay, stream: Stream) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"relay-tui-peer-{peer.name}-") as folder:
        launch = peer.prepare(venv, Path(folder), relay.url, stream.model)
        env = {**OFFLINE, **launch.env}
        with PtyApp([], env, *SCREEN, command=launch.command) as app:
            app.wait_for(launch.ready, 120, f"{peer.name}'s prompt")
            time.sleep(1.0)  # its first screen settled (focus, late mounts): keys are not dropped
            app.type(PROMPT)
            app.wait_for(PROMPT, 10, f"the prompt typed into {peer.name}")
            app.send(launch.send)
            try:
                report = relay.reports.get(timeout=120)
            except queue.Empty:
                raise SystemExit(f"peers: {peer.name} sent no request:\n{app.screen()}") from None
            wait_until_drawn(app, report, peer_relay.end_marker(stream.chunks))
            return measure(app, report, peer_relay.end_marker(stream.chunks))


def wait_until_drawn(app: PtyApp, report: dict, marker: str) -> None:
    """Until the end marker is in the output (cheap: the bytes, not the screen: the driver must
    not take the CPU the app draws with), or, from QUIET seconds after the last chunk, the
    screen's text has not changed for QUIET seconds (a blinking cursor writes output forever, so
    silence is not the sign)."""
    needle, seen = marker.encode(), 0
    still, changed = None, time.monotonic()
    while True:
        time.sleep(0.1)
        raw = app.raw
        if raw.find(needle, max(0, seen - len(needle))) >= 0:
            time.sleep(0.5)  # the frame that holds it, whole
            return
        seen = len(raw)
        now = time.monotonic()
        if now - report["last_sent"] > LIMIT:
            return
        if now - report["last_sent"] > QUIET:
            shown = NOT_PROGRESS.sub("", app.screen())
            if shown != still:
                still, changed = shown, now
            elif now - changed > QUIET:
                return


def measure(app: PtyApp, report: dict, marker: str) -> Run:
    first, last = report["first_sent"], report["last_sent"]
    frames: list[tuple[float, str]] = []  # (end of the burst, screen after it)
    for arrived, screen in app.replay(since=first):
        if frames and arrived - frames[-1][0] < FRAME_SILENCE:
            frames[-1] = (arrived, screen)
        else:
            frames.append((arrived, screen))
    shown = next(((t, s) for t, s in frames if marker in s), None)
    updates, before = [], None
    for at, screen in frames:
        if shown is not None and at > shown[0]:
            break
        visible = NOT_PROGRESS.sub("", screen)
        if visible != before:
            updates.append(at)
            before = visible
    gaps = [b - a for a, b in zip(updates, updates[1:])]
    load = os.getloadavg()[0]
    if shown is None:
        return Run(None, None, gaps, load, frames[-1][1] if frames else app.screen())
    return Run((shown[0] - first) / (last - first), shown[0] - last, gaps, load, shown[1])


def cells(runs: list[Run]) -> dict[str, str]:
    """The table's cells for one app and stream: medians over the runs that showed the end (and
    how many did not), the gaps of every run together."""
    shown_runs = [r for r in runs if r.finish is not None]
    missing = f"end not shown in {len(runs) - len(shown_runs)} of {len(runs)}"
    gaps = sorted(g for r in runs for g in r.gaps)
    if len(gaps) >= 2:
        cuts = statistics.quantiles(gaps, n=20, method="inclusive")
        gap = f"{statistics.median(gaps) * 1000:.0f} / {cuts[18] * 1000:.0f} / {gaps[-1] * 1000:.0f} ms"
    else:
        gap = "-"
    loads = [r.load for r in runs]
    finish = f"{statistics.median(r.finish for r in shown_runs):.2f}" if shown_runs else missing
    shown = f"{statistics.median(r.end_shown for r in shown_runs) * 1000:.0f} ms" if shown_runs else "-"
    if shown_runs and len(shown_runs) < len(runs):
        finish += f" ({missing})"
    return {
        "finish / stream": finish,
        "end shown after the last chunk": shown,
        "update gaps p50 / p95 / max": gap,
        "load average": f"{min(loads):.2f}-{max(loads):.2f}" if len(loads) > 1 else f"{loads[0]:.2f}",
    }


MEASURES = ("finish / stream", "end shown after the last chunk", "update gaps p50 / p95 / max",
            "load average")


def table(peers: list[Peer], streams: list[Stream], figures: dict) -> str:
    header = ["stream", "measure"] + [
        p.name if p.pins is None else f"{p.name} {p.version}" for p in peers]
    lines = []
    for stream in streams:
        for index, measure_name in enumerate(MEASURES):
            lines.append([stream.label if index == 0 else "", measure_name] +
                         [figures[p.name, stream][measure_name] for p in peers])
    return results.markdown_table(header, lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default=",".join(PEERS), help="comma-separated; default: all")
    parser.add_argument("--streams", default=",".join(STREAMS),
                        help=f"comma-separated of {', '.join(STREAMS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per app and stream (median)")
    parser.add_argument("--screens", metavar="DIR", help="save the screen of every run here")
    parser.add_argument("--json", metavar="PATH", help="also write every run's figures as JSON")
    parser.add_argument("--record", action="store_true", help="write the table into bench/RESULTS.md")
    args = parser.parse_args()
    # A kill ends the run through its `finally`s: the app in the pty and the relay go with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    peers = [PEERS[name] for name in args.apps.split(",")]
    streams = [STREAMS[name] for name in args.streams.split(",")]
    venvs = {peer.name: peer.venv() for peer in peers}
    runs: dict[tuple[str, Stream], list[Run]] = {(p.name, s): [] for p in peers for s in streams}
    relay = Relay([s.model for s in streams])
    try:
        for round_ in range(max(1, args.repeat)):
            for stream in streams:
                order = peers[round_ % len(peers):] + peers[:round_ % len(peers)]  # load hits all
                for peer in order:
                    run = run_once(peer, venvs[peer.name], relay, stream)
                    runs[peer.name, stream].append(run)
                    print(f"peers: {peer.name:9} {stream.label:22} finish/stream "
                          f"{'-' if run.finish is None else f'{run.finish:.2f}'}, load {run.load:.2f}",
                          file=sys.stderr, flush=True)
                    if args.screens:
                        folder = Path(args.screens)
                        folder.mkdir(parents=True, exist_ok=True)
                        (folder / f"{peer.name}-{stream.model}-{round_ + 1}.txt").write_text(run.screen)
    finally:
        relay.close()
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": results.machine(), "runs": [
            {"app": name, "stream": stream.model, **{k: v for k, v in run.__dict__.items()
                                                     if k != "screen"}}
            for (name, stream), batch in runs.items() for run in batch]}, indent=1))
    figures = {key: cells(value) for key, value in runs.items()}
    text = table(peers, streams, figures)
    print(text)
    print(f"\nmachine: {results.machine()}; medians of {args.repeat} run(s)")
    if args.record:
        results.record_peers(text, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
