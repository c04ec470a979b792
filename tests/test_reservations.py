"""Reservations through the engine on every store: commits of expired holds, person-scoped
holds in one process, addresses that look like keys, and stores the engine cannot use."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import (
    Channel,
    Context,
    Decision,
    Engine,
    Message,
    Policy,
    Verdict,
    allow,
    rule,
    rules,
)
from smspolicy.errors import (
    ConfigurationError,
    InvalidInputError,
    ReservationExpiredError,
    StoreUnavailableError,
)
from smspolicy.store import (
    ComposedStore,
    MemoryStore,
    SendRecord,
    SendStatus,
    SQLiteStore,
    Store,
)
from smspolicy.testing import FrozenClock

from .async_support import both_engines  # noqa: F401  (runs each test on both engines)
from .conftest import T0
from .services import drop, redis_store
from .test_store_conformance import BACKENDS, make_store

N1, N2, N3 = "+12125550141", "+12125550142", "+12125550143"
DAY = dt.timedelta(days=1)
HOLD = dt.timedelta(minutes=5)  # the engine's default hold
SINCE = T0 - dt.timedelta(days=30)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend in turn."""
    made = make_store(request.param, tmp_path)
    yield made
    drop(made)


def capped(store: Store, clock: FrozenClock, limit: int = 1, scope: str = "topic") -> Engine:
    """An engine with one rolling cap of ``limit`` a day."""
    policy = Policy(rules.frequency_cap(limit, DAY, scope=scope), name="capped")
    return Engine(policy, store, clock)


def msg(to: str = N1, **kw: object) -> Message:
    return Message(to, "deals", "marketing", **kw)  # type: ignore[arg-type]


def statuses(store: Store, number: str = N1) -> list[tuple[str | None, SendStatus]]:
    return [(r.provider_id, r.status) for r in store.sends([number], since=SINCE)[number]]


def test_an_expired_hold_cannot_take_a_slot_another_holds(store: Store, clock: FrozenClock) -> None:
    """Reserve A, let its hold expire, reserve B (the slot is free), commit both under a cap of
    1: B counts, A's commit raises ReservationExpiredError naming A and counts nothing."""
    engine = capped(store, clock)
    first = engine.reserve(msg())
    assert first.allowed
    clock.advance(HOLD)  # exactly at the hold's expiry it no longer counts
    second = engine.reserve(msg())
    assert second.allowed
    second.commit("b")
    with pytest.raises(ReservationExpiredError) as raised:
        first.commit("a")
    assert raised.value.reservations == (first,)
    assert statuses(store) == [("b", SendStatus.SENT)]
    with pytest.raises(InvalidInputError, match="already"):
        first.commit("a")  # refused once: reserve again instead


def test_an_expired_hold_is_refused_against_a_live_hold(store: Store, clock: FrozenClock) -> None:
    """Committed before the hold that took its slot is, an expired hold is refused too (a live
    hold counts), and the live one commits afterwards."""
    engine = capped(store, clock)
    first = engine.reserve(msg())
    clock.advance(HOLD + dt.timedelta(seconds=1))
    second = engine.reserve(msg())
    with pytest.raises(ReservationExpiredError):
        first.commit("a")
    second.commit("b")
    assert statuses(store) == [("b", SendStatus.SENT)]


def test_an_expired_hold_counts_while_the_cap_allows(store: Store, clock: FrozenClock) -> None:
    """Under a cap of 2, an expired hold commits after another message took a slot: both
    count, and a third message is deferred until the first of them is a day old."""
    engine = capped(store, clock, limit=2)
    first = engine.reserve(msg())
    clock.advance(HOLD + dt.timedelta(minutes=1))
    second = engine.reserve(msg())
    first.commit("a")
    second.commit("b")
    assert statuses(store) == [("a", SendStatus.SENT), ("b", SendStatus.SENT)]
    third = engine.reserve(msg())
    assert third.decision.verdict is Verdict.DEFER
    assert third.decision.until == T0 + DAY  # the first send keeps the instant it was held


def test_an_expired_hold_of_a_person_is_checked_against_the_person(
    store: Store, clock: FrozenClock
) -> None:
    """A person's cap of 1 across numbers: a hold on one number expires, another number of the
    same person takes the slot, and the first commit is refused."""
    engine = capped(store, clock, scope="all")
    first = engine.reserve(msg(N1, person="p"))
    clock.advance(HOLD)
    second = engine.reserve(msg(N2, person="p"))
    assert second.allowed
    second.commit("b")
    with pytest.raises(ReservationExpiredError):
        first.commit("a")
    assert [r.provider_id for r in store.person_sends(["p"], since=SINCE)["p"]] == ["b"]


