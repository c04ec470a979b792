"""Each store driven in lockstep with MemoryStore by a Hypothesis state machine."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from smspolicy.store import ConsentEvent, MemoryStore, SendRecord, Store

from .conftest import T0
from .services import drop
from .test_store_conformance import make_store

# The last address looks like a person key: it must never be read as person p1.
ADDRESSES = ["+12125550101", "+12125550102", "+12125550103", "person:p1"]
NUMBERS = st.sampled_from(ADDRESSES)
PERSONS = ["p1", "p2"]
PERSON = st.sampled_from([None, *PERSONS])
SINCE = T0 - dt.timedelta(days=30)
HOLD = dt.timedelta(minutes=5)
VIA = st.integers(0, 1)  # which of the stores writes (there are two in a "-pair" machine)


def _counting(records: list[SendRecord], now: dt.datetime) -> int:
    return sum(r.counts_at(now) for r in records)


def _twin(store: Store) -> Store:
    """A second Redis-backed store on the same ledger and the same keys (for an async store, a
    synchronous one: the two kinds share the keys)."""
    from smspolicy.store import ComposedStore
    from smspolicy.store.async_base import AsyncComposedStore, BlockingStore, ThreadedStore
    from smspolicy.store.redis import RedisStore

    from .services import REDIS_URL

    if isinstance(store, BlockingStore):
        inner = store.store
        assert isinstance(inner, AsyncComposedStore)
        assert isinstance(inner.ledger, ThreadedStore)
        prefix = inner.counters.prefix  # type: ignore[attr-defined]
        return ComposedStore(inner.ledger.store, RedisStore(REDIS_URL, prefix=prefix))
    assert isinstance(store, ComposedStore)
    counters = RedisStore(REDIS_URL, prefix=store.counters.prefix)  # type: ignore[attr-defined]
    return ComposedStore(store.ledger, counters)


def machine_for(kind: str) -> type[RuleBasedStateMachine]:
    class StoreMachine(RuleBasedStateMachine):
        """Every answer of the store under test equals the reference store's."""

        held = Bundle("held")

        def __init__(self) -> None:
            super().__init__()
            self.tmp = tempfile.TemporaryDirectory()
            self.store: Store = make_store(kind.removesuffix("-pair"), Path(self.tmp.name))
            # "-pair": a second store on the same data writes too (another process), so what a
            # store remembers of the data must never hide the other's writes.
            self.stores = [self.store, *([_twin(self.store)] if kind.endswith("-pair") else [])]
            self.model = MemoryStore()
            self.clock = 0

        def teardown(self) -> None:
            for other in self.stores[1:]:
                other.counters.close()  # type: ignore[attr-defined]
            drop(self.store)
            self.tmp.cleanup()

        def _tick(self) -> dt.datetime:
            self.clock += 1
            return T0 + dt.timedelta(minutes=self.clock)

        @rule(
            number=NUMBERS, kind=st.sampled_from(["requested", "confirmed", "revoked", "implied"])
        )
        def append(self, number: str, kind: str) -> None:
            event = ConsentEvent(
                kind=kind,
                number=number,
                at=self._tick(),
                source="machine",
                basis="purchase" if kind == "implied" else None,
            )
            assert self.store.append_consent(event) == self.model.append_consent(event)

        @rule(number=NUMBERS, person=PERSON, via=VIA)
        def record(self, number: str, person: str | None, via: int) -> None:
            record = self._send(number, person, "sent")
            self._via(via).record_send(record)
            self.model.record_send(record)

        def _send(self, number: str, person: str | None, status: str) -> SendRecord:
            at = self._tick()
            return SendRecord(
                number=number,
                at=at,
                topic="t",
                purpose="marketing",
                channel="sms",
                content_key="k",
                person=person,
                status=status,
                expires=at + HOLD if status == "reserved" else None,
            )

        @rule(target=held, number=NUMBERS, person=PERSON, limit=st.integers(1, 3), via=VIA)
        def reserve(
            self, number: str, person: str | None, limit: int, via: int
        ) -> SendRecord | None:
            """A hold when fewer than ``limit`` sends of the number and its person count."""
            record = self._send(number, person, "reserved")

            def decide(records: list[SendRecord]) -> SendRecord | None:
                return record if _counting(records, record.at) < limit else None

            persons = () if person is None else (person,)
            got = self._via(via).reserve(number, since=SINCE, decide=decide, persons=persons)
            expected = self.model.reserve(number, since=SINCE, decide=decide, persons=persons)
            assert got == expected
            return got

        @rule(
            numbers=st.lists(NUMBERS, min_size=1, max_size=4),
            person=PERSON,
            limit=st.integers(1, 3),
            via=VIA,
        )
        def reserve_many(
            self, numbers: list[str], person: str | None, limit: int, via: int
        ) -> None:
            """A batch for one person on several addresses: each sees the holds stored before
            it in the batch."""
            holds = {number: self._send(number, person, "reserved") for number in numbers}

            def decide(number: str, records: list[SendRecord]) -> list[SendRecord]:
                hold = holds[number]
                return [hold] if _counting(records, hold.at) < limit else []

            persons = {} if person is None else dict.fromkeys(numbers, (person,))
            got = self._via(via).reserve_many(numbers, since=SINCE, decide=decide, persons=persons)
            expected = self.model.reserve_many(numbers, since=SINCE, decide=decide, persons=persons)
            assert got == expected

        @rule()
        def expire(self) -> None:
            """Time passes: every hold made so far expires."""
            self.clock += 10

        @rule(record=held, limit=st.integers(1, 3), via=VIA)
        def commit_late(self, record: SendRecord | None, limit: int, via: int) -> None:
            """A commit re-checked under the lock (as the engine does once a hold expired):
            counted as sent if the hold is still there and the others leave room."""
            if record is None:
                return
            now = self._tick()
            committed = record.as_sent("late")

            def decide(records: list[SendRecord]) -> SendRecord | None:
                if all(r.id != record.id for r in records):
                    return None
                others = [r for r in records if r.id != record.id]
                return committed if _counting(others, now) < limit else None

            persons = () if record.person is None else (record.person,)
            got = self._via(via).reserve(record.number, since=SINCE, decide=decide, persons=persons)
            expected = self.model.reserve(
                record.number, since=SINCE, decide=decide, persons=persons
            )
            assert got == expected

        @rule(record=held, sent=st.booleans(), via=VIA)
        def settle(self, record: SendRecord | None, sent: bool, via: int) -> None:
            if record is None:
                return
            self._via(via).settle(record, provider_id="p" if sent else None, sent=sent)
            self.model.settle(record, provider_id="p" if sent else None, sent=sent)

        @rule(number=NUMBERS, via=VIA)
        def forget(self, number: str, via: int) -> None:
            self._via(via).forget(number)
            self.model.forget(number)

        @rule(number=NUMBERS)
        def engage(self, number: str) -> None:
            at = self._tick()
            self.store.record_engagement(number, at=at, kind="reply")
            self.model.record_engagement(number, at=at, kind="reply")

        def _via(self, which: int) -> Store:
            return self.stores[which % len(self.stores)]

        @invariant()
        def same_answers(self) -> None:
            numbers = ADDRESSES
            for store in self.stores:
                assert store.consent_events(numbers) == self.model.consent_events(numbers)
                assert store.sends(numbers, since=SINCE) == self.model.sends(numbers, since=SINCE)
                persons = PERSONS
                assert store.person_sends(persons, since=SINCE) == self.model.person_sends(
                    persons, since=SINCE
                )
                assert store.suppressed(numbers) == self.model.suppressed(numbers)
                assert store.last_engagement(numbers) == self.model.last_engagement(numbers)

    StoreMachine.__name__ = f"{kind.title()}Machine"
    return StoreMachine


MACHINE_SETTINGS = settings(max_examples=15, stateful_step_count=15, deadline=None)


@pytest.mark.parametrize(
    "kind",
    [
        "sqlite",
        "postgres",
        "redis",
        "redis-pair",
        "async-postgres",
        "async-redis",
        "async-redis-pair",
    ],
)
def test_store_matches_memory_store(kind: str) -> None:
    """SQLite, PostgreSQL and Redis, synchronous and async, answer exactly as the in-memory
    reference store, also when two Redis stores (two processes; an async and a synchronous one)
    write the same keys in turn."""
    machine = machine_for(kind)
    machine.TestCase.settings = MACHINE_SETTINGS
    machine.TestCase("runTest").runTest()
