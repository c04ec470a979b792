"""Handling inbound texts: the keyword, the durable ledger event, the reply."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from . import i18n
from ._records import ConsentEvent, ConsentKind
from ._values import Message, Purpose
from .errors import InvalidInputError, StoreUnavailableError
from .keywords import InboundKind, Keyword, classify
from .programs import GENERIC_HELP, GENERIC_STOP, GENERIC_WELCOME, Program

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["InboundResult", "handle_inbound"]

log = logging.getLogger("smspolicy")


REPLY_TOPIC = "smspolicy.reply"
"""The topic of keyword replies built by :meth:`InboundResult.reply_message`."""


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
        after a STOP (the opt-out confirmation, within 5 minutes: 47 CFR 64.1200(a)(12))."""
        if self.reply is None or self.number is None:
            return None
        return Message(
            self.number, REPLY_TOPIC, Purpose.TRANSACTIONAL, body=self.reply, sender=self.sender
        )


def _pending(events: Sequence[ConsentEvent], engine: Engine) -> list[ConsentEvent]:
    now = engine.now()
    waiting: dict[tuple[object, ...], ConsentEvent] = {}
    for event in events:
        key = (event.topic, event.purpose, event.brand)
        if event.kind is ConsentKind.REQUESTED:
            waiting[key] = event
        elif event.kind is ConsentKind.CONFIRMED:
            waiting.pop(key, None)
        elif event.kind is ConsentKind.REVOKED:
            waiting.clear()
    return [e for e in waiting.values() if e.expires is None or e.expires > now]


def _rejoin_scopes(events: Sequence[ConsentEvent]) -> list[ConsentEvent]:
    scopes: dict[tuple[object, ...], ConsentEvent] = {}
    for event in events:
        if event.kind is ConsentKind.CONFIRMED:
            scopes[(event.topic, event.purpose, event.brand)] = event
    return list(scopes.values())


def handle_inbound(engine: Engine, text: str, from_: str, to: str | None) -> InboundResult:
    """Classify ``text``, write its ledger events durably, then return the reply."""
    result = _handle(engine, text, from_, to)
    number = engine.address_of(from_)
    if text.strip():
        try:
            engine.store.record_engagement(number, at=engine.now(), kind="reply")
        except StoreUnavailableError as error:
            # The ledger event is already durable: a lost engagement note must not cost the
            # recipient their reply (the STOP confirmation above all).
            log.warning("could not record engagement for an inbound text: %s", error)
    return attrs.evolve(result, number=number, sender=to)


def _handle(engine: Engine, text: str, from_: str, to: str | None) -> InboundResult:
    if not isinstance(text, str):
        raise InvalidInputError(f"an inbound text must be str, got {type(text).__name__}")
    number = engine.address_of(from_)
    programs = engine.programs_for(to)
    keyword = classify(text.replace("\x00", ""), frozenset(p.topic_name for p in engine.programs))
    profile = engine.profile(number)
    locale = keyword.language or (profile.locale if profile else None) or "en"
    program = programs[0] if programs else None
    evidence: dict[str, object] = {"text": text[:160], "to": to}
    source = f"keyword:{keyword.word}"
    ledger = engine.consent

    if keyword.kind is InboundKind.OPT_OUT:
        brands: list[str | None] = [*sorted({p.brand for p in programs})] or [None]
        events = [
            ledger.revoke(
                number, source=source, topic=keyword.topic, brand=brand, evidence=evidence
            )
            for brand in brands
        ]
        reply = program.stop_text(locale) if program else i18n.gettext(GENERIC_STOP, locale)
        return InboundResult(keyword.kind, reply, tuple(events))
    if keyword.kind is InboundKind.HELP:
        reply = program.help_text(locale) if program else i18n.gettext(GENERIC_HELP, locale)
        return InboundResult(keyword.kind, reply)
    if keyword.kind is InboundKind.CONFIRM:
        pending = _pending(ledger.history(number), engine)
        if pending:
            events = [
                ledger.confirm(
                    number,
                    topic=p.topic,
                    purpose=p.purpose or "marketing",
                    brand=p.brand,
                    source=source,
                    evidence={**evidence, "request": p.hash},
                )
                for p in pending
            ]
            return InboundResult(keyword.kind, _welcome(program, locale), tuple(events))
        keyword = Keyword(InboundKind.OPT_IN, keyword.language, word=keyword.word)
    if keyword.kind is InboundKind.OPT_IN:
        return _rejoin(engine, number, programs, source, evidence, locale)
    return InboundResult(InboundKind.OTHER, None)


def _welcome(program: Program | None, locale: str) -> str:
    return program.welcome_text(locale) if program else i18n.gettext(GENERIC_WELCOME, locale)


def _rejoin(
    engine: Engine,
    number: str,
    programs: Sequence[Program],
    source: str,
    evidence: dict[str, object],
    locale: str,
) -> InboundResult:
    ledger = engine.consent
    scopes: list[tuple[str | None, Purpose | None, str | None]]
    if programs:
        scopes = [(p.topic_name, p.purpose, p.brand) for p in programs]
    else:
        scopes = [(e.topic, e.purpose, e.brand) for e in _rejoin_scopes(ledger.history(number))]
    if not scopes:
        return InboundResult(InboundKind.OPT_IN, None)
    events = [
        ledger.confirm(
            number,
            topic=topic,
            purpose=purpose or "marketing",
            brand=brand,
            source=source,
            evidence=evidence,
        )
        for topic, purpose, brand in scopes
    ]
    return InboundResult(
        InboundKind.OPT_IN, _welcome(programs[0] if programs else None, locale), tuple(events)
    )
