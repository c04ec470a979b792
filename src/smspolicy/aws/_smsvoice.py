"""A guard around AWS End User Messaging SMS (``pinpoint-sms-voice-v2``) ``SendTextMessage``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from botocore.exceptions import ClientError

from .._reserve import Reservation
from .._values import Channel, Message
from ._delivery import Delivery, classify_error, error_code
from ._guard import (
    PURPOSE_TYPES,
    UNFINISHED,
    GuardBase,
    metadata,
    outcome_dict,
    outcome_from,
)
from ._hold import NotSent
from ._outcomes import Outcome, OutcomeStatus, from_decision

__all__ = ["SmsVoiceV2Guard"]

SOURCE = "sms-voice-v2:DESTINATION_PHONE_NUMBER_OPTED_OUT"


class SmsVoiceV2Guard(GuardBase):
    """Wraps ``client.send_text_message``: the destination is decided by the engine and the call
    is made only when allowed, at most once per region attempt that proves nothing was sent.

    The response is boto3's (``MessageId``, ``ResponseMetadata``) plus ``"Outcome"``. A
    ``ConflictException`` with reason ``DESTINATION_PHONE_NUMBER_OPTED_OUT`` becomes an
    opted-out outcome and a ledger revocation, not a crash; other AWS errors are raised as
    boto3 raised them, with ``error.outcome`` (and ``error.response["Outcome"]``) attached.
    Throttling fails over to the next region with that region's origination identity, checked by
    the policy; a message that may have been delivered is never sent again.
    """

    OPERATION = "SendTextMessage"
    SOURCE = SOURCE

    def send_text_message(
        self, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Decide, then send (or not), with boto3's own keyword arguments. A repeated
        ``idempotency_key`` returns the first call's outcome and sends nothing."""
        stored = self.recall(idempotency_key)
        if stored is not None:
            outcome = outcome_from(stored["outcome"]) if "outcome" in stored else UNFINISHED
            return {**stored.get("response", {}), "Outcome": outcome}
        self.validate(kwargs)
        self.replay()
        context = kwargs.get("Context") or {}
        purpose = self.purpose_for(kwargs.get("MessageType"), context)
        brand = self.read(context, "brand", self.brand)
        sender = self.sender_for(kwargs.get("OriginationIdentity"), brand, purpose)
        message = self.message_for(
            kwargs["DestinationPhoneNumber"],
            Channel.SMS,
            purpose,
            kwargs.get("MessageBody", ""),
            brand,
            sender,
            context,
        )
        request = {**kwargs, "MessageType": PURPOSE_TYPES[purpose]}
        if sender is not None:
            request["OriginationIdentity"] = sender
        if self.normalise(message.address, message.channel) in self.blocked():
            return {
                "ResponseMetadata": metadata(),
                "Outcome": self.blocked_outcome(message.address),
            }
        if kwargs.get("DryRun"):
            return self._dry_run(message, request)
        self.remember(idempotency_key, {"state": "started"})
        answer, outcome, error = self._send(message, request, idempotency_key)
        self.remember(
            idempotency_key,
            {"response": dict(answer.items()), "outcome": outcome_dict(outcome)},
        )
        if error is not None:
            error.outcome = outcome  # type: ignore[attr-defined]
            if isinstance(error, ClientError):
                error.response["Outcome"] = outcome  # type: ignore[typeddict-unknown-key]
            raise error
        return {**answer, "Outcome": outcome}

    def _dry_run(self, message: Message, request: dict[str, Any]) -> dict[str, Any]:
        decision = self.engine.evaluate(message)
        if not decision.allowed:
            return {"ResponseMetadata": metadata(), "Outcome": from_decision(decision)}
        region = self.regions[0]
        try:
            answer = region.client.send_text_message(**request)
        except Exception as error:
            delivery = classify_error(error)
            if delivery is Delivery.OPTED_OUT:  # what AWS says of the number is kept
                number = self.normalise(message.address, message.channel)
                store_error = self.opted_out(number, message.brand, SOURCE, channel=message.channel)
                outcome = Outcome(
                    OutcomeStatus.OPTED_OUT, False, decision, region=region.name,
                    sender=message.sender, store_error=store_error,
                )  # fmt: skip
                return {"ResponseMetadata": metadata(), "Outcome": outcome}
            outcome = Outcome(
                OutcomeStatus.FAILED,
                delivery is Delivery.NOT_SENT_RETRYABLE,
                decision,
                error=f"{error_code(error)}: {error}",
                region=region.name,
                sender=message.sender,
            )
            error.outcome = outcome  # type: ignore[attr-defined]
            raise
        outcome = Outcome(
            OutcomeStatus.DRY_RUN,
            False,
            decision,
            answer.get("MessageId"),
            region=region.name,
            sender=message.sender,
        )
        return {**answer, "Outcome": outcome}

    def _send(
        self, message: Message, request: dict[str, Any], idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], Outcome, Exception | None]:
        reservation: Reservation | None = self.engine.reserve(message)
        assert reservation is not None
        if not reservation.allowed:
            refused = self.hold_or_refuse(
                message, reservation.decision, {self.OPERATION: request}, idempotency_key
            )
            return {"ResponseMetadata": metadata()}, refused, None
        outcome: Outcome | None = None
        last: Exception | None = None
        try:
            for index, region in enumerate(self.regions):
                if index > 0:
                    record = reservation.record
                    assert record is not None
                    sender = region.identity(record.brand, record.purpose)
                    if sender is None and record.sender is not None:
                        continue  # no identity of its own here: never borrow another region's
                    if sender != record.sender:
                        self.release(reservation)
                        moved = self.engine.reserve(attrs.evolve(message, sender=sender))
                        if not moved.allowed:  # the policy refuses this region's identity
                            reservation = None
                            return (
                                {"ResponseMetadata": metadata()},
                                from_decision(moved.decision),
                                None,
                            )
                        reservation = moved
                for attempt in range(self.attempts):
                    if attempt:
                        self.backoff(attempt)
                    forwarded = dict(request)
                    record = reservation.record
                    assert record is not None
                    if record.sender is not None:
                        forwarded["OriginationIdentity"] = record.sender
                    try:
                        answer = region.client.send_text_message(**forwarded)
                    except BaseException as error:
                        if not isinstance(error, Exception):  # interrupted mid-request
                            self.record(reservation, None)
                            reservation = None
                            raise
                        delivery = classify_error(error)
                        last = error
                        outcome = Outcome(
                            OutcomeStatus.FAILED,
                            True,
                            reservation.decision,
                            error=f"{error_code(error)}: {error}",
                            region=region.name,
                            sender=record.sender,
                        )
                        if delivery is Delivery.NOT_SENT_RETRYABLE:
                            continue
                        outcome = self.settle(
                            reservation,
                            delivery,
                            message_id=None,
                            error=outcome.error,
                            region=region,
                            source=SOURCE,
                        )
                        reservation = None
                        meta: Any = metadata()
                        if isinstance(error, ClientError):
                            meta = error.response.get("ResponseMetadata", meta)
                        if delivery is Delivery.OPTED_OUT:
                            return {"ResponseMetadata": meta}, outcome, None
                        return {"ResponseMetadata": meta}, outcome, error
                    outcome = self.settle(
                        reservation,
                        Delivery.ACCEPTED,
                        message_id=answer.get("MessageId"),
                        error=None,
                        region=region,
                        source=SOURCE,
                    )
                    reservation = None
                    return answer, outcome, None
        finally:
            if reservation is not None:  # no request that may have delivered: give it back
                self.release(reservation)
        assert outcome is not None
        assert last is not None
        return {"ResponseMetadata": metadata()}, outcome, last

    def resend(self, payload: Mapping[str, Any]) -> tuple[Delivery, str | None, str]:
        """Send a held ``SendTextMessage`` request once from the first region (retrying only
        answers that prove nothing was sent, ``attempts`` times)."""
        request = payload.get(self.OPERATION)
        if not isinstance(request, Mapping):
            raise NotSent(f"the held payload has no {self.OPERATION} request: {payload!r}")
        region = self.regions[0]
        delivery, text = Delivery.NOT_SENT_RETRYABLE, ""
        for attempt in range(self.attempts):
            if attempt:
                self.backoff(attempt)
            try:
                answer = region.client.send_text_message(**request)
            except Exception as error:
                delivery, text = classify_error(error), f"{error_code(error)}: {error}"
                if delivery is Delivery.NOT_SENT_RETRYABLE:
                    continue
                return delivery, None, text
            return Delivery.ACCEPTED, answer.get("MessageId"), "accepted"
        return delivery, None, text
