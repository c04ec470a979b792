"""A guard around Amazon Pinpoint ``SendMessages``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .._reserve import Reservation
from .._values import Channel, Message
from ..errors import RequestValidationError
from ._guard import GuardBase, Region, error_code, failure, proves_nothing_sent
from ._outcomes import RETRYABLE_STATUSES, SAFE_TO_FAIL_OVER, Outcome, OutcomeStatus, from_decision
from ._validate import validate_request

__all__ = ["PinpointGuard"]

CHANNELS = {
    "SMS": Channel.SMS,
    "VOICE": Channel.VOICE,
    "EMAIL": Channel.EMAIL,
    "IN_APP": Channel.IN_APP,
    "PUSH": Channel.PUSH,
    "GCM": Channel.PUSH,
    "APNS": Channel.PUSH,
    "APNS_SANDBOX": Channel.PUSH,
    "APNS_VOIP": Channel.PUSH,
    "APNS_VOIP_SANDBOX": Channel.PUSH,
    "ADM": Channel.PUSH,
    "BAIDU": Channel.PUSH,
}


def _body(config: Mapping[str, Any], request: Mapping[str, Any], channel: Channel) -> str:
    if config.get("BodyOverride"):
        return str(config["BodyOverride"])
    messages = request.get("MessageConfiguration", {})
    section = {Channel.SMS: "SMSMessage", Channel.VOICE: "VoiceMessage"}.get(channel)
    if section and messages.get(section, {}).get("Body"):
        return str(messages[section]["Body"])
    return str(messages.get("DefaultMessage", {}).get("Body", ""))


class PinpointGuard(GuardBase):
    """Wraps ``client.send_messages``: each address is decided by the engine and only allowed
    addresses are forwarded.

    The response is boto3's, with ``MessageResponse.Result`` for forwarded addresses, plus
    ``"Outcomes"``: address -> :class:`Outcome`. Successful sends are recorded; a
    ``DeliveryStatus`` of ``OPT_OUT`` writes a revocation to the ledger. A throttled request is
    retried in the next ``failover`` region (with that region's application id and origination
    number); an address is never sent twice.
    """

    OPERATION = "SendMessages"

    def send_messages(
        self, *, ApplicationId: str, MessageRequest: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Decide every address, forward the allowed ones, report an outcome for each."""
        validate_request(
            self.operation, {"ApplicationId": ApplicationId, "MessageRequest": MessageRequest}
        )
        if MessageRequest.get("Endpoints"):
            raise RequestValidationError(
                "SendMessages",
                ["MessageRequest.Endpoints cannot be checked by policy: send to Addresses"],
            )
        outcomes: dict[str, Outcome] = {}
        held: dict[str, Reservation] = {}
        addresses = dict(MessageRequest.get("Addresses") or {})
        # Every message is built before anything is held, then the batch is reserved at once.
        messages = [self._message(a, config, MessageRequest) for a, config in addresses.items()]
        for address, reservation in zip(addresses, self.engine.reserve_many(messages), strict=True):
            if reservation.allowed:
                held[address] = reservation
            else:
                outcomes[address] = from_decision(reservation.decision)
        response: dict[str, Any] = {
            "MessageResponse": {"ApplicationId": ApplicationId, "Result": {}}
        }
        for index, region in enumerate(self.regions):
            if not held:
                break
            last = index == len(self.regions) - 1
            response = self._send(
                region, ApplicationId, MessageRequest, held, outcomes, last, response
            )
        return {**response, "Outcomes": outcomes}

    def _message(
        self, address: str, config: Mapping[str, Any], request: Mapping[str, Any]
    ) -> Message:
        context = {**(request.get("Context") or {}), **(config.get("Context") or {})}
        sms = request.get("MessageConfiguration", {}).get("SMSMessage", {})
        channel = CHANNELS.get(str(config.get("ChannelType", "SMS")), Channel.SMS)
        purpose = self.purpose_for(sms.get("MessageType"), context)
        brand = context.get("brand", self.brand)
        sender = sms.get("OriginationNumber") or sms.get("SenderId")
        return Message(
            address,
            context.get("topic", self.topic),
            purpose,
            channel,
            body=_body(config, request, channel),
            brand=brand,
            sender=self.sender_for(sender, brand, purpose) if channel.is_phone else sender,
            person=context.get("person"),
        )

    def _request(
        self,
        region: Region,
        request: Mapping[str, Any],
        addresses: list[str],
        held: Mapping[str, Reservation],
    ) -> dict[str, Any]:
        forwarded = copy.deepcopy(dict(request))
        forwarded["Addresses"] = {a: request["Addresses"][a] for a in addresses}
        sms = forwarded.setdefault("MessageConfiguration", {}).get("SMSMessage")
        first = held[addresses[0]].record
        if sms is not None and first is not None:
            chosen = region.origination or (first.sender if not sms.get("SenderId") else None)
            if chosen:
                sms["OriginationNumber"] = chosen
        return forwarded

    def _send(
        self,
        region: Region,
        application_id: str,
        request: Mapping[str, Any],
        held: dict[str, Reservation],
        outcomes: dict[str, Outcome],
        last: bool,
        response: dict[str, Any],
    ) -> dict[str, Any]:
        addresses = list(held)
        forwarded = self._request(region, request, addresses, held)
        try:
            answer = region.client.send_messages(
                ApplicationId=region.application_id or application_id, MessageRequest=forwarded
            )
        except (ClientError, BotoCoreError) as error:
            if error_code(error) in SAFE_TO_FAIL_OVER and not last:
                return response  # nothing was sent: the next region takes every address
            for address in addresses:
                reservation = held.pop(address)
                if proves_nothing_sent(error):
                    reservation.release()
                outcomes[address] = failure(error, region)
            return response
        results = answer.get("MessageResponse", {}).get("Result", {})
        merged = dict(answer)
        merged["MessageResponse"] = {
            **answer.get("MessageResponse", {}),
            "Result": {**response["MessageResponse"].get("Result", {}), **results},
        }
        for address in addresses:
            result = results.get(address, {})
            status = result.get("DeliveryStatus", "UNKNOWN_FAILURE")
            if status in SAFE_TO_FAIL_OVER and not last:
                merged["MessageResponse"]["Result"].pop(address, None)
                continue  # not sent here: try the next region
            reservation = held.pop(address)
            outcomes[address] = self._settle(reservation, status, result, region)
        return merged

    def _settle(
        self, reservation: Reservation, status: str, result: Mapping[str, Any], region: Region
    ) -> Outcome:
        message_id = result.get("MessageId")
        detail = f"{status}: {result.get('StatusMessage', '')}".strip(": ")
        if status == "SUCCESSFUL":
            reservation.commit(message_id)
            return Outcome(
                OutcomeStatus.SENT, False, reservation.decision, message_id, region=region.name
            )
        if status == "OPT_OUT":
            return self.opted_out(reservation, "pinpoint:OPT_OUT")
        if status in ("PERMANENT_FAILURE", "DUPLICATE", "THROTTLED"):
            reservation.release()
        return Outcome(
            OutcomeStatus.FAILED,
            status in RETRYABLE_STATUSES,
            reservation.decision,
            message_id,
            detail,
            region.name,
        )
