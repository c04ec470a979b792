"""One conformance suite for every store: memory, SQLite, PostgreSQL and Redis (composed with a
SQL ledger)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy.store import (
    GENESIS,
    BatchReservations,
    ComposedStore,
    ConsentEvent,
    MemoryStore,
    SendRecord,
    SendStatus,
    Snapshot,
    SQLiteStore,
    Store,
)

from .async_support import LOOP, blocking, make_async_store
from .conftest import T0
from .services import drop, postgres_store, redis_store

A, B = "+12125550123", "+12125550124"
BACKENDS = ["memory", "sqlite", "postgres", "redis", "async-postgres", "async-redis", "threaded"]


def make_store(kind: str, tmp_path: Path) -> Store:
    """A fresh store of the given kind."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / f"store-{id(tmp_path)}.db")
    if kind == "postgres":
        return postgres_store()  # type: ignore[return-value]
    if kind.startswith("async-") or kind == "threaded":  # async stores, seen synchronously
        return blocking(LOOP.run(make_async_store(kind, tmp_path)))
    return ComposedStore(SQLiteStore(tmp_path / "ledger.db"), redis_store())  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend in turn."""
    made = make_store(request.param, tmp_path)
    yield made
    drop(made)


def event(number: str = A, kind: str = "confirmed", minutes: int = 0, **kw: object) -> ConsentEvent:
    return ConsentEvent(
        kind=kind,
        number=number,
        at=T0 + dt.timedelta(minutes=minutes),
        source="test",
        topic="deals",
        purpose="marketing",
        **kw,  # type: ignore[arg-type]
    )


def send(number: str = A, minutes: int = 0, **kw: object) -> SendRecord:
    fields: dict[str, object] = {
        "number": number,
        "at": T0 + dt.timedelta(minutes=minutes),
        "topic": "deals",
        "purpose": "marketing",
        "channel": "sms",
        "content_key": "k",
    }
    fields.update(kw)
    return SendRecord(**fields)  # type: ignore[arg-type]


def test_consent_chain(store: Store) -> None:
    """Appends are numbered and chained per recipient, and read back in order."""
    first = store.append_consent(event())
    second = store.append_consent(event(kind="revoked", minutes=1, evidence={"ip": "1.2.3.4"}))
    other = store.append_consent(event(B))
    assert (first.seq, first.prev_hash) == (0, GENESIS)
    assert (second.seq, second.prev_hash) == (1, first.hash)
    assert (other.seq, other.prev_hash) == (0, GENESIS)
    read = store.consent_events([A, B, "+12125550199"])
    assert read[A] == [first, second]
    assert read[A][1].evidence == {"ip": "1.2.3.4"}
    assert read[B] == [other]
    assert read["+12125550199"] == []
    assert store.numbers() == [A, B]


def test_concurrent_appends_never_fork(store: Store) -> None:
    """Threads appending to one recipient leave one intact chain."""
    from smspolicy.consent import verify_chain

    threads = [
        threading.Thread(target=lambda i=i: store.append_consent(event(minutes=i)))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    chain = store.consent_events([A])[A]
    assert len(chain) == 8
    verify_chain(chain)


def test_forget_and_suppression(store: Store) -> None:
    """forget erases events and sends; only an opted-out number stays suppressed."""
    store.append_consent(event())
    store.append_consent(event(kind="revoked", minutes=1))
    store.append_consent(event(B))
    store.record_send(send())
    store.forget(A)
    store.forget(B)
    assert store.consent_events([A])[A] == []
    assert store.sends([A], since=T0 - dt.timedelta(days=1))[A] == []
    assert store.suppressed([A, B, "+12125550199"]) == {A}


def test_send_log(store: Store) -> None:
    """Sends come back per number and per person, oldest first, from `since` on."""
    old = store.record_send(send(minutes=-120, person="p"))
    new = store.record_send(send(minutes=0, person="p", provider_id="x"))
    other = store.record_send(send(B, minutes=5, person="p"))
    since = T0 - dt.timedelta(minutes=60)
    assert store.sends([A, B], since=since) == {A: [new], B: [other]}
    assert store.person_sends(["p", "q"], since=since) == {"p": [new, other], "q": []}
    everything = store.sends([A], since=T0 - dt.timedelta(days=1))[A]
    assert everything == [old, new]


def test_sends_from_since_on_exactly(store: Store) -> None:
    """A send exactly at ``since`` is read, one a microsecond before is not, by address and by
    person."""
    since = T0 - dt.timedelta(minutes=10)
    store.record_send(send(at=since - dt.timedelta(microseconds=1), person="p"))
    at_since = store.record_send(send(at=since, person="p"))
    assert store.sends([A], since=since) == {A: [at_since]}
    assert store.person_sends(["p"], since=since) == {"p": [at_since]}


def test_reserve_and_settle(store: Store) -> None:
    """reserve stores what decide returns under the lock; settle marks it sent or drops it."""
    seen: list[int] = []

    def decide(records: list[SendRecord]) -> SendRecord | None:
        seen.append(len(records))
        return (
            send(status="reserved", expires=T0 + dt.timedelta(minutes=5))
            if len(records) < 2
            else None
        )

    since = T0 - dt.timedelta(days=1)
    first = store.reserve(A, since=since, decide=decide)
    second = store.reserve(A, since=since, decide=decide)
    assert first is not None
    assert second is not None
    assert store.reserve(A, since=since, decide=decide) is None
    store.settle(first, provider_id="prov-1", sent=True)
    store.settle(second, provider_id=None, sent=False)
    store.settle(second, provider_id=None, sent=False)  # already gone: no error
    (kept,) = store.sends([A], since=since)[A]
    assert kept.id == first.id
    assert kept.status is SendStatus.SENT
    assert kept.provider_id == "prov-1"
    assert kept.expires is None
    assert seen[:3] == [0, 1, 2]


def test_concurrent_reservations_respect_the_cap(store: Store) -> None:
    """Threads racing to reserve under a cap of 3 never hold more than 3."""

    def decide(records: list[SendRecord]) -> SendRecord | None:
        return send() if len(records) < 3 else None

    results: list[SendRecord | None] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            got = store.reserve(A, since=T0 - dt.timedelta(days=1), decide=decide)
            with lock:
                results.append(got)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 3
    assert len(store.sends([A], since=T0 - dt.timedelta(days=1))[A]) == 3


def test_reserve_many_and_settle_many(store: Store) -> None:
    """reserve_many calls decide once per distinct number with its sends and stores what it
    returns (several holds for one number included); settle_many commits and drops."""
    assert isinstance(store, BatchReservations)
    since = T0 - dt.timedelta(days=1)
    store.record_send(send(B, minutes=-10))
    seen: dict[str, int] = {}

    def decide(number: str, records: list[SendRecord]) -> list[SendRecord]:
        seen[number] = len(records)
        hold = {"status": "reserved", "expires": T0 + dt.timedelta(minutes=5)}
        return [send(number, **hold), send(number, minutes=1, **hold)] if number == A else []

    stored = store.reserve_many([A, B, A], since=since, decide=decide)
    assert seen == {A: 0, B: 1}
    assert sorted(stored) == [A, B]
    assert stored[B] == []
    first, second = stored[A]
    assert store.sends([A], since=since)[A] == [first, second]
    store.settle_many([(first, "prov-1", True), (second, None, False)])
    store.settle_many([(second, None, False)])  # already gone: no error
    (kept,) = store.sends([A], since=since)[A]
    assert (kept.id, kept.status, kept.provider_id, kept.expires) == (
        first.id,
        SendStatus.SENT,
        "prov-1",
        None,
    )
    assert store.reserve_many([], since=since, decide=decide) == {}


def test_concurrent_batches_respect_the_cap(store: Store) -> None:
    """Threads racing with overlapping batches under a cap of 3 per number never hold more."""
    assert isinstance(store, BatchReservations)
    numbers = [A, B, "+12125550125"]

    def decide(number: str, records: list[SendRecord]) -> list[SendRecord]:
        return [send(number)] if len(records) < 3 else []

    def worker(order: list[str]) -> None:
        for _ in range(3):
            store.reserve_many(order, since=T0 - dt.timedelta(days=1), decide=decide)

    threads = [
        threading.Thread(target=worker, args=(numbers[i % 3 :] + numbers[: i % 3],))
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = store.sends(numbers, since=T0 - dt.timedelta(days=1))
    assert {number: len(records) for number, records in held.items()} == dict.fromkeys(numbers, 3)


def test_holds_read_and_hold_their_persons(store: Store) -> None:
    """A hold for a person sees the address's own sends (of any person or none) and that
    person's sends on other addresses (and no other person's); in a batch, an address sees the
    holds made earlier in it for its person, and every hold lands in the person's sends."""
    since = T0 - dt.timedelta(days=1)
    C, D, E = "+12125550125", "+12125550126", "+12125550127"
    theirs = store.record_send(send(A, minutes=-3, person="p"))
    store.record_send(send(B, minutes=-2, person="q"))
    own_c = store.record_send(send(C, minutes=-5))
    own_d = store.record_send(send(D, minutes=-4, person="q"))
    seen: list[tuple[str, list[str]]] = []
    hold = {"status": "reserved", "expires": T0 + dt.timedelta(minutes=5), "person": "p"}

    def one(records: list[SendRecord]) -> list[SendRecord]:
        seen.append((C, [r.id for r in records]))
        return [send(C, minutes=-1, **hold)]

    (first,) = store.hold(C, since=since, decide=one, persons=["p"])

    def many(number: str, records: list[SendRecord]) -> list[SendRecord]:
        seen.append((number, [r.id for r in records]))
        return [send(number, minutes=len(seen), **hold)]

    stored = store.reserve_many([D, E], since=since, decide=many, persons={D: ["p"], E: ["p"]})
    assert seen == [
        (C, [own_c.id, theirs.id]),
        (D, [own_d.id, theirs.id, first.id]),
        (E, [theirs.id, first.id, stored[D][0].id]),
    ]
    assert store.person_sends(["p"], since=since)["p"] == [
        theirs,
        first,
        stored[D][0],
        stored[E][0],
    ]


