"""A consent fold holds until its horizon: the first instant after ``now`` at which the status
may change. Deciding remembers the fold for that span, so the later instants a deferral looks
at read it again only when the status may have changed by then."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import (
    ConsentEvent,
    Context,
    Engine,
    Message,
    Policy,
    Purpose,
    Recipient,
    Verdict,
    all_of,
)
from smspolicy import rules as R
from smspolicy._context import ConsentView
from smspolicy._records import GENESIS
from smspolicy.consent import add_months, consent_status, fold_status
from smspolicy.store import MemoryStore
from smspolicy.testing import FrozenClock

from .consent_support import KINDS, consent_event

NUMBER = "+12125550123"
T0 = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)
offsets = st.integers(-3 * 365 * 24 * 60, 2 * 365 * 24 * 60).map(lambda m: dt.timedelta(minutes=m))


@st.composite
def events(draw: st.DrawFn) -> list[ConsentEvent]:
    return [
        consent_event(draw, NUMBER, T0 + draw(offsets), KINDS, ["sms", "email", None])
        for _ in range(draw(st.integers(0, 8)))
    ]


@settings(max_examples=400)
@given(
    events(),
    st.data(),
    st.integers(0, 3 * 365 * 24 * 60).map(lambda m: dt.timedelta(minutes=m)),
    st.sampled_from(["deals", "alerts"]),
    st.sampled_from(list(Purpose)),
    st.sampled_from(["brand", "topic"]),
)
def test_the_status_holds_until_the_horizon(
    found: list[ConsentEvent],
    data: st.DataObject,
    later: dt.timedelta,
    topic: str,
    purpose: Purpose,
    scope: str,
) -> None:
    """For any events, at any instant from ``now`` up to the horizon, the fold gives exactly
    the status it gives at ``now``; the horizon lies after ``now``. ``now`` is often just
    after an event, where a request or a hold is running."""
    near = [one.at for one in found]
    start = data.draw(st.sampled_from(near)) if near and data.draw(st.booleans()) else T0
    now = start + data.draw(
        offsets
        if start is T0
        else st.integers(0, 60 * 24 * 40).map(lambda m: dt.timedelta(minutes=m))
    )
    asked = {"topic": topic, "purpose": purpose, "brand": "Acme", "stop_scope": scope}
    detail, horizon = fold_status(found, now=now, channel=None, **asked)  # type: ignore[arg-type]
    assert detail == consent_status(found, now=now, **asked)  # type: ignore[arg-type]
    assert horizon is None or horizon > now
    # Where the status could turn: each event's date and end, the end of each implied basis
    # (a microsecond either side), and a random later instant.
    tick = dt.timedelta(microseconds=1)
    turns = [now + later, now + tick]
    for one in found:
        turns.append(one.at)
        if one.expires is not None:
            turns.append(one.expires)
        turns.extend(add_months(one.at, months) for months in (6, 24))
    instants = [at + step for at in turns for step in (-tick, 0 * tick, tick)]
    if horizon is not None:
        instants.append(horizon - tick)
    for instant in instants:
        if now <= instant and (horizon is None or instant < horizon):
            assert consent_status(found, now=instant, **asked) == detail, instant  # type: ignore[arg-type]


def event(kind: str, at: dt.datetime, **fields: object) -> ConsentEvent:
    base: dict[str, object] = {"topic": "deals", "purpose": "marketing", "source": "test"}
    return ConsentEvent(kind=kind, number=NUMBER, at=at, **{**base, **fields})  # type: ignore[arg-type]


def horizon(found: list[ConsentEvent], now: dt.datetime) -> dt.datetime | None:
    return fold_status(found, topic="deals", purpose=Purpose.MARKETING, brand=None, now=now)[1]


def test_horizons_of_each_kind() -> None:
    """The horizon is the next event, or the end of what the status rests on; none when
    nothing can change with time alone."""
    confirmed = event("confirmed", T0)
    assert horizon([confirmed], T0 + dt.timedelta(days=1)) is None
    later = event("revoked", T0 + dt.timedelta(days=3))
    assert horizon([confirmed, later], T0 + dt.timedelta(days=1)) == T0 + dt.timedelta(days=3)
    # an inquiry implies consent for 6 months (CASL): it ends on 2025-07-15 15:00 UTC
    inquiry = event("implied", T0, basis="inquiry")
    ends = dt.datetime(2025, 7, 15, 15, 0, tzinfo=dt.UTC)
    assert horizon([inquiry], T0 + dt.timedelta(days=1)) == ends
    assert horizon([inquiry], ends) is None  # expired: it stays expired
    request = event("requested", T0, expires=T0 + dt.timedelta(days=2))
    assert horizon([request], T0 + dt.timedelta(hours=1)) == T0 + dt.timedelta(days=2)
    held = event("unclear", T0 + dt.timedelta(hours=1), expires=T0 + dt.timedelta(days=5))
    assert horizon([confirmed, held], T0 + dt.timedelta(hours=2)) == T0 + dt.timedelta(days=5)
    # the sooner of an event to come and an end
    soon = event("revoked", T0 + dt.timedelta(days=1))
    assert horizon([request, soon], T0 + dt.timedelta(hours=1)) == T0 + dt.timedelta(days=1)
    late = event("revoked", T0 + dt.timedelta(days=5))
    assert horizon([request, late], T0 + dt.timedelta(hours=1)) == T0 + dt.timedelta(days=2)
    assert horizon([inquiry, late], T0 + dt.timedelta(days=1)) == T0 + dt.timedelta(days=5)
    assert horizon([confirmed, held, soon], T0 + dt.timedelta(hours=2)) == T0 + dt.timedelta(days=1)


@pytest.mark.caches
def test_a_view_gives_a_fold_again_only_inside_its_span() -> None:
    """A view remembers a fold with its span: asked inside it, the fold is not run again;
    before the instant it was folded at, or at its horizon, it is."""
    view = ConsentView(events=())
    runs: list[dt.datetime] = []
    ends = T0 + dt.timedelta(hours=2)

    def fold(at: dt.datetime) -> tuple[str, dt.datetime | None]:
        runs.append(at)
        return f"at {at:%H:%M}", ends

    assert view.folded("k", T0, fold, T0) == "at 15:00"
    inside = T0 + dt.timedelta(hours=1, minutes=59)
    assert view.folded("k", inside, fold, inside) == "at 15:00"
    assert view.folded("k", T0, fold, T0) == "at 15:00"
    assert runs == [T0]
    assert view.folded("k", ends, fold, ends) == "at 17:00"
    before = T0 - dt.timedelta(minutes=1)
    assert view.folded("k", before, fold, before) == "at 14:59"
    assert view.folded("other", before, fold, before) == "at 14:59"
    assert runs == [T0, ends, before, before]


@pytest.mark.parametrize(
    ("basis", "granted"),
    [
        ("inquiry", dt.datetime(2025, 1, 16, 7, 0, tzinfo=dt.UTC)),  # 6 months
        ("purchase", dt.datetime(2023, 7, 16, 7, 0, tzinfo=dt.UTC)),  # 24 months
    ],
)
def test_a_deferral_past_the_end_of_implied_consent_is_not_an_allow(
    basis: str, granted: dt.datetime
) -> None:
    """At 23:00 in New York a text waits for 08:00; implied consent that ends at 03:00 EDT
    (07:00 UTC on 16 July 2025) does not carry over to 08:00: the text is denied, not deferred
    to an instant where consent has run out."""
    clock = FrozenClock(granted)
    policy = Policy(R.consent(), R.sending_window("08:00", "21:00"), name="horizon")
    engine = Engine(policy, MemoryStore(), clock)
    engine.consent.imply(NUMBER, topic="deals", basis=basis, purpose="marketing", source="shop")
    message = Message(NUMBER, "deals", "marketing")
    clock.set(dt.datetime(2025, 7, 16, 3, 0, tzinfo=dt.UTC))  # 23:00 EDT on 15 July
    decision = engine.evaluate(message)
    assert decision.verdict is Verdict.DENY, decision
    assert "consent.expired" in [r.code for r in decision.reasons]
    # Long before it runs out, the same text at 23:00 waits for 08:00 EST (13:00 UTC).
    clock.set(dt.datetime(2025, 3, 1, 4, 0, tzinfo=dt.UTC))
    waited = engine.evaluate(message)
    assert waited.verdict is Verdict.DEFER
    assert waited.until == dt.datetime(2025, 3, 1, 13, 0, tzinfo=dt.UTC)


def chain(*found: ConsentEvent) -> tuple[ConsentEvent, ...]:
    """The events as a store appends them: each hashes its predecessor."""
    out: list[ConsentEvent] = []
    for one in found:
        out.append(one.chained(len(out), out[-1].hash if out else GENESIS))
    return tuple(out)


class CountedView(ConsentView):
    """A view that records the instant of every fold it runs."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.runs: list[dt.datetime] = []

    def folded(self, key: object, now: dt.datetime, fold: object, /, *args: object) -> object:
        def recorded(*inner: object) -> object:
            self.runs.append(now)
            return fold(*inner)  # type: ignore[operator]

        return super().folded(key, now, recorded, *args)  # type: ignore[arg-type]


