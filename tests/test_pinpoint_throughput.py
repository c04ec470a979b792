"""Sender throughput: per-origination-identity slots, shared across processes by the store."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Message
from smspolicy.errors import ConfigurationError
from smspolicy.store import ComposedStore, MemoryStore, SQLiteStore
from smspolicy.testing import FrozenClock
from smspolicy.throughput import SenderThroughput

from .services import REDIS_URL, drop, postgres_store, redis_store

T0 = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
SENDER = "+18885550100"
MS = dt.timedelta(milliseconds=1)


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        made: Any = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "s.sqlite3")
    elif request.param == "postgres":
        made = postgres_store()
    else:
        made = ComposedStore(MemoryStore(), redis_store())  # type: ignore[arg-type]
    yield made
    drop(made)


def test_slots_are_spaced_by_the_rate(store: Any) -> None:
    """At 4 per second, claims at one instant get slots 250 ms apart."""
    limit = SenderThroughput(store, {SENDER: 4})
    assert [limit.slot(SENDER, T0) for _ in range(3)] == [T0, T0 + 250 * MS, T0 + 500 * MS]


def test_a_free_sender_gets_now_and_boundaries_are_exact(store: Any) -> None:
    """A claim exactly one interval after the last slot gets its own instant; one microsecond
    earlier waits for it; later than that, the claim's own instant."""
    limit = SenderThroughput(store, {SENDER: 4})
    assert limit.slot(SENDER, T0) == T0
    at = T0 + 250 * MS
    assert limit.slot(SENDER, at) == at
    early = at + 250 * MS - dt.timedelta(microseconds=1)
    assert limit.slot(SENDER, early) == at + 250 * MS
    late = T0 + dt.timedelta(seconds=5)
    assert limit.slot(SENDER, late) == late


def test_intervals_round_up() -> None:
    """At 3 per second the spacing is 333,334 microseconds (never shorter)."""
    limit = SenderThroughput(MemoryStore(), {SENDER: 3})
    limit.slot(SENDER, T0)
    assert limit.slot(SENDER, T0) == T0 + dt.timedelta(microseconds=333_334)


def test_senders_have_their_own_slots() -> None:
    """Each origination identity has its own limit; others use the default, or none."""
    store = MemoryStore()
    limit = SenderThroughput(store, {SENDER: 1}, default=2)
    assert limit.rate(SENDER) == 1.0
    assert limit.rate("other") == 2.0
    assert limit.rate(None) is None
    limit.slot(SENDER, T0)
    assert limit.slot("other", T0) == T0
    assert limit.slot("other", T0) == T0 + 500 * MS
    assert limit.slot(SENDER, T0) == T0 + 1000 * MS
    unlimited = SenderThroughput(store, {SENDER: 1})
    assert unlimited.slot("other", T0) == unlimited.slot("other", T0) == T0


def test_check_allows_then_defers_to_the_slot() -> None:
    """check() allows a message with a free slot and defers the next to its slot."""
    clock = FrozenClock(T0)
    limit = SenderThroughput(MemoryStore(), {SENDER: 2}, clock=clock)
    message = Message("+12125550123", "deals", "marketing", sender=SENDER)
    assert limit.check(message).allowed
    deferred = limit.check(message)
    assert deferred.verdict.value == "defer"
    assert deferred.until == T0 + 500 * MS
    assert deferred.codes == ("throughput.slot",)
    assert deferred.reasons[0].data == {"sender": SENDER, "rate": 2.0}
    assert "2 messages per second" in deferred.explain()
    assert limit.check(Message("+12125550123", "deals", "marketing")).allowed  # no sender
    clock.set(T0 + dt.timedelta(seconds=2))
    assert limit.check(message).allowed


def test_wait_sleeps_until_the_slot() -> None:
    """wait() claims the slot and sleeps the time until it."""
    slept: list[float] = []
    limit = SenderThroughput(MemoryStore(), {SENDER: 4}, clock=FrozenClock(T0))
    assert limit.wait(SENDER, sleep=slept.append) == T0
    assert limit.wait(SENDER, sleep=slept.append) == T0 + 250 * MS
    assert slept == [0.25]


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf"), True, "5", 2_000_000])
def test_bad_rates_are_refused(rate: object) -> None:
    """A rate must be a number above 0 and at most a million per second."""
    with pytest.raises(ConfigurationError):
        SenderThroughput(MemoryStore(), {SENDER: rate})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError):
        SenderThroughput(MemoryStore(), {}, default=rate)  # type: ignore[arg-type]


def test_a_store_without_slots_is_refused() -> None:
    """The limit needs a store that hands out slots."""
    with pytest.raises(ConfigurationError, match="send slots"):
        SenderThroughput(object(), {SENDER: 1})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="rates must map"):
        SenderThroughput(MemoryStore(), [SENDER])  # type: ignore[arg-type]


# --- four processes ------------------------------------------------------------------------

RATE = 5
PER_PROCESS = 12
PROCESSES = 4


def _claims(kind: str, where: str, queue: Any) -> None:
    if kind == "sqlite":
        store: Any = SQLiteStore(where)
    else:
        from smspolicy.store.redis import RedisStore

        store = RedisStore(REDIS_URL, prefix=where)
    limit = SenderThroughput(store, {SENDER: RATE})
    slots = [limit.slot(SENDER) for _ in range(PER_PROCESS)]
    queue.put([(s - T0) // dt.timedelta(microseconds=1) for s in slots])
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_four_processes_never_exceed_the_rate(kind: str, tmp_path: Path) -> None:
    """Slots claimed by 4 processes at once: all distinct, and no one-second window holds
    more than the rate."""
    if kind == "sqlite":
        where = str(tmp_path / "shared.sqlite3")
        SQLiteStore(where).close()
        cleanup: Any = None
    else:
        cleanup = redis_store()
        where = cleanup.prefix
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_claims, args=(kind, where, queue)) for _ in range(PROCESSES)]
    try:
        for worker in workers:
            worker.start()
        slots = sorted(s for _ in workers for s in queue.get(timeout=120))
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        if cleanup is not None:
            drop(cleanup)
    assert len(slots) == len(set(slots)) == PROCESSES * PER_PROCESS
    busiest = max(sum(1 for t in slots if s <= t < s + 1_000_000) for s in slots)
    assert busiest <= RATE
    assert busiest == RATE  # the slots are packed: the limit is reached, not just respected
