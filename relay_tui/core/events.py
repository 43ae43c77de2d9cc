"""Typed events and records the relay client produces.

Everything above the core (CLI, TUI, store writers) consumes these; nothing here knows about
HTTP libraries or Textual, so the types are cheap to import anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field


# Delta and Reasoning are made once per token: not frozen, whose __init__ costs 0.6 us to 0.26.
@dataclass(slots=True)
class Delta:
    """A piece of answer text (`delta.content`)."""

    text: str


@dataclass(slots=True)
class Reasoning:
    """A piece of reasoning text (`reasoning_content`, `reasoning`, or a `<think>` block)."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and, when the relay sent one, its own cost figure (USD)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    relay_cost: float | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    """A request's cost in USD and where the figure came from.

    `source` is one of "relay" (the relay reported it), "profile" (price overrides in the
    profile), "genai-prices" (bundled list prices), "demo" (the demo relay's price table).
    Anything but "relay" is an estimate.
    """

    usd: float
    source: str

    @property
    def estimated(self) -> bool:
        return self.source != "relay"


MIN_RATE_SPAN = 0.05   # s of streaming: 10x a loaded machine's scheduling and read jitter
MIN_RATE_READS = 3     # text in three reads at least (two gaps): one read shows no speed at all
BYTES_PER_CHAR = 4     # UTF-8's longest character; a token is at least one byte


@dataclass(slots=True)
class Metrics:
    """Timings of one request, in seconds from t0 (just before the request is sent).

    Definitions are DESIGN.md section 4: TTFT is the first chunk carrying non-empty content,
    reasoning or tool-call text; total is `[DONE]` or the end of the stream; tokens/s is
    (N - 1) / (total - TTFT).
    """

    request_id: str
    started_at: float = 0.0          # wall clock (time.time()) at t0, for the log
    connect: float | None = None     # TCP connect finished (None when a pooled connection was reused)
    tls: float | None = None         # TLS handshake finished (None for http://)
    headers: float | None = None     # response headers received
    ttft: float | None = None        # first content/reasoning/tool text
    ttfat: float | None = None       # first answer (content) text
    total: float | None = None       # [DONE] or stream end
    gaps: list[float] = field(default_factory=list)  # inter-chunk gaps between content-bearing chunks
    output_tokens: int | None = None
    output_tokens_estimated: bool = False
    prompt_tokens: int | None = None
    attempts: int = 1                # 1 + retries made before the first token
    status: int | None = None        # HTTP status of the final attempt
    served_model: str | None = None  # `model` the relay reported (an `auto` resolves here)
    relay_request_id: str | None = None  # e.g. X-Oneapi-Request-Id / X-Generation-Id header
    stored_tokens_per_s: float | None = None  # a stored answer's figure (its gaps are not kept)
    # What was asked, for the request's telemetry span (core/telemetry); never stored.
    base_url: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None

    text_chars: int | None = None    # characters of text (answer and reasoning) that arrived

    @property
    def tokens_per_s(self) -> float | None:
        """The decode speed, or None when this stream cannot show one (see `rate_measurable`)."""
        if self.stored_tokens_per_s is not None:
            return self.stored_tokens_per_s
        n = self.output_tokens
        if n is None or self.ttft is None or self.total is None or not self.rate_measurable():
            return None
        return (n - 1) / (self.total - self.ttft)

    def rate_measurable(self) -> bool:
        """A decode speed is a count over a time span; both must be real.

        The span: text must have come in at least MIN_RATE_READS reads spread over at least
        MIN_RATE_SPAN. Below that the figure measures how the bytes were read (a burst read
        at once, a loopback relay's whole answer in 2 ms: "3954372.5 tok/s"), not how the
        model decoded. The count: no token is shorter than one byte of UTF-8, and no character
        longer than 4, so a relay's count above 4 per character received is not a count of this
        text (a relay's completion_tokens of 10**12, or hidden reasoning a rate over the
        visible span would overstate)."""
        n = self.output_tokens
        if n is None or n < 2 or len(self.gaps) + 1 < MIN_RATE_READS:
            return False
        if self.total is None or self.ttft is None or self.total - self.ttft < MIN_RATE_SPAN:
            return False
        return self.text_chars is None or n <= BYTES_PER_CHAR * self.text_chars + 1


@dataclass(frozen=True, slots=True)
class Done:
    """The stream ended normally.

    `finish_reason` is the relay's value, or "unspecified" when it sent null or nothing.
    """

    finish_reason: str
    metrics: Metrics
    usage: Usage | None
    cost: Cost | None


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """Passed to the `on_retry` callback before the client sleeps and tries again."""

    attempt: int          # the attempt that just failed (1-based)
    delay: float          # seconds until the next attempt
    reason: str           # the failed attempt's one-line message


Event = Delta | Reasoning | Usage | Done
