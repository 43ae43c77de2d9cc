"""history.db: conversations, messages, the request log, comparisons, votes and quota readings.

SQLite in WAL mode so readers never block the writer and a second running instance can share
the file: every write is one short `BEGIN IMMEDIATE` transaction, and a busy database is waited
for (busy_timeout) rather than failed. Answers are written while they stream (state
"streaming", with the writer's pid), so a killed process leaves its partial answer behind;
the next open marks it "interrupted". The schema evolves through MIGRATIONS (PRAGMA
user_version = how many have run). Timestamps are unix seconds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay_tui.store.paths import history_path

BUSY_TIMEOUT_S = 5.0
ANSWER_STATES = ("done", "stopped", "error", "interrupted")

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        profile TEXT NOT NULL,
        model TEXT NOT NULL,
        system_prompt TEXT,
        params TEXT,                          -- JSON object
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX conversations_updated ON conversations(updated_at);

    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT '',
        reasoning TEXT NOT NULL DEFAULT '',
        model TEXT,
        served_model TEXT,
        state TEXT NOT NULL DEFAULT 'done',   -- streaming | done | stopped | error | interrupted
        request_id TEXT,
        writer_pid INTEGER,                   -- set while streaming
        metrics TEXT,                         -- JSON object
        cost_usd REAL,
        cost_source TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX messages_conversation ON messages(conversation_id, id);
    CREATE INDEX messages_streaming ON messages(state) WHERE state = 'streaming';

    -- Full-text search; an answer is indexed once it stops streaming.
    CREATE VIRTUAL TABLE messages_fts USING fts5(content, tokenize = 'unicode61 remove_diacritics 2');
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.state != 'streaming' BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, state ON messages
        WHEN new.state != 'streaming' BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
    END;
    CREATE VIRTUAL TABLE conversations_fts USING fts5(title, tokenize = 'unicode61 remove_diacritics 2');
    CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);
    END;
    CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
        DELETE FROM conversations_fts WHERE rowid = old.id;
        INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);
    END;
    CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
        DELETE FROM conversations_fts WHERE rowid = old.id;
    END;

    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        request_id TEXT,
        profile TEXT NOT NULL,
        model TEXT NOT NULL,
        served_model TEXT,
        kind TEXT NOT NULL,                   -- chat | compare | bench | probe | models | quota
        started_at REAL NOT NULL,
        status INTEGER,
        error_kind TEXT,
        error TEXT,
        connect REAL, tls REAL, headers REAL, ttft REAL, ttfat REAL, total REAL,
        output_tokens INTEGER,
        output_tokens_estimated INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER,
        tokens_per_s REAL,
        cost_usd REAL,
        cost_source TEXT,
        attempts INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX requests_profile_model ON requests(profile, model, started_at);
    CREATE INDEX requests_started ON requests(started_at);

    CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY,
        prompt TEXT NOT NULL,
        system_prompt TEXT,
        models TEXT NOT NULL,                 -- JSON list, in column order
        blind INTEGER NOT NULL,
        profile TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX comparisons_created ON comparisons(created_at);

    CREATE TABLE comparison_answers (
        id INTEGER PRIMARY KEY,
        comparison_id INTEGER NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
        col INTEGER NOT NULL,
        model TEXT NOT NULL,
        served_model TEXT,
        content TEXT NOT NULL DEFAULT '',
        reasoning TEXT NOT NULL DEFAULT '',
        request_id TEXT,
        state TEXT NOT NULL,
        error TEXT,
        metrics TEXT,                         -- JSON object
        cost_usd REAL,
        cost_source TEXT,
        created_at REAL NOT NULL,
        UNIQUE (comparison_id, col)
    );

    CREATE TABLE votes (
        id INTEGER PRIMARY KEY,
        comparison_id INTEGER NOT NULL UNIQUE REFERENCES comparisons(id) ON DELETE CASCADE,
        winner_model TEXT,                    -- NULL for a tie or "all bad"
        outcome TEXT NOT NULL,                -- a column label, "tie" or "bad"
        created_at REAL NOT NULL
    );

    CREATE TABLE quota_readings (
        id INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        dialect TEXT NOT NULL,
        granted REAL,
        used REAL,
        remaining REAL,
        unlimited INTEGER NOT NULL,
        unit TEXT NOT NULL,
        read_at REAL NOT NULL
    );
    CREATE INDEX quota_readings_profile ON quota_readings(profile, read_at);
    """,
    # 2: the latency and spend panes. Each percentile column gets a partial index over successful
    # requests, ordered by the value, so a nearest-rank percentile is one index walk to its rank;
    # the counts and spend are read from covering indexes instead of the table.
    """
    CREATE INDEX requests_ttft ON requests(profile, model, ttft, started_at)
        WHERE error_kind IS NULL AND ttft IS NOT NULL;
    CREATE INDEX requests_total ON requests(profile, model, total, started_at)
        WHERE error_kind IS NULL AND total IS NOT NULL;
    CREATE INDEX requests_tps ON requests(profile, model, tokens_per_s, started_at)
        WHERE error_kind IS NULL AND tokens_per_s IS NOT NULL;
    CREATE INDEX requests_counts ON requests(profile, model, started_at, error_kind);
    CREATE INDEX requests_spend ON requests(profile, started_at, model, cost_source, cost_usd,
        error_kind);
    """,
    # 3: the panes group by the model that answered (an `auto` request under the model the relay
    # routed it to), kept as a virtual generated column so the indexes on it stay covering.
    """
    ALTER TABLE requests ADD COLUMN answered_by TEXT
        GENERATED ALWAYS AS (COALESCE(served_model, model)) VIRTUAL;
    DROP INDEX requests_ttft;
    DROP INDEX requests_total;
    DROP INDEX requests_tps;
    DROP INDEX requests_counts;
    DROP INDEX requests_spend;
    CREATE INDEX requests_ttft ON requests(profile, answered_by, ttft, started_at)
        WHERE error_kind IS NULL AND ttft IS NOT NULL;
    CREATE INDEX requests_total ON requests(profile, answered_by, total, started_at)
        WHERE error_kind IS NULL AND total IS NOT NULL;
    CREATE INDEX requests_tps ON requests(profile, answered_by, tokens_per_s, started_at)
        WHERE error_kind IS NULL AND tokens_per_s IS NOT NULL;
    CREATE INDEX requests_counts ON requests(profile, answered_by, started_at, error_kind);
    CREATE INDEX requests_spend ON requests(profile, started_at, answered_by, cost_source,
        cost_usd, error_kind);
    CREATE INDEX requests_answered ON requests(profile, answered_by, started_at);
    """,
]

