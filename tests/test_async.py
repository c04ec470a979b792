"""AsyncEngine on the async stores: cancellation, outages, the thread offload, and sharing a
database with the synchronous stores."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import AsyncEngine, Engine, Message, Policy, SendRecord, Verdict, rules
from smspolicy.errors import ConfigurationError, StoreUnavailableError
from smspolicy.store import MemoryStore, SendStatus, SQLiteStore
from smspolicy.store._base import DecideMany, PersonsOf
from smspolicy.store.async_base import AsyncComposedStore, AsyncStore, BlockingStore, ThreadedStore
from smspolicy.testing import FrozenClock

from .async_support import async_drop, async_postgres_store, async_redis_store
from .conftest import T0
from .services import POSTGRES_DSN, REDIS_URL, postgres_store, proxy, redis_store
from .services import drop as sync_drop

NUMBER = "+12125550123"
DAY = dt.timedelta(days=1)
SINCE = T0 - DAY
MESSAGE = Message(NUMBER, "deals", "marketing")


async def made(kind: str, tmp_path: Path, **kwargs: Any) -> AsyncStore:
    """``pg``: an AsyncPostgresStore; ``redis``: AsyncRedisStore counters beside a threaded
    SQLite ledger."""
    if kind == "pg":
        return await async_postgres_store(**kwargs)
    ledger = ThreadedStore(SQLiteStore(tmp_path / "ledger.db"))
    return AsyncComposedStore(ledger, await async_redis_store(**kwargs))


def capped(store: AsyncStore, limit: int = 1) -> AsyncEngine:
    return AsyncEngine(Policy(rules.frequency_cap(limit, DAY), name="p"), store, FrozenClock(T0))


class Gated(AsyncStore):
    """A real async store whose reservations, once written, wait at a gate before returning:
    a cancellation can land while the hold is in the store and the call is still running."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store
        self.written = asyncio.Event()
        self.gate = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def snapshot(self, numbers: Sequence[str], **kwargs: Any) -> Any:
        return await self.store.snapshot(numbers, **kwargs)

    async def settle_many(self, settlements: Any) -> None:
        await self.store.settle_many(settlements)

    async def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> Any:
        return await self.store.sends(numbers, since=since)

    async def hold(
        self, number: str, *, since: dt.datetime, decide: Any, persons: Collection[str] = ()
    ) -> list[SendRecord]:
        held = await self.store.hold(number, since=since, decide=decide, persons=persons)
        self.written.set()
        await self.gate.wait()
        return held

    async def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        held = await self.store.reserve_many(numbers, since=since, decide=decide, persons=persons)
        self.written.set()
        await self.gate.wait()
        return held


async def _cancel_after_write(
    store: AsyncStore, reserve: Callable[[AsyncEngine], Coroutine[Any, Any, Any]]
) -> list[SendRecord]:
    gated = Gated(store)
    engine = capped(gated)
    task = asyncio.ensure_future(reserve(engine))
    await gated.written.wait()
    held = (await store.sends([NUMBER], since=SINCE))[NUMBER]
    assert [r.status for r in held] == [SendStatus.RESERVED]  # the hold is in the store
    task.cancel()
    await asyncio.sleep(0)
    gated.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    return (await store.sends([NUMBER], since=SINCE))[NUMBER]


async def _one(engine: AsyncEngine) -> Any:
    return await engine.reserve(MESSAGE)


async def _many(engine: AsyncEngine) -> Any:
    return await engine.reserve_many([MESSAGE, Message("+12125550124", "deals", "marketing")])


