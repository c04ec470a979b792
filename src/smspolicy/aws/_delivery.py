"""What an answer from AWS proves about delivery, and clients that make one attempt.

botocore's own retries resend a request after a read timeout or a 5xx, answers that do not
prove the first request was not delivered; the guards therefore send through clients that make
exactly one attempt and retry only on answers that prove nothing went out.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
)

from .. import _enum
from ..errors import ConfigurationError
from ._outcomes import RETRYABLE_ERRORS, RETRYABLE_STATUSES

__all__ = [
    "OPTED_OUT_REASON",
    "Delivery",
    "check_single_attempt",
    "classify_error",
    "classify_status",
    "error_code",
    "single_attempt",
]

OPTED_OUT_REASON = "DESTINATION_PHONE_NUMBER_OPTED_OUT"
"""The ``ConflictException`` reason of End User Messaging for an opted-out destination."""

DEFAULT_ATTEMPTS = {"legacy": 5, "standard": 3, "adaptive": 3}
"""botocore's attempts per call by retry mode when ``total_max_attempts`` is not set."""


class Delivery(_enum.Enum):
    """What one answer proves about one message."""

    ACCEPTED = "accepted"
    NOT_SENT_RETRYABLE = "not_sent_retryable"
    NOT_SENT = "not_sent"
    OPTED_OUT = "opted_out"
    UNKNOWN = "unknown"


def error_code(error: BaseException) -> str:
    """The AWS error code of a failed call ("ThrottlingException"...), or the exception name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def error_reason(error: BaseException) -> str | None:
    """The ``Reason`` member of an AWS error, if it has one."""
    if isinstance(error, ClientError):
        reason = error.response.get("Reason") or error.response.get("Error", {}).get("Reason")
        return None if reason is None else str(reason)
    return None


def http_status(error: BaseException) -> int | None:
    """The HTTP status of an AWS error answer (None when there was no answer)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


def classify_error(error: BaseException) -> Delivery:
    """What a call that raised ``error`` proves: an answer below 500 was a refusal (throttling
    may be retried; a refusal for an opted-out destination is an opt-out); a connection that was
    never made, or an error raised before sending, sent nothing; anything else (a 5xx, a read
    timeout, a connection closed after the request went out) may have delivered."""
    if isinstance(error, ClientError):
        status = http_status(error)
        if status is None or status >= 500:
            return Delivery.UNKNOWN
        if error_code(error) == "ConflictException" and error_reason(error) == OPTED_OUT_REASON:
            return Delivery.OPTED_OUT
        if error_code(error) in RETRYABLE_ERRORS or status == 429:
            return Delivery.NOT_SENT_RETRYABLE
        return Delivery.NOT_SENT
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return Delivery.NOT_SENT_RETRYABLE
    if isinstance(error, NoCredentialsError | ParamValidationError):
        return Delivery.NOT_SENT
    return Delivery.UNKNOWN


def classify_status(status: object) -> Delivery:
    """What a Pinpoint ``DeliveryStatus`` proves about its address."""
    if status == "SUCCESSFUL":
        return Delivery.ACCEPTED
    if status in RETRYABLE_STATUSES:
        return Delivery.NOT_SENT_RETRYABLE
    if status in ("PERMANENT_FAILURE", "DUPLICATE"):
        return Delivery.NOT_SENT
    if status == "OPT_OUT":
        return Delivery.OPTED_OUT
    return Delivery.UNKNOWN  # TEMPORARY_FAILURE (Pinpoint retries), UNKNOWN_FAILURE, missing


def attempts_of(client: Any) -> int:
    """How many attempts botocore makes per call with ``client``."""
    retries = dict(getattr(getattr(client.meta, "config", None), "retries", None) or {})
    total = retries.get("total_max_attempts")
    if isinstance(total, int):
        return total
    return DEFAULT_ATTEMPTS.get(str(retries.get("mode", "legacy")), 5)


def check_single_attempt(client: Any, name: str) -> None:
    """Refuse a client whose calls botocore may resend on its own."""
    attempts = attempts_of(client)
    if attempts != 1:
        raise ConfigurationError(
            f"{name} makes up to {attempts} attempts per call: botocore would resend after a "
            "timeout or a 5xx, which may deliver the same message twice. The guard owns "
            "retries: create the client with config=smspolicy.aws.single_attempt() (or "
            "botocore.config.Config(retries={'total_max_attempts': 1}))"
        )


def single_attempt(config: Config | None = None) -> Config:
    """``config`` (or a default botocore ``Config``) with one attempt per call, for the clients
    given to the guards."""
    base = config if config is not None else Config()
    mode = dict(getattr(base, "retries", None) or {}).get("mode", "standard")
    merged: Config = base.merge(Config(retries={"total_max_attempts": 1, "mode": mode}))
    return merged
