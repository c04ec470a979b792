"""JSON encoding of stored records, shared by the SQL and Redis stores."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .._memo import lru
from .._records import ConsentEvent, SendRecord
from ..errors import StoreUnavailableError

__all__ = ["decode_event", "decode_send", "encode_event", "encode_send", "micros"]


def micros(instant: dt.datetime) -> int:
    """An aware instant as integer microseconds since the epoch (sortable, exact)."""
    return round(instant.timestamp() * 1_000_000)


_EVENT_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def encode_event(event: ConsentEvent) -> str:
    return _EVENT_ENCODER.encode(event.to_json())


def decode_event(text: str) -> ConsentEvent:
    try:
        return ConsentEvent.from_json(json.loads(text))
    except ValueError as error:
        raise StoreUnavailableError(f"a stored consent event cannot be read: {error}") from None


# json.dumps(..., sort_keys=True) builds an encoder and sorts on every call; a record is encoded
# on every hold and every settle, so the encoder is built once and the keys are written in
# sorted order (the text is the same).
_SEND_ENCODER = json.JSONEncoder(ensure_ascii=False)


def encode_send(record: SendRecord) -> str:
    expires = record.expires
    data: dict[str, Any] = {
        "at": record.at.isoformat(),
        "brand": record.brand,
        "channel": record.channel.value,
        "content_key": record.content_key,
        "expires": expires.isoformat() if expires else None,
        "id": record.id,
        "number": record.number,
        "person": record.person,
        "provider_id": record.provider_id,
        "purpose": record.purpose.value,
        "sender": record.sender,
        "status": record.status.value,
        "topic": record.topic,
    }
    return _SEND_ENCODER.encode(data)


@lru(4096)
def decode_send(text: str) -> SendRecord:
    """The record stored as ``text``. Records are immutable and a cap re-reads a recipient's
    recent sends on every reservation, so recently decoded records are kept (bounded)."""
    data = json.loads(text)
    data["at"] = dt.datetime.fromisoformat(data["at"])
    if data.get("expires"):
        data["expires"] = dt.datetime.fromisoformat(data["expires"])
    return SendRecord(**data)
