"""Server-sent chat-completion streams: bytes -> SSE events -> Delta / Reasoning.

Framing (comments, multi-line data, CR/LF variants) is httpx-sse's line and event decoders, driven
synchronously per received chunk, with a fast path for whole one-line `data:` events (see
`StreamDecoder._fast`): bench is compared with a bare httpx loop, and parsing is most of the
client's time when the relay answers instantly. `StreamDecoder` adds the byte-level guards the
library lacks:
- a size cap on any one line or event (a relay streaming a 10 MB line must not cost 10 MB of RAM:
  we stop at the cap and say so);
- UTF-8 decoding with U+FFFD replacement for invalid bytes, as the SSE spec prescribes, so one
  bad byte costs one character instead of the whole answer;
- a final unterminated event is still dispatched at EOF (some relays omit the last blank line),
  unless it is a payload cut in half, which counts as a cut-off stream rather than bad JSON.

`ChunkParser` turns each event's data into events. What it accepts is reference/relay-protocol.md
section 2: role-only chunks, usage chunks with or without choices, `reasoning_content` /
`reasoning` / a leading `<think>` block, errors sent mid-stream (OpenAI, OpenRouter, LiteLLM, vLLM
shapes), `finish_reason` null or "error".
"""

from __future__ import annotations

import codecs
import json
import json.scanner
import math
import re

# The decoders are not re-exported by httpx-sse; pyproject pins it below 1.0.
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from relay_tui.core.errors import (BadResponse, RelayError, ServerError, classify, error_fields,
                                   relay_text)
from relay_tui.core.events import Delta, Reasoning, Usage
from relay_tui.core.sanitize import mend_surrogates, neutralise_id

MAX_EVENT_BYTES = 4 * 1024 * 1024
MAX_NAME_CHARS = 200  # a served model id or finish reason is kept up to this length
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
# json's C scanner called directly: json.loads minus two regex scans and a Python frame per
# token. It raises StopIteration where loads raises ValueError.
_scan_json = json.scanner.make_scanner(json.JSONDecoder())
try:  # orjson parses a typical chunk in 0.9 us against json's 2.2 (one chunk per token)
    from orjson import JSONDecodeError as _FastJSONError, loads as _fast_loads
except ImportError:  # a platform without its wheel: json alone, the same results
    class _FastJSONError(Exception):
        pass

    def _fast_loads(data: str) -> object:
        raise _FastJSONError
_LINE_END = re.compile(rb"\r\n|\r|\n")
_BLANK_LINE = re.compile(rb"(?:\r\n|\r|\n)(?:\r\n|\r|\n)")


