"""Read the terminal screen as a user would see it: the composited text of every row."""

from __future__ import annotations


def screen_text(app) -> str:
    """All rows of the current screen as plain text (what a terminal would show), newline-joined."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)
