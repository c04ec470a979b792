"""Forget leaves nothing behind: after ``Engine.forget`` the raw number is nowhere in the store's
raw storage (Redis keys and values, the SQLite file and its write-ahead log, PostgreSQL's
tables), on every store, while every other recipient's records stay."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from smspolicy import Channel, Engine, Message, Policy, rules
from smspolicy.errors import StoreUnavailableError
from smspolicy.store import ComposedStore, MemoryStore, SQLiteStore, Store
from smspolicy.store.async_base import AsyncComposedStore, BlockingStore, ThreadedStore
from smspolicy.testing import FrozenClock

from .conftest import T0
from .services import REDIS_URL, drop
from .test_store_conformance import BACKENDS, make_store

GONE = "+12125550177"
OTHERS = [f"+1213555{i:04d}" for i in range(300)]  # enough rows for several pages per index
SINCE = T0 - dt.timedelta(days=30)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend in turn."""
    made = make_store(request.param, tmp_path)
    yield made
    drop(made)


def _fill(store: Store, clock: FrozenClock) -> Engine:
    """Consent (revoked at the end), sends on two channels with a person shared with another
    number, a live hold, engagement and a cached lookup for GONE, and records for 300 others."""
    engine = Engine(Policy(rules.frequency_cap(50, dt.timedelta(days=1)), name="p"), store, clock)
    engine.consent.confirm(GONE, topic="deals", purpose="marketing", source="web")
    for number in OTHERS:
        engine.record_sent(Message(number, "deals", "marketing", person=f"p-{number}"))
    engine.record_sent(Message(GONE, "deals", "marketing", person="p"), provider_id="sent-1")
    engine.record_sent(Message(OTHERS[0], "deals", "marketing", person="p"), provider_id="kept")
    engine.record_sent(
        Message("a@example.com", "deals", "marketing", channel=Channel.EMAIL, person="p")
    )
    clock.advance(dt.timedelta(minutes=1))
    held = engine.reserve(Message(GONE, "alerts", "marketing", person="p"))
    assert held.allowed
    held.commit("sent-2")
    assert engine.reserve(Message(GONE, "other", "marketing", person="p")).allowed  # a live hold
    engine.record_engagement(GONE)
    for number in (GONE, OTHERS[1]):  # Redis expires keys by the wall clock: far ahead
        store.cache_put(f"pinpoint:line:{number}", "mobile", expires=T0 + dt.timedelta(days=9999))
    engine.inbound("STOP", GONE)
    return engine


def _checkpoint(store: Store) -> None:
    """Copy a SQLite store's write-ahead log into its file, as SQLite does every 1,000 pages:
    the number is then in the database file itself, not only in the log."""
    while isinstance(store, (BlockingStore, ThreadedStore)):
        store = store.store  # type: ignore[assignment]
    ledger = store.ledger if isinstance(store, (ComposedStore, AsyncComposedStore)) else store
    while isinstance(ledger, ThreadedStore):
        ledger = ledger.store  # type: ignore[assignment]
    if isinstance(ledger, SQLiteStore):
        with sqlite3.connect(ledger.path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert GONE.encode() in ledger.path.read_bytes()


def _raw(store: Store) -> list[bytes]:
    """Everything the store keeps, as raw bytes."""
    if isinstance(store, (BlockingStore, ThreadedStore)):  # an async store: look inside it
        return _raw(store.store)  # type: ignore[arg-type]
    if isinstance(store, AsyncComposedStore):
        return _raw(store.ledger) + _raw(store.counters)  # type: ignore[arg-type]
    if isinstance(store, MemoryStore):
        return [repr(vars(store)).encode()]
    if isinstance(store, SQLiteStore):
        path = store.path
        return [
            p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        ]
    if isinstance(store, ComposedStore):
        return _raw(store.ledger) + _raw(store.counters)  # type: ignore[arg-type]
    if type(store).__name__ in ("PostgresStore", "AsyncPostgresStore"):
        import psycopg

        from .services import POSTGRES_DSN

        schema = store.schema  # type: ignore[attr-defined]
        with psycopg.connect(POSTGRES_DSN) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).fetchall()
            return [
                str(
                    conn.execute(f'SELECT t::text FROM "{schema}"."{name}" AS t').fetchall()
                ).encode()
                for (name,) in tables
            ]
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    dumped: list[bytes] = []
    try:
        for key in client.scan_iter(match=f"{store.prefix}*", count=1000):  # type: ignore[attr-defined]
            dumped.append(key)
            kind = client.type(key)
            if kind == b"string":
                dumped.append(client.get(key) or b"")
            elif kind == b"hash":
                dumped += [b for pair in client.hgetall(key).items() for b in pair]
            elif kind == b"zset":
                dumped += client.zrange(key, 0, -1)
            elif kind == b"set":
                dumped += list(client.smembers(key))
    finally:
        client.close()
    return dumped


