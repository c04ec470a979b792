"""Deferrals under settled laws (``_settled_alike`` in src/smspolicy/_fastpath.py): a
remembered deferral whose laws were settled at the instant decided, and are settled alike at
every instant the tree looked at, skips at those instants what it skips without laws.

Each test lets the first recipient's deferral be remembered (seen, then remembered), then
decides further recipients who share its fast path key (purpose, channel, jurisdictions,
zones, instant, ``not_after``), each on a Context, ConsentView and HistoryView of its own, and
checks that the fast path gives what the policy tree gives.

``test_phased_*``: a leaf that amounts to another rule at a trail instant is not settled alike,
even when the two rules compare equal (their equality leaves out fields such as a consent
rule's implied terms): rules are compared by identity. The ``test_edge_*`` tests probe laws
around midnight in one or several zones, unknown zones, laws in force only between the instants
looked at, zone-timed laws, wrappers, nesting, several trail instants, and the US standard pack
around the revoke-all date."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from smspolicy import (
    ConsentEvent,
    Context,
    Decision,
    Message,
    Policy,
    Reason,
    Resolver,
    Verdict,
    all_of,
    allow,
    any_of,
    deny,
    jurisdictions,
    rule,
    rules,
    when,
)
from smspolicy._compose import at_instant_of, run_rule
from smspolicy._context import ConsentView, HistoryView
from smspolicy._fastpath import FastPath
from smspolicy._records import Basis, SendRecord
from smspolicy.consent import DEFAULT_IMPLIED_TERMS
from smspolicy.jurisdictions._model import PHONE, InForce, OnChannels, StandIn
from smspolicy.predicates import is_marketing
from smspolicy.typing import Rule

from .consent_support import deals_event

RESOLVER = Resolver()

# 03:00 in New York on Friday 2026-11-27: an 08:00-21:00 window opens at 13:00 UTC.
NIGHT = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)
OPENING = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
# 23:00 in New York on Thursday the 26th: the window opens on the 27th, after midnight.
EVE = dt.datetime(2026, 11, 27, 4, tzinfo=dt.UTC)
NY = ("+12125550100", "+12125550111", "+12125550122", "+12125550133")


def _fields(decision: Decision) -> tuple[object, ...]:
    return (
        decision.verdict,
        decision.until,
        decision.zone,
        tuple(
            (r.code, r.rule, r.message, repr(sorted(dict(r.data).items())))
            for r in decision.reasons
        ),
    )


@rule(name="refuse_some")
def refuse_some(message: Message, _context: Context) -> Decision:
    """No promise; denies numbers ending in 1 (whenever it is asked)."""
    if message.to.endswith("1"):
        return deny(Reason("test.refused", "refuse_some", "refused"))
    return allow()


def _grant(number: str, at: dt.datetime, *, written: bool = False) -> ConsentEvent:
    return deals_event("confirmed", number, at, written=written)


def _implied(number: str, at: dt.datetime) -> ConsentEvent:
    return deals_event("implied", number, at, basis="purchase")


def _stop(number: str, after: ConsentEvent, at: dt.datetime, topic: str | None) -> ConsentEvent:
    stop = ConsentEvent(kind="revoked", number=number, at=at, source="test", topic=topic)
    return stop.chained(1, after.hash)


def _context(
    number: str,
    now: dt.datetime,
    events: tuple[ConsentEvent, ...] = (),
    sends: tuple[SendRecord, ...] = (),
) -> Context:
    return Context(
        now=now,
        recipient=RESOLVER.resolve(number),
        consent=ConsentView(events=events),
        history=HistoryView(sends=sends, since=now - dt.timedelta(days=10)),
    )


def _message(number: str) -> Message:
    return Message(
        number,
        "deals",
        "marketing",
        content_key="k",
        body="Acme: 20% off. Reply STOP to opt out.",
        brand="Acme",
    )


Records = tuple[str, tuple[ConsentEvent, ...], tuple[SendRecord, ...]]


def _through(
    policy: Rule, now: dt.datetime, records: list[Records]
) -> tuple[FastPath, list[tuple[Decision, Decision]]]:
    """Each (number, events, sends) in order through one fast path (the first twice, so its
    deferral is remembered), each with the tree's decision on a context of its own."""
    fast = FastPath(policy)
    out = []
    for number, events, sends in [records[0], *records]:
        message = _message(number)
        got = fast(message, _context(number, now, events, sends))
        want = run_rule(policy, message, _context(number, now, events, sends))
        out.append((got, want))
    return fast, out