def test_an_expired_hold_of_a_forgotten_number_is_not_written_back(
    store: Store, clock: FrozenClock
) -> None:
    """A commit after the number was forgotten (its hold went with it) writes nothing back."""
    engine = capped(store, clock)
    held = engine.reserve(msg())
    clock.advance(HOLD * 2)
    engine.forget(N1)
    held.commit("a")
    assert store.sends([N1], since=SINCE)[N1] == []


def test_settle_many_settles_the_rest_and_names_the_refused(
    store: Store, clock: FrozenClock
) -> None:
    """In one settle_many, the live and released items settle and an expired commit that can
    no longer count is named in the error."""
    engine = capped(store, clock)
    late = engine.reserve(msg(N1))
    clock.advance(HOLD)
    taken, other, dropped = engine.reserve_many([msg(N1), msg(N2), msg(N3)])
    with pytest.raises(ReservationExpiredError) as raised:
        engine.settle_many(
            [(late, "a", True), (taken, "b", True), (other, "c", True), (dropped, None, False)]
        )
    assert raised.value.reservations == (late,)
    assert statuses(store, N1) == [("b", SendStatus.SENT)]
    assert statuses(store, N2) == [("c", SendStatus.SENT)]
    assert statuses(store, N3) == []


class _Locks(MemoryStore):
    """A MemoryStore that notes each locked reservation, and can fail them."""

    def __init__(self) -> None:
        super().__init__()
        self.locked: list[str] = []
        self.down = False

    def hold(self, number: str, **kw: object) -> list[SendRecord]:  # type: ignore[override]
        if self.down:
            raise StoreUnavailableError("lock wait timeout")
        self.locked.append(number)
        return super().hold(number, **kw)  # type: ignore[arg-type]


def test_a_commit_before_expiry_takes_no_lock(clock: FrozenClock) -> None:
    """A commit one microsecond before the hold expires settles without re-checking; at the
    expiry instant it re-checks under the lock."""
    store = _Locks()
    engine = capped(store, clock, limit=5)
    before, at = engine.reserve(msg()), engine.reserve(msg())
    assert store.locked == [N1, N1]
    clock.advance(HOLD - dt.timedelta(microseconds=1))
    before.commit("a")
    assert store.locked == [N1, N1]
    clock.advance(dt.timedelta(microseconds=1))
    at.commit("b")
    assert store.locked == [N1, N1, N1]
    assert sorted(statuses(store), key=str) == [("a", SendStatus.SENT), ("b", SendStatus.SENT)]


def test_a_late_commit_that_fails_can_be_retried(clock: FrozenClock) -> None:
    """A store error while re-checking an expired hold raises and leaves the reservation
    unsettled: committing again when the store is back counts it."""
    store = _Locks()
    engine = capped(store, clock)
    held = engine.reserve(msg())
    clock.advance(HOLD)
    store.down = True
    with pytest.raises(StoreUnavailableError):
        held.commit("a")
    store.down = False
    held.commit("a")
    assert statuses(store) == [("a", SendStatus.SENT)]


def test_threads_never_exceed_a_persons_cap(store: Store, clock: FrozenClock) -> None:
    """Six threads reserving for one person on three numbers (one at a time and in batches)
    under a cap of 2 for the person grant exactly 2."""
    engine = capped(store, clock, limit=2, scope="all")
    granted: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        messages = [
            msg(n, person="p") for n in (N1, N2, N3)[index % 3 :] + (N1, N2, N3)[: index % 3]
        ]
        held = engine.reserve_many(messages) if index % 2 else [engine.reserve(m) for m in messages]
        for reservation in held:
            if reservation.allowed:
                reservation.commit("x")
        with lock:
            granted.append(sum(r.allowed for r in held))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 2
    assert len(store.person_sends(["p"], since=SINCE)["p"]) == 2


def test_a_batch_sees_its_own_holds_for_a_person(store: Store, clock: FrozenClock) -> None:
    """In one batch, a person's messages on three numbers see each other's holds (cap 2), and a
    message of another person to the same number is counted against that number only."""
    engine = capped(store, clock, limit=2, scope="all")
    held = engine.reserve_many(
        [msg(N1, person="p"), msg(N2, person="p"), msg(N3, person="p"), msg(N3, person="q")]
    )
    assert [h.decision.verdict for h in held] == [
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.DEFER,
        Verdict.ALLOW,
    ]


