"""Provisions: one legal rule of one jurisdiction, as data with its citation."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable, Mapping

import attrs
import pycountry

from .. import i18n
from .._compose import all_of, lookback_of, run_rule, when
from .._context import Context, is_onward, is_zone_timed
from .._memo import lru
from .._recipients import STAND_IN_JURISDICTIONS
from .._time import first_instant_at_or_after, zone
from .._values import (
    ALLOWED,
    Channel,
    Decision,
    Message,
    Purpose,
    Reason,
    Verdict,
    checked_parts,
)
from ..predicates import Predicate
from ..typing import Rule

__all__ = [
    "AS_OF",
    "EMAIL_LIKE_SMS",
    "PHONE",
    "ByChannel",
    "InForce",
    "OnChannels",
    "Provision",
    "Provisions",
    "StandIn",
]

_STAND_IN = i18n.register_template(
    "jurisdiction.stand_in",
    "{region_name} ({region}) has rules of its own that are not encoded yet; the {stand_in} "
    "rules are applied in their place",
)

AS_OF = dt.date(2026, 11, 27)
"""The date the shipped parameters were checked against their sources."""
AUDIT = dt.date(2026, 11, 29)
"""The date of the audit that corrected and added provisions."""

MARKETING = frozenset({Purpose.MARKETING})
ALL_PURPOSES = frozenset(Purpose)

PHONE = frozenset({Channel.SMS, Channel.MMS, Channel.VOICE})
"""The channels a provision covers unless it says otherwise: the telephone laws (TCPA, the
state statutes) reach texts and calls."""
EMAIL_LIKE_SMS = PHONE | {Channel.EMAIL}
"""The channels of the laws that treat email like texts (CASL, PECR, ePrivacy, Japan's Act on
Specified Electronic Mail, Australia's Spam Act)."""
EMAIL = frozenset({Channel.EMAIL})
"""Email alone (CAN-SPAM)."""


def _channels(value: object) -> frozenset[Channel]:
    from .._values import to_enum
    from ..errors import ConfigurationError

    if isinstance(value, str | Channel):
        value = (value,)
    try:
        found = frozenset(to_enum(Channel, c, ConfigurationError) for c in value)  # type: ignore[attr-defined]
    except TypeError:
        raise ConfigurationError(
            f"channels must be a collection of Channel, got {value!r}"
        ) from None
    if not found:
        raise ConfigurationError("a provision covers at least one channel")
    return found


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
    effective: dt.date | None = None
    until: dt.date | None = None
    source: str = ""
    """The URL of the primary text read (``confirmed``) or of the summary used."""
    default_on: bool = False
    """Shipped switched on although unconfirmed, because applying it is the stricter choice."""
    relaxed: Rule | None = attrs.field(default=None, eq=False)
    """A milder rule a sender may choose instead (``standard(relax={id})``), e.g. a warning
    attached to the decision in place of a denial."""
    channels: frozenset[Channel] = attrs.field(default=PHONE, converter=_channels)
    """The channels the law covers: texts and calls (:data:`PHONE`) unless it says otherwise.
    Push and in-app messages are covered by no statute."""

    @property
    def on_by_default(self) -> bool:
        """True when :func:`~smspolicy.jurisdictions.standard` applies it without being asked."""
        return self.confirmed or self.default_on

    def __attrs_post_init__(self) -> None:
        if self.effective is not None and self.until is not None and self.until <= self.effective:
            from ..errors import ConfigurationError

            raise ConfigurationError(
                f"provision {self.id!r}: until {self.until} is not after effective {self.effective}"
            )

    @property
    def code(self) -> str:
        """The reason code this provision's rule reports: ``jurisdiction.<id>``."""
        return f"jurisdiction.{self.id}"

    def applies(self, message: Message, context: Context) -> bool:
        """True when the message's purpose and channel are covered and the recipient may be in
        one of the provision's jurisdictions (every candidate counts: strictest wins)."""
        return (
            message.purpose in self.purposes
            and message.channel in self.channels
            and not self.jurisdictions.isdisjoint(context.recipient.jurisdictions)
        )

    @property
    def rule_in_force(self) -> Rule:
        """The provision's rule, applied only while the provision is in force."""
        if self.effective is None and self.until is None:
            return self.rule
        return InForce(self.rule, self.effective, self.until)

    def as_rule(self) -> Rule:
        """The provision's rule, applied only where and while the provision applies."""
        return when(Predicate(self.applies, f"applies({self.id!r})"), self.rule_in_force)


# Where the recipient's zones are unknown, a date begins in the earliest zone on Earth and ends
# in the latest: a provision is taken as in force for as long as it is anywhere.
_EARLIEST, _LATEST = ("Etc/GMT-14",), ("Etc/GMT+12",)


@lru(4096)
def _day_starts(day: dt.date, zones: tuple[str, ...]) -> tuple[dt.datetime, dt.datetime]:
    """The first and the last instant at which ``day`` begins in one of ``zones``."""
    midnight = dt.datetime.combine(day, dt.time())
    starts = [first_instant_at_or_after(zone(name), midnight) for name in zones]
    return min(starts), max(starts)


@attrs.frozen(repr=False)
class InForce:
    """A provision's rule applied only while the law is in force: from 00:00 on ``effective``
    to 00:00 on ``until`` (excluded), local time. A recipient with several candidate zones gets
    the provision from the moment the date begins in the first of them until the moment
    ``until`` begins in the last (strictest); unknown zones count as every zone on Earth.

    A deferral the rule asks for past the end of the provision is cut to that end."""

    rule: Rule
    effective: dt.date | None
    until: dt.date | None

    def __call__(self, message: Message, context: Context) -> Decision:
        zones = context.recipient.zones
        now = context.now
        if self.effective is not None and now < _day_starts(self.effective, zones or _EARLIEST)[0]:
            return ALLOWED
        if self.until is None:
            return run_rule(self.rule, message, context)
        end = _day_starts(self.until, zones or _LATEST)[1]
        if now >= end:
            return ALLOWED
        decision = run_rule(self.rule, message, context)
        if (
            decision.verdict is Verdict.DEFER
            and decision.until is not None
            and decision.until > end
        ):
            return checked_parts(Verdict.DEFER, end, decision.reasons, decision.zone)
        return decision

    def zone_timed(self) -> bool:
        """Zone-timed when its rule is: whether the law is in force depends only on the
        recipient's zones and the instant."""
        return is_zone_timed(self.rule)

    def allows_onward(self) -> bool:
        """When its rule does and the law has no start date: in force from the start and
        allowing after its end, it allows later whenever it allows now (a law that starts
        later may stop what it allows now)."""
        return self.effective is None and is_onward(self.rule)

    def at_instant(self, zones: tuple[str, ...], now: dt.datetime) -> tuple[Rule, ...] | None:
        """Nothing before the law is in force (or once it has ended), its rule while it is
        and has no end; None while it is in force with an end (a deferral past the end is
        cut, which only a call can do)."""
        if self.effective is not None and now < _day_starts(self.effective, zones or _EARLIEST)[0]:
            return ()
        if self.until is None:
            return (self.rule,)
        if now >= _day_starts(self.until, zones or _LATEST)[1]:
            return ()
        return None

    def __repr__(self) -> str:
        return f"in_force({self.rule!r}, effective={self.effective}, until={self.until})"


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
    effective: dt.date | None = None,
    until: dt.date | None = None,
    source: str = "",
    default_on: bool = False,
    as_of: dt.date = AS_OF,
    relaxed: Rule | None = None,
    channels: frozenset[Channel] = PHONE,
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
        as_of,
        note,
        effective,
        until,
        source,
        default_on,
        relaxed,
        channels,
    )


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or getattr(country, "name", code))


