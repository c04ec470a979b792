"""Composition: all_of, any_of, when, unless, Policy and the laws they obey."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import (
    Context,
    Decision,
    Message,
    Policy,
    Reason,
    Recipient,
    Verdict,
    all_of,
    allow,
    any_of,
    defer,
    deny,
    rule,
    unless,
    when,
)
from smspolicy.errors import ConfigurationError, RuleError
from smspolicy.predicates import is_marketing, topic_is

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)
MSG = Message("+12125550123", "news", "marketing")
RECIPIENT = Recipient(address="+12125550123", valid=True, e164="+12125550123")


def ctx(now: dt.datetime = NOW) -> Context:
    return Context(now=now, recipient=RECIPIENT)


# --- time-only rules used by the laws -------------------------------------------------------


def utc_window(start_minute: int, length: int) -> object:
    """A rule that allows when the UTC minute of day is in [start, start+length) (may wrap)."""

    @rule(name=f"utc_window({start_minute}, {length})")
    def check(_m: Message, c: Context) -> Decision:
        minute = c.now.hour * 60 + c.now.minute
        if (minute - start_minute) % 1440 < length:
            return allow()
        day = c.now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day + dt.timedelta(minutes=start_minute)
        if start <= c.now:
            start += dt.timedelta(days=1)
        return defer(start, Reason("test.window", "utc_window", "outside the window"))

    return check


def not_before(instant: dt.datetime) -> object:
    @rule(name=f"not_before({instant.isoformat()})")
    def check(_m: Message, c: Context) -> Decision:
        if c.now >= instant:
            return allow()
        return defer(instant, Reason("test.not_before", "not_before", "too early"))

    return check


@rule
def always_deny(_m: Message, _c: Context) -> Decision:
    return deny(Reason("test.deny", "always_deny", "no"))


@rule
def always_allow(_m: Message, _c: Context) -> Decision:
    return allow()


windows = st.builds(utc_window, st.integers(0, 1439), st.integers(1, 1440))
afters = st.builds(
    not_before, st.integers(1, 60 * 24 * 40).map(lambda m: NOW + dt.timedelta(minutes=m))
)
time_rules = st.one_of(windows, afters, st.just(always_allow))
any_rules = st.one_of(time_rules, st.just(always_deny))
instants = st.integers(0, 60 * 24 * 30).map(lambda m: NOW + dt.timedelta(minutes=m))


@given(st.lists(any_rules, min_size=1, max_size=5), st.integers(0, 4))
def test_deny_dominates(rules: list[object], position: int) -> None:
    """Adding a denying rule anywhere makes all_of deny, with that rule's reason."""
    rules.insert(min(position, len(rules)), always_deny)
    decision = all_of(*rules)(MSG, ctx())  # type: ignore[arg-type]
    assert decision.verdict is Verdict.DENY
    assert "test.deny" in decision.codes


@given(
    st.lists(any_rules, max_size=3),
    st.lists(any_rules, max_size=3),
    st.lists(any_rules, max_size=3),
)
def test_all_of_is_associative(a: list[object], b: list[object], c: list[object]) -> None:
    """all_of(all_of(a, b), c) == all_of(a, all_of(b, c)) == all_of(a, b, c)."""
    left = all_of(all_of(*a, *b), *c)  # type: ignore[arg-type]
    right = all_of(*a, all_of(*b, *c))  # type: ignore[arg-type]
    flat = all_of(*a, *b, *c)  # type: ignore[arg-type]
    assert left == right == flat
    assert left(MSG, ctx()) == flat(MSG, ctx())


@given(st.lists(time_rules, min_size=1, max_size=5), instants)
def test_defer_until_is_aware_utc_future_and_allows(rules: list[object], now: dt.datetime) -> None:
    """A DEFER's until is aware, in UTC and after now; for time-only rules, evaluating at
    until gives ALLOW and no earlier minute does."""
    policy = all_of(*rules)  # type: ignore[arg-type]
    decision = policy(MSG, ctx(now))
    if decision.verdict is Verdict.DEFER:
        assert decision.until is not None
        assert decision.until.utcoffset() == dt.timedelta(0)
        assert decision.until > now
        assert policy(MSG, ctx(decision.until)).allowed
        if decision.until - now <= dt.timedelta(hours=12):
            minute = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
            while minute < decision.until:
                assert not policy(MSG, ctx(minute)).allowed, minute
                minute += dt.timedelta(minutes=1)
    elif decision.verdict is Verdict.DENY:
        assert decision.codes[0] == "window.none"


