"""Send slots shared across workers: the store half of a sender-throughput limit."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["SlotStore"]


@runtime_checkable
class SlotStore(Protocol):
    """A store that hands out send slots per key (an origination identity), atomically across
    threads and processes."""

    def claim_slot(self, key: str, *, now_us: int, interval_us: int) -> int:
        """Claim the earliest slot for ``key`` at or after ``now_us`` and at least
        ``interval_us`` after the last slot claimed for it; return it (microseconds since
        the epoch)."""
        ...
