"""Written-consent evidence: US marketing needs prior express *written* consent, and the sender
must be able to show the signed agreement (47 CFR 64.1200(a)(2), (f)(9))."""

from __future__ import annotations

from typing import Literal

import attrs

from .. import i18n
from .._context import Context
from .._records import ConsentEvent
from .._values import ALLOWED, Decision, Message, Purpose, allow, deny
from ..consent import ConsentStatus, written_consent_of
from ..errors import ConfigurationError
from ._consent import consent

__all__ = ["written_consent_evidence"]

CITATION = "47 CFR 64.1200(a)(2), (f)(9)"

_MISSING = i18n.register_template(
    "consent.written_evidence_missing",
    "the consent of {at} for topic {topic} has no written-consent evidence on record (a signed "
    "agreement with the disclosure shown and the number)",
)


_GRANT = consent(stop_scope="topic")
"""The fold that finds the grant in effect for the message's topic, purpose, brand and
channel (a revocation of the topic ends it): the same memo entry as any rule that folds the
same way (``us.fcc.revocation``), so a decision folds the ledger once for both."""

_PROVEN = object()  # the key of proven events in the decider's memo


@attrs.frozen(repr=False)
class _WrittenConsentEvidence:
    on_missing: Literal["deny", "warn"]
    code: str
    citation: str | None
    name: str

    def fold_timed(self) -> bool:
        """True: the instant counts only through the fold of the grant in effect (whether the
        grant carries evidence does not depend on it)."""
        return True

    def __call__(self, message: Message, context: Context) -> Decision:
        if message.purpose is not Purpose.MARKETING:
            return ALLOWED
        detail = _GRANT.status(message, context)
        event = detail.event
        if detail.status is not ConsentStatus.EXPRESS or event is None:
            return ALLOWED  # no express consent: the consent rules say so
        if context.consent.broken is None and _proven(event, context):
            return ALLOWED
        reason = i18n.reason(
            self.code,
            self.name,
            _MISSING,
            citation=self.citation,
            at=event.at.isoformat(),
            topic=message.topic,
        )
        return deny(reason) if self.on_missing == "deny" else allow(reason)

    def __repr__(self) -> str:
        if self.on_missing == "deny":
            return f"{self.name}()"
        return f"{self.name}(on_missing={self.on_missing!r})"


def _proven(event: ConsentEvent, context: Context) -> bool:
    """Whether ``event`` carries (or its double opt-in request carries) written consent.
    Proven events are remembered by their hash across decisions (what an event's hash covers
    cannot change without breaking the chain, which is checked first, and a proof, once the
    request it names is on record, stays); an event not proven is read again each time, since
    the request it names may be recorded later."""
    key = (_PROVEN, event.number, event.hash)  # asked only of an intact chain: hashed events
    if context.shared.peek(key) is not None:
        return True
    if written_consent_of(event, context.consent.events) is None:
        return False
    context.shared.put(key, True)
    return True


def written_consent_evidence(
    *,
    on_missing: Literal["deny", "warn"] = "deny",
    code: str = "consent.written_evidence_missing",
    citation: str | None = CITATION,
    name: str = "written_consent_evidence",
) -> _WrittenConsentEvidence:
    """Require, for marketing, that the express consent in effect carries written-consent
    evidence (:class:`smspolicy.consent.WrittenConsent`: the signature record, the disclosure
    shown and the number), its own or that of the double opt-in request its YES answered.

    Without it the message is denied, or, with ``on_missing="warn"`` (for senders who keep the
    evidence elsewhere), allowed with the reason attached. Messages without express consent
    are left to the consent rules."""
    if on_missing not in ("deny", "warn"):
        raise ConfigurationError(f"on_missing must be 'deny' or 'warn', got {on_missing!r}")
    return _WrittenConsentEvidence(on_missing, code, citation, name)
