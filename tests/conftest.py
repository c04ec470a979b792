"""Shared fixtures and Hypothesis settings for the smspolicy test suite."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, settings

from smspolicy import Engine, Policy
from smspolicy.testing import FrozenClock

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

T0 = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at 2025-01-15 15:00 UTC."""
    return FrozenClock(T0)


@pytest.fixture
def engine(clock: FrozenClock) -> Engine:
    """An engine with an empty policy on the in-memory store."""
    return Engine(Policy(name="empty"), clock=clock)
