"""The SSE layer on canned byte streams: framing quirks, reasoning forms, errors, guards."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay_tui.core.errors import BadResponse, QuotaExhausted, ServerError, relay_text
from relay_tui.core.events import Delta, Reasoning
from relay_tui.core.sse import ChunkParser, StreamDecoder, ThinkSplitter


def chunk(content=None, *, role=None, reasoning_content=None, reasoning=None, finish=None,
          model="gpt-4.1", usage=None, choices=True) -> bytes:
    delta = {k: v for k, v in (("role", role), ("content", content),
                                ("reasoning_content", reasoning_content),
                                ("reasoning", reasoning)) if v is not None}
    obj = {"id": "c1", "object": "chat.completion.chunk", "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else [],
           "usage": usage}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def run(*pieces: bytes, cap: int | None = None):
    """Feed `pieces` as the client does: until [DONE], else to the end of the body."""
    parser = ChunkParser("rt-test")
    decoder = StreamDecoder(parser, **({"cap": cap} if cap else {}))
    events = []
    for piece in pieces:
        events += decoder.feed(piece)
        if decoder.error:
            raise decoder.error
        if parser.done:
            return events, parser
    events += decoder.end()
    if decoder.error:
        raise decoder.error
    return events, parser


def text_of(events, kind=Delta) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def test_comments_role_chunk_usage_and_done():
    events, parser = run(
        b": OPENROUTER PROCESSING\n\n",
        chunk("", role="assistant"),
        b": keep-alive\n\n",
        chunk("Hel"), chunk("lo", finish="stop"),
        chunk(choices=False, usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9,
                                    "cost": 0.0012}),
        b"data: [DONE]\n\n", b"data: {\"after\": \"done is ignored\"}\n\n")
    assert events == [Delta("Hel"), Delta("lo")]  # the role-only chunk is not a token
    assert parser.done and parser.finish_reason == "stop" and parser.served_model == "gpt-4.1"
    assert parser.usage.completion_tokens == 2 and parser.usage.relay_cost == 0.0012


def test_the_served_model_a_relay_reports_is_neutralised():
    # It is shown in footers and column headers and stored: a relay cannot drive the terminal with it
    _, parser = run(chunk("hi", model="gpt-4.1\x1b]0;pwned\x07\u202e"), b"data: [DONE]\n\n")
    assert parser.served_model == "gpt-4.1␛]0;pwned␇<U+202E>"


def test_usage_alongside_choices_and_crlf_framing_split_anywhere():
    raw = (chunk("A").replace(b"\n", b"\r\n")
           + chunk("B", finish="length", usage={"prompt_tokens": 1, "completion_tokens": 2}).replace(b"\n", b"\r\n")
           + b"data: [DONE]\r\n\r\n")
    pieces = [raw[i:i + 7] for i in range(0, len(raw), 7)]  # split mid-line, mid-CRLF
    events, parser = run(*pieces)
    assert text_of(events) == "AB"
    assert parser.finish_reason == "length" and parser.usage.completion_tokens == 2


def test_multibyte_utf8_split_across_chunks():
    raw = chunk("héllo ✓ 你好") + b"data: [DONE]\n\n"
    events, _ = run(*[raw[i:i + 1] for i in range(len(raw))])
    assert text_of(events) == "héllo ✓ 你好"


def test_non_utf8_bytes_become_replacement_characters():
    events, parser = run(b'data: {"choices":[{"delta":{"content":"ok \xff\xfe bytes"}}]}\n\n',
                               b"data: [DONE]\n\n")
    assert text_of(events) == "ok \ufffd\ufffd bytes" and parser.done


def test_reasoning_content_and_openrouter_reasoning():
    events, _ = run(chunk(reasoning_content="think A"), chunk(reasoning="think B"),
                          chunk("answer"), b"data: [DONE]\n\n")
    assert events == [Reasoning("think A"), Reasoning("think B"), Delta("answer")]


def test_think_tags_split_across_chunks_become_reasoning():
    events, _ = run(chunk("<thi"), chunk("nk>\nstep 1, "), chunk("step 2</th"),
                          chunk("ink>\n\nThe answer <think> stays"), b"data: [DONE]\n\n")
    assert text_of(events, Reasoning) == "step 1, step 2"
    assert text_of(events) == "The answer <think> stays"


def test_think_splitter_leaves_ordinary_answers_alone():
    splitter = ThinkSplitter()
    assert splitter.feed("<b>bold</b>") == [Delta("<b>bold</b>")]
    held = ThinkSplitter()
    assert held.feed("<thi") == []
    assert held.flush() == [Delta("<thi")]  # a stream that ends mid-tag loses nothing


@pytest.mark.parametrize("payload, said", [
    ({"error": {"message": "The server had an error while processing your request.",
                "type": "server_error"}}, "The server had an error while processing your request."),
    ({"id": "x", "model": "m", "provider": "openai", "error": {"code": "server_error",
      "message": "Provider disconnected"}, "choices": [{"delta": {"content": ""},
                                                        "finish_reason": "error"}]},
     "Provider disconnected"),
    ({"error": {"message": "litellm.APIError: boom", "type": None, "param": None, "code": "500"}},
     "litellm.APIError: boom"),
    ({"object": "error", "message": "vLLM ran out of KV cache", "type": "InternalServerError"},
     "vLLM ran out of KV cache"),
])
def test_mid_stream_errors_in_every_gateway_shape(payload, said):
    with pytest.raises(ServerError) as info:
        run(chunk("partial"), b"data: " + json.dumps(payload).encode() + b"\n\n")
    assert str(info.value) == (f"the relay reported an error mid-stream after 1 tokens: {said} "
                               f"[request rt-test]")


def test_a_quota_error_sent_as_a_stream_event_keeps_its_kind():
    payload = {"error": {"message": "用户额度不足", "type": "new_api_error", "code": "insufficient_user_quota"}}
    with pytest.raises(QuotaExhausted, match=r"^out of credit on profile \?: 用户额度不足 — top up"):
        run(b"data: " + json.dumps(payload).encode() + b"\n\n")


def test_finish_reason_error_without_error_object():
    with pytest.raises(ServerError, match=r"finish_reason=error"):
        run(chunk("x", finish="error"))


def test_null_finish_reason_stays_unset():
    _, parser = run(chunk("x", finish=None), b"data: [DONE]\n\n")
    assert parser.finish_reason is None  # the client reports it as "unspecified"


def test_malformed_json_is_one_line():
    with pytest.raises(BadResponse) as info:
        run(chunk("ok"), b"data: {\"choices\": [tru\n\n", b"data: [DONE]\n\n")
    assert str(info.value).startswith("the relay sent malformed JSON in the stream ('{\"choices\": [tru'")
    assert "\n" not in str(info.value)


def test_payload_cut_by_end_of_stream_is_a_cut_off_not_malformed():
    events, parser = run(chunk("Hello"), b'data: {"choices":[{"delta":{"con')
    assert text_of(events) == "Hello" and not parser.done


def test_last_event_without_blank_line_still_counts():
    _, parser = run(chunk("x"), b"data: [DONE]")
    assert parser.done


def test_oversized_line_stops_at_the_cap_without_buffering_it_all():
    decoder = StreamDecoder(ChunkParser("rt-1"), cap=1024 * 1024)
    decoder.feed(chunk("before") + b'data: {"choices":[{"delta":{"content":"')
    sent = 0
    while decoder.error is None:
        assert decoder.feed(b"x" * 65536) == []
        sent += 65536
        assert sent <= 1024 * 1024
    assert str(decoder.error) == ("the relay sent a stream line over 1 MB; stopped reading it — the relay "
                                  "or its upstream is misbehaving [request rt-1]")


def test_a_whole_oversized_line_in_one_chunk_is_caught_after_the_text_before_it():
    """A gzip body decodes a 10 MB line (10 KB on the wire) into one chunk: the cap still holds,
    and the tokens before that line still count."""
    huge = chunk("x" * (2 * 1024 * 1024))
    for body in (chunk("one ") + chunk("two") + huge + chunk("after"),
                 (chunk("one ") + chunk("two") + huge + chunk("after")).replace(b"\n", b"\r\n")):
        decoder = StreamDecoder(ChunkParser("rt-1"), cap=1024 * 1024)
        assert [e.text for e in decoder.feed(body)] == ["one ", "two"]
        assert str(decoder.error).startswith("the relay sent a stream line over 1 MB")
    decoder = StreamDecoder(ChunkParser("rt-1"), cap=1024 * 1024)
    assert decoder.feed(chunk("ok") * 20_000) and decoder.error is None  # many small events: fine


def test_many_data_lines_in_one_event_hit_the_event_cap():
    with pytest.raises(BadResponse, match="stream event over"):
        run(b"data: x\n" * 200_000, cap=1024 * 1024)


def test_relay_text_trims_stacked_request_ids_and_masks_the_key():
    text = ("no channel (request id: 2024A) (request id: 2024B)\x1b[2J (request id: 2024C) "
            "key sk-secret-123456789")
    assert relay_text(text, "sk-secret-123456789") == "no channel [2J key sk-…6789 (request id: 2024A)"


STREAM = (b": OPENROUTER PROCESSING\n\n" + chunk("", role="assistant") + chunk("<think>\nhm")
          + chunk("m</think>\n\nOK ") + b"data:  " + chunk("padded")[6:] + b"event: x\ndata: {\"choices\":"
          + b"\ndata: [{\"delta\":{\"content\":\"multi-line\"}}]}\n\n"
          + chunk(" caf\u00e9 \u2713", finish="stop").replace(b"\n\n", b"\r\n\r\n")
          + chunk(choices=False, usage={"completion_tokens": 7}) + b"data: [DONE]\n\n")
EXPECTED = [Reasoning("hm"), Reasoning("m"), Delta("OK "), Delta("padded"), Delta("multi-line"),
            Delta(" caf\u00e9 \u2713")]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts):
    """The fast path and httpx-sse's decoders must agree wherever the network splits the bytes."""
    bounds = [0, *sorted(cuts), len(STREAM)]
    events, parser = run(*[STREAM[a:b] for a, b in zip(bounds, bounds[1:]) if b > a])
    merged = []
    for event in events:  # a split may cut one think piece in two: compare the joined texts
        if merged and type(merged[-1]) is type(event) and type(event) is Reasoning:
            merged[-1] = Reasoning(merged[-1].text + event.text)
        else:
            merged.append(event)
    assert text_of(merged, Reasoning) == "hmm" and [e for e in merged if isinstance(e, Delta)] == EXPECTED[2:]
    assert parser.done and parser.finish_reason == "stop" and parser.usage.completion_tokens == 7


