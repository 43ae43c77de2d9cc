"""The real TUI in a pseudo-terminal: a `kill -9` mid-answer loses nothing, two app processes share
one history safely, and nothing the model sends reaches the terminal as a control sequence."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time

from relay_tui.demo import DemoRelay, answers
from relay_tui.demo.catalog import MODELS
from relay_tui.demo.chat import HOSTILE
from relay_tui.store.config import save_profile
from relay_tui.store.history import History
from relay_tui.store.paths import exports_dir, history_path
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY
from tests.support.pty_app import ROOT, PtyApp, ScreenFeed, tokens
from tests.support.quota_server import QuotaServer

PLACEHOLDER = "Ask anything"


def tui(relay, home) -> PtyApp:
    """The TUI on a profile for `relay` whose default model is gpt-4.1 (its key from the env)."""
    save_profile(Profile(name="pty", base_url=relay.base_url, default_model="gpt-4.1"),
                 make_active=True)
    return PtyApp([], {"RELAY_TUI_API_KEY": TEST_KEY, "RELAY_TUI_HOME": str(home)})


def type_prompt(app: PtyApp, text: str, placeholder: str = PLACEHOLDER, timeout: float = 20) -> None:
    """Type into the prompt box that has the focus. Keys sent before the app has focused it are
    dropped, so a space (prompts are stripped) is sent until the box shows it: its placeholder
    disappears. A space delivered late only adds another space."""
    app.wait_for(placeholder, timeout, "the prompt box")
    deadline = time.monotonic() + timeout
    while True:
        app.send(" ")
        try:
            app.wait_for(lambda s: placeholder not in s, 1.0, "a key in the prompt box")
            break
        except AssertionError:
            assert time.monotonic() < deadline, "the prompt box never took a key"
    app.type(text)
    app.wait_for(text, timeout, f"{text!r} in the prompt box")


def click(row: int, col: int) -> str:
    """A left click at a 0-based screen cell (SGR mouse reporting, which Textual turns on)."""
    return f"\x1b[<0;{col + 1};{row + 1}M\x1b[<0;{col + 1};{row + 1}m"


def press_until(app: PtyApp, key: str, condition, what: str, timeout: float = 20) -> str:
    """Send `key` (idempotent: a click, a pane key) until `condition` holds on the screen: keys
    sent before the app listens are dropped. Returns the screen."""
    deadline = time.monotonic() + timeout
    while True:
        app.send(key)
        try:
            return app.wait_for(condition, 1.5, what)
        except AssertionError:
            if app.proc.poll() is not None or time.monotonic() > deadline:
                raise


def stored_answer() -> tuple[str, str] | None:
    """(state, content) of the newest assistant message, read as another process would."""
    try:
        db = sqlite3.connect(f"file:{history_path()}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT state, content FROM messages WHERE role = 'assistant' "
                              "ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:  # the app has not created it yet
        return None


# -- crash safety -------------------------------------------------------------------------------

PROMPT = "Tell me a long story"


def test_kill_9_of_the_tui_mid_answer_keeps_the_partial_answer(isolated_home):
    # 20 tokens/s and 400 tokens: the answer is still streaming when the process is killed.
    slow = {model: {"ttft": 0.05, "tps": 20, "answer_tokens": 400} for model in MODELS}
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides=slow)
    relay.start()
    try:
        with tui(relay, isolated_home) as app:
            type_prompt(app, PROMPT)
            app.send("enter")
            deadline = time.monotonic() + 20
            while not ((row := stored_answer()) and row[0] == "streaming" and len(row[1]) > 80):
                assert time.monotonic() < deadline and app.proc.poll() is None, f"no partial answer: {row}"
                time.sleep(0.05)
            saved = row[1]
            opening = " ".join(saved.split("\n\n")[1].split()[:4])  # below the "## title" line
            app.wait_for(opening, 10, "the answer streaming on screen")
            app.kill()
            assert app.proc.returncode == -9

        with tui(relay, isolated_home) as app:  # the same home: the history the killed app wrote
            app.wait_for(PLACEHOLDER, 20, "the restarted app")
            history = History()
            conv = history.conversations()[0]
            user, answer = history.messages(conv.id)
            history.close()
            assert (conv.title, user.content) == (PROMPT, PROMPT)
            assert answer.state == "interrupted" and answer.content.startswith(saved)
            whole = "".join(answers.answer_tokens(relay.settings.seed, conv.model, PROMPT, 400))
            assert whole.startswith(answer.content) and len(answer.content) < len(whole)

            # The sidebar lists it; a click opens it (clicks before the app listens are lost: repeat).
            listed = app.wait_for(lambda s: any(r.startswith(PROMPT) for r in s.splitlines()), 10,
                                  "the conversation in the sidebar")
            at = next(i for i, row in enumerate(listed.splitlines()) if row.startswith(PROMPT))
            press_until(app, click(at, 2), lambda s: "■ interrupted (partial answer kept)" in s
                        and opening in s, "the reopened conversation with its partial answer")
    finally:
        relay.stop()


# Two app processes (CLI batch comparisons: each writes comparisons, answers and request logs as
# it goes) writing one history at once. tests/test_store_history.py does the same with History
# objects; this is the app's own write path, with its own connections and pragmas.
def test_two_app_processes_writing_one_history_lose_nothing(demo_relay, isolated_home, tmp_path):
    prompts = tmp_path / "prompts.txt"
    n = 25
    prompts.write_text("".join(f"question {i}\n" for i in range(n)))
    env = {**os.environ, "RELAY_TUI_API_KEY": TEST_KEY, "RELAY_TUI_HOME": str(isolated_home)}
    command = [sys.executable, "-m", "relay_tui", "--base-url", demo_relay.base_url, "compare",
               "-m", "gpt-4.1,gemini-2.5-flash", "--prompts", str(prompts), "--json"]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err.decode()[-500:] for _, err in results]
    printed = [json.loads(out) for out, _ in results]
    assert [len(batch) for batch in printed] == [n, n]

    db = sqlite3.connect(history_path())
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = dict(db.execute("SELECT comparison_id || '/' || col, content FROM comparison_answers"))
    assert db.execute("SELECT count(*) FROM comparisons").fetchone()[0] == 2 * n
    assert db.execute("SELECT count(*) FROM requests WHERE kind = 'compare'").fetchone()[0] == 2 * n * 2
    db.close()
    printed_answers = {f"{r['comparison_id']}/{col}": c["text"]
                       for batch in printed for r in batch for col, c in enumerate(r["columns"])}
    assert stored == printed_answers  # every answer either process printed, under its own id


# -- hostile model output -----------------------------------------------------------------------

# What the model's sequences would look like if they reached the terminal. The app's own output is
# CSI (cursor, colours, modes); the payloads below are the model's, so any escape sequence holding
# one came from the model, as does any C0/C1 control or bidi override outside a sequence.
PAYLOADS = ("pwned", "evil.example", "cm0gLXJmIH4=")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def model_sequences(output: str) -> list[str]:
    """The pieces of terminal output that carry the model's control sequences (empty = safe)."""
    found = []
    for kind, piece in tokens(output):
        if kind == "text":
            found += [f"control {c!r} in text" for c in set(_CONTROLS.findall(piece))]
        elif kind == "csi" and piece[-1] == "J":
            found.append(f"screen clear {piece!r}")  # Textual redraws with cursor moves, never clears
        elif kind != "csi" and (any(p in piece for p in PAYLOADS)
                                or piece.startswith(("\x1b]52;", "\x1b]8;"))):  # clipboard, link
            found.append(f"{kind} {piece!r}")
    return found


