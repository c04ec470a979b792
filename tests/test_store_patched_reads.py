"""A MemoryStore whose read is replaced on its class (as an outage test with monkeypatch on
the class would) still fails the decision closed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from smspolicy import Context, Decision, Engine, Message, Policy, Verdict, allow, rule
from smspolicy.store import MemoryStore
from smspolicy.testing import FrozenClock

T0 = dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.UTC)


@rule
def everything(_m: Message, _c: Context) -> Decision:
    return allow()


def _down(_self: MemoryStore, numbers: Sequence[str]) -> dict[str, list[object]]:
    raise ConnectionError("server closed the connection unexpectedly")


def test_a_read_patched_on_the_class_fails_the_decision_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store is built first, then MemoryStore.consent_events is replaced on the class:
    the store's own read fails, so the decision must be DENY store.unavailable, as it was
    before snapshots were read in place."""
    store = MemoryStore()
    engine = Engine(Policy(everything, name="p"), store, FrozenClock(T0))
    monkeypatch.setattr(MemoryStore, "consent_events", _down)
    with pytest.raises(ConnectionError):
        store.consent_events(["+12125550123"])
    decision = engine.evaluate(Message("+12125550123", "news", "marketing"))
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("store.unavailable",)


def test_a_read_patched_on_a_subclass_after_construction_fails_closed() -> None:
    """A subclass whose read is replaced after its instance was built."""

    class Flaky(MemoryStore):
        pass

    store = Flaky()
    engine = Engine(Policy(everything, name="p"), store, FrozenClock(T0))
    Flaky.consent_events = _down  # type: ignore[assignment,method-assign]
    decision = engine.evaluate(Message("+12125550123", "news", "marketing"))
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("store.unavailable",)