@given(st.lists(time_rules, min_size=1, max_size=4), st.integers(1, 60 * 24 * 3))
def test_not_after_is_respected(rules: list[object], minutes: int) -> None:
    """A deferral past the message's not_after becomes DENY message.stale, never a DEFER."""
    not_after = NOW + dt.timedelta(minutes=minutes)
    message = Message("+12125550123", "news", "marketing", not_after=not_after)
    decision = all_of(*rules)(message, ctx())  # type: ignore[arg-type]
    if decision.verdict is Verdict.DEFER:
        assert decision.until is not None
        assert decision.until <= not_after
    if decision.verdict is Verdict.DENY:
        assert decision.codes[0] in {"message.stale", "window.none"}


def test_all_of_finds_earliest_common_instant() -> None:
    """Two windows that overlap only later give the start of the overlap."""
    # 15:00 now; window A 16:00-18:00, window B 17:00-20:00 -> 17:00
    policy = all_of(utc_window(16 * 60, 120), utc_window(17 * 60, 180))  # type: ignore[arg-type]
    decision = policy(MSG, ctx())
    assert decision.until == NOW.replace(hour=17)
    assert decision.codes == ("test.window",)


def test_all_of_disjoint_windows_give_window_none() -> None:
    """Windows that never meet end in DENY window.none rather than looping."""
    policy = all_of(utc_window(60, 60), utc_window(180, 60))  # type: ignore[arg-type]
    decision = policy(MSG, ctx())
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("window.none",)


def test_all_of_respects_horizon() -> None:
    """A common instant beyond the horizon is DENY window.none."""
    policy = all_of(not_before(NOW + dt.timedelta(days=2)), horizon=dt.timedelta(days=1))  # type: ignore[arg-type]
    assert policy(MSG, ctx()).codes == ("window.none",)


def test_all_of_future_deny_gives_window_none_with_reason() -> None:
    """A rule that denies at the deferral instant makes the whole thing a deny."""

    @rule
    def deny_later(_m: Message, c: Context) -> Decision:
        return allow() if c.now < NOW + dt.timedelta(hours=1) else always_deny(_m, c)

    policy = all_of(not_before(NOW + dt.timedelta(hours=2)), deny_later)  # type: ignore[arg-type]
    decision = policy(MSG, ctx())
    assert decision.codes == ("window.none", "test.deny")
    assert decision.reasons[0].rule == "all_of"
    assert decision.reasons[0].data == {
        "horizon": "35 days, 0:00:00",
        "why": "a rule denies at 2025-01-15T17:00:00+00:00",
    }


HOUR = dt.timedelta(hours=1)
TINY = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("not_after", "verdict"),
    [(NOW + HOUR, Verdict.DEFER), (NOW + HOUR - TINY, Verdict.DENY)],
    ids=["at-not_after", "just-before"],
)
def test_stale_boundary_is_exact(not_after: dt.datetime, verdict: Verdict) -> None:
    """A deferral to exactly not_after is kept; a microsecond past it is DENY message.stale."""
    message = Message("+12125550123", "news", "marketing", not_after=not_after)
    decision = all_of(not_before(NOW + HOUR), always_allow)(message, ctx())  # type: ignore[arg-type]
    assert decision.verdict is verdict
    if verdict is Verdict.DEFER:
        assert decision.until == NOW + HOUR
    else:
        assert decision.codes == ("message.stale",)
        assert decision.reasons[0].rule == "all_of"
        assert decision.reasons[0].data == {
            "until": "2025-01-15T16:00:00+00:00",
            "not_after": "2025-01-15T15:59:59.999999+00:00",
        }


@pytest.mark.parametrize(
    ("until", "verdict"),
    [
        (NOW + dt.timedelta(days=1), Verdict.DEFER),
        (NOW + dt.timedelta(days=1) + TINY, Verdict.DENY),
    ],
    ids=["at-horizon", "just-past"],
)
def test_horizon_boundary_is_exact(until: dt.datetime, verdict: Verdict) -> None:
    """An instant exactly one horizon ahead is found; a microsecond later is DENY window.none."""
    policy = all_of(not_before(until), always_allow, horizon=dt.timedelta(days=1))  # type: ignore[arg-type]
    decision = policy(MSG, ctx())
    assert decision.verdict is verdict
    if verdict is Verdict.DEFER:
        assert decision.until == until
    else:
        assert decision.codes == ("window.none",)
        assert decision.reasons[0].rule == "all_of"
        assert decision.reasons[0].data == {
            "horizon": "1 day, 0:00:00",
            "why": "the rules' windows never meet",
        }


