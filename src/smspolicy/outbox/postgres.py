"""The PostgreSQL outbox (psycopg 3): claims with ``FOR UPDATE SKIP LOCKED``.

Install with ``pip install smspolicy[postgres]``. Many workers, on many machines, claim from one
table: each claim locks the rows it takes and skips the rows others hold, so no message is
claimed twice and no worker waits for another.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg

from ..errors import ConfigurationError, StoreUnavailableError
from ._model import Finish, Held, HoldState, encode_reasons, encode_record, micros
from ._sql import COLUMNS, check_table, held_from_row, reasons_of

__all__ = ["PostgresOutbox"]


class PostgresOutbox:
    """Held messages in a PostgreSQL table (created when missing), one connection per
    instance (use one instance per thread or process that claims)."""

    def __init__(
        self, dsn: str, *, table: str = "smspolicy_outbox", schema: str | None = None
    ) -> None:
        self.table = check_table(table)
        self.schema = None if schema is None else check_table(schema)
        self._name = f"{self.schema}.{self.table}" if self.schema else self.table
        self._lock = threading.RLock()
        if not isinstance(dsn, str):
            raise ConfigurationError(f"dsn must be a connection string, got {dsn!r}")
        self._dsn = dsn
        self._db: psycopg.Connection[Any] | None = None
        try:
            with self._tx() as cur:
                if self.schema:
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._name} ("
                    "id text PRIMARY KEY, key text NOT NULL UNIQUE, state text NOT NULL, "
                    "due_us bigint NOT NULL, ready_us bigint, token text, "
                    "attempts integer NOT NULL DEFAULT 0, provider_id text, sent_us bigint, "
                    "reasons text, finished_us bigint, record text NOT NULL)"
                )
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_ready ON {self._name} "
                    "(ready_us, id) WHERE ready_us IS NOT NULL"
                )
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_state ON {self._name} "
                    "(state, finished_us, id)"
                )
        except psycopg.Error as error:
            raise StoreUnavailableError(f"cannot open the PostgreSQL outbox: {error}") from error

    def __repr__(self) -> str:
        return f"PostgresOutbox(table={self._name!r})"

    @contextlib.contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction; a connection lost on the way is opened again on the next call."""
        with self._lock:
            try:
                if self._db is None or self._db.closed or self._db.broken:
                    self._db = psycopg.connect(self._dsn, autocommit=False, connect_timeout=10)
                with self._db.transaction(), self._db.cursor() as cur:
                    yield cur
            except psycopg.Error as error:
                raise StoreUnavailableError(f"PostgreSQL outbox failed: {error}") from error

    def add(self, held: Held) -> Held:
        due = micros(held.due)
        with self._tx() as cur:
            cur.execute(
                f"INSERT INTO {self._name} (id, key, state, due_us, ready_us, reasons, record) "
                "VALUES (%s, %s, 'held', %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
                (held.id, held.key, due, due, reasons_of(held), encode_record(held)),
            )
            if cur.rowcount == 1:
                return held
            cur.execute(f"SELECT {COLUMNS} FROM {self._name} WHERE key = %s", (held.key,))
            row = cur.fetchone()
        assert row is not None
        return held_from_row(row)

    def claim(self, now: dt.datetime, limit: int, until: dt.datetime, token: str) -> list[Held]:
        with self._tx() as cur:
            cur.execute(
                f"WITH ready AS (SELECT id FROM {self._name} "
                "WHERE ready_us IS NOT NULL AND ready_us <= %s ORDER BY ready_us, id "
                "LIMIT %s FOR UPDATE SKIP LOCKED) "
                f"UPDATE {self._name} AS t SET state = 'claimed', token = %s, ready_us = %s, "
                f"attempts = t.attempts + 1 FROM ready WHERE t.id = ready.id "
                f"RETURNING {', '.join('t.' + c.strip() for c in COLUMNS.split(','))}",
                (micros(now), limit, token, micros(until)),
            )
            rows = cur.fetchall()
        return [held_from_row(row) for row in rows]

    def record_sends(self, sends: Sequence[tuple[str, str | None, dt.datetime]]) -> None:
        if not sends:
            return
        with self._tx() as cur:
            cur.executemany(
                f"UPDATE {self._name} SET provider_id = %s, sent_us = %s "
                "WHERE id = %s AND state = 'claimed' AND sent_us IS NULL",
                [(provider_id, micros(at), id) for id, provider_id, at in sends],
            )

    def finish(self, items: Sequence[Finish]) -> list[bool]:
        held_rows = []
        done_rows = []
        for index, item in enumerate(items):
            reasons = encode_reasons(item.reasons) if item.reasons else None
            if item.state is HoldState.HELD:
                assert item.due is not None
                held_rows.append((index, item.id, item.token, micros(item.due), reasons))
            else:
                done_rows.append(
                    (
                        index,
                        item.id,
                        item.token,
                        item.state.value,
                        reasons,
                        micros(item.at),
                        item.state is HoldState.SENT,
                        item.provider_id,
                    )
                )
        out = [False] * len(items)
        with self._tx() as cur:
            if held_rows:
                cur.execute(
                    f"UPDATE {self._name} AS t SET state = 'held', due_us = v.due, "
                    "ready_us = v.due, token = NULL, reasons = v.reasons "
                    "FROM unnest(%s::int[], %s::text[], %s::text[], %s::bigint[], %s::text[]) "
                    "AS v(i, id, token, due, reasons) "
                    "WHERE t.id = v.id AND t.state = 'claimed' AND t.token = v.token "
                    "RETURNING v.i",
                    [list(column) for column in zip(*held_rows, strict=True)],
                )
                for (index,) in cur.fetchall():
                    out[index] = True
            if done_rows:
                cur.execute(
                    f"UPDATE {self._name} AS t SET state = v.state, ready_us = NULL, "
                    "token = NULL, reasons = v.reasons, finished_us = v.at, "
                    "provider_id = CASE WHEN v.sent AND t.sent_us IS NULL THEN v.provider_id "
                    "ELSE t.provider_id END, "
                    "sent_us = CASE WHEN v.sent AND t.sent_us IS NULL THEN v.at ELSE t.sent_us END "
                    "FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[], %s::text[], "
                    "%s::bigint[], %s::bool[], %s::text[]) "
                    "AS v(i, id, token, state, reasons, at, sent, provider_id) "
                    "WHERE t.id = v.id AND t.state = 'claimed' AND t.token = v.token "
                    "RETURNING v.i",
                    [list(column) for column in zip(*done_rows, strict=True)],
                )
                for (index,) in cur.fetchall():
                    out[index] = True
        return out

    def _select(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._tx() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def get(self, id: str) -> Held | None:
        rows = self._select(f"SELECT {COLUMNS} FROM {self._name} WHERE id = %s", (id,))
        return held_from_row(rows[0]) if rows else None

    def dropped(self, limit: int = 100) -> list[Held]:
        rows = self._select(
            f"SELECT {COLUMNS} FROM {self._name} WHERE state = 'dropped' "
            "ORDER BY finished_us, id LIMIT %s",
            (limit,),
        )
        return [held_from_row(row) for row in rows]

    def counts(self) -> Mapping[HoldState, int]:
        out = dict.fromkeys(HoldState, 0)
        for state, count in self._select(
            f"SELECT state, count(*) FROM {self._name} GROUP BY state", ()
        ):
            out[HoldState(state)] = int(count)
        return out

    def drop_table(self) -> None:
        """Remove the table (and the schema, when one was given): for tests."""
        with self._tx() as cur:
            if self.schema:
                cur.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            else:
                cur.execute(f"DROP TABLE IF EXISTS {self._name}")

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            self._db.close()
