"""The Quota and Latency panes' places; their content comes with the quota/latency work.

Until then each says what it will show and which command already gives the same figures.
"""

from __future__ import annotations

from textual.widgets import Static


class QuotaPane(Static):
    def __init__(self) -> None:
        super().__init__("Quota: balance, used, remaining and alerts for the active profile.\n\n"
                         "Not in the TUI yet — `relay-tui quota` reads the same figures from the relay.",
                         classes="placeholder")


class LatencyPane(Static):
    def __init__(self) -> None:
        super().__init__("Latency: TTFT and total p50/p95/p99 per model, waterfalls and probes.\n\n"
                         "Not in the TUI yet — `relay-tui bench` measures the same figures.",
                         classes="placeholder")
