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


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_check_fails_naming_the_rows_worse_than_recorded(tmp_path):
    """--record writes the rows into a results file by id; --check re-measures and fails, naming
    them, for rows whose figure is more than 10 % worse than recorded (here: recorded figures
    made three times better by hand), after measuring them once more."""
    results = tmp_path / "RESULTS.md"
    out = bench("--rows", "startup-help,history-db-size", "--record", "--results", str(results))
    assert out.returncode == 0, out.stderr[-2000:]
    recorded = results.read_text()
    assert "<!-- run.py begin -->" in recorded and "| startup-help |" in recorded
    assert "| history-db-size |" in recorded and "| history-open-" not in recorded  # --rows
    better = recorded
    for row_id in ("startup-help", "history-db-size"):
        line = next(line for line in better.splitlines() if line.startswith(f"| {row_id} |"))
        figure = line.split(" | ")[7].split()[0]
        better = better.replace(line, line.replace(f"| {figure} (", f"| {float(figure) / 3:.3g} ("))
    results.write_text(better)

    out = bench("--rows", "startup-help,history-db-size", "--check", "--results", str(results))
    assert out.returncode == 1
    assert "2 row(s) more than 10% worse than RESULTS.md: startup-help, history-db-size" in out.stderr
    assert "measuring their groups once more" in out.stderr
    verdicts = {line.split()[0]: line.split()[-1] for line in out.stdout.splitlines()
                if line.startswith(("startup-help ", "history-db-size "))}
    assert verdicts == {"startup-help": "WORSE", "history-db-size": "WORSE"}

    results.write_text(recorded)  # the database size does not depend on the machine's load
    out = bench("--rows", "history-db-size", "--check", "--results", str(results))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no row more than 10% worse" in out.stdout


def test_check_refuses_smoke_figures_against_the_real_results():
    out = bench("--check")
    assert out.returncode == 2 and "--smoke figures mean nothing" in out.stderr


def test_peer_table_runs_relay_tui_in_a_pty_against_the_mock_stream(tmp_path):
    """bench/peers.py end to end for relay-tui (the peers need installs: not in the suite): the
    real TUI in a pty shows the mock relay's last chunk, and the table has its figures."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "peers.py"), "--apps", "relay-tui",
                          "--streams", "200", "--repeat", "1", "--screens", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")]
             for line in out.stdout.splitlines() if line.startswith("|")]
    rows = {row[1]: row[2] for row in cells}
    assert float(rows["finish / stream"]) >= 1.0  # the screen cannot beat the stream
    assert rows["end shown after the last chunk"].endswith(" ms")
    assert "Zq200end" in (tmp_path / "relay-tui-stream-200-at-400-1.txt").read_text()
