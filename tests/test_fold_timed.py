"""Fold-timed rules keep their promise: at a later instant through which every fold of the
consent view holds (``ConsentView.holds_through``), each decides as it did, and as it does on
a view folded afresh there. The fast path relies on it to leave the consent rules out at a
deferral's later instants; a recipient whose consent changes before then is decided apart."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import (
    ConsentEvent,
    Context,
    Message,
    Policy,
    Purpose,
    Resolver,
    Verdict,
    jurisdictions,
)
from smspolicy import rules as R
from smspolicy._compose import run_rule
from smspolicy._constants import REPLY_TOPIC
from smspolicy._context import ConsentView, HistoryView, is_fold_timed
from smspolicy._fastpath import FastPath
from smspolicy._memo import CACHES
from smspolicy._records import GENESIS, SendRecord
from smspolicy.typing import Rule

from .consent_support import deals_event, stop_after
from .test_consent_horizon_reuse import (
    CONSENT_RULES,
    KINDS,
    NUMBER,
    PERSON,
    RECIPIENT,
    SINCE,
    T0,
    chains,
    outcome,
    view_of,
)

FOLD_TIMED: list[Rule] = [
    *CONSENT_RULES,
    R.written_consent_evidence(),
    R.written_consent_evidence(on_missing="warn"),
]


def test_the_consent_rules_say_they_are_fold_timed() -> None:
    """The consent rules and written-consent evidence promise it; a cap, a window and a
    valid number do not."""
    for rule in FOLD_TIMED:
        assert is_fold_timed(rule), rule
    assert not is_fold_timed(R.frequency_cap(1, dt.timedelta(days=1)))
    assert not is_fold_timed(R.sending_window("08:00", "21:00"))
    assert not is_fold_timed(R.valid_number())


def replies() -> st.SearchStrategy[list[SendRecord]]:
    """Keyword replies (and other sends) around ``T0``: whether a STOP's confirmation went."""
    return st.lists(
        st.builds(
            lambda minutes, topic: SendRecord(
                number=NUMBER,
                at=T0 + dt.timedelta(minutes=minutes),
                topic=topic,
                purpose="transactional",
                channel="sms",
                content_key="r",
            ),
            st.integers(-30, 30),
            st.sampled_from([REPLY_TOPIC, "deals"]),
        ),
        max_size=2,
    )


def _context(now: dt.datetime, view: ConsentView, sends: list[SendRecord]) -> Context:
    history = HistoryView(sends=sorted(sends, key=lambda r: r.at), since=SINCE)
    return Context(now=now, recipient=RECIPIENT, consent=view, history=history)


