"""One outcome type for both AWS APIs, with retryable/final classification."""

from __future__ import annotations

import attrs

from .. import _enum
from .._values import Decision, Verdict

__all__ = ["RETRYABLE_ERRORS", "RETRYABLE_STATUSES", "Outcome", "OutcomeStatus", "from_decision"]


class OutcomeStatus(_enum.Enum):
    """What happened to one address."""

    SENT = "sent"
    OPTED_OUT = "opted_out"
    DEFERRED = "deferred"
    DENIED = "denied"
    INVALID = "invalid"
    FAILED = "failed"


RETRYABLE_STATUSES = frozenset({"THROTTLED", "TEMPORARY_FAILURE", "UNKNOWN_FAILURE"})
"""Pinpoint ``DeliveryStatus`` values worth retrying; PERMANENT_FAILURE, OPT_OUT and DUPLICATE
are final."""

RETRYABLE_ERRORS = frozenset(
    {
        "ThrottlingException",
        "InternalServerException",
        "TooManyRequestsException",
        "InternalServerErrorException",
        "ServiceQuotaExceededException",
        "RequestTimeout",
    }
)
"""Error codes worth retrying; Validation, Conflict, AccessDenied and ResourceNotFound are
final."""

SAFE_TO_FAIL_OVER = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceQuotaExceededException",
        "THROTTLED",
    }
)
"""Failures that prove nothing was sent, so another region may send without a double send."""


@attrs.frozen
class Outcome:
    """What the guard did with one address: sent (with the provider's message id), opted out,
    deferred or denied by policy (with the decision), invalid, or failed (with the error)."""

    status: OutcomeStatus
    retryable: bool
    decision: Decision | None = None
    message_id: str | None = None
    error: str | None = None
    region: str | None = None


def from_decision(decision: Decision) -> Outcome:
    """The outcome for an address the policy did not allow."""
    if decision.verdict is Verdict.DEFER:
        return Outcome(OutcomeStatus.DEFERRED, True, decision)
    if "number.invalid" in decision.codes:
        return Outcome(OutcomeStatus.INVALID, False, decision)
    retryable = "store.unavailable" in decision.codes or "lookup.unavailable" in decision.codes
    return Outcome(OutcomeStatus.DENIED, retryable, decision)
