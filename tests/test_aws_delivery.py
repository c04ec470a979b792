"""What each AWS answer proves about delivery, on hand-made errors and statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from smspolicy import Reason, defer, deny
from smspolicy.aws import OutcomeStatus
from smspolicy.aws._delivery import (
    Delivery,
    classify_error,
    classify_status,
    error_code,
    error_reason,
    http_status,
)
from smspolicy.aws._outcomes import from_decision


def client_error(code: str | None, status: int | None, **top: Any) -> ClientError:
    response: dict[str, Any] = {"Error": {"Message": "m"}, **top}
    if code is not None:
        response["Error"]["Code"] = code
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "SendTextMessage")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "delivery"),
    [
        (client_error("ThrottlingException", 400), Delivery.NOT_SENT_RETRYABLE),
        (client_error("TooManyRequestsException", 429), Delivery.NOT_SENT_RETRYABLE),
        (client_error("ServiceQuotaExceededException", 402), Delivery.NOT_SENT_RETRYABLE),
        (client_error("SomethingElse", 429), Delivery.NOT_SENT_RETRYABLE),
        (client_error("SomethingElse", 430), Delivery.NOT_SENT),
        (client_error("ValidationException", 400), Delivery.NOT_SENT),
        (client_error("AccessDeniedException", 499), Delivery.NOT_SENT),
        (client_error("ThrottlingException", 500), Delivery.UNKNOWN),
        (client_error("InternalServerException", 500), Delivery.UNKNOWN),
        (client_error("ServiceUnavailable", 503), Delivery.UNKNOWN),
        (client_error("ThrottlingException", None), Delivery.UNKNOWN),
        (
            client_error("ConflictException", 400, Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT"),
            Delivery.OPTED_OUT,
        ),
        (client_error("ConflictException", 409, Reason="KEYWORD_MISMATCH"), Delivery.NOT_SENT),
        (
            client_error("OtherException", 400, Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT"),
            Delivery.NOT_SENT,
        ),
        (ReadTimeoutError(endpoint_url="u"), Delivery.UNKNOWN),
        (ConnectionClosedError(endpoint_url="u"), Delivery.UNKNOWN),
        (ConnectTimeoutError(endpoint_url="u"), Delivery.NOT_SENT_RETRYABLE),
        (EndpointConnectionError(endpoint_url="u"), Delivery.NOT_SENT_RETRYABLE),
        (NoCredentialsError(), Delivery.NOT_SENT),
        (ParamValidationError(report="bad"), Delivery.NOT_SENT),
        (RuntimeError("boom"), Delivery.UNKNOWN),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_classify_error(error: Exception, delivery: Delivery) -> None:
    """Below 500 is a refusal (throttling retryable, an opted-out conflict an opt-out); a 5xx,
    no status, a timeout after sending or an unknown failure may have delivered; a connection
    never made or an error before sending sent nothing."""
    assert classify_error(error) is delivery


def test_reason_inside_the_error_member() -> None:
    """The opt-out reason is also found inside the Error member."""
    error = client_error("ConflictException", 400)
    error.response["Error"]["Reason"] = "DESTINATION_PHONE_NUMBER_OPTED_OUT"  # type: ignore[typeddict-unknown-key]
    assert error_reason(error) == "DESTINATION_PHONE_NUMBER_OPTED_OUT"
    assert classify_error(error) is Delivery.OPTED_OUT
    assert error_reason(client_error("X", 400)) is None
    assert error_reason(ValueError()) is None
    bare = ClientError({}, "SendTextMessage")  # type: ignore[typeddict-item]
    assert error_reason(bare) is None


def test_error_code_and_status() -> None:
    """The AWS code, or "ClientError" without one, or the exception's name; the HTTP status
    when it is a whole number."""
    assert error_code(client_error("ThrottlingException", 400)) == "ThrottlingException"
    assert error_code(client_error(None, 400)) == "ClientError"
    assert error_code(ClientError({}, "Op")) == "ClientError"  # type: ignore[typeddict-item]
    assert error_code(ReadTimeoutError(endpoint_url="u")) == "ReadTimeoutError"
    assert http_status(client_error("X", 418)) == 418
    assert http_status(ClientError({}, "Op")) is None  # type: ignore[typeddict-item]
    odd = ClientError({"ResponseMetadata": {"HTTPStatusCode": "500"}}, "Op")  # type: ignore[typeddict-item]
    assert http_status(odd) is None
    assert classify_error(odd) is Delivery.UNKNOWN
    assert http_status(ValueError()) is None


@pytest.mark.parametrize(
    ("status", "delivery"),
    [
        ("SUCCESSFUL", Delivery.ACCEPTED),
        ("THROTTLED", Delivery.NOT_SENT_RETRYABLE),
        ("PERMANENT_FAILURE", Delivery.NOT_SENT),
        ("DUPLICATE", Delivery.NOT_SENT),
        ("OPT_OUT", Delivery.OPTED_OUT),
        ("TEMPORARY_FAILURE", Delivery.UNKNOWN),
        ("UNKNOWN_FAILURE", Delivery.UNKNOWN),
        (None, Delivery.UNKNOWN),
        ("SOMETHING_NEW", Delivery.UNKNOWN),
    ],
)
def test_classify_status(status: str | None, delivery: Delivery) -> None:
    """Pinpoint statuses: only THROTTLED, PERMANENT_FAILURE and DUPLICATE prove non-delivery."""
    assert classify_status(status) is delivery


def reason(code: str) -> Reason:
    return Reason(code, "r", "m")


@pytest.mark.parametrize(
    ("decision", "status", "retryable"),
    [
        (deny(reason("number.invalid")), OutcomeStatus.INVALID, False),
        (deny(reason("consent.missing")), OutcomeStatus.DENIED, False),
        (deny(reason("store.unavailable")), OutcomeStatus.DENIED, True),
        (deny(reason("lookup.unavailable")), OutcomeStatus.DENIED, True),
        (deny(reason("consent.missing"), reason("lookup.unavailable")), OutcomeStatus.DENIED, True),
        (
            defer(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), reason("hours.outside_window")),
            OutcomeStatus.DEFERRED,
            True,
        ),
    ],
    ids=["invalid", "denied", "store", "lookup", "mixed", "deferred"],
)
def test_from_decision(decision: Any, status: OutcomeStatus, retryable: bool) -> None:
    """A policy refusal's outcome: invalid numbers and denials are final, except when a store
    or lookup failed; deferrals are retryable."""
    outcome = from_decision(decision)
    assert (outcome.status, outcome.retryable, outcome.decision) == (status, retryable, decision)
    assert not outcome.may_have_delivered
