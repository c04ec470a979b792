"""One outcome type for both AWS APIs, with retryable/final classification."""

from __future__ import annotations

import datetime as dt

import attrs

from .. import _enum
from .._values import Decision, Verdict

__all__ = [
    "RETRYABLE_ERRORS",
    "RETRYABLE_STATUSES",
    "SAFE_TO_FAIL_OVER",
    "Outcome",
    "OutcomeStatus",
    "from_decision",
]


class OutcomeStatus(_enum.Enum):
    """What happened to one address."""

    SENT = "sent"
    OPTED_OUT = "opted_out"
    DEFERRED = "deferred"
    DENIED = "denied"
    INVALID = "invalid"
    FAILED = "failed"
    """Not delivered: AWS's answer proves the message did not go out."""
    UNKNOWN = "unknown"
    """Possibly delivered (a timeout, a connection lost after sending, a 5xx): the send counts
    for caps and dedupe and must not be sent again."""
    DRY_RUN = "dry_run"
    """Decided and checked by AWS with ``DryRun``; nothing was sent or recorded."""


RETRYABLE_STATUSES = frozenset({"THROTTLED"})
"""Pinpoint ``DeliveryStatus`` values that prove the address was not sent and may be sent
again. ``TEMPORARY_FAILURE`` (Pinpoint retries it itself) and ``UNKNOWN_FAILURE`` may deliver,
so they are ``unknown``; ``PERMANENT_FAILURE``, ``OPT_OUT`` and ``DUPLICATE`` are final."""

RETRYABLE_ERRORS = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceQuotaExceededException",
    }
)
"""Error codes (with an HTTP status below 500) that prove nothing was sent, so the request may
be retried or failed over; any 5xx may have delivered and is never retried."""

SAFE_TO_FAIL_OVER = RETRYABLE_ERRORS | RETRYABLE_STATUSES
"""Answers that prove nothing was sent, so another attempt or region may send it once."""


@attrs.frozen
class Outcome:
    """What the guard did with one address: sent (with the provider's message id), possibly
    delivered (``unknown``), opted out, deferred or denied by policy (with the decision), invalid,
    failed without delivery (with the error), or checked with ``DryRun``.

    ``sender`` is the origination identity the request went out from; ``store_error`` says that
    the send or the opt-out could not be written to the store at once (it is kept in the guard's
    journal and written later; until then the address is denied ``store.unavailable``).
    A ``deferred`` address held in the guard's outbox has the hold's id (``hold_id``) and the
    instant it is released at (``held_until``)."""

    status: OutcomeStatus
    retryable: bool
    decision: Decision | None = None
    message_id: str | None = None
    error: str | None = None
    region: str | None = None
    sender: str | None = None
    store_error: str | None = None
    hold_id: str | None = None
    held_until: dt.datetime | None = None

    @property
    def may_have_delivered(self) -> bool:
        """True when the message may have reached the recipient (``sent`` or ``unknown``)."""
        return self.status in (OutcomeStatus.SENT, OutcomeStatus.UNKNOWN)


def from_decision(decision: Decision) -> Outcome:
    """The outcome for an address the policy did not allow."""
    if decision.verdict is Verdict.DEFER:
        return Outcome(OutcomeStatus.DEFERRED, True, decision)
    if "number.invalid" in decision.codes:
        return Outcome(OutcomeStatus.INVALID, False, decision)
    retryable = "store.unavailable" in decision.codes or "lookup.unavailable" in decision.codes
    return Outcome(OutcomeStatus.DENIED, retryable, decision)
