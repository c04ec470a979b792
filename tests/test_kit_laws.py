"""check_policy_laws and check_rule_laws: each law catches a deliberately broken rule, and
every built-in rule and jurisdictions.standard() pass."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import pytz

from smspolicy import (
    ConsentKind,
    Context,
    Decision,
    Message,
    Program,
    Reason,
    allow,
    defer,
    deny,
    jurisdictions,
    rule,
    rules,
    when,
)
from smspolicy.errors import ConfigurationError
from smspolicy.predicates import is_marketing
from smspolicy.testing import (
    PolicyLawError,
    RuleLawError,
    check_policy_laws,
    check_rule_laws,
    declare_cap,
    declare_consent,
    declare_dedupe,
    declare_window,
)

NEW_YORK = pytz.timezone("America/New_York")
DAY = dt.timedelta(days=1)


def _reason(name: str) -> Reason:
    return Reason(f"mutant.{name}", name, f"the {name} mutant holds this back")


# --- mutants --------------------------------------------------------------------------------


@rule
def senders_clock(_m: Message, c: Context) -> Decision:
    """08:00-21:00 read on the sender's clock (New York), not the recipient's."""
    local = c.now.astimezone(NEW_YORK)
    if 8 <= local.hour < 21:
        return allow()
    day = local.date() + (DAY if local.hour >= 21 else dt.timedelta(0))
    opening = NEW_YORK.localize(dt.datetime.combine(day, dt.time(8)))
    return defer(opening.astimezone(dt.UTC), _reason("senders_clock"))


def _sends(c: Context, m: Message) -> list[dt.datetime]:
    return [r.at for r in c.history.sends if r.topic == m.topic]


@rule
def off_by_one_cap(m: Message, c: Context) -> Decision:
    """Meant as 2 per day (rolling) but counts with <= and so allows a third."""
    inside = sorted(t for t in _sends(c, m) if t > c.now - DAY)
    if len(inside) <= 2:
        return allow()
    return defer(inside[-3] + DAY, _reason("off_by_one_cap"))


@rule
def utc_calendar_cap(m: Message, c: Context) -> Decision:
    """One per calendar day, but the days are counted in UTC."""
    today = c.now.date()
    if any(t.date() == today for t in _sends(c, m)):
        midnight = dt.datetime.combine(today + DAY, dt.time(), tzinfo=dt.UTC)
        return defer(midnight, _reason("utc_calendar_cap"))
    return allow()


@rule
def topic_only_stop(m: Message, c: Context) -> Decision:
    """Consent per topic; a revocation counts only when it names the message's topic."""
    state = None
    for event in c.consent.events:
        if event.topic == m.topic:
            state = event.kind
    if state in (ConsentKind.CONFIRMED, ConsentKind.IMPLIED):
        return allow()
    return deny(_reason("topic_only_stop"))


@rule
def minute_late(_m: Message, c: Context) -> Decision:
    """A 09:00-17:00 UTC window whose deferrals land one minute after it opens."""
    if 9 <= c.now.hour < 17:
        return allow()
    opening = c.now.replace(hour=9, minute=1, second=0, microsecond=0)
    if c.now >= opening:
        opening += DAY
    return defer(opening, _reason("minute_late"))


class _RemembersInstant:
    """Caches its answer per instant object, forgetting the recipient: in a batch every
    message shares one instant, so the first recipient's answer is given to all."""

    def __init__(self) -> None:
        self.seen: tuple[object, Decision] | None = None

    def __call__(self, m: Message, c: Context) -> Decision:
        if self.seen is not None and self.seen[0] is c.now:
            return self.seen[1]
        decision = allow() if m.address.startswith("+1") else deny(_reason("batch"))
        self.seen = (c.now, decision)
        return decision

    def __repr__(self) -> str:
        return "remembers_instant"


@rule
def short_dedupe(m: Message, c: Context) -> Decision:
    """Meant to hold the same content back for a day, but looks back one hour only."""
    if any(
        r.content_key == m.content_key and r.at > c.now - dt.timedelta(hours=1)
        for r in c.history.sends
    ):
        return deny(_reason("short_dedupe"))
    return allow()


@rule
def night_block(_m: Message, c: Context) -> Decision:
    """Denies at night with a lasting reason code, so the DENY lifts in the morning."""
    if c.now.hour < 6:
        return deny(Reason("number.night", "night_block", "not at night"))
    return allow()


