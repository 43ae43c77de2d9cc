"""The RelayError taxonomy: every way a relay call can fail, as one actionable line.

`str(error)` is what a user sees (CLI stderr, TUI inline). It never contains the API key.
Subclasses exist so callers can react (retry, show quota, offer a model) without parsing text.
"""

from __future__ import annotations

import re

from relay_tui.core.redact import redact
from relay_tui.core.sanitize import neutralise_id


class RelayError(Exception):
    """Base: a relay or network failure. `str()` is the one-line message for the user."""

    kind = "error"
    retryable = False
    metrics = None  # a failed stream_chat attaches its Metrics (timings so far, attempts, status)

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None,
                 retry_after: float | None = None):
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.message = message
        super().__init__(self._line())

    def _line(self) -> str:
        return _shown(" ".join(self.message.split()), self.request_id)


def _shown(line: str, request_id: str | None) -> str:
    """The line as shown and stored: known secrets out, every character inert, one line."""
    if request_id:
        line += f" [request {request_id}]"
    return neutralise_id(redact(line))


class AuthError(RelayError):
    """401: the key is wrong, revoked or exhausted (one-api answers 401 for an empty token).

    When `profile` is given, the line ends with what to do about the key, which depends on where
    it came from (`key_source`, as `store.keys.key_source` says it: "env NAME", "keyring", ...):
    `relay-tui keys set` cannot fix a key read from an environment variable. Whoever knows the
    source sets it with `with_key_source`.
    """

    kind = "auth"

    def __init__(self, message: str, *, profile: str | None = None, key_source: str | None = None,
                 **kw):
        self.profile = profile
        self.key_source = key_source
        super().__init__(message, **kw)

    def with_key_source(self, key_source: str | None) -> AuthError:
        """Say where the rejected key came from; the line's advice follows. Returns self."""
        self.key_source = key_source
        self.args = (self._line(),)
        return self

    def _line(self) -> str:
        line = " ".join(self.message.split())
        if self.profile is not None:
            line += f" — {key_advice(self.profile, self.key_source)}"
        elif _from_env(self.key_source):  # a message that carries its own `keys set` advice
            line = _KEYS_SET.sub(key_advice("", self.key_source), line)
        return _shown(line, self.request_id)


_KEYS_SET = re.compile(r"run `relay-tui keys set [^`]*`")


def _from_env(key_source: str | None) -> bool:
    return bool(key_source) and key_source.startswith("env ")


def key_advice(profile: str, key_source: str | None = None) -> str:
    """What fixes a rejected key, by where it came from (the keyring unless told otherwise)."""
    if _from_env(key_source):
        return f"check {key_source[4:]}, the environment variable the key was read from"
    if key_source == "demo key":
        return "the demo relay refused its own key: restart it"
    return f"run `relay-tui keys set {profile}`"


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


# --- Classification: relay replies -> the taxonomy above -------------------------------------
# Pure functions (no HTTP library) so the client, quota dialects and tests share one reading of
# the relays' error shapes (reference/relay-protocol.md sections 2.5 and 2.6).

_REQUEST_ID = re.compile(r"\s*\(request id: [^)]*\)")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_QUOTA_CODES = ("insufficient_user_quota", "pre_consume_token_quota_failed", "insufficient_quota",
                "budget_exceeded")
_MAX_RELAY_TEXT = 300


def relay_text(text: str, secret: str | None = None) -> str:
    """A relay's message made safe for one line: controls gone, stacked request ids trimmed.

    Chained relays append "(request id: …)" once per hop; the first (the relay nearest us) is
    kept. The key is masked in case a relay echoes it back.
    """
    if secret and len(secret) >= 8:
        text = text.replace(secret, "sk-…" + secret[-4:])
    ids = _REQUEST_ID.findall(text)
    text = _REQUEST_ID.sub("", text).strip()
    if ids:
        text += " " + ids[0].strip()
    text = neutralise_id(" ".join(_CONTROL.sub(" ", redact(text)).split()))
    return text if len(text) <= _MAX_RELAY_TEXT else text[:_MAX_RELAY_TEXT - 1] + "…"


