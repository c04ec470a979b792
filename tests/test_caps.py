"""Frequency caps, dedupe, engagement tiers, reservations, the send log and list audits."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import (
    Channel,
    Context,
    Engine,
    HistoryView,
    Message,
    Policy,
    Profile,
    Program,
    Recipient,
    Verdict,
    rules,
    when,
)
from smspolicy.errors import ConfigurationError, InvalidInputError
from smspolicy.predicates import is_marketing
from smspolicy.store import MemoryStore, SendRecord, SendStatus, SQLiteStore, Store
from smspolicy.testing import FrozenClock

from .async_support import both_engines  # noqa: F401  (runs each test on both engines)
from .conftest import T0

NUMBER = "+12125550123"
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """Each test runs on the in-memory and the SQLite store."""
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.db")


def engine_with(rule: object, clock: FrozenClock, store: object = None, **kw: object) -> Engine:
    return Engine(Policy(rule, name="t"), store or MemoryStore(), clock, **kw)  # type: ignore[arg-type]


def msg(topic: str = "deals", **kw: object) -> Message:
    fields: dict[str, object] = {"to": NUMBER, "topic": topic, "purpose": "marketing"}
    fields.update(kw)
    return Message(**fields)  # type: ignore[arg-type]


def sent(engine: Engine, message: Message, clock: FrozenClock, step: dt.timedelta = HOUR) -> None:
    engine.record_sent(message, provider_id="p")
    clock.advance(step)


def test_send_log_keeps_every_field(clock: FrozenClock, store: object) -> None:
    """Every send is logged with time, recipient, person, topic, purpose, channel, sender,
    content key and provider message id."""
    engine = engine_with(rules.dedupe(DAY), clock, store)
    message = msg(
        body="Sale", brand="Acme", sender="+12125550100", person="p-1", channel=Channel.MMS
    )
    engine.record_sent(message, provider_id="msg-123")
    (record,) = engine.store.sends([NUMBER], since=T0 - DAY)[NUMBER]
    assert (
        record.at,
        record.number,
        record.person,
        record.topic,
        record.purpose.value,
        record.channel,
        record.sender,
        record.content_key,
        record.provider_id,
        record.brand,
    ) == (
        T0,
        NUMBER,
        "p-1",
        "deals",
        "marketing",
        Channel.MMS,
        "+12125550100",
        message.content_key,
        "msg-123",
        "Acme",
    )
    assert engine.store.person_sends(["p-1"], since=T0 - DAY)["p-1"] == [record]


def test_rolling_cap_defers_until_oldest_leaves(clock: FrozenClock, store: object) -> None:
    """Three per 24 h: the fourth defers until the oldest counted send is 24 h old."""
    engine = engine_with(rules.frequency_cap(3, DAY), clock, store)
    for _ in range(3):
        assert engine.evaluate(msg()).allowed
        sent(engine, msg(), clock)
    decision = engine.evaluate(msg())
    assert decision.verdict is Verdict.DEFER
    assert decision.until == T0 + DAY
    assert decision.codes == ("cap.exceeded",)
    assert engine.evaluate(msg("alerts")).allowed  # topic scope


@pytest.mark.parametrize(
    ("scope", "other", "counted"),
    [
        ("topic", {"topic": "alerts"}, False),
        ("brand", {"brand": "Other"}, False),
        ("channel", {"channel": "email", "to": "a@example.com"}, False),
        ("all", {"topic": "x"}, True),
    ],
    ids=["topic", "brand", "channel", "all"],
)
def test_cap_scopes(
    clock: FrozenClock, scope: str, other: dict[str, object], counted: bool
) -> None:
    """Caps count only sends in their scope."""
    engine = engine_with(rules.frequency_cap(1, DAY, scope=scope), clock)  # type: ignore[arg-type]
    sent(engine, msg(brand="Acme", person="p"), clock)
    second = msg(**{"brand": "Acme", "person": "p", **other})
    assert engine.evaluate(second).allowed is not counted


def test_calendar_day_cap_in_recipient_zone(clock: FrozenClock) -> None:
    """A calendar-day cap counts the recipient's local day and defers to local midnight."""
    clock.set(dt.datetime(2025, 1, 15, 23, 0, tzinfo=zoneinfo.ZoneInfo("America/Chicago")))
    engine = engine_with(rules.frequency_cap(1, "day", calendar=True), clock)
    sent(engine, msg(to="+18504341234"), clock, dt.timedelta(minutes=30))  # Pensacola: Chicago
    decision = engine.evaluate(msg(to="+18504341234"))
    assert decision.until == dt.datetime(2025, 1, 16, tzinfo=zoneinfo.ZoneInfo("America/Chicago"))
    assert decision.zone == "America/Chicago"


def test_calendar_week_and_month(clock: FrozenClock) -> None:
    """Calendar weeks start on Monday and months on the 1st, in local time."""
    ny = zoneinfo.ZoneInfo("America/New_York")
    clock.set(dt.datetime(2025, 1, 31, 12, tzinfo=ny))  # a Friday
    week = engine_with(rules.frequency_cap(1, "week", calendar=True), clock)
    sent(week, msg(), clock, dt.timedelta(minutes=1))
    assert week.evaluate(msg()).until == dt.datetime(2025, 2, 3, tzinfo=ny)
    month = engine_with(rules.frequency_cap(1, "month", calendar=True), clock)
    sent(month, msg(), clock, dt.timedelta(minutes=1))
    assert month.evaluate(msg()).until == dt.datetime(2025, 2, 1, tzinfo=ny)


