"""B3 shared counters: reservations per second from 4 processes on Redis and on PostgreSQL,
counting over-cap sends (must be zero). Targets: Redis in batches >= 40,000/s, PostgreSQL one at
a time >= 4,000/s (or within 3x of their same-run floors), zero over cap.

Each backend runs twice: one ``Engine.reserve`` (and ``commit``) per message, then
``Engine.reserve_many`` (and ``settle_many``) over batches of BATCH messages. The floor is the
same 4 processes doing the least a reservation needs of the backend: one round trip per message
one at a time (Redis: EVALSHA of a no-op script; PostgreSQL: a one-statement transaction), one
per batch in batches (Redis: a pipeline of no-op EVALSHA, one per message; PostgreSQL: one
one-statement transaction). Before the clock starts, every process resolves its numbers and
opens its connections (a reservation to a number outside the set, released; the floor makes one
call): a long-running sender pays these once.

Each configuration runs ROUNDS times (on a shared 2-core host one short race varies by a third
either way) and reports the median rate and every round's.

Each configuration runs in variants (VARIANTS, default "plain,persons"): ``plain`` caps each
number; ``persons`` gives every message a person owning two of the 200 numbers, so the cap
counts the person's sends on both and each reservation also locks, reads and writes the
person's sends (the cost of person caps); ``consent`` (on request) adds the consent rule, so
every decision reads the recipient's two consent events and checks their hash chain (the
tamper check). A variant's row also gives its time per reservation against the plain one.

Run: python benchmarks/b3_shared_counters.py [PER_PROCESS] [BATCH] [ROUNDS] [VARIANTS]

With ``--persons [RACES]`` it measures person caps instead: RACES races (default 250), each of
the 4 processes reserving for one person on that person's 3 numbers (cap 2 per day for the
person, every process starting at another number, one at a time in even races and as one batch
in odd ones), and reports, per backend, the sends over the cap (must be zero), the persons who
got fewer than 2 (a reservation deferred for a slot that turned out free), the copies a
RedisStore wrote to a person's keys and took back because the address's write lost a race, and
the rate.
Needs PostgreSQL on 127.0.0.1:5432 (database test) and Redis on 127.0.0.1:6379 (or the servers
named by SMSPOLICY_TEST_POSTGRES and SMSPOLICY_TEST_REDIS).
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import statistics
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
RECIPIENTS = 200  # +12125550000 to +12125550199
OUTSIDE = "+12125550999"  # the warm-up's number
CAP = 5
PROCESSES = 4
BATCH = 100
ROUNDS = 5


def _store(spec: dict[str, str]) -> object:
    from smspolicy.store import ComposedStore, MemoryStore, SQLiteStore
    from smspolicy.store.postgres import PostgresStore
    from smspolicy.store.redis import RedisStore

    if spec["kind"] == "postgres":
        return PostgresStore(POSTGRES, schema=spec["schema"])
    del MemoryStore
    return ComposedStore(SQLiteStore(spec["ledger"]), RedisStore(REDIS, prefix=spec["prefix"]))


def _policy(variant: str) -> object:
    """B3's policy: a cap of CAP per day, after consent (with its hash-chain check) in the
    consent variant."""
    from smspolicy import Policy, rules

    cap = rules.frequency_cap(CAP, dt.timedelta(days=1))
    if variant == "consent":
        return Policy(rules.consent(), cap, name="b3-consent")
    return Policy(cap, name="b3")


def _message(index: int, variant: str) -> object:
    """The index-th message of a worker: recipients in turn; in the persons variant each pair
    of numbers belongs to one person, whose cap counts the sends to both."""
    from smspolicy import Message

    number = index % RECIPIENTS
    person = f"b3p{number // 2}" if variant == "persons" else None
    return Message(f"+1212555{number:04d}", "deals", "marketing", person=person)


def _counted(message: object) -> str:
    """What the cap counts a granted message against: its person, else its number."""
    return message.person or message.to  # type: ignore[attr-defined,no-any-return]


def worker(spec: dict[str, str], count: int, start: multiprocessing.Barrier, out: object) -> None:
    from smspolicy import Engine, Message

    store = _store(spec)
    variant = spec.get("variant", "plain")
    engine = Engine(_policy(variant), store)  # type: ignore[arg-type]
    messages = [_message(i, variant) for i in range(count)]
    batch = int(spec["batch"])
    # Warm up before the clock starts, without touching the counted recipients: resolve their
    # numbers (phonenumbers' area-code table is built once per process) and open the store's
    # connections (and load its scripts) with one reservation, released, to a number outside.
    for message in messages[:RECIPIENTS]:
        engine.recipient(message)  # type: ignore[arg-type]
    warm = engine.reserve_many([Message(OUTSIDE, "deals", "marketing")])
    engine.settle_many([(r, None, False) for r in warm if r.allowed])
    start.wait()
    began = time.perf_counter()
    granted: dict[str, int] = {}
    if batch == 1:
        for message in messages:
            held = engine.reserve(message)  # type: ignore[arg-type]
            if held.allowed:
                held.commit("x")
                granted[_counted(message)] = granted.get(_counted(message), 0) + 1
    else:
        for first in range(0, count, batch):
            reservations = engine.reserve_many(messages[first : first + batch])  # type: ignore[arg-type]
            allowed = [r for r in reservations if r.allowed]
            engine.settle_many([(r, "x", True) for r in allowed])
            for reservation in allowed:
                key = _counted(reservation.message)
                granted[key] = granted.get(key, 0) + 1
    out.put((time.perf_counter() - began, granted))  # type: ignore[attr-defined]


def _consent_all(spec: dict[str, str]) -> None:
    """Give every counted recipient (and the warm-up's number) confirmed consent to "deals",
    before the race: two chained ledger events each."""
    from smspolicy import Engine

    store = _store(spec)
    engine = Engine(_policy("consent"), store)  # type: ignore[arg-type]
    for number in [f"+1212555{n:04d}" for n in range(RECIPIENTS)] + [OUTSIDE]:
        engine.consent.opt_in(number, topic="deals", purpose="marketing", source="b3")
        engine.consent.confirm(number, topic="deals", purpose="marketing", source="b3")
    store.close()  # type: ignore[attr-defined]


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
        script(keys=["b3floor:{warm}"])  # connect and load the script before the clock starts
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


def race(target: object, spec: dict[str, str], count: int) -> tuple[float, dict[str, int]]:
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
    granted: dict[str, int] = {}
    for _, each in results:
        if isinstance(each, dict):
            for key, n in each.items():
                granted[key] = granted.get(key, 0) + n
    return PROCESSES * count / wall, granted


def one_round(
    kind: str, size: int, per_process: int, variant: str = "plain"
) -> tuple[float, float, int, int]:
    """One race of the engine and one of the floor, on fresh keys (the caps start empty):
    (rate, floor rate, granted, sends over a cap)."""
    with tempfile.TemporaryDirectory() as folder:
        spec = {
            "kind": kind,
            "batch": str(size),
            "variant": variant,
            "schema": "b3_" + uuid.uuid4().hex[:12],
            "prefix": "b3" + uuid.uuid4().hex[:12],
            "ledger": str(Path(folder) / "ledger.sqlite3"),
        }
        store = _store(spec)  # creates the schema once
        try:
            if variant == "consent":
                _consent_all(spec)
            rate, granted = race(worker, spec, per_process)
            floor_rate, _ = race(floor_worker, spec, per_process)
        finally:
            if kind == "postgres":
                store.drop_schema()  # type: ignore[attr-defined]
            else:
                _drop_keys(spec["prefix"])
    over = sum(max(0, n - CAP) for n in granted.values())
    return rate, floor_rate, sum(granted.values()), over


PERSON_CAP = 2


def person_worker(
    spec: dict[str, str], races: int, start: multiprocessing.Barrier, out: object
) -> None:
    from smspolicy import Engine, Message, Policy, rules
    from smspolicy.store.redis import RedisStore

    taken_back = [0]
    unclaim = RedisStore._unclaim

    def counting(self: RedisStore, claims: list[object]) -> None:
        taken_back[0] += len(claims)
        unclaim(self, claims)  # type: ignore[arg-type]

    RedisStore._unclaim = counting  # type: ignore[method-assign]
    store = _store(spec)
    cap = rules.frequency_cap(PERSON_CAP, dt.timedelta(days=1), scope="all")
    engine = Engine(Policy(cap, name="b3-persons"), store)  # type: ignore[arg-type]
    index = int(spec["index"])
    warm = engine.reserve_many([Message(OUTSIDE, "deals", "marketing", person="warm")])
    engine.settle_many([(r, None, False) for r in warm if r.allowed])
    granted: dict[int, int] = {}
    elapsed = 0.0
    for race in range(races):
        numbers = [f"+1646555{race * 3 + k:04d}" for k in range(3)]  # up to 3,333 races
        order = numbers[index % 3 :] + numbers[: index % 3]
        messages = [Message(n, "deals", "marketing", person=f"p{race}") for n in order]
        start.wait()
        began = time.perf_counter()
        held = engine.reserve_many(messages) if race % 2 else [engine.reserve(m) for m in messages]
        engine.settle_many([(r, "x", True) for r in held if r.allowed])
        elapsed += time.perf_counter() - began
        granted[race] = sum(r.allowed for r in held)
    out.put((granted, taken_back[0], elapsed))  # type: ignore[attr-defined]


def persons_main(races: int) -> None:
    print(
        f"B3 persons on {machine()}: {races} races of {PROCESSES} processes x 3 numbers for "
        f"one person, cap {PERSON_CAP} per day for the person"
    )
    context = multiprocessing.get_context("spawn")
    for kind in ("redis", "postgres"):
        with tempfile.TemporaryDirectory() as folder:
            spec = {
                "kind": kind,
                "schema": "b3p_" + uuid.uuid4().hex[:12],
                "prefix": "b3p" + uuid.uuid4().hex[:12],
                "ledger": str(Path(folder) / "ledger.sqlite3"),
            }
            store = _store(spec)
            try:
                barrier, queue = context.Barrier(PROCESSES), context.Queue()
                procs = [
                    context.Process(
                        target=person_worker,
                        args=({**spec, "index": str(i)}, races, barrier, queue),
                    )
                    for i in range(PROCESSES)
                ]
                for proc in procs:
                    proc.start()
                results = [queue.get(timeout=3600) for _ in procs]
                for proc in procs:
                    proc.join()
            finally:
                if kind == "postgres":
                    store.drop_schema()  # type: ignore[attr-defined]
                else:
                    _drop_keys(spec["prefix"])
        totals = [sum(r[0][race] for r in results) for race in range(races)]
        over = sum(max(0, t - PERSON_CAP) for t in totals)
        under = sum(t < PERSON_CAP for t in totals)
        taken_back = sum(r[1] for r in results)
        rate = PROCESSES * 3 * races / max(r[2] for r in results)
        print(
            f"B3 persons {kind}: {PROCESSES * 3 * races} reservations in {races} races: "
            f"{over} over cap, {under} persons granted fewer than {PERSON_CAP}, "
            f"{taken_back} person copies taken back; {rate:,.0f} reservations/s"
        )
        print(
            json.dumps(
                {
                    "kind": f"{kind}-persons",
                    "reservations": PROCESSES * 3 * races,
                    "over_cap": over,
                    "under_cap": under,
                    "taken_back": taken_back,
                    "rate": round(rate),
                }
            )
        )


VARIANTS = ("plain", "persons")
"""The default variants: ``plain`` (a cap per number), ``persons`` (every message names a
person who owns two of the numbers: the cap counts the person's sends on both, and each
reservation locks and writes the person's keys too). ``consent`` adds the consent rule, with
each recipient's two chained events read and their hash chain checked."""


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--persons":
        persons_main(int(sys.argv[2]) if len(sys.argv) > 2 else 250)
        return
    per_process = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else BATCH
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else ROUNDS
    variants = sys.argv[4].split(",") if len(sys.argv) > 4 else list(VARIANTS)
    print(
        f"B3 on {machine()}: {PROCESSES} processes x {per_process} reservations over "
        f"{RECIPIENTS} recipients, cap {CAP} per day; one at a time, then in batches of {batch}; "
        f"median of {rounds} rounds (each on fresh keys, its floor run right after it); "
        f"variants {', '.join(variants)}"
    )
    targets = {("redis", batch): "40,000/s", ("postgres", 1): "4,000/s"}
    for kind in ("redis", "postgres"):
        for size in (1, batch):
            plain: float | None = None
            for variant in variants:
                results = [one_round(kind, size, per_process, variant) for _ in range(rounds)]
                rate = statistics.median(r[0] for r in results)
                floor_rate = statistics.median(r[1] for r in results)
                over = max(r[3] for r in results)
                suffix = "" if variant == "plain" else f" ({variant})"
                name = f"B3 {kind} reservations, batch {size}{suffix}"
                target = targets.get((kind, size))
                wanted = (
                    f">= {target} or <= 3x floor, zero over cap"
                    if target
                    else "information, zero over cap"
                )
                report_rate(name, rate, floor_rate, wanted)
                rates = ", ".join(f"{r[0]:,.0f}" for r in results)
                grants = sorted({r[2] for r in results})
                counted = "persons" if variant == "persons" else "recipients"
                capped = RECIPIENTS // 2 if variant == "persons" else RECIPIENTS
                against = (
                    ""
                    if plain is None
                    else f"; {plain / rate:.2f}x the plain figure's time per reservation"
                )
                print(
                    f"B3 {kind} batch {size}{suffix}: rounds {rates}/s; "
                    + ", ".join(f"{g} granted" for g in grants)
                    + f" for {capped} {counted} x cap {CAP}: {over} over cap{against}"
                )
                if variant == "plain":
                    plain = rate
                print(
                    json.dumps(
                        {
                            "kind": kind,
                            "batch": size,
                            "variant": variant,
                            "rate": round(rate),
                            "floor": round(floor_rate),
                            "rounds": [round(r[0]) for r in results],
                            "over_cap": over,
                        }
                    )
                )


if __name__ == "__main__":
    main()
