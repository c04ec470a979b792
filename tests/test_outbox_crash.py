"""Workers killed with SIGKILL at random points while they release: afterwards every held
message was sent exactly once or dropped with a reason; none is lost."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Engine, Message, Policy, Reason, allow, deny, rule
from smspolicy.outbox import HoldState, Outbox, Release
from smspolicy.store import MemoryStore

from .outbox_support import SHARED_KINDS, open_store, remove, spec_for

KILLS = 200
"""SIGKILLs per store."""
WORKERS = 4
BATCH = 4
VISIBILITY = dt.timedelta(seconds=1)
BLOCKED = "9"
"""Numbers ending in this digit are denied by the policy: their messages must be dropped."""


@rule
def blocked(message: Message, context: Any) -> Any:
    """Deny numbers ending in BLOCKED (stands for a STOP that arrived while they waited)."""
    if message.address.endswith(BLOCKED):
        return deny(Reason("test.blocked", "blocked", "the number opted out meanwhile"))
    return allow()


def _provider(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, provider_id TEXT, n INTEGER)"
    )
    return db


def _worker(spec: Any, provider_path: str, seed: int) -> None:
    """One release worker; its sender is an idempotent provider (a repeated key returns the
    first call's id and is counted, never delivered again)."""
    rng = random.Random(seed)
    store = open_store(spec)
    provider = _provider(provider_path)
    engine = Engine(Policy(blocked, name="crash"), MemoryStore())
    outbox = Outbox(store, engine, visibility=VISIBILITY)

    def send(release: Release) -> str:
        time.sleep(rng.random() * 0.002)
        row = provider.execute(
            "INSERT INTO calls (key, provider_id, n) VALUES (?, ?, 1) "
            "ON CONFLICT (key) DO UPDATE SET n = n + 1 RETURNING provider_id",
            (release.key, "p-" + release.key),
        ).fetchone()
        time.sleep(rng.random() * 0.002)
        return str(row[0])

    outbox.run(send, batch=BATCH, poll=0.01)


def _hold_wave(outbox: Outbox, start: int, count: int, now: dt.datetime) -> dict[str, int]:
    """Hold ``count`` messages numbered from ``start``; returns key → number."""
    keys = {}
    for i in range(start, start + count):
        stale = i % 7 == 0  # its not_after has passed: must be dropped as stale
        message = Message(
            f"+1212555{i % 10000:04d}",
            "alerts",
            "transactional",
            body=f"m{i}",
            not_after=now - dt.timedelta(seconds=1) if stale else None,
        )
        key = f"k{i}"
        outbox.hold(message, now - dt.timedelta(seconds=2), key=key)
        keys[key] = i
    return keys


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_sigkilled_workers_lose_and_duplicate_nothing(kind: str, tmp_path: Path) -> None:
    """200 SIGKILLs of 4 release workers at random instants, then a graceful drain: each
    message is sent exactly once (one delivery per key at the provider, the outbox's provider
    id matching it) or dropped with its reason (opted out or stale); nothing is left held or
    claimed. Repeated provider calls (a kill between the provider's answer and the outbox's
    record) are absorbed by the idempotency key and stay below one batch per kill."""
    spec = spec_for(kind, tmp_path)
    store = open_store(spec)
    provider_path = str(tmp_path / "provider.sqlite3")
    _provider(provider_path).close()
    outbox = Outbox(store)
    rng = random.Random(24)
    keys = _hold_wave(outbox, 0, 200, dt.datetime.now(dt.UTC))
    ctx = multiprocessing.get_context("fork")

    def start(seed: int) -> Any:
        process = ctx.Process(target=_worker, args=(spec, provider_path, seed), daemon=True)
        process.start()
        return process

    workers = [start(seed) for seed in range(WORKERS)]
    kills = 0
    try:
        deadline = time.monotonic() + 240
        while kills < KILLS and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.01, 0.06))
            slot = rng.randrange(WORKERS)
            os.kill(workers[slot].pid, signal.SIGKILL)
            workers[slot].join()
            kills += 1
            workers[slot] = start(1000 + kills)
            counts = outbox.counts()
            if counts[HoldState.HELD] + counts[HoldState.CLAIMED] < 40:
                keys |= _hold_wave(outbox, len(keys), 60, dt.datetime.now(dt.UTC))
        assert kills == KILLS
        drain = time.monotonic() + 60
        while time.monotonic() < drain:
            counts = outbox.counts()
            if counts[HoldState.HELD] + counts[HoldState.CLAIMED] == 0:
                break
            time.sleep(0.1)
    finally:
        for process in workers:
            os.kill(process.pid, signal.SIGTERM)  # graceful: the batch in hand is finished
        for process in workers:
            process.join(timeout=30)
    assert [p.exitcode for p in workers] == [0] * WORKERS

    provider = _provider(provider_path)
    calls = {
        key: (pid, n) for key, pid, n in provider.execute("SELECT key, provider_id, n FROM calls")
    }
    provider.close()
    sent, dropped = 0, 0
    for key, i in keys.items():
        [held] = [h for h in [_by_key(outbox, key)] if h is not None]
        expect_blocked = f"{i % 10000:04d}".endswith(BLOCKED)
        expect_stale = i % 7 == 0
        if expect_stale or expect_blocked:
            assert held.state is HoldState.DROPPED, (key, held)
            codes = [r.code for r in held.reasons]
            assert codes == ["message.stale" if expect_stale else "test.blocked"], (key, codes)
            assert key not in calls
            dropped += 1
        else:
            assert held.state is HoldState.SENT, (key, held)
            assert held.provider_id == calls[key][0] == "p-" + key
            sent += 1
    assert sent == len(calls)  # nothing reached the provider that the outbox does not show
    assert sent + dropped == len(keys)
    assert sent > 0
    assert dropped > 0
    counts = outbox.counts()
    assert (counts[HoldState.SENT], counts[HoldState.DROPPED]) == (sent, dropped)
    repeated = sum(n - 1 for _pid, n in calls.values())
    print(f"{kind}: {kills} kills, {sent} sent, {dropped} dropped, {repeated} repeated calls")
    assert repeated <= kills * BATCH
    remove(store)


def _by_key(outbox: Outbox, key: str) -> Any:
    """The held message with this key (holding the key again returns it, stores nothing)."""
    return outbox.hold(
        Message("+12125550100", "alerts", "transactional"), dt.datetime.now(dt.UTC), key=key
    )
