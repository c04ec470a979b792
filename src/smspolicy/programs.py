"""Programs: what a recipient signs up for, and the texts that go with it (CTIA)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import attrs

from . import i18n
from ._values import Purpose, to_enum
from .errors import ConfigurationError

__all__ = ["Frequency", "Program", "parse_frequency"]

_PERIODS = {
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(weeks=1),
    "month": dt.timedelta(days=30),
    "year": dt.timedelta(days=365),
}
_FREQUENCY = re.compile(
    r"^\s*(?:up\s+to\s+)?(?P<limit>\d{1,4})\s*(?:msgs?|messages?|texts?)?\s*"
    r"(?:/|per|a|an|every)\s*(?P<period>day|week|month|year)s?\s*$",
    re.IGNORECASE,
)


@attrs.frozen
class Frequency:
    """A declared program frequency: at most ``limit`` messages per ``period`` (calendar-free:
    a month is 30 days)."""

    text: str
    limit: int
    per: dt.timedelta
    period: str


def parse_frequency(text: str) -> Frequency:
    """Parse "2 msgs/month", "Up to 4 msgs/week" or "1 message per day" into a Frequency."""
    if not isinstance(text, str):
        raise ConfigurationError(f"frequency must be text like '2 msgs/month', got {text!r}")
    match = _FREQUENCY.match(text)
    if match is None or int(match["limit"]) < 1:
        raise ConfigurationError(
            f"cannot read frequency {text!r}: write it like '2 msgs/month' or 'Up to 4 msgs/week'"
        )
    period = match["period"].lower()
    return Frequency(text.strip(), int(match["limit"]), _PERIODS[period], period)


def _purpose(value: object) -> Purpose:
    return to_enum(Purpose, value, ConfigurationError)


def _required_text(_instance: object, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"Program.{attribute.name} must be non-empty text, got {value!r}")


def _senders(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(s, str) and s for s in value):
        raise ConfigurationError(f"senders must be a list of origination identities: {value!r}")
    return tuple(value)


def _frequency(value: object) -> Frequency:
    return value if isinstance(value, Frequency) else parse_frequency(value)  # type: ignore[arg-type]


@attrs.frozen
class Program:
    """A messaging program: one opt-in, one brand, one declared frequency (CTIA Messaging
    Principles). Its texts answer HELP, STOP, confirmations and reminders; its frequency
    ("2 msgs/month") becomes a cap."""

    name: str = attrs.field(validator=_required_text)
    brand: str = attrs.field(validator=_required_text)
    topic: str | None = attrs.field(default=None, kw_only=True)
    purpose: Purpose = attrs.field(default=Purpose.MARKETING, converter=_purpose, kw_only=True)
    senders: tuple[str, ...] = attrs.field(default=(), converter=_senders, kw_only=True)
    help_contact: str = attrs.field(validator=_required_text, kw_only=True)
    frequency: Frequency = attrs.field(converter=_frequency, kw_only=True)

    @property
    def topic_name(self) -> str:
        """The topic this program's consent covers (its name when no topic is set)."""
        return self.topic or self.name

    def _fill(self, template: str, locale: str | None) -> str:
        return i18n.gettext(template, locale).format(
            program=self.name,
            brand=self.brand,
            contact=self.help_contact,
            frequency=self.frequency.text,
            topic=self.topic_name,
        )

    def help_text(self, locale: str | None = "en") -> str:
        """The HELP reply: name, contact, frequency, rates notice and opt-out instructions."""
        return self._fill(HELP, locale)

    def stop_text(self, locale: str | None = "en") -> str:
        """The one opt-out confirmation: no marketing content."""
        return self._fill(STOP, locale)

    def welcome_text(self, locale: str | None = "en") -> str:
        """The confirmation sent when consent is confirmed or restored."""
        return self._fill(WELCOME, locale)

    def confirmation_request_text(self, locale: str | None = "en") -> str:
        """The double opt-in request: reply YES to confirm."""
        return self._fill(REQUEST, locale)

    def reminder_text(self, locale: str | None = "en") -> str:
        """The periodic list-audit reminder."""
        return self._fill(REMINDER, locale)


HELP = (
    "{program}: Help at {contact}. {frequency}. Msg & data rates may apply. Reply STOP to cancel."
)
STOP = (
    "{program}: You are unsubscribed and will receive no more messages. "
    "Reply START to resubscribe. Help: {contact}"
)
WELCOME = (
    "{program}: You are subscribed to {topic}. {frequency}. Msg & data rates may apply. "
    "Reply HELP for help, STOP to cancel."
)
REQUEST = (
    "{program}: Reply YES to get {topic} messages. {frequency}. Msg & data rates may apply. "
    "Reply HELP for help, STOP to cancel."
)
REMINDER = (
    "{program}: You're subscribed to {topic}. {frequency}. Msg & data rates may apply. "
    "Reply HELP for help, STOP to unsubscribe."
)
GENERIC_STOP = "You are unsubscribed and will receive no more messages. Reply START to resubscribe."
GENERIC_HELP = "Reply STOP to unsubscribe. Msg & data rates may apply."
GENERIC_WELCOME = "You are subscribed again. Msg & data rates may apply. Reply STOP to cancel."
