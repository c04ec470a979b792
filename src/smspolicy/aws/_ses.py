"""A guard around Amazon SES v2 ``SendEmail``."""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from botocore.exceptions import ClientError

from .._clock import Clock, SystemClock
from .._engine import Engine
from .._reserve import Reservation
from .._values import Channel, Message
from ..errors import RequestValidationError
from ._content import UnknownContent
from ._delivery import Delivery, classify_error, error_code
from ._email import email_text, header_pairs, mime_text
from ._guard import (
    UNFINISHED,
    GuardBase,
    Region,
    email_key,
    metadata,
    outcome_dict,
    outcome_from,
    refusal,
)
from ._hold import NotSent
from ._outcomes import Outcome, OutcomeStatus, from_decision

__all__ = ["EmailTemplate", "SesTemplates", "SesV2Guard"]

SOURCE = "sesv2"
"""SES v2 reports no opt-out on ``SendEmail`` (its suppression list drops the message
silently); the name tags what this guard writes."""

FIELDS = {"To": "ToAddresses", "Cc": "CcAddresses", "Bcc": "BccAddresses"}
"""The MIME header of each ``Destination`` list."""

_VARIABLE = re.compile(r"\{\{\{?\s*([^{}]*?)\s*\}?\}\}")
"""A Handlebars expression as SES renders it: ``{{name}}``, ``{{{name}}}``, ``{{a.b}}``."""


@attrs.frozen
class EmailTemplate:
    """A stored SES email template's subject, text part and HTML part."""

    subject: str = ""
    text: str = ""
    html: str = ""


class SesTemplates:
    """The template source of :class:`SesV2Guard`: SES v2 ``GetEmailTemplate`` on the client,
    each answer cached for ``ttl``. Any callable ``name -> EmailTemplate`` will do."""

    def __init__(
        self,
        client: Any,
        *,
        ttl: dt.timedelta = dt.timedelta(minutes=5),
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock or SystemClock()
        self._cache: dict[str, tuple[dt.datetime, EmailTemplate]] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str) -> EmailTemplate:
        """The template ``name``; raises on an AWS error."""
        now = self.clock.now()
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and now < cached[0]:
            return cached[1]
        content = self.client.get_email_template(TemplateName=name)["TemplateContent"]
        template = EmailTemplate(
            str(content.get("Subject") or ""),
            str(content.get("Text") or ""),
            str(content.get("Html") or ""),
        )
        with self._lock:
            self._cache[name] = (now + self.ttl, template)
        return template


