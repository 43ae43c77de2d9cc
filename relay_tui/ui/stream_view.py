"""A markdown view for streamed answers whose per-token cost does not grow with the answer.

Why not `textual.widgets.Markdown`: it lays out and composites every block as a widget, so each
update costs more as the answer grows (see the shared textual notes). This is a Line-API view:
finished blocks are rendered once into cached lines, only the growing last block is re-rendered,
and all views flush on one shared frame clock. `append()` only queues text, so the network
reader is never blocked by rendering. Model text is untrusted: control characters are made
visible (core.sanitize) and Rich markup is never interpreted.
"""

from __future__ import annotations

import time
from collections import deque
from math import inf
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from relay_tui.core.sanitize import neutralise
from relay_tui.ui.frame_clock import FrameClock
from relay_tui.ui.packed_lines import PackedLine, Palette
from relay_tui.ui.thumb_scrollbar import ThumbScrollBar

if TYPE_CHECKING:
    from relay_tui.ui.markdown_blocks import Block, BlockRenderer

# Component class -> the Rich Markdown style it supplies (colours come from the Textual theme).
_COMPONENT_STYLES = {
    "stream-view--h1": "markdown.h1",
    "stream-view--h2": "markdown.h2",
    "stream-view--h3": "markdown.h3",
    "stream-view--h4": "markdown.h4",
    "stream-view--h5": "markdown.h5",
    "stream-view--h6": "markdown.h6",
    "stream-view--em": "markdown.em",
    "stream-view--strong": "markdown.strong",
    "stream-view--strike": "markdown.s",
    "stream-view--code": "markdown.code",
    "stream-view--code-block": "markdown.code_block",
    "stream-view--quote": "markdown.block_quote",
    "stream-view--bullet": "markdown.item.bullet",
    "stream-view--number": "markdown.item.number",
    "stream-view--hr": "markdown.hr",
    "stream-view--link": "markdown.link",
    "stream-view--link-url": "markdown.link_url",
    "stream-view--table-border": "markdown.table.border",
    "stream-view--table-header": "markdown.table.header",
}
# Rich defaults that would otherwise add colours of their own.
_NEUTRAL = ("markdown.list", "markdown.item", "markdown.text", "markdown.paragraph",
            "markdown.h1.border", "markdown.h7", "markdown.kbd")
_CODE_THEMES = {True: "monokai", False: "default"}  # Pygments themes for dark / light


