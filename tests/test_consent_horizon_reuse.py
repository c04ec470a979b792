"""A consent view remembers each fold over the span it holds: read at any instant, in any order
(a later instant, then an earlier one, as deferrals and callers reusing a view do), by several
rules that share a fold, it answers as folding the ledger afresh at that instant does."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smspolicy._context
from smspolicy import (
    ConsentEvent,
    Context,
    Decision,
    Message,
    Purpose,
    Recipient,
    all_of,
)
from smspolicy import rules as R
from smspolicy._context import ConsentView
from smspolicy._records import GENESIS, Basis, ConsentKind
from smspolicy.consent import add_months, consent_status, person_key
from smspolicy.rules._consent import _Consent

from .consent_support import KINDS, consent_event

NUMBER = "+12125550123"
PERSON = person_key("p-1")
T0 = dt.datetime(2025, 7, 15, 15, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(microseconds=1)
RECIPIENT = Recipient(address=NUMBER, valid=True, e164=NUMBER, zones=("America/New_York",))
SINCE = T0 - dt.timedelta(days=10)

# Instants within a deferral's reach (hours to days) and far from it (months to years).
near = st.integers(-3 * 24 * 60, 3 * 24 * 60).map(lambda m: T0 + dt.timedelta(minutes=m))
far = st.integers(-900, 900).map(lambda d: T0 + dt.timedelta(days=d))
instants = st.one_of(near, far)
lasting = st.one_of(
    st.none(),
    st.integers(1, 48).map(lambda h: dt.timedelta(hours=h)),
    st.integers(1, 60).map(lambda d: dt.timedelta(days=d)),
)


@st.composite
def chains(draw: st.DrawFn, number: str, kinds: list[str]) -> tuple[ConsentEvent, ...]:
    """A hash-chained ledger of up to seven events; some share an instant."""
    out: list[ConsentEvent] = []
    for _ in range(draw(st.integers(0, 7))):
        at = draw(st.sampled_from([e.at for e in out])) if out and draw(st.booleans()) else None
        one = consent_event(
            draw, number, at or draw(instants), kinds, ["sms", "voice", None], lasting
        )
        out.append(one.chained(len(out), out[-1].hash if out else GENESIS))
    return tuple(out)


CONSENT_RULES: list[_Consent] = [
    R.consent(),
    R.consent(stop_scope="topic"),
    R.consent(implied_terms={Basis.INQUIRY: 1, Basis.PURCHASE: 2}),
    attrs.evolve(R.consent(), counted_from=((Basis.INQUIRY, SINCE), (Basis.PURCHASE, SINCE))),
    R.consent(stop_scope="topic", implied_bases=["inquiry"]),
]


def counted(rule: _Consent, events: tuple[ConsentEvent, ...]) -> tuple[ConsentEvent, ...]:
    """The events a rule with ``counted_from`` folds: implied consent by those bases only when
    recorded at or after their instant."""
    since = dict(rule.counted_from)
    return tuple(
        e
        for e in events
        if e.kind is not ConsentKind.IMPLIED or e.basis not in since or e.at >= since[e.basis]
    )


def turning_points(events: tuple[ConsentEvent, ...]) -> list[dt.datetime]:
    """Where a status may turn: each event's date and end, and where implied consent ends."""
    found: list[dt.datetime] = []
    for one in events:
        found.append(one.at)
        if one.expires is not None:
            found.append(one.expires)
        found.extend(add_months(one.at, months) for months in (1, 2, 6, 24))
    return [at + step for at in found for step in (-TICK, 0 * TICK, TICK)]


def view_of(
    own: tuple[ConsentEvent, ...], person: tuple[ConsentEvent, ...], lazy: bool
) -> ConsentView:
    if lazy:
        return ConsentView(lambda: (own, False), person_events=person)
    return ConsentView(events=own, person_events=person)


