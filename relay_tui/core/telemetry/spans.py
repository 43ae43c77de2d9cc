"""A request-log row as an OpenTelemetry span, per the GenAI semantic conventions.

Plain data, no OpenTelemetry import: the live path (core/records.py, one row as it is logged) and
the backfill (`relay-tui telemetry export`, rows read back from history.db) build the same span
from the same row, with the same ids: they are derived from the row, so sending a request twice
(live, then in a backfill; or two backfills) gives the receiver the same span again, not a
second one.

Conventions followed (pinned in DESIGN-NOTES, "Telemetry"): semantic-conventions-genai
gen-ai-spans.md / gen-ai-metrics.md as of semconv 1.42 (Python package
opentelemetry-semantic-conventions 0.66b2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from relay_tui.core.redact import redact

PROVIDER = "openai"      # the wire format relay-tui speaks (OpenAI Chat Completions), see DESIGN-NOTES
NOT_AN_ERROR = ("stopped",)   # as store/history.py counts them: a user's Esc is not the relay's error

# gen-ai-metrics.md: "SHOULD be specified with ExplicitBucketBoundaries of ..."
SECONDS_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                   40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864)


@dataclass(frozen=True, slots=True)
class Content:
    """What was asked and answered: exported only when content capture is on."""

    messages: Sequence[Mapping[str, Any]]
    answer: str | None = None


@dataclass(slots=True)
class SpanSpec:
    """One span to emit: ids, times (ns since the epoch), attributes, and its metric points."""

    name: str
    trace_id: int
    span_id: int
    parent_span_id: int | None
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    client: bool = True                       # SpanKind.CLIENT (a request) or INTERNAL (a run)
    error: str | None = None                  # status description when the request failed
    metric_attributes: dict[str, Any] = field(default_factory=dict)
    duration: float | None = None             # gen_ai.client.operation.duration
    ttfc: float | None = None                 # gen_ai.client.operation.time_to_first_chunk
    chunk_gaps: Sequence[float] = ()          # gen_ai.client.operation.time_per_output_chunk
    tokens: dict[str, int] = field(default_factory=dict)   # gen_ai.token.type -> count


def derived_ids(*key: object) -> tuple[int, int]:
    """(trace id, span id) from a key: the same key gives the same ids on every machine."""
    import hashlib   # loads OpenSSL (~15 ms): not at start-up, only once telemetry is on

    digest = hashlib.blake2b("\x1f".join(map(str, key)).encode(), digest_size=24,
                             person=b"relay-tui-otel").digest()
    return int.from_bytes(digest[:16], "big") or 1, int.from_bytes(digest[16:], "big") or 1


def request_key(row: Mapping[str, Any], row_id: int | None) -> tuple:
    """What makes a request-log row unique across machines: our request id and its start (the
    row id of this history.db stands in when a stopped request never got an id)."""
    request_id = row.get("request_id") or ""
    return ("request", request_id, repr(float(row["started_at"])), row["profile"], row["model"],
            row["kind"], "" if request_id else row_id)


def comparison_key(profile: str, comparison_id: int, created_at: float) -> tuple:
    return ("compare", profile, comparison_id, repr(float(created_at)))


def request_span(row: Mapping[str, Any], row_id: int | None, *, base_url: str | None = None,
                 parent: tuple[int, int] | None = None, finish_reason: str | None = None,
                 temperature: float | None = None, max_tokens: int | None = None,
                 relay_request_id: str | None = None, chunk_gaps: Sequence[float] = (),
                 content: Content | None = None, capture_content: bool = False,
                 latest_conventions: bool = False) -> SpanSpec:
    """The span of one logged request (`row`: the columns of the request log) and its metrics.

    `parent` is (trace id, span id) of the compare or bench run it belongs to."""
    trace_id, span_id = derived_ids(*request_key(row, row_id))
    if parent is not None:
        trace_id = parent[0]
    error_kind = row.get("error_kind")
    failed = error_kind is not None and error_kind not in NOT_AN_ERROR
    model = row["model"]
    common: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": PROVIDER,
                              "gen_ai.request.model": model}
    if not latest_conventions:   # the attribute gen_ai.provider.name replaced; older backends read it
        common["gen_ai.system"] = PROVIDER
    if row.get("served_model"):
        common["gen_ai.response.model"] = row["served_model"]
    address, port = _server(base_url)
    if address:
        common["server.address"] = address
        common["server.port"] = port
    if failed:
        common["error.type"] = error_kind

    attrs = dict(common)
    _put(attrs, "gen_ai.request.temperature", temperature)
    _put(attrs, "gen_ai.request.max_tokens", max_tokens)
    _put(attrs, "gen_ai.usage.input_tokens", row.get("prompt_tokens"))
    _put(attrs, "gen_ai.usage.output_tokens", row.get("output_tokens"))
    if finish_reason:
        attrs["gen_ai.response.finish_reasons"] = [finish_reason]
    _put(attrs, "http.response.status_code", row.get("status"))
    attrs.update({"relay_tui.kind": row["kind"], "relay_tui.profile": row["profile"],
                  "relay_tui.retries": max(0, (row.get("attempts") or 1) - 1)})
    for name, column in (("relay_tui.request_id", "request_id"),
                         ("relay_tui.time_to_first_token", "ttft"),
                         ("relay_tui.time_to_first_answer_token", "ttfat"),
                         ("relay_tui.time_to_headers", "headers"),
                         ("relay_tui.tokens_per_second", "tokens_per_s"),
                         ("relay_tui.cost_usd", "cost_usd"), ("relay_tui.cost_source", "cost_source")):
        _put(attrs, name, row.get(column))
    if row.get("output_tokens") is not None:
        attrs["relay_tui.output_tokens_estimated"] = bool(row.get("output_tokens_estimated"))
    _put(attrs, "relay_tui.relay_request_id", relay_request_id)
    if error_kind in NOT_AN_ERROR:
        attrs["relay_tui.outcome"] = error_kind
    if capture_content and content is not None:
        attrs.update(content_attributes(content, finish_reason))

    start_ns = int(float(row["started_at"]) * 1e9)
    elapsed = row.get("total")
    if elapsed is None:   # failed or stopped: the last moment a timing was taken
        elapsed = max((row.get(c) or 0.0) for c in ("connect", "tls", "headers", "ttft", "ttfat"))
    metric_attrs = {**common, "relay_tui.kind": row["kind"]}
    tokens = {t: row[c] for t, c in (("input", "prompt_tokens"), ("output", "output_tokens"))
              if row.get(c) is not None}
    return SpanSpec(
        name=f"chat {model}", trace_id=trace_id, span_id=span_id,
        parent_span_id=parent[1] if parent else None, start_ns=start_ns,
        end_ns=start_ns + int(elapsed * 1e9), attributes=attrs,
        error=redact(row.get("error") or error_kind) if failed else None,
        metric_attributes=metric_attrs,
        duration=None if error_kind in NOT_AN_ERROR else elapsed,
        ttfc=row.get("ttft"), chunk_gaps=tuple(chunk_gaps), tokens=tokens)


def run_span(name: str, ids: tuple[int, int], parent: tuple[int, int] | None, start: float,
             end: float, attributes: Mapping[str, Any]) -> SpanSpec:
    """The parent span of a compare or bench run (INTERNAL: it makes no request itself)."""
    return SpanSpec(name=name, trace_id=parent[0] if parent else ids[0], span_id=ids[1],
                    parent_span_id=parent[1] if parent else None, start_ns=int(start * 1e9),
                    end_ns=int(end * 1e9), attributes=dict(attributes), client=False)


def bench_attributes(models: Sequence[str], requests: int, concurrency: int) -> dict[str, Any]:
    """The attributes of a bench or probe run's parent span."""
    return {"relay_tui.models": list(models), "relay_tui.bench.requests_per_model": requests,
            "relay_tui.bench.concurrency": concurrency}


