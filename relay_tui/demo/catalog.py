"""The demo relay's model catalogue: timings and list prices per model.

Prices are USD per 1M tokens (the seeds' figures); core/pricing.py reads them from `MODELS` to
estimate a demo request's cost, so they live in exactly one place.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace

AUTO = "auto"  # answers as one of MODELS and names it in the `model` field


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One demo model: how fast it answers and what it costs."""

    id: str
    owned_by: str
    ttft: float                 # seconds to the first token (before time_scale)
    tps: float                  # output tokens per second
    input_usd_per_m: float      # USD per 1M prompt tokens
    output_usd_per_m: float     # USD per 1M completion tokens
    reasoning_tokens: int = 0   # reasoning tokens streamed before the answer (0 = not a reasoner)
    answer_tokens: int | None = None  # fixed answer length; None = varied (120-300) per prompt
    answer_period: int | None = None  # the answer repeats its first N tokens (equal windows to time)
    context_length: int = 128_000
    ttft_spread: float = 0.0    # lognormal sigma of the first-token delay (0: exactly `ttft`)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one request at this model's list prices."""
        return (prompt_tokens * self.input_usd_per_m + completion_tokens * self.output_usd_per_m) / 1e6

    def first_token_delay(self, rng: random.Random) -> float:
        """One request's first-token delay: `ttft` on average, spread as real relays' are
        (a long right tail), so percentiles differ as they do in use."""
        if not self.ttft_spread:
            return self.ttft
        sigma = self.ttft_spread
        return self.ttft * rng.lognormvariate(-sigma * sigma / 2, sigma)


MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec("gpt-4.1", "openai", 0.80, 90.0, 2.00, 8.00, context_length=1_047_576,
                  ttft_spread=0.2),
        ModelSpec("claude-sonnet-4.5", "anthropic", 0.95, 70.0, 3.00, 15.00, context_length=200_000,
                  ttft_spread=0.25),
        ModelSpec("gemini-2.5-flash", "google", 0.45, 180.0, 0.30, 2.50, context_length=1_048_576,
                  ttft_spread=0.3),
        ModelSpec("deepseek-v3.2", "deepseek", 0.60, 45.0, 0.28, 0.42, reasoning_tokens=48,
                  ttft_spread=0.35),
    )
}


def apply_overrides(overrides: dict[str, dict] | None) -> dict[str, ModelSpec]:
    """The catalogue with per-model field overrides; unknown models or fields are a ValueError."""
    models = dict(MODELS)
    names = {f.name for f in fields(ModelSpec)} - {"id"}
    for model_id, changes in (overrides or {}).items():
        if model_id not in models:
            raise ValueError(f"model_overrides: unknown model {model_id!r} (known: {', '.join(MODELS)})")
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"model_overrides[{model_id!r}]: unknown field(s) {', '.join(sorted(unknown))}")
        if "ttft" in changes:  # a delay a test asks for is exact unless it asks for a spread
            changes = {"ttft_spread": 0.0, **changes}
        models[model_id] = replace(models[model_id], **changes)
    return models
