"""The laws of :func:`smspolicy.testing.check_policy_laws`: which families of rules a policy
holds, what each family promises, and the Hypothesis properties that check the promises.

Built-in rules are recognised by the types their public factories return; custom rules
declare what they promise with :func:`declare_window`, :func:`declare_cap`,
:func:`declare_dedupe` and :func:`declare_consent`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._compose import all_of, any_of, unless, when
from ._context import Context
from ._engine import Engine
from ._recipients import Profile
from ._time import to_local, zone
from ._values import Decision, Message, Purpose, Reason, Verdict, deny
from .consent import WrittenConsent
from .errors import ConfigurationError, InvalidInputError, RuleError, SmsPolicyError
from .jurisdictions import Provision
from .keywords import InboundKind
from .programs import Program
from .store import MemoryStore
from .typing import Predicate, Rule

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ._clock import FrozenClock

__all__ = [
    "CapPromise",
    "ConsentPromise",
    "DedupePromise",
    "LawOutcome",
    "LawReport",
    "PolicyLawError",
    "RuleLawError",
    "WindowPromise",
    "check_policy_laws",
    "check_rule_laws",
    "declare_cap",
    "declare_consent",
    "declare_dedupe",
    "declare_window",
]


class PolicyLawError(AssertionError):
    """A policy broke one of the laws; the message names the law and the counterexample."""


class RuleLawError(PolicyLawError):
    """A single rule broke one of the rule laws of :func:`check_rule_laws`."""


# --- what a policy promises -----------------------------------------------------------------


def _wall(value: dt.time | str, name: str) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigurationError(f"{name} must be a datetime.time or 'HH:MM', got {value!r}")


def _purposes(value: Iterable[Purpose | str] | None) -> frozenset[Purpose] | None:
    if value is None:
        return None
    try:
        return frozenset(Purpose(p) for p in value)
    except ValueError as error:
        raise ConfigurationError(f"purposes: {error}") from None


@attrs.frozen
class WindowPromise:
    """Messages are allowed only inside ``start``-``end`` (start inclusive, end exclusive) on
    the recipient's wall clock, in every candidate zone (``principal``: in the principal zones
    only)."""

    start: dt.time
    end: dt.time
    purposes: frozenset[Purpose] | None = None
    principal: bool = False
    inside: Callable[[dt.datetime], bool] | None = attrs.field(default=None, eq=False)

    def contains(self, local: dt.datetime) -> bool:
        """True when the aware local datetime's wall-clock reading is inside the window."""
        if self.inside is not None:
            return self.inside(local)
        wall = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= wall < self.end
        if self.start == self.end:
            return True
        return wall >= self.start or wall < self.end


@attrs.frozen
class CapPromise:
    """At most ``limit`` messages of one topic per ``per``: a rolling timedelta, or with
    ``calendar`` a local "day", "week" or "month" in every candidate zone."""

    limit: int
    per: dt.timedelta | str
    calendar: bool = False
    purposes: frozenset[Purpose] | None = None


@attrs.frozen
class DedupePromise:
    """The same content never goes to the same recipient twice within ``window``."""

    window: dt.timedelta
    purposes: frozenset[Purpose] | None = None


@attrs.frozen
class ConsentPromise:
    """Nothing is allowed without consent, and nothing after a plain STOP."""

    purposes: frozenset[Purpose] | None = None


Promise = WindowPromise | CapPromise | DedupePromise | ConsentPromise


def declare_window(
    start: dt.time | str, end: dt.time | str, *, purposes: Iterable[Purpose | str] | None = None
) -> WindowPromise:
    """Declare that a custom rule keeps messages (of ``purposes``, default all) inside
    ``start``-``end`` in the recipient's local time."""
    return WindowPromise(_wall(start, "start"), _wall(end, "end"), _purposes(purposes))


