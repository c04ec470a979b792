"""The in-memory reference store."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from .._records import GENESIS, ConsentEvent, ConsentKind, SendRecord
from ._base import (
    DecideHolds,
    DecideMany,
    PersonsOf,
    Settlement,
    Snapshot,
    Store,
    merged_sends,
    send_order,
    suppression_key,
)
from ._profiles import ProfileRecord

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Keeps everything in process memory; the reference every other store is tested against."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._events: dict[str, list[ConsentEvent]] = defaultdict(list)
        self._sends: dict[str, SendRecord] = {}
        # Record ids by address and by person (two namespaces), so reads touch only the
        # asked-for records.
        self._by_number: defaultdict[str, set[str]] = defaultdict(set)
        self._by_person: defaultdict[str, set[str]] = defaultdict(set)
        self._suppressed: set[str] = set()
        self._engaged: dict[str, dt.datetime] = {}
        self._cache: dict[str, tuple[str, dt.datetime]] = {}
        self._profiles: dict[str, ProfileRecord] = {}
        self._slots: dict[str, int] = {}

    def __repr__(self) -> str:
        return "MemoryStore()"

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        with self._lock:
            chain = self._events[event.number]
            prev = chain[-1].hash if chain else GENESIS
            stored = event.chained(len(chain), prev)
            chain.append(stored)
            return stored

    # The reads below are plain loops, not comprehensions: a message decided alone reads a
    # snapshot of its own, and a comprehension's call costs more than one key's read.

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        found: dict[str, list[ConsentEvent]] = {}
        events = self._events
        with self._lock:
            for number in numbers:
                found[number] = list(events.get(number, ()))
        return found

    def forget(self, number: str) -> None:
        with self._lock:
            events = self._events.pop(number, [])
            if any(e.kind is ConsentKind.REVOKED for e in events):
                self._suppressed.add(suppression_key(number))
            for record_id in list(self._by_number.get(number, ())):
                self._drop(record_id)
            self._engaged.pop(number, None)
            self._profiles.pop(number, None)
            for key in [key for key in self._cache if number in key]:
                del self._cache[key]

    def claim_slot(self, key: str, *, now_us: int, interval_us: int) -> int:
        with self._lock:
            last = self._slots.get(key)
            slot = now_us if last is None else max(now_us, last + interval_us)
            self._slots[key] = slot
            return slot

    def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        checked = {address: ProfileRecord(r.profile, r.person) for address, r in records.items()}
        with self._lock:
            self._profiles.update(checked)
        return len(checked)

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        found: dict[str, ProfileRecord | None] = {}
        profiles = self._profiles
        with self._lock:
            for address in addresses:
                found[address] = profiles.get(address)
        return found

    def suppressed(self, numbers: Sequence[str]) -> set[str]:
        found: set[str] = set()
        suppressed = self._suppressed
        with self._lock:
            for number in numbers:
                if suppression_key(number) in suppressed:
                    found.add(number)
        return found

    def _add(self, record: SendRecord) -> None:
        old = self._sends.get(record.id)
        if old is not None:
            self._drop(old.id)
        self._sends[record.id] = record
        self._by_number[record.number].add(record.id)
        if record.person is not None:
            self._by_person[record.person].add(record.id)

    def _drop(self, record_id: str) -> None:
        record = self._sends.pop(record_id)
        for index, key in ((self._by_number, record.number), (self._by_person, record.person)):
            if key is None:
                continue
            ids = index[key]
            ids.discard(record_id)
            if not ids:
                del index[key]

    def record_send(self, record: SendRecord) -> SendRecord:
        with self._lock:
            self._add(record)
            return record

    def _read(
        self, index: dict[str, set[str]], keys: Sequence[str], since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        with self._lock:
            result: dict[str, list[SendRecord]] = {}
            sends = self._sends
            for key in keys:
                ids = index.get(key)
                if not ids:
                    result[key] = []
                    continue
                found = []
                for i in ids:
                    record = sends[i]
                    if record.at >= since:
                        found.append(record)
                if len(found) > 1:  # most addresses hold one send or none in a window
                    found.sort(key=send_order)
                result[key] = found
            return result

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        return self._read(self._by_number, numbers, since)

    def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        return self._read(self._by_person, persons, since)

    def hold(
        self,
        number: str,
        *,
        since: dt.datetime,
        decide: DecideHolds,
        persons: Collection[str] = (),
    ) -> list[SendRecord]:
        with self._lock:
            wanted = list(dict.fromkeys(persons))
            records = merged_sends(
                self.sends([number], since=since)[number],
                *self.person_sends(wanted, since=since).values(),
            )
            held = list(decide(records))
            for record in held:
                self._add(record)
            return held

    def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        with self._lock:  # one hold after another, the whole batch under the lock
            return super().reserve_many(numbers, since=since, decide=decide, persons=persons)

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        with self._lock:
            super().settle_many(settlements)

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        with self._lock:
            held = self._sends.get(record.id)
            if held is None:
                return
            if sent:
                self._sends[record.id] = held.as_sent(provider_id)  # same id, number and person
            else:
                self._drop(record.id)

    def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        """The five reads under one hold of the lock (it is re-entrant): one consistent view.
        Each part is read through its own method, so a subclass or a patched read is used."""
        with self._lock:
            return super().snapshot(numbers, persons=persons, since=since)

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        with self._lock:
            if number not in self._engaged or self._engaged[number] < at:
                self._engaged[number] = at

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        found: dict[str, dt.datetime | None] = {}
        engaged = self._engaged
        with self._lock:
            for number in numbers:
                found[number] = engaged.get(number)
        return found

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