@pytest.mark.parametrize("kind", ["pg", "redis"])
@pytest.mark.parametrize("reserve", [_one, _many], ids=["reserve", "reserve_many"])
def test_a_reservation_cancelled_after_its_write_holds_nothing(
    kind: str, reserve: Callable[[AsyncEngine], Coroutine[Any, Any, Any]], tmp_path: Path
) -> None:
    """Cancelled while the store holds its slot, a reservation releases it before raising
    CancelledError: the count shows nothing held, and the cap's one slot is free."""

    async def run() -> None:
        store = await made(kind, tmp_path)
        try:
            assert await _cancel_after_write(store, reserve) == []
            fresh = await capped(store).reserve(MESSAGE)
            assert fresh.allowed  # the cap of 1 is not taken by the cancelled one
        finally:
            await async_drop(store)

    asyncio.run(run())


def test_a_reservation_cancelled_while_waiting_for_the_lock_holds_nothing() -> None:
    """Cancelled while PostgreSQL makes it wait for another session's lock on the number, a
    reservation finishes once the lock is free, releases its hold and raises CancelledError."""

    async def run() -> None:
        store = await async_postgres_store()
        try:
            engine = capped(store)
            with psycopg.connect(POSTGRES_DSN, autocommit=True) as other:
                other.execute("SELECT pg_advisory_lock(2, hashtext(%s))", (NUMBER,))
                task = asyncio.ensure_future(engine.reserve(MESSAGE))
                while not other.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()[0]:  # type: ignore[index]
                    await asyncio.sleep(0.01)
                task.cancel()
                await asyncio.sleep(0)
                assert not task.done()  # still waiting for its store call to end
                other.execute("SELECT pg_advisory_unlock(2, hashtext(%s))", (NUMBER,))
                with pytest.raises(asyncio.CancelledError):
                    await task
            assert (await store.sends([NUMBER], since=SINCE))[NUMBER] == []
            assert (await engine.reserve(MESSAGE)).allowed
        finally:
            await async_drop(store)

    asyncio.run(run())


@pytest.mark.parametrize("kind", ["pg", "redis"])
def test_an_outage_fails_closed(kind: str, tmp_path: Path) -> None:
    """With the connection cut, evaluate and reserve give DENY store.unavailable and hold
    nothing; record_sent raises; when it returns, what was recorded before is there."""

    async def run() -> None:
        port = 5432 if kind == "pg" else 6379
        with proxy(port) as link:
            if kind == "pg":
                from smspolicy.store.async_postgres import AsyncPostgresStore

                dsn = POSTGRES_DSN.replace("port=5432", f"port={link.port}")
                store: AsyncStore = AsyncPostgresStore(dsn, schema="t_cut_async", timeout=2.0)
                await store.open()  # type: ignore[attr-defined]
            else:
                from smspolicy.store.async_redis import AsyncRedisStore

                url = REDIS_URL.replace(":6379", f":{link.port}")
                ledger = ThreadedStore(SQLiteStore(tmp_path / "l.db"))
                store = AsyncComposedStore(ledger, AsyncRedisStore(url, prefix="tcut", timeout=2.0))
            try:
                engine = capped(store, limit=5)
                held = await engine.reserve(MESSAGE)
                await held.commit("before")
                link.cut()
                during = await engine.evaluate(MESSAGE)
                assert during.verdict is Verdict.DENY
                assert during.codes == ("store.unavailable",)
                refused = await engine.reserve(MESSAGE)
                assert not refused.allowed
                assert refused.decision.codes == ("store.unavailable",)
                batch = await engine.reserve_many([MESSAGE, MESSAGE])
                assert [h.decision.codes for h in batch] == [("store.unavailable",)] * 2
                with pytest.raises(StoreUnavailableError):
                    await engine.record_sent(MESSAGE)
                link.restore()
                deadline = asyncio.get_running_loop().time() + 60
                while not (await engine.evaluate(MESSAGE)).allowed:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.5)
                sends = (await store.sends([NUMBER], since=SINCE))[NUMBER]
                assert [(s.provider_id, s.status) for s in sends] == [("before", SendStatus.SENT)]
            finally:
                link.restore()
                await async_drop(store)

    asyncio.run(run())