class _Meanwhile:
    """A store where another writer logs one send to each number of a batch between the
    batch's snapshot and its reservation (as a concurrent worker may)."""

    def reserve_many(self, numbers: Any, **kwargs: Any) -> dict[str, list[SendRecord]]:
        for number in numbers:
            self.record_send(  # type: ignore[attr-defined]
                SendRecord(
                    number=number,
                    at=T0 - dt.timedelta(hours=1),
                    topic="deals",
                    purpose="marketing",
                    channel=Channel.SMS,
                    content_key="elsewhere",
                )
            )
        return super().reserve_many(numbers, **kwargs)  # type: ignore[misc,no-any-return]


class _MemoryMeanwhile(_Meanwhile, MemoryStore):
    pass


class _ComposedMeanwhile(_Meanwhile, ComposedStore):
    pass


def _store(kind: str, tmp_path: Path, *, meanwhile: bool = False) -> Store:
    """A MemoryStore, or Redis under a SQLite ledger; with ``meanwhile``, one where another
    writer logs a send to each number of a batch before its reservation."""
    if kind == "memory":
        return _MemoryMeanwhile() if meanwhile else MemoryStore()
    made = _ComposedMeanwhile if meanwhile else ComposedStore
    return made(SQLiteStore(tmp_path / "ledger.db"), redis_store())  # type: ignore[arg-type]


# On Redis the sends read under the lock are the very records of the snapshot through the
# store's memo of decoded records: with every cache off they are decoded afresh, and the
# message is (safely) decided again.
@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.caches)])
def test_a_yes_on_unchanged_sends_is_not_decided_again_under_the_lock(
    kind: str, clock: FrozenClock, tmp_path: Path
) -> None:
    """A message allowed on the batch's snapshot keeps that decision under the lock when the
    sends there are the very records the snapshot read: each rule runs once per message."""
    seen: list[int] = []

    @rule
    def counting(_message: Message, context: Context) -> Decision:
        seen.append(len(context.history.sends))
        return allow()

    store = _store(kind, tmp_path)
    engine = Engine(Policy(counting, rules.frequency_cap(1, DAY), name="p"), store, clock)
    engine.reserve_many([msg(N1), msg(N2)])  # the numbers get sends (and Redis their keys)
    seen.clear()
    clock.advance(DAY)
    held = engine.reserve_many([msg(N1), msg(N2)])
    assert [h.decision.verdict for h in held] == [Verdict.ALLOW, Verdict.ALLOW]
    assert seen == [1, 1]
    drop(store)


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_yes_on_sends_written_meanwhile_is_decided_again_under_the_lock(
    kind: str, clock: FrozenClock, tmp_path: Path
) -> None:
    """A message allowed on the snapshot is decided again on the sends read under the lock
    when another writer logged a send meanwhile: a cap of one a day is full, so it defers."""
    seen: list[int] = []

    @rule
    def counting(_message: Message, context: Context) -> Decision:
        if context.now == clock.now():  # not the instants a deferral looks at
            seen.append(len(context.history.sends))
        return allow()

    store = _store(kind, tmp_path, meanwhile=True)
    engine = Engine(Policy(counting, rules.frequency_cap(1, DAY), name="p"), store, clock)
    held = engine.reserve_many([msg(N1), msg(N2)])
    assert [h.decision.verdict for h in held] == [Verdict.DEFER, Verdict.DEFER]
    assert [h.decision.codes for h in held] == [("cap.exceeded",), ("cap.exceeded",)]
    assert seen == [0, 0, 1, 1]
    assert [len(store.sends([n], since=SINCE)[n]) for n in (N1, N2)] == [1, 1]
    drop(store)


def test_an_address_that_looks_like_a_person_key_is_an_address(
    store: Store, clock: FrozenClock
) -> None:
    """A push token literally ``person:bob`` is read as that address, never as person bob:
    its two sends count, so a cap of 2 defers a third; person bob's own send is his alone."""
    engine = capped(store, clock, limit=2)
    address = Message("person:bob", "deals", "marketing", channel=Channel.PUSH)
    for provider_id in ("1", "2"):
        held = engine.reserve(address)
        assert held.allowed
        held.commit(provider_id)
        clock.advance(dt.timedelta(minutes=1))
    bob = engine.reserve(msg(person="bob"))
    bob.commit("3")
    assert engine.reserve(address).decision.verdict is Verdict.DEFER
    got = store.sends(["person:bob"], since=SINCE)["person:bob"]
    assert [r.provider_id for r in got] == ["1", "2"]
    assert [r.provider_id for r in store.person_sends(["bob"], since=SINCE)["bob"]] == ["3"]
    assert store.person_sends(["person:bob"], since=SINCE)["person:bob"] == []