def _plain(numbers: tuple[str, ...]) -> list[Records]:
    return [(n, (), ()) for n in numbers]


def _agree(decided: list[tuple[Decision, Decision]]) -> None:
    for index, (got, want) in enumerate(decided):
        assert _fields(got) == _fields(want), index


# --- A bug: a leaf taken as settled alike because the rules compare equal ----------------


@attrs.frozen
class Phased:
    """A rule that amounts to ``before`` until ``switch`` and to ``after`` from then on (a law
    whose parameters change on a date), and says so through ``at_instant``
    (:class:`smspolicy._compose.SettledAtInstant`)."""

    before: Rule
    after: Rule
    switch: dt.datetime

    def __call__(self, message: Message, context: Context) -> Decision:
        return run_rule(self.after if context.now >= self.switch else self.before, message, context)

    def at_instant(self, zones: tuple[str, ...], now: dt.datetime) -> tuple[Rule, ...]:
        return (self.after if now >= self.switch else self.before,)


@pytest.mark.caches
def test_phased_consent_terms_that_compare_equal_are_taken_as_settled_alike() -> None:
    """FAILS. Implied consent from a purchase lasts 24 months until 05:00 in New York (10:00
    UTC), one month from then on (two consent rules that differ only in ``implied_terms``,
    an ``eq=False`` field: they compare equal). The first number has express consent; the
    second an implied consent from a purchase three months ago: allowed now, expired at the
    window's opening, so the tree denies it (``window.none``, the consent rule denying at
    13:00 UTC). ``_settled_alike`` finds ``(after,) != (before,)`` false, takes the leaf as
    settled alike, leaves the consent rule out of the remembered deferral (fold-timed, the
    view holding through the opening) and gives the second number the first's DEFER. An
    identity comparison (or asking the unsettled leaf along the trail, as before the change)
    keeps them apart."""
    before = rules.consent()
    after = rules.consent(implied_terms={**DEFAULT_IMPLIED_TERMS, Basis.PURCHASE: 1})
    assert before == after  # equal, yet they decide differently
    assert before is not after
    phased = Phased(before, after, NIGHT + dt.timedelta(hours=2))
    assert at_instant_of(phased, (), OPENING) == at_instant_of(phased, (), NIGHT)
    policy = Policy(rules.sending_window("08:00", "21:00"), phased, name="p")
    first, second = NY[0], NY[2]
    records: list[Records] = [
        (first, (_grant(first, NIGHT - dt.timedelta(days=3)),), ()),
        (second, (_implied(second, NIGHT - dt.timedelta(days=91)),), ()),
    ]
    _fast, decided = _through(policy, NIGHT, records)
    assert decided[1][0].until == OPENING
    tree = decided[2][1]
    assert tree.verdict is Verdict.DENY
    assert decided[2][0].verdict is Verdict.DENY, "the fast path gave the first number's DEFER"


# --- Edges that hold ------------------------------------------------------------------------


@pytest.mark.caches
def test_edge_law_in_force_only_between_now_and_the_deferral_is_not_seen_by_either() -> None:
    """Friday 22:00 in New York, a weekday 09:00-17:00 window: deferred to Monday 09:00. A law
    refusing the second number is in force on Saturday only: not in force now nor on Monday
    (settled to nothing at both), in force in between, where the tree never looks: both
    defer the second number to Monday."""
    now = dt.datetime(2026, 11, 28, 3, tzinfo=dt.UTC)
    monday = dt.datetime(2026, 11, 30, 14, tzinfo=dt.UTC)
    law = InForce(refuse_some, dt.date(2026, 11, 28), dt.date(2026, 11, 29))
    assert at_instant_of(law, RESOLVER.resolve(NY[0]).zones, now) == ()
    assert at_instant_of(law, RESOLVER.resolve(NY[0]).zones, monday) == ()
    policy = Policy(rules.sending_window("09:00", "17:00", days={0, 1, 2, 3, 4}), law, name="p")
    fast, decided = _through(policy, now, _plain(NY))
    _agree(decided)
    assert {got.until for got, _ in decided} == {monday}
    (entry,) = fast._deferrals.values()
    assert entry[1] == ()  # type: ignore[index]  # nothing asked again: the law settled alike