@rule
def endless_deferral(_m: Message, c: Context) -> Decision:
    """Always defers an hour ahead: its deferral never reaches an allow."""
    return defer(c.now + dt.timedelta(hours=1), _reason("endless_deferral"))


@pytest.mark.parametrize(
    ("policy", "declares", "law"),
    [
        (senders_clock, [declare_window("08:00", "21:00")], "never allowed outside the window"),
        (off_by_one_cap, [declare_cap(2, DAY)], "a cap of N never allows N"),
        (utc_calendar_cap, [declare_cap(1, "day", calendar=True)], "a cap of N never allows N"),
        (topic_only_stop, [declare_consent()], "never allow after STOP"),
        (minute_late, [], "deferral is the earliest"),
        (_RemembersInstant(), [], "batch"),
        (short_dedupe, [declare_dedupe(DAY)], "dedupe never allows the same content twice"),
        (night_block, [], "deny is stable"),
        (endless_deferral, [], "deferral reaches an allow"),
    ],
    ids=[
        "senders-clock",
        "off-by-one-cap",
        "utc-calendar-day",
        "topic-only-stop",
        "deferral-one-minute-late",
        "batch-single-disagreement",
        "dedupe-too-short",
        "lasting-deny-lifts",
        "deferral-never-allows",
    ],
)
def test_each_law_catches_its_mutant(policy: Any, declares: list[Any], law: str) -> None:
    """Every deliberately broken rule is reported, naming the law it breaks and the
    counterexample message, within the default example budget."""
    with pytest.raises(PolicyLawError, match=law) as info:
        check_policy_laws(policy, declares=declares)
    assert "Message(" in str(info.value)


@pytest.mark.parametrize(
    ("policy", "declares"),
    [
        (rules.sending_window("08:00", "21:00"), [declare_window("08:00", "21:00")]),
        (rules.frequency_cap(2, DAY), [declare_cap(2, DAY)]),
        (rules.frequency_cap(1, "day", calendar=True), [declare_cap(1, "day", calendar=True)]),
        (rules.consent(stop_scope="topic"), [declare_consent()]),
        (rules.dedupe(DAY), [declare_dedupe(DAY)]),
    ],
    ids=["window", "cap", "calendar-cap", "consent", "dedupe"],
)
def test_correct_rules_pass_the_laws_their_mutants_break(policy: Any, declares: Any) -> None:
    """The built-in rule that does right what a mutant does wrong passes the same laws, also
    when the promise is declared by hand."""
    report = check_policy_laws(policy, declares=declares, max_examples=40)
    assert any(name.startswith(("never", "a cap", "dedupe", "nothing")) for name in report.ran)


# --- every built-in rule and the standard policy ----------------------------------------------

PROGRAM = Program(
    "Acme deals",
    "Acme",
    topic="deals",
    senders=["+12025550143"],
    help_contact="x",
    frequency="2 msgs/week",
)

BUILT_IN = {
    "consent": rules.consent(),
    "consent-topic": rules.consent(stop_scope="topic"),
    "dedupe": rules.dedupe(DAY),
    "engagement": rules.engagement(
        unengaged_after=dt.timedelta(days=30), reduced=(1, 7 * DAY), remove_after=90 * DAY
    ),
    "frequency-cap": rules.frequency_cap(3, dt.timedelta(hours=6)),
    "calendar-cap": rules.frequency_cap(2, "week", calendar=True),
    "max-segments": rules.max_segments(2),
    "origination": rules.origination(),
    "program-frequency": rules.program_frequency([PROGRAM]),
    "quiet-hours": rules.quiet_hours("21:00", "08:00"),
    "sending-window-days": rules.sending_window("09:00", "17:00", days=[0, 1, 2, 3, 4]),
    "sending-window-deny": rules.sending_window("22:00", "06:00", on_outside="deny"),
    "required-content": rules.required_content(),
    "valid-number": rules.valid_number(),
    "marketing-window-and-cap": when(
        is_marketing, rules.sending_window("10:00", "20:00", holidays="US")
    ),
}


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_built_in_rule_obeys_the_laws(name: str) -> None:
    """Each built-in rule, with consent in front so that the family laws see allows, passes
    every law that applies to it."""
    check_policy_laws(
        rules.consent() if name.startswith("consent") else _with_consent(BUILT_IN[name]),
        programs=[PROGRAM],
        max_examples=25,
    )