def test_concurrent_holds_respect_a_persons_cap(store: Store) -> None:
    """Threads holding for one person on six addresses under a cap of 3 for the person never
    hold more than 3 in all."""
    numbers = [f"+121255502{i:02d}" for i in range(6)]

    def worker(number: str) -> None:
        def decide(records: list[SendRecord]) -> list[SendRecord]:
            return [send(number, person="p")] if len(records) < 3 else []

        for _ in range(2):
            store.hold(number, since=T0 - dt.timedelta(days=1), decide=decide, persons=["p"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.person_sends(["p"], since=T0 - dt.timedelta(days=1))["p"]) == 3


def test_addresses_and_fields_of_any_text(store: Store) -> None:
    """Addresses and fields with quotes, braces, commas, backslashes and non-ASCII text reserve,
    read back and settle unchanged (SQL sends several statements at once with client-side
    binding; Redis names keys after the address)."""
    since = T0 - dt.timedelta(days=1)
    weird = ['a"b{c},d\\e@example.com', "O'Brien@example.com", "NULL", "ü ñ@example.com"]

    def record(number: str) -> SendRecord:
        return send(number, channel="email", topic="t'\"{}", content_key="k,\\", person="p'\"")

    got = store.reserve_many(weird, since=since, decide=lambda n, _r: [record(n)])  # type: ignore[attr-defined]
    assert store.sends(weird, since=since) == got
    again = store.reserve(weird[0], since=since, decide=lambda r: record(weird[0]) if r else None)
    assert again is not None
    store.settle_many([(got[weird[1]][0], "pid'\"", True), (got[weird[2]][0], None, False)])  # type: ignore[attr-defined]
    back = store.sends(weird, since=since)
    assert back[weird[0]] == sorted([*got[weird[0]], again], key=lambda r: (r.at, r.id))
    assert back[weird[1]] == [got[weird[1]][0].as_sent("pid'\"")]
    assert back[weird[2]] == []


def test_engagement(store: Store) -> None:
    """The latest engagement wins; unknown numbers have none."""
    store.record_engagement(A, at=T0, kind="reply")
    store.record_engagement(A, at=T0 - dt.timedelta(days=1), kind="click")
    store.record_engagement(A, at=T0 + dt.timedelta(hours=1), kind="click")
    assert store.last_engagement([A, B]) == {A: T0 + dt.timedelta(hours=1), B: None}


def test_lookup_cache(store: Store) -> None:
    """Cached values come back until they expire; a put replaces the value."""
    cache = store
    cache.cache_put("line:+12125550123", "mobile", expires=T0 + dt.timedelta(days=1))
    assert cache.cache_get("line:+12125550123", now=T0) == "mobile"
    assert cache.cache_get("line:+12125550123", now=T0 + dt.timedelta(days=2)) is None
    assert cache.cache_get("line:other", now=T0) is None
    cache.cache_put("line:+12125550123", "voip", expires=T0 + dt.timedelta(days=1))
    assert cache.cache_get("line:+12125550123", now=T0) == "voip"
    expires = T0 + dt.timedelta(days=1)
    assert (
        cache.cache_get("line:+12125550123", now=expires - dt.timedelta(microseconds=1)) == "voip"
    )
    assert cache.cache_get("line:+12125550123", now=expires) is None  # gone at its expiry


def test_snapshot_matches_separate_reads(store: Store) -> None:
    """A store's snapshot (one statement on PostgreSQL, the protocol's default elsewhere) holds
    exactly what the five separate reads return."""
    store.append_consent(event())
    store.append_consent(event(kind="revoked", minutes=1))
    store.forget(A)
    store.append_consent(event(B))
    first = store.record_send(send(B, person="p"))
    store.record_engagement(B, at=T0, kind="reply")
    since = T0 - dt.timedelta(days=1)
    together = store.snapshot([A, B], persons=["p", "q"], since=since)
    assert together == Snapshot(
        consent={A: [], B: store.consent_events([B])[B]},
        suppressed=frozenset({A}),
        sends={A: [], B: [first]},
        person_sends={"p": [first], "q": []},
        engagement={A: None, B: T0},
    )
    assert len(together.consent[B]) == 1


def test_redis_index_without_record_fails_closed(tmp_path: Path) -> None:
    """A Redis send index entry whose record vanished makes reads fail (a DENY upstream), never
    an undercount."""
    import redis

    from smspolicy.errors import StoreUnavailableError

    from .services import REDIS_URL

    store = redis_store()
    try:
        store.record_send(send())  # type: ignore[attr-defined]
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(f"{store.prefix}:{{{A}}}:records")  # type: ignore[attr-defined]
        client.close()
        with pytest.raises(StoreUnavailableError, match="no record"):
            store.sends([A], since=T0 - dt.timedelta(days=1))  # type: ignore[attr-defined]
    finally:
        drop(store)


def test_redis_batch_decides_again_after_a_conflict() -> None:
    """A write that lands between a batch's read and its conditional store makes the store read
    that number again and ask decide again: the cap is counted on the fresh sends."""
    from smspolicy.store.redis import RedisStore

    from .services import REDIS_URL

    store = redis_store()
    other = RedisStore(REDIS_URL, prefix=store.prefix)  # type: ignore[attr-defined]
    calls: list[tuple[str, int]] = []

    def decide(number: str, records: list[SendRecord]) -> list[SendRecord]:
        calls.append((number, len(records)))
        if len(calls) == 1:  # another process takes a slot meanwhile
            other.record_send(send(number, minutes=-1))
        return [send(number)] if len(records) < 2 else []

    try:
        stored = store.reserve_many([A], since=T0 - dt.timedelta(days=1), decide=decide)  # type: ignore[attr-defined]
        assert calls == [(A, 0), (A, 1)]
        assert len(stored[A]) == 1
        assert len(store.sends([A], since=T0 - dt.timedelta(days=1))[A]) == 2  # type: ignore[attr-defined]
    finally:
        other.close()
        drop(store)


def test_redis_reads_a_long_history_whole() -> None:
    """A recipient with more sends in the window than one server-side read chunk gets every
    one of them back, oldest first (a cap must never see fewer)."""
    store = redis_store()
    try:
        written = [store.record_send(send(minutes=-i)) for i in range(1500)]  # type: ignore[attr-defined]
        got = store.sends([A], since=T0 - dt.timedelta(days=2))[A]  # type: ignore[attr-defined]
        assert [r.id for r in got] == [r.id for r in reversed(written)]
    finally:
        drop(store)


@pytest.mark.caches
def test_redis_reads_an_unchanged_number_as_its_version_alone() -> None:
    """A number whose version has not moved since this store read it comes back without its
    records (nothing to decode); a write by another store (another process) moves the version,
    and the next read is whole again."""
    from smspolicy.store.redis import RedisStore

    from .services import REDIS_URL

    store = redis_store()
    other = RedisStore(REDIS_URL, prefix=store.prefix)  # type: ignore[attr-defined]
    since = T0 - dt.timedelta(days=1)
    decoded: list[str] = []
    decode = store._decode  # type: ignore[attr-defined]

    def counting(number: str, pairs: list[object]) -> list[SendRecord]:
        decoded.append(number)
        return decode(number, pairs)  # type: ignore[no-any-return]

    store._decode = counting  # type: ignore[attr-defined]
    try:
        first = other.record_send(send(minutes=-2))
        assert store.sends([A], since=since)[A] == [first]  # type: ignore[attr-defined]
        assert store.sends([A], since=since)[A] == [first]  # type: ignore[attr-defined]
        assert decoded == [A]  # the second read brought back the version alone
        second = other.record_send(send(minutes=-1))
        assert store.sends([A], since=since)[A] == [first, second]  # type: ignore[attr-defined]
        assert decoded == [A, A]
        # A later window of what was seen is cut from it, not read again.
        assert store.sends([A], since=T0 - dt.timedelta(seconds=90))[A] == [second]  # type: ignore[attr-defined]
        assert decoded == [A, A]
    finally:
        other.close()
        drop(store)


def test_redis_never_trusts_a_reused_version() -> None:
    """Versions are random, not counters: after another process forgets a number and logs the
    same number of new sends, a store that remembers the old sends still sees the new ones."""
    from smspolicy.store.redis import RedisStore

    from .services import REDIS_URL

    store = redis_store()
    other = RedisStore(REDIS_URL, prefix=store.prefix)  # type: ignore[attr-defined]
    since = T0 - dt.timedelta(days=1)
    try:
        old = other.record_send(send(minutes=-2))
        assert store.sends([A], since=since)[A] == [old]  # type: ignore[attr-defined]
        other.forget_sends(A)
        new = other.record_send(send(minutes=-1, topic="alerts"))
        assert store.sends([A], since=since)[A] == [new]  # type: ignore[attr-defined]
    finally:
        other.close()
        drop(store)


@pytest.mark.caches
def test_redis_remembers_its_own_writes_exactly() -> None:
    """After its own reservation and settlement a store answers from what it remembers; the
    answer equals a fresh store's whole read."""
    from smspolicy.store.redis import RedisStore

    from .services import REDIS_URL

    store = redis_store()
    fresh = RedisStore(REDIS_URL, prefix=store.prefix, remembered=0)  # type: ignore[attr-defined]
    since = T0 - dt.timedelta(days=1)
    try:
        store.record_send(send(minutes=-3))  # type: ignore[attr-defined]
        store.sends([A, B], since=since)  # type: ignore[attr-defined]
        holds = [send(A, status="reserved", expires=T0 + dt.timedelta(minutes=5)) for _ in "ab"]
        stored = store.reserve_many(  # type: ignore[attr-defined]
            [A, B], since=since, decide=lambda n, records: holds if n == A else []
        )
        assert stored == {A: holds, B: []}
        store.settle_many([(holds[0], "p1", True), (holds[1], None, False)])  # type: ignore[attr-defined]
        seen = store._seen[A]  # type: ignore[attr-defined]
        assert [r.id for r in seen[2]][-1:] == [holds[0].id]
        assert store.sends([A, B], since=since) == fresh.sends([A, B], since=since)  # type: ignore[attr-defined]
        assert store._seen[A] is seen  # type: ignore[attr-defined]  # answered from memory
        assert fresh._seen == {}  # type: ignore[attr-defined]
    finally:
        fresh.close()
        drop(store)


@pytest.mark.caches
def test_redis_remembers_within_its_bound() -> None:
    """What a store remembers counts each number and each of its sends; past ``remembered`` it
    starts over, a number with more sends than the bound is never kept, and every read stays
    whole and right."""
    store = redis_store(remembered=10)
    since = T0 - dt.timedelta(days=1)
    numbers = [f"+1212555{i:04d}" for i in range(200, 204)]
    try:
        written = {n: [store.record_send(send(n, minutes=-m)) for m in (3, 2, 1)] for n in numbers}  # type: ignore[attr-defined]
        big = [store.record_send(send(A, minutes=-m)) for m in range(1, 21)]  # type: ignore[attr-defined]
        for _ in range(2):
            for number in numbers:
                assert store.sends([number], since=since)[number] == written[number]  # type: ignore[attr-defined]
                assert store._seen_size <= 10  # type: ignore[attr-defined]
            assert store.sends([A], since=since)[A] == sorted(big, key=_order)  # type: ignore[attr-defined]
            assert A not in store._seen  # type: ignore[attr-defined]
        remembered = store._seen  # type: ignore[attr-defined]
        assert store._seen_size == sum(1 + len(seen[2]) for seen in remembered.values())  # type: ignore[attr-defined]
    finally:
        drop(store)


def test_redis_cache_keys_outlive_a_clock_behind_the_servers() -> None:
    """A lookup cached with an expiry that the caller's clock has not reached, but the Redis
    server's clock has (a frozen clock in the past), is kept for at least an hour (it used to
    be dropped after a millisecond); one expiring in two hours keeps its own expiry."""
    import redis

    from .services import REDIS_URL

    store = redis_store()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        store.cache_put("line:old", "mobile", expires=T0 + dt.timedelta(days=1))  # type: ignore[attr-defined]
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        store.cache_put("line:new", "voip", expires=later)  # type: ignore[attr-defined]
        assert 3_500_000 < client.pttl(f"{store.prefix}:cache:line:old") <= 3_600_000  # type: ignore[attr-defined]
        assert 3_600_000 < client.pttl(f"{store.prefix}:cache:line:new") <= 7_200_000  # type: ignore[attr-defined]
        assert store.cache_get("line:old", now=T0) == "mobile"  # type: ignore[attr-defined]
    finally:
        client.close()
        drop(store)


def test_redis_remembered_must_be_a_count() -> None:
    from smspolicy.errors import ConfigurationError
    from smspolicy.store.redis import RedisStore

    with pytest.raises(ConfigurationError, match="remembered"):
        RedisStore("redis://127.0.0.1:6379/15", remembered=-1)


@pytest.mark.parametrize(
    "check",
    [
        test_reserve_and_settle,
        test_reserve_many_and_settle_many,
        test_concurrent_batches_respect_the_cap,
        test_engagement,
        test_holds_read_and_hold_their_persons,
        test_concurrent_holds_respect_a_persons_cap,
    ],
    ids=["reserve", "reserve_many", "concurrent_batches", "engagement", "persons", "person_cap"],
)
def test_redis_cluster_calls_per_number(check: object, tmp_path: Path) -> None:
    """On Redis Cluster each number's script runs on its own (one slot per call), in a
    pipeline: the same conformance holds when the store takes that path."""
    counters = redis_store()
    counters._cluster = True  # type: ignore[attr-defined]
    store = ComposedStore(SQLiteStore(tmp_path / "ledger.db"), counters)  # type: ignore[arg-type]
    try:
        check(store)  # type: ignore[operator]
    finally:
        drop(store)


def _race_for_the_cap(store: object, number: str) -> list[SendRecord | None]:
    """Six threads, three reservations each, for one number under a cap of 3."""
    results: list[SendRecord | None] = []

    def decide(records: list[SendRecord]) -> SendRecord | None:
        return send(number) if len(records) < 3 else None

    def worker() -> None:
        for _ in range(3):
            results.append(store.reserve(number, since=T0 - dt.timedelta(days=1), decide=decide))  # type: ignore[attr-defined]

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("level", ["repeatable read", "serializable"])
def test_postgres_caps_hold_whatever_the_server_default_isolation(level: str) -> None:
    """A server whose default isolation is stricter than READ COMMITTED must not let a locked
    read miss the sends committed while it waited for the lock (over cap), nor fail reservations
    with serialization errors: the store runs its own transactions at READ COMMITTED."""
    from .services import POSTGRES_DSN

    escaped = level.replace(" ", "\\\\ ")  # libpq: a backslash-escaped space in the value
    store = postgres_store(
        f"{POSTGRES_DSN} options='-c default_transaction_isolation={escaped}'", max_size=6
    )
    try:
        for race in range(3):
            number = f"+121255501{race:02d}"
            results = _race_for_the_cap(store, number)
            held = store.sends([number], since=T0 - dt.timedelta(days=1))[number]  # type: ignore[attr-defined]
            assert (len(held), sum(r is not None for r in results)) == (3, 3)
    finally:
        drop(store)


def test_postgres_migrates_an_older_schema_and_refuses_a_newer_one() -> None:
    """A schema left at an earlier version is brought up to date on open (here: the function
    that locks and reads a number's sends), and one migrated by a newer smspolicy is refused."""
    import psycopg

    from smspolicy.errors import ConfigurationError
    from smspolicy.store.postgres import MIGRATIONS, PostgresStore

    from .services import POSTGRES_DSN

    store = postgres_store()
    schema = store.schema  # type: ignore[attr-defined]
    try:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f"DROP FUNCTION {schema}.locked_sends")
            # Back to the version before the migration that made the function (later
            # migrations create their tables IF NOT EXISTS, so they run again unharmed).
            version = next(i for i, m in enumerate(MIGRATIONS) if "locked_sends" in m)
            conn.execute(f"UPDATE {schema}.schema_version SET version = {version}")
        reopened = PostgresStore(POSTGRES_DSN, schema=schema)
        held = reopened.reserve(A, since=T0 - dt.timedelta(days=1), decide=lambda _r: send())
        assert held is not None
        assert reopened.sends([A], since=T0 - dt.timedelta(days=1))[A] == [held]
        reopened.close()
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f"UPDATE {schema}.schema_version SET version = {len(MIGRATIONS) + 1}")
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(POSTGRES_DSN, min_size=1, open=True)
        with pytest.raises(ConfigurationError, match="upgrade smspolicy"):
            PostgresStore(POSTGRES_DSN, schema=schema)
        with pytest.raises(ConfigurationError, match="upgrade smspolicy"):
            PostgresStore(pool=pool, schema=schema)
        assert not pool.closed  # a pool given by the caller stays theirs to close
        pool.close()
    finally:
        drop(store)