def test_calendar_cap_multi_zone_and_unknown_zone(clock: FrozenClock) -> None:
    """Multi-zone numbers wait for the latest zone's midnight; with no zone the cap rolls."""
    mountain = zoneinfo.ZoneInfo("America/Denver")
    clock.set(dt.datetime(2025, 1, 15, 23, 30, tzinfo=zoneinfo.ZoneInfo("America/Chicago")))
    engine = engine_with(rules.frequency_cap(1, "day", calendar=True), clock)
    sent(engine, msg(to="+16055550123"), clock, dt.timedelta(minutes=1))  # Denver + ND Center
    assert engine.evaluate(msg(to="+16055550123")).until == dt.datetime(
        2025, 1, 16, tzinfo=mountain
    )
    sent(engine, msg(to="+18005550123"), clock, dt.timedelta(minutes=1))
    assert (
        engine.evaluate(msg(to="+18005550123")).until == clock.now() - dt.timedelta(minutes=1) + DAY
    )


def test_reservations_count_until_they_expire(clock: FrozenClock, store: object) -> None:
    """A held reservation counts; a released one does not; an abandoned one stops counting
    when it expires; a committed one is a send."""
    engine = engine_with(rules.frequency_cap(1, DAY), clock, store)
    first = engine.reserve(msg(), hold=dt.timedelta(minutes=5))
    assert first.allowed
    assert not engine.reserve(msg()).allowed
    first.release()
    second = engine.reserve(msg())
    assert second.allowed
    clock.advance(dt.timedelta(minutes=6))
    third = engine.reserve(msg())
    assert third.allowed  # the second was abandoned and expired
    third.commit("provider-1")
    (record,) = [
        r for r in engine.store.sends([NUMBER], since=T0)[NUMBER] if r.status is SendStatus.SENT
    ]
    assert record.provider_id == "provider-1"
    assert engine.reserve(msg()).decision.verdict is Verdict.DEFER


def test_reservation_misuse_is_an_error(clock: FrozenClock) -> None:
    """Committing twice, or committing a reservation that was not allowed, raises."""
    engine = engine_with(rules.frequency_cap(1, DAY), clock)
    held = engine.reserve(msg())
    held.commit("a")
    with pytest.raises(InvalidInputError, match="already"):
        held.release()
    refused = engine.reserve(msg())
    with pytest.raises(InvalidInputError, match="nothing was reserved"):
        refused.commit("b")
    with pytest.raises(InvalidInputError):
        engine.reserve(msg(), hold=dt.timedelta(0))


