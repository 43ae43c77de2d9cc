"""The attacker's relay: every field of every reply shape, and the HTTP around them, made hostile.

Each case is a route table for tests/support/hostile_relay.py (a real loopback server sending the
exact bytes given) and the command that meets it. Whatever the relay sends, `check_outcome`
holds the same contract: the exit code the case expects, one actionable line on stderr for a
failure (the footer alone for an answer), no traceback, every byte on stdout and stderr inert
(tests/support/hostile.py classifies by Unicode category, not by the app's own list), `--json`
still valid JSON and inert, and what the history keeps inert and storable. The key is scanned
for in every file by conftest. `said` is a piece of the line each case must show.

The CLI runs in-process (`main()`), one relay for the module, so the ~200 cases take seconds;
the TUI meets the chat cases in one app session (test_the_tui_survives_every_chat_case).
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field

import pytest

from relay_tui.core.sanitize import neutralise
from relay_tui.store.history import History
from relay_tui.store.paths import config_path
from tests.conftest import TEST_KEY
from tests.support.hostile import HOSTILE, check, check_stored
from tests.support.hostile_relay import RESET, HostileRelay, Reply, chunk, sse
from tests.test_cli import run_cli

ES = "\x1b]0;pwned\x07\x1b[2J\u202egnp.exe\x9b31m"  # title, clear screen, bidi override, 8-bit CSI
ES_SHOWN = "␛]0;pwned␇␛[2J<U+202E>gnp.exe<U+009B>31m"
C, M = "POST /v1/chat/completions", "GET /v1/models"
OK = chunk("hi")
OK_LINE = b"data: " + json.dumps(OK).encode() + b"\n\n"
DONE = b"data: [DONE]\n\n"
SSE_HEAD = b"Content-Type: text/event-stream"


@dataclass
class Case:
    id: str
    routes: dict[str, Reply]
    code: int                     # exit code
    said: str = ""                # in the stderr line (or, exit 0, in stdout)
    argv: list[str] = field(default_factory=lambda: ["chat", "hi"])
    dialect: str = "simple"
    settings: dict = field(default_factory=dict)


def stream(*payloads, done: bool = True) -> Reply:
    return Reply(200, sse(*payloads, done=done), content_type="text/event-stream")


def raw(*pieces) -> Reply:
    return Reply(raw=list(pieces))


def head(*lines: bytes, status: bytes = b"200 OK", version: bytes = b"HTTP/1.1") -> bytes:
    return version + b" " + status + b"\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def error(status: int, body, **kw) -> Reply:
    return Reply(status, body, **kw)


def usage(**fields) -> dict:
    return {"choices": [], "usage": fields}


def models(data) -> dict[str, Reply]:
    return {M: Reply(200, data)}


# -- /v1/models: the list and its items -----------------------------------------------------------
MODELS = [
    Case("items of every type", models({"data": ["a", 1, None, True, [], {"id": None}, {"id": 7},
                                                {"id": "  "}, {"id": "fine"}]}), 0, "fine", ["models"]),
    Case("data an object", models({"data": {"id": "x"}}), 1, "/models reply has no model list", ["models"]),
    Case("body a string", models('"hello"'), 1, "/models reply has no model list", ["models"]),
    Case("body null", models("null"), 1, "is not JSON", ["models"]),
    Case("body a number", models("12"), 1, "/models reply has no model list", ["models"]),
    Case("error as a list", models({"error": [{"message": ES}]}), 1, "]0;pwned", ["models"]),
    Case("error as a number", {M: error(500, {"error": 12})}, 1, "the relay failed (HTTP 500): 12", ["models"]),
    Case("error true", {M: error(200, {"error": True})}, 1, "the relay answered with an error", ["models"]),
    Case("error fields nested", {M: error(400, {"error": {"message": {"a": [ES]}, "code": [1], "type": {}}})},
         1, "the relay rejected the request (HTTP 400)", ["models"]),
    Case("escapes in ids", models({"data": [{"id": ES, "owned_by": ES}]}), 0, ES_SHOWN, ["models"]),
    Case("escapes in ids, json", models({"data": [{"id": ES, "owned_by": {"x": ES}}]}), 0, ES_SHOWN,
         ["models", "--json"]),
    Case("the corpus in ids", models({"data": [{"id": HOSTILE}]}), 0, "␛[2J", ["models"]),
    Case("a 100,000-character id", models({"data": [{"id": "x" * 100_000}]}), 0, "xxxx", ["models"]),
    Case("50,000 models", models({"data": [{"id": f"m{i}"} for i in range(50_000)]}), 0, "m49999", ["models"]),
    Case("a 5 MB list", {M: Reply(200, b'{"data":[' + b'{"id":"aaaaaaaaaa"},' * 300_000 + b'{"id":"b"}]}')},
         1, "reply is over 4 MB; refused", ["models"]),
    Case("a gzip bomb (20 MB of spaces, 20 KB sent)", {M: Reply(200, gzip.compress(b" " * 20_000_000),
                                                   headers=[(b"Content-Encoding", b"gzip")])},
         1, "reply is over 4 MB; refused", ["models"]),
    Case("[ x 100,000", models(b"[" * 100_000), 1, "nested over 64 levels deep", ["models"]),
    Case("{ x 100,000", models(b'{"a":' * 100_000), 1, "nested over 64 levels deep", ["models"]),
    Case("65 levels of valid JSON", models(b"[" * 65 + b"]" * 65), 1, "nested over 64 levels deep", ["models"]),
    Case("NaN and Infinity in items", models('{"data": [{"id": "ok", "created": NaN, "n": Infinity}]}'),
         0, "ok", ["models", "--json"]),
    Case("a lone surrogate in an id", models('{"data": [{"id": "a\\ud800b"}]}'), 0, "a\ufffdb", ["models"]),
    Case("HTML 200", {M: Reply(200, "<html>login</html>", content_type="text/html")}, 1,
         "an HTML page, not JSON (HTTP 200)", ["models"]),
    Case("HTML 502", {M: Reply(502, "<html>bad gateway</html>", content_type="text/html")}, 1,
         "an HTML error page (HTTP 502)", ["models"]),
    Case("a redirect to another host", {M: Reply(302, b"", headers=[(b"Location", b"https://evil.example/?k=1")])},
         1, "the relay redirects (HTTP 302) to https://evil.example/?k=1", ["models"]),
    Case("a redirect quoting credentials", {M: Reply(301, b"", headers=[(b"Location", b"http://bob:s3cret@evil.example/")])},
         1, "to http://***@evil.example/", ["models"]),
    Case("a redirect to a malformed address", {M: Reply(307, b"", headers=[(b"Location", b"http://evil\x1b[2J/")])},
         1, "redirects to a malformed address", ["models"]),
]

# -- the stream: SSE fields and chunk shapes ------------------------------------------------------
STREAM = [
    Case("an error event", {C: stream(b'event: error\ndata: {"error":{"message":"boom"}}\n\n')}, 1,
         "the relay reported an error mid-stream: boom"),
    Case("escapes in id and retry fields", {C: stream(b"id: \x1b]0;x\x07\nretry: 99999999999999999999\n"
                                                      + OK_LINE)}, 0, "hi"),
    Case("data null", {C: stream("null")}, 1, "a stream chunk that is not a JSON object"),
    Case("data a list", {C: stream("[]")}, 1, "a stream chunk that is not a JSON object"),
    Case("data a string", {C: stream('"text"')}, 1, "a stream chunk that is not a JSON object"),
    Case("choices [null]", {C: stream({"choices": [None]}, OK)}, 0, "hi"),
    Case("delta a string", {C: stream({"choices": [{"delta": "hi there"}]}, OK)}, 0, "hi"),
    Case("content a number, list, object", {C: stream(*({"choices": [{"delta": {"content": c}}]}
                                                        for c in (5, ["a"], {"a": 1}, True)), OK)}, 0, "hi"),
    Case("reasoning a list", {C: stream({"choices": [{"delta": {"reasoning_content": [ES], "content": "ok"}}]})},
         0, "ok"),
    Case("finish_reason a number", {C: stream(OK, {"choices": [{"delta": {}, "finish_reason": 5}]})}, 0, "hi"),
    Case("finish_reason an object", {C: stream(OK, {"choices": [{"delta": {}, "finish_reason": {"a": ES}}]})},
         0, "hi"),
    Case("finish_reason with escapes, 30 KB", {C: stream(OK, {"choices": [{"delta": {}, "finish_reason": ES * 1000}]})},
         0, "hi"),
    Case("finish_reason error", {C: stream(OK, {"choices": [{"delta": {}, "finish_reason": "error"}]})}, 1,
         "the model's provider failed (finish_reason=error)"),
    Case("model not a string", {C: stream({**OK, "model": ["x"]})}, 0, "hi"),
    Case("model with escapes", {C: stream({**OK, "model": ES})}, 0, "hi"),
    Case("model 100,000 characters", {C: stream({**OK, "model": "m" * 100_000})}, 0, "hi"),
    Case("the corpus as the answer", {C: stream(chunk(HOSTILE))}, 0, "␛[2J"),
    Case("the corpus as reasoning", {C: stream(chunk(None, reasoning_content=HOSTILE), OK)}, 0, "hi"),
    Case("a NUL in the answer", {C: stream(b'data: {"choices":[{"delta":{"content":"a\\u0000b"}}]}\n\n')}, 0, "a␀b"),
    Case("a lone surrogate in the answer", {C: stream(b'data: {"choices":[{"delta":{"content":"a\\ud800b"}}]}\n\n')},
         0, "a\ufffdb"),
    Case("a lone low surrogate in the model", {C: stream(b'data: {"model":"m\\udc00","choices":[{"delta":{"content":"x"}}]}\n\n')},
         0, "x"),
    Case("usage counts as strings, negative, float", {C: stream(OK, usage(prompt_tokens="5", completion_tokens=-3,
                                                                          total_tokens=1.5, cost="0.1"))}, 0, "hi"),
    Case("usage counts as booleans", {C: stream(OK, usage(prompt_tokens=True, completion_tokens=False, cost=True))},
         0, "hi"),
    Case("usage NaN and Infinity", {C: stream(OK, b'data: {"choices":[],"usage":{"prompt_tokens":NaN,'
                                              b'"completion_tokens":Infinity,"cost":-Infinity}}\n\n')}, 0, "hi"),
    Case("usage counts of 10**400", {C: stream(OK, b'data: {"choices":[],"usage":{"completion_tokens":1'
                                               + b"0" * 400 + b"}}\n\n")}, 0, "hi"),
    Case("usage a list", {C: stream(OK, {"choices": [], "usage": [1, 2]})}, 0, "hi"),
    Case("usage details of the wrong type", {C: stream(OK, usage(completion_tokens=2, completion_tokens_details=[1],
                                                                 prompt_tokens_details="x"))}, 0, "hi"),
    Case("a cost of 1e300", {C: stream(OK, usage(completion_tokens=2, cost=1e300))}, 0, "hi"),
    Case("a negative cost", {C: stream(OK, usage(completion_tokens=2, cost=-5))}, 0, "hi"),
    Case("2**52 completion tokens", {C: stream(OK, usage(prompt_tokens=2**52, completion_tokens=2**52))}, 0, "hi"),
    Case("error as a string", {C: stream(OK, {"error": ES})}, 1, "error mid-stream after 1 tokens: ]0;pwned"),
    Case("error as a list", {C: stream(OK, {"error": [ES]})}, 1, "error mid-stream after 1 tokens: ]0;pwned"),
    Case("error null", {C: stream({"error": None}, OK)}, 0, "hi"),
    Case("error false", {C: stream({**OK, "error": False})}, 0, "hi"),
    Case("error as a number", {C: stream(OK, {"error": 500})}, 1, "error mid-stream after 1 tokens: 500"),
    Case("error nested in its message", {C: stream(OK, {"error": {"message": {"message": ES}}})}, 1,
         "error mid-stream after 1 tokens: no details"),
    Case("error quoting the key", {C: stream(OK, {"error": {"message": f"bad key {TEST_KEY}"}})}, 1,
         f"bad key sk-…{TEST_KEY[-4:]}"),
    Case("a quota error mid-stream", {C: stream(OK, {"error": {"message": "额度不足", "code": "insufficient_user_quota"}})},
         1, "out of credit"),
    Case("[DONE] with trailing text", {C: stream(OK, b"data: [DONE] trailing\n\n", done=False)}, 0, "hi"),
    Case("[done] in lower case", {C: stream(OK, b"data: [done]\n\n", done=False)}, 1, "malformed JSON"),
    Case("a BOM before the first event", {C: stream(b"\xef\xbb\xbf" + OK_LINE)}, 0, "hi"),
    Case("CR line ends", {C: Reply(200, [OK_LINE.replace(b"\n", b"\r"), DONE.replace(b"\n", b"\r")],
                                   content_type="text/event-stream")}, 0, "hi"),
    Case("mixed CRLF, LF and CR", {C: Reply(200, [OK_LINE[:-2] + b"\r\n\n", OK_LINE[:-2] + b"\n\r\n",
                                                  OK_LINE[:-2] + b"\r\r", DONE.replace(b"\n", b"\r\n")],
                                            content_type="text/event-stream")}, 0, "hihihi"),
    Case("600,000 data lines in one event", {C: stream(b"data: x\n" * 600_000 + b"\n")}, 1, "stream event over 4 MB"),
    Case("a 5 MB line", {C: stream(b"data: " + b"x" * 5_000_000 + b"\n\n")}, 1, "stream line over 4 MB"),
    Case("[ x 100,000 in a chunk", {C: stream(b"data: " + b"[" * 100_000 + b"\n\n")}, 1, "malformed JSON"),
    Case("{ x 100,000 in a chunk", {C: stream(b"data: " + b'{"a":' * 100_000 + b"\n\n")}, 1, "malformed JSON"),
    Case("content nested 2,000 deep", {C: stream(b'data: {"choices":[{"delta":{"content":' + b"[" * 2000
                                                 + b"]" * 2000 + b"}}]}\n\n")}, 1, "malformed JSON"),
    Case("20,000 one-letter events", {C: stream(*[chunk("a")] * 20_000)}, 0, "aaaa"),
    Case("no [DONE], no finish_reason", {C: stream(OK, done=False)}, 1, "cut off after 1 tokens"),
    Case("nothing at all", {C: stream(done=False)}, 1, "closed the stream before sending any answer"),
    Case("comments and blank lines only, then the end", {C: stream(b": hi\n\n\n\n: \x1b[2J\n\n", done=False)}, 1,
         "closed the stream before sending any answer"),
    Case("a whole completion instead of a stream", {C: Reply(200, {"choices": [{"message": {"content": ES}}],
                                                                   "model": ES, "usage": {"completion_tokens": 1e400}})},
         0, ES_SHOWN),
    Case("a whole completion with a lone surrogate", {C: Reply(200, '{"choices": [{"message": {"content": "a\\ud800"}}]}')},
         0, "a\ufffd"),
]

# -- HTTP: status lines, headers, framing, encodings, connections ----------------------------------
HTTP = [
    Case("reset before the status line", {C: raw(RESET)}, 1, "closed the connection without answering"),
    Case("reset in the status line", {C: raw(b"HTTP/1.1 2", RESET)}, 1, "closed the connection without answering"),
    Case("reset in the headers", {C: raw(b"HTTP/1.1 200 OK\r\nContent-Ty", RESET)}, 1,
         "closed the connection without answering"),
    Case("reset after the headers", {C: raw(head(SSE_HEAD), RESET)}, 1, "closed the connection without answering"),
    Case("reset mid-answer", {C: raw(head(SSE_HEAD), OK_LINE, OK_LINE, RESET)}, 1, "cut off after 2 tokens"),
    Case("reset mid-chunk", {C: raw(head(SSE_HEAD, b"Transfer-Encoding: chunked"),
                                    b"%x\r\n" % len(OK_LINE) + OK_LINE + b"\r\n", b"ff\r\nda", RESET)}, 1,
         "cut off after 1 tokens"),
    Case("closed mid-chunk", {C: raw(head(SSE_HEAD, b"Transfer-Encoding: chunked"),
                                     b"%x\r\n" % len(OK_LINE) + OK_LINE + b"\r\n", b"ff\r\nda")}, 1,
         "cut off after 1 tokens"),
    Case("a chunk size that is not hex", {C: raw(head(SSE_HEAD, b"Transfer-Encoding: chunked"), b"zz\r\n" + OK_LINE)},
         1, "closed the connection without answering"),
    Case("a chunk size of 20 hex digits", {C: raw(head(SSE_HEAD, b"Transfer-Encoding: chunked"),
                                                  b"f" * 20 + b"\r\n" + OK_LINE)}, 1, "cut off after 1 tokens"),
    Case("chunk extensions with escapes", {C: raw(head(SSE_HEAD, b"Transfer-Encoding: chunked"),
                                                  b"%x;ext=\x1b[2J\r\n" % len(OK_LINE + DONE) + OK_LINE + DONE
                                                  + b"\r\n0\r\n\r\n")}, 0, "hi"),
    Case("a trailer with escapes", {C: raw(head(SSE_HEAD, b"Transfer-Encoding: chunked"),
                                           b"%x\r\n" % len(OK_LINE + DONE) + OK_LINE + DONE
                                           + b"\r\n0\r\nX-Evil: \x1b[2J\r\n\r\n")}, 0, "hi"),
    Case("chunked and a Content-Length both", {C: raw(head(SSE_HEAD, b"Transfer-Encoding: chunked", b"Content-Length: 3"),
                                                    b"%x\r\n" % len(OK_LINE + DONE) + OK_LINE + DONE + b"\r\n0\r\n\r\n")},
         0, "hi"),  # RFC 9112: Transfer-Encoding wins
    Case("an unknown Transfer-Encoding", {C: raw(head(SSE_HEAD, b"Transfer-Encoding: evil"), OK_LINE, DONE)}, 1,
         "closed the connection without answering"),
    Case("an HTTP/2 preface instead of a response", {C: raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")}, 1,
         "closed the connection without answering"),
    Case("a status line, then the end", {C: raw(b"HTTP/1.1 200 OK\r\n")}, 1, "closed the connection without answering"),
    Case("garbage after [DONE]", {C: raw(head(SSE_HEAD), OK_LINE, DONE, b"\x1b[2J" * 10_000, 0.5, b"more")}, 0, "hi"),
    Case("ping events and null content", {C: stream(b'event: ping\ndata: {"type":"ping"}\n\n',
                                                    {"choices": [{"delta": {"content": None}}]}, OK)}, 0, "hi"),
    Case("data: without its space", {C: stream(b"data:" + json.dumps(OK).encode() + b"\n\n")}, 0, "hi"),
    Case("HTTP/1.0, the body ended by closing", {C: raw(head(SSE_HEAD, version=b"HTTP/1.0"), OK_LINE, DONE)}, 0, "hi"),
    Case("no status line at all", {C: raw(b"data: hi\n\n")}, 1, "closed the connection without answering"),
    Case("100 Continue first", {C: raw(b"HTTP/1.1 100 Continue\r\n\r\n", head(SSE_HEAD), OK_LINE, DONE)}, 0, "hi"),
    Case("103 Early Hints first", {C: raw(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n", head(SSE_HEAD),
                                          OK_LINE, DONE)}, 0, "hi"),
    Case("101 Switching Protocols", {C: raw(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                            b"Connection: Upgrade\r\n\r\n", b"\x81\x05hello")}, 1,
         "closed the connection without answering"),
    Case("two Content-Types", {C: raw(head(SSE_HEAD, b"Content-Type: application/json"), OK_LINE, DONE)}, 1,
         "is not JSON"),
    Case("two Content-Lengths that differ", {C: raw(head(b"Content-Type: application/json", b"Content-Length: 5",
                                                         b"Content-Length: 7"), b"{}")}, 1,
         "closed the connection without answering"),
    Case("a body shorter than its Content-Length", {C: raw(head(b"Content-Type: application/json",
                                                                b"Content-Length: 100"), b'{"error":"x"}')},
         1, "closed the connection without answering"),
    Case("a body longer than its Content-Length", {C: raw(head(SSE_HEAD, b"Content-Length: 5"), OK_LINE, DONE)}, 1,
         "closed the stream before sending any answer"),
    Case("bare LF header lines", {C: raw(b"HTTP/1.1 200 OK\nContent-Type: text/event-stream\n\n", OK_LINE, DONE)},
         0, "hi"),
    Case("a folded header", {C: raw(head(SSE_HEAD, b"X-A: a", b" b"), OK_LINE, DONE)}, 0, "hi"),
    Case("escapes in request-id headers", {C: raw(head(SSE_HEAD, b"X-Request-ID: \x1b]0;pwned\x07",
                                                       b"x-oneapi-request-id: \x1b[2J\xe2\x80\xae" + b"x" * 5000),
                                                  OK_LINE, DONE)}, 0, "hi"),
    Case("a NUL in a header", {C: raw(head(SSE_HEAD, b"X-A: a\x00b"), OK_LINE, DONE)}, 1,
         "closed the connection without answering"),
    Case("a 200 KB header", {C: raw(head(SSE_HEAD, b"X-Big: " + b"a" * 200_000), OK_LINE, DONE)}, 1,
         "closed the connection without answering"),
    Case("5,000 headers", {C: raw(head(SSE_HEAD, *[b"X-%d: a" % i for i in range(5000)]), OK_LINE, DONE)}, 0, "hi"),
    Case("status 999", {C: raw(head(b"Content-Type: application/json", status=b"999 WAT"), b'{"error":{"message":"wat"}}')},
         1, "the relay failed (HTTP 999): wat"),
    Case("status 600 with an escape in the reason", {C: raw(head(b"Content-Type: application/json",
                                                                 status=b"600 \x1b[2J"), b"{}")}, 1,
         "the relay failed (HTTP 600)"),
    Case("a status line without a reason", {C: raw(head(SSE_HEAD, status=b"200"), OK_LINE, DONE)}, 0, "hi"),
    Case("ICY instead of HTTP", {C: raw(b"ICY 200 OK\r\n\r\n", OK_LINE)}, 1, "closed the connection without answering"),
    Case("204 No Content", {C: raw(head(status=b"204 No Content"))}, 1, "(HTTP 204) is not JSON"),
    Case("200 with an empty JSON body", {C: Reply(200, b"")}, 1, "(HTTP 200) is not JSON"),
    Case("escapes in the Content-Type", {C: Reply(200, [OK_LINE, DONE], content_type="text/event-stream\x1b[2J")},
         0, "hi"),
    Case("a latin-1 error body", {C: Reply(400, '{"error":{"message":"café"}}'.encode("latin-1"),
                                           content_type="application/json; charset=latin-1")}, 1, "caf\ufffd"),
    Case("an event stream labelled text/html", {C: Reply(200, [OK_LINE, DONE], content_type="text/html")}, 1,
         "an HTML page, not JSON"),
    Case("no Content-Type", {C: raw(head(), OK_LINE, DONE)}, 0, "hi"),
    Case("an event stream labelled JSON", {C: Reply(200, [OK_LINE, DONE])}, 1, "is not JSON"),
    Case("a redirect to another host", {C: Reply(307, b"", headers=[(b"Location", b"http://evil.example/steal")])},
         1, "the relay redirects (HTTP 307) to http://evil.example/steal"),
    Case("a redirect with escapes in the Location", {C: Reply(307, b"", headers=[(b"Location",
                                                                                  b"http://u:p@evil/\x1b[2J")])},
         1, "redirects to a malformed address"),
    Case("a redirect without a Location", {C: Reply(301, b"")}, 1, "the relay redirects (HTTP 301) to elsewhere"),
    Case("a gzip bomb in the stream (a 20 MB line)", {C: Reply(200, [gzip.compress(b"data: " + b"x" * 20_000_000 + b"\n\n")],
                                                            content_type="text/event-stream",
                                                            headers=[(b"Content-Encoding", b"gzip")])},
         1, "stream line over 4 MB"),
    Case("a gzip bomb as an error body", {C: Reply(500, [gzip.compress(b" " * 20_000_000)],
                                                   headers=[(b"Content-Encoding", b"gzip")])}, 1, "over 4 MB; refused"),
    Case("corrupt gzip", {C: Reply(200, [b"\x1f\x8b\x08\x00garbage"], content_type="text/event-stream",
                                   headers=[(b"Content-Encoding", b"gzip")])}, 1, "before sending any answer"),
    Case("an unknown Content-Encoding", {C: Reply(200, [OK_LINE, DONE], content_type="text/event-stream",
                                                  headers=[(b"Content-Encoding", b"x-evil")])}, 0, "hi"),
    Case("junk as br", {C: Reply(200, [b"junk"], content_type="text/event-stream",
                                 headers=[(b"Content-Encoding", b"br")])}, 1, "before sending any answer"),
    Case("gzip inside deflate", {C: Reply(200, [zlib.compress(gzip.compress(OK_LINE + DONE))],
                                          content_type="text/event-stream",
                                          headers=[(b"Content-Encoding", b"gzip, deflate")])}, 0, "hi"),
    Case("headers a byte at a time", {C: raw(*[p for b in head(SSE_HEAD) for p in (bytes([b]), 0.1)], OK_LINE, DONE)},
         1, "within 1 s (first-byte timeout"),
    Case("an event a byte at a time", {C: raw(head(SSE_HEAD), *[p for b in OK_LINE for p in (bytes([b]), 0.05)])},
         1, "within 1 s, only keep-alives or empty chunks (first-byte timeout"),
    Case("silence after the headers", {C: raw(head(SSE_HEAD), 3.0)}, 1, "within 1 s (first-byte timeout"),
    Case("silence mid-answer", {C: raw(head(SSE_HEAD), OK_LINE, 3.0)}, 1, "went silent for 0.5 s mid-answer after 1 tokens"),
    Case("text trickling past the overall deadline", {C: raw(head(SSE_HEAD), *[p for _ in range(40) for p in (OK_LINE, 0.1)])},
         1, "took longer than 1.5 s in all", settings={"request_timeout": 1.5, "idle_timeout": 1}),
]

# -- errors: bodies, statuses, Retry-After and friends --------------------------------------------
ERRORS = [
    Case("Retry-After 1e308", {C: error(429, {"error": {"message": "slow"}}, headers=[(b"Retry-After", b"1e308")])},
         1, "(retry after over a year, longer than relay-tui waits: not retried)"),
    Case("retry-after-ms 1e308", {C: error(429, {"error": {"message": "slow"}}, headers=[(b"retry-after-ms", b"1e308")])},
         1, "(retry after over a year, longer than relay-tui waits: not retried)"),
    Case("Retry-After -5, nan, inf", {C: error(429, {"error": {"message": "slow"}}, headers=[
        (b"Retry-After", b"-5"), (b"Retry-After", b"nan"), (b"retry-after-ms", b"inf")])}, 1,
         "rate limited by the relay (HTTP 429): slow (retry after over a year"),
    Case("two Retry-Afters", {C: error(429, {"error": {"message": "slow"}}, headers=[
        (b"Retry-After", b"1"), (b"Retry-After", b"2")])}, 1, "rate limited by the relay (HTTP 429): slow ["),
    Case("Retry-After a date in 9999", {C: error(503, {"error": {"message": "x"}}, headers=[
        (b"Retry-After", b"Fri, 31 Dec 9999 23:59:59 GMT")])}, 1, "over a year, longer than relay-tui waits"),
    Case("Retry-After a date in the past", {C: error(503, {"error": {"message": "x"}}, headers=[
        (b"Retry-After", b"Wed, 21 Oct 2015 07:28:00 GMT")])}, 1, "the relay failed (HTTP 503): x"),
    Case("Retry-After with escapes", {C: error(429, {"error": {"message": "x"}}, headers=[(b"Retry-After", b"\x1b[2J soon")])},
         1, "rate limited by the relay (HTTP 429): x"),
    Case("Retry-After of 400 digits", {C: error(429, {"error": {"message": "x"}}, headers=[(b"Retry-After", b"9" * 400)])},
         1, "over a year"),
    Case("a cost header of 1e300, NaN, -1, escapes", {C: Reply(200, sse(OK, usage(completion_tokens=2)),
                                                               content_type="text/event-stream", headers=[
        (b"x-litellm-response-cost", b"1e300"), (b"X-LiteLLM-Response-Cost", b"nan"),
        (b"x-litellm-response-cost", b"-1"), (b"x-litellm-response-cost", b"\x1b[2J")])}, 0, "hi"),
    Case("x-ratelimit headers with escapes", {C: Reply(200, [OK_LINE, DONE], content_type="text/event-stream", headers=[
        (b"x-ratelimit-remaining-requests", b"\x1b[2J"), (b"x-ratelimit-reset-requests", b"1e308s")])}, 0, "hi"),
    Case("407 from the relay itself", {C: error(407, {"error": {"message": "auth"}}, headers=[
        (b"Proxy-Authenticate", b'Basic realm="\x1b]0;x\x07"')])}, 1, "wants credentials (HTTP 407)"),
    Case("401 with escapes", {C: error(401, {"error": {"message": ES}})}, 1, "the relay rejected the key"),
    Case("402 as a bare string", {C: error(402, "pay up \x1b[2J", content_type="text/plain")}, 1, "out of credit"),
    Case("403 with the corpus", {C: error(403, {"error": {"message": HOSTILE}})}, 1, "the relay refused the request (HTTP 403)"),
    Case("404 with a model list in the body", {C: error(404, {"error": {"message": "no"}, "data": [{"id": ES}]})}, 1,
         "does not serve model 'm'"),
    Case("400 echoing the key and headers", {C: error(400, {"error": {"message": f"Authorization: Bearer {TEST_KEY}"}})},
         1, f"Bearer sk-…{TEST_KEY[-4:]}"),
    Case("400 echoing a Basic credential", {C: error(400, {"error": {"message": "Proxy-Authorization: Basic Ym9iOnMzY3JldDEyMw=="}})},
         1, "Basic ***"),
    Case("400 quoting a URL with a password", {C: error(400, {"error": {"message": "upstream http://admin:hunter2@10.0.0.1/ down"}})},
         1, "upstream http://***@10.0.0.1/ down"),
    Case("500 with a 1 MB message", {C: error(500, {"error": {"message": "x" * 1_000_000}})}, 1, "xxx…"),
    Case("500 with line breaks", {C: error(500, {"error": {"message": "one\ntwo\r\nthree\u2028four"}})}, 1,
         "one two three"),
    Case("500 with 10 stacked request ids", {C: error(500, {"error": {"message": "down" + " (request id: 1)" * 10}})},
         1, "down (request id: 1)"),
    Case("500 error as a list of objects", {C: error(500, [{"error": {"message": "batch"}}])}, 1, "the relay failed (HTTP 500)"),
    Case("500 {success: false}", {C: error(500, {"success": False, "message": ES})}, 1, "]0;pwned"),
    Case("500 vLLM style", {C: error(500, {"object": "error", "message": ES, "type": ES})}, 1, "]0;pwned"),
    Case("200 carrying an error", {C: Reply(200, {"error": {"message": ES, "type": "one_api_error"}})}, 1,
         "the relay answered with an error"),
    Case("200 {success: false}", {C: Reply(200, {"success": False, "message": "no"})}, 1, "answered with an error: no"),
    Case("HTML 502", {C: Reply(502, "<html>\x1b[2J bad gateway</html>", content_type="text/html")}, 1,
         "HTML error page (HTTP 502)"),
    Case("HTML 200", {C: Reply(200, "<html>login</html>", content_type="text/html")}, 1, "an HTML page, not JSON"),
    Case("JSON 500 nested 100,000 deep", {C: Reply(500, b"[" * 100_000)}, 1, "nested over 64 levels deep"),
]

OR_KEY, LITELLM, NEWAPI, BILLING, USAGE, SIMPLE = ("GET /api/v1/key", "GET /key/info", "GET /api/usage/token",
                                                   "GET /v1/dashboard/billing/subscription",
                                                   "GET /v1/dashboard/billing/usage", "GET /v1/quota")


def quota(dialect: str, routes: dict[str, Reply], code: int, said: str, name: str) -> Case:
    return Case(f"{dialect}: {name}", routes, code, said, ["quota"], dialect)


def q(body) -> Reply:
    return Reply(200, body)


IMPOSSIBLE = "the relay is misbehaving"
QUOTA = [
    quota("openrouter", {OR_KEY: q({"data": {"usage": "1.5", "limit": "10", "label": ES}})}, 0, "used       $1.50", "amounts as strings"),
    quota("openrouter", {OR_KEY: q({"data": {"usage": -5, "limit": 10}})}, 1, "impossible usage (negative)", "negative usage"),
    quota("openrouter", {OR_KEY: q({"data": {"usage": 1, "limit": True}})}, 1, "unexpected reply", "limit a boolean"),
    quota("openrouter", {OR_KEY: q('{"data": {"usage": 1, "limit": NaN}}')}, 1, "impossible limit (not a finite number)", "limit NaN"),
    quota("openrouter", {OR_KEY: q({"data": [1]})}, 1, "unexpected reply", "data a list"),
    quota("openrouter", {OR_KEY: q(b'{"data": {"usage": 1, "limit": 10, "limit_remaining": 1' + b"0" * 400 + b"}}")},
          1, "impossible limit_remaining (over 1e+15)", "limit_remaining 10**400"),
    quota("openrouter", {OR_KEY: q({"data": {"usage": 1, "limit": 10, "limit_remaining": -3}})}, 0,
          "remaining  $-3.00", "overdrawn"),
    quota("litellm", {LITELLM: q({"info": {"spend": "abc", "max_budget": 5}})}, 1, "unexpected reply", "spend not a number"),
    quota("litellm", {LITELLM: q({"info": {"spend": 1, "max_budget": -5, "key_alias": ES}})}, 1,
          "impossible max_budget (negative)", "negative budget"),
    quota("litellm", {LITELLM: q('{"info": {"spend": Infinity, "max_budget": 5}}')}, 1, "impossible spend (not a finite number)", "spend Infinity"),
    quota("litellm", {LITELLM: q({"info": "x"})}, 1, "unexpected reply", "info a string"),
    quota("litellm", {LITELLM: Reply(500, {"error": {"message": "Database not connected"}})}, 1,
          "needs a database this proxy does not have", "no database"),
    quota("newapi-token", {NEWAPI: q({"data": {"total_granted": 1_000_000, "total_used": 500_000, "total_available": 500_000,
                                               "unlimited_quota": "false"}})}, 0, "granted    $2.00", "unlimited as the string false"),
    quota("newapi-token", {NEWAPI: q({"data": {"total_granted": "1e14", "total_used": "5", "total_available": "x", "name": ES}})},
          0, "remaining  ?", "amounts as strings"),
    quota("newapi-token", {NEWAPI: q({"data": {"total_granted": 1e20, "total_used": 5, "total_available": 5}})}, 1,
          "impossible total_granted (over 1e+15)", "1e20 granted"),
    quota("newapi-token", {NEWAPI: Reply(401, {"success": False, "message": ES})}, 1, "the relay rejected the key", "401"),
    quota("billing", {BILLING: q('{"hard_limit_usd": NaN}'), USAGE: q({"total_usage": 5})}, 1,
          "impossible hard_limit_usd (not a finite number)", "hard limit NaN"),
    quota("billing", {BILLING: q({"hard_limit_usd": 10}), USAGE: q({"total_usage": -1e300})}, 1,
          "impossible total_usage (over 1e+15)", "usage -1e300"),
    quota("billing", {BILLING: q({"hard_limit_usd": "10", "soft_limit_usd": ES, "system_hard_limit_usd": [1]}),
                      USAGE: q({"total_usage": "500"})}, 0, "used       $5.00", "fields of every type"),
    quota("billing", {BILLING: q({"hard_limit_usd": 10}), USAGE: q({"object": "list"})}, 1, "unexpected reply", "no usage"),
    quota("billing", {BILLING: q({"hard_limit_usd": 10}), USAGE: Reply(200, b"[" * 100_000)}, 1,
          "nested over 64 levels deep", "usage nested 100,000 deep"),
    quota("simple", {SIMPLE: q({"used": 1, "remaining": 2, "unit": {"a": 1}})}, 0, "granted    $3.00", "unit an object"),
    quota("simple", {SIMPLE: q({"used": 1, "remaining": 2, "unit": "U" * 100_000})}, 0, "U" * 24 + "\n", "a 100,000-character unit"),
    quota("simple", {SIMPLE: q({"used": 1, "remaining": 2, "currency": ES})}, 0, "␛]0;pwned␇", "currency with escapes"),
    quota("simple", {SIMPLE: q({"used": 1, "remaining": 2, "unit": HOSTILE})}, 0, "used       1.00 bell␇", "the corpus as the unit"),
    quota("simple", {SIMPLE: q({"used": True, "remaining": 2})}, 1, "unexpected reply", "used a boolean"),
    quota("simple", {SIMPLE: q({"used": -1e14, "remaining": -9e14})}, 1, "impossible used (negative)", "negative used"),
    quota("simple", {SIMPLE: q({"used": 1, "remaining": "nan"})}, 1, "impossible remaining (not a finite number)", "remaining 'nan'"),
    quota("simple", {SIMPLE: q({"used": "Infinity", "remaining": 1})}, 1, "impossible used (not a finite number)", "used 'Infinity'"),
    quota("simple", {SIMPLE: q({"error": {"message": ES}})}, 1, "the relay answered with an error: ]0;pwned", "an error with HTTP 200"),
    quota("simple", {SIMPLE: q({"success": False, "message": ES})}, 1, "the relay answered with an error", "success false"),
    quota("simple", {SIMPLE: Reply(302, b"", headers=[(b"Location", b"http://u:p@evil/")])}, 1,
          "HTTP 302, a redirect to http://***@evil/", "a redirect quoting credentials"),
    quota("simple", {SIMPLE: Reply(200, "<html>x</html>", content_type="text/html")}, 1, "HTTP 200 (HTML page)", "an HTML page"),
    quota("simple", {SIMPLE: Reply(502, "<html>x</html>", content_type="text/html")}, 1, "HTML error page (HTTP 502)", "HTML 502"),
    quota("simple", {SIMPLE: q(b"{" * 5000)}, 1, "not a JSON object", "{ x 5,000"),
    quota("simple", {SIMPLE: q(b"[" * 100_000)}, 1, "nested over 64 levels deep", "[ x 100,000"),
    quota("simple", {SIMPLE: q('{"used": 1, "remaining": 2, "unit": "a\\ud800"}')}, 0, "a\ufffd", "a lone surrogate in the unit"),
    quota("simple", {SIMPLE: Reply(200, b'{"used":1,"remaining":2}' + b" " * 5_000_000)}, 1, "over 4 MB; refused", "a 5 MB reply"),
    quota("auto", {OR_KEY: q({"data": "x"}), LITELLM: q({"info": None}), NEWAPI: q({"data": {}}), BILLING: q({}),
                   SIMPLE: q([])}, 1, "this relay does not report quota (tried:", "every dialect half there"),
    quota("auto", {k: Reply(500, {"error": {"message": ES}}) for k in (OR_KEY, LITELLM, NEWAPI, BILLING, SIMPLE)},
          1, "the relay failed (HTTP 500)", "every dialect failing"),
]

CASES = MODELS + STREAM + HTTP + ERRORS + QUOTA


@pytest.fixture(scope="module")
def relay():
    with HostileRelay() as server:
        yield server


def profile(relay: HostileRelay, case: Case) -> None:
    settings = {"connect_timeout": 2, "first_byte_timeout": 1, "idle_timeout": 0.5, "request_timeout": 30,
                "max_retries": 0, **case.settings}
    config_path().write_text(
        f'active_profile = "h"\n[profiles.h]\nbase_url = "{relay.base_url}"\ndefault_model = "m"\n'
        f'quota_dialect = "{case.dialect}"\nkey_env = "HOSTILE_KEY"\n'
        + "".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")


def check_outcome(case: Case, code: int, out: str, err: str) -> None:
    """The contract every case holds, whatever the relay sent."""
    assert "Traceback" not in err and code != 70, err
    check("stdout", out)
    check("stderr", err)
    lines = err.splitlines()
    if case.code != 0:
        assert code == case.code and out.count("\n") <= out.count("hi") + 1, (code, out, err)
        assert len(lines) == 1 and lines[0].startswith("relay-tui: "), err
        assert case.said in lines[0], lines[0]
    else:
        assert code == 0, err
        if case.argv[0] == "chat":  # the footer under the answer (after any reasoning)
            assert lines[-1].startswith("m") and " · TTFT " in lines[-1], err
        else:
            assert err == ""
        assert case.said in out, out[:300]
    with History() as history:
        check_stored(history, "h")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_hostile_reply_ends_in_one_clean_line(case: Case, relay, monkeypatch, capsys):
    monkeypatch.setenv("HOSTILE_KEY", TEST_KEY)
    relay.routes = dict(case.routes)
    profile(relay, case)
    check_outcome(case, *run_cli(capsys, *case.argv))
    if case.argv[0] != "chat":
        return
    code, out, err = run_cli(capsys, "chat", "--json", "hi")  # the same outcome for a program
    assert code == case.code and "Traceback" not in err
    check("--json", out)
    check("stderr", err)
    data = json.loads(out)  # valid JSON, failed or not
    assert ("error" in data) == (case.code != 0) and err.count("\n") == (case.code != 0)


def reaches_the_screen(case: Case) -> bool:
    """Relay text the TUI shows: every answer shape, and errors carrying escapes, the corpus or
    the key. Cases that wait out a timeout are left to the CLI (and test_hostile_deadlines)."""
    waits = bool(case.settings) or "a byte at a time" in case.id or "silence" in case.id
    hostile = any(mark in repr(case.routes) for mark in ("\\x1b", "pwned", TEST_KEY[:12]))
    return not waits and (case in STREAM or hostile)


TUI_CASES = [c for c in STREAM + HTTP + ERRORS if reaches_the_screen(c)]


async def test_the_tui_survives_every_chat_case(relay, monkeypatch):
    """One app session meets the chat cases whose relay text reaches the screen (~70): each
    answer's status is one line, a failure starts with ✗ and says the same as the CLI, and
    nothing unsafe is ever on the screen. After all of them a plain answer still streams."""
    from relay_tui.app import AppOptions, make_app
    from relay_tui.ui.chat_messages import AnswerBlock
    from tests.support.screen import screen_text
    from tests.test_fault_matrix import send

    monkeypatch.setenv("HOSTILE_KEY", TEST_KEY)
    profile(relay, Case("tui", {}, 0, settings={"first_byte_timeout": 5}))  # no case here waits one out
    app = make_app(AppOptions(profile="h"))
    async with app.run_test(size=(120, 40)) as pilot:
        for case in TUI_CASES:
            relay.routes = dict(case.routes)
            pane = await send(pilot, "hi")
            block = pane.query(AnswerBlock).last()
            status = block.status_text
            assert "\n" not in status, (case.id, status)
            if case.code:
                assert status.startswith("✗ ") and case.said in status, (case.id, status)
            else:
                assert " · TTFT " in status and case.said in neutralise(block.text), (case.id, status)
            check(f"the screen after {case.id}", screen_text(app))
        relay.routes = {C: stream(chunk("still "), chunk("here"))}
        pane = await send(pilot, "hi")
        assert pane.query(AnswerBlock).last().text == "still here"
    with History() as history:
        check_stored(history, "h")


GROUP_ROUTES = {  # what compare and bench meet: one route each, every column or request alike
    "the corpus as the answer and the served model": {C: stream({**chunk(HOSTILE), "model": ES})},
    "an error with escapes": {C: error(500, {"error": {"message": ES}})},
    "usage of NaN, 1e400 and a cost of 1e300": {C: stream(OK, b'data: {"choices":[],"usage":{"prompt_tokens":NaN,'
                                                              b'"completion_tokens":1e400,"cost":1e300}}\n\n')},
    "[ x 100,000": {C: Reply(200, b"[" * 100_000)},
    "a reset mid-answer": {C: raw(head(SSE_HEAD), OK_LINE, RESET)},
    "a lone surrogate": {C: stream(b'data: {"choices":[{"delta":{"content":"a\\ud800b"}}]}\n\n')},
}


@pytest.mark.parametrize("name", GROUP_ROUTES)
def test_compare_and_bench_meet_the_hostile_relay(name, relay, monkeypatch, capsys):
    """compare (two columns) and bench (three requests), plain and --json: an exit of 0 or 1,
    no traceback, every byte inert, JSON still JSON, each failure said once per column or per
    kind of failure."""
    monkeypatch.setenv("HOSTILE_KEY", TEST_KEY)
    relay.routes = dict(GROUP_ROUTES[name])
    profile(relay, Case(name, {}, 0))
    for argv in (["compare", "-m", "m,m", "hi"], ["compare", "--json", "-m", "m,m", "hi"],
                 ["bench", "-m", "m", "-n", "3", "-c", "3"], ["bench", "--json", "-m", "m", "-n", "3"]):
        code, out, err = run_cli(capsys, *argv)
        assert code in (0, 1) and "Traceback" not in err, (argv, err)
        check(f"{argv} stdout", out)
        check(f"{argv} stderr", err)
        if "--json" in argv:
            json.loads(out)
        failures = [line for line in err.splitlines() if "✗" in line or "failed" in line]
        assert len(failures) == (code == 1) * (2 if argv[0] == "compare" else 1), (argv, err)
    with History() as history:
        check_stored(history, "h")


async def test_a_relay_listing_200000_models_does_not_freeze_the_picker(relay, monkeypatch):
    """3.3 MB of model list (under the 4 MB cap): ctrl+t took 14 s and each key ~9 s, drawing
    every option and scoring each id. The picker holds the first 1,000 and filters by substring
    past 5,000 ids; the app answers keys meanwhile."""
    from relay_tui.app import AppOptions, make_app
    from tests.test_tui_chat import until

    monkeypatch.setenv("HOSTILE_KEY", TEST_KEY)
    relay.routes = models(b'{"data":[' + b",".join(b'{"id":"m%d"}' % i for i in range(200_000)) + b"]}")
    profile(relay, Case("many", {}, 0, settings={"first_byte_timeout": 20}))  # 3.3 MB to read
    app = make_app(AppOptions(profile="h"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+t")
        picker = app.screen
        await until(pilot, lambda: getattr(picker, "loaded", False), timeout=20)
        options = picker.query_one("#picker-options")
        assert options.option_count == 1000 and len(picker.items) == 200_000
        assert picker.note_for(1000).startswith("the first 1,000 of 200,000 models: type to narrow")
        await pilot.press(*"199999")  # the last one: only a filter over all 200,000 finds it
        await until(pilot, lambda: options.option_count == 1)


def test_an_answer_without_end_is_cut_at_the_answer_cap(relay, monkeypatch, capsys):
    """A relay streaming text as fast as it can would fill memory and disk long before
    request_timeout: past MAX_ANSWER_CHARS (32 M characters; 1 M here) the answer is cut with one
    line, and what arrived is kept."""
    from relay_tui.core import client

    monkeypatch.setattr(client, "MAX_ANSWER_CHARS", 2**20)
    monkeypatch.setenv("HOSTILE_KEY", TEST_KEY)
    relay.routes = {C: stream(*[chunk("x" * 1024)] * 2000, done=False)}
    profile(relay, Case("endless", {}, 1))
    code, out, err = run_cli(capsys, "chat", "hi")
    assert code == 1 and 2**20 - 100_000 < len(out) <= 2**20 + 2
    assert err.count("\n") == 1 and err.startswith("relay-tui: the answer passed 1 M characters after ")
    assert "tokens; stopped reading it — the relay or its upstream is misbehaving" in err
    with History() as history:
        kept = history.messages(history.conversations()[0].id)[1]
    assert kept.state == "error" and kept.content == out.strip()
