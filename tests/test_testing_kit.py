"""The property-testing kit: strategies, assertions, check_policy_laws and the pytest plugin."""

from __future__ import annotations

import datetime as dt
import random

import phonenumbers
import pytest
from hypothesis import find, given, settings

from smspolicy import (
    ConsentKind,
    Context,
    Decision,
    Engine,
    InboundKind,
    Message,
    Reason,
    allow,
    defer,
    deny,
    jurisdictions,
    rule,
    rules,
)
from smspolicy.consent import Ledger, WrittenConsent
from smspolicy.errors import InvalidInputError
from smspolicy.keywords import classify
from smspolicy.strategies import (
    consent_events,
    consent_histories,
    inbound_texts,
    instants,
    messages,
    phone_numbers,
    policies,
)
from smspolicy.testing import (
    FrozenClock,
    PolicyLawError,
    assert_allowed,
    assert_deferred_until,
    assert_denied,
    check_policy_laws,
    declare_consent,
    make_engine,
)
from smspolicy.zones import zone


@given(phone_numbers())
def test_phone_numbers_are_valid(number: str) -> None:
    """Every generated number is a valid E.164 number."""
    parsed = phonenumbers.parse(number)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number


@given(phone_numbers(regions=["GB", "JP"], kinds=["mobile"]))
def test_phone_numbers_respect_regions_and_kinds(number: str) -> None:
    """Numbers come only from the asked regions, of the asked line kinds."""
    parsed = phonenumbers.parse(number)
    assert phonenumbers.region_code_for_number(parsed) in {"GB", "JP"}
    assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE


@given(phone_numbers(regions=["US"]))
def test_us_numbers_include_hard_cases(number: str) -> None:
    """US numbers are valid; the split-area-code prefixes are among the candidates."""
    assert phonenumbers.is_valid_number(phonenumbers.parse(number))


def test_hard_cases_are_reachable() -> None:
    """A split area code (850-434, Chicago) can be generated."""
    found = find(phone_numbers(regions=["US"]), lambda n: n.startswith("+1850434"))
    assert found.startswith("+1850434")


def test_strategies_shrink_toward_simple_values() -> None:
    """Minimal examples are the simplest values: the region's example number, the earliest
    instant, an empty history."""
    assert find(phone_numbers(regions=["US"]), lambda _n: True) == "+12015550000"
    low = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert find(instants(low, low + dt.timedelta(days=10)), lambda _t: True) == low
    assert find(consent_histories("+12015550000"), lambda _h: True) == []


@given(instants(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2025, 12, 31, tzinfo=dt.UTC)))
def test_instants_are_aware_and_bounded(instant: dt.datetime) -> None:
    """Instants are aware, in UTC and within their bounds."""
    assert instant.utcoffset() == dt.timedelta(0)
    assert (
        dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        <= instant
        <= dt.datetime(2025, 12, 31, tzinfo=dt.UTC)
    )


@given(messages())
def test_messages_are_valid(message: Message) -> None:
    """Generated messages pass their own validation and go to valid numbers."""
    assert phonenumbers.is_valid_number(phonenumbers.parse(message.address))
    assert message.topic in {"deals", "alerts"}


@given(consent_histories("+12015550000", min_size=1))
def test_consent_histories_are_ordered(history: list) -> None:  # type: ignore[type-arg]
    """Histories belong to one number and come in time order."""
    assert {e.number for e in history} == {"+12015550000"}
    assert [e.at for e in history] == sorted(e.at for e in history)


@given(consent_events(kinds=["revoked"]))
def test_consent_events_kinds(event: object) -> None:
    """consent_events draws only the asked kinds."""
    assert event.kind is ConsentKind.REVOKED  # type: ignore[attr-defined]


@given(inbound_texts(kinds=["opt_out"]))
def test_inbound_opt_outs_classify(text: str) -> None:
    """Every generated opt-out text is recognised as one."""
    assert classify(text).kind is InboundKind.OPT_OUT


@given(inbound_texts(kinds=["help"]))
def test_inbound_help_classify(text: str) -> None:
    """Every generated help text is recognised as one."""
    assert classify(text).kind is InboundKind.HELP


@given(policies(), messages(), instants())
def test_policies_decide(policy: object, message: Message, now: dt.datetime) -> None:
    """Random compositions of built-in rules return decisions."""
    engine = make_engine(policy, at=now)  # type: ignore[arg-type]
    assert isinstance(engine.evaluate(message), Decision)


@pytest.mark.parametrize(
    "call",
    [
        lambda: phone_numbers(regions=[]),
        lambda: phone_numbers(regions=["XX"]),
        lambda: phone_numbers(kinds=["pager"]),
        lambda: instants(dt.datetime(2025, 1, 1)),
        lambda: consent_histories("+1", min_size=3, max_size=1),
        lambda: inbound_texts(["x"]),
        lambda: policies(0),
    ],
    ids=[
        "no-regions",
        "bad-region",
        "bad-kind",
        "naive-bound",
        "bad-sizes",
        "bad-kind-text",
        "no-leaves",
    ],
)
def test_strategies_reject_bad_arguments(call: object) -> None:
    """Bad strategy arguments raise a clear error at once."""
    with pytest.raises(InvalidInputError):
        call()  # type: ignore[operator]


# --- laws -----------------------------------------------------------------------------------