def test_reserve_fails_closed(clock: FrozenClock) -> None:
    """A store error during a reservation gives DENY store.unavailable and holds nothing."""

    class Broken(MemoryStore):
        def reserve(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise TimeoutError("lock wait timeout")

    engine = engine_with(rules.frequency_cap(1, DAY), clock, Broken())
    held = engine.reserve(msg())
    assert not held.allowed
    assert held.decision.codes == ("store.unavailable",)


class _OneAtATime(MemoryStore):
    """A store with the protocol's default batch methods (one hold, one settle at a time)."""

    reserve_many = Store.reserve_many
    settle_many = Store.settle_many


@pytest.mark.parametrize("batched", [True, False], ids=["batch-store", "one-at-a-time"])
def test_reserve_many_counts_the_batch_itself(clock: FrozenClock, batched: bool) -> None:
    """Messages to one number in the same batch see each other's holds: under a cap of 2,
    five messages give two holds and three deferrals; another number has its own slots; an
    invalid number is denied; the order of the input is kept."""
    store = MemoryStore() if batched else _OneAtATime()
    engine = engine_with(rules.frequency_cap(2, DAY), clock, store)
    other = "+12125550124"
    batch = [msg(), msg(), msg(to=other), msg(), msg(to="+1212"), msg(), msg()]
    held = engine.reserve_many(batch)
    verdicts = [h.decision.verdict for h in held]
    assert verdicts == [
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.DEFER,
        Verdict.DENY,
        Verdict.DEFER,
        Verdict.DEFER,
    ]
    assert held[4].decision.codes == ("number.invalid",)
    assert [h.record.number for h in held if h.record] == [NUMBER, NUMBER, other]
    assert len(store.sends([NUMBER], since=T0)[NUMBER]) == 2
    engine.settle_many([(held[0], "p-1", True), (held[1], None, False), (held[2], "p-2", True)])
    kept = store.sends([NUMBER, other], since=T0)
    assert [(r.status, r.provider_id) for r in kept[NUMBER]] == [(SendStatus.SENT, "p-1")]
    assert [(r.status, r.provider_id) for r in kept[other]] == [(SendStatus.SENT, "p-2")]
    assert engine.reserve_many([msg()])[0].allowed  # the released slot is free again
    assert engine.reserve_many([]) == []


class _CountingLocks(MemoryStore):
    """A MemoryStore that notes the numbers each locked reservation was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.locked: list[list[str]] = []

    def reserve(self, number: str, **kw: object) -> SendRecord | None:
        self.locked.append([number])
        return super().reserve(number, **kw)  # type: ignore[arg-type]

    def reserve_many(self, numbers: list[str], **kw: object) -> dict[str, list[SendRecord]]:  # type: ignore[override]
        self.locked.append(list(numbers))
        return super().reserve_many(numbers, **kw)  # type: ignore[arg-type]


def test_a_no_takes_no_lock(clock: FrozenClock) -> None:
    """A message the policy does not allow on the sends read with the rest of its records is
    answered without the store's lock (a no holds nothing); a yes is decided again under the
    lock, and so is every message to a number with several in one batch."""
    store = _CountingLocks()
    engine = engine_with(rules.frequency_cap(1, DAY), clock, store)
    other, third = "+12125550124", "+12125550125"
    assert engine.reserve(msg()).allowed
    assert store.locked == [[NUMBER]]
    deferred = engine.reserve(msg())
    assert deferred.decision.verdict is Verdict.DEFER
    assert deferred.record is None
    assert store.locked == [[NUMBER]]  # no second lock
    held = engine.reserve_many([msg(), msg(to=other), msg(to=third), msg(to=third)])
    assert [h.decision.verdict for h in held] == [
        Verdict.DEFER,
        Verdict.ALLOW,
        Verdict.ALLOW,
        Verdict.DEFER,
    ]
    assert store.locked[1:] == [[other, third]]  # NUMBER was answered without the lock
    assert engine.reserve_many([msg(), msg(to=other)])[0].decision.verdict is Verdict.DEFER
    assert store.locked[2:] == []  # every number said no: the store was not locked at all


def test_settle_many_settles_all_or_nothing(clock: FrozenClock) -> None:
    """A batch with an item that cannot be settled settles nothing and says why."""
    engine = engine_with(rules.frequency_cap(3, DAY), clock)
    first, second = engine.reserve_many([msg(), msg()])
    refused = engine.reserve(msg(to="+1212"))
    with pytest.raises(InvalidInputError, match="nothing was reserved"):
        engine.settle_many([(first, "a", True), (refused, "b", True)])
    with pytest.raises(InvalidInputError, match="already"):
        engine.settle_many([(first, "a", True), (first, "a", True)])
    foreign = engine_with(rules.frequency_cap(3, DAY), clock).reserve(msg())
    with pytest.raises(InvalidInputError, match="another store"):
        engine.settle_many([(second, "a", True), (foreign, "b", True)])
    statuses = {r.status for r in engine.store.sends([NUMBER], since=T0)[NUMBER]}
    assert statuses == {SendStatus.RESERVED}
    engine.settle_many([(first, "a", True), (second, None, False)])
    first_record = first.record
    assert first_record is not None
    (only,) = engine.store.sends([NUMBER], since=T0)[NUMBER]
    assert (only.id, only.status) == (first_record.id, SendStatus.SENT)
    with pytest.raises(InvalidInputError, match="already"):
        first.commit("again")


def test_reserve_many_fails_closed(clock: FrozenClock) -> None:
    """A store error during a batch denies every message of it with store.unavailable."""

    class Broken(MemoryStore):
        def reserve_many(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise ConnectionError("connection reset")

    engine = engine_with(rules.frequency_cap(1, DAY), clock, Broken())
    held = engine.reserve_many([msg(), msg(to="+12125550124"), msg(to="+1212")])
    assert [h.decision.codes for h in held] == [
        ("store.unavailable",),
        ("store.unavailable",),
        ("number.invalid",),
    ]
    assert not any(h.allowed for h in held)

    class Forgetful(MemoryStore):
        """Skips one number and drops the holds of another: neither may pass as allowed."""

        def reserve_many(
            self, numbers: list[str], *, since: object, decide: object, **kw: object
        ) -> object:  # type: ignore[override]
            for number in numbers[1:]:
                decide(number, [])  # type: ignore[operator]
            return {}

    engine = engine_with(rules.frequency_cap(1, DAY), clock, Forgetful())
    held = engine.reserve_many([msg(), msg(to="+12125550124")])
    assert [h.decision.codes for h in held] == [("store.unavailable",), ("store.unavailable",)]
    assert not any(h.allowed for h in held)


def test_dedupe_across_channels_by_person(clock: FrozenClock, store: object) -> None:
    """The same content to the same person on another channel is a duplicate; on the same
    channel only when across_channels=False."""
    engine = engine_with(rules.dedupe(DAY), clock, store)
    sent(engine, msg(body="Sale today", person="p-1"), clock)
    email = msg(to="a@example.com", channel="email", body="sale  TODAY", person="p-1")
    assert engine.evaluate(email).codes == ("dedupe.duplicate",)
    assert engine.evaluate(msg(body="Sale today")).codes == ("dedupe.duplicate",)
    assert engine.evaluate(msg(body="Another text")).allowed
    same_channel = engine_with(rules.dedupe(DAY, across_channels=False), clock, engine.store)
    assert same_channel.evaluate(email).allowed
    clock.advance(DAY)
    assert engine.evaluate(email).allowed


def test_a_batch_dedupes_one_person_across_numbers_and_channels(
    clock: FrozenClock, store: object
) -> None:
    """In one reserve_many, a message to a person sees the holds the batch made for the same
    person on another number or channel: the same content goes once, whichever the order."""
    engine = engine_with(rules.dedupe(DAY), clock, store)
    sms = msg(body="Sale today", person="p-1")
    email = msg(to="a@example.com", channel="email", body="sale  TODAY", person="p-1")
    other = msg(to="+12125550124", body="Sale today", person="p-1")
    stranger = msg(to="+12125550125", body="Sale today", person="p-2")
    held = engine.reserve_many([email, sms, other, stranger])
    assert [h.allowed for h in held] == [True, False, False, True]
    assert held[1].decision.codes == held[2].decision.codes == ("dedupe.duplicate",)
    engine.settle_many([(h, None, False) for h in held if h.allowed])
    clock.advance(HOUR)
    again = engine.reserve_many([sms, email])  # the holds were released: one goes again
    assert [h.allowed for h in again] == [True, False]


class _AsksTwice(MemoryStore):
    """A store that asks decide twice for every number, as after a lost conditional write."""

    def reserve_many(
        self, numbers: list[str], *, since: dt.datetime, decide: object, **kw: object
    ) -> object:  # type: ignore[override]
        def twice(number: str, records: list[SendRecord]) -> list[SendRecord]:
            decide(number, list(records))  # type: ignore[operator]  # the attempt that lost
            return decide(number, records)  # type: ignore[operator, no-any-return]

        return super().reserve_many(numbers, since=since, decide=twice, **kw)  # type: ignore[arg-type]


def test_a_number_decided_again_forgets_its_own_earlier_holds(clock: FrozenClock) -> None:
    """When a store asks again for a number, the holds of that number's first answer count
    neither for its messages nor for the same person elsewhere in the batch."""
    engine = engine_with(rules.dedupe(DAY), clock, _AsksTwice())
    first = msg(body="Sale today", person="p-1")
    second = msg(to="+12125550124", body="Sale today", person="p-1")
    held = engine.reserve_many([first, second])
    assert [h.allowed for h in held] == [True, False]
    assert len(engine.store.sends([NUMBER], since=T0 - DAY)[NUMBER]) == 1


def test_program_frequency_becomes_a_cap(clock: FrozenClock) -> None:
    """A program's declared '2 msgs/month' caps its topic without any rule in the policy."""
    program = Program(
        "News", "Acme", topic="news", help_contact="help@acme.example", frequency="2 msgs/month"
    )
    engine = Engine(Policy(name="open"), clock=clock, programs=[program])
    for _ in range(2):
        sent(engine, msg("news"), clock)
    decision = engine.evaluate(msg("news"))
    assert decision.codes == ("cap.program",)
    assert decision.until == T0 + dt.timedelta(days=30)
    assert engine.evaluate(msg("other")).allowed


def test_engagement_tiers(clock: FrozenClock) -> None:
    """Silent recipients get the reduced tier, then are denied; engaging resets the clock."""
    tier = rules.engagement(
        unengaged_after=dt.timedelta(days=30),
        reduced=(1, dt.timedelta(days=7)),
        remove_after=dt.timedelta(days=90),
    )
    engine = engine_with(tier, clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
    assert engine.evaluate(msg()).allowed
    clock.advance(dt.timedelta(days=40))
    sent(engine, msg(), clock)
    assert engine.evaluate(msg()).codes == ("engagement.reduced",)
    clock.advance(dt.timedelta(days=60))
    assert engine.evaluate(msg()).codes == ("engagement.unengaged",)
    engine.inbound("thanks!", NUMBER)
    assert engine.evaluate(msg()).allowed
    clock.advance(dt.timedelta(days=40))
    engine.record_engagement(NUMBER, kind="click")
    assert engine.evaluate(msg()).allowed


def test_engagement_without_any_activity_is_unengaged(clock: FrozenClock) -> None:
    """A recipient with no consent grant and no engagement on record is unengaged."""
    tier = rules.engagement(unengaged_after=DAY, reduced=(1, DAY), remove_after=2 * DAY)
    assert engine_with(tier, clock).evaluate(msg()).codes == ("engagement.unengaged",)


def test_audit_lists_reminders_and_unengaged(clock: FrozenClock, store: object) -> None:
    """The audit lists subscribers due a localised reminder and those gone silent; a sent
    reminder is not due again within the period."""
    program = Program(
        "Acme Deals",
        "Acme",
        topic="deals",
        help_contact="help@acme.example",
        frequency="Up to 4 msgs/week",
    )
    engine = Engine(
        Policy(name="open"),
        store,
        clock,
        programs=[program],  # type: ignore[arg-type]
        profiles={"+12125550199": Profile(locale="es")},
    )
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
    engine.consent.confirm("+12125550199", topic="deals", purpose="marketing", source="web")
    engine.consent.confirm("+12125550188", topic="deals", purpose="marketing", source="web")
    engine.inbound("STOP", "+12125550188")
    clock.advance(dt.timedelta(days=40))
    engine.record_engagement(NUMBER)
    audit = engine.audit(
        clock.now(), every=dt.timedelta(days=30), unengaged_after=dt.timedelta(days=35)
    )
    assert [(i.number, i.topic) for i in audit.reminders] == [
        (NUMBER, "deals"),
        ("+12125550199", "deals"),
    ]
    assert "You're subscribed to deals" in audit.reminders[0].text
    assert "Estás suscrito a deals" in audit.reminders[1].text
    assert [i.number for i in audit.unengaged] == ["+12125550199"]
    reminder = audit.reminders[0].message()
    assert engine.evaluate(reminder).allowed
    engine.record_sent(reminder)
    again = engine.audit(clock.now(), every=dt.timedelta(days=30))
    assert [i.number for i in again.reminders] == ["+12125550199"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: rules.frequency_cap(0, DAY), "limit must be a positive int, got 0"),
        (lambda: rules.frequency_cap(True, DAY), "limit must be a positive int, got True"),
        (lambda: rules.frequency_cap("3", DAY), "limit must be a positive int, got '3'"),
        (lambda: rules.frequency_cap(1, "day"), "per must be a positive timedelta, got 'day'"),
        (lambda: rules.frequency_cap(1, dt.timedelta(0)), "per must be a positive timedelta, g"),
        (lambda: rules.frequency_cap(1, DAY, calendar=True), "a calendar cap's per is 'day', "),
        (lambda: rules.frequency_cap(1, DAY, scope="x"), "scope must be one of ('topic', 'b"),
        (
            lambda: rules.dedupe(dt.timedelta(0)),
            "window must be a positive timedelta, got datetime.timedelta(0)",
        ),
        (lambda: rules.program_frequency(["x"]), "programs must be Program values, got 'x'"),
        (
            lambda: rules.engagement(unengaged_after=DAY, reduced=(1, DAY), remove_after=DAY),
            "",
        ),
        (
            lambda: rules.engagement(unengaged_after=DAY, reduced=(0, DAY), remove_after=2 * DAY),
            "",
        ),
    ],
    ids=[
        "zero-limit",
        "bool-limit",
        "text-limit",
        "string-per",
        "zero-per",
        "calendar-timedelta",
        "bad-scope",
        "zero-window",
        "not-a-program",
        "remove-before-unengaged",
        "bad-reduced",
    ],
)
def test_bad_arguments(call: object, error: str) -> None:
    """Bad cap, dedupe and engagement arguments raise ConfigurationError saying what is wrong."""
    with pytest.raises(ConfigurationError) as raised:
        call()  # type: ignore[operator]
    assert str(raised.value).startswith(error)


