"""The do-not-call rule: no marketing to a number on a do-not-call registry, unless the law's
exemptions hold (47 CFR 64.1200(c)(2), (f)(5))."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

import attrs

from .. import i18n
from .._context import Context
from .._records import Basis, ConsentKind
from .._values import ALLOWED, Decision, Message, Purpose, deny
from ..consent import ConsentStatus, consent_status, written_consent_of
from ..dnc import Registry
from ..errors import ConfigurationError, InvalidInputError

__all__ = ["EBR_TERMS", "EXEMPTIONS", "MAX_AGE", "do_not_call"]

MAX_AGE = dt.timedelta(days=31)
"""The oldest copy of the national registry a caller may rely on, 47 CFR 64.1200(c)(2)(i)(D)."""

EBR_TERMS: Mapping[Basis, int | None] = {Basis.PURCHASE: 18, Basis.INQUIRY: 3}
"""Months an established business relationship lasts, 47 CFR 64.1200(f)(5): 18 after the last
purchase or transaction, 3 after an inquiry or application."""

EXEMPTIONS = frozenset({"ebr", "written_consent"})
"""The exemptions :func:`do_not_call` knows."""

CITATION = "47 CFR 64.1200(c)(2)"

_LISTED = i18n.register_template(
    "dnc.listed", "the number is on the do-not-call registry {registry} (copy of {as_of})"
)
_STALE = i18n.register_template(
    "dnc.stale",
    "the copy of the do-not-call registry {registry} is of {as_of}, older than {max_days} days",
)
_UNAVAILABLE = i18n.register_template(
    "dnc.unavailable", "the do-not-call registry {registry} could not be read ({error})"
)


def _call_date(context: Context) -> dt.date:
    """The date of the call for the copy's age: the latest calendar date the instant has in
    UTC or in any of the recipient's zones (Guam's day begins ten hours before UTC's)."""
    dates = [context.local_time(name).date() for name in context.recipient.zones]
    return max([context.now.astimezone(dt.UTC).date(), *dates])


@attrs.frozen(repr=False)
class _DoNotCall:
    registry: Registry
    max_age: dt.timedelta | None
    exemptions: frozenset[str]
    code: str
    citation: str | None
    name: str

    def __call__(self, message: Message, context: Context) -> Decision:
        if message.purpose is not Purpose.MARKETING:
            return ALLOWED  # the registries bar solicitations only
        registry = self.registry
        number = context.recipient.e164
        try:
            if number is None:
                raise InvalidInputError(f"{context.recipient.address!r} is not a phone number")
            as_of = registry.as_of
            if (
                self.max_age is not None
                and as_of is not None
                and _call_date(context) - as_of > self.max_age
            ):
                return self._stale(registry.name, as_of)
            listed = registry.listed(number)
        except Exception as error:  # any failure of the source fails closed
            return deny(
                i18n.reason(
                    "dnc.unavailable",
                    self.name,
                    _UNAVAILABLE,
                    citation=self.citation,
                    registry=registry.name,
                    error=f"{type(error).__name__}: {error}",
                )
            )
        if not listed or self._exempt(message, context):
            return ALLOWED
        return deny(
            i18n.reason(
                self.code,
                self.name,
                _LISTED,
                citation=self.citation,
                registry=registry.name,
                as_of=as_of.isoformat() if as_of else "live",
            )
        )

    def _stale(self, name: str, as_of: dt.date) -> Decision:
        assert self.max_age is not None
        return deny(
            i18n.reason(
                "dnc.stale",
                self.name,
                _STALE,
                citation=self.citation,
                registry=name,
                as_of=as_of.isoformat(),
                max_days=self.max_age.days,
            )
        )

    def _exempt(self, message: Message, context: Context) -> bool:
        if not self.exemptions:
            return False
        ebr = "ebr" in self.exemptions
        written = "written_consent" in self.exemptions
        history = context.consent.events
        events = [
            e
            for e in history
            if (e.kind is not ConsentKind.IMPLIED or (ebr and e.basis in EBR_TERMS))
            and (
                e.kind is not ConsentKind.CONFIRMED
                or (written and written_consent_of(e, history) is not None)
            )
        ]
        if context.consent.broken is not None:
            return False  # a ledger that fails its check exempts nobody
        status = consent_status(
            events,
            topic=message.topic,
            purpose=Purpose.MARKETING,
            brand=message.brand,
            now=context.now,
            stop_scope="brand",  # a do-not-call request to the seller ends the relationship
            implied_terms=EBR_TERMS,
        ).status
        return status is ConsentStatus.EXPRESS or status is ConsentStatus.IMPLIED

    def __repr__(self) -> str:
        parts = [repr(self.registry)]
        if self.max_age != MAX_AGE:
            parts.append(f"max_age={self.max_age!r}")
        if self.exemptions != EXEMPTIONS:
            parts.append(f"exemptions={sorted(self.exemptions)!r}")
        return f"do_not_call({', '.join(parts)})"


def do_not_call(
    registry: Registry,
    *,
    max_age: dt.timedelta | None = MAX_AGE,
    exemptions: Collection[str] = EXEMPTIONS,
    code: str = "dnc.listed",
    citation: str | None = CITATION,
    name: str = "do_not_call",
) -> _DoNotCall:
    """Deny marketing to numbers on ``registry`` (47 CFR 64.1200(c)(2)).

    A copy older than ``max_age`` (31 days for the US national registry; None: no limit), in
    whole days to the latest date the instant has in UTC or in the recipient's zones, is
    DENY ``dnc.stale`` for every marketing message, listed or not; a registry whose ``as_of`` is
    None is read live and never stale. A registry that cannot be read is DENY
    ``dnc.unavailable``: both fail closed. A listed number is DENY ``dnc.listed`` unless an
    exemption holds, from the ledger: ``"ebr"``, an established business relationship with the
    brand (an ``implied`` event with basis purchase, 18 months, or inquiry, 3 months;
    64.1200(f)(5)), and ``"written_consent"``, a ``confirmed`` marketing consent for the topic
    evidenced by a signed, written agreement for the number
    (:class:`smspolicy.consent.WrittenConsent`, 64.1200(c)(2)(ii)). A revocation after either
    ends it. A sender's own do-not-call list takes ``exemptions=()``. Transactional messages
    are not solicitations and pass.
    """
    if max_age is not None and (not isinstance(max_age, dt.timedelta) or max_age.days < 0):
        raise ConfigurationError(f"max_age must be a non-negative timedelta, got {max_age!r}")
    # ``as_of`` may be read from a database: it is read when deciding, not here.
    if not callable(getattr(registry, "listed", None)) or not isinstance(
        getattr(registry, "name", None), str
    ):
        raise ConfigurationError(f"{registry!r} is not a registry (name and listed(number))")
    chosen = frozenset(exemptions)
    if not chosen <= EXEMPTIONS:
        raise ConfigurationError(
            f"unknown exemptions {sorted(chosen - EXEMPTIONS)}: choose from {sorted(EXEMPTIONS)}"
        )
    return _DoNotCall(registry, max_age, chosen, code, citation, name)
