"""The RelayError taxonomy: every way a relay call can fail, as one actionable line.

`str(error)` is what a user sees (CLI stderr, TUI inline). It never contains the API key.
Subclasses exist so callers can react (retry, show quota, offer a model) without parsing text.
"""

from __future__ import annotations


class RelayError(Exception):
    """Base: a relay or network failure. `str()` is the one-line message for the user."""

    kind = "error"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None,
                 retry_after: float | None = None):
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.message = message
        super().__init__(self._line())

    def _line(self) -> str:
        line = " ".join(self.message.split())
        return f"{line} [request {self.request_id}]" if self.request_id else line


class AuthError(RelayError):
    """401: the key is wrong, revoked or exhausted (one-api answers 401 for an empty token)."""

    kind = "auth"


class QuotaExhausted(RelayError):
    """402 / 403 insufficient_user_quota / 429 insufficient_quota / budget_exceeded."""

    kind = "quota"


class Forbidden(RelayError):
    """403 that is not about credit: region, moderation, model not allowed for this key."""

    kind = "forbidden"


class UnknownModel(RelayError):
    """404 / 400 model_not_found; the message carries "did you mean" from /v1/models."""

    kind = "model"


class BadRequest(RelayError):
    """Any other 4xx the relay explains."""

    kind = "request"


class RateLimited(RelayError):
    """429 rate limit (not a quota problem); `retry_after` holds the relay's wait."""

    kind = "rate_limit"
    retryable = True


class ServerError(RelayError):
    """5xx, 408, 409, and errors the relay sent mid-stream."""

    kind = "server"
    retryable = True


class BadResponse(RelayError):
    """An HTML error page, malformed SSE, non-UTF-8 bytes, an oversized line, a truncated stream."""

    kind = "response"


class RelayTimeout(RelayError):
    """Connect, first-byte or idle-gap timeout."""

    kind = "timeout"
    retryable = True


class ConnectionFailed(RelayError):
    """Refused connection, DNS failure, dropped connection, proxy failure."""

    kind = "connection"
    retryable = True


class TLSFailure(RelayError):
    """Certificate or handshake failure: not retried, the user must fix the URL or CA."""

    kind = "tls"
