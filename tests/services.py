"""Real services for store tests: PostgreSQL and Redis, and a TCP proxy that can cut them off.

Tests that need a service skip with a clear message when it is not running, and fail under
CI (CI=true), where .ci/run has made sure both answer.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_DSN = os.environ.get(
    "SMSPOLICY_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres"
)
REDIS_URL = os.environ.get("SMSPOLICY_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}: under CI the service must be running", pytrace=False)
    pytest.skip(f"{message}: start it to run this test")


def postgres_store(dsn: str = POSTGRES_DSN, **kwargs: object) -> object:
    """A PostgresStore in a fresh schema, or skip/fail when PostgreSQL is down."""
    from smspolicy.errors import StoreUnavailableError
    from smspolicy.store.postgres import PostgresStore

    schema = "t_" + uuid.uuid4().hex[:16]
    try:
        return PostgresStore(dsn, schema=schema, **kwargs)  # type: ignore[arg-type]
    except StoreUnavailableError as error:
        _unavailable(f"PostgreSQL at {dsn!r}", error)
        raise


def redis_store(url: str = REDIS_URL, **kwargs: object) -> object:
    """A RedisStore under a fresh key prefix, or skip/fail when Redis is down."""
    import redis

    from smspolicy.store.redis import RedisStore

    probe = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        probe.ping()
    except (redis.RedisError, OSError) as error:
        _unavailable(f"Redis at {url!r}", error)
    finally:
        probe.close()
    return RedisStore(url, prefix="t" + uuid.uuid4().hex[:16], **kwargs)  # type: ignore[arg-type]


def drop(store: object) -> None:
    """Remove what a test store wrote."""
    from smspolicy.store import ComposedStore
    from smspolicy.store.async_base import BlockingStore

    if isinstance(store, BlockingStore):  # an async store seen synchronously
        from .async_support import LOOP, async_drop

        LOOP.run(async_drop(store.store))
        return
    if isinstance(store, ComposedStore):
        drop(store.ledger)
        drop(store.counters)
        return
    if hasattr(store, "drop_schema"):
        with contextlib.suppress(Exception):
            store.drop_schema()
    if type(store).__name__ == "RedisStore":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        with contextlib.suppress(Exception):
            for key in client.scan_iter(match=f"{store.prefix}:*"):  # type: ignore[attr-defined]
                client.delete(key)
        client.close()
    close = getattr(store, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()


class Proxy:
    """A TCP proxy on 127.0.0.1 that forwards to a service and can cut every connection."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self._up.clear()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def restore(self) -> None:
        """Accept connections again."""
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


@contextlib.contextmanager
def proxy(port: int) -> Iterator[Proxy]:
    """A proxy to the local service on ``port``, closed afterwards."""
    p = Proxy(port)
    try:
        yield p
    finally:
        p.close()
