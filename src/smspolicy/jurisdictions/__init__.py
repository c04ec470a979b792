"""Jurisdiction packs: legal rules as data, each with its citation, as-of date and confidence.

``standard()`` returns one Policy that applies, to each recipient, every provision of every
candidate jurisdiction (country from the number; US state or Canadian province from the area
code; the profile's declared residence), strictest wins, plus the universal best practices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Literal

import attrs

from .. import rules
from .._compose import Policy, when
from .._values import Channel
from ..predicates import is_marketing
from ..rules._email import WIRELESS_DOMAINS
from ..typing import Rule
from . import intl, us
from ._canspam import WIRELESS_DOMAINS_ID
from ._model import AS_OF, PHONE, ByChannel, Provision, Provisions

DEFAULT_PUSH_ZONE = "UTC"
"""The zone a push's best-practice window falls back to when neither the profile nor
``push_fallback_zone`` gives one: set ``push_fallback_zone`` to your audience's zone."""

__all__ = [
    "AS_OF",
    "DEFAULT_PUSH_ZONE",
    "PACKS",
    "WIRELESS_DOMAINS",
    "Provision",
    "best_practices",
    "markdown_table",
    "pack",
    "provisions",
    "standard",
]

PACKS: dict[str, tuple[Provision, ...]] = {
    "us": us.PROVISIONS,
    "ca": tuple(p for p in intl.PROVISIONS if p.id.startswith("ca.")),
    "uk": tuple(p for p in intl.PROVISIONS if p.id.startswith("uk.")),
    "eu": tuple(p for p in intl.PROVISIONS if p.id.startswith(("eu.", "fr."))),
    "jp": tuple(p for p in intl.PROVISIONS if p.id.startswith("jp.")),
    "au": tuple(p for p in intl.PROVISIONS if p.id.startswith("au.")),
    "in": tuple(p for p in intl.PROVISIONS if p.id.startswith("in.")),
    "br": tuple(p for p in intl.PROVISIONS if p.id.startswith("br.")),
}
"""Every pack by name."""


def pack(name: str) -> tuple[Provision, ...]:
    """The provisions of one pack ("us", "ca", "uk", "eu", "jp", "au", "in", "br")."""
    from ..errors import ConfigurationError

    try:
        return PACKS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown jurisdiction pack {name!r}: choose from {sorted(PACKS)}"
        ) from None


def provisions(
    packs: Iterable[str] | None = None,
    *,
    include_unconfirmed: bool = False,
    enable: Collection[str] = (),
    relax: Collection[str] = (),
) -> tuple[Provision, ...]:
    """The provisions of ``packs`` (all by default) that are switched on: every confirmed one
    and every one shipped on because it is stricter (:attr:`Provision.on_by_default`), and the
    other unconfirmed ones named in ``enable`` (or all with ``include_unconfirmed``)."""
    from ..errors import ConfigurationError

    for label, ids in (("enable", enable), ("relax", relax)):
        if isinstance(ids, str):  # a set of its letters would name nothing the sender meant
            raise ConfigurationError(
                f"{label} must be a collection of provision ids, not one text: [{ids!r}]"
            )
        if not all(isinstance(i, str) for i in ids):
            raise ConfigurationError(
                f"{label} must be a collection of provision ids (text), got {list(ids)!r}"
            )
    chosen = [p for name in (packs or PACKS) for p in pack(name)]
    known = {p.id for p in chosen}
    unknown = set(enable) - known
    if unknown:
        raise ConfigurationError(f"enable names unknown provisions: {sorted(unknown)}")
    if set(relax) - known:
        raise ConfigurationError(
            f"relax names provisions that are not in the chosen packs: {sorted(set(relax) - known)}"
        )
    relaxable = {p.id for p in chosen if p.relaxed is not None}
    if set(relax) - relaxable:
        raise ConfigurationError(
            f"relax names provisions without a relaxed form: {sorted(set(relax) - relaxable)} "
            f"(relaxable: {sorted(relaxable)})"
        )
    on = [p for p in chosen if p.on_by_default or include_unconfirmed or p.id in enable]
    return tuple(
        attrs.evolve(p, rule=p.relaxed) if p.id in relax and p.relaxed is not None else p
        for p in on
    )


