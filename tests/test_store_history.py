"""history.db: migrations, answers that survive a kill, search, two processes, cascades."""

from __future__ import annotations

import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relay_tui.store.history import MIGRATIONS, History, HistoryError
from relay_tui.store.paths import history_path

ROOT = Path(__file__).resolve().parent.parent

# A process that starts an answer, saves part of it, says so, then waits to be killed.
STREAMER = """
import sys, time
from pathlib import Path
from relay_tui.store.history import History
h = History(Path(sys.argv[1]))
conv = h.new_conversation(title="killed mid-answer", profile="demo", model="gpt-4.1")
h.add_message(conv, "user", "tell me a story")
msg = h.begin_answer(conv, model="gpt-4.1", request_id="rt-1")
h.update_answer(msg, "Once upon a", "thinking")
print(msg, flush=True)
time.sleep(60)
"""


@pytest.fixture
def history():
    h = History()
    yield h
    h.close()


def start_streamer(path: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", STREAMER, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def test_the_history_files_are_private_to_their_owner():
    history = History()
    history.new_conversation(title="secret plans", profile="p", model="m")  # the -wal file exists now
    files = [history_path(), history_path().with_name(history_path().name + "-wal")]
    assert [f.stat().st_mode & 0o777 for f in files] == [0o600, 0o600]
    history.close()


def test_opening_twice_runs_each_migration_once(history):
    conv = history.new_conversation(title="kept", profile="demo", model="gpt-4.1")
    history.close()
    with History() as again:
        assert again.conversation(conv).title == "kept"
        assert again._db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused_with_one_line():
    with History():
        pass
    db = sqlite3.connect(history_path())
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(HistoryError, match="newer relay-tui"):
        History()


def test_a_partial_answer_is_visible_to_another_connection(history):
    conv = history.new_conversation(title="t", profile="demo", model="gpt-4.1")
    msg = history.begin_answer(conv, model="gpt-4.1", request_id="rt-abc")
    history.update_answer(msg, "Hello, wor", "hmm")
    with History() as other:
        row = other.messages(conv)[-1]
        assert (row.content, row.reasoning, row.state) == ("Hello, wor", "hmm", "streaming")
    history.finish_answer(msg, state="done", content="Hello, world", served_model="gpt-4.1-2025",
                          metrics={"ttft": 0.8}, cost_usd=0.001, cost_source="demo")
    row = history.messages(conv)[-1]
    assert (row.content, row.state, row.metrics, row.cost_source) == (
        "Hello, world", "done", {"ttft": 0.8}, "demo")


def test_a_killed_writers_answer_becomes_interrupted_and_a_live_one_stays(history):
    path = history_path()
    killed, killed_msg = start_streamer(path)
    alive, alive_msg = start_streamer(path)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert history.recover_interrupted() == 1
        states = {m.id: (m.state, m.content) for conv in history.conversations()
                  for m in history.messages(conv.id)}
        assert states[killed_msg] == ("interrupted", "Once upon a")
        assert states[alive_msg] == ("streaming", "Once upon a")
    finally:
        alive.kill()
        alive.wait()
    with History() as reopened:   # recovery also runs on open
        assert reopened.messages(reopened.conversations()[0].id)[-1].state == "interrupted"


def test_search_finds_titles_and_finished_answers(history):
    rust = history.new_conversation(title="Borrow checker woes", profile="p", model="m")
    history.add_message(rust, "user", "Why does the compiler reject this?")
    cake = history.new_conversation(title="Baking", profile="p", model="m")
    msg = history.begin_answer(cake, model="m", request_id="r")
    history.update_answer(msg, "Preheat the oven to 180 °C")
    assert [c.id for c in history.conversations(query="borrow")] == [rust]
    assert [c.id for c in history.conversations(query="compil")] == [rust]   # word prefix
    assert history.conversations(query="oven") == []                        # still streaming
    history.finish_answer(msg, state="done", content="Preheat the oven to 180 °C")
    assert [c.id for c in history.conversations(query="OVEN preheat")] == [cake]
    assert history.conversations(query='oven "borrow') == []                # every word must match
    assert history.conversations(query='"*:(') == []                         # no words, no error
    assert [c.id for c in history.conversations()] == [cake, rust]          # newest activity first
    history.rename_conversation(rust, "Lifetimes")
    assert [c.id for c in history.conversations(query="lifetimes")] == [rust]


def test_deleting_a_conversation_deletes_its_messages(history):
    conv = history.new_conversation(title="gone", profile="p", model="m")
    history.add_message(conv, "user", "ephemeral words")
    history.delete_conversation(conv)
    assert history.conversation(conv) is None
    assert history.messages(conv) == []
    assert history.conversations(query="ephemeral") == []
    assert history._db.execute("SELECT count(*) FROM messages_fts").fetchone()[0] == 0


def test_truncate_and_update_a_conversation(history):
    conv = history.new_conversation(title="t", profile="p", model="a", system_prompt="be brief",
                                    params={"temperature": 0.2})
    history.add_message(conv, "user", "one")
    second = history.add_message(conv, "user", "two")
    history.add_message(conv, "assistant", "answer")
    history.truncate_conversation(conv, from_message_id=second)
    assert [m.content for m in history.messages(conv)] == ["one"]
    history.update_conversation(conv, model="b", system_prompt="", params={"max_tokens": 5})
    row = history.conversation(conv)
    assert (row.model, row.system_prompt, row.params) == ("b", None, {"max_tokens": 5})


def test_requests_filter_and_come_oldest_first(history):
    for i, (profile, model) in enumerate([("a", "x"), ("a", "y"), ("b", "x"), ("a", "x")]):
        history.log_request(request_id=f"r{i}", profile=profile, model=model, kind="chat",
                            started_at=1000.0 + i, ttft=0.5 + i, output_tokens=10,
                            output_tokens_estimated=True)
    history.log_request(request_id="bad", profile="a", model="x", kind="chat", started_at=1010.0,
                        status=429, error_kind="rate_limit", error="slow down")
    rows = history.requests(profile="a", model="x")
    assert [r.request_id for r in rows] == ["r0", "r3", "bad"]
    assert rows[0].output_tokens_estimated is True and rows[0].ok and not rows[-1].ok
    assert [r.request_id for r in history.requests(limit=2)] == ["r3", "bad"]
    assert [r.request_id for r in history.requests(since=1002.0)] == ["r2", "r3", "bad"]


def test_comparisons_votes_and_win_rates(history):
    first = history.new_comparison(prompt="p", system_prompt=None, models=["a", "b"], blind=True,
                                   profile="demo")
    second = history.new_comparison(prompt="q", system_prompt="s", models=["a", "b", "c"],
                                    blind=False, profile="demo")
    history.add_comparison_answer(first, column=0, model="a", content="partial", state="stopped")
    history.add_comparison_answer(first, column=0, model="a", content="full", state="done",
                                  metrics={"ttft": 0.4}, cost_usd=0.01, cost_source="relay")
    history.add_comparison_answer(first, column=1, model="b", content="", state="error",
                                  error="429 rate limited")
    answers = history.comparison_answers(first)
    assert [(a.column, a.content, a.state) for a in answers] == [
        (0, "full", "done"), (1, "", "error")]
    history.add_vote(first, winner_model="b", outcome="B")
    history.add_vote(first, winner_model="a", outcome="A")     # a changed mind replaces the vote
    history.add_vote(second, winner_model=None, outcome="tie")
    assert history.win_rates() == {"a": (1, 2), "b": (0, 2), "c": (0, 1)}
    assert history.comparison(first).blind is True
    history.delete_comparison(first)
    assert history.comparison_answers(first) == [] and history.vote(first) is None
    assert history.win_rates() == {"a": (0, 1), "b": (0, 1), "c": (0, 1)}


def test_quota_readings_newest_first(history):
    for used in (1.0, 2.0, 3.0):
        history.add_quota_reading(profile="demo", dialect="simple", granted=10.0, used=used,
                                  remaining=10.0 - used, unlimited=False, unit="USD",
                                  read_at=100.0 + used)
    readings = history.quota_readings("demo", limit=2)
    assert [r.used for r in readings] == [3.0, 2.0]
    assert readings[0].unlimited is False and history.quota_readings("other", 5) == []


def _writer(path: str, worker: int, count: int, start) -> None:
    start.wait()   # both create the file, migrate and write at the same moment
    with History(Path(path)) as h:
        conv = h.new_conversation(title=f"worker {worker}", profile="p", model="m")
        for i in range(count):
            if i % 2:
                h.add_message(conv, "user", f"message {i}")
            else:
                h.log_request(request_id=f"{worker}-{i}", profile="p", model="m", kind="bench",
                              started_at=time.time(), ttft=0.1)


def test_two_processes_writing_at_once_lose_nothing():
    path, count = str(history_path()), 500
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    workers = [ctx.Process(target=_writer, args=(path, w, count, start)) for w in range(2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
    assert [p.exitcode for p in workers] == [0, 0]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM requests").fetchone()[0] == count
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == count
    db.close()
