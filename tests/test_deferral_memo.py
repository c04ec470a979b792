"""A deferral remembered per (leaves, zones, jurisdictions, instant) is the one the policy tree
finds for each recipient on its own: random window policies, zone sets and instants around DST
transitions, windows crossing midnight, and rules that answer differently per recipient."""

from __future__ import annotations

import datetime as dt

import phonenumbers
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
    all_of,
    allow,
    defer,
    deny,
    jurisdictions,
    rule,
    rules,
    when,
)
from smspolicy._compose import run_rule
from smspolicy._context import ConsentView, HistoryView, ZoneTimed
from smspolicy._fastpath import FastPath
from smspolicy._values import Reason
from smspolicy.predicates import is_marketing
from smspolicy.typing import Rule

RESOLVER = Resolver()

# Two numbers per zone set, so that the second of each pair meets the first one's deferral:
# New York; the Florida panhandle (Central and Eastern); Oregon's 541 (Pacific and Mountain);
# Puerto Rico; the UK; Australia (several zones); Japan; India; Germany.
NUMBERS = [
    "+12125550100",
    "+12125550111",
    "+18502345670",
    "+18502345681",
    "+15412345670",
    "+15412345681",
    "+17872345670",
    "+17872345681",
    "+447911123450",
    "+447911123461",
    "+61412345670",
    "+61412345681",
    "+819012345670",
    "+819012345681",
    "+919812345670",
    "+919812345681",
    "+4915112345670",
    "+4915112345681",
]

# Around the instants the wall clock jumps: New York 2026-03-08 07:00 UTC (spring forward) and
# 2026-11-01 06:00 UTC (fall back); London 2026-03-29 01:00 UTC and 2026-10-25 01:00 UTC; and an
# ordinary day.
TRANSITIONS = [
    dt.datetime(2026, 3, 8, 7, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 25, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 27, 17, tzinfo=dt.UTC),
]


def test_the_numbers_are_valid() -> None:
    """Every number of the pool is valid, and each pair shares its zones."""
    for number in NUMBERS:
        assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    for first, second in zip(NUMBERS[::2], NUMBERS[1::2], strict=True):
        assert RESOLVER.resolve(first).zones == RESOLVER.resolve(second).zones


def instants() -> st.SearchStrategy[dt.datetime]:
    """An instant within 36 hours of a DST transition (or of an ordinary noon), to the minute."""
    return st.builds(
        lambda base, minutes: base + dt.timedelta(minutes=minutes),
        st.sampled_from(TRANSITIONS),
        st.integers(-36 * 60, 36 * 60),
    )


def times() -> st.SearchStrategy[str]:
    """A wall-clock time on the quarter hour."""
    return st.builds(lambda q: f"{q // 4:02d}:{q % 4 * 15:02d}", st.integers(0, 95))


def windows() -> st.SearchStrategy[Rule]:
    """A sending window or quiet hours, often crossing midnight, sometimes on some weekdays
    only or in the principal zones only."""
    return st.builds(
        lambda kind, start, end, days, zones: kind(start, end, days=days, zones=zones),
        st.sampled_from([rules.sending_window, rules.quiet_hours]),
        times(),
        times(),
        st.one_of(st.none(), st.sets(st.integers(0, 6), min_size=1).map(sorted)),
        st.sampled_from(["all", "principal"]),
    )


@rule(name="refuse_some")
def refuse_some(message: Message, _context: Context) -> Decision:
    """Denies numbers ending in 1: a recipient whose other rules differ from its pair's."""
    if message.to.endswith("1"):
        return deny(Reason("test.refused", "refuse_some", "refused"))
    return allow()


@rule(name="later_for_some")
def later_for_some(message: Message, context: Context) -> Decision:
    """Defers numbers ending in 0 by 90 minutes (from each instant asked)."""
    if message.to.endswith("0") and context.now.minute % 2 == 0:
        return defer(context.now + dt.timedelta(minutes=90), Reason("test.later", "later", "x"))
    return allow()


def _extend(inner: st.SearchStrategy[Rule]) -> st.SearchStrategy[Rule]:
    return st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda parts: all_of(*parts)),
        inner.map(lambda part: when(is_marketing, part)),
    )