# Instants near T0 at minute and second steps (a STOP's five minutes), and up to three days on.
later_instants = st.one_of(
    st.integers(1, 600).map(lambda s: T0 + dt.timedelta(seconds=s)),
    st.integers(1, 3 * 24 * 60).map(lambda m: T0 + dt.timedelta(minutes=m)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(FOLD_TIMED),
    chains(NUMBER, KINDS),
    chains(PERSON, ["revoked", "unclear", "confirmed"]),
    st.lists(st.integers(-10, 10).map(lambda m: T0 + dt.timedelta(minutes=m)), max_size=2),
    replies(),
    st.sampled_from(["deals", "alerts", REPLY_TOPIC]),
    st.sampled_from(list(Purpose)),
    st.lists(later_instants, min_size=1, max_size=5),
)
def test_a_fold_timed_rule_decides_alike_while_the_view_holds(
    rule: Rule,
    own: tuple[ConsentEvent, ...],
    person: tuple[ConsentEvent, ...],
    stops: list[dt.datetime],
    sends: list[SendRecord],
    topic: str,
    purpose: Purpose,
    later: list[dt.datetime],
) -> None:
    """Decided at ``T0`` (STOPs a few minutes either side of it among the events, so a
    keyword reply's confirmation may be due), then, at each later instant through which the
    view holds, the rule on that view and on a view folded afresh there decides alike."""
    chained = list(own)
    for at in stops:
        stop = ConsentEvent(kind="revoked", number=NUMBER, at=at, source="test")
        chained.append(stop.chained(len(chained), chained[-1].hash if chained else GENESIS))
    events = tuple(chained)
    message = Message(NUMBER, topic, purpose)
    view = view_of(events, person, lazy=False)
    now = _context(T0, view, sends)
    first = outcome(run_rule(rule, message, now))
    for at in sorted(later):
        if not view.holds_through(T0, at):
            continue
        assert outcome(run_rule(rule, message, now.at(at))) == first, at
        fresh = _context(at, view_of(events, person, lazy=False), sends)
        assert outcome(run_rule(rule, message, fresh)) == first, at


def test_a_reply_is_allowed_for_five_minutes_after_a_stop_and_the_view_says_so() -> None:
    """A STOP two minutes before ``T0``: the keyword reply is allowed at ``T0``; the view holds
    until three minutes on (the end of the five minutes) and no further; there, with no reply
    sent, the reply is denied like any message to a number that opted out."""
    stop = ConsentEvent(
        kind="revoked", number=NUMBER, at=T0 - dt.timedelta(minutes=2), source="test"
    ).chained(0, GENESIS)
    view = ConsentView(events=(stop,))
    message = Message(NUMBER, REPLY_TOPIC, "transactional")
    rule = R.consent()
    now = _context(T0, view, [])
    assert run_rule(rule, message, now).verdict is Verdict.ALLOW
    end = T0 + dt.timedelta(minutes=3)
    tick = dt.timedelta(microseconds=1)
    if CACHES:  # with every cache off nothing is remembered, so a view holds through nothing
        assert view.holds_through(T0, end - tick)
    assert not view.holds_through(T0, end)
    assert run_rule(rule, message, now.at(end - tick)).verdict is Verdict.ALLOW
    assert run_rule(rule, message, now.at(end)).verdict is Verdict.DENY
    replied = SendRecord(
        number=NUMBER,
        at=T0 - dt.timedelta(minutes=1),
        topic=REPLY_TOPIC,
        purpose="transactional",
        channel="sms",
        content_key="stop",
    )
    sent = _context(T0, ConsentView(events=(stop,)), [replied])
    assert run_rule(rule, message, sent).verdict is Verdict.DENY  # one reply only


@pytest.mark.caches
def test_a_view_holds_through_nothing_it_refolded_later() -> None:
    """A view read at a later instant first, then at ``T0``: the fold it keeps was made at the
    later instant, so it says nothing of ``T0`` onwards; with caches off it never holds."""
    grant = deals_event("confirmed", NUMBER, T0 - dt.timedelta(days=1))
    view = ConsentView(events=(grant,))
    message = Message(NUMBER, "deals", "marketing")
    rule = R.consent()
    run_rule(rule, message, _context(T0 + dt.timedelta(hours=1), view, []))
    assert view.holds_through(T0 + dt.timedelta(hours=1), T0 + dt.timedelta(days=300))
    assert not view.holds_through(T0, T0 + dt.timedelta(hours=2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("smspolicy._context.CACHES", False)
        assert not ConsentView(events=(grant,)).holds_through(T0, T0)


RESOLVER = Resolver()
NIGHT = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)  # 03:00 in New York
OPENING = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)  # 08:00 in New York


def _ledger(number: str, revoked_at: dt.datetime | None) -> tuple[ConsentEvent, ...]:
    grant = deals_event("confirmed", number, NIGHT - dt.timedelta(days=30), written=True)
    if revoked_at is None:
        return (grant,)
    return (grant, stop_after(number, revoked_at, grant))


def _context_at(number: str, revoked: dt.datetime | None, now: dt.datetime) -> Context:
    return Context(
        now=now,
        recipient=RESOLVER.resolve(number),
        consent=ConsentView(events=_ledger(number, revoked)),
        history=HistoryView(sends=(), since=now - dt.timedelta(days=2)),
    )


def _decide(fast: FastPath, policy: Policy, number: str, revoked: dt.datetime | None) -> object:
    message = Message(number, "deals", "marketing")
    remembered = fast(message, _context_at(number, revoked, NIGHT))
    alone = run_rule(policy, message, _context_at(number, revoked, NIGHT))
    assert outcome(remembered) == outcome(alone), number
    return outcome(remembered)


@pytest.mark.caches
def test_a_remembered_deferral_leaves_the_consent_rules_out_while_the_views_hold() -> None:
    """Two numbers with standing consent, deferred by a window to 08:00: once remembered, the
    deferral keeps no consent rule to ask again, and the instant it looked at."""
    policy = Policy(R.consent(), R.sending_window("08:00", "21:00"), name="p")
    fast = FastPath(policy)
    for _ in range(2):
        assert _decide(fast, policy, "+12125550100", None)[1] == OPENING  # type: ignore[index]
    (entry,) = fast._deferrals.values()
    _before, along, steady, trail, _decision = entry  # type: ignore[misc]
    assert along == ()
    assert steady == OPENING
    assert trail == ()
    assert _decide(fast, policy, "+12125550111", None)[1] == OPENING  # type: ignore[index]


@pytest.mark.caches
@pytest.mark.parametrize(
    "revoked",
    [
        OPENING - dt.timedelta(hours=1),
        OPENING,
        OPENING - dt.timedelta(microseconds=1),
    ],
)
def test_a_recipient_who_stops_before_the_deferral_is_decided_apart(
    revoked: dt.datetime,
) -> None:
    """The second number's STOP is dated between now and the window's opening (an event
    recorded ahead, or imported so): its view does not hold through the opening, so the
    remembered deferral is not given, and it is denied as the tree denies it."""
    policy = Policy(R.consent(), R.sending_window("08:00", "21:00"), name="p")
    fast = FastPath(policy)
    for _ in range(2):
        _decide(fast, policy, "+12125550100", None)
    verdict, until, _reasons = _decide(fast, policy, "+12125550111", revoked)  # type: ignore[misc]
    assert verdict is Verdict.DENY
    assert until is None


@pytest.mark.caches
def test_a_stop_just_after_the_opening_changes_nothing() -> None:
    """A STOP dated a microsecond after the opening: the view holds through the opening, and
    the second number gets the remembered deferral (the tree agrees)."""
    policy = Policy(R.consent(), R.sending_window("08:00", "21:00"), name="p")
    fast = FastPath(policy)
    for _ in range(2):
        _decide(fast, policy, "+12125550100", None)
    later = OPENING + dt.timedelta(microseconds=1)
    assert _decide(fast, policy, "+12125550111", later)[1] == OPENING  # type: ignore[index]


def test_the_standard_pack_at_every_hour_equals_the_tree_for_changing_ledgers() -> None:
    """The standard pack, a cap and dedupe for US, UK and Australian numbers, some of whose
    STOPs or grants fall within the day, decided through one fast path at every hour, twice:
    each decision equals the tree's for that number alone."""
    policy = Policy(
        jurisdictions.standard(),
        R.frequency_cap(3, dt.timedelta(days=1)),
        R.dedupe(dt.timedelta(days=1)),
        name="p",
    )
    day = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    numbers: dict[str, dt.datetime | None] = {
        "+12125550100": None,
        "+12125550111": day + dt.timedelta(hours=14, minutes=30),
        "+12125550122": day + dt.timedelta(hours=13),
        "+447911123450": None,
        "+447911123461": day + dt.timedelta(hours=9),
        "+61412345670": day + dt.timedelta(hours=22),
    }
    fast = FastPath(policy)
    verdicts = set()
    for hour in range(24):
        now = day + dt.timedelta(hours=hour)
        for _round in range(2):
            for number, revoked in numbers.items():
                message = Message(
                    number,
                    "deals",
                    "marketing",
                    body="Acme: 20% off. Reply STOP to opt out.",
                    brand="Acme",
                )

                remembered = fast(message, _context_at(number, revoked, now))
                alone = run_rule(policy, message, _context_at(number, revoked, now))
                assert outcome(remembered) == outcome(alone), (number, now)
                verdicts.add(remembered.verdict)
    assert verdicts == {Verdict.ALLOW, Verdict.DEFER, Verdict.DENY}
