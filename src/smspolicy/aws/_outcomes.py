"""One outcome type for both AWS APIs, with retryable/final classification."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import attrs

from .. import _enum
from .._values import Decision, Reason, Verdict

__all__ = [
    "RETRYABLE_ERRORS",
    "RETRYABLE_STATUSES",
    "SAFE_TO_FAIL_OVER",
    "Outcome",
    "OutcomeStatus",
    "from_decision",
    "json_ready",
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

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-compatible data (instants in ISO 8601, enums by value), with the
        decision's verdict, deferral instant and reasons; :meth:`from_dict` reads it back."""
        decision = self.decision
        return {
            "status": self.status.value,
            "retryable": self.retryable,
            "may_have_delivered": self.may_have_delivered,
            "message_id": self.message_id,
            "error": self.error,
            "region": self.region,
            "sender": self.sender,
            "store_error": self.store_error,
            "hold_id": self.hold_id,
            "held_until": _instant(self.held_until),
            "codes": [] if decision is None else list(decision.codes),
            "decision": None if decision is None else _decision_dict(decision),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        """An outcome written by :meth:`to_dict`."""
        held_until = data.get("held_until")
        decision = data.get("decision")
        return cls(
            OutcomeStatus(data["status"]),
            bool(data["retryable"]),
            None if decision is None else _decision_from(decision),
            data.get("message_id"),
            data.get("error"),
            data.get("region"),
            data.get("sender"),
            data.get("store_error"),
            data.get("hold_id"),
            None if held_until is None else dt.datetime.fromisoformat(held_until),
        )


def _instant(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _plain(value: object) -> Any:
    """``value`` as JSON-compatible data (anything else by its text)."""
    return json.loads(json.dumps(value, default=_text))


def _text(value: object) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, _enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return {
        "verdict": decision.verdict.value,
        "until": _instant(decision.until),
        "zone": decision.zone,
        "reasons": [
            {
                "code": r.code,
                "rule": r.rule,
                "message": r.message,
                "citation": r.citation,
                "data": _plain(dict(r.data)),
            }
            for r in decision.reasons
        ],
    }


def _decision_from(data: Mapping[str, Any]) -> Decision:
    until = data.get("until")
    return Decision(
        Verdict(data["verdict"]),
        None if until is None else dt.datetime.fromisoformat(until),
        [
            Reason(r["code"], r["rule"], r["message"], r.get("citation"), r.get("data") or {})
            for r in data.get("reasons", ())
        ],
        data.get("zone"),
    )


def json_ready(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A guard's answer as data ``json.dumps`` takes: every :class:`Outcome` (``"Outcome"``,
    ``"Outcomes"``, and those attached to an error) as :meth:`Outcome.to_dict`, instants in
    ISO 8601, bytes as text."""

    def convert(value: object) -> Any:
        if isinstance(value, Outcome):
            return value.to_dict()
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return _text(value)

    result: dict[str, Any] = convert(answer)
    return result


def from_decision(decision: Decision) -> Outcome:
    """The outcome for an address the policy did not allow."""
    if decision.verdict is Verdict.DEFER:
        return Outcome(OutcomeStatus.DEFERRED, True, decision)
    if "number.invalid" in decision.codes:
        return Outcome(OutcomeStatus.INVALID, False, decision)
    retryable = "store.unavailable" in decision.codes or "lookup.unavailable" in decision.codes
    return Outcome(OutcomeStatus.DENIED, retryable, decision)
