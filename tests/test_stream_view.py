"""StreamView: streamed markdown looks like the finished answer, and model text stays inert."""

from __future__ import annotations

import random
import time

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region

from relay_tui.ui.stream_view import StreamView

DOC = """# Streaming report

Intro paragraph with *emphasis*, **strong** text, `inline code` and a
[link](https://example.com) that wraps across a fairly long line of prose to make it wrap.

## Steps

1. first step
2. second step

3. third step after a blank line (same list)

- bullet one
- bullet two
  continued

```python
def add(a, b):
    \"\"\"Add two numbers.\"\"\"
    return a + b
```

| name | value |
|------|-------|
| x    | 1     |
| y    | 22    |

> a quote
> on two lines

---

Closing words.
"""


class Columns(App):
    def compose(self) -> ComposeResult:
        with Horizontal():
            yield StreamView(id="streamed")
            yield StreamView(id="whole")


async def settle(pilot, *views: StreamView) -> None:
    for _ in range(200):
        await pilot.pause(0.01)
        if all(view.idle for view in views):
            return
    raise AssertionError("view did not settle")


def visible(view: StreamView) -> list[list[Segment]]:
    """The rows the compositor would get for the view's visible area."""
    return [list(strip) for strip in view.render_lines(Region(0, 0, *view.size))]


def texts(view: StreamView) -> list[str]:
    return [("".join(seg.text for seg in row)).rstrip() for row in visible(view)]


async def stream(pilot, view: StreamView, text: str, seed: int) -> None:
    """Append `text` in random 1-12 character pieces, letting frames pass in between."""
    rng = random.Random(seed)
    position = 0
    while position < len(text):
        size = rng.randint(1, 12)
        view.append(text[position : position + size])
        position += size
        if rng.random() < 0.2:
            await pilot.pause(0.01)
    view.finish()
    await settle(pilot, view)


async def test_streamed_text_renders_like_a_fresh_full_render():
    app = Columns()
    async with app.run_test(size=(160, 60)) as pilot:
        streamed = app.query_one("#streamed", StreamView)
        whole = app.query_one("#whole", StreamView)
        for seed in (1, 2):
            streamed.clear()
            await stream(pilot, streamed, DOC, seed)
            whole.set_text(DOC)
            await settle(pilot, whole)
            assert streamed.size == whole.size
            assert visible(streamed) == visible(whole)
            assert streamed.text == DOC
        shown = "\n".join(texts(streamed))
        for fragment in ("Streaming report", "• bullet two", "return a + b", "Closing words."):
            assert fragment in shown
        assert "```" not in shown and "**" not in shown


async def test_code_block_is_highlighted_on_the_code_background():
    app = Columns()
    async with app.run_test(size=(160, 60)) as pilot:
        view = app.query_one("#whole", StreamView)
        view.set_text("text\n\n```python\ndef add(a, b):\n    return a + b\n```\n")
        await settle(pilot, view)
        row = next(row for row in visible(view) if "def add" in "".join(s.text for s in row))
        colours = {seg.style.color for seg in row if seg.text.strip() and seg.style}
        assert len(colours) >= 2  # keyword, name, punctuation in different colours
        code_bg = view.get_component_rich_style("stream-view--code-block").bgcolor
        assert all(seg.style.bgcolor == code_bg for seg in row if seg.text.strip())


async def test_escape_sequences_and_bidi_overrides_never_reach_the_terminal():
    hostile = "Hi \x1b[2J\x1b]0;pwned\x07 \x9b31m \u202eevil\u2066 \x08done\n\n```\n\x1b[31mcode\n```\n"
    app = Columns()
    async with app.run_test(size=(160, 40)) as pilot:
        view = app.query_one("#streamed", StreamView)
        await stream(pilot, view, hostile, seed=3)
        segments = [seg for row in visible(view) for seg in row]
        text = "".join(seg.text for seg in segments)
        for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\x08"):
            assert bad not in text
        assert not any(seg.control for seg in segments)
        assert "␛[2J" in text and "␛[31mcode" in text  # shown, not obeyed
        assert view.text == hostile  # the source is kept as received, for history


async def test_rich_markup_in_model_text_appears_literally():
    app = Columns()
    async with app.run_test(size=(160, 40)) as pilot:
        view = app.query_one("#streamed", StreamView)
        await stream(pilot, view, "Say [bold]x[/] and [red]y[/red] please\n", seed=4)
        row = next(row for row in visible(view) if "[bold]x[/]" in "".join(s.text for s in row))
        assert "[red]y[/red]" in "".join(seg.text for seg in row)
        assert not any(seg.style and seg.style.bold for seg in row if "x" in seg.text)


async def test_auto_scroll_follows_the_end_until_the_user_scrolls_up():
    app = Columns()
    async with app.run_test(size=(100, 20)) as pilot:
        view = app.query_one("#streamed", StreamView)
        await stream(pilot, view, "".join(f"para {i}\n\n" for i in range(40)), seed=5)
        assert view.max_scroll_y > 0 and view.scroll_y == view.max_scroll_y
        assert texts(view)[-1] == "para 39"

        view.scroll_home(animate=False)
        await pilot.pause()
        view.append("para 40\n\n")
        await settle(pilot, view)
        assert view.scroll_y == 0 and texts(view)[0] == "para 0"

        view.scroll_end(animate=False)
        await pilot.pause()
        view.append("para 41\n\npara 42")
        await settle(pilot, view)
        assert view.scroll_y == view.max_scroll_y and texts(view)[-1] == "para 42"


