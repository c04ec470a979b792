"""Consent: folding the ledger into a verdict, the ledger API and proof of consent.

State is a fold of the append-only events in the order they take effect (see
:func:`effective_order` and :func:`consent_status`), whatever order they were appended in. Each
event hashes its predecessor for that recipient: :func:`chain_break` finds the first event that
fails the check (decisions deny on it), :meth:`Ledger.proof` exports the chain and
:meth:`Ledger.verify` detects any edited, dropped or reordered event, in the proof and in the
ledger.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from . import _enum
from ._memo import Seen
from ._recipients import address_channel, normalise_address, stop_key
from ._records import GENESIS, Basis, ConsentEvent, ConsentKind, channel_covers
from ._values import Channel, Purpose, person_id
from .errors import InvalidInputError, LedgerIntegrityError

if TYPE_CHECKING:
    from .store import ConsentLedger

__all__ = [
    "DEFAULT_IMPLIED_TERMS",
    "DEFAULT_PENDING_EXPIRY",
    "ChainBreak",
    "ConsentStatus",
    "Ledger",
    "StatusDetail",
    "WrittenConsent",
    "add_months",
    "chain_break",
    "consent_status",
    "effective_order",
    "fold_status",
    "person_key",
    "superseded_by",
    "verify_chain",
    "verify_proof",
    "written_consent_of",
]

PERSON_PREFIX = "person: "
"""How a person's own consent events are keyed in the ledger: ``"person: <id>"`` (the space
keeps the key apart from every phone number, email address and push token, none of which
may hold one)."""


def person_key(person: str) -> str:
    """The ledger key of a person's own events (a person-level "stop everything")."""
    return PERSON_PREFIX + person


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
    last = calendar.monthrange(year, month)[1]
    return instant.replace(year=year, month=month, day=min(instant.day, last))


class ConsentStatus(_enum.Enum):
    """The folded consent state for one (brand, topic, purpose) at one instant."""

    EXPRESS = "express"
    IMPLIED = "implied"
    PENDING = "pending"
    EXPIRED = "expired"
    REVOKED = "revoked"
    MISSING = "missing"
    HELD = "held"
    """Marketing is held after an unclear reply (``unclear`` event) until the recipient
    answers or the hold expires."""

    @property
    def allows(self) -> bool:
        """True for express or live implied consent."""
        return self in ALLOWING


ALLOWING = frozenset({ConsentStatus.EXPRESS, ConsentStatus.IMPLIED})
"""The statuses that allow a message."""


_RANK = {
    ConsentKind.REQUESTED: 0,
    ConsentKind.IMPLIED: 0,
    ConsentKind.CONFIRMED: 0,
    ConsentKind.UNCLEAR: 1,
    ConsentKind.REVOKED: 2,
}
"""Order of events dated at the same instant: grants, then unclear replies, then revocations,
so that a revocation (or a hold) dated at a grant's instant is not undone by it."""

_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)
_CONFIRMED, _REVOKED, _UNCLEAR = ConsentKind.CONFIRMED, ConsentKind.REVOKED, ConsentKind.UNCLEAR


def _effect(event: ConsentEvent) -> tuple[dt.datetime, int]:
    return event.at, _RANK[event.kind]


def effective_order(events: Iterable[ConsentEvent]) -> list[ConsentEvent]:
    """``events`` in the order they take effect: by ``at``; at one instant grants first, then
    unclear replies, then revocations, so a revocation wins a tie. Append order does not count:
    a grant dated before a revocation never undoes it, however late it was recorded."""
    return sorted(events, key=_effect)


def _grant_covers(
    event: ConsentEvent,
    topic: str,
    purpose: Purpose,
    brand: str | None,
    channel: Channel | None = None,
) -> bool:
    if event.topic is not None and event.topic != topic:
        return False
    if not channel_covers(event.channel, channel):
        return False
    if event.brand is not None and brand is not None and event.brand != brand:
        return False
    # Marketing consent covers transactional messages; transactional never covers marketing.
    return event.purpose is None or event.purpose is purpose or event.purpose is Purpose.MARKETING


