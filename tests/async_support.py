"""Async stores and engines for tests: one event loop in a background thread, async stores on
real services, and a synchronous face over :class:`smspolicy.AsyncEngine` so that the engine
tests run against both engines."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import uuid
from collections.abc import Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from smspolicy import AsyncEngine, Decision, Message, SendRecord
from smspolicy._async_engine import AsyncReservation
from smspolicy.store import Store
from smspolicy.store.async_base import AsyncComposedStore, AsyncStore, BlockingStore, ThreadedStore

from .services import POSTGRES_DSN, REDIS_URL, _unavailable

T = TypeVar("T")


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


LOOP = LoopThread()


async def async_postgres_store(**kwargs: Any) -> AsyncStore:
    """An opened AsyncPostgresStore in a fresh schema (skip/fail when PostgreSQL is down)."""
    from smspolicy.errors import StoreUnavailableError
    from smspolicy.store.async_postgres import AsyncPostgresStore

    store = AsyncPostgresStore(POSTGRES_DSN, schema="t_" + uuid.uuid4().hex[:16], **kwargs)
    try:
        await store.open()
    except StoreUnavailableError as error:
        _unavailable(f"PostgreSQL at {POSTGRES_DSN!r}", error)
    return store


async def async_redis_store(**kwargs: Any) -> Any:
    """An AsyncRedisStore under a fresh prefix (skip/fail when Redis is down)."""
    import redis.asyncio as aioredis

    from smspolicy.store.async_redis import AsyncRedisStore

    probe = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await probe.ping()
    except Exception as error:  # any connection failure: the service is down
        _unavailable(f"Redis at {REDIS_URL!r}", error)
    finally:
        await probe.aclose()
    return AsyncRedisStore(REDIS_URL, prefix="t" + uuid.uuid4().hex[:16], **kwargs)


async def async_drop(store: object) -> None:
    """Remove what an async test store wrote, and close it."""
    if isinstance(store, AsyncComposedStore):
        await async_drop(store.ledger)
        await async_drop(store.counters)
        return
    if isinstance(store, ThreadedStore):
        from .services import drop

        await asyncio.to_thread(drop, store.store)
        return
    if hasattr(store, "drop_schema"):
        with contextlib.suppress(Exception):
            await store.drop_schema()
    if type(store).__name__ == "AsyncRedisStore":
        client = store._redis  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            async for key in client.scan_iter(match=f"{store.prefix}:*"):  # type: ignore[attr-defined]
                await client.delete(key)
    with contextlib.suppress(Exception):
        await store.close()  # type: ignore[attr-defined]


async def make_async_store(kind: str, tmp_path: Path) -> AsyncStore:
    """A fresh async store: ``async-postgres``, ``async-redis`` (composed with a threaded
    SQLite ledger) or ``threaded`` (SQLite through a thread)."""
    from smspolicy.store import SQLiteStore

    if kind == "async-postgres":
        return await async_postgres_store()
    if kind == "async-redis":
        ledger = ThreadedStore(SQLiteStore(tmp_path / f"ledger-{uuid.uuid4().hex}.db"))
        return AsyncComposedStore(ledger, await async_redis_store())
    return ThreadedStore(SQLiteStore(tmp_path / f"store-{uuid.uuid4().hex}.db"))


def blocking(store: AsyncStore) -> BlockingStore:
    """``store`` as a synchronous Store, its coroutines run on :data:`LOOP`."""
    return BlockingStore(store, LOOP.loop)


class SyncReservation:
    """An AsyncReservation with synchronous commit and release."""

    def __init__(self, reservation: AsyncReservation) -> None:
        self.inner = reservation

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return repr(self.inner)

    def __eq__(self, other: object) -> bool:
        inner = other.inner if isinstance(other, SyncReservation) else other
        return inner is self.inner

    def __hash__(self) -> int:
        return id(self.inner)

    def commit(self, provider_id: str | None = None) -> None:
        LOOP.run(self.inner.commit(provider_id))

    def release(self) -> None:
        LOOP.run(self.inner.release())


class _SyncLedger:
    def __init__(self, engine: AsyncEngine) -> None:
        self._consent = engine.consent

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._consent, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return LOOP.run(method(*args, **kwargs))

        return call


class EngineOverAsync:
    """:class:`smspolicy.Engine`'s synchronous API, each call run by an AsyncEngine on
    :data:`LOOP`: the engine tests run unchanged against the async engine. A synchronous
    store given to it is served through :class:`ThreadedStore`; ``store`` is still that
    synchronous store, for tests that look inside it."""

    def __init__(self, policy: Any, store: Store | None = None, clock: Any = None, **kw: Any):
        given = store.store if isinstance(store, BlockingStore) else store  # async at heart
        self.inner = AsyncEngine(policy, given, clock, **kw)
        self.store = store if store is not None else self.inner.engine.store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def clock(self) -> Any:
        return self.inner.clock

    @clock.setter
    def clock(self, clock: Any) -> None:
        self.inner.clock = clock

    @property
    def consent(self) -> _SyncLedger:
        return _SyncLedger(self.inner)

    def evaluate(self, message: Message) -> Decision:
        return LOOP.run(self.inner.evaluate(message))

    def evaluate_many(self, messages: Iterable[Message]) -> Iterator[Decision]:
        async def collect() -> list[Decision]:
            return [d async for d in self.inner.evaluate_many(messages)]

        return iter(LOOP.run(collect()))

    def reserve(self, message: Message, **kw: Any) -> SyncReservation:
        return SyncReservation(LOOP.run(self.inner.reserve(message, **kw)))

    def reserve_many(self, messages: Iterable[Message], **kw: Any) -> list[SyncReservation]:
        return [SyncReservation(r) for r in LOOP.run(self.inner.reserve_many(messages, **kw))]

    def settle_many(self, settlements: Iterable[tuple[Any, str | None, bool]]) -> None:
        items = [
            (r.inner if isinstance(r, SyncReservation) else r, p, s) for r, p, s in settlements
        ]
        LOOP.run(self.inner.settle_many(items))

    def record_sent(self, message: Message, **kw: Any) -> SendRecord:
        return LOOP.run(self.inner.record_sent(message, **kw))

    def record_engagement(self, number: str, **kw: Any) -> None:
        LOOP.run(self.inner.record_engagement(number, **kw))

    def inbound(self, text: str, from_: str, **kw: Any) -> Any:
        return LOOP.run(self.inner.inbound(text, from_, **kw))

    def forget(self, number: str) -> None:
        LOOP.run(self.inner.forget(number))

    def audit(self, now: dt.datetime, **kw: Any) -> Any:
        return LOOP.run(self.inner.audit(now, **kw))


@pytest.fixture(params=["Engine", "AsyncEngine"], autouse=True)
def both_engines(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the module's tests with each engine: for AsyncEngine, the module's ``Engine`` (and
    the shared ``engine`` fixture's) builds an :class:`EngineOverAsync` instead."""
    if request.param == "AsyncEngine":
        from . import conftest

        monkeypatch.setattr(request.module, "Engine", EngineOverAsync)
        monkeypatch.setattr(conftest, "Engine", EngineOverAsync)
    return str(request.param)