def content_attributes(content: Content, finish_reason: str | None) -> dict[str, str]:
    """gen_ai.system_instructions / input.messages / output.messages, as the conventions' JSON."""
    system = [m for m in content.messages if m.get("role") == "system"]
    others = [m for m in content.messages if m.get("role") != "system"]
    attrs = {"gen_ai.input.messages": json.dumps(
        [{"role": m.get("role"), "parts": [{"type": "text", "content": _text(m.get("content"))}]}
         for m in others], ensure_ascii=False)}
    if system:
        attrs["gen_ai.system_instructions"] = json.dumps(
            [{"type": "text", "content": _text(m.get("content"))} for m in system],
            ensure_ascii=False)
    if content.answer is not None:
        attrs["gen_ai.output.messages"] = json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": content.answer}],
              "finish_reason": finish_reason or "error"}], ensure_ascii=False)
    return attrs


def _server(base_url: str | None) -> tuple[str | None, int | None]:
    """Host and port of the relay (never its user or password)."""
    if not base_url:
        return None, None
    parts = urlsplit(base_url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return parts.hostname, None
    return parts.hostname, port


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):   # OpenAI content parts: keep their text
        return "".join(p.get("text", "") for p in value if isinstance(p, dict))
    return "" if value is None else str(value)


def _put(attrs: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        attrs[name] = value