def test_iteration_limit_gives_window_none() -> None:
    """Rules that keep pushing each other past max_iterations end in DENY window.none."""
    policy = all_of(utc_window(60, 60), utc_window(180, 60), max_iterations=1)  # type: ignore[arg-type]
    decision = policy(MSG, ctx())
    assert decision.codes == ("window.none",)
    assert decision.reasons[0].rule == "all_of"
    assert decision.reasons[0].data == {
        "horizon": "35 days, 0:00:00",
        "why": "no agreement after 1 re-evaluations",
    }
    named = Policy(utc_window(60, 60), utc_window(180, 60), name="mine", max_iterations=1)  # type: ignore[arg-type]
    assert named(MSG, ctx()).reasons[0].rule == "mine"


def test_policy_passes_its_horizon_on() -> None:
    """A Policy's horizon bounds its search like all_of's, and its default name is policy."""
    policy = Policy(not_before(NOW + 2 * dt.timedelta(days=1)), horizon=dt.timedelta(days=1))  # type: ignore[arg-type]
    assert policy.name == "policy"
    decision = policy(MSG, ctx())
    assert decision.codes == ("window.none",)
    assert decision.reasons[0].rule == "policy"


def zoned(start: dt.datetime, end: dt.datetime, zone: str | None) -> object:
    """A rule that defers, with ``zone``, from ``start`` until ``end``; it allows otherwise."""

    @rule(name=f"zoned({zone})")
    def check(_m: Message, c: Context) -> Decision:
        if start <= c.now < end:
            return Decision(Verdict.DEFER, end, (Reason("test.zoned", "zoned", "wait"),), zone)
        return allow()

    return check


@pytest.mark.parametrize(
    ("first", "second", "zone"),
    [
        ((None, 1), ("America/Chicago", 2), "America/Chicago"),
        (("America/Denver", 1), (None, 2), "America/Denver"),
        (("America/Denver", 1), ("America/Chicago", 2), "America/Chicago"),
        ((None, 1), (None, 2), None),
    ],
    ids=["found-later", "earlier-kept", "setter-wins", "none"],
)
def test_deferral_keeps_the_zone_of_the_rule_that_set_it(
    first: tuple[str | None, int], second: tuple[str | None, int], zone: str | None
) -> None:
    """A DEFER found by re-evaluation is shown in the zone of the rule that set its instant:
    the first rule defers from now (15:00) to 16:00, the second from 16:00 to 18:00."""
    policy = all_of(
        zoned(NOW, NOW + first[1] * HOUR, first[0]),  # type: ignore[arg-type]
        zoned(NOW + HOUR, NOW + second[1] * HOUR + HOUR, second[0]),  # type: ignore[arg-type]
    )
    decision = policy(MSG, ctx())
    assert decision.until == NOW + 3 * HOUR
    assert decision.zone == zone


def test_same_instant_from_two_rules_takes_the_named_zone() -> None:
    """Two rules deferring to the same instant, the first without a zone: the second's zone."""
    policy = all_of(
        zoned(NOW, NOW + HOUR, None),  # type: ignore[arg-type]
        zoned(NOW, NOW + HOUR, "America/Chicago"),  # type: ignore[arg-type]
    )
    decision = policy(MSG, ctx())
    assert (decision.until, decision.zone) == (NOW + HOUR, "America/Chicago")


def test_first_round_setter_zone_wins_over_an_earlier_deferral() -> None:
    """In the first round the zone of the later deferral is shown, not the first rule's."""
    policy = all_of(
        zoned(NOW, NOW + HOUR, "America/Denver"),  # type: ignore[arg-type]
        zoned(NOW, NOW + 2 * HOUR, "America/Chicago"),  # type: ignore[arg-type]
    )
    decision = policy(MSG, ctx())
    assert (decision.until, decision.zone) == (NOW + 2 * HOUR, "America/Chicago")


