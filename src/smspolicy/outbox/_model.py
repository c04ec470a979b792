"""The held message, its states and its encoding, shared by every outbox store."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._values import Message, Reason
from ..errors import InvalidInputError, StoreUnavailableError

__all__ = [
    "Finish",
    "Held",
    "HoldState",
    "decode_reasons",
    "decode_record",
    "encode_reasons",
    "encode_record",
    "from_micros",
    "micros",
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(instant: dt.datetime) -> int:
    """An aware instant as integer microseconds since the epoch (sortable, exact)."""
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    """The UTC instant ``value`` microseconds after the epoch."""
    return _EPOCH + dt.timedelta(microseconds=int(value))


class HoldState(enum.Enum):
    """Where a held message is in its life: waiting, claimed by a worker, or finished."""

    HELD = "held"
    CLAIMED = "claimed"
    SENT = "sent"
    DROPPED = "dropped"


@attrs.frozen
class Held:
    """A message kept in the outbox until ``due``, with the caller's ``payload`` and its
    idempotency ``key``. ``attempts`` counts claims; ``provider_id`` and ``sent_at`` are set
    once a send was recorded; a dropped message keeps the ``reasons`` it was dropped for."""

    id: str
    key: str
    message: Message
    payload: Any
    due: dt.datetime
    held_at: dt.datetime
    state: HoldState = HoldState.HELD
    attempts: int = 0
    token: str | None = None
    claim_until: dt.datetime | None = None
    provider_id: str | None = None
    sent_at: dt.datetime | None = None
    reasons: tuple[Reason, ...] = ()
    finished_at: dt.datetime | None = None

    @property
    def ready(self) -> dt.datetime | None:
        """When a worker may claim it next: ``due`` while held, the end of the claim while
        claimed (a worker that died gives it up then), never once finished."""
        if self.state is HoldState.HELD:
            return self.due
        if self.state is HoldState.CLAIMED:
            return self.claim_until
        return None


@attrs.frozen
class Finish:
    """How a claimed message ends its claim: sent, held again until ``due``, or dropped with
    ``reasons``. Applies only while the claim ``token`` is still the message's."""

    id: str
    token: str
    state: HoldState
    at: dt.datetime
    due: dt.datetime | None = None
    reasons: tuple[Reason, ...] = ()
    provider_id: str | None = None


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "to": message.address,
        "topic": message.topic,
        "purpose": message.purpose.value,
        "channel": message.channel.value,
        "body": message.body,
        "brand": message.brand,
        "sender": message.sender,
        "person": message.person,
        "content_key": message.content_key,
        "not_after": message.not_after.isoformat() if message.not_after else None,
        "locale": message.locale,
        "recipient": None if message.recipient is None else attrs.asdict(message.recipient),
    }


def _message_from(data: Mapping[str, Any]) -> Message:
    fields = dict(data)
    if fields.get("not_after"):
        fields["not_after"] = dt.datetime.fromisoformat(fields["not_after"])
    return Message(**fields)


def check_payload(payload: object) -> str:
    """``payload`` as JSON text, or a clear error when it cannot be stored."""
    try:
        return json.dumps(payload, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(
            f"the payload must be JSON (dicts, lists, text, numbers, booleans, None): {error}"
        ) from None


def encode_record(held: Held) -> str:
    """The immutable part of a held message as JSON text."""
    return json.dumps(
        {
            "id": held.id,
            "key": held.key,
            "message": _message_json(held.message),
            "payload": held.payload,
            "due": micros(held.due),
            "held_at": micros(held.held_at),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def decode_record(text: str | bytes, **state: Any) -> Held:
    """The held message stored as ``text`` with its mutable ``state`` fields."""
    try:
        data = json.loads(text)
        return Held(
            id=data["id"],
            key=data["key"],
            message=_message_from(data["message"]),
            payload=data["payload"],
            due=from_micros(state.pop("due", None) or data["due"]),
            held_at=from_micros(data["held_at"]),
            **state,
        )
    except (ValueError, KeyError, TypeError) as error:
        raise StoreUnavailableError(f"a held message cannot be read: {error!r}") from None


def encode_reasons(reasons: Sequence[Reason]) -> str:
    """Reasons as JSON text (their machine data is kept when it is JSON)."""
    out = []
    for reason in reasons:
        item: dict[str, Any] = {
            "code": reason.code,
            "rule": reason.rule,
            "message": reason.message,
            "citation": reason.citation,
        }
        try:
            json.dumps(dict(reason.data))
            item["data"] = dict(reason.data)
        except (TypeError, ValueError):
            item["data"] = {}
        out.append(item)
    return json.dumps(out, ensure_ascii=False, sort_keys=True, default=str)


def decode_reasons(text: str | bytes | None) -> tuple[Reason, ...]:
    """The reasons stored as ``text``."""
    if not text:
        return ()
    try:
        return tuple(Reason(**item) for item in json.loads(text))
    except (ValueError, TypeError) as error:
        raise StoreUnavailableError(f"stored reasons cannot be read: {error!r}") from None
