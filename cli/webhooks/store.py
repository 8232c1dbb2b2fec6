"""The relay's SQLite database: stream cursor, outbox, delivery log, endpoint state.

The cursor moves only inside the transaction that puts the events it covers into
the outbox (`record_frame`), so a crash at any moment either loses neither or
replays the frame, and replayed events land on their existing outbox rows
(same event id and endpoint): at least once, never lost.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    value TEXT NOT NULL,
    block_time_ms INTEGER
);
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY,
    disabled INTEGER NOT NULL DEFAULT 0,
    failure_run INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    PRIMARY KEY (event_id, endpoint)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    status INTEGER,
    latency_ms INTEGER NOT NULL,
    excerpt TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_id);
CREATE INDEX IF NOT EXISTS deliveries_at ON deliveries (at);
CREATE TABLE IF NOT EXISTS open_invoices (
    id TEXT PRIMARY KEY,
    expiry_ms INTEGER NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS open_invoices_expiry ON open_invoices (expiry_ms);
"""

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
EXCERPT_CHARS = 200
PRUNE_BATCH = 2_000  # rows per delete: the deliverer never holds the write lock for long
WAL_LIMIT_BYTES = 8 * 2**20


@dataclass(frozen=True)
class OutboxRow:
    event_id: str
    endpoint: str
    kind: str
    body: str
    created_at: float
    attempts: int


@dataclass(frozen=True)
class NewMessage:
    event_id: str
    endpoint: str
    kind: str
    body: str


@dataclass(frozen=True)
class Lane:
    """The messages one delivery thread sends: those of `endpoint`, or with `endpoint`
    None, those of every endpoint not in `configured` (left over from an older
    configuration, so they are logged as failed instead of waiting for ever)."""

    endpoint: str | None
    configured: tuple[str, ...] = ()


def _lane_filter(lane: Lane | None) -> tuple[str, tuple[str, ...]]:
    if lane is None:
        return "", ()
    if lane.endpoint is not None:
        return " AND o.endpoint = ?", (lane.endpoint,)
    if not lane.configured:
        return "", ()
    marks = ", ".join("?" * len(lane.configured))
    return f" AND o.endpoint NOT IN ({marks})", lane.configured