def best_practices(
    *,
    stop_scope: Literal["brand", "topic"] = "brand",
    push_fallback_zone: str = DEFAULT_PUSH_ZONE,
) -> tuple[Rule, ...]:
    """The rules every recipient gets: a valid number, consent (with STOP handling), and
    marketing texts and calls only 08:00-21:00 in the recipient's time (CTIA Messaging
    Principles); marketing push notifications only 08:00-21:00 too, in the profile's zone or,
    when the profile gives none, in ``push_fallback_zone`` (instead of denying every push).

    Consent must be on record for texts and calls; email and push are opt-out channels here
    (only an unsubscribe, a STOP or a person's "stop everything" ends them): the law of the
    recipient's residence adds the consent it requires (CASL, PECR, ePrivacy, Japan,
    Australia), and a sender who wants opt-in everywhere adds ``rules.consent()``.

    No law sets the window, so it holds in the recipient's principal zones (an Australian
    mobile: Perth, Adelaide, Brisbane and Sydney, not Cocos, Christmas Island, Eucla or Lord
    Howe); a legal window holds in every candidate zone. Email has no window."""
    window = rules.sending_window(
        "08:00",
        "21:00",
        zones="principal",
        citation="CTIA Messaging Principles (best practice)",
        name="best.quiet_hours",
    )
    push = rules.sending_window(
        "08:00",
        "21:00",
        zones="principal",
        fallback_zones=(push_fallback_zone,),
        citation="push notification practice (no statute)",
        name="best.push_hours",
    )
    by_channel = dict.fromkeys(sorted(PHONE, key=lambda c: c.value), window)
    return (
        rules.valid_number(),
        rules.consent(stop_scope=stop_scope, required_for=PHONE),
        when(is_marketing, ByChannel({**by_channel, Channel.PUSH: push})),
    )


def standard(
    packs: Iterable[str] | None = None,
    *,
    include_unconfirmed: bool = False,
    enable: Collection[str] = (),
    stop_scope: Literal["brand", "topic"] = "brand",
    horizon: dt.timedelta = dt.timedelta(days=35),
    relax: Collection[str] = (),
    unknown_residence: Literal["strictest"] | Collection[str] = "strictest",
    wireless_domains: Collection[str] | None = None,
    push_fallback_zone: str = DEFAULT_PUSH_ZONE,
) -> Policy:
    """One Policy with the best practices and every switched-on provision of every pack, each
    applied where the recipient may be and on the channels its law covers (strictest wins).
    ``relax`` names provisions to apply in their milder form
    (``{"us.tcpa.written_consent_evidence"}``: a warning instead of a DENY, for senders who
    keep that evidence elsewhere).

    An email or push recipient's jurisdictions come from their profile (country, state);
    ``unknown_residence`` says what applies when it names none: ``"strictest"`` (every
    jurisdiction's law for that channel, so a marketing email needs consent as in Canada) or
    jurisdiction codes to assume (``{"US"}``). ``wireless_domains`` replaces the example list
    of the FCC's wireless domains (pass the FCC's whole list); ``push_fallback_zone`` is the
    zone of the push window when the profile gives none (:func:`best_practices`)."""
    chosen = provisions(packs, include_unconfirmed=include_unconfirmed, enable=enable, relax=relax)
    if wireless_domains is not None:
        domains = rules.wireless_domain_consent(
            wireless_domains,
            code=f"jurisdiction.{WIRELESS_DOMAINS_ID}",
            citation="47 CFR 64.3100(a)",
            name=WIRELESS_DOMAINS_ID,
        )
        chosen = tuple(
            attrs.evolve(p, rule=domains) if p.id == WIRELESS_DOMAINS_ID else p for p in chosen
        )
    return Policy(
        *best_practices(stop_scope=stop_scope, push_fallback_zone=push_fallback_zone),
        Provisions(chosen, horizon, unknown_residence),
        name="standard",
        horizon=horizon,
    )


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _in_force(p: Provision) -> str:
    if p.effective is None and p.until is None:
        return "-"
    start = f"from {p.effective.isoformat()}" if p.effective else ""
    end = f"until {p.until.isoformat()} (excluded)" if p.until else ""
    return " ".join(part for part in (start, end) if part)


def markdown_table(packs: Iterable[str] | None = None) -> str:
    """The docs table of every provision: id, jurisdictions, channels, rule, parameters,
    citation and source, dates in force, as-of date, confidence and default state."""
    lines = [
        "| id | where | channels | rule | parameters | citation | source | in force | as of "
        "| confirmed | default |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in packs or PACKS:
        for p in pack(name):
            where = ", ".join(sorted(p.jurisdictions))
            if len(p.jurisdictions) > 6:
                where = f"{len(p.jurisdictions)} EU member states"
            params = "; ".join(f"{k}: {v}" for k, v in p.parameters.items()) or "-"
            channels = ", ".join(c.value for c in Channel if c in p.channels)
            lines.append(
                f"| `{p.id}` | {_cell(where)} | {channels} | {_cell(p.title)} | {_cell(params)} | "
                f"{_cell(p.citation)} | {_cell(p.source or '-')} | {_in_force(p)} | "
                f"{p.as_of.isoformat()} | {'yes' if p.confirmed else 'no'} | "
                f"{'on' if p.on_by_default else 'off'} |"
            )
    return "\n".join(lines) + "\n"
