"""Outbox stores for tests, each reopenable by name in another process."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

from smspolicy.outbox import MemoryOutbox, OutboxStore, SQLiteOutbox

from .services import POSTGRES_DSN, REDIS_URL, _unavailable

KINDS = ("memory", "sqlite", "postgres", "redis")
SHARED_KINDS = ("sqlite", "postgres", "redis")
"""Stores that several processes can share."""


def spec_for(kind: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A fresh, isolated store's name and arguments (a unique table, schema or key prefix)."""
    unique = "ob_" + uuid.uuid4().hex[:12]
    if kind == "memory":
        return kind, {}
    if kind == "sqlite":
        return kind, {"path": str(tmp_path / "outbox.sqlite3"), "table": unique}
    if kind == "postgres":
        return kind, {"dsn": POSTGRES_DSN, "schema": unique}
    return kind, {"url": REDIS_URL, "prefix": unique}


def open_store(spec: tuple[str, dict[str, Any]]) -> OutboxStore:
    """Open the store ``spec`` names (skip, or fail under CI, when its service is down)."""
    kind, args = spec
    if kind == "memory":
        return MemoryOutbox()
    if kind == "sqlite":
        return SQLiteOutbox(args["path"], table=args["table"])
    if kind == "postgres":
        from smspolicy.errors import StoreUnavailableError
        from smspolicy.outbox.postgres import PostgresOutbox

        try:
            return PostgresOutbox(args["dsn"], schema=args["schema"])
        except StoreUnavailableError as error:
            _unavailable(f"PostgreSQL at {args['dsn']!r}", error)
            raise
    import redis

    from smspolicy.outbox.redis import RedisOutbox

    probe = redis.Redis.from_url(args["url"], socket_connect_timeout=2)
    try:
        probe.ping()
    except (redis.RedisError, OSError) as error:
        _unavailable(f"Redis at {args['url']!r}", error)
    finally:
        probe.close()
    return RedisOutbox(args["url"], prefix=args["prefix"])


def remove(store: OutboxStore) -> None:
    """Delete what a test store wrote and close it."""
    for name in ("drop_table", "drop_keys"):
        cleanup = getattr(store, name, None)
        if cleanup is not None:
            with contextlib.suppress(Exception):
                cleanup()
    with contextlib.suppress(Exception):
        store.close()