def _brands_meet(revoked: str | None, brand: str | None) -> bool:
    # Fail closed: a revoke naming no brand covers every brand, and a revoke from any brand
    # covers a message that names none.
    return revoked is None or brand is None or revoked == brand


def _revoke_covers(
    event: ConsentEvent,
    topic: str,
    brand: str | None,
    *,
    topic_scoped: bool,
    channel: Channel | None = None,
) -> bool:
    if not _brands_meet(event.brand, brand) or not channel_covers(event.channel, channel):
        return False
    return not (topic_scoped and event.topic is not None and event.topic != topic)


_GRANTS = frozenset({ConsentKind.REQUESTED, ConsentKind.IMPLIED, ConsentKind.CONFIRMED})
_STOPS = frozenset({ConsentKind.REVOKED, ConsentKind.UNCLEAR})
"""The kinds of event an email address's every spelling shares: those that stop mail."""


def superseded_by(event: ConsentEvent, events: Iterable[ConsentEvent]) -> ConsentEvent | None:
    """The revocation among ``events`` dated at or after the grant ``event`` that ends it (as
    the default ``stop_scope="brand"`` reads them), or None: such a grant is kept as history
    but is not in effect, whenever it was recorded."""
    if event.kind not in _GRANTS:
        return None
    for later in effective_order(events):
        if (
            later.kind is ConsentKind.REVOKED
            and later.at >= event.at
            and (later.number == event.number or later.number.startswith(PERSON_PREFIX))
            and _brands_meet(later.brand, event.brand)
            and _channels_meet(later.channel, event.channel)
        ):
            return later
    return None


def _channels_meet(revoked: Channel | None, granted: Channel | None) -> bool:
    # A revoke ends the whole grant when it reaches every channel the grant covered: a
    # revoke of SMS leaves a grant for every channel in effect for voice.
    return revoked is None or (granted is not None and channel_covers(revoked, granted))


def _request_key(event: ConsentEvent) -> tuple[dt.datetime, dt.datetime]:
    return event.at, event.expires or _NEVER


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
    channel: Channel | None = None,
) -> StatusDetail:
    """Fold ``events`` into the consent status for one message at ``now``.

    With ``channel``, only events for that channel or for every channel of the address count
    (a grant for voice does not allow SMS; an SMS STOP does not end email); SMS and MMS are
    one scope. ``events`` may hold a person's own events (``"person: <id>"``) with the
    address's: a person's revocation covers every address of the person.

    The events are taken in :func:`effective_order` (by ``at``, a revocation winning a tie),
    whatever order they come in; events dated after ``now`` do not count yet. A revoke ends
    every grant it covers (with ``stop_scope="brand"`` any revoke ends everything from the
    brand; with ``"topic"`` a topic revoke ends only that topic). After a revoke only a later
    *explicit* confirmation restores consent: an implied basis does not. Pending requests never
    allow; implied consent expires after its term. An ``unclear`` reply holds marketing
    (status ``held``) until a later confirmation or revocation covering the message, or until
    the hold expires.
    """
    return fold_status(
        events,
        topic=topic,
        purpose=purpose,
        brand=brand,
        now=now,
        stop_scope=stop_scope,
        implied_terms=implied_terms,
        channel=channel,
    )[0]


def _sooner(
    horizon: dt.datetime | None, instant: dt.datetime | None, now: dt.datetime
) -> dt.datetime | None:
    if instant is None or instant <= now or (horizon is not None and horizon <= instant):
        return horizon
    return instant


