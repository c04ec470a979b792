"""Rules that say they allow onward keep the promise: whenever one allows without reasons at an
instant, it allows without reasons (and with no zone) at every later instant on the same
records. Random send logs hold what real ones do: sends dated ahead, live and expired holds,
keyword replies, other topics, brands and channels, and a history read that does not reach
back far enough. The fast path relies on the promise to skip those rules at a deferral's later
instants; a rule that does not keep it (a calendar cap, a sending window, consent) says so."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import (
    Context,
    Decision,
    Message,
    Policy,
    Resolver,
    Verdict,
    allow,
    defer,
    deny,
    rule,
    rules,
)
from smspolicy._compose import run_rule
from smspolicy._constants import REPLY_TOPIC
from smspolicy._context import ConsentView, HistoryView, is_onward
from smspolicy._fastpath import FastPath
from smspolicy._records import SendRecord, SendStatus
from smspolicy._values import Reason
from smspolicy.jurisdictions._model import InForce, OnChannels, StandIn
from smspolicy.programs import Program
from smspolicy.typing import Rule

RESOLVER = Resolver()
NOW = dt.datetime(2026, 11, 27, 17, tzinfo=dt.UTC)
NUMBER = "+12125550100"
TOPICS = ("deals", "news", REPLY_TOPIC)
KEYS = ("a", "b", "c")


def _program() -> Program:
    return Program(
        "Acme Deals",
        "Acme",
        topic="deals",
        help_contact="help@acme.example",
        frequency="2 msgs/day",
    )


ONWARD: list[Rule] = [
    rules.frequency_cap(1, dt.timedelta(hours=6)),
    rules.frequency_cap(2, dt.timedelta(days=1), scope="brand"),
    rules.frequency_cap(3, dt.timedelta(days=1), scope="channel"),
    rules.frequency_cap(2, dt.timedelta(days=2), scope="all"),
    rules.dedupe(dt.timedelta(days=1)),
    rules.dedupe(dt.timedelta(hours=12), across_channels=False),
    rules.valid_number(),
    rules.valid_number(countries=["GB"]),
    rules.required_content(),
    InForce(rules.frequency_cap(1, dt.timedelta(days=1)), None, dt.date(2026, 11, 28)),
    StandIn(rules.dedupe(dt.timedelta(days=1)), (("GG", "GB"),), "uk.pecr.content"),
    OnChannels(rules.frequency_cap(2, dt.timedelta(days=1)), frozenset()),
]


def test_the_rules_that_allow_onward_say_so() -> None:
    """Rolling caps, dedupe, a valid number and required content promise it (wrappers when
    their rule does, a law only without a start date); a calendar cap, a sending window,
    consent and a law that starts later do not."""
    for item in ONWARD:
        assert is_onward(item), item
    cap = rules.frequency_cap(1, dt.timedelta(days=1))
    window = rules.sending_window("08:00", "21:00")
    assert not is_onward(rules.frequency_cap(1, "day", calendar=True))
    assert not is_onward(window)
    assert not is_onward(rules.consent())
    assert not is_onward(InForce(cap, dt.date(2026, 12, 1), None))
    assert not is_onward(InForce(window, None, None))
    assert not is_onward(StandIn(window, (("GG", "GB"),), "uk.pecr.consent"))
    assert not is_onward(OnChannels(window, frozenset()))
    assert is_onward(rules.program_frequency([_program()]))


def records() -> st.SearchStrategy[SendRecord]:
    """A send or a hold within three days before and one day after ``NOW``."""
    return st.builds(
        lambda minutes, topic, brand, channel, key, held, expiry: SendRecord(
            number=NUMBER,
            at=NOW + dt.timedelta(minutes=minutes),
            topic=topic,
            purpose="marketing",
            channel=channel,
            content_key=key,
            brand=brand,
            status=SendStatus.RESERVED if held else SendStatus.SENT,
            expires=NOW + dt.timedelta(minutes=expiry) if held else None,
        ),
        st.integers(-3 * 24 * 60, 24 * 60),
        st.sampled_from(TOPICS),
        st.sampled_from(["Acme", "Other", None]),
        st.sampled_from(["sms", "email"]),
        st.sampled_from(KEYS),
        st.booleans(),
        st.integers(-120, 24 * 60),
    )


def _context(now: dt.datetime, sends: list[SendRecord], since: dt.datetime) -> Context:
    return Context(
        now=now,
        recipient=RESOLVER.resolve(NUMBER),
        consent=ConsentView(events=()),
        history=HistoryView(sends=sorted(sends, key=lambda r: r.at), since=since),
    )


def _plain(decision: Decision) -> bool:
    return decision.verdict is Verdict.ALLOW and not decision.reasons and decision.zone is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([*ONWARD, rules.program_frequency([_program()])]),
    st.lists(records(), max_size=6),
    st.integers(0, 4 * 24 * 60),
    st.lists(st.integers(1, 3 * 24 * 60), min_size=1, max_size=4),
    st.sampled_from(TOPICS[:2]),
    st.sampled_from(["sms", "email"]),
    st.sampled_from(KEYS),
    st.sampled_from(["Acme", None]),
    st.sampled_from(["Acme: 20% off. Reply STOP to opt out.", "20% off"]),
)
def test_an_onward_rule_that_allows_now_allows_later(
    item: Rule,
    sends: list[SendRecord],
    reach: int,
    later: list[int],
    topic: str,
    channel: str,
    key: str,
    brand: str | None,
    body: str,
) -> None:
    """At ``NOW`` and at instants up to three days later, on one send log and one history
    read (reaching back ``reach`` minutes): a rule that allows without reasons at ``NOW``
    allows without reasons at every later instant."""
    address = NUMBER if channel == "sms" else "someone@example.com"
    message = Message(
        address, topic, "marketing", channel=channel, content_key=key, brand=brand, body=body
    )
    since = NOW - dt.timedelta(minutes=reach)
    now = _context(NOW, sends, since)
    if not _plain(run_rule(item, message, now)):
        return
    for minutes in later:
        at = now.at(NOW + dt.timedelta(minutes=minutes))
        assert _plain(run_rule(item, message, at)), (item, minutes)


def test_the_property_meets_both_sides_of_a_cap() -> None:
    """The boundary the property rests on, by hand: a rolling cap of one per six hours with a
    send five hours ago defers now and allows an hour later; with it six hours ago it allows
    now and later; a send dated ahead counts now and still counts later."""
    cap = rules.frequency_cap(1, dt.timedelta(hours=6))
    message = Message(NUMBER, "deals", "marketing")

    def sent(hours: float) -> SendRecord:
        return SendRecord(
            number=NUMBER,
            at=NOW + dt.timedelta(hours=hours),
            topic="deals",
            purpose="marketing",
            channel="sms",
            content_key="k",
        )

    since = NOW - dt.timedelta(days=2)
    recent = _context(NOW, [sent(-5)], since)
    assert run_rule(cap, message, recent).until == NOW + dt.timedelta(hours=1)
    assert _plain(run_rule(cap, message, recent.at(NOW + dt.timedelta(hours=1))))
    old = _context(NOW, [sent(-6)], since)
    assert _plain(run_rule(cap, message, old))
    assert _plain(run_rule(cap, message, old.at(NOW + dt.timedelta(hours=30))))
    ahead = _context(NOW, [sent(2)], since)
    assert run_rule(cap, message, ahead).verdict is Verdict.DEFER
    assert run_rule(cap, message, ahead.at(NOW + dt.timedelta(hours=3))).verdict is Verdict.DEFER


def test_a_calendar_cap_does_not_allow_onward() -> None:
    """Why a calendar cap makes no promise: a send dated tomorrow leaves today's period free
    and fills tomorrow's."""
    cap = rules.frequency_cap(1, "day", calendar=True)
    message = Message(NUMBER, "deals", "marketing")
    tomorrow = SendRecord(
        number=NUMBER,
        at=NOW + dt.timedelta(days=1),
        topic="deals",
        purpose="marketing",
        channel="sms",
        content_key="k",
    )
    context = _context(NOW, [tomorrow], NOW - dt.timedelta(days=3))
    assert _plain(run_rule(cap, message, context))
    later = context.at(NOW + dt.timedelta(days=1))
    assert run_rule(cap, message, later).verdict is Verdict.DEFER


