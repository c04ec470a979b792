"""B3 shared counters: reservations per second from 4 processes on Redis and on PostgreSQL,
counting over-cap sends (must be zero). Targets: Redis >= 20,000/s, PostgreSQL >= 2,000/s.

Each backend runs twice: one ``Engine.reserve`` (and ``commit``) per message, then
``Engine.reserve_many`` (and ``settle_many``) over batches of BATCH messages. The floor is the
same 4 processes doing the least a reservation needs of the backend: one round trip per message
one at a time (Redis: EVALSHA of a no-op script; PostgreSQL: a one-statement transaction), one
per batch in batches (Redis: a pipeline of no-op EVALSHA, one per message; PostgreSQL: one
one-statement transaction).

Run: python benchmarks/b3_shared_counters.py [PER_PROCESS] [BATCH]
Needs PostgreSQL on 127.0.0.1:5432 (database test) and Redis on 127.0.0.1:6379 (or the servers
named by SMSPOLICY_TEST_POSTGRES and SMSPOLICY_TEST_REDIS).
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import machine, report_rate

# The servers, overridable like the tests' (the benchmark cleans up its schema and keys).
POSTGRES = os.environ.get(
    "SMSPOLICY_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres"
)
REDIS = os.environ.get("SMSPOLICY_TEST_REDIS", "redis://127.0.0.1:6379/14")
RECIPIENTS = 200
CAP = 5
PROCESSES = 4
BATCH = 100


def _store(spec: dict[str, str]) -> object:
    from smspolicy.store import ComposedStore, MemoryStore, SQLiteStore
    from smspolicy.store.postgres import PostgresStore
    from smspolicy.store.redis import RedisStore

    if spec["kind"] == "postgres":
        return PostgresStore(POSTGRES, schema=spec["schema"])
    del MemoryStore
    return ComposedStore(SQLiteStore(spec["ledger"]), RedisStore(REDIS, prefix=spec["prefix"]))


def worker(spec: dict[str, str], count: int, start: multiprocessing.Barrier, out: object) -> None:
    from smspolicy import Engine, Message, Policy, rules

    store = _store(spec)
    engine = Engine(Policy(rules.frequency_cap(CAP, dt.timedelta(days=1)), name="b3"), store)  # type: ignore[arg-type]
    messages = [
        Message(f"+1212555{i % RECIPIENTS:04d}", "deals", "marketing") for i in range(count)
    ]
    batch = int(spec["batch"])
    for message in messages[:RECIPIENTS]:  # resolve the numbers first: a one-off, not a counter
        engine.recipient(message)
    start.wait()
    began = time.perf_counter()
    granted = 0
    if batch == 1:
        for message in messages:
            held = engine.reserve(message)
            if held.allowed:
                held.commit("x")
                granted += 1
    else:
        for first in range(0, count, batch):
            reservations = engine.reserve_many(messages[first : first + batch])
            allowed = [r for r in reservations if r.allowed]
            engine.settle_many([(r, "x", True) for r in allowed])
            granted += len(allowed)
    out.put((time.perf_counter() - began, granted))  # type: ignore[attr-defined]


def floor_worker(
    spec: dict[str, str], count: int, start: multiprocessing.Barrier, out: object
) -> None:
    batch = int(spec["batch"])
    if spec["kind"] == "postgres":
        import psycopg

        with psycopg.connect(POSTGRES) as conn:
            start.wait()
            began = time.perf_counter()
            for first in range(0, count, batch):  # one one-statement transaction per batch
                with conn.transaction():
                    conn.execute("SELECT %s::int", (first,))
    else:
        import redis

        client = redis.Redis.from_url(REDIS)
        script = client.register_script("return 1")
        start.wait()
        began = time.perf_counter()
        for first in range(0, count, batch):  # one round trip per batch: a no-op per message
            pipe = client.pipeline(transaction=False)
            for i in range(first, min(count, first + batch)):
                script(keys=[f"b3floor:{{{i % RECIPIENTS}}}"], client=pipe)
            pipe.execute()
    out.put((time.perf_counter() - began, count))  # type: ignore[attr-defined]


def _drop_keys(prefix: str) -> None:
    """Delete the run's Redis keys (they would otherwise live for the store's retention)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    for pattern in (f"{prefix}:*", "b3floor:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for first in range(0, len(keys), 1000):
            client.delete(*keys[first : first + 1000])
    client.close()


def race(target: object, spec: dict[str, str], count: int) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(PROCESSES), context.Queue()
    procs = [
        context.Process(target=target, args=(spec, count, barrier, queue)) for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    wall = max(seconds for seconds, _ in results)
    return PROCESSES * count / wall, sum(granted for _, granted in results)


def main() -> None:
    per_process = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else BATCH
    print(
        f"B3 on {machine()}: {PROCESSES} processes x {per_process} reservations over "
        f"{RECIPIENTS} recipients, cap {CAP} per day; one at a time, then in batches of {batch}"
    )
    for kind, target in (("redis", "20,000/s"), ("postgres", "2,000/s")):
        for size in (1, batch):
            with tempfile.TemporaryDirectory() as folder:
                spec = {
                    "kind": kind,
                    "batch": str(size),
                    "schema": "b3_" + uuid.uuid4().hex[:12],
                    "prefix": "b3" + uuid.uuid4().hex[:12],
                    "ledger": str(Path(folder) / "ledger.sqlite3"),
                }
                store = _store(spec)  # creates the schema once
                rate, granted = race(worker, spec, per_process)
                floor_rate, _ = race(floor_worker, spec, per_process)
                over = granted - RECIPIENTS * CAP
                name = f"B3 {kind} reservations, batch {size}"
                report_rate(name, rate, floor_rate, f">= {target}, zero over cap")
                print(
                    f"B3 {kind} batch {size}: {granted} granted for {RECIPIENTS} recipients x "
                    f"cap {CAP}: {max(0, over)} over cap"
                )
                if kind == "postgres":
                    store.drop_schema()  # type: ignore[attr-defined]
                else:
                    _drop_keys(spec["prefix"])
                print(
                    json.dumps(
                        {
                            "kind": kind,
                            "batch": size,
                            "rate": round(rate),
                            "floor": round(floor_rate),
                            "over_cap": max(0, over),
                        }
                    )
                )


if __name__ == "__main__":
    main()
