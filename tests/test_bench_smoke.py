"""`bench/run.py --smoke` still runs every benchmark end to end (tiny sizes; figures not judged)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("throughput vs bare httpx", "throughput vs openai AsyncOpenAI", "TTFT client overhead, c=1",
        "TTFT client overhead, c=50", "start-up: relay-tui --help", "start-up: first frame of the TUI",
        "stream render (a)", "stream render (b)", "history: open a", "history: latency stats",
        "history: database size per 1,000 requests", "memory: peak RSS",
        "telemetry on, collector down, vs off")


def test_smoke_run_prints_every_row_of_the_table(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--json",
                          str(tmp_path / "bench.json")], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["benchmark", "relay-tui", "baseline"]
    for row in ROWS:
        line = next((line for line in lines if line.startswith(row)), None)
        assert line is not None, f"no row {row!r} in:\n{out.stdout}"
    openai_row = next(line for line in lines if line.startswith("throughput vs openai"))
    try:
        import openai  # noqa: F401
    except ImportError:
        assert "skipped" in openai_row and "openai not installed" in openai_row
    else:
        assert "req/s" in openai_row
    assert "machine:" in out.stdout and (tmp_path / "bench.json").stat().st_size > 0
