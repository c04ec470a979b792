"""A guard around AWS End User Messaging SMS (``pinpoint-sms-voice-v2``) ``SendTextMessage``."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .._values import Message
from ._guard import GuardBase, error_code, failure, proves_nothing_sent
from ._outcomes import SAFE_TO_FAIL_OVER, Outcome, OutcomeStatus, from_decision
from ._validate import validate_request

__all__ = ["SmsVoiceV2Guard"]

OPTED_OUT = "DESTINATION_PHONE_NUMBER_OPTED_OUT"


class SmsVoiceV2Guard(GuardBase):
    """Wraps ``client.send_text_message``: the destination is decided by the engine and the call
    is made only when allowed.

    The response is boto3's (``MessageId``...) plus ``"Outcome"``. A ``ConflictException`` with
    reason ``DESTINATION_PHONE_NUMBER_OPTED_OUT`` becomes an opted-out outcome and a ledger
    revocation, not a crash. Throttling fails over to the next region with that region's
    origination identity; a message is never sent twice.
    """

    OPERATION = "SendTextMessage"

    def send_text_message(self, **kwargs: Any) -> dict[str, Any]:
        """Decide, then send (or not), with boto3's own keyword arguments."""
        validate_request(self.operation, kwargs)
        context = kwargs.get("Context") or {}
        purpose = self.purpose_for(kwargs.get("MessageType"), context)
        brand = context.get("brand", self.brand)
        sender = self.sender_for(kwargs.get("OriginationIdentity"), brand, purpose)
        message = Message(
            kwargs["DestinationPhoneNumber"],
            context.get("topic", self.topic),
            purpose,
            body=kwargs.get("MessageBody", ""),
            brand=brand,
            sender=sender,
            person=context.get("person"),
        )
        reservation = self.engine.reserve(message)
        if not reservation.allowed:
            return {"Outcome": from_decision(reservation.decision)}
        request = dict(kwargs)
        if sender and "OriginationIdentity" not in request:
            request["OriginationIdentity"] = sender
        for index, region in enumerate(self.regions):
            if region.origination:
                request["OriginationIdentity"] = region.origination
            try:
                answer = region.client.send_text_message(**request)
            except (ClientError, BotoCoreError) as error:
                code = error_code(error)
                if code in SAFE_TO_FAIL_OVER and index < len(self.regions) - 1:
                    continue
                if code == "ConflictException" and _reason(error) == OPTED_OUT:
                    return {"Outcome": self.opted_out(reservation, f"sms-voice-v2:{OPTED_OUT}")}
                if proves_nothing_sent(error):
                    reservation.release()
                return {"Outcome": failure(error, region)}
            reservation.commit(answer.get("MessageId"))
            outcome = Outcome(
                OutcomeStatus.SENT,
                False,
                reservation.decision,
                answer.get("MessageId"),
                region=region.name,
            )
            return {**answer, "Outcome": outcome}
        raise AssertionError("unreachable: the last region always returns")  # pragma: no cover


def _reason(error: Exception) -> str | None:
    if isinstance(error, ClientError):
        reason = error.response.get("Reason") or error.response.get("Error", {}).get("Reason")
        return str(reason) if reason is not None else None
    return None