def _stand_in_notes(stand_in: StandIn) -> tuple[Reason, ...]:
    """The reason a stand-in adds: one per region whose law the provision stands in for."""
    return tuple(
        i18n.reason(
            "jurisdiction.stand_in",
            stand_in.provision,
            _STAND_IN,
            region=region,
            region_name=_country_name(region),
            stand_in=law,
        )
        for region, law in stand_in.borrowed
    )


@attrs.frozen(repr=False)
class StandIn:
    """A provision applied to regions through the jurisdiction that stands in for their own
    law (the UK's for the Crown dependencies): whenever it gives reasons, one more says so."""

    rule: Rule
    borrowed: tuple[tuple[str, str], ...]
    provision: str
    notes: tuple[Reason, ...] = attrs.field(
        init=False,
        eq=False,
        default=attrs.Factory(lambda self: _stand_in_notes(self), takes_self=True),
    )

    def __call__(self, message: Message, context: Context) -> Decision:
        decision = run_rule(self.rule, message, context)
        if not decision.reasons:
            return decision
        reasons = (*decision.reasons, *self.notes)
        return checked_parts(decision.verdict, decision.until, reasons, decision.zone)

    def zone_timed(self) -> bool:
        """Zone-timed when its rule is (its notes are fixed)."""
        return is_zone_timed(self.rule)

    def allows_onward(self) -> bool:
        """When its rule does (its notes join only decisions with reasons)."""
        return is_onward(self.rule)

    def __repr__(self) -> str:
        return f"stand_in({self.rule!r}, {dict(self.borrowed)!r})"