def test_cap_and_dedupe_reprs_read_like_code() -> None:
    """Caps and dedupe print as the calls that built them, options only when not defaults."""
    assert repr(rules.frequency_cap(3, DAY)) == "frequency_cap(3, '1 day, 0:00:00')"
    assert repr(rules.frequency_cap(2, "week", scope="brand", calendar=True)) == (
        "frequency_cap(2, 'week', scope='brand', calendar=True)"
    )
    assert repr(rules.frequency_cap(1, HOUR, name="mine")) == "mine(1, '1:00:00')"
    assert repr(rules.dedupe(DAY)) == "dedupe('1 day, 0:00:00')"
    assert repr(rules.dedupe(HOUR, across_channels=False)) == (
        "dedupe('1:00:00', across_channels=False)"
    )


def rolling_decision(rule: object, message: Message, *sends: SendRecord) -> object:
    recipient = Recipient(address=NUMBER, valid=True, e164=NUMBER, zones=("America/New_York",))
    context = Context(now=T0, recipient=recipient, history=HistoryView(sends=sends))
    return rule(message, context)  # type: ignore[operator]


def record(ago: dt.timedelta, **fields: object) -> SendRecord:
    values: dict[str, object] = {
        "number": NUMBER,
        "at": T0 - ago,
        "topic": "deals",
        "purpose": "marketing",
        "channel": "sms",
        "content_key": "k",
    }
    values.update(fields)
    return SendRecord(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scope", "fields", "value"),
    [
        ("topic", {}, "deals"),
        ("brand", {"brand": "Acme"}, "Acme"),
        ("brand", {}, "-"),
        ("channel", {}, "sms"),
        ("all", {}, "*"),
    ],
    ids=["topic", "brand", "no-brand", "channel", "all"],
)
def test_cap_reason_says_what_was_counted(
    scope: str, fields: dict[str, object], value: str
) -> None:
    """A cap's reason names its rule, citation, the count, the window, the scope and the
    message's value for it."""
    rule = rules.frequency_cap(2, DAY, scope=scope, citation="Rule 3", name="three")  # type: ignore[arg-type]
    message = msg(**fields)
    decision = rolling_decision(rule, message, record(HOUR, **fields), record(2 * HOUR, **fields))
    (reason,) = decision.reasons  # type: ignore[attr-defined]
    assert (reason.code, reason.rule, reason.citation) == ("cap.exceeded", "three", "Rule 3")
    assert reason.data == {
        "count": 2,
        "window": "1 day, 0:00:00",
        "scope": scope,
        "value": value,
        "limit": 2,
    }
    assert reason.message == (
        f"2 messages were already sent in 1 day, 0:00:00 ({scope} {value}); the limit is 2"
    )


