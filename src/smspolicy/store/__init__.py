"""Stores: where consent events, sends and reservations live.

:class:`MemoryStore` is the reference; every backend passes the same conformance suite.
"""

from .._records import GENESIS, Basis, ConsentEvent, ConsentKind, SendRecord, SendStatus
from ._base import Audience, ConsentLedger, Reservations, SendLog, Store, suppression_key
from .memory import MemoryStore, person_key
from .sqlite import SQLiteStore

__all__ = [
    "GENESIS",
    "Audience",
    "Basis",
    "ConsentEvent",
    "ConsentKind",
    "ConsentLedger",
    "MemoryStore",
    "Reservations",
    "SQLiteStore",
    "SendLog",
    "SendRecord",
    "SendStatus",
    "Store",
    "person_key",
    "suppression_key",
]
