"""The asynchronous store protocol, and the bridges between it and the synchronous one.

:class:`AsyncStore` is :class:`smspolicy.store.Store` with every method a coroutine: the same
arguments, the same answers, the same guarantees (a reservation's ``decide`` is still a plain
function, called under the store's lock). :class:`smspolicy.AsyncEngine` awaits it.

- :class:`ThreadedStore` makes any synchronous store (SQLite, memory, or any other) an async
  one by running each call in a worker thread (``asyncio.to_thread``).
- :class:`BlockingStore` goes the other way: it gives synchronous code running in a *worker
  thread* a :class:`Store` whose calls run as coroutines on an event loop. The async engine
  runs the consent ledger, inbound texts and audits (the same code as :class:`Engine`'s)
  this way, so there is one implementation of each.
- :class:`AsyncComposedStore` is :class:`ComposedStore` for async stores.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from .._records import ConsentEvent, SendRecord
from ..errors import ConfigurationError, StoreUnavailableError
from ._base import (
    Decide,
    DecideHolds,
    DecideMany,
    PersonsOf,
    Settlement,
    Snapshot,
    Store,
    missing_methods,
)
from ._profiles import ProfileRecord, ProfileStore
from .composed import ComposedStore

__all__ = [
    "AsyncComposedStore",
    "AsyncCounters",
    "AsyncProfileStore",
    "AsyncSendLog",
    "AsyncStore",
    "BlockingStore",
    "ProfileBlockingStore",
    "ThreadedStore",
    "keeps_profiles",
]

T = TypeVar("T")


@runtime_checkable
class AsyncSendLog(Protocol):
    """What :class:`AsyncCounters` and :class:`AsyncStore` both have: sends, reservations,
    engagement and the lookup cache, as coroutines."""

    async def record_send(self, record: SendRecord) -> SendRecord:
        """As :meth:`smspolicy.store.SendLog.record_send`."""
        ...

    async def sends(
        self, numbers: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        """As :meth:`smspolicy.store.SendLog.sends`."""
        ...

    async def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        """As :meth:`smspolicy.store.SendLog.person_sends`."""
        ...

    async def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        """As :meth:`smspolicy.store.Reservations.hold` (``decide`` is a plain function)."""
        ...

    async def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        """As :meth:`smspolicy.store.Reservations.reserve_many`."""
        ...

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        """As :meth:`smspolicy.store.Reservations.settle_many`."""
        ...

    async def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        """As :meth:`smspolicy.store.Audience.record_engagement`."""
        ...

    async def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        """As :meth:`smspolicy.store.Audience.last_engagement`."""
        ...

    async def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        """As :meth:`smspolicy.store.LookupCache.cache_get`."""
        ...

    async def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        """As :meth:`smspolicy.store.LookupCache.cache_put`."""
        ...

    async def close(self) -> None:
        """Release the store's connections."""
        ...


@runtime_checkable
class AsyncCounters(AsyncSendLog, Protocol):
    """:class:`smspolicy.store.Counters` with coroutine methods: sends, reservations,
    engagement and the lookup cache, but no consent ledger (pair it with a ledger through
    :class:`AsyncComposedStore`)."""

    async def forget_sends(self, number: str) -> None:
        """As :meth:`smspolicy.store.Counters.forget_sends`."""
        ...


@runtime_checkable
class AsyncProfileStore(Protocol):
    """:class:`smspolicy.store.ProfileStore` with coroutine methods: recipients' profiles and
    person links, in the same tables and keys as the synchronous stores."""

    async def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        """As :meth:`smspolicy.store.ProfileStore.upsert_profiles`."""
        ...

    async def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        """As :meth:`smspolicy.store.ProfileStore.profiles`."""
        ...


def keeps_profiles(store: object) -> bool:
    """True when the async ``store`` keeps profiles: a :class:`ThreadedStore` over a
    :class:`smspolicy.store.ProfileStore`, an :class:`AsyncComposedStore` one of whose parts
    keeps them, or any other :class:`AsyncProfileStore`."""
    if isinstance(store, ThreadedStore):
        inner = store.store
        if isinstance(inner, ComposedStore):
            return any(isinstance(part, ProfileStore) for part in (inner.ledger, inner.counters))
        return isinstance(inner, ProfileStore)
    if isinstance(store, AsyncComposedStore):
        return any(keeps_profiles(part) for part in (store.ledger, store.counters))
    return isinstance(store, AsyncProfileStore)


