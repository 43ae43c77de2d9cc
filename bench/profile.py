"""Where the time goes in the rows whose targets are not met: pyinstrument profiles, ours beside
the baseline's, so a reader sees the difference rather than a claim about it.

    python bench/profile.py [throughput] [first-frame] [--html DIR]

throughput: 1,000 streamed requests at concurrency 50 through `relay-tui bench`'s core call,
then through bench/run.py's bare httpx loop, each under pyinstrument, against the demo relay in a
process of its own (as in run.py, so its CPU is not in the profile).
first-frame: import and start the TUI headless at 120x40 until its first screen update (what a
terminal would be sent), then the bare one-Static app the same way; each in a fresh interpreter.

Prints each profile as text (frames under 2% of the time hidden); --html also writes them as
pyinstrument's interactive pages. Needs `pip install -r bench/requirements.txt`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (bench/run.py: the relay process and the throughput loops)

ROOT = Path(__file__).resolve().parents[1]


# Frames under 2% hidden; Textual's and ours shown (the rest of the libraries folded).
OPTIONS = {"filter_threshold": 0.02, "show_regex": r".*/(textual|relay_tui)/.*"}


def profiled(title: str, call, html: Path | None):
    """Run `call()` under pyinstrument, print the profile, optionally save it as HTML."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    result = call()
    profiler.stop()
    print(f"\n===== {title}")
    print(profiler.output_text(unicode=True, color=False, show_all=False,
                               processor_options=OPTIONS))
    if html:
        html.mkdir(parents=True, exist_ok=True)
        (html / f"{title.split(':')[0].replace(' ', '-')}.html").write_text(profiler.output_html())
    return result


def throughput(html: Path | None, n: int = 1000, c: int = 50) -> None:
    with run.relay_process(0.0) as url:
        for name, runner in (("relay-tui bench", run.app_bench), ("bare httpx", run.httpx_bench)):
            rate = profiled(f"{name}: {n} requests at c={c}",
                            lambda runner=runner: asyncio.run(runner(url, n, c)), html)
            print(f"{name}: {rate:.0f} req/s under the profiler")


CHILD = """
import sys
from pyinstrument import Profiler
profiler = Profiler(interval=0.001)
profiler.start()
{app}
shown = app._display
def display(screen, renderable):  # the first screen update ends the profile and the app
    shown(screen, renderable)
    if renderable is not None and profiler.is_running:
        profiler.stop()
        app.exit()
app._display = display
app.run(headless=True, size=(120, 40))
print(profiler.output_text(unicode=True, color=False, processor_options=OPTIONS))
if sys.argv[1]:
    open(sys.argv[1], "w").write(profiler.output_html())
"""

RELAY_APP = """
from relay_tui.app import AppOptions, make_app
app = make_app(AppOptions(base_url=sys.argv[2]))
"""

BARE_APP = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("Latency")
app = Bare()
"""


def first_frame(html: Path | None) -> None:
    from relay_tui.demo import DEMO_KEY

    with run.relay_process(0.0) as url, tempfile.TemporaryDirectory(prefix="relay-tui-prof-") as home:
        env = {**os.environ, "RELAY_TUI_HOME": home, "RELAY_TUI_API_KEY": DEMO_KEY}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as a user's Python does
        for title, app in (("relay-tui first frame", RELAY_APP), ("bare Textual app first frame", BARE_APP)):
            out = str(html / f"{title.replace(' ', '-')}.html") if html else ""
            if html:
                html.mkdir(parents=True, exist_ok=True)
            code = f"OPTIONS = {OPTIONS!r}\n" + CHILD.format(app=app)
            for _ in range(2):  # the first run warms the disk cache and writes bytecode
                done = subprocess.run([sys.executable, "-c", code, out, url], env=env, cwd=ROOT,
                                      capture_output=True, text=True, check=False)
            print(f"\n===== {title}: import, compose, first screen update (headless 120x40)")
            print(done.stdout or done.stderr[-2000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", metavar="throughput|first-frame",
                        help="which profiles (default: both)")
    parser.add_argument("--html", type=Path, metavar="DIR", help="also write HTML profiles here")
    args = parser.parse_args()
    wanted = args.what or ["throughput", "first-frame"]
    if set(wanted) - {"throughput", "first-frame"}:
        parser.error(f"unknown profile: {' '.join(sorted(set(wanted) - {'throughput', 'first-frame'}))}")
    with tempfile.TemporaryDirectory(prefix="relay-tui-prof-") as home:
        os.environ["RELAY_TUI_HOME"] = home  # never the user's config or history
        if "throughput" in wanted:
            throughput(args.html)
        if "first-frame" in wanted:
            first_frame(args.html)
    return 0


if __name__ == "__main__":
    sys.exit(main())