def test_forget_leaves_the_number_nowhere(store: Store, clock: FrozenClock) -> None:
    """After forget the raw number is in no byte of the store's storage; the opted-out number
    stays suppressed and every other recipient's sends, the person's other sends and the
    other cache entries stay."""
    engine = _fill(store, clock)
    _checkpoint(store)
    assert any(GONE.encode() in chunk for chunk in _raw(store))  # the scan does see it
    engine.forget(GONE)
    assert [chunk for chunk in _raw(store) if GONE.encode() in chunk] == []
    assert store.suppressed([GONE]) == {GONE}
    person = store.person_sends(["p"], since=SINCE)["p"]
    assert sorted(r.number for r in person) == sorted([OTHERS[0], "a@example.com"])
    assert len(store.sends(OTHERS, since=SINCE)[OTHERS[5]]) == 1
    assert store.cache_get(f"pinpoint:line:{OTHERS[1]}", now=T0) == "mobile"
    assert store.cache_get(f"pinpoint:line:{GONE}", now=T0) is None


def test_sqlite_forget_refused_while_a_reader_keeps_the_log(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """When another connection's read keeps the write-ahead log from being truncated, forget
    says so (the number may still be in the log) instead of reporting success; forgetting
    again once the reader is done empties the log."""
    path = tmp_path / "s.db"
    store = SQLiteStore(path, timeout=0.2)
    engine = _fill(store, clock)
    reader = sqlite3.connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sends").fetchone()
    try:
        with pytest.raises(StoreUnavailableError, match="forget again"):
            engine.forget(GONE)
    finally:
        reader.rollback()
        reader.close()
    engine.forget(GONE)
    assert Path(f"{path}-wal").stat().st_size == 0
    assert [chunk for chunk in _raw(store) if GONE.encode() in chunk] == []
    store.close()


def test_redis_forget_clears_person_indexes_of_earlier_versions(clock: FrozenClock) -> None:
    """A person index written by an earlier version (``prefix:{person:ID}:sends``, members
    ``number|id``) loses the forgotten number's members, and no other member."""
    import redis

    from .services import redis_store

    counters = redis_store()
    store = ComposedStore(MemoryStore(), counters)  # type: ignore[arg-type]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        engine = Engine(Policy(name="p"), store, clock)
        mine = engine.record_sent(Message(GONE, "deals", "marketing", person="p"))
        theirs = engine.record_sent(Message(OTHERS[0], "deals", "marketing", person="p"))
        legacy = f"{counters.prefix}:{{person:p}}:sends"  # type: ignore[attr-defined]
        client.zadd(legacy, {f"{GONE}|{mine.id}": 1, f"{OTHERS[0]}|{theirs.id}": 2})
        engine.forget(GONE)
        assert client.zrange(legacy, 0, -1) == [f"{OTHERS[0]}|{theirs.id}".encode()]
    finally:
        client.close()
        drop(store)


def test_sqlite_forget_zeroes_rows_whatever_the_build_default(
    tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a SQLite built without secure delete by default (python.org and macOS builds), the
    store still overwrites the forgotten rows: the number is in no byte of the file."""
    import smspolicy.store.sqlite as module

    connect = sqlite3.connect

    def insecure(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = connect(*args, **kwargs)  # type: ignore[arg-type]
        db.execute("PRAGMA secure_delete=OFF")
        return db

    monkeypatch.setattr(module.sqlite3, "connect", insecure)
    store = SQLiteStore(tmp_path / "s.db")
    monkeypatch.undo()
    engine = _fill(store, clock)
    _checkpoint(store)
    engine.forget(GONE)
    assert [chunk for chunk in _raw(store) if GONE.encode() in chunk] == []
    store.close()
