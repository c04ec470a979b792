"""Sending later: deferred messages kept until their instant and released exactly once.

``Outbox(store, engine).hold(message, decision, payload=..., key=...)`` keeps a deferred
message; ``Outbox.run(send)`` (or ``smspolicy worker``) claims due messages, decides each one
again through the engine and hands the allowed ones to ``send``. Stores: :class:`SQLiteOutbox`
(embedded default), :class:`MemoryOutbox`, and behind extras
``smspolicy.outbox.postgres.PostgresOutbox`` and ``smspolicy.outbox.redis.RedisOutbox``.
"""

from __future__ import annotations

from ._base import OutboxStore
from ._model import Held, HoldState
from ._outbox import (
    DEFAULT_VISIBILITY,
    OnRelease,
    Outbox,
    Release,
    Released,
    ReleaseStatus,
    Send,
)
from ._worker import RunStats
from .memory import MemoryOutbox
from .sqlite import SQLiteOutbox

__all__ = [
    "DEFAULT_VISIBILITY",
    "Held",
    "HoldState",
    "MemoryOutbox",
    "OnRelease",
    "Outbox",
    "OutboxStore",
    "Release",
    "ReleaseStatus",
    "Released",
    "RunStats",
    "SQLiteOutbox",
    "Send",
]
