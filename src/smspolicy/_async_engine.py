"""The asynchronous engine: :class:`Engine`'s decisions, awaited on an :class:`AsyncStore`.

It decides through the same decider and reserves through the same batch plan as
:class:`Engine` (one implementation of every rule and of the reservation protocol): it awaits
the store for a snapshot, then hands the snapshot to the decider. The consent ledger, inbound
texts and audits, which interleave many small reads and writes, run :class:`Engine`'s own code
in a worker thread, over the store through :class:`smspolicy.store.async_base.BlockingStore`
(their store calls still run as coroutines on the event loop).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import itertools
import logging
import weakref
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, Literal, ParamSpec, TypeVar, cast

from phonenumbers import PhoneNumber

from ._audit import Audit
from ._clock import Clock
from ._engine import DEFAULT_HISTORY, Engine, _check_messages, _not_a_store
from ._inbound import InboundResult
from ._recipients import DEFAULT_CACHE_SIZE, LineTypeLookup, Profile, ProfileSource, Recipient
from ._records import SendRecord
from ._reserve import (
    DEFAULT_HOLD,
    BatchPlan,
    Reservation,
    claim_all,
    pending_of,
    recount_expired,
    send_record,
)
from ._time import ensure_duration
from ._values import Decision, Message, check_text, iterate
from .consent import DEFAULT_PENDING_EXPIRY, Ledger
from .errors import (
    ConfigurationError,
    InvalidInputError,
    ReservationExpiredError,
    RuleError,
    StoreUnavailableError,
)
from .programs import Program
from .store import MemoryStore, Snapshot, Store
from .store._base import Settlement
from .store._profiles import ProfileRecord, ProfileStore
from .store.async_base import (
    AsyncCounters,
    AsyncProfileStore,
    AsyncStore,
    BlockingStore,
    ProfileBlockingStore,
    ThreadedStore,
    keeps_profiles,
)
from .typing import Rule

__all__ = ["AsyncEngine", "AsyncLedger", "AsyncReservation"]

log = logging.getLogger("smspolicy")

P = ParamSpec("P")
T = TypeVar("T")

_BATCH = 512


async def _offload(
    bridge: BlockingStore | None, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run synchronous engine code in a worker thread; its store calls come back to this loop."""
    if bridge is not None:
        bridge.loop = asyncio.get_running_loop()
    return await asyncio.to_thread(function, *args, **kwargs)


def _offloaded(
    bridge: BlockingStore | None, method: Callable[P, T]
) -> Callable[P, Coroutine[Any, Any, T]]:
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        return await _offload(bridge, method, *args, **kwargs)

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


class AsyncLedger:
    """:class:`smspolicy.consent.Ledger` with coroutine methods, each the ledger's own code run
    in a worker thread (see :class:`AsyncEngine`)."""

    def __init__(self, ledger: Ledger, bridge: BlockingStore | None) -> None:
        self.ledger = ledger
        self.opt_in = _offloaded(bridge, ledger.opt_in)
        self.confirm = _offloaded(bridge, ledger.confirm)
        self.imply = _offloaded(bridge, ledger.imply)
        self.revoke = _offloaded(bridge, ledger.revoke)
        self.hold = _offloaded(bridge, ledger.hold)
        self.history = _offloaded(bridge, ledger.history)
        self.proof = _offloaded(bridge, ledger.proof)
        self.verify = _offloaded(bridge, ledger.verify)

    def __repr__(self) -> str:
        return f"AsyncLedger({self.ledger!r})"


