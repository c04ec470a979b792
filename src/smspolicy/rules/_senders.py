"""Senders: each brand and purpose goes out from its own origination identities, and a seller
declares the registrations the law asks of it."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Annotated

import attrs

from .. import i18n
from .._annotate import Rows
from .._context import Context
from .._values import ALLOWED, Decision, Message, Purpose, Reason, allow, deny, to_enum
from ..errors import ConfigurationError

__all__ = ["origination", "seller_registration"]

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
_UNREGISTERED = i18n.register_template(
    "registration.missing",
    "no program of {brand} declares a registration number or exemption for {jurisdiction}",
)
_JURISDICTION = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")


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
            return ALLOWED
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
        return ALLOWED

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


@attrs.frozen(repr=False)
class _SellerRegistration:
    jurisdiction: str
    code: str
    citation: str | None
    name: str

    def __call__(self, message: Message, context: Context) -> Decision:
        if (
            message.purpose is not Purpose.MARKETING
            or self.jurisdiction not in context.recipient.jurisdictions
        ):
            return ALLOWED
        for program in context.programs:
            if program.brand == message.brand and program.registration(self.jurisdiction):
                return ALLOWED
        return allow(self._warning(message.brand))

    def _warning(self, brand: str | None) -> Reason:
        return i18n.reason(
            self.code,
            self.name,
            _UNREGISTERED,
            citation=self.citation,
            brand=brand or "(no brand)",
            jurisdiction=self.jurisdiction,
        )

    def __repr__(self) -> str:
        return f"{self.name}({self.jurisdiction!r})"


def seller_registration(
    jurisdiction: str,
    *,
    code: str = "registration.missing",
    citation: str | None = None,
    name: str = "seller_registration",
) -> _SellerRegistration:
    """Warn when marketing reaches a recipient in ``jurisdiction`` ("US-TX") and no program of
    the message's brand declares a registration number or exemption for it
    (:attr:`smspolicy.Program.registrations`). The message is allowed with the reason attached:
    whether a seller is registered or exempt is a fact the library cannot check (Texas: Bus. &
    Com. Code § 302.101, texts included since SB 140)."""
    if not isinstance(jurisdiction, str) or not _JURISDICTION.match(jurisdiction):
        raise ConfigurationError(f"jurisdiction must be a code like 'US-TX', got {jurisdiction!r}")
    return _SellerRegistration(jurisdiction, code, citation, name)