def test_cap_reasons_differ_by_count() -> None:
    """Reasons are shared between decisions only when they say the same thing."""
    rule = rules.frequency_cap(1, DAY)
    one = rolling_decision(rule, msg(), record(HOUR))
    two = rolling_decision(rule, msg(), record(HOUR), record(2 * HOUR))
    assert one.reasons[0].data["count"] == 1  # type: ignore[attr-defined]
    assert two.reasons[0].data["count"] == 2  # type: ignore[attr-defined]
    assert one.reasons[0].rule == "frequency_cap"  # type: ignore[attr-defined]


def test_rolling_shortcut_answers_only_the_same_message() -> None:
    """The re-check at a deferral's instant is answered at once only for the message that
    deferred: another message on the same records is counted again."""
    rule = rules.frequency_cap(1, 2 * HOUR)
    sends = (record(HOUR), record(dt.timedelta(minutes=30), topic="news"))
    recipient = Recipient(address=NUMBER, valid=True, e164=NUMBER)
    history = HistoryView(sends=sends)
    deals = rule(msg(), Context(now=T0, recipient=recipient, history=history))
    assert deals.until == T0 + HOUR
    later = Context(now=T0 + HOUR, recipient=recipient, history=history)
    news = rule(msg("news"), later)
    assert news.until == T0 + dt.timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(
    ("rule", "lookback", "name"),
    [
        (rules.frequency_cap(1, DAY, name="capped"), DAY, "capped"),
        (rules.dedupe(HOUR), HOUR, "dedupe"),
    ],
    ids=["cap", "dedupe"],
)
def test_history_gap_reason(rule: object, lookback: dt.timedelta, name: str) -> None:
    """A history read shorter than the rule's look-back is DENY history.too_short, naming the
    rule, what was read and what is needed."""
    recipient = Recipient(address=NUMBER, valid=True, e164=NUMBER)
    since = T0 - lookback + dt.timedelta(seconds=1)
    context = Context(now=T0, recipient=recipient, history=HistoryView(since=since))
    decision = rule(msg(), context)  # type: ignore[operator]
    (reason,) = decision.reasons
    assert (reason.code, reason.rule) == ("history.too_short", name)
    assert reason.data == {
        "covered": str(lookback - dt.timedelta(seconds=1)),
        "needed": str(lookback),
    }
    enough = Context(now=T0, recipient=recipient, history=HistoryView(since=T0 - lookback))
    assert rule(msg(), enough).allowed  # type: ignore[operator]


def test_dedupe_window_boundary_and_reason() -> None:
    """The same content exactly one window ago is no duplicate; a microsecond later it is, and
    the reason says when and on which channel it went."""
    rule = rules.dedupe(HOUR)
    message = msg(body="Sale")
    old = record(HOUR, content_key=message.content_key, channel="email")
    assert rolling_decision(rule, message, old).allowed  # type: ignore[attr-defined]
    recent = record(HOUR - TINY, content_key=message.content_key, channel="email")
    decision = rolling_decision(rule, message, recent)
    (reason,) = decision.reasons  # type: ignore[attr-defined]
    assert (reason.code, reason.rule) == ("dedupe.duplicate", "dedupe")
    assert reason.data == {
        "at": "2025-01-15T14:00:00.000001+00:00",
        "channel": "email",
        "content_key": message.content_key,
    }


