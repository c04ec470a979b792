"""The release loop: batches, concurrent sends, graceful shutdown on SIGTERM."""

from __future__ import annotations

import concurrent.futures
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import attrs

from ..errors import InvalidInputError, StoreUnavailableError

if TYPE_CHECKING:
    from ._outbox import Outbox, Released, Send

__all__ = ["RunStats", "run_worker"]

log = logging.getLogger("smspolicy.outbox")


@attrs.define
class RunStats:
    """What a worker did: messages claimed, sent (``recovered`` of them completed from a send
    an earlier claim recorded), held again, dropped, lost to another worker; batches run and
    batches failed on a store outage."""

    claimed: int = 0
    sent: int = 0
    recovered: int = 0
    held: int = 0
    dropped: int = 0
    lost: int = 0
    batches: int = 0
    errors: int = 0
    """Batches that failed because a store was down (the loop waited ``poll`` and went on)."""

    def add(self, results: list[Released]) -> None:
        """Count one batch's outcomes."""
        self.batches += 1
        self.claimed += len(results)
        for result in results:
            name = result.status.value
            setattr(self, name, getattr(self, name) + 1)
            self.recovered += result.recovered


@contextmanager
def _signals(stop: threading.Event, enabled: bool) -> Iterator[None]:
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _positive(value: object, name: str, kind: type) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:  # type: ignore[operator]
        raise InvalidInputError(f"{name} must be a positive {kind.__name__}, got {value!r}")


def run_worker(
    outbox: Outbox,
    send: Send,
    *,
    batch: int,
    concurrency: int,
    poll: float,
    stop: threading.Event | None,
    once: bool,
    handle_signals: bool,
) -> RunStats:
    """See :meth:`Outbox.run`."""
    _positive(batch, "batch", int)
    _positive(concurrency, "concurrency", int)
    if isinstance(poll, int) and not isinstance(poll, bool):
        poll = float(poll)
    _positive(poll, "poll", float)
    outbox._engine()  # fail now, not after the first claim, when there is no engine
    stop = threading.Event() if stop is None else stop
    stats = RunStats()
    pool = concurrent.futures.ThreadPoolExecutor(concurrency) if concurrency > 1 else None
    try:
        with _signals(stop, handle_signals):
            while not stop.is_set():
                try:
                    results = outbox.release(
                        outbox.claim(limit=batch), send, concurrency=concurrency, executor=pool
                    )
                except StoreUnavailableError as error:  # claimed messages come back later
                    log.warning("the outbox store failed (%s); trying again", error)
                    stats.errors += 1
                    stop.wait(poll)
                    continue
                if results:
                    stats.add(results)
                    continue
                if once:
                    break
                stop.wait(poll)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return stats
