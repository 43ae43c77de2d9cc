"""The command line as a user meets it: real demo relay on loopback, real history on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relay_tui.cli import main
from relay_tui.store.config import load_settings
from relay_tui.store.history import History
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def relay_env(demo_relay, monkeypatch):
    """The CLI pointed at the demo relay with --base-url and the test key in the environment."""
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return ["--base-url", demo_relay.base_url]


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert "Traceback" not in err
    return lines[0]


def test_help_is_fast_and_loads_no_textual():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "relay_tui", "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert proc.returncode == 0
    assert "chat" in proc.stdout and "compare" in proc.stdout and "--demo" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("textual", "httpx", "rich", "keyring")}


def test_models_json(capsys, relay_env):
    code, out, _ = run_cli(capsys, *relay_env, "models", "--json")
    assert code == 0
    ids = {m["id"] for m in json.loads(out)}
    assert {"gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2", "auto"} <= ids


def test_chat_streams_answer_and_records_it(capsys, relay_env):
    code, out, err = run_cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "Write a short note")
    assert code == 0
    assert len(out.strip()) > 40
    footer = err.strip().splitlines()[-1]
    assert footer.startswith("gpt-4.1") and "TTFT" in footer and "tok/s" in footer and "$" in footer
    history = History()
    conv = history.conversations()[0]
    rows = history.messages(conv.id)
    assert [r.role for r in rows] == ["user", "assistant"]
    assert rows[1].state == "done" and rows[1].content.strip() == out.strip()
    requests = history.requests()
    assert len(requests) == 1 and requests[0].kind == "chat" and requests[0].ttft is not None
    history.close()


def test_chat_json_has_metrics_and_cost(capsys, relay_env):
    code, out, _ = run_cli(capsys, *relay_env, "chat", "-m", "deepseek-v3.2", "--json", "Think first")
    assert code == 0
    data = json.loads(out)
    assert data["text"] and data["reasoning"], "deepseek streams reasoning apart from the answer"
    assert data["metrics"]["output_tokens"] > 0 and data["finish_reason"] == "stop"
    assert data["cost_usd"] > 0 and data["request_id"].startswith("rt-")


def test_chat_reads_prompt_from_stdin(relay_env, demo_relay):
    env = {**os.environ, "RELAY_TUI_API_KEY": TEST_KEY}
    proc = subprocess.run([sys.executable, "-m", "relay_tui", *relay_env, "chat", "-m", "gpt-4.1"],
                          input="hello from a pipe", capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_bad_key_is_one_line_exit_1(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", "sk-wrong-key-123456789")
    code, out, err = run_cli(capsys, "--base-url", demo_relay.base_url, "chat", "-m", "gpt-4.1", "hi")
    assert code == 1 and out == ""
    line = one_line(err)
    assert "key" in line.lower() and "401" in line
    assert "sk-wrong-key-123456789" not in err


def test_unknown_model_suggests(capsys, relay_env):
    code, _, err = run_cli(capsys, *relay_env, "chat", "-m", "gpt-4.2", "hi")
    assert code == 1
    assert "did you mean" in one_line(err) and "gpt-4.1" in err


def test_refused_connection(capsys, monkeypatch):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, _, err = run_cli(capsys, "--base-url", f"http://127.0.0.1:{port}/v1", "models")
    assert code == 1
    assert "refused" in one_line(err)


def test_compare_json_keeps_going_when_one_column_fails(capsys, relay_env, demo_relay):
    demo_relay.set_fault("server_error", model="claude-sonnet-4.5")
    code, out, _ = run_cli(capsys, *relay_env, "compare", "-m", "gpt-4.1,claude-sonnet-4.5,gemini-2.5-flash",
                           "--json", "Compare us")
    assert code == 1  # one column failed
    data = json.loads(out)
    by_model = {c["model"]: c for c in data["columns"]}
    assert by_model["gpt-4.1"]["text"] and by_model["gemini-2.5-flash"]["text"]
    assert by_model["claude-sonnet-4.5"]["error_kind"] == "server"
    assert "fastest first token" in data["summary"]
    history = History()
    assert len(history.requests()) == 3
    history.close()


def test_compare_batch_from_prompt_file(capsys, relay_env, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('first prompt\n{"prompt": "second prompt"}\n\n', encoding="utf-8")
    code, out, _ = run_cli(capsys, *relay_env, "compare", "-m", "gpt-4.1,gemini-2.5-flash",
                           "--prompts", str(prompts), "--json")
    assert code == 0
    data = json.loads(out)
    assert [d["prompt"] for d in data] == ["first prompt", "second prompt"]
    assert all(len(d["columns"]) == 2 for d in data)


def test_quota_matches_the_relay_books(capsys, relay_env, demo_relay):
    assert run_cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "spend a little")[0] == 0
    code, out, _ = run_cli(capsys, *relay_env, "quota", "--json")
    assert code == 0
    data = json.loads(out)
    books = demo_relay.books()
    assert data["remaining"] == pytest.approx(books["remaining_usd"], abs=0.005)
    assert data["used"] == pytest.approx(books["used_usd"], abs=0.005) and data["used"] > 0


def test_bench_json(capsys, relay_env):
    code, out, _ = run_cli(capsys, *relay_env, "bench", "-m", "gpt-4.1,gemini-2.5-flash",
                           "-n", "10", "-c", "5", "--json")
    assert code == 0
    data = json.loads(out)
    models = {m["model"]: m for m in data["models"]}
    assert models["gpt-4.1"]["requests"] == 10 and models["gpt-4.1"]["errors"] == 0
    assert models["gpt-4.1"]["ttft_p50"] <= models["gpt-4.1"]["ttft_p99"]
    history = History()
    assert len(history.requests()) == 20
    history.close()


def test_profiles_and_keys_round_trip(capsys, demo_relay, monkeypatch):
    code, out, _ = run_cli(capsys, "profiles", "add", "work", "--base-url", demo_relay.base_url,
                           "--model", "gpt-4.1")
    assert code == 0 and "keys set work" in out
    monkeypatch.setattr("sys.stdin", _FakeStdin(TEST_KEY + "\n"))
    code, out, _ = run_cli(capsys, "keys", "set", "work")
    assert code == 0 and TEST_KEY not in out
    code, out, _ = run_cli(capsys, "keys", "list")
    assert "work" in out and "sk-…" in out and TEST_KEY not in out and TEST_KEY[-4:] in out
    code, out, err = run_cli(capsys, "chat", "hello")  # active profile, default model, key from keyring
    assert code == 0 and out.strip(), err
    code, out, _ = run_cli(capsys, "profiles", "list", "--json")
    assert json.loads(out)[0] == {"name": "work", "base_url": demo_relay.base_url,
                                  "default_model": "gpt-4.1", "quota_dialect": "auto", "active": True}
    assert run_cli(capsys, "keys", "delete", "work")[0] == 0
    code, _, err = run_cli(capsys, "chat", "hello")
    assert code == 2 and "keys set work" in one_line(err)


def test_no_profile_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "chat", "-m", "gpt-4.1", "hi")
    assert code == 2 and "--demo" in one_line(err)


def test_demo_end_to_end_subprocess():
    proc = subprocess.run([sys.executable, "-m", "relay_tui", "--demo", "chat", "-m", "gemini-2.5-flash",
                           "--max-tokens", "40", "Say hi"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert "gemini-2.5-flash" in proc.stderr and "TTFT" in proc.stderr


class _FakeStdin:
    def __init__(self, text: str):
        self.text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        return self.text

    def read(self) -> str:
        return self.text


def test_standalone_demo_relay_with_a_faults_file(tmp_path, capsys, monkeypatch):
    faults = tmp_path / "faults.toml"
    faults.write_text('[[fault]]\nname = "server_error"\nmodel = "claude-sonnet-4.5"\n', encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "relay_tui", "demo-relay", "--port", "0",
                             "--time-scale", "0", "--faults", str(faults)],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        banner = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in banner, banner
        base_url = banner.split("listening on ")[1].split()[0]
        key = banner.split("key: ")[1].split(")")[0]
        monkeypatch.setenv("RELAY_TUI_API_KEY", key)
        code, out, _ = run_cli(capsys, "--base-url", base_url, "chat", "-m", "gpt-4.1", "hi")
        assert code == 0 and out.strip()
        code, _, err = run_cli(capsys, "--base-url", base_url, "chat", "-m", "claude-sonnet-4.5", "hi")
        *retries, final = err.strip().splitlines()
        assert code == 1 and "HTTP 500" in final and "gave up after" in final
        assert retries and all("retrying in" in line for line in retries)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_quota_on_a_relay_without_quota_endpoints(capsys, monkeypatch):
    from relay_tui.demo import DemoRelay

    relay = DemoRelay(time_scale=0, accept_keys=(TEST_KEY,), quota_dialects=())
    relay.start()
    try:
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        code, _, err = run_cli(capsys, "--base-url", relay.base_url, "quota")
        assert code == 1 and "does not report quota" in one_line(err)
    finally:
        relay.stop()


def test_profiles_add_never_overwrites_silently_and_edit_changes_only_what_is_given(capsys):
    url = "https://relay.example.com/v1"
    assert run_cli(capsys, "profiles", "add", "work", "--base-url", url, "--model", "gpt-4.1",
                   "--header", "X-Title=relay-tui")[0] == 0
    code, out, err = run_cli(capsys, "profiles", "add", "work", "--base-url", "https://other.example.com/v1")
    assert code == 2 and out == ""
    assert err.strip() == ("relay-tui: profile work already exists (https://relay.example.com/v1, model "
                           "gpt-4.1): change some of its settings with `relay-tui profiles edit work "
                           "--model …`, or replace it whole with --force")
    work = load_settings().profiles["work"]
    assert (work.base_url, work.default_model, work.headers) == (url, "gpt-4.1", {"X-Title": "relay-tui"})

    code, out, _ = run_cli(capsys, "profiles", "edit", "work", "--model", "claude-sonnet-4.5")
    assert code == 0 and out.strip() == "profile work updated: --model claude-sonnet-4.5"
    work = load_settings().profiles["work"]
    assert (work.base_url, work.default_model, work.headers) == (url, "claude-sonnet-4.5",
                                                                 {"X-Title": "relay-tui"})
    code, _, err = run_cli(capsys, "profiles", "edit", "work")
    assert code == 2 and "needs a setting to change" in err

    code, out, _ = run_cli(capsys, "profiles", "add", "work", "--base-url", "https://other.example.com/v1",
                           "--force")
    assert code == 0 and out.startswith("profile work replaced and made active;")
    work = load_settings().profiles["work"]
    assert (work.base_url, work.default_model, work.headers) == ("https://other.example.com/v1", None, {})


def test_the_active_profile_is_always_the_one_marked(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    for name in ("work", "home", "lab"):
        run_cli(capsys, "profiles", "add", name, "--base-url", demo_relay.base_url, "--model", "gpt-4.1")
    code, out, _ = run_cli(capsys, "profiles", "remove", "work")  # the active one, of three
    assert "no profile is active now: choose one with `relay-tui profiles use NAME` (home, lab)" in out
    out = run_cli(capsys, "profiles", "list")[1]
    assert not any(line.startswith("*") for line in out.splitlines()) and "no profile is active" in out
    code, _, err = run_cli(capsys, "chat", "hi")
    assert code == 2 and "no active profile: choose one with `relay-tui profiles use NAME`" in err
    code, out, _ = run_cli(capsys, "profiles", "remove", "lab")
    assert "the active profile is home" in out
    assert run_cli(capsys, "profiles", "list")[1].startswith("* home ")
    code, out, err = run_cli(capsys, "chat", "hi")
    assert code == 0 and out.strip(), err


def test_demo_quota_persists_between_commands_and_shows_one_precision(capsys, isolated_home):
    """Each `relay-tui --demo` command is a new demo relay; its balance carries over (it was $25
    again every time), and a small spend shows ("0.0000 USD" hid it)."""
    env = {**os.environ, "RELAY_TUI_HOME": str(isolated_home)}
    proc = subprocess.run([sys.executable, "-m", "relay_tui", "--demo", "chat", "-m", "gpt-4.1", "hi"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    code, out, _ = run_cli(capsys, "--demo", "quota")
    rows = dict(line.split(None, 1) for line in out.splitlines())
    amounts = [rows[k] for k in ("granted", "used", "remaining")]
    assert code == 0 and all(a.startswith("$") for a in amounts), out
    assert len({len(a.split(".")[1]) for a in amounts}) == 1, amounts  # one precision
    assert float(rows["used"][1:]) > 0 and float(rows["remaining"][1:].replace(",", "")) < 25