@pytest.mark.caches
@pytest.mark.parametrize(
    ("label", "now", "effective", "tree_denies"),
    [
        # 605 (South Dakota): Chicago, Denver, North Dakota Center; the window opens at 08:00
        # in every zone, 15:00 UTC on the 28th. The 28th begins at 06:00 UTC in Chicago.
        (
            "before midnight in every zone",
            dt.datetime(2026, 11, 28, 5, 30, tzinfo=dt.UTC),
            28,
            True,
        ),
        (
            "after midnight in Chicago only",
            dt.datetime(2026, 11, 28, 6, 30, tzinfo=dt.UTC),
            28,
            True,
        ),
        ("exactly midnight in Chicago", dt.datetime(2026, 11, 28, 6, tzinfo=dt.UTC), 28, True),
        ("a law from the day after", dt.datetime(2026, 11, 28, 5, 30, tzinfo=dt.UTC), 29, False),
    ],
)
def test_edge_law_around_midnight_for_several_zones(
    label: str, now: dt.datetime, effective: int, tree_denies: bool
) -> None:
    """A law refusing numbers ending in 1 comes into force at midnight in the first of a
    number's several zones, before, at or after now, or after the opening: the fast path
    gives what the tree gives."""
    numbers = ("+16055550100", "+16055550111", "+16055550122")
    law = InForce(refuse_some, dt.date(2026, 11, effective), None)
    policy = Policy(rules.sending_window("08:00", "21:00"), law, name="p")
    _fast, decided = _through(policy, now, _plain(numbers))
    _agree(decided)
    assert (decided[2][1].verdict is Verdict.DENY) is tree_denies, label


@pytest.mark.caches
@pytest.mark.parametrize("hours", [8, 9, 10, 11, 12])
def test_edge_law_for_a_number_with_unknown_zones(hours: int) -> None:
    """A toll-free number (no zones): the law's first day begins at 10:00 UTC the day before
    (UTC+14), and a window with a New York fallback opens at 13:00 UTC. Decided from 08:00 to
    12:00 UTC on the 26th, the law comes into force before the opening or is in force now."""
    now = dt.datetime(2026, 11, 26, hours, tzinfo=dt.UTC)
    numbers = ("+18885550100", "+18885550111", "+18885550122")
    assert RESOLVER.resolve(numbers[0]).zones == ()
    law = InForce(refuse_some, dt.date(2026, 11, 27), None)
    window = rules.sending_window("08:00", "21:00", fallback_zones=("America/New_York",))
    policy = Policy(window, law, rules.dedupe(dt.timedelta(days=1)), name="p")
    _fast, decided = _through(policy, now, _plain(numbers))
    _agree(decided)
    assert decided[2][0].verdict is Verdict.DENY


@pytest.mark.caches
@pytest.mark.parametrize(
    ("effective", "until"),
    [
        (dt.date(2026, 11, 28), None),  # in force from the middle instant
        (dt.date(2026, 11, 29), None),  # from the last instant only
        (dt.date(2026, 11, 28), dt.date(2026, 11, 29)),  # at the middle instant only
        (dt.date(2026, 11, 1), dt.date(2026, 11, 29)),  # in force now, ended at the last
        (dt.date(2026, 12, 1), None),  # never within the trail
    ],
)
def test_edge_trail_of_several_instants_across_midnights(
    effective: dt.date, until: dt.date | None
) -> None:
    """Friday 22:00 in New York. An 08:00-21:00 window opens on Saturday 08:00; quiet hours
    Saturday and Sunday (a weekday-only window) then defer to Monday 08:00: the tree looks at
    Saturday and Monday. A law refusing the second number is in force at none, one or both of
    them: the fast path gives what the tree gives."""
    now = dt.datetime(2026, 11, 28, 3, tzinfo=dt.UTC)
    law = InForce(refuse_some, effective, until)
    policy = Policy(
        rules.sending_window("08:00", "21:00"),
        rules.sending_window("00:00", "00:00", days={0, 1, 2, 3, 4}),
        law,
        name="p",
    )
    _fast, decided = _through(policy, now, _plain(NY))
    _agree(decided)


