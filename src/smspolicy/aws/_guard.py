"""What both guards share: regions, decisions from the request, settling what was sent, the
journal of what the store could not take at once, and validation."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from botocore import xform_name
from botocore.validate import ParamValidator

from .._engine import Engine
from .._recipients import normalise_email
from .._reserve import Reservation
from .._values import Channel, Decision, Message, Purpose, Reason, check_text, deny, to_enum
from ..errors import (
    ConfigurationError,
    InvalidAddressError,
    InvalidInputError,
    RequestValidationError,
)
from ..errors import ReservationExpiredError as _Expired
from ._delivery import Delivery, check_single_attempt
from ._hold import check_outbox, hold_key, hold_outcome, release_once
from ._journal import Journal, MemoryJournal
from ._outcomes import Outcome, OutcomeStatus, from_decision
from ._validate import validate_request

if TYPE_CHECKING:
    from ..outbox import Outbox, Release, Send

try:  # spans go through the OpenTelemetry API when it is installed (the otel extra)
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - the otel extra is not installed
    _trace = None  # type: ignore[assignment]

__all__ = ["Region"]

log = logging.getLogger("smspolicy.aws")

MESSAGE_TYPES = {"TRANSACTIONAL": Purpose.TRANSACTIONAL, "PROMOTIONAL": Purpose.MARKETING}
PURPOSE_TYPES = {purpose: name for name, purpose in MESSAGE_TYPES.items()}
CONTEXT_KEYS = frozenset({"topic", "brand", "purpose", "person", "content_key"})
DEFAULT_CONTEXT = frozenset({"topic", "person", "content_key"})
"""The Context entries read by default: event metadata never changes a brand or a purpose
unless the guard is told to read them. ``content_key`` names the content across channels (the
same key to one person by SMS and by email is one message for ``rules.dedupe``)."""


def email_key(address: str) -> str:
    """An email address as one key: the ledger's normal form (:func:`normalise_email`), so the
    guard and the ledger agree on what is one mailbox; text that is not one address is keyed
    as written (the engine denies it)."""
    try:
        return normalise_email(address)
    except InvalidAddressError:
        return address.strip()


def metadata() -> dict[str, Any]:
    """``ResponseMetadata`` for an answer the guard gave without asking AWS."""
    return {"RequestId": "", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}


def refusal(code: str, text: str, **data: object) -> Decision:
    """A DENY decided by the guard itself (not by the policy)."""
    return deny(Reason(code, "aws.guard", text, None, data))


@attrs.frozen
class Region:
    """A failover target: a client for another region, with that region's own Pinpoint
    application id and origination identity (each region has its own). ``origination`` is one
    identity, or a mapping ``(brand, purpose) -> identity``."""

    client: Any
    application_id: str | None = None
    origination: str | Mapping[tuple[str | None, Purpose | str], str] | None = None

    @property
    def name(self) -> str:
        """The client's region name."""
        return str(getattr(getattr(self.client, "meta", None), "region_name", "?"))

    def identity(self, brand: str | None, purpose: Purpose) -> str | None:
        """This region's origination identity for ``brand`` and ``purpose`` (None: none)."""
        if self.origination is None or isinstance(self.origination, str):
            return self.origination
        for (b, p), sender in self.origination.items():
            if b == brand and to_enum(Purpose, p, ConfigurationError) is purpose:
                return sender
        return None


_CHANNELS = {"SendTextMessage": "sms", "SendVoiceMessage": "voice", "SendEmail": "email"}


def _channels(operation: str, request: Mapping[str, Any]) -> list[str]:
    """The channels a request sends on: its addresses' ``ChannelType`` for SendMessages, the
    operation's own channel otherwise."""
    addresses = (request.get("MessageRequest") or {}).get("Addresses")
    if isinstance(addresses, Mapping):
        found = {
            str(item.get("ChannelType", "")).lower()
            for item in addresses.values()
            if isinstance(item, Mapping)
        }
        return sorted(found - {""})
    return [_CHANNELS.get(operation, operation)]


