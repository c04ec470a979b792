"""Provisions: one legal rule of one jurisdiction, as data with its citation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import ClassVar

import attrs
import pycountry

from .. import i18n
from .._compose import all_of, lookback_of, run_rule, when
from .._context import Context
from .._recipients import STAND_IN_JURISDICTIONS
from .._values import Decision, Message, Purpose, Reason, checked_parts
from ..predicates import JURISDICTIONS, PURPOSE, Predicate
from ..typing import Rule

__all__ = ["AS_OF", "Provision", "Provisions", "StandIn"]

_STAND_IN = i18n.register_template(
    "jurisdiction.stand_in",
    "{region_name} ({region}) has rules of its own that are not encoded yet; the {stand_in} "
    "rules are applied in their place",
)

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


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or getattr(country, "name", code))


@attrs.frozen(repr=False)
class StandIn:
    """A provision applied to regions through the jurisdiction that stands in for their own
    law (the UK's for the Crown dependencies): whenever it gives reasons, one more says so."""

    rule: Rule
    borrowed: tuple[tuple[str, str], ...]
    provision: str
    notes: tuple[Reason, ...] = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        notes = tuple(
            i18n.reason(
                "jurisdiction.stand_in",
                self.provision,
                _STAND_IN,
                region=region,
                region_name=_country_name(region),
                stand_in=stand_in,
            )
            for region, stand_in in self.borrowed
        )
        object.__setattr__(self, "notes", notes)

    def __call__(self, message: Message, context: Context) -> Decision:
        decision = run_rule(self.rule, message, context)
        if not decision.reasons:
            return decision
        reasons = (*decision.reasons, *self.notes)
        return checked_parts(decision.verdict, decision.until, reasons, decision.zone)

    def __repr__(self) -> str:
        return f"stand_in({self.rule!r}, {dict(self.borrowed)!r})"


def _applied(item: Provision, jurisdictions: frozenset[str]) -> Rule:
    """The provision's rule for a recipient, with a note when it applies only because the
    jurisdiction stands in for one of the recipient's regions."""
    borrowed = tuple(
        (code, STAND_IN_JURISDICTIONS[code])
        for code in sorted(jurisdictions)
        if STAND_IN_JURISDICTIONS.get(code) in item.jurisdictions
    )
    return StandIn(item.rule, borrowed, item.id) if borrowed else item.rule


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
            combined = all_of(
                *(_applied(self.provisions[i], jurisdictions) for i in chosen),
                horizon=self.horizon,
            )
            self._combined[key] = combined
        return combined

    def __call__(self, message: Message, context: Context) -> Decision:
        return self.rule_for(context.recipient.jurisdictions, message.purpose)(message, context)

    def leaves(self, purpose: Purpose, jurisdictions: frozenset[str]) -> tuple[Rule, ...]:
        """The provisions that apply to the pair (the combinator protocol of the fast path)."""
        return (self.rule_for(jurisdictions, purpose),)

    def lookback(self) -> dt.timedelta:
        """The longest send history any provision needs."""
        return max((lookback_of(p.rule) for p in self.provisions), default=dt.timedelta(0))

    def __repr__(self) -> str:
        return f"provisions({', '.join(p.id for p in self.provisions)})"
