"""What both guards share: regions, message building, settling reservations."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from botocore.exceptions import BotoCoreError, ClientError

from .._engine import Engine
from .._reserve import Reservation
from .._values import Purpose, to_enum
from ..errors import ConfigurationError
from ._outcomes import RETRYABLE_ERRORS, SAFE_TO_FAIL_OVER, Outcome, OutcomeStatus

__all__ = ["Region"]

log = logging.getLogger("smspolicy.aws")

MESSAGE_TYPES = {"TRANSACTIONAL": Purpose.TRANSACTIONAL, "PROMOTIONAL": Purpose.MARKETING}


@attrs.frozen
class Region:
    """A failover target: a client for another region, with that region's own Pinpoint
    application id and origination identity (each region has its own)."""

    client: Any
    application_id: str | None = None
    origination: str | None = None

    @property
    def name(self) -> str:
        """The client's region name."""
        return str(getattr(getattr(self.client, "meta", None), "region_name", "?"))


def error_code(error: Exception) -> str:
    """The AWS error code of a failed call ("ThrottlingException"...), or the exception name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def failure(error: Exception, region: Region) -> Outcome:
    """The outcome of a call that raised."""
    code = error_code(error)
    retryable = code in RETRYABLE_ERRORS or isinstance(error, BotoCoreError)
    return Outcome(OutcomeStatus.FAILED, retryable, error=f"{code}: {error}", region=region.name)


def proves_nothing_sent(error: Exception) -> bool:
    """True when the error shows the request was refused before any message went out."""
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
        return status < 500 or error_code(error) in SAFE_TO_FAIL_OVER
    return False


class GuardBase:
    """Shared set-up of the Pinpoint and End User Messaging guards."""

    OPERATION = ""
    """The botocore operation the guard wraps (its model validates every request)."""

    def __init__(
        self,
        client: Any,
        engine: Engine,
        *,
        topic: str,
        brand: str | None = None,
        purpose: Purpose | str | None = None,
        failover: Sequence[Region] = (),
        origination: Mapping[tuple[str | None, Purpose | str], str] | None = None,
    ) -> None:
        if not isinstance(engine, Engine):
            raise ConfigurationError(f"engine must be a smspolicy.Engine, got {engine!r}")
        if not isinstance(topic, str) or not topic:
            raise ConfigurationError("topic must be a non-empty string")
        for region in failover:
            if not isinstance(region, Region):
                raise ConfigurationError(f"failover takes Region values, got {region!r}")
        self.client = client
        self.engine = engine
        self.topic = topic
        self.brand = brand
        self.purpose = None if purpose is None else to_enum(Purpose, purpose, ConfigurationError)
        self.regions = (Region(client), *failover)
        self.origination = {
            (b, to_enum(Purpose, p, ConfigurationError)): sender
            for (b, p), sender in (origination or {}).items()
        }
        self.operation = client.meta.service_model.operation_model(self.OPERATION)

    def purpose_for(self, message_type: str | None, context: Mapping[str, str]) -> Purpose:
        """The purpose from the guard, the request's MessageType or its Context; marketing when
        nothing says (the stricter reading)."""
        if self.purpose is not None:
            return self.purpose
        if message_type in MESSAGE_TYPES:
            return MESSAGE_TYPES[message_type]
        if "purpose" in context:
            return to_enum(Purpose, context["purpose"], ConfigurationError)
        return Purpose.MARKETING

    def sender_for(self, given: str | None, brand: str | None, purpose: Purpose) -> str | None:
        """The origination identity: the request's own, else the dedicated one for the brand and
        purpose, if the guard was given a table."""
        return given or self.origination.get((brand, purpose))

    def opted_out(self, reservation: Reservation, source: str) -> Outcome:
        """Release the slot and record the revocation the provider reported."""
        reservation.release()
        assert reservation.record is not None
        self.engine.consent.revoke(
            reservation.record.number,
            source=source,
            brand=reservation.record.brand,
            evidence={"provider": source},
        )
        return Outcome(OutcomeStatus.OPTED_OUT, False, reservation.decision)