def fold_status(
    events: Sequence[ConsentEvent],
    *,
    topic: str,
    purpose: Purpose,
    brand: str | None,
    now: dt.datetime,
    stop_scope: Literal["brand", "topic"] = "brand",
    implied_terms: Mapping[Basis, int | None] = DEFAULT_IMPLIED_TERMS,
    channel: Channel | None = None,
) -> tuple[StatusDetail, dt.datetime | None]:
    """:func:`consent_status` at ``now``, and the first instant after ``now`` at which it may
    change (None: never, on these events): the first event dated after ``now``, or the end of
    the implied consent, the hold or the request that the status rests on. At every instant
    from ``now`` up to (not including) that one the fold gives the same status."""
    state = _MISSING
    pending: ConsentEvent | None = None
    hold: ConsentEvent | None = None
    horizon: dt.datetime | None = None
    topic_scoped = stop_scope == "topic"
    for event in events if len(events) < 2 else effective_order(events):
        if event.at > now:  # in effect order, so every event after this one is later too
            horizon = event.at
            break
        kind = event.kind
        if kind is _CONFIRMED:
            if _grant_covers(event, topic, purpose, brand, channel):
                state = StatusDetail(ConsentStatus.EXPRESS, None, event)
                pending, hold = None, None
        elif kind is _REVOKED or kind is _UNCLEAR:
            if not _revoke_covers(event, topic, brand, topic_scoped=topic_scoped, channel=channel):
                continue
            if kind is _UNCLEAR:
                if hold is None or _request_key(event) >= _request_key(hold):
                    hold = event  # of two at one instant, the one that runs longer
            else:
                state = StatusDetail(ConsentStatus.REVOKED, None, event)
                pending, hold = None, None
        elif not _grant_covers(event, topic, purpose, brand, channel):
            continue
        elif kind is ConsentKind.IMPLIED:
            state = _implied(state, event, implied_terms)
        elif pending is None or _request_key(event) >= _request_key(pending):
            pending = event  # a request: of two at one instant, the one that runs longer
    # What changes with time alone: the implied consent (the only state with an end so far),
    # the hold and the request running out.
    horizon = _sooner(horizon, state.expires, now)
    if hold is not None:
        horizon = _sooner(horizon, hold.expires, now)
    if pending is not None:
        horizon = _sooner(horizon, pending.expires, now)
    if state.status is ConsentStatus.IMPLIED and state.expires is not None and state.expires <= now:
        state = StatusDetail(ConsentStatus.EXPIRED, state.expires, state.event)
    if (
        hold is not None
        and purpose is Purpose.MARKETING
        and state.status.allows
        and (hold.expires is None or now < hold.expires)
    ):
        return StatusDetail(ConsentStatus.HELD, hold.expires, hold), horizon
    if (
        pending is not None
        and (pending.expires is None or now < pending.expires)
        and not state.status.allows
        and state.status is not ConsentStatus.REVOKED
    ):
        return StatusDetail(ConsentStatus.PENDING, pending.expires, pending), horizon
    return state, horizon


def _implied(
    state: StatusDetail, event: ConsentEvent, terms: Mapping[Basis, int | None]
) -> StatusDetail:
    if state.status is ConsentStatus.EXPRESS or state.status is ConsentStatus.REVOKED:
        return state  # after a revocation only an explicit confirmation restores consent
    months = terms.get(event.basis or Basis.EXPRESS)
    expires = None if months is None else add_months(event.at, months)
    if state.status is ConsentStatus.IMPLIED and (
        state.expires is None or (expires is not None and state.expires > expires)
    ):
        return state  # an earlier basis still runs longer (e.g. a purchase, then an inquiry)
    return StatusDetail(ConsentStatus.IMPLIED, expires, event)


@attrs.frozen
class ChainBreak:
    """Where a recipient's hash chain stops verifying: the event at position ``seq`` (0 is the
    first) and what is wrong with it."""

    number: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq} of {self.number} {self.problem}"


def _hash_holds(event: ConsentEvent, verified: Seen | None) -> bool:
    # Events are frozen: one whose hash was recomputed once is remembered by identity for as
    # long as it lives (see Seen) and not hashed again. A store that decodes fresh objects on
    # every read gets every event hashed, and leaves nothing remembered.
    if verified is None:
        return event.compute_hash() == event.hash
    if event in verified:
        return True
    if event.compute_hash() != event.hash:
        return False
    verified.add(event)
    return True


