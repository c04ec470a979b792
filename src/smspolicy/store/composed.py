"""A store made of two: the consent ledger in one backend, sends and counters in another."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

from .._records import ConsentEvent, SendRecord
from ..errors import ConfigurationError
from ._base import (
    Counters,
    DecideHolds,
    DecideMany,
    PersonsOf,
    Settlement,
    Snapshot,
    Store,
    missing_methods,
)
from ._profiles import ProfileRecord, ProfileStore
from ._slots import SlotStore

__all__ = ["ComposedStore"]


class ComposedStore(Store):
    """The consent ledger (and list of numbers) from ``ledger``, sends, reservations and
    engagement from ``counters``: e.g. ``ComposedStore(PostgresStore(dsn), RedisStore(url))``.
    ``forget`` erases from both."""

    def __init__(self, ledger: Store, counters: Counters) -> None:
        if not isinstance(ledger, Store):
            missing = ", ".join(missing_methods(ledger, Store))
            raise ConfigurationError(
                "ledger must be a full store such as PostgresStore or SQLiteStore "
                f"(missing: {missing})"
            )
        if not isinstance(counters, Counters):
            missing = ", ".join(missing_methods(counters, Counters))
            raise ConfigurationError(
                f"counters must be a counter store such as RedisStore (missing: {missing})"
            )
        self.ledger = ledger
        self.counters = counters

    def __repr__(self) -> str:
        return f"ComposedStore({self.ledger!r}, {self.counters!r})"

    def close(self) -> None:
        """Close both stores."""
        self.ledger.close()
        self.counters.close()

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        return self.ledger.append_consent(event)

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        return self.ledger.consent_events(numbers)

    def _profile_store(self) -> ProfileStore:
        for part in (self.ledger, self.counters):
            if isinstance(part, ProfileStore):
                return part
        raise ConfigurationError(f"neither part of {self!r} keeps profiles")

    def claim_slot(self, key: str, *, now_us: int, interval_us: int) -> int:
        """Slots live in the counters' store when it hands them out, else in the ledger's."""
        for part in (self.counters, self.ledger):
            if isinstance(part, SlotStore):
                return part.claim_slot(key, now_us=now_us, interval_us=interval_us)
        raise ConfigurationError(f"neither part of {self!r} hands out send slots")

    def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        """Profiles go to the ledger's store when it keeps them, else to the counters'."""
        return self._profile_store().upsert_profiles(records)

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        return self._profile_store().profiles(addresses)

    def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        """Consent and suppression from the ledger, sends and engagement from the counters'
        :meth:`Counters.snapshot` (one round trip on Redis)."""
        counts = self.counters.snapshot(numbers, persons=persons, since=since)
        return Snapshot(
            consent=self.ledger.consent_events(numbers),
            suppressed=frozenset(self.ledger.suppressed(numbers)),
            sends=counts.sends,
            person_sends=counts.person_sends,
            engagement=counts.engagement,
        )

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

    def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return self.counters.person_sends(persons, since=since)

    def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        return self.counters.hold(number, since=since, decide=decide, persons=persons)

    def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        return self.counters.reserve_many(numbers, since=since, decide=decide, persons=persons)

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        self.counters.settle(record, provider_id=provider_id, sent=sent)

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        self.counters.settle_many(settlements)

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        self.counters.record_engagement(number, at=at, kind=kind)

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        return self.counters.last_engagement(numbers)

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        return self.counters.cache_get(key, now=now)

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        self.counters.cache_put(key, value, expires=expires)