def _span_counts(response: Mapping[str, Any]) -> dict[str, int]:
    """A guard answer's outcomes counted by verdict (``smspolicy.verdict.*``, of the policy's
    decisions) and by outcome status (``smspolicy.outcome.*``, what the provider did)."""
    outcomes = response.get("Outcomes")
    found = list(outcomes.values()) if isinstance(outcomes, Mapping) else []
    if isinstance(response.get("Outcome"), Outcome):
        found.append(response["Outcome"])
    counts: dict[str, int] = {"smspolicy.guard.addresses": len(found)}
    for outcome in found:
        if not isinstance(outcome, Outcome):
            continue
        status = f"smspolicy.outcome.{outcome.status.value}"
        counts[status] = counts.get(status, 0) + 1
        if outcome.decision is not None:
            verdict = f"smspolicy.verdict.{outcome.decision.verdict.value}"
            counts[verdict] = counts.get(verdict, 0) + 1
    return counts


def traced(operation: str, method: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """``method`` (a guard's boto3-shaped call) in a span ``smspolicy.aws.<operation>`` with
    the channels, the outcomes counted by verdict and by provider outcome, and the error the
    call raised, if any. Without the OpenTelemetry API the method is returned as it is."""
    if _trace is None:  # pragma: no cover - the otel extra is not installed
        return method
    name = f"smspolicy.aws.{operation}"

    @functools.wraps(method)
    def call(self: GuardBase, **kwargs: Any) -> dict[str, Any]:
        tracer = _trace.get_tracer("smspolicy")
        with tracer.start_as_current_span(name) as span:
            span.set_attribute("smspolicy.guard.operation", operation)
            span.set_attribute("smspolicy.channels", _channels(operation, kwargs))
            try:
                response = method(self, **kwargs)
            except Exception as error:
                answered = getattr(error, "outcomes", None) or {}
                single = getattr(error, "outcome", None)
                counts = _span_counts({"Outcomes": answered, "Outcome": single})
                span.set_attributes({**counts, "smspolicy.guard.error": type(error).__name__})
                raise
            span.set_attributes(_span_counts(response))
            return response

    return call


class GuardBase:
    """Shared set-up and bookkeeping of the Pinpoint and End User Messaging guards.

    A subclass's call named after its ``OPERATION`` (``send_messages`` for SendMessages) runs
    in a span of its own (:func:`traced`).
    """

    OPERATION = ""
    """The botocore operation the guard wraps (its model validates every request)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        operation = cls.__dict__.get("OPERATION")
        method = cls.__dict__.get(xform_name(operation)) if operation else None
        if operation and callable(method):
            setattr(cls, xform_name(operation), traced(operation, method))

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
        journal: Journal | None = None,
        read_context: Collection[str] = DEFAULT_CONTEXT,
        attempts: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        outbox: Outbox | None = None,
    ) -> None:
        if not isinstance(engine, Engine):
            raise ConfigurationError(f"engine must be a smspolicy.Engine, got {engine!r}")
        if not isinstance(topic, str) or not topic:
            raise ConfigurationError("topic must be a non-empty string")
        for region in failover:
            if not isinstance(region, Region):
                raise ConfigurationError(f"failover takes Region values, got {region!r}")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigurationError(f"attempts must be a whole number from 1, got {attempts!r}")
        unknown = set(read_context) - CONTEXT_KEYS
        if isinstance(read_context, str) or unknown:
            raise ConfigurationError(
                f"read_context takes some of {sorted(CONTEXT_KEYS)}, got {read_context!r}"
            )
        if journal is not None and not isinstance(journal, Journal):
            raise ConfigurationError(f"journal must be a smspolicy.aws.Journal, got {journal!r}")
        self.client = client
        self.engine = engine
        self.topic = topic
        self.brand = brand
        self.purpose = None if purpose is None else to_enum(Purpose, purpose, ConfigurationError)
        self.regions = (Region(client), *failover)
        for index, region in enumerate(self.regions):
            check_single_attempt(region.client, "the client" if index == 0 else region.name)
        self.origination = {
            (b, to_enum(Purpose, p, ConfigurationError)): sender
            for (b, p), sender in (origination or {}).items()
        }
        self.journal: Journal = journal if journal is not None else MemoryJournal()
        self.read_context = frozenset(read_context)
        self.attempts = attempts
        self.sleep = sleep
        self.outbox = check_outbox(outbox)
        self.operation = client.meta.service_model.operation_model(self.OPERATION)
        self._spare = MemoryJournal()  # entries the journal itself failed to take
        self._unsettled: dict[str, Reservation] = {}

    # -- the request ---------------------------------------------------------------------------

    def validate(self, params: Mapping[str, Any]) -> None:
        """botocore's own parameter validation, then the service model's enums, patterns and
        sizes: raise :class:`RequestValidationError` before anything is held or sent."""
        report = ParamValidator().validate(params, self.operation.input_shape)
        if report.has_errors():
            problems = [line.strip() for line in report.generate_report().splitlines()]
            raise RequestValidationError(self.OPERATION, [p for p in problems if p])
        validate_request(self.operation, params)

    def purpose_for(self, message_type: str | None, context: Mapping[str, Any]) -> Purpose:
        """The purpose the request sends with: its ``MessageType`` decides; a guard purpose or a
        read Context purpose that says otherwise is a ConfigurationError; with neither, the
        guard's purpose, else marketing (the stricter reading)."""
        stated = [(f"purpose={self.purpose.value!r}", self.purpose)] if self.purpose else []
        if "purpose" in self.read_context and "purpose" in context:
            said = to_enum(Purpose, context["purpose"], ConfigurationError)
            stated.append((f"Context purpose {said.value!r}", said))
        if message_type is not None:
            purpose = MESSAGE_TYPES[message_type]
            for where, said in stated:
                if said is not purpose:
                    raise ConfigurationError(
                        f"MessageType={message_type!r} sends {purpose.value}, but {where} says "
                        f"{said.value}: the request's MessageType decides; make them agree"
                    )
            return purpose
        if len({said for _, said in stated}) > 1:
            raise ConfigurationError(f"the guard's purpose and the Context disagree: {stated}")
        return stated[0][1] if stated else Purpose.MARKETING

    def read(self, context: Mapping[str, Any], key: str, default: str | None) -> str | None:
        """A Context entry the guard was told to read, else ``default``."""
        if key in self.read_context and key in context:
            return str(context[key])
        return default

    def sender_for(self, given: str | None, brand: str | None, purpose: Purpose) -> str | None:
        """The origination identity: the request's own, else the dedicated one for the brand and
        purpose, if the guard was given a table."""
        return given or self.origination.get((brand, purpose))

    def message_for(
        self,
        address: str,
        channel: Channel,
        purpose: Purpose,
        body: str,
        brand: str | None,
        sender: str | None,
        context: Mapping[str, Any],
    ) -> Message:
        """The message one address receives, with the topic, person and content key the
        request's Context (or tags) give."""
        content_key = self.read(context, "content_key", None)
        return Message(
            address,
            self.read(context, "topic", self.topic) or self.topic,
            purpose,
            channel,
            body=body,
            brand=brand,
            sender=sender,
            person=self.read(context, "person", None),
            **({"content_key": content_key} if content_key else {}),
        )

    def normalise(self, address: str, channel: Channel) -> str:
        """The key under which two spellings of one address are the same."""
        if channel.is_phone:
            try:
                return self.engine.address_of(address)
            except InvalidInputError:
                return address.strip()
        if channel is Channel.EMAIL:
            return email_key(address)
        return address.strip()

    def _entry_key(self, address: str) -> str:
        if "@" in address:
            return email_key(address)
        try:
            return self.engine.address_of(address)
        except InvalidInputError:
            return address.strip()

    # -- the journal ---------------------------------------------------------------------------

    def _append(self, entry: Mapping[str, Any]) -> tuple[Journal, str]:
        try:
            return self.journal, self.journal.append(entry)
        except Exception as error:  # the journal failed: keep the entry in memory at least
            log.error("the guard's journal failed (%s); keeping the entry in memory", error)
            return self._spare, self._spare.append(entry)

    def pending(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Journal entries not yet written to the store (their numbers are denied)."""
        return [*self.journal.pending(), *self._spare.pending()]

    def blocked(self) -> set[str]:
        """The numbers denied ``store.unavailable`` until their journal entries are written."""
        return {self._entry_key(str(entry["number"])) for _id, entry in self.pending()}

    def replay(self) -> int:
        """Write the journal's entries to the store (each guard call does this first); return
        how many are still waiting."""
        for journal in (self.journal, self._spare):
            for entry_id, entry in journal.pending():
                try:
                    self._apply(entry_id, entry)
                    journal.done(entry_id)
                except Exception as error:  # the store is still down: try again next time
                    log.warning("journal entry %s not written yet: %s", entry_id, error)
        return len(self.pending())

    def _apply(self, entry_id: str, entry: Mapping[str, Any]) -> None:
        if entry["kind"] == "revoke":
            self.engine.consent.revoke(
                entry["number"],
                source=entry["source"],
                brand=entry.get("brand"),
                evidence={"provider": entry["source"], "journal": entry_id},
                channel=entry.get("channel"),
            )
            return
        provider_id = entry.get("provider_id")
        reservation = self._unsettled.get(entry_id)
        if reservation is not None:
            try:
                reservation.commit(provider_id)
            except _Expired:
                assert reservation.message is not None
                self.engine.record_sent(reservation.message, provider_id=provider_id)
        else:
            message = Message(
                entry["number"],
                entry["topic"],
                entry["purpose"],
                entry["channel"],
                brand=entry.get("brand"),
                sender=entry.get("sender"),
                person=entry.get("person"),
                content_key=entry["content_key"],
            )
            self.engine.record_sent(message, provider_id=provider_id)
        self._unsettled.pop(entry_id, None)

    def blocked_outcome(self, number: str) -> Outcome:
        """The outcome for a number whose send or opt-out is not in the store yet."""
        return from_decision(
            refusal(
                "store.unavailable",
                f"A send to or an opt-out of {number} is not in the store yet: the number is held "
                "until the guard's journal is written.",
                number=number,
            )
        )

    # -- settling ------------------------------------------------------------------------------

    def release(self, reservation: Reservation) -> None:
        """Give a hold back (nothing was sent); a failure leaves it to expire."""
        try:
            reservation.release()
        except Exception as error:
            log.warning("could not release %r (it expires by itself): %s", reservation, error)

    def record(self, reservation: Reservation, provider_id: str | None) -> str | None:
        """Count a send that went out or may have: commit the hold; after a late commit the
        policy refused, log the send anyway (it happened); when the store fails, keep it in the
        journal. Returns the store error, if any."""
        try:
            reservation.commit(provider_id)
            return None
        except _Expired:
            assert reservation.message is not None
            try:
                self.engine.record_sent(reservation.message, provider_id=provider_id)
                return None
            except Exception as error:
                return self._keep_send(reservation, provider_id, error)
        except Exception as error:
            return self._keep_send(reservation, provider_id, error)

    def _keep_send(
        self, reservation: Reservation, provider_id: str | None, error: Exception
    ) -> str:
        record = reservation.record
        assert record is not None
        journal, entry_id = self._append(
            {
                "kind": "send",
                "number": record.number,
                "topic": record.topic,
                "purpose": record.purpose.value,
                "channel": record.channel.value,
                "brand": record.brand,
                "sender": record.sender,
                "person": record.person,
                "content_key": record.content_key,
                "provider_id": provider_id,
                "at": self.engine.now().isoformat(),
            }
        )
        self._unsettled[entry_id] = reservation
        return f"{type(error).__name__}: {error} (kept in the journal {journal!r})"

    def opted_out(
        self,
        number: str,
        brand: str | None,
        source: str,
        reservation: Reservation | None = None,
        channel: Channel | None = None,
    ) -> str | None:
        """Make a provider opt-out durable before anything else: journal, then ledger, then
        give the hold back. Returns the store error, if the ledger could not be written (the
        number is then denied until it is). ``channel`` is the channel the address was sent
        on: a phone number's opt-out ends every channel of the number; a push token's or an
        email address's is recorded for its own channel (which is how the ledger reads it)."""
        scope = None if channel is None or channel.is_phone else channel
        journal, entry_id = self._append(
            {
                "kind": "revoke",
                "number": number,
                "brand": brand,
                "source": source,
                **({"channel": scope.value} if scope is not None else {}),
            }
        )
        store_error = None
        try:
            self.engine.consent.revoke(
                number, source=source, brand=brand, evidence={"provider": source}, channel=scope
            )
        except Exception as error:
            store_error = f"{type(error).__name__}: {error} (kept in the journal {journal!r})"
        else:
            try:
                journal.done(entry_id)
            except Exception as error:  # replayed later: a second revocation is harmless
                log.warning("journal entry %s not marked done: %s", entry_id, error)
        if reservation is not None:
            self.release(reservation)
        return store_error

    def settle(
        self,
        reservation: Reservation,
        delivery: Delivery,
        *,
        message_id: str | None,
        error: str | None,
        region: Region,
        source: str,
    ) -> Outcome:
        """The outcome of one held message after AWS answered (or failed to)."""
        record = reservation.record
        assert record is not None
        if delivery is Delivery.ACCEPTED or delivery is Delivery.UNKNOWN:
            # It went out, or may have: counted either way.
            status = OutcomeStatus.SENT if delivery is Delivery.ACCEPTED else OutcomeStatus.UNKNOWN
            store_error = self.record(reservation, message_id)
            error = None if delivery is Delivery.ACCEPTED else error
        elif delivery is Delivery.OPTED_OUT:
            status = OutcomeStatus.OPTED_OUT
            store_error = self.opted_out(
                record.number, record.brand, source, reservation, record.channel
            )
        else:
            self.release(reservation)
            return Outcome(
                OutcomeStatus.FAILED,
                delivery is Delivery.NOT_SENT_RETRYABLE,
                reservation.decision,
                message_id,
                error,
                region.name,
                record.sender,
            )
        return Outcome(
            status,
            False,
            reservation.decision,
            message_id,
            error,
            region.name,
            record.sender,
            store_error,
        )

    def backoff(self, attempt: int) -> None:
        """Wait before attempt ``attempt`` (from 1) in the same region."""
        self.sleep(min(0.05 * 2**attempt, 1.0))

    # -- the outbox ----------------------------------------------------------------------------

    def hold_or_refuse(
        self,
        message: Message,
        decision: Decision,
        payload: Mapping[str, Any],
        idempotency_key: str | None,
    ) -> Outcome:
        """The outcome of an address the policy did not allow: with an outbox, a DEFER is held
        there with ``payload`` (the request narrowed to this address), under a key derived from
        the call's idempotency key and the address."""
        key = hold_key(idempotency_key, self.normalise(message.address, message.channel))
        return hold_outcome(self.outbox, message, decision, payload, key)

    def release_sender(self) -> Send:
        """A ``send`` for ``Outbox.run`` / ``smspolicy worker --send``: sends each released
        message's held request through this guard's client, at most once (the hold's key is the
        idempotency key). The outbox has decided the message again and records the send; an
        answer proving nothing went out raises, so the outbox holds it again."""

        def send(release: Release) -> str | None:
            return release_once(self, release, self.resend, self.SOURCE)

        return send

    SOURCE = ""
    """The source of an opt-out this guard's provider reports."""

    def resend(self, payload: Mapping[str, Any]) -> tuple[Delivery, str | None, str]:
        """Send one held request (one address) from the first region, retrying only answers
        that prove nothing was sent; return what the last answer proves, the provider's
        message id and a description."""
        raise NotImplementedError

    # -- idempotency ---------------------------------------------------------------------------

    def recall(self, key: str | None) -> Mapping[str, Any] | None:
        """The answer kept for a repeated idempotency key."""
        if key is None:
            return None
        check_text(key, "idempotency_key")
        return self.journal.recall(key)

    def remember(self, key: str | None, answer: Mapping[str, Any]) -> None:
        """Keep an answer for ``key`` (best effort once the call has sent)."""
        if key is None:
            return
        try:
            self.journal.remember(key, answer)
        except Exception as error:
            log.error("could not keep the answer for idempotency key %r: %s", key, error)


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    """An outcome as JSON-compatible data (for the journal): :meth:`Outcome.to_dict`."""
    return outcome.to_dict()


def outcome_from(data: Mapping[str, Any]) -> Outcome:
    """An outcome kept by :func:`outcome_dict` (an entry written before decisions were kept
    comes back without its decision)."""
    return Outcome.from_dict(data)


UNFINISHED = Outcome(
    OutcomeStatus.UNKNOWN,
    False,
    error="an earlier call with this idempotency key did not finish: it may have sent",
)
