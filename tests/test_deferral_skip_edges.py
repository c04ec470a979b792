"""Edges of the deferral skip (a remembered deferral no longer asks, at its later instants, the
leaves that allow onward and allowed plainly now, nor the fold-timed consent leaves while the
recipient's consent view holds through the latest instant).

Each test builds recipients that share a fast path key (same zones, jurisdictions, purpose,
channel, instant and ``not_after``), lets the first one's deferral be remembered (seen, then
remembered), and checks that the next recipient gets from the fast path what the policy tree
gives it on a context of its own. ``test_reused_view_*``: a view kept for a later context with
another send history answers the keyword reply's fold for that history (one confirmation only),
as the same records read afresh do."""

from __future__ import annotations

import datetime as dt

import pytest

from smspolicy import (
    ConsentEvent,
    Context,
    Decision,
    Message,
    Policy,
    Resolver,
    Verdict,
    all_of,
    rules,
    when,
)
from smspolicy._compose import run_rule
from smspolicy._constants import REPLY_TOPIC
from smspolicy._context import ConsentView, HistoryView, is_fold_timed, is_onward
from smspolicy._fastpath import FastPath
from smspolicy._records import GENESIS, SendRecord, SendStatus
from smspolicy.jurisdictions._model import InForce
from smspolicy.predicates import is_marketing

from .consent_support import deals_event

RESOLVER = Resolver()
# Two New York numbers (one key), and a third for a second look.
FIRST, SECOND, THIRD = "+12125550100", "+12125550111", "+12125550122"
# 08:59 in New York: quiet hours 08:00-09:00 defer by one minute, to 14:00 UTC.
MINUTE_BEFORE = dt.datetime(2026, 11, 27, 13, 59, tzinfo=dt.UTC)
NINE = dt.datetime(2026, 11, 27, 14, tzinfo=dt.UTC)
# 03:00 in New York: an 08:00-21:00 window defers to 13:00 UTC.
NIGHT = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)
OPENING = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)


def _fields(decision: Decision) -> tuple[object, ...]:
    return (
        decision.verdict,
        decision.until,
        decision.zone,
        tuple((r.code, r.rule, r.message, dict(r.data)) for r in decision.reasons),
    )


def _stop(number: str, at: dt.datetime, seq: int = 0, prev: str = GENESIS) -> ConsentEvent:
    return ConsentEvent(kind="revoked", number=number, at=at, source="test").chained(seq, prev)


def _grant(number: str, at: dt.datetime) -> ConsentEvent:
    return deals_event("confirmed", number, at)


def _send(
    number: str,
    at: dt.datetime,
    topic: str = "deals",
    *,
    held_until: dt.datetime | None = None,
    key: str = "k",
) -> SendRecord:
    return SendRecord(
        number=number,
        at=at,
        topic=topic,
        purpose="transactional" if topic == REPLY_TOPIC else "marketing",
        channel="sms",
        content_key=key,
        status=SendStatus.RESERVED if held_until is not None else SendStatus.SENT,
        expires=held_until,
    )


def _context(
    number: str,
    now: dt.datetime,
    events: tuple[ConsentEvent, ...] = (),
    sends: tuple[SendRecord, ...] = (),
    *,
    view: ConsentView | None = None,
    reach: dt.timedelta = dt.timedelta(days=10),
) -> Context:
    return Context(
        now=now,
        recipient=RESOLVER.resolve(number),
        consent=view if view is not None else ConsentView(events=events),
        history=HistoryView(sends=tuple(sorted(sends, key=lambda r: r.at)), since=now - reach),
    )


def _through_fast_path(
    policy: Policy,
    now: dt.datetime,
    records: list[tuple[str, tuple[ConsentEvent, ...], tuple[SendRecord, ...]]],
    message_for: object,
) -> list[tuple[Decision, Decision]]:
    """Each (number, events, sends) in order through one fast path (the first twice, so its
    deferral is remembered), each with the tree's decision on a context of its own."""
    fast = FastPath(policy)
    out = []
    first = records[0]
    for entry in [first, *records]:
        number, events, sends = entry
        message = message_for(number)  # type: ignore[operator]
        got = fast(message, _context(number, now, events, sends))
        want = run_rule(policy, message, _context(number, now, events, sends))
        out.append((got, want))
    return out