def _applied(
    item: Provision, jurisdictions: frozenset[str], channels: frozenset[Channel] | None = None
) -> Rule:
    """The provision's rule for a recipient, on ``channels`` (by default those of its law),
    with a note when it applies only because the jurisdiction stands in for one of the
    recipient's regions."""
    borrowed = tuple(
        (code, STAND_IN_JURISDICTIONS[code])
        for code in sorted(jurisdictions)
        if STAND_IN_JURISDICTIONS.get(code) in item.jurisdictions
    )
    rule: Rule = OnChannels(item.rule_in_force, item.channels if channels is None else channels)
    return StandIn(rule, borrowed, item.id) if borrowed else rule


def _dispatch_table(
    provisions: tuple[Provision, ...],
) -> Mapping[tuple[str, Purpose], tuple[int, ...]]:
    """The indexes of the provisions of each (jurisdiction, purpose), in order."""
    table: dict[tuple[str, Purpose], list[int]] = {}
    for index, item in enumerate(provisions):
        for code in item.jurisdictions:
            for purpose in item.purposes:
                table.setdefault((code, purpose), []).append(index)
    return types.MappingProxyType({key: tuple(indexes) for key, indexes in table.items()})


@attrs.frozen(repr=False)
class OnChannels:
    """A provision's rule applied only to messages on the channels its law covers (a
    TCPA window says nothing of an email); other messages are allowed by it."""

    rule: Rule
    channels: frozenset[Channel]

    def __call__(self, message: Message, context: Context) -> Decision:
        if message.channel not in self.channels:
            return ALLOWED
        # Whoever runs this leaf checks the decision it returns (the same object).
        return self.rule(message, context)

    def leaves(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
    ) -> tuple[Rule, ...]:
        """Its rule on the channels it covers, nothing on the others."""
        return (self.rule,) if channel in self.channels else ()

    def lookback(self) -> dt.timedelta:
        """The history the rule inside needs."""
        return lookback_of(self.rule)

    def zone_timed(self) -> bool:
        """Zone-timed when its rule is (the channel is part of what a decider keys on)."""
        return is_zone_timed(self.rule)

    def allows_onward(self) -> bool:
        """When its rule does (the channel is the message's own)."""
        return is_onward(self.rule)

    def __repr__(self) -> str:
        names = ", ".join(sorted(c.value for c in self.channels))
        return f"on_channels({self.rule!r}, {{{names}}})"


def _frozen_rules(value: Mapping[Channel, Rule]) -> Mapping[Channel, Rule]:
    return types.MappingProxyType(dict(value))


