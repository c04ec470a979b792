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

NUMBERS = st.sampled_from(["+12125550101", "+12125550102", "+12125550103"])
SINCE = T0 - dt.timedelta(days=30)


def machine_for(kind: str) -> type[RuleBasedStateMachine]:
    class StoreMachine(RuleBasedStateMachine):
        """Every answer of the store under test equals the reference store's."""

        held = Bundle("held")

        def __init__(self) -> None:
            super().__init__()
            from .test_store_conformance import make_store

            self.tmp = tempfile.TemporaryDirectory()
            self.store: Store = make_store(kind, Path(self.tmp.name))
            self.model = MemoryStore()
            self.clock = 0

        def teardown(self) -> None:
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

        @rule(number=NUMBERS, person=st.sampled_from([None, "p1"]))
        def record(self, number: str, person: str | None) -> None:
            record = SendRecord(
                number=number,
                at=self._tick(),
                topic="t",
                purpose="marketing",
                channel="sms",
                content_key="k",
                person=person,
            )
            self.store.record_send(record)
            self.model.record_send(record)

        @rule(target=held, number=NUMBERS, limit=st.integers(1, 3))
        def reserve(self, number: str, limit: int) -> SendRecord | None:
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

            got = self.store.reserve(number, since=SINCE, decide=decide)
            expected = self.model.reserve(number, since=SINCE, decide=decide)
            assert got == expected
            return got

        @rule(record=held, sent=st.booleans())
        def settle(self, record: SendRecord | None, sent: bool) -> None:
            if record is None:
                return
            self.store.settle(record, provider_id="p" if sent else None, sent=sent)
            self.model.settle(record, provider_id="p" if sent else None, sent=sent)

        @rule(number=NUMBERS)
        def forget(self, number: str) -> None:
            self.store.forget(number)
            self.model.forget(number)

        @rule(number=NUMBERS)
        def engage(self, number: str) -> None:
            at = self._tick()
            self.store.record_engagement(number, at=at, kind="reply")
            self.model.record_engagement(number, at=at, kind="reply")

        @invariant()
        def same_answers(self) -> None:
            numbers = ["+12125550101", "+12125550102", "+12125550103"]
            assert self.store.consent_events(numbers) == self.model.consent_events(numbers)
            keys = [*numbers, "person:p1"]
            assert self.store.sends(keys, since=SINCE) == self.model.sends(keys, since=SINCE)
            assert self.store.suppressed(numbers) == self.model.suppressed(numbers)
            assert self.store.last_engagement(numbers) == self.model.last_engagement(numbers)

    StoreMachine.__name__ = f"{kind.title()}Machine"
    return StoreMachine


MACHINE_SETTINGS = settings(max_examples=15, stateful_step_count=15, deadline=None)


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_store_matches_memory_store(kind: str) -> None:
    """SQLite, PostgreSQL and Redis answer exactly as the in-memory reference store."""
    machine = machine_for(kind)
    machine.TestCase.settings = MACHINE_SETTINGS
    machine.TestCase("runTest").runTest()
