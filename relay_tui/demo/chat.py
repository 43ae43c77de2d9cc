"""`POST /v1/chat/completions`: an answer streamed on a loop-time schedule, shaped by faults.

Token i is due at t0 + ttft + i/tps (t0 = the request received, so a client that times from
sending it measures the configured delay plus loopback transit), computed from the loop clock rather than
by accumulating sleeps, so a configured delay is what a client measures. Tokens already due are
written together, so time_scale=0 sends a whole answer in one write.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Protocol

from relay_tui.demo import answers, wire
from relay_tui.demo.books import Books
from relay_tui.demo.catalog import ModelSpec

KEEP_ALIVE = b": keep-alive\n\n"
# faults that end a stream early, after their `after` tokens: with an error, a cut, silence, or
# bytes that carry no text (FILLERS)
STREAM_ENDERS = ("mid_stream_error", "truncate", "stall", "keep_alives", "empty_deltas")
FILLERS = ("keep_alives", "empty_deltas")
KEEP_ALIVE_EVERY = 50           # tokens between keep-alive comments (one is sent before the first)
REASONING_FALLBACK = 48         # reasoning length when a fault asks a non-reasoner to think
# The hostile_output fault's pieces: clear screen, title, hyperlink, clipboard write (base64 of
# "rm -rf ~"), bell, backspaces, an 8-bit CSI, and a bidi override that makes "gnp.exe" read "exe.png".
HOSTILE = ("\x1b[2J", "\x1b[H", "\x1b]0;pwned\x07", "\x1b]8;;https://evil.example/\x1b\\", "click",
           "\x1b]8;;\x1b\\", "\x1b]52;c;cm0gLXJmIH4=\x07", "\x07", " abc", "\b\b\b", " \x9b2J",
           " \u202egnp.exe", "\n\n")


class Exchange(Protocol):
    """One HTTP exchange on a connection (implemented by the server)."""

    received_at: float           # loop time at which the whole request had arrived

    async def head(self, status: int, headers: list[tuple[str, str]]) -> None: ...
    async def data(self, chunk: bytes) -> None: ...
    async def end(self) -> None: ...
    def close(self) -> None: ...
    async def until_client_leaves(self) -> None: ...


@dataclass
class ChatRequest:
    requested: str
    spec: ModelSpec              # the served model (an `auto` request resolved)
    messages: list
    stream: bool
    include_usage: bool
    max_tokens: int | None
    ttft: float                  # this request's first-token delay (spec.first_token_delay)


@dataclass
class Settings:
    seed: int
    time_scale: float
    report_cost: bool
    books: Books


def parse(body: bytes) -> dict | wire.Reply:
    """The request JSON, or the 400 a relay sends for a body it cannot use."""
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return wire.bad_request("We could not parse the JSON body of your request.")
    if not isinstance(data, dict):
        return wire.bad_request("The request body must be a JSON object.")
    if not isinstance(data.get("model"), str) or not data["model"]:
        return wire.bad_request("you must provide a model parameter", "model")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        return wire.bad_request("'messages' must be a non-empty array", "messages")
    limit = data.get("max_completion_tokens", data.get("max_tokens"))
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        return wire.bad_request("max_tokens must be a positive integer", "max_tokens")
    return data


def plan(req: ChatRequest, faults: dict, seed: int) -> tuple[list[tuple[bool, str]], str]:
    """The pieces to send as (is_reasoning, text), and the finish reason."""
    prompt = answers.last_user_text(req.messages)
    spec = req.spec
    n_answer = spec.answer_tokens if spec.answer_tokens is not None else answers.answer_length(seed, spec.id, prompt)
    period = spec.answer_period
    if period and n_answer > period:  # a section of `period` tokens (the last a blank line), again
        section = list(answers.answer_tokens(seed, spec.id, prompt, period - 1)) + ["\n\n"]
        content = (section * -(-n_answer // period))[:n_answer]
    else:
        content = list(answers.answer_tokens(seed, spec.id, prompt, n_answer))
    if "hostile_output" in faults:
        content[3:3] = HOSTILE
    n_reason = spec.reasoning_tokens
    if not n_reason and ("think_tags" in faults or "openrouter_reasoning" in faults):
        n_reason = REASONING_FALLBACK
    reasoning = [(True, t) for t in answers.reasoning_tokens(seed, spec.id, prompt, n_reason)]
    if reasoning and "think_tags" in faults:
        pieces = [(False, "<think>\n")] + reasoning + [(False, "\n</think>\n\n")]
    else:
        pieces = reasoning
    pieces += [(False, t) for t in content]
    if req.max_tokens is not None and req.max_tokens < len(pieces):
        return pieces[: req.max_tokens], "length"
    return pieces, "stop"


def usage(req: ChatRequest, pieces: list[tuple[bool, str]], settings: Settings, faults: dict) -> dict:
    prompt = answers.prompt_tokens(req.messages)
    completion = len(pieces)
    out = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
           "prompt_tokens_details": {"cached_tokens": 0},
           "completion_tokens_details": {"reasoning_tokens": sum(1 for r, _ in pieces if r)}}
    if settings.report_cost:
        out["cost"] = req.spec.cost(prompt, completion)
    if "nan_usage" in faults:
        out.update(prompt_tokens=wire.raw("NaN"), completion_tokens=wire.raw("Infinity"),
                   total_tokens=wire.raw("1e400"), cost=wire.raw("NaN"))
    return out


def served_id(req: ChatRequest, faults: dict) -> str:
    """The `model` the answer names (the hostile_model fault adds escapes to it)."""
    return req.spec.id + (wire.ESCAPES if "hostile_model" in faults else "")


def charge(req: ChatRequest, pieces: list[tuple[bool, str]], settings: Settings) -> None:
    prompt = answers.prompt_tokens(req.messages)
    settings.books.charge(req.spec.id, prompt, len(pieces), req.spec.cost(prompt, len(pieces)))


async def complete(ex: Exchange, req: ChatRequest, faults: dict, settings: Settings, rid: str) -> None:
    """A non-streamed answer: the whole generation time, then one JSON body."""
    pieces, finish = plan(req, faults, settings.seed)
    scale = settings.time_scale
    if scale and pieces:
        await asyncio.sleep(scale * (req.ttft + (len(pieces) - 1) / req.spec.tps))
    text = "".join(t for r, t in pieces if not r or "think_tags" in faults)
    message: dict = {"role": "assistant", "content": text}
    thought = "".join(t for r, t in pieces if r) if "think_tags" not in faults else ""
    if thought:
        message["reasoning" if "openrouter_reasoning" in faults else "reasoning_content"] = thought
    body = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": served_id(req, faults),
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": None if "null_finish" in faults else finish}]}
    if "no_usage" not in faults:
        body["usage"] = usage(req, pieces, settings, faults)
    charge(req, pieces, settings)
    payload = wire.dumps_raw(body)
    await ex.head(200, [("content-type", "application/json"), ("content-length", str(len(payload))),
                        ("x-oneapi-request-id", rid)])
    await ex.data(payload)
    await ex.end()


class _Gzipped:
    """An exchange whose body is gzip, each write flushed so it arrives at once (as nginx streams).

    A 10 MB line of one repeated byte then crosses the wire as ~10 KB and reaches the client
    decoded in one piece: the client's size caps must hold for what it decodes, not what it reads.
    """

    def __init__(self, ex: Exchange):
        self._ex = ex
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def __getattr__(self, name: str):
        return getattr(self._ex, name)

    async def data(self, chunk: bytes) -> None:
        await self._ex.data(self._gzip.compress(chunk) + self._gzip.flush(zlib.Z_SYNC_FLUSH))

    async def end(self) -> None:
        await self._ex.data(self._gzip.flush())
        await self._ex.end()


class _Chunks:
    """Pre-rendered chunk framing: only the delta is serialised per token (this is the hot path)."""

    def __init__(self, req: ChatRequest, faults: dict):
        head = wire.dumps({"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
                           "created": int(time.time()), "model": served_id(req, faults)})
        self.prefix = b"data: " + head[:-1] + b',"choices":[{"index":0,"delta":'
        self.usage_null = b',"usage":null' if req.include_usage else b""
        self.suffix = b',"logprobs":null,"finish_reason":null}]' + self.usage_null + b"}\n\n"
        self.head = head
        if "think_tags" in faults:  # new-api ThinkingToContent: reasoning travels as content
            self.reasoning_key = b'{"content":'
        elif "openrouter_reasoning" in faults:
            self.reasoning_key = b'{"content":"","reasoning":'
        else:
            self.reasoning_key = b'{"content":null,"reasoning_content":'

    def delta(self, is_reasoning: bool, text: str) -> bytes:
        key = self.reasoning_key if is_reasoning else b'{"content":'
        return self.prefix + key + wire.dumps(text) + b"}" + self.suffix

    def raw(self, delta: bytes, finish: bytes = b"null") -> bytes:
        return self.prefix + delta + b',"logprobs":null,"finish_reason":' + finish + b"}]" + self.usage_null + b"}\n\n"

    def usage(self, usage: dict, with_choices: bool) -> bytes:
        choices = b'[{"index":0,"delta":{}}]' if with_choices else b"[]"
        return b"data: " + self.head[:-1] + b',"choices":' + choices + b',"usage":' + wire.dumps_raw(usage) + b"}\n\n"


def _inserts(chunks: _Chunks, faults: dict) -> dict[int, bytes]:
    """Broken lines injected before token `after` (never counted as tokens)."""
    out: dict[int, bytes] = {}
    if "malformed_sse" in faults:
        out[int(faults["malformed_sse"]["after"])] = b"data: {not json\n\n"
    if "non_utf8" in faults:
        at = int(faults["non_utf8"]["after"])
        out[at] = out.get(at, b"") + chunks.raw(b'{"content":"\xff\xfe\xc3("}')
    if "huge_line" in faults:
        at = int(faults["huge_line"]["after"])
        size = int(faults["huge_line"]["size"])
        out[at] = out.get(at, b"") + chunks.raw(b'{"content":"' + b"A" * size + b'"}')
    return out


async def stream(ex: Exchange, req: ChatRequest, faults: dict, settings: Settings, rid: str) -> None:
    """A streamed answer; charges for what was sent even when the client leaves or a fault cuts it."""
    loop = asyncio.get_running_loop()
    pieces, finish = plan(req, faults, settings.seed)
    chunks = _Chunks(req, faults)
    inserts = _inserts(chunks, faults)
    ender = next((name for name in STREAM_ENDERS if name in faults), None)
    stop_at = min(int(faults[ender]["after"]), len(pieces)) if ender else len(pieces)
    ttft = settings.time_scale * req.ttft
    gap = settings.time_scale / req.spec.tps
    sent = 0
    buf = bytearray(chunks.raw(b'{"role":"assistant","content":""}') + KEEP_ALIVE)
    headers = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"),
               ("x-oneapi-request-id", rid)]
    if "gzip" in faults:
        ex = _Gzipped(ex)
        headers.append(("content-encoding", "gzip"))
    await ex.head(200, headers)
    t0 = ex.received_at
    try:
        pending = 0
        for i in range(stop_at):
            due = t0 + ttft + i * gap
            if due > loop.time():
                if pending and not sent:
                    settings.books.first_token(loop.time() - t0)
                await ex.data(bytes(buf))
                buf.clear()
                sent += pending
                pending = 0
                await asyncio.sleep(due - loop.time())
            if i in inserts:
                buf += inserts[i]
            if i and i % KEEP_ALIVE_EVERY == 0:
                buf += KEEP_ALIVE
            buf += chunks.delta(*pieces[i])
            pending += 1
        if stop_at in inserts:
            buf += inserts[stop_at]
        if ender == "mid_stream_error":
            buf += wire.sse(wire.MID_STREAM_ERROR)
        elif ender is None:
            buf += chunks.raw(b"{}", b"null" if "null_finish" in faults else b'"' + finish.encode() + b'"')
            if req.include_usage and "no_usage" not in faults:
                buf += chunks.usage(usage(req, pieces, settings, faults), "usage_with_choices" in faults)
            buf += b"data: [DONE]\n\n"
        if pending and not sent:
            settings.books.first_token(loop.time() - t0)
        await ex.data(bytes(buf))
        sent += pending
        if ender == "truncate":
            ex.close()
        elif ender == "stall":
            await ex.until_client_leaves()
            ex.close()
        elif ender in FILLERS:  # bytes without text until the client leaves (data() raises then)
            filler = KEEP_ALIVE if ender == "keep_alives" else chunks.raw(b"{}")
            while True:
                await asyncio.sleep(float(faults[ender]["every"]))
                await ex.data(filler)
        else:
            await ex.end()
    finally:
        charge(req, pieces[:sent], settings)