def chain_break(events: Sequence[ConsentEvent], verified: Seen | None = None) -> ChainBreak | None:
    """The first event of a recipient's chain (``events`` in ledger order) that does not
    verify, or None when the chain is intact: each event's hash is recomputed from its fields,
    so an event edited in the store with its hash left alone is caught, and a dropped,
    reordered or foreign event breaks the links."""
    prev = GENESIS
    index = 0
    for event in events:
        if (
            event.seq == index
            and event.prev_hash == prev
            and event.number == events[0].number
            and _hash_holds(event, verified)
        ):
            prev = event.hash
            index += 1
            continue
        if event.seq != index:
            problem = f"has seq {event.seq}: an event was dropped or reordered"
        elif event.prev_hash != prev:
            problem = f"does not follow event {index - 1}"
        elif event.number != events[0].number:
            problem = "belongs to another recipient"
        else:
            problem = "was altered: its hash does not match its fields"
        return ChainBreak(events[0].number, index, problem)
    return None


def verify_chain(events: Sequence[ConsentEvent]) -> None:
    """Raise :class:`LedgerIntegrityError` unless ``events`` form one intact hash chain."""
    broken = chain_break(events)
    if broken is not None:
        raise LedgerIntegrityError(str(broken))


class Ledger:
    """The consent ledger API of an engine (``engine.consent``). Each call is timestamped by
    the engine's clock and written durably before it returns.

    Every address has its own chain: a phone number (E.164), an email address (normalised:
    domain case-folded and IDNA-encoded, local part kept), a push token (``channel="push"``),
    and a person's own events (:meth:`revoke_person`). An event may name a ``channel``: on a
    phone number, ``channel="voice"`` consent does not allow texts and an SMS STOP
    (``channel="sms"``) leaves voice consent alone; without a channel an event covers every
    channel of its address (an inbound STOP does: fail closed).

    It needs only the store's ledger, the clock, how to read an address, and the programs'
    topics (an empty set accepts any topic); ``address_for`` reads an address on a channel
    (by default the normal form: E.164, email or push token) and ``linked`` lists the
    addresses the send log links to a person.
    """

    def __init__(
        self,
        store: ConsentLedger,
        now: Callable[[], dt.datetime],
        address_of: Callable[[str], str],
        topics: frozenset[str] = frozenset(),
        *,
        pending_expiry: dt.timedelta,
        unclear_hold: dt.timedelta | None = None,
        address_for: Callable[[str, Channel | None], str] | None = None,
        linked: Callable[[str], Iterable[tuple[str, Channel]]] | None = None,
    ) -> None:
        self._store = store
        self._now = now
        self._address_of = address_of
        self._address_for = address_for
        self._linked = linked
        self._topics = topics
        self.pending_expiry = pending_expiry
        self.unclear_hold = unclear_hold

    def _number(self, number: str, channel: Channel | str | None = None) -> str:
        kind = address_channel(number, channel)
        if kind is None or kind.is_phone:
            return self._address_of(number)
        if self._address_for is not None:
            return self._address_for(number, kind)
        return normalise_address(number, kind)

    def _append(self, number: str, **fields: Any) -> ConsentEvent:
        if "at" not in fields:
            fields["at"] = self._now()
        channel = fields.get("channel")
        fields["channel"] = None if channel is None else address_channel(number, channel)
        event = ConsentEvent(number=self._number(number, channel), **fields)
        if address_channel(number, channel) is Channel.EMAIL:
            return self._checked_stop(event)
        return self._checked(event)

    def _checked_stop(self, event: ConsentEvent) -> ConsentEvent:
        """Append an email address's event; a revocation or hold is also copied under the key
        every spelling of the local part shares (:func:`smspolicy._recipients.stop_key`), so
        it stops "alice@" and "ALICE@" as well as "Alice@". Returns the address's own event."""
        written = self._checked(event)
        shared = stop_key(event.number)
        if shared is not None and event.kind in _STOPS:
            self._checked(
                attrs.evolve(
                    event,
                    number=shared,
                    evidence={**event.evidence, "address": event.number},
                )
            )
        return written

    def _checked(self, event: ConsentEvent) -> ConsentEvent:
        topics = self._topics  # checked once the event has checked the topic's type
        if topics and event.topic is not None and event.topic not in topics:
            raise InvalidInputError(
                f"unknown topic {event.topic!r}: the engine's programs have {sorted(topics)}"
            )
        return self._store.append_consent(event)

    def opt_in(
        self,
        number: str,
        *,
        topic: str | None,
        purpose: Purpose | str,
        source: str,
        brand: str | None = None,
        evidence: Mapping[str, object] | None = None,
        channel: Channel | str | None = None,
    ) -> ConsentEvent:
        """Record a double opt-in request (``requested``); it allows nothing until confirmed."""
        now = self._now()
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
            channel=channel,
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
        channel: Channel | str | None = None,
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
            channel=channel,
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
        channel: Channel | str | None = None,
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
            channel=channel,
        )

    def revoke(
        self,
        number: str,
        *,
        source: str,
        topic: str | None = None,
        brand: str | None = None,
        evidence: Mapping[str, object] | None = None,
        channel: Channel | str | None = None,
    ) -> ConsentEvent:
        """Record a revocation: of everything (no topic), or of one topic."""
        return self._append(
            number,
            kind=ConsentKind.REVOKED,
            topic=topic,
            brand=brand,
            source=source,
            evidence=evidence,
            channel=channel,
        )

    def hold(
        self,
        number: str,
        *,
        source: str,
        brand: str | None = None,
        evidence: Mapping[str, object] | None = None,
        channel: Channel | str | None = None,
    ) -> ConsentEvent:
        """Record an unclear reply (``unclear``): marketing to the number is held until the
        recipient confirms or revokes, or until the engine's ``unclear_hold`` has passed
        (47 CFR 64.1200(a)(10): a reply that may be a revocation is not ignored)."""
        now = self._now()
        return self._append(
            number,
            kind=ConsentKind.UNCLEAR,
            at=now,
            brand=brand,
            source=source,
            evidence=evidence,
            expires=None if self.unclear_hold is None else now + self.unclear_hold,
            channel=channel,
        )

    def revoke_person(
        self,
        person: str,
        *,
        source: str,
        topic: str | None = None,
        brand: str | None = None,
        channel: Channel | str | None = None,
        addresses: Iterable[str | tuple[str, Channel | str]] = (),
        evidence: Mapping[str, object] | None = None,
    ) -> list[ConsentEvent]:
        """A person's "stop everything": record a revocation in the person's own chain
        (``"person: <id>"``), which every message naming the person (``Message.person``) is
        decided against whatever its address, and one in the chain of every address linked to
        the person, so a message to one of them that names no person is stopped too. Linked
        are ``addresses`` (text, or ``(address, channel)`` for a push token) and every address
        the send log holds a send of the person to. ``channel`` limits it to one channel.
        Returns the person's event, then the addresses' events."""
        who = _person(person)
        at = self._now()
        kind = None if channel is None else address_channel("", channel)
        fields: dict[str, Any] = {
            "kind": ConsentKind.REVOKED,
            "at": at,
            "topic": topic,
            "brand": brand,
            "source": source,
            "channel": kind,
        }
        first = self._checked(ConsentEvent(number=person_key(who), evidence=evidence, **fields))
        targets: dict[str, Channel | None] = {}
        for item in addresses:
            value, on = item if isinstance(item, tuple) else (item, None)
            targets.setdefault(self._number(value, on), None)
        if self._linked is not None:
            for address, _channel in self._linked(who):
                targets.setdefault(address, None)
        events = [first]
        for address in sorted(targets):
            if kind is not None and not _may_carry(address, kind):
                continue  # an email address has no voice channel to revoke
            event = ConsentEvent(
                number=address, evidence={**dict(evidence or {}), "person": who}, **fields
            )
            email = _may_carry(address, Channel.EMAIL)
            events.append(self._checked_stop(event) if email else self._checked(event))
        return events

    def person_history(self, person: str) -> list[ConsentEvent]:
        """The person's own consent events (see :meth:`revoke_person`), in ledger order."""
        key = person_key(_person(person))
        return self._store.consent_events([key])[key]

    def history(self, number: str, *, channel: Channel | str | None = None) -> list[ConsentEvent]:
        """Every consent event of the address in ledger (append) order; see
        :func:`effective_order` for the order in which they take effect. ``channel`` says how
        to read the address (``"push"`` for a token); every event of the address is returned."""
        address = self._number(number, channel)
        return self._store.consent_events([address])[address]

    def proof(
        self,
        number: str,
        *,
        format: Literal["json", "csv"] = "json",
        channel: Channel | str | None = None,
    ) -> str:
        """Export the address's consent chain, with date, time and source of every event."""
        events = self.history(number, channel=channel)
        verify_chain(events)
        if format == "json":
            return json.dumps(
                {
                    "number": self._number(number, channel),
                    "exported_at": self._now().isoformat(),
                    "head": events[-1].hash if events else GENESIS,
                    "events": [event.to_json() for event in events],
                },
                indent=2,
                ensure_ascii=False,
            )
        if format == "csv":
            out = io.StringIO()
            # The channel column is there only when an event names a channel, so the proofs of
            # ledgers from before channels read as they always did.
            fields: tuple[str, ...] = CSV_FIELDS
            if any(event.channel is not None for event in events):
                fields = (*CSV_FIELDS[:-2], "channel", *CSV_FIELDS[-2:])
            writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            for event in events:
                row = event.to_json()
                row["evidence"] = json.dumps(row["evidence"], sort_keys=True, ensure_ascii=False)
                writer.writerow({k: "" if row.get(k) is None else row[k] for k in fields})
            return out.getvalue()
        raise InvalidInputError(f"format must be 'json' or 'csv', got {format!r}")

    def verify(self, text: str, *, format: Literal["json", "csv"] = "json") -> bool:
        """True when an exported proof is intact and matches this ledger event for event;
        raises :class:`LedgerIntegrityError` saying what was altered, dropped or reordered, in
        the proof or in the ledger since it was exported (see :func:`verify_proof`)."""
        return verify_proof(text, format=format, ledger=self)


