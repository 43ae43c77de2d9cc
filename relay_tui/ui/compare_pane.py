"""Compare pane (being built): one prompt, several models side by side."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand
from textual.widgets import Static


class ComparePane(Static):
    BINDINGS: list = []

    def session_changed(self) -> None:
        pass

    def palette_commands(self) -> Iterable[SystemCommand]:
        return ()
