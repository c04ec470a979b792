"""The store protocols: what the engine needs from any backend.

Each protocol names a few required methods. The optional ones (batches, the one-round-trip
``snapshot``) have correct default implementations built from the required ones, which a store
gets by subclassing the protocol (as Hypothesis' ``ExampleDatabase`` builds ``move`` from
``save`` and ``delete``) and overrides when its backend can do better. Callers use every method
unconditionally.

Addresses (phone numbers in E.164, or any other channel's address) and persons
(``Message.person``) are separate namespaces: each has its own parameter or method, and no
address can ever be read as a person or the other way round.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from .._memo import lru
from .._records import ConsentEvent, SendRecord

__all__ = [
    "Audience",
    "BatchReservations",
    "ConsentLedger",
    "Counters",
    "Decide",
    "DecideHolds",
    "DecideMany",
    "LookupCache",
    "Reservations",
    "SendLog",
    "Settlement",
    "Snapshot",
    "Store",
    "missing_methods",
    "suppression_key",
]

Decide = Callable[[list[SendRecord]], SendRecord | None]
"""Given the sends under a reservation's lock, return the one record to hold, or None."""

DecideHolds = Callable[[list[SendRecord]], list[SendRecord]]
"""Given the sends under a reservation's lock, return the records to hold (maybe none)."""

DecideMany = Callable[[str, list[SendRecord]], list[SendRecord]]
"""Given one address and the sends under its lock, return the records to hold for it."""

Settlement = tuple[SendRecord, str | None, bool]
"""A reservation's record, the provider id, and True when sent (False drops the hold)."""

PersonsOf = Mapping[str, Collection[str]]
"""For some addresses of a batch, the persons whose sends their decisions also read."""


def send_order(record: SendRecord) -> tuple[dt.datetime, str]:
    """The order of sends everywhere: oldest first, ties by id."""
    return (record.at, record.id)


@lru(16384)  # every read of a batch checks every number's key
def suppression_key(number: str) -> str:
    """The one-way key under which a forgotten number stays suppressed."""
    return hashlib.sha256(f"smspolicy-suppression:{number}".encode()).hexdigest()


@attrs.frozen(kw_only=True)
class Snapshot:
    """What a store holds for a batch of recipients, read together (see :meth:`Store.snapshot`).

    ``sends`` is keyed by address and ``person_sends`` by person: an address that happens to
    look like a person id is still an address.
    """

    consent: Mapping[str, list[ConsentEvent]]
    suppressed: frozenset[str]
    sends: Mapping[str, list[SendRecord]]
    person_sends: Mapping[str, list[SendRecord]]
    engagement: Mapping[str, dt.datetime | None]


def merged_sends(own: Sequence[SendRecord], *others: Sequence[SendRecord]) -> list[SendRecord]:
    """``own`` and ``others`` as one list, each record once (by id), oldest first."""
    if not any(others):
        return list(own)
    records = {r.id: r for r in own}
    for more in others:
        for record in more:
            records.setdefault(record.id, record)
    return sorted(records.values(), key=send_order)


def decide_in_order(
    addresses: Sequence[str],
    persons: PersonsOf,
    own: Mapping[str, Sequence[SendRecord]],
    by_person: Mapping[str, Sequence[SendRecord]],
    decide: DecideMany,
) -> dict[str, list[SendRecord]]:
    """Call ``decide`` for each address in order, on its own sends and its persons' sends as
    read under the batch's locks (``own`` and ``by_person`` hold every address and person of
    the batch), plus the holds already decided in this batch for those persons on other
    addresses; returns the holds by address. The shared middle of every store's batch
    reservation."""
    stored: dict[str, list[SendRecord]] = {}
    decided: dict[str, list[SendRecord]] = {}  # holds of this batch, by person
    for address in addresses:
        wanted = persons.get(address)
        if wanted:
            records = merged_sends(
                own[address],
                *(by_person[p] for p in wanted),
                *(decided.get(p, ()) for p in wanted),
            )
        else:  # the common case, kept cheap: an address alone
            records = list(own[address])
        holds = stored[address] = list(decide(address, records))
        for hold in holds:
            if hold.person is not None:
                decided.setdefault(hold.person, []).append(hold)
    return stored


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
        """Erase everything the store holds about the number (its events, sends, engagement,
        its entries in any index and cache), keeping only a hashed suppression marker when it
        had opted out."""
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
        """Each address's sends at or after ``since``, oldest first."""
        ...

    def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        """Each person's sends (on any address) at or after ``since``, oldest first."""
        ...


