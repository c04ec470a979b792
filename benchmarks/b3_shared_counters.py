"""B3 shared counters: reservations per second from 4 processes on Redis and on PostgreSQL,
counting over-cap sends (must be zero). Targets: Redis >= 20,000/s, PostgreSQL >= 2,000/s.
The floor is the same 4 processes doing one bare round trip per reservation (Redis EVALSHA of a
no-op script; PostgreSQL a one-statement transaction).

Run: python benchmarks/b3_shared_counters.py [PER_PROCESS]
Needs PostgreSQL on 127.0.0.1:5432 (database test) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import machine, report_rate

POSTGRES = "host=127.0.0.1 port=5432 dbname=test user=postgres"
REDIS = "redis://127.0.0.1:6379/14"
RECIPIENTS = 200
CAP = 5
PROCESSES = 4


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
    start.wait()
    began = time.perf_counter()
    granted = 0
    for message in messages:
        held = engine.reserve(message)
        if held.allowed:
            held.commit("x")
            granted += 1
    out.put((time.perf_counter() - began, granted))  # type: ignore[attr-defined]


def floor_worker(
    spec: dict[str, str], count: int, start: multiprocessing.Barrier, out: object
) -> None:
    if spec["kind"] == "postgres":
        import psycopg

        with psycopg.connect(POSTGRES) as conn:
            start.wait()
            began = time.perf_counter()
            for _ in range(count):
                with conn.transaction():
                    conn.execute("SELECT 1")
    else:
        import redis

        client = redis.Redis.from_url(REDIS)
        script = client.register_script("return 1")
        start.wait()
        began = time.perf_counter()
        for i in range(count):
            script(keys=[f"b3floor:{{{i % RECIPIENTS}}}"])
    out.put((time.perf_counter() - began, count))  # type: ignore[attr-defined]


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
    print(
        f"B3 on {machine()}: {PROCESSES} processes x {per_process} reservations over "
        f"{RECIPIENTS} recipients, cap {CAP} per day"
    )
    for kind, target in (("redis", "20,000/s"), ("postgres", "2,000/s")):
        with tempfile.TemporaryDirectory() as folder:
            spec = {
                "kind": kind,
                "schema": "b3_" + uuid.uuid4().hex[:12],
                "prefix": "b3" + uuid.uuid4().hex[:12],
                "ledger": str(Path(folder) / "ledger.sqlite3"),
            }
            store = _store(spec)  # creates the schema once
            rate, granted = race(worker, spec, per_process)
            floor_rate, _ = race(floor_worker, spec, per_process)
            over = granted - RECIPIENTS * CAP
            report_rate(f"B3 {kind} reservations", rate, floor_rate, f">= {target}, zero over cap")
            print(
                f"B3 {kind}: {granted} granted for {RECIPIENTS} recipients x cap {CAP}: "
                f"{max(0, over)} over cap"
            )
            if kind == "postgres":
                store.drop_schema()  # type: ignore[attr-defined]
            print(
                json.dumps(
                    {
                        "kind": kind,
                        "rate": round(rate),
                        "floor": round(floor_rate),
                        "over_cap": max(0, over),
                    }
                )
            )


if __name__ == "__main__":
    main()
