"""Handling inbound texts: the keyword, the durable ledger event, the reply.

Every inbound text, whatever it holds (lone surrogates, undecodable bytes, control characters,
a body of any length), is sanitised and classified; an opt-out is written to the ledger before
anything else can fail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs

from . import i18n
from ._constants import REPLY_TOPIC
from ._normalise import sanitise
from ._records import ConsentEvent, ConsentKind
from ._values import Channel, Message, Purpose
from .consent import WrittenConsent, chain_break, effective_order
from .errors import InvalidInputError, InvalidNumberError, StoreUnavailableError
from .keywords import InboundKind, classify
from .programs import (
    GENERIC_CLARIFY,
    GENERIC_HELP,
    GENERIC_KEPT,
    GENERIC_RENEWAL,
    GENERIC_STOP,
    GENERIC_WELCOME,
    Program,
)

if TYPE_CHECKING:
    from ._recipients import Profile
    from .consent import Ledger
    from .store import Audience

__all__ = ["InboundHandler", "InboundResult", "programs_for"]

log = logging.getLogger("smspolicy")


_EXCERPT = 160
"""How much of an inbound text its ledger event keeps (with the length and SHA-256 of the
whole when it is longer)."""


@attrs.frozen
class InboundResult:
    """What an inbound text did: its kind, the reply to send back (or None) and the ledger
    events written (already durable)."""

    kind: InboundKind
    reply: str | None
    events: tuple[ConsentEvent, ...] = ()
    number: str | None = attrs.field(default=None, kw_only=True)
    sender: str | None = attrs.field(default=None, kw_only=True)

    def reply_message(self) -> Message | None:
        """The reply as a transactional :class:`Message` on topic ``smspolicy.reply``, from the
        number the text was sent to. The consent rule lets exactly one such message through
        after a STOP or an unclear reply (the opt-out confirmation or the one clarification,
        within 5 minutes: 47 CFR 64.1200(a)(10) and (12))."""
        if self.reply is None or self.number is None:
            return None
        return Message(
            self.number, REPLY_TOPIC, Purpose.TRANSACTIONAL, body=self.reply, sender=self.sender
        )


def _text(text: object) -> str:
    if isinstance(text, bytes | bytearray):
        return sanitise(bytes(text).decode("utf-8", "replace"))
    if not isinstance(text, str):
        raise InvalidInputError(f"an inbound text must be str, got {type(text).__name__}")
    return sanitise(text)


def _evidence(text: str, to: str | None) -> dict[str, object]:
    evidence: dict[str, object] = {"text": text[:_EXCERPT], "to": to}
    if len(text) > _EXCERPT:
        evidence["length"] = len(text)
        evidence["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    return evidence


def programs_for(
    programs: Sequence[Program], sender: str | None, address_of: Callable[[str], str]
) -> tuple[Program, ...]:
    """The programs sent from ``sender`` (all programs when it is unknown or None)."""
    if sender is not None:
        matched = tuple(p for p in programs if sender in p.senders)
        if not matched:
            try:
                e164: str | None = address_of(sender)
            except InvalidNumberError:
                e164 = None
            matched = tuple(p for p in programs if e164 in p.senders)
        if matched:
            return matched
    return tuple(programs)


@attrs.frozen
class InboundHandler:
    """Handles inbound texts with the few things it needs: the consent ledger, the store's
    engagement notes, the clock, how to read an address, the profiles and the programs."""

    ledger: Ledger
    engagement: Audience
    now: Callable[[], dt.datetime]
    address_of: Callable[[str], str]
    profile: Callable[[str], Profile | None]
    programs: tuple[Program, ...]
    topics: frozenset[str]
    stop_channel: Channel | None = None
    """What an inbound opt-out revokes: None, every channel of the number (SMS, MMS and
    voice; the default, fail closed), or one channel (``Channel.SMS``: texts only)."""

    def programs_for(self, sender: str | None) -> tuple[Program, ...]:
        """The programs sent from ``sender`` (all programs when it is unknown or None)."""
        return programs_for(self.programs, sender, self.address_of)

    def __call__(self, text: str, from_: str, to: str | None) -> InboundResult:
        """Classify ``text``, write its ledger events durably, then return the reply."""
        clean = _text(text)
        sender = sanitise(to) if isinstance(to, str) else to
        result = _handle(self, clean, from_, sender)
        number = self.address_of(from_)
        if clean.strip():
            try:
                self.engagement.record_engagement(number, at=self.now(), kind="reply")
            except StoreUnavailableError as error:
                # The ledger event is already durable: a lost engagement note must not cost
                # the recipient their reply (the STOP confirmation above all).
                log.warning("could not record engagement for an inbound text: %s", error)
        return attrs.evolve(result, number=number, sender=sender)


def _custom(programs: Sequence[Program]) -> dict[str, InboundKind]:
    table: dict[str, InboundKind] = {}
    for program in programs:
        table.update(program.keyword_table())  # the engine checked they agree
    return table


def _handle(handler: InboundHandler, text: str, from_: str, to: str | None) -> InboundResult:
    number = handler.address_of(from_)
    programs = handler.programs_for(to)
    keyword = classify(text, handler.topics, custom=_custom(programs))
    profile = handler.profile(number)
    locale = keyword.language or (profile.locale if profile else None) or "en"
    program = programs[0] if programs else None
    evidence = _evidence(text, to)
    source = f"keyword:{keyword.word}" if keyword.word else "keyword"
    ledger = handler.ledger
    brands: list[str | None] = [*sorted({p.brand for p in programs})] or [None]

    if keyword.kind is InboundKind.OPT_OUT:
        events = [
            ledger.revoke(
                number,
                source=source,
                topic=keyword.topic,
                brand=brand,
                evidence=evidence,
                channel=handler.stop_channel,
            )
            for brand in brands
        ]
        reply = program.stop_text(locale) if program else i18n.reply_text(GENERIC_STOP, locale)
        return InboundResult(keyword.kind, reply, tuple(events))
    if keyword.kind is InboundKind.UNCLEAR:
        events = [
            ledger.hold(number, source=source, brand=brand, evidence=evidence) for brand in brands
        ]
        reply = (
            program.clarification_text(locale)
            if program
            else i18n.reply_text(GENERIC_CLARIFY, locale)
        )
        return InboundResult(keyword.kind, reply, tuple(events))
    if keyword.kind is InboundKind.HELP:
        reply = program.help_text(locale) if program else i18n.reply_text(GENERIC_HELP, locale)
        return InboundResult(keyword.kind, reply)
    if keyword.kind is InboundKind.CONFIRM:
        return _confirm(handler, number, programs, source, evidence, locale)
    if keyword.kind is InboundKind.OPT_IN:
        return _rejoin(handler, number, programs, source, evidence, locale)
    return InboundResult(InboundKind.OTHER, None)


def _known(handler: InboundHandler, events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
    """The events whose topic the programs still have (all of them when it has no programs)."""
    topics = handler.topics
    return [e for e in events if not topics or e.topic is None or e.topic in topics]


def _requests(
    ordered: Sequence[ConsentEvent], now: dt.datetime, brands: set[str | None]
) -> tuple[list[ConsentEvent], list[ConsentEvent]]:
    """The recipient's own double opt-in requests not yet confirmed or revoked, for the
    brands the reply went to: those still waiting, and those expired."""
    waiting: dict[tuple[object, ...], ConsentEvent] = {}
    for event in ordered:
        scope = (event.topic, event.purpose, event.brand)
        if event.kind is ConsentKind.REQUESTED:
            waiting[scope] = event
        elif event.kind is ConsentKind.CONFIRMED:
            waiting.pop(scope, None)
        elif event.kind is ConsentKind.REVOKED:
            waiting.clear()
    mine = [e for e in waiting.values() if e.brand is None or e.brand in brands]
    live = [e for e in mine if e.expires is None or now < e.expires]
    return live, [e for e in mine if e not in live]


def _hold(ordered: Sequence[ConsentEvent], now: dt.datetime) -> ConsentEvent | None:
    """The unclear reply still holding marketing, if any: not answered by a later
    confirmation or revocation, not expired."""
    hold: ConsentEvent | None = None
    for event in ordered:
        if event.kind is ConsentKind.UNCLEAR:
            hold = event
        elif event.kind is ConsentKind.CONFIRMED or event.kind is ConsentKind.REVOKED:
            hold = None
    if hold is not None and (hold.expires is None or now < hold.expires):
        return hold
    return None


def _live_grants(ordered: Sequence[ConsentEvent]) -> list[ConsentEvent]:
    """The express grants no later revocation of their brand ended, one per scope."""
    grants: dict[tuple[object, ...], ConsentEvent] = {}
    for event in ordered:
        if event.kind is ConsentKind.CONFIRMED:
            grants[(event.topic, event.purpose, event.brand)] = event
        elif event.kind is ConsentKind.REVOKED:
            grants = {
                scope: grant
                for scope, grant in grants.items()
                if event.brand is not None
                and grant.brand is not None
                and event.brand != grant.brand
            }
    return list(grants.values())


def _confirm(
    handler: InboundHandler,
    number: str,
    programs: Sequence[Program],
    source: str,
    evidence: dict[str, object],
    locale: str,
) -> InboundResult:
    """A YES confirms only the recipient's own pending requests; after they expired it starts
    fresh ones for the same topics; after an unclear reply it keeps what the recipient had.
    It never subscribes to anything new."""
    ledger = handler.ledger
    now = handler.now()
    history = ledger.history(number)
    broken = chain_break(history)
    if broken is not None:
        log.warning("a YES was not acted on: the consent records do not verify (%s)", broken)
        return InboundResult(InboundKind.CONFIRM, None)
    ordered = [e for e in effective_order(history) if e.at <= now]
    live, expired = _requests(ordered, now, {p.brand for p in programs})
    program = programs[0] if programs else None
    if live := _known(handler, live):
        events = [
            ledger.confirm(
                number,
                topic=p.topic,
                purpose=p.purpose or Purpose.MARKETING,
                brand=p.brand,
                source=source,
                evidence=_answer_evidence(evidence, p, source),
            )
            for p in live
        ]
        return InboundResult(InboundKind.CONFIRM, _welcome(program, locale), tuple(events))
    if expired := _known(handler, expired):
        events = [
            ledger.opt_in(
                number,
                topic=p.topic,
                purpose=p.purpose or Purpose.MARKETING,
                brand=p.brand,
                source=source,
                evidence={**evidence, "renews": p.hash},
            )
            for p in expired
        ]
        named = _program_for(programs, expired[0].topic)
        reply = named.renewal_text(locale) if named else i18n.reply_text(GENERIC_RENEWAL, locale)
        return InboundResult(InboundKind.CONFIRM, reply, tuple(events))
    if _hold(ordered, now) is not None and (grants := _known(handler, _live_grants(ordered))):
        events = [
            ledger.confirm(
                number,
                topic=g.topic,
                purpose=g.purpose or Purpose.MARKETING,
                brand=g.brand,
                source=source,
                evidence={**evidence, "reaffirms": g.hash},
            )
            for g in grants
        ]
        reply = program.kept_text(locale) if program else i18n.reply_text(GENERIC_KEPT, locale)
        return InboundResult(InboundKind.CONFIRM, reply, tuple(events))
    return InboundResult(InboundKind.CONFIRM, None)


def _answer_evidence(
    evidence: dict[str, object], request: ConsentEvent, source: str
) -> dict[str, object]:
    """A YES's evidence: the request it answers and, when the request carried the disclosure
    text, the written consent it completes (47 CFR 64.1200(f)(9))."""
    written = WrittenConsent.of_request(request, source.removeprefix("keyword:") or "YES")
    answer = {**evidence, "request": request.hash}
    return written.evidence(**answer) if written else answer


def _program_for(programs: Sequence[Program], topic: str | None) -> Program | None:
    return next((p for p in programs if p.topic_name == topic), programs[0] if programs else None)


def _welcome(program: Program | None, locale: str) -> str:
    return program.welcome_text(locale) if program else i18n.reply_text(GENERIC_WELCOME, locale)


def _rejoin_scopes(events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
    scopes: dict[tuple[object, ...], ConsentEvent] = {}
    for event in events:
        if event.kind is ConsentKind.CONFIRMED:
            scopes[(event.topic, event.purpose, event.brand)] = event
    return list(scopes.values())


def _rejoin(
    handler: InboundHandler,
    number: str,
    programs: Sequence[Program],
    source: str,
    evidence: dict[str, object],
    locale: str,
) -> InboundResult:
    """START (UNSTOP...): rejoin the programs sent from the number the text went to, or,
    without programs, every scope the recipient had confirmed before."""
    ledger = handler.ledger
    scopes: list[tuple[str | None, Purpose | None, str | None]]
    if programs:
        scopes = [(p.topic_name, p.purpose, p.brand) for p in programs]
    else:
        known = _known(handler, _rejoin_scopes(effective_order(ledger.history(number))))
        scopes = [(e.topic, e.purpose, e.brand) for e in known]
    if not scopes:
        return InboundResult(InboundKind.OPT_IN, None)
    events = [
        ledger.confirm(
            number,
            topic=topic,
            purpose=purpose or Purpose.MARKETING,
            brand=brand,
            source=source,
            evidence=evidence,
        )
        for topic, purpose, brand in scopes
    ]
    return InboundResult(
        InboundKind.OPT_IN, _welcome(programs[0] if programs else None, locale), tuple(events)
    )
