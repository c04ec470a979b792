"""Helpers for testing code that uses smspolicy: a frozen clock, in-memory engines and an
engine factory, assertions, and property-based checks of the laws a policy (or one custom
rule) must obey.

Requires ``hypothesis`` for the law checks (``pip install 'smspolicy[testing]'``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import os
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

from ._clock import FrozenClock
from ._engine import Engine
from ._laws import (
    CapPromise,
    ConsentPromise,
    DedupePromise,
    LawOutcome,
    LawReport,
    PolicyLawError,
    RuleLawError,
    WindowPromise,
    check_policy_laws,
    check_rule_laws,
    declare_cap,
    declare_consent,
    declare_dedupe,
    declare_window,
)
from ._time import ensure_aware
from ._values import Decision, Verdict
from .errors import ConfigurationError
from .programs import Program
from .store import MemoryStore
from .typing import Rule

__all__ = [
    "DEFAULT_INSTANT",
    "CapPromise",
    "ConsentPromise",
    "DedupePromise",
    "EngineFactory",
    "FrozenClock",
    "LawOutcome",
    "LawReport",
    "PolicyLawError",
    "RuleLawError",
    "WindowPromise",
    "assert_allowed",
    "assert_deferred_until",
    "assert_denied",
    "check_policy_laws",
    "check_rule_laws",
    "declare_cap",
    "declare_consent",
    "declare_dedupe",
    "declare_window",
    "make_engine",
    "resolve_policy",
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


# --- policies and engine factories ----------------------------------------------------------


def resolve_policy(value: object, *, root: str | os.PathLike[str] | None = None) -> Rule:
    """The policy ``value`` names: a rule; a callable without arguments that returns one;
    ``"standard"`` (:func:`smspolicy.jurisdictions.standard`); ``"package.module:name"`` (a
    rule or such a callable); or the path of a policy TOML file (relative to ``root``)."""
    if isinstance(value, str):
        text = value.strip()
        if text == "standard":
            from .jurisdictions import standard

            return standard()
        if text.endswith(".toml"):
            from .config import load_policy

            path = pathlib.Path(text)
            return load_policy(
                path if root is None or path.is_absolute() else pathlib.Path(root) / path
            )
        module_name, _, attribute = text.partition(":")
        if not module_name or not attribute:
            raise ConfigurationError(
                f"a policy is 'standard', 'package.module:name' or a .toml path, got {value!r}"
            )
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ConfigurationError(f"cannot load the policy {value!r}: {error}") from None
        return resolve_policy(found)
    if not callable(value):
        raise ConfigurationError(f"a policy must be a rule or a callable returning one: {value!r}")
    if _takes_no_arguments(value):
        return resolve_policy(value())
    return value


def _takes_no_arguments(value: Callable[..., object]) -> bool:
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return False
    return not any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in signature.parameters.values()
    )


class EngineFactory:
    """Builds a fresh engine (new in-memory store, own :class:`FrozenClock`) on each call, for
    ``policy()`` unless a call names another: nothing is shared between calls, so one factory
    serves every Hypothesis example."""

    def __init__(self, policy: Callable[[], Rule]) -> None:
        self._policy = policy

    def __call__(
        self,
        *,
        policy: Rule | None = None,
        at: dt.datetime = DEFAULT_INSTANT,
        programs: Sequence[Program] = (),
        **options: Any,
    ) -> Engine:
        """A new engine at ``at``; ``options`` go to :class:`smspolicy.Engine`."""
        chosen = policy if policy is not None else self._policy()
        return make_engine(chosen, at=at, programs=programs, **options)

    def __repr__(self) -> str:
        return f"EngineFactory({self._policy!r})"