def _person(value: object) -> str:
    if value is None:
        raise InvalidInputError("person must be a non-empty string, got None")
    found = person_id(value)
    assert found is not None
    return found


def _may_carry(address: str, channel: Channel) -> bool:
    """True when a message on ``channel`` can go to ``address`` (a number carries SMS, MMS
    and voice; an email address email; a token push and in-app)."""
    if address.startswith("+"):
        return channel.is_phone
    if "@" in address:
        return channel is Channel.EMAIL
    return channel in (Channel.PUSH, Channel.IN_APP)


def verify_proof(
    text: str, *, format: Literal["json", "csv"] = "json", ledger: Ledger | None = None
) -> bool:
    """True when an exported proof is one intact hash chain; with ``ledger``, also when the
    ledger's current records of that number are the same events, each field equal and each
    stored hash recomputed. Raises :class:`LedgerIntegrityError` naming the events that
    differ."""
    events = _read_proof(text, format)
    verify_chain(events)
    if ledger is not None and events:
        _compare(events, ledger.history(events[0].number))
    return True


def _compare(proof: Sequence[ConsentEvent], stored: Sequence[ConsentEvent]) -> None:
    problems: list[str] = []
    for event, kept in zip(proof, stored, strict=False):
        mine, theirs = event.to_json(), kept.to_json()
        fields = [name for name in mine if mine[name] != theirs.get(name)]
        if fields:
            changes = ", ".join(
                f"{name} {mine[name]!r} in the proof, {theirs.get(name)!r} in the ledger"
                for name in fields
            )
            problems.append(f"event {event.seq} differs ({changes})")
    if len(stored) < len(proof):
        problems.append(
            f"the ledger lacks events {len(stored)} to {len(proof) - 1} of the proof: "
            "they were dropped"
        )
    elif len(stored) > len(proof):
        problems.append(
            f"the ledger holds {len(stored) - len(proof)} event(s) after the proof's last "
            f"(event {len(proof) - 1}): the proof is not the whole record"
        )
    broken = chain_break(stored)
    if broken is not None:
        problems.append(f"the ledger's own chain is broken: {broken}")
    if problems:
        raise LedgerIntegrityError(
            "the proof does not match the ledger's records: " + "; ".join(problems)
        )


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


