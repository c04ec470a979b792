"""PostgreSQL and Redis under real load and faults: racing processes, cross-process STOP,
connections cut mid-run."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smspolicy import Engine, Message, Policy, Verdict, rules
from smspolicy.errors import StoreUnavailableError
from smspolicy.store import ComposedStore, SendStatus, SQLiteStore, Store
from smspolicy.testing import FrozenClock

from .conftest import T0
from .services import POSTGRES_DSN, REDIS_URL, drop, postgres_store, proxy, redis_store

NUMBER = "+12125550123"

WORKER = """
import json, sys, datetime as dt
from smspolicy import Engine, Message, Policy, rules
from smspolicy.store import ComposedStore, SQLiteStore
from smspolicy.store.postgres import PostgresStore
from smspolicy.store.redis import RedisStore
spec = json.loads(sys.argv[1])
if spec["kind"] == "postgres":
    store = PostgresStore(spec["dsn"], schema=spec["schema"])
else:
    counters = RedisStore(spec["url"], prefix=spec["prefix"])
    store = ComposedStore(SQLiteStore(spec["ledger"]), counters)
if spec["action"] == "stop":
    engine = Engine(Policy(rules.consent(), name="p"), store)
    print(engine.inbound("STOP", "+12125550123").kind.value)
    sys.exit(0)
engine = Engine(Policy(rules.frequency_cap(3, dt.timedelta(days=1)), name="p"), store)
if spec["action"] == "batch":
    counts = {}
    for _ in range(4):
        numbers = ("+12125550123", "+12125550124", "+12125550123")
        held = engine.reserve_many([Message(n, "deals", "marketing") for n in numbers])
        engine.settle_many([(h, "x", True) for h in held if h.allowed])
        for h in held:
            if h.allowed:
                counts[h.record.number] = counts.get(h.record.number, 0) + 1
    print(json.dumps(counts))
    sys.exit(0)
got = 0
for _ in range(8):
    held = engine.reserve(Message("+12125550123", "deals", "marketing"))
    if held.allowed:
        held.commit("x")
        got += 1
print(got)
"""


def spec_for(store: Store, tmp_path: Path) -> dict[str, str]:
    if isinstance(store, ComposedStore):
        return {
            "kind": "redis",
            "url": REDIS_URL,
            "prefix": store.counters.prefix,  # type: ignore[attr-defined]
            "ledger": str(store.ledger.path),
        }  # type: ignore[attr-defined]
    return {"kind": "postgres", "dsn": POSTGRES_DSN, "schema": store.schema}  # type: ignore[attr-defined]


def run_workers(spec: dict[str, str], action: str, count: int) -> list[str]:
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps({**spec, "action": action})],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def shared_store(kind: str, tmp_path: Path) -> Store:
    if kind == "postgres":
        return postgres_store()  # type: ignore[return-value]
    return ComposedStore(SQLiteStore(tmp_path / "ledger.db"), redis_store())  # type: ignore[arg-type]


@pytest.fixture(params=["postgres", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    """PostgreSQL, and Redis counters beside a SQLite ledger."""
    return str(request.param)


def test_racing_processes_never_exceed_the_cap(kind: str, tmp_path: Path) -> None:
    """Four processes racing to reserve for one recipient under a cap of 3 never send more than
    3, race after race."""
    for race in range(6):
        store = shared_store(kind, tmp_path / str(race))
        try:
            counts = [int(n) for n in run_workers(spec_for(store, tmp_path / str(race)), "race", 4)]
            assert sum(counts) == 3, counts
            sent = store.sends([NUMBER], since=T0 - dt.timedelta(days=3650))[NUMBER]
            assert [s.status for s in sent] == [SendStatus.SENT] * 3
        finally:
            drop(store)


def test_racing_batches_never_exceed_the_cap(kind: str, tmp_path: Path) -> None:
    """Four processes reserving overlapping batches (two messages to one number in each) under
    a cap of 3 never send more than 3 to either number, race after race."""
    numbers = ["+12125550123", "+12125550124"]
    for race in range(4):
        store = shared_store(kind, tmp_path / str(race))
        try:
            outputs = run_workers(spec_for(store, tmp_path / str(race)), "batch", 4)
            counts = [json.loads(out) for out in outputs]
            assert [sum(c.get(n, 0) for c in counts) for n in numbers] == [3, 3], counts
            sent = store.sends(numbers, since=T0 - dt.timedelta(days=3650))
            assert [len(sent[n]) for n in numbers] == [3, 3]
            assert {s.status for n in numbers for s in sent[n]} == {SendStatus.SENT}
        finally:
            drop(store)


def test_stop_in_one_process_is_seen_by_another(kind: str, tmp_path: Path) -> None:
    """A STOP written by one process is seen by this process's engine at once."""
    store = shared_store(kind, tmp_path)
    try:
        engine = Engine(Policy(rules.consent(), name="p"), store)
        engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
        assert engine.evaluate(Message(NUMBER, "deals", "marketing")).allowed
        assert run_workers(spec_for(store, tmp_path), "stop", 1) == ["opt_out"]
        assert engine.evaluate(Message(NUMBER, "deals", "marketing")).codes == ("consent.revoked",)
    finally:
        drop(store)


