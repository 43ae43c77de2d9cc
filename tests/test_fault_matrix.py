"""The fault matrix: every way a relay or the network fails, met through the CLI and the TUI.

One row per fault: how to cause it, the exact line the user sees (normalised: `rt-…` for request
ids, HOST:PORT for loopback addresses) and what the history keeps. Each row runs twice, through
`relay-tui chat` and through the TUI's chat pane, and each run checks the line, that the next
prompt streams fine once the fault is gone, and what history.db holds afterwards. The same rows
are the README's troubleshooting table (`python -m tests.fault_table` writes it; a test below
keeps the two equal).

The profile has `max_retries = 0` (the line is what is left once retries are spent) and short
timeouts, so the whole matrix runs in seconds.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.demo import DemoRelay, chat as demo_chat
from relay_tui.store.history import History
from relay_tui.store.paths import config_path
from relay_tui.ui.chat_messages import AnswerBlock
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from tests import fault_table
from tests.conftest import TEST_KEY
from tests.support.drop_proxy import DropProxy
from tests.support.screen import screen_text
from tests.test_cli import run_cli
from tests.test_tui_chat import settled, until

PROMPT, MODEL = "hello", "gpt-4.1"
SIZE = (100, 30)
KEY_ENV = "RELAY_MATRIX_KEY"
TIMEOUT = 0.5      # connect and idle gap
FIRST_BYTE = 1.0   # every request waits for its first byte: room for a loaded machine
SHORT = {MODEL: {"answer_tokens": 24}}  # long enough for every fault, short to render in the TUI


@dataclass
class Rig:
    """The demo relay, a proxy in front of it, and a port nothing listens on (until it is fixed)."""

    relay: DemoRelay
    proxy: DropProxy
    port: int = 0
    late: DemoRelay | None = None

    def configure(self, route: str) -> None:
        """Write the `work` profile: straight to the relay, through the proxy, or to the dead port."""
        base = f"http://127.0.0.1:{self.port}/v1" if route == "refused" else self.relay.base_url
        proxy = f'proxy = "{self.proxy.url}"\n' if route == "proxy" else ""
        config_path().parent.mkdir(parents=True, exist_ok=True)
        config_path().write_text(
            f'active_profile = "work"\n\n[profiles.work]\nbase_url = "{base}"\n{proxy}'
            f'default_model = "{MODEL}"\nquota_dialect = "none"\nkey_env = "{KEY_ENV}"\n'
            f"connect_timeout = {TIMEOUT}\nfirst_byte_timeout = {FIRST_BYTE}\nidle_timeout = {TIMEOUT}\n"
            f"max_retries = 0\n", encoding="utf-8")

    def start_late_relay(self) -> None:
        """The fix for "connection refused": start the relay on the port the profile names."""
        self.late = DemoRelay(port=self.port, time_scale=0.0, accept_keys=(TEST_KEY,),
                              model_overrides=SHORT)
        self.late.start()


@dataclass(frozen=True)
class Fault:
    id: str
    what: str                             # the fault, as the README names it
    message: str | None                   # the line the user sees, normalised; None: no error
    keeps: str                            # what the history keeps, as the README says it
    setup: Callable[[Rig], object]
    kind: str | None = None               # RelayError.kind in the request log
    status: int | None = None             # HTTP status in the request log
    received: Callable[[list[str]], str] = lambda tokens: ""  # answer text that arrived
    route: str = "relay"                  # relay | proxy | refused
    model: str = MODEL
    clear: Callable[[Rig], object] = lambda rig: rig.relay.clear_faults()


def first(n: int) -> Callable[[list[str]], str]:
    return lambda tokens: "".join(tokens[:n])


def fault(name: str, **params) -> Callable[[Rig], object]:
    return lambda rig: rig.relay.set_fault(name, **params)


def cut(rig: Rig, blocks: int | None) -> None:
    rig.proxy.cut_after = blocks


def drop(rig: Rig, on: bool) -> None:
    rig.proxy.drop = on


PROMPT_AND_ERROR = "the prompt; an empty answer marked failed with this line; the request's log entry"
PARTIAL = "the prompt; the {n} tokens received, marked failed with this line; the request's log entry"
RID = "[request rt-…]"

ROWS = [
    Fault("401", "401 bad key (read from the profile's key_env)", "the relay rejected the key for "
          "profile work (HTTP 401): 无效的令牌 (request id: …) — check RELAY_MATRIX_KEY, the environment "
          f"variable the key was read from {RID}", PROMPT_AND_ERROR, fault("auth"), "auth", 401),
    Fault("402", "402 out of credit (OpenRouter)", "out of credit on profile work (HTTP 402): "
          "Insufficient credits. Add more using https://openrouter.ai/settings/credits — top up or check "
          f"`relay-tui quota` {RID}", PROMPT_AND_ERROR, fault("no_credit", style="openrouter"), "quota", 402),
    Fault("403", "403 quota used up (one-api)", "out of credit on profile work (HTTP 403): 用户额度不足, "
          f"剩余额度: ＄0.000000 (request id: …) — top up or check `relay-tui quota` {RID}",
          PROMPT_AND_ERROR, fault("no_credit", style="oneapi"), "quota", 403),
    Fault("403-model", "403 model not allowed for this key (one-api)", "the relay refused the request "
          "(HTTP 403): 该令牌无权使用模型：gpt-4.1 (request id: …) — the key may lack access to this model or "
          f"region: try another model (`relay-tui models`) or ask the relay's admin {RID}", PROMPT_AND_ERROR,
          fault("forbidden"), "forbidden", 403),
    Fault("404", "404 unknown model (`gpt-4.2`)", "the relay does not serve model 'gpt-4.2' (HTTP 404): "
          f"The model `gpt-4.2` does not exist — did you mean gpt-4.1? {RID}", PROMPT_AND_ERROR,
          lambda rig: None, "model", 404, model="gpt-4.2"),
    Fault("429", "429 rate limit with Retry-After", "rate limited by the relay (HTTP 429): Rate limit "
          "reached for gpt-4.1 in organization org-demo on requests per min (RPM): Limit 3, Used 3, "
          f"Requested 1. Please try again in 1s. (retry after 1 s) {RID}", PROMPT_AND_ERROR,
          fault("rate_limit", retry_after=1), "rate_limit", 429),
    Fault("500", "500 server error", "the relay failed (HTTP 500): The server had an error while "
          f"processing your request. Sorry about that! {RID}", PROMPT_AND_ERROR,
          fault("server_error"), "server", 500),
    Fault("503", "503 overloaded", "the relay failed (HTTP 503): The engine is currently overloaded, "
          f"please try again later. {RID}", PROMPT_AND_ERROR, fault("unavailable"), "server", 503),
    Fault("html", "HTML error page (nginx 502)", "the relay returned an HTML error page (HTTP 502): "
          f"the gateway in front of it failed — try again later {RID}", PROMPT_AND_ERROR,
          fault("html_error", status=502), "server", 502),
    Fault("mid-stream", "error sent mid-stream", "the relay reported an error mid-stream after 5 tokens: "
          f"The server had an error while processing your request. Sorry about that! {RID}",
          PARTIAL.format(n=5), fault("mid_stream_error", after=5), "server", received=first(5)),
    Fault("truncated", "stream truncated (no [DONE])", "the stream was cut off after 5 tokens (no [DONE]); "
          f"the answer is incomplete {RID}", PARTIAL.format(n=5), fault("truncate", after=5), "response",
          received=first(5)),
    Fault("idle", "stream never ends (idle timeout 0.5 s)", "the relay went silent for 0.5 s mid-answer "
          "after 5 tokens (idle timeout; raise idle_timeout in the profile if this model thinks long) "
          f"{RID}", PARTIAL.format(n=5), fault("stall", after=5), "timeout", received=first(5)),
    Fault("first-byte", "slow first byte (first-byte timeout 1 s)", "no answer from HOST:PORT within "
          "1 s (first-byte timeout; raise first_byte_timeout in the profile for slow models) "
          f"{RID}", PROMPT_AND_ERROR, fault("slow_first_byte", delay=FIRST_BYTE + 0.5), "timeout"),
    Fault("malformed", "malformed SSE (`data: {not json`)", "the relay sent malformed JSON in the stream "
          f"('{{not json'…) after 3 tokens; the answer is incomplete {RID}", PARTIAL.format(n=3),
          fault("malformed_sse", after=3), "response", received=first(3)),
    Fault("non-utf8", "non-UTF-8 bytes in a token", None,
          "the whole answer, each undecodable byte as �; the request's log entry",
          fault("non_utf8", after=3),
          received=lambda tokens: "".join(tokens[:3]) + "\ufffd\ufffd\ufffd(" + "".join(tokens[3:])),
    Fault("10mb-line", "a 10 MB line", "the relay sent a stream line over 4 MB; stopped reading it — "
          f"the relay or its upstream is misbehaving {RID}", PARTIAL.format(n=3),
          fault("huge_line", after=3), "response", received=first(3)),
    Fault("10mb-line-gzip", "a 10 MB line in a gzip stream (~10 KB on the wire)", "the relay sent a "
          f"stream line over 4 MB; stopped reading it — the relay or its upstream is misbehaving {RID}",
          PARTIAL.format(n=3), lambda rig: (rig.relay.set_fault("huge_line", after=3),
                                            rig.relay.set_fault("gzip")), "response", received=first(3)),
    Fault("refused", "connection refused (relay not running)", "could not connect to HOST:PORT: "
          f"connection refused (is the relay running, is the port right?) {RID}", PROMPT_AND_ERROR,
          lambda rig: None, "connection", route="refused", clear=Rig.start_late_relay),
    Fault("proxy-drop", "proxy drops the connection before answering", "the relay at HOST:PORT (through "
          "the proxy HOST:PORT) closed the connection without answering (Server disconnected without "
          f"sending a response.) {RID}",
          PROMPT_AND_ERROR, lambda rig: drop(rig, True), "connection", route="proxy",
          clear=lambda rig: drop(rig, False)),
    Fault("proxy-cut", "proxy drops the connection mid-answer", "the stream was cut off after 4 tokens "
          f"(no [DONE]); the answer is incomplete {RID}", PARTIAL.format(n=4),
          lambda rig: cut(rig, 2 + 4), "response", route="proxy", received=first(4),  # role + keep-alive
          clear=lambda rig: cut(rig, None)),
]


def normalised(line: str) -> str:
    line = re.sub(r"\[request rt-[0-9a-f]{12}\]", "[request rt-…]", line)
    line = re.sub(r"\(request id: \d+\)", "(request id: …)", line)
    return re.sub(r"127\.0\.0\.1:\d+", "HOST:PORT", line)


@pytest.fixture
def rig(monkeypatch):
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    relay = DemoRelay(time_scale=0.0, accept_keys=(TEST_KEY,), model_overrides=SHORT)
    relay.start()
    proxy = DropProxy()
    proxy.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connecting to it is refused
    rig = Rig(relay, proxy, port)
    yield rig
    proxy.stop()
    relay.stop()
    if rig.late is not None:
        rig.late.stop()


def answer_tokens(relay: DemoRelay) -> list[str]:
    """The demo relay's whole answer to PROMPT, token by token (what a clean request streams)."""
    request = demo_chat.ChatRequest(MODEL, relay.models[MODEL], [{"role": "user", "content": PROMPT}],
                                    True, True, None, relay.models[MODEL].ttft)
    pieces, _ = demo_chat.plan(request, {}, relay.settings.seed)
    return [text for is_reasoning, text in pieces if not is_reasoning]


