"""Short human-readable figures shared by the CLI and the TUI (the footer under an answer)."""

from __future__ import annotations

import math

from relay_tui.core.events import Cost, Done


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def fmt_cost(cost: Cost | None) -> str:
    if cost is None:
        return "cost ?"
    usd = cost.usd
    text = f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"
    return f"{text} (est. {cost.source})" if cost.estimated else text


def fmt_amounts(values: list[float | None], unit: str) -> list[str]:
    """Amounts shown together (a balance's granted, used and remaining) with one number of
    decimals: enough for the smallest non-zero one to show three significant digits (2 to 6).
    "$25.0000" beside "$0.040695" read as two precisions, and "0.0000 USD" hid a real spend."""
    small = min((abs(v) for v in values if v), default=1.0)
    decimals = 2 if small >= 1 else min(6, max(2, 2 - math.floor(math.log10(small))))
    usd = unit.upper() == "USD"
    return ["?" if v is None else f"${v:,.{decimals}f}" if usd else f"{v:,.{decimals}f} {unit}"
            for v in values]


def fmt_span(seconds: float) -> str:
    """A stretch of time in the unit that reads best: "10 min", "5.5 h", "3.2 days"."""
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def footer(done: Done, requested_model: str | None = None) -> str:
    """One line: served model, TTFT, tok/s, tokens in→out, cost, and what is estimated."""
    m = done.metrics
    model = m.served_model or requested_model or "?"
    if requested_model and m.served_model and m.served_model != requested_model:
        model = f"{requested_model} → {m.served_model}"
    rate = m.tokens_per_s
    out = "?" if m.output_tokens is None else f"{m.output_tokens}{'~' if m.output_tokens_estimated else ''}"
    parts = [
        model,
        f"TTFT {fmt_seconds(m.ttft)}",
        f"{rate:.1f} tok/s" if rate is not None else "– tok/s",
        f"{m.prompt_tokens if m.prompt_tokens is not None else '?'}→{out} tok",
        fmt_cost(done.cost),
    ]
    if m.output_tokens_estimated:
        parts.append("~ = estimated tokens")
    if done.finish_reason not in ("stop", "unspecified"):
        parts.append(f"finish: {done.finish_reason}")
    return " · ".join(parts)
