"""The status line: active profile, model and key state (masked), and what is running."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $foreground;
    }
    """

    def show(self, session, model: str | None, activity: str = "") -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if session is None:
            text.append("no relay yet", style="bold")
        else:
            text.append(session.profile.name + (" (demo relay)" if session.is_demo else ""), style="bold")
            text.append("  ·  model ")
            text.append(model or "none (ctrl+t)", style="bold")
            text.append("  ·  key ")
            text.append(session.key_state())
            if session.target.warnings:  # http:// to a non-loopback host (core/target.py)
                text.append("  ·  ")
                text.append("key sent unencrypted (http)", style="bold reverse")
        if activity:
            text.append("  ·  " + activity)
        self.update(text)