_TEXT = st.text(min_size=1, max_size=8)


@given(address=_TEXT, person=_TEXT)
def test_addresses_and_persons_never_share_a_record(address: str, person: str) -> None:
    """For any address and any person id (the same text included), a send to the address and a
    send of the person on another address are read back each under its own name only."""
    store = MemoryStore()
    to_address = store.record_send(_record(address, None))
    of_person = store.record_send(_record(f"other:{address}", person))
    assert store.sends([address], since=SINCE)[address] == [to_address]
    assert store.person_sends([person], since=SINCE)[person] == [of_person]
    assert store.person_sends([address], since=SINCE)[address] == (
        [of_person] if person == address else []
    )


@given(
    prefix=st.text(st.characters(blacklist_characters="{}"), min_size=1, max_size=6),
    address=_TEXT,
    person=_TEXT,
)
def test_redis_keys_of_addresses_and_persons_are_disjoint(
    prefix: str, address: str, person: str
) -> None:
    """No address's Redis keys are ever a person's keys, whatever the texts."""
    from smspolicy.store.redis import _number_keys, _person_keys

    address_keys = {*_number_keys(prefix, address), f"{prefix}:{{{address}}}:engagement"}
    assert address_keys.isdisjoint(_person_keys(prefix, person))


def _record(number: str, person: str | None) -> SendRecord:
    return SendRecord(
        number=number,
        at=T0,
        topic="t",
        purpose="marketing",
        channel="email",
        content_key="k",
        person=person,
    )


def test_an_engine_needs_a_store_that_holds_a_ledger() -> None:
    """A Redis store alone (no consent ledger) and an object that is no store are configuration
    errors when the engine is built, naming what is missing."""
    from .services import redis_store

    counters = redis_store()
    try:
        with pytest.raises(ConfigurationError, match=r"no consent ledger.*ComposedStore"):
            Engine(Policy(name="p"), counters)  # type: ignore[arg-type]
    finally:
        drop(store)
    with pytest.raises(ConfigurationError, match="lacks: append_consent, cache_get, "):
        Engine(Policy(name="p"), object())  # type: ignore[arg-type]

    every = [
        "append_consent",
        "cache_get",
        "cache_put",
        "close",
        "consent_events",
        "forget",
        "hold",
        "last_engagement",
        "numbers",
        "person_sends",
        "record_engagement",
        "record_send",
        "reserve",
        "reserve_many",
        "sends",
        "settle",
        "settle_many",
        "snapshot",
        "suppressed",
    ]
    methods = {name: lambda *args: None for name in every if name not in ("sends", "snapshot")}
    partial = type("Partial", (), methods)()  # a store missing two methods
    with pytest.raises(ConfigurationError, match=r"which lacks: sends, snapshot"):
        Engine(Policy(name="p"), partial)


def test_a_store_of_ones_own_gets_the_optional_methods(tmp_path: Path, clock: FrozenClock) -> None:
    """A store that implements only the required methods (here by delegating to a SQLite
    store) and subclasses Store gets snapshot, reserve, reserve_many and settle_many, and the
    engine's caps hold on it."""

    class Minimal(Store):
        def __init__(self, inner: SQLiteStore) -> None:
            self.inner = inner

        def append_consent(self, event):  # type: ignore[no-untyped-def]
            return self.inner.append_consent(event)

        def consent_events(self, numbers):  # type: ignore[no-untyped-def]
            return self.inner.consent_events(numbers)

        def forget(self, number):  # type: ignore[no-untyped-def]
            self.inner.forget(number)

        def suppressed(self, numbers):  # type: ignore[no-untyped-def]
            return self.inner.suppressed(numbers)

        def record_send(self, record):  # type: ignore[no-untyped-def]
            return self.inner.record_send(record)

        def sends(self, numbers, *, since):  # type: ignore[no-untyped-def]
            return self.inner.sends(numbers, since=since)

        def person_sends(self, persons, *, since):  # type: ignore[no-untyped-def]
            return self.inner.person_sends(persons, since=since)

        def hold(self, number, *, since, decide, persons=()):  # type: ignore[no-untyped-def]
            return self.inner.hold(number, since=since, decide=decide, persons=persons)

        def settle(self, record, *, provider_id, sent):  # type: ignore[no-untyped-def]
            self.inner.settle(record, provider_id=provider_id, sent=sent)

        def record_engagement(self, number, *, at, kind):  # type: ignore[no-untyped-def]
            self.inner.record_engagement(number, at=at, kind=kind)

        def last_engagement(self, numbers):  # type: ignore[no-untyped-def]
            return self.inner.last_engagement(numbers)

        def numbers(self):  # type: ignore[no-untyped-def]
            return self.inner.numbers()

        def cache_get(self, key, *, now):  # type: ignore[no-untyped-def]
            return self.inner.cache_get(key, now=now)

        def cache_put(self, key, value, *, expires):  # type: ignore[no-untyped-def]
            self.inner.cache_put(key, value, expires=expires)

    inner = SQLiteStore(tmp_path / "inner.db")
    engine = capped(Minimal(inner), clock, limit=2, scope="all")
    held = engine.reserve_many([msg(N1, person="p"), msg(N2, person="p"), msg(N3, person="p")])
    assert [h.allowed for h in held] == [True, True, False]
    engine.settle_many([(h, "x", True) for h in held if h.allowed])
    assert [r.status for r in inner.person_sends(["p"], since=SINCE)["p"]] == [SendStatus.SENT] * 2
    assert engine.reserve(msg(N3, person="p")).decision.verdict is Verdict.DEFER