def declare_cap(
    limit: int,
    per: dt.timedelta | str,
    *,
    calendar: bool = False,
    purposes: Iterable[Purpose | str] | None = None,
) -> CapPromise:
    """Declare that a custom rule allows at most ``limit`` messages of a topic per ``per``
    (rolling; with ``calendar``, per local "day", "week" or "month")."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfigurationError(f"limit must be a positive int, got {limit!r}")
    if calendar and per not in _PERIOD_DAYS:
        raise ConfigurationError(f"a calendar cap's per is 'day', 'week' or 'month': {per!r}")
    if not calendar and (not isinstance(per, dt.timedelta) or per <= dt.timedelta(0)):
        raise ConfigurationError(f"per must be a positive timedelta, got {per!r}")
    return CapPromise(limit, per, calendar, _purposes(purposes))


def declare_dedupe(
    window: dt.timedelta, *, purposes: Iterable[Purpose | str] | None = None
) -> DedupePromise:
    """Declare that a custom rule never allows the same content twice within ``window``."""
    if not isinstance(window, dt.timedelta) or window <= dt.timedelta(0):
        raise ConfigurationError(f"window must be a positive timedelta, got {window!r}")
    return DedupePromise(window, _purposes(purposes))


def declare_consent(*, purposes: Iterable[Purpose | str] | None = None) -> ConsentPromise:
    """Declare that a custom rule enforces consent: nothing without it, nothing after STOP."""
    return ConsentPromise(_purposes(purposes))


_PERIOD_DAYS = {"day": 1, "week": 7, "month": 31}


# --- finding the families in a policy -------------------------------------------------------


@attrs.frozen
class _Applies:
    """A probe: DENY means the guards around it let the message through."""

    def __call__(self, message: Message, context: Context) -> Decision:
        return deny(Reason("laws.applies", "laws", "the guards apply"))

    def __repr__(self) -> str:
        return "applies"


def _never(message: Message, context: Context) -> bool:
    return False


_PROBE = _Applies()
_ALL_OF: type[Any] = type(all_of(_PROBE))
_ANY_OF: type[Any] = type(any_of(_PROBE))
_WHEN: type[Any] = type(when(_never, _PROBE))


def _builtin_types() -> dict[type[Any], str]:
    from . import rules

    one = dt.timedelta(days=1)
    return {
        type(rules.sending_window("08:00", "21:00")): "windows",
        type(rules.frequency_cap(1, one)): "caps",
        type(rules.dedupe(one)): "dedupe",
        type(rules.consent()): "consent",
        type(rules.engagement(unengaged_after=one, reduced=(1, one), remove_after=2 * one)): (
            "engagement"
        ),
        type(rules.valid_number()): "numbers",
        type(rules.required_content()): "content",
        type(rules.max_segments(1)): "content",
        type(rules.origination()): "senders",
        type(rules.program_frequency(())): "caps",
    }


@attrs.frozen
class Found:
    """One family member found in a policy, with the ``when``/``unless`` guards around it."""

    family: str
    rule: str
    promise: Promise | object | None
    guards: tuple[tuple[Predicate, bool], ...] = ()
    alternative: bool = False
    provision: Provision | None = None


def _promise(family: str, rule: Any) -> Promise | object | None:
    promise: Promise | object | None
    if family == "windows":
        return WindowPromise(
            dt.time(0),
            dt.time(0),
            principal=bool(rule.principal),
            inside=rule.window.contains,
        )
    if family == "caps":
        if not hasattr(rule, "limit"):
            return None  # the programs' own caps: each program's topic, limit and period
        # Any scope: the laws send one topic, brand and channel, which every scope counts.
        return CapPromise(rule.limit, rule.per, rule.calendar)
    if family == "dedupe":
        return DedupePromise(rule.window)
    if family == "consent":
        return ConsentPromise()
    if family == "engagement":
        promise = rule
        return promise
    return None


def _pack(rule: object) -> bool:
    """True for the rule of jurisdiction packs: it applies its provisions."""
    provisions = getattr(rule, "provisions", None)
    return isinstance(provisions, tuple) and all(isinstance(p, Provision) for p in provisions)


def families(policy: Rule) -> list[Found]:
    """Every rule of a known family in ``policy``, walking all_of/Policy, any_of and
    when/unless (whose guards it keeps)."""
    known = _builtin_types()
    found: list[Found] = []

    def walk(
        rule: Any,
        guards: tuple[tuple[Predicate, bool], ...],
        alternative: bool,
        source: Provision | None,
    ) -> None:
        if isinstance(rule, _ALL_OF):
            for inner in rule.rules:
                walk(inner, guards, alternative, source)
        elif isinstance(rule, _ANY_OF):
            for inner in rule.rules:
                walk(inner, guards, True, source)
        elif isinstance(rule, _WHEN):
            walk(rule.rule, (*guards, (rule.predicate, bool(rule.negate))), alternative, source)
        elif type(rule) in known:
            family = known[type(rule)]
            promise = _promise(family, rule)
            found.append(Found(family, repr(rule), promise, guards, alternative, source))
        elif _pack(rule):
            found.append(Found("jurisdictions", repr(rule)[:80], None, guards, alternative))
            for item in rule.provisions:
                walk(item.as_rule(), guards, alternative, item)
        else:
            found.append(Found("custom", repr(rule)[:80], None, guards, alternative, source))

    walk(policy, (), False, None)
    return found


# --- the report -----------------------------------------------------------------------------


@attrs.frozen
class LawOutcome:
    """One law: whether it ran (and on how many examples) or why it was skipped."""

    law: str
    ran: bool
    note: str = ""


@attrs.frozen
class LawReport:
    """Which families :func:`check_policy_laws` found and which laws ran or were skipped."""

    policy: str
    families: tuple[str, ...]
    outcomes: tuple[LawOutcome, ...]

    @property
    def ran(self) -> tuple[str, ...]:
        """The names of the laws that ran (and held)."""
        return tuple(o.law for o in self.outcomes if o.ran)

    @property
    def skipped(self) -> dict[str, str]:
        """The laws that did not run, each with why."""
        return {o.law: o.note for o in self.outcomes if not o.ran}

    def __str__(self) -> str:
        lines = [f"laws of {self.policy}", f"  families: {', '.join(self.families) or 'none'}"]
        lines += [
            f"  {'ran ' if o.ran else 'skip'} {o.law}{': ' + o.note if o.note else ''}"
            for o in self.outcomes
        ]
        return "\n".join(lines)


# --- running one law ------------------------------------------------------------------------


def _failure(law: str, detail: str, example: object, now: dt.datetime) -> PolicyLawError:
    return PolicyLawError(f"law {law!r} broken at {now.isoformat()} for {example!r}: {detail}")


def _settings(max_examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    from hypothesis import HealthCheck, Phase, settings

    chosen: Callable[[Callable[..., None]], Callable[..., None]] = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        # No explain phase: it replays the failure many times for comments nobody reads here.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    return chosen


def _run(law: str, test: Callable[[], None]) -> None:
    """Run one Hypothesis property, turning its failures into :class:`PolicyLawError`."""
    from hypothesis.errors import Flaky

    try:
        test()
    except PolicyLawError:
        raise
    except BaseExceptionGroup as group:
        broken = [e for e in group.exceptions if isinstance(e, PolicyLawError)]
        if not broken:
            raise
        raise PolicyLawError(
            "law 'determinism' broken: the same example failed differently when replayed: "
            + "; ".join(str(e) for e in broken)
        ) from group
    except Flaky as error:
        raise PolicyLawError(
            f"law 'determinism' broken while checking {law!r}: the policy gave different "
            f"answers to the same question ({error})"
        ) from error


@attrs.define
class _Rig:
    """One example's engine, with engines that tell whether a family's guards apply."""

    policy: Rule
    programs: Sequence[Program]
    at: dt.datetime
    profile: Profile | None = None
    engine: Engine = attrs.field(init=False)
    _guards: dict[int, Engine] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        from ._clock import FrozenClock

        clock = FrozenClock(self.at)
        self.engine = Engine(
            self.policy, MemoryStore(), clock, programs=self.programs, profiles=self._profile
        )

    def _profile(self, address: str) -> Profile | None:
        """Every recipient of the example has its profile (None: nothing known)."""
        return self.profile

    @property
    def clock(self) -> FrozenClock:
        return self.engine.clock  # type: ignore[return-value]

    def at_instant(self, instant: dt.datetime) -> None:
        # A fresh object each time: a rule must not tell calls apart by the instant's identity.
        self.clock.set(instant + dt.timedelta(0))

    def applies(
        self, found: Found, promise_purposes: frozenset[Purpose] | None, m: Message
    ) -> bool:
        if promise_purposes is not None and m.purpose not in promise_purposes:
            return False
        if not found.guards:
            return True
        key = id(found)
        if key not in self._guards:
            probe: Rule = _PROBE
            for predicate, negate in reversed(found.guards):
                probe = unless(predicate, probe) if negate else when(predicate, probe)
            self._guards[key] = Engine(
                probe, self.engine.store, self.engine.clock, profiles=self._profile
            )
        return self._guards[key].evaluate(m).verdict is Verdict.DENY

    def consent(self, message: Message) -> None:
        try:
            self.engine.consent.confirm(
                message.address,
                topic=message.topic,
                purpose=message.purpose,
                source="laws",
                evidence=_signed(self.engine, message.address),
            )
        except InvalidInputError:
            return

    def zones(self, message: Message, principal: bool) -> tuple[str, ...]:
        try:
            recipient = self.engine.recipient(message)
        except SmsPolicyError:
            return ()
        if principal and recipient.principal_zones is not None:
            return recipient.principal_zones
        return recipient.zones


def _evaluate(engine: Engine, message: Message, law: str, now: dt.datetime) -> Decision:
    try:
        return engine.evaluate(message)
    except RuleError as error:
        raise _failure("rules keep their contract", str(error), message, now) from None


# --- the laws -------------------------------------------------------------------------------

_STABLE = ("number.", "address.", "content.", "origination.", "message.stale")
_LATER = (dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(days=30))


def _stable_denial(decision: Decision) -> bool:
    """A DENY every reason of which stays true as time passes with unchanged records."""
    return decision.verdict is Verdict.DENY and all(
        code.startswith(_STABLE) or "consent" in code or code == "engagement.unengaged"
        for code in decision.codes
    )


def _law_decisions(
    policy: Rule, programs: Sequence[Program], examples: int, messages: Any, spans: Any
) -> None:
    """The laws every policy obeys, on batches of messages with random records."""
    from hypothesis import given
    from hypothesis import strategies as st

    from . import strategies

    deny_all = _DenyAll()

    @_settings(examples)
    @given(
        st.lists(messages, min_size=1, max_size=4),
        spans,
        st.lists(st.sampled_from(["confirm", "imply", "request", "stop"]), max_size=3),
        st.lists(st.integers(1, 60 * 24 * 3), max_size=3),
        strategies.profiles(),
        st.integers(1, 60 * 24 * 40),
    )
    def decisions_law(
        batch: list[Message],
        now: dt.datetime,
        history: list[str],
        sent: list[int],
        profile: Profile | None,
        later: int,
    ) -> None:
        rig = _Rig(policy, programs, now - dt.timedelta(days=4), profile)
        for message in batch:
            for step in history:
                _apply(rig.engine, message, step)
        for minutes in sorted(sent, reverse=True):
            rig.at_instant(now - dt.timedelta(minutes=minutes))
            rig.engine.record_sent(batch[0])
        rig.at_instant(now)
        engine = rig.engine
        try:
            decisions = list(engine.evaluate_many(batch))
            for _ in range(_REPEATS):  # several asks, so a coin-flipping rule fails every replay
                again = list(engine.evaluate_many(batch))
                if decisions != again:
                    raise _failure("determinism", f"{decisions} then {again}", batch, now)
            backwards = list(engine.evaluate_many(batch[::-1]))[::-1]
            if decisions != backwards:
                raise _failure(
                    "batch order independence", f"{decisions} vs {backwards}", batch, now
                )
            singles = []
            for message in batch:
                rig.at_instant(now)
                singles.append(engine.evaluate(message))
        except RuleError as error:
            raise _failure("rules keep their contract", str(error), batch, now) from None
        if singles != decisions:
            raise _failure(
                "batch equals one at a time", f"batch {decisions} vs single {singles}", batch, now
            )
        for message, decision in zip(batch, decisions, strict=True):
            steps = (*_LATER, dt.timedelta(minutes=later))
            _check_one(rig, policy, deny_all, message, decision, now, steps)

    _run("decisions", decisions_law)


def _check_one(
    rig: _Rig,
    policy: Rule,
    deny_all: Rule,
    message: Message,
    decision: Decision,
    now: dt.datetime,
    steps: Sequence[dt.timedelta],
) -> None:
    engine = rig.engine
    if decision.until is not None:
        until = decision.until
        if until.utcoffset() != dt.timedelta(0) or until <= now:
            raise _failure("defer goes forward", f"until {until}", message, now)
        rig.at_instant(until)
        later = _evaluate(engine, message, "deferral reaches an allow", now)
        if not later.allowed:
            raise _failure(
                "deferral reaches an allow", f"at {until.isoformat()} got {later}", message, now
            )
        for before in (dt.timedelta(seconds=1), dt.timedelta(minutes=1), (until - now) / 2):
            earlier = until - before
            if earlier <= now:
                continue
            rig.at_instant(earlier)
            if _evaluate(engine, message, "deferral is the earliest", now).allowed:
                raise _failure(
                    "deferral is the earliest",
                    f"deferred until {until.isoformat()} but {earlier.isoformat()} is allowed",
                    message,
                    now,
                )
    if _stable_denial(decision):
        for step in steps:
            rig.at_instant(now + step)
            later = _evaluate(engine, message, "deny is stable", now)
            if later.verdict is not Verdict.DENY:
                raise _failure(
                    "deny is stable",
                    f"denied ({', '.join(decision.codes)}) but {step} later got {later}",
                    message,
                    now,
                )
    rig.at_instant(now)
    combined = Engine(all_of(policy, deny_all), engine.store, engine.clock).evaluate(message)
    if combined.verdict is not Verdict.DENY:
        raise _failure("deny dominates", f"with a denying rule got {combined}", message, now)


def _signed(engine: Engine, address: str) -> dict[str, object]:
    """Evidence of a signed agreement for ``address``, as US marketing requires
    (47 CFR 64.1200(f)(9)): the laws' confirmations are written consent."""
    try:
        number = engine.address_of(address)
    except InvalidInputError:  # an email address or an invalid number: kept as given
        number = address
    return WrittenConsent("laws", "laws", number).evidence()


