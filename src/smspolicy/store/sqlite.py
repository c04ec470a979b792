"""The embedded default store: SQLite in WAL mode with durable (synchronous=FULL) commits."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from .._records import GENESIS, ConsentEvent, ConsentKind, SendRecord
from ..errors import ConfigurationError, StoreUnavailableError
from ._base import (
    DecideMany,
    HoldsByBatch,
    PersonsOf,
    Settlement,
    Store,
    merged_sends,
    suppression_key,
)
from ._codec import decode_event, decode_send, encode_event, encode_send, micros
from ._profiles import ProfileRecord, decode_profile, encode_profile

__all__ = ["SQLiteStore"]

SCHEMA_VERSION = 1
_CHUNK = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS smspolicy_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consent_events (
    number TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (number, seq)
);
CREATE TABLE IF NOT EXISTS suppressions (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sends (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    person TEXT,
    at_us INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_number_at ON sends (number, at_us);
CREATE INDEX IF NOT EXISTS sends_person_at ON sends (person, at_us);
CREATE TABLE IF NOT EXISTS lookup_cache (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS engagement (
    number TEXT PRIMARY KEY,
    at_us INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS profiles (address TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS send_slots (key TEXT PRIMARY KEY, slot_us INTEGER NOT NULL);
"""


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


