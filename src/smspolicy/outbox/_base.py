"""The outbox store protocol: what a backend must do atomically."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from ._model import Finish, Held, HoldState

__all__ = ["OutboxStore"]


@runtime_checkable
class OutboxStore(Protocol):
    """Where held messages live. Every method is atomic on its own; ``claim`` hands each ready
    message to exactly one caller, and ``finish`` applies only under the claim that holds it."""

    def add(self, held: Held) -> Held:
        """Store ``held``; when its key is taken, store nothing and return the message that
        holds the key (holding is idempotent)."""
        ...

    def claim(self, now: dt.datetime, limit: int, until: dt.datetime, token: str) -> list[Held]:
        """Claim up to ``limit`` messages ready at ``now`` (held and due, or claimed by a
        claim that ended), earliest first, for ``token`` until ``until``."""
        ...

    def record_sends(self, sends: Sequence[tuple[str, str | None, dt.datetime]]) -> None:
        """Record ``(id, provider_id, at)``: the message went out. Kept the first time only,
        and only for a claimed message; a later claim sees it and does not send again."""
        ...

    def finish(self, items: Sequence[Finish]) -> list[bool]:
        """End claims: sent, held again, or dropped. Each applies only while its token still
        holds the message (False otherwise: another worker took it over, or it is done)."""
        ...

    def get(self, id: str) -> Held | None:
        """The message with this id, or None."""
        ...

    def dropped(self, limit: int = 100) -> list[Held]:
        """Dropped messages (the dead letters), oldest drop first."""
        ...

    def counts(self) -> Mapping[HoldState, int]:
        """How many messages are in each state."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