def test_program_frequency_picks_the_program_of_the_topic() -> None:
    """Two programs of one brand: each topic gets its own program's cap, named after it."""
    loose = Program("Deals", "Acme", topic="deals", help_contact="h", frequency="10 msgs/day")
    tight = Program("News", "Acme", topic="news", help_contact="h", frequency="1 msgs/day")
    rule = rules.program_frequency([loose, tight])
    news = rolling_decision(rule, msg("news", brand="Acme"), record(HOUR, topic="news"))
    assert news.verdict is Verdict.DEFER  # type: ignore[attr-defined]
    assert news.reasons[0].rule == "program_frequency[News]"  # type: ignore[attr-defined]
    other_brand = rolling_decision(rule, msg("news", brand="Other"), record(HOUR, topic="news"))
    assert other_brand.allowed  # type: ignore[attr-defined]


# --- the cap law against a brute-force model -----------------------------------------------

gaps = st.lists(st.integers(1, 60 * 20), min_size=1, max_size=25)


@given(st.integers(1, 4), st.sampled_from([HOUR * 3, DAY]), gaps)
def test_rolling_cap_never_exceeded(limit: int, per: dt.timedelta, minutes: list[int]) -> None:
    """For any sequence of attempts, a rolling cap of N never lets N+1 sends into any window,
    and allows exactly when a brute-force count says there is room."""
    clock = FrozenClock(T0)
    engine = engine_with(rules.frequency_cap(limit, per), clock)
    committed: list[dt.datetime] = []
    for gap in minutes:
        clock.advance(dt.timedelta(minutes=gap))
        now = clock.now()
        room = sum(1 for t in committed if t > now - per) < limit
        held = engine.reserve(msg())
        assert held.allowed is room
        if held.allowed:
            held.commit("x")
            committed.append(now)
        else:
            assert (
                held.decision.until == sorted(t for t in committed if t > now - per)[-limit] + per
            )
    for t in committed:
        assert sum(1 for u in committed if t - per < u <= t) <= limit


_RECORDS = st.lists(
    st.tuples(
        st.integers(-60 * 30, 60 * 6),  # minutes from now: sends in the past and dated ahead
        st.sampled_from(["deals", "alerts"]),
        st.none() | st.integers(1, 60 * 30),  # None: sent; else a hold expiring in so long
    ),
    max_size=12,
)


@given(st.integers(1, 4), st.sampled_from([HOUR * 3, DAY]), _RECORDS)
def test_rolling_cap_allows_at_the_instant_it_defers_to(
    limit: int, per: dt.timedelta, records: list[tuple[int, str, int | None]]
) -> None:
    """A rolling cap's deferral is exact: evaluated afresh (a new rule, new views of the same
    records) at the instant it deferred to, it allows; and the rule's answer to the re-run at
    that instant, which it answers from its last deferral, is the same as a fresh one."""
    now = T0
    recipient = Recipient(address=NUMBER, valid=True)
    sends = sorted(
        (
            SendRecord(
                number=NUMBER,
                at=now + dt.timedelta(minutes=minutes),
                topic=topic,
                purpose="marketing",
                channel="sms",
                content_key="k",
                status="sent" if hold is None else "reserved",
                expires=None if hold is None else now + dt.timedelta(minutes=hold),
            )
            for minutes, topic, hold in records
        ),
        key=lambda r: (r.at, r.id),
    )

    def context(at: dt.datetime) -> Context:
        history = HistoryView(sends=sends, since=now - dt.timedelta(days=3))
        return Context(now=at, recipient=recipient, history=history)

    cap = rules.frequency_cap(limit, per)
    first = context(now)
    decision = cap(msg(), first)
    if decision.verdict is not Verdict.DEFER:
        return
    assert decision.until is not None
    fresh = rules.frequency_cap(limit, per)(msg(), context(decision.until))
    assert fresh.verdict is Verdict.ALLOW
    message = msg()
    assert cap(message, first).verdict is Verdict.DEFER
    assert cap(message, first.at(decision.until)) == fresh


def test_rolling_cap_answers_only_its_own_re_run_at_once() -> None:
    """What a cap remembers of its last deferral applies to the same records, recipient and
    message at that instant only: other records at that instant are counted."""
    recipient = Recipient(address=NUMBER, valid=True)

    def send(minutes: int) -> SendRecord:
        return SendRecord(
            number=NUMBER,
            at=T0 + dt.timedelta(minutes=minutes),
            topic="deals",
            purpose="marketing",
            channel="sms",
            content_key="k",
        )

    def context(at: dt.datetime, sends: list[SendRecord]) -> Context:
        history = HistoryView(sends=sends, since=T0 - DAY)
        return Context(now=at, recipient=recipient, history=history)

    cap, message = rules.frequency_cap(1, HOUR * 3), msg()
    first = context(T0, [send(-60)])
    deferred = cap(message, first)
    assert deferred.until == T0 + HOUR * 2
    later = deferred.until
    busier = context(later, [send(-60), send(60)])
    assert cap(message, busier).verdict is Verdict.DEFER  # other records: counted
    assert cap(msg(), first.at(later)).verdict is Verdict.ALLOW  # another message, counted
    cap(message, first)
    assert cap(message, first.at(later)).verdict is Verdict.ALLOW


