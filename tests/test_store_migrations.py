"""Databases written by earlier versions keep working: SQLite files at schema version 1 and
PostgreSQL schemas at any earlier migration open, are brought up to date, and their sends
count for person caps; a database from a newer version is refused."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from smspolicy import Engine, Message, Policy, Verdict, rules
from smspolicy.errors import ConfigurationError
from smspolicy.store import SQLiteStore, Store
from smspolicy.testing import FrozenClock

from .conftest import T0
from .services import POSTGRES_DSN, drop, postgres_store

OLD, NEW = "+12125550151", "+12125550152"

# The schema of SQLite stores at version 1, as the first release wrote it.
SQLITE_V1 = """
CREATE TABLE smspolicy_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE consent_events (
    number TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (number, seq)
);
CREATE TABLE suppressions (key TEXT PRIMARY KEY);
CREATE TABLE sends (
    id TEXT PRIMARY KEY, number TEXT NOT NULL, person TEXT, at_us INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX sends_number_at ON sends (number, at_us);
CREATE INDEX sends_person_at ON sends (person, at_us);
CREATE TABLE lookup_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_us INTEGER NOT NULL);
CREATE TABLE engagement (
    number TEXT PRIMARY KEY, at_us INTEGER NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL
);
INSERT INTO smspolicy_meta VALUES ('schema_version', '1');
"""

# A send an earlier version logged an hour before T0 for person p, as its stored text.
OLD_SEND = (
    '{"at": "2025-01-15T14:00:00+00:00", "brand": null, "channel": "sms", "content_key": "k", '
    '"expires": null, "id": "old-1", "number": "+12125550151", "person": "p", '
    '"provider_id": "x", "purpose": "marketing", "sender": null, "status": "sent", '
    '"topic": "deals"}'
)
OLD_AT_US = 1736949600000000  # 2025-01-15 14:00 UTC in microseconds since the epoch


def _person_cap_holds(store: Store) -> None:
    """The old send of person p counts: under a cap of 2 for the person, one more message on
    another number is allowed and the next deferred until the old send is a day old."""
    clock = FrozenClock(T0)
    policy = Policy(rules.frequency_cap(2, dt.timedelta(days=1), scope="all"), name="p")
    engine = Engine(policy, store, clock)
    since = T0 - dt.timedelta(days=1)
    assert [r.id for r in store.person_sends(["p"], since=since)["p"]] == ["old-1"]
    assert [r.id for r in store.sends([OLD], since=since)[OLD]] == ["old-1"]
    first = engine.reserve(Message(NEW, "deals", "marketing", person="p"))
    assert first.allowed
    first.commit("y")
    refused = engine.reserve(Message(NEW, "deals", "marketing", person="p")).decision
    assert (refused.verdict, refused.until) == (Verdict.DEFER, T0 + dt.timedelta(hours=23))


def test_sqlite_version_1_opens_and_counts_for_persons(tmp_path: Path) -> None:
    """A SQLite file at schema version 1 with sends logged by an earlier version opens as it
    is, and its sends count for person caps."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(SQLITE_V1)
        db.execute("INSERT INTO sends VALUES ('old-1', ?, 'p', ?, ?)", (OLD, OLD_AT_US, OLD_SEND))
    store = SQLiteStore(path)
    try:
        _person_cap_holds(store)
        (version,) = store._read("SELECT value FROM smspolicy_meta", ())[0]
        assert version == "1"
    finally:
        store.close()


def test_sqlite_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    """A SQLite file whose schema a newer smspolicy wrote is refused with a clear error."""
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as db:
        db.executescript(SQLITE_V1.replace("'schema_version', '1'", "'schema_version', '2'"))
    with pytest.raises(ConfigurationError, match="upgrade smspolicy"):
        SQLiteStore(path)


@pytest.mark.parametrize("version", [1, 2], ids=["version-1", "version-2"])
def test_postgres_earlier_schema_migrates_and_counts_for_persons(version: int) -> None:
    """A PostgreSQL schema left at an earlier migration, with sends logged then, is migrated
    to the current version on open, and its sends count for person caps."""
    import psycopg

    from smspolicy.store.postgres import MIGRATIONS, PostgresStore

    made = postgres_store()
    schema = made.schema  # type: ignore[attr-defined]
    drop(made)
    store: PostgresStore | None = None
    try:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"CREATE TABLE {schema}.schema_version (version int)")
            for migration in MIGRATIONS[:version]:
                conn.execute(migration.format(schema=schema))
            conn.execute(f"INSERT INTO {schema}.schema_version VALUES ({version})")
            conn.execute(
                f"INSERT INTO {schema}.sends VALUES ('old-1', %s, 'p', %s, %s)",
                (OLD, OLD_AT_US, OLD_SEND),
            )
        store = PostgresStore(POSTGRES_DSN, schema=schema)
        _person_cap_holds(store)
        with psycopg.connect(POSTGRES_DSN) as conn:
            row = conn.execute(f"SELECT version FROM {schema}.schema_version").fetchone()
        assert row == (len(MIGRATIONS),)
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        if store is not None:
            store.close()
