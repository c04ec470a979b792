"""B8 async and scale-out.

Part 1: decisions per second of ``AsyncEngine.evaluate`` on one event loop (CONCURRENCY
requests in flight, one message each) with AsyncPostgresStore, and with AsyncPostgresStore for
the ledger plus AsyncRedisStore for the counters; the floor users have today is the same
requests through ``Engine.evaluate`` in a thread pool of THREADS threads on PostgresStore (and
PostgresStore plus RedisStore), measured in the same run, interleaved.

Part 2: ``smspolicy preflight`` rows per second with 1, 2 and 4 workers on the example list
repeated to ROWS rows, and the speedup over one worker.

Run: python benchmarks/b8_async.py [DECISIONS] [ROWS]

Needs PostgreSQL on 127.0.0.1:5432 (database test) and Redis on 127.0.0.1:6379 (or the servers
named by SMSPOLICY_TEST_POSTGRES and SMSPOLICY_TEST_REDIS).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import machine

from smspolicy import AsyncEngine, Engine, Message, Policy, rules
from smspolicy.store import ComposedStore, PostgresStore, RedisStore, Store
from smspolicy.store.async_base import AsyncComposedStore, AsyncStore
from smspolicy.store.async_postgres import AsyncPostgresStore
from smspolicy.store.async_redis import AsyncRedisStore
from smspolicy.testing import FrozenClock

POSTGRES = os.environ.get("SMSPOLICY_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test")
REDIS = os.environ.get("SMSPOLICY_TEST_REDIS", "redis://127.0.0.1:6379/15")
CONCURRENCY = 64
THREADS = 16
ROUNDS = 3
AT = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent


def policy() -> Policy:
    return Policy(
        rules.consent(),
        rules.frequency_cap(3, dt.timedelta(days=1)),
        rules.dedupe(dt.timedelta(days=1)),
        name="b8",
    )


def messages(count: int) -> list[Message]:
    return [Message(f"+1212555{i % 10000:04d}", "deals", "transactional") for i in range(count)]


async def async_rate(engine: AsyncEngine, batch: list[Message]) -> float:
    queue = iter(batch)

    async def client() -> None:
        for message in queue:
            await engine.evaluate(message)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return len(batch) / (time.perf_counter() - start)


def thread_rate(engine: Engine, batch: list[Message]) -> float:
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(engine.evaluate, batch))
    return len(batch) / (time.perf_counter() - start)


async def part_one(count: int) -> None:
    schema = "b8_" + uuid.uuid4().hex[:10]
    sync_pg = PostgresStore(POSTGRES, schema=schema)
    async_pg = AsyncPostgresStore(POSTGRES, schema=schema)
    await async_pg.open()
    setups: list[tuple[str, AsyncStore, Store]] = [
        ("PostgreSQL", async_pg, sync_pg),
        (
            "PostgreSQL + Redis",
            AsyncComposedStore(async_pg, AsyncRedisStore(REDIS, prefix=schema)),
            ComposedStore(sync_pg, RedisStore(REDIS, prefix=schema)),
        ),
    ]
    batch = messages(count)
    try:
        for name, astore, sstore in setups:
            aengine = AsyncEngine(policy(), astore, FrozenClock(AT))
            sengine = Engine(policy(), sstore, FrozenClock(AT))
            await async_rate(aengine, batch[:500])  # warm: pools open, numbers resolved
            thread_rate(sengine, batch[:500])
            arates, srates = [], []
            for _ in range(ROUNDS):
                arates.append(await async_rate(aengine, batch))
                srates.append(await asyncio.to_thread(thread_rate, sengine, batch))
            print(
                f"B8 {name}: AsyncEngine, one loop, {CONCURRENCY} in flight: "
                f"{', '.join(f'{r:,.0f}' for r in arates)}/s | Engine in {THREADS} threads: "
                f"{', '.join(f'{r:,.0f}' for r in srates)}/s | ratio of medians "
                f"{sorted(arates)[1] / sorted(srates)[1]:.2f}x"
            )
    finally:
        await async_pg.drop_schema()
        await async_pg.close()
        sync_pg.close()


def part_two(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        source = (ROOT / "examples" / "recipients.csv").read_text().splitlines()
        header, body = source[0], source[1:]
        lines = [header] + [body[i % len(body)] for i in range(rows)]
        (here / "list.csv").write_text("\n".join(lines) + "\n")
        db = str(here / "db.sqlite3")
        cli = [sys.executable, "-m", "smspolicy.cli"]
        consents = str(ROOT / "examples" / "consents.csv")
        subprocess.run(
            [*cli, "consent", "import", consents, "--db", db], check=True, capture_output=True
        )
        times: dict[int, float] = {}
        outputs: dict[int, bytes] = {}
        for workers in (1, 2, 4):
            out = here / f"out{workers}.csv"
            start = time.perf_counter()
            subprocess.run(
                [
                    *cli,
                    "preflight",
                    str(here / "list.csv"),
                    "--policy",
                    str(ROOT / "examples" / "policy.toml"),
                    "--db",
                    db,
                    "--at",
                    "2026-11-27T15:00:00Z",
                    "--out",
                    str(out),
                    "--quiet",
                    "--workers",
                    str(workers),
                ],
                check=True,
                capture_output=True,
            )
            times[workers] = time.perf_counter() - start
            outputs[workers] = out.read_bytes()
        same = outputs[1] == outputs[2] == outputs[4]
        for workers, seconds in times.items():
            print(
                f"B8 preflight {rows:,} rows, {workers} worker(s): {seconds:.1f} s, "
                f"{rows / seconds:,.0f} rows/s, speedup {times[1] / seconds:.2f}x"
            )
        print(f"B8 preflight outputs identical across worker counts: {same}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 31000
    print(machine(), f"| load average {os.getloadavg()[0]:.1f}")
    asyncio.run(part_one(count))
    part_two(rows)


if __name__ == "__main__":
    main()
