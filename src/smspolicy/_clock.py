"""Clocks: where the engine's ``now`` comes from. Rules never read the system time."""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

from ._time import UTC

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` that returns an aware datetime."""

    def now(self) -> dt.datetime:
        """The current instant, aware."""
        ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> dt.datetime:
        """The current instant, in UTC."""
        return dt.datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"
