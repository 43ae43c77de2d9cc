"""Property tests of the stream decoder, shared by tests/test_sse_fuzz.py and bench/fuzz_sse.py.

The decoder is driven as RelayClient._attempt drives it (feed each chunk, stop at an error or
`[DONE]`, else `end()` at EOF), without HTTP: `StreamDecoder` and `ChunkParser` are pure.
Properties:
- `chunking_is_invisible`: a valid stream (every framing the SSE spec allows: LF/CRLF/CR line
  ends, `data:` with or without its space, payloads over several data lines, comments, other
  fields, a last event without its blank line) gives, under any split into chunks, exactly the
  events the chunk parser gives for its payloads read directly.
- `garbage_is_refused_cleanly`: any bytes, split anyhow, end in events and/or a RelayError,
  never another exception; bounded work is held by hypothesis's per-example deadline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import strategies as st

from relay_tui.core.errors import RelayError
from relay_tui.core.events import Delta, Reasoning, Usage
from relay_tui.core.sse import ChunkParser, StreamDecoder

CAP = 64 * 1024  # a smaller event cap than the client's, so the fuzzer reaches it


@dataclass(frozen=True)
class Outcome:
    events: tuple[Delta | Reasoning, ...]
    done: bool
    finish_reason: str | None
    usage: Usage | None
    error: str | None  # "ClassName: message" of the RelayError that ended the stream


def drive(pieces: list[bytes]) -> Outcome:
    """Feed `pieces` as the client does; any non-RelayError exception propagates (a defect)."""
    parser = ChunkParser("rt-fuzz")
    decoder = StreamDecoder(parser, cap=CAP)
    events: list[Delta | Reasoning] = []
    error: RelayError | None = None
    try:
        for piece in pieces:
            events += decoder.feed(piece)
            if decoder.error or parser.done:
                break
        else:
            events += decoder.end()
        error = decoder.error
    except RelayError as exc:
        error = exc
    return Outcome(tuple(events), parser.done, parser.finish_reason, parser.usage,
                   f"{type(error).__name__}: {error}" if error else None)


def direct(payloads: list[str]) -> Outcome:
    """The reference: the chunk parser fed the payloads themselves, no SSE framing at all."""
    parser = ChunkParser("rt-fuzz")
    events: list[Delta | Reasoning] = []
    error = None
    try:
        for data in payloads:
            events += parser.feed(data)
            if parser.done:
                break
        else:
            events += parser.finish()
    except RelayError as exc:
        error = exc
    return Outcome(tuple(events), parser.done, parser.finish_reason, parser.usage,
                   f"{type(error).__name__}: {error}" if error else None)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


# -- valid streams ----------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_think = st.sampled_from(["<think>", "</think>", "<thi", "nk>", "\n", " "])


@st.composite
def payload(draw) -> str:
    """One chat.completion.chunk JSON (content, reasoning, role, finish, usage) or an error."""
    kind = draw(st.sampled_from(["content", "content", "content", "reasoning", "role", "finish",
                                 "usage", "error"]))
    if kind == "error":
        return json.dumps({"error": {"message": draw(_text), "type": "server_error"}})
    if kind == "usage":
        return json.dumps({"choices": [], "usage": {"prompt_tokens": draw(st.integers(0, 999)),
                                                    "completion_tokens": draw(st.integers(0, 999))}})
    delta: dict = {}
    finish = None
    if kind == "content":
        delta["content"] = draw(st.one_of(_text, _think))
    elif kind == "reasoning":
        delta[draw(st.sampled_from(["reasoning_content", "reasoning"]))] = draw(_text)
    elif kind == "role":
        delta = {"role": "assistant", "content": ""}
    else:
        finish = draw(st.sampled_from(["stop", "length", "error"]))
    obj = {"id": "c1", "model": "gpt-4.1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return json.dumps(obj, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, None, 1])))


@st.composite
def event_bytes(draw, data: str) -> bytes:
    """`data` as one SSE event, framed any way the spec allows."""
    eol = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from([": keep-alive", ":", "event: message", "id: 7", "retry: 10",
                                           "unknown-field: x"])))
    for part in data.split("\n"):  # a multi-line payload is one data line per line
        lines.append(("data: " if draw(st.booleans()) else "data:") + part)
    return (eol.join(lines) + eol + eol).encode()


@st.composite
def valid_stream(draw) -> tuple[bytes, list[str]]:
    """(the stream's bytes, its payloads in order); ends in [DONE], in a cut, or in neither."""
    payloads = draw(st.lists(payload(), max_size=12))
    end = draw(st.sampled_from(["done", "done", "done-unterminated", "eof"]))
    if end != "eof":
        payloads.append("[DONE]")
    raw = b"".join(draw(event_bytes(p)) for p in payloads)
    if end == "done-unterminated":
        raw = raw.rstrip(b"\r\n")  # some relays omit the last blank line
    return raw, payloads


def chunking_is_invisible(stream: tuple[bytes, list[str]], cuts: list[int]) -> None:
    raw, payloads = stream
    expected = direct(payloads)
    assert drive([raw]) == expected
    assert drive(split(raw, cuts)) == expected


# -- garbage ----------------------------------------------------------------------------------

_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**400, 10**400),
                         st.floats(allow_nan=True), _text)