class RelayStore:
    def __init__(self, path: Path) -> None:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL keeps every commit across a crash of the process (kill -9)
        # and skips the fsync per commit. A power cut may roll back the last commits,
        # but each is whole: the cursor rolls back with the outbox rows it covers (the
        # frames are read again) and a lost attempt record means one more delivery of
        # the same event. At least once holds either way, at several times the rate.
        self.db.execute("PRAGMA synchronous=NORMAL")
        # The log's size stays on disk, not in the WAL: once checkpointed, the WAL is
        # truncated back to this (it would otherwise keep its largest size for ever).
        self.db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- cursor and outbox -------------------------------------------------------

    def cursor(self) -> tuple[str | None, int | None]:
        row = self.db.execute("SELECT value, block_time_ms FROM cursor WHERE one = 1").fetchone()
        return (None, None) if row is None else (str(row[0]), row[1])

    def record_frame(
        self,
        cursor: str,
        block_time_ms: int | None,
        messages: list[NewMessage],
        now: float,
        opened: Sequence[tuple[str, int, str]] = (),
        closed: Sequence[str] = (),
    ) -> None:
        """Queue a frame's messages and move the cursor past it, in one transaction."""
        with self._transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO outbox (event_id, endpoint, kind, body, created_at, next_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(m.event_id, m.endpoint, m.kind, m.body, now, now) for m in messages],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO open_invoices (id, expiry_ms, event) VALUES (?, ?, ?)",
                opened,
            )
            self.db.executemany("DELETE FROM open_invoices WHERE id = ?", [(i,) for i in closed])
            self.db.execute(
                "INSERT INTO cursor (one, value, block_time_ms) VALUES (1, ?, ?)"
                " ON CONFLICT (one) DO UPDATE SET value = excluded.value,"
                " block_time_ms = excluded.block_time_ms",
                (cursor, block_time_ms),
            )

    def expiring_invoices(self, block_time_ms: int) -> list[tuple[str, str]]:
        """Open invoices whose expiry this block time has passed: (id, created event)."""
        rows = self.db.execute(
            "SELECT id, event FROM open_invoices WHERE expiry_ms < ? ORDER BY id",
            (block_time_ms,),
        ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def due(self, now: float, limit: int = 64, lane: Lane | None = None) -> list[OutboxRow]:
        """Pending messages whose time has come, oldest first; `lane` narrows them to
        one endpoint (or to endpoints no longer configured)."""
        where, params = _lane_filter(lane)
        rows = self.db.execute(
            "SELECT o.event_id, o.endpoint, o.kind, o.body, o.created_at, o.attempts"
            " FROM outbox o LEFT JOIN endpoints e ON e.name = o.endpoint"
            " WHERE o.state = ? AND o.next_at <= ? AND COALESCE(e.disabled, 0) = 0"
            + where
            + " ORDER BY o.next_at, o.created_at, o.event_id LIMIT ?",
            (PENDING, now, *params, limit),
        ).fetchall()
        return [OutboxRow(*row) for row in rows]

    def next_due_at(self, lane: Lane | None = None) -> float | None:
        where, params = _lane_filter(lane)
        row = self.db.execute(
            "SELECT MIN(o.next_at) FROM outbox o LEFT JOIN endpoints e ON e.name = o.endpoint"
            " WHERE o.state = ? AND COALESCE(e.disabled, 0) = 0" + where,
            (PENDING, *params),
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # -- delivery outcomes -------------------------------------------------------

    def record_attempt(
        self,
        row: OutboxRow,
        now: float,
        status: int | None,
        latency_ms: int,
        excerpt: str,
        ok: bool,
        next_at: float | None,
        disable_after: int,
    ) -> str:
        """Log one attempt and move the message on; answer its new state.

        `next_at` None after a failure means the retry horizon has passed. A run of
        `disable_after` consecutive failures disables the endpoint."""
        attempt = row.attempts + 1
        state = DELIVERED if ok else (PENDING if next_at is not None else FAILED)
        with self._transaction():
            self.db.execute(
                "INSERT INTO deliveries (event_id, endpoint, attempt, at, status, latency_ms,"
                " excerpt, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.event_id,
                    row.endpoint,
                    attempt,
                    now,
                    status,
                    latency_ms,
                    excerpt[:EXCERPT_CHARS],
                    "ok" if ok else "failed",
                ),
            )
            self.db.execute(
                "UPDATE outbox SET attempts = ?, state = ?, next_at = ?"
                " WHERE event_id = ? AND endpoint = ?",
                (
                    attempt,
                    state,
                    next_at if next_at is not None else now,
                    row.event_id,
                    row.endpoint,
                ),
            )
            self.db.execute("INSERT OR IGNORE INTO endpoints (name) VALUES (?)", (row.endpoint,))
            if ok:
                self.db.execute(
                    "UPDATE endpoints SET failure_run = 0 WHERE name = ?", (row.endpoint,)
                )
            else:
                self.db.execute(
                    "UPDATE endpoints SET failure_run = failure_run + 1,"
                    " disabled = CASE WHEN failure_run + 1 >= ? THEN 1 ELSE disabled END"
                    " WHERE name = ?",
                    (disable_after, row.endpoint),
                )
        return state

    def log_test(
        self,
        endpoint: str,
        event_id: str,
        now: float,
        status: int | None,
        latency_ms: int,
        excerpt: str,
        ok: bool,
    ) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT INTO deliveries (event_id, endpoint, attempt, at, status, latency_ms,"
                " excerpt, outcome) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
                (
                    event_id,
                    endpoint,
                    now,
                    status,
                    latency_ms,
                    excerpt[:EXCERPT_CHARS],
                    "ok" if ok else "failed",
                ),
            )

    # -- operator commands -------------------------------------------------------

    def endpoint_state(self, name: str) -> tuple[bool, int]:
        row = self.db.execute(
            "SELECT disabled, failure_run FROM endpoints WHERE name = ?", (name,)
        ).fetchone()
        return (False, 0) if row is None else (bool(row[0]), int(row[1]))

    def enable(self, name: str, now: float) -> int:
        """Re-enable an endpoint; its waiting messages become due now. Answer how many."""
        with self._transaction():
            self.db.execute(
                "INSERT INTO endpoints (name) VALUES (?) ON CONFLICT (name) DO UPDATE"
                " SET disabled = 0, failure_run = 0",
                (name,),
            )
            cursor = self.db.execute(
                "UPDATE outbox SET next_at = ? WHERE endpoint = ? AND state = ?",
                (now, name, PENDING),
            )
        return cursor.rowcount

    def redeliver(self, event_id: str, endpoint: str | None, now: float) -> int:
        """Queue an event again (delivered or given up), keeping its id. Answer how many."""
        query = "UPDATE outbox SET state = ?, next_at = ?, created_at = ? WHERE event_id = ?"
        params: list[Any] = [PENDING, now, now, event_id]
        if endpoint is not None:
            query += " AND endpoint = ?"
            params.append(endpoint)
        with self._transaction():
            return self.db.execute(query, params).rowcount

    def log(self, event_id: str | None, endpoint: str | None, limit: int) -> list[dict[str, Any]]:
        query = (
            "SELECT event_id, endpoint, attempt, at, status, latency_ms, excerpt, outcome"
            " FROM deliveries WHERE 1 = 1"
        )
        params: list[Any] = []
        if event_id is not None:
            query += " AND event_id = ?"
            params.append(event_id)
        if endpoint is not None:
            query += " AND endpoint = ?"
            params.append(endpoint)
        query += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        names = (
            "event_id",
            "endpoint",
            "attempt",
            "at",
            "status",
            "latency_ms",
            "excerpt",
            "outcome",
        )
        return [dict(zip(names, row, strict=True)) for row in self.db.execute(query, params)]

    def prune(self, before: float, limit: int = PRUNE_BATCH) -> int:
        """Forget what finished before `before`: delivered and given-up messages (their
        last attempt is older) and delivery-log rows. Pending messages are never
        removed. At most `limit` rows of each table per call; answer the rows deleted,
        so a caller repeats while the answer is `limit` or more."""
        with self._transaction():
            messages = self.db.execute(
                "DELETE FROM outbox WHERE rowid IN (SELECT rowid FROM outbox"
                " WHERE state IN (?, ?) AND next_at < ? LIMIT ?)",
                (DELIVERED, FAILED, before, limit),
            ).rowcount
            attempts = self.db.execute(
                "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries"
                " WHERE at < ? LIMIT ?)",
                (before, limit),
            ).rowcount
        return max(messages, attempts)

    def outbox_states(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state")
        return {str(state): int(count) for state, count in rows}

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back if the block raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
