"""Stored records: consent events (hash-chained per recipient) and sends."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import types
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from . import _enum
from ._time import ensure_aware
from ._values import Channel, Purpose, check_text, to_enum
from .errors import InvalidInputError

__all__ = ["GENESIS", "Basis", "ConsentEvent", "ConsentKind", "SendRecord", "SendStatus"]

GENESIS = "0" * 64
"""The ``prev_hash`` of a recipient's first consent event."""

_MAX_TEXT = 2048
_MAX_EVIDENCE = 16_384


class ConsentKind(_enum.Enum):
    """What a consent event records."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REVOKED = "revoked"
    IMPLIED = "implied"
    UNCLEAR = "unclear"
    """A reply that may be a revocation but is not clear: marketing is held until the
    recipient answers (a later confirmation or revocation) or until ``expires``."""


class Basis(_enum.Enum):
    """The legal basis of a consent event."""

    EXPRESS = "express"
    PURCHASE = "purchase"
    INQUIRY = "inquiry"
    SOFT_OPT_IN = "soft_opt_in"
    NON_BUSINESS = "non_business"


def _text(name: str, value: object) -> str:
    text: str = check_text(value, name)  # a string, not blank, without lone surrogate or NUL
    if len(text) > _MAX_TEXT:
        raise InvalidInputError(f"{name} is {len(text)} characters long (at most {_MAX_TEXT})")
    return text.strip()


def _number(value: object) -> str:
    return _text("number", value)


def _source(value: object) -> str:
    return _text("source", value)


def _topic(value: object) -> str | None:
    return None if value is None else _text("topic", value)


def _brand(value: object) -> str | None:
    return None if value is None else _text("brand", value)


# json.dumps with options builds a new encoder on every call; every event read from a store
# is checked and hashed again, so the two encoders are built once (the text is the same).
_EVIDENCE_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _evidence(value: object) -> Mapping[str, object]:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"evidence must be a mapping, got {type(value).__name__}")
    if not value:  # most events carry none: "{}" needs no check or copy
        return types.MappingProxyType({})
    try:
        text = _EVIDENCE_ENCODER.encode(dict(value))
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"evidence must be JSON-serialisable: {error}") from None
    check_text(text, "evidence", blank=True, nul=False)  # NUL is escaped in JSON
    if len(text) > _MAX_EVIDENCE:
        raise InvalidInputError(f"evidence is {len(text)} characters (at most {_MAX_EVIDENCE})")
    return types.MappingProxyType(json.loads(text))


def _at(value: object) -> dt.datetime:
    return ensure_aware(value, "at")


def _expires(value: object) -> dt.datetime | None:
    return None if value is None else ensure_aware(value, "expires")


def _kind(value: object) -> ConsentKind:
    return to_enum(ConsentKind, value, InvalidInputError)


def _purpose(value: object) -> Purpose:
    return to_enum(Purpose, value, InvalidInputError)


def _optional_purpose(value: object) -> Purpose | None:
    return None if value is None else _purpose(value)


def _basis(value: object) -> Basis | None:
    return None if value is None else to_enum(Basis, value, InvalidInputError)


def _channel(value: object) -> Channel:
    return to_enum(Channel, value, InvalidInputError)


def _optional_channel(value: object) -> Channel | None:
    return None if value is None else _channel(value)


TEXT_CHANNELS = frozenset({Channel.SMS, Channel.MMS})
"""Channels one consent or revocation for either covers: a text is a text, SMS or MMS."""


def channel_covers(scope: Channel | None, channel: Channel | None) -> bool:
    """True when an event scoped to ``scope`` (None: every channel of its address) reaches a
    message on ``channel`` (None: any). SMS and MMS are one scope (:data:`TEXT_CHANNELS`)."""
    if scope is None or channel is None or scope is channel:
        return True
    return scope in TEXT_CHANNELS and channel in TEXT_CHANNELS


@attrs.frozen(kw_only=True)
class ConsentEvent:
    """One append-only consent record.

    ``topic`` None means every topic, ``purpose`` None every purpose, ``brand`` None every
    brand, ``channel`` None every channel of the address (a phone number's SMS, MMS and voice;
    an email address's email). ``number`` is the address: E.164, a normalised email address, a
    push token, or ``"person: <id>"`` for a person's own events. ``seq``, ``prev_hash`` and
    ``hash`` are set by the store when the event is appended: each event hashes its
    predecessor for the same recipient, so any edit, drop or reordering breaks the chain.
    """

    kind: ConsentKind = attrs.field(converter=_kind)
    number: str = attrs.field(converter=_number)
    at: dt.datetime = attrs.field(converter=_at)
    source: str = attrs.field(converter=_source)
    topic: str | None = attrs.field(default=None, converter=_topic)
    purpose: Purpose | None = attrs.field(default=None, converter=_optional_purpose)
    brand: str | None = attrs.field(default=None, converter=_brand)
    basis: Basis | None = attrs.field(default=None, converter=_basis)
    evidence: Mapping[str, object] = attrs.field(
        factory=dict, converter=_evidence, eq=False, hash=False
    )
    expires: dt.datetime | None = attrs.field(default=None, converter=_expires)
    channel: Channel | None = attrs.field(default=None, converter=_optional_channel)
    seq: int = -1
    prev_hash: str = GENESIS
    hash: str = ""

    def payload(self) -> dict[str, object]:
        """The fields that the hash covers, as JSON-ready values. ``channel`` is there only when
        set, so events recorded before channels existed keep their hashes."""
        payload: dict[str, object] = {
            "kind": self.kind.value,
            "number": self.number,
            "at": self.at.isoformat(),
            "source": self.source,
            "topic": self.topic,
            "purpose": self.purpose.value if self.purpose else None,
            "brand": self.brand,
            "basis": self.basis.value if self.basis else None,
            "evidence": dict(self.evidence),
            "expires": self.expires.isoformat() if self.expires else None,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
        }
        if self.channel is not None:
            payload["channel"] = self.channel.value
        return payload

    def compute_hash(self) -> str:
        """The SHA-256 of the canonical JSON payload (which includes ``prev_hash``)."""
        return _digest(self.payload())

    def fingerprint(self) -> str:
        """The SHA-256 of what the event records, without its place in a chain (``seq`` and
        ``prev_hash``): two events with the same fingerprint record the same consent."""
        payload = self.payload()
        del payload["seq"], payload["prev_hash"]
        return _digest(payload)

    def chained(self, seq: int, prev_hash: str) -> ConsentEvent:
        """This event as the ``seq``-th of its recipient, after the event hashed ``prev_hash``."""
        linked = attrs.evolve(self, seq=seq, prev_hash=prev_hash, hash="")
        return attrs.evolve(linked, hash=linked.compute_hash())

    def to_json(self) -> dict[str, object]:
        """The event as a JSON-ready mapping, hash included."""
        return {**self.payload(), "hash": self.hash}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsentEvent:
        """Rebuild an event from :meth:`to_json` output."""
        try:
            return cls(
                kind=data["kind"],
                number=data["number"],
                at=dt.datetime.fromisoformat(data["at"]),
                source=data["source"],
                topic=data.get("topic"),
                purpose=data.get("purpose"),
                brand=data.get("brand"),
                basis=data.get("basis"),
                evidence=data.get("evidence") or {},
                expires=dt.datetime.fromisoformat(data["expires"]) if data.get("expires") else None,
                channel=data.get("channel") or None,
                seq=int(data["seq"]),
                prev_hash=str(data["prev_hash"]),
                hash=str(data["hash"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInputError(f"not a consent event record: {error}") from None


def _digest(payload: Mapping[str, object]) -> str:
    canonical = _CANONICAL_ENCODER.encode(payload)
    return hashlib.sha256(canonical.encode()).hexdigest()


class SendStatus(_enum.Enum):
    """Where a send is in its life: reserved (counted, not yet sent) or sent."""

    RESERVED = "reserved"
    SENT = "sent"


def _status(value: object) -> SendStatus:
    return to_enum(SendStatus, value, InvalidInputError)


@attrs.frozen(kw_only=True)
class SendRecord:
    """One send in the send log (or a reservation that counts as one until it expires)."""

    number: str
    at: dt.datetime = attrs.field(converter=_at)
    topic: str
    purpose: Purpose = attrs.field(converter=_purpose)
    channel: Channel = attrs.field(converter=_channel)
    content_key: str
    brand: str | None = None
    sender: str | None = None
    person: str | None = None
    provider_id: str | None = None
    status: SendStatus = attrs.field(default=SendStatus.SENT, converter=_status)
    expires: dt.datetime | None = attrs.field(default=None, converter=_expires)
    id: str = attrs.field(factory=lambda: uuid.uuid4().hex)

    def as_sent(self, provider_id: str | None) -> SendRecord:
        """This record settled as sent, with the provider's message id (a hold no longer
        expires once its message went out)."""
        return attrs.evolve(self, status=SendStatus.SENT, provider_id=provider_id, expires=None)

    def counts_at(self, instant: dt.datetime) -> bool:
        """True when this record counts against caps at ``instant`` (sent, or a live hold)."""
        return self.status is SendStatus.SENT or (
            self.expires is not None and self.expires > instant
        )
