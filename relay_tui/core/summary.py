"""Short human-readable figures shared by the CLI and the TUI (the footer under an answer)."""

from __future__ import annotations

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
