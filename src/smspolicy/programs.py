"""Programs: what a recipient signs up for, and the texts that go with it (CTIA)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from . import i18n
from ._values import Purpose, to_enum
from .errors import ConfigurationError
from .keywords import InboundKind, classify, normalise

__all__ = ["Frequency", "Program", "check_keywords", "parse_frequency"]

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


def _optional_text(_instance: object, attribute: Any, value: Any) -> None:
    if value is not None:
        _required_text(_instance, attribute, value)


def _senders(value: Any) -> tuple[str, ...]:
    if (
        isinstance(value, str)
        or not isinstance(value, Iterable)
        or not all(isinstance(s, str) and s for s in value)
    ):
        raise ConfigurationError(f"senders must be a list of origination identities: {value!r}")
    return tuple(value)


_ACTIONS = (InboundKind.OPT_OUT, InboundKind.OPT_IN, InboundKind.HELP, InboundKind.CONFIRM)
_MAX_KEYWORD = 64


def _keywords(value: object) -> tuple[tuple[InboundKind, tuple[str, ...]], ...]:
    if isinstance(value, tuple):  # already converted (attrs.evolve passes it back)
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"keywords must map an action (opt_out, opt_in, help, confirm) to words, got {value!r}"
        )
    table: dict[str, InboundKind] = {}
    pairs: list[tuple[InboundKind, tuple[str, ...]]] = []
    for key, words in value.items():
        action = to_enum(InboundKind, key, ConfigurationError)
        if action not in _ACTIONS:
            raise ConfigurationError(
                f"keywords may name opt_out, opt_in, help or confirm, not {action.value!r}"
            )
        if isinstance(words, str) or not isinstance(words, Iterable):
            raise ConfigurationError(
                f"keywords[{action.value!r}] must be a list of words, got {words!r}"
            )
        kept = tuple(words)
        for word in kept:
            _check_word(action, word, table)
        pairs.append((action, kept))
    return tuple(sorted(pairs, key=lambda pair: _ACTIONS.index(pair[0])))


def _check_word(action: InboundKind, word: object, table: dict[str, InboundKind]) -> None:
    if not isinstance(word, str) or not normalise(word) or len(word) > _MAX_KEYWORD:
        raise ConfigurationError(
            f"keyword {word!r} for {action.value} must be a word or short phrase "
            f"(at most {_MAX_KEYWORD} characters)"
        )
    key = normalise(word)
    if table.get(key, action) is not action:
        raise ConfigurationError(
            f"keyword {word!r} is given for both {table[key].value} and {action.value}"
        )
    built_in = classify(word).kind
    if built_in not in (InboundKind.OTHER, action):
        raise ConfigurationError(
            f"keyword {word!r} for {action.value} collides with the built-in words: "
            f"a reply {word!r} already means {built_in.value}"
        )
    table[key] = action


def check_keywords(programs: Iterable[Program]) -> dict[str, InboundKind]:
    """The programs' own words (normalised) and their actions, checked together: a word that
    two programs give to different actions raises :class:`ConfigurationError`."""
    table: dict[str, InboundKind] = {}
    owner: dict[str, str] = {}
    for program in programs:
        for word, action in program.keyword_table().items():
            if table.get(word, action) is not action:
                raise ConfigurationError(
                    f"keyword {word!r} means {table[word].value} for program {owner[word]!r} "
                    f"and {action.value} for program {program.name!r}"
                )
            table[word], owner[word] = action, program.name
    return table


_JURISDICTION = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")


def _registrations(value: object) -> tuple[tuple[str, str], ...]:
    if isinstance(value, tuple):  # already converted (attrs.evolve passes it back)
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            "registrations must map a jurisdiction code to a registration number or exemption, "
            f'e.g. {{"US-TX": "2025-123456"}}, got {value!r}'
        )
    pairs = []
    for code, entry in value.items():
        if not isinstance(code, str) or not _JURISDICTION.match(code):
            raise ConfigurationError(
                f"registrations: {code!r} is not a jurisdiction code like 'US-TX'"
            )
        if not isinstance(entry, str) or not entry.strip():
            raise ConfigurationError(
                f"registrations[{code!r}] must be the registration number or the exemption "
                f"relied on, as non-empty text, got {entry!r}"
            )
        pairs.append((code, entry.strip()))
    return tuple(sorted(pairs))


def _frequency(value: object) -> Frequency:
    return value if isinstance(value, Frequency) else parse_frequency(value)  # type: ignore[arg-type]


@attrs.frozen
class Program:
    """A messaging program: one opt-in, one brand, one declared frequency (CTIA Messaging
    Principles). Its texts answer HELP, STOP, confirmations and reminders; its frequency
    ("2 msgs/month") becomes a cap."""

    name: str = attrs.field(validator=_required_text)
    brand: str = attrs.field(validator=_required_text)
    topic: str | None = attrs.field(default=None, validator=_optional_text, kw_only=True)
    purpose: Purpose = attrs.field(default=Purpose.MARKETING, converter=_purpose, kw_only=True)
    senders: tuple[str, ...] = attrs.field(default=(), converter=_senders, kw_only=True)
    help_contact: str = attrs.field(validator=_required_text, kw_only=True)
    frequency: Frequency = attrs.field(converter=_frequency, kw_only=True)
    keywords: tuple[tuple[InboundKind, tuple[str, ...]], ...] = attrs.field(
        factory=dict, converter=_keywords, kw_only=True
    )
    """The program's own reply words per action (``{"opt_out": ["NO"]}``: an Australian
    program's refusal word, a brand word for HELP...). They count when they are the whole
    reply; a word that the built-in lists, or another action, already claims is refused with
    :class:`ConfigurationError`."""
    legal_name: str | None = attrs.field(default=None, validator=_optional_text, kw_only=True)
    """The seller's legal name, when it differs from the brand (64.1200(d)(4), CASL s.6(2))."""
    postal_address: str | None = attrs.field(default=None, validator=_optional_text, kw_only=True)
    """The seller's mailing address (CASL, Japan's Act art. 4, CAN-SPAM)."""
    contact: str | None = attrs.field(default=None, validator=_optional_text, kw_only=True)
    """A way to reach the seller: a web page, an email address or a telephone number (CASL
    asks for one; a link to a page with the name and address serves Japan and CASL in a text)."""
    registrations: tuple[tuple[str, str], ...] = attrs.field(
        factory=dict, converter=_registrations, kw_only=True
    )
    """The seller's registrations by jurisdiction: the registration number, or the exemption
    relied on (``{"US-TX": "2025-123456"}``, ``{"US-TX": "exempt: Bus. & Com. Code §
    302.058"}``). Texas requires sellers of telephone solicitations, texts included since
    SB 140, to register with the Secretary of State unless exempt (Bus. & Com. Code §
    302.101); marketing to Texas without a declaration carries a warning."""

    def registration(self, jurisdiction: str) -> str | None:
        """The registration number or exemption declared for ``jurisdiction`` ("US-TX")."""
        return dict(self.registrations).get(jurisdiction)

    def sender_details(self) -> str:
        """The identification line for commercial messages: legal name (or brand), postal
        address and contact, those that are declared, e.g. "Acme Corp, 1 Main St, Toronto ON;
        acme.example/contact"."""
        who = ", ".join(p for p in (self.legal_name or self.brand, self.postal_address) if p)
        return f"{who}; {self.contact}" if self.contact else who

    def keyword_table(self) -> dict[str, InboundKind]:
        """The program's own words, normalised, and their actions."""
        return {normalise(word): action for action, words in self.keywords for word in words}

    @property
    def topic_name(self) -> str:
        """The topic this program's consent covers (its name when no topic is set)."""
        return self.topic or self.name

    def _fill(self, template: str, locale: str | None) -> str:
        return i18n.reply_text(template, locale).format(
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

    def renewal_text(self, locale: str | None = "en") -> str:
        """The reply to a YES that came after the double opt-in request expired: a fresh
        request."""
        return self._fill(RENEWAL, locale)

    def clarification_text(self, locale: str | None = "en") -> str:
        """The one clarification text after an unclear reply: no marketing content
        (47 CFR 64.1200(a)(10))."""
        return self._fill(CLARIFY, locale)

    def kept_text(self, locale: str | None = "en") -> str:
        """The reply when the recipient answers a clarification by keeping their
        subscription."""
        return self._fill(KEPT, locale)


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
RENEWAL = (
    "{program}: Your earlier request expired. Reply YES to get {topic} messages. {frequency}. "
    "Msg & data rates may apply. Reply HELP for help, STOP to cancel."
)
CLARIFY = (
    "{program}: Do you want to stop all messages from {brand}? Reply STOP to unsubscribe or "
    "YES to keep them. Help: {contact}"
)
KEPT = "{program}: Thanks, you will keep getting our messages. Reply STOP to unsubscribe."
GENERIC_STOP = "You are unsubscribed and will receive no more messages. Reply START to resubscribe."
GENERIC_HELP = "Reply STOP to unsubscribe. Msg & data rates may apply."
GENERIC_WELCOME = "You are subscribed again. Msg & data rates may apply. Reply STOP to cancel."
GENERIC_RENEWAL = (
    "Your earlier request expired. Reply YES to confirm it again. Msg & data rates may apply. "
    "Reply STOP to cancel."
)
GENERIC_CLARIFY = "Do you want to stop all messages? Reply STOP to unsubscribe or YES to keep them."
GENERIC_KEPT = "Thanks, you will keep getting our messages. Reply STOP to unsubscribe."
