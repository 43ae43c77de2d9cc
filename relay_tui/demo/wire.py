"""What goes on the wire: responses, the error bodies real gateways send, SSE chunk framing.

Bodies are copied from relay-protocol.md section 2.6 so clients are tested against the shapes
they will meet (one-api's `(request id: …)` suffix, OpenAI's `code`, OpenRouter's numeric code).
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from http import HTTPStatus

NGINX_502 = ("<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
             "</body>\r\n</html>\r\n")
MID_STREAM_ERROR = {"error": {"message": "The server had an error while processing your request. "
                                         "Sorry about that!", "type": "server_error"}}

@dataclass
class Reply:
    """A complete (non-streamed) HTTP response."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def request_id() -> str:
    """A one-api style request id: a timestamp and 8 random digits."""
    return time.strftime("%Y%m%d%H%M%S") + f"{random.randrange(10**8):08d}"


def dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def json_reply(status: int, obj: object, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, dumps(obj), headers=headers or [])


def error(status: int, message: str, type_: str, code: object = None, param: object = None,
          **extra: object) -> Reply:
    return json_reply(status, {"error": {"message": message, "type": type_, "param": param,
                                         "code": code, **extra}})


def invalid_key(rid: str) -> Reply:
    """What one-api sends for a wrong, missing or exhausted token."""
    return error(401, f"无效的令牌 (request id: {rid})", "one_api_error", "invalid_api_key", "")


def unknown_model(model: str) -> Reply:
    return error(404, f"The model `{model}` does not exist", "invalid_request_error",
                 "model_not_found", "model")


def bad_request(message: str, param: str | None = None) -> Reply:
    return error(400, message, "invalid_request_error", None, param)


def not_found(path: str) -> Reply:
    return error(404, f"Invalid URL (GET {path})", "invalid_request_error")


def rate_limited(model: str, retry_after: float) -> Reply:
    seconds = max(1, -(-retry_after // 1))  # Retry-After is whole seconds; retry-after-ms is exact
    reply = error(429, f"Rate limit reached for {model} in organization org-demo on requests per min "
                       f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {retry_after:g}s.",
                  "requests", "rate_limit_exceeded")
    if seconds < 1e15:
        reply.headers += [("Retry-After", str(int(seconds))), ("retry-after-ms", str(round(retry_after * 1000)))]
    else:  # as a careless relay writes a wait no integer header could hold: 1e+308
        reply.headers.append(("Retry-After", f"{retry_after:g}"))
    reply.headers += [("x-ratelimit-limit-requests", "3"), ("x-ratelimit-remaining-requests", "0"),
                      ("x-ratelimit-reset-requests", f"{retry_after:g}s")]
    return reply


def no_credit(style: str, rid: str) -> Reply:
    if style == "openrouter":
        return json_reply(402, {"error": {
            "code": 402, "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
            "metadata": {"limit_source": "account"}}})
    if style == "openai":
        return error(429, "You exceeded your current quota, please check your plan and billing details.",
                     "insufficient_quota", "insufficient_quota")
    return error(403, f"用户额度不足, 剩余额度: ＄0.000000 (request id: {rid})", "one_api_error",
                 "insufficient_user_quota", "")


def forbidden(model: str, rid: str) -> Reply:
    """one-api's 403 for a key whose model whitelist leaves this model out (middleware/auth.go)."""
    return json_reply(403, {"error": {"message": f"该令牌无权使用模型：{model} (request id: {rid})",
                                      "type": "one_api_error"}})


def stacked_ids(model: str, hops: int) -> Reply:
    """A chained relay's 503: every hop appended its own request id."""
    ids = " ".join(f"(request id: {request_id()})" for _ in range(max(2, min(3, hops))))
    return error(503, f"当前分组 default 下对于模型 {model} 无可用渠道 {ids}", "new_api_error", "", "")


def html_error(status: int) -> Reply:
    return Reply(status, NGINX_502.format(status=status).encode(), "text/html")


# What a hostile relay puts in every string it controls: clear screen, window title, an 8-bit CSI
# and a bidi override (the hostile_* faults; the client must show each of them inert).
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202egnp.exe"
DEEP = b"[" * 100_000   # no JSON parser walks this without a bound on depth


def deep_json() -> Reply:
    return Reply(200, DEEP)


def hostile_error(status: int) -> Reply:
    return error(status, f"bad request {ESCAPES}", f"type{ESCAPES}", f"code{ESCAPES}")


def echo_headers(status: int, headers: dict[str, str]) -> Reply:
    """A debug relay's error that quotes the request's headers: the key, a proxy's credentials."""
    said = ", ".join(f"{name}: {value}" for name, value in sorted(headers.items())
                     if name in ("authorization", "proxy-authorization"))
    return error(status, f"request rejected; headers received: {said}", "invalid_request_error")


def raw(token: str) -> str:
    """A marker `dumps_raw` writes as `token` unquoted: a number JSON cannot hold (NaN,
    Infinity, 1e400), which relays written in JavaScript or with a lax encoder still send."""
    return f"@raw@{token}"


def dumps_raw(obj: object) -> bytes:
    return re.sub(rb'"@raw@([^"]*)"', rb"\1", dumps(obj))


def sse(obj: object) -> bytes:
    return b"data: " + dumps(obj) + b"\n\n"