def _handlebars(text: str, data: Mapping[str, Any]) -> str:
    """``text`` with its ``{{variables}}`` replaced from ``data`` (dotted names reach into
    objects); a block, a partial, a helper or a missing value leaves the text unknown (SES
    does not send a message it cannot render)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name or name[0] in "#/^>!&" or " " in name or name == "else":
            raise UnknownContent(f"template expression {{{{{name}}}}} cannot be rendered here")
        found: Any = data
        for part in name.split("."):
            if not isinstance(found, Mapping) or part not in found:
                raise UnknownContent(f"template variable {name!r} has no value")
            found = found[part]
        if isinstance(found, Mapping | list):
            raise UnknownContent(f"template variable {name!r} is not a single value")
        if isinstance(found, bool):
            return "true" if found else "false"
        return "" if found is None else str(found)

    return _VARIABLE.sub(value, text)


def _one_mailbox(entry: str) -> str | None:
    """The one address a Destination entry names ("alice@example.com", "Alice
    <alice@example.com>"), or None when it names several or none: SES reads an entry as an
    address list, so "a@x.example, b@y.example" or "a@x.example <b@y.example>" would reach a
    mailbox that was never decided."""
    found = email.utils.getaddresses([entry])
    if len(found) != 1 or not found[0][1]:
        return None
    return found[0][1]


@attrs.define
class _Recipient:
    """One recipient of the request as it moves through the guard."""

    field: str  # "ToAddresses", "CcAddresses" or "BccAddresses"
    given: str
    message: Message | None = None
    reservation: Reservation | None = None
    outcome: Outcome | None = None


class SesV2Guard(GuardBase):
    """Wraps ``client.send_email`` (Amazon SES v2): every recipient of ``Destination`` (To, Cc
    and Bcc; for raw content without a ``Destination``, its To, Cc and Bcc headers) is decided
    by the engine as an email, on the text it would receive: the subject, the
    ``List-Unsubscribe`` headers and the text and HTML parts, from ``Simple``, ``Raw`` or
    ``Template`` content (stored templates through ``templates``, default ``GetEmailTemplate``
    cached for five minutes). Only allowed recipients are forwarded, in one request; when none
    is allowed no request is made.

    The response is boto3's (``MessageId``, ``ResponseMetadata``) plus ``"Outcomes"``:
    recipient (as written in the request) -> :class:`Outcome`. ``EmailTags`` are read like a
    Pinpoint ``Context`` (``topic``, ``person``, ``content_key``; ``brand`` and ``purpose``
    when told). AWS errors are raised as boto3 raised them, with ``error.outcomes`` (and
    ``error.response["Outcomes"]``) attached; retries and failover happen only on answers that
    prove nothing was sent.
    """

    OPERATION = "SendEmail"
    SOURCE = SOURCE

    def __init__(
        self,
        client: Any,
        engine: Engine,
        *,
        topic: str,
        templates: Callable[[str], EmailTemplate] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(client, engine, topic=topic, **options)
        self.templates = templates if templates is not None else SesTemplates(client)

    def send_email(self, *, idempotency_key: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Decide every recipient, forward the allowed ones, report an outcome for each, with
        boto3's own keyword arguments. A repeated ``idempotency_key`` returns the first call's
        outcomes and sends nothing."""
        stored = self.recall(idempotency_key)
        if stored is not None:
            return self._repeat(stored)
        self.validate(kwargs)
        self.replay()
        entries = self._prepare(kwargs)
        self.remember(
            idempotency_key, {"state": "started", "addresses": [e.given for e in entries]}
        )
        answer: dict[str, Any] = {}
        raised: Exception | None = None
        try:
            self._reserve(entries)
            self._hold(kwargs, entries, idempotency_key)
            answer, raised = self._deliver(kwargs, entries)
        finally:
            for entry in entries:  # a path that sent nothing gives its hold back
                if entry.reservation is not None:
                    self.release(entry.reservation)
                    entry.reservation = None
        outcomes: dict[str, Outcome] = {}
        for entry in entries:
            assert entry.outcome is not None
            outcomes.setdefault(entry.given, entry.outcome)
        response = {
            **answer,
            "ResponseMetadata": answer.get("ResponseMetadata") or metadata(),
            "Outcomes": outcomes,
        }
        self.remember(
            idempotency_key,
            {
                "response": {k: v for k, v in response.items() if k != "Outcomes"},
                "outcomes": {a: outcome_dict(o) for a, o in outcomes.items()},
            },
        )
        if raised is not None:
            raised.outcomes = outcomes  # type: ignore[attr-defined]
            if isinstance(raised, ClientError):
                raised.response["Outcomes"] = outcomes  # type: ignore[typeddict-unknown-key]
            raise raised
        return response

    def _repeat(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        if "outcomes" in stored:
            outcomes = {a: outcome_from(o) for a, o in stored["outcomes"].items()}
            return {**copy.deepcopy(dict(stored["response"])), "Outcomes": outcomes}
        return {
            "ResponseMetadata": metadata(),
            "Outcomes": dict.fromkeys(stored.get("addresses", []), UNFINISHED),
        }

    # -- deciding ------------------------------------------------------------------------------

    def _content(
        self, request: Mapping[str, Any]
    ) -> tuple[str | UnknownContent, list[tuple[str, str]]]:
        """The text the email shows (or why it cannot be known) and the recipients of a raw
        message's headers."""
        content = request["Content"]
        kinds = [k for k in ("Simple", "Raw", "Template") if content.get(k)]
        if len(kinds) != 1:
            raise RequestValidationError(
                self.OPERATION,
                [f"Content needs exactly one of Simple, Raw, Template; got {kinds or 'none'}"],
            )
        try:
            if kinds == ["Raw"]:
                try:
                    return mime_text(content["Raw"]["Data"])
                except ValueError as error:
                    raise UnknownContent(str(error)) from None
            if kinds == ["Simple"]:
                simple = content["Simple"]
                body = simple.get("Body") or {}
                text = email_text(
                    (simple.get("Subject") or {}).get("Data"),
                    (body.get("Text") or {}).get("Data"),
                    (body.get("Html") or {}).get("Data"),
                    header_pairs(simple.get("Headers")),
                )
                return text, []
            return self._template(content["Template"]), []
        except UnknownContent as why:
            return why, []

    def _template(self, template: Mapping[str, Any]) -> str:
        inline = template.get("TemplateContent")
        name = template.get("TemplateName") or (
            str(template["TemplateArn"]).rsplit("/", 1)[-1] if template.get("TemplateArn") else None
        )
        if inline and name:
            raise UnknownContent("both TemplateContent and a stored template")
        if inline:
            found = EmailTemplate(
                str(inline.get("Subject") or ""),
                str(inline.get("Text") or ""),
                str(inline.get("Html") or ""),
            )
        elif name:
            try:
                found = self.templates(str(name))
            except Exception as error:  # any failure of the source leaves the text unknown
                raise UnknownContent(f"template {name!r}: {error}", transient=True) from error
        else:
            raise UnknownContent("the template has no name and no content")
        try:
            data = json.loads(template.get("TemplateData") or "{}")
        except ValueError as error:
            raise UnknownContent(f"TemplateData is not JSON: {error}") from None
        if not isinstance(data, Mapping):
            raise UnknownContent("TemplateData is not a JSON object")
        return email_text(
            _handlebars(found.subject, data),
            _handlebars(found.text, data),
            _handlebars(found.html, data),
            [(n, _handlebars(v, data)) for n, v in header_pairs(template.get("Headers"))],
        )

    def _prepare(self, request: Mapping[str, Any]) -> list[_Recipient]:
        text, raw_recipients = self._content(request)
        destination = request.get("Destination") or {}
        given = [(f, str(a)) for f in FIELDS.values() for a in destination.get(f) or ()]
        if not destination and raw_recipients:
            given = [(FIELDS[h], a) for h, a in raw_recipients]
        if not given:
            raise RequestValidationError(
                self.OPERATION, ["Destination has no recipient (To, Cc or Bcc)"]
            )
        context = {str(t["Name"]): str(t["Value"]) for t in request.get("EmailTags") or ()}
        if "person" in context and "person" in self.read_context:
            people = {email_key(email.utils.parseaddr(a)[1] or a) for _, a in given}
            if len(people) > 1:
                raise RequestValidationError(
                    self.OPERATION,
                    [
                        f"EmailTags person={context['person']!r} names one person, but the "
                        f"request has {len(people)} recipients: send one email per person"
                    ],
                )
        purpose = self.purpose_for(None, context)
        brand = self.read(context, "brand", self.brand)
        blocked = self.blocked()
        seen: dict[str, str] = {}
        entries: list[_Recipient] = []
        for field, address in given:
            entry = _Recipient(field, address)
            entries.append(entry)
            plain = _one_mailbox(address)
            if plain is None:
                entry.outcome = from_decision(
                    refusal(
                        "address.malformed",
                        f"{address[:80]!r} is not one mailbox (a list, or a name that reads as "
                        "another address): write one address per entry.",
                        to=address[:80],
                    )
                )
                continue
            key = email_key(plain)
            first = seen.setdefault(key, address)
            if first != address or any(e.given == address for e in entries[:-1]):
                entry.outcome = from_decision(
                    refusal(
                        "address.duplicate",
                        f"{address} is {first} written again: it is sent once.",
                        first=first,
                    )
                )
            elif key in blocked:
                entry.outcome = self.blocked_outcome(key)
            elif isinstance(text, UnknownContent):
                refused = from_decision(
                    refusal(
                        "content.unknown",
                        f"The email sent to {address} cannot be known ({text}), so it is not sent.",
                        detail=str(text),
                    )
                )
                entry.outcome = attrs.evolve(refused, retryable=text.transient)
            else:
                entry.message = self.message_for(
                    plain, Channel.EMAIL, purpose, text, brand, None, context
                )
        return entries

    def _reserve(self, entries: list[_Recipient]) -> None:
        wanted = [e for e in entries if e.message is not None and e.outcome is None]
        reservations = self.engine.reserve_many([e.message for e in wanted if e.message])
        for entry, reservation in zip(wanted, reservations, strict=True):
            if reservation.allowed:
                entry.reservation = reservation
            else:
                entry.outcome = from_decision(reservation.decision)

    def _hold(
        self, request: Mapping[str, Any], entries: list[_Recipient], idempotency_key: str | None
    ) -> None:
        """With an outbox, hold each deferred recipient with the request narrowed to it."""
        if self.outbox is None:
            return
        for entry in entries:
            outcome, message = entry.outcome, entry.message
            if outcome is None or message is None or outcome.status is not OutcomeStatus.DEFERRED:
                continue
            assert outcome.decision is not None
            payload = {self.OPERATION: _narrowed(request, [entry])}
            entry.outcome = self.hold_or_refuse(message, outcome.decision, payload, idempotency_key)

    # -- sending -------------------------------------------------------------------------------

    def _deliver(
        self, request: Mapping[str, Any], entries: list[_Recipient]
    ) -> tuple[dict[str, Any], Exception | None]:
        """One request to the allowed recipients, retried (and failed over) only on answers
        that prove nothing was sent. Returns AWS's answer and the error to raise."""
        held = [e for e in entries if e.reservation is not None]
        if not held:
            return {}, None
        forwarded = _narrowed(request, held)
        last: Exception | None = None
        for region in self.regions:
            for attempt in range(self.attempts):
                if attempt:
                    self.backoff(attempt)
                try:
                    answer: dict[str, Any] = region.client.send_email(**forwarded)
                except BaseException as error:
                    if not isinstance(error, Exception):  # interrupted mid-request
                        for entry in held:
                            assert entry.reservation is not None
                            self.record(entry.reservation, None)
                            entry.reservation = None
                        raise
                    last = error
                    delivery = classify_error(error)
                    text = f"{error_code(error)}: {error}"
                    if delivery is Delivery.NOT_SENT_RETRYABLE:
                        for entry in held:
                            assert entry.reservation is not None
                            entry.outcome = Outcome(
                                OutcomeStatus.FAILED,
                                True,
                                entry.reservation.decision,
                                error=text,
                                region=region.name,
                            )
                        continue
                    if delivery is Delivery.OPTED_OUT:  # not an answer SendEmail gives
                        delivery = Delivery.NOT_SENT
                    self._settle(held, delivery, None, text, region)
                    return _error_answer(error), error
                self._settle(held, Delivery.ACCEPTED, answer.get("MessageId"), None, region)
                return answer, None
        for entry in held:  # every region refused without sending: nothing went out
            assert entry.reservation is not None
            self.release(entry.reservation)
            entry.reservation = None
        return _error_answer(last), last

    def _settle(
        self,
        held: list[_Recipient],
        delivery: Delivery,
        message_id: str | None,
        error: str | None,
        region: Region,
    ) -> None:
        for entry in held:
            assert entry.reservation is not None
            entry.outcome = self.settle(
                entry.reservation,
                delivery,
                message_id=message_id,
                error=error,
                region=region,
                source=SOURCE,
            )
            entry.reservation = None

    def resend(self, payload: Mapping[str, Any]) -> tuple[Delivery, str | None, str]:
        """Send a held ``SendEmail`` request once from the first region (retrying only answers
        that prove nothing was sent, ``attempts`` times)."""
        request = payload.get(self.OPERATION)
        if not isinstance(request, Mapping):
            raise NotSent(f"the held payload has no {self.OPERATION} request: {payload!r}")
        region = self.regions[0]
        delivery, text = Delivery.NOT_SENT_RETRYABLE, ""
        for attempt in range(self.attempts):
            if attempt:
                self.backoff(attempt)
            try:
                answer = region.client.send_email(**request)
            except Exception as error:
                delivery, text = classify_error(error), f"{error_code(error)}: {error}"
                if delivery is Delivery.OPTED_OUT:
                    delivery = Delivery.NOT_SENT
                if delivery is Delivery.NOT_SENT_RETRYABLE:
                    continue
                return delivery, None, text
            return Delivery.ACCEPTED, answer.get("MessageId"), "accepted"
        return delivery, None, text


def _narrowed(request: Mapping[str, Any], entries: list[_Recipient]) -> dict[str, Any]:
    """The request with only ``entries`` in its ``Destination``."""
    forwarded = copy.deepcopy(dict(request))
    destination: dict[str, list[str]] = {}
    for entry in entries:
        destination.setdefault(entry.field, []).append(entry.given)
    forwarded["Destination"] = destination
    return forwarded


def _error_answer(error: Exception | None) -> dict[str, Any]:
    if isinstance(error, ClientError):
        return {"ResponseMetadata": error.response.get("ResponseMetadata", metadata())}
    return {"ResponseMetadata": metadata()}