def _with_consent(inner: Any) -> Any:
    from smspolicy import Policy

    return Policy(rules.consent(), inner, name="with_consent")


def test_standard_policy_obeys_the_laws() -> None:
    """jurisdictions.standard() passes every law that applies to it, and the report says
    which ran and which were skipped."""
    report = check_policy_laws(jurisdictions.standard(), max_examples=40)
    assert {"consent", "windows", "jurisdictions"} <= set(report.families)
    assert any(name.startswith("never allowed outside the window") for name in report.ran)
    assert any(name.startswith("nothing without consent") for name in report.ran)
    provisions = [n for n in report.ran if "jurisdiction provisions" in n]
    assert any(n.startswith("never allowed outside the window") for n in provisions)
    assert any(n.startswith("a cap of N") for n in provisions)
    assert any(n.startswith("nothing without consent") for n in provisions)


# --- the report -----------------------------------------------------------------------------


def test_consent_laws_skip_with_a_note_without_a_consent_rule() -> None:
    """A policy without a consent rule (the built-in window alone) passes, and the report
    says that the consent laws were skipped and why."""
    report = check_policy_laws(rules.sending_window("08:00", "21:00"), max_examples=30)
    note = report.skipped["nothing without consent; never allow after STOP"]
    assert "enforces no consent" in note
    assert "windows" in report.families
    assert any(name.startswith("never allowed outside the window") for name in report.ran)
    assert "skip nothing without consent" in str(report)


def test_report_lists_general_laws_and_guards() -> None:
    """The general laws always run; a guarded window says it was checked where its guard
    applies; a window inside any_of is skipped, with why."""
    from smspolicy import any_of

    policy = _with_consent(
        any_of(rules.sending_window("08:00", "09:00"), rules.sending_window("20:00", "21:00"))
    )
    report = check_policy_laws(policy, max_examples=10)
    for law in (
        "determinism",
        "batch order independence",
        "batch equals one at a time",
        "deny dominates",
        "deferral reaches an allow",
        "deferral is the earliest",
        "deny is stable",
    ):
        assert law in report.ran
    assert [n for n, why in report.skipped.items() if "any_of" in why]
    guarded = check_policy_laws(
        _with_consent(when(is_marketing, rules.sending_window("08:00", "21:00"))), max_examples=10
    )
    assert [o for o in guarded.outcomes if o.ran and "guards apply" in o.note]


@pytest.mark.parametrize(
    "call",
    [
        lambda: check_policy_laws("nope"),  # type: ignore[arg-type]
        lambda: check_policy_laws(allow, max_examples=0),  # type: ignore[arg-type]
        lambda: check_policy_laws(rules.consent(), declares=["window"]),  # type: ignore[list-item]
        lambda: declare_window("8am", "21:00"),
        lambda: declare_cap(0, DAY),
        lambda: declare_cap(1, "fortnight", calendar=True),
        lambda: declare_cap(1, "day"),
        lambda: declare_dedupe(dt.timedelta(0)),
        lambda: declare_window("08:00", "21:00", purposes=["spam"]),
        lambda: check_rule_laws(42),  # type: ignore[arg-type]
    ],
    ids=[
        "not-a-rule",
        "no-examples",
        "bad-declaration",
        "bad-time",
        "zero-cap",
        "bad-period",
        "calendar-word-without-calendar",
        "zero-dedupe",
        "bad-purpose",
        "rule-not-callable",
    ],
)
def test_bad_arguments_raise_configuration_errors(call: Any) -> None:
    """Bad arguments to the law checkers are refused at once with a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        call()


def test_declared_windows_follow_the_wall_clock() -> None:
    """A declared window is [start, end) on the wall clock, crossing midnight when start is
    after end, and a whole day when they are equal."""
    tz = pytz.timezone("Europe/Paris")

    def at(hour: int, minute: int = 0) -> dt.datetime:
        return tz.localize(dt.datetime(2025, 3, 4, hour, minute))

    day = declare_window("08:00", "21:00")
    assert day.contains(at(8))
    assert not day.contains(at(7, 59))
    assert day.contains(at(20, 59))
    assert not day.contains(at(21))
    night = declare_window("21:00", "08:00")
    assert night.contains(at(21))
    assert night.contains(at(7, 59))
    assert not night.contains(at(8))
    assert not night.contains(at(20, 59))
    assert declare_window("09:00", "09:00").contains(at(3))


# --- laws of one rule -----------------------------------------------------------------------


_CALLS: list[int] = []


@rule
def remembers_calls(_m: Message, _c: Context) -> Decision:
    """Answers from hidden state: every other call denies."""
    _CALLS.append(1)
    return allow() if len(_CALLS) % 2 else deny(_reason("remembers"))


@rule
def machine_clock(_m: Message, c: Context) -> Decision:
    """Reads the hour on the machine's own zone (astimezone() without a zone)."""
    return allow() if 8 <= c.now.astimezone().hour < 21 else deny(_reason("machine"))


