"""PostgreSQL as an :class:`smspolicy.store.async_base.AsyncStore` (psycopg 3's
``AsyncConnectionPool``).

The same schema, migrations, statements and locks as :class:`smspolicy.store.PostgresStore`:
the two can share one database (and one schema) at the same time, synchronous workers and
asyncio services side by side. Install with ``pip install smspolicy[postgres]``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from .._records import GENESIS, ConsentEvent, ConsentKind, SendRecord
from ..errors import ConfigurationError, StoreUnavailableError
from ._base import DecideHolds, DecideMany, PersonsOf, Settlement, Snapshot, decide_in_order
from ._base import suppression_key as _suppression_key
from ._codec import decode_event, decode_send, encode_event, micros
from ._profiles import ProfileRecord, decode_profile, encode_profile
from .async_base import AsyncStore
from .postgres import (
    _CONSENT_LOCK,
    _EPOCH,
    _IDENTIFIER,
    _PERSON_LOCK,
    _SENDS_LOCK,
    MIGRATIONS,
    PostgresStore,
)

__all__ = ["AsyncPostgresStore"]

_ERRORS = (psycopg.Error, PoolTimeout, OSError)


class AsyncPostgresStore(AsyncStore):
    """Consent ledger, send log, reservations and audience in PostgreSQL, for asyncio.

    Give a ``dsn`` (the store opens its own pool) or a ``psycopg_pool.AsyncConnectionPool``
    (opened by its owner; its connections must be in autocommit mode), then ``await
    store.open()`` (or ``async with``), which connects and migrates the schema. Any database
    error raises :class:`smspolicy.errors.StoreUnavailableError`, which the engine turns into a
    DENY.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: AsyncConnectionPool[Any] | None = None,
        schema: str = "smspolicy",
        max_size: int = 10,
        timeout: float = 5.0,
    ) -> None:
        if (dsn is None) == (pool is None):
            raise ConfigurationError("give AsyncPostgresStore either a dsn or a pool")
        if not _IDENTIFIER.match(schema):
            raise ConfigurationError(f"schema must be a lower-case SQL identifier: {schema!r}")
        self.schema = schema
        self._own_pool = pool is None
        self._timeout = timeout
        if pool is None:
            pool = AsyncConnectionPool(
                dsn or "",
                min_size=1,
                max_size=max_size,
                timeout=timeout,
                open=False,
                name="smspolicy-async",
                kwargs={"connect_timeout": max(1, int(timeout)), "autocommit": True},
            )
        self._pool: AsyncConnectionPool[Any] = pool
        self._opened = False

    @classmethod
    async def connect(cls, dsn: str, **options: Any) -> AsyncPostgresStore:
        """A store on ``dsn``, opened and migrated."""
        store = cls(dsn, **options)
        await store.open()
        return store

    async def open(self) -> None:
        """Open the pool (when the store owns it) and migrate the schema; idempotent."""
        if self._opened:
            return
        if self._own_pool:
            try:
                await self._pool.open(wait=True, timeout=self._timeout)
            except PoolTimeout as error:
                await self._pool.close()
                raise StoreUnavailableError(f"cannot connect to PostgreSQL: {error}") from error
        try:
            await self._migrate()
        except BaseException:
            await self.close()
            raise
        self._opened = True

    async def __aenter__(self) -> AsyncPostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncPostgresStore(schema={self.schema!r})"

    async def close(self) -> None:
        """Close the pool if the store opened it."""
        if self._own_pool:
            await self._pool.close()

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(schema=sql.Identifier(self.schema))

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """An autocommit connection: each statement is its own transaction."""
        try:
            async with self._pool.connection() as conn:
                if not conn.autocommit:
                    await conn.set_autocommit(True)
                yield conn
        except _ERRORS as error:
            raise StoreUnavailableError(f"PostgreSQL: {type(error).__name__}: {error}") from error

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A READ COMMITTED transaction (see :meth:`PostgresStore._tx` for why that level)."""
        async with self._connection() as conn:
            if conn.isolation_level is not IsolationLevel.READ_COMMITTED:
                await conn.set_isolation_level(IsolationLevel.READ_COMMITTED)
            async with conn.transaction():
                yield conn

    async def _migrate(self) -> None:
        async with self._tx() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(0, hashtext(%s))", (self.schema,))
            await conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {schema}"))
            await conn.execute(
                self._q("CREATE TABLE IF NOT EXISTS {schema}.schema_version (version int)")
            )
            cursor = await conn.execute(self._q("SELECT version FROM {schema}.schema_version"))
            row = await cursor.fetchone()
            version = row[0] if row else 0
            if version > len(MIGRATIONS):
                raise ConfigurationError(
                    f"schema {self.schema} is at version {version}; this smspolicy knows "
                    f"{len(MIGRATIONS)}: upgrade smspolicy"
                )
            for migration in MIGRATIONS[version:]:
                await conn.execute(self._q(migration))
            if row is None:
                await conn.execute(
                    self._q("INSERT INTO {schema}.schema_version VALUES (%s)"), (len(MIGRATIONS),)
                )
            else:
                await conn.execute(
                    self._q("UPDATE {schema}.schema_version SET version = %s"), (len(MIGRATIONS),)
                )

    async def drop_schema(self) -> None:
        """Drop the store's schema and everything in it (for tests and teardown)."""
        async with self._tx() as conn:
            await conn.execute(self._q("DROP SCHEMA IF EXISTS {schema} CASCADE"))

    async def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        async with self._tx() as conn:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_CONSENT_LOCK, event.number)
            )
            cursor = await conn.execute(
                self._q(
                    "SELECT seq, hash FROM {schema}.consent_events WHERE number = %s "
                    "ORDER BY seq DESC LIMIT 1"
                ),
                (event.number,),
            )
            row = await cursor.fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (0, GENESIS)
            stored = event.chained(seq, prev)
            await conn.execute(
                self._q(
                    "INSERT INTO {schema}.consent_events (number, seq, hash, record) "
                    "VALUES (%s, %s, %s, %s)"
                ),
                (stored.number, stored.seq, stored.hash, encode_event(stored)),
            )
            return stored

    async def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        return dict((await self._select(consent=numbers)).consent)

    async def suppressed(self, numbers: Sequence[str]) -> set[str]:
        return set((await self._select(suppressed=numbers)).suppressed)

    async def sends(
        self, numbers: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return dict((await self._select(numbers=numbers, since=since)).sends)

    async def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return dict((await self._select(persons=persons, since=since)).person_sends)

    async def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        return dict((await self._select(engaged=numbers)).engagement)

    async def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        """Consent, suppression, sends (of ``numbers`` and of ``persons``) and engagement, in
        one statement: one round trip."""
        return await self._select(
            consent=numbers,
            suppressed=numbers,
            numbers=numbers,
            persons=persons,
            engaged=numbers,
            since=since,
        )

    async def _select(
        self,
        *,
        consent: Sequence[str] = (),
        suppressed: Sequence[str] = (),
        numbers: Sequence[str] = (),
        persons: Sequence[str] = (),
        engaged: Sequence[str] = (),
        since: dt.datetime = _EPOCH,
    ) -> Snapshot:
        """The asked-for parts of a snapshot, in one statement (as PostgresStore's)."""
        events: dict[str, list[ConsentEvent]] = {number: [] for number in consent}
        found: set[str] = set()
        sends: dict[str, list[SendRecord]] = {number: [] for number in numbers}
        by_person: dict[str, list[SendRecord]] = {person: [] for person in persons}
        engagement: dict[str, dt.datetime | None] = dict.fromkeys(engaged)
        hashed = {_suppression_key(n): n for n in suppressed}
        queries = [
            (
                events,
                "SELECT 0, number, seq::bigint, '', record FROM {schema}.consent_events "
                "WHERE number = ANY(%(consent)s)",
            ),
            (
                hashed,
                "SELECT 1, key, 0::bigint, '', '' FROM {schema}.suppressions "
                "WHERE key = ANY(%(suppressed)s)",
            ),
            (
                sends,
                "SELECT 2, number, at_us, id, record FROM {schema}.sends "
                "WHERE number = ANY(%(numbers)s) AND at_us >= %(since)s",
            ),
            (
                by_person,
                "SELECT 3, person, at_us, id, record FROM {schema}.sends "
                "WHERE person = ANY(%(persons)s) AND at_us >= %(since)s",
            ),
            (
                engagement,
                "SELECT 4, number, 0::bigint, '', at "
                "FROM {schema}.engagement WHERE number = ANY(%(engaged)s)",
            ),
        ]
        chosen = [query for values, query in queries if values]
        if chosen:
            params = {
                "consent": list(events),
                "suppressed": list(hashed),
                "numbers": list(sends),
                "persons": list(by_person),
                "engaged": list(engagement),
                "since": micros(since),
            }
            async with self._connection() as conn:
                cursor = await conn.execute(
                    self._q(" UNION ALL ".join(chosen) + " ORDER BY 1, 3, 4"), params
                )
                rows = await cursor.fetchall()
            for kind, key, _order, _id, text in rows:
                if kind == 0:
                    events[key].append(decode_event(text))
                elif kind == 1:
                    found.add(hashed[key])
                elif kind == 2:
                    sends[key].append(decode_send(text))
                elif kind == 3:
                    by_person[key].append(decode_send(text))
                else:
                    engagement[key] = dt.datetime.fromisoformat(text)
        return Snapshot(
            consent=events,
            suppressed=frozenset(found),
            sends=sends,
            person_sends=by_person,
            engagement=engagement,
        )

    async def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        """As :meth:`smspolicy.store.PostgresStore.upsert_profiles` (the same table)."""
        rows = [(address, encode_profile(record)) for address, record in records.items()]
        if rows:
            async with self._tx() as conn, conn.cursor() as cursor:
                await cursor.executemany(
                    self._q(
                        "INSERT INTO {schema}.profiles (address, record) VALUES (%s, %s) "
                        "ON CONFLICT (address) DO UPDATE SET record = excluded.record"
                    ),
                    rows,
                )
        return len(rows)

    async def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        """As :meth:`smspolicy.store.PostgresStore.profiles`."""
        result: dict[str, ProfileRecord | None] = dict.fromkeys(addresses)
        if result:
            async with self._connection() as conn:
                cursor = await conn.execute(
                    self._q(
                        "SELECT address, record FROM {schema}.profiles "
                        "WHERE address = ANY(%s::text[])"
                    ),
                    (list(result),),
                )
                rows = await cursor.fetchall()
            for address, text in rows:
                result[address] = decode_profile(text)
        return result

    async def forget(self, number: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_CONSENT_LOCK, number)
            )
            cursor = await conn.execute(
                self._q("SELECT record FROM {schema}.consent_events WHERE number = %s"), (number,)
            )
            records = await cursor.fetchall()
            if any(decode_event(r).kind is ConsentKind.REVOKED for (r,) in records):
                await conn.execute(
                    self._q("INSERT INTO {schema}.suppressions VALUES (%s) ON CONFLICT DO NOTHING"),
                    (_suppression_key(number),),
                )
            for table in ("consent_events", "sends", "engagement"):
                await conn.execute(
                    self._q(f"DELETE FROM {{schema}}.{table} WHERE number = %s"), (number,)
                )
            await conn.execute(
                self._q("DELETE FROM {schema}.profiles WHERE address = %s"), (number,)
            )
            await conn.execute(
                self._q("DELETE FROM {schema}.lookup_cache WHERE strpos(key, %s) > 0"), (number,)
            )

    @property
    def _insert_sql(self) -> sql.Composed:
        return self._q(
            "INSERT INTO {schema}.sends (id, number, person, at_us, record) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[]) "
            "ON CONFLICT (id) DO UPDATE SET record = excluded.record"
        )

    async def record_send(self, record: SendRecord) -> SendRecord:
        async with self._connection() as conn:
            await conn.execute(self._insert_sql, PostgresStore._send_columns([record]))
        return record

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
        """As :meth:`PostgresStore.reserve_many`: one transaction locks the addresses (then the
        persons, each in lock-key order, so overlapping batches never deadlock), reads their
        sends, and writes the holds ``decide`` returns."""
        distinct = list(dict.fromkeys(numbers))
        linked = {n: list(dict.fromkeys(persons[n])) for n in distinct if persons and n in persons}
        wanted = sorted({person for group in linked.values() for person in group})
        if not distinct:
            return {}
        space_of = (
            "SELECT DISTINCT %s::int AS space, hashtext(n) AS key FROM unnest(%s::text[]) AS n"
        )
        params: tuple[Any, ...]
        if not wanted:
            lock = f"SELECT pg_advisory_xact_lock(space, key) FROM ({space_of} ORDER BY key) AS k"
            read = (
                "SELECT number, NULL, record FROM {schema}.sends WHERE number = ANY(%s::text[]) "
                "AND at_us >= %s ORDER BY at_us, id"
            )
            params = (_SENDS_LOCK, distinct)
            read_params: tuple[Any, ...] = (distinct, micros(since))
        else:
            lock = (
                f"SELECT pg_advisory_xact_lock(space, key) FROM ({space_of} "
                "UNION SELECT DISTINCT %s::int, hashtext(p) FROM unnest(%s::text[]) AS p "
                "ORDER BY space, key) AS k"
            )
            read = (
                "SELECT number, person, record FROM {schema}.sends "
                "WHERE (number = ANY(%s::text[]) OR person = ANY(%s::text[])) AND at_us >= %s "
                "ORDER BY at_us, id"
            )
            params = (_SENDS_LOCK, distinct, _PERSON_LOCK, wanted)
            read_params = (distinct, wanted, micros(since))
        async with self._tx() as conn:
            await conn.execute(self._q(lock), params)
            cursor = await conn.execute(self._q(read), read_params)
            own: dict[str, list[SendRecord]] = {number: [] for number in distinct}
            by_person: dict[str, list[SendRecord]] = {person: [] for person in wanted}
            for number, person, text in await cursor.fetchall():
                record = decode_send(text)
                if number in own:
                    own[number].append(record)
                if person in by_person:
                    by_person[person].append(record)
            stored = decide_in_order(distinct, linked, own, by_person, decide)
            held = [record for records in stored.values() for record in records]
            if held:
                await conn.execute(self._insert_sql, PostgresStore._send_columns(held))
        return stored

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        if not settlements:
            return
        sent = [(r.id, r.as_sent(pid)) for r, pid, done in settlements if done]
        dropped = [r.id for r, _pid, done in settlements if not done]
        columns = PostgresStore._send_columns([record for _, record in sent])
        async with self._connection() as conn:
            await conn.execute(
                self._q(
                    "WITH dropped AS (DELETE FROM {schema}.sends WHERE id = ANY(%s::text[])) "
                    "UPDATE {schema}.sends AS s SET record = u.record "
                    "FROM unnest(%s::text[], %s::text[]) AS u(id, record) WHERE s.id = u.id"
                ),
                (dropped, columns[0], columns[4]),
            )

    async def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        async with self._connection() as conn:
            await conn.execute(
                self._q(
                    "INSERT INTO {schema}.engagement AS e (number, at_us, at, kind) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (number) DO UPDATE SET "
                    "at_us = excluded.at_us, at = excluded.at, kind = excluded.kind "
                    "WHERE excluded.at_us > e.at_us"
                ),
                (number, micros(at), at.isoformat(), kind),
            )

    async def numbers(self) -> list[str]:
        async with self._connection() as conn:
            cursor = await conn.execute(
                self._q("SELECT DISTINCT number FROM {schema}.consent_events ORDER BY number")
            )
            rows = await cursor.fetchall()
        return [number for (number,) in rows]

    async def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        async with self._connection() as conn:
            cursor = await conn.execute(
                self._q(
                    "SELECT value FROM {schema}.lookup_cache WHERE key = %s AND expires_us > %s"
                ),
                (key, micros(now)),
            )
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        async with self._connection() as conn:
            await conn.execute(
                self._q(
                    "INSERT INTO {schema}.lookup_cache (key, value, expires_us) VALUES (%s, %s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                    "expires_us = excluded.expires_us"
                ),
                (key, value, micros(expires)),
            )
