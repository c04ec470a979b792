"""PostgreSQL store (psycopg 3 with a connection pool): ledger, send log, reservations.

Install with ``pip install smspolicy[postgres]``. The schema is created and migrated by the
library, recorded in a version table. Writes for one recipient are serialised with
transaction-scoped advisory locks (one space for addresses, another for persons), so hash chains
never fork and caps, a person's included, hold across processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from .._records import GENESIS, ConsentEvent, ConsentKind, SendRecord
from ..errors import ConfigurationError, StoreUnavailableError
from ._base import (
    DecideMany,
    HoldsByBatch,
    PersonsOf,
    Settlement,
    Snapshot,
    Store,
    decide_in_order,
    suppression_key,
)
from ._codec import decode_event, decode_send, encode_event, encode_send, micros
from ._profiles import ProfileRecord, decode_profile, encode_profile

__all__ = ["MIGRATIONS", "PostgresStore"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
RECHECK_AFTER = 1.0
"""Seconds a pooled connection may sit idle before the pool checks it with a round trip."""
_CONSENT_LOCK = 1
_SENDS_LOCK = 2
_PERSON_LOCK = 3  # persons lock in a space of their own: no address shares a person's lock

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE {schema}.consent_events (
        number text NOT NULL,
        seq integer NOT NULL,
        hash text NOT NULL,
        record text NOT NULL,
        PRIMARY KEY (number, seq)
    );
    CREATE TABLE {schema}.suppressions (key text PRIMARY KEY);
    CREATE TABLE {schema}.sends (
        id text PRIMARY KEY,
        number text NOT NULL,
        person text,
        at_us bigint NOT NULL,
        record text NOT NULL
    );
    CREATE INDEX sends_number_at ON {schema}.sends (number, at_us);
    CREATE INDEX sends_person_at ON {schema}.sends (person, at_us);
    CREATE TABLE {schema}.engagement (
        number text PRIMARY KEY,
        at_us bigint NOT NULL,
        at text NOT NULL,
        kind text NOT NULL
    );
    """,
    """
    CREATE TABLE {schema}.lookup_cache (
        key text PRIMARY KEY,
        value text NOT NULL,
        expires_us bigint NOT NULL
    );
    """,
    """
    -- Lock a number's sends, then read them, in one call. A VOLATILE function takes a fresh
    -- snapshot for each statement it runs, so the read sees every send committed before the
    -- lock was granted (at READ COMMITTED, which the store always uses).
    CREATE FUNCTION {schema}.locked_sends(lock_space integer, wanted text, since_us bigint)
    RETURNS SETOF text LANGUAGE plpgsql VOLATILE AS $body$
    BEGIN
        PERFORM pg_advisory_xact_lock(lock_space, hashtext(wanted));
        RETURN QUERY SELECT s.record FROM {schema}.sends AS s
            WHERE s.number = wanted AND s.at_us >= since_us ORDER BY s.at_us, s.id;
    END
    $body$;
    """,
    """
    CREATE TABLE IF NOT EXISTS {schema}.profiles (address text PRIMARY KEY, record text NOT NULL);
    CREATE TABLE IF NOT EXISTS {schema}.send_slots (key text PRIMARY KEY, slot_us bigint NOT NULL);
    """,
)
"""Schema migrations, applied in order; the version table records how many ran."""

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _generic_plans(conn: psycopg.Connection[Any]) -> None:
    """Set up a connection of the store's own pool: its prepared statements keep one generic
    plan. The store's statements look rows up by key lists (``= ANY(...)``), for which the
    planner otherwise plans each execution anew (a custom plan of a one-element list looks
    cheaper than the generic one), and planning cost more than running them."""
    conn.execute("SET plan_cache_mode = force_generic_plan")