def _apply(engine: Engine, message: Message, step: str) -> None:
    ledger = engine.consent
    address = message.address
    try:
        if step == "confirm":
            ledger.confirm(
                address,
                topic=message.topic,
                purpose=message.purpose,
                source="laws",
                evidence=_signed(engine, address),
            )
        elif step == "imply":
            ledger.imply(
                address,
                basis="purchase",
                purpose=message.purpose,
                topic=message.topic,
                source="laws",
            )
        elif step == "request":
            ledger.opt_in(address, topic=message.topic, purpose=message.purpose, source="laws")
        else:
            ledger.revoke(address, source="laws")
    except InvalidInputError:
        return


_REPEATS = 8


@attrs.frozen
class _DenyAll:
    def __call__(self, message: Message, context: Context) -> Decision:
        return deny(Reason("laws.deny", "deny_all", "the law check's denying rule"))

    def __repr__(self) -> str:
        return "deny_all"


Case = tuple["Found", Message, Profile | None]


def _cases(items: Sequence[Found], messages: Any) -> SearchStrategy[Case]:
    """(family member, message, profile) triples: any message for a rule of the policy's own,
    and for a jurisdiction's provision a number of that country with a profile placing the
    recipient in the jurisdiction, so that the provision applies."""
    from hypothesis import strategies as st

    from . import strategies

    plain = [f for f in items if f.provision is None]
    targeted = [f for f in items if f.provision is not None]
    parts: list[SearchStrategy[Case]] = []
    if plain:
        parts.append(st.tuples(st.sampled_from(plain), messages, strategies.profiles()))
    if targeted:
        parts.append(st.sampled_from(targeted).flatmap(_targeted))
    return st.one_of(parts)


