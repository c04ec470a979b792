"""Stores: where consent events, sends and reservations live.

:class:`MemoryStore` is the reference; every backend passes the same conformance suite.
"""

import importlib

from .._records import GENESIS, Basis, ConsentEvent, ConsentKind, SendRecord, SendStatus
from ._base import (
    Audience,
    BatchReservations,
    ConsentLedger,
    Counters,
    Decide,
    DecideHolds,
    DecideMany,
    LookupCache,
    Reservations,
    SendLog,
    Settlement,
    Snapshot,
    Store,
    suppression_key,
)
from ._profiles import ProfileRecord, ProfileStore, StoredProfiles
from ._slots import SlotStore
from .composed import ComposedStore
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = [
    "GENESIS",
    "Audience",
    "Basis",
    "BatchReservations",
    "ComposedStore",
    "ConsentEvent",
    "ConsentKind",
    "ConsentLedger",
    "Counters",
    "Decide",
    "DecideHolds",
    "DecideMany",
    "LookupCache",
    "MemoryStore",
    "PostgresStore",
    "ProfileRecord",
    "ProfileStore",
    "RedisStore",
    "Reservations",
    "SQLiteStore",
    "SendLog",
    "SendRecord",
    "SendStatus",
    "Settlement",
    "SlotStore",
    "Snapshot",
    "Store",
    "StoredProfiles",
    "suppression_key",
]


_OPTIONAL = {
    "PostgresStore": ("postgres", "smspolicy[postgres]"),
    "RedisStore": ("redis", "smspolicy[redis]"),
}


def __getattr__(name: str) -> object:
    # The PostgreSQL and Redis stores need optional packages: import them on first use.
    if name in _OPTIONAL:
        module, extra = _OPTIONAL[name]
        try:
            imported = importlib.import_module(f"{__name__}.{module}")
        except ImportError as error:
            raise ImportError(f"{name} needs `pip install {extra}`: {error}") from error
        return getattr(imported, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
