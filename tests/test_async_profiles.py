"""AsyncEngine reads stored profiles and person links from its async store, as Engine does from
its store: a message without ``person`` is counted under the person stored for its address."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from smspolicy import AsyncEngine, Engine, Message, Policy, Profile, Verdict, rules
from smspolicy.store import ComposedStore, MemoryStore, SQLiteStore
from smspolicy.store._profiles import ProfileRecord
from smspolicy.store.async_base import AsyncComposedStore, ThreadedStore, keeps_profiles
from smspolicy.store.async_postgres import AsyncPostgresStore
from smspolicy.store.async_redis import AsyncRedisStore
from smspolicy.testing import FrozenClock

from .async_support import async_drop
from .conftest import T0
from .services import POSTGRES_DSN, REDIS_URL, postgres_store, redis_store
from .services import drop as sync_drop

FIRST = "+12125550123"  # both numbers belong to person u-1 (a Pinpoint User.UserId)
SECOND = "+12125550124"
OTHER = "+12125550125"  # no stored person
DAY = dt.timedelta(days=1)
LINKS = {
    FIRST: ProfileRecord(Profile(locale="en"), person="u-1"),
    SECOND: ProfileRecord(Profile(locale="en"), person="u-1"),
}


def _policy() -> Policy:
    # one message a day per person, on all of the person's numbers (and per number)
    return Policy(rules.frequency_cap(1, DAY, scope="all"), name="one-a-day")


def _messages() -> list[Message]:
    return [Message(n, "deals", "marketing") for n in (FIRST, SECOND, OTHER)]


def _sync_decisions(store: Any) -> list[tuple[Verdict, tuple[str, ...]]]:
    engine = Engine(_policy(), store, FrozenClock(T0))
    engine.record_sent(Message(FIRST, "deals", "marketing"))
    return [(d.verdict, d.codes) for d in engine.evaluate_many(_messages())]


async def _async_decisions(store: Any) -> list[tuple[Verdict, tuple[str, ...]]]:
    engine = AsyncEngine(_policy(), store, FrozenClock(T0))
    await engine.record_sent(Message(FIRST, "deals", "marketing"))
    out = [(d.verdict, d.codes) async for d in engine.evaluate_many(_messages())]
    held = await engine.reserve_many(_messages())
    out += [(r.decision.verdict, r.decision.codes) for r in held]
    (one,) = [await engine.reserve(Message(SECOND, "deals", "marketing"))]
    out.append((one.decision.verdict, one.decision.codes))
    await engine.settle_many([(r, None, False) for r in [*held, one] if r.allowed])
    return out


# Written by hand: the second number is its person's second message of the day.
CAPPED = (Verdict.DEFER, ("cap.exceeded",))
ALLOWED = (Verdict.ALLOW, ())
EXPECTED_SYNC = [CAPPED, CAPPED, ALLOWED]
EXPECTED_ASYNC = [*EXPECTED_SYNC, CAPPED, CAPPED, ALLOWED, CAPPED]


def test_stored_person_links_cap_the_same_on_postgres() -> None:
    """A person link stored in PostgreSQL: the other number of that person is capped by Engine
    and by AsyncEngine (evaluate, reserve_many, reserve) alike."""
    sync = postgres_store()
    sync.upsert_profiles(LINKS)  # type: ignore[attr-defined]

    async def run() -> list[tuple[Verdict, tuple[str, ...]]]:
        async with AsyncPostgresStore(POSTGRES_DSN, schema=sync.schema) as store:  # type: ignore[attr-defined]
            return await _async_decisions(store)

    try:
        assert _sync_decisions(sync) == EXPECTED_SYNC
        # a fresh schema for the async engine's own send
        sync_drop(sync)
        sync = postgres_store()
        sync.upsert_profiles(LINKS)  # type: ignore[attr-defined]
        assert asyncio.run(run()) == EXPECTED_ASYNC
    finally:
        sync_drop(sync)


def test_stored_person_links_cap_the_same_with_redis_counters(tmp_path: Path) -> None:
    """Sends in Redis, person links in the ledger's store: the same decisions from both
    engines."""
    sync_counters = redis_store()
    prefix = sync_counters.prefix  # type: ignore[attr-defined]
    sync = ComposedStore(SQLiteStore(tmp_path / "sync.db"), sync_counters)  # type: ignore[arg-type]
    sync.upsert_profiles(LINKS)
    ledger = SQLiteStore(tmp_path / "async.db")
    ledger.upsert_profiles(LINKS)

    async def run() -> list[tuple[Verdict, tuple[str, ...]]]:
        counters = AsyncRedisStore(REDIS_URL, prefix=prefix + "a")
        store = AsyncComposedStore(ThreadedStore(ledger), counters)
        try:
            return await _async_decisions(store)
        finally:
            await async_drop(counters)

    try:
        assert _sync_decisions(sync) == EXPECTED_SYNC
        assert asyncio.run(run()) == EXPECTED_ASYNC
    finally:
        sync_drop(sync_counters)


def test_without_stored_links_the_numbers_are_apart() -> None:
    """The boundary: with no person stored, the second number is not capped by the first's
    send (so the cap above comes from the stored link)."""
    expected = [CAPPED, ALLOWED, ALLOWED]
    assert _sync_decisions(MemoryStore()) == expected
    assert asyncio.run(_async_decisions(MemoryStore()))[:3] == expected


def test_async_redis_profiles_share_keys_with_the_sync_store() -> None:
    """Profiles written by RedisStore are read by AsyncRedisStore under the same prefix, and
    the other way round."""
    sync = redis_store()
    sync.upsert_profiles({FIRST: LINKS[FIRST]})  # type: ignore[attr-defined]

    async def run() -> dict[str, ProfileRecord | None]:
        store = AsyncRedisStore(REDIS_URL, prefix=sync.prefix)  # type: ignore[attr-defined]
        try:
            assert await store.upsert_profiles({SECOND: ProfileRecord(Profile(), None)}) == 1
            return await store.profiles([FIRST, SECOND, OTHER])
        finally:
            await store.close()

    try:
        assert asyncio.run(run()) == {
            FIRST: ProfileRecord(Profile(locale="en"), person="u-1"),
            SECOND: ProfileRecord(Profile(), None),
            OTHER: None,
        }
        assert sync.profiles([SECOND]) == {SECOND: ProfileRecord(Profile(), None)}  # type: ignore[attr-defined]
    finally:
        sync_drop(sync)


def test_async_postgres_profiles_share_the_table_with_the_sync_store() -> None:
    """Profiles written by PostgresStore are read by AsyncPostgresStore, and the other way."""
    sync = postgres_store()
    sync.upsert_profiles({FIRST: LINKS[FIRST]})  # type: ignore[attr-defined]

    async def run() -> dict[str, ProfileRecord | None]:
        async with AsyncPostgresStore(POSTGRES_DSN, schema=sync.schema) as store:  # type: ignore[attr-defined]
            assert await store.upsert_profiles({SECOND: ProfileRecord(Profile(state="FL"))}) == 1
            return await store.profiles([FIRST, SECOND, OTHER])

    try:
        assert asyncio.run(run()) == {
            FIRST: ProfileRecord(Profile(locale="en"), person="u-1"),
            SECOND: ProfileRecord(Profile(state="FL"), None),
            OTHER: None,
        }
        assert sync.profiles([SECOND]) == {SECOND: ProfileRecord(Profile(state="FL"))}  # type: ignore[attr-defined]
    finally:
        sync_drop(sync)


class FailingProfiles(MemoryStore):
    """A store whose profile reads fail."""

    def profiles(self, addresses: Any) -> dict[str, ProfileRecord | None]:
        raise OSError("profiles table unreachable")


def test_an_async_profile_read_failure_fails_closed() -> None:
    """As Engine: evaluate, reserve and reserve_many deny store.unavailable when the profiles
    cannot be read, instead of deciding without them."""

    async def run() -> list[tuple[Verdict, tuple[str, ...]]]:
        engine = AsyncEngine(_policy(), FailingProfiles(), FrozenClock(T0))
        out = [(d.verdict, d.codes) async for d in engine.evaluate_many(_messages()[:1])]
        out.append(((r := await engine.reserve(_messages()[0])).decision.verdict, r.decision.codes))
        out += [
            (r.decision.verdict, r.decision.codes)
            for r in await engine.reserve_many(_messages()[:1])
        ]
        return out

    assert asyncio.run(run()) == [(Verdict.DENY, ("store.unavailable",))] * 3


def test_keeps_profiles_follows_the_parts() -> None:
    """A threaded store keeps profiles when the store it wraps does; any other object not."""
    assert keeps_profiles(ThreadedStore(MemoryStore()))
    assert not keeps_profiles(object())


@pytest.mark.parametrize("messages", [[], _messages()])
def test_the_read_ahead_is_gone_after_the_batch(messages: list[Message]) -> None:
    """What a batch read ahead does not outlive it: the next read sees the store."""
    from smspolicy._async_engine import _READ_AHEAD

    async def run() -> object:
        engine = AsyncEngine(_policy(), MemoryStore(), FrozenClock(T0))
        _ = [d async for d in engine.evaluate_many(messages)]
        return _READ_AHEAD.get()

    assert asyncio.run(run()) is None


def test_read_profile_awaits_the_store() -> None:
    """read_profile reads a profile kept in an async store (and a miss is None)."""
    sync = postgres_store()
    sync.upsert_profiles(LINKS)  # type: ignore[attr-defined]

    async def run() -> list[Profile | None]:
        async with AsyncPostgresStore(POSTGRES_DSN, schema=sync.schema) as store:  # type: ignore[attr-defined]
            engine = AsyncEngine(_policy(), store, FrozenClock(T0))
            return [await engine.read_profile(FIRST), await engine.read_profile(OTHER)]

    try:
        assert asyncio.run(run()) == [Profile(locale="en"), None]
    finally:
        sync_drop(sync)
