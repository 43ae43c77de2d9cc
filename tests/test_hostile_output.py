"""One boundary for untrusted text: a hostile relay puts the corpus (tests/support/hostile.py) in
every string it controls (model ids, answers, reasoning, served model, finish reason, request-id
headers, error bodies, quota fields), and every output path is checked byte for byte: each CLI
command's stdout and stderr (plain and --json, run as real processes), the exports, the history
rows shown later, and the TUI's screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from relay_tui.core.export import export_comparison, export_conversation
from relay_tui.store.history import History
from relay_tui.store.paths import config_path
from tests.conftest import TEST_KEY
from tests.support.hostile import CORPUS, HOSTILE, MARKUP, check, check_stored
from tests.support.hostile_relay import HostileRelay, Reply, chunk, sse
from tests.support.pty_app import ROOT

GOOD, BAD = "good-model", "bad-model"


def hostile_routes() -> dict[str, Reply]:
    ids = [GOOD, *CORPUS.values(), 42, ["list"], {"id": "nested"}]
    stream = sse({**chunk(None, reasoning_content=HOSTILE), "model": HOSTILE},
                 *({**chunk(text), "model": HOSTILE} for text in CORPUS.values()),
                 {"choices": [{"index": 0, "delta": {}, "finish_reason": HOSTILE[:80]}], "model": HOSTILE})
    return {
        "GET /v1/models": Reply(200, {"object": "list", "data": [{"id": i, "owned_by": HOSTILE} for i in ids]}),
        "POST /v1/chat/completions": Reply(200, stream, content_type="text/event-stream", headers=[
            (b"x-request-id", b"\x9b2J\xe2\x80\xae\xe2\x80\x8bid")]),
        "GET /v1/quota": Reply(200, {"used": 1.5, "remaining": 2, "unit": HOSTILE}),
    }


@pytest.fixture
def relay(monkeypatch, isolated_home):
    with HostileRelay(hostile_routes()) as server:
        config_path().write_text(
            f'active_profile = "h"\n[profiles.h]\nbase_url = "{server.base_url}"\n'
            f'default_model = "{GOOD}"\nquota_dialect = "simple"\nmax_retries = 0\n', encoding="utf-8")
        yield server


def cli(home, *argv: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    env = {**os.environ, "RELAY_TUI_HOME": str(home), "RELAY_TUI_API_KEY": TEST_KEY}
    done = subprocess.run([sys.executable, "-m", "relay_tui", *argv], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


COMMANDS = [
    ["models"], ["models", "--json"],
    ["chat", "hello"], ["chat", "--json", "hello"],
    ["chat", "-m", CORPUS["csi7"] + MARKUP, "hello"],
    ["compare", "-m", f"{GOOD},{GOOD}", "hello"], ["compare", "--json", "-m", f"{GOOD},{GOOD}", "hello"],
    ["quota"], ["quota", "--json"],
    ["bench", "-m", MARKUP + CORPUS["osc-title"], "-n", "2"],
    ["bench", "--json", "-m", GOOD, "-n", "2"],
    ["profiles", "list"], ["keys", "list"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv)[:30])
def test_every_cli_output_is_inert(relay, isolated_home, argv):
    code, out, err = cli(isolated_home, *argv)
    check(f"{argv} stdout", out)
    check(f"{argv} stderr", err)
    assert b"Traceback" not in err and code in (0, 1), err
    if argv == ["models"]:  # the ids are there, every control visible, markup as typed
        assert "␛[2J␛[H␛[31mred" in out.decode() and MARKUP in out.decode()
        assert "invoice<U+202E>gnp.exe" in out.decode() and b"\n42\n" not in out
    if "--json" in argv:
        data = json.loads(out)  # still valid JSON, the relay's text escaped, not lost
        assert data is not None
    if argv[0] == "chat" and "-m" not in argv:
        assert code == 0
        text = json.loads(out)["text"] if "--json" in argv else out.decode()
        assert ("gnp.exe" in text) and ("[link=https://evil.example/]click[/link]" in text)


def test_the_corpus_survives_json_exactly(relay, isolated_home):
    code, out, _ = cli(isolated_home, "chat", "--json", "hello")
    assert json.loads(out)["text"] == "".join(CORPUS.values())  # escaped on the wire, exact when read


def test_history_and_exports_are_inert(relay, isolated_home, tmp_path):
    for argv in (["chat", "hello"], ["compare", "-m", f"{GOOD},{GOOD}", "hello"],
                 ["chat", "-m", BAD, "hello"], ["quota"]):
        cli(isolated_home, *argv)
    with History() as history:
        check_stored(history)
        comparisons = history.comparisons()
        folder = tmp_path / "exports"
        paths = [export_conversation(history, c.id, fmt, directory=folder)
                 for c in history.conversations() for fmt in ("md", "json")]
        paths += [export_comparison(history, c.id, fmt, directory=folder)
                  for c in comparisons for fmt in ("md", "json", "csv")]
    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o600, path
        data = path.read_bytes()
        check(path.name, data)
        if path.suffix == ".json":
            for value in _strings(json.loads(data)):
                check(f"{path.name} (decoded)", value)


def _strings(data):
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)
