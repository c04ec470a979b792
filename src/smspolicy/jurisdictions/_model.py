"""Provisions: one legal rule of one jurisdiction, as data with its citation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import ClassVar

import attrs

from .._compose import all_of, when
from .._context import Context
from .._values import Decision, Message, Purpose
from ..predicates import JURISDICTIONS, PURPOSE, Predicate
from ..typing import Rule

__all__ = ["AS_OF", "Provision", "Provisions"]

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
        return when(
            Predicate(self.applies, f"applies({self.id!r})", reads=PURPOSE | JURISDICTIONS),
            self.rule,
        )


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


@attrs.frozen(repr=False)
class Provisions:
    """Applies, to each message, exactly the provisions of the recipient's candidate
    jurisdictions for its purpose, combined as :func:`smspolicy.all_of` (a dispatch table, so a
    decision does not test every provision of every pack)."""

    # The rule applied depends only on the purpose and the jurisdictions (see _fastpath).
    static_dispatch: ClassVar[bool] = True

    provisions: tuple[Provision, ...]
    horizon: dt.timedelta
    _table: dict[tuple[str, Purpose], tuple[int, ...]] = attrs.field(init=False, eq=False)
    _combined: dict[tuple[frozenset[str], Purpose], Rule] = attrs.field(
        init=False, eq=False, factory=dict
    )

    def __attrs_post_init__(self) -> None:
        table: dict[tuple[str, Purpose], list[int]] = {}
        for index, item in enumerate(self.provisions):
            for code in item.jurisdictions:
                for purpose in item.purposes:
                    table.setdefault((code, purpose), []).append(index)
        object.__setattr__(self, "_table", {k: tuple(v) for k, v in table.items()})

    def rule_for(self, jurisdictions: frozenset[str], purpose: Purpose) -> Rule:
        """The provisions of ``jurisdictions`` for ``purpose``, combined as ``all_of``."""
        key = (jurisdictions, purpose)
        combined = self._combined.get(key)
        if combined is None:
            chosen = sorted(
                {i for code in jurisdictions for i in self._table.get((code, purpose), ())}
            )
            combined = all_of(*(self.provisions[i].rule for i in chosen), horizon=self.horizon)
            self._combined[key] = combined
        return combined

    def __call__(self, message: Message, context: Context) -> Decision:
        return self.rule_for(context.recipient.jurisdictions, message.purpose)(message, context)

    def __repr__(self) -> str:
        return f"provisions({', '.join(p.id for p in self.provisions)})"