@attrs.frozen(repr=False)
class ByChannel:
    """One rule per channel, chosen by the message's channel (a channel without one is
    allowed): a single dispatch where several ``when(channel_is(...), ...)`` would each test
    the channel."""

    rules: Mapping[Channel, Rule] = attrs.field(converter=_frozen_rules)

    def __call__(self, message: Message, context: Context) -> Decision:
        rule = self.rules.get(message.channel)
        if rule is None:
            return ALLOWED
        return rule(message, context)

    def leaves(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
    ) -> tuple[Rule, ...]:
        """The channel's rule, or nothing."""
        rule = self.rules.get(channel)
        return () if rule is None else (rule,)

    def lookback(self) -> dt.timedelta:
        """The longest history the rules inside need."""
        return max((lookback_of(r) for r in self.rules.values()), default=dt.timedelta(0))

    def __repr__(self) -> str:
        parts = ", ".join(f"{c.value}: {r!r}" for c, r in self.rules.items())
        return f"by_channel({{{parts}}})"


def _unknown(value: object, provisions: tuple[Provision, ...]) -> frozenset[str]:
    from ..errors import ConfigurationError

    if value == "strictest":
        return frozenset(code for p in provisions for code in p.jurisdictions)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"unknown_residence must be 'strictest' or a collection of jurisdiction codes, "
            f"got {value!r}"
        )
    codes = frozenset(value)
    if not codes or not all(isinstance(c, str) and c.strip() for c in codes):
        raise ConfigurationError(
            f"unknown_residence must name at least one jurisdiction code, got {value!r}"
        )
    return codes


@attrs.frozen(repr=False)
class Provisions:
    """Applies, to each message, exactly the provisions of the recipient's candidate
    jurisdictions for its purpose and channel, combined as :func:`smspolicy.all_of` (a dispatch
    table, so a decision does not test every provision of every pack).

    An email, push or in-app recipient's jurisdictions come from their profile (country,
    state). When the profile gives none, ``unknown_residence`` decides: ``"strictest"`` (the
    default) applies the provisions of every jurisdiction for that channel, so an email needs
    the consent CASL, PECR and the ePrivacy Directive require and the content they and
    CAN-SPAM require (never silently the laxest law); a collection of codes (``{"US"}``)
    assumes the recipient lives there."""

    provisions: tuple[Provision, ...]
    horizon: dt.timedelta
    unknown_residence: object = attrs.field(default="strictest", eq=False)
    _unknown_codes: frozenset[str] = attrs.field(
        init=False,
        eq=False,
        default=attrs.Factory(
            lambda self: _unknown(self.unknown_residence, self.provisions), takes_self=True
        ),
    )
    _table: Mapping[tuple[str, Purpose], tuple[int, ...]] = attrs.field(
        init=False,
        eq=False,
        default=attrs.Factory(lambda self: _dispatch_table(self.provisions), takes_self=True),
    )
    _key: object = attrs.field(init=False, factory=object, eq=False, repr=False)

    def rule_for(self, jurisdictions: frozenset[str], purpose: Purpose) -> Rule:
        """The provisions of ``jurisdictions`` for ``purpose``, each applied to the channels
        its law covers, combined as ``all_of`` (the deciding engine remembers it per pair, in
        its memo). No jurisdictions at all (an address whose profile names no residence) is
        read as ``unknown_residence``, for the channels that are not telephone channels (a
        phone number always has a country)."""
        codes, unknown = jurisdictions, not jurisdictions
        if unknown:
            codes = self._unknown_codes
        chosen = sorted({i for code in codes for i in self._table.get((code, purpose), ())})
        parts: list[Rule] = []
        for index in chosen:
            item = self.provisions[index]
            channels = item.channels - PHONE if unknown else item.channels
            if channels:
                parts.append(_applied(item, codes, channels))
        return all_of(*parts, horizon=self.horizon)

    def __call__(self, message: Message, context: Context) -> Decision:
        pair = (context.recipient.jurisdictions, message.purpose)
        rule = context.shared.get((self._key, *pair), self.rule_for, *pair)
        return rule(message, context)

    def leaves(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
    ) -> tuple[Rule, ...]:
        """The provisions that apply to the pair (the combinator protocol of the fast path);
        each then says whether it covers ``channel``."""
        return (self.rule_for(jurisdictions, purpose),)

    def lookback(self) -> dt.timedelta:
        """The longest send history any provision needs."""
        return max((lookback_of(p.rule) for p in self.provisions), default=dt.timedelta(0))

    def __repr__(self) -> str:
        return f"provisions({', '.join(p.id for p in self.provisions)})"
