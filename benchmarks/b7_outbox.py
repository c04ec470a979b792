"""B7 outbox: holds/s and releases/s with 4 worker processes on PostgreSQL, Redis and SQLite
(one machine), counting duplicates and lost messages (both must be zero). Targets: >= 5,000
releases/s on Redis and >= 2,000/s on PostgreSQL on a 2-core machine.

Holds: 4 processes hold MESSAGES messages in all through ``Outbox.hold`` (one store call each);
floor: the same processes writing one bare row each (PostgreSQL and SQLite: one INSERT per
transaction; Redis: one ZADD).

Releases: 4 processes run ``Outbox.run(send, batch=BATCH, once=True)`` until nothing is due;
each release is claimed, decided again through ``Engine.reserve_many`` (an engine on a
MemoryStore with an empty policy: the outbox's own cost is measured, not a policy's), handed
to a sender that returns a provider id, recorded and completed. Floor: the same processes
running the bare claim loop on a table (queue) of the same size: PostgreSQL ``UPDATE ... WHERE
id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT BATCH) RETURNING id`` per batch, SQLite the same
without SKIP LOCKED in ``BEGIN IMMEDIATE``, Redis a bare claim script (ZRANGEBYSCORE + ZREM of
BATCH ids). Duplicates are ids sent by more than one call; lost are held ids never sent.

Run: python benchmarks/b7_outbox.py [MESSAGES] [BATCH] [BACKENDS]
BACKENDS is a comma-separated subset of postgres,redis,sqlite (default: all three).
Needs PostgreSQL on 127.0.0.1:5432 (database test) and Redis on 127.0.0.1:6379 (or the servers
named by SMSPOLICY_TEST_POSTGRES and SMSPOLICY_TEST_REDIS).
"""

from __future__ import annotations

import collections
import datetime as dt
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import machine, report_rate

POSTGRES = os.environ.get(
    "SMSPOLICY_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres"
)
REDIS = os.environ.get("SMSPOLICY_TEST_REDIS", "redis://127.0.0.1:6379/14")
PROCESSES = 4
RECIPIENTS = 200
TARGETS = {"redis": ">= 5,000/s", "postgres": ">= 2,000/s", "sqlite": "- (single node)"}


def _store(spec: dict[str, str]) -> Any:
    if spec["kind"] == "postgres":
        from smspolicy.outbox.postgres import PostgresOutbox

        return PostgresOutbox(POSTGRES, schema=spec["name"])
    if spec["kind"] == "redis":
        from smspolicy.outbox.redis import RedisOutbox

        return RedisOutbox(REDIS, prefix=spec["name"])
    from smspolicy.outbox import SQLiteOutbox

    return SQLiteOutbox(spec["path"], table=spec["name"])


def _messages(first: int, count: int) -> list[Any]:
    from smspolicy import Message

    return [
        Message(f"+1212555{i % RECIPIENTS:04d}", "alerts", "transactional", body=f"m{i}")
        for i in range(first, first + count)
    ]


def hold_worker(spec: dict[str, str], index: int, count: int, start: Any, out: Any) -> None:
    from smspolicy.outbox import Outbox

    outbox = Outbox(_store(spec))
    messages = _messages(index * count, count)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    start.wait()
    began = time.perf_counter()
    for i, message in enumerate(messages):
        outbox.hold(message, due, key=f"{index}-{i}", payload={"n": i})
    out.put(time.perf_counter() - began)
    outbox.close()


def release_worker(spec: dict[str, str], batch: int, start: Any, out: Any) -> None:
    from smspolicy import Engine, Policy
    from smspolicy.outbox import Outbox, Release
    from smspolicy.store import MemoryStore

    engine = Engine(Policy(name="b7"), MemoryStore())
    for message in _messages(0, RECIPIENTS):  # resolve the numbers before the clock starts
        engine.recipient(message)
    outbox = Outbox(_store(spec), engine)
    sent: list[str] = []

    def send(release: Release) -> str:
        sent.append(release.key)
        return "p-" + release.key

    outbox.counts()  # connect before the clock starts
    start.wait()
    began = time.perf_counter()
    stats = outbox.run(send, batch=batch, once=True, handle_signals=False)
    out.put((time.perf_counter() - began, sent, stats.sent))
    outbox.close()


def floor_hold_worker(spec: dict[str, str], index: int, count: int, start: Any, out: Any) -> None:
    if spec["kind"] == "redis":
        import redis

        client = redis.Redis.from_url(REDIS)
        client.ping()
        start.wait()
        began = time.perf_counter()
        for i in range(count):
            client.zadd(f"{{{spec['name']}f}}:h", {f"{index}-{i}": i})
    else:
        db, mark = _floor_db(spec)
        start.wait()
        began = time.perf_counter()
        for i in range(count):
            with _tx(db, spec):
                db.execute(
                    f"INSERT INTO {spec['name']}_h (id, ready) VALUES ({mark}, {mark})",
                    (f"{index}-{i}", i),
                )
    out.put(time.perf_counter() - began)