# --- A bug: the keyword-reply fold ignores the history it reads ---------------------------


@pytest.mark.caches
def test_reused_view_gives_a_second_stop_confirmation_once_one_was_sent() -> None:
    """FAILS. A STOP two minutes before ``MINUTE_BEFORE``; the caller keeps one ConsentView for
    the number (reusing a view across contexts is supported: see
    tests/test_consent_horizon_reuse.py) and builds each context with the send history read
    at that moment. The confirmation is allowed once; after it is recorded (a new history),
    a second confirmation thirty seconds later must be denied (one reply only), as it is on a
    fresh view, with caches off, and was before the change. The fold ``("opt-out reply
    due",)`` is keyed per view but reads ``context.history``, so the reused view still says
    the reply is due and allows it again."""
    stop = _stop(FIRST, MINUTE_BEFORE - dt.timedelta(minutes=2))
    view = ConsentView(events=(stop,))
    reply = Message(FIRST, REPLY_TOPIC, "transactional")
    rule = rules.consent()
    assert run_rule(rule, reply, _context(FIRST, MINUTE_BEFORE, view=view)).allowed
    sent = (_send(FIRST, MINUTE_BEFORE, REPLY_TOPIC),)
    later = MINUTE_BEFORE + dt.timedelta(seconds=30)
    fresh = run_rule(rule, reply, _context(FIRST, later, (stop,), sent))
    assert fresh.verdict is Verdict.DENY
    reused = run_rule(rule, reply, _context(FIRST, later, (), sent, view=view))
    assert reused.verdict is Verdict.DENY, "the reused view allowed a second confirmation"


@pytest.mark.caches
def test_reused_view_through_the_fast_path_gives_a_second_confirmation() -> None:
    """FAILS. The same through a policy's fast path (what an engine-like caller that keeps
    views per number would run): the second confirmation is allowed."""
    stop = _stop(FIRST, MINUTE_BEFORE - dt.timedelta(minutes=2))
    view = ConsentView(events=(stop,))
    policy = Policy(rules.consent(), rules.valid_number(), name="p")
    fast = FastPath(policy)
    reply = Message(FIRST, REPLY_TOPIC, "transactional")
    assert fast(reply, _context(FIRST, MINUTE_BEFORE, view=view)).allowed
    sent = (_send(FIRST, MINUTE_BEFORE, REPLY_TOPIC),)
    later = MINUTE_BEFORE + dt.timedelta(seconds=30)
    expected = run_rule(policy, reply, _context(FIRST, later, (stop,), sent))
    got = fast(reply, _context(FIRST, later, (), sent, view=view))
    assert expected.verdict is Verdict.DENY
    assert _fields(got) == _fields(expected)


# --- Edges probed that hold (kept) ---------------------------------------------------------


def _reply(number: str) -> Message:
    return Message(number, REPLY_TOPIC, "transactional")


QUIET = Policy(rules.consent(), rules.quiet_hours("08:00", "09:00"), name="p")


@pytest.mark.caches
@pytest.mark.parametrize(
    ("stopped_before", "codes"),
    [
        (dt.timedelta(minutes=1), ("hours.outside_window",)),  # due until 14:03: deferred
        (dt.timedelta(minutes=4), ("window.none", "consent.revoked")),  # due until 14:00 exactly
        (dt.timedelta(minutes=4, seconds=30), ("window.none", "consent.revoked")),  # 13:59:30
        (dt.timedelta(minutes=5), ("consent.revoked",)),  # due until 13:59: not now
    ],
)
def test_edge_reply_window_ends_around_the_deferral_instant(
    stopped_before: dt.timedelta, codes: tuple[str, ...]
) -> None:
    """Keyword replies deferred by quiet hours that end a minute on (14:00 UTC): the first
    number's STOP two minutes ago keeps its reply due past the deferral (the consent leaf is
    left out of the remembered deferral); the second number's five minutes run out before,
    at or after the deferral's instant: the fast path gives what the tree gives."""
    first = (_stop(FIRST, MINUTE_BEFORE - dt.timedelta(minutes=2)),)
    second = (_stop(SECOND, MINUTE_BEFORE - stopped_before),)
    decided = _through_fast_path(
        QUIET, MINUTE_BEFORE, [(FIRST, first, ()), (SECOND, second, ())], _reply
    )
    assert decided[1][0].until == NINE
    for got, want in decided:
        assert _fields(got) == _fields(want)
    assert decided[2][0].codes == codes


