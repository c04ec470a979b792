"""Reservations: atomic check-and-count of a send before it goes out."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._records import SendRecord, SendStatus
from ._values import Decision, Message, check_text
from .errors import InvalidInputError

if TYPE_CHECKING:
    from .store import Store

__all__ = ["DEFAULT_HOLD", "Reservation", "held_record", "send_record", "settle_all"]

DEFAULT_HOLD = dt.timedelta(minutes=5)
"""How long an uncommitted reservation keeps its slot before it expires."""


def send_record(message: Message, number: str, at: dt.datetime, **fields: Any) -> SendRecord:
    """The send-log record of ``message`` to ``number`` at ``at`` (``fields`` add the rest)."""
    return SendRecord(
        number=number,
        at=at,
        topic=message.topic,
        purpose=message.purpose,
        channel=message.channel,
        content_key=message.content_key,
        brand=message.brand,
        sender=message.sender,
        person=message.person,
        **fields,
    )


def held_record(message: Message, number: str, now: dt.datetime, hold: dt.timedelta) -> SendRecord:
    """The send-log record that holds a slot for ``message`` until ``now + hold``."""
    return send_record(message, number, now, status=SendStatus.RESERVED, expires=now + hold)


class Reservation:
    """The outcome of :meth:`Engine.reserve`: the decision, and when it allowed, a slot held in
    the send log. ``commit(provider_id)`` after sending, ``release()`` if not sent; an abandoned
    reservation stops counting when it expires."""

    def __init__(self, decision: Decision, record: SendRecord | None, store: Store) -> None:
        self.decision = decision
        self.record = record
        self._store = store
        self._lock = threading.Lock()
        self._settled = record is None

    @property
    def allowed(self) -> bool:
        """True when a slot is held and the message may go now."""
        return self.record is not None

    def _claim(self) -> SendRecord:
        """Mark this reservation settled, or raise if it cannot be; returns its record."""
        with self._lock:
            if self.record is None:
                raise InvalidInputError(
                    f"nothing was reserved: the decision was {self.decision.verdict.value}"
                )
            if self._settled:
                raise InvalidInputError("this reservation was already committed or released")
            self._settled = True
            return self.record

    def _unclaim(self) -> None:
        with self._lock:
            self._settled = False

    def _settle(self, *, provider_id: str | None, sent: bool) -> None:
        settle_all(self._store, [(self, provider_id, sent)])

    def commit(self, provider_id: str | None = None) -> None:
        """Record that the message went out, with the provider's message id."""
        self._settle(provider_id=provider_id, sent=True)

    def release(self) -> None:
        """Give the slot back: the message was not sent."""
        self._settle(provider_id=None, sent=False)

    def __repr__(self) -> str:
        return (
            f"Reservation({self.decision.verdict.value}, record={self.record and self.record.id})"
        )


def settle_all(store: Store, items: Sequence[tuple[Reservation, str | None, bool]]) -> None:
    """Settle ``(reservation, provider_id, sent)`` items in one store call when the store can
    (``settle_many``); nothing is marked settled unless the store call succeeds."""
    claimed: list[Reservation] = []
    try:
        settlements = []
        for reservation, provider_id, sent in items:
            if not isinstance(reservation, Reservation):
                raise InvalidInputError(f"expected a Reservation, got {reservation!r}")
            if reservation._store is not store:
                raise InvalidInputError(f"{reservation!r} was made by another store")
            check_text(provider_id, "provider_id", optional=True)
            settlements.append((reservation._claim(), provider_id, bool(sent)))
            claimed.append(reservation)
        many = getattr(store, "settle_many", None)
        if many is not None:
            many(settlements)
        else:
            for record, provider_id, sent in settlements:
                store.settle(record, provider_id=provider_id, sent=sent)
    except BaseException:
        for reservation in claimed:
            reservation._unclaim()
        raise
