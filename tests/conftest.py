"""Shared fixtures and Hypothesis settings for the smspolicy test suite."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, settings

import smspolicy._memo
from smspolicy import Engine, Policy
from smspolicy.testing import FrozenClock

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

T0 = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``caches`` marker: tests of the caches themselves."""
    config.addinivalue_line(
        "markers", "caches: a test of a cache itself, skipped with SMSPOLICY_NO_CACHE=1"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With every cache off, skip the tests that inspect what a cache holds."""
    if smspolicy._memo.CACHES:
        return
    skip = pytest.mark.skip(reason="SMSPOLICY_NO_CACHE=1: every cache is off")
    for item in items:
        if item.get_closest_marker("caches") is not None:
            item.add_marker(skip)


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at 2025-01-15 15:00 UTC."""
    return FrozenClock(T0)


@pytest.fixture
def engine(clock: FrozenClock) -> Engine:
    """An engine with an empty policy on the in-memory store."""
    return Engine(Policy(name="empty"), clock=clock)