@given(
    st.integers(1, 3),
    st.sampled_from(["America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
    gaps,
)
def test_calendar_cap_never_exceeded(limit: int, zone: str, minutes: list[int]) -> None:
    """A calendar-day cap of N never lets N+1 sends into one local day, and allows exactly
    when the local day has room."""
    clock = FrozenClock(dt.datetime(2025, 3, 8, tzinfo=dt.UTC))
    rule = rules.frequency_cap(limit, "day", calendar=True)
    recipient = Recipient(address=NUMBER, valid=True, zones=(zone,))
    tz = zoneinfo.ZoneInfo(zone)
    store = MemoryStore()
    committed: list[dt.datetime] = []
    for gap in minutes:
        clock.advance(dt.timedelta(minutes=gap * 3))
        now = clock.now()
        day = now.astimezone(tz).date()
        room = sum(1 for t in committed if t.astimezone(tz).date() == day) < limit
        history = HistoryView(sends=store.sends([NUMBER], since=now - 3 * DAY)[NUMBER])
        decision = rule(msg(), Context(now=now, recipient=recipient, history=history))
        assert decision.allowed is room
        if decision.allowed:
            store.record_send(
                SendRecord(
                    number=NUMBER,
                    at=now,
                    topic="deals",
                    purpose="marketing",
                    channel="sms",
                    content_key="k",
                )
            )
            committed.append(now)
        else:
            assert decision.until is not None
            assert decision.until.astimezone(tz).time() == dt.time(0, 0)
            assert decision.until.astimezone(tz).date() > day
    days = [t.astimezone(tz).date() for t in committed]
    assert all(days.count(d) <= limit for d in days)


# --- several processes, one SQLite file ----------------------------------------------------

WORKER = """
import sys, datetime as dt
from smspolicy import Engine, Message, Policy, rules
from smspolicy.store import SQLiteStore
cap = rules.frequency_cap(3, dt.timedelta(days=1))
engine = Engine(Policy(cap, name="p"), SQLiteStore(sys.argv[1]))
got = 0
for _ in range(10):
    held = engine.reserve(Message("+12125550123", "deals", "marketing"))
    if held.allowed:
        held.commit("x")
        got += 1
print(got)
"""


def test_processes_never_exceed_cap_on_sqlite(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Four processes racing on one SQLiteStore never send more than the cap, over many races."""
    for race in range(5):
        path = tmp_path_factory.mktemp(f"race{race}") / "s.db"
        SQLiteStore(path).close()
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(path)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        counts = [int(w.communicate(timeout=120)[0]) for w in workers]
        assert sum(counts) == 3, counts
        sends = SQLiteStore(path).sends(["+12125550123"], since=T0 - DAY * 3650)["+12125550123"]
        assert len([s for s in sends if s.status is SendStatus.SENT]) == 3


def test_engine_reads_history_as_far_back_as_the_policy_needs(clock: FrozenClock) -> None:
    """A cap over 180 days counts a send 170 days old: the engine reads history past its default
    93 days because the policy asks for it."""
    cap = rules.frequency_cap(1, dt.timedelta(days=180))
    engine = engine_with(when(is_marketing, cap), clock)  # nested inside a combinator
    assert engine.history >= dt.timedelta(days=180)
    engine.record_sent(msg())
    clock.advance(dt.timedelta(days=170))
    decision = engine.evaluate(msg())
    assert decision.codes == ("cap.exceeded",)
    assert decision.until == T0 + dt.timedelta(days=180)


def test_rule_refuses_a_history_shorter_than_its_window(clock: FrozenClock) -> None:
    """A cap given a shorter history than its window denies rather than undercounting."""
    cap = rules.frequency_cap(1, dt.timedelta(days=180))
    recipient = Recipient(address=NUMBER, valid=True)
    history = HistoryView(sends=(), since=clock.now() - dt.timedelta(days=93))
    decision = cap(msg(), Context(now=clock.now(), recipient=recipient, history=history))
    assert decision.codes == ("history.too_short",)
    assert not decision.allowed


# --- calendar and stand-in boundaries, with expected instants written out -----------------

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TINY = dt.timedelta(microseconds=1)


def ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


def a_send(at: dt.datetime) -> SendRecord:
    return SendRecord(
        number=NUMBER,
        at=at,
        topic="deals",
        purpose="marketing",
        channel="sms",
        content_key="k",
        provider_id="p",
    )


def cap_decision(
    rule: object,
    now: dt.datetime,
    *sends: dt.datetime,
    zones: tuple[str, ...] = ("America/New_York",),
    since: dt.datetime | None = None,
) -> object:
    recipient = Recipient(address=NUMBER, valid=True, e164=NUMBER, zones=zones)
    history = HistoryView(sends=[a_send(at) for at in sends], since=since)
    return rule(msg(), Context(now=now, recipient=recipient, history=history))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("per", "sent_ago", "until"),
    [
        ("day", dt.timedelta(hours=23), T0 + HOUR),
        ("day", DAY - TINY, T0 + TINY),
        ("day", DAY, None),
        ("week", dt.timedelta(days=6), T0 + DAY),
        ("week", dt.timedelta(days=7) - TINY, T0 + TINY),
        ("week", dt.timedelta(days=7), None),
        ("month", dt.timedelta(days=30, hours=12), T0 + dt.timedelta(hours=12)),
        ("month", dt.timedelta(days=31) - TINY, T0 + TINY),
        ("month", dt.timedelta(days=31), None),
    ],
    ids=[
        "day-23h",
        "day-just-inside",
        "day-just-out",
        "week-6d",
        "week-just-inside",
        "week-just-out",
        "month-30.5d",
        "month-just-inside",
        "month-just-out",
    ],
)
def test_calendar_cap_without_a_zone_rolls_one_period(
    per: str, sent_ago: dt.timedelta, until: dt.datetime | None
) -> None:
    """With no known zone a calendar cap rolls: one day, seven days, 31 days, counting a send
    made just inside the period and not one made exactly a period ago."""
    rule = rules.frequency_cap(1, per, calendar=True)
    decision = cap_decision(rule, T0, T0 - sent_ago, zones=())
    assert decision.until == until  # type: ignore[attr-defined]
    assert decision.allowed is (until is None)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("per", "lookback"),
    [
        ("day", dt.timedelta(days=2)),
        ("week", dt.timedelta(days=8)),
        ("month", dt.timedelta(days=32)),
        (dt.timedelta(hours=5), dt.timedelta(hours=5)),
    ],
    ids=["day", "week", "month", "rolling-5h"],
)
def test_cap_needs_its_period_plus_a_day_of_history(
    per: str | dt.timedelta, lookback: dt.timedelta
) -> None:
    """A calendar cap needs one period plus a day of history (a period starts at a local
    midnight); a rolling cap its window: exactly that much is enough, a microsecond less is
    DENY history.too_short."""
    rule = rules.frequency_cap(1, per, calendar=isinstance(per, str))
    assert rule.lookback() == lookback
    assert cap_decision(rule, T0, since=T0 - lookback).allowed  # type: ignore[attr-defined]
    short = cap_decision(rule, T0, since=T0 - lookback + TINY)
    assert short.codes == ("history.too_short",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("per", "now", "first", "before", "until"),
    [
        ("day", ny(2025, 1, 15, 10), ny(2025, 1, 15), ny(2025, 1, 14, 23, 59), ny(2025, 1, 16)),
        ("week", ny(2025, 1, 15, 10), ny(2025, 1, 13), ny(2025, 1, 12, 23, 59), ny(2025, 1, 20)),
        ("month", ny(2025, 1, 15, 10), ny(2025, 1, 1), ny(2024, 12, 31, 23, 59), ny(2025, 2, 1)),
        ("month", ny(2025, 2, 10, 10), ny(2025, 2, 1), ny(2025, 1, 31, 23, 59), ny(2025, 3, 1)),
        ("month", ny(2024, 12, 15), ny(2024, 12, 1), ny(2024, 11, 30, 23, 59), ny(2025, 1, 1)),
        ("month", ny(2025, 4, 30, 22), ny(2025, 4, 1), ny(2025, 3, 31, 23, 59), ny(2025, 5, 1)),
    ],
    ids=["day", "week-monday", "month-january", "month-february", "month-december", "month-april"],
)
def test_calendar_period_starts_at_its_first_local_midnight(
    per: str, now: dt.datetime, first: dt.datetime, before: dt.datetime, until: dt.datetime
) -> None:
    """A send exactly at the local midnight that starts the day, the Monday or the 1st counts
    for that period (the next opens at its own first midnight); one a moment before does not."""
    rule = rules.frequency_cap(1, per, calendar=True)
    decision = cap_decision(rule, now, first)
    assert decision.until == until  # type: ignore[attr-defined]
    assert decision.zone == "America/New_York"  # type: ignore[attr-defined]
    last_moment = before + dt.timedelta(seconds=59, microseconds=999_999)
    assert cap_decision(rule, now, last_moment).allowed  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("booked", "until"),
    [
        ((ny(2025, 1, 16),), ny(2025, 1, 17)),
        ((ny(2025, 1, 16, 23, 59),), ny(2025, 1, 17)),
        ((ny(2025, 1, 17),), ny(2025, 1, 16)),
        ((ny(2025, 1, 16), ny(2025, 1, 17, 12)), ny(2025, 1, 18)),
    ],
    ids=["tomorrow-midnight", "tomorrow-late", "day-after", "two-days-full"],
)
def test_deferral_skips_periods_already_full_of_sends_booked_ahead(
    booked: tuple[dt.datetime, ...], until: dt.datetime
) -> None:
    """With today full, the deferral goes to the first later local day with room: a send
    booked for tomorrow (from its midnight on) fills it; one on the day after does not."""
    rule = rules.frequency_cap(1, "day", calendar=True)
    decision = cap_decision(rule, ny(2025, 1, 15, 10), ny(2025, 1, 15, 9), *booked)
    assert decision.until == until  # type: ignore[attr-defined]


def test_sends_booked_ahead_do_not_count_for_today() -> None:
    """A send dated tomorrow does not fill today: with none today the cap allows."""
    rule = rules.frequency_cap(1, "day", calendar=True)
    assert cap_decision(rule, ny(2025, 1, 15, 10), ny(2025, 1, 16)).allowed  # type: ignore[attr-defined]
    two = rules.frequency_cap(2, "day", calendar=True)
    today_and_tomorrow = (ny(2025, 1, 15, 9), ny(2025, 1, 16, 9))
    assert cap_decision(two, ny(2025, 1, 15, 10), *today_and_tomorrow).allowed  # type: ignore[attr-defined]


def test_calendar_cap_counts_and_names_the_latest_zone() -> None:
    """Over two zones the deferral goes to the later midnight, names that zone and counts the
    sends of its day: at 00:30 New York (23:30 Chicago) a send at 23:45 New York the evening
    before (22:45 Chicago) counts for Chicago's day only."""
    rule = rules.frequency_cap(1, "day", calendar=True)
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    now = ny(2025, 1, 16, 0, 30)
    decision = cap_decision(
        rule,
        now,
        ny(2025, 1, 15, 23, 45),
        zones=("America/New_York", "America/Chicago"),
    )
    assert decision.until == dt.datetime(2025, 1, 16, tzinfo=chicago)  # type: ignore[attr-defined]
    assert decision.zone == "America/Chicago"  # type: ignore[attr-defined]
    assert decision.reasons[0].data["count"] == 1  # type: ignore[attr-defined]
    assert decision.reasons[0].data["window"] == "this calendar day"  # type: ignore[attr-defined]


def test_equal_midnights_name_the_first_zone() -> None:
    """Two zones whose midnights coincide (New York, Detroit): the first one is named."""
    rule = rules.frequency_cap(1, "day", calendar=True)
    decision = cap_decision(
        rule, ny(2025, 1, 15, 10), ny(2025, 1, 15, 9), zones=("America/Detroit", "America/New_York")
    )
    assert decision.until == ny(2025, 1, 16)  # type: ignore[attr-defined]
    assert decision.zone == "America/Detroit"  # type: ignore[attr-defined]
