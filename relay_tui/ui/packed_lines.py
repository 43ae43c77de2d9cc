"""Rendered lines kept as tuples of str and int (see Palette): the stream view's storage.

Apart from the markdown renderer (ui/markdown_blocks.py), so a view can exist, and the app start,
without importing markdown-it, Rich's Markdown and Pygments (~40 ms) before an answer renders.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style

Line = list[Segment]
PackedLine = tuple  # (text, style index, text, style index, ...): see Palette


class Palette:
    """Styles by index, so stored lines are tuples of str and int only.

    Why: CPython stops tracking such tuples in the garbage collector, so a long answer's
    thousands of rendered lines add nothing to the cost of a full collection (a list of Rich
    `Segment`s per line made those pauses grow with the answer).
    """

    def __init__(self) -> None:
        self._index: dict[Style | None, int] = {}
        self._styles: list[Style | None] = []

    def pack(self, line: Line) -> PackedLine:
        packed: list[str | int] = []
        for text, style, control in line:
            if control:  # Rich emits none for markdown; never pass one to the terminal
                continue
            index = self._index.get(style)
            if index is None:
                index = self._index[style] = len(self._styles)
                self._styles.append(style)
            packed += (text, index)
        return tuple(packed)

    def unpack(self, packed: PackedLine) -> Line:
        styles = self._styles
        return [Segment(packed[i], styles[packed[i + 1]]) for i in range(0, len(packed), 2)]
