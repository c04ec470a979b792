"""The smspolicy pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

- ``sms_engine_factory`` (session scope, safe inside ``@given``): a callable that builds a fresh
  engine, on a fresh in-memory store and its own :class:`~smspolicy.testing.FrozenClock`, each
  time it is called, so no state crosses Hypothesis examples;
- ``frozen_clock``, ``sms_engine`` and ``consent_ledger`` for plain tests.

The policy is the one named by the closest ``@pytest.mark.smspolicy_policy(policy)`` marker,
else by the ``smspolicy_policy`` ini option, else :func:`smspolicy.jurisdictions.standard`.
A marker takes a rule, or a callable without arguments that returns one; the ini option takes
``"standard"``, ``"package.module:name"`` (a rule or such a callable) or the path of a policy
TOML file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ._engine import Engine
from .consent import Ledger
from .errors import ConfigurationError
from .testing import DEFAULT_INSTANT, EngineFactory, FrozenClock, make_engine, resolve_policy
from .typing import Rule

__all__ = [
    "consent_ledger",
    "frozen_clock",
    "sms_engine",
    "sms_engine_factory",
]

_MARKER = "smspolicy_policy"
_INI = "smspolicy_policy"
_CHOSEN = pytest.StashKey[Callable[[], Rule]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``smspolicy_policy`` ini option."""
    parser.addini(
        _INI,
        "policy for the smspolicy fixtures: 'standard', 'package.module:name' or a TOML file",
        default="standard",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``smspolicy_policy`` marker."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(policy): the policy (a rule, or a callable returning one) that the "
        "smspolicy fixtures use in this test",
    )


def _from_marker(marker: pytest.Mark) -> Callable[[], Rule]:
    if len(marker.args) != 1 or marker.kwargs:
        raise ConfigurationError(
            f"@pytest.mark.{_MARKER} takes exactly one argument, the policy or a callable "
            "returning it"
        )
    value = marker.args[0]
    return lambda: resolve_policy(value)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Note which policy this test's fixtures use, before its fixtures are set up."""
    marker = item.get_closest_marker(_MARKER)
    if marker is not None:
        item.stash[_CHOSEN] = _from_marker(marker)
    else:
        spec = str(item.config.getini(_INI))
        item.stash[_CHOSEN] = lambda: resolve_policy(spec, root=item.config.rootpath)


class _CurrentPolicy:
    """The policy of the test being run, read when an engine is built (the session-scoped
    factory serves every test, each with its own marker)."""

    def __init__(self) -> None:
        self.item: pytest.Item | None = None

    def __call__(self) -> Rule:
        if self.item is None or _CHOSEN not in self.item.stash:
            return resolve_policy("standard")
        return self.item.stash[_CHOSEN]()


_CURRENT = _CurrentPolicy()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Point the session-scoped factory at this test's policy while the test runs."""
    outer, _CURRENT.item = _CURRENT.item, item
    try:
        return (yield)
    finally:
        _CURRENT.item = outer  # a test that runs pytest inside itself gets its own back


@pytest.fixture(scope="session")
def sms_engine_factory() -> EngineFactory:
    """Build engines for the current test's policy: ``sms_engine_factory(at=..., policy=...,
    programs=..., profiles=...)``. Each call gives a fresh store and clock, so the fixture is
    safe to use inside ``@given``."""
    return EngineFactory(_CURRENT)


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """A clock frozen at 2025-01-15 15:00 UTC; ``set`` and ``advance`` move it."""
    return FrozenClock(DEFAULT_INSTANT)


@pytest.fixture
def sms_engine(request: pytest.FixtureRequest, frozen_clock: FrozenClock) -> Engine:
    """An engine with the test's policy (marker, ini option, else ``standard()``) on a fresh
    in-memory store, on ``frozen_clock``."""
    chosen = request.node.stash.get(_CHOSEN, lambda: resolve_policy("standard"))
    engine = make_engine(chosen(), at=frozen_clock.now())
    engine.clock = frozen_clock
    return engine


@pytest.fixture
def consent_ledger(sms_engine: Engine) -> Ledger:
    """The ``sms_engine``'s consent ledger API."""
    return sms_engine.consent