def test_the_check_finds_every_hostile_sequence_passed_through():
    raw = "".join(HOSTILE)
    found = model_sequences("\x1b[1;1H\x1b[38;5;153mhello " + raw)
    # Rich drops BEL and BS from text: an OSC left without its terminator still counts
    assert model_sequences("\x1b[1;1Hhi\x1b]0;pwned abc\x1b[0m") == ["osc '\\x1b]0;pwned abc'"]
    for expected in ("screen clear", "osc '\\x1b]0;pwned", "osc '\\x1b]8;;https://evil",
                     "osc '\\x1b]52;c;", "'\\x07' in text", "'\\x08' in text", "'\\x9b' in text",
                     "'\\u202e' in text"):
        assert any(expected in f for f in found), (expected, found)
    assert model_sequences("\x1b[1;1H\x1b[38;5;153mhello \x1b[?2026h␛[2J ␇ <U+202E>\r\n") == []


def test_the_screen_is_the_same_wherever_a_read_cuts_the_output():
    """Output arrives in reads cut anywhere, even inside an escape sequence or a character: a
    CSI cut after its "[" was once drawn as text ("38;5;16m" on the screen)."""
    frame = ("\x1b[?2026h\x1b[1;1H\x1b[38;5;153;48;5;16mChat\x1b[0m \x1b[2;3H\x1b[1m│ é ✓ 表\x1b[0m"
             "\x1b]0;title\x07\x1b[3;1H\x1b(Bplain\x1b[4;2H\x1b[38;2;10;20;30mend\x1b[?2026l")
    raw = frame.encode()
    whole = ScreenFeed(20, 5)
    whole.feed(raw)
    assert whole.screen.text().splitlines()[:4] == ["Chat", "  │ é ✓ 表", "plain", " end"]
    for cut in range(1, len(raw)):
        feed = ScreenFeed(20, 5)
        feed.feed(raw, cut)
        feed.feed(raw)
        assert feed.screen.text() == whole.screen.text(), (cut, raw[:cut])


