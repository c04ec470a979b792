"""Reassigned numbers: consent given years ago may now belong to someone else's number. The
FCC's Reassigned Numbers Database answers, for a number and a date, whether the number was
permanently disconnected since; a caller who checks it and is told "no" has a safe harbor
(47 CFR 64.1200(m))."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Literal

import attrs

from .. import _enum, i18n
from .._context import Context
from .._records import ConsentEvent
from .._time import to_local, zone
from .._values import ALLOWED, Decision, Message, Purpose, Reason, allow, deny, to_enum
from ..consent import ALLOWING, Ledger, consent_status
from ..errors import ConfigurationError, InvalidInputError
from ..store import LookupCache

__all__ = ["Reassignment", "mark_reassigned", "reassigned_numbers"]

log = logging.getLogger("smspolicy")

CITATION = "47 CFR 64.1200(m)"


class Reassignment(_enum.Enum):
    """The database's answer for a number and a date."""

    REASSIGNED = "reassigned"
    """Permanently disconnected since the date: the consent was given for someone else."""
    NOT_REASSIGNED = "not_reassigned"
    NO_DATA = "no_data"


ReassignedLookup = Callable[[str, dt.date], "Reassignment | str"]
"""Asks the database about an E.164 number since a date (e.g. a client of the FCC's API)."""

OnReassigned = Callable[[str, ConsentEvent], None]
"""Called once per fresh "reassigned" answer with the number and the consent it ends."""

_REASSIGNED = i18n.register_template(
    "consent.reassigned",
    "the Reassigned Numbers Database reports the number disconnected since the consent of "
    "{since}: it may belong to someone else now",
)
_UNAVAILABLE = i18n.register_template(
    "consent.reassigned_unavailable",
    "the Reassigned Numbers Database could not be asked about the consent of {since} ({error})",
)
_NO_DATA = i18n.register_template(
    "consent.reassigned_no_data",
    "the Reassigned Numbers Database has no data for the number since {since}: no safe harbor",
)


def _consent_date(at: dt.datetime, zones: tuple[str, ...]) -> dt.date:
    """The date to ask about: the earliest calendar date the consent's instant has in UTC or in
    the recipient's zones (a later one would miss a disconnection on the consent's own day)."""
    return min([at.astimezone(dt.UTC).date(), *(to_local(at, zone(name)).date() for name in zones)])


@attrs.frozen(repr=False)
class _ReassignedNumbers:
    lookup: ReassignedLookup = attrs.field(eq=False)
    min_age: dt.timedelta
    cache: LookupCache | None = attrs.field(eq=False)
    ttl: dt.timedelta
    on_reassigned: OnReassigned | None = attrs.field(eq=False)
    on_no_data: Literal["allow", "deny"]
    name: str

    def __call__(self, message: Message, context: Context) -> Decision:
        number = context.recipient.e164
        if number is None:
            return ALLOWED  # not a phone number: valid_number decides
        detail = consent_status(
            context.consent.events,
            topic=message.topic,
            purpose=message.purpose,
            brand=message.brand,
            now=context.now,
        )
        event = detail.event
        if detail.status not in ALLOWING or event is None:
            return ALLOWED  # no consent to doubt: the consent rules decide
        if context.now - event.at < self.min_age:
            return ALLOWED
        since = _consent_date(event.at, context.recipient.zones)
        key = f"smspolicy:rnd:{number}:{since.isoformat()}"
        try:
            answer, fresh = self._answer(key, number, since, context.now)
        except Exception as error:  # any failure of the lookup fails closed for marketing
            reason = self._reason(
                "consent.reassigned_unavailable",
                _UNAVAILABLE,
                since,
                error=f"{type(error).__name__}: {error}",
            )
            return deny(reason) if message.purpose is Purpose.MARKETING else allow(reason)
        if answer is Reassignment.NOT_REASSIGNED:
            return ALLOWED
        if answer is Reassignment.NO_DATA:
            reason = self._reason("consent.reassigned_no_data", _NO_DATA, since)
            return deny(reason) if self.on_no_data == "deny" else allow(reason)
        if fresh and self.on_reassigned is not None:
            try:
                self.on_reassigned(number, event)
            except Exception:  # the DENY stands; the ledger note can be written again later
                log.exception("recording the reassignment of %s failed", number)
        return deny(self._reason("consent.reassigned", _REASSIGNED, since))

    def _answer(
        self, key: str, number: str, since: dt.date, now: dt.datetime
    ) -> tuple[Reassignment, bool]:
        if self.cache is not None:
            try:
                cached = self.cache.cache_get(key, now=now)
            except Exception:  # a cache that fails is a miss
                cached = None
            if cached is not None:
                return to_enum(Reassignment, cached, InvalidInputError), False
        answer = to_enum(Reassignment, self.lookup(number, since), InvalidInputError)
        if self.cache is not None:
            try:
                self.cache.cache_put(key, answer.value, expires=now + self.ttl)
            except Exception:  # the answer stands without the cache
                log.warning("could not cache the reassigned-number answer for %s", number)
        return answer, True

    def _reason(self, code: str, template: str, since: dt.date, **data: object) -> Reason:
        return i18n.reason(
            code, self.name, template, citation=CITATION, since=since.isoformat(), **data
        )

    def __repr__(self) -> str:
        return f"reassigned_numbers({self.lookup!r}, min_age={self.min_age!r})"