@pytest.mark.caches
def test_edge_reply_already_sent_by_the_second_number_is_decided_apart() -> None:
    """The second number replied already (a reply dated ahead, even): its consent leaf denies
    now, unlike the first's, so the remembered deferral is not given."""
    first = (_stop(FIRST, MINUTE_BEFORE - dt.timedelta(minutes=2)),)
    second = (_stop(SECOND, MINUTE_BEFORE - dt.timedelta(minutes=2)),)
    ahead = (_send(SECOND, MINUTE_BEFORE + dt.timedelta(seconds=20), REPLY_TOPIC),)
    decided = _through_fast_path(
        QUIET, MINUTE_BEFORE, [(FIRST, first, ()), (SECOND, second, ahead)], _reply
    )
    for got, want in decided:
        assert _fields(got) == _fields(want)
    assert decided[2][0].verdict is Verdict.DENY


@pytest.mark.caches
@pytest.mark.parametrize(
    "offset",
    [dt.timedelta(minutes=30), dt.timedelta(hours=5) - dt.timedelta(microseconds=1)],
)
def test_edge_stop_dated_ahead_before_the_opening(offset: dt.timedelta) -> None:
    """A grant for both; the second number's STOP is dated between now and the window's
    opening: its consent fold ends there, the view does not hold, and it is denied as the tree
    denies it (the fast path does not give the first number's deferral)."""
    policy = Policy(
        rules.consent(),
        rules.written_consent_evidence(on_missing="warn"),
        rules.sending_window("08:00", "21:00"),
        name="p",
    )
    grant_at = NIGHT - dt.timedelta(days=3)
    second = _grant(SECOND, grant_at)
    second_events = (second, _stop(SECOND, NIGHT + offset, 1, second.hash))
    decided = _through_fast_path(
        policy,
        NIGHT,
        [(FIRST, (_grant(FIRST, grant_at),), ()), (SECOND, second_events, ())],
        lambda n: Message(n, "deals", "marketing"),
    )
    for got, want in decided:
        assert _fields(got) == _fields(want)
    assert decided[1][0].until == OPENING
    assert decided[2][0].verdict is Verdict.DENY


def _capped(*caps: object) -> Policy:
    return Policy(rules.sending_window("08:00", "21:00"), *caps, name="p")  # type: ignore[arg-type]


@pytest.mark.caches
@pytest.mark.parametrize(
    ("label", "sends"),
    [
        ("a send dated ahead", (_send(SECOND, NIGHT + dt.timedelta(hours=2)),)),
        ("a send dated just past the opening", (_send(SECOND, OPENING + dt.timedelta(seconds=1)),)),
        (
            "a hold that expires before the opening",
            (
                _send(
                    SECOND, NIGHT - dt.timedelta(hours=1), held_until=NIGHT + dt.timedelta(hours=1)
                ),
            ),
        ),
        (
            "a hold that expires after the opening",
            (
                _send(
                    SECOND,
                    NIGHT - dt.timedelta(hours=1),
                    held_until=OPENING + dt.timedelta(hours=1),
                ),
            ),
        ),
        (
            "a send leaving the window at the opening",
            (_send(SECOND, OPENING - dt.timedelta(hours=6)),),
        ),
        (
            "a keyword reply (never counts)",
            (_send(SECOND, NIGHT - dt.timedelta(hours=1), REPLY_TOPIC),),
        ),
    ],
)
def test_edge_rolling_cap_and_dedupe_with_sends_around_the_opening(
    label: str, sends: tuple[SendRecord, ...]
) -> None:
    """A rolling cap of one per six hours and dedupe over a day, skipped at the opening when
    they allowed plainly now: whatever the second number's log holds, the fast path gives what
    the tree gives."""
    policy = _capped(
        rules.frequency_cap(1, dt.timedelta(hours=6)), rules.dedupe(dt.timedelta(days=1))
    )
    decided = _through_fast_path(
        policy,
        NIGHT,
        [(FIRST, (), ()), (SECOND, (), sends)],
        lambda n: Message(n, "deals", "marketing", content_key="k"),
    )
    for got, want in decided:
        assert _fields(got) == _fields(want), label


