"""Dedicated senders: each brand and purpose goes out from its own origination identities."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated

import attrs

from .. import i18n
from .._annotate import Rows
from .._context import Context
from .._values import Decision, Message, Purpose, allow, deny, to_enum
from ..errors import ConfigurationError

__all__ = ["origination"]

Table = Mapping[tuple[str | None, Purpose], frozenset[str]]

_MISMATCH = i18n.register_template(
    "origination.mismatch",
    "{sender} is not a {purpose} sender of {brand}; use one of {allowed}",
)
_UNLISTED = i18n.register_template(
    "origination.unlisted", "no sender is registered for {brand} {purpose} messages"
)
_MISSING = i18n.register_template(
    "origination.missing", "the message names no origination identity to check"
)


def _table(table: Mapping[tuple[str | None, Purpose | str], Collection[str]]) -> Table:
    result: dict[tuple[str | None, Purpose], frozenset[str]] = {}
    for key, senders in table.items():
        try:
            brand, purpose = key
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"origination keys are (brand, purpose) pairs, got {key!r}"
            ) from None
        if isinstance(senders, str) or not all(isinstance(s, str) and s for s in senders):
            raise ConfigurationError(f"origination[{key!r}] must be a list of identities")
        result[(brand, to_enum(Purpose, purpose, ConfigurationError))] = frozenset(senders)
    return result


@attrs.frozen(repr=False)
class _Origination:
    table: Table | None

    def __call__(self, message: Message, context: Context) -> Decision:
        if not message.channel.is_phone:
            return allow()
        table = self.table if self.table is not None else context.senders
        if message.sender is None:
            return deny(i18n.reason("origination.missing", "origination", _MISSING))
        allowed = table.get((message.brand, message.purpose))
        names = {"brand": message.brand or "(no brand)", "purpose": message.purpose.value}
        if allowed is None:
            return deny(i18n.reason("origination.unlisted", "origination", _UNLISTED, **names))
        if message.sender not in allowed:
            return deny(
                i18n.reason(
                    "origination.mismatch",
                    "origination",
                    _MISMATCH,
                    sender=message.sender,
                    allowed=", ".join(sorted(allowed)),
                    **names,
                )
            )
        return allow()

    def __repr__(self) -> str:
        return "origination()" if self.table is None else f"origination({len(self.table)} senders)"


def origination(
    table: Annotated[
        Mapping[tuple[str | None, Purpose | str], Collection[str]] | None,
        Rows(("brand", "purpose"), "senders", optional=frozenset({"brand"})),
    ] = None,
) -> _Origination:
    """Check that each message goes out from an origination identity dedicated to its brand and
    purpose (10DLC: one registered use case per campaign, a separate sender per brand and message
    type): a promotional message through the transactional short code is denied. ``table`` maps
    ``(brand, Purpose)`` to identities; without it the engine's programs' ``senders`` are used.
    A message that names no sender is denied: it cannot be checked."""
    return _Origination(None if table is None else _table(table))
