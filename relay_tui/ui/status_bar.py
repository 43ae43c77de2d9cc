"""The status line: active profile, model and key state (masked), and what is running.

It is one row, so it is laid out for the width it has: the wordy parts go first (separators,
labels, where the key came from), then the model and profile names are shortened. The plain-HTTP
warning is never shortened: it is the one part a user must not miss.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from relay_tui.core.sanitize import neutralise

HTTP_WARNING = "key sent unencrypted (http)"


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._state: tuple = (None, None, "")

    def show(self, session, model: str | None, activity: str = "") -> None:
        self._state = (session, model, activity)
        self.refresh(layout=False)

    def on_resize(self) -> None:
        self.refresh()

    def render(self) -> Text:
        return status_text(*self._state, width=self.content_region.width or 10_000)


def status_text(session, model: str | None, activity: str = "", *, width: int) -> Text:
    """The status line's text at `width` cells: the fullest layout that fits."""
    if session is None:
        return _assemble([("no relay yet", "bold")], activity, "  ·  ")
    profile = neutralise(session.profile.name)
    demo = " (demo relay)" if session.is_demo else ""
    model_name = neutralise(model) if model else "none (ctrl+t)"
    full_key = session.key_state()
    short_key = full_key.split(" (")[0]
    warning = bool(session.target.warnings)  # http:// to a non-loopback host (core/target.py)

    def layout(sep: str, demo_: str, model_label: str, key: str | None, prof: str, mod: str,
               act: str) -> Text:
        parts: list[tuple[str, str]] = [(prof + demo_, "bold"), (sep, ""), (model_label, ""),
                                        (mod, "bold")]
        if key is not None:
            parts += [(sep, ""), ("key ", ""), (key, "")]
        if warning:
            parts += [(sep, ""), (HTTP_WARNING, "bold reverse")]
        return _assemble(parts, act, sep)

    candidates = [
        ("  ·  ", demo, "model ", full_key, activity),
        (" · ", demo, "model ", full_key, activity),
        (" · ", demo, "model ", short_key, activity),
        (" · ", " (demo)", "model ", short_key, activity),
        (" · ", " (demo)", "", short_key, activity),
        (" · ", " (demo)", "", None, activity),
        (" · ", " (demo)", "", None, ""),
    ]
    for sep, demo_, label, key, act in candidates:
        text = layout(sep, demo_, label, key, profile, model_name, act)
        if text.cell_len <= width:
            return text
    # Still too wide: shorten the names, never the warning.
    fixed = layout(" · ", " (demo)" if demo else "", "", None, "", "", "").cell_len
    room = max(2, width - fixed)
    prof_room = max(1, min(len(profile), room // 3))
    mod_room = max(1, room - prof_room)
    return layout(" · ", " (demo)" if demo else "", "", None, _shorten(profile, prof_room),
                  _shorten(model_name, mod_room), "")


def _assemble(parts: list[tuple[str, str]], activity: str, sep: str) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for chunk, style in parts:
        text.append(chunk, style=style or None)
    if activity:
        text.append(sep + activity)
    return text


def _shorten(value: str, room: int) -> str:
    return value if len(value) <= room else value[:max(0, room - 1)] + "…"