def mark_reassigned(
    ledger: Ledger, *, source: str = "fcc:reassigned-numbers-database"
) -> OnReassigned:
    """A callback for ``on_reassigned`` that records, in ``ledger`` (``engine.consent``), a
    revocation of everything from the consent's brand, with the database as its source and the
    consent it ends as evidence: the consent is stale, with provenance."""

    def record(number: str, event: ConsentEvent) -> None:
        ledger.revoke(
            number,
            source=source,
            brand=event.brand,
            evidence={
                "reason": "reassigned",
                "consent": event.hash,
                "since": event.at.date().isoformat(),
            },
        )

    return record


def reassigned_numbers(
    lookup: ReassignedLookup,
    *,
    min_age: dt.timedelta = dt.timedelta(days=90),
    cache: LookupCache | None = None,
    ttl: dt.timedelta = dt.timedelta(days=1),
    on_reassigned: OnReassigned | None = None,
    on_no_data: Literal["allow", "deny"] = "allow",
    name: str = "reassigned_numbers",
) -> _ReassignedNumbers:
    """For consent older than ``min_age``, ask ``lookup`` (the Reassigned Numbers Database)
    whether the number was disconnected since the consent's date (47 CFR 64.1200(m)): the
    earliest date the consent's instant has in UTC or in the recipient's zones.

    "reassigned" is DENY ``consent.reassigned`` (and ``on_reassigned`` is told, e.g.
    :func:`mark_reassigned` to revoke the consent in the ledger); "not_reassigned" allows (the
    safe harbor); "no_data" allows with the reason attached (``on_no_data="deny"`` denies). A
    lookup that fails is DENY ``consent.reassigned_unavailable`` for marketing (fail closed)
    and an attached reason otherwise. Answers are kept in ``cache`` (the store) for ``ttl``."""
    for label, value in (("min_age", min_age), ("ttl", ttl)):
        if not isinstance(value, dt.timedelta) or value < dt.timedelta(0):
            raise ConfigurationError(f"{label} must be a non-negative timedelta, got {value!r}")
    if not callable(lookup):
        raise ConfigurationError(f"lookup must be callable, got {lookup!r}")
    if on_no_data not in ("allow", "deny"):
        raise ConfigurationError(f"on_no_data must be 'allow' or 'deny', got {on_no_data!r}")
    if cache is not None and not isinstance(cache, LookupCache):
        raise ConfigurationError(f"cache must have cache_get and cache_put, got {cache!r}")
    return _ReassignedNumbers(lookup, min_age, cache, ttl, on_reassigned, on_no_data, name)
