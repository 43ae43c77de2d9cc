"""A relay profile: where to send requests and how. Plain data, read from config.toml.

The key is not here: it lives in the OS keyring or an environment variable (store/keys.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Price:
    """USD per million tokens, as a profile override."""

    input_per_m: float
    output_per_m: float


@dataclass(frozen=True)
class Profile:
    name: str
    base_url: str                      # e.g. "https://relay.example.com/v1" (the /v1 is part of it)
    default_model: str | None = None
    headers: dict[str, str] = field(default_factory=dict)   # extra headers sent on every request
    quota_dialect: str = "auto"        # auto | openrouter | litellm | newapi-token | billing | simple | none
    prices: dict[str, Price] = field(default_factory=dict)  # per-model price overrides
    proxy: str | None = None           # per-profile proxy URL; else HTTPS_PROXY/HTTP_PROXY apply
    key_env: str | None = None         # an environment variable that holds this profile's key
    connect_timeout: float = 10.0
    first_byte_timeout: float = 60.0   # from request sent to response headers / first SSE byte
    idle_timeout: float = 60.0         # longest wait between two pieces of text (keep-alives don't count)
    request_timeout: float = 1800.0    # the whole answer, from request sent to its end
    max_retries: int = 3

    @property
    def root_url(self) -> str:
        """The host part without a trailing /v1, where quota endpoints such as /api/... live."""
        url = self.base_url.rstrip("/")
        return url[:-3] if url.endswith("/v1") else url