ODD = [chunk("big ") + b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":'
       + b"1" * 400 + b',"cost":NaN}}\n\n', b'data: {"choices":[{"delta":{"content":"\\ud800x"}}]}\n\n',
       chunk("fine"), b"data: [DONE]\n\n"]


def test_payloads_orjson_refuses_read_as_json_reads_them():
    """NaN, a 400-digit count, a lone surrogate: orjson refuses them, json takes them; the
    decoder falls back, so they are what they were (counts and costs dropped, text kept; the
    lone surrogate as U+FFFD, as an undecodable byte: it could be neither stored nor printed)."""
    events, parser = run(*ODD)
    assert [e.text for e in events] == ["big ", "\ufffdx", "fine"]
    assert parser.usage.completion_tokens is None and parser.usage.relay_cost is None


def test_without_orjson_the_events_are_the_same():
    """A platform with no orjson wheel parses with json alone, to the same events."""
    import subprocess
    import sys

    script = ("import sys; sys.modules['orjson'] = None\n"  # `import orjson` now fails
              "from tests.test_sse import ODD, STREAM, run\n"
              "import relay_tui.core.sse as sse\n"
              "assert sse._fast_loads.__module__ == 'relay_tui.core.sse'\n"
              "print(repr([(type(e).__name__, e.text) for e in run(*ODD)[0] + run(STREAM)[0]]))\n")
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    alone = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           cwd=root)
    mine = [(type(e).__name__, e.text) for e in run(*ODD)[0] + run(STREAM)[0]]
    assert alone.stdout.strip() == repr(mine)