@pytest.mark.caches
def test_edge_calendar_cap_with_a_send_dated_into_the_next_day() -> None:
    """A calendar cap (no promise) allows the second number now but its next day is full (a
    send dated tomorrow); a window defers both to a later day's opening: the fast path asks
    the calendar cap there and gives what the tree gives."""
    late = dt.datetime(2026, 11, 28, 3, tzinfo=dt.UTC)  # 22:00 in New York: opens tomorrow
    tomorrow = (_send(SECOND, dt.datetime(2026, 11, 28, 15, tzinfo=dt.UTC)),)
    policy = _capped(rules.frequency_cap(1, "day", calendar=True))
    assert not is_onward(rules.frequency_cap(1, "day", calendar=True))
    decided = _through_fast_path(
        policy,
        late,
        [(FIRST, (), ()), (SECOND, (), tomorrow)],
        lambda n: Message(n, "deals", "marketing"),
    )
    for got, want in decided:
        assert _fields(got) == _fields(want)
    assert decided[2][0].until != decided[1][0].until


@pytest.mark.caches
def test_edge_history_that_does_not_reach_back() -> None:
    """The second number's history read does not reach back the cap's lookback: the cap denies
    (history.too_short) now, so the remembered deferral is not given."""
    policy = _capped(rules.frequency_cap(1, dt.timedelta(days=1)))
    fast = FastPath(policy)
    message = Message(FIRST, "deals", "marketing")
    for _ in range(2):
        fast(message, _context(FIRST, NIGHT))
    short = Message(SECOND, "deals", "marketing")
    got = fast(short, _context(SECOND, NIGHT, reach=dt.timedelta(hours=2)))
    want = run_rule(policy, short, _context(SECOND, NIGHT, reach=dt.timedelta(hours=2)))
    assert _fields(got) == _fields(want)
    assert got.verdict is Verdict.DENY


@pytest.mark.caches
def test_edge_program_frequency_and_a_law_that_ends_before_the_opening() -> None:
    """program_frequency and a cap under a law that ends at midnight before the opening, in a
    when() the key settles: both allow plainly now and are skipped; a number at the cap (two
    sends in the last hours) is deferred apart, as the tree defers it."""
    from smspolicy.programs import Program

    program = Program(
        "Acme Deals",
        "Acme",
        topic="deals",
        help_contact="help@acme.example",
        frequency="2 msgs/day",
    )
    ending = InForce(rules.frequency_cap(1, dt.timedelta(hours=12)), None, dt.date(2026, 11, 27))
    policy = Policy(
        rules.sending_window("08:00", "21:00"),
        when(is_marketing, all_of(rules.program_frequency([program]), ending)),
        name="p",
    )
    busy = (
        _send(THIRD, NIGHT - dt.timedelta(hours=3)),
        _send(THIRD, NIGHT - dt.timedelta(hours=2)),
    )
    decided = _through_fast_path(
        policy,
        NIGHT,
        [(FIRST, (), ()), (SECOND, (), ()), (THIRD, (), busy)],
        lambda n: Message(n, "deals", "marketing", brand="Acme"),
    )
    for got, want in decided:
        assert _fields(got) == _fields(want)


def test_edge_the_promises_claimed() -> None:
    """What claims the promises: consent and written evidence are fold-timed; rolling caps,
    dedupe, program frequency are onward; a calendar cap and a law with a start date are
    not."""
    assert is_fold_timed(rules.consent())
    assert is_fold_timed(rules.written_consent_evidence())
    assert is_onward(rules.frequency_cap(1, dt.timedelta(hours=1)))
    assert is_onward(rules.dedupe(dt.timedelta(hours=1)))
    assert not is_onward(rules.frequency_cap(1, "week", calendar=True))
    assert not is_onward(
        InForce(rules.frequency_cap(1, dt.timedelta(hours=1)), dt.date(2026, 1, 1), None)
    )