def check_history(f: Fault, failed, tokens: list[str]) -> None:
    """The answer row and the request log entry of the faulted request, as read back from disk."""
    with History() as history:
        log = [r for r in history.requests() if r.request_id == failed.request_id]
    assert len(log) == 1
    assert failed.content == f.received(tokens)
    if f.message is None:
        assert failed.state == "done" and failed.error is None and log[0].ok
        return
    assert failed.state == "error" and normalised(failed.error) == f.message
    assert failed.error.endswith(f"[request {failed.request_id}]")
    assert (log[0].error, log[0].error_kind, log[0].status) == (failed.error, f.kind, f.status)


# A 10 MB line is built, gzipped and read within the 1 s first-byte timeout: CPU a second
# xdist worker would take away (seen timing out under load), so those run alone.
PARAMS = [pytest.param(f, id=f.id, marks=[pytest.mark.alone] if f.id.startswith("10mb") else [])
          for f in ROWS]


@pytest.mark.parametrize("f", PARAMS)
def test_cli(f: Fault, rig: Rig, capsys):
    rig.configure(f.route)
    f.setup(rig)
    code, out, err = run_cli(capsys, "chat", "-m", f.model, PROMPT)
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    if f.message is None:
        assert code == 0 and lines[0].startswith(f"{MODEL} · TTFT ")
    else:
        assert code == 1 and normalised(lines[0]) == f"relay-tui: {f.message}"
    f.clear(rig)
    code, again, err = run_cli(capsys, "chat", "-m", MODEL, PROMPT)
    tokens = answer_tokens(rig.relay)
    assert code == 0 and again == "".join(tokens) + "\n", err
    with History() as history:
        convs = history.conversations()
        failed, fine = (history.messages(c.id) for c in reversed(convs))
    assert len(convs) == 2 and [m.role for m in failed] == ["user", "assistant"]
    assert fine[1].state == "done" and fine[1].content == "".join(tokens)
    assert out == (failed[1].content + "\n" if failed[1].content else "")  # history = what was shown
    check_history(f, failed[1], tokens)


