"""A store made of two: the consent ledger in one backend, sends and counters in another."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from .._records import ConsentEvent, SendRecord
from ..errors import ConfigurationError
from ._base import (
    Audience,
    ConsentLedger,
    Decide,
    LookupCache,
    Reservations,
    SendLog,
    Settlement,
)

__all__ = ["ComposedStore"]


@runtime_checkable
class _CounterStore(SendLog, Reservations, LookupCache, Protocol):
    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None: ...

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]: ...

    def forget_sends(self, number: str) -> None: ...


class ComposedStore:
    """The consent ledger (and list of numbers) from ``ledger``, sends, reservations and
    engagement from ``counters``: e.g. ``ComposedStore(PostgresStore(dsn), RedisStore(url))``.
    ``forget`` erases from both."""

    def __init__(self, ledger: ConsentLedger, counters: _CounterStore) -> None:
        if not isinstance(ledger, ConsentLedger) or not isinstance(ledger, Audience):
            raise ConfigurationError(
                "ledger must be a full store such as PostgresStore or SQLiteStore"
            )
        if not isinstance(counters, _CounterStore):
            raise ConfigurationError("counters must be a counter store such as RedisStore")
        self.ledger = ledger
        self.counters = counters

    def __repr__(self) -> str:
        return f"ComposedStore({self.ledger!r}, {self.counters!r})"

    def close(self) -> None:
        """Close both stores."""
        for store in (self.ledger, self.counters):
            close = getattr(store, "close", None)
            if close is not None:
                close()

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        return self.ledger.append_consent(event)

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        return self.ledger.consent_events(numbers)

    def forget(self, number: str) -> None:
        self.ledger.forget(number)
        self.counters.forget_sends(number)

    def suppressed(self, numbers: Sequence[str]) -> set[str]:
        return self.ledger.suppressed(numbers)

    def numbers(self) -> list[str]:
        return self.ledger.numbers()

    def record_send(self, record: SendRecord) -> SendRecord:
        return self.counters.record_send(record)

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        return self.counters.sends(numbers, since=since)

    def reserve(self, number: str, *, since: dt.datetime, decide: Decide) -> SendRecord | None:
        return self.counters.reserve(number, since=since, decide=decide)

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        self.counters.settle(record, provider_id=provider_id, sent=sent)

    @property
    def reserve_many(self) -> Callable[..., dict[str, list[SendRecord]]] | None:
        """The counters store's batch reservation, or None when it has none (the engine then
        reserves one message at a time)."""
        many: Callable[..., dict[str, list[SendRecord]]] | None = getattr(
            self.counters, "reserve_many", None
        )
        return many

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        many = getattr(self.counters, "settle_many", None)
        if many is not None:
            many(settlements)
            return
        for record, provider_id, sent in settlements:
            self.counters.settle(record, provider_id=provider_id, sent=sent)

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        self.counters.record_engagement(number, at=at, kind=kind)

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        return self.counters.last_engagement(numbers)

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        return self.counters.cache_get(key, now=now)

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        self.counters.cache_put(key, value, expires=expires)