class PostgresStore(HoldsByBatch, Store):
    """Consent ledger, send log, reservations and audience in PostgreSQL.

    Give a ``dsn`` (the store opens its own pool) or a ``psycopg_pool.ConnectionPool``. Tables
    live in ``schema`` (created if missing). Any database error raises
    :class:`smspolicy.errors.StoreUnavailableError`, which the engine turns into a DENY.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: ConnectionPool | None = None,
        schema: str = "smspolicy",
        max_size: int = 10,
        timeout: float = 5.0,
    ) -> None:
        if (dsn is None) == (pool is None):
            raise ConfigurationError("give PostgresStore either a dsn or a pool")
        if not _IDENTIFIER.match(schema):
            raise ConfigurationError(f"schema must be a lower-case SQL identifier: {schema!r}")
        self.schema = schema
        self._queries: dict[str, sql.SQL] = {}
        self._own_pool = pool is None
        # When each connection last came back from a successful use (see _check_idle).
        self._last_used: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        if pool is None:
            pool = ConnectionPool(
                dsn or "",
                min_size=1,
                max_size=max_size,
                timeout=timeout,
                open=False,
                check=self._check_idle,
                configure=_generic_plans,
                name="smspolicy",
                # Autocommit: a one-statement read or write is one round trip, with no BEGIN and
                # COMMIT around it; several statements still run in an explicit transaction.
                kwargs={"connect_timeout": max(1, int(timeout)), "autocommit": True},
            )
            try:
                pool.open(wait=True, timeout=timeout)
            except PoolTimeout as error:
                pool.close()
                raise StoreUnavailableError(f"cannot connect to PostgreSQL: {error}") from error
        self._pool = pool
        try:
            self._migrate()
        except BaseException:
            self.close()  # a refused or failed migration leaves no pool of ours behind
            raise

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema!r})"

    def _check_idle(self, conn: psycopg.Connection[Any]) -> None:
        """The pool's check before handing out a connection: a round trip to the server, unless
        the connection came back from a successful use less than RECHECK_AFTER ago (a send
        makes several checkouts in a row). A connection that broke meanwhile fails its
        statement, which fails closed, and the pool replaces it."""
        used = self._last_used.get(conn)
        if used is None or time.monotonic() - used > RECHECK_AFTER:
            ConnectionPool.check_connection(conn)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection from the pool, noted as just used when the block succeeds. (Noted here
        rather than by a pool reset callback, which would hand every return to a worker thread.)
        """
        with self._pool.connection() as conn:
            yield conn
            self._last_used[conn] = time.monotonic()

    def close(self) -> None:
        """Close the pool if the store opened it."""
        if self._own_pool:
            self._pool.close()

    def _q(self, text: str) -> sql.SQL:
        """``text`` with ``{schema}`` filled in, composed once per text (every reservation runs
        the same few statements)."""
        query = self._queries.get(text)
        if query is None:
            # The schema is a checked lower-case identifier: quoting it needs no connection.
            composed = sql.SQL(text).format(schema=sql.Identifier(self.schema))
            query = self._queries[text] = sql.SQL(composed.as_string(None))
        return query

    @contextlib.contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._connection() as conn:
                # Locks then reads: only READ COMMITTED gives the read a snapshot taken after
                # the lock was granted. A server (or pool) default of REPEATABLE READ would read
                # from before the wait and count too few sends; SERIALIZABLE would fail
                # reservations. The level is a local setting applied at BEGIN: no round trip.
                if conn.isolation_level is not IsolationLevel.READ_COMMITTED:
                    conn.isolation_level = IsolationLevel.READ_COMMITTED
                with conn.transaction():
                    yield conn
        except (psycopg.Error, PoolTimeout) as error:
            raise StoreUnavailableError(f"PostgreSQL: {type(error).__name__}: {error}") from error

    @contextlib.contextmanager
    def _one(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one statement: on an autocommit connection (the store's own pool)
        the statement is its own transaction; otherwise an explicit one is opened."""
        try:
            with self._connection() as conn:
                if conn.autocommit:
                    yield conn
                    return
        except (psycopg.Error, PoolTimeout) as error:
            raise StoreUnavailableError(f"PostgreSQL: {type(error).__name__}: {error}") from error
        with self._tx() as conn:
            yield conn

    @contextlib.contextmanager
    def _statements(self) -> Iterator[psycopg.ClientCursor[Any]]:
        """A client-side binding cursor on an autocommit connection, for a transaction whose
        statements travel several at a time and which begins and ends itself. Anything raised
        before its COMMIT rolls it back."""
        try:
            with self._connection() as conn:
                restore = not conn.autocommit
                conn.autocommit = True  # the statements say BEGIN and COMMIT themselves
                try:
                    with psycopg.ClientCursor(conn) as cursor:
                        try:
                            yield cursor
                        except BaseException:
                            # Release the locks now; a connection too broken to roll back is
                            # discarded by the pool.
                            with contextlib.suppress(psycopg.Error):
                                conn.execute("ROLLBACK")
                            raise
                finally:
                    if restore and conn.info.transaction_status is TransactionStatus.IDLE:
                        conn.autocommit = False
        except (psycopg.Error, PoolTimeout) as error:
            raise StoreUnavailableError(f"PostgreSQL: {type(error).__name__}: {error}") from error

    def _migrate(self) -> None:
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(0, hashtext(%s))", (self.schema,))
            conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {schema}"))
            conn.execute(
                self._q("CREATE TABLE IF NOT EXISTS {schema}.schema_version (version int)")
            )
            row = conn.execute(self._q("SELECT version FROM {schema}.schema_version")).fetchone()
            version = row[0] if row else 0
            if version > len(MIGRATIONS):
                raise ConfigurationError(
                    f"schema {self.schema} is at version {version}; this smspolicy knows "
                    f"{len(MIGRATIONS)}: upgrade smspolicy"
                )
            for migration in MIGRATIONS[version:]:
                conn.execute(self._q(migration))
            if row is None:
                conn.execute(
                    self._q("INSERT INTO {schema}.schema_version VALUES (%s)"), (len(MIGRATIONS),)
                )
            else:
                conn.execute(
                    self._q("UPDATE {schema}.schema_version SET version = %s"), (len(MIGRATIONS),)
                )

    @staticmethod
    def _lock(conn: psycopg.Connection[Any], space: int, number: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (space, number))

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        with self._tx() as conn:
            self._lock(conn, _CONSENT_LOCK, event.number)
            row = conn.execute(
                self._q(
                    "SELECT seq, hash FROM {schema}.consent_events WHERE number = %s "
                    "ORDER BY seq DESC LIMIT 1"
                ),
                (event.number,),
            ).fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (0, GENESIS)
            stored = event.chained(seq, prev)
            conn.execute(
                self._q(
                    "INSERT INTO {schema}.consent_events (number, seq, hash, record) "
                    "VALUES (%s, %s, %s, %s)"
                ),
                (stored.number, stored.seq, stored.hash, encode_event(stored)),
            )
            return stored

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        return dict(self._select(consent=numbers).consent)

    def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        """Consent, suppression, sends (of ``numbers`` and of ``persons``) and engagement, in
        one statement: one round trip."""
        return self._select(
            consent=numbers,
            suppressed=numbers,
            numbers=numbers,
            persons=persons,
            engaged=numbers,
            since=since,
        )

    def _select(
        self,
        *,
        consent: Sequence[str] = (),
        suppressed: Sequence[str] = (),
        numbers: Sequence[str] = (),
        persons: Sequence[str] = (),
        engaged: Sequence[str] = (),
        since: dt.datetime = _EPOCH,
    ) -> Snapshot:
        """The asked-for parts of a snapshot, in one statement."""
        events: dict[str, list[ConsentEvent]] = {number: [] for number in consent}
        found: set[str] = set()
        sends: dict[str, list[SendRecord]] = {number: [] for number in numbers}
        by_person: dict[str, list[SendRecord]] = {person: [] for person in persons}
        engagement: dict[str, dt.datetime | None] = dict.fromkeys(engaged)
        hashed = {suppression_key(n): n for n in suppressed}
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
            with self._one() as conn:
                rows = conn.execute(
                    self._q(" UNION ALL ".join(chosen) + " ORDER BY 1, 3, 4"), params
                ).fetchall()
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

    def forget(self, number: str) -> None:
        with self._tx() as conn:
            self._lock(conn, _CONSENT_LOCK, number)
            records = conn.execute(
                self._q("SELECT record FROM {schema}.consent_events WHERE number = %s"), (number,)
            ).fetchall()
            if any(decode_event(r).kind is ConsentKind.REVOKED for (r,) in records):
                conn.execute(
                    self._q("INSERT INTO {schema}.suppressions VALUES (%s) ON CONFLICT DO NOTHING"),
                    (suppression_key(number),),
                )
            for table in ("consent_events", "sends", "engagement"):
                conn.execute(
                    self._q(f"DELETE FROM {{schema}}.{table} WHERE number = %s"), (number,)
                )
            conn.execute(self._q("DELETE FROM {schema}.profiles WHERE address = %s"), (number,))
            conn.execute(
                self._q("DELETE FROM {schema}.lookup_cache WHERE strpos(key, %s) > 0"), (number,)
            )

    def suppressed(self, numbers: Sequence[str]) -> set[str]:
        return set(self._select(suppressed=numbers).suppressed)

    @property
    def _insert_sql(self) -> sql.SQL:
        """Write sends given as columns (see _send_columns), replacing a record of the same id."""
        return self._q(
            "INSERT INTO {schema}.sends (id, number, person, at_us, record) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[]) "
            "ON CONFLICT (id) DO UPDATE SET record = excluded.record"
        )

    @staticmethod
    def _send_columns(records: Sequence[SendRecord]) -> list[list[Any]]:
        return [
            [r.id for r in records],
            [r.number for r in records],
            [r.person for r in records],
            [micros(r.at) for r in records],
            [encode_send(r) for r in records],
        ]

    def record_send(self, record: SendRecord) -> SendRecord:
        with self._one() as conn:
            conn.execute(self._insert_sql, self._send_columns([record]))
        return record

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        return dict(self._select(numbers=numbers, since=since).sends)

    def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return dict(self._select(persons=persons, since=since).person_sends)

    def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        distinct = list(dict.fromkeys(numbers))
        linked = {n: list(dict.fromkeys(persons[n])) for n in distinct if persons and n in persons}
        wanted = sorted({person for group in linked.values() for person in group})
        if not distinct:
            return {}
        # Two round trips: the transaction opens, locks and reads in one, and writes the holds
        # and commits in the other (client-side binding sends several statements at once).
        # BEGIN names READ COMMITTED: only it gives the read a snapshot taken after the lock
        # was granted (a server default of REPEATABLE READ would count too few sends).
        begin = "BEGIN ISOLATION LEVEL READ COMMITTED; "
        if len(distinct) == 1 and not wanted:  # lock and read in one call
            query = begin + "SELECT %s, NULL, * FROM {schema}.locked_sends(%s, %s, %s)"
            params: tuple[Any, ...] = (distinct[0], _SENDS_LOCK, distinct[0], micros(since))
        elif not wanted:  # every lock in lock-key order, so overlapping batches never deadlock
            query = begin + (
                "SELECT pg_advisory_xact_lock(%s, key) FROM (SELECT DISTINCT hashtext(n) "
                "AS key FROM unnest(%s::text[]) AS n ORDER BY key) AS keys; "
                "SELECT number, NULL, record FROM {schema}.sends WHERE number = ANY(%s::text[]) "
                "AND at_us >= %s ORDER BY at_us, id"
            )
            params = (_SENDS_LOCK, distinct, distinct, micros(since))
        else:  # addresses' locks, then persons' (each in lock-key order), then one read
            query = begin + (
                "SELECT pg_advisory_xact_lock(space, key) FROM ("
                "SELECT DISTINCT %s::int AS space, hashtext(n) AS key FROM unnest(%s::text[]) AS n "
                "UNION SELECT DISTINCT %s::int, hashtext(p) FROM unnest(%s::text[]) AS p "
                "ORDER BY space, key) AS keys; "
                "SELECT number, person, record FROM {schema}.sends "
                "WHERE (number = ANY(%s::text[]) OR person = ANY(%s::text[])) AND at_us >= %s "
                "ORDER BY at_us, id"
            )
            params = (
                _SENDS_LOCK,
                distinct,
                _PERSON_LOCK,
                wanted,
                distinct,
                wanted,
                micros(since),
            )
        with self._statements() as cursor:
            cursor.execute(self._q(query), params)
            while cursor.nextset():  # the last statement's rows are the sends
                pass
            own: dict[str, list[SendRecord]] = {number: [] for number in distinct}
            by_person: dict[str, list[SendRecord]] = {person: [] for person in wanted}
            for number, person, text in cursor.fetchall():
                record = decode_send(text)
                if number in own:
                    own[number].append(record)
                if person in by_person:
                    by_person[person].append(record)
            stored = decide_in_order(distinct, linked, own, by_person, decide)
            held = [record for records in stored.values() for record in records]
            if held:  # the write and the COMMIT in one round trip
                cursor.execute(self._insert_sql + sql.SQL("; COMMIT"), self._send_columns(held))
            else:
                cursor.execute("COMMIT")
        return stored

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        self.settle_many([(record, provider_id, sent)])

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        # The held record is the one this store wrote, so the settled one is built here; an
        # UPDATE of a hold that was forgotten meanwhile changes nothing. One statement (so one
        # round trip, all or nothing): the drops in a data-modifying WITH, then the updates.
        if not settlements:
            return
        sent = [(r.id, encode_send(r.as_sent(pid))) for r, pid, done in settlements if done]
        dropped = [r.id for r, _pid, done in settlements if not done]
        with self._one() as conn:
            conn.execute(
                self._q(
                    "WITH dropped AS (DELETE FROM {schema}.sends WHERE id = ANY(%s::text[])) "
                    "UPDATE {schema}.sends AS s SET record = u.record "
                    "FROM unnest(%s::text[], %s::text[]) AS u(id, record) WHERE s.id = u.id"
                ),
                (dropped, [i for i, _ in sent], [text for _, text in sent]),
            )

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        with self._one() as conn:
            conn.execute(
                self._q(
                    "INSERT INTO {schema}.engagement AS e (number, at_us, at, kind) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (number) DO UPDATE SET "
                    "at_us = excluded.at_us, at = excluded.at, kind = excluded.kind "
                    "WHERE excluded.at_us > e.at_us"
                ),
                (number, micros(at), at.isoformat(), kind),
            )

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        return dict(self._select(engaged=numbers).engagement)

    def numbers(self) -> list[str]:
        with self._one() as conn:
            rows = conn.execute(
                self._q("SELECT DISTINCT number FROM {schema}.consent_events ORDER BY number")
            ).fetchall()
        return [number for (number,) in rows]

    def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        rows = [(address, encode_profile(record)) for address, record in records.items()]
        if rows:
            with self._tx() as conn, conn.cursor() as cursor:
                cursor.executemany(
                    self._q(
                        "INSERT INTO {schema}.profiles (address, record) VALUES (%s, %s) "
                        "ON CONFLICT (address) DO UPDATE SET record = excluded.record"
                    ),
                    rows,
                )
        return len(rows)

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        result: dict[str, ProfileRecord | None] = dict.fromkeys(addresses)
        if result:
            with self._one() as conn:
                rows = conn.execute(
                    self._q(
                        "SELECT address, record FROM {schema}.profiles "
                        "WHERE address = ANY(%s::text[])"
                    ),
                    (list(result),),
                ).fetchall()
            for address, text in rows:
                result[address] = decode_profile(text)
        return result

    def claim_slot(self, key: str, *, now_us: int, interval_us: int) -> int:
        with self._one() as conn:
            row = conn.execute(
                self._q(
                    "INSERT INTO {schema}.send_slots AS s (key, slot_us) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET slot_us = "
                    "GREATEST(excluded.slot_us, s.slot_us + %s) RETURNING slot_us"
                ),
                (key, now_us, interval_us),
            ).fetchone()
        assert row is not None  # an upsert with RETURNING always returns its row
        return int(row[0])

    def drop_schema(self) -> None:
        """Drop the store's schema and everything in it (for tests and teardown)."""
        with self._tx() as conn:
            conn.execute(self._q("DROP SCHEMA IF EXISTS {schema} CASCADE"))

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        with self._one() as conn:
            row = conn.execute(
                self._q(
                    "SELECT value FROM {schema}.lookup_cache WHERE key = %s AND expires_us > %s"
                ),
                (key, micros(now)),
            ).fetchone()
        return str(row[0]) if row else None

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        with self._one() as conn:
            conn.execute(
                self._q(
                    "INSERT INTO {schema}.lookup_cache (key, value, expires_us) VALUES (%s, %s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                    "expires_us = excluded.expires_us"
                ),
                (key, value, micros(expires)),
            )