@pytest.mark.caches
@pytest.mark.parametrize("effective", [26, 27, 28])
def test_edge_zone_timed_law_coming_into_force_at_the_opening(effective: int) -> None:
    """23:00 in New York on the 26th: the window defers to 08:00 on the 27th; quiet hours
    08:00-09:00 under a law from the 27th (zone-timed: not in ``later``) defer it on to
    09:00 there. With a non-zone-timed law in force throughout around a dedupe and a custom
    rule, the second number (refused) and the others get what the tree gives."""
    quiet = InForce(rules.quiet_hours("08:00", "09:00"), dt.date(2026, 11, effective), None)
    steady = InForce(
        all_of(rules.dedupe(dt.timedelta(days=1)), refuse_some), dt.date(2026, 1, 1), None
    )
    policy = Policy(rules.sending_window("08:00", "21:00"), quiet, steady, name="p")
    _fast, decided = _through(policy, EVE, _plain(NY))
    _agree(decided)
    assert decided[2][0].verdict is Verdict.DENY


@pytest.mark.caches
@pytest.mark.parametrize(
    "effective", [dt.date(2026, 11, 1), dt.date(2026, 11, 27), dt.date(2026, 12, 1)]
)
def test_edge_laws_nested_in_when_all_of_and_any_of(effective: dt.date) -> None:
    """Laws inside a when() the key settles (flattened, settled), inside an any_of (a leaf,
    never settled) and under OnChannels (flattened) and StandIn (a leaf): in force
    throughout, from midnight before the opening, or not within the trail."""
    law = InForce(refuse_some, effective, None)
    policy = Policy(
        rules.sending_window("08:00", "21:00"),
        when(
            is_marketing, all_of(law, InForce(rules.dedupe(dt.timedelta(days=1)), effective, None))
        ),
        any_of(InForce(refuse_some, effective, None), rules.consent()),
        OnChannels(InForce(rules.frequency_cap(2, dt.timedelta(hours=6)), effective, None), PHONE),
        StandIn(OnChannels(InForce(refuse_some, effective, None), PHONE), (("GG", "GB"),), "t"),
        name="p",
    )
    _fast, decided = _through(policy, EVE, _plain(NY))
    _agree(decided)


@pytest.mark.caches
def test_edge_settled_consent_with_a_stop_dated_before_the_opening() -> None:
    """A consent rule under a law in force throughout (settled, fold-timed: left out of the
    remembered deferral while the views hold). The second number's STOP is dated between now
    and the opening: its view does not hold, and it is denied as the tree denies it."""
    law = InForce(rules.consent(), dt.date(2026, 1, 1), None)
    policy = Policy(rules.sending_window("08:00", "21:00"), law, name="p")
    grant = {n: _grant(n, NIGHT - dt.timedelta(days=3)) for n in NY}
    stopped = (grant[NY[1]], _stop(NY[1], grant[NY[1]], NIGHT + dt.timedelta(hours=2), None))
    records: list[Records] = [
        (NY[0], (grant[NY[0]],), ()),
        (NY[1], stopped, ()),
        (NY[2], (grant[NY[2]],), ()),
    ]
    fast, decided = _through(policy, NIGHT, records)
    _agree(decided)
    (entry,) = fast._deferrals.values()
    assert entry[1] == ()  # type: ignore[index]  # the consent rule is left out
    assert decided[2][0].verdict is Verdict.DENY


