"""`relay-tui chat` output when things go wrong midway: what a script and a reader are left with."""

from __future__ import annotations

import json

import pytest

from relay_tui.cli import main
from relay_tui.store.history import History
from tests.conftest import TEST_KEY


@pytest.fixture
def relay_env(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return ["--base-url", demo_relay.base_url]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def stored_answer():
    with History() as history:
        return history.messages(history.conversations()[0].id)[-1]


def test_json_keeps_the_partial_answer_of_a_cut_stream(capsys, relay_env, demo_relay):
    demo_relay.set_fault("truncate", after=5, times=1)
    code, out, err = run(capsys, *relay_env, "chat", "-m", "gpt-4.1", "--json", "Write a note")
    assert code == 1
    data = json.loads(out)
    answer = stored_answer()
    assert data["text"] and data["text"] == answer.content          # the 5 tokens that arrived
    assert data["error"].startswith("the stream was cut off after 5 tokens") and data["error"] == answer.error
    assert data["error_kind"] == "response" and data["request_id"].startswith("rt-")
    assert data["metrics"]["ttft"] is not None and "finish_reason" not in data
    (line,) = err.strip().splitlines()
    assert line == f"relay-tui: {data['error']}"


def test_json_of_a_request_that_failed_before_any_token(capsys, relay_env, demo_relay):
    demo_relay.set_fault("auth", times=1)
    code, out, err = run(capsys, *relay_env, "chat", "-m", "gpt-4.1", "--json", "hi")
    assert code == 1
    data = json.loads(out)
    assert data["text"] == "" and data["error_kind"] == "auth" and "HTTP 401" in data["error"]
    assert err.strip() == f"relay-tui: {data['error']}"


def test_json_of_a_clean_answer_has_no_error(capsys, relay_env):
    code, out, _ = run(capsys, *relay_env, "chat", "-m", "gpt-4.1", "--json", "hi")
    data = json.loads(out)
    assert code == 0 and data["text"] and "error" not in data and data["finish_reason"] == "stop"


@pytest.mark.parametrize("model, fault", [("deepseek-v3.2", None), ("gpt-4.1", "think_tags")])
def test_an_answer_cut_while_thinking_ends_the_reasoning_line(model, fault, capsys, relay_env, demo_relay):
    if fault:
        demo_relay.set_fault(fault)
    code, out, err = run(capsys, *relay_env, "chat", "-m", model, "--max-tokens", "8", "hi")
    assert code == 0 and out == ""                     # the 8 tokens were all reasoning
    reasoning, footer = err.rstrip("\n").split("\n")
    assert reasoning.strip() and not reasoning.endswith(model)
    assert footer.startswith(f"{model} · TTFT ") and "finish: length" in footer, err


def test_an_error_while_thinking_is_on_its_own_line(capsys, relay_env, demo_relay):
    demo_relay.set_fault("truncate", after=3, model="deepseek-v3.2")
    code, out, err = run(capsys, *relay_env, "chat", "-m", "deepseek-v3.2", "hi")
    assert code == 1 and out == ""
    reasoning, line = err.rstrip("\n").split("\n")
    assert reasoning.strip() and line.startswith("relay-tui: the stream was cut off after 3 tokens"), err


def test_reasoning_then_answer_keep_their_lines(capsys, relay_env):
    code, out, err = run(capsys, *relay_env, "chat", "-m", "deepseek-v3.2", "hi")
    assert code == 0 and out.strip()
    reasoning, footer = err.rstrip("\n").split("\n")
    assert reasoning.strip() and footer.startswith("deepseek-v3.2 · TTFT "), err
