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
YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default is 700)


class Flushable(Protocol):
    complete: bool  # the whole text is known: nothing streams in that a key press must not wait on

    def flush_frame(self, deadline: float) -> bool:
        """Do this frame's work, stopping around `deadline`; return True if work remains."""
        ...


_clocks: WeakKeyDictionary[App, FrameClock] = WeakKeyDictionary()


def tune_collector() -> None:
    """Keep garbage collection from pausing frames; once per process (the app calls it when its
    first screen is up, else the first view does).

    Why (measured at 4 columns): each frame's transient strips outlive a 700-allocation young
    collection and get promoted, so a full collection ran about once a second and scanned the
    whole startup heap, 40-100 ms each. Freezing what is alive at startup takes it out of every
    scan, and a larger young generation lets a frame's garbage die young: 20 full collections
    in 20 s became 1.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
    threshold, *older = gc.get_threshold()
    if 0 < threshold < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, *older)


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
            tune_collector()
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
        views = list(self._dirty)
        # The budget keeps keys answered while text streams in; views that only lay out text
        # already complete (a conversation being opened) get the whole frame: 5 answers then
        # show in one frame, not three (a 10,000-message conversation opened in ~100 ms less).
        streaming = not all(view.complete for view in views)
        deadline = time.perf_counter() + (self._budget if streaming else self._interval)
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
