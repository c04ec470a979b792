"""Composing rules: all_of, any_of, when, unless, Policy and the @rule decorator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, overload, runtime_checkable

import attrs

from . import i18n
from ._context import Context
from ._values import (
    _ALLOW,
    Channel,
    Decision,
    Message,
    Purpose,
    Reason,
    Verdict,
    allow,
    checked_parts,
    deny,
)
from .errors import ConfigurationError, RuleError
from .predicates import Predicate
from .typing import Condition, Rule

__all__ = [
    "DEFAULT_HORIZON",
    "DEFAULT_MAX_ITERATIONS",
    "Policy",
    "all_of",
    "any_of",
    "rule",
    "unless",
    "when",
]

_STALE = i18n.register_template(
    "message.stale",
    "the earliest allowed time, {until}, is after the message's not_after, {not_after}",
)
_NO_WINDOW = i18n.register_template(
    "window.none",
    "no instant within {horizon} satisfies every rule ({why})",
)

DEFAULT_HORIZON = dt.timedelta(days=35)
"""How far ahead :func:`all_of` looks for an instant at which every rule allows."""

DEFAULT_MAX_ITERATIONS = 64
"""How many re-evaluations :func:`all_of` makes before it gives up with ``window.none``."""


@runtime_checkable
class Combinator(Protocol):
    """A rule made of rules, which says what it amounts to: the fast path and the engine ask
    it instead of looking inside. Adding a combinator is one class with these two methods."""

    def leaves(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
    ) -> tuple[Rule, ...] | None:
        """The rules this one amounts to, in order, for messages of ``purpose`` on
        ``channel`` to recipients with candidate ``jurisdictions``, when all of them must
        allow and their reasons combine as :func:`all_of`'s; None when it cannot say from
        those alone."""
        ...

    def lookback(self) -> dt.timedelta:
        """The longest send history any rule inside needs."""
        ...


@runtime_checkable
class SettledAtInstant(Protocol):
    """A rule that, for recipients with given candidate zones at a given instant, amounts to
    other rules (a law in force, or not yet): the fast path asks it once per such key."""

    def at_instant(self, zones: tuple[str, ...], now: dt.datetime) -> tuple[Rule, ...] | None:
        """The rules this one amounts to, in order, for recipients with candidate ``zones`` at
        ``now`` (all must allow; reasons combine as :func:`all_of`'s); None when it cannot
        say from those alone."""
        ...


def at_instant_of(
    rule: object, zones: tuple[str, ...], now: dt.datetime
) -> tuple[Rule, ...] | None:
    """What ``rule`` amounts to for recipients with ``zones`` at ``now``, when it can say."""
    if isinstance(rule, SettledAtInstant):
        return rule.at_instant(zones, now)
    return None


@runtime_checkable
class NeedsHistory(Protocol):
    """A rule that counts sends, and says how far back it must see them."""

    def lookback(self) -> dt.timedelta:
        """How far back this rule must see sends."""
        ...


def lookback_of(rule: object) -> dt.timedelta:
    """The longest send history ``rule`` needs: what it says, or nothing."""
    if isinstance(rule, NeedsHistory):
        needed = rule.lookback()
        if isinstance(needed, dt.timedelta):
            return needed
    return dt.timedelta(0)


def leaves_of(
    rule: object, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
) -> tuple[Rule, ...] | None:
    """What ``rule`` amounts to for (purpose, jurisdictions, channel), when it is a
    :class:`Combinator` that can say."""
    if isinstance(rule, Combinator):
        return rule.leaves(purpose, jurisdictions, channel)
    return None


def _longest(rules: Iterable[object]) -> dt.timedelta:
    return max((lookback_of(rule) for rule in rules), default=dt.timedelta(0))


def combiner_of(rule: object) -> Callable[..., Decision] | None:
    """How ``rule`` combines its leaves' decisions, when it is an :func:`all_of`."""
    return rule.combine if isinstance(rule, _AllOf) else None


def _name(value: object) -> str:
    return getattr(value, "__name__", None) or repr(value)


def collect(
    rules: Iterable[Rule], message: Message, context: Context, *, stop_at_defer: bool = False
) -> tuple[list[Decision], bool, bool] | None:
    """Each rule's checked decision in order, leaving out the plain ALLOWs (the shared
    instance: they carry nothing), with whether any is a DENY and whether any is a DEFER.
    With ``stop_at_defer``, None as soon as a rule defers."""
    decisions: list[Decision] = []
    denied = deferred = False
    plain = _ALLOW  # a local name: this loop runs for every message
    for rule in rules:
        decision = rule(message, context)
        if decision is plain:
            continue
        decision = _checked(rule, decision, context)
        verdict = decision.verdict
        if verdict is Verdict.DENY:
            denied = True
        elif verdict is Verdict.DEFER:
            if stop_at_defer:
                return None
            deferred = True
        decisions.append(decision)
    return decisions, denied, deferred


def combine_settled(decisions: Sequence[Decision], *, denied: bool) -> Decision:
    """What ``all_of`` makes of decisions when none defers or one denies: a DENY with the
    reasons of every DENY, in order, else an ALLOW with every reason, in order."""
    if denied:
        return deny(*(r for d in decisions if d.verdict is Verdict.DENY for r in d.reasons))
    return allow(*(reason for d in decisions for reason in d.reasons))


def _check_rule(value: object) -> None:
    if not callable(value):
        raise ConfigurationError(
            f"a rule must be callable (message, context) -> Decision: {value!r}"
        )


def run_rule(rule: Rule, message: Message, context: Context) -> Decision:
    """Call one rule and check that it kept the rule contract."""
    decision = rule(message, context)
    if decision is _ALLOW:  # the shared plain ALLOW, the common case, is known to be valid
        return decision
    return _checked(rule, decision, context)


def _checked(rule: Rule, decision: object, context: Context) -> Decision:
    if not isinstance(decision, Decision):
        raise RuleError(f"rule {rule!r} returned {decision!r}, not a Decision")
    if decision.until is not None and decision.until <= context.now:
        raise RuleError(
            f"rule {rule!r} deferred to {decision.until.isoformat()}, "
            f"which is not after now ({context.now.isoformat()})"
        )
    return decision


@attrs.frozen(repr=False)
class _NamedRule:
    function: Callable[[Message, Context], Decision]
    name: str

    def __call__(self, message: Message, context: Context) -> Decision:
        return self.function(message, context)

    @property
    def __name__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name


@overload
def rule(function: Callable[[Message, Context], Decision], /) -> Rule: ...
@overload
def rule(*, name: str) -> Callable[[Callable[[Message, Context], Decision]], Rule]: ...


def rule(function: Any = None, /, *, name: str | None = None) -> Any:
    """Name a plain function as a rule: ``@rule`` or ``@rule(name="weekday_only")``.

    The function takes ``(message, context)`` and returns a Decision; its name becomes its repr,
    so a printed policy reads like the code that built it.
    """

    def wrap(inner: Callable[[Message, Context], Decision]) -> Rule:
        _check_rule(inner)
        return _NamedRule(inner, name or _name(inner))

    return wrap if function is None else wrap(function)


def _rules(rules: Iterable[object], kind: type[Any]) -> tuple[Rule, ...]:
    flat: list[Rule] = []
    for item in rules:
        _check_rule(item)
        if type(item) is kind:
            flat.extend(getattr(item, "rules"))  # noqa: B009 - kind is _AllOf or _AnyOf
        else:
            flat.append(item)  # type: ignore[arg-type]
    return tuple(flat)


def _rules_repr(rules: tuple[Rule, ...]) -> str:
    return ", ".join(repr(rule) for rule in rules)


def _stale(message: Message, until: dt.datetime, rule_name: str) -> Decision:
    assert message.not_after is not None
    return deny(
        i18n.reason(
            "message.stale",
            rule_name,
            _STALE,
            until=until.isoformat(),
            not_after=message.not_after.isoformat(),
        )
    )


def _no_window(rule_name: str, horizon: dt.timedelta, why: str, *later: Reason) -> Decision:
    return deny(
        i18n.reason(
            "window.none",
            rule_name,
            _NO_WINDOW,
            horizon=str(horizon),
            why=why,
        ),
        *later,
    )


def _merge(known: list[Reason], new: Iterable[Reason]) -> None:
    seen = {(reason.rule, reason.code) for reason in known}
    for reason in new:
        if (reason.rule, reason.code) not in seen:
            known.append(reason)
            seen.add((reason.rule, reason.code))


def _zone_for(
    decisions: Sequence[Decision], candidate: dt.datetime, known: str | None
) -> str | None:
    """The zone to show ``candidate`` in: that of a rule deferring to it (the rule that set
    it); else the one known from an earlier round; else any rule's."""
    setting = next((d.zone for d in decisions if d.until == candidate and d.zone), None)
    return setting or known or next((d.zone for d in decisions if d.zone), None)


@attrs.frozen(repr=False)
class _AllOf:
    rules: tuple[Rule, ...]
    horizon: dt.timedelta = DEFAULT_HORIZON
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    name: str = "all_of"

    def __call__(self, message: Message, context: Context) -> Decision:
        collected = collect(self.rules, message, context)
        assert collected is not None  # only stop_at_defer gives None
        decisions, denied, deferred = collected
        if not decisions:
            return _ALLOW
        return self.combine(message, context, decisions, denied=denied, deferred=deferred)

    def leaves(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
    ) -> tuple[Rule, ...]:
        """Its rules: every one must allow."""
        return self.rules

    def lookback(self) -> dt.timedelta:
        """The longest history its rules need."""
        return _longest(self.rules)

    def combine(
        self,
        message: Message,
        context: Context,
        decisions: list[Decision],
        *,
        denied: bool,
        deferred: bool,
    ) -> Decision:
        """The outcome of the rules' checked decisions at ``context.now`` (plain ALLOWs left
        out, the rest in rule order); ``denied``/``deferred`` say whether any is a DENY/DEFER."""
        if denied or not deferred:
            return combine_settled(decisions, denied=denied)
        reasons: list[Reason] = []
        _merge(reasons, (r for d in decisions if d.verdict is Verdict.DEFER for r in d.reasons))
        return self._earliest(message, context, decisions, reasons)

    def _earliest(
        self,
        message: Message,
        context: Context,
        decisions: list[Decision],
        reasons: list[Reason],
    ) -> Decision:
        limit = context.now + self.horizon
        zone: str | None = None
        for _ in range(self.max_iterations):
            candidate = max(d.until for d in decisions if d.until is not None)
            zone = _zone_for(decisions, candidate, zone)
            if message.not_after is not None and candidate > message.not_after:
                return _stale(message, candidate, self.name)
            if candidate > limit:
                return _no_window(self.name, self.horizon, "the rules' windows never meet")
            later = context.at(candidate)
            decisions = [run_rule(rule, message, later) for rule in self.rules]
            denied = [d for d in decisions if d.verdict is Verdict.DENY]
            if denied:
                return _no_window(
                    self.name,
                    self.horizon,
                    f"a rule denies at {candidate.isoformat()}",
                    *(reason for d in denied for reason in d.reasons),
                )
            if all(d.verdict is Verdict.ALLOW for d in decisions):
                return checked_parts(Verdict.DEFER, candidate, tuple(reasons), zone)
            _merge(reasons, (r for d in decisions if d.verdict is Verdict.DEFER for r in d.reasons))
        return _no_window(
            self.name, self.horizon, f"no agreement after {self.max_iterations} re-evaluations"
        )

    def __repr__(self) -> str:
        return f"all_of({_rules_repr(self.rules)})"


def all_of(
    *rules: Rule,
    horizon: dt.timedelta = DEFAULT_HORIZON,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> Rule:
    """Every rule must allow.

    Any deny gives a deny with the reasons of every denying rule. Otherwise, when some rules
    defer, the result is a DEFER to the earliest instant at or after now at which every rule
    allows, found by re-evaluating at the latest ``until`` until all agree. No such instant
    within ``horizon`` gives DENY ``window.none``; an instant past the message's ``not_after``
    gives DENY ``message.stale``.
    """
    _check_horizon(horizon, max_iterations)
    return _AllOf(_rules(rules, _AllOf), horizon, max_iterations)


def _check_horizon(horizon: object, max_iterations: object) -> None:
    if not isinstance(horizon, dt.timedelta) or horizon <= dt.timedelta(0):
        raise ConfigurationError(f"horizon must be a positive timedelta, got {horizon!r}")
    if not isinstance(max_iterations, int) or max_iterations < 1:
        raise ConfigurationError(f"max_iterations must be a positive int, got {max_iterations!r}")


@attrs.frozen(repr=False)
class _AnyOf:
    rules: tuple[Rule, ...]

    def __call__(self, message: Message, context: Context) -> Decision:
        decisions = [run_rule(rule, message, context) for rule in self.rules]
        for decision in decisions:
            if decision.allowed:
                return decision
        deferred = [d for d in decisions if d.verdict is Verdict.DEFER]
        reasons = tuple(reason for d in decisions for reason in d.reasons)
        if deferred:
            mildest = min(deferred, key=lambda d: d.until)  # type: ignore[arg-type,return-value]
            return attrs.evolve(mildest, reasons=reasons)
        return deny(*reasons)

    def leaves(self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel) -> None:
        """Never opened: one allowing rule is enough."""
        return

    def lookback(self) -> dt.timedelta:
        """The longest history its rules need."""
        return _longest(self.rules)

    def __repr__(self) -> str:
        return f"any_of({_rules_repr(self.rules)})"


def any_of(*rules: Rule) -> Rule:
    """Allow when any rule allows (e.g. express consent OR soft opt-in); else the mildest
    outcome: the earliest DEFER if any rule defers, else DENY with every reason."""
    if not rules:
        raise ConfigurationError("any_of needs at least one rule")
    return _AnyOf(_rules(rules, _AnyOf))


@attrs.frozen(repr=False)
class _When:
    predicate: Condition
    rule: Rule
    negate: bool = False

    def __call__(self, message: Message, context: Context) -> Decision:
        if bool(self.predicate(message, context)) == self.negate:
            return _ALLOW
        return run_rule(self.rule, message, context)

    def leaves(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
    ) -> tuple[Rule, ...] | None:
        """Its rule, or nothing, when its predicate is settled by those alone."""
        if not isinstance(self.predicate, Predicate):
            return None
        applies = self.predicate.settled(purpose, jurisdictions, channel)
        if applies is None:
            return None
        return (self.rule,) if applies != self.negate else ()

    def lookback(self) -> dt.timedelta:
        """The history its rule needs."""
        return lookback_of(self.rule)

    def __repr__(self) -> str:
        kind = "unless" if self.negate else "when"
        return f"{kind}({self.predicate!r}, {self.rule!r})"


def when(predicate: Condition, rule: Rule) -> Rule:
    """Apply ``rule`` only to messages for which ``predicate(message, context)`` is true."""
    _check_rule(predicate)
    _check_rule(rule)
    return _When(predicate, rule)


def unless(predicate: Condition, rule: Rule) -> Rule:
    """Apply ``rule`` only to messages for which ``predicate(message, context)`` is false."""
    _check_rule(predicate)
    _check_rule(rule)
    return _When(predicate, rule, negate=True)


class Policy(_AllOf):
    """A named :func:`all_of`: the unit an :class:`smspolicy.Engine` evaluates."""

    def __init__(
        self,
        *rules: Rule,
        name: str = "policy",
        horizon: dt.timedelta = DEFAULT_HORIZON,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"a Policy needs a non-empty name, got {name!r}")
        _check_horizon(horizon, max_iterations)
        super().__init__(_rules(rules, _AllOf), horizon, max_iterations, name)

    def __repr__(self) -> str:
        inner = _rules_repr(self.rules)
        return f"Policy({inner}{', ' if inner else ''}name={self.name!r})"