def _targeted(found: Found) -> SearchStrategy[Case]:
    import phonenumbers
    from hypothesis import strategies as st

    from . import strategies

    provision = found.provision
    assert provision is not None
    codes = sorted(c for c in provision.jurisdictions if c[:2] in phonenumbers.SUPPORTED_REGIONS)
    purposes = sorted(provision.purposes, key=lambda p: p.value)

    def at(code: str) -> SearchStrategy[Case]:
        profile = Profile(country=code[:2], state=code if "-" in code else None)
        numbers = strategies.phone_numbers(regions=[code[:2]])
        chosen = strategies.messages(numbers, purposes=st.sampled_from(purposes))
        return st.tuples(st.just(found), chosen, st.just(profile))

    return st.sampled_from(codes).flatmap(at)


def _law_window(
    policy: Rule, programs: Sequence[Program], examples: int, cases: Any, spans: Any
) -> None:
    """Allowed only inside the window, on the recipient's wall clock, in every zone."""
    from hypothesis import given
    from hypothesis import strategies as st

    @_settings(examples)
    @given(cases, spans, st.integers(0, 59))
    def window_law(case: Case, day: dt.datetime, minute: int) -> None:
        found, message, profile = case
        promise = found.promise
        assert isinstance(promise, WindowPromise)
        rig = _Rig(policy, programs, day - dt.timedelta(days=1), profile)
        rig.consent(message)
        zones = rig.zones(message, promise.principal)
        if not zones:
            return
        start = day.replace(minute=minute, second=0, microsecond=0)
        for hour in range(24):
            now = start + dt.timedelta(hours=hour)
            rig.at_instant(now)
            if not _evaluate(rig.engine, message, "window", now).allowed:
                continue
            if not rig.applies(found, promise.purposes, message):
                continue
            for name in zones:
                local = to_local(now, zone(name))
                if not promise.contains(local):
                    raise _failure(
                        "never allowed outside the window",
                        f"allowed at {local:%Y-%m-%d %H:%M} {local.tzname()} in {name}, "
                        f"outside {found.rule}",
                        message,
                        now,
                    )

    _run("window", window_law)


