"""The shared frame clock: a per-frame budget while text streams in, the whole frame for complete text."""

from __future__ import annotations

import time

import pytest
from textual.app import App

from relay_tui.ui.frame_clock import FrameClock


class SlowView:
    """A view whose every frame takes `cost` seconds of work."""

    def __init__(self, complete: bool, cost: float = 0.003) -> None:
        self.complete = complete
        self.cost = cost
        self.frames = 0

    def flush_frame(self, deadline: float) -> bool:
        time.sleep(self.cost)
        self.frames += 1
        return False


@pytest.mark.alone  # timing checks: the machine to itself
async def test_streaming_views_share_a_budget_and_complete_ones_get_the_frame():
    app = App()
    async with app.run_test():
        clock = FrameClock.of(app)
        streaming = [SlowView(complete=False) for _ in range(6)]
        for view in streaming:
            clock.mark_dirty(view)
        clock._tick()  # one frame, run now (the clock's timer cannot fire before it returns)
        flushed = sum(view.frames for view in streaming)
        assert 1 <= flushed <= 4  # 10 ms budget: a key press waits at most ~one view's work
        clock._tick()
        assert sum(view.frames for view in streaming) == 6  # the rest go first next frame

        opened = [SlowView(complete=True) for _ in range(6)]  # 18 ms of complete text
        for view in opened:
            clock.mark_dirty(view)
        clock._tick()
        assert [view.frames for view in opened] == [1] * 6  # one frame shows them all

        mixed = [SlowView(complete=True) for _ in range(5)] + [SlowView(complete=False)]
        for view in mixed:
            clock.mark_dirty(view)
        clock._tick()
        assert sum(view.frames for view in mixed) <= 4  # a live stream keeps the budget