class AsyncReservation:
    """The outcome of :meth:`AsyncEngine.reserve`: as :class:`smspolicy.Reservation`, with
    ``await commit(provider_id)`` and ``await release()``."""

    __slots__ = ("_engine", "reservation")

    def __init__(self, engine: AsyncEngine, reservation: Reservation) -> None:
        self._engine = engine
        self.reservation = reservation

    @property
    def decision(self) -> Decision:
        """The policy's decision."""
        return self.reservation.decision

    @property
    def record(self) -> SendRecord | None:
        """The held send-log record (None when nothing is held)."""
        return self.reservation.record

    @property
    def message(self) -> Message | None:
        """The message reserved for."""
        return self.reservation.message

    @property
    def allowed(self) -> bool:
        """True when a slot is held and the message may go now."""
        return self.reservation.allowed

    @property
    def expires(self) -> dt.datetime | None:
        """When the held slot stops counting unless committed (None when nothing is held)."""
        return self.reservation.expires

    async def commit(self, provider_id: str | None = None) -> None:
        """As :meth:`smspolicy.Reservation.commit`."""
        await self._engine.settle_many([(self, provider_id, True)])

    async def release(self) -> None:
        """As :meth:`smspolicy.Reservation.release`."""
        await self._engine.settle_many([(self, None, False)])

    def __repr__(self) -> str:
        return f"Async{self.reservation!r}"


async def _settle_quietly(store: AsyncStore, settlements: Sequence[Settlement]) -> None:
    try:
        await store.settle_many(settlements)
    except Exception as error:  # the holds expire on their own; say so
        log.warning("could not release the holds of a cancelled reservation: %s", error)


async def _outlast(task: asyncio.Future[T]) -> None:
    """Wait until ``task`` is done, whatever cancellations arrive meanwhile."""
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            continue


_VIEWS: weakref.WeakKeyDictionary[AsyncStore, BlockingStore] = weakref.WeakKeyDictionary()


def _blocking_view(store: AsyncStore) -> BlockingStore:
    """The one synchronous view of ``store``: engines sharing a store settle each other's
    reservations, as synchronous engines do. A store that keeps profiles gets a view that
    keeps them too, so the engine reads its profiles and person links as :class:`Engine`
    does."""
    view = _VIEWS.get(store)
    if view is None:
        kind = ProfileBlockingStore if keeps_profiles(store) else BlockingStore
        view = _VIEWS[store] = kind(store)
    return view


_READ_AHEAD: contextvars.ContextVar[dict[str, ProfileRecord | None] | None] = (
    contextvars.ContextVar("smspolicy_profiles_read_ahead", default=None)
)
"""The profile records the async engine read ahead (awaited) for the batch its task decides."""