def transcript(screen: str) -> str:
    """The chat transcript's rows (right of the sidebar) joined, so a run of visible controls that
    wraps onto the next row still reads as one."""
    return "".join(row.split("│", 1)[-1].strip() for row in screen.splitlines())


def test_hostile_answers_never_reach_the_terminal(demo_relay, isolated_home):
    demo_relay.set_fault("hostile_output")
    with tui(demo_relay, isolated_home) as app:
        type_prompt(app, "hello")
        app.send("enter")
        # until the answer is on screen, or the model's sequences reached the terminal
        # (the model's text is kept, every control made visible)
        kept = ("␛[2J␛[H␛]0;pwned␇", "␛]8;;https://evil.example/␛\\click", "␇␇",
                "abc␈␈␈ <U+009B>2J <U+202E>gnp.exe", "TTFT")
        app.wait_for(lambda s: all(k in transcript(s) for k in kept) or bool(model_sequences(app.output())),
                     20, "the neutralised answer")
        assert model_sequences(app.output()) == []

        app.send("f9")  # export the conversation (Markdown and JSON)
        app.wait_for("Exported", 10, "the export notice")

        app.send("f3")  # the compare pane: every column streams the same hostile answer
        type_prompt(app, "compare this", "ask every model at once")
        app.send("enter")
        # the summary (worded for the width: lengths as "793 ch" or "793 chars"), columns neutralised
        app.wait_for(lambda s: re.search(r"\b\d+ ch(ars)?\b", s) and s.count("<U+202E>gnp.exe") >= 2,
                     20, "the comparison's summary and neutralised columns")
        output = app.output()
    assert model_sequences(output) == []

    for path in sorted(exports_dir().iterdir()):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            text = "\n".join(m["content"] for m in json.loads(text)["messages"])
        assert not _CONTROLS.search(text), path.name  # ESC included
        for visible in ("␛]52;c;cm0gLXJmIH4=␇", "<U+202E>gnp.exe", "␈␈␈"):
            assert visible in text, path.name