def test_async_and_sync_postgres_stores_share_a_schema() -> None:
    """A hold taken through AsyncPostgresStore counts for an Engine on PostgresStore in the
    same schema, and the other way round."""
    sync = postgres_store()
    schema = sync.schema  # type: ignore[attr-defined]

    async def run() -> None:
        from smspolicy.store.async_postgres import AsyncPostgresStore

        async with AsyncPostgresStore(POSTGRES_DSN, schema=schema) as store:
            engine = capped(store, limit=2)
            first = await engine.reserve(MESSAGE)
            assert first.allowed
            await first.commit("async")
            sync_engine = Engine(
                Policy(rules.frequency_cap(2, DAY), name="p"), sync, FrozenClock(T0)
            )  # type: ignore[arg-type]
            assert sync_engine.reserve(MESSAGE).allowed  # the second of two slots
            assert not (await engine.reserve(MESSAGE)).allowed
            assert not sync_engine.evaluate(MESSAGE).allowed

    try:
        asyncio.run(run())
    finally:
        sync_drop(sync)


def test_async_and_sync_redis_stores_share_keys() -> None:
    """Sends written through AsyncRedisStore are read by RedisStore under the same prefix (its
    remembered versions notice the write), and the other way round."""
    sync: Any = redis_store()
    first = SendRecord(
        number=NUMBER, at=T0, topic="deals", purpose="marketing", channel="sms", content_key="k"
    )  # type: ignore[arg-type]
    second = SendRecord(
        number=NUMBER,
        at=T0 + DAY / 2,
        topic="x",
        purpose="marketing",
        channel="sms",
        content_key="k",
    )  # type: ignore[arg-type]

    async def run() -> None:
        from smspolicy.store.async_redis import AsyncRedisStore

        store = AsyncRedisStore(REDIS_URL, prefix=sync.prefix)
        try:
            assert sync.sends([NUMBER], since=SINCE) == {NUMBER: []}  # remembered: no sends
            await store.record_send(first)
            assert sync.sends([NUMBER], since=SINCE) == {NUMBER: [first]}
            sync.record_send(second)
            assert await store.sends([NUMBER], since=SINCE) == {NUMBER: [first, second]}
        finally:
            await store.close()

    try:
        asyncio.run(run())
    finally:
        sync_drop(sync)


def test_evaluate_many_takes_an_async_iterable_and_keeps_order() -> None:
    """Decisions come in input order across the 512-message batches, from an async
    iterable as from a list."""
    numbers = [f"+1212555{i:04d}" for i in range(513)]
    numbers[100] = "+1212"  # not a number: DENY number.invalid in its place

    async def messages() -> AsyncIterator[Message]:
        for number in numbers:
            yield Message(number, "deals", "marketing")

    async def run() -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        engine = AsyncEngine(Policy(rules.consent(), name="p"), MemoryStore(), FrozenClock(T0))
        await engine.consent.confirm(numbers[512], topic="deals", purpose="marketing", source="web")
        from_async = [d.codes async for d in engine.evaluate_many(messages())]
        plain = [Message(n, "deals", "marketing") for n in numbers]
        from_list = [d.codes async for d in engine.evaluate_many(plain)]
        return from_async, from_list

    from_async, from_list = asyncio.run(run())
    assert from_async == from_list
    assert len(from_async) == 513
    assert from_async[100] == ("number.invalid",)
    assert from_async[512] == ()  # confirmed: allowed, the last of the second batch
    assert from_async[0] == ("consent.missing",)


