"""`relay-tui bench` when requests fail: the figures still, why they failed on stderr, exit 1."""

from __future__ import annotations

import json
import socket

from relay_tui.cli import main
from tests.conftest import TEST_KEY


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_request_refused_says_why_and_exits_1(capsys, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, out, err = run(capsys, "--base-url", f"http://127.0.0.1:{dead_port()}/v1", "bench",
                         "-m", "gpt-4.1", "-n", "3", "-c", "1")
    assert code == 1
    assert "gpt-4.1" in out and "100.0" in out          # the table still shows the 100 % error rate
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("relay-tui: gpt-4.1: 3 of 3 requests failed (connection)")
    assert "connection refused" in lines[0]


def test_a_wrong_key_with_json_prints_the_json_and_the_reason(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", "sk-wrong-0000000000000000")
    code, out, err = run(capsys, "--base-url", demo_relay.base_url, "bench", "-m", "gpt-4.1",
                         "-n", "2", "-c", "2", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["models"][0]["errors"] == 2 and data["models"][0]["error_kinds"] == {"auth": 2}
    (line,) = err.strip().splitlines()
    assert line.startswith("relay-tui: gpt-4.1: 2 of 2 requests failed (auth), the first with: "
                           "the relay rejected the key") and "401" in line
    assert "sk-wrong-0000000000000000" not in err


def test_some_failures_of_two_kinds_one_line_each(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    demo_relay.set_fault("server_error", model="gpt-4.1", times=2)
    demo_relay.set_fault("truncate", model="gemini-2.5-flash", times=1)
    code, out, err = run(capsys, "--base-url", demo_relay.base_url, "bench",
                         "-m", "gpt-4.1,gemini-2.5-flash", "-n", "4", "-c", "1", "--json")
    assert code == 1
    by_model = {m["model"]: m for m in json.loads(out)["models"]}
    assert by_model["gpt-4.1"]["errors"] == 2 and by_model["gemini-2.5-flash"]["errors"] == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("relay-tui: gpt-4.1: 2 of 4 requests failed (server), the first with: "
                               "the relay failed (HTTP 500)")
    assert lines[1].startswith("relay-tui: gemini-2.5-flash: 1 of 4 requests failed (response), "
                               "the first with: the stream was cut off after 5 tokens")


def test_a_clean_bench_exits_0_and_says_nothing_on_stderr(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, out, err = run(capsys, "--base-url", demo_relay.base_url, "bench", "-m", "gpt-4.1",
                         "-n", "3", "-c", "3")
    assert code == 0 and err == "" and "gpt-4.1" in out
