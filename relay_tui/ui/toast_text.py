"""File paths in toasts: folded at "/" to the toast's width, never in the middle of a name.

A toast is at most 60 cells wide (half the screen at 80 columns) and Textual wraps a path, which
has no spaces, wherever the width ends: "…/relay-tui/expo" then "rts/chat-12.md".
"""

from __future__ import annotations

from pathlib import Path

TOAST_WIDTH, TOAST_FRAME = 60, 5  # Textual's Toast: 60 wide, at most half the rack; edge, margin, padding


def toast_width(screen_width: int) -> int:
    """The cells a toast's text gets on a screen this wide (the rack is 2 narrower than it):
    34 at 80 columns, 55 at 160, as measured from Textual 8's toasts."""
    return max(10, min(TOAST_WIDTH, (screen_width - 2) // 2) - TOAST_FRAME)


def fold_path(path: Path | str, width: int) -> str:
    """`path` with the home folder as "~", in lines of at most `width` cells broken after a "/"
    (a single name longer than that is the only thing ever cut)."""
    text = str(path)
    home = str(Path.home())
    if home != "/" and (text == home or text.startswith(home + "/")):
        text = "~" + text[len(home):]
    lines = [""]
    for part in text.replace("/", "/\0").split("\0"):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def fold_paths(paths: list[Path], width: int) -> str:
    """Files in one folder: the folder folded once, then each file's name on a line of its own
    (two whole paths overran a toast's height)."""
    folders = {path.parent for path in paths}
    if len(folders) != 1:
        return "\n".join(fold_path(path, width) for path in paths)
    return "\n".join([fold_path(f"{folders.pop()}/", width), *(path.name for path in paths)])