def window_policies() -> st.SearchStrategy[Rule]:
    """Windows nested in all_of and when, with a pack, a cap or a rule that treats the two
    numbers of a pair differently mixed in."""
    leaves = st.one_of(
        windows(),
        windows(),
        st.just(rules.valid_number()),
        st.just(refuse_some),
        st.just(later_for_some),
    )
    return st.recursive(leaves, _extend, max_leaves=6)


def _context(message: Message, now: dt.datetime) -> Context:
    return Context(
        now=now,
        recipient=RESOLVER.resolve(message.to),
        consent=ConsentView(events=()),
        history=HistoryView(sends=(), since=now - dt.timedelta(days=2)),
    )


def _fields(decision: Decision) -> tuple[object, ...]:
    return (decision.verdict, decision.until, decision.reasons, decision.zone)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(window_policies(), min_size=1, max_size=3),
    st.booleans(),
    instants(),
    st.sampled_from(["marketing", "transactional"]),
    st.one_of(st.none(), st.integers(1, 72)),
)
def test_a_remembered_deferral_is_the_trees(
    parts: list[Rule],
    with_pack: bool,
    now: dt.datetime,
    purpose: str,
    stale_after: int | None,
) -> None:
    """Every number of the pool, in order, through one fast path (so each pair's second number
    meets what the first left behind), and twice: each decision equals the tree's for that
    number alone."""
    tree = Policy(*([jurisdictions.standard()] if with_pack else []), *parts, name="memo")
    fast = FastPath(tree)
    not_after = None if stale_after is None else now + dt.timedelta(hours=stale_after)
    for _round in range(2):
        for number in NUMBERS:
            message = Message(number, "news", purpose, not_after=not_after)
            remembered = fast(message, _context(message, now))
            alone = run_rule(tree, message, _context(message, now))
            assert _fields(remembered) == _fields(alone), number


@pytest.mark.caches
def test_a_pair_shares_one_deferral() -> None:
    """At 03:00 in New York an 08:00-21:00 window defers both numbers of the pair to 08:00 New
    York (13:00 UTC); once the key came back, the deferral is remembered and given as it is."""
    window = rules.sending_window("08:00", "21:00")
    fast = FastPath(Policy(all_of(window, rules.valid_number()), rules.valid_number(), name="p"))
    now = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)  # 03:00 in New York
    first, second = (Message(n, "news", "marketing") for n in NUMBERS[:2])
    one = fast(first, _context(first, now))
    two = fast(second, _context(second, now))
    three = fast(first, _context(first, now))
    assert one.until == two.until == dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
    assert one.zone == two.zone == "America/New_York"
    assert three is two
    assert len(fast._deferrals) == 1
    later = now + dt.timedelta(minutes=1)  # another instant: another key, seen once
    assert fast(first, _context(first, later)).until == one.until
    assert len(fast._deferrals) == 2


@pytest.mark.caches
def test_a_pair_whose_rules_differ_is_decided_apart() -> None:
    """When the second number's other rules answer differently (a DENY), the remembered
    deferral is not used: it is denied with the window's deferral left out."""
    window = rules.sending_window("08:00", "21:00")
    fast = FastPath(Policy(all_of(window, refuse_some), rules.valid_number(), name="p"))
    now = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)
    first, second = (Message(n, "news", "marketing") for n in NUMBERS[:2])
    for _ in range(2):  # seen, then remembered
        assert fast(first, _context(first, now)).until == dt.datetime(
            2026, 11, 27, 13, tzinfo=dt.UTC
        )
    assert len(fast._deferrals) == 1
    refused = fast(second, _context(second, now))
    assert refused.codes == ("test.refused",)


@pytest.mark.caches
def test_a_deferral_is_checked_again_at_its_instant() -> None:
    """A rule that allows now but defers at the window's opening (for one number only) moves
    that number's deferral, though the other number of the pair was deferred to the opening."""

    @rule(name="busy_at_eight")
    def busy_at_eight(message: Message, context: Context) -> Decision:
        opening = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
        if message.to.endswith("1") and opening <= context.now < opening + dt.timedelta(hours=1):
            return defer(opening + dt.timedelta(hours=1), Reason("test.busy", "busy", "busy"))
        return allow()

    window = rules.sending_window("08:00", "21:00")
    fast = FastPath(Policy(all_of(window, busy_at_eight), rules.valid_number(), name="p"))
    now = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)
    first, second = (Message(n, "news", "marketing") for n in NUMBERS[:2])
    for _ in range(2):  # seen, then remembered
        assert fast(first, _context(first, now)).until == dt.datetime(
            2026, 11, 27, 13, tzinfo=dt.UTC
        )
    assert len(fast._deferrals) == 1
    assert fast(second, _context(second, now)).until == dt.datetime(2026, 11, 27, 14, tzinfo=dt.UTC)


