"""Reservations: atomic check-and-count of a send before it goes out."""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs

from ._decider import Decider, read_snapshot
from ._records import SendRecord, SendStatus
from ._values import Decision, Message, check_text
from .errors import (
    InvalidInputError,
    ReservationExpiredError,
    RuleError,
    StoreUnavailableError,
)
from .store import Snapshot
from .store._base import send_order

if TYPE_CHECKING:
    from ._recipients import Recipient
    from .store import Settlement, Store

__all__ = [
    "DEFAULT_HOLD",
    "BatchPlan",
    "Claimed",
    "Reservation",
    "Reserver",
    "Settler",
    "claim_all",
    "held_record",
    "pending_of",
    "recount_expired",
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


@attrs.define
class Claimed:
    """Reservations claimed for settling (see :func:`claim_all`): the store's settlements, the
    commits of expired holds to re-check, and the instant read for them."""

    reservations: list[Reservation]
    settlements: list[Settlement]
    expired: list[tuple[Reservation, str | None]]
    now: dt.datetime | None

    def undo(self) -> None:
        """Give every claimed reservation back (the store call failed)."""
        for reservation in self.reservations:
            reservation._unclaim()


def claim_all(settler: Settler, items: Sequence[tuple[Reservation, str | None, bool]]) -> Claimed:
    """Claim ``(reservation, provider_id, sent)`` items for settling: each must be a reservation
    of this store, allowed, not yet settled (else nothing is claimed and the error raised).
    Commits of holds that expired are set apart, to be re-checked under the store's lock."""
    claimed = Claimed([], [], [], None)
    try:
        for reservation, provider_id, sent in items:
            if not isinstance(reservation, Reservation):
                raise InvalidInputError(f"expected a Reservation, got {reservation!r}")
            if reservation._store is not settler.store:
                raise InvalidInputError(f"{reservation!r} was made by another store")
            check_text(provider_id, "provider_id", optional=True)
            record = reservation._claim()
            claimed.reservations.append(reservation)
            if sent:
                claimed.now = settler.now() if claimed.now is None else claimed.now
                if not record.counts_at(claimed.now):  # the hold expired: its slot may be taken
                    claimed.expired.append((reservation, provider_id))
                    continue
            claimed.settlements.append((record, provider_id, bool(sent)))
    except BaseException:
        claimed.undo()
        raise
    return claimed


def recount_expired(settler: Settler, claimed: Claimed) -> None:
    """Re-check the claimed commits of expired holds under the store's lock; raise one
    ReservationExpiredError for those the policy no longer allows (the others are settled)."""
    if not claimed.expired:
        return
    assert claimed.now is not None
    try:
        refused = settler.recount(claimed.expired, claimed.now)
    except BaseException:
        for reservation, _provider_id in claimed.expired:
            reservation._unclaim()
        raise
    if refused:
        ids = ", ".join(r.record.id for r in refused if r.record is not None)
        raise ReservationExpiredError(
            f"the hold of {len(refused)} reservation(s) expired and the policy no longer allows "
            f"the send: nothing was counted ({ids}); reserve again",
            refused,
        )


def settle_all(settler: Settler, items: Sequence[tuple[Reservation, str | None, bool]]) -> None:
    """Settle ``(reservation, provider_id, sent)`` items in one store call. Nothing is settled
    unless every item can be (each is a reservation of this store, allowed, not yet settled)
    and the store call succeeds. Commits of holds that expired are then re-checked under the
    store's lock; those the policy no longer allows raise one ReservationExpiredError at the
    end (the others are settled)."""
    claimed = claim_all(settler, items)
    try:
        if claimed.settlements:
            settler.store.settle_many(claimed.settlements)
    except BaseException:
        claimed.undo()
        raise
    recount_expired(settler, claimed)


Pending = list[tuple[int, Message, "Recipient"]]
"""The messages of a batch that have a recipient: (index in the batch, message, recipient)."""


class BatchPlan:
    """The pure half of a batch reservation (it reads and writes nothing): which numbers need
    the store's lock, the decisions made under it, and the reservations they come to. The
    synchronous and the asynchronous engines reserve through it, each with its own store."""

    def __init__(
        self,
        decider: Decider,
        pending: Pending,
        now: dt.datetime,
        hold: dt.timedelta,
    ) -> None:
        self.decider = decider
        self.pending = pending
        self.now = now
        self.hold = hold
        self.since = now - decider.history
        self.by_number: dict[str, list[tuple[int, Message, Recipient]]] = {}
        for entry in pending:
            self.by_number.setdefault(entry[2].address, []).append(entry)
        self.decided: dict[int, Decision] = {}
        self.held: dict[int, SendRecord] = {}
        # A yes on the snapshot, with the sends it was decided on (see :meth:`decide`).
        self.first: dict[int, tuple[Decision, Sequence[SendRecord]]] = {}
        self.persons: dict[str, set[str]] = {}
        for _index, message, item in pending:
            if message.person:
                self.persons.setdefault(item.address, set()).add(message.person)
        self.snapshot: Snapshot | None = None

    @property
    def messages(self) -> list[Message]:
        return [m for _, m, _ in self.pending]

    @property
    def recipients(self) -> list[Recipient]:
        return [r for _, _, r in self.pending]

    def locked_numbers(self, snapshot: Snapshot) -> list[str]:
        """Given the batch's snapshot, the numbers still to decide under the store's lock
        (the others are answered from the snapshot alone, see :meth:`_without_lock`)."""
        self.snapshot = snapshot
        for number in self._without_lock(snapshot):
            del self.by_number[number]
        return list(self.by_number)

    def decide(self, number: str, locked: list[SendRecord]) -> list[SendRecord]:
        """The store's ``decide`` for one number: decide its messages in order on the sends
        under its lock, each seeing the holds of the ones before; return the holds. A message
        allowed on the snapshot whose sends under the lock are the very records it was decided
        on (nothing was written meanwhile) keeps that decision: the same message, context and
        instant give the same decision."""
        decider, snapshot, now = self.decider, self.snapshot, self.now
        assert snapshot is not None
        sends, holds = list(locked), []
        for index, _message, _item in self.by_number[number]:
            self.held.pop(index, None)  # a store may ask again after a conflict
        for index, message, item in self.by_number[number]:
            view = sends
            if number in self.persons:  # only this address's sends and this message's person's
                view = [
                    r
                    for r in sends
                    if r.number == number or (r.person and r.person == message.person)
                ]
            first = self.first.get(index)
            if first is not None and _same_records(first[1], view):
                decision = self.decided[index] = first[0]
            else:
                context = decider.context(snapshot, message, item, now, view)
                decision = self.decided[index] = decider.decide(message, context)
            if decision.allowed:
                record = self.held[index] = held_record(message, number, now, self.hold)
                holds.append(record)
                bisect.insort(sends, record, key=send_order)  # later messages count it
        return holds

    def _without_lock(self, snapshot: Snapshot) -> list[str]:
        """The numbers of a batch answered from the snapshot alone: those with one message,
        which the policy does not allow on the sends read with the rest of the batch's records.
        A no decided on what the store held at that read is as true as one decided under the
        lock a moment later (the lock only guards a slot being taken), so it holds nothing and
        takes no lock. A yes, and numbers with several messages (which see each other's
        holds), are decided again under the lock (a yes only on sends that have changed)."""
        answered: list[str] = []
        for number, entries in self.by_number.items():
            if len(entries) != 1:
                continue
            index, message, item = entries[0]
            context = self.decider.context(snapshot, message, item, self.now)
            decision = self.decider.decide(message, context)
            if not decision.allowed:
                self.decided[index] = decision
                answered.append(number)
            else:
                self.first[index] = (decision, context.history.sends)
        return answered

    def failed(self, error: Exception, out: list[Reservation | None], settler: Settler) -> None:
        """Fail every pending message of the batch closed."""
        failed = self.decider.failed(error, self.now)
        for index, _, _ in self.pending:
            out[index] = Reservation(failed, None, settler)

    def finish(
        self,
        stored: Mapping[str, Sequence[SendRecord]],
        out: list[Reservation | None],
        settler: Settler,
    ) -> None:
        """Fill ``out`` with the reservations of the pending messages, given what the store
        kept, by number."""
        decider = self.decider
        kept: dict[str, set[str]] = {}  # the ids the store kept, by number, asked only for holds
        for index, message, item in self.pending:
            record, decision = self.held.get(index), self.decided.get(index)
            if record is not None and item.address not in kept:
                kept[item.address] = {r.id for r in stored.get(item.address, ())}
            if decision is None or (record is not None and record.id not in kept[item.address]):
                # A store that skipped a number, or dropped its hold, must not pass as allowed.
                lost = StoreUnavailableError(f"the store did not keep the hold for {item.address}")
                out[index] = Reservation(decider.failed(lost, self.now), None, settler)
            else:
                out[index] = Reservation(decision, record, settler, message=message, recipient=item)


def _same_records(left: Sequence[SendRecord], right: Sequence[SendRecord]) -> bool:
    """True when both hold the very same record objects, in order."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):  # noqa: SIM110 (every hold asks: no generator)
        if a is not b:
            return False
    return True


def pending_of(
    decider: Decider, batch: Sequence[Message], settler: Settler
) -> tuple[list[Reservation | None], Pending]:
    """Resolve a batch's recipients: the reservations of messages answered already (an address
    that cannot be one), and the messages still to reserve."""
    resolved = [decider.resolve(message) for message in batch]
    out = [
        Reservation(item, None, settler) if isinstance(item, Decision) else None
        for item in resolved
    ]
    pending = [
        (index, message, item)
        for index, (message, item) in enumerate(zip(batch, resolved, strict=True))
        if not isinstance(item, Decision)
    ]
    return out, pending


class Reserver:
    """The reservation protocol over a decider, a store and a clock: decide, and when
    allowed, count the send under the store's lock on the address and person, where the
    policy is run again on fresh sends (so two workers never both take a cap's last slot)."""

    def __init__(self, decider: Decider, store: Store, now: Callable[[], dt.datetime]) -> None:
        self.decider = decider
        self.store = store
        self.settler = Settler(store, now, self._recount)
        self._now = now

    def _since(self, now: dt.datetime) -> dt.datetime:
        return now - self.decider.history

    def _snapshot(
        self, messages: Sequence[Message], recipients: Sequence[Recipient], now: dt.datetime
    ) -> Snapshot:
        return read_snapshot(self.store, messages, recipients, self._since(now))

    def reserve(self, message: Message, hold: dt.timedelta) -> Reservation:
        """:meth:`smspolicy.Engine.reserve`."""
        now = self._now()
        item = self.decider.resolve(message)
        if isinstance(item, Decision):
            return Reservation(item, None, self.settler)
        return self._reserve_one(message, item, now, hold)

    def _reserve_one(
        self, message: Message, item: Recipient, now: dt.datetime, hold: dt.timedelta
    ) -> Reservation:
        decider = self.decider
        decided: list[Decision] = []

        def decide(locked: list[SendRecord]) -> SendRecord | None:
            context = decider.context(snapshot, message, item, now, locked)
            decided.append(decider.decide(message, context))
            return held_record(message, item.address, now, hold) if decided[-1].allowed else None

        try:
            snapshot = self._snapshot([message], [item], now)
            first = decider.decide(message, decider.context(snapshot, message, item, now))
            if not first.allowed:  # a no needs no lock (see _without_lock)
                return Reservation(first, None, self.settler)
            record = self.store.reserve(
                item.address,
                since=self._since(now),
                decide=decide,
                persons=(message.person,) if message.person else (),
            )
        except RuleError:
            raise  # a broken rule is a bug to see, not a store outage
        except Exception as error:  # any backend failure must fail closed
            return Reservation(decider.failed(error, now), None, self.settler)
        return Reservation(decided[-1], record, self.settler, message=message, recipient=item)

    def reserve_many(self, batch: Sequence[Message], hold: dt.timedelta) -> list[Reservation]:
        """:meth:`smspolicy.Engine.reserve_many`."""
        now = self._now()
        out, pending = pending_of(self.decider, batch, self.settler)
        if pending:
            self._reserve_batch(BatchPlan(self.decider, pending, now, hold), out)
        return cast("list[Reservation]", out)

    def _reserve_batch(self, plan: BatchPlan, out: list[Reservation | None]) -> None:
        try:
            snapshot = self._snapshot(plan.messages, plan.recipients, plan.now)
            numbers = plan.locked_numbers(snapshot)
            stored = (
                self.store.reserve_many(
                    numbers, since=plan.since, decide=plan.decide, persons=plan.persons
                )
                if numbers
                else {}
            )
        except RuleError:
            raise
        except Exception as error:  # any backend failure must fail closed
            plan.failed(error, out, self.settler)
            return
        plan.finish(stored, out, self.settler)

    def _recount(
        self, items: Sequence[tuple[Reservation, str | None]], now: dt.datetime
    ) -> list[Reservation]:
        """Commit holds that expired before their commit: each is decided again, under the
        store's lock on its address and person, on the sends there now (a hold that expired no
        longer counts, so another message may have taken its slot). Those the policy still
        allows are counted as sent; the others' holds are dropped and they are returned."""
        refused: list[Reservation] = []
        for reservation, provider_id in items:
            record, message, item = reservation.record, reservation.message, reservation._recipient
            if record is None or message is None or item is None:
                raise InvalidInputError(f"{reservation!r} holds nothing to commit")
            if not self._recount_one(record, message, item, provider_id, now):
                refused.append(reservation)
        return refused

    def _recount_one(
        self,
        record: SendRecord,
        message: Message,
        item: Recipient,
        provider_id: str | None,
        now: dt.datetime,
    ) -> bool:
        decider = self.decider
        decided: list[Decision | None] = []

        def decide(locked: list[SendRecord]) -> SendRecord | None:
            if all(r.id != record.id for r in locked):
                decided.append(None)  # forgotten meanwhile, or older than the history read
                return None
            others = [r for r in locked if r.id != record.id]
            context = decider.context(snapshot, message, item, now, others)
            decision = decider.decide(message, context)
            decided.append(decision)
            return record.as_sent(provider_id) if decision.allowed else None

        snapshot = self._snapshot([message], [item], now)
        persons = (message.person,) if message.person else ()
        self.store.reserve(item.address, since=self._since(now), decide=decide, persons=persons)
        last = decided[-1]
        if last is None:  # nothing to count against: settle it as any commit
            self.store.settle(record, provider_id=provider_id, sent=True)
            return True
        if last.allowed:
            return True
        self.store.settle(record, provider_id=None, sent=False)
        return False

    def __repr__(self) -> str:
        return f"Reserver({self.decider!r}, store={self.store!r})"
