"""Every request ends: a hostile relay that keeps the connection busy without sending text (only
keep-alive comments, only empty deltas) or that trickles text forever is timed out, with one line,
and the answer row is finished as failed with that line (never left "streaming")."""

from __future__ import annotations

import time

import pytest

from relay_tui.store.history import History
from relay_tui.store.paths import config_path
from tests.conftest import TEST_KEY
from tests.support.hostile_relay import HostileRelay, Reply, chunk, sse
from tests.test_cli import run_cli

KEEPALIVE = b": keep-alive\n\n"


def profile(relay: HostileRelay, **timeouts: float) -> None:
    settings = {"connect_timeout": 2, "first_byte_timeout": 1, "idle_timeout": 0.5,
                "request_timeout": 30, "max_retries": 0, **timeouts}
    config_path().write_text(
        f'active_profile = "h"\n[profiles.h]\nbase_url = "{relay.base_url}"\ndefault_model = "m"\n'
        f'quota_dialect = "none"\nkey_env = "HOSTILE_KEY"\n'
        + "".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")


@pytest.fixture
def relay(monkeypatch):
    monkeypatch.setenv("HOSTILE_KEY", TEST_KEY)
    with HostileRelay() as server:
        yield server


def stream(relay: HostileRelay, pieces) -> None:
    relay.routes["POST /v1/chat/completions"] = Reply(200, pieces, content_type="text/event-stream")


def chat(capsys) -> tuple[int, str, str, float]:
    started = time.monotonic()
    code, out, err = run_cli(capsys, "chat", "hello")
    return code, out, err, time.monotonic() - started


def stored_answer():
    with History() as history:
        conv = history.conversations()[0]
        return history.messages(conv.id)[-1]


@pytest.mark.parametrize("filler", [KEEPALIVE, sse(chunk(), done=False)[0],
                                    sse({"choices": []}, done=False)[0]],
                         ids=["keep-alive comments", "empty deltas", "no choices"])
def test_only_fillers_from_the_start_end_at_the_first_byte_budget(relay, capsys, filler):
    profile(relay)
    stream(relay, [filler, 0.1] * 100)  # 10 s of bytes that carry no text
    code, out, err, took = chat(capsys)
    assert code == 1 and out == ""
    assert err.startswith("relay-tui: no answer from 127.0.0.1:") and err.count("\n") == 1
    assert "within 1 s, only keep-alives or empty chunks (first-byte timeout;" in err
    assert took < 4
    row = stored_answer()
    assert row.state == "error" and row.error == err.strip().removeprefix("relay-tui: ")


@pytest.mark.parametrize("filler", [KEEPALIVE, sse(chunk(), done=False)[0]],
                         ids=["keep-alive comments", "empty deltas"])
def test_fillers_after_text_do_not_reset_the_idle_clock(relay, capsys, filler):
    profile(relay)
    stream(relay, sse(chunk("one "), chunk("two "), chunk("three"), done=False) + [filler, 0.1] * 100)
    code, out, err, took = chat(capsys)
    assert code == 1 and out == "one two three\n"
    assert ("the relay sent no text for 0.5 s mid-answer after 3 tokens, only keep-alives or empty "
            "chunks (idle timeout;") in err
    assert took < 4
    row = stored_answer()
    assert row.state == "error" and row.content == "one two three"


def test_a_trickle_that_never_ends_meets_the_overall_deadline(relay, capsys):
    profile(relay, request_timeout=1.5)
    stream(relay, [piece for i in range(200) for piece in sse(chunk(f"{i} "), done=False) + [0.05]])
    code, out, err, took = chat(capsys)
    assert code == 1 and out.startswith("0 1 2 3")
    assert "the answer took longer than 1.5 s in all after" in err and "(request timeout;" in err
    assert took < 5
    row = stored_answer()
    assert row.state == "error" and "request timeout" in row.error and row.content == out.strip() + " "


@pytest.mark.parametrize("setting, value", [
    ("first_byte_timeout", "nan"), ("idle_timeout", "inf"), ("request_timeout", "1e300"),
    ("connect_timeout", "0"), ("request_timeout", "-1"), ("max_retries", "100000000000"),
])
def test_timeouts_and_retries_are_validated(relay, capsys, setting, value):
    profile(relay, **{setting: value})
    code, out, err = run_cli(capsys, "chat", "hello")
    assert code == 2 and out == ""
    assert f"config.toml:" in err and f"profiles.h.{setting}: must be" in err and err.count("\n") == 1