def test_sending_windows_are_zone_timed() -> None:
    """A sending window says it depends only on the purpose, the zones and the instant; a cap
    does not."""
    assert isinstance(rules.sending_window("08:00", "21:00"), ZoneTimed)
    assert not isinstance(rules.frequency_cap(3, dt.timedelta(days=1)), ZoneTimed)


@pytest.mark.caches
def test_a_deny_among_deferrals_is_remembered_by_its_reasons() -> None:
    """A rule that denies with a fresh decision each time, next to a window that defers, in a
    nested policy: the second recipient with the same key and a DENY alike in every field gets
    the remembered DENY, which carries the DENY's reason only."""

    @rule(name="refuse_all")
    def refuse_all(_message: Message, _context: Context) -> Decision:
        return deny(Reason("test.refused", "refuse_all", "refused", data={"n": 1}))

    window = rules.sending_window("08:00", "21:00")
    nested = when(is_marketing, all_of(window, refuse_all))  # not flattened into the policy
    fast = FastPath(Policy(nested, rules.valid_number(), name="p"))
    now = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)
    first, second = (Message(n, "news", "marketing") for n in NUMBERS[:2])
    one = fast(first, _context(first, now))
    two = fast(second, _context(second, now))
    three = fast(first, _context(first, now))
    assert one.codes == two.codes == ("test.refused",)
    assert one.until is None
    assert three is two


_NIGHT = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)  # 03:00 in New York: the window defers
_HOUR = dt.timedelta(hours=1)


def _reason(code: str = "test.held", text: str = "held", **data: object) -> Reason:
    return Reason(code, "differs", text, data=data)


# For each field the fast path compares, a pair of decisions alike in every other field.
_PAIRS = {
    "reason data": (deny(_reason(n=1)), deny(_reason(n=2))),
    "reason code": (deny(_reason("test.a")), deny(_reason("test.b"))),
    "reason text": (deny(_reason(text="one")), deny(_reason(text="two"))),
    "reason count": (deny(_reason()), deny(_reason(), _reason("test.more"))),
    "verdict": (deny(_reason()), allow(_reason())),
    # Relative to the instant asked: each rule's deferral is after it.
    "until": (defer(_NIGHT + 2 * _HOUR, _reason()), defer(_NIGHT + 3 * _HOUR, _reason())),
    "zone": (
        Decision(Verdict.DENY, None, (_reason(),), "America/New_York"),
        Decision(Verdict.DENY, None, (_reason(),), "America/Chicago"),
    ),
}


def _every_field(decision: Decision) -> tuple[object, ...]:
    return (
        decision.verdict,
        decision.until,
        decision.zone,
        tuple((r.code, r.rule, r.message, r.citation, dict(r.data)) for r in decision.reasons),
    )


@pytest.mark.parametrize("field", sorted(_PAIRS))
def test_a_remembered_deferral_is_not_reused_for_a_decision_that_differs_in_one_field(
    field: str,
) -> None:
    """Two recipients with one key at night: a rule beside the deferring window answers each
    with a fresh decision that differs from the other's in one field only. The fast path must
    not hand the second the first one's outcome: each equals the tree's, in every field and
    every reason's details, however often and in whichever order they come."""
    first_answer, second_answer = _PAIRS[field]
    first, second = (Message(n, "news", "marketing") for n in NUMBERS[:2])

    @rule(name="differs")
    def differs(message: Message, context: Context) -> Decision:
        made = first_answer if message.to == first.to else second_answer
        until = None if made.until is None else made.until - _NIGHT + context.now
        return Decision(made.verdict, until, made.reasons, made.zone)  # a fresh object

    window = rules.sending_window("08:00", "21:00")
    nested = when(is_marketing, all_of(window, differs))  # decided by the tree, remembered
    policy = Policy(nested, rules.valid_number(), name="p")
    fast = FastPath(policy)
    for message in (first, second, first, second, second, first):
        expected = run_rule(policy, message, _context(message, _NIGHT))
        assert _every_field(fast(message, _context(message, _NIGHT))) == _every_field(expected)