@runtime_checkable
class AsyncStore(AsyncSendLog, Protocol):
    """:class:`smspolicy.store.Store` with coroutine methods (see the module docstring)."""

    async def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        """As :meth:`smspolicy.store.ConsentLedger.append_consent`."""
        ...

    async def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        """As :meth:`smspolicy.store.ConsentLedger.consent_events`."""
        ...

    async def forget(self, number: str) -> None:
        """As :meth:`smspolicy.store.ConsentLedger.forget`."""
        ...

    async def suppressed(self, numbers: Sequence[str]) -> set[str]:
        """As :meth:`smspolicy.store.ConsentLedger.suppressed`."""
        ...

    async def reserve(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: Decide,
        persons: Collection[str] = (),
    ) -> SendRecord | None:
        """:meth:`hold` for at most one record, as :meth:`smspolicy.store.Reservations.reserve`
        (this default is built on :meth:`hold`)."""

        def one(records: list[SendRecord]) -> list[SendRecord]:
            record = decide(records)
            return [] if record is None else [record]

        held = await self.hold(number, since=since, decide=one, persons=persons)
        return held[0] if held else None

    async def numbers(self) -> list[str]:
        """As :meth:`smspolicy.store.Audience.numbers`."""
        ...

    async def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        """As :meth:`smspolicy.store.Store.snapshot`."""
        ...