_POP = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
return ids
"""


def floor_release_worker(spec: dict[str, str], batch: int, start: Any, out: Any) -> None:
    got: list[str] = []
    if spec["kind"] == "redis":
        import redis

        client = redis.Redis.from_url(REDIS)
        pop = client.register_script(_POP)
        key = f"{{{spec['name']}f}}:q"
        pop(keys=[key + "warm"], args=[0, 1])
        start.wait()
        began = time.perf_counter()
        while ids := pop(keys=[key], args=[2**62, batch]):
            got += [i.decode() for i in ids]
    else:
        db, mark = _floor_db(spec)
        skip = " FOR UPDATE SKIP LOCKED" if spec["kind"] == "postgres" else ""
        start.wait()
        began = time.perf_counter()
        while True:
            with _tx(db, spec):
                rows = db.execute(
                    f"UPDATE {spec['name']}_q SET done = 1 WHERE id IN (SELECT id FROM "
                    f"{spec['name']}_q WHERE done = 0 ORDER BY ready LIMIT {mark}{skip}) "
                    "RETURNING id",
                    (batch,),
                ).fetchall()
            if not rows:
                break
            got += [row[0] for row in rows]
    out.put((time.perf_counter() - began, got, len(got)))


class _tx:
    def __init__(self, db: Any, spec: dict[str, str]) -> None:
        self.db, self.kind = db, spec["kind"]

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE" if self.kind == "sqlite" else "BEGIN")

    def __exit__(self, *exc: object) -> None:
        self.db.execute("COMMIT" if exc[0] is None else "ROLLBACK")


def _floor_db(spec: dict[str, str]) -> tuple[Any, str]:
    if spec["kind"] == "postgres":
        import psycopg

        return psycopg.connect(POSTGRES, autocommit=True), "%s"
    import sqlite3

    db = sqlite3.connect(spec["path"], timeout=60, isolation_level=None)
    db.execute("PRAGMA synchronous=FULL")
    return db, "?"


def _prepare_floor(spec: dict[str, str], count: int) -> None:
    """The floor's tables (or sorted set): a hold table, and a queue of ``count`` ready ids."""
    ids = [f"q{i}" for i in range(count)]
    if spec["kind"] == "redis":
        import redis

        client = redis.Redis.from_url(REDIS)
        key = f"{{{spec['name']}f}}:q"
        client.delete(key)
        for first in range(0, count, 5000):
            client.zadd(key, {i: n for n, i in enumerate(ids[first : first + 5000], first)})
        client.close()
        return
    db, mark = _floor_db(spec)
    if spec["kind"] == "sqlite":
        db.execute("PRAGMA journal_mode=WAL")
    name = spec["name"]
    db.execute(f"CREATE TABLE {name}_h (id TEXT PRIMARY KEY, ready BIGINT)")
    db.execute(f"CREATE TABLE {name}_q (id TEXT PRIMARY KEY, ready BIGINT, done INTEGER)")
    db.execute(f"CREATE INDEX {name}_q_ready ON {name}_q (done, ready)")
    with _tx(db, spec):
        for n, i in enumerate(ids):
            db.execute(f"INSERT INTO {name}_q VALUES ({mark}, {mark}, 0)", (i, n))
    db.close()


def _race(target: Any, args_for: list[tuple[Any, ...]]) -> list[Any]:
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Barrier(len(args_for)), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args, start, out)) for args in args_for]
    for process in processes:
        process.start()
    results = [out.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a worker failed (exit {process.exitcode})")
    return results


def _cleanup(spec: dict[str, str]) -> None:
    if spec["kind"] == "postgres":
        import psycopg

        with psycopg.connect(POSTGRES, autocommit=True) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {spec['name']} CASCADE")
            db.execute(f"DROP TABLE IF EXISTS {spec['name']}_h, {spec['name']}_q")
    elif spec["kind"] == "redis":
        import redis

        client = redis.Redis.from_url(REDIS)
        for pattern in (f"{{{spec['name']}}}:*", f"{{{spec['name']}f}}:*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        client.close()


def run(kind: str, messages: int, batch: int, folder: Path) -> None:
    name = "b7_" + uuid.uuid4().hex[:10]
    spec = {"kind": kind, "name": name, "path": str(folder / f"{name}.sqlite3")}
    per = messages // PROCESSES
    total = per * PROCESSES
    try:
        _store(spec).close()  # create the table before the race
        _prepare_floor(spec, total)
        hold_times = _race(hold_worker, [(spec, i, per) for i in range(PROCESSES)])
        floor_hold = _race(floor_hold_worker, [(spec, i, per) for i in range(PROCESSES)])
        releases = _race(release_worker, [(spec, batch)] * PROCESSES)
        floor = _race(floor_release_worker, [(spec, batch)] * PROCESSES)
        store = _store(spec)
        counts = {state.value: n for state, n in store.counts().items()}
        store.close()
    finally:
        _cleanup(spec)
    keys = collections.Counter(key for _t, sent, _n in releases for key in sent)
    duplicates = sum(n - 1 for n in keys.values())
    lost = total - len(keys)
    floor_ids = collections.Counter(i for _t, got, _n in floor for i in got)
    report_rate(f"B7 {kind} holds", total / max(hold_times), total / max(floor_hold), "-")
    report_rate(
        f"B7 {kind} releases",
        total / max(t for t, _s, _n in releases),
        total / max(t for t, _g, _n in floor),
        TARGETS[kind],
    )
    print(
        f"B7 {kind} duplicates {duplicates} lost {lost} | outbox {counts} | "
        f"floor duplicates {sum(n - 1 for n in floor_ids.values())} "
        f"lost {total - len(floor_ids)}"
    )


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    kinds = sys.argv[3].split(",") if len(sys.argv) > 3 else ["postgres", "redis", "sqlite"]
    print(f"B7 outbox: {messages} messages, {PROCESSES} processes, batch {batch}; {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            run(kind, messages, batch, Path(folder))


if __name__ == "__main__":
    main()
