"""The fault matrix: every way a relay or the network fails, met through the CLI and the TUI.

One row per fault: how to cause it, the exact line the user sees (normalised: `rt-…` for request
ids, HOST:PORT for loopback addresses) and what the history keeps. Each row runs twice, through
the CLI and through the TUI, and each run checks the line, that the app works again once the
fault is gone, and what history.db holds afterwards. Most rows are met by a chat (`relay-tui
chat`, the TUI's chat pane); rows about the model list are met by `relay-tui models` and the
model picker (ctrl+t), rows about the balance by `relay-tui quota` and the quota pane (F4). The
same rows are the README's troubleshooting table (`python -m tests.fault_table` writes it; a test
below keeps the two equal).

The profile has `max_retries = 0` (the line is what is left once retries are spent) and short
timeouts, so the whole matrix runs in seconds.
"""

from __future__ import annotations

import base64
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.demo import DemoRelay, chat as demo_chat
from relay_tui.store.history import History
from relay_tui.store.paths import config_path
from relay_tui.ui.chat_messages import AnswerBlock
from relay_tui.core.sanitize import neutralise
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from relay_tui.ui.pickers import ModelPicker
from relay_tui.ui.quota_pane import QuotaPane
from tests import fault_table
from tests.conftest import TEST_KEY, files_containing
from tests.support.drop_proxy import DropProxy
from tests.support.hostile import check
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

    def configure(self, f: Fault) -> None:
        """Write the `work` profile: straight to the relay, through the proxy (with credentials
        it passes on, for `proxy-auth`), or to the dead port; with the row's own settings."""
        base = f"http://127.0.0.1:{self.port}/v1" if f.route == "refused" else self.relay.base_url
        proxy = ""
        if f.route == "proxy":
            proxy = f'proxy = "{self.proxy.url}"\n'
        elif f.route == "proxy-auth":
            self.proxy.auth, self.proxy.leaks_credentials = PROXY_USER, True
            proxy = f'proxy = "http://{":".join(PROXY_USER)}@{self.proxy.url.split("://")[1]}"\n'
        settings = {"connect_timeout": TIMEOUT, "first_byte_timeout": FIRST_BYTE, "idle_timeout": TIMEOUT,
                    "max_retries": 0, **f.settings}
        dialect = "simple" if f.command == "quota" else "none"
        config_path().parent.mkdir(parents=True, exist_ok=True)
        config_path().write_text(
            f'active_profile = "work"\n\n[profiles.work]\nbase_url = "{base}"\n{proxy}'
            f'default_model = "{MODEL}"\nquota_dialect = "{dialect}"\nkey_env = "{KEY_ENV}"\n'
            + "".join(f"{name} = {value}\n" for name, value in settings.items()), encoding="utf-8")

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
    route: str = "relay"                  # relay | proxy | proxy-auth | refused
    model: str = MODEL
    clear: Callable[[Rig], object] = lambda rig: rig.relay.clear_faults()
    command: str = "chat"                 # chat | models | quota: where the user meets it
    settings: dict = field(default_factory=dict)  # the profile's own settings for this row
    seen: str = ""                        # no error: what the user sees, as the README says it
    footer: str = re.escape(f"{MODEL} · TTFT ")  # no error: a pattern the footer under the answer matches


def first(n: int) -> Callable[[list[str]], str]:
    return lambda tokens: "".join(tokens[:n])


def fault(name: str, **params) -> Callable[[Rig], object]:
    return lambda rig: rig.relay.set_fault(name, **params)


def cut(rig: Rig, blocks: int | None) -> None:
    rig.proxy.cut_after = blocks


def drop(rig: Rig, on: bool) -> None:
    rig.proxy.drop = on


RID = "[request rt-…]"
PROXY_USER = ("matrix", "pr0xy-s3cret")  # the proxy's credentials in the profile's proxy URL
PROMPT_AND_ERROR = "the prompt; an empty answer marked failed with this line; the request's log entry"
NOTHING = "nothing for this request (the chat that follows works)"
FILLERS = ("no answer from HOST:PORT within 1 s, only keep-alives or empty chunks (first-byte timeout; "
           f"raise first_byte_timeout in the profile for slow models) {RID}")
DEEP = f"the relay's reply (HTTP 200) is JSON nested over 64 levels deep; refused — the relay is misbehaving"


def with_hostile_output(tokens: list[str]) -> str:
    """The answer the hostile_output fault sends: its escapes after the third token."""
    return "".join(tokens[:3]) + "".join(demo_chat.HOSTILE) + "".join(tokens[3:])