async def send(pilot, prompt: str) -> ChatPane:
    """Put the prompt in the box and press enter (typing it key by key costs a frame per key)."""
    pane = pilot.app.query_one(ChatPane)
    box = pane.query_one(PromptArea)
    box.focus()
    box.text = prompt
    await pilot.press("enter")
    await until(pilot, lambda: pane.streaming or pane.query(AnswerBlock))
    return await settled(pilot)


@pytest.mark.parametrize("f", PARAMS)
async def test_tui(f: Fault, rig: Rig):
    rig.configure(f.route)
    app = make_app(AppOptions(profile="work"))
    app.set_reactive(type(app).model, f.model)
    async with app.run_test(size=SIZE) as pilot:
        f.setup(rig)
        pane = await send(pilot, PROMPT)
        block = pane.query(AnswerBlock).last()
        status, shown = block.status_text, block.text
        assert "\n" not in status
        if f.message is None:
            assert status.startswith(f"{MODEL} · TTFT ") and not block.has_class("-error")
        else:
            assert normalised(status) == f"✗ {f.message}" and block.has_class("-error")
            assert status[:40] in screen_text(app)  # the line starts on screen (it may wrap)
        f.clear(rig)
        app.model = MODEL
        pane = await send(pilot, PROMPT)
        assert pane.query(AnswerBlock).last().status_text.startswith(f"{MODEL} · TTFT ")
        conv_id = pane.conversation.id
    tokens = answer_tokens(rig.relay)
    with History() as history:
        rows = history.messages(conv_id)
    assert [m.role for m in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[3].state == "done" and rows[3].content == "".join(tokens)
    assert shown == rows[1].content  # history = what was shown
    check_history(f, rows[1], tokens)


@pytest.mark.parametrize("f", PARAMS)
def test_what_the_table_says_is_kept_is_what_the_row_checks(f: Fault):
    """The README's "what the history keeps" cell is typed by hand; it must name the same number
    of tokens as the row's `received`, which check_history holds the history to."""
    tokens = [f"<{i}>" for i in range(30)]
    said = re.search(r"the (\d+) tokens received", f.keeps)
    kept = f.received(tokens)
    if said is None:
        assert kept == "" or "whole answer" in f.keeps, f.keeps
    else:
        assert kept == "".join(tokens[: int(said.group(1))])


def test_readme_table_is_the_matrix():
    """The README's troubleshooting table is these rows (regenerate: `python -m tests.fault_table`)."""
    assert fault_table.readme_section() == fault_table.render(ROWS)
