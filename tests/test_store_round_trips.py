"""What a reservation costs in round trips on the real services, and that the shortcuts which
save them keep every count right (a stale memory, a script the server no longer holds)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from smspolicy import Channel, Purpose
from smspolicy.store import ComposedStore, SendRecord, SendStatus, SQLiteStore
from smspolicy.store.redis import RedisStore

from .conftest import T0
from .services import REDIS_URL, drop, postgres_store, redis_store

NUMBER = "+12125550123"
OTHER = "+12125550124"
SINCE = T0 - dt.timedelta(days=1)


class _Counting(redis.Connection):
    """A connection that counts what it sends: one packed send is one round trip."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        super().send_packed_command(command, check_health)


@pytest.fixture
def counted() -> Iterator[RedisStore]:
    """A RedisStore whose round trips are counted (in ``_Counting.sent``)."""
    redis_store()  # skip or fail clearly when Redis is down
    pool = redis.ConnectionPool.from_url(
        REDIS_URL, connection_class=_Counting, decode_responses=True
    )
    store = RedisStore(client=redis.Redis(connection_pool=pool), prefix="t" + uuid.uuid4().hex)
    yield store
    drop(store)


def _round_trips(action: Any) -> int:
    before = _Counting.sent
    action()
    return _Counting.sent - before


def _hold(number: str, *, person: str | None = None, at: dt.datetime = T0) -> SendRecord:
    return SendRecord(
        number=number,
        at=at,
        topic="deals",
        purpose=Purpose.MARKETING,
        channel=Channel.SMS,
        content_key="k",
        person=person,
        status=SendStatus.RESERVED,
        expires=at + dt.timedelta(minutes=5),
    )


def _at_most(limit: int) -> Any:
    """A decision that holds one send for a number while it has fewer than ``limit`` live."""

    def decide(number: str, sends: list[SendRecord]) -> list[SendRecord]:
        live = [r for r in sends if r.counts_at(T0)]
        return [_hold(number)] if len(live) < limit else []

    return decide


def test_redis_snapshot_reads_sends_persons_and_engagement_in_one_round_trip(
    counted: RedisStore,
) -> None:
    """A Redis store's snapshot is one round trip (the read script and the engagement read in
    one pipeline, with no script check before it) and says what the separate reads say."""
    counted.reserve_many([NUMBER], since=SINCE, decide=lambda n, _s: [_hold(n, person="ada")])
    counted.record_send(_hold(OTHER, person="ada").as_sent("x"))
    counted.record_engagement(NUMBER, at=T0, kind="reply")
    snapshot: list[Any] = []
    trips = _round_trips(
        lambda: snapshot.append(counted.snapshot([NUMBER, OTHER], persons=["ada"], since=SINCE))
    )
    assert trips == 1
    (read,) = snapshot
    assert read.sends == counted.sends([NUMBER, OTHER], since=SINCE)
    assert read.person_sends == counted.person_sends(["ada"], since=SINCE)
    assert len(read.person_sends["ada"]) == 2
    assert read.engagement == counted.last_engagement([NUMBER, OTHER])
    assert read.engagement[NUMBER] == T0
    assert read.engagement[OTHER] is None
    assert read.consent == {}
    assert read.suppressed == frozenset()


def test_redis_reservation_after_a_snapshot_writes_without_reading_again(
    counted: RedisStore,
) -> None:
    """Numbers the batch's snapshot has just read are held in one round trip (the write, on
    condition of the version read), not a read and a write."""
    counted.snapshot([NUMBER, OTHER], since=SINCE)
    counted.reserve_many([NUMBER, OTHER], since=SINCE, decide=_at_most(5))  # gives them keys
    counted.snapshot([NUMBER, OTHER], since=SINCE)
    stored: list[dict[str, list[SendRecord]]] = []
    trips = _round_trips(
        lambda: stored.append(
            counted.reserve_many([NUMBER, OTHER], since=SINCE, decide=_at_most(5))
        )
    )
    assert trips == 1
    assert [len(stored[0][n]) for n in (NUMBER, OTHER)] == [1, 1]
    assert len(counted.sends([NUMBER], since=SINCE)[NUMBER]) == 2


def test_redis_hold_decided_on_a_stale_memory_is_decided_again_on_the_sends(
    counted: RedisStore,
) -> None:
    """When another store wrote since this one last read a number, a hold decided on what
    this one remembers does not land: the number is read and decided again, and a cap of one
    is never exceeded."""
    other = RedisStore(REDIS_URL, prefix=counted.prefix)
    counted.reserve_many([NUMBER], since=SINCE, decide=lambda n, _s: [])  # nothing held yet
    counted.reserve_many([NUMBER], since=SINCE, decide=_at_most(9))  # remembered: one hold
    assert other.reserve_many([NUMBER], since=SINCE, decide=_at_most(2))[NUMBER]  # now two
    held = counted.reserve_many([NUMBER], since=SINCE, decide=_at_most(2))
    assert held == {NUMBER: []}
    assert len(counted.sends([NUMBER], since=SINCE)[NUMBER]) == 2
    other.close()


