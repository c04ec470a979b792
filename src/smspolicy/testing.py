"""Helpers for testing code that uses smspolicy: a frozen clock, an in-memory engine,
assertions, and a property-based check of the laws every policy must obey."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from ._clock import FrozenClock
from ._compose import all_of
from ._context import Context
from ._engine import Engine
from ._records import ConsentKind
from ._time import ensure_aware
from ._values import Decision, Message, Reason, Verdict, deny
from .errors import InvalidNumberError, RuleError
from .programs import Program
from .store import MemoryStore
from .typing import Rule

__all__ = [
    "DEFAULT_INSTANT",
    "FrozenClock",
    "PolicyLawError",
    "assert_allowed",
    "assert_deferred_until",
    "assert_denied",
    "check_policy_laws",
    "make_engine",
]


# --- engines and assertions -------------------------------------------------------------------

DEFAULT_INSTANT = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)
"""Where :func:`make_engine` freezes its clock unless told otherwise."""


def make_engine(
    policy: Rule | None = None,
    *,
    at: dt.datetime = DEFAULT_INSTANT,
    programs: Sequence[Program] = (),
    **options: Any,
) -> Engine:
    """An engine on a fresh in-memory store with a :class:`FrozenClock` at ``at``; the policy
    defaults to :func:`smspolicy.jurisdictions.standard`. ``engine.clock`` moves time."""
    from .jurisdictions import standard

    return Engine(
        policy if policy is not None else standard(),
        MemoryStore(),
        FrozenClock(at),
        programs=programs,
        **options,
    )


def assert_allowed(decision: Decision) -> None:
    """Fail unless the decision is ALLOW, showing the explanation."""
    if not isinstance(decision, Decision):
        raise AssertionError(f"expected a Decision, got {decision!r}")
    if not decision.allowed:
        raise AssertionError(f"expected ALLOW, got {decision.verdict.value}: {decision.explain()}")


def assert_deferred_until(decision: Decision, until: dt.datetime) -> None:
    """Fail unless the decision is DEFER until exactly ``until`` (aware)."""
    expected = ensure_aware(until, "until")
    if decision.verdict is not Verdict.DEFER:
        raise AssertionError(f"expected DEFER, got {decision.verdict.value}: {decision.explain()}")
    if decision.until != expected:
        raise AssertionError(
            f"expected DEFER until {expected.isoformat()}, got "
            f"{decision.until.isoformat() if decision.until else None}"
        )


def assert_denied(decision: Decision, *, code: str | None = None) -> None:
    """Fail unless the decision is DENY (with a reason ``code``, when given)."""
    if decision.verdict is not Verdict.DENY:
        raise AssertionError(f"expected DENY, got {decision.verdict.value}: {decision.explain()}")
    if code is not None and code not in decision.codes:
        raise AssertionError(f"expected DENY {code}, got {', '.join(decision.codes)}")


# --- policy laws ----------------------------------------------------------------------------


_REPEATS = 8


class PolicyLawError(AssertionError):
    """A policy broke one of the laws; the message names the law and the counterexample."""


def _law(name: str, detail: str, message: object, now: dt.datetime) -> PolicyLawError:
    return PolicyLawError(f"law {name!r} broken at {now.isoformat()} for {message!r}: {detail}")


def check_policy_laws(
    policy: Rule,
    *,
    programs: Sequence[Program] = (),
    max_examples: int = 100,
    numbers: Any = None,
    messages: Any = None,
) -> None:
    """Property-test a policy against the laws every policy must obey, and raise
    :class:`PolicyLawError` with a minimal counterexample (found and shrunk by Hypothesis).

    The laws: deny dominates (composed with a denying rule it denies); a DEFER's ``until`` is
    aware, in UTC and after now, and evaluating there with unchanged records allows; nothing is
    allowed after a STOP but its one confirmation; the same question always gets the same
    answer; and decisions do not depend on their order within a batch.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.errors import Flaky

    from . import strategies

    if messages is None:
        to = numbers if numbers is not None else strategies.phone_numbers()
        messages = strategies.messages(to)
    deny_all = _DenyAll()

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        # No explain phase: it replays the failure many times for comments nobody reads here.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(
        st.lists(messages, min_size=1, max_size=4),
        strategies.instants(
            dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 12, 31, tzinfo=dt.UTC)
        ),
        st.lists(st.sampled_from(["confirm", "imply", "stop"]), max_size=3),
    )
    def laws(batch: list[Message], now: dt.datetime, history: list[str]) -> None:
        engine = make_engine(policy, at=now - dt.timedelta(days=1), programs=programs)
        for message in batch:
            for step in history:
                _apply(engine, message, step)
        engine.clock.set(now)  # type: ignore[attr-defined]
        try:
            decisions = list(engine.evaluate_many(batch))
        except RuleError as error:
            raise _law("rules keep their contract", str(error), batch, now) from None
        for _ in range(_REPEATS):  # several asks, so a coin-flipping rule fails every replay
            again = list(engine.evaluate_many(batch))
            if decisions != again:
                raise _law("determinism", f"{decisions} then {again}", batch, now)
        backwards = list(engine.evaluate_many(batch[::-1]))[::-1]
        if decisions != backwards:
            raise _law("batch order independence", f"{decisions} vs {backwards}", batch, now)
        for message, decision in zip(batch, decisions, strict=True):
            _check_one(engine, policy, deny_all, message, decision, now)

    try:
        laws()
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
            "law 'determinism' broken: the policy gave different answers to the same question "
            f"({error})"
        ) from error


def _apply(engine: Engine, message: Message, step: str) -> None:
    try:
        if step == "confirm":
            engine.consent.confirm(
                message.address, topic=message.topic, purpose=message.purpose, source="laws"
            )
        elif step == "imply":
            engine.consent.imply(
                message.address,
                basis="purchase",
                purpose=message.purpose,
                topic=message.topic,
                source="laws",
            )
        else:
            engine.consent.revoke(message.address, source="laws")
    except InvalidNumberError:
        return


def _check_one(
    engine: Engine,
    policy: Rule,
    deny_all: Rule,
    message: Message,
    decision: Decision,
    now: dt.datetime,
) -> None:
    if decision.until is not None:
        if decision.until.utcoffset() != dt.timedelta(0) or decision.until <= now:
            raise _law("defer goes forward", f"until {decision.until}", message, now)
        engine.clock.set(decision.until)  # type: ignore[attr-defined]
        later = engine.evaluate(message)
        engine.clock.set(now)  # type: ignore[attr-defined]
        if not later.allowed:
            raise _law(
                "deferral reaches an allow", f"at {decision.until} got {later}", message, now
            )
    combined = Engine(all_of(policy, deny_all), engine.store, engine.clock).evaluate(message)
    if combined.verdict is not Verdict.DENY:
        raise _law("deny dominates", f"with a denying rule got {combined}", message, now)
    events = engine.consent.history(message.address) if message.channel.is_phone else []
    if events and events[-1].kind is ConsentKind.REVOKED and decision.allowed:
        raise _law("never allow after STOP", f"allowed after {events[-1]}", message, now)


@attrs.frozen
class _DenyAll:
    def __call__(self, message: Message, context: Context) -> Decision:
        return deny(Reason("laws.deny", "deny_all", "the law check's denying rule"))

    def __repr__(self) -> str:
        return "deny_all"