@pytest.fixture
def cut_postgres() -> Iterator[tuple[Store, object]]:
    """A PostgresStore that talks to the server through a proxy the test can cut."""
    with proxy(5432) as p:
        dsn = POSTGRES_DSN.replace("port=5432", f"port={p.port}")
        store = postgres_store(dsn, timeout=2.0)
        yield store, p  # type: ignore[misc]
        p.restore()
        drop(store)


@pytest.fixture
def cut_redis(tmp_path: Path) -> Iterator[tuple[Store, object]]:
    """Redis counters (through a proxy the test can cut) beside a SQLite ledger."""
    with proxy(6379) as p:
        url = REDIS_URL.replace(":6379", f":{p.port}")
        store = ComposedStore(SQLiteStore(tmp_path / "l.db"), redis_store(url, timeout=2.0))  # type: ignore[arg-type]
        yield store, p
        p.restore()
        drop(store)


@pytest.mark.parametrize("setup", ["cut_postgres", "cut_redis"])
def test_outage_fails_closed_and_loses_nothing(setup: str, request: pytest.FixtureRequest) -> None:
    """With the connection cut, nothing is allowed and writes fail loudly; when it returns the
    engine recovers and everything recorded before is still there."""
    store, link = request.getfixturevalue(setup)
    clock = FrozenClock(T0)
    policy = Policy(rules.consent(), rules.frequency_cap(5, dt.timedelta(days=1)), name="p")
    engine = Engine(policy, store, clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
    held = engine.reserve(Message(NUMBER, "deals", "marketing"))
    held.commit("before")

    link.cut()  # type: ignore[attr-defined]
    during = engine.evaluate(Message(NUMBER, "deals", "marketing"))
    assert during.verdict is Verdict.DENY
    assert during.codes == ("store.unavailable",)
    refused = engine.reserve(Message(NUMBER, "deals", "marketing"))
    assert not refused.allowed
    assert refused.decision.codes == ("store.unavailable",)
    batch = engine.reserve_many([Message(NUMBER, "deals", "marketing")] * 2)
    assert [h.decision.codes for h in batch] == [("store.unavailable",)] * 2
    assert not any(h.allowed for h in batch)
    if setup == "cut_postgres":
        with pytest.raises(StoreUnavailableError):
            engine.inbound("STOP", NUMBER)
    else:
        with pytest.raises(StoreUnavailableError):
            engine.record_sent(Message(NUMBER, "deals", "marketing"))

    link.restore()  # type: ignore[attr-defined]
    # The connection pool reconnects in the background, backing off while the server was away:
    # the engine keeps failing closed until then, and recovers within a bounded time.
    deadline = time.monotonic() + 60
    after = engine.evaluate(Message(NUMBER, "deals", "marketing"))
    while not after.allowed and time.monotonic() < deadline:
        assert after.codes == ("store.unavailable",)
        time.sleep(0.5)
        after = engine.evaluate(Message(NUMBER, "deals", "marketing"))
    assert after.allowed
    sends = store.sends([NUMBER], since=T0 - dt.timedelta(days=1))[NUMBER]
    assert [(s.provider_id, s.status) for s in sends] == [("before", SendStatus.SENT)]
    history = engine.consent.history(NUMBER)
    assert [e.kind.value for e in history] == ["confirmed"]