def test_postgres_reserves_on_a_callers_pool_of_transactional_connections() -> None:
    """On a pool of the caller's whose connections are not in autocommit, reservations (which
    say BEGIN and COMMIT themselves) work, a failure inside one writes nothing and releases the
    number, and every connection goes back as it came."""
    import uuid

    from psycopg_pool import ConnectionPool

    from smspolicy.store.postgres import PostgresStore

    from .services import POSTGRES_DSN

    postgres_store()  # skip or fail clearly when PostgreSQL is down
    pool = ConnectionPool(POSTGRES_DSN, min_size=1, max_size=2, open=True)
    store = PostgresStore(pool=pool, schema="t_" + uuid.uuid4().hex[:16])
    since = T0 - dt.timedelta(days=1)
    try:
        one = store.reserve(A, since=since, decide=lambda _records: send())
        both = store.reserve_many([A, B], since=since, decide=lambda n, _records: [send(n)])
        assert one is not None
        assert store.sends([A, B], since=since) == {
            A: sorted([one, both[A][0]], key=_order),
            B: both[B],
        }

        def broken(_records: list[SendRecord]) -> SendRecord | None:
            raise ValueError("a decision that fails")

        with pytest.raises(ValueError, match="fails"):
            store.reserve(B, since=since, decide=broken)
        with pytest.raises(ValueError, match="fails"):
            store.reserve_many([A, B], since=since, decide=lambda n, r: broken(r) or [])
        assert store.sends([B], since=since)[B] == both[B]  # nothing written, B free again
        assert store.reserve(B, since=since, decide=lambda _records: send(B)) is not None
        for _ in range(2):
            with pool.connection() as conn:
                assert conn.autocommit is False
                assert conn.info.transaction_status.name == "IDLE"
    finally:
        drop(store)
        pool.close()


def _order(record: SendRecord) -> tuple[dt.datetime, str]:
    return (record.at, record.id)


_TEXT = st.text(min_size=1, max_size=12)
_MAYBE = st.none() | _TEXT


@given(
    fields=st.fixed_dictionaries(
        {
            "topic": _TEXT,
            "content_key": _TEXT,
            "brand": _MAYBE,
            "sender": _MAYBE,
            "person": _MAYBE,
            "provider_id": _MAYBE,
            "status": st.sampled_from(list(SendStatus)),
        }
    ),
    minutes=st.integers(-10_000, 10_000),
    expires=st.none() | st.integers(1, 600),
)
def test_send_records_encode_as_sorted_json_and_back(
    fields: dict[str, object], minutes: int, expires: int | None
) -> None:
    """The stored text of a send is its fields as JSON with sorted keys (what earlier versions
    wrote), and reads back as the same record."""
    import json

    from smspolicy.store._codec import decode_send, encode_send

    at = T0 + dt.timedelta(minutes=minutes, microseconds=minutes % 7)
    later = None if expires is None else at + dt.timedelta(seconds=expires)
    record = send(at=at, expires=later, **fields)
    text = encode_send(record)
    assert text == json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
    assert decode_send(text) == record