class ThreadedStore(AsyncStore):
    """Any synchronous :class:`smspolicy.store.Store` as an :class:`AsyncStore`: each call runs
    in a worker thread (``asyncio.to_thread``, the loop's default executor), so the event loop
    never blocks on it. This is how :class:`smspolicy.store.SQLiteStore` and
    :class:`smspolicy.store.MemoryStore` serve :class:`smspolicy.AsyncEngine`.

    A call cancelled while its thread runs still completes in that thread (a thread cannot be
    interrupted); the async engine releases any hold it made.
    """

    def __init__(self, store: Store) -> None:
        if not isinstance(store, Store):
            missing = ", ".join(missing_methods(store, Store))
            raise ConfigurationError(
                f"ThreadedStore needs a smspolicy.store.Store, got {store!r} (missing: {missing})"
            )
        self.store = store

    def __repr__(self) -> str:
        return f"ThreadedStore({self.store!r})"

    async def _run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(function, *args, **kwargs)

    async def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        return await self._run(self.store.append_consent, event)

    async def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        return await self._run(self.store.consent_events, numbers)

    async def forget(self, number: str) -> None:
        await self._run(self.store.forget, number)

    async def suppressed(self, numbers: Sequence[str]) -> set[str]:
        return await self._run(self.store.suppressed, numbers)

    async def record_send(self, record: SendRecord) -> SendRecord:
        return await self._run(self.store.record_send, record)

    async def sends(
        self, numbers: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return await self._run(self.store.sends, numbers, since=since)

    async def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return await self._run(self.store.person_sends, persons, since=since)

    async def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        return await self._run(self.store.hold, number, since=since, decide=decide, persons=persons)

    async def reserve(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: Decide,
        persons: Collection[str] = (),
    ) -> SendRecord | None:
        return await self._run(
            self.store.reserve, number, since=since, decide=decide, persons=persons
        )

    async def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        return await self._run(
            self.store.reserve_many, numbers, since=since, decide=decide, persons=persons
        )

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        await self._run(self.store.settle_many, settlements)

    async def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        await self._run(self.store.record_engagement, number, at=at, kind=kind)

    async def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        return await self._run(self.store.last_engagement, numbers)

    async def numbers(self) -> list[str]:
        return await self._run(self.store.numbers)

    async def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        return await self._run(self.store.cache_get, key, now=now)

    async def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        await self._run(self.store.cache_put, key, value, expires=expires)

    def _profile_store(self) -> ProfileStore:
        if not isinstance(self.store, ProfileStore):
            raise ConfigurationError(f"{self.store!r} does not keep profiles")
        return self.store

    async def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        return await self._run(self._profile_store().upsert_profiles, records)

    async def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        return await self._run(self._profile_store().profiles, addresses)

    async def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        return await self._run(self.store.snapshot, numbers, persons=persons, since=since)

    async def close(self) -> None:
        await self._run(self.store.close)


class BlockingStore(Store):
    """An :class:`AsyncStore` as a synchronous :class:`smspolicy.store.Store`, for code that
    runs in a worker thread while ``loop`` runs the store's coroutines. A call from the loop's
    own thread would wait on itself forever, so it raises :class:`RuntimeError` instead.

    ``loop`` may be left None and set later (the async engine sets it to its running loop).
    """

    def __init__(self, store: AsyncStore, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.store = store
        self.loop = loop

    def __repr__(self) -> str:
        return f"BlockingStore({self.store!r})"

    def _wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        loop = self.loop
        running: asyncio.AbstractEventLoop | None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or loop.is_closed() or running is loop:
            coroutine.close()
            if running is loop and loop is not None:
                raise RuntimeError(
                    "a BlockingStore was called on its event loop's thread, where it would "
                    "wait on itself: await the AsyncStore instead"
                )
            raise StoreUnavailableError("the event loop of this async store is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        return self._wait(self.store.append_consent(event))

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        return self._wait(self.store.consent_events(numbers))

    def forget(self, number: str) -> None:
        self._wait(self.store.forget(number))

    def suppressed(self, numbers: Sequence[str]) -> set[str]:
        return self._wait(self.store.suppressed(numbers))

    def record_send(self, record: SendRecord) -> SendRecord:
        return self._wait(self.store.record_send(record))

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        return self._wait(self.store.sends(numbers, since=since))

    def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return self._wait(self.store.person_sends(persons, since=since))

    def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        return self._wait(self.store.hold(number, since=since, decide=decide, persons=persons))

    def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        return self._wait(
            self.store.reserve_many(numbers, since=since, decide=decide, persons=persons)
        )

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        self._wait(self.store.settle_many([(record, provider_id, sent)]))

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        self._wait(self.store.settle_many(settlements))

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        self._wait(self.store.record_engagement(number, at=at, kind=kind))

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        return self._wait(self.store.last_engagement(numbers))

    def numbers(self) -> list[str]:
        return self._wait(self.store.numbers())

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        return self._wait(self.store.cache_get(key, now=now))

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        self._wait(self.store.cache_put(key, value, expires=expires))

    def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        return self._wait(self.store.snapshot(numbers, persons=persons, since=since))

    def close(self) -> None:
        self._wait(self.store.close())


class ProfileBlockingStore(BlockingStore):
    """A :class:`BlockingStore` over an async store that keeps profiles: a synchronous
    :class:`smspolicy.store.ProfileStore` too."""

    store: AsyncProfileStore  # type: ignore[assignment]

    def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        return self._wait(self.store.upsert_profiles(records))

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        return self._wait(self.store.profiles(addresses))


class AsyncComposedStore(AsyncStore):
    """:class:`smspolicy.store.ComposedStore` for async stores: the consent ledger (and list
    of numbers) from ``ledger``, sends, reservations and engagement from ``counters``, e.g.
    ``AsyncComposedStore(await AsyncPostgresStore.open(dsn), AsyncRedisStore(url))``."""

    def __init__(self, ledger: AsyncStore, counters: AsyncCounters) -> None:
        if not isinstance(ledger, AsyncStore):
            raise ConfigurationError(f"ledger must be an AsyncStore, got {ledger!r}")
        if not isinstance(counters, AsyncCounters):
            raise ConfigurationError(f"counters must be AsyncCounters, got {counters!r}")
        self.ledger = ledger
        self.counters = counters

    def __repr__(self) -> str:
        return f"AsyncComposedStore({self.ledger!r}, {self.counters!r})"

    async def close(self) -> None:
        """Close both stores."""
        try:
            await self.ledger.close()
        finally:
            await self.counters.close()

    async def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        return await self.ledger.append_consent(event)

    async def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        return await self.ledger.consent_events(numbers)

    async def forget(self, number: str) -> None:
        await self.ledger.forget(number)
        await self.counters.forget_sends(number)

    async def suppressed(self, numbers: Sequence[str]) -> set[str]:
        return await self.ledger.suppressed(numbers)

    async def numbers(self) -> list[str]:
        return await self.ledger.numbers()

    async def record_send(self, record: SendRecord) -> SendRecord:
        return await self.counters.record_send(record)

    async def sends(
        self, numbers: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return await self.counters.sends(numbers, since=since)

    async def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return await self.counters.person_sends(persons, since=since)

    async def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        return await self.counters.hold(number, since=since, decide=decide, persons=persons)

    async def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        return await self.counters.reserve_many(
            numbers, since=since, decide=decide, persons=persons
        )

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        await self.counters.settle_many(settlements)

    async def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        await self.counters.record_engagement(number, at=at, kind=kind)

    async def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        return await self.counters.last_engagement(numbers)

    async def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        return await self.counters.cache_get(key, now=now)

    async def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        await self.counters.cache_put(key, value, expires=expires)

    def _profile_store(self) -> AsyncProfileStore:
        for part in (self.ledger, self.counters):
            if keeps_profiles(part):
                return cast("AsyncProfileStore", part)
        raise ConfigurationError(f"neither part of {self!r} keeps profiles")

    async def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        """Profiles go to the ledger's store when it keeps them, else to the counters'."""
        return await self._profile_store().upsert_profiles(records)

    async def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        return await self._profile_store().profiles(addresses)

    async def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        consent, suppressed, sends, by_person, engagement = await asyncio.gather(
            self.ledger.consent_events(numbers),
            self.ledger.suppressed(numbers),
            self.counters.sends(numbers, since=since),
            self.counters.person_sends(persons, since=since),
            self.counters.last_engagement(numbers),
        )
        return Snapshot(
            consent=consent,
            suppressed=frozenset(suppressed),
            sends=sends,
            person_sends=by_person,
            engagement=engagement,
        )
