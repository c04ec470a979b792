"""A local journal of what the guards could not write to the store at once.

A send that AWS accepted (or may have delivered) must keep counting, and a provider opt-out
must never be lost, even while the store is down. The guard writes such an entry to its journal
before anything else, writes the store, and marks the entry done when the store has it; until
then the entry's number is denied ``store.unavailable`` and the guard replays the entry at its
next call. The journal also remembers the answers to calls made with an idempotency key.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigurationError

__all__ = ["FileJournal", "Journal", "MemoryJournal"]


@runtime_checkable
class Journal(Protocol):
    """Where the guards keep unsettled sends, unwritten opt-outs and idempotent answers.

    Entries and answers are JSON-compatible mappings."""

    def append(self, entry: Mapping[str, Any]) -> str:
        """Keep ``entry`` (durably, before returning) and return its id."""

    def done(self, entry_id: str) -> None:
        """Forget the entry: the store has it now."""

    def pending(self) -> list[tuple[str, Mapping[str, Any]]]:
        """The entries not yet done, oldest first."""

    def remember(self, key: str, answer: Mapping[str, Any]) -> None:
        """Keep the answer of the call made with idempotency ``key``."""

    def recall(self, key: str) -> Mapping[str, Any] | None:
        """The answer kept for ``key``, if any."""


class MemoryJournal:
    """A journal in this process's memory: entries survive a store outage, not a crash."""

    def __init__(self) -> None:
        self._entries: dict[str, Mapping[str, Any]] = {}
        self._answers: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    def append(self, entry: Mapping[str, Any]) -> str:
        """Keep ``entry`` and return its id."""
        entry_id = uuid.uuid4().hex
        frozen = json.loads(json.dumps(dict(entry), default=str))
        with self._lock:
            self._entries[entry_id] = frozen
        return entry_id

    def done(self, entry_id: str) -> None:
        """Forget the entry."""
        with self._lock:
            self._entries.pop(entry_id, None)

    def pending(self) -> list[tuple[str, Mapping[str, Any]]]:
        """The entries not yet done, oldest first."""
        with self._lock:
            return list(self._entries.items())

    def remember(self, key: str, answer: Mapping[str, Any]) -> None:
        """Keep the answer of the call made with ``key``."""
        frozen = json.loads(json.dumps(dict(answer), default=str))
        with self._lock:
            self._answers[key] = frozen

    def recall(self, key: str) -> Mapping[str, Any] | None:
        """The answer kept for ``key``."""
        with self._lock:
            return self._answers.get(key)

    def __repr__(self) -> str:
        return f"MemoryJournal(pending={len(self._entries)})"


class FileJournal(MemoryJournal):
    """A journal in an append-only JSON-lines file, flushed and fsynced before each call
    returns, so its entries survive a crash and are replayed by the next guard that opens it.
    Entries are local to the machine: give each worker its own file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(exist_ok=True)
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigurationError(f"cannot open the journal {self.path}: {error}") from error
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash mid-write: its call never returned
            kind = record.get("op")
            if kind == "append":
                self._entries[record["id"]] = record["entry"]
            elif kind == "done":
                self._entries.pop(record["id"], None)
            elif kind == "answer":
                self._answers[record["key"]] = record["answer"]

    def _write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(dict(record), default=str, ensure_ascii=True) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def append(self, entry: Mapping[str, Any]) -> str:
        """Write ``entry`` to the file (fsynced) and return its id."""
        entry_id = uuid.uuid4().hex
        frozen = json.loads(json.dumps(dict(entry), default=str))
        with self._lock:
            self._write({"op": "append", "id": entry_id, "entry": frozen})
            self._entries[entry_id] = frozen
        return entry_id

    def done(self, entry_id: str) -> None:
        """Mark the entry done in the file."""
        with self._lock:
            if entry_id in self._entries:
                self._write({"op": "done", "id": entry_id})
                del self._entries[entry_id]

    def remember(self, key: str, answer: Mapping[str, Any]) -> None:
        """Write the answer of the call made with ``key``."""
        frozen = json.loads(json.dumps(dict(answer), default=str))
        with self._lock:
            self._write({"op": "answer", "key": key, "answer": frozen})
            self._answers[key] = frozen

    def __repr__(self) -> str:
        return f"FileJournal({str(self.path)!r}, pending={len(self._entries)})"
