"""Provisions: one legal rule of one jurisdiction, as data with its citation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

from .._compose import when
from .._context import Context
from .._values import Message, Purpose
from ..predicates import Predicate
from ..typing import Rule

__all__ = ["AS_OF", "Provision"]

AS_OF = dt.date(2026, 11, 27)
"""The date the shipped parameters were checked against their sources."""

MARKETING = frozenset({Purpose.MARKETING})
ALL_PURPOSES = frozenset(Purpose)


@attrs.frozen
class Provision:
    """One rule of one jurisdiction: what it requires, where the law says so, when that was
    checked, and whether the parameter was confirmed from a primary text.

    Unconfirmed provisions ship switched off; :func:`smspolicy.jurisdictions.standard` turns them
    on with ``include_unconfirmed=True`` or by id in ``enable``.
    """

    id: str
    jurisdictions: frozenset[str]
    title: str
    citation: str
    rule: Rule = attrs.field(eq=False)
    parameters: Mapping[str, object] = attrs.field(factory=dict, eq=False)
    purposes: frozenset[Purpose] = MARKETING
    confirmed: bool = True
    as_of: dt.date = AS_OF
    note: str = ""

    @property
    def code(self) -> str:
        """The reason code this provision's rule reports: ``jurisdiction.<id>``."""
        return f"jurisdiction.{self.id}"

    def applies(self, message: Message, context: Context) -> bool:
        """True when the message's purpose is covered and the recipient may be in one of the
        provision's jurisdictions (every candidate counts: strictest wins)."""
        return message.purpose in self.purposes and not self.jurisdictions.isdisjoint(
            context.recipient.jurisdictions
        )

    def as_rule(self) -> Rule:
        """The provision's rule, applied only where the provision applies."""
        return when(Predicate(self.applies, f"applies({self.id!r})"), self.rule)


def provision(
    id: str,
    jurisdictions: Iterable[str] | str,
    title: str,
    citation: str,
    rule: Rule,
    *,
    parameters: Mapping[str, object] | None = None,
    purposes: frozenset[Purpose] = MARKETING,
    confirmed: bool = True,
    note: str = "",
) -> Provision:
    """Build a provision (a helper for the pack modules)."""
    codes = frozenset([jurisdictions] if isinstance(jurisdictions, str) else jurisdictions)
    return Provision(
        id,
        codes,
        title,
        citation,
        rule,
        dict(parameters or {}),
        purposes,
        confirmed,
        AS_OF,
        note,
    )
