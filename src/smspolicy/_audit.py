"""List audits: who is due a subscription reminder, and who has gone silent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from ._records import ConsentEvent, ConsentKind
from ._time import ensure_duration
from ._values import Message, Purpose
from .consent import consent_status
from .programs import Program

if TYPE_CHECKING:
    from ._recipients import Profile
    from .store import Audience, ConsentLedger, SendLog

    class AuditSource(ConsentLedger, SendLog, Audience, Protocol):
        """What an audit reads: the ledger, the sends and the audience."""


__all__ = ["REMINDER_KEY", "Audit", "AuditItem", "run_audit"]

REMINDER_KEY = "smspolicy.reminder:"
"""Reminder messages carry ``content_key = REMINDER_KEY + topic``, so the audit finds them."""

_BATCH = 500


@attrs.frozen
class AuditItem:
    """One subscriber of one program found by an audit."""

    number: str
    topic: str
    program: Program
    text: str
    since: dt.datetime

    def message(self) -> Message:
        """The reminder as a transactional message on the program's topic and brand."""
        return Message(
            self.number,
            self.topic,
            Purpose.TRANSACTIONAL,
            body=self.text,
            brand=self.program.brand,
            content_key=REMINDER_KEY + self.topic,
        )


@attrs.frozen
class Audit:
    """The result of :meth:`Engine.audit`."""

    reminders: tuple[AuditItem, ...]
    unengaged: tuple[AuditItem, ...]


def _granted_at(events: list[ConsentEvent], topic: str) -> dt.datetime | None:
    granted = [
        e.at
        for e in events
        if e.kind in (ConsentKind.CONFIRMED, ConsentKind.IMPLIED) and e.topic in (None, topic)
    ]
    return max(granted) if granted else None


def run_audit(
    store: AuditSource,
    profile_of: Callable[[str], Profile | None],
    programs: Sequence[Program],
    now: dt.datetime,
    every: dt.timedelta,
    unengaged_after: dt.timedelta | None,
) -> Audit:
    """Walk every number with consent records, in batches."""
    ensure_duration(every, "every")
    if unengaged_after is not None:
        ensure_duration(unengaged_after, "unengaged_after")
    reminders: list[AuditItem] = []
    unengaged: list[AuditItem] = []
    numbers = store.numbers()
    for start in range(0, len(numbers), _BATCH):
        batch = numbers[start : start + _BATCH]
        events = store.consent_events(batch)
        engaged = store.last_engagement(batch)
        sends = store.sends(batch, since=now - every)
        for number in batch:
            profile = profile_of(number)
            locale = profile.locale if profile else None
            for program in programs:
                topic = program.topic_name
                status = consent_status(
                    events[number],
                    topic=topic,
                    purpose=program.purpose,
                    brand=program.brand,
                    now=now,
                )
                since = _granted_at(events[number], topic)
                if not status.status.allows or since is None:
                    continue
                item = AuditItem(number, topic, program, program.reminder_text(locale), since)
                reminded = any(s.content_key == REMINDER_KEY + topic for s in sends[number])
                if not reminded and now - since >= every:
                    reminders.append(item)
                last = max(filter(None, (engaged[number], since)))
                if unengaged_after is not None and now - last >= unengaged_after:
                    unengaged.append(item)
    return Audit(tuple(reminders), tuple(unengaged))
