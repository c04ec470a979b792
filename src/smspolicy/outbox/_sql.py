"""Row decoding and table-name checks shared by the SQL outbox stores."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ConfigurationError
from ._model import Held, HoldState, decode_reasons, decode_record, encode_reasons, from_micros

__all__ = ["COLUMNS", "check_table", "held_from_row", "reasons_of"]

COLUMNS = (
    "record, state, due_us, ready_us, token, attempts, provider_id, sent_us, reasons, finished_us"
)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,50}")


def check_table(table: str) -> str:
    """``table`` when it is a plain lower-case SQL name, else a ConfigurationError."""
    if not isinstance(table, str) or not _NAME.fullmatch(table):
        raise ConfigurationError(
            f"table must be lower-case letters, digits and _ (at most 51), got {table!r}"
        )
    return table


def held_from_row(row: tuple[Any, ...]) -> Held:
    """The held message of a row selected with :data:`COLUMNS`."""
    record, state, due, ready, token, attempts, provider_id, sent, reasons, finished = row
    held_state = HoldState(state)
    return decode_record(
        record,
        state=held_state,
        due=due,
        claim_until=from_micros(ready) if held_state is HoldState.CLAIMED else None,
        token=token,
        attempts=attempts,
        provider_id=provider_id,
        sent_at=None if sent is None else from_micros(sent),
        reasons=decode_reasons(reasons),
        finished_at=None if finished is None else from_micros(finished),
    )


def reasons_of(held: Held) -> str | None:
    """The reasons column of a message being held: None when it has none."""
    return encode_reasons(held.reasons) if held.reasons else None