def test_standard_policy_obeys_the_laws() -> None:
    """jurisdictions.standard() passes every law."""
    check_policy_laws(jurisdictions.standard(), max_examples=60)


@rule
def allows_after_stop(_m: Message, _c: Context) -> Decision:
    return allow()


@rule
def defers_to_the_past(_m: Message, c: Context) -> Decision:
    return defer(c.now - dt.timedelta(hours=1), Reason("x.past", "defers_to_the_past", "late"))


@rule
def coin_flip(_m: Message, _c: Context) -> Decision:
    return allow() if random.random() < 0.5 else deny(Reason("x.coin", "coin_flip", "tails"))


@pytest.mark.parametrize(
    ("broken", "law"),
    [
        (allows_after_stop, "nothing without consent"),
        (defers_to_the_past, "rules keep"),
        (coin_flip, "determinism"),
    ],
    ids=["allows-after-stop", "defers-to-past", "non-deterministic"],
)
def test_laws_catch_broken_rules(broken: object, law: str) -> None:
    """check_policy_laws reports each deliberately broken rule with the law it breaks (the
    consent laws once the rule is declared to enforce consent)."""
    with pytest.raises(PolicyLawError, match=law) as info:
        check_policy_laws(broken, declares=[declare_consent()], max_examples=40)  # type: ignore[arg-type]
    assert "Message(" in str(info.value)


@rule
def naive_hours(_m: Message, c: Context) -> Decision:
    """Quiet hours that read only the first candidate zone: the bug of docs/testing.md."""
    if not c.recipient.zones:
        return deny(Reason("naive.no_zone", "naive_hours", "no zone"))
    local = c.now.astimezone(zone(c.recipient.zones[0]))
    if 8 <= local.hour < 21:
        return allow()
    opening = local.replace(hour=8, minute=0, second=0, microsecond=0)
    if local.hour >= 21:
        opening += dt.timedelta(days=1)
    return defer(opening, Reason("naive.hours", "naive_hours", "quiet hours"))


def allowed_only_inside_window(policy: object, seen: list[Message]) -> None:
    """Run the worked example's property, noting each counterexample in ``seen`` (the last one
    is the minimal example Hypothesis reports)."""

    @settings(max_examples=100, database=None, deadline=None)
    @given(messages(phone_numbers(regions=["US"])), instants())
    def only_inside(message: Message, day: dt.datetime) -> None:
        engine = make_engine(policy, at=day)  # type: ignore[arg-type]
        zones = engine.recipient(message).zones
        start = day.replace(hour=0, minute=0, second=0, microsecond=0)
        for quarter in range(96):  # every quarter-hour of the day
            now = start + dt.timedelta(minutes=15 * quarter)
            engine.clock.set(now)  # type: ignore[attr-defined]
            if not engine.evaluate(message).allowed:
                continue
            for name in zones:
                local = now.astimezone(zone(name))
                if not 8 <= local.hour < 21:
                    seen.append(message)
                    raise AssertionError(f"allowed at {local} in {name}")

    only_inside()


def test_naive_quiet_hours_bug_is_found() -> None:
    """The worked example of docs/testing.md: generated multi-zone numbers expose a quiet-hours
    rule that reads only the first zone, while rules.sending_window passes."""
    seen: list[Message] = []
    with pytest.raises(AssertionError, match="allowed at"):
        allowed_only_inside_window(naive_hours, seen)
    assert len(make_engine(naive_hours).recipient(seen[-1]).zones) > 1
    correct: list[Message] = []
    allowed_only_inside_window(rules.sending_window("08:00", "21:00"), correct)
    assert correct == []


# --- assertions and the plugin --------------------------------------------------------------


def test_assertion_helpers() -> None:
    """The assertion helpers pass on the right verdict and explain the wrong one."""
    at = dt.datetime(2025, 1, 15, 15, tzinfo=dt.UTC)
    assert_allowed(allow())
    assert_deferred_until(defer(at), at)
    assert_denied(deny(Reason("a.b", "r", "m")), code="a.b")
    with pytest.raises(AssertionError, match="expected ALLOW, got deny"):
        assert_allowed(deny(Reason("a.b", "r", "m")))
    with pytest.raises(AssertionError, match="expected DEFER until"):
        assert_deferred_until(defer(at), at + dt.timedelta(minutes=1))
    with pytest.raises(AssertionError, match=r"expected DENY c\.d"):
        assert_denied(deny(Reason("a.b", "r", "m")), code="c.d")


def test_plugin_fixtures(
    sms_engine: Engine, frozen_clock: FrozenClock, consent_ledger: Ledger
) -> None:
    """The pytest plugin provides an engine on the frozen clock and its consent ledger."""
    assert sms_engine.clock is frozen_clock
    assert consent_ledger is sms_engine.consent
    signed = WrittenConsent("test", "Acme marketing texts", "+12125550123").evidence()
    consent_ledger.confirm(
        "+12125550123", topic="deals", purpose="marketing", source="test", evidence=signed
    )
    decision = sms_engine.evaluate(Message("+12125550123", "deals", "marketing"))
    assert_allowed(decision)
    frozen_clock.set(dt.datetime(2025, 1, 16, 3, tzinfo=dt.UTC))
    assert_deferred_until(
        sms_engine.evaluate(Message("+12125550123", "deals", "marketing")),
        dt.datetime(2025, 1, 16, 13, tzinfo=dt.UTC),
    )