def test_rule_deferring_to_past_is_an_error() -> None:
    """A rule that defers to now or earlier breaks the contract and raises RuleError."""

    @rule
    def broken(_m: Message, c: Context) -> Decision:
        return defer(c.now)

    with pytest.raises(RuleError, match="not after now"):
        all_of(broken)(MSG, ctx())
    with pytest.raises(RuleError, match="rule broken deferred"):
        any_of(broken)(MSG, ctx())


def test_rule_returning_non_decision_is_an_error() -> None:
    """A rule that returns something else raises RuleError naming it."""

    @rule
    def sloppy(_m: Message, _c: Context) -> Decision:
        return True  # type: ignore[return-value]

    with pytest.raises(RuleError, match="sloppy"):
        Policy(sloppy, name="p")(MSG, ctx())
    with pytest.raises(RuleError, match="rule sloppy returned True"):
        any_of(sloppy)(MSG, ctx())


def test_any_of() -> None:
    """any_of allows if any allows, else the earliest defer, else deny with every reason."""
    early = not_before(NOW + dt.timedelta(hours=1))
    late = not_before(NOW + dt.timedelta(hours=3))
    assert any_of(always_deny, always_allow)(MSG, ctx()).allowed  # type: ignore[arg-type]
    mild = any_of(late, always_deny, early)(MSG, ctx())  # type: ignore[arg-type]
    assert mild.until == NOW + dt.timedelta(hours=1)
    assert mild.codes == ("test.not_before", "test.deny", "test.not_before")
    assert any_of(always_deny, always_deny)(MSG, ctx()).codes == ("test.deny", "test.deny")
    with pytest.raises(ConfigurationError, match=r"^any_of needs at least one rule$"):
        any_of()


def test_when_and_unless() -> None:
    """when applies a rule only to matching messages; unless to the others."""
    transactional = Message("+12125550123", "news", "transactional")
    assert not when(is_marketing, always_deny)(MSG, ctx()).allowed
    assert when(is_marketing, always_deny)(transactional, ctx()).allowed
    assert unless(is_marketing, always_deny)(MSG, ctx()).allowed
    assert not unless(is_marketing, always_deny)(transactional, ctx()).allowed
    assert repr(unless(is_marketing, always_deny)) == (
        "unless(purpose_is('marketing'), always_deny)"
    )
    both = is_marketing & topic_is("news")
    assert both(MSG, ctx())
    assert not (~both)(MSG, ctx())
    assert (topic_is("alerts") | is_marketing)(MSG, ctx())


def test_flattening_and_repr() -> None:
    """Nested same-kind combinators flatten and the repr reads like the building code."""
    nested = all_of(always_allow, all_of(always_deny, all_of(always_allow)))
    assert repr(nested) == "all_of(always_allow, always_deny, always_allow)"
    either = any_of(always_allow, any_of(always_deny))
    assert repr(either) == "any_of(always_allow, always_deny)"
    policy = Policy(nested, when(is_marketing & topic_is("news"), always_deny), name="mine")
    assert repr(policy) == (
        "Policy(always_allow, always_deny, always_allow, "
        "when((purpose_is('marketing') & topic_is('news')), always_deny), name='mine')"
    )
    assert repr(Policy(name="empty")) == "Policy(name='empty')"


def test_a_function_without_a_name_is_named_by_its_repr() -> None:
    """@rule names a callable that has no __name__ (a functools.partial) by its repr."""
    import functools

    def deciding(_m: Message, _c: Context, verdict: Decision) -> Decision:
        return verdict

    partial = functools.partial(deciding, verdict=allow())
    assert repr(rule(partial)) == repr(partial)
    assert repr(rule(always_allow)) == "always_allow"
    assert repr(rule(name="custom")(partial)) == "custom"


def test_collect_leaves_out_plain_allows() -> None:
    """collect returns the decisions that say something, and whether any denies or defers."""
    from smspolicy._compose import collect

    assert collect([always_allow, always_allow], MSG, ctx()) == ([], False, False)
    wait = not_before(NOW + HOUR)
    decisions, denied, deferred = collect([always_allow, wait], MSG, ctx())  # type: ignore[list-item,misc]
    assert (len(decisions), denied, deferred) == (1, False, True)
    assert collect([wait], MSG, ctx(), stop_at_defer=True) is None  # type: ignore[list-item]