def test_hostile_model_ids_never_reach_the_terminal(isolated_home):
    # A relay's model list is untrusted too: escapes and Textual markup in ids stay plain text.
    ids = ["gpt-4.1", "evil\x1b]0;pwned\x07\x1b[2J", "[link='https://evil.example/']click[/link]"]
    routes = {"/v1/models": (200, {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})}
    with QuotaServer(routes) as server, PtyApp(
            ["--base-url", server.url + "/v1"],
            {"RELAY_TUI_API_KEY": TEST_KEY, "RELAY_TUI_HOME": str(isolated_home)}) as app:
        app.wait_for(PLACEHOLDER, 20, "the app")
        press_until(app, "ctrl+t", lambda s: "3 models" in s and "evil␛]0;pwned␇␛[2J" in s
                    and "[link='https://evil.example/']click[/link]" in s, "the model picker")
        assert model_sequences(app.output()) == []


def test_hostile_relay_errors_are_plain_text(isolated_home):
    # Relay error messages reach notifications and notes: markup in them is neither run nor fatal.
    said = "[/v1] [link='https://evil.example/']click[/link] \x1b]0;pwned\x07"
    routes = {"/v1/models": (500, {"error": {"message": said, "type": "server_error"}})}
    with QuotaServer(routes) as server, PtyApp(
            ["--base-url", server.url + "/v1"],
            {"RELAY_TUI_API_KEY": TEST_KEY, "RELAY_TUI_HOME": str(isolated_home)}) as app:
        app.wait_for(PLACEHOLDER, 20, "the app")
        link = "[link='https://evil.example/']click[/link]"  # shown as it is, on one line
        press_until(app, "f3", lambda s: "Cannot list models" in s and link in s, "the compare pane's error")
        app.send("ctrl+t")  # the model picker says why it has no models
        app.wait_for(lambda s: "could not list models" in s and link in s, 20, "the model picker's note")
        assert model_sequences(app.output()) == []


def test_hostile_quota_units_and_numbers_never_reach_the_terminal(isolated_home, capsys, monkeypatch):
    """The quota `unit` is the relay's text on the balance's every line: each piece of the corpus
    as the unit, one refresh (ctrl+r) each, beside numbers a relay can send (10**14 as a string,
    negative). Every byte the F4 pane wrote is checked, and `relay-tui quota`'s output."""
    from relay_tui.cli import main
    from relay_tui.core.sanitize import neutralise_id
    from tests.support.hostile import CORPUS, check
    from tests.support.hostile_relay import HostileRelay, Reply

    def quota(unit: str) -> Reply:
        return Reply(200, {"used": "123456789012345.5", "remaining": -42.125, "unit": unit})

    env = {"RELAY_TUI_API_KEY": TEST_KEY, "RELAY_TUI_HOME": str(isolated_home)}
    with HostileRelay({"GET /v1/quota": quota("USD")}) as relay:
        save_profile(Profile(name="pty", base_url=relay.base_url, default_model="m",
                             quota_dialect="simple"), make_active=True)
        with PtyApp([], env) as app:
            app.wait_for(PLACEHOLDER, 20, "the app")
            press_until(app, "\x1bOS", "Quota · pty", "the quota pane")  # F4
            for name, unit in CORPUS.items():
                relay.routes["GET /v1/quota"] = quota(unit)
                shown = f"used       123,456,789,012,345.50 {neutralise_id(unit.strip()[:24])}"[:60]
                press_until(app, "\x12", lambda s, shown=shown: shown in s.replace("\n", ""),
                            f"the unit {name}")  # ctrl+r
            output = app.output()
        assert model_sequences(output) == []
        for kind, piece in tokens(output):
            if kind == "text":
                check("text the quota pane wrote", piece.replace("\r", ""))
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        for unit in CORPUS.values():
            relay.routes["GET /v1/quota"] = quota(unit)
            assert main(["quota"]) == 0
            out, err = capsys.readouterr()
            check("relay-tui quota", out + err)
            assert "remaining  -42.1" in out
