"""What a finished request cost, and where that figure came from.

Order: the relay's own figure (exact) > the profile's price overrides > genai-prices' bundled list
prices (offline; never its network refresh) > the demo relay's table. Everything but the relay's
figure is an estimate, which `Cost.source` says. genai-prices costs ~170 ms to import, so it is
imported on first use only, and its model look-ups are cached: this runs after every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from relay_tui.core.events import Cost, Usage
from relay_tui.store.profile import Profile

RELAY_COST_HEADER = "x-litellm-response-cost"
_PRICE_PROBE_TOKENS = 1000  # small enough to stay under tiered thresholds (e.g. >200k input)


# No request costs this much: prices are at most 10,000 USD per million tokens (config.toml's
# bound) and no context holds 10 million tokens. A figure above it, the relay's or one estimated
# from a relay's token counts (2**52 completion tokens), is no cost at all.
MAX_REQUEST_USD = 100_000


def cost_for(profile: Profile, model: str, usage: Usage | None,
             headers: Mapping[str, str] | None = None) -> Cost | None:
    """The request's cost in USD, or None when there is no usage, no price for `model`, or no
    possible figure (see MAX_REQUEST_USD)."""
    cost = _cost_for(profile, model, usage, headers)
    return cost if cost is None or cost.usd < MAX_REQUEST_USD else None


def _cost_for(profile: Profile, model: str, usage: Usage | None,
              headers: Mapping[str, str] | None) -> Cost | None:
    if usage is None:
        return None
    relay = _usable(usage.relay_cost)
    if relay is None and headers:
        relay = _header_cost(headers)
    if relay is not None:
        return Cost(relay, "relay")
    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None
    prompt = usage.prompt_tokens or 0
    completion = usage.completion_tokens or 0
    price = profile.prices.get(model)
    if price is not None:
        return Cost(_per_m(prompt, completion, price.input_per_m, price.output_per_m), "profile")
    usd = _genai_cost(model, prompt, completion, usage.cached_tokens or 0)
    if usd is not None:
        return Cost(usd, "genai-prices")
    demo = _demo_price(model)
    if demo is not None:
        return Cost(_per_m(prompt, completion, *demo), "demo")
    return None


def price_of(profile: Profile, model: str) -> tuple[float, float, str] | None:
    """(USD per 1M input, USD per 1M output, source) for showing list prices, or None."""
    price = profile.prices.get(model)
    if price is not None:
        return price.input_per_m, price.output_per_m, "profile"
    listed = _genai_per_m(model)
    if listed is not None:
        return (*listed, "genai-prices")
    demo = _demo_price(model)
    if demo is not None:
        return (*demo, "demo")
    return None


def _per_m(prompt: int, completion: int, in_per_m: float, out_per_m: float) -> float:
    return (prompt * in_per_m + completion * out_per_m) / 1_000_000


def _usable(value: object) -> float | None:
    """A relay's cost figure if it is a possible one: from 0 to MAX_REQUEST_USD."""
    if isinstance(value, bool):
        return None
    try:
        usd = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return usd if 0 <= usd < MAX_REQUEST_USD else None


def _header_cost(headers: Mapping[str, str]) -> float | None:
    """LiteLLM's cost header; looked up case-insensitively since plain dicts keep server case."""
    for name, value in headers.items():
        if name.lower() == RELAY_COST_HEADER:
            return _usable(value)
    return None


def _candidates(model: str) -> list[tuple[str, str | None]]:
    """(model_ref, provider_id) guesses, most specific first.

    Relays name models as the admin likes: "gpt-4.1", "GPT-4.1", OpenRouter's "openai/gpt-4.1",
    or a "provider/model" the relay made up. genai-prices needs the bare id for direct providers.
    """
    refs = [(model, None), (model.lower(), None)]
    if "/" in model:
        prefix, _, tail = model.lower().rpartition("/")
        refs += [(model.lower(), "openrouter"), (tail, prefix.rsplit("/", 1)[-1]), (tail, None)]
    seen: list[tuple[str, str | None]] = []
    for ref in refs:
        if ref not in seen:
            seen.append(ref)
    return seen


@lru_cache(maxsize=512)
def _genai_ref(model: str) -> tuple[str, str | None] | None:
    """The first (model_ref, provider_id) genai-prices knows for `model`, or None."""
    from genai_prices import Usage as GPUsage, calc_price

    probe = GPUsage(input_tokens=1, output_tokens=1)
    for ref, provider in _candidates(model):
        try:
            calc_price(probe, ref, provider_id=provider)
        except LookupError:
            continue
        return ref, provider
    return None


@lru_cache(maxsize=4096)  # bench repeats one request: calc_price's Decimal sums once, not per call
def _genai_cost(model: str, prompt: int, completion: int, cached: int) -> float | None:
    ref = _genai_ref(model)
    if ref is None:
        return None
    from genai_prices import Usage as GPUsage, calc_price

    # genai-prices' input_tokens includes cached tokens, like OpenAI's prompt_tokens does.
    usage = GPUsage(input_tokens=prompt, output_tokens=completion,
                    cache_read_tokens=min(cached, prompt))
    return float(calc_price(usage, ref[0], provider_id=ref[1]).total_price)


@lru_cache(maxsize=512)
def _genai_per_m(model: str) -> tuple[float, float] | None:
    """List prices per 1M tokens, measured on a small request so tiers don't skew them."""
    ref = _genai_ref(model)
    if ref is None:
        return None
    from genai_prices import Usage as GPUsage, calc_price

    scale = 1_000_000 / _PRICE_PROBE_TOKENS
    calc = calc_price(GPUsage(input_tokens=_PRICE_PROBE_TOKENS, output_tokens=_PRICE_PROBE_TOKENS),
                      ref[0], provider_id=ref[1])
    return float(calc.input_price) * scale, float(calc.output_price) * scale


def _demo_price(model: str) -> tuple[float, float] | None:
    """The demo relay's own price table (USD per 1M), for the models only the demo serves."""
    from relay_tui.demo.catalog import MODELS

    spec = MODELS.get(model)
    return None if spec is None else (spec.input_usd_per_m, spec.output_usd_per_m)