class StreamDecoder:
    """Feed it the body's chunks as they arrive; it returns the text events each one completes.

    `parser.done` turns true at `[DONE]`; the caller stops feeding then. An error met in a chunk
    is kept in `error` and returned after the text that preceded it in the same chunk, so the
    caller can deliver that text first and then raise.
    """

    def __init__(self, parser: ChunkParser, cap: int = MAX_EVENT_BYTES):
        self.parser = parser
        self.error: RelayError | None = None
        self._cap = cap
        # utf-8-sig: a stream may start with a BOM, which the SSE spec says to strip (it would
        # turn the first `data:` into an unknown field, and lose the first event)
        self._utf8 = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._lines = SSELineDecoder()
        self._events = SSEDecoder()
        self._event_len = self._line_len = 0
        self._too_long_line = False
        self._lf_only = True  # no CR seen yet: whole events are cut off the front by us (`_fast`)
        self._carry: list[str] = []  # LF-only text after the last blank line (an unfinished event)

    def feed(self, chunk: bytes) -> list[Delta | Reasoning]:
        cut = self._measure(chunk)
        if cut is not None:  # an event over the cap starts at `cut`: what precedes it counts
            out = self._decode(chunk[:cut]) if cut > 0 else []
            self.error = self.error or self._too_big()
            return out
        return self._decode(chunk)

    def _decode(self, chunk: bytes) -> list[Delta | Reasoning]:
        text = self._utf8.decode(chunk)
        if not text:
            return []
        carry = self._carry
        if self._lf_only and "\r" not in text:
            if not carry and text.endswith("\n\n"):  # whole events: the usual paced stream
                return self._parse(self._fast(text))
            # Whole events go to the fast path, the unfinished rest waits; joined only when a
            # blank line arrives, so a long line in many chunks is not copied per chunk.
            if "\n\n" not in text and not (carry and carry[-1][-1] == "\n" and text[0] == "\n"):
                carry.append(text)
                return []
            if carry:
                carry.append(text)
                text = "".join(carry)
                carry.clear()
            end = text.rfind("\n\n") + 2
            if end < len(text):
                carry.append(text[end:])
            return self._parse(self._fast(text[:end]))
        if self._lf_only:  # a CR: line ends may be CR or CRLF from here on, the library frames it
            self._lf_only = False
            text = "".join(carry) + text
            carry.clear()
        return self._parse(self._framed(self._lines.decode(text)))

    def end(self) -> list[Delta | Reasoning]:
        """At EOF: the last event even without its blank line, and any held-back text."""
        text = "".join(self._carry) + self._utf8.decode(b"", final=True)
        self._carry.clear()
        lines = (self._lines.decode(text) if text else []) + self._lines.flush() + [""]
        out = self._parse(self._framed(lines))
        if isinstance(self.error, BadResponse):
            self.error = None  # a payload cut in half: the caller reports a cut-off stream
        return out if self.parser.done or self.error else out + self.parser.finish()

    def _fast(self, text: str) -> list[str]:
        """Data payloads of whole events with LF line ends, the shape nearly every relay sends:
        a one-line `data: ` event or comment is read directly (a quarter of the parse time);
        anything else goes through the library's decoder, which is idle between events (the
        text given here always ends at a blank line)."""
        out = []
        for block in text[:-2].split("\n\n"):
            if "\n" not in block:
                if block.startswith("data: "):
                    if len(block) > 6:  # an empty data field dispatches nothing (SSE spec)
                        out.append(block[6:])
                    continue
                if block.startswith(":"):
                    continue
            out += self._framed(block.split("\n") + [""])
        return out

    def _framed(self, lines: list[str]) -> list[str]:
        """Data payloads of the events these lines complete (httpx-sse's SSE field rules)."""
        out = []
        for line in lines:
            sse = self._events.decode(line)
            if sse is not None and sse.data:
                out.append(sse.data)
        return out

    def _parse(self, payloads: list[str]) -> list[Delta | Reasoning]:
        out: list[Delta | Reasoning] = []
        try:
            for data in payloads:
                out += self.parser.feed(data)
                if self.parser.done:
                    break
        except RelayError as err:
            self.error = err
        return out

    def _measure(self, chunk: bytes) -> int | None:
        """Count bytes in the current event and line; past the cap, where that event starts.

        Usually only the unfinished end of a chunk is counted. A chunk that could hold a whole
        event over the cap (a gzip body decodes a 10 MB line into one chunk) is scanned through.
        """
        event_before, line_before = self._event_len, self._line_len
        blank = max(chunk.rfind(b"\n\n"), chunk.rfind(b"\n\r"), chunk.rfind(b"\r\r"))
        self._event_len = len(chunk) - blank - 2 if blank >= 0 else event_before + len(chunk)
        newline = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        self._line_len = len(chunk) - newline - 1 if newline >= 0 else line_before + len(chunk)
        if event_before + len(chunk) <= self._cap:
            return None
        start, carried = 0, event_before  # each event: where it starts, bytes from earlier chunks
        for separator in [*_BLANK_LINE.finditer(chunk), None]:
            end = separator.start() if separator else len(chunk)
            if carried + end - start > self._cap:
                lines = _LINE_END.split(chunk[start:end])
                longest = max([line_before * (start == 0) + len(lines[0]), *map(len, lines[1:])])
                self._too_long_line = longest > self._cap
                return start
            if separator is None:
                return None
            start, carried = separator.end(), 0
        return None  # not reached: the last pass has no separator

    def _too_big(self) -> BadResponse:
        what = "line" if self._too_long_line else "event"
        return BadResponse(f"the relay sent a stream {what} over {self._cap / 2**20:g} MB; "
                           f"stopped reading it — the relay or its upstream is misbehaving",
                           request_id=self.parser.request_id)