class _Claims:
    """A rule that says it allows onward and defers some numbers at 13:00 UTC only (whether
    it keeps the promise is up to the test): the fast path must not ask it again at a
    deferral's later instants when it allowed plainly now, and must when it did not."""

    def __init__(self, now_defers: bool) -> None:
        self.now_defers = now_defers

    def allows_onward(self) -> bool:
        return True

    def __call__(self, message: Message, context: Context) -> Decision:
        opening = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
        if self.now_defers and context.now < opening - dt.timedelta(hours=1):
            return defer(opening, Reason("test.wait", "claims", "wait"))
        if message.to.endswith("1") and opening <= context.now < opening + dt.timedelta(hours=1):
            return defer(opening + dt.timedelta(hours=1), Reason("test.busy", "claims", "busy"))
        return allow()


def _pair_through(item: Rule) -> tuple[Decision, Decision, FastPath]:
    window = rules.sending_window("08:00", "21:00")
    fast = FastPath(Policy(window, item, name="p"))
    now = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)  # 03:00 in New York
    first, second = (Message(n, "news", "marketing") for n in ("+12125550100", "+12125550111"))
    view = RESOLVER.resolve(first.to)

    def context(message: Message) -> Context:
        return Context(
            now=now,
            recipient=RESOLVER.resolve(message.to),
            consent=ConsentView(events=()),
            history=HistoryView(sends=(), since=now - dt.timedelta(days=2)),
        )

    assert view.zones == ("America/New_York",)
    fast(first, context(first))  # seen
    one = fast(first, context(first))  # remembered
    return one, fast(second, context(second)), fast


