"""Clocks: where the engine's ``now`` comes from. Rules never read the system time."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol, runtime_checkable

from ._time import UTC, ensure_aware, ensure_duration

__all__ = ["CheckedClock", "Clock", "FrozenClock", "SystemClock"]


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


class FrozenClock:
    """A clock that stands still until told to move: ``now()``, ``set(at)``, ``advance(delta)``."""

    def __init__(self, at: dt.datetime) -> None:
        self._lock = threading.Lock()
        self._now = ensure_aware(at, "at")

    def now(self) -> dt.datetime:
        """The frozen instant, in UTC."""
        with self._lock:
            return self._now

    def set(self, at: dt.datetime) -> None:
        """Move the clock to ``at`` (aware)."""
        instant = ensure_aware(at, "at")
        with self._lock:
            self._now = instant

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock forward by ``delta`` (positive) and return the new instant."""
        step = ensure_duration(delta, "delta")
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()!r})"


class CheckedClock:
    """The clock an engine's parts read: the engine's current clock (which may be swapped),
    its ``now()`` checked to be aware and given in UTC."""

    __slots__ = ("clock",)

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> dt.datetime:
        """The clock's current instant, checked to be aware, in UTC."""
        return ensure_aware(self.clock.now(), "clock.now()")

    def __repr__(self) -> str:
        return f"CheckedClock({self.clock!r})"
