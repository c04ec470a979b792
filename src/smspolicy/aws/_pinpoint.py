"""A guard around Amazon Pinpoint ``SendMessages``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs
from botocore.exceptions import ClientError

from .._engine import Engine
from .._reserve import Reservation
from .._values import Channel, Message, Purpose
from ..errors import ConfigurationError, RequestValidationError
from ._content import PinpointTemplates, TemplateSource, UnknownContent, body_for
from ._delivery import Delivery, classify_error, classify_status, error_code, http_status
from ._guard import (
    PURPOSE_TYPES,
    UNFINISHED,
    GuardBase,
    Region,
    metadata,
    outcome_dict,
    outcome_from,
    refusal,
)
from ._hold import NotSent
from ._outcomes import Outcome, OutcomeStatus, from_decision

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
"""Pinpoint channel types and the channel each is decided as; others (``CUSTOM``, none) are
denied ``channel.unsupported``."""

SOURCE = "pinpoint:OPT_OUT"


@attrs.define
class _Address:
    """One address of the request as it moves through the guard."""

    key: str
    config: Mapping[str, Any]
    message: Message | None = None
    reservation: Reservation | None = None
    outcome: Outcome | None = None
    result: Mapping[str, Any] | None = None
    raised: Exception | None = None


def _blocked_result(outcome: Outcome) -> dict[str, Any]:
    """The documented ``MessageResult`` of an address the guard did not forward."""
    codes = ", ".join(outcome.decision.codes) if outcome.decision is not None else ""
    if outcome.status is OutcomeStatus.DEFERRED:
        assert outcome.decision is not None
        assert outcome.decision.until is not None
        until = outcome.decision.until.isoformat()
        held = ""
        if outcome.hold_id is not None:
            assert outcome.held_until is not None
            held = f" (held {outcome.hold_id} until {outcome.held_until.isoformat()})"
        return {
            "DeliveryStatus": "THROTTLED",
            "StatusCode": 429,
            "StatusMessage": f"smspolicy deferred until {until}: {codes}{held}",
        }
    if "address.duplicate" in codes:
        return {
            "DeliveryStatus": "DUPLICATE",
            "StatusCode": 400,
            "StatusMessage": f"smspolicy: {codes}",
        }
    if outcome.retryable:
        return {
            "DeliveryStatus": "THROTTLED",
            "StatusCode": 503,
            "StatusMessage": f"smspolicy {outcome.status.value}: {codes}",
        }
    status = 400 if outcome.status is OutcomeStatus.INVALID else 403
    return {
        "DeliveryStatus": "PERMANENT_FAILURE",
        "StatusCode": status,
        "StatusMessage": f"smspolicy {outcome.status.value}: {codes}",
    }


def _raised_result(outcome: Outcome, error: Exception) -> dict[str, Any]:
    """The ``MessageResult`` of an address whose request raised."""
    if outcome.status is OutcomeStatus.UNKNOWN:
        delivery = "UNKNOWN_FAILURE"
    elif outcome.retryable:
        delivery = "THROTTLED"
    else:
        delivery = "PERMANENT_FAILURE"
    return {
        "DeliveryStatus": delivery,
        "StatusCode": http_status(error) or 0,
        "StatusMessage": f"smspolicy {outcome.status.value}: {outcome.error}",
    }


def _origination(request: Mapping[str, Any], channel: Channel) -> str | None:
    """The origination identity the request gives for a phone channel."""
    config = request.get("MessageConfiguration") or {}
    if channel is Channel.VOICE:
        return (config.get("VoiceMessage") or {}).get("OriginationNumber") or None
    sms = config.get("SMSMessage") or {}
    return sms.get("OriginationNumber") or sms.get("SenderId") or None


@attrs.define
class _Identities:
    """What one forwarded request is sent with: the purpose (SMS ``MessageType``) and the SMS
    and voice origination identities (None: the request's own)."""

    purpose: Purpose
    sms: str | None = None
    voice: str | None = None
    slots: set[str] = attrs.field(factory=set)

    @classmethod
    def of(cls, message: Message) -> _Identities:
        """The identities one message needs."""
        found = cls(message.purpose)
        found.take(message.channel, message.sender)
        return found

    def take(self, channel: Channel, sender: str | None) -> bool:
        """Add what a message on ``channel`` from ``sender`` needs; False when this request
        already goes out with another identity for that channel."""
        slot = {Channel.SMS: "sms", Channel.VOICE: "voice"}.get(channel)
        if slot is None:
            return True
        if slot in self.slots:
            return bool(getattr(self, slot) == sender)
        self.slots.add(slot)
        setattr(self, slot, sender)
        return True


def _groups(entries: list[_Address]) -> list[tuple[_Identities, list[_Address]]]:
    """The held addresses in as few requests as their purposes and identities allow."""
    groups: list[tuple[_Identities, list[_Address]]] = []
    for entry in entries:
        record = entry.reservation.record if entry.reservation else None
        assert record is not None
        for identities, group in groups:
            if identities.purpose is record.purpose and identities.take(
                record.channel, record.sender
            ):
                group.append(entry)
                break
        else:
            identities = _Identities(record.purpose)
            identities.take(record.channel, record.sender)
            groups.append((identities, [entry]))
    return groups


class PinpointGuard(GuardBase):
    """Wraps ``client.send_messages``: each address is decided by the engine on the text it
    would receive, and only allowed addresses are forwarded, one request per origination
    identity.

    The response is boto3's, with every address of the request in ``MessageResponse.Result``
    (those not forwarded with the documented ``DeliveryStatus``, ``StatusCode`` and the
    reason codes in ``StatusMessage``) and ``ResponseMetadata``, plus ``"Outcomes"``: address
    -> :class:`Outcome`. Sends are recorded; a ``DeliveryStatus`` of ``OPT_OUT`` writes a
    revocation to the ledger. A request or an address refused for throttling is retried
    (``attempts``) and then failed over to the next region, with that region's own application
    id and origination identity, checked by the policy; an address that may have been delivered
    is never sent again. AWS errors are raised as boto3 raised them, with ``error.outcomes``
    (and ``error.response["Outcomes"]``) attached.

    ``templates`` resolves ``TemplateConfiguration`` (default: ``GetSmsTemplate`` through the
    client, cached for five minutes). ``blocked_in_result=False`` leaves ``MessageResponse.Result``
    with AWS's own entries only (the addresses AWS answered for); every address is still in
    ``"Outcomes"``.
    """

    OPERATION = "SendMessages"
    SOURCE = SOURCE

    def __init__(
        self,
        client: Any,
        engine: Engine,
        *,
        topic: str,
        templates: TemplateSource | None = None,
        blocked_in_result: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(client, engine, topic=topic, **options)
        if not isinstance(blocked_in_result, bool):
            raise ConfigurationError(
                f"blocked_in_result must be True or False, got {blocked_in_result!r}"
            )
        self.templates = templates if templates is not None else PinpointTemplates(client)
        self.blocked_in_result = blocked_in_result

    def send_messages(
        self,
        *,
        ApplicationId: str,
        MessageRequest: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Decide every address, forward the allowed ones, report an outcome for each. A
        repeated ``idempotency_key`` returns the first call's outcomes and sends nothing."""
        stored = self.recall(idempotency_key)
        if stored is not None:
            return self._repeat(stored)
        self.validate({"ApplicationId": ApplicationId, "MessageRequest": MessageRequest})
        if MessageRequest.get("Endpoints"):
            raise RequestValidationError(
                "SendMessages",
                ["MessageRequest.Endpoints cannot be checked by policy: send to Addresses"],
            )
        self.replay()
        entries = self._prepare(MessageRequest)
        self.remember(idempotency_key, {"state": "started", "addresses": [e.key for e in entries]})
        first: dict[str, Any] = {}
        try:
            self._reserve(entries)
            self._hold(ApplicationId, MessageRequest, entries, idempotency_key)
            self._deliver(ApplicationId, MessageRequest, entries, first)
        finally:
            for entry in entries:  # a path that sent nothing gives its hold back
                if entry.reservation is not None:
                    self.release(entry.reservation)
                    entry.reservation = None
        response = self._response(ApplicationId, entries, first)
        self.remember(
            idempotency_key,
            {
                "response": {k: v for k, v in response.items() if k != "Outcomes"},
                "outcomes": {a: outcome_dict(o) for a, o in response["Outcomes"].items()},
            },
        )
        raised = [e.raised for e in entries if e.raised is not None]
        if raised:
            error = raised[-1]
            error.outcomes = response["Outcomes"]  # type: ignore[attr-defined]
            if isinstance(error, ClientError):
                error.response["Outcomes"] = response["Outcomes"]  # type: ignore[typeddict-unknown-key]
            raise error
        return response

    def _repeat(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        if "outcomes" in stored:
            outcomes = {a: outcome_from(o) for a, o in stored["outcomes"].items()}
            return {**copy.deepcopy(dict(stored["response"])), "Outcomes": outcomes}
        return {
            "MessageResponse": {"Result": {}},
            "ResponseMetadata": metadata(),
            "Outcomes": dict.fromkeys(stored.get("addresses", []), UNFINISHED),
        }

    # -- deciding ------------------------------------------------------------------------------

    def _prepare(self, request: Mapping[str, Any]) -> list[_Address]:
        """Every address with its message, or with the guard's own refusal. Raises (before
        anything is held) when an address makes no valid message."""
        blocked = self.blocked()
        seen: dict[str, str] = {}
        entries: list[_Address] = []
        sms = (request.get("MessageConfiguration") or {}).get("SMSMessage") or {}
        for key, config in (request.get("Addresses") or {}).items():
            entry = _Address(key, config)
            entries.append(entry)
            channel = CHANNELS.get(str(config.get("ChannelType")))
            if channel is None:
                entry.outcome = from_decision(
                    refusal(
                        "channel.unsupported",
                        f"ChannelType {config.get('ChannelType')!r} cannot be decided by policy.",
                        channel_type=str(config.get("ChannelType")),
                    )
                )
                continue
            context = {**(request.get("Context") or {}), **(config.get("Context") or {})}
            message_type = sms.get("MessageType") if channel is Channel.SMS else None
            purpose = self.purpose_for(message_type, context)
            brand = self.read(context, "brand", self.brand)
            sender = (
                self.sender_for(_origination(request, channel), brand, purpose)
                if channel.is_phone
                else None
            )
            unknown: UnknownContent | None = None
            try:
                body = body_for(config, request, channel, self.templates)
            except UnknownContent as why:
                body, unknown = "", why
            message = self.message_for(key, channel, purpose, body, brand, sender, context)
            normal = self.normalise(key, channel)
            first = seen.setdefault(f"{channel.value}:{normal}", key)
            if first != key:
                entry.outcome = from_decision(
                    refusal(
                        "address.duplicate",
                        f"{key} is {first} written another way: it is sent once.",
                        first=first,
                    )
                )
                continue
            if normal in blocked:
                entry.outcome = self.blocked_outcome(normal)
            elif unknown is not None:
                refused = from_decision(
                    refusal(
                        "content.unknown",
                        f"The text sent to {key} cannot be known ({unknown}), so it is not sent.",
                        detail=str(unknown),
                    )
                )
                entry.outcome = attrs.evolve(refused, retryable=unknown.transient)
            else:
                entry.message = message
        return entries

    def _reserve(self, entries: list[_Address]) -> None:
        wanted = [e for e in entries if e.message is not None and e.outcome is None]
        reservations = self.engine.reserve_many([e.message for e in wanted if e.message])
        for entry, reservation in zip(wanted, reservations, strict=True):
            if reservation.allowed:
                entry.reservation = reservation
            else:
                entry.outcome = from_decision(reservation.decision)

    def _hold(
        self,
        application_id: str,
        request: Mapping[str, Any],
        entries: list[_Address],
        idempotency_key: str | None,
    ) -> None:
        """With an outbox, hold each deferred address with the request narrowed to it."""
        if self.outbox is None:
            return
        for entry in entries:
            outcome, message = entry.outcome, entry.message
            if outcome is None or message is None or outcome.status is not OutcomeStatus.DEFERRED:
                continue
            assert outcome.decision is not None
            narrowed = self._forward(request, [entry], _Identities.of(message))
            payload = {
                self.OPERATION: {"ApplicationId": application_id, "MessageRequest": narrowed}
            }
            entry.outcome = self.hold_or_refuse(message, outcome.decision, payload, idempotency_key)

    def resend(self, payload: Mapping[str, Any]) -> tuple[Delivery, str | None, str]:
        """Send a held one-address ``SendMessages`` request once from the first region (retrying
        only answers that prove nothing was sent, ``attempts`` times)."""
        held = payload.get(self.OPERATION)
        request = held.get("MessageRequest") if isinstance(held, Mapping) else None
        addresses = request.get("Addresses") if isinstance(request, Mapping) else None
        if (
            not isinstance(held, Mapping)
            or not isinstance(addresses, Mapping)
            or len(addresses) != 1
        ):
            raise NotSent(f"the held payload is not a one-address {self.OPERATION}: {payload!r}")
        (address,) = addresses
        region = self.regions[0]
        delivery, text = Delivery.NOT_SENT_RETRYABLE, ""
        for attempt in range(self.attempts):
            if attempt:
                self.backoff(attempt)
            try:
                answer = region.client.send_messages(
                    ApplicationId=held["ApplicationId"], MessageRequest=request
                )
            except Exception as error:
                delivery, text = classify_error(error), f"{error_code(error)}: {error}"
                if delivery is Delivery.OPTED_OUT:  # not an answer SendMessages gives
                    delivery = Delivery.NOT_SENT
            else:
                results = (answer.get("MessageResponse") or {}).get("Result") or {}
                result = results.get(address) or {}
                delivery = classify_status(result.get("DeliveryStatus"))
                status = result.get("DeliveryStatus", "no result for this address")
                text = f"{status}: {result.get('StatusMessage', '')}".rstrip(": ")
                if delivery in (Delivery.ACCEPTED, Delivery.UNKNOWN):
                    return delivery, result.get("MessageId"), text
            if delivery is not Delivery.NOT_SENT_RETRYABLE:
                return delivery, None, text
        return delivery, None, text

    # -- sending -------------------------------------------------------------------------------

    def _deliver(
        self,
        application_id: str,
        request: Mapping[str, Any],
        entries: list[_Address],
        first: dict[str, Any],
    ) -> None:
        pending = [e for e in entries if e.reservation is not None]
        for index, region in enumerate(self.regions):
            here, waiting = self._move(region, pending) if index > 0 else (pending, [])
            for attempt in range(self.attempts):
                if not here:
                    break
                if attempt:
                    self.backoff(attempt)
                here = self._attempt(region, application_id, request, here, first)
            pending = here + waiting
        for entry in pending:  # every region refused them without sending: nothing went out
            assert entry.reservation is not None
            assert entry.outcome is not None
            self.release(entry.reservation)
            entry.reservation = None

    def _attempt(
        self,
        region: Region,
        application_id: str,
        request: Mapping[str, Any],
        pending: list[_Address],
        first: dict[str, Any],
    ) -> list[_Address]:
        """One request per origination identity and purpose; returns the addresses refused
        in a way that proves they were not sent (to try again)."""
        again: list[_Address] = []
        for identities, group in _groups(pending):
            forwarded = self._forward(request, group, identities)
            try:
                answer = region.client.send_messages(
                    ApplicationId=region.application_id or application_id,
                    MessageRequest=forwarded,
                )
            except BaseException as error:
                if not isinstance(error, Exception):  # interrupted mid-request: it may have sent
                    for entry in group:
                        assert entry.reservation is not None
                        self.record(entry.reservation, None)
                        entry.reservation = None
                    raise
                delivery = classify_error(error)
                if delivery is Delivery.OPTED_OUT:  # not an answer SendMessages gives
                    delivery = Delivery.NOT_SENT
                for entry in group:
                    self._settle(entry, delivery, {}, region, error)
                    if entry.reservation is not None:
                        again.append(entry)
                continue
            first.setdefault("answer", answer)
            results = (answer.get("MessageResponse") or {}).get("Result") or {}
            for entry in group:
                result = results.get(entry.key) or {}
                self._settle(entry, classify_status(result.get("DeliveryStatus")), result, region)
                if entry.reservation is not None:
                    again.append(entry)
        return again

    def _settle(
        self,
        entry: _Address,
        delivery: Delivery,
        result: Mapping[str, Any],
        region: Region,
        error: Exception | None = None,
    ) -> None:
        """Settle one address; one refused for throttling keeps its hold for another try."""
        reservation = entry.reservation
        assert reservation is not None
        assert reservation.record is not None
        sender = reservation.record.sender
        if error is not None:
            text = f"{error_code(error)}: {error}"
        else:
            status = result.get("DeliveryStatus", "no result for this address")
            text = f"{status}: {result.get('StatusMessage', '')}".rstrip(": ")
        entry.raised = error
        entry.result = None if error is not None else dict(result)
        if delivery is Delivery.NOT_SENT_RETRYABLE:
            entry.outcome = Outcome(
                OutcomeStatus.FAILED, True, reservation.decision, None, text, region.name, sender
            )
            return
        entry.reservation = None
        entry.outcome = self.settle(
            reservation,
            delivery,
            message_id=result.get("MessageId"),
            error=None if delivery is Delivery.ACCEPTED else text,
            region=region,
            source=SOURCE,
        )

    def _forward(
        self, request: Mapping[str, Any], group: list[_Address], identities: _Identities
    ) -> dict[str, Any]:
        forwarded = copy.deepcopy(dict(request))
        forwarded["Addresses"] = {e.key: request["Addresses"][e.key] for e in group}
        channels = {e.message.channel for e in group if e.message is not None}
        config = forwarded.setdefault("MessageConfiguration", {})
        if Channel.VOICE in channels and identities.voice is not None:
            config.setdefault("VoiceMessage", {})["OriginationNumber"] = identities.voice
        if Channel.SMS not in channels:
            return forwarded
        sender, purpose = identities.sms, identities.purpose
        sms = config.setdefault("SMSMessage", {})
        sms["MessageType"] = PURPOSE_TYPES[purpose]
        if sender is not None and sender not in (sms.get("OriginationNumber"), sms.get("SenderId")):
            if sms.get("SenderId") and not sms.get("OriginationNumber"):
                sms["SenderId"] = sender
            else:
                sms["OriginationNumber"] = sender
        return forwarded

    def _move(
        self, region: Region, pending: list[_Address]
    ) -> tuple[list[_Address], list[_Address]]:
        """Hold the pending addresses again with ``region``'s own identity, decided by the
        policy. Returns those that may be sent there, and those the region has no identity for
        (still held, for a later region); the policy's refusals get their outcome."""
        here: list[_Address] = []
        waiting: list[_Address] = []
        moving: list[tuple[_Address, Message]] = []
        for entry in pending:
            assert entry.reservation is not None
            assert entry.message is not None
            record = entry.reservation.record
            assert record is not None
            sender = region.identity(record.brand, record.purpose)
            if sender == record.sender:
                here.append(entry)
            elif sender is None:
                waiting.append(entry)
            else:
                self.release(entry.reservation)
                entry.reservation = None
                moving.append((entry, attrs.evolve(entry.message, sender=sender)))
        if moving:
            reservations = self.engine.reserve_many([m for _, m in moving])
            for (entry, message), reservation in zip(moving, reservations, strict=True):
                entry.message = message
                if reservation.allowed:
                    entry.reservation = reservation
                    here.append(entry)
                else:
                    entry.outcome = from_decision(reservation.decision)
                    entry.result = None
                    entry.raised = None
        return here, waiting

    # -- answering -----------------------------------------------------------------------------

    def _response(
        self, application_id: str, entries: list[_Address], first: Mapping[str, Any]
    ) -> dict[str, Any]:
        answer = first.get("answer") or {}
        results: dict[str, Any] = {}
        outcomes: dict[str, Outcome] = {}
        for entry in entries:
            assert entry.outcome is not None
            outcomes[entry.key] = entry.outcome
            if entry.result:
                results[entry.key] = entry.result
            elif not self.blocked_in_result:
                continue  # only AWS's own entries
            elif entry.raised is not None:
                results[entry.key] = _raised_result(entry.outcome, entry.raised)
            else:
                results[entry.key] = _blocked_result(entry.outcome)
        message_response = {**(answer.get("MessageResponse") or {}), "Result": results}
        message_response["ApplicationId"] = application_id
        return {
            "MessageResponse": message_response,
            "ResponseMetadata": answer.get("ResponseMetadata") or metadata(),
            "Outcomes": outcomes,
        }