@runtime_checkable
class Reservations(Protocol):
    """Atomic check-and-count for sends about to go out.

    Required: :meth:`hold` and :meth:`settle`. The rest are built from them; a store overrides
    them when it can lock and write a whole batch in fewer round trips.
    """

    def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        """Under an exclusive lock on ``number`` and on each of ``persons``, call ``decide``
        with the sends at or after ``since`` of the number and of those persons (on any
        address; each record once, oldest first), store the records it returns (a record with
        the id of a stored one, for the same address, person and instant, replaces it) and
        return them. A store may call ``decide`` again
        when the sends changed before its write could land; only the last call's records are
        stored."""
        ...

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        """Mark a reservation sent (with the provider id) or drop it; a record that is no
        longer there (forgotten) is left alone."""
        ...

    def reserve(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: Decide,
        persons: Collection[str] = (),
    ) -> SendRecord | None:
        """:meth:`hold` for at most one record: ``decide`` returns it or None."""

        def one(records: list[SendRecord]) -> list[SendRecord]:
            record = decide(records)
            return [] if record is None else [record]

        held = self.hold(number, since=since, decide=one, persons=persons)
        return held[0] if held else None

    def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        """For each distinct address in order, as :meth:`hold` with ``persons[address]``, call
        ``decide(address, sends)`` and store the records it returns; return what was stored, by
        address. An address's sends include the holds stored earlier in the batch for its
        persons. (This default holds one address at a time.)"""
        persons = persons or {}
        return {
            number: self.hold(
                number,
                since=since,
                decide=functools.partial(decide, number),
                persons=persons.get(number, ()),
            )
            for number in dict.fromkeys(numbers)
        }

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        """Settle many reservations, as :meth:`settle` for each."""
        for record, provider_id, sent in settlements:
            self.settle(record, provider_id=provider_id, sent=sent)


class HoldsByBatch(Reservations):
    """For a store whose primitive is :meth:`reserve_many` (it locks and writes a whole batch
    at once): :meth:`hold` is a batch of one address. List it before ``Store`` or ``Counters``
    in the store's bases."""

    def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        return self.reserve_many(
            [number], since=since, decide=lambda _n, r: decide(r), persons={number: persons}
        )[number]


BatchReservations = Reservations
"""The batch half of :class:`Reservations` (``reserve_many`` and ``settle_many``): every store
has it, through the defaults, so this is the same protocol."""


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
class Counters(SendLog, Reservations, LookupCache, Protocol):
    """A store for everything but the consent ledger (sends, reservations, engagement, the
    lookup cache), such as :class:`smspolicy.store.RedisStore`; pair it with a ledger through
    :class:`smspolicy.store.ComposedStore`."""

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        """Note that the number engaged (replied, clicked...) at ``at``."""
        ...

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        """Each number's latest engagement, or None."""
        ...

    def forget_sends(self, number: str) -> None:
        """Erase the number's sends (from every index), engagement and cache entries."""
        ...

    def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        """The counters' part of :meth:`Store.snapshot`: the sends of ``numbers`` (at or after
        ``since``) and of ``persons``, and the numbers' engagement; no consent and nothing
        suppressed (those are the ledger's). By default three reads; a store that can read
        them in one round trip overrides this."""
        return Snapshot(
            consent={},
            suppressed=frozenset(),
            sends=self.sends(numbers, since=since),
            person_sends=self.person_sends(persons, since=since),
            engagement=self.last_engagement(numbers),
        )

    def close(self) -> None:
        """Release the store's connections (by default there are none)."""
        return  # explicit: a default, not an abstract method


@runtime_checkable
class Store(ConsentLedger, SendLog, Reservations, Audience, LookupCache, Protocol):
    """A full store: consent ledger, send log, reservations, audience and lookup cache.

    Subclass it to get the defaults of the optional methods.
    """

    def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        """Everything the engine reads to decide for ``numbers`` (consent, suppression, sends
        at or after ``since``, engagement) and the sends of ``persons``. By default five reads;
        a store that can read them in one round trip overrides this."""
        return Snapshot(
            consent=self.consent_events(numbers),
            suppressed=frozenset(self.suppressed(numbers)),
            sends=self.sends(numbers, since=since),
            person_sends=self.person_sends(persons, since=since),
            engagement=self.last_engagement(numbers),
        )

    def close(self) -> None:
        """Release the store's connections (by default there are none)."""
        return  # explicit: a default, not an abstract method


def missing_methods(store: object, protocol: type) -> list[str]:
    """The public methods of ``protocol`` (and of the protocols it extends) that ``store``
    lacks, sorted: for a clear configuration error."""
    names = {
        name
        for klass in protocol.__mro__
        for name, value in vars(klass).items()
        if callable(value) and not name.startswith("_")
    }
    return sorted(name for name in names if not callable(getattr(store, name, None)))