PARTIAL = "the prompt; the {n} tokens received, marked failed with this line; the request's log entry"

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
          received=lambda tokens: "".join(tokens[:3]) + "\ufffd\ufffd\ufffd(" + "".join(tokens[3:]),
          seen="no error: the answer arrives, each undecodable byte shown as �"),
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
    # -- hostile relays and bad days (issue 11) --
    Fault("keep-alives", "a stream of keep-alive comments only (first-byte timeout 1 s)", FILLERS,
          PROMPT_AND_ERROR, fault("keep_alives"), "timeout"),
    Fault("empty-deltas", "a stream of empty deltas only", FILLERS, PROMPT_AND_ERROR,
          fault("empty_deltas"), "timeout"),
    Fault("deadline", "a stream kept busy past the overall deadline (request timeout 1.5 s)",
          "the answer took longer than 1.5 s in all after 5 tokens (request timeout; raise "
          f"request_timeout in the profile for very long answers) {RID}", PARTIAL.format(n=5),
          fault("keep_alives", after=5), "timeout", received=first(5),
          settings={"idle_timeout": 5, "request_timeout": 1.5}),
    Fault("deep-chat", "deeply nested JSON (`[` × 100,000) as the chat reply", f"{DEEP} {RID}",
          PROMPT_AND_ERROR, fault("deep_json"), "response", 200),
    Fault("deep-models", "deeply nested JSON as the /models reply (model picker, `relay-tui models`)",
          f"{DEEP} {RID}", NOTHING, fault("deep_json", where="models"), command="models"),
    Fault("deep-quota", "deeply nested JSON as the quota reply (quota pane, `relay-tui quota`)",
          f"{DEEP} {RID}", "no balance reading", fault("deep_json", where="quota"), command="quota"),
    Fault("nan-usage", "NaN, Infinity and 1e400 as token counts and cost in `usage`", None,
          "the whole answer, its token counts marked estimated; the request's log entry",
          fault("nan_usage"), received=lambda tokens: "".join(tokens),
          seen="no error: the answer arrives; its token counts are estimated (~) and the cost "
               "estimated from list prices", footer=re.escape(f"{MODEL} · TTFT ") + r".* · \?→\d+~ tok · \$.* \(est\. "),
    Fault("huge-quota", "a used amount of 1e400 (or NaN, Infinity) in a quota reply",
          "the relay's quota reply (/v1/quota) has an impossible used (not a finite number): the "
          "relay is misbehaving", "no balance reading",
          fault("impossible_quota", value="1e400"), command="quota"),
    Fault("html-quota", "HTML error page (nginx 502) on a quota read", "GET /v1/quota: the relay "
          "returned an HTML error page (HTTP 502): the gateway in front of it failed — try again "
          "later [request …]", "no balance reading", fault("html_quota", status=502), command="quota"),
    Fault("retry-after-huge", "429 with `Retry-After: 1e+308`", "rate limited by the relay (HTTP 429): "
          "Rate limit reached for gpt-4.1 in organization org-demo on requests per min (RPM): Limit 3, "
          "Used 3, Requested 1. Please try again in 1e+308s. (retry after over a year, longer than "
          f"relay-tui waits: not retried) {RID}", PROMPT_AND_ERROR, fault("rate_limit", retry_after=1e308),
          "rate_limit", 429),
    Fault("hostile-answer", "terminal escapes in the answer (clear screen, title, clipboard, link, "
          "bidi override)", None, "the whole answer as the relay sent it, shown inert wherever it is "
          "shown; the request's log entry", fault("hostile_output"), received=with_hostile_output,
          seen="no error: the answer arrives, every escape shown as visible text (␛[2J, <U+202E>), "
               "none acted on"),
    Fault("hostile-model", "terminal escapes in the served model id", None, "the whole answer; the "
          "served model id with every escape made visible; the request's log entry",
          fault("hostile_model"), received=lambda tokens: "".join(tokens),
          seen="no error: the answer arrives; the footer names the served model with every escape "
               "visible", footer=re.escape(f"{MODEL} → {MODEL}␛[2J␛]0;pwned␇<U+009B>31m<U+202E>gnp.exe · TTFT ")),
    Fault("hostile-error", "terminal escapes in an error body (message, type, code)", "the relay "
          f"rejected the request (HTTP 400): bad request [2J ]0;pwned 31m gnp.exe {RID}",
          PROMPT_AND_ERROR, fault("hostile_error"), "request", 400),
    Fault("echo-auth", "the relay echoes the request's Authorization and Proxy-Authorization in an "
          "error", "the relay rejected the request (HTTP 400): request rejected; headers received: "
          f"authorization: Bearer sk-…{TEST_KEY[-4:]}, proxy-authorization: Basic *** {RID}",
          PROMPT_AND_ERROR, fault("echo_headers"), "request", 400, route="proxy-auth"),
]


def normalised(line: str) -> str:
    line = re.sub(r"\[request rt-[0-9a-f]{12}\]", "[request rt-…]", line)
    line = re.sub(r"\[request \d+\]", "[request …]", line)  # a quota read names the relay's own id
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
    """The answer row and the request log entry of the faulted request, as read back from disk,
    and no file the app wrote holding the proxy's password (conftest scans for the key; the
    password is in config.toml, where the user put it)."""
    basic = base64.b64encode(":".join(PROXY_USER).encode())
    for secret in (PROXY_USER[1].encode(), basic):
        found = files_containing(Path(os.environ["RELAY_TUI_HOME"]), secret)
        assert [path.name for path in found] in ([], ["config.toml"]), found
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


