"""The in-memory outbox: the reference the other stores are compared with."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence

import attrs

from ._model import Finish, Held, HoldState

__all__ = ["MemoryOutbox"]


class MemoryOutbox:
    """Held messages in a dict, for tests and single-process programs (lost on exit)."""

    def __init__(self) -> None:
        self._items: dict[str, Held] = {}
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryOutbox()"

    def add(self, held: Held) -> Held:
        with self._lock:
            existing = self._keys.get(held.key)
            if existing is not None:
                return self._items[existing]
            self._keys[held.key] = held.id
            self._items[held.id] = held
            return held

    def claim(self, now: dt.datetime, limit: int, until: dt.datetime, token: str) -> list[Held]:
        with self._lock:
            ready = sorted(
                (h for h in self._items.values() if h.ready is not None and h.ready <= now),
                key=lambda h: (h.ready, h.id),
            )[:limit]
            out = []
            for held in ready:
                claimed = attrs.evolve(
                    held,
                    state=HoldState.CLAIMED,
                    token=token,
                    claim_until=until,
                    attempts=held.attempts + 1,
                )
                self._items[held.id] = claimed
                out.append(claimed)
            return out

    def record_sends(self, sends: Sequence[tuple[str, str | None, dt.datetime]]) -> None:
        with self._lock:
            for id, provider_id, at in sends:
                held = self._items.get(id)
                if held and held.state is HoldState.CLAIMED and held.sent_at is None:
                    self._items[id] = attrs.evolve(held, provider_id=provider_id, sent_at=at)

    def finish(self, items: Sequence[Finish]) -> list[bool]:
        with self._lock:
            return [self._finish(item) for item in items]

    def _finish(self, item: Finish) -> bool:
        held = self._items.get(item.id)
        if held is None or held.state is not HoldState.CLAIMED or held.token != item.token:
            return False
        if item.state is HoldState.HELD:
            assert item.due is not None
            self._items[item.id] = attrs.evolve(
                held,
                state=HoldState.HELD,
                due=item.due,
                token=None,
                claim_until=None,
                reasons=item.reasons,
            )
        else:
            sent = item.state is HoldState.SENT
            self._items[item.id] = attrs.evolve(
                held,
                state=item.state,
                token=None,
                claim_until=None,
                reasons=item.reasons,
                finished_at=item.at,
                provider_id=item.provider_id if sent and held.sent_at is None else held.provider_id,
                sent_at=item.at if sent and held.sent_at is None else held.sent_at,
            )
        return True

    def get(self, id: str) -> Held | None:
        with self._lock:
            return self._items.get(id)

    def dropped(self, limit: int = 100) -> list[Held]:
        with self._lock:
            items = [h for h in self._items.values() if h.state is HoldState.DROPPED]
        return sorted(items, key=lambda h: (h.finished_at, h.id))[:limit]

    def counts(self) -> Mapping[HoldState, int]:
        with self._lock:
            out = dict.fromkeys(HoldState, 0)
            for held in self._items.values():
                out[held.state] += 1
            return out

    def close(self) -> None:
        """Nothing to release."""