def error_fields(body: object) -> tuple[str, str] | None:
    """(message, code-or-type) from any known error body shape, or None if `body` is no error.

    Shapes: OpenAI/one-api/new-api/LiteLLM `{"error": {...}}`, OpenRouter (numeric code,
    metadata), `{"error": "text"}`, a list of those (the first is read), vLLM `{"object":
    "error", "message": ...}`, new-api `{"success": false, "message": ...}`. Any other truthy
    `error` (true, a number) is an error without details: a relay saying so is not ignored.
    """
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, list) and err:
        first = err[0]
        return error_fields({"error": first}) if isinstance(first, (dict, str)) else ("", "")
    if isinstance(err, dict):
        message = _said(err.get("message")) or _said(err.get("msg"))
        raw = err.get("metadata", {}).get("raw") if isinstance(err.get("metadata"), dict) else None
        if raw and isinstance(raw, str) and raw not in message:
            message = f"{message}: {raw}" if message else raw
        code = " ".join(_said(err.get(k)) for k in ("code", "type") if _said(err.get(k)))
        return message, code
    if isinstance(err, str) and err:
        return err, ""
    if err is True or (isinstance(err, (int, float)) and not isinstance(err, bool) and err):
        return ("" if err is True else _said(err)), ""
    if body.get("object") == "error":
        return _said(body.get("message")), _said(body.get("type")) or _said(body.get("code"))
    if body.get("success") is False and body.get("message"):
        return _said(body["message"]), ""
    return None


def _said(value: object) -> str:
    """A field of an error body as text: strings and numbers only (a nested list or object is
    no message, and printing one deep enough raised RecursionError)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value) if abs(value) < 1e18 else ""
    return ""


def classify(status: int, body: object, *, profile: str, request_id: str | None,
             retry_after: float | None = None, secret: str | None = None,
             model: str | None = None) -> RelayError:
    """The RelayError for an HTTP error reply (or a 200 whose JSON body is an error).

    `body` is the parsed JSON, or the raw text when it was not JSON.
    """
    fields = error_fields(body)
    if fields is not None:
        message, code = fields
    else:
        message, code = (body if isinstance(body, str) else ""), ""
    said = relay_text(message, secret)
    low = f"{code} {message}".lower()
    tail = f": {said}" if said else ""
    kw = dict(status=status, request_id=request_id)
    http = f" (HTTP {status})" if status != 200 else ""

    exhausted = any(c in low for c in _QUOTA_CODES) or "额度" in message  # 1A: "额度已用尽"
    if status == 402 or exhausted:
        return QuotaExhausted(f"out of credit on profile {profile}{http}{tail} — top up or check "
                              f"`relay-tui quota`", **kw)
    if status == 401 or "no_db_connection" in low:  # LiteLLM without a database: any key but its master key
        return AuthError(f"the relay rejected the key for profile {profile}{http}{tail}",
                         profile=profile, **kw)
    if status == 404 or "model_not_found" in low or "invalid model name" in low:  # the last: LiteLLM
        what = f"model {model!r}" if model else "the requested model"
        return UnknownModel(f"the relay does not serve {what}{http}{tail}", **kw)
    if status == 403:
        return Forbidden(f"the relay refused the request (HTTP 403){tail} — the key may lack access to "
                         f"this model or region: try another model (`relay-tui models`) or ask the relay's "
                         f"admin", **kw)
    # retry.retry_after caps the wait at what we are willing to sleep and keeps the relay's own
    # figure as `.asked`: a longer wait is reported as asked, and then not retried (retry.delay_for)
    too_long = getattr(retry_after, "too_long", False)
    if too_long:
        retry_after = float(retry_after.asked)  # type: ignore[union-attr]
        wait = f" (retry after {fmt_wait(retry_after)}, longer than relay-tui waits: not retried)"
    else:
        wait = f" (retry after {retry_after:g} s)" if retry_after is not None else ""
    if status == 429:
        return RateLimited(f"rate limited by the relay (HTTP 429){tail}{wait}", retry_after=retry_after,
                           **kw)
    if status >= 500 or status in (408, 409):
        return ServerError(f"the relay failed (HTTP {status}){tail}{wait if too_long else ''}",
                           retry_after=retry_after, **kw)
    if status >= 400:
        return BadRequest(f"the relay rejected the request (HTTP {status}){tail}", **kw)
    return ServerError(f"the relay answered with an error{tail}", **kw)


def fmt_wait(seconds: float) -> str:
    """`3600 s (1 h)`: seconds, and for a minute or more the two largest units."""
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds >= 366 * 86400:  # Retry-After: 1e308 must not print a 309-digit number
        return "over a year"
    whole = round(seconds)
    parts, rest = [], whole
    for name, size in (("day", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {name}{'s' if name == 'day' and count > 1 else ''}")
    return f"{whole} s ({' '.join(parts[:2])})"