WRITTEN_CONSENT = "written_consent"
"""The evidence key of a written agreement (:class:`WrittenConsent`)."""


def _required_text(name: str) -> Any:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"written consent needs its {name} (a non-empty text)")

    return check


@attrs.frozen
class WrittenConsent:
    """The evidence of prior express written consent (47 CFR 64.1200(f)(9)): an agreement
    signed by the recipient (``signature``: the e-sign record under the E-SIGN Act, e.g. an
    e-signature envelope id, a form submission with its IP, or "sms-reply:YES"), the disclosure
    text shown (``disclosure``) and the number it covers (``number``, E.164).

    Record it as a confirmation's evidence with :meth:`evidence`; a double opt-in completed
    through the library (a ``requested`` event whose evidence has a ``disclosure``, then the
    recipient's YES from that number) is recorded with this evidence by itself."""

    signature: str = attrs.field(validator=_required_text("signature"))
    disclosure: str = attrs.field(validator=_required_text("disclosure"))
    number: str = attrs.field(validator=_required_text("number"))

    def evidence(self, **more: object) -> dict[str, object]:
        """The evidence mapping to pass to :meth:`Ledger.confirm` (with ``more`` keys)."""
        return {**more, WRITTEN_CONSENT: attrs.asdict(self)}

    @classmethod
    def of_request(cls, request: ConsentEvent, reply: str) -> WrittenConsent | None:
        """The written consent a YES to ``request`` gives, when the request carried the
        disclosure text; None otherwise."""
        disclosure = request.evidence.get("disclosure")
        if not isinstance(disclosure, str) or not disclosure.strip():
            return None
        return cls(f"sms-reply:{reply}", disclosure, request.number)