CLI_COMMANDS = {"models": ["models"], "quota": ["quota"]}


@pytest.mark.parametrize("f", PARAMS)
def test_cli(f: Fault, rig: Rig, capsys):
    rig.configure(f)
    f.setup(rig)
    code, out, err = run_cli(capsys, *CLI_COMMANDS.get(f.command, ["chat", "-m", f.model, PROMPT]))
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    check("stdout", out)
    check("stderr", err)
    if f.message is None:
        assert code == 0 and re.match(f.footer, lines[0]), lines[0]
    else:
        assert code == 1 and normalised(lines[0]) == f"relay-tui: {f.message}"
    f.clear(rig)
    if f.command != "chat":  # the same command works again, and the history kept nothing of the fault
        assert out == ""
        code, listed, err = run_cli(capsys, *CLI_COMMANDS[f.command])
        assert code == 0 and (MODEL in listed.split() if f.command == "models" else "granted" in listed), err
    code, again, err = run_cli(capsys, "chat", "-m", MODEL, PROMPT)
    tokens = answer_tokens(rig.relay)
    assert code == 0 and again == "".join(tokens) + "\n", err
    with History() as history:
        convs = history.conversations()
        *failed, fine = (history.messages(c.id) for c in reversed(convs))
        readings = history.quota_readings("work", limit=10)
    assert fine[1].state == "done" and fine[1].content == "".join(tokens)
    if f.command != "chat":
        assert failed == [] and len(readings) == (f.command == "quota")
        return
    failed = failed[0]
    assert len(convs) == 2 and [m.role for m in failed] == ["user", "assistant"]
    assert out == (neutralise(failed[1].content) + "\n" if failed[1].content else "")  # history = what was shown
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


async def meet_in_the_picker(pilot, f: Fault, rig: Rig) -> None:
    """ctrl+t: the model picker says the line; once the fault is gone it lists the models."""
    await pilot.press("ctrl+t")
    picker = pilot.app.screen
    assert isinstance(picker, ModelPicker)
    await until(pilot, lambda: picker.note.startswith("could not list models"))
    assert normalised(picker.note) == f"could not list models: {f.message}"
    assert picker.note[:40] in screen_text(pilot.app)
    await pilot.press("escape")
    f.clear(rig)
    await pilot.press("ctrl+t")
    picker = pilot.app.screen
    await until(pilot, lambda: picker.loaded)
    assert MODEL in picker.items
    await pilot.press("escape")


async def meet_in_the_quota_pane(pilot, f: Fault, rig: Rig) -> None:
    """F4: the quota pane says the line where the balance goes; after the fault, ctrl+r reads it."""
    await pilot.press("f4")
    pane = pilot.app.query_one(QuotaPane)
    await until(pilot, lambda: pane.problem is not None)
    assert normalised(pane.problem) == f.message and pane.reading is None
    await until(pilot, lambda: pane.problem[:40] in screen_text(pilot.app))  # where the balance goes
    f.clear(rig)
    await until(pilot, lambda: pane.has_focus)  # ctrl+r is the chat's Regenerate elsewhere
    await pilot.press("ctrl+r")
    await until(pilot, lambda: pane.reading is not None and pane.problem is None)
    assert "granted" in screen_text(pilot.app)
    await pilot.press("f2")


@pytest.mark.parametrize("f", PARAMS)
async def test_tui(f: Fault, rig: Rig):
    rig.configure(f)
    if f.command == "quota":  # the pane reads the balance as the app starts
        f.setup(rig)
    app = make_app(AppOptions(profile="work"))
    app.set_reactive(type(app).model, f.model)
    async with app.run_test(size=SIZE) as pilot:
        f.setup(rig)
        prompt = app.query_one(ChatPane).query_one(PromptArea)
        await until(pilot, lambda: prompt.has_focus)  # started: the chat takes the focus once, at start
        if f.command == "models":
            await meet_in_the_picker(pilot, f, rig)
        elif f.command == "quota":
            await meet_in_the_quota_pane(pilot, f, rig)
        else:
            pane = await send(pilot, PROMPT)
            block = pane.query(AnswerBlock).last()
            status, shown = block.status_text, block.text
            assert "\n" not in status
            if f.message is None:
                assert re.match(f.footer, status) and not block.has_class("-error"), status
            else:
                assert normalised(status) == f"✗ {f.message}" and block.has_class("-error")
                assert status[:40] in screen_text(app)  # the line starts on screen (it may wrap)
            check("the screen", screen_text(app))
            f.clear(rig)
        app.model = MODEL
        pane = await send(pilot, PROMPT)
        assert pane.query(AnswerBlock).last().status_text.startswith(f"{MODEL} · TTFT ")
        conv_id = pane.conversation.id
    tokens = answer_tokens(rig.relay)
    with History() as history:
        rows = history.messages(conv_id)
        readings = history.quota_readings("work", limit=10)
    if f.command != "chat":
        assert [m.role for m in rows] == ["user", "assistant"] and rows[1].content == "".join(tokens)
        assert (len(readings) > 0) == (f.command == "quota")  # the read after the fault, and refreshes
        return
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