def test_refused_commits_are_named_in_the_error(clock: FrozenClock) -> None:
    """The error of a settle_many whose two expired holds can no longer count names both
    records, in order, and both reservations."""
    engine = capped(MemoryStore(), clock)
    late = [engine.reserve(msg(N1)), engine.reserve(msg(N2))]
    clock.advance(HOLD)
    for number in (N1, N2):
        engine.reserve(msg(number)).commit("taken")
    ids = [r.record.id for r in late if r.record is not None]
    with pytest.raises(ReservationExpiredError) as raised:
        engine.settle_many([(r, "late", True) for r in late])
    assert str(raised.value) == (
        "the hold of 2 reservation(s) expired and the policy no longer allows the send: "
        f"nothing was counted ({ids[0]}, {ids[1]}); reserve again"
    )
    assert raised.value.reservations == tuple(late)


def test_settling_what_is_not_a_reservation_says_so(
    clock: FrozenClock, request: pytest.FixtureRequest
) -> None:
    """settle_many refuses an item that is not a reservation, and one settled twice, with
    errors that say which (naming the engine's own kind of reservation)."""
    asynchronous = request.getfixturevalue("both_engines") == "AsyncEngine"
    kind = "an AsyncReservation" if asynchronous else "a Reservation"
    engine = capped(MemoryStore(), clock)
    with pytest.raises(InvalidInputError, match=rf"^expected {kind}, got 'x'$"):
        engine.settle_many([("x", None, True)])  # type: ignore[list-item]
    held = engine.reserve(msg())
    held.release()
    with pytest.raises(
        InvalidInputError, match=r"^this reservation was already committed or released$"
    ):
        held.commit("a")
    assert held.record is not None
    prefix = "Async" if asynchronous else ""
    assert repr(held) == f"{prefix}Reservation(allow, record={held.record.id})"


class _SteppingClock(FrozenClock):
    """A clock that moves one minute forward each time it is read, once ``stepping`` is set."""

    stepping = False

    def now(self) -> dt.datetime:
        instant = super().now()
        if self.stepping:
            self.advance(dt.timedelta(minutes=1))
        return instant


def test_one_settle_many_judges_every_hold_at_one_instant() -> None:
    """Every item of one settle_many is judged live or expired at the same instant: with a
    clock that moves on at each reading, two holds live at the first reading both settle
    without a re-check."""
    clock = _SteppingClock(T0)
    store = _Locks()
    engine = capped(store, clock, limit=5)
    first = engine.reserve(msg())
    clock.advance(HOLD - dt.timedelta(minutes=1))  # the first hold has one minute left
    second = engine.reserve(msg())
    clock.stepping = True
    engine.settle_many([(second, "b", True), (first, "a", True)])
    assert store.locked == [N1, N1]  # no re-check: both were live at the one reading


def test_stores_print_as_built(tmp_path: Path) -> None:
    """A store's repr is the call that built it."""
    sqlite = SQLiteStore(tmp_path / "s.db")
    assert (repr(MemoryStore()), repr(sqlite)) == (
        "MemoryStore()",
        f"SQLiteStore('{tmp_path / 's.db'}')",
    )
    sqlite.close()
