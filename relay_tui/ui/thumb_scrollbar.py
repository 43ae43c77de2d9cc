"""A vertical scrollbar that re-renders only when its thumb moves by a visible step.

Why: the stock `ScrollBar` re-renders every row whenever the virtual size changes, which for a
streaming view is every frame, in every column: thousands of short-lived `Strip`s per second
whose reference cycles pile up until a full garbage collection (a visible pause). The thumb's
cells rarely change between two frames, so the rendered rows are kept until they do.
"""

from __future__ import annotations

from math import ceil

from textual.geometry import Region
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

_STEPS = len(ScrollBarRender.VERTICAL_BARS)  # sub-cell positions the thumb can take


class ThumbScrollBar(ScrollBar):
    """`ScrollBar` whose rendered rows are cached by thumb position, size and state."""

    _cache_key: object = None
    _cached: list[Strip] = []

    def thumb_span(self) -> tuple[int, int] | None:
        """The thumb's (start, end) in sub-cell steps, as `ScrollBarRender.render_bar` draws it."""
        size = self.size.height if self.vertical else self.size.width
        virtual = ceil(self.window_virtual_size)
        window = ceil(self.window_size) if self.window_size < self.window_virtual_size else 0
        if not (window and size and virtual and size != virtual):
            return None
        thumb = max(1, window / (virtual / size))
        start = int((size - thumb) * (self.position / (virtual - window)) * _STEPS)
        return start, start + ceil(thumb * _STEPS)

    def render_lines(self, crop: Region) -> list[Strip]:
        key = (self.size, crop, self.grabbed, self.mouse_over, self.thumb_span())
        if key != self._cache_key:
            self._cached = super().render_lines(crop)
            self._cache_key = key
        return self._cached

    def forget_rendering(self) -> None:
        """Drop the cached rows (the colours changed)."""
        self._cache_key = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.forget_rendering()
