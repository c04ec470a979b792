"""Redis as :class:`smspolicy.store.async_base.AsyncCounters` (``redis.asyncio``).

The same keys, scripts and versioned check-and-reserve as :class:`smspolicy.store.RedisStore`,
so the two can serve one Redis at the same time. Standalone Redis only (for Redis Cluster, use
:class:`smspolicy.store.RedisStore` through :class:`smspolicy.store.async_base.ThreadedStore`).
Unlike the synchronous store it remembers no versions between calls: each read brings back the
sends whole. Pair it with a ledger through :class:`smspolicy.store.async_base.AsyncComposedStore`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from .._records import SendRecord
from ..errors import ConfigurationError, StoreUnavailableError
from ._base import DecideHolds, DecideMany, PersonsOf, Settlement, decide_in_order
from ._codec import decode_send, encode_send, micros
from ._profiles import ProfileRecord, decode_profile, encode_profile
from .async_base import AsyncCounters
from .redis import (
    _CACHE_FLOOR_MS,
    _ERRORS,
    _FORGET_PERSON,
    _READ,
    _RESERVE,
    _SETTLE,
    RedisStore,
    _glob_escape,
    _Keys,
    _new_version,
    _number_keys,
    _person_keys,
)

__all__ = ["AsyncRedisStore"]


class AsyncRedisStore(AsyncCounters):
    """Send log, reservations, engagement and lookup cache in Redis, for asyncio.

    Give a ``url`` (the store keeps a pool of up to ``max_connections``; more calls at once
    wait for a connection) or a ``redis.asyncio.Redis`` client made with
    ``decode_responses=True``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        prefix: str = "smspolicy",
        retention: dt.timedelta = dt.timedelta(days=400),
        max_attempts: int = 64,
        timeout: float = 5.0,
        max_connections: int = 50,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("give AsyncRedisStore either a url or a client")
        if not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError(f"prefix must be non-empty text without braces: {prefix!r}")
        if client is None:
            # A blocking pool: a burst of more calls than connections waits its turn (up to
            # ``timeout``) instead of failing closed at once.
            pool = aioredis.BlockingConnectionPool.from_url(
                url or "",
                max_connections=max_connections,
                timeout=timeout,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=True,
            )
            client = aioredis.Redis.from_pool(pool)  # closed with the client
        self._redis = client
        self.prefix = prefix
        self.retention = retention
        self.max_attempts = max_attempts
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._read_script = client.register_script(_READ)
        self._forget_person = client.register_script(_FORGET_PERSON)

    def __repr__(self) -> str:
        return f"AsyncRedisStore(prefix={self.prefix!r})"

    async def close(self) -> None:
        """Close the client's connections."""
        await self._redis.aclose()

    def _keys(self, number: str) -> _Keys:
        return _number_keys(self.prefix, number)

    def _person_keys(self, person: str) -> _Keys:
        return _person_keys(self.prefix, person)

    def _persons_key(self, number: str) -> str:
        return f"{self.prefix}:{{{number}}}:persons"

    @property
    def _retention_ms(self) -> int:
        return int(self.retention.total_seconds() * 1000)

    def _oldest(self, now: dt.datetime) -> int:
        return micros(now - self.retention)

    async def _call(self, what: str, awaitable: Any) -> Any:
        try:
            return await awaitable
        except _ERRORS as error:
            raise StoreUnavailableError(f"Redis {what}: {type(error).__name__}: {error}") from error

    async def _groups(
        self,
        script: Any,
        what: str,
        shared: list[Any],
        groups: list[tuple[_Keys, list[Any]]],
        notes: dict[str, set[str]] | None = None,
    ) -> list[Any]:
        """Run ``script`` once over every group of (keys, arguments); with ``notes``, first
        note in the same round trip which persons hold copies of which numbers' sends."""
        if not groups:
            return []
        keys = [key for group_keys, _args in groups for key in group_keys]
        args = shared + [arg for _keys, group in groups for arg in group]
        if not notes:
            return list(await self._call(what, script(keys=keys, args=args)))
        pipe = self._redis.pipeline(transaction=False)
        for number, names in notes.items():
            pipe.sadd(self._persons_key(number), *sorted(names))
            pipe.pexpire(self._persons_key(number), 2 * self._retention_ms)
        await script(keys=keys, args=args, client=pipe)
        answers = await self._call(what, pipe.execute())
        return list(answers[-1])

    def _write_args(self, version: int | str, records: list[SendRecord]) -> tuple[list[Any], int]:
        new = _new_version()
        group: list[Any] = [version, new, self._oldest(records[0].at), len(records)]
        for record in records:
            group += [record.id, micros(record.at), encode_send(record)]
        return group, new

    async def record_send(self, record: SendRecord) -> SendRecord:
        groups = [(self._keys(record.number), self._write_args("*", [record])[0])]
        notes = None
        if record.person is not None:
            groups.insert(0, (self._person_keys(record.person), self._write_args("*", [record])[0]))
            notes = {record.number: {record.person}}
        await self._groups(self._reserve, "reserve", [self._retention_ms, ""], groups, notes)
        return record

    async def sends(
        self, numbers: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        distinct = list(dict.fromkeys(numbers))
        read = await self._read_many(distinct, since) if distinct else []
        return {n: records for n, (_v, records) in zip(distinct, read, strict=True)}

    async def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        distinct = list(dict.fromkeys(persons))
        read = await self._read_many([], since, distinct) if distinct else []
        return {p: records for p, (_v, records) in zip(distinct, read, strict=True)}

    async def _read_many(
        self, numbers: Sequence[str], since: dt.datetime, persons: Sequence[str] = ()
    ) -> list[tuple[int, list[SendRecord]]]:
        """Each number's, then each person's, version and sends, in one script call."""
        groups = [(self._keys(n), [""]) for n in numbers]
        groups += [(self._person_keys(person), [""]) for person in persons]
        replies = await self._groups(self._read_script, "read", [micros(since)], groups)
        names = [*numbers, *(f"person {p}" for p in persons)]
        return [
            (int(reply[0]), RedisStore._decode(name, reply[1:]))
            for name, reply in zip(names, replies, strict=True)
        ]

    async def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        stored = await self.reserve_many(
            [number], since=since, decide=lambda _n, r: decide(r), persons={number: persons}
        )
        return stored[number]

    async def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        """As :meth:`RedisStore.reserve_many`: decide on the sends read at a version, store the
        holds only where the version has not moved, and decide again where it has."""
        todo = list(dict.fromkeys(numbers))
        linked = {n: list(dict.fromkeys(persons[n])) for n in todo if persons and n in persons}
        stored: dict[str, list[SendRecord]] = {}
        for _ in range(self.max_attempts):
            if not todo:
                return stored
            wanted = sorted({person for n in todo for person in linked.get(n, ())})
            read = await self._read_many(todo, since, wanted)
            own = {n: records for n, (_v, records) in zip(todo, read, strict=False)}
            versions = {n: version for n, (version, _r) in zip(todo, read, strict=False)}
            theirs = dict(zip(wanted, read[len(todo) :], strict=True))
            decided = decide_in_order(
                todo, linked, own, {p: records for p, (_v, records) in theirs.items()}, decide
            )
            writes = [(n, versions[n], holds) for n, holds in decided.items() if holds]
            for n, holds in decided.items():
                if not holds:
                    stored[n] = []
            claimed, lost = await self._claim_persons(
                writes, {p: v for p, (v, _r) in theirs.items()}
            )
            free = [write for write in writes if write[0] not in lost]
            done = dict(zip([w[0] for w in free], await self._reserve_groups(free), strict=True))
            await self._unclaim([c for c in claimed if not done.get(c[0])])
            todo = []
            for number, _version, holds in writes:
                if not done.get(number):  # another writer got there first: decide again
                    todo.append(number)
                    continue
                stored[number] = holds
        if todo:
            raise StoreUnavailableError("Redis: too much contention reserving sends")
        return stored

    async def _claim_persons(
        self,
        writes: list[tuple[str, int, list[SendRecord]]],
        versions: dict[str, int],
    ) -> tuple[list[tuple[str, str, list[SendRecord]]], set[str]]:
        """As :meth:`RedisStore._claim_persons`."""
        claims: list[tuple[str, str, list[SendRecord]]] = []
        groups: list[tuple[_Keys, list[Any]]] = []
        current: dict[str, int | str] = dict(versions)
        notes: dict[str, set[str]] = {}
        for number, _version, holds in writes:
            by_person: dict[str, list[SendRecord]] = {}
            for hold in holds:
                if hold.person is not None:
                    by_person.setdefault(hold.person, []).append(hold)
            for person, records in by_person.items():
                args, written = self._write_args(current.get(person, "*"), records)
                if person in current:
                    current[person] = written
                claims.append((number, person, records))
                groups.append((self._person_keys(person), args))
                notes.setdefault(number, set()).add(person)
        if not claims:
            return [], set()
        answers = await self._groups(
            self._reserve, "reserve", [self._retention_ms, ""], groups, notes
        )
        landed = [claim for claim, ok in zip(claims, answers, strict=True) if ok]
        lost = {claim[0] for claim, ok in zip(claims, answers, strict=True) if not ok}
        await self._unclaim([claim for claim in landed if claim[0] in lost])
        return [claim for claim in landed if claim[0] not in lost], lost

    async def _unclaim(self, claims: list[tuple[str, str, list[SendRecord]]]) -> None:
        groups = [
            (self._person_keys(person), [record.id, "", _new_version()])
            for _number, person, records in claims
            for record in records
        ]
        await self._groups(self._settle, "release", [self._retention_ms], groups)

    async def _reserve_groups(
        self, writes: Sequence[tuple[str, int | str, list[SendRecord]]]
    ) -> list[bool]:
        groups = [
            (self._keys(number), self._write_args(version, records)[0])
            for number, version, records in writes
        ]
        answers = await self._groups(self._reserve, "reserve", [self._retention_ms, ""], groups)
        return [bool(answer) for answer in answers]

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        groups: list[tuple[_Keys, list[Any]]] = []
        copies: list[tuple[_Keys, list[Any]]] = []
        for record, pid, sent in settlements:
            text = encode_send(record.as_sent(pid)) if sent else ""
            groups.append((self._keys(record.number), [record.id, text, _new_version()]))
            if record.person is not None:
                copies.append((self._person_keys(record.person), [record.id, text, _new_version()]))
        await self._groups(self._settle, "settle", [self._retention_ms], copies + groups)

    async def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        key = f"{self.prefix}:{{{number}}}:engagement"
        value = json.dumps({"at": at.isoformat(), "kind": kind})
        current = await self._call("read", self._redis.get(key))
        if current is None or dt.datetime.fromisoformat(json.loads(current)["at"]) < at:
            await self._call("write", self._redis.set(key, value, px=self._retention_ms))

    async def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        keys = [f"{self.prefix}:{{{number}}}:engagement" for number in numbers]
        texts: list[str | None] = await self._call("read", self._redis.mget(keys)) if keys else []
        return {
            number: dt.datetime.fromisoformat(json.loads(text)["at"]) if text else None
            for number, text in zip(numbers, texts, strict=True)
        }

    async def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        """As :meth:`smspolicy.store.RedisStore.upsert_profiles` (the same keys)."""
        pipe = self._redis.pipeline(transaction=False)
        for address, record in records.items():
            key = f"{self.prefix}:{{{address}}}:profile"
            pipe.delete(key)
            pipe.hset(key, mapping=json.loads(encode_profile(record)) or {"": ""})
        if records:
            await self._call("write", pipe.execute())
        return len(records)

    async def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        """As :meth:`smspolicy.store.RedisStore.profiles`."""
        wanted = list(dict.fromkeys(addresses))
        pipe = self._redis.pipeline(transaction=False)
        for address in wanted:
            pipe.hgetall(f"{self.prefix}:{{{address}}}:profile")
        found = await self._call("read", pipe.execute()) if wanted else []
        result: dict[str, ProfileRecord | None] = dict.fromkeys(addresses)
        for address, fields in zip(wanted, found, strict=True):
            if fields:
                data = {k: v for k, v in fields.items() if k}
                result[address] = decode_profile(json.dumps(data))
        return result

    async def forget_sends(self, number: str) -> None:
        """As :meth:`RedisStore.forget_sends`."""
        persons = await self._call("forget", self._redis.smembers(self._persons_key(number)))
        texts = await self._call("forget", self._redis.hvals(self._keys(number)[1]))
        legacy = [decode_send(text) for text in texts]
        pipe = self._redis.pipeline(transaction=False)
        for person in sorted(persons):
            await self._forget_person(
                keys=list(self._person_keys(person)),
                args=[number, _new_version(), self._retention_ms],
                client=pipe,
            )
        for record in legacy:
            if record.person is not None:
                pipe.zrem(
                    f"{self.prefix}:{{person:{record.person}}}:sends", f"{number}|{record.id}"
                )
        await self._call("forget", pipe.execute())
        tag = f"{self.prefix}:{{{number}}}"
        await self._call(
            "forget",
            self._redis.delete(
                *self._keys(number),
                f"{tag}:engagement",
                f"{tag}:profile",
                self._persons_key(number),
            ),
        )
        pattern = f"{_glob_escape(self.prefix)}:cache:*{_glob_escape(number)}*"
        try:
            found = [key async for key in self._redis.scan_iter(match=pattern, count=1000)]
        except _ERRORS as error:
            raise StoreUnavailableError(f"Redis forget: {error}") from error
        for first in range(0, len(found), 1000):
            await self._call("forget", self._redis.delete(*found[first : first + 1000]))

    async def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        text = await self._call("read", self._redis.get(f"{self.prefix}:cache:{key}"))
        if text is None:
            return None
        value, expires = json.loads(text)
        return str(value) if dt.datetime.fromisoformat(expires) > now else None

    async def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        ttl = int((expires - dt.datetime.now(dt.UTC)).total_seconds() * 1000)
        ttl = max(_CACHE_FLOOR_MS, ttl)
        payload = json.dumps([value, expires.isoformat()])
        await self._call("write", self._redis.set(f"{self.prefix}:cache:{key}", payload, px=ttl))