@pytest.mark.caches
def test_a_leaf_that_allows_onward_and_allowed_now_is_not_asked_again() -> None:
    """The remembered deferral is given to the second number without asking the leaf at
    13:00 UTC, where (breaking its promise) it would defer that number: the skip is real, and
    nothing of the trail is kept when every leaf asked was skipped."""
    one, two, fast = _pair_through(_Claims(now_defers=False))
    opening = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
    assert one.until == two.until == opening
    (entry,) = fast._deferrals.values()
    assert entry[1] == ()  # type: ignore[index]  # no leaf asked again
    assert entry[3] == ()  # type: ignore[index]  # so no instant kept


@pytest.mark.caches
def test_a_leaf_that_allows_onward_but_deferred_now_is_asked_again() -> None:
    """When the leaf did not allow plainly now (it deferred), the promise says nothing: it is
    asked at the deferral's instant, and the second number is deferred past it."""
    one, two, _fast = _pair_through(_Claims(now_defers=True))
    opening = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
    assert one.until == opening
    assert two.until == opening + dt.timedelta(hours=1)


@rule(name="busy_for_some")
def busy_for_some(message: Message, context: Context) -> Decision:
    """Makes no promise; defers numbers ending in 1 for the hour from 13:00 UTC."""
    opening = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
    if message.to.endswith("1") and opening <= context.now < opening + dt.timedelta(hours=1):
        return defer(opening + dt.timedelta(hours=1), Reason("test.busy", "busy", "busy"))
    return allow()


@pytest.mark.caches
def test_a_leaf_without_the_promise_is_asked_again() -> None:
    """The same leaf without the promise: asked at 13:00 UTC, the second number is deferred
    to 14:00 UTC."""
    one, two, _fast = _pair_through(busy_for_some)
    opening = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
    assert one.until == opening
    assert two.until == opening + dt.timedelta(hours=1)


def test_a_deferral_with_caps_and_dedupe_equals_the_trees() -> None:
    """Sending windows, two rolling caps, dedupe and required content, for numbers with
    different send logs (none, under the cap, at it, a duplicate, a send dated ahead), decided
    through one fast path at every hour of a day, twice: each decision equals the tree's for
    that number alone."""
    policy = Policy(
        rules.valid_number(),
        rules.sending_window("08:00", "21:00"),
        rules.quiet_hours("12:00", "13:00", zones="principal"),
        rules.frequency_cap(2, dt.timedelta(days=1)),
        rules.frequency_cap(1, dt.timedelta(hours=3), scope="all"),
        rules.dedupe(dt.timedelta(days=1)),
        rules.required_content(),
        name="p",
    )
    logs: dict[str, list[float]] = {
        "+12125550100": [],
        "+12125550111": [-20.0],
        "+12125550122": [-23.5, -2.0],
        "+12125550133": [-1.0],
        "+447911123450": [-23.0, -22.0],
        "+447911123461": [1.5],
        "+61412345670": [-10.0],
        "+61412345681": [-10.0],
    }
    fast = FastPath(policy)
    day = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    seen = set()
    for hour in range(24):
        now = day + dt.timedelta(hours=hour)
        for _round in range(2):
            for number, hours in logs.items():
                sends = [
                    SendRecord(
                        number=number,
                        at=now + dt.timedelta(hours=h),
                        topic="deals",
                        purpose="marketing",
                        channel="sms",
                        content_key="old",
                    )
                    for h in hours
                ]
                key = "old" if number.endswith("81") else "new"
                message = Message(
                    number,
                    "deals",
                    "marketing",
                    body="Acme: 20% off. Reply STOP to opt out.",
                    brand="Acme",
                    content_key=key,
                )
                remembered = fast(message, _context_for(number, now, sends))
                alone = run_rule(policy, message, _context_for(number, now, sends))
                assert (remembered.verdict, remembered.until, remembered.reasons) == (
                    alone.verdict,
                    alone.until,
                    alone.reasons,
                ), (number, now)
                seen.add(alone.verdict)
    assert seen == {Verdict.ALLOW, Verdict.DEFER, Verdict.DENY}


