"""Caps shared by a person across numbers hold across processes on SQLite, PostgreSQL and Redis
(threads in one process, on every store: tests/test_reservations.py)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Engine, Message, Policy, rules
from smspolicy.store import ComposedStore, SQLiteStore, Store

from .conftest import T0
from .services import POSTGRES_DSN, REDIS_URL, drop, postgres_store, redis_store

PROCESSES = 4
PERSONS = 16  # one race per person: 4 processes x 3 numbers = 12 reservations, cap 2
CAP = 2


def _open(spec: dict[str, str]) -> Store:
    """The store a worker process opens on the shared data."""
    if spec["kind"] == "sqlite":
        return SQLiteStore(spec["path"])
    if spec["kind"] == "postgres":
        from smspolicy.store.postgres import PostgresStore

        return PostgresStore(spec["dsn"], schema=spec["schema"])
    from smspolicy.store.redis import RedisStore

    return ComposedStore(
        SQLiteStore(spec["ledger"]), RedisStore(spec["url"], prefix=spec["prefix"])
    )


def _numbers(person_index: int) -> list[str]:
    """Each person's own three numbers (a number's own sends count too, so none is shared)."""
    return [f"+1212555{2000 + 3 * person_index + k:04d}" for k in range(3)]


def _policy() -> Policy:
    return Policy(rules.frequency_cap(CAP, dt.timedelta(days=1), scope="all"), name="two-a-day")


def _race_worker(spec: dict[str, str], index: int, barrier: Any, out: Any) -> None:
    """Reserve for each person on each of its three numbers (starting at a different number in
    each process), one at a time for even persons and as one batch for odd ones; commit every
    reservation that is allowed. Puts {person: granted} on ``out``."""
    engine = Engine(_policy(), _open(spec))
    granted: dict[str, int] = {}
    for person_index in range(PERSONS):
        person = f"{spec['tag']}-{person_index}"
        numbers = _numbers(person_index)
        order = [numbers[(index + k) % 3] for k in range(3)]
        messages = [Message(n, "deals", "marketing", person=person) for n in order]
        barrier.wait(timeout=120)
        if person_index % 2 == 0:
            held = [engine.reserve(m) for m in messages]
        else:
            held = engine.reserve_many(messages)
        for reservation in held:
            if reservation.allowed:
                reservation.commit("x")
        granted[person] = sum(r.allowed for r in held)
    out.put(granted)


def _spec(kind: str, tmp_path: Path) -> tuple[dict[str, str], Store]:
    tag = uuid.uuid4().hex[:8]
    if kind == "sqlite":
        path = str(tmp_path / "shared.db")
        return {"kind": kind, "path": path, "tag": tag}, SQLiteStore(path)
    if kind == "postgres":
        store = postgres_store()
        return {"kind": kind, "dsn": POSTGRES_DSN, "schema": store.schema, "tag": tag}, store  # type: ignore[attr-defined]
    counters = redis_store()
    ledger = str(tmp_path / "ledger.db")
    spec = {"kind": kind, "url": REDIS_URL, "prefix": counters.prefix, "ledger": ledger, "tag": tag}  # type: ignore[attr-defined]
    return spec, ComposedStore(SQLiteStore(ledger), counters)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def shared(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Store]]:
    """A store shared by several processes: SQLite, PostgreSQL, Redis counters."""
    spec, store = _spec(str(request.param), tmp_path)
    yield spec, store
    drop(store)


def test_racing_processes_never_exceed_a_persons_cap(shared: tuple[dict[str, str], Store]) -> None:
    """Four processes racing to reserve for one person on three numbers, under a cap of 2 per
    day for the person, never grant a third: zero over cap in every race, and the store holds
    exactly two sends for each person."""
    spec, store = shared
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(PROCESSES), context.Queue()
    workers = [
        context.Process(target=_race_worker, args=(spec, i, barrier, queue))
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    persons = [f"{spec['tag']}-{i}" for i in range(PERSONS)]
    granted = {person: sum(result[person] for result in results) for person in persons}
    assert granted == dict.fromkeys(persons, CAP)
    since = T0 - dt.timedelta(days=3650)
    held = store.person_sends(persons, since=since)
    assert {person: len(records) for person, records in held.items()} == dict.fromkeys(persons, CAP)
