"""The store protocols: what the engine needs from any backend."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from .._records import ConsentEvent, SendRecord

__all__ = [
    "Audience",
    "BatchReservations",
    "ConsentLedger",
    "LookupCache",
    "Reservations",
    "SendLog",
    "Store",
    "suppression_key",
]

Decide = Callable[[list[SendRecord]], SendRecord | None]
"""Given the recipient's current sends, return the record to hold, or None to hold nothing."""


DecideMany = Callable[[str, list[SendRecord]], list[SendRecord]]
"""Given one number and its current sends, return the records to hold for it (maybe none)."""

Settlement = tuple[SendRecord, str | None, bool]
"""A reservation's record, the provider id, and True when sent (False drops the hold)."""


class BatchBacked:
    """``reserve`` and ``reserve_many`` for a store that implements ``_reserve_batch``: one
    mechanism, a single reservation being a batch of one (same locking, reads and retries)."""

    def _reserve_batch(
        self, numbers: Sequence[str], *, since: dt.datetime, decide: DecideMany
    ) -> dict[str, list[SendRecord]]:
        raise NotImplementedError

    def reserve_many(
        self, numbers: Sequence[str], *, since: dt.datetime, decide: DecideMany
    ) -> dict[str, list[SendRecord]]:
        return self._reserve_batch(numbers, since=since, decide=decide)

    def reserve(self, number: str, *, since: dt.datetime, decide: Decide) -> SendRecord | None:
        def one(_number: str, records: list[SendRecord]) -> list[SendRecord]:
            record = decide(records)
            return [] if record is None else [record]

        held = self._reserve_batch([number], since=since, decide=one).get(number, [])
        return held[0] if held else None


@functools.lru_cache(maxsize=16384)  # every read of a batch checks every number's key
def suppression_key(number: str) -> str:
    """The one-way key under which a forgotten number stays suppressed."""
    return hashlib.sha256(f"smspolicy-suppression:{number}".encode()).hexdigest()


@runtime_checkable
class ConsentLedger(Protocol):
    """An append-only, per-recipient hash-chained log of consent events."""

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        """Chain ``event`` after the recipient's last event, store it durably, return it."""
        ...

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        """Every number's events in order (absent numbers map to an empty list)."""
        ...

    def forget(self, number: str) -> None:
        """Erase the number's records, keeping a hashed suppression marker."""
        ...

    def suppressed(self, numbers: Sequence[str]) -> set[str]:
        """The numbers among ``numbers`` that were forgotten while opted out."""
        ...


@runtime_checkable
class SendLog(Protocol):
    """The log of sends (and live reservations) used for caps and dedupe."""

    def record_send(self, record: SendRecord) -> SendRecord:
        """Store a send durably."""
        ...

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        """Each number's sends at or after ``since`` (a key may also be ``person:<id>``)."""
        ...


@runtime_checkable
class Reservations(Protocol):
    """Atomic check-and-count for sends about to go out."""

    def reserve(self, number: str, *, since: dt.datetime, decide: Decide) -> SendRecord | None:
        """Under an exclusive hold on ``number``'s sends, call ``decide`` and store its record."""
        ...

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        """Mark a reservation sent (with the provider id) or drop it."""
        ...


@runtime_checkable
class BatchReservations(Protocol):
    """Reservations for many recipients at once, in as few round trips as the backend allows.

    Optional: :meth:`smspolicy.Engine.reserve_many` uses it when the store has it and falls
    back to one :meth:`Reservations.reserve` per message otherwise.
    """

    def reserve_many(
        self, numbers: Sequence[str], *, since: dt.datetime, decide: DecideMany
    ) -> dict[str, list[SendRecord]]:
        """For each distinct number, under the same exclusive hold as ``reserve``, call
        ``decide(number, sends)`` and store the records it returns; return what was stored,
        by number. A store may call ``decide`` again for a number whose sends changed before
        its write could land (only the last call's records are stored)."""
        ...

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        """Settle many reservations: as :meth:`Reservations.settle` for each."""
        ...


@runtime_checkable
class Audience(Protocol):
    """Who is on the lists and when each last engaged."""

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        """Note that the number engaged (replied, clicked...) at ``at``."""
        ...

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        """Each number's latest engagement, or None."""
        ...

    def numbers(self) -> list[str]:
        """Every number with consent records, for list audits."""
        ...


@runtime_checkable
class LookupCache(Protocol):
    """A small key-value cache with expiry, for external lookups (line types, time zones)."""

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        """The value stored under ``key`` if it has not expired at ``now``."""
        ...

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        """Store ``value`` under ``key`` until ``expires``."""
        ...


@runtime_checkable
class Store(ConsentLedger, SendLog, Reservations, Audience, LookupCache, Protocol):
    """A full store: consent ledger, send log, reservations, audience and lookup cache."""
