"""bench/RESULTS.md, the recorded figures: written by `run.py --record` and `peers.py --record`,
read by `run.py --check`.

Each tool owns one section of the file, between `<!-- NAME begin -->` and `<!-- NAME end -->`
lines, holding a markdown table; everything outside the sections is prose kept as it is. run.py's
table has a stable `id` per row and a `checked` column (the figure --check compares, a number
first), so a partial run updates only its own rows.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

PATH = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    return f"{os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}"


def load() -> float:
    """The 1-minute load average: printed beside every figure (this machine is shared)."""
    return os.getloadavg()[0]


def today() -> str:
    return time.strftime("%Y-%m-%d")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header)] + [line(row) for row in rows])


def parse_table(text: str) -> list[dict[str, str]]:
    """The rows of the first markdown table in `text`, each as {header: cell}."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    if len(lines) < 2:
        return []

    def cells(line: str) -> list[str]:
        parts = re.split(r"(?<!\\)\|", line.strip()[1:-1])
        return [part.strip().replace("\\|", "|") for part in parts]

    header = cells(lines[0])
    return [dict(zip(header, cells(line))) for line in lines[2:]]


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name} begin -->", f"<!-- {name} end -->"


def section(name: str, path: Path = PATH) -> str:
    """The text of section `name` ("" when the file or the section is missing)."""
    if not path.exists():
        return ""
    begin, end = _markers(name)
    text = path.read_text()
    start, stop = text.find(begin), text.find(end)
    return text[start + len(begin):stop] if 0 <= start < stop else ""


def replace_section(name: str, body: str, path: Path = PATH) -> None:
    begin, end = _markers(name)
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start, stop = text.find(begin), text.find(end)
    block = f"{begin}\n{body.strip()}\n{end}"
    if 0 <= start < stop:
        text = text[:start] + block + text[stop + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def record_peers(table: str, repeat: int, path: Path = PATH) -> None:
    replace_section("peers.py", f"Recorded {today()} by `python bench/peers.py --record --repeat "
                                f"{repeat}` (medians of {repeat}); machine: {machine()}.\n\n{table}",
                    path)
