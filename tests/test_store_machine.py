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

NUMBERS = st.sampled_from(["+12125550101", "+12125550102", "+12125550103"])
SINCE = T0 - dt.timedelta(days=30)
VIA = st.integers(0, 1)  # which of the stores writes (there are two in a "-pair" machine)


def _twin(store: Store) -> Store:
    """A second Redis-backed store on the same ledger and the same keys."""
    from smspolicy.store import ComposedStore
    from smspolicy.store.redis import RedisStore

    from .services import REDIS_URL

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

        @rule(number=NUMBERS, person=st.sampled_from([None, "p1"]), via=VIA)
        def record(self, number: str, person: str | None, via: int) -> None:
            record = SendRecord(
                number=number,
                at=self._tick(),
                topic="t",
                purpose="marketing",
                channel="sms",
                content_key="k",
                person=person,
            )
            self._via(via).record_send(record)
            self.model.record_send(record)

        @rule(target=held, number=NUMBERS, limit=st.integers(1, 3), via=VIA)
        def reserve(self, number: str, limit: int, via: int) -> SendRecord | None:
            at = self._tick()
            record = SendRecord(
                number=number,
                at=at,
                topic="t",
                purpose="marketing",
                channel="sms",
                content_key="k",
                status="reserved",
                expires=at + dt.timedelta(minutes=5),
            )

            def decide(records: list[SendRecord]) -> SendRecord | None:
                return record if len(records) < limit else None

            got = self._via(via).reserve(number, since=SINCE, decide=decide)
            expected = self.model.reserve(number, since=SINCE, decide=decide)
            assert got == expected
            return got

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
            numbers = ["+12125550101", "+12125550102", "+12125550103"]
            for store in self.stores:
                assert store.consent_events(numbers) == self.model.consent_events(numbers)
                assert store.sends(numbers, since=SINCE) == self.model.sends(numbers, since=SINCE)
                persons = ["p1"]
                assert store.person_sends(persons, since=SINCE) == self.model.person_sends(
                    persons, since=SINCE
                )
                assert store.suppressed(numbers) == self.model.suppressed(numbers)
                assert store.last_engagement(numbers) == self.model.last_engagement(numbers)

    StoreMachine.__name__ = f"{kind.title()}Machine"
    return StoreMachine


MACHINE_SETTINGS = settings(max_examples=15, stateful_step_count=15, deadline=None)


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis", "redis-pair"])
def test_store_matches_memory_store(kind: str) -> None:
    """SQLite, PostgreSQL and Redis answer exactly as the in-memory reference store, also when
    two Redis stores (two processes) write the same keys in turn."""
    machine = machine_for(kind)
    machine.TestCase.settings = MACHINE_SETTINGS
    machine.TestCase("runTest").runTest()