async def test_resize_reflows_to_the_new_width():
    long = "word " * 120 + "\n\n- " + "item " * 40 + "\n\n" + "tail " * 60
    app = Columns()
    async with app.run_test(size=(160, 60)) as pilot:
        streamed = app.query_one("#streamed", StreamView)
        whole = app.query_one("#whole", StreamView)
        await stream(pilot, streamed, long, seed=6)
        before = sum(1 for line in texts(streamed) if line)
        await pilot.resize_terminal(100, 60)
        await settle(pilot, streamed)
        width = streamed.scrollable_content_region.width
        after = texts(streamed)
        assert sum(1 for line in after if line) > before
        assert all(len(line) <= width for line in after)
        whole.set_text(long)
        await settle(pilot, whole)
        assert visible(streamed) == visible(whole)


async def test_colours_follow_the_app_theme():
    app = Columns()
    async with app.run_test(size=(160, 40)) as pilot:
        app.theme = "textual-dark"
        view = app.query_one("#whole", StreamView)
        view.set_text("# Title\n\nbody\n")
        await settle(pilot, view)

        def title_colour():
            row = next(row for row in visible(view) if "Title" in "".join(s.text for s in row))
            return next(seg.style.color for seg in row if "Title" in seg.text)

        dark = title_colour()
        assert dark == view.get_component_rich_style("stream-view--h1").color
        app.theme = "textual-light"
        await pilot.pause()
        await settle(pilot, view)
        assert title_colour() != dark
        assert title_colour() == view.get_component_rich_style("stream-view--h1").color


async def test_a_list_is_not_frozen_while_its_next_item_may_still_be_arriving():
    app = Columns()
    async with app.run_test(size=(160, 40)) as pilot:
        streamed = app.query_one("#streamed", StreamView)
        whole = app.query_one("#whole", StreamView)
        for piece in ("1. first\n\n", "2", ". second\n\nafter\n"):
            streamed.append(piece)  # "2" alone would be a paragraph that ends the list
            await settle(pilot, streamed)
        streamed.finish()
        await settle(pilot, streamed)
        whole.set_text(streamed.text)
        await settle(pilot, whole)
        assert visible(streamed) == visible(whole)
        assert " 2 second" in texts(streamed)


async def test_an_unpaced_burst_is_taken_in_over_several_frames():
    burst = "".join(f"Paragraph {i} with some words to render.\n\n" for i in range(600))
    app = Columns()
    async with app.run_test(size=(160, 40)) as pilot:
        streamed = app.query_one("#streamed", StreamView)
        whole = app.query_one("#whole", StreamView)
        for i in range(0, len(burst), 5):
            streamed.append(burst[i : i + 5])
        streamed.flush_frame(time.perf_counter() + 0.010)  # one frame: FRAME_TEXT_CAP at most
        assert not streamed.idle
        assert len(burst) > 2 * StreamView.FRAME_TEXT_CAP
        streamed.finish()
        await settle(pilot, streamed)
        whole.set_text(burst)
        await settle(pilot, whole)
        assert visible(streamed) == visible(whole)
        assert texts(streamed)[-1] == "Paragraph 599 with some words to render."



def test_blocks_render_as_rich_markdown_renders_them():
    """Blocks are rendered from their share of one parse, with no parser per block: the lines
    must be exactly those of Rich's own Markdown for each block's source."""
    from rich.markdown import Markdown
    from rich.style import Style

    from relay_tui.ui.markdown_blocks import BlockRenderer, Palette, _trim, split_blocks

    palette = Palette()
    renderer = BlockRenderer({}, "monokai", Style(bgcolor="black"), palette)
    frozen, live, _ = split_blocks(DOC * 2, final=True)
    prose = [block for block in frozen if block.fence_lang is None]
    assert not live and len(prose) > 16
    for block in prose:
        theirs = renderer._lines(Markdown(block.source, code_theme="monokai", hyperlinks=False), 50)
        assert renderer.render(block, 50) == [palette.pack(line) for line in _trim(theirs)], block.source


async def test_complete_text_is_laid_out_at_its_first_width_not_a_frame_later(monkeypatch):
    """An opened answer (set_text before layout) renders when it first gets a width: opening a
    conversation then lays out once, instead of waiting for the clock and laying out again."""
    from relay_tui.ui.frame_clock import FrameClock

    ticks: list[object] = []
    monkeypatch.setattr(FrameClock, "mark_dirty", lambda clock, view: ticks.append(view))

    class Opened(App):
        def compose(self) -> ComposeResult:
            yield StreamView("# Title\n\nSome *stored* answer.", id="opened")

    app = Opened()
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        view = app.query_one("#opened", StreamView)
        assert view.idle and [row.strip() for row in texts(view)[:3]] == ["Title", "", "Some stored answer."]