@pytest.mark.caches
def test_folds_at_the_later_instants_of_a_deferral_are_shared() -> None:
    """Deciding a deferral asks the consent rule again at the instant it settles on; with
    nothing that changes in between, the ledger is folded once for the decision. With an
    event dated in between, it is folded again there."""
    now = dt.datetime(2025, 7, 16, 3, 0, tzinfo=dt.UTC)  # 23:00 EDT
    opens = dt.datetime(2025, 7, 16, 12, 0, tzinfo=dt.UTC)  # 08:00 EDT
    recipient = Recipient(address=NUMBER, valid=True, e164=NUMBER, zones=("America/New_York",))
    policy = all_of(R.consent(), R.sending_window("08:00", "21:00"))
    message = Message(NUMBER, "deals", "marketing")
    view = CountedView(events=chain(event("confirmed", T0)))
    decision = policy(message, Context(now=now, recipient=recipient, consent=view))
    assert (decision.verdict, decision.until) == (Verdict.DEFER, opens)
    assert view.runs == [now]
    stop = event("revoked", now + dt.timedelta(hours=1))
    view = CountedView(events=chain(event("confirmed", T0), stop))
    decision = policy(message, Context(now=now, recipient=recipient, consent=view))
    assert decision.verdict is Verdict.DENY
    assert view.runs == [now, opens]
