"""The law in force at the send's instant: `Provision.effective`/`until` and `InForce`, which
applies a provision's rule from 00:00 on its first day to 00:00 on its end date, local time."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import Context, Decision, Message, Reason, Recipient, Verdict, defer, deny, rule
from smspolicy._recipients import Resolver
from smspolicy.errors import ConfigurationError
from smspolicy.jurisdictions._model import InForce, provision

NY = "+12125550123"
LA = "+13105550123"
UTC = dt.UTC
FAR = dt.datetime(2030, 1, 1, tzinfo=UTC)
EFFECTIVE, UNTIL = dt.date(2026, 1, 10), dt.date(2026, 2, 10)
HELD = Reason("held", "test", "held")


@rule
def denies(message: Message, context: Context) -> Decision:
    return deny(HELD)


@rule
def waits(message: Message, context: Context) -> Decision:
    return defer(FAR, HELD)


def decide(bounded: InForce, now: dt.datetime, number: str | None = NY) -> Decision:
    recipient = Resolver().resolve(number) if number else Recipient("x", False)
    return bounded(Message(NY, "deals", "marketing"), Context(now=now, recipient=recipient))


SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
NY_START = dt.datetime(2026, 1, 10, 5, tzinfo=UTC)  # 00:00 EST
NY_END = dt.datetime(2026, 2, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "verdict"),
    [
        pytest.param(NY_START - SECOND, Verdict.ALLOW, id="23:59:59-the-day-before"),
        pytest.param(NY_START, Verdict.DENY, id="00:00-on-the-day"),
        pytest.param(NY_END - SECOND, Verdict.DENY, id="23:59:59-the-last-day"),
        pytest.param(NY_END, Verdict.ALLOW, id="00:00-on-the-end-date"),
    ],
)
def test_a_provision_applies_from_its_first_to_its_last_local_day(
    now: dt.datetime, verdict: Verdict
) -> None:
    """In New York the provision denies from 00:00 EST on 2026-01-10 to 23:59:59 EST on
    2026-02-09; outside it the plain ALLOW is returned."""
    decision = decide(InForce(denies, EFFECTIVE, UNTIL), now)
    assert decision.verdict is verdict
    if verdict is Verdict.ALLOW:
        assert decision.reasons == ()
    else:
        assert decision.reasons == (HELD,)


def test_open_ended_provisions() -> None:
    """Without ``until`` a provision applies for ever after its start; without ``effective``
    it applies until its end."""
    from_only = InForce(denies, EFFECTIVE, None)
    assert decide(from_only, NY_START - SECOND).allowed
    assert decide(from_only, dt.datetime(2099, 1, 1, tzinfo=UTC)).verdict is Verdict.DENY
    until_only = InForce(denies, None, UNTIL)
    assert decide(until_only, dt.datetime(2000, 1, 1, tzinfo=UTC)).verdict is Verdict.DENY
    assert decide(until_only, NY_END - SECOND).verdict is Verdict.DENY
    assert decide(until_only, NY_END).allowed


def test_a_deferral_is_cut_to_the_end_keeping_its_reasons() -> None:
    """A DEFER past the provision's end becomes a DEFER to the end, with the same reasons; one
    that ends before it is kept; a provision with no end keeps every deferral."""
    cut = decide(InForce(waits, EFFECTIVE, UNTIL), NY_START)
    assert cut.verdict is Verdict.DEFER
    assert cut.until == NY_END
    assert cut.reasons == (HELD,)
    soon = dt.datetime(2026, 1, 20, tzinfo=UTC)

    @rule
    def waits_a_little(message: Message, context: Context) -> Decision:
        return defer(soon, HELD)

    kept = decide(InForce(waits_a_little, EFFECTIVE, UNTIL), NY_START)
    assert kept.until == soon
    assert decide(InForce(waits, EFFECTIVE, None), NY_START).until == FAR


def test_several_zones_first_start_last_end() -> None:
    """A recipient in New York and Los Angeles gets the provision from 00:00 in New York (the
    first start) to 00:00 in Los Angeles on the end date (the last end)."""
    both = Resolver().resolve(NY)
    both = Recipient(
        both.address, True, both.e164, "US", zones=("America/Los_Angeles", "America/New_York")
    )
    bounded = InForce(denies, EFFECTIVE, UNTIL)
    la_end = dt.datetime(2026, 2, 10, 8, tzinfo=UTC)  # 00:00 PST
    message = Message(NY, "deals", "marketing")
    checks = {
        NY_START - SECOND: Verdict.ALLOW,
        NY_START: Verdict.DENY,
        la_end - SECOND: Verdict.DENY,
        la_end: Verdict.ALLOW,
    }
    for now, verdict in checks.items():
        assert bounded(message, Context(now=now, recipient=both)).verdict is verdict, now


def test_unknown_zones_count_as_every_zone_on_earth() -> None:
    """Without a zone the provision starts when the date begins at UTC+14 and ends when the
    end date begins at UTC-12."""
    bounded = InForce(denies, EFFECTIVE, UNTIL)
    first = dt.datetime(2026, 1, 9, 10, tzinfo=UTC)
    last = dt.datetime(2026, 2, 10, 12, tzinfo=UTC)
    assert decide(bounded, first - SECOND, None).allowed
    assert decide(bounded, first, None).verdict is Verdict.DENY
    assert decide(bounded, last - SECOND, None).verdict is Verdict.DENY
    assert decide(bounded, last, None).allowed


def test_a_local_midnight_across_a_dst_change() -> None:
    """In Los Angeles 2026-03-08 begins at 08:00 UTC (PST) and 2026-03-09 at 07:00 UTC (PDT)."""
    bounded = InForce(denies, dt.date(2026, 3, 8), dt.date(2026, 3, 9))
    start, end = dt.datetime(2026, 3, 8, 8, tzinfo=UTC), dt.datetime(2026, 3, 9, 7, tzinfo=UTC)
    assert decide(bounded, start - SECOND, LA).allowed
    assert decide(bounded, start, LA).verdict is Verdict.DENY
    assert decide(bounded, end - SECOND, LA).verdict is Verdict.DENY
    assert decide(bounded, end, LA).allowed


def test_provision_dates_and_repr() -> None:
    """A provision without dates applies its rule as it is; with dates its rule is wrapped, and
    the wrapper reads as its dates. An end on or before the start is refused."""
    plain = provision("t.plain", "US", "t", "c", denies)
    assert plain.rule_in_force is denies
    dated = provision("t.dated", "US", "t", "c", denies, effective=EFFECTIVE, until=UNTIL)
    assert (
        repr(dated.rule_in_force) == f"in_force({denies!r}, effective=2026-01-10, until=2026-02-10)"
    )
    assert provision("t.end", "US", "t", "c", denies, until=UNTIL).until == UNTIL
    next_day = provision(
        "t.one", "US", "t", "c", denies, effective=EFFECTIVE, until=EFFECTIVE + dt.timedelta(days=1)
    )
    assert next_day.effective == EFFECTIVE
    for until in (EFFECTIVE, EFFECTIVE - dt.timedelta(days=1)):
        with pytest.raises(ConfigurationError, match="is not after effective"):
            provision("t.bad", "US", "t", "c", denies, effective=EFFECTIVE, until=until)


def test_the_rule_sees_the_message_and_a_cut_deferral_keeps_its_zone() -> None:
    """The wrapped rule is given the message itself (with or without an end date), and a
    deferral cut to the end keeps the zone the rule named."""
    seen: list[str] = []

    @rule
    def reads(message: Message, context: Context) -> Decision:
        seen.append(message.topic)
        return Decision(Verdict.DEFER, FAR, (HELD,), zone="America/New_York")

    cut = decide(InForce(reads, EFFECTIVE, UNTIL), NY_START)
    assert cut.until == NY_END
    assert cut.zone == "America/New_York"
    assert decide(InForce(reads, EFFECTIVE, None), NY_START).until == FAR
    assert seen == ["deals", "deals"]


_BOUNDS = [start + dt.timedelta(hours=hours) for start in (NY_START, NY_END) for hours in (0, 1, 3)]
"""00:00 on the first and the end date in New York, Chicago and Los Angeles."""


@given(
    st.sampled_from(_BOUNDS),
    st.integers(-2, 2),
    st.sampled_from([NY, LA, "+18505550123", "+447911123456"]),
    st.sampled_from([(EFFECTIVE, UNTIL), (EFFECTIVE, None), (None, UNTIL)]),
    st.sampled_from(["denies", "waits", "window"]),
)
def test_the_fast_path_settles_a_law_in_force_like_the_tree(
    bound: dt.datetime,
    seconds: int,
    number: str,
    dates: tuple[dt.date | None, dt.date | None],
    kind: str,
) -> None:
    """A law in force is settled once per (zones, instant) by the fast path (nothing before
    it, its rule while it has no end, itself while it has one): at every second around the
    local midnights that start and end it, for recipients in several zones, next to another
    rule, the fast path's decision equals the tree's, a deferral cut at the end included."""
    from smspolicy import Policy, rules
    from smspolicy._compose import run_rule
    from smspolicy._fastpath import FastPath

    inner = {"denies": denies, "waits": waits, "window": rules.sending_window("08:00", "21:00")}
    bounded = InForce(inner[kind], *dates)
    policy = Policy(bounded, rules.valid_number(), name="p")
    now = bound + dt.timedelta(seconds=seconds)
    message = Message(number, "deals", "marketing")
    fast = FastPath(policy)
    for _ in range(2):  # computed, then remembered per key
        context = Context(now=now, recipient=Resolver().resolve(number))
        expected = run_rule(policy, message, Context(now=now, recipient=context.recipient))
        decided = fast(message, context)
        assert (decided.verdict, decided.until, decided.reasons) == (
            expected.verdict,
            expected.until,
            expected.reasons,
        )


def test_a_law_in_force_says_what_it_amounts_to_at_an_instant() -> None:
    """``at_instant``: nothing before the first day or from the end date, its rule in force
    without an end, and no answer while in force with an end (only a call can cut a
    deferral)."""
    zones = ("America/New_York",)
    assert InForce(denies, EFFECTIVE, None).at_instant(zones, NY_START - SECOND) == ()
    assert InForce(denies, EFFECTIVE, None).at_instant(zones, NY_START) == (denies,)
    assert InForce(denies, EFFECTIVE, UNTIL).at_instant(zones, NY_START) is None
    assert InForce(denies, EFFECTIVE, UNTIL).at_instant(zones, NY_END - SECOND) is None
    assert InForce(denies, EFFECTIVE, UNTIL).at_instant(zones, NY_END) == ()
    assert InForce(denies, None, UNTIL).at_instant(zones, NY_START) is None
    # Several zones: from the first start among them to the last end.
    both = ("America/New_York", "America/Los_Angeles")
    assert InForce(denies, EFFECTIVE, None).at_instant(both, NY_START) == (denies,)
    assert InForce(denies, EFFECTIVE, UNTIL).at_instant(both, NY_END) is None
    assert InForce(denies, EFFECTIVE, UNTIL).at_instant(both, NY_END + 3 * HOUR) == ()
    # Unknown zones: in force until the end date starts at UTC-12 (12:00 UTC that day) and
    # from the date's start at UTC+14 (10:00 UTC the day before).
    assert InForce(denies, EFFECTIVE, UNTIL).at_instant((), NY_END) is None
    assert InForce(denies, EFFECTIVE, UNTIL).at_instant((), NY_END + 7 * HOUR) == ()
    assert InForce(denies, EFFECTIVE, None).at_instant((), NY_START - dt.timedelta(hours=20)) == ()
    assert InForce(denies, EFFECTIVE, None).at_instant((), NY_START - dt.timedelta(hours=18)) == (
        denies,
    )


def test_a_law_that_comes_into_force_before_a_deferral_ends_is_asked_for_each_recipient() -> None:
    """At 23:00 in New York the window defers to 08:00; a law that comes into force at
    midnight, in between, denies the second recipient only. The first recipient's remembered
    deferral must not be handed to the second: the law is asked for each at 08:00."""
    from smspolicy import Policy, all_of, allow, rules, when
    from smspolicy._compose import run_rule
    from smspolicy._fastpath import FastPath
    from smspolicy.predicates import is_marketing

    first, second = "+12125550100", "+12125550111"

    @rule(name="second_only")
    def second_only(message: Message, _context: Context) -> Decision:
        return deny(HELD) if message.to == second else allow()

    window = rules.sending_window("08:00", "21:00")
    law = InForce(second_only, dt.date(2026, 1, 10), None)
    policy = Policy(when(is_marketing, all_of(window, law)), rules.valid_number(), name="p")
    now = dt.datetime(2026, 1, 10, 4, tzinfo=UTC)  # 23:00 EST on the 9th
    fast = FastPath(policy)
    for number in (first, second, first, second, second):
        message = Message(number, "deals", "marketing")
        recipient = Resolver().resolve(number)
        expected = run_rule(policy, message, Context(now=now, recipient=recipient))
        decided = fast(message, Context(now=now, recipient=recipient))
        assert (decided.verdict, decided.until, decided.reasons) == (
            expected.verdict,
            expected.until,
            expected.reasons,
        ), number