def test_the_ledger_and_inbound_texts_run_over_an_async_store() -> None:
    """Consent granted through AsyncEngine.consent on AsyncPostgresStore allows the message;
    an inbound STOP revokes it; forget keeps it suppressed."""

    async def run() -> None:
        store = await async_postgres_store()
        try:
            engine = AsyncEngine(Policy(rules.consent(), name="p"), store, FrozenClock(T0))
            await engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
            assert (await engine.evaluate(MESSAGE)).allowed
            reply = await engine.inbound("STOP", NUMBER)
            assert reply.kind.value == "opt_out"
            assert (await engine.evaluate(MESSAGE)).codes == ("consent.revoked",)
            assert [e.kind.value for e in await engine.consent.history(NUMBER)] == [
                "confirmed",
                "revoked",
            ]
            await engine.forget(NUMBER)
            assert await store.consent_events([NUMBER]) == {NUMBER: []}
            assert (await engine.evaluate(MESSAGE)).verdict is Verdict.DENY
        finally:
            await async_drop(store)

    asyncio.run(run())


def test_a_blocking_store_refuses_its_own_loops_thread() -> None:
    """A BlockingStore called on the thread of the loop it waits on raises instead of
    hanging; with no loop it fails as a store outage."""

    async def run() -> None:
        view = BlockingStore(ThreadedStore(MemoryStore()), asyncio.get_running_loop())
        with pytest.raises(RuntimeError, match="on its event loop's thread"):
            view.numbers()

    asyncio.run(run())
    with pytest.raises(StoreUnavailableError, match="not running"):
        BlockingStore(ThreadedStore(MemoryStore())).numbers()


def test_an_async_engine_needs_a_store() -> None:
    """Counters alone (no ledger) and an object that is no store are refused, saying why."""
    from smspolicy.store.async_redis import AsyncRedisStore

    with pytest.raises(ConfigurationError, match=r"no consent ledger.*AsyncComposedStore"):
        AsyncEngine(Policy(rules.consent(), name="p"), AsyncRedisStore(REDIS_URL))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="lacks: append_consent"):
        AsyncEngine(Policy(rules.consent(), name="p"), object())  # type: ignore[arg-type]


NUMBERS = ["+12125550101", "+12125550102", "+12125550103"]


@st.composite
def _batches(draw: st.DrawFn) -> list[list[Message]]:
    message = st.builds(
        Message,
        st.sampled_from([*NUMBERS, "+1212"]),
        st.sampled_from(["deals", "alerts"]),
        st.just("marketing"),
        person=st.sampled_from([None, "p1", "p2"]),
    )
    return draw(st.lists(st.lists(message, min_size=1, max_size=6), min_size=1, max_size=4))


@settings(max_examples=30, deadline=None)
@given(batches=_batches(), commit=st.lists(st.booleans(), min_size=24, max_size=24))
def test_async_reservations_decide_as_the_engines(
    batches: list[list[Message]], commit: list[bool]
) -> None:
    """Any sequence of batch reservations, each hold committed or released, gets the same
    decisions from AsyncEngine as from Engine, and leaves the same sends counted: never more
    than the caps allow."""
    policy = Policy(
        rules.frequency_cap(2, DAY),
        rules.frequency_cap(3, DAY, scope="all"),  # over a person's sends on every number too
        name="p",
    )
    sync = Engine(policy, MemoryStore(), FrozenClock(T0))
    aengine = AsyncEngine(policy, MemoryStore(), FrozenClock(T0))
    flips = iter(commit * 10)

    async def run() -> None:
        for batch in batches:
            expected = sync.reserve_many(batch)
            got = await aengine.reserve_many(batch)
            assert [r.decision for r in got] == [r.decision for r in expected]
            for mine, theirs in zip(got, expected, strict=True):
                if theirs.allowed:
                    if next(flips):
                        theirs.commit("x")
                        await mine.commit("x")
                    else:
                        theirs.release()
                        await mine.release()
        counted = await aengine.store.sends(NUMBERS, since=SINCE)
        assert {n: len(r) for n, r in counted.items()} == {
            n: len(r) for n, r in sync.store.sends(NUMBERS, since=SINCE).items()
        }
        for records in counted.values():  # 2 per topic, 3 in all
            assert len(records) <= 3
            assert all(sum(r.topic == t for r in records) <= 2 for t in ("deals", "alerts"))

    asyncio.run(run())