# Columns the latency pane takes percentiles of (each has a partial index, migration 2).
PERCENTILE_COLUMNS = ("ttft", "total", "tokens_per_s")
# A user's Esc is not the relay's error: stopped requests count as requests, not as errors.
NOT_AN_ERROR = ("stopped",)


class HistoryError(Exception):
    """history.db cannot be opened or written; `str()` is one line naming the file."""


@dataclass(frozen=True)
class ConversationRow:
    id: int
    title: str
    profile: str
    model: str
    system_prompt: str | None
    params: dict[str, Any]
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class MessageRow:
    id: int
    conversation_id: int
    role: str
    content: str
    reasoning: str
    model: str | None
    served_model: str | None
    state: str
    request_id: str | None
    metrics: dict[str, Any] | None
    cost_usd: float | None
    cost_source: str | None
    error: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class RequestRow:
    id: int
    request_id: str | None
    profile: str
    model: str
    served_model: str | None
    kind: str
    started_at: float
    status: int | None
    error_kind: str | None
    error: str | None
    connect: float | None
    tls: float | None
    headers: float | None
    ttft: float | None
    ttfat: float | None
    total: float | None
    output_tokens: int | None
    output_tokens_estimated: bool
    prompt_tokens: int | None
    tokens_per_s: float | None
    cost_usd: float | None
    cost_source: str | None
    attempts: int

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def answered_by(self) -> str:
        """The model the relay said answered (an `auto` resolved), else the one asked for: what
        the latency and spend panes group by."""
        return self.served_model or self.model


