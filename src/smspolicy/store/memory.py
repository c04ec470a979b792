"""The in-memory reference store."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Sequence

from .._records import GENESIS, ConsentEvent, ConsentKind, SendRecord
from ._base import BatchBacked, DecideMany, Settlement, suppression_key

__all__ = ["MemoryStore"]


def person_key(person: str) -> str:
    """The send-log key that links one person's addresses."""
    return f"person:{person}"


class MemoryStore(BatchBacked):
    """Keeps everything in process memory; the reference every other store is tested against."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._events: dict[str, list[ConsentEvent]] = defaultdict(list)
        self._sends: dict[str, SendRecord] = {}
        # Record ids by number and by person key, so reads touch only the asked-for records.
        self._keyed: defaultdict[str, set[str]] = defaultdict(set)
        self._suppressed: set[str] = set()
        self._engaged: dict[str, dt.datetime] = {}
        self._cache: dict[str, tuple[str, dt.datetime]] = {}

    def __repr__(self) -> str:
        return "MemoryStore()"

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        with self._lock:
            chain = self._events[event.number]
            prev = chain[-1].hash if chain else GENESIS
            stored = event.chained(len(chain), prev)
            chain.append(stored)
            return stored

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        with self._lock:
            return {number: list(self._events.get(number, ())) for number in numbers}

    def forget(self, number: str) -> None:
        with self._lock:
            events = self._events.pop(number, [])
            if any(e.kind is ConsentKind.REVOKED for e in events):
                self._suppressed.add(suppression_key(number))
            for record_id in list(self._keyed.get(number, ())):
                self._drop(record_id)
            self._engaged.pop(number, None)

    def suppressed(self, numbers: Sequence[str]) -> set[str]:
        with self._lock:
            return {n for n in numbers if suppression_key(n) in self._suppressed}

    @staticmethod
    def _keys(record: SendRecord) -> tuple[str, ...]:
        if record.person is None:
            return (record.number,)
        return (record.number, person_key(record.person))

    def _add(self, record: SendRecord) -> None:
        old = self._sends.get(record.id)
        if old is not None:
            self._drop(old.id)
        self._sends[record.id] = record
        for key in self._keys(record):
            self._keyed[key].add(record.id)

    def _drop(self, record_id: str) -> None:
        record = self._sends.pop(record_id)
        for key in self._keys(record):
            ids = self._keyed[key]
            ids.discard(record_id)
            if not ids:
                del self._keyed[key]

    def record_send(self, record: SendRecord) -> SendRecord:
        with self._lock:
            self._add(record)
            return record

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        with self._lock:
            result: dict[str, list[SendRecord]] = {}
            for key in numbers:
                found = [self._sends[i] for i in self._keyed.get(key, ())]
                found = [r for r in found if r.at >= since]
                found.sort(key=lambda r: (r.at, r.id))
                result[key] = found
            return result

    def _reserve_batch(
        self, numbers: Sequence[str], *, since: dt.datetime, decide: DecideMany
    ) -> dict[str, list[SendRecord]]:
        with self._lock:
            stored: dict[str, list[SendRecord]] = {}
            for number in dict.fromkeys(numbers):
                stored[number] = decide(number, self.sends([number], since=since)[number])
                for record in stored[number]:
                    self._add(record)
            return stored

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        with self._lock:
            for record, provider_id, sent in settlements:
                self.settle(record, provider_id=provider_id, sent=sent)

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        record_id = record.id
        with self._lock:
            held = self._sends.get(record_id)
            if held is None:
                return
            if sent:
                self._sends[record_id] = held.as_sent(provider_id)  # same id, number and person
            else:
                self._drop(record_id)

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        with self._lock:
            if number not in self._engaged or self._engaged[number] < at:
                self._engaged[number] = at

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        with self._lock:
            return {number: self._engaged.get(number) for number in numbers}

    def numbers(self) -> list[str]:
        with self._lock:
            return sorted(number for number, events in self._events.items() if events)

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        with self._lock:
            found = self._cache.get(key)
            return found[0] if found and found[1] > now else None

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        with self._lock:
            self._cache[key] = (value, expires)
