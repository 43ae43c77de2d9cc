"""Server-sent chat-completion streams: bytes -> SSE events -> Delta / Reasoning.

Framing (comments, multi-line data, CR/LF variants) is httpx-sse's; it reads text from
`GuardedText`, which applies the byte-level guards the library lacks:
- a size cap on any one line or event (a relay streaming a 10 MB line must not cost 10 MB of RAM:
  we stop at the cap and say so);
- UTF-8 decoding with U+FFFD replacement for invalid bytes, as the SSE spec prescribes, so one
  bad byte costs one character instead of the whole answer;
- a final unterminated event is still dispatched at EOF (some relays omit the last blank line).

`ChunkParser` turns each event's data into events; it is pure so it can be tested on canned
streams. What it accepts is reference/relay-protocol.md section 2: role-only chunks, usage chunks
with or without choices, `reasoning_content` / `reasoning` / a leading `<think>` block, errors
sent mid-stream (OpenAI, OpenRouter, LiteLLM, vLLM shapes), `finish_reason` null or "error".
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import AsyncIterator

from relay_tui.core.errors import BadResponse, ServerError, error_fields, relay_text
from relay_tui.core.events import Delta, Reasoning, Usage

MAX_EVENT_BYTES = 4 * 1024 * 1024
_BLANK_LINE = re.compile(rb"\n\n|\n\r|\r\r")  # a line break then an empty line (CRLF-safe)
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


class GuardedText:
    """Looks enough like an httpx.Response for `httpx_sse.EventSource`: bytes in, text out."""

    headers = {"content-type": "text/event-stream"}

    def __init__(self, chunks: AsyncIterator[bytes], cap: int = MAX_EVENT_BYTES,
                 request_id: str | None = None):
        self._chunks = chunks
        self._cap = cap
        self._request_id = request_id
        self.at_eof = False

    async def aiter_text(self) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        event_len = line_len = 0
        async for chunk in self._chunks:
            event_len, line_len = self._measure(chunk, event_len, line_len)
            text = decoder.decode(chunk)
            if text:
                yield text
        self.at_eof = True
        yield decoder.decode(b"", final=True) + "\n\n"

    def _measure(self, chunk: bytes, event_len: int, line_len: int) -> tuple[int, int]:
        """Bytes in the current event and line after `chunk`; raises past the cap."""
        blank = None
        for blank in _BLANK_LINE.finditer(chunk):
            pass
        event_len = len(chunk) - blank.end() if blank else event_len + len(chunk)
        newline = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        line_len = len(chunk) - newline - 1 if newline >= 0 else line_len + len(chunk)
        if event_len > self._cap:
            what = "line" if line_len > self._cap else "event"
            raise BadResponse(f"the relay sent a stream {what} over {self._cap / 2**20:g} MB; "
                              f"stopped reading it — the relay or its upstream is misbehaving",
                              request_id=self._request_id)
        return event_len, line_len


class ThinkSplitter:
    """Separates a leading `<think>…</think>` block in content (new-api ThinkingToContent).

    Only a block at the very start of the answer counts, so an answer that merely mentions the tag
    (say, in a code sample) is left alone. Text that might be half a tag is held back until the
    next piece decides.
    """

    def __init__(self) -> None:
        self._state = "start"  # start -> think -> answer
        self._held = ""

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

    def __init__(self, request_id: str | None = None, secret: str | None = None):
        self.request_id = request_id
        self.secret = secret
        self.served_model: str | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.done = False
        self.text_chars = 0
        self.chunks_with_text = 0
        self._think = ThinkSplitter()

    def feed(self, data: str) -> list[Delta | Reasoning]:
        """Events from one SSE `data` payload; raises ServerError / BadResponse."""
        if data.startswith("[DONE]"):
            self.done = True
            return self._think.flush()
        try:
            obj = json.loads(data)
        except ValueError:
            raise BadResponse(f"the relay sent malformed JSON in the stream "
                              f"({relay_text(data[:60])!r}…)", request_id=self.request_id) from None
        if not isinstance(obj, dict):
            raise BadResponse("the relay sent a stream chunk that is not a JSON object",
                              request_id=self.request_id)
        fields = error_fields(obj)
        if fields is not None:
            raise self._error(fields[0])
        if self.served_model is None and isinstance(obj.get("model"), str) and obj["model"]:
            self.served_model = obj["model"]
        if isinstance(obj.get("usage"), dict):
            self.usage = parse_usage(obj["usage"])
        out: list[Delta | Reasoning] = []
        choices = obj.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            out = self._choice(choices[0])
        if out:
            self.chunks_with_text += 1
            self.text_chars += sum(len(e.text) for e in out)
        return out

    def _choice(self, choice: dict) -> list[Delta | Reasoning]:
        finish = choice.get("finish_reason")
        if finish == "error":
            raise self._error("the model's provider failed (finish_reason=error)")
        if isinstance(finish, str) and finish:
            self.finish_reason = finish
        delta = choice.get("delta") or choice.get("message") or {}
        if not isinstance(delta, dict):
            return []
        out: list[Delta | Reasoning] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out.append(Reasoning(reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            out.extend(self._think.feed(content))
        return out

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
        relay_cost=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool)
        else None,
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


async def iter_text_events(chunks: AsyncIterator[bytes], parser: ChunkParser,
                           cap: int = MAX_EVENT_BYTES) -> AsyncIterator[Delta | Reasoning]:
    """Delta/Reasoning events from a byte stream; stops after `[DONE]`.

    When it returns, `parser.done` says whether `[DONE]` arrived. A payload cut in half by the end
    of the stream counts as a cut-off stream (done stays False), not as malformed JSON.
    """
    from httpx_sse import EventSource  # imports httpx: paid on the first stream, not at import

    source = GuardedText(chunks, cap, parser.request_id)
    events = EventSource(source).aiter_sse()  # type: ignore[arg-type]
    try:
        async for sse in events:
            if not sse.data:
                continue
            try:
                out = parser.feed(sse.data)
            except BadResponse:
                if source.at_eof:
                    break
                raise
            for event in out:
                yield event
            if parser.done:
                return
        for event in parser.finish():
            yield event
    finally:
        await events.aclose()