def written_consent_of(
    event: ConsentEvent, history: Sequence[ConsentEvent] = ()
) -> WrittenConsent | None:
    """The written consent a ``confirmed`` event proves, or None: its own evidence (for this
    event's number), or, for a YES to a double opt-in request or a reaffirmation, that of the
    event it names in ``history`` (``request`` with a disclosure, ``reaffirms``)."""
    if event.kind is not ConsentKind.CONFIRMED:
        return None
    found = event.evidence.get(WRITTEN_CONSENT)
    if isinstance(found, Mapping):
        try:
            written = WrittenConsent(
                found.get("signature"),  # type: ignore[arg-type]
                found.get("disclosure"),  # type: ignore[arg-type]
                found.get("number"),  # type: ignore[arg-type]
            )
        except InvalidInputError:
            return None
        return written if written.number == event.number else None
    by_hash = {e.hash: e for e in history if e.number == event.number}
    request = by_hash.get(str(event.evidence.get("request", "")))
    if request is not None and request.kind is ConsentKind.REQUESTED:
        return WrittenConsent.of_request(request, "YES")
    earlier = by_hash.get(str(event.evidence.get("reaffirms", "")))
    if earlier is not None and earlier.at <= event.at and earlier is not event:
        return written_consent_of(earlier, [e for e in history if e is not event])
    return None
