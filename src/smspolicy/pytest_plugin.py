"""The smspolicy pytest plugin (registered through the ``pytest11`` entry point): fixtures
``frozen_clock``, ``sms_engine`` and ``consent_ledger``."""

from __future__ import annotations

import pytest

from ._engine import Engine
from .consent import Ledger
from .testing import DEFAULT_INSTANT, FrozenClock, make_engine

__all__ = ["consent_ledger", "frozen_clock", "sms_engine"]


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """A clock frozen at 2025-01-15 15:00 UTC; ``set`` and ``advance`` move it."""
    return FrozenClock(DEFAULT_INSTANT)


@pytest.fixture
def sms_engine(frozen_clock: FrozenClock) -> Engine:
    """An engine with ``jurisdictions.standard()`` on a fresh in-memory store, on
    ``frozen_clock``."""
    engine = make_engine()
    engine.clock = frozen_clock
    return engine


@pytest.fixture
def consent_ledger(sms_engine: Engine) -> Ledger:
    """The ``sms_engine``'s consent ledger API."""
    return sms_engine.consent
