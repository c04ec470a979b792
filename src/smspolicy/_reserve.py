"""Reservations: atomic check-and-count of a send before it goes out."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._records import SendRecord, SendStatus
from ._values import Decision, Message, check_text
from .errors import InvalidInputError, ReservationExpiredError

if TYPE_CHECKING:
    from ._recipients import Recipient
    from .store import Settlement, Store

__all__ = [
    "DEFAULT_HOLD",
    "Reservation",
    "Settler",
    "held_record",
    "send_record",
    "settle_all",
]

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


Recount = Callable[[Sequence[tuple["Reservation", str | None]], dt.datetime], list["Reservation"]]
"""Commit expired holds that the policy, re-checked under the store's lock, still allows;
return the reservations it no longer allows (their holds dropped)."""


@attrs.frozen
class Settler:
    """What settles one engine's reservations: its store, its clock and its re-check of holds
    committed after they expired."""

    store: Store
    now: Callable[[], dt.datetime]
    recount: Recount


class Reservation:
    """The outcome of :meth:`Engine.reserve`: the decision, and when it allowed, a slot held in
    the send log until ``expires``. ``commit(provider_id)`` after sending, ``release()`` if not
    sent; an abandoned reservation stops counting when it expires.

    A commit after ``expires`` re-runs the policy under the store's lock: the send counts if
    the policy still allows it, else :class:`smspolicy.errors.ReservationExpiredError`.
    """

    def __init__(
        self,
        decision: Decision,
        record: SendRecord | None,
        settler: Settler,
        *,
        message: Message | None = None,
        recipient: Recipient | None = None,
    ) -> None:
        self.decision = decision
        self.record = record
        self._settler = settler
        self._store = settler.store
        self.message = message
        """The message reserved for (to record it if a late commit is refused)."""
        self._recipient = recipient
        self._lock = threading.Lock()
        self._settled = record is None

    @property
    def allowed(self) -> bool:
        """True when a slot is held and the message may go now."""
        return self.record is not None

    @property
    def expires(self) -> dt.datetime | None:
        """When the held slot stops counting unless committed (None when nothing is held)."""
        return None if self.record is None else self.record.expires

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

    def commit(self, provider_id: str | None = None) -> None:
        """Record that the message went out, with the provider's message id. After the hold
        expired, the send counts only if the policy still allows it (else
        :class:`smspolicy.errors.ReservationExpiredError`)."""
        settle_all(self._settler, [(self, provider_id, True)])

    def release(self) -> None:
        """Give the slot back: the message was not sent."""
        settle_all(self._settler, [(self, None, False)])

    def __repr__(self) -> str:
        return (
            f"Reservation({self.decision.verdict.value}, record={self.record and self.record.id})"
        )


def settle_all(settler: Settler, items: Sequence[tuple[Reservation, str | None, bool]]) -> None:
    """Settle ``(reservation, provider_id, sent)`` items in one store call. Nothing is settled
    unless every item can be (each is a reservation of this store, allowed, not yet settled)
    and the store call succeeds. Commits of holds that expired are then re-checked under the
    store's lock; those the policy no longer allows raise one ReservationExpiredError at the
    end (the others are settled)."""
    claimed: list[Reservation] = []
    expired: list[tuple[Reservation, str | None]] = []
    now: dt.datetime | None = None
    try:
        settlements: list[Settlement] = []
        for reservation, provider_id, sent in items:
            if not isinstance(reservation, Reservation):
                raise InvalidInputError(f"expected a Reservation, got {reservation!r}")
            if reservation._store is not settler.store:
                raise InvalidInputError(f"{reservation!r} was made by another store")
            check_text(provider_id, "provider_id", optional=True)
            record = reservation._claim()
            claimed.append(reservation)
            if sent:
                now = settler.now() if now is None else now
                if not record.counts_at(now):  # the hold expired: its slot may be taken
                    expired.append((reservation, provider_id))
                    continue
            settlements.append((record, provider_id, bool(sent)))
        if settlements:
            settler.store.settle_many(settlements)
    except BaseException:
        for reservation in claimed:
            reservation._unclaim()
        raise
    if not expired:
        return
    assert now is not None
    try:
        refused = settler.recount(expired, now)
    except BaseException:
        for reservation, _provider_id in expired:
            reservation._unclaim()
        raise
    if refused:
        ids = ", ".join(r.record.id for r in refused if r.record is not None)
        raise ReservationExpiredError(
            f"the hold of {len(refused)} reservation(s) expired and the policy no longer allows "
            f"the send: nothing was counted ({ids}); reserve again",
            refused,
        )