_json = st.recursive(_json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["choices", "delta", "content", "reasoning", "reasoning_content",
                                     "usage", "error", "message", "code", "type", "metadata", "raw",
                                     "finish_reason", "model", "object", "success", "cost",
                                     "prompt_tokens", "completion_tokens", "completion_tokens_details",
                                     "prompt_tokens_details", "reasoning_tokens", "cached_tokens"]),
                    inner, max_size=5)), max_leaves=12)
# Objects shaped like the chunks the parser reads, with any JSON where it expects a value.
_delta = st.dictionaries(st.sampled_from(["content", "reasoning", "reasoning_content", "role"]), _json,
                         max_size=3)
_shaped = st.one_of(
    st.fixed_dictionaries({"usage": st.dictionaries(st.sampled_from(
        ["prompt_tokens", "completion_tokens", "total_tokens", "cost", "completion_tokens_details",
         "prompt_tokens_details"]), _json | st.fixed_dictionaries(
        {"reasoning_tokens": _json, "cached_tokens": _json}), max_size=4)}),
    st.fixed_dictionaries({"choices": st.lists(st.fixed_dictionaries(
        {}, optional={"delta": _delta | _json, "message": _delta, "finish_reason": _json}), max_size=2)},
        optional={"model": _json, "usage": _json}),
    st.fixed_dictionaries({"error": _json | st.dictionaries(st.sampled_from(
        ["message", "code", "type", "metadata", "msg"]), _json, max_size=4)}),
    st.fixed_dictionaries({"object": st.just("error")}, optional={"message": _json, "type": _json}),
    st.fixed_dictionaries({"success": _json}, optional={"message": _json}),
)
_fragments = st.sampled_from([b"data:", b"data: ", b"\n", b"\r", b"\r\n", b"\n\n", b":", b"event: x",
                              b"[DONE]", b"{", b"}", b"[", b"]", b'"', b"\xff", b"\xe2\x82", b"\xc3",
                              b"<think>", b"</think>", b" ", b"\x00", b"id: 1", b"retry: x",
                              b"[" * 3000, b"x" * 70000])


_value = st.one_of(st.just(b""), st.just(b"[DONE]"), st.binary(max_size=12), _fragments,
                   (_json | _shaped).map(lambda v: json.dumps(v, allow_nan=True).encode()))
_field = st.one_of(st.sampled_from([b"data:", b"data: "]),
                   st.sampled_from([b"data:  ", b"data:\t", b":", b": ", b"event: ", b"id: ", b"retry: ", b"",
                                    b"dat", b"DATA: "]))
_line = st.one_of(st.tuples(_field, _value).map(b"".join), st.binary(max_size=16), _fragments)
_eol = st.sampled_from([b"\n", b"\n", b"\r\n", b"\r"])


@st.composite
def garbage(draw) -> list[bytes]:
    """Bytes that stress the decoder, as the parts they were built from: events of SSE-ish lines
    (odd fields, empty data, odd JSON, broken UTF-8, huge lines) with any line ends, and loose
    fragments between them."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 4)) == 0:
            parts.append(draw(st.one_of(_fragments, st.binary(max_size=16))))
            continue
        eol = draw(_eol)
        parts.append(eol.join(draw(st.lists(_line, min_size=1, max_size=3))) + eol + eol)
    return parts


def garbage_is_refused_cleanly(parts: list[bytes], cuts: list[int]) -> None:
    """Fed whole, part by part (whole events reach the decoder's fast path) and cut anywhere:
    any exception other than a RelayError fails the property."""
    data = b"".join(parts)
    drive([data])
    drive(parts)
    drive(split(data, cuts))
