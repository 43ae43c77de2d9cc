"""Chat pane (being built): conversations sidebar, streamed answers, prompt box."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand
from textual.widgets import Static


class ChatPane(Static):
    BINDINGS: list = []

    def session_changed(self) -> None:
        pass

    def palette_commands(self) -> Iterable[SystemCommand]:
        return ()
