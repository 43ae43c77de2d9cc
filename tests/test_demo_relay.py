"""The demo relay, seen from the wire: plain httpx against a started relay, as any client sees it."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time

import httpx
import pytest

from relay_tui.demo import DEMO_KEY, MODELS, DemoRelay

AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
ASK = [{"role": "user", "content": "How do I choose a model for summaries?"}]


def chat_body(model="gpt-4.1", stream=True, usage=True, **extra):
    body = {"model": model, "messages": ASK, "stream": stream, **extra}
    if stream and usage:
        body["stream_options"] = {"include_usage": True}
    return body


def sse_lines(raw: bytes) -> list[str]:
    """Non-blank lines of an SSE body (comments included)."""
    return [line for line in raw.decode("utf-8", "replace").split("\n") if line]


def chunks(raw: bytes) -> list[dict]:
    """The JSON chunks of a stream; the deliberately broken lines of some faults are skipped."""
    out = []
    for line in sse_lines(raw):
        if line.startswith("data: {") and line != "data: {not json" and "\ufffd" not in line:
            out.append(json.loads(line[6:]))
    return out


def deltas(raw: bytes, key="content") -> list[str]:
    return [c["choices"][0]["delta"][key] for c in chunks(raw)
            if c.get("choices") and c["choices"][0]["delta"].get(key)]


def usage_of(raw: bytes) -> dict | None:
    return next((c["usage"] for c in chunks(raw) if c.get("usage")), None)


@pytest.fixture
def client(demo_relay):
    with httpx.Client(base_url=demo_relay.base_url, headers=AUTH, timeout=10) as c:
        yield c


def stream_raw(client, body) -> httpx.Response:
    return client.post("/chat/completions", json=body)


# ----- models, streaming, auth -------------------------------------------------------------------

def test_models_list_has_the_catalogue_and_auto(client):
    resp = client.get("/models")
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == [*MODELS, "auto"]
    assert all(m["object"] == "model" and m["owned_by"] for m in body["data"])
    assert resp.headers["x-oneapi-request-id"]


def test_stream_framing_and_exact_usage(client):
    resp = stream_raw(client, chat_body())
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    lines = sse_lines(resp.content)
    first = json.loads(lines[0][6:])
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert ": keep-alive" in lines
    assert lines[-1] == "data: [DONE]"
    pieces = deltas(resp.content)
    assert 120 <= len(pieces) <= 300
    assert all(1 <= len(p) <= 6 for p in pieces)
    text = "".join(pieces)
    assert text.startswith("## ") and "\n\n" in text
    last = chunks(resp.content)
    assert last[-2]["choices"][0]["finish_reason"] == "stop"
    assert last[-1]["choices"] == []
    usage = last[-1]["usage"]
    prompt = math.ceil(len(ASK[0]["content"]) / 4)
    assert usage["completion_tokens"] == len(pieces)
    assert usage["prompt_tokens"] == prompt
    assert usage["total_tokens"] == prompt + len(pieces)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    assert usage["cost"] == pytest.approx((prompt * 2 + len(pieces) * 8) / 1e6)
    # deterministic per seed and prompt: the non-streamed answer is the same text
    whole = client.post("/chat/completions", json=chat_body(stream=False)).json()
    assert whole["choices"][0]["message"]["content"] == text
    assert whole["usage"]["completion_tokens"] == len(pieces)


def test_markdown_answers_vary_in_shape(client):
    texts = ["".join(deltas(stream_raw(client, {**chat_body(), "messages": [
        {"role": "user", "content": f"question number {i}"}]}).content)) for i in range(12)]
    joined = "\n".join(texts)
    for marker in ("## ", "\n- ", "\n1. ", "| Model |", "```python", "```bash"):
        assert marker in joined
    assert len(set(texts)) == 12


def test_deepseek_streams_reasoning_before_content(client):
    raw = stream_raw(client, chat_body("deepseek-v3.2")).content
    kinds = [("r" if c["choices"][0]["delta"].get("reasoning_content") else "c")
             for c in chunks(raw) if c["choices"] and (c["choices"][0]["delta"].get("reasoning_content")
                                                       or c["choices"][0]["delta"].get("content"))]
    n_reason = kinds.count("r")
    assert n_reason > 10 and kinds == ["r"] * n_reason + ["c"] * (len(kinds) - n_reason)
    usage = usage_of(raw)
    assert usage["completion_tokens"] == len(kinds)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == n_reason


def test_auto_names_the_model_it_answers_as(client):
    served = [chunks(stream_raw(client, chat_body("auto")).content)[0]["model"] for _ in range(4)]
    assert served == list(MODELS)  # seed 0: round the catalogue in order


def test_max_tokens_ends_with_length(client):
    raw = stream_raw(client, chat_body(max_tokens=7)).content
    assert len(deltas(raw)) == 7
    assert chunks(raw)[-2]["choices"][0]["finish_reason"] == "length"
    assert usage_of(raw)["completion_tokens"] == 7


def test_no_usage_chunk_unless_asked(client):
    raw = stream_raw(client, chat_body(usage=False)).content
    assert usage_of(raw) is None
    assert sse_lines(raw)[-1] == "data: [DONE]"


def test_wrong_or_missing_key_gets_one_api_401(client):
    for headers in ({"Authorization": "Bearer sk-wrong"}, {"Authorization": ""}):
        resp = client.post("/chat/completions", json=chat_body(), headers=headers)
        assert resp.status_code == 401
        err = resp.json()["error"]
        assert err["code"] == "invalid_api_key" and err["type"] == "one_api_error"
        assert err["message"].startswith("无效的令牌 (request id: ")
        assert resp.headers["x-oneapi-request-id"]


def test_unknown_model_is_404_model_not_found(client):
    resp = client.post("/chat/completions", json=chat_body("gpt-9"))
    assert resp.status_code == 404
    assert resp.json() == {"error": {"message": "The model `gpt-9` does not exist",
                                     "type": "invalid_request_error", "param": "model",
                                     "code": "model_not_found"}}


def test_bad_json_is_400(client):
    resp = client.post("/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


# ----- faults ---------------------------------------------------------------------------------------

def test_rate_limit_headers_and_times(demo_relay, client):
    demo_relay.set_fault("rate_limit", times=1, retry_after=1.5)
    resp = client.post("/chat/completions", json=chat_body())
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "2" and resp.headers["retry-after-ms"] == "1500"
    assert resp.json()["error"]["code"] == "rate_limit_exceeded"
    assert client.post("/chat/completions", json=chat_body()).status_code == 200
    assert demo_relay.faults() == []


@pytest.mark.parametrize("name, params, status, check", [
    ("server_error", {}, 500, lambda r: r.json()["error"]["type"] == "server_error"),
    ("unavailable", {}, 503, lambda r: r.json()["error"]["type"] == "server_error"),
    ("html_error", {}, 502, lambda r: r.headers["content-type"] == "text/html" and "nginx" in r.text),
    ("auth", {}, 401, lambda r: r.json()["error"]["code"] == "invalid_api_key"),
    ("no_credit", {"style": "openrouter"}, 402, lambda r: r.json()["error"]["code"] == 402),
    ("no_credit", {"style": "oneapi"}, 403, lambda r: r.json()["error"]["code"] == "insufficient_user_quota"),
    ("no_credit", {"style": "openai"}, 429, lambda r: r.json()["error"]["code"] == "insufficient_quota"),
    ("forbidden", {}, 403, lambda r: r.json()["error"]["message"].startswith("该令牌无权使用模型：gpt-4.1 (")),
    ("stacked_request_ids", {}, 503, lambda r: r.json()["error"]["message"].count("(request id: ") == 3),
    ("reject_stream_options", {}, 400, lambda r: r.json()["error"] == {
        "message": "Unknown parameter: 'stream_options'.", "type": "invalid_request_error",
        "param": "stream_options", "code": "unknown_parameter"}),
])
def test_error_faults(demo_relay, client, name, params, status, check):
    demo_relay.set_fault(name, **params)
    resp = client.post("/chat/completions", json=chat_body())
    assert resp.status_code == status
    assert check(resp)
    assert resp.headers["x-oneapi-request-id"]


def test_fault_limited_to_one_model_and_count(demo_relay, client):
    demo_relay.set_fault("server_error", model="gpt-4.1", times=2)
    assert client.post("/chat/completions", json=chat_body("gemini-2.5-flash")).status_code == 200
    assert [client.post("/chat/completions", json=chat_body()).status_code for _ in range(3)] == [500, 500, 200]


def test_reject_stream_options_only_when_sent(demo_relay, client):
    demo_relay.set_fault("reject_stream_options")
    assert client.post("/chat/completions", json=chat_body(usage=False)).status_code == 200
    assert client.post("/chat/completions", json=chat_body()).status_code == 400


def test_mid_stream_error(demo_relay, client):
    demo_relay.set_fault("mid_stream_error", after=3)
    raw = stream_raw(client, chat_body()).content
    assert len(deltas(raw)) == 3
    lines = sse_lines(raw)
    assert json.loads(lines[-1][6:]) == {"error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error"}}
    assert "data: [DONE]" not in lines


def test_truncate_closes_without_done(demo_relay, client):
    demo_relay.set_fault("truncate", after=4)
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", "/chat/completions", json=chat_body()) as resp:
            for part in resp.iter_raw():
                received += part
    assert len(deltas(received)) == 4
    assert b"[DONE]" not in received and b"finish_reason\":\"stop" not in received


def test_stall_keeps_quiet_until_the_client_leaves(demo_relay):
    demo_relay.set_fault("stall", after=2)
    received = b""
    with httpx.Client(base_url=demo_relay.base_url, headers=AUTH, timeout=httpx.Timeout(5, read=0.3)) as c:
        with pytest.raises(httpx.ReadTimeout):
            with c.stream("POST", "/chat/completions", json=chat_body()) as resp:
                for part in resp.iter_raw():
                    received += part
    assert len(deltas(received)) == 2
    _eventually(lambda: not demo_relay._tasks)
    assert demo_relay.books()["per_model"]["gpt-4.1"]["completion_tokens"] == 2


def test_slow_first_byte_is_not_scaled(demo_relay, client):
    demo_relay.set_fault("slow_first_byte", delay=0.3)
    start = time.perf_counter()
    with client.stream("POST", "/chat/completions", json=chat_body()) as resp:
        headers_at = time.perf_counter() - start
        resp.read()
    assert 0.29 <= headers_at < 1.0


def test_drop_connection(demo_relay, client):
    demo_relay.set_fault("drop_connection", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/chat/completions", json=chat_body())
    assert client.post("/chat/completions", json=chat_body()).status_code == 200


def test_broken_lines_mid_stream(demo_relay, client):
    demo_relay.set_fault("malformed_sse", after=2)
    demo_relay.set_fault("non_utf8", after=3)
    raw = stream_raw(client, chat_body()).content
    assert b"\ndata: {not json\n\n" in raw
    bad = [line for line in raw.split(b"\n") if b"\xff\xfe" in line]
    assert len(bad) == 1 and bad[0].startswith(b"data: {")
    with pytest.raises(UnicodeDecodeError):
        bad[0].decode()
    assert raw.endswith(b"data: [DONE]\n\n")
    usage = usage_of(raw)
    assert usage["completion_tokens"] == len(deltas(raw))  # broken chunks are not tokens (and skipped here)


def test_huge_line(demo_relay, client):
    demo_relay.set_fault("huge_line", after=1)
    raw = stream_raw(client, chat_body()).content
    assert max(len(line) for line in raw.split(b"\n")) > 10 * 1024 * 1024


def test_usage_shape_faults(demo_relay, client):
    demo_relay.set_fault("usage_with_choices", times=1)
    last = chunks(stream_raw(client, chat_body()).content)[-1]
    assert last["choices"] == [{"index": 0, "delta": {}}] and last["usage"]["completion_tokens"] > 0
    demo_relay.set_fault("no_usage", times=1)
    assert usage_of(stream_raw(client, chat_body()).content) is None
    demo_relay.set_fault("null_finish", times=1)
    raw = stream_raw(client, chat_body()).content
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks(raw) if c["choices"])


def test_hostile_output(demo_relay, client):
    demo_relay.set_fault("hostile_output")
    text = "".join(deltas(stream_raw(client, chat_body()).content))
    for seq in ("\x1b[2J", "\x1b]0;", "\x1b]8;;", "\x1b]52;c;", "\x07", "\b", "\u202e"):
        assert seq in text


def test_think_tags_and_openrouter_reasoning(demo_relay, client):
    demo_relay.set_fault("think_tags", times=1)
    raw = stream_raw(client, chat_body()).content
    text = "".join(deltas(raw))
    assert text.startswith("<think>\n") and "\n</think>\n\n## " in text
    assert not deltas(raw, "reasoning_content")
    demo_relay.set_fault("openrouter_reasoning", times=1)
    raw = stream_raw(client, chat_body("deepseek-v3.2")).content
    assert deltas(raw, "reasoning") and not deltas(raw, "reasoning_content")
    assert usage_of(raw)["completion_tokens_details"]["reasoning_tokens"] == len(deltas(raw, "reasoning"))


def test_unknown_fault_is_refused(demo_relay):
    with pytest.raises(ValueError, match="unknown fault"):
        demo_relay.set_fault("meteor")
    with pytest.raises(ValueError, match="unknown parameter"):
        demo_relay.set_fault("truncate", retry_after=2)
    for name, params, said in (("deep_json", {"where": "chat, models"}, "where must be one of chat, models, quota"),
                               ("impossible_quota", {"value": "12"}, "value must be one of NaN"),
                               ("keep_alives", {"every": 0}, "'every' must be above 0")):
        with pytest.raises(ValueError, match=re.escape(said)):
            demo_relay.set_fault(name, **params)


def test_the_hostile_faults_send_what_json_cannot_hold(demo_relay, client):
    """NaN, Infinity and 1e400 raw in `usage` and a quota reply; `[` x 100,000 where asked."""
    demo_relay.set_fault("nan_usage", times=1)
    raw = stream_raw(client, chat_body()).content
    assert b'"prompt_tokens":NaN,"completion_tokens":Infinity,"total_tokens":1e400' in raw
    demo_relay.set_fault("impossible_quota", value="-Infinity")
    assert client.get("/quota").content.startswith(b'{"used":-Infinity,')
    demo_relay.set_fault("deep_json", where="models", times=1)
    assert client.get("/models").content == b"[" * 100_000


# ----- control endpoint and faults file ---------------------------------------------------------

def test_control_endpoint(demo_relay, client):
    root = demo_relay.root_url
    resp = client.post(root + "/_demo/faults", json={"name": "rate_limit", "times": 1, "retry_after": 3})
    assert resp.status_code == 200
    assert client.get(root + "/_demo/faults").json()["faults"][0]["name"] == "rate_limit"
    assert client.post("/chat/completions", json=chat_body()).headers["retry-after"] == "3"
    client.post(root + "/_demo/faults", json={"name": "server_error"})
    assert client.delete(root + "/_demo/faults").status_code == 200
    assert client.post("/chat/completions", json=chat_body()).status_code == 200
    assert client.post(root + "/_demo/faults", json={"name": "meteor"}).status_code == 400
    books = client.get(root + "/_demo/books").json()
    assert books["requests"] == 1 and books["per_model"]["gpt-4.1"]["requests"] == 1


def test_faults_file_toml_and_json(tmp_path):
    toml = tmp_path / "faults.toml"
    toml.write_text('[[fault]]\nname = "rate_limit"\ntimes = 1\nretry_after = 2\n\n'
                    '[[fault]]\nname = "truncate"\nmodel = "gpt-4.1"\nafter = 3\n')
    js = tmp_path / "faults.json"
    js.write_text(json.dumps([{"name": "server_error", "times": 1}]))
    relay = DemoRelay(time_scale=0)
    assert [s["name"] for s in relay.load_faults(toml)] == ["rate_limit", "truncate"]
    relay.clear_faults()
    relay.load_faults(js)
    relay.start()
    try:
        with httpx.Client(base_url=relay.base_url, headers=AUTH) as c:
            assert c.post("/chat/completions", json=chat_body()).status_code == 500
            assert c.post("/chat/completions", json=chat_body()).status_code == 200
    finally:
        relay.stop()
    js.write_text('[{"name": "truncate"}, {"name": "meteor"}]')
    with pytest.raises(ValueError, match="unknown fault 'meteor'"):
        relay.load_faults(js)
    assert relay.faults() == []  # all or none
    toml.write_text("[[fault]\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        relay.load_faults(toml)


# ----- quota dialects --------------------------------------------------------------------------

QUOTA_PATHS = ["/api/v1/key", "/key/info", "/api/usage/token", "/v1/dashboard/billing/subscription",
               "/v1/dashboard/billing/usage", "/dashboard/billing/subscription", "/dashboard/billing/usage",
               "/v1/quota"]


def read_quota(client, root) -> dict[str, float]:
    """Remaining USD as each dialect reports it, converted from its own units."""
    g = {p: client.get(root + p).json() for p in QUOTA_PATHS}
    return {
        "openrouter": g["/api/v1/key"]["data"]["limit_remaining"],
        "litellm": g["/key/info"]["info"]["max_budget"] - g["/key/info"]["info"]["spend"],
        "newapi": g["/api/usage/token"]["data"]["total_available"] / 500_000,
        "billing": g["/v1/dashboard/billing/subscription"]["hard_limit_usd"]
        - g["/v1/dashboard/billing/usage"]["total_usage"] / 100,
        "billing_alias": g["/dashboard/billing/subscription"]["hard_limit_usd"]
        - g["/dashboard/billing/usage"]["total_usage"] / 100,
        "quota": g["/v1/quota"]["remaining"],
    }


def test_quota_dialects_count_down_consistently(demo_relay, client):
    root = demo_relay.root_url
    before = read_quota(client, root)
    assert all(v == pytest.approx(25.0) for v in before.values())
    usage = usage_of(stream_raw(client, chat_body("claude-sonnet-4.5")).content)
    after = read_quota(client, root)
    assert all(v == pytest.approx(25.0 - usage["cost"], abs=2e-6) for v in after.values()), after
    assert demo_relay.books()["used_usd"] == pytest.approx(usage["cost"])
    assert usage["cost"] == pytest.approx((usage["prompt_tokens"] * 3 + usage["completion_tokens"] * 15) / 1e6)


def test_quota_shapes(demo_relay, client):
    root = demo_relay.root_url
    assert client.get(root + "/api/usage/token").json()["data"]["object"] == "token_usage"
    assert client.get(root + "/v1/dashboard/billing/subscription").json()["object"] == "billing_subscription"
    assert client.get(root + "/v1/dashboard/billing/usage").json()["object"] == "list"
    info = client.get(root + "/key/info").json()
    assert DEMO_KEY not in json.dumps(info) and info["info"]["max_budget"] == 25.0
    assert client.get(root + "/api/v1/credits").json()["data"] == {"total_credits": 25.0, "total_usage": 0.0}
    resp = client.get(root + "/api/usage/token", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401 and resp.json() == {"success": False, "message": "Invalid Bearer token"}
    assert client.get(root + "/v1/quota", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_quota_variants(demo_relay, client):
    root = demo_relay.root_url
    demo_relay.set_fault("unlimited_token")
    assert client.get(root + "/v1/dashboard/billing/subscription").json()["hard_limit_usd"] == 100_000_000
    assert client.get(root + "/api/usage/token").json()["data"]["unlimited_quota"] is True
    assert client.get(root + "/api/v1/key").json()["data"]["limit"] is None
    demo_relay.clear_faults()
    demo_relay.set_fault("quota_error_200", times=1)
    resp = client.get(root + "/v1/dashboard/billing/usage")
    assert resp.status_code == 200 and resp.json()["error"]["type"] == "one_api_error"
    assert "total_usage" in client.get(root + "/v1/dashboard/billing/usage").json()


def test_only_chosen_dialects_are_served():
    relay = DemoRelay(time_scale=0, quota_dialects={"billing"})
    relay.start()
    try:
        with httpx.Client(base_url=relay.root_url, headers=AUTH) as c:
            assert c.get("/v1/dashboard/billing/subscription").status_code == 200
            assert [c.get(p).status_code for p in ("/api/v1/key", "/key/info", "/api/usage/token",
                                                   "/v1/quota")] == [404] * 4
    finally:
        relay.stop()


def test_exhausted_account_answers_403():
    relay = DemoRelay(time_scale=0, granted_usd=0.0001)
    relay.start()
    try:
        with httpx.Client(base_url=relay.base_url, headers=AUTH) as c:
            codes = [c.post("/chat/completions", json=chat_body("claude-sonnet-4.5")).status_code for _ in range(3)]
            assert codes[0] == 200 and codes[-1] == 403
    finally:
        relay.stop()


# ----- timing, concurrency, disconnects ---------------------------------------------------------

def _ttft(relay) -> tuple[float, float]:
    """(seconds to the first content delta, seconds to [DONE]) as a client measures them."""
    with httpx.Client(base_url=relay.base_url, headers=AUTH, timeout=5) as c:
        c.get("/models")  # connect first: the measure starts from a pooled connection
        start = time.perf_counter()
        first = None
        with c.stream("POST", "/chat/completions", json=chat_body()) as resp:
            for line in resp.iter_lines():
                if first is None and '"content":"' in line and '"content":""' not in line:
                    first = time.perf_counter() - start
        return first, time.perf_counter() - start


def test_first_token_delay_is_accurate():
    relay = DemoRelay(time_scale=1.0, model_overrides={"gpt-4.1": {"ttft": 0.2, "tps": 500, "answer_tokens": 50}})
    relay.start()
    try:
        runs = [_ttft(relay) for _ in range(3)]
    finally:
        relay.stop()
    best = min(runs, key=lambda r: abs(r[0] - 0.2))
    assert abs(best[0] - 0.2) < 0.015, runs
    assert abs(best[1] - (0.2 + 49 / 500)) < 0.025, runs


def test_answer_period_repeats_one_section():
    """bench times its first and last windows of a long answer; with a period they hold the same text."""
    relay = DemoRelay(time_scale=0, model_overrides={"gpt-4.1": {"answer_tokens": 250, "answer_period": 100}})
    url = relay.start()
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as c:
            raw = stream_raw(c, chat_body()).content
    finally:
        relay.stop()
    tokens = deltas(raw)
    assert len(tokens) == 250 == usage_of(raw)["completion_tokens"]
    assert tokens[:100] == tokens[100:200] and tokens[200:] == tokens[:50]
    assert tokens[99] == "\n\n" and len(set(tokens[:99])) > 20


def test_time_scale_halves_delays():
    relay = DemoRelay(time_scale=0.5, model_overrides={"gpt-4.1": {"ttft": 0.2, "answer_tokens": 5}})
    relay.start()
    try:
        first, _ = min((_ttft(relay) for _ in range(2)), key=lambda r: r[0])
    finally:
        relay.stop()
    assert 0.095 < first < 0.13


async def test_concurrent_requests_all_correct():
    relay = DemoRelay(time_scale=0, model_overrides={m: {"answer_tokens": 40} for m in MODELS})
    relay.start()

    async def one(client, i):
        body = {**chat_body(list(MODELS)[i % 4]), "messages": [{"role": "user", "content": f"q{i % 7}"}]}
        resp = await client.post("/chat/completions", json=body)
        raw = resp.content
        return resp.status_code, raw.endswith(b"data: [DONE]\n\n"), \
            usage_of(raw)["completion_tokens"] == len(deltas(raw)) + len(deltas(raw, "reasoning_content"))

    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    try:
        async with httpx.AsyncClient(base_url=relay.base_url, headers=AUTH, limits=limits, timeout=10) as c:
            sem = asyncio.Semaphore(50)

            async def bounded(i):
                async with sem:
                    return await one(c, i)

            results = await asyncio.gather(*(bounded(i) for i in range(200)))
        assert results == [(200, True, True)] * 200
        assert relay.books()["requests"] == 200
    finally:
        relay.stop()


@pytest.mark.alone  # timing checks: the machine to itself
async def test_server_throughput_1000_requests_at_concurrency_50():
    """The relay's own cost, measured with bare keep-alive sockets (httpx's pool costs more)."""
    relay = DemoRelay(time_scale=0)
    relay.start()
    body = json.dumps(chat_body()).encode()
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: demo\r\nAuthorization: Bearer {DEMO_KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    async def worker():
        reader, writer = await asyncio.open_connection(relay.host, relay.port)
        done = 0
        for _ in range(20):
            writer.write(request)
            done += (await reader.readuntil(b"\r\n0\r\n\r\n")).endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
        writer.close()
        return done

    try:
        start = time.perf_counter()
        done = await asyncio.gather(*(worker() for _ in range(50)))
        elapsed = time.perf_counter() - start
    finally:
        relay.stop()
    assert sum(done) == 1000
    assert elapsed < 4, elapsed


def test_client_leaving_mid_stream_is_quiet_and_charged(capfd):
    relay = DemoRelay(time_scale=1.0, model_overrides={"gpt-4.1": {"ttft": 0.0, "tps": 100}})
    relay.start()
    try:
        with httpx.Client(base_url=relay.base_url, headers=AUTH) as c:
            with c.stream("POST", "/chat/completions", json=chat_body()) as resp:
                for line in resp.iter_lines():
                    if '"content":" ' in line or '"content":"#' in line:
                        break
        _eventually(lambda: relay.books()["requests"] == 1 and not relay._tasks)
        tokens = relay.books()["per_model"]["gpt-4.1"]["completion_tokens"]
        assert 1 <= tokens < 60
    finally:
        relay.stop()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_stop_ends_open_streams_and_frees_the_port():
    relay = DemoRelay(time_scale=1.0)
    relay.start()
    relay.set_fault("stall", after=1)
    with httpx.Client(base_url=relay.base_url, headers=AUTH, timeout=2) as c:
        with c.stream("POST", "/chat/completions", json=chat_body()) as resp:
            next(resp.iter_raw())
            start = time.perf_counter()
            relay.stop()
            assert time.perf_counter() - start < 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(relay.base_url + "/models", headers=AUTH, timeout=1)


def _eventually(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_first_token_delays_spread_like_a_real_relays_and_overrides_are_exact():
    """The catalogue's models vary their first-token delay (percentiles of one value were the
    same three figures), averaging the catalogue's figure; an override a test sets is exact."""
    import random
    import statistics

    from relay_tui.demo.catalog import apply_overrides

    spec = MODELS["gpt-4.1"]
    rng = random.Random(0)
    delays = sorted(spec.first_token_delay(rng) for _ in range(2000))
    assert statistics.fmean(delays) == pytest.approx(spec.ttft, rel=0.03)
    assert delays[int(0.95 * len(delays))] > 1.25 * delays[len(delays) // 2]  # a right tail
    exact = apply_overrides({"gpt-4.1": {"ttft": 0.1}})["gpt-4.1"]
    assert {exact.first_token_delay(rng) for _ in range(20)} == {0.1}
