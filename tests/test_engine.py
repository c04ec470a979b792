"""The engine: resolution, batching and failing closed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from smspolicy import (
    Context,
    Decision,
    Engine,
    LineType,
    Message,
    Policy,
    Profile,
    Verdict,
    allow,
    rule,
)
from smspolicy.errors import ConfigurationError, InvalidInputError, LineTypeLookupError
from smspolicy.store import MemoryStore, SendRecord
from smspolicy.testing import FrozenClock

from .async_support import both_engines  # noqa: F401  (runs each test on both engines)
from .conftest import T0


@rule
def everything(_m: Message, _c: Context) -> Decision:
    return allow()


class BrokenStore(MemoryStore):
    """A store whose reads fail like a dropped connection."""

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list]:  # type: ignore[type-arg]
        raise ConnectionError("server closed the connection unexpectedly")


def test_store_error_fails_closed(clock: FrozenClock) -> None:
    """Any store error becomes DENY store.unavailable, never ALLOW."""
    engine = Engine(Policy(everything, name="p"), BrokenStore(), clock)
    decision = engine.evaluate(Message("+12125550123", "news", "marketing"))
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("store.unavailable",)
    assert "ConnectionError" in str(decision.reasons[0].data["error"])


def test_store_error_can_defer(clock: FrozenClock) -> None:
    """With on_store_error='defer' a store error defers by store_retry instead."""
    engine = Engine(
        Policy(everything, name="p"),
        BrokenStore(),
        clock,
        on_store_error="defer",
        store_retry=dt.timedelta(minutes=2),
    )
    decision = engine.evaluate(Message("+12125550123", "news", "marketing"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == T0 + dt.timedelta(minutes=2)


def test_store_error_raised_inside_a_rule_fails_closed(clock: FrozenClock) -> None:
    """A rule that reads the store lazily and fails also ends in DENY store.unavailable."""
    from smspolicy.errors import StoreUnavailableError

    @rule
    def reads_store(_m: Message, _c: Context) -> Decision:
        raise StoreUnavailableError("timeout")

    engine = Engine(Policy(reads_store, name="p"), clock=clock)
    assert engine.evaluate(Message("+12125550123", "n", "marketing")).codes == (
        "store.unavailable",
    )


@pytest.mark.parametrize(
    "to", ['07";DROP TABLE;"', "+1 264 555 0100", ""], ids=["sql", "anguilla", "empty"]
)
def test_invalid_numbers_are_denied(engine: Engine, to: str) -> None:
    """Invalid numbers become DENY number.invalid through the engine."""
    decision = engine.evaluate(Message(to, "news", "marketing"))
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("number.invalid",)


def test_evaluate_many_keeps_order_across_batches(engine: Engine) -> None:
    """evaluate_many yields one decision per message, in input order, across batches."""
    messages = [
        Message(f"+1212555{i % 100:04d}" if i % 7 else "bogus", "news", "marketing")
        for i in range(1200)
    ]
    decisions = list(engine.evaluate_many(messages))
    assert len(decisions) == 1200
    for message, decision in zip(messages, decisions, strict=True):
        assert decision.allowed == (message.to != "bogus")


def test_evaluate_many_rejects_non_messages(engine: Engine) -> None:
    """Anything but a Message raises InvalidInputError."""
    with pytest.raises(InvalidInputError):
        list(engine.evaluate_many(["+12125550123"]))  # type: ignore[list-item]


def test_profiles_are_found_by_e164(clock: FrozenClock) -> None:
    """A profile keyed by E.164 applies to a message written in any form."""
    seen: list[Context] = []

    @rule
    def spy(_m: Message, c: Context) -> Decision:
        seen.append(c)
        return allow()

    profiles = {"+12125550123": Profile(timezone="America/Chicago", country="US", state="FL")}
    engine = Engine(Policy(spy, name="p"), clock=clock, profiles=profiles)
    engine.evaluate(
        Message("(212) 555-0123", "news", "marketing"),
    )
    engine2 = Engine(Policy(spy, name="p"), clock=clock, profiles=profiles.get)
    engine2.evaluate(Message("+1 212 555 0123", "news", "marketing"))
    for context in seen:
        assert context.recipient.zones == ("America/Chicago", "America/New_York")
        assert "US-FL" in context.recipient.jurisdictions
        assert context.profile == profiles["+12125550123"]


def test_context_carries_sends_for_number_and_person(clock: FrozenClock) -> None:
    """The context's history holds the number's sends and the linked person's."""
    store = MemoryStore()
    for number, person in [("+12125550123", None), ("+12125550199", "p1")]:
        store.record_send(
            SendRecord(
                number=number,
                at=T0 - dt.timedelta(hours=1),
                topic="news",
                purpose="marketing",
                channel="sms",
                content_key="k",
                person=person,
            )
        )
    seen: list[Context] = []

    @rule
    def spy(_m: Message, c: Context) -> Decision:
        seen.append(c)
        return allow()

    engine = Engine(Policy(spy, name="p"), store, clock)
    engine.evaluate(Message("+12125550123", "news", "marketing", person="p1"))
    assert {r.number for r in seen[0].history.sends} == {"+12125550123", "+12125550199"}