@settings(max_examples=150, deadline=None)
@given(
    chains(NUMBER, KINDS),
    chains(PERSON, ["revoked", "unclear", "confirmed"]),
    st.data(),
    st.sampled_from(["deals", "alerts"]),
    st.sampled_from(list(Purpose)),
    st.sampled_from(["Acme", None]),
    st.booleans(),
)
def test_a_view_read_at_many_instants_folds_as_consent_status(
    own: tuple[ConsentEvent, ...],
    person: tuple[ConsentEvent, ...],
    data: st.DataObject,
    topic: str,
    purpose: Purpose,
    brand: str | None,
    lazy: bool,
) -> None:
    """One view, read by rules that share folds at instants in any order (around each event,
    each end and each implied term), gives each rule what consent_status gives at that instant."""
    points = turning_points((*own, *person)) + data.draw(st.lists(instants, max_size=4))
    order = data.draw(st.permutations(points))
    view = view_of(own, person, lazy)
    message = Message(NUMBER, topic, purpose, brand=brand)
    events = (*own, *person)
    for now in order:
        context = Context(now=now, recipient=RECIPIENT, consent=view)
        for rule in CONSENT_RULES:
            expected = consent_status(
                counted(rule, events),
                topic=topic,
                purpose=purpose,
                brand=brand,
                now=now,
                stop_scope=rule.stop_scope,
                implied_terms=rule.implied_terms,
                channel=message.channel,
            )
            if (
                expected.status.value == "implied"
                and rule.implied_bases is not None
                and expected.event is not None
                and (expected.event.basis or Basis.EXPRESS) not in rule.implied_bases
            ):
                expected = attrs.evolve(expected, status=expected.status.MISSING, expires=None)
            assert rule.status(message, context) == expected, (rule, now)


def outcome(decision: Decision) -> tuple[object, ...]:
    return (
        decision.verdict,
        decision.until,
        tuple(sorted((reason.rule, reason.code) for reason in decision.reasons)),
    )


POLICIES = [
    all_of(R.consent(), R.sending_window("08:00", "21:00")),
    all_of(
        R.consent(stop_scope="topic", implied_bases=["inquiry", "purchase"]),
        R.written_consent_evidence(on_missing="warn"),
        R.sending_window("09:00", "17:00"),
    ),
    all_of(
        R.sending_window("10:00", "20:00"),
        attrs.evolve(R.consent(), counted_from=((Basis.INQUIRY, SINCE),)),
        R.consent(stop_scope="topic"),
        R.sending_window("23:00", "02:00"),
    ),
]


@settings(max_examples=150, deadline=None)
@given(
    chains(NUMBER, KINDS),
    chains(PERSON, ["revoked", "unclear", "confirmed"]),
    st.data(),
    st.sampled_from(POLICIES),
    st.sampled_from(["deals", "alerts"]),
    st.sampled_from(list(Purpose)),
    st.booleans(),
)
def test_deferrals_from_a_shared_view_are_those_folded_afresh(
    own: tuple[ConsentEvent, ...],
    person: tuple[ConsentEvent, ...],
    data: st.DataObject,
    policy: object,
    topic: str,
    purpose: Purpose,
    lazy: bool,
) -> None:
    """A policy deciding, and looking ahead for a deferral, from one view reused at instants
    in any order decides as it does when every consent rule folds the ledger afresh."""
    near_events = [e.at + dt.timedelta(hours=h) for e in own for h in (-9, -1, 0, 1)]
    order = data.draw(st.permutations(near_events + data.draw(st.lists(near, max_size=4))))
    message = Message(NUMBER, topic, purpose)
    view = view_of(own, person, lazy)
    with pytest.MonkeyPatch.context() as patch:
        shared = []
        for now in order:
            context = Context(now=now, recipient=RECIPIENT, consent=view)
            shared.append(outcome(policy(message, context)))  # type: ignore[operator]
        patch.setattr(smspolicy._context, "CACHES", False)
        afresh = []
        for now in order:
            context = Context(now=now, recipient=RECIPIENT, consent=view_of(own, person, lazy))
            afresh.append(outcome(policy(message, context)))  # type: ignore[operator]
    assert shared == afresh