@rule
def news_waits_an_hour(m: Message, c: Context) -> Decision:
    """Defers news until an hour after NOW, reading both the message and the context."""
    if m.topic == "news" and c.now < NOW + HOUR:
        return defer(NOW + HOUR, Reason("test.news", "news_waits_an_hour", "news waits"))
    return allow()


def reads_both(m: Message, c: Context) -> bool:
    return m.topic == "news" and c.recipient.valid


def test_combinators_hand_rules_the_message_and_context() -> None:
    """all_of (when first deciding and when deciding again), any_of, when and unless give each
    rule and predicate the message and the context."""
    alerts = Message("+12125550123", "alerts", "marketing")
    for combined in (
        all_of(news_waits_an_hour, always_allow),
        Policy(news_waits_an_hour, always_allow, name="p"),
        any_of(news_waits_an_hour, always_deny),
        when(reads_both, news_waits_an_hour),
        unless(lambda m, c: not reads_both(m, c), news_waits_an_hour),
    ):
        decision = combined(MSG, ctx())
        assert decision.until == NOW + HOUR, combined
        assert combined(alerts, ctx()).verdict is not Verdict.DEFER, combined


def test_reasons_of_deferrals_found_later_are_kept() -> None:
    """A rule that allows now but defers at the first candidate instant adds its reason."""
    policy = all_of(not_before(NOW + HOUR / 2), zoned(NOW + HOUR / 2, NOW + HOUR, None))  # type: ignore[arg-type]
    later = policy(MSG, ctx())
    assert (later.until, later.codes) == (NOW + HOUR, ("test.not_before", "test.zoned"))


def test_bad_configuration_is_rejected() -> None:
    """Non-callables and bad horizons raise ConfigurationError at construction."""
    with pytest.raises(ConfigurationError, match=r"^a rule must be callable .*'not a rule'"):
        all_of("not a rule")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^horizon must be a positive timedelta"):
        all_of(always_allow, horizon=dt.timedelta(0))
    for bad in (0, "3"):
        with pytest.raises(ConfigurationError, match=r"^max_iterations must be a positive int"):
            all_of(always_allow, max_iterations=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^a Policy needs a non-empty name, got ''"):
        Policy(always_allow, name="")
    with pytest.raises(ConfigurationError):
        when(is_marketing, 3)  # type: ignore[arg-type]


@pytest.mark.caches
def test_context_at_keeps_everything_but_the_instant() -> None:
    """A context moved to another instant keeps every other field and starts a fresh memo (a
    memo holds work done for one instant, such as local times)."""
    import attrs

    from smspolicy import Profile

    context = Context(
        now=NOW,
        recipient=RECIPIENT,
        profile=Profile(timezone="America/New_York"),
        engagement=NOW - dt.timedelta(days=2),
        senders={(None, MSG.purpose): frozenset({"+18885550100"})},
    )
    context.memo("k", lambda: 1)
    later = context.at(NOW + dt.timedelta(hours=1))
    assert later.now == NOW + dt.timedelta(hours=1)
    for field in attrs.fields(Context):
        if field.init and field.name != "now":
            assert getattr(later, field.name) is getattr(context, field.name), field.name
    assert later.memo("k", lambda: 2) == 2
    assert context.memo("k", lambda: 3) == 1


def test_predicates_flatten_like_all_of() -> None:
    """``a & b & c`` is one conjunction of three (and ``|`` likewise), printed flat."""
    import smspolicy.typing
    from smspolicy.predicates import Predicate, channel_is, is_marketing, topic_is

    both = is_marketing & topic_is("a") & channel_is("sms")
    assert repr(both) == "(purpose_is('marketing') & topic_is('a') & channel_is('sms'))"
    assert len(both.test.parts) == 3  # type: ignore[attr-defined]
    either = (is_marketing | topic_is("a")) | (topic_is("b") | channel_is("sms"))
    assert len(either.test.parts) == 4  # type: ignore[attr-defined]
    assert repr(either).count("(") == 5  # the outer one and each factory's own
    mixed = (is_marketing & topic_is("a")) | topic_is("b")
    assert repr(mixed) == "((purpose_is('marketing') & topic_is('a')) | topic_is('b'))"
    assert smspolicy.typing.Condition is smspolicy.typing.Predicate
    assert smspolicy.typing.Condition is not Predicate