@contextlib.contextmanager
def immediate(
    db: sqlite3.Connection, lock: threading.RLock, what: str
) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction on ``db`` under ``lock``: committed when the block
    ends, rolled back when it raises; a SQLite failure is a StoreUnavailableError naming
    ``what`` failed."""
    with lock:
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"{what} failed: {error}") from error


class SQLiteStore(HoldsByBatch, Store):
    """Consent ledger, send log and reservations in one SQLite file.

    Safe across threads and processes: every write is one ``BEGIN IMMEDIATE`` transaction, so
    reservations for the same recipient (or person) never race, and every commit is fsynced.
    Deleted content is overwritten with zeros (``secure_delete``), and :meth:`forget`
    checkpoints and truncates the write-ahead log, so a forgotten number leaves no bytes behind.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                str(path), timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")
            with self._write() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                row = db.execute(
                    "SELECT value FROM smspolicy_meta WHERE key = 'schema_version'"
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO smspolicy_meta VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                elif int(row[0]) > SCHEMA_VERSION:
                    raise ConfigurationError(
                        f"{path} has schema version {row[0]}; this smspolicy reads up to "
                        f"{SCHEMA_VERSION}: upgrade smspolicy"
                    )
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"cannot open SQLite store {path}: {error}") from error

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db, self._lock, "SQLite write")

    def _read(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise StoreUnavailableError(f"SQLite read failed: {error}") from error

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        with self._write() as db:
            row = db.execute(
                "SELECT seq, hash FROM consent_events WHERE number = ? ORDER BY seq DESC LIMIT 1",
                (event.number,),
            ).fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (0, GENESIS)
            stored = event.chained(seq, prev)
            db.execute(
                "INSERT INTO consent_events (number, seq, hash, record) VALUES (?, ?, ?, ?)",
                (stored.number, stored.seq, stored.hash, encode_event(stored)),
            )
            return stored

    def append_consents(self, events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
        """Chain and store ``events`` in order, as :meth:`append_consent` one after another
        would, in one transaction: all of them or none (one fsync for the lot, where a commit
        each costs an import one fsync per event)."""
        last: dict[str, tuple[int, str]] = {}
        stored: list[ConsentEvent] = []
        with self._write() as db:
            for event in events:
                if event.number not in last:
                    row = db.execute(
                        "SELECT seq, hash FROM consent_events WHERE number = ? "
                        "ORDER BY seq DESC LIMIT 1",
                        (event.number,),
                    ).fetchone()
                    last[event.number] = (int(row[0]), str(row[1])) if row else (-1, GENESIS)
                seq, prev = last[event.number]
                chained = event.chained(seq + 1, prev)
                db.execute(
                    "INSERT INTO consent_events (number, seq, hash, record) VALUES (?, ?, ?, ?)",
                    (chained.number, chained.seq, chained.hash, encode_event(chained)),
                )
                last[event.number] = (chained.seq, chained.hash)
                stored.append(chained)
        return stored

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        result: dict[str, list[ConsentEvent]] = {number: [] for number in numbers}
        for chunk in _chunks(list(result)):
            marks = ",".join("?" * len(chunk))
            for (record,) in self._read(
                f"SELECT record FROM consent_events WHERE number IN ({marks}) ORDER BY number, seq",
                chunk,
            ):
                event = decode_event(str(record))
                result[event.number].append(event)
        return result

    def forget(self, number: str) -> None:
        with self._write() as db:
            revoked = any(
                decode_event(record).kind is ConsentKind.REVOKED
                for (record,) in db.execute(
                    "SELECT record FROM consent_events WHERE number = ?", (number,)
                )
            )
            if revoked:
                db.execute(
                    "INSERT OR IGNORE INTO suppressions VALUES (?)", (suppression_key(number),)
                )
            db.execute("DELETE FROM consent_events WHERE number = ?", (number,))
            db.execute("DELETE FROM sends WHERE number = ?", (number,))
            db.execute("DELETE FROM engagement WHERE number = ?", (number,))
            db.execute("DELETE FROM profiles WHERE address = ?", (number,))
            db.execute("DELETE FROM lookup_cache WHERE instr(key, ?) > 0", (number,))
        self._truncate_wal()

    def _truncate_wal(self) -> None:
        """Copy the write-ahead log into the database file and empty it: the deleted rows'
        old pages (with the number in them) live in the log until then."""
        with self._lock:
            try:
                busy, _pages, _done = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as error:
                raise StoreUnavailableError(f"SQLite checkpoint failed: {error}") from error
        if busy and str(self.path) != ":memory:":
            raise StoreUnavailableError(
                f"{self.path}: the number was erased, but another connection kept the "
                "write-ahead log from being truncated; forget again when it is idle"
            )

    def suppressed(self, numbers: Sequence[str]) -> set[str]:
        keys = {suppression_key(n): n for n in numbers}
        found: set[str] = set()
        for chunk in _chunks(list(keys)):
            marks = ",".join("?" * len(chunk))
            rows = self._read(f"SELECT key FROM suppressions WHERE key IN ({marks})", chunk)
            found.update(keys[str(key)] for (key,) in rows)
        return found

    def record_send(self, record: SendRecord) -> SendRecord:
        with self._write() as db:
            self._insert_send(db, record)
        return record

    @staticmethod
    def _insert_send(db: sqlite3.Connection, record: SendRecord) -> None:
        db.execute(
            "INSERT OR REPLACE INTO sends (id, number, person, at_us, record) "
            "VALUES (?, ?, ?, ?, ?)",
            (record.id, record.number, record.person, micros(record.at), encode_send(record)),
        )

    def _select_sends(
        self, column: str, keys: Sequence[str], since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        result: dict[str, list[SendRecord]] = {key: [] for key in keys}
        for chunk in _chunks(list(result)):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT {column}, record FROM sends WHERE {column} IN ({marks}) "
                "AND at_us >= ? ORDER BY at_us, id",
                [*chunk, micros(since)],
            )
            for key, text in rows:
                result[str(key)].append(decode_send(str(text)))
        return result

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        return self._select_sends("number", numbers, since)

    def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return self._select_sends("person", persons, since)

    def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        persons = persons or {}
        stored: dict[str, list[SendRecord]] = {}
        start = micros(since)
        with self._write() as db:  # one write transaction holds every number and person
            for number in dict.fromkeys(numbers):
                rows = db.execute(
                    "SELECT record FROM sends WHERE number = ? AND at_us >= ? ORDER BY at_us, id",
                    (number, start),
                ).fetchall()
                records = [decode_send(text) for (text,) in rows]
                wanted = list(dict.fromkeys(persons.get(number, ())))
                if wanted:  # the holds written earlier in this transaction are read too
                    marks = ",".join("?" * len(wanted))
                    rows = db.execute(
                        f"SELECT record FROM sends WHERE person IN ({marks}) AND at_us >= ?",
                        [*wanted, start],
                    ).fetchall()
                    records = merged_sends(records, [decode_send(text) for (text,) in rows])
                stored[number] = list(decide(number, records))
                for record in stored[number]:
                    self._insert_send(db, record)
        return stored

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        self.settle_many([(record, provider_id, sent)])

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        with self._write() as db:
            for record, provider_id, sent in settlements:
                row = db.execute("SELECT record FROM sends WHERE id = ?", (record.id,)).fetchone()
                if row is None:
                    continue
                if sent:
                    self._insert_send(db, decode_send(row[0]).as_sent(provider_id))
                else:
                    db.execute("DELETE FROM sends WHERE id = ?", (record.id,))

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO engagement (number, at_us, at, kind) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (number) DO UPDATE SET at_us = excluded.at_us, at = excluded.at, "
                "kind = excluded.kind WHERE excluded.at_us > engagement.at_us",
                (number, micros(at), at.isoformat(), kind),
            )

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        result: dict[str, dt.datetime | None] = dict.fromkeys(numbers)
        for chunk in _chunks(list(result)):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT number, at FROM engagement WHERE number IN ({marks})",
                chunk,
            )
            for number, at in rows:
                result[str(number)] = dt.datetime.fromisoformat(str(at))
        return result

    def numbers(self) -> list[str]:
        rows = self._read("SELECT DISTINCT number FROM consent_events ORDER BY number", ())
        return [str(number) for (number,) in rows]

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        rows = self._read(
            "SELECT value FROM lookup_cache WHERE key = ? AND expires_us > ?", (key, micros(now))
        )
        return str(rows[0][0]) if rows else None

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO lookup_cache (key, value, expires_us) VALUES (?, ?, ?)",
                (key, value, micros(expires)),
            )

    def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        rows = [(address, encode_profile(record)) for address, record in records.items()]
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO profiles (address, record) VALUES (?, ?)", rows)
        return len(rows)

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        result: dict[str, ProfileRecord | None] = dict.fromkeys(addresses)
        for chunk in _chunks(list(result)):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT address, record FROM profiles WHERE address IN ({marks})", chunk
            )
            for address, text in rows:
                result[str(address)] = decode_profile(str(text))
        return result

    def claim_slot(self, key: str, *, now_us: int, interval_us: int) -> int:
        with self._write() as db:
            row = db.execute("SELECT slot_us FROM send_slots WHERE key = ?", (key,)).fetchone()
            slot = now_us if row is None else max(now_us, int(row[0]) + interval_us)
            db.execute(
                "INSERT OR REPLACE INTO send_slots (key, slot_us) VALUES (?, ?)", (key, slot)
            )
        return slot