class StreamView(ScrollView, can_focus=True):
    """Markdown that grows by `append(text)`; `finish()` when the answer is complete."""

    COMPONENT_CLASSES = set(_COMPONENT_STYLES)

    DEFAULT_CSS = """
    StreamView {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        padding: 0;
        border: none;
    }
    StreamView > .stream-view--h1 { color: $primary; text-style: bold; }
    StreamView > .stream-view--h2 { color: $primary; text-style: bold underline; }
    StreamView > .stream-view--h3 { color: $secondary; text-style: bold; }
    StreamView > .stream-view--h4 { color: $secondary; text-style: italic; }
    StreamView > .stream-view--h5 { text-style: italic; }
    StreamView > .stream-view--h6 { color: $text-muted; text-style: italic; }
    StreamView > .stream-view--em { text-style: italic; }
    StreamView > .stream-view--strong { text-style: bold; }
    StreamView > .stream-view--strike { text-style: strike; }
    StreamView > .stream-view--code { color: $text-accent; background: $boost; }
    StreamView > .stream-view--code-block { background: $panel; }
    StreamView > .stream-view--quote { color: $text-muted; text-style: italic; }
    StreamView > .stream-view--bullet { color: $accent; text-style: bold; }
    StreamView > .stream-view--number { color: $accent; }
    StreamView > .stream-view--hr { color: $text-muted; }
    StreamView > .stream-view--link { color: $text-accent; text-style: underline; }
    StreamView > .stream-view--link-url { color: $text-muted; }
    StreamView > .stream-view--table-border { color: $text-muted; }
    StreamView > .stream-view--table-header { color: $text-primary; text-style: bold; }
    """

    FRAME_TEXT_CAP = 4096
    """Most characters taken in per frame, so an unpaced burst cannot stall a frame."""

    def __init__(self, text: str = "", *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._palette = Palette()  # shared by every renderer this view makes
        self._reset()
        self._renderer: BlockRenderer | None = None
        self._renderer_key: object = None
        self._style_check = True
        self._width = 0
        self._follow = True
        self._scrolling = False
        self.flushed_at = 0.0
        """perf_counter() of the last frame that changed what is shown (benchmarks read it)."""
        if text:
            self.set_text(text)

    def _reset(self) -> None:
        self._raw: list[str] = []
        self._pending: deque[str] = deque()  # neutralised text not taken in yet
        self._tail = ""  # neutralised source that is not frozen yet
        self._tail_dirty = False
        self._finishing = False
        self.complete = False
        """The whole text is known (set_text, or finish() after a stream); the frame clock reads it."""
        self._blocks: list[Block] = []  # frozen blocks, each rendered once per width
        self._lines: list[PackedLine] = []  # frozen blocks' lines, one blank line between blocks
        self._live: list[Block] = []  # the tail's blocks as rendered last frame
        self._live_lines: list[PackedLine] = []
        self._fence: tuple[tuple[int, int, str], list[list[PackedLine]]] | None = None  # open fence line cache
        self._reflow = False
        self._strips: dict[int, Strip] = {}  # visible rows only, by content line
        self._shown_frozen = 0  # len(self._lines) when last published: rows below it changed

    # -- public API ----------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The full markdown source as received (unsanitised: for history and export)."""
        if len(self._raw) > 1:
            self._raw = ["".join(self._raw)]
        return self._raw[0] if self._raw else ""

    @property
    def idle(self) -> bool:
        """True when everything appended so far is on screen."""
        return not (self._pending or self._tail_dirty or self._finishing or self._reflow)

    def append(self, text: str) -> None:
        """Queue streamed text; cheap enough to call for every token (rendering is per frame)."""
        if not text:
            return
        self._raw.append(text)
        self._pending.append(neutralise(text))
        self._schedule()

    def finish(self) -> None:
        """The answer is complete: the last block is frozen once the queued text is shown."""
        self._finishing = self.complete = True
        self._schedule()

    def clear(self) -> None:
        """Forget all text."""
        self._reset()
        self._publish()

    def set_text(self, text: str) -> None:
        """Show a complete answer (from history) at once."""
        self._reset()
        self._raw = [text] if text else []
        self._tail = neutralise(text)
        self._tail_dirty = self._finishing = self.complete = True
        if self._width_now() > 0:
            self.flush_frame(inf)
        else:
            self._schedule()

    # -- frame work ----------------------------------------------------------------------------

    def flush_frame(self, deadline: float) -> bool:
        """One frame: re-flow, take in queued text, render the tail. True if work remains."""
        width = self._width_now()
        if width <= 0:
            return False  # not laid out yet: on_resize schedules us again
        if self._style_check:
            self._check_renderer()
        if width != self._width:
            self._width = width
            self._start_reflow()
        more = self._reflow and self._reflow_step(deadline)
        if self._pending:
            self._tail += self._take(self.FRAME_TEXT_CAP if deadline != inf else None)
            self._tail_dirty = True
        if self._tail_dirty or (self._finishing and not self._pending):
            self._update_tail(final=self._finishing and not self._pending)
            self._publish()
        return more or bool(self._pending)

    def _take(self, cap: int | None) -> str:
        """Up to `cap` characters of queued text (all of it with None)."""
        if cap is None:
            text = "".join(self._pending)
            self._pending.clear()
            return text
        taken: list[str] = []
        size = 0
        while self._pending and size < cap:
            piece = self._pending.popleft()
            if size + len(piece) > cap:
                piece, rest = piece[: cap - size], piece[cap - size :]
                self._pending.appendleft(rest)
            taken.append(piece)
            size += len(piece)
        return "".join(taken)

    def _update_tail(self, final: bool) -> None:
        renderer = self._ensure_renderer()
        from relay_tui.ui.markdown_blocks import fence_is_open, split_blocks  # first answer: ~40 ms

        frozen, live, self._tail = split_blocks(self._tail, final)
        previous = {block.source: block for block in self._live if block.width}
        for block in frozen:
            self._render(block, previous.get(block.source))
            self._blocks.append(block)
            self._extend(self._lines, block.lines)
        if frozen:
            self._fence = None
        live_lines: list[PackedLine] = []
        for index, block in enumerate(live):
            if index == len(live) - 1 and block.fence_lang is not None and fence_is_open(block):
                lines = self._open_fence_lines(block, index, renderer)
            else:
                self._render(block, previous.get(block.source))
                lines = block.lines
            self._extend(live_lines, lines)
        self._live = live
        self._live_lines = live_lines
        self._tail_dirty = False
        if final:
            self._finishing = False

    def _open_fence_lines(self, block: Block, index: int, renderer: BlockRenderer) -> list[PackedLine]:
        """An open fence, line by line: finished code lines are rendered once."""
        opener, *code = block.source.split("\n")
        key = (len(self._blocks), index, opener)
        if self._fence is None or self._fence[0] != key:
            self._fence = (key, [])
        done = self._fence[1]
        lang = block.fence_lang or ""
        for line in code[len(done) : len(code) - 1]:
            done.append(renderer.render_code_line(line, lang, self._width))
        lines = [row for rows in done for row in rows]
        if code and code[-1]:
            lines.extend(renderer.render_code_line(code[-1], lang, self._width))
        return lines

    def _render(self, block: Block, same: Block | None = None) -> None:
        """Render `block`, or take the lines of `same` (last frame's rendering of its source)."""
        if same is not None and same.fence_lang == block.fence_lang:
            block.lines, block.width, block.style_epoch = same.lines, same.width, same.style_epoch
            block.tokens = None  # frozen blocks keep no parser objects (see Palette)
            return
        renderer = self._ensure_renderer()
        block.lines = renderer.render(block, self._width)
        block.width = self._width
        block.style_epoch = renderer.epoch

    @staticmethod
    def _extend(lines: list[PackedLine], block_lines: list[PackedLine]) -> None:
        if not block_lines:
            return
        if lines:
            lines.append(())
        lines.extend(block_lines)

    # -- re-flow on width or theme change ------------------------------------------------------

    def _start_reflow(self) -> None:
        self._reflow = bool(self._blocks)
        self._live = []
        self._fence = None
        self._tail_dirty = True
        self._strips.clear()

    def _reflow_step(self, deadline: float) -> bool:
        """Re-render stale frozen blocks until the deadline (nearest the view first)."""
        epoch = self._ensure_renderer().epoch
        order = reversed(self._blocks) if self._follow else iter(self._blocks)
        done_one = False
        for block in order:
            if block.width == self._width and block.style_epoch == epoch:
                continue
            if done_one and time.perf_counter() >= deadline:
                break
            self._render(block)
            done_one = True
        else:
            self._reflow = False
        self._lines = []
        for block in self._blocks:
            self._extend(self._lines, block.lines)
        self._strips.clear()
        self._tail_dirty = True
        return self._reflow

    def _check_renderer(self) -> None:
        self._style_check = False
        styles = {name: Style() for name in _NEUTRAL}
        for component, rich_name in _COMPONENT_STYLES.items():
            part = self.get_component_rich_style(component, partial=True)
            full = self.get_component_rich_style(component)
            # The partial style says which properties the CSS sets; the full one has the colours
            # blended over the background (theme colours such as $text-muted carry alpha).
            styles[rich_name] = part + Style(
                color=full.color if part.color else None,
                bgcolor=full.bgcolor if part.bgcolor else None,
            )
        dark = self.app.current_theme.dark
        key = (tuple(styles.items()), dark)
        if key != self._renderer_key:
            self._renderer_key = key
            from relay_tui.ui.markdown_blocks import BlockRenderer

            self._renderer = BlockRenderer(
                styles, _CODE_THEMES[dark], styles["markdown.code_block"], self._palette)
            self._start_reflow()

    def _ensure_renderer(self) -> BlockRenderer:
        if self._renderer is None:
            self._check_renderer()
        assert self._renderer is not None
        return self._renderer

    # -- display -------------------------------------------------------------------------------

    def _width_now(self) -> int:
        return self.scrollable_content_region.width if self.is_mounted else 0

    def _publish(self) -> None:
        """Tell Textual what changed: the live lines (and the end of the view if following)."""
        first_live = len(self._lines)
        changed = max(0, min(first_live, self._shown_frozen) - 1)
        self._shown_frozen = first_live
        for index in [i for i in self._strips if i >= changed]:
            del self._strips[index]
        total = first_live + len(self._live_lines)
        self.virtual_size = Size(self._width, total)
        if self._follow and total > self.scrollable_content_region.height:
            self._scrolling = True
            try:
                self.scroll_to(y=self.max_scroll_y, animate=False, force=True)
            finally:
                self._scrolling = False
        self.refresh_lines(changed, total - changed + 1)
        self.flushed_at = time.perf_counter()

    def _line(self, index: int) -> PackedLine:
        if index < len(self._lines):
            return self._lines[index]
        index -= len(self._lines)
        if index < len(self._live_lines):
            return self._live_lines[index]
        return ()

    def render_lines(self, crop: Region) -> list[Strip]:
        """Serve cached strips per content line (no per-row style pass, see textual notes)."""
        scroll_y = self.scroll_offset.y
        width = self.size.width  # the crop spans the scrollbar's cells too; it is drawn on top
        base = self.rich_style
        strips = self._strips
        height = self.size.height
        if len(strips) > 2 * height:  # keep the visible rows only: each strip holds caches
            for index in [i for i in strips if not scroll_y <= i < scroll_y + height]:
                del strips[index]
        result: list[Strip] = []
        for y in crop.line_range:
            index = scroll_y + y
            strip = strips.get(index)
            if strip is None:
                segments = self._palette.unpack(self._line(index))
                strip = Strip(list(Segment.apply_style(segments, base)))
                strip = strip.adjust_cell_length(width, base)
                for line_filter in self.get_line_filters():
                    strip = strip.apply_filter(line_filter, self.background_colors[1])
                strips[index] = strip
            result.append(strip)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            result = [strip.crop(x1, x2) for strip in result]
        return result

    # -- events --------------------------------------------------------------------------------

    def _schedule(self) -> None:
        if self.is_mounted:
            FrameClock.of(self.app).mark_dirty(self)

    def on_mount(self) -> None:
        super().on_mount()
        self._schedule()

    def on_unmount(self) -> None:
        FrameClock.of(self.app).forget(self)

    def on_resize(self) -> None:
        self._strips.clear()
        if self.complete and self._width == 0 and self._width_now() > 0:
            self.flush_frame(inf)  # complete text's first width (an opened answer): lay it out now
        else:
            self._schedule()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_check = True
        self._strips.clear()
        if isinstance(self._vertical_scrollbar, ThumbScrollBar):
            self._vertical_scrollbar.forget_rendering()  # its colours come from our styles
        self._schedule()

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """Textual's own creation, but with a bar that re-renders only when its thumb moves."""
        if self._vertical_scrollbar is None:
            bar = ThumbScrollBar(vertical=True, name="vertical", thickness=self.scrollbar_size_vertical)
            bar.display = False
            self._vertical_scrollbar = bar
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._scrolling:
            # The user scrolled: follow the end again only once they are back at it.
            self._follow = new_value >= self.max_scroll_y