def _context_for(number: str, now: dt.datetime, sends: list[SendRecord]) -> Context:
    return Context(
        now=now,
        recipient=RESOLVER.resolve(number),
        consent=ConsentView(events=()),
        history=HistoryView(sends=sends, since=now - dt.timedelta(days=3)),
    )


NIGHT_BEFORE = dt.datetime(2026, 11, 27, 4, tzinfo=dt.UTC)  # 23:00 on the 26th in New York


@rule(name="refuse_some")
def refuse_some(message: Message, _context: Context) -> Decision:
    """Makes no promise; denies numbers ending in 1."""
    if message.to.endswith("1"):
        return deny(Reason("test.refused", "refuse_some", "refused"))
    return allow()


def _pair_at_night(law: Rule) -> tuple[Decision, Decision, FastPath, Policy]:
    """Two New York numbers at 23:00 local, deferred by an 08:00-21:00 window to 08:00 on the
    27th (13:00 UTC), through one fast path: the first seen, then remembered, then the
    second."""
    policy = Policy(rules.sending_window("08:00", "21:00"), law, rules.valid_number(), name="p")
    fast = FastPath(policy)
    first, second = (Message(n, "news", "marketing") for n in ("+12125550100", "+12125550111"))

    def context(message: Message) -> Context:
        return Context(
            now=NIGHT_BEFORE,
            recipient=RESOLVER.resolve(message.to),
            consent=ConsentView(events=()),
            history=HistoryView(sends=(), since=NIGHT_BEFORE - dt.timedelta(days=2)),
        )

    fast(first, context(first))
    one = fast(first, context(first))
    two = fast(second, context(second))
    assert (two.verdict, two.until, two.reasons) == (
        run_rule(policy, second, context(second)).verdict,
        run_rule(policy, second, context(second)).until,
        run_rule(policy, second, context(second)).reasons,
    )
    return one, two, fast, policy


@pytest.mark.caches
def test_a_law_that_comes_into_force_before_the_deferral_is_asked_there() -> None:
    """A law in force from the 27th (not yet at 23:00 on the 26th, in force at 08:00 on the
    27th) that refuses the second number: the deferral is not given to it, which is denied as
    the tree denies it."""
    law = InForce(refuse_some, dt.date(2026, 11, 27), None)
    one, two, fast, _policy = _pair_at_night(law)
    assert one.until == dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
    assert two.verdict is Verdict.DENY
    (entry,) = fast._deferrals.values()
    assert entry[1] != ()  # type: ignore[index]  # the law is asked again


@pytest.mark.caches
def test_a_law_in_force_throughout_is_settled_for_the_deferral_too() -> None:
    """A law in force since the 1st, around a rule that allows onward: settled alike now and
    at 08:00, so the remembered deferral asks nothing again. With an end date the law stays
    unsettled (only a call can cut a deferral at its end) and makes no promise: it is asked
    again."""
    settled = InForce(rules.dedupe(dt.timedelta(days=1)), dt.date(2026, 11, 1), None)
    one, two, fast, _policy = _pair_at_night(settled)
    assert one.until == two.until == dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
    (entry,) = fast._deferrals.values()
    assert entry[1] == ()  # type: ignore[index]
    ending = InForce(rules.dedupe(dt.timedelta(days=1)), dt.date(2026, 11, 1), dt.date(2027, 1, 1))
    one, two, fast, _policy = _pair_at_night(ending)
    assert one.until == two.until
    (entry,) = fast._deferrals.values()
    assert entry[1] == (ending,)  # type: ignore[index]