def test_email_recipient_uses_profile(clock: FrozenClock) -> None:
    """Non-phone channels resolve to an address recipient with the profile's facts."""
    seen: list[Context] = []

    @rule
    def spy(_m: Message, c: Context) -> Decision:
        seen.append(c)
        return allow()

    engine = Engine(
        Policy(spy, name="p"),
        clock=clock,
        profiles={"a@example.com": Profile(timezone="Europe/Paris", country="FR")},
    )
    assert engine.evaluate(Message("a@example.com", "news", "marketing", channel="email")).allowed
    assert seen[0].recipient.zones == ("Europe/Paris",)
    assert seen[0].recipient.jurisdictions == {"FR"}


class FailingLookup:
    def line_type(self, e164: str) -> LineType | None:
        raise LineTypeLookupError("PhoneNumberValidate timed out")


def test_line_type_lookup_failure_denies(clock: FrozenClock) -> None:
    """A failing line-type lookup gives DENY lookup.unavailable, not ALLOW."""
    engine = Engine(Policy(everything, name="p"), clock=clock, line_type_lookup=FailingLookup())
    assert engine.evaluate(Message("+12125550123", "n", "marketing")).codes == (
        "lookup.unavailable",
    )


def test_naive_clock_is_rejected() -> None:
    """A clock that returns naive datetimes is refused when the engine reads it."""

    class NaiveClock:
        def now(self) -> dt.datetime:
            return dt.datetime(2025, 1, 1)

    engine = Engine(Policy(name="p"), clock=NaiveClock())
    with pytest.raises(InvalidInputError, match="naive"):
        engine.evaluate(Message("+12125550123", "n", "marketing"))


def test_engine_rejects_bad_configuration() -> None:
    """Bad engine arguments raise ConfigurationError."""
    with pytest.raises(ConfigurationError):
        Engine("policy")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Engine(Policy(name="p"), on_store_error="allow")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Engine(Policy(name="p"), clock=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Engine(Policy(name="p"), profiles=42)  # type: ignore[arg-type]


def test_frozen_clock() -> None:
    """FrozenClock stands still, moves when set or advanced, and refuses naive times."""
    clock = FrozenClock(T0)
    assert clock.now() == T0
    assert clock.advance(dt.timedelta(minutes=5)) == T0 + dt.timedelta(minutes=5)
    clock.set(T0)
    assert clock.now() == T0
    with pytest.raises(InvalidInputError):
        clock.set(dt.datetime(2025, 1, 1))
    with pytest.raises(InvalidInputError):
        clock.advance(dt.timedelta(0))


def test_empty_address_is_denied(engine: Engine) -> None:
    """An empty address on a non-phone channel is DENY address.invalid, never ALLOW."""
    assert engine.evaluate(Message("  ", "news", "marketing", channel="email")).codes == (
        "address.invalid",
    )


def test_a_store_read_patched_on_the_instance_is_used(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MemoryStore whose consent read is replaced on the instance (as a test of an outage
    would) is read through that replacement: the failure fails the decision closed."""
    store = MemoryStore()
    engine = Engine(Policy(everything, name="p"), store, clock)
    message = Message("+12125550123", "news", "marketing")
    assert engine.evaluate(message).allowed

    def down(numbers: Sequence[str]) -> dict[str, list]:  # type: ignore[type-arg]
        raise ConnectionError("server closed the connection unexpectedly")

    monkeypatch.setattr(store, "consent_events", down)
    decision = engine.evaluate(message)
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("store.unavailable",)
