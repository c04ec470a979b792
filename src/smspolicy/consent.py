"""Consent: folding the ledger into a verdict, the ledger API and proof of consent.

State is a fold of the append-only events (see :func:`consent_status`). Each event hashes its
predecessor for that recipient; :meth:`Ledger.proof` exports the chain and
:meth:`Ledger.verify` detects any edited, dropped or reordered event.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from . import _enum
from ._records import GENESIS, Basis, ConsentEvent, ConsentKind
from ._values import Purpose
from .errors import InvalidInputError, LedgerIntegrityError

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = [
    "DEFAULT_IMPLIED_TERMS",
    "DEFAULT_PENDING_EXPIRY",
    "ConsentStatus",
    "Ledger",
    "StatusDetail",
    "add_months",
    "consent_status",
    "verify_chain",
]

DEFAULT_PENDING_EXPIRY = dt.timedelta(days=30)
"""How long a double opt-in request waits for its YES."""

DEFAULT_IMPLIED_TERMS: Mapping[Basis, int | None] = {
    Basis.PURCHASE: 24,
    Basis.INQUIRY: 6,
    Basis.NON_BUSINESS: 24,
    Basis.SOFT_OPT_IN: None,
    Basis.EXPRESS: None,
}
"""Months an implied consent lasts by basis (None: until withdrawn). CASL s.10(10)-(13):
2 years from a purchase or contract, 6 months from an inquiry; each new one restarts the
clock."""

CSV_FIELDS = (
    "seq",
    "kind",
    "number",
    "at",
    "topic",
    "purpose",
    "brand",
    "basis",
    "source",
    "evidence",
    "expires",
    "prev_hash",
    "hash",
)


def add_months(instant: dt.datetime, months: int) -> dt.datetime:
    """``instant`` plus whole calendar months (the 31st becomes the month's last day)."""
    month_index = instant.month - 1 + months
    year, month = instant.year + month_index // 12, month_index % 12 + 1
    for day in range(instant.day, 27, -1):
        try:
            return instant.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return instant.replace(year=year, month=month, day=min(instant.day, 28))


class ConsentStatus(_enum.Enum):
    """The folded consent state for one (brand, topic, purpose) at one instant."""

    EXPRESS = "express"
    IMPLIED = "implied"
    PENDING = "pending"
    EXPIRED = "expired"
    REVOKED = "revoked"
    MISSING = "missing"

    @property
    def allows(self) -> bool:
        """True for express or live implied consent."""
        return self in ALLOWING


ALLOWING = frozenset({ConsentStatus.EXPRESS, ConsentStatus.IMPLIED})
"""The statuses that allow a message."""


def _grant_covers(event: ConsentEvent, topic: str, purpose: Purpose, brand: str | None) -> bool:
    if event.topic is not None and event.topic != topic:
        return False
    if event.brand is not None and brand is not None and event.brand != brand:
        return False
    # Marketing consent covers transactional messages; transactional never covers marketing.
    return event.purpose is None or event.purpose is purpose or event.purpose is Purpose.MARKETING


def _revoke_covers(
    event: ConsentEvent, topic: str, brand: str | None, *, topic_scoped: bool
) -> bool:
    # Fail closed: a revoke from any brand covers a message that names no brand.
    if event.brand is not None and brand is not None and event.brand != brand:
        return False
    return not (topic_scoped and event.topic is not None and event.topic != topic)


@attrs.frozen
class StatusDetail:
    """A folded status with when it ends and the event that settled it."""

    status: ConsentStatus
    expires: dt.datetime | None = None
    event: ConsentEvent | None = None


_MISSING = StatusDetail(ConsentStatus.MISSING)  # immutable, so shared


def consent_status(
    events: Sequence[ConsentEvent],
    *,
    topic: str,
    purpose: Purpose,
    brand: str | None,
    now: dt.datetime,
    stop_scope: Literal["brand", "topic"] = "brand",
    implied_terms: Mapping[Basis, int | None] = DEFAULT_IMPLIED_TERMS,
) -> StatusDetail:
    """Fold ``events`` (oldest first) into the consent status for one message at ``now``.

    Later events win. A revoke ends every grant it covers (with ``stop_scope="brand"`` any revoke
    ends everything from the brand; with ``"topic"`` a topic revoke ends only that topic). After
    a revoke only a later *explicit* confirmation restores consent: an implied basis does not.
    Pending requests never allow; implied consent expires after its term; events dated after
    ``now`` are skipped.
    """
    state = _MISSING
    revoked = False
    pending: ConsentEvent | None = None
    for event in events:
        if event.at > now:  # not yet, at this instant (events are in ledger order)
            continue
        if event.kind is ConsentKind.REVOKED:
            if _revoke_covers(event, topic, brand, topic_scoped=stop_scope == "topic"):
                state, revoked, pending = (
                    StatusDetail(ConsentStatus.REVOKED, None, event),
                    True,
                    None,
                )
        elif not _grant_covers(event, topic, purpose, brand):
            continue
        elif event.kind is ConsentKind.CONFIRMED:
            state, revoked, pending = StatusDetail(ConsentStatus.EXPRESS, None, event), False, None
        elif event.kind is ConsentKind.IMPLIED and not revoked:
            state = _implied(state, event, implied_terms)
        elif event.kind is ConsentKind.REQUESTED:
            pending = event
    if state.status is ConsentStatus.IMPLIED and state.expires is not None and state.expires <= now:
        state = StatusDetail(ConsentStatus.EXPIRED, state.expires, state.event)
    waiting = pending is not None and (pending.expires is None or pending.expires > now)
    if waiting and not state.status.allows and state.status is not ConsentStatus.REVOKED:
        return StatusDetail(ConsentStatus.PENDING, pending.expires, pending)  # type: ignore[union-attr]
    return state


def _implied(
    state: StatusDetail, event: ConsentEvent, terms: Mapping[Basis, int | None]
) -> StatusDetail:
    if state.status is ConsentStatus.EXPRESS:
        return state
    months = terms.get(event.basis or Basis.EXPRESS)
    expires = None if months is None else add_months(event.at, months)
    if state.status is ConsentStatus.IMPLIED and (
        state.expires is None or (expires is not None and state.expires > expires)
    ):
        return state  # an earlier basis still runs longer (e.g. a purchase, then an inquiry)
    return StatusDetail(ConsentStatus.IMPLIED, expires, event)


def verify_chain(events: Sequence[ConsentEvent]) -> None:
    """Raise :class:`LedgerIntegrityError` unless ``events`` form one intact hash chain."""
    prev = GENESIS
    for index, event in enumerate(events):
        if event.seq != index:
            raise LedgerIntegrityError(f"event {index} has seq {event.seq}: dropped or reordered")
        if event.prev_hash != prev:
            raise LedgerIntegrityError(f"event {index} does not follow event {index - 1}")
        if event.compute_hash() != event.hash:
            raise LedgerIntegrityError(f"event {index} was altered: its hash does not match")
        if index and event.number != events[0].number:
            raise LedgerIntegrityError(f"event {index} belongs to another recipient")
        prev = event.hash


class Ledger:
    """The consent ledger API of an engine (``engine.consent``). Each call is timestamped by
    the engine's clock and written durably before it returns."""

    def __init__(self, engine: Engine, *, pending_expiry: dt.timedelta) -> None:
        self._engine = engine
        self.pending_expiry = pending_expiry

    def _number(self, number: str) -> str:
        return self._engine.address_of(number)

    def _append(self, number: str, **fields: Any) -> ConsentEvent:
        fields.setdefault("at", self._engine.now())
        event = ConsentEvent(number=self._number(number), **fields)
        topics = self._engine.topics()  # checked once the event has checked the topic's type
        if topics and event.topic is not None and event.topic not in topics:
            raise InvalidInputError(
                f"unknown topic {event.topic!r}: the engine's programs have {sorted(topics)}"
            )
        return self._engine.store.append_consent(event)

    def opt_in(
        self,
        number: str,
        *,
        topic: str,
        purpose: Purpose | str,
        source: str,
        brand: str | None = None,
        evidence: Mapping[str, object] | None = None,
    ) -> ConsentEvent:
        """Record a double opt-in request (``requested``); it allows nothing until confirmed."""
        now = self._engine.now()
        return self._append(
            number,
            kind=ConsentKind.REQUESTED,
            at=now,
            topic=topic,
            purpose=purpose,
            brand=brand,
            source=source,
            evidence=evidence,
            expires=now + self.pending_expiry,
        )

    def confirm(
        self,
        number: str,
        *,
        topic: str | None,
        purpose: Purpose | str,
        source: str,
        brand: str | None = None,
        evidence: Mapping[str, object] | None = None,
    ) -> ConsentEvent:
        """Record express consent (``confirmed``) for a topic and purpose."""
        return self._append(
            number,
            kind=ConsentKind.CONFIRMED,
            topic=topic,
            purpose=purpose,
            brand=brand,
            basis=Basis.EXPRESS,
            source=source,
            evidence=evidence,
        )

    def imply(
        self,
        number: str,
        *,
        basis: Basis | str,
        purpose: Purpose | str,
        source: str,
        topic: str | None = None,
        brand: str | None = None,
        evidence: Mapping[str, object] | None = None,
    ) -> ConsentEvent:
        """Record implied consent (purchase, inquiry, soft opt-in...): it expires by basis."""
        return self._append(
            number,
            kind=ConsentKind.IMPLIED,
            topic=topic,
            purpose=purpose,
            brand=brand,
            basis=basis,
            source=source,
            evidence=evidence,
        )

    def revoke(
        self,
        number: str,
        *,
        source: str,
        topic: str | None = None,
        brand: str | None = None,
        evidence: Mapping[str, object] | None = None,
    ) -> ConsentEvent:
        """Record a revocation: of everything (no topic), or of one topic."""
        return self._append(
            number,
            kind=ConsentKind.REVOKED,
            topic=topic,
            brand=brand,
            source=source,
            evidence=evidence,
        )

    def history(self, number: str) -> list[ConsentEvent]:
        """Every consent event of the number, oldest first."""
        address = self._number(number)
        return self._engine.store.consent_events([address])[address]

    def proof(self, number: str, *, format: Literal["json", "csv"] = "json") -> str:
        """Export the number's consent chain, with date, time and source of every event."""
        events = self.history(number)
        verify_chain(events)
        if format == "json":
            return json.dumps(
                {
                    "number": self._number(number),
                    "exported_at": self._engine.now().isoformat(),
                    "head": events[-1].hash if events else GENESIS,
                    "events": [event.to_json() for event in events],
                },
                indent=2,
                ensure_ascii=False,
            )
        if format == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
            writer.writeheader()
            for event in events:
                row = event.to_json()
                row["evidence"] = json.dumps(row["evidence"], sort_keys=True, ensure_ascii=False)
                writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_FIELDS})
            return out.getvalue()
        raise InvalidInputError(f"format must be 'json' or 'csv', got {format!r}")

    def verify(self, text: str, *, format: Literal["json", "csv"] = "json") -> bool:
        """True when an exported proof is intact and matches the ledger; raises
        :class:`LedgerIntegrityError` saying what was altered, dropped or reordered."""
        events = _read_proof(text, format)
        verify_chain(events)
        if events:
            stored = self.history(events[0].number)
            if len(stored) < len(events) or stored[len(events) - 1].hash != events[-1].hash:
                raise LedgerIntegrityError("the proof does not match the ledger's records")
            if len(stored) != len(events):
                raise LedgerIntegrityError(
                    f"the proof holds {len(events)} events, the ledger {len(stored)}: "
                    "events were dropped from the end"
                )
        return True


def _read_proof(text: str, format: str) -> list[ConsentEvent]:
    if not isinstance(text, str):
        raise InvalidInputError("a proof must be text")
    try:
        if format == "json":
            data = json.loads(text)
            events = [ConsentEvent.from_json(item) for item in data["events"]]
            head = data.get("head", GENESIS)
            if (events[-1].hash if events else GENESIS) != head:
                raise LedgerIntegrityError("the proof's head does not match its last event")
            return events
        if format == "csv":
            rows = list(csv.DictReader(io.StringIO(text)))
            return [
                ConsentEvent.from_json(
                    {
                        **{k: (v if v != "" else None) for k, v in row.items()},
                        "evidence": json.loads(row["evidence"] or "{}"),
                    }
                )
                for row in rows
            ]
    except (ValueError, KeyError, TypeError, RecursionError, csv.Error) as error:
        raise LedgerIntegrityError(f"the proof cannot be read: {error}") from None
    raise InvalidInputError(f"format must be 'json' or 'csv', got {format!r}")
