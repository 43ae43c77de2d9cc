"""One ~30 fps clock per app that flushes every dirty streaming view.

Why: Textual repaints the bounding box of all regions changed since the last update, so columns
updating at unrelated moments each cost a full-screen pass. With one shared clock, N columns
cost one pass per frame; a per-frame time budget (round-robin across views) bounds the work so
key presses are handled between frames even when every column is streaming.
"""

from __future__ import annotations

import gc
import time
from typing import Protocol
from weakref import WeakKeyDictionary

from textual.app import App
from textual.timer import Timer

FPS = 30
FRAME_BUDGET = 0.010  # seconds of flushing per frame, shared by all views


class Flushable(Protocol):
    def flush_frame(self, deadline: float) -> bool:
        """Do this frame's work, stopping around `deadline`; return True if work remains."""
        ...


_clocks: WeakKeyDictionary[App, FrameClock] = WeakKeyDictionary()


def _freeze_startup_heap() -> None:
    """Move everything alive at startup (modules, classes, Textual's tree) out of the collector.

    Why: while streaming, short-lived strips and segments trigger a full collection about twice
    a second, and each one scanned the whole startup heap: 40-100 ms pauses (measured), visible
    as frame gaps. Frozen objects are never scanned, so full collections cost a fraction. Done
    once per process, when the first streaming view appears.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


class FrameClock:
    """The app's shared frame clock; get it with `FrameClock.of(app)`."""

    def __init__(self, app: App, fps: float = FPS, budget: float = FRAME_BUDGET) -> None:
        self._app = app
        self._interval = 1.0 / fps
        self._budget = budget
        self._dirty: dict[Flushable, None] = {}  # insertion-ordered set: round-robin order
        self._timer: Timer | None = None

    @classmethod
    def of(cls, app: App) -> FrameClock:
        clock = _clocks.get(app)
        if clock is None:
            _freeze_startup_heap()
            clock = _clocks[app] = cls(app)
        return clock

    def mark_dirty(self, view: Flushable) -> None:
        """Ask for `view.flush_frame` on the next frame (cheap; call as often as you like)."""
        if view in self._dirty:
            return
        self._dirty[view] = None
        if self._timer is None:
            self._timer = self._app.set_interval(self._interval, self._tick, name="frame-clock")
        elif len(self._dirty) == 1:
            self._timer.resume()

    def forget(self, view: Flushable) -> None:
        """Stop flushing `view` (it was unmounted)."""
        self._dirty.pop(view, None)

    def _tick(self) -> None:
        deadline = time.perf_counter() + self._budget
        views = list(self._dirty)
        self._dirty.clear()
        skipped: list[Flushable] = []
        again: list[Flushable] = []
        for index, view in enumerate(views):
            if index and time.perf_counter() >= deadline:
                skipped = views[index:]  # over budget: these go first next frame
                break
            if view.flush_frame(deadline):
                again.append(view)
        for view in skipped + again:
            self._dirty[view] = None
        if not self._dirty and self._timer is not None:
            self._timer.pause()