class _ReadAhead:
    """The engine's :class:`ProfileStore`: the records the async engine awaited for the
    current batch (so the shared decider, a plain function on the event loop, never waits on
    the store), else the store itself (code run in a worker thread: ledger, inbound, the AWS
    guards), whose reads are then kept for the rest of that thread's call."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"_ReadAhead({self.store!r})"

    def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        return self.store.upsert_profiles(records)

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        known = _READ_AHEAD.get()
        if known is not None and all(address in known for address in addresses):
            return {address: known[address] for address in addresses}
        found = self.store.profiles(addresses)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread: what it read goes with the store calls it
            # makes next (their coroutines run in a copy of this thread's context, and a
            # reservation's decide reads profiles on the loop's thread)
            _READ_AHEAD.set({**(known or {}), **found})
        return found


class AsyncEngine:
    """:class:`smspolicy.Engine` for asyncio: the same arguments and the same decisions, with
    coroutine methods and an :class:`smspolicy.store.async_base.AsyncStore`.

    ``store`` is an async store (:class:`smspolicy.store.async_postgres.AsyncPostgresStore`,
    :class:`smspolicy.store.async_redis.AsyncRedisStore` through
    :class:`smspolicy.store.async_base.AsyncComposedStore`), or a synchronous store, which is
    wrapped in :class:`smspolicy.store.async_base.ThreadedStore` (each call in a worker
    thread); None is a :class:`MemoryStore` so wrapped.

    Fail closed, as :class:`Engine`: a store error gives DENY ``store.unavailable`` (or DEFER).
    A reservation cancelled while its store call runs lets that call finish, releases whatever
    it held, then raises :class:`asyncio.CancelledError`: a cancelled reservation is never
    counted.
    """

    def __init__(
        self,
        policy: Rule,
        store: AsyncStore | Store | None = None,
        clock: Clock | None = None,
        *,
        profiles: ProfileSource | None = None,
        line_type_lookup: LineTypeLookup | None = None,
        default_region: str | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        history: dt.timedelta = DEFAULT_HISTORY,
        on_store_error: Literal["deny", "defer"] = "deny",
        store_retry: dt.timedelta = dt.timedelta(minutes=5),
        programs: Iterable[Program] = (),
        pending_expiry: dt.timedelta = DEFAULT_PENDING_EXPIRY,
        unclear_hold: dt.timedelta | None = None,
        trust_profile_zone: bool = False,
    ) -> None:
        sync: Store
        self._bridge: BlockingStore | None = None
        if store is None:
            store = MemoryStore()
        if isinstance(store, Store):
            sync, store = store, ThreadedStore(store)
        elif isinstance(store, ThreadedStore):
            sync = store.store
        elif isinstance(store, AsyncStore):
            sync = self._bridge = _blocking_view(store)
        elif isinstance(store, AsyncCounters):
            raise ConfigurationError(
                f"{store!r} holds sends and counters but no consent ledger, so the engine could "
                "decide nothing: pair it with a ledger, e.g. "
                "AsyncComposedStore(AsyncPostgresStore(dsn), AsyncRedisStore(url))"
            )
        else:
            raise ConfigurationError(_not_a_store(store))
        self.store: AsyncStore = store
        self._engine = Engine(
            policy,
            sync,
            clock,
            profiles=profiles,
            line_type_lookup=line_type_lookup,
            default_region=default_region,
            cache_size=cache_size,
            history=history,
            on_store_error=on_store_error,
            store_retry=store_retry,
            programs=programs,
            pending_expiry=pending_expiry,
            unclear_hold=unclear_hold,
            trust_profile_zone=trust_profile_zone,
        )
        self.consent = AsyncLedger(self._engine.consent, self._bridge)
        stored = self._engine._stored
        if stored is not None:
            stored.store = _ReadAhead(stored.store)

    @property
    def engine(self) -> Engine:
        """The synchronous engine whose parts this one shares (its store is this one's,
        seen synchronously: call it only from a worker thread when the store is async)."""
        return self._engine

    @property
    def policy(self) -> Rule:
        """The policy, as given."""
        return self._engine.policy

    @property
    def history(self) -> dt.timedelta:
        """How far back the engine reads sends."""
        return self._engine.history

    @property
    def programs(self) -> tuple[Program, ...]:
        """The engine's programs."""
        return self._engine.programs

    @property
    def clock(self) -> Clock:
        """Where the engine's ``now`` comes from (assignable, as :attr:`Engine.clock`)."""
        return self._engine.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._engine.clock = clock

    def __repr__(self) -> str:
        return f"AsyncEngine({self.policy!r}, store={self.store!r}, clock={self.clock!r})"

    def now(self) -> dt.datetime:
        """The engine clock's current instant, checked to be aware, in UTC."""
        return self._engine.now()

    def address_of(self, number: str | PhoneNumber) -> str:
        """The E.164 form of a phone number (raises InvalidNumberError when it is not one)."""
        return self._engine.address_of(number)

    def profile(self, address: str) -> Profile | None:
        """The recipient's profile, if the engine has one, from what it was given and what it
        remembers; a profile kept in an async store is read with :meth:`read_profile`."""
        return self._engine.profile(address)

    async def read_profile(self, address: str) -> Profile | None:
        """The recipient's profile, read from the store when the engine keeps none in mind
        (as :meth:`smspolicy.Engine.profile`)."""
        stored = self._engine._stored
        token = _READ_AHEAD.set(None)
        try:
            if stored is not None:
                known, wanted = stored.remembered([address])
                if wanted:
                    store = cast("AsyncProfileStore", self.store)
                    known.update(await store.profiles(wanted))
                _READ_AHEAD.set(known)
            return self._engine.profile(address)
        finally:
            _READ_AHEAD.reset(token)

    def programs_for(self, sender: str | None) -> tuple[Program, ...]:
        """The programs sent from ``sender`` (all programs when it is unknown or None)."""
        return self._engine.programs_for(sender)

    def topics(self) -> frozenset[str]:
        """The topics of the engine's programs."""
        return self._engine.topics()

    def recipient(self, message: Message) -> Recipient:
        """Resolve the message's recipient (cached per number)."""
        return self._engine.recipient(message)

    async def _snapshot(
        self, messages: Sequence[Message], recipients: Sequence[Recipient], now: dt.datetime
    ) -> Snapshot:
        """As :func:`smspolicy._decider.read_snapshot`, awaited."""
        numbers = sorted({r.address for r in recipients})
        persons = sorted({m.person for m in messages if m.person})
        try:
            return await self.store.snapshot(numbers, persons=persons, since=now - self.history)
        except StoreUnavailableError:
            raise
        except Exception as error:  # any backend failure must fail closed
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error

    async def _read_ahead(self, batch: Sequence[Message]) -> Sequence[Message]:
        """As :meth:`Engine._with_persons`, awaited: the batch's stored profile records are
        read through the async store (those not remembered, in one read) and kept for this
        task until the caller resets ``_READ_AHEAD``; then the engine's own code gives each
        message without a person the one stored for its address. Raises
        StoreUnavailableError when the store cannot be read."""
        engine = self._engine
        stored = engine._stored
        if stored is None:
            return batch
        keys = [key for message in batch for key in engine._stored_keys(message)]
        known, wanted = stored.remembered(keys)
        if wanted:
            store = cast("AsyncProfileStore", self.store)
            try:
                read = await store.profiles(wanted)
            except StoreUnavailableError:
                raise
            except Exception as error:  # any backend failure must fail closed
                raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error
            known.update((address, read.get(address)) for address in wanted)
        _READ_AHEAD.set(known)
        return engine._with_persons(batch)

    def _unread(self, error: StoreUnavailableError, batch: Sequence[Message]) -> list[Decision]:
        log.warning("store unavailable: %s", error)
        _check_messages(batch)
        return [self._engine._decider.failed(error, self.now()) for _ in batch]

    async def evaluate(self, message: Message) -> Decision:
        """Decide one message now."""
        (decision,) = await self._evaluate_batch([message], self.now())
        return decision

    async def evaluate_many(
        self, messages: Iterable[Message] | AsyncIterable[Message]
    ) -> AsyncIterator[Decision]:
        """Decide many messages (an iterable or an async iterable), reading the store in
        batches; yields in input order."""
        if isinstance(messages, AsyncIterable):
            batch: list[Message] = []
            async for message in messages:
                batch.append(message)
                if len(batch) == _BATCH:
                    for decision in await self._evaluate_batch(batch, self.now()):
                        yield decision
                    batch = []
            if batch:
                for decision in await self._evaluate_batch(batch, self.now()):
                    yield decision
            return
        iterator = iterate(messages, "messages")
        while batch := list(itertools.islice(iterator, _BATCH)):
            for decision in await self._evaluate_batch(batch, self.now()):
                yield decision

    async def _evaluate_batch(self, batch: Sequence[Message], now: dt.datetime) -> list[Decision]:
        token = _READ_AHEAD.set(None)
        try:
            return await self._decide_batch(batch, now)
        finally:
            _READ_AHEAD.reset(token)

    async def _decide_batch(self, batch: Sequence[Message], now: dt.datetime) -> list[Decision]:
        decider = self._engine._decider
        try:
            batch = await self._read_ahead(batch)
        except StoreUnavailableError as error:
            return self._unread(error, batch)
        resolved = [decider.resolve(message) for message in batch]
        recipients = [r for r in resolved if isinstance(r, Recipient)]
        try:
            snapshot = await self._snapshot(batch, recipients, now)
        except StoreUnavailableError as error:
            log.warning("store unavailable: %s", error)
            return [r if isinstance(r, Decision) else decider.failed(error, now) for r in resolved]
        return [
            item
            if isinstance(item, Decision)
            else decider.decide(message, decider.context(snapshot, message, item, now))
            for message, item in zip(batch, resolved, strict=True)
        ]

    async def reserve(
        self, message: Message, *, hold: dt.timedelta = DEFAULT_HOLD
    ) -> AsyncReservation:
        """As :meth:`smspolicy.Engine.reserve` (through the store's one-address reservation).
        Cancelled while the store holds the slot, it releases the slot before the
        cancellation propagates."""
        ensure_duration(hold, "hold")
        (reservation,) = await self._reserve([message], hold, single=True)
        return reservation

    async def reserve_many(
        self, messages: Iterable[Message], *, hold: dt.timedelta = DEFAULT_HOLD
    ) -> list[AsyncReservation]:
        """As :meth:`smspolicy.Engine.reserve_many` (the same batch plan, awaited)."""
        ensure_duration(hold, "hold")
        return await self._reserve(list(iterate(messages, "messages")), hold, single=False)

    async def _reserve(
        self, batch: list[Message], hold: dt.timedelta, *, single: bool
    ) -> list[AsyncReservation]:
        token = _READ_AHEAD.set(None)
        try:
            return await self._reserve_batch(batch, hold, single=single)
        finally:
            _READ_AHEAD.reset(token)

    async def _reserve_batch(
        self, batch: list[Message], hold: dt.timedelta, *, single: bool
    ) -> list[AsyncReservation]:
        engine = self._engine
        try:
            batch = list(await self._read_ahead(batch))
        except StoreUnavailableError as error:
            settler = engine._reserver.settler
            return [
                AsyncReservation(self, Reservation(decision, None, settler))
                for decision in self._unread(error, batch)
            ]
        settler = engine._reserver.settler
        out, pending = pending_of(engine._decider, batch, settler)
        if pending:
            plan = BatchPlan(engine._decider, pending, self.now(), hold)
            try:
                snapshot = await self._snapshot(plan.messages, plan.recipients, plan.now)
                numbers = plan.locked_numbers(snapshot)
                stored = await self._hold(plan, numbers, single) if numbers else {}
            except RuleError:
                raise  # a broken rule is a bug to see, not a store outage
            except Exception as error:  # any backend failure must fail closed
                plan.failed(error, out, settler)
            else:
                plan.finish(stored, out, settler)
        return [AsyncReservation(self, r) for r in cast("list[Reservation]", out)]

    async def _store_call(
        self, plan: BatchPlan, numbers: list[str], single: bool
    ) -> dict[str, list[SendRecord]]:
        if not single:
            return await self.store.reserve_many(
                numbers, since=plan.since, decide=plan.decide, persons=plan.persons
            )
        (number,) = numbers

        def decide(locked: list[SendRecord]) -> SendRecord | None:
            holds = plan.decide(number, locked)
            return holds[0] if holds else None

        record = await self.store.reserve(
            number, since=plan.since, decide=decide, persons=plan.persons.get(number, ())
        )
        return {number: [] if record is None else [record]}

    async def _hold(
        self, plan: BatchPlan, numbers: list[str], single: bool
    ) -> dict[str, list[SendRecord]]:
        """The store's reservation, run to its end even when this task is cancelled: then
        whatever it held is released and the cancellation raised."""
        call = asyncio.ensure_future(self._store_call(plan, numbers, single))
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            await _outlast(call)
            if not call.cancelled() and call.exception() is None:
                held = [(r, None, False) for records in call.result().values() for r in records]
                if held:
                    release = asyncio.ensure_future(_settle_quietly(self.store, held))
                    await _outlast(release)
            raise

    async def settle_many(
        self, settlements: Iterable[tuple[AsyncReservation, str | None, bool]]
    ) -> None:
        """As :meth:`smspolicy.Engine.settle_many`: ``(reservation, provider_id, sent)``
        items in one store call, all or nothing."""
        items: list[tuple[Reservation, str | None, bool]] = []
        wrappers: dict[int, AsyncReservation] = {}
        for item in iterate(settlements, "settlements"):
            if not isinstance(item, tuple) or len(item) != 3:
                raise InvalidInputError(f"expected (reservation, provider_id, sent), got {item!r}")
            reservation, provider_id, sent = item
            if not isinstance(reservation, AsyncReservation):
                raise InvalidInputError(f"expected an AsyncReservation, got {reservation!r}")
            items.append((reservation.reservation, provider_id, sent))
            wrappers[id(reservation.reservation)] = reservation
        settler = self._engine._reserver.settler
        claimed = claim_all(settler, items)
        try:
            if claimed.settlements:
                await self.store.settle_many(claimed.settlements)
        except BaseException:
            claimed.undo()
            raise
        if claimed.expired:  # rare: re-decided under the lock by the engine's own code
            # The re-decision runs on the loop inside the store's call: its profiles are read
            # ahead here, as for any other decision, so it never waits on the store.
            token = _READ_AHEAD.set(None)
            try:
                try:
                    await self._read_ahead(
                        [r.message for r, _ in claimed.expired if r.message is not None]
                    )
                except BaseException:
                    for reservation, _provider_id in claimed.expired:
                        reservation._unclaim()
                    raise
                await _offload(self._bridge, recount_expired, settler, claimed)
            except ReservationExpiredError as error:  # name the caller's reservations
                refused = [wrappers.get(id(r), r) for r in error.reservations]
                raise ReservationExpiredError(str(error), refused) from None
            finally:
                _READ_AHEAD.reset(token)

    async def record_sent(self, message: Message, *, provider_id: str | None = None) -> SendRecord:
        """Log a send that went out (for caps, dedupe and records)."""
        if not isinstance(message, Message):
            raise InvalidInputError(f"expected a smspolicy.Message, got {message!r}")
        check_text(provider_id, "provider_id", optional=True)
        address = self.address_of(message.to) if message.channel.is_phone else message.address
        token = _READ_AHEAD.set(None)
        try:
            (message,) = await self._read_ahead([message])
        finally:
            _READ_AHEAD.reset(token)
        return await self.store.record_send(
            send_record(message, address, self.now(), provider_id=provider_id)
        )

    async def record_engagement(self, number: str, *, kind: str = "reply") -> None:
        """Note that the recipient engaged (replied, clicked...) now."""
        check_text(kind, "kind")
        await self.store.record_engagement(self.address_of(number), at=self.now(), kind=kind)

    async def inbound(self, text: str, from_: str, *, to: str | None = None) -> InboundResult:
        """As :meth:`smspolicy.Engine.inbound`: the ledger event is durable before this
        returns (a cancelled call may still write it, as a reply that arrived)."""
        return await _offload(self._bridge, self._engine.inbound, text, from_, to=to)

    async def forget(self, number: str) -> None:
        """As :meth:`smspolicy.Engine.forget`."""
        await self.store.forget(self.address_of(number))
        self._engine.resolver.clear()
        if self._engine._stored is not None:
            self._engine._stored.clear()

    async def audit(
        self,
        now: dt.datetime,
        *,
        every: dt.timedelta,
        unengaged_after: dt.timedelta | None = None,
    ) -> Audit:
        """As :meth:`smspolicy.Engine.audit`."""
        return await _offload(
            self._bridge, self._engine.audit, now, every=every, unengaged_after=unengaged_after
        )

    async def close(self) -> None:
        """Close the store."""
        await self.store.close()