def _period(local: dt.datetime, per: str) -> tuple[int, ...]:
    if per == "day":
        return (local.year, local.month, local.day)
    if per == "week":
        year, week, _ = local.isocalendar()
        return (year, week)
    return (local.year, local.month)


def _follow(
    rig: _Rig, message: Message, start: dt.datetime, gaps: list[int], vary: bool
) -> list[dt.datetime]:
    """Send as a well-behaved sender would: try after each gap, wait out a deferral, record
    each allowed send; the instants sent at."""
    sent: list[dt.datetime] = []
    now = start
    for index, gap in enumerate(gaps):
        now += dt.timedelta(minutes=gap)
        attempt = (
            attrs.evolve(message, body=f"{message.body} #{index}", content_key=f"law-{index}")
            if vary
            else message
        )
        rig.at_instant(now)
        decision = _evaluate(rig.engine, attempt, "caps", now)
        if decision.verdict is Verdict.DEFER and decision.until is not None:
            now = decision.until
            rig.at_instant(now)
            decision = _evaluate(rig.engine, attempt, "caps", now)
        if decision.allowed:
            rig.engine.record_sent(attempt)
            sent.append(now)
    return sent


def _law_cap(
    policy: Rule, programs: Sequence[Program], examples: int, cases: Any, spans: Any
) -> None:
    """A cap of N never allows N + 1 in any window (rolling) or local period (calendar)."""
    from hypothesis import assume, given
    from hypothesis import strategies as st

    @_settings(examples)
    @given(cases, spans, st.data())
    def cap_law(case: Case, start: dt.datetime, data: st.DataObject) -> None:
        found, message, profile = case
        promise = found.promise
        assert isinstance(promise, CapPromise)
        rolling = promise.per if isinstance(promise.per, dt.timedelta) else None
        length = rolling or dt.timedelta(days=_PERIOD_DAYS[str(promise.per)])
        span = int(length.total_seconds() // 60)
        gaps = data.draw(
            st.lists(st.integers(0, span), min_size=promise.limit + 1, max_size=promise.limit + 3)
        )
        rig = _Rig(policy, programs, start - dt.timedelta(days=1), profile)
        rig.consent(message)
        assume(rig.applies(found, promise.purposes, message))
        sent = _follow(rig, message, start, gaps, vary=True)
        if rolling is not None:
            for first, last in zip(sent, sent[promise.limit :], strict=False):
                if last - first < rolling:
                    raise _failure(
                        "a cap of N never allows N + 1",
                        f"{promise.limit + 1} sends within {rolling} ({first.isoformat()} to "
                        f"{last.isoformat()}) under {found.rule}",
                        message,
                        last,
                    )
            return
        for name in rig.zones(message, principal=False):
            counts: dict[tuple[int, ...], list[dt.datetime]] = {}
            for instant in sent:
                key = _period(to_local(instant, zone(name)), str(promise.per))
                counts.setdefault(key, []).append(instant)
            for instants in counts.values():
                if len(instants) > promise.limit:
                    shown = ", ".join(
                        f"{to_local(i, zone(name)):%Y-%m-%d %H:%M %Z}" for i in instants
                    )
                    raise _failure(
                        "a cap of N never allows N + 1",
                        f"{len(instants)} sends in one local {promise.per} in {name} ({shown}) "
                        f"under {found.rule}",
                        message,
                        instants[-1],
                    )

    _run("cap", cap_law)


def _law_dedupe(
    policy: Rule, programs: Sequence[Program], examples: int, cases: Any, spans: Any
) -> None:
    """The same content is never allowed twice within the dedupe window."""
    from hypothesis import assume, given
    from hypothesis import strategies as st

    @_settings(examples)
    @given(cases, spans, st.data())
    def dedupe_law(case: Case, start: dt.datetime, data: st.DataObject) -> None:
        found, message, profile = case
        promise = found.promise
        assert isinstance(promise, DedupePromise)
        span = int(promise.window.total_seconds() // 60) + 1
        gaps = data.draw(st.lists(st.integers(0, span), min_size=2, max_size=4))
        rig = _Rig(policy, programs, start - dt.timedelta(days=1), profile)
        rig.consent(message)
        assume(rig.applies(found, promise.purposes, message))
        sent = _follow(rig, message, start, gaps, vary=False)
        for first, second in itertools.pairwise(sent):
            if second - first < promise.window:
                raise _failure(
                    "dedupe never allows the same content twice",
                    f"sent at {first.isoformat()} and again at {second.isoformat()} under "
                    f"{found.rule}",
                    message,
                    second,
                )

    _run("dedupe", dedupe_law)


def _law_consent(
    policy: Rule, programs: Sequence[Program], examples: int, cases: Any, spans: Any
) -> None:
    """Nothing without consent (a pending opt-in is none); nothing after a plain STOP, in
    any topic, however the STOP is typed."""
    from hypothesis import given
    from hypothesis import strategies as st

    from . import strategies

    @_settings(examples)
    @given(
        cases,
        spans,
        strategies.inbound_texts(["opt_out"], disguised=True),
        st.booleans(),
        st.integers(1, 60 * 24 * 60),
        st.lists(st.sampled_from(["deals", "alerts", "news"]), max_size=2),
    )
    def consent_law(
        case: Case, now: dt.datetime, stop: str, pending: bool, after: int, topics: list[str]
    ) -> None:
        found, first, profile = case
        promise = found.promise
        assert isinstance(promise, ConsentPromise)
        rig = _Rig(policy, programs, now - dt.timedelta(days=1), profile)
        if pending:
            _apply(rig.engine, first, "request")
        rig.at_instant(now)
        if (
            rig.applies(found, promise.purposes, first)
            and _evaluate(rig.engine, first, "consent", now).allowed
        ):
            raise _failure(
                "nothing without consent",
                "allowed with " + ("only a pending opt-in" if pending else "no consent at all"),
                first,
                now,
            )
        if not first.channel.is_phone:
            return
        same = [first, *(attrs.evolve(first, topic=t, content_key=t) for t in topics)]
        rig.at_instant(now - dt.timedelta(hours=1))
        for message in same:
            rig.consent(message)
        result = rig.engine.inbound(stop, first.address)
        if result.kind is not InboundKind.OPT_OUT:
            return
        later = now + dt.timedelta(minutes=after)
        for message in same:
            rig.at_instant(later)
            if not rig.applies(found, promise.purposes, message):
                continue
            decision = _evaluate(rig.engine, message, "consent", later)
            if decision.allowed:
                raise _failure(
                    "never allow after STOP",
                    f"allowed {message.topic!r} {after} minutes after the reply {stop!r}",
                    message,
                    later,
                )

    _run("consent", consent_law)


def _law_engagement(
    policy: Rule, programs: Sequence[Program], examples: int, cases: Any, spans: Any
) -> None:
    """After ``remove_after`` of silence since the last grant or engagement, nothing goes."""
    from hypothesis import given
    from hypothesis import strategies as st

    @_settings(examples)
    @given(cases, spans, st.integers(0, 60 * 24 * 30))
    def engagement_law(case: Case, start: dt.datetime, extra: int) -> None:
        found, message, profile = case
        rule: Any = found.promise
        rig = _Rig(policy, programs, start, profile)
        rig.consent(message)
        later = start + rule.remove_after + dt.timedelta(minutes=extra)
        rig.at_instant(later)
        if not rig.applies(found, None, message):
            return
        if _evaluate(rig.engine, message, "engagement", later).allowed:
            raise _failure(
                "silence ends sending",
                f"allowed {later - start} after consent with no engagement, under {found.rule}",
                message,
                later,
            )

    _run("engagement", engagement_law)


# --- the entry points -----------------------------------------------------------------------


def _purposes_note(promise: Any) -> str:
    purposes = getattr(promise, "purposes", None)
    if purposes:
        return " (" + ", ".join(sorted(p.value for p in purposes)) + ")"
    return ""


def check_policy_laws(
    policy: Rule,
    *,
    declares: Sequence[Promise] = (),
    programs: Sequence[Program] = (),
    max_examples: int = 100,
    numbers: SearchStrategy[str] | None = None,
    messages: SearchStrategy[Message] | None = None,
    instants: SearchStrategy[dt.datetime] | None = None,
) -> LawReport:
    """Property-test ``policy`` against the laws that apply to it and return a
    :class:`LawReport` of the laws that ran and those skipped, with why; a broken law raises
    :class:`PolicyLawError` with a minimal counterexample (found and shrunk by Hypothesis).

    The laws every policy obeys: determinism; the same decisions in a batch, one at a time,
    and in any order; deny dominates; a DEFER's ``until`` is allowed on the same records and no
    earlier instant is; a DENY for a lasting reason (number, consent, content, sender) stays a
    DENY as time passes. The laws of the families the policy holds, found in its built-in rules
    or declared for custom ones with ``declares``: a window never allows outside it in any
    candidate zone; consent: nothing without it and nothing after a plain STOP (typed any way);
    a cap of N never allows N + 1 in any window; dedupe never allows the same content twice in
    its window; engagement stops after the silence it allows. The provisions of jurisdiction
    packs get the laws of their family, each example sent to a recipient in the provision's
    jurisdiction. ``max_examples`` is the budget of each law.
    """
    from hypothesis import strategies as st

    from . import strategies

    if not callable(policy):
        raise ConfigurationError(f"check_policy_laws needs a rule or Policy, got {policy!r}")
    if not isinstance(max_examples, int) or max_examples < 1:
        raise ConfigurationError(f"max_examples must be a positive int, got {max_examples!r}")
    for promise in declares:
        if not isinstance(promise, WindowPromise | CapPromise | DedupePromise | ConsentPromise):
            raise ConfigurationError(
                f"declares takes declare_window/cap/dedupe/consent(...), got {promise!r}"
            )
    to = numbers if numbers is not None else strategies.phone_numbers()
    chosen = messages if messages is not None else strategies.messages(to)
    any_channel = (
        messages
        if messages is not None
        else st.one_of(chosen, strategies.messages(channels=strategies.channels()))
    )
    spans = (
        instants
        if instants is not None
        else strategies.instants(
            dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 12, 31, tzinfo=dt.UTC)
        )
    )
    found = families(policy)
    found += [Found(_family_of(p), "declared " + _describe(p), p) for p in declares]
    outcomes: list[LawOutcome] = []
    _law_decisions(policy, programs, max_examples, any_channel, spans)
    outcomes += [
        LawOutcome(name, True, f"{max_examples} examples")
        for name in (
            "rules keep their contract",
            "determinism",
            "batch order independence",
            "batch equals one at a time",
            "deny dominates",
            "deferral reaches an allow",
            "deferral is the earliest",
            "deny is stable",
        )
    ]
    laws: dict[str, tuple[str, Callable[..., None]]] = {
        "windows": ("never allowed outside the window", _law_window),
        "caps": ("a cap of N never allows N + 1", _law_cap),
        "dedupe": ("dedupe never allows the same content twice", _law_dedupe),
        "consent": ("nothing without consent; never allow after STOP", _law_consent),
        "engagement": ("silence ends sending", _law_engagement),
    }
    by_provision: dict[str, list[Found]] = {}
    for item in found:
        if item.family not in laws:
            continue
        name, law = laws[item.family]
        label = f"{name} [{item.rule}]"
        if item.alternative:
            outcomes.append(
                LawOutcome(label, False, "inside any_of: another branch may allow on its own")
            )
            continue
        if item.promise is None:
            why = "the programs' own caps: checked by the laws every policy obeys"
            outcomes.append(LawOutcome(label, False, why))
            continue
        if item.provision is not None:
            by_provision.setdefault(item.family, []).append(item)
            continue
        law(policy, programs, max_examples, _cases([item], chosen), spans)
        guarded = " where its when/unless guards apply" if item.guards else ""
        outcomes.append(
            LawOutcome(
                label,
                True,
                f"{max_examples} examples{guarded}{_purposes_note(item.promise)}",
            )
        )
    for family, items in by_provision.items():
        name, law = laws[family]
        ids = ", ".join(i.provision.id for i in items if i.provision is not None)
        law(policy, programs, max_examples, _cases(items, chosen), spans)
        outcomes.append(
            LawOutcome(
                f"{name} [jurisdiction provisions: {ids}]",
                True,
                f"{max_examples} examples, each to a recipient in one provision's jurisdiction",
            )
        )
    present = {f.family for f in found}
    if "consent" not in present:
        outcomes.append(
            LawOutcome(
                "nothing without consent; never allow after STOP",
                False,
                "the policy enforces no consent (no rules.consent() and nothing declared): "
                "add rules.consent() or declares=[declare_consent()] if it should",
            )
        )
    for family, name in (
        ("windows", "never allowed outside the window"),
        ("caps", "a cap of N never allows N + 1"),
        ("dedupe", "dedupe never allows the same content twice"),
    ):
        if family not in present:
            outcomes.append(LawOutcome(name, False, f"the policy has no {family} rule"))
    custom = [f.rule for f in found if f.family == "custom"]
    if custom:
        outcomes.append(
            LawOutcome(
                "custom rules",
                False,
                f"{', '.join(custom)}: what they promise is unknown unless declared "
                "(declares=[declare_window(...), ...]); check each with check_rule_laws",
            )
        )
    plain = sorted({f.family for f in found if f.family in ("numbers", "content", "senders")})
    if plain:
        outcomes.append(
            LawOutcome(
                "family laws for " + ", ".join(plain),
                False,
                "no law of their own: checked by the laws every policy obeys",
            )
        )
    names = sorted(present - {"custom"})
    return LawReport(repr(policy)[:120], tuple(names), tuple(outcomes))


def _family_of(promise: Promise) -> str:
    if isinstance(promise, WindowPromise):
        return "windows"
    if isinstance(promise, CapPromise):
        return "caps"
    if isinstance(promise, DedupePromise):
        return "dedupe"
    return "consent"


def _describe(promise: Promise) -> str:
    if isinstance(promise, WindowPromise):
        return f"window {promise.start:%H:%M}-{promise.end:%H:%M}"
    if isinstance(promise, CapPromise):
        return f"cap {promise.limit} per {promise.per}{' (calendar)' if promise.calendar else ''}"
    if isinstance(promise, DedupePromise):
        return f"dedupe {promise.window}"
    return "consent"


# --- laws of one rule -----------------------------------------------------------------------

_FAR_ZONES = ("Pacific/Kiritimati", "America/Adak")


def check_rule_laws(
    rule: Rule,
    *,
    max_examples: int = 100,
    messages: SearchStrategy[Message] | None = None,
    instants: SearchStrategy[dt.datetime] | None = None,
    raises: tuple[type[BaseException], ...] = (),
) -> LawReport:
    """Property-test one rule (e.g. written with :func:`smspolicy.rule`) on its own: it
    returns a Decision and raises nothing but ``smspolicy.errors`` errors (and ``raises``);
    it is pure (records unchanged, the same answer when asked again, whatever was asked in
    between); it defers only to aware instants after now; and it reads time only from the
    context (its answer does not change with the machine's local time zone). A broken law
    raises :class:`RuleLawError`."""
    import os
    import time

    from hypothesis import given
    from hypothesis import strategies as st

    from . import strategies

    if not callable(rule):
        raise ConfigurationError(f"check_rule_laws needs a rule, got {rule!r}")
    chosen = (
        messages
        if messages is not None
        else st.one_of(strategies.messages(), strategies.messages(channels=strategies.channels()))
    )
    spans = (
        instants
        if instants is not None
        else strategies.instants(
            dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 12, 31, tzinfo=dt.UTC)
        )
    )
    allowed: tuple[type[BaseException], ...] = (SmsPolicyError, *raises)

    def fail(law: str, detail: str, message: Message, now: dt.datetime) -> RuleLawError:
        return RuleLawError(
            f"law {law!r} broken by {rule!r} at {now.isoformat()} for {message!r}: {detail}"
        )

    def ask(engine: Engine, message: Message, now: dt.datetime) -> Decision:
        try:
            return engine.evaluate(message)
        except RuleError as error:
            raise fail("returns a decision deferring forward", str(error), message, now) from None
        except allowed:
            raise
        except Exception as error:
            raise fail(
                "raises only documented errors", f"{type(error).__name__}: {error}", message, now
            ) from None

    @_settings(max_examples)
    @given(
        st.lists(chosen, min_size=2, max_size=3),
        spans,
        st.lists(st.sampled_from(["confirm", "stop", "sent"]), max_size=3),
    )
    def rule_law(batch: list[Message], now: dt.datetime, history: list[str]) -> None:
        from ._clock import FrozenClock

        clock = FrozenClock(now - dt.timedelta(hours=2))
        engine = Engine(rule, MemoryStore(), clock)
        for message in batch:
            for step in history:
                if step == "sent":
                    engine.record_sent(message)
                else:
                    _apply(engine, message, step)
        clock.set(now)
        first, *others = batch
        records = _records(engine, first)
        try:
            decision = ask(engine, first, now)
        except allowed:
            return
        if decision.until is not None and decision.until.utcoffset() != dt.timedelta(0):
            raise fail("no naive or local datetimes", f"until {decision.until!r}", first, now)
        for key, value in _naive(decision):
            raise fail("no naive or local datetimes", f"reason data {key}={value!r}", first, now)
        if _records(engine, first) != records:
            raise fail("purity", "the rule changed the records", first, now)
        repeated = ask(engine, first, now)
        if repeated != decision:
            raise fail("determinism", f"{decision} then, asked again, {repeated}", first, now)
        for other in others:
            with contextlib.suppress(*allowed):
                ask(engine, other, now)
        again = ask(engine, first, now)
        if again != decision:
            raise fail(
                "determinism", f"{decision} then, after other questions, {again}", first, now
            )
        saved = os.environ.get("TZ")
        try:
            for name in _FAR_ZONES:
                os.environ["TZ"] = name
                time.tzset()
                elsewhere = ask(engine, first, now)
                if elsewhere != decision:
                    raise fail(
                        "time zones come from the recipient, not the machine",
                        f"{decision} but {elsewhere} with the machine's zone {name}",
                        first,
                        now,
                    )
        finally:
            if saved is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = saved
            time.tzset()

    def run() -> None:
        try:
            rule_law()
        except PolicyLawError:
            raise
        except allowed:
            raise

    _run("rule", run)
    return LawReport(
        repr(rule)[:120],
        (),
        tuple(
            LawOutcome(name, True, f"{max_examples} examples")
            for name in (
                "raises only documented errors",
                "returns a decision deferring forward",
                "no naive or local datetimes",
                "purity",
                "determinism",
                "time zones come from the recipient, not the machine",
            )
        ),
    )


def _records(engine: Engine, message: Message) -> tuple[object, ...]:
    if not message.channel.is_phone:
        return ()
    try:
        return tuple(engine.consent.history(message.address))
    except SmsPolicyError:
        return ()


def _naive(decision: Decision) -> Iterable[tuple[str, object]]:
    for reason in decision.reasons:
        for key, value in reason.data.items():
            if isinstance(value, dt.datetime) and value.utcoffset() is None:
                yield key, value