@dataclass(frozen=True)
class ComparisonRow:
    id: int
    prompt: str
    system_prompt: str | None
    models: list[str]
    blind: bool
    profile: str
    created_at: float


@dataclass(frozen=True)
class ComparisonAnswerRow:
    id: int
    comparison_id: int
    column: int
    model: str
    served_model: str | None
    content: str
    reasoning: str
    request_id: str | None
    state: str
    error: str | None
    metrics: dict[str, Any] | None
    cost_usd: float | None
    cost_source: str | None
    created_at: float


@dataclass(frozen=True)
class VoteRow:
    comparison_id: int
    winner_model: str | None
    outcome: str
    created_at: float


@dataclass(frozen=True)
class QuotaReadingRow:
    id: int
    profile: str
    dialect: str
    granted: float | None
    used: float | None
    remaining: float | None
    unlimited: bool
    unit: str
    read_at: float


def _create_private(path: Path) -> None:
    """Create a new history file readable by its owner only (like config.toml): it holds every
    prompt and answer. SQLite gives its -wal and -shm files the same permissions."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


class History:
    """The one connection to history.db in this process (safe to share between threads)."""

    def __init__(self, path: Path | None = None):
        self.path = path or history_path()
        self._lock = threading.RLock()
        self._subscribers: list[Callable[[RequestRow], None]] = []
        try:
            _create_private(self.path)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError(f"cannot open {self.path}: {exc}") from None
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._enable_wal()
            self._db.execute("PRAGMA synchronous = NORMAL")  # durable across a process kill
            self._migrate()
            self.recover_interrupted()
        except sqlite3.Error as exc:
            self._db.close()
            raise HistoryError(f"cannot open {self.path}: {exc}") from None
        except HistoryError:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------

    def _enable_wal(self) -> None:
        """Switch to WAL once per file; the switch fails at once (no busy wait) while another
        process holds a lock, so it is retried until the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
                if mode.lower() != "wal":
                    mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
                continue
            if mode.lower() != "wal":
                raise HistoryError(f"cannot open {self.path}: the file system does not support "
                                   f"SQLite's WAL mode (use a local disk)")
            return

    def _migrate(self) -> None:
        with self._write() as db:   # the version is read inside the lock another process may hold
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise HistoryError(f"{self.path} was written by a newer relay-tui (schema {version});"
                                   f" upgrade relay-tui to open it")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taking the write lock up front (no upgrade deadlocks)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise HistoryError(f"cannot write {self.path}: {exc}") from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise HistoryError(f"cannot write {self.path}: {exc}") from None
                raise

    def _read(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise HistoryError(f"cannot read {self.path}: {exc}") from None

    # -- conversations ---------------------------------------------------------------------------

    def new_conversation(self, *, title: str, profile: str, model: str,
                         system_prompt: str | None = None, params: dict | None = None) -> int:
        now = time.time()
        with self._write() as db:
            return db.execute(
                "INSERT INTO conversations (title, profile, model, system_prompt, params, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (title, profile, model, system_prompt, _json(params or {}), now, now)).lastrowid

    def conversations(self, *, limit: int = 200, query: str | None = None) -> list[ConversationRow]:
        """Newest activity first; `query` matches words (or word prefixes) in titles and messages."""
        match = _fts_query(query) if query else None
        if query and match is None:
            return []
        where, args = "", []
        if match:
            where = ("WHERE id IN (SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH ?)"
                     " OR id IN (SELECT conversation_id FROM messages WHERE id IN "
                     "(SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?))")
            args = [match, match]
        rows = self._read(f"SELECT * FROM conversations {where} ORDER BY updated_at DESC, id DESC "
                          f"LIMIT ?", args + [limit])
        return [_conversation(r) for r in rows]

    def conversation(self, conv_id: int) -> ConversationRow | None:
        rows = self._read("SELECT * FROM conversations WHERE id = ?", (conv_id,))
        return _conversation(rows[0]) if rows else None

    def rename_conversation(self, conv_id: int, title: str) -> None:
        with self._write() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conv_id))

    def delete_conversation(self, conv_id: int) -> None:
        """Delete a conversation and (by cascade) its messages."""
        with self._write() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))

    def update_conversation(self, conv_id: int, *, model: str | None = None,
                            system_prompt: str | None = None, params: dict | None = None) -> None:
        """Change what is given (None leaves a field alone; "" clears the system prompt)."""
        updates: dict[str, Any] = {}
        if model is not None:
            updates["model"] = model
        if system_prompt is not None:
            updates["system_prompt"] = system_prompt or None
        if params is not None:
            updates["params"] = _json(params)
        if not updates:
            return
        with self._write() as db:
            db.execute(f"UPDATE conversations SET {', '.join(f'{k} = ?' for k in updates)}, "
                       f"updated_at = ? WHERE id = ?", [*updates.values(), time.time(), conv_id])

    # -- messages --------------------------------------------------------------------------------

    def add_message(self, conv_id: int, role: str, content: str, *, model: str | None = None) -> int:
        now = time.time()
        with self._write() as db:
            msg_id = db.execute(
                "INSERT INTO messages (conversation_id, role, content, model, state, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, 'done', ?, ?)",
                (conv_id, role, content, model, now, now)).lastrowid
            _touch(db, conv_id, now)
        return msg_id

    def begin_answer(self, conv_id: int, *, model: str, request_id: str) -> int:
        """An empty assistant message in state "streaming", owned by this process."""
        now = time.time()
        with self._write() as db:
            msg_id = db.execute(
                "INSERT INTO messages (conversation_id, role, model, state, request_id, writer_pid, "
                "created_at, updated_at) VALUES (?, 'assistant', ?, 'streaming', ?, ?, ?, ?)",
                (conv_id, model, request_id, os.getpid(), now, now)).lastrowid
            _touch(db, conv_id, now)
        return msg_id

    def update_answer(self, msg_id: int, content: str, reasoning: str = "") -> None:
        """Save the answer so far (the full text); the caller decides how often."""
        with self._write() as db:
            db.execute("UPDATE messages SET content = ?, reasoning = ?, updated_at = ? WHERE id = ?",
                       (content, reasoning, time.time(), msg_id))

    def finish_answer(self, msg_id: int, *, state: str, content: str, reasoning: str = "",
                      served_model: str | None = None, metrics: dict | None = None,
                      cost_usd: float | None = None, cost_source: str | None = None,
                      error: str | None = None) -> None:
        if state not in ANSWER_STATES:
            raise ValueError(f"state must be one of {ANSWER_STATES}, not {state!r}")
        now = time.time()
        with self._write() as db:
            db.execute(
                "UPDATE messages SET state = ?, content = ?, reasoning = ?, served_model = ?, "
                "metrics = ?, cost_usd = ?, cost_source = ?, error = ?, writer_pid = NULL, "
                "updated_at = ? WHERE id = ?",
                (state, content, reasoning, served_model, _json(metrics), cost_usd, cost_source,
                 error, now, msg_id))
            db.execute("UPDATE conversations SET updated_at = ? WHERE id = "
                       "(SELECT conversation_id FROM messages WHERE id = ?)", (now, msg_id))

    def messages(self, conv_id: int, *, last: int | None = None) -> list[MessageRow]:
        """A conversation's messages in order; with `last`, only the newest `last` (opening a
        10,000-message chat reads what the pane shows, not the whole conversation)."""
        if last is None:
            rows = self._read("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conv_id,))
        else:
            rows = self._read("SELECT * FROM (SELECT * FROM messages WHERE conversation_id = ? "
                              "ORDER BY id DESC LIMIT ?) ORDER BY id", (conv_id, last))
        return [_message(r) for r in rows]

    def message_count(self, conv_id: int) -> int:
        return self._read("SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (conv_id,))[0][0]

    def truncate_conversation(self, conv_id: int, *, from_message_id: int) -> None:
        """Delete a message and every later one (regenerate, or edit and resend a prompt)."""
        with self._write() as db:
            db.execute("DELETE FROM messages WHERE conversation_id = ? AND id >= ?",
                       (conv_id, from_message_id))

    def recover_interrupted(self) -> int:
        """Mark answers left "streaming" by a process that no longer runs as "interrupted"."""
        rows = self._read("SELECT id, writer_pid, created_at FROM messages WHERE state = 'streaming'")
        dead = [r["id"] for r in rows if not _process_running(r["writer_pid"], r["created_at"])]
        if dead:
            with self._write() as db:
                db.executemany("UPDATE messages SET state = 'interrupted', writer_pid = NULL "
                               "WHERE id = ? AND state = 'streaming'", [(i,) for i in dead])
        return len(dead)

    # -- request log -----------------------------------------------------------------------------

    def log_request(self, *, request_id: str | None, profile: str, model: str, kind: str,
                    started_at: float, served_model: str | None = None, status: int | None = None,
                    error_kind: str | None = None, error: str | None = None,
                    connect: float | None = None, tls: float | None = None,
                    headers: float | None = None, ttft: float | None = None,
                    ttfat: float | None = None, total: float | None = None,
                    output_tokens: int | None = None, output_tokens_estimated: bool = False,
                    prompt_tokens: int | None = None, tokens_per_s: float | None = None,
                    cost_usd: float | None = None, cost_source: str | None = None,
                    attempts: int = 1) -> int:
        """Record one call; `error_kind` None means it succeeded."""
        values = (request_id, profile, model, served_model, kind, started_at, status, error_kind,
                  error, connect, tls, headers, ttft, ttfat, total, output_tokens,
                  int(bool(output_tokens_estimated)), prompt_tokens, tokens_per_s, cost_usd,
                  cost_source, attempts)
        with self._write() as db:
            row_id = db.execute(
                f"INSERT INTO requests ({', '.join(_REQUEST_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(values))})", values).lastrowid
        if self._subscribers:
            row = RequestRow(id=row_id, **{**dict(zip(_REQUEST_COLUMNS, values)),
                                           "output_tokens_estimated": bool(output_tokens_estimated)})
            for callback in list(self._subscribers):
                callback(row)
        return row_id

    def subscribe(self, callback: Callable[[RequestRow], None]) -> Callable[[], None]:
        """Call `callback(row)` after every logged request (in the logging thread); returns the
        unsubscribe function. Lets the quota pane re-read the balance after any request without
        the chat or compare code knowing about it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def request(self, row_id: int) -> RequestRow | None:
        rows = self._read("SELECT * FROM requests WHERE id = ?", (row_id,))
        return _request(rows[0]) if rows else None

    # -- latency and spend aggregates (indexes from migration 2) ---------------------------------

    def request_counts(self, *, since: float | None = None,
                       profile: str | None = None) -> list[tuple[str, str, int, int]]:
        """(profile, model, requests, errors) for each profile and model that answered
        (RequestRow.answered_by), sorted by both."""
        where, args = _window(since, profile)
        stopped = ", ".join("?" * len(NOT_AN_ERROR))
        return [tuple(r) for r in self._read(
            f"SELECT profile, answered_by, COUNT(*), "
            f"TOTAL(error_kind IS NOT NULL AND error_kind NOT IN ({stopped})) "
            f"FROM requests INDEXED BY requests_counts {where} GROUP BY profile, answered_by "
            f"ORDER BY profile, answered_by", [*NOT_AN_ERROR, *args])]

    def count_values(self, column: str, *, profile: str, model: str,
                     since: float | None = None) -> int:
        """How many successful requests of this profile and model (answered_by) have a value in
        `column`."""
        index, where, args = _ranked(column, profile, model, since)
        return self._read(f"SELECT COUNT(*) FROM requests INDEXED BY {index} {where}", args)[0][0]

    def value_at_rank(self, column: str, rank: int, count: int, *, profile: str, model: str,
                      since: float | None = None) -> float | None:
        """The `rank`-th smallest (1-based) of `count` values of `column` (see count_values).

        Walks the column's index from the nearer end, so p99 costs 1% of the rows, not 99%."""
        if not 1 <= rank <= count:
            return None
        index, where, args = _ranked(column, profile, model, since)
        order, offset = ("ASC", rank - 1) if rank <= count // 2 else ("DESC", count - rank)
        rows = self._read(f"SELECT {column} FROM requests INDEXED BY {index} {where} "
                          f"ORDER BY {column} {order} LIMIT 1 OFFSET ?", [*args, offset])
        return rows[0][0] if rows else None

    def recent_values(self, column: str, *, profile: str, model: str, limit: int,
                      since: float | None = None) -> list[float]:
        """The latest `limit` values of `column` of successful requests, oldest first."""
        _, where, args = _ranked(column, profile, model, since)
        rows = self._read(f"SELECT {column} FROM requests INDEXED BY requests_answered "
                          f"{where} ORDER BY started_at DESC LIMIT ?", [*args, limit])
        return [r[0] for r in reversed(rows)]

    def spend(self, *, profile: str, since: float | None = None,
              by: str = "model") -> list[tuple[str, int, float, float, int]]:
        """(key, requests, relay-reported USD, estimated USD, successful requests without a
        cost) grouped `by` "model" (the one that answered) or "day" (local date, YYYY-MM-DD),
        sorted by key."""
        key = {"model": "answered_by", "day": "date(started_at, 'unixepoch', 'localtime')"}[by]
        where, args = _window(since, profile)
        return [tuple(r) for r in self._read(
            f"SELECT {key} AS k, COUNT(*), "
            f"TOTAL(CASE WHEN cost_source = 'relay' THEN cost_usd END), "
            f"TOTAL(CASE WHEN cost_source != 'relay' THEN cost_usd END), "
            f"TOTAL(cost_usd IS NULL AND error_kind IS NULL) "
            f"FROM requests INDEXED BY requests_spend {where} GROUP BY k ORDER BY k", args)]

    def first_request_at(self, *, profile: str, since: float | None = None) -> float | None:
        """When the profile's earliest request (since `since`) started; None when it has none."""
        where, args = _window(since, profile)
        return self._read(f"SELECT MIN(started_at) FROM requests INDEXED BY requests_spend "
                          f"{where}", args)[0][0]

    def requests(self, *, since: float | None = None, profile: str | None = None,
                 model: str | None = None, limit: int | None = None) -> list[RequestRow]:
        """Oldest first; with `limit`, the most recent `limit` of them (still oldest first);
        `model` is the model that answered (RequestRow.answered_by)."""
        conditions, args = [], []
        for column, value, op in (("started_at", since, ">="), ("profile", profile, "="),
                                  ("answered_by", model, "=")):
            if value is not None:
                conditions.append(f"{column} {op} ?")
                args.append(value)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT * FROM requests {where} ORDER BY started_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_request(r) for r in reversed(self._read(sql, args))]

    # -- comparisons and votes -------------------------------------------------------------------

    def new_comparison(self, *, prompt: str, system_prompt: str | None, models: list[str],
                       blind: bool, profile: str) -> int:
        with self._write() as db:
            return db.execute(
                "INSERT INTO comparisons (prompt, system_prompt, models, blind, profile, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (prompt, system_prompt, _json(list(models)), int(blind), profile,
                 time.time())).lastrowid

    def add_comparison_answer(self, comparison_id: int, *, column: int, model: str, content: str,
                              state: str, request_id: str | None = None, reasoning: str = "",
                              served_model: str | None = None, error: str | None = None,
                              metrics: dict | None = None, cost_usd: float | None = None,
                              cost_source: str | None = None) -> int:
        """Save (or replace) one column's answer, in a state from ANSWER_STATES."""
        if state not in ANSWER_STATES:
            raise ValueError(f"state must be one of {ANSWER_STATES}, not {state!r}")
        with self._write() as db:
            return db.execute(
                "INSERT INTO comparison_answers (comparison_id, col, model, served_model, content, "
                "reasoning, request_id, state, error, metrics, cost_usd, cost_source, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (comparison_id, col) DO UPDATE SET model = excluded.model, "
                "served_model = excluded.served_model, content = excluded.content, "
                "reasoning = excluded.reasoning, request_id = excluded.request_id, "
                "state = excluded.state, error = excluded.error, metrics = excluded.metrics, "
                "cost_usd = excluded.cost_usd, cost_source = excluded.cost_source, "
                "created_at = excluded.created_at RETURNING id",
                (comparison_id, column, model, served_model, content, reasoning, request_id, state,
                 error, _json(metrics), cost_usd, cost_source, time.time())).fetchone()[0]

    def comparisons(self, *, limit: int = 200) -> list[ComparisonRow]:
        rows = self._read("SELECT * FROM comparisons ORDER BY created_at DESC, id DESC LIMIT ?",
                          (limit,))
        return [_comparison(r) for r in rows]

    def comparison(self, comparison_id: int) -> ComparisonRow | None:
        rows = self._read("SELECT * FROM comparisons WHERE id = ?", (comparison_id,))
        return _comparison(rows[0]) if rows else None

    def comparison_answers(self, comparison_id: int) -> list[ComparisonAnswerRow]:
        rows = self._read("SELECT * FROM comparison_answers WHERE comparison_id = ? ORDER BY col",
                          (comparison_id,))
        return [_comparison_answer(r) for r in rows]

    def delete_comparison(self, comparison_id: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM comparisons WHERE id = ?", (comparison_id,))

    def add_vote(self, comparison_id: int, *, winner_model: str | None, outcome: str) -> None:
        """One vote per comparison: voting again replaces the earlier vote."""
        with self._write() as db:
            db.execute("INSERT INTO votes (comparison_id, winner_model, outcome, created_at) "
                       "VALUES (?, ?, ?, ?) ON CONFLICT (comparison_id) DO UPDATE SET "
                       "winner_model = excluded.winner_model, outcome = excluded.outcome, "
                       "created_at = excluded.created_at",
                       (comparison_id, winner_model, outcome, time.time()))

    def vote(self, comparison_id: int) -> VoteRow | None:
        rows = self._read("SELECT comparison_id, winner_model, outcome, created_at FROM votes "
                          "WHERE comparison_id = ?", (comparison_id,))
        return VoteRow(*rows[0]) if rows else None

    def win_rates(self) -> dict[str, tuple[int, int]]:
        """model -> (wins, games): every model in a voted comparison played one game."""
        rates: dict[str, list[int]] = {}
        rows = self._read("SELECT c.models, v.winner_model FROM votes v "
                          "JOIN comparisons c ON c.id = v.comparison_id")
        for row in rows:
            for model in set(json.loads(row["models"])):
                entry = rates.setdefault(model, [0, 0])
                entry[1] += 1
                entry[0] += model == row["winner_model"]
        return {model: (wins, games) for model, (wins, games) in rates.items()}

    # -- quota -----------------------------------------------------------------------------------

    def add_quota_reading(self, *, profile: str, dialect: str, granted: float | None,
                          used: float | None, remaining: float | None, unlimited: bool, unit: str,
                          read_at: float) -> int:
        with self._write() as db:
            return db.execute(
                "INSERT INTO quota_readings (profile, dialect, granted, used, remaining, unlimited, "
                "unit, read_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (profile, dialect, granted, used, remaining, int(unlimited), unit,
                 read_at)).lastrowid

    def quota_readings(self, profile: str, limit: int = 100) -> list[QuotaReadingRow]:
        """Newest first."""
        rows = self._read("SELECT * FROM quota_readings WHERE profile = ? "
                          "ORDER BY read_at DESC, id DESC LIMIT ?", (profile, limit))
        return [QuotaReadingRow(**{**dict(r), "unlimited": bool(r["unlimited"])}) for r in rows]