@pytest.mark.parametrize("cluster", [False, True], ids=["standalone", "cluster"])
def test_redis_hold_that_lost_a_race_is_decided_again_without_a_read(
    counted: RedisStore, cluster: bool
) -> None:
    """A write that finds the version moved brings back the number's sends: the hold is decided
    again on them and written, two round trips in all (no read between), and a cap of three
    counts the other store's hold; on Redis Cluster too (one script call per number)."""
    counted._cluster = cluster
    other = RedisStore(REDIS_URL, prefix=counted.prefix)
    counted.reserve_many([NUMBER], since=SINCE, decide=lambda n, _s: [])  # nothing held yet
    counted.reserve_many([NUMBER], since=SINCE, decide=_at_most(9))  # remembered: one hold
    assert other.reserve_many([NUMBER], since=SINCE, decide=_at_most(3))[NUMBER]  # now two
    seen: list[int] = []

    def decide(number: str, sends: list[SendRecord]) -> list[SendRecord]:
        seen.append(len(sends))
        return _at_most(3)(number, sends)

    stored: list[dict[str, list[SendRecord]]] = []
    trips = _round_trips(
        lambda: stored.append(counted.reserve_many([NUMBER], since=SINCE, decide=decide))
    )
    assert seen == [1, 2]  # decided on the memory, then on the sends the lost write found
    assert trips == 2
    assert len(stored[0][NUMBER]) == 1
    assert len(counted.sends([NUMBER], since=SINCE)[NUMBER]) == 3
    held = counted.reserve_many([NUMBER], since=SINCE, decide=_at_most(3))
    assert held == {NUMBER: []}  # full: the memory the lost write brought back was current
    other.close()


def test_redis_race_lost_with_a_person_reads_the_person_again(counted: RedisStore) -> None:
    """A number with a person whose write lost a race is read again with its person (its
    claim moved the person's version): a person's cap of two is never exceeded."""
    other = RedisStore(REDIS_URL, prefix=counted.prefix)
    ada = {NUMBER: ["ada"], OTHER: ["ada"]}

    def two_for_ada(number: str, sends: list[SendRecord]) -> list[SendRecord]:
        live = [r for r in sends if r.counts_at(T0) and r.person == "ada"]
        return [_hold(number, person="ada")] if len(live) < 2 else []

    assert counted.reserve_many([NUMBER], since=SINCE, decide=two_for_ada, persons=ada)[NUMBER]
    assert other.reserve_many([OTHER], since=SINCE, decide=two_for_ada, persons=ada)[OTHER]
    held = counted.reserve_many([NUMBER], since=SINCE, decide=two_for_ada, persons=ada)
    assert held == {NUMBER: []}
    assert len(counted.person_sends(["ada"], since=SINCE)["ada"]) == 2
    other.close()


def test_redis_no_decided_on_a_stale_memory_is_read_again(counted: RedisStore) -> None:
    """A number given no hold on what this store remembers is read and decided again: a slot
    another store freed meanwhile is taken, not refused on the old memory."""
    other = RedisStore(REDIS_URL, prefix=counted.prefix)
    (hold,) = counted.reserve_many([NUMBER], since=SINCE, decide=_at_most(1))[NUMBER]
    counted.snapshot([NUMBER], since=SINCE)  # remembers the hold: a cap of one is full
    other.settle(hold, provider_id=None, sent=False)  # released elsewhere
    held = counted.reserve_many([NUMBER], since=SINCE, decide=_at_most(1))
    assert len(held[NUMBER]) == 1
    assert [r.id for r in counted.sends([NUMBER], since=SINCE)[NUMBER]] == [held[NUMBER][0].id]
    other.close()


def test_redis_pipelined_script_the_server_lost_is_loaded_and_run(counted: RedisStore) -> None:
    """A script call in a pipeline that the server answers NOSCRIPT (its scripts were flushed)
    is run again with the script loaded: the read still answers, in full."""
    counted.reserve_many([NUMBER], since=SINCE, decide=_at_most(1))
    counted.record_engagement(NUMBER, at=T0, kind="reply")
    # The same script with a comment of its own: a digest this server has never loaded.
    fresh = counted._redis.register_script(counted._read_script.script + f"\n-- {uuid.uuid4().hex}")
    assert not counted._redis.script_exists(fresh.sha)[0]
    counted._read_script = fresh
    counted._seen.clear()
    read = counted.snapshot([NUMBER], since=SINCE)
    assert len(read.sends[NUMBER]) == 1
    assert read.engagement[NUMBER] == T0
    assert counted._redis.script_exists(fresh.sha)[0]


def test_composed_snapshot_is_the_ledger_and_the_counters_read(tmp_path: Any) -> None:
    """A composed store's snapshot takes consent and suppression from the ledger, sends and
    engagement from the counters' own snapshot."""
    counters = redis_store()
    assert isinstance(counters, RedisStore)
    store = ComposedStore(SQLiteStore(tmp_path / "ledger.sqlite3"), counters)
    try:
        counters.reserve_many([NUMBER], since=SINCE, decide=_at_most(1))
        counters.record_engagement(NUMBER, at=T0, kind="reply")
        read = store.snapshot([NUMBER], since=SINCE)
        assert read.sends == counters.sends([NUMBER], since=SINCE)
        assert read.engagement == {NUMBER: T0}
        assert read.consent == {NUMBER: []}
        assert read.suppressed == frozenset()
    finally:
        drop(counters)


def test_postgres_pool_keeps_generic_plans() -> None:
    """The connections of a PostgreSQL store's own pool keep one generic plan per prepared
    statement (planning a key-list lookup each time cost more than running it)."""
    store = postgres_store()
    try:
        with store._connection() as conn:  # type: ignore[attr-defined]
            row = conn.execute("SHOW plan_cache_mode").fetchone()
        assert row == ("force_generic_plan",)
    finally:
        drop(store)
