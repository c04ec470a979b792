"""Helpers for testing code that uses smspolicy: a frozen clock and more."""

from __future__ import annotations

import datetime as dt
import threading

from ._time import ensure_aware, ensure_duration

__all__ = ["FrozenClock"]


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
