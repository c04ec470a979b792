"""Each outbox store driven in lockstep with MemoryOutbox by a Hypothesis state machine."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from smspolicy import Message, Reason
from smspolicy.outbox import Held, HoldState, MemoryOutbox, OutboxStore
from smspolicy.outbox._model import Finish

from .conftest import T0
from .outbox_support import open_store, remove, spec_for

KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
MINUTES = st.sampled_from([-5, 0, 0, 1, 10, 30])
US = dt.timedelta(microseconds=1)
REASONS = st.lists(
    st.builds(
        Reason,
        code=st.sampled_from(["cap.exceeded", "consent.revoked", "message.stale"]),
        rule=st.just("r"),
        message=st.text(max_size=5),
        citation=st.none() | st.just("47 CFR 64.1200"),
    ),
    max_size=2,
).map(tuple)
PAYLOADS = st.none() | st.integers() | st.text(max_size=5) | st.lists(st.booleans(), max_size=3)


def machine_for(kind: str) -> type[RuleBasedStateMachine]:
    class OutboxMachine(RuleBasedStateMachine):
        """Every answer of the store under test equals the reference outbox's."""

        def __init__(self) -> None:
            super().__init__()
            self.tmp = tempfile.TemporaryDirectory()
            self.store: OutboxStore = open_store(spec_for(kind, Path(self.tmp.name)))
            self.model = MemoryOutbox()
            self.now = T0
            self.ids: list[str] = []
            self.tokens: list[str] = []
            self.serial = 0

        def teardown(self) -> None:
            remove(self.store)
            self.tmp.cleanup()

        def _fresh(self, prefix: str) -> str:
            self.serial += 1
            return f"{prefix}{self.serial:06x}"

        @rule(
            key=KEYS, minutes=MINUTES, micros=st.integers(0, 2), payload=PAYLOADS, reasons=REASONS
        )
        def hold(
            self, key: str, minutes: int, micros: int, payload: object, reasons: tuple[Reason, ...]
        ) -> None:
            due = self.now + dt.timedelta(minutes=minutes) + micros * US
            held = Held(
                id=self._fresh("i"),
                key=key,
                message=Message("+12125550101", "deals", "marketing", body=key),
                payload=payload,
                due=due,
                held_at=self.now,
                reasons=reasons,
            )
            got, expected = self.store.add(held), self.model.add(held)
            assert got == expected
            if expected.id == held.id:
                self.ids.append(held.id)

        @rule(minutes=st.integers(0, 20), micros=st.integers(0, 2))
        def advance(self, minutes: int, micros: int) -> None:
            self.now += dt.timedelta(minutes=minutes) + micros * US

        @rule(data=st.data(), offset=st.integers(-1, 1))
        def advance_to_a_ready_instant(self, data: st.DataObject, offset: int) -> None:
            """Step to one message's ready instant, a microsecond before or after: the claim
            boundaries."""
            ready = sorted({h.ready for h in map(self.model.get, self.ids) if h and h.ready})
            if ready:
                self.now = max(self.now, data.draw(st.sampled_from(ready)) + offset * US)

        @rule(limit=st.integers(1, 4), visibility=st.integers(1, 10))
        def claim(self, limit: int, visibility: int) -> None:
            token = self._fresh("t")
            until = self.now + dt.timedelta(minutes=visibility)
            got = self.store.claim(self.now, limit, until, token)
            expected = self.model.claim(self.now, limit, until, token)
            assert sorted(got, key=lambda h: h.id) == sorted(expected, key=lambda h: h.id)
            if expected:
                self.tokens.append(token)

        @precondition(lambda self: self.ids)
        @rule(data=st.data(), provider=st.none() | st.sampled_from(["p1", "p2"]))
        def record_send(self, data: st.DataObject, provider: str | None) -> None:
            claimed = [h.id for h in map(self.model.get, self.ids) if h and h.token]
            id = data.draw(
                st.sampled_from(claimed) | st.sampled_from(self.ids)
                if claimed
                else st.sampled_from(self.ids)
            )
            self.store.record_sends([(id, provider, self.now)])
            self.model.record_sends([(id, provider, self.now)])

        @precondition(lambda self: self.ids and self.tokens)
        @rule(
            data=st.data(),
            state=st.sampled_from([HoldState.HELD, HoldState.SENT, HoldState.DROPPED]),
            minutes=MINUTES,
            reasons=REASONS,
            provider=st.none() | st.just("p3"),
        )
        def finish(
            self,
            data: st.DataObject,
            state: HoldState,
            minutes: int,
            reasons: tuple[Reason, ...],
            provider: str | None,
        ) -> None:
            claims = [
                (h.id, h.token) for h in map(self.model.get, self.ids) if h and h.token is not None
            ]
            # Mostly a claim that holds its message, sometimes any id with any token.
            pairs = st.tuples(st.sampled_from(self.ids), st.sampled_from(self.tokens))
            if claims:
                pairs = st.sampled_from(claims) | pairs
            items = [
                Finish(
                    *data.draw(pairs),
                    state,
                    self.now,
                    due=self.now + dt.timedelta(minutes=minutes)
                    if state is HoldState.HELD
                    else None,
                    reasons=reasons,
                    provider_id=provider,
                )
                for _ in range(data.draw(st.integers(1, 3)))
            ]
            assert self.store.finish(items) == self.model.finish(items)

        @invariant()
        def same_records(self) -> None:
            for id in self.ids:
                assert self.store.get(id) == self.model.get(id)
            assert self.store.get("missing") is None
            assert dict(self.store.counts()) == dict(self.model.counts())
            assert self.store.dropped(3) == self.model.dropped(3)

    OutboxMachine.__name__ = OutboxMachine.__qualname__ = f"OutboxMachine_{kind}"
    return OutboxMachine


MACHINE_SETTINGS = settings(max_examples=40, stateful_step_count=25, deadline=None)


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_outbox_store_matches_the_model(kind: str) -> None:
    """Hold, claim, record sends and finish in any order: the store answers as the model."""
    machine = machine_for(kind)
    machine.TestCase.settings = MACHINE_SETTINGS
    machine.TestCase("runTest").runTest()