class ThinkSplitter:
    """Separates a leading `<think>…</think>` block in content (new-api ThinkingToContent).

    Only a block at the very start of the answer counts, so an answer that merely mentions the tag
    (say, in a code sample) is left alone. Text that might be half a tag is held back until the
    next piece decides.
    """

    def __init__(self) -> None:
        self._state = "start"  # start -> think -> answer
        self._held = ""

    @property
    def answering(self) -> bool:
        """Past any think block: content is answer text from here on."""
        return self._state == "answer"

    def feed(self, text: str) -> list[Delta | Reasoning]:
        if self._state == "answer":
            return [Delta(text)]
        text = self._held + text
        self._held = ""
        if self._state == "start":
            stripped = text.lstrip()
            if _THINK_OPEN.startswith(stripped):
                self._held = text
                return []
            if not stripped.startswith(_THINK_OPEN):
                self._state = "answer"
                return [Delta(text)]
            self._state = "think"
            text = stripped[len(_THINK_OPEN):].lstrip("\n")
        end = text.find(_THINK_CLOSE)
        if end >= 0:
            self._state = "answer"
            out: list[Delta | Reasoning] = []
            if text[:end]:
                out.append(Reasoning(text[:end]))
            rest = text[end + len(_THINK_CLOSE):].lstrip("\n")
            if rest:
                out.append(Delta(rest))
            return out
        keep = _partial_suffix(text, _THINK_CLOSE)
        self._held = text[len(text) - keep:] if keep else ""
        body = text[:len(text) - keep]
        return [Reasoning(body)] if body else []

    def flush(self) -> list[Delta | Reasoning]:
        held, self._held = self._held, ""
        if not held:
            return []
        return [Reasoning(held)] if self._state == "think" else [Delta(held)]


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper beginning of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ChunkParser:
    """Reads chat.completion.chunk JSON payloads; keeps what the end of the stream needs."""

    def __init__(self, request_id: str | None = None, secret: str | None = None, profile: str = "?"):
        self.request_id = request_id
        self.secret = secret
        self.profile = profile
        self.served_model: str | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.done = False
        self.text_chars = 0
        self.chunks_with_text = 0
        self._think = ThinkSplitter()
        self._answering = False  # past any leading think block (the splitter's state, cached)

    def feed(self, data: str) -> list[Delta | Reasoning]:
        """Events from one SSE `data` payload; raises ServerError / BadResponse.

        This runs once per token for every stream, so it favours plain lookups over helpers.
        """
        if data.startswith("[DONE]"):
            self.done = True
            return self._think.flush()
        try:
            obj = _fast_loads(data)
        except _FastJSONError:
            obj = self._json(data)  # what orjson refuses json may take (NaN, 10**400, "\ud800")
        if type(obj) is not dict:
            raise BadResponse("the relay sent a stream chunk that is not a JSON object",
                              request_id=self.request_id)
        if "error" in obj or "success" in obj or obj.get("object") == "error":
            fields = error_fields(obj)
            if fields is not None:  # quota / model errors keep their kind; the rest are mid-stream
                err = classify(200, obj, profile=self.profile, request_id=self.request_id,
                               secret=self.secret)
                raise self._error(fields[0]) if type(err) is ServerError else err
        if self.served_model is None:
            model = obj.get("model")
            if isinstance(model, str) and model:
                self.served_model = neutralise_id(model[:MAX_NAME_CHARS])  # shown and stored like a listed id
        usage = obj.get("usage")
        if usage and type(usage) is dict:
            self.usage = parse_usage(usage)
        choices = obj.get("choices")
        if not choices or type(choices) is not list or type(choices[0]) is not dict:
            return []
        choice = choices[0]
        finish = choice.get("finish_reason")
        if finish is not None:
            if finish == "error":
                raise self._error("the model's provider failed (finish_reason=error)")
            if isinstance(finish, str) and finish:
                self.finish_reason = neutralise_id(finish[:MAX_NAME_CHARS])
        delta = choice.get("delta") or choice.get("message")
        if type(delta) is not dict:
            return []
        out: list[Delta | Reasoning] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and type(reasoning) is str:
            out.append(Reasoning(reasoning))
            self.text_chars += len(reasoning)
        content = delta.get("content")
        if content and type(content) is str:
            if self._answering:
                out.append(Delta(content))
            else:
                out += self._think.feed(content)
                self._answering = self._think.answering
            self.text_chars += len(content)
        if out:
            self.chunks_with_text += 1
        return out

    def _json(self, data: str) -> object:
        """A payload parsed by json (orjson's refusals, or no orjson); BadResponse if it is not JSON."""
        if data[0] in " \t":
            data = data.lstrip()
        try:
            obj, end = _scan_json(data, 0)
            if end != len(data) and data[end:].strip():
                raise ValueError("trailing data")
        except (StopIteration, ValueError, RecursionError):  # Recursion: nesting past the stack
            after = (f" after {self.chunks_with_text} tokens; the answer is incomplete"
                     if self.chunks_with_text else "")
            raise BadResponse(f"the relay sent malformed JSON in the stream "
                              f"({relay_text(data[:60])!r}…){after}", request_id=self.request_id) from None
        return mend_surrogates(obj) if "\\u" in data else obj

    def finish(self) -> list[Delta | Reasoning]:
        """Text still held back (half a think tag) when the stream ends."""
        return self._think.flush()

    def _error(self, message: str) -> ServerError:
        said = relay_text(message, self.secret) or "no details"
        after = f" after {self.chunks_with_text} tokens" if self.chunks_with_text else ""
        return ServerError(f"the relay reported an error mid-stream{after}: {said}",
                           request_id=self.request_id)


def parse_usage(raw: dict) -> Usage:
    """Usage from an OpenAI-style usage object (plus OpenRouter's `cost`)."""
    details = raw.get("completion_tokens_details") or {}
    prompt_details = raw.get("prompt_tokens_details") or {}
    cost = raw.get("cost")
    return Usage(
        prompt_tokens=_int(raw.get("prompt_tokens")),
        completion_tokens=_int(raw.get("completion_tokens")),
        total_tokens=_int(raw.get("total_tokens")),
        reasoning_tokens=_int(details.get("reasoning_tokens")) if isinstance(details, dict) else None,
        cached_tokens=_int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict)
        else None,
        relay_cost=_cost(cost),
    )


def _int(value: object) -> int | None:
    """A token count, or None; counts past 2**53 are nonsense (and would not fit SQLite)."""
    return (value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53
            else None)


def _cost(value: object) -> float | None:
    """A relay-reported cost in dollars, or None (an int too big for a float, inf, NaN, < 0)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        cost = float(value)
    except OverflowError:
        return None
    return cost if math.isfinite(cost) and cost >= 0 else None
