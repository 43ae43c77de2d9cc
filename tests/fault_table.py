"""The README's troubleshooting table, generated from the fault matrix (tests/test_fault_matrix.py).

The matrix asserts each row's exact line against the CLI and the TUI, so a table made from the
rows is what users see. `python -m tests.fault_table` rewrites the README between the markers;
`test_readme_table_is_the_matrix` fails when the two differ, so the table cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- fault-matrix:start -->", "<!-- fault-matrix:end -->"


def render(rows) -> str:
    """The Markdown table for `rows` (tests.test_fault_matrix.Fault), one line per fault."""
    lines = ["| Fault | What you see | What the history keeps |", "|---|---|---|"]
    for row in rows:
        seen = row.message or row.seen
        lines.append(f"| {cell(row.what)} | {cell(seen)} | {cell(row.keeps)} |")
    return "\n".join(lines) + "\n"


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def readme_section(path: Path = README) -> str:
    """What stands between the markers now (without the newline after the start marker)."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(START) + len(START), text.index(END)
    return text[start:end].removeprefix("\n")


def rewrite(rows, path: Path = README) -> bool:
    """Put the table for `rows` between the markers; True if the file changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(START) + len(START), text.index(END)
    new = text[:start] + "\n" + render(rows) + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main() -> int:
    from tests.test_fault_matrix import ROWS

    changed = rewrite(ROWS)
    print(f"{README.name}: fault matrix {'rewritten' if changed else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