@rule
def crashes(m: Message, _c: Context) -> Decision:
    """Raises KeyError on a topic it does not know."""
    return {"deals": allow()}[m.topic]


@rule
def naive_data(_m: Message, c: Context) -> Decision:
    """Puts a naive datetime in its reason's data."""
    naive = c.now.replace(tzinfo=None)
    return deny(Reason("mutant.naive", "naive_data", "naive", data={"at": naive}))


@rule
def defers_now(_m: Message, c: Context) -> Decision:
    """Defers to now, not after it."""
    return defer(c.now, _reason("now"))


@pytest.mark.parametrize(
    ("broken", "law"),
    [
        (remembers_calls, "determinism"),
        (machine_clock, "time zones come from the recipient"),
        (crashes, "raises only documented errors"),
        (naive_data, "no naive or local datetimes"),
        (defers_now, "returns a decision deferring forward"),
    ],
    ids=["hidden-state", "machine-zone", "undocumented-exception", "naive-datetime", "defer-now"],
)
def test_rule_laws_catch_broken_rules(broken: Any, law: str) -> None:
    """check_rule_laws reports each broken custom rule with the law it breaks."""
    with pytest.raises(RuleLawError, match=law):
        check_rule_laws(broken, max_examples=50)


@rule
def weekday_only(m: Message, c: Context) -> Decision:
    """A well-behaved custom rule: no marketing on weekends, in UTC."""
    if m.purpose.value == "marketing" and c.now.weekday() >= 5:
        return deny(_reason("weekend"))
    return allow()


@pytest.mark.parametrize("name", ["weekday_only", *sorted(BUILT_IN)])
def test_rule_laws_pass_good_rules(name: str) -> None:
    """A well-behaved custom rule and every built-in rule pass the rule laws."""
    target = weekday_only if name == "weekday_only" else BUILT_IN[name]
    report = check_rule_laws(target, max_examples=20)
    assert "purity" in report.ran


def test_rule_laws_accept_documented_exceptions() -> None:
    """An exception the caller lists in ``raises`` is not a broken law."""
    check_rule_laws(crashes, raises=(KeyError,), max_examples=20)


def test_jurisdiction_provisions_are_checked_in_their_jurisdiction() -> None:
    """A pack's provisions get the laws of their family, each example sent to a recipient
    the provision applies to: a pack whose dispatch forgets a state's window is caught, and
    the US pack passes."""
    import attrs

    from smspolicy import Policy
    from smspolicy.jurisdictions import pack
    from smspolicy.jurisdictions._model import Provisions

    @attrs.frozen(repr=False)
    class ForgetsStates(Provisions):
        def __call__(self, message: Message, context: Context) -> Decision:
            national = frozenset(j for j in context.recipient.jurisdictions if "-" not in j)
            return self.rule_for(national, message.purpose)(message, context)

    florida = [p for p in pack("us") if p.id in ("us.tcpa.window", "us.fl.window")]
    forgetful = ForgetsStates(tuple(florida), dt.timedelta(days=35))
    with pytest.raises(PolicyLawError, match=r"never allowed outside the window") as info:
        check_policy_laws(Policy(rules.consent(), forgetful, name="forgetful"))
    assert "us.fl.window" in str(info.value)
    report = check_policy_laws(
        Policy(rules.consent(), Provisions(tuple(florida), dt.timedelta(days=35)), name="fl"),
        max_examples=30,
    )
    assert any("jurisdiction provisions: us.tcpa.window, us.fl.window" in n for n in report.ran)