# -- helpers ------------------------------------------------------------------------------------

_REQUEST_COLUMNS = ("request_id", "profile", "model", "served_model", "kind", "started_at",
                    "status", "error_kind", "error", "connect", "tls", "headers", "ttft", "ttfat",
                    "total", "output_tokens", "output_tokens_estimated", "prompt_tokens",
                    "tokens_per_s", "cost_usd", "cost_source", "attempts")


_PERCENTILE_INDEXES = {"ttft": "requests_ttft", "total": "requests_total",
                       "tokens_per_s": "requests_tps"}


def _window(since: float | None, profile: str | None) -> tuple[str, list]:
    """WHERE clause for an optional time window and profile."""
    conditions, args = [], []
    if profile is not None:
        conditions.append("profile = ?")
        args.append(profile)
    if since is not None:
        conditions.append("started_at >= ?")
        args.append(since)
    return (f"WHERE {' AND '.join(conditions)}" if conditions else ""), args


def _ranked(column: str, profile: str, model: str, since: float | None) -> tuple[str, str, list]:
    """(index, WHERE clause, args) selecting the successful requests that have `column`; the
    clause repeats the partial index's condition so SQLite can use it."""
    if column not in _PERCENTILE_INDEXES:
        raise ValueError(f"no percentiles of {column!r} (known: {', '.join(PERCENTILE_COLUMNS)})")
    where = (f"WHERE profile = ? AND answered_by = ? AND error_kind IS NULL AND {column} IS NOT NULL"
             + (" AND started_at >= ?" if since is not None else ""))
    return _PERCENTILE_INDEXES[column], where, [profile, model] + ([since] if since is not None else [])


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (triggers contain ';' inside BEGIN ... END)."""
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                yield buffer.strip()
            buffer = ""


def _fts_query(text: str) -> str | None:
    """Words of free text as an FTS5 query: every word must match, as a prefix; None if no words."""
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return " ".join(f'"{w}"*' for w in words) or None


def _touch(db: sqlite3.Connection, conv_id: int, now: float) -> None:
    db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conv_id))


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _unjson(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _conversation(r: sqlite3.Row) -> ConversationRow:
    return ConversationRow(id=r["id"], title=r["title"], profile=r["profile"], model=r["model"],
                           system_prompt=r["system_prompt"], params=_unjson(r["params"]) or {},
                           created_at=r["created_at"], updated_at=r["updated_at"])


def _message(r: sqlite3.Row) -> MessageRow:
    values = {k: r[k] for k in r.keys() if k != "writer_pid"}
    return MessageRow(**{**values, "metrics": _unjson(r["metrics"])})


def _request(r: sqlite3.Row) -> RequestRow:
    values = {k: r[k] for k in r.keys() if k != "answered_by"}  # a property of the row
    return RequestRow(**{**values, "output_tokens_estimated": bool(r["output_tokens_estimated"])})


def _comparison(r: sqlite3.Row) -> ComparisonRow:
    return ComparisonRow(**{**dict(r), "models": json.loads(r["models"]), "blind": bool(r["blind"])})


def _comparison_answer(r: sqlite3.Row) -> ComparisonAnswerRow:
    values = {("column" if k == "col" else k): r[k] for k in r.keys()}
    return ComparisonAnswerRow(**{**values, "metrics": _unjson(r["metrics"])})


def _process_running(pid: int | None, since: float) -> bool:
    """Whether the process that began writing at `since` still runs (a reused pid does not count)."""
    if not pid:
        return False
    if pid == os.getpid():
        return True
    if sys.platform.startswith("linux") and os.path.isdir("/proc/self"):
        started = _linux_start_time(pid)
        return started is not None and started <= since + 1.0
    if os.name == "nt":
        return _windows_running(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by someone else
        return True
    return True


def _linux_start_time(pid: int) -> float | None:
    """When a process started (unix seconds), from /proc; None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    ticks = int(stat.rsplit(")", 1)[1].split()[19])   # field 22, counted after "(comm)"
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _windows_running(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
    kernel32.CloseHandle(handle)
    return not ok or code.value == 259  # STILL_ACTIVE
