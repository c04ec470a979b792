"""The embedded outbox: one SQLite table, safe across threads and processes."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import StoreUnavailableError
from ..store.sqlite import immediate
from ._model import Finish, Held, HoldState, encode_reasons, encode_record, micros
from ._sql import COLUMNS, check_table, held_from_row
from ._sql import reasons_of as _reasons

__all__ = ["SQLiteOutbox"]


class SQLiteOutbox:
    """Held messages in a SQLite table (WAL, fsynced commits). Every change is one
    ``BEGIN IMMEDIATE`` transaction, so a claim hands each message to one process only. The
    table may live in the engine's own store file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "smspolicy_outbox",
        timeout: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self.table = check_table(table)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(
                str(path), timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._write() as db:
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} ("
                    "id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, state TEXT NOT NULL, "
                    "due_us INTEGER NOT NULL, ready_us INTEGER, token TEXT, "
                    "attempts INTEGER NOT NULL DEFAULT 0, provider_id TEXT, sent_us INTEGER, "
                    "reasons TEXT, finished_us INTEGER, record TEXT NOT NULL)"
                )
                db.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_ready ON {self.table} "
                    "(ready_us, id) WHERE ready_us IS NOT NULL"
                )
                db.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_state ON {self.table} "
                    "(state, finished_us, id)"
                )
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"cannot open SQLite outbox {path}: {error}") from error

    def __repr__(self) -> str:
        return f"SQLiteOutbox({str(self.path)!r}, table={self.table!r})"

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db, self._lock, "SQLite outbox write")

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise StoreUnavailableError(f"SQLite outbox read failed: {error}") from error

    def add(self, held: Held) -> Held:
        due = micros(held.due)
        with self._write() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM {self.table} WHERE key = ?", (held.key,)
            ).fetchone()
            if row is not None:
                return held_from_row(row)
            db.execute(
                f"INSERT INTO {self.table} (id, key, state, due_us, ready_us, reasons, record) "
                "VALUES (?, ?, 'held', ?, ?, ?, ?)",
                (held.id, held.key, due, due, _reasons(held), encode_record(held)),
            )
        return held

    def claim(self, now: dt.datetime, limit: int, until: dt.datetime, token: str) -> list[Held]:
        with self._write() as db:
            rows = db.execute(
                f"UPDATE {self.table} SET state = 'claimed', token = ?, ready_us = ?, "
                "attempts = attempts + 1 WHERE id IN ("
                f"SELECT id FROM {self.table} WHERE ready_us IS NOT NULL AND ready_us <= ? "
                f"ORDER BY ready_us, id LIMIT ?) RETURNING {COLUMNS}",
                (token, micros(until), micros(now), limit),
            ).fetchall()
        return [held_from_row(row) for row in rows]

    def record_sends(self, sends: Sequence[tuple[str, str | None, dt.datetime]]) -> None:
        if not sends:
            return
        with self._write() as db:
            db.executemany(
                f"UPDATE {self.table} SET provider_id = ?, sent_us = ? "
                "WHERE id = ? AND state = 'claimed' AND sent_us IS NULL",
                [(provider_id, micros(at), id) for id, provider_id, at in sends],
            )

    def finish(self, items: Sequence[Finish]) -> list[bool]:
        out = []
        with self._write() as db:
            for item in items:
                at = micros(item.at)
                reasons = encode_reasons(item.reasons) if item.reasons else None
                if item.state is HoldState.HELD:
                    assert item.due is not None
                    due = micros(item.due)
                    cursor = db.execute(
                        f"UPDATE {self.table} SET state = 'held', due_us = ?, ready_us = ?, "
                        "token = NULL, reasons = ? WHERE id = ? AND state = 'claimed' "
                        "AND token = ?",
                        (due, due, reasons, item.id, item.token),
                    )
                else:
                    sent = item.state is HoldState.SENT
                    cursor = db.execute(
                        f"UPDATE {self.table} SET state = ?, ready_us = NULL, token = NULL, "
                        "reasons = ?, finished_us = ?, "
                        "provider_id = CASE WHEN ? AND sent_us IS NULL THEN ? "
                        "ELSE provider_id END, "
                        "sent_us = CASE WHEN ? AND sent_us IS NULL THEN ? ELSE sent_us END "
                        "WHERE id = ? AND state = 'claimed' AND token = ?",
                        (
                            item.state.value,
                            reasons,
                            at,
                            sent,
                            item.provider_id,
                            sent,
                            at,
                            item.id,
                            item.token,
                        ),
                    )
                out.append(cursor.rowcount == 1)
        return out

    def get(self, id: str) -> Held | None:
        rows = self._read(f"SELECT {COLUMNS} FROM {self.table} WHERE id = ?", (id,))
        return held_from_row(rows[0]) if rows else None

    def dropped(self, limit: int = 100) -> list[Held]:
        rows = self._read(
            f"SELECT {COLUMNS} FROM {self.table} WHERE state = 'dropped' "
            "ORDER BY finished_us, id LIMIT ?",
            (limit,),
        )
        return [held_from_row(row) for row in rows]

    def counts(self) -> Mapping[HoldState, int]:
        out = dict.fromkeys(HoldState, 0)
        for state, count in self._read(f"SELECT state, count(*) FROM {self.table} GROUP BY state"):
            out[HoldState(state)] = int(count)  # type: ignore[call-overload]
        return out

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()
