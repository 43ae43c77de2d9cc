"""When to try a failed request again, and how long to wait first.

The rules follow openai-python (reference/relay-protocol.md 2.7), which relays are tuned for:
408/409/429/5xx and network failures are retried, the relay's own `retry-after-ms` /
`Retry-After` wins over our backoff, and no wait is longer than 60 s: a relay that asks for more
is not retried at all (the error says how long it asked for), since a CLI or a TUI sitting still
for an hour helps no one. TLS failures and other 4xx are never retried: the user has to change
something. Only the client decides *whether*
a token already arrived (then nothing is retried).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping

from relay_tui.core.errors import RelayError

BASE_DELAY = 0.5
MAX_BACKOFF = 20.0
MAX_RELAY_WAIT = 60.0


class Wait(float):
    """A wait in seconds, capped at MAX_RELAY_WAIT; `asked` is what the relay asked for before the
    cap, so an error can say it and refuse to retry (see `delay_for`)."""

    asked: float

    def __new__(cls, asked: float) -> Wait:
        wait = super().__new__(cls, min(asked, MAX_RELAY_WAIT))
        wait.asked = asked
        return wait

    @property
    def too_long(self) -> bool:
        return self.asked > MAX_RELAY_WAIT


def retry_after(headers: Mapping[str, str]) -> Wait | None:
    """The wait the relay asked for in seconds (`retry-after-ms`, else `Retry-After` as seconds
    or an HTTP-date), capped at 60 s (`.asked` keeps the uncapped figure); None when absent or
    unreadable. LiteLLM's own rpm limit
    sends its wait only as `llm_provider-retry-after`, read when the standard names are absent."""
    for prefix in ("", "llm_provider-"):
        ms = headers.get(prefix + "retry-after-ms")
        if ms is not None:
            try:
                return _capped(float(ms) / 1000)
            except ValueError:
                pass
        value = headers.get(prefix + "retry-after")
        if value is not None:
            return _seconds(value)
    return None


def _seconds(value: str) -> float | None:
    """A Retry-After value: seconds or an HTTP-date."""
    try:
        return _capped(float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime  # rare form; the module costs ~5 ms to import

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return _capped(when.timestamp() - time.time())


def _capped(seconds: float) -> Wait | None:
    if math.isnan(seconds):  # unreadable
        return None
    return Wait(max(seconds, 0.0))  # inf (a 400-digit figure reads so) is a wait too long to make


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter for the wait after failed `attempt` (1-based):
    uniform in [0, min(cap, base * 2**(attempt-1))], so concurrent clients spread out."""
    ceiling = min(MAX_BACKOFF, BASE_DELAY * 2 ** (attempt - 1))
    return (rng or random).uniform(0.0, ceiling)


def delay_for(error: RelayError, attempt: int, max_retries: int) -> float | None:
    """Seconds to wait before retrying after `error` on `attempt`, or None: give up (also when
    the relay asked for a wait longer than MAX_RELAY_WAIT)."""
    if not error.retryable or attempt > max_retries:
        return None
    if error.retry_after is not None:
        if getattr(error.retry_after, "asked", error.retry_after) > MAX_RELAY_WAIT:
            return None
        return min(error.retry_after, MAX_RELAY_WAIT)
    return backoff(attempt)