def _written(number: str, now: dt.datetime) -> ConsentEvent:
    return _grant(number, now - dt.timedelta(days=40), written=True)


@pytest.mark.caches
@pytest.mark.parametrize(
    ("now", "revoke_all_at_opening"),
    [
        # 23:30 on 2027-01-30 in New York: revoke-all comes into force at midnight, before the
        # opening at 08:00 on the 31st.
        (dt.datetime(2027, 1, 31, 4, 30, tzinfo=dt.UTC), True),
        # 23:30 on the 29th: revoke-all is not in force at the opening on the 30th either.
        (dt.datetime(2027, 1, 30, 4, 30, tzinfo=dt.UTC), False),
        # 03:00 on the 31st: in force now and at the opening (settled alike).
        (dt.datetime(2027, 1, 31, 8, tzinfo=dt.UTC), True),
    ],
)
def test_edge_standard_pack_around_the_revoke_all_date(
    now: dt.datetime, revoke_all_at_opening: bool
) -> None:
    """The US standard pack with topic-scoped STOPs for the policy's own consent rule: the
    second number stopped another topic yesterday. Only revoke-all (brand-wide, from
    2027-01-31) stops it: the tree denies it when the law is in force at the opening. The
    third number's STOP of the topic is dated between now and the opening. The fast path
    gives what the tree gives."""
    policy = jurisdictions.standard(stop_scope="topic")
    grants = {n: _written(n, now) for n in NY}
    other = (grants[NY[1]], _stop(NY[1], grants[NY[1]], now - dt.timedelta(days=1), "other"))
    ahead = (grants[NY[2]], _stop(NY[2], grants[NY[2]], now + dt.timedelta(hours=3), "deals"))
    records: list[Records] = [
        (NY[0], (grants[NY[0]],), ()),
        (NY[1], other, ()),
        (NY[2], ahead, ()),
        (NY[3], (grants[NY[3]],), ()),
    ]
    _fast, decided = _through(policy, now, records)
    _agree(decided)
    assert decided[0][0].verdict is Verdict.DEFER
    assert (decided[2][1].verdict is Verdict.DENY) is revoke_all_at_opening
    assert decided[3][1].verdict is Verdict.DENY
    assert decided[4][1].verdict is Verdict.DEFER


@pytest.mark.caches
@pytest.mark.parametrize(
    "number_group",
    [
        ("+12145550100", "+12145550111", "+12145550122"),  # Texas: laws from SB 140, OnClock
        ("+19155550100", "+19155550111", "+19155550122"),  # El Paso (Denver): OnClock differs
        ("+18885550100", "+18885550111", "+18885550122"),  # toll-free: unknown zones
        ("+16055550100", "+16055550111", "+16055550122"),  # three zones
    ],
)
@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2025, 9, 1, 4, 30, tzinfo=dt.UTC),  # SB 140 in force from midnight local
        dt.datetime(2025, 9, 1, 7, tzinfo=dt.UTC),
        dt.datetime(2027, 1, 31, 2, tzinfo=dt.UTC),  # revoke-all
        dt.datetime(2027, 1, 31, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 29, 4, tzinfo=dt.UTC),  # a Saturday night: Texas's Sunday hours
    ],
)
def test_edge_standard_pack_laws_around_midnight(
    number_group: tuple[str, ...], now: dt.datetime
) -> None:
    """The standard pack around the dates its laws come into force, for numbers in one, several
    or no zones, with a STOP on another topic for the second number and a STOP dated ahead for
    the third: the fast path gives what the tree gives."""
    policy = jurisdictions.standard(stop_scope="topic")
    first, second, third = number_group
    grants = {n: _written(n, now) for n in number_group}
    records: list[Records] = [
        (first, (grants[first],), ()),
        (
            second,
            (grants[second], _stop(second, grants[second], now - dt.timedelta(hours=5), "other")),
            (),
        ),
        (
            third,
            (grants[third], _stop(third, grants[third], now + dt.timedelta(hours=4), None)),
            (),
        ),
        (first, (grants[first],), ()),
    ]
    _fast, decided = _through(policy, now, records)
    _agree(decided)
