"""The values every other module speaks: channels, purposes, messages, reasons and decisions."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import reprlib
import types
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs
import phonenumbers
import pycountry

from . import _enum
from ._memo import blank, set_field
from ._time import as_utc, ensure_aware, zone, zone_name
from .errors import InvalidInputError, InvalidMessageError, InvalidNumberError, RuleError

__all__ = [
    "ALLOWED",
    "Channel",
    "Decision",
    "Message",
    "Purpose",
    "Reason",
    "RecipientFacts",
    "Verdict",
    "allow",
    "defer",
    "deny",
]


class Channel(_enum.Enum):
    """The channel a message travels on."""

    SMS = "sms"
    MMS = "mms"
    VOICE = "voice"
    EMAIL = "email"
    PUSH = "push"
    IN_APP = "in_app"

    @property
    def is_phone(self) -> bool:
        """True for channels addressed to a phone number (SMS, MMS, voice)."""
        return self in _PHONE_CHANNELS


_PHONE_CHANNELS = frozenset({Channel.SMS, Channel.MMS, Channel.VOICE})


class Purpose(_enum.Enum):
    """Why a message is sent; maps to Pinpoint/End User Messaging ``MessageType``.

    ``TRANSACTIONAL`` is ``MessageType="TRANSACTIONAL"``; ``MARKETING`` is ``"PROMOTIONAL"``.
    """

    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"

    @property
    def message_type(self) -> str:
        """The AWS ``MessageType`` value for this purpose."""
        return "TRANSACTIONAL" if self is Purpose.TRANSACTIONAL else "PROMOTIONAL"


class Verdict(_enum.Enum):
    """The outcome of a decision."""

    ALLOW = "allow"
    DEFER = "defer"
    DENY = "deny"


E = TypeVar("E", bound=enum.Enum)


def to_enum(kind: type[E], value: object, error: type[Exception]) -> E:
    """Return ``value`` as a member of ``kind`` (a member or its value), else raise ``error``."""
    if isinstance(value, kind):
        return value
    found = kind._value2member_map_.get(value) if isinstance(value, str) else None
    if found is not None:  # the exact value: a dictionary lookup, not the Enum machinery
        return found  # type: ignore[return-value]
    try:
        return kind(value.lower() if isinstance(value, str) else value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in kind)
        raise error(f"{kind.__name__} must be one of {allowed}, got {value!r}") from None


def enum_converter(kind: type[E], error: type[Exception]) -> Any:
    """Return an attrs converter that accepts a member of ``kind`` or its value."""

    return lambda value: to_enum(kind, value, error)


def _message_purpose(value: object) -> Purpose:
    return to_enum(Purpose, value, InvalidMessageError)


def _message_channel(value: object) -> Channel:
    return to_enum(Channel, value, InvalidMessageError)


def _verdict(value: object) -> Verdict:
    return to_enum(Verdict, value, RuleError)


def _aware_or_none(value: object) -> dt.datetime | None:
    return None if value is None else ensure_aware(value, "not_after")


def _unstorable(value: str, *, nul: bool) -> str | None:
    """What makes ``value`` impossible to store or send, or None: a lone surrogate (not valid
    Unicode, so no store or provider can encode it) or, with ``nul``, a NUL character."""
    if value.isascii():  # the common case: no surrogate possible
        position = value.find("\x00") if nul else -1
    else:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            code = ord(value[error.start])
            return f"holds a lone surrogate (U+{code:04X} at position {error.start})"
        position = value.find("\x00") if nul else -1
    return f"holds a NUL character (at position {position})" if position >= 0 else None


def check_text(
    value: object,
    name: str,
    *,
    optional: bool = False,
    blank: bool = False,
    nul: bool = True,
    error: type[InvalidInputError] = InvalidInputError,
) -> Any:
    """Return ``value`` when it is text the library can store and send, else raise ``error``.

    The one check for text arguments: a ``str`` (or None when ``optional``), not blank unless
    ``blank``, valid Unicode (no lone surrogate) and, unless ``nul`` is False, without NUL.
    """
    if value is None and optional:
        return None
    kind = ("None or " if optional else "") + ("a string" if blank else "a non-empty string")
    if not isinstance(value, str):
        raise error(f"{name} must be {kind}, got {type(value).__name__}")
    if not blank and not value.strip():
        raise error(f"{name} must be {kind}, got {reprlib.repr(value)}")
    problem = _unstorable(value, nul=nul)
    if problem is not None:
        raise error(f"{name} {problem}")
    return value


def _whole(value: object) -> bool:
    return isinstance(value, int) and value >= 0


def check_address(
    value: object, name: str = "number", error: type[InvalidInputError] = InvalidNumberError
) -> str | phonenumbers.PhoneNumber:
    """Return ``value`` when it can be a recipient: a ``phonenumbers.PhoneNumber`` with a
    country code and a national number, or text (checked by :func:`check_text`); else raise
    ``error``.

    The one type check for every number or address argument of the API, so a list, a dict or a
    tuple never reaches a parser or a cache key.
    """
    if isinstance(value, phonenumbers.PhoneNumber):
        if not (_whole(value.country_code) and _whole(value.national_number)):
            raise error(f"{name} is a phonenumbers.PhoneNumber without a country code or number")
        return value
    if not isinstance(value, str):
        raise error(
            f"{name} must be a phone number string, a phonenumbers.PhoneNumber or an address, "
            f"got {type(value).__name__}"
        )
    return check_text(value, name, blank=True, error=error)  # type: ignore[no-any-return]


def iterate(value: object, name: str) -> Iterator[Any]:
    """An iterator over ``value``, or :class:`InvalidInputError` when it is not iterable."""
    try:
        return iter(value)  # type: ignore[call-overload, no-any-return]
    except TypeError:
        raise InvalidInputError(
            f"{name} must be an iterable of messages, got {type(value).__name__}"
        ) from None


def _required_text(_instance: object, attribute: Any, value: Any) -> None:
    check_text(value, attribute.name, error=InvalidMessageError)


def _optional_text(_instance: object, attribute: Any, value: Any) -> None:
    check_text(value, attribute.name, optional=True, error=InvalidMessageError)


def person_id(value: object, error: type[InvalidInputError] = InvalidInputError) -> str | None:
    """A person's id (``Message.person``) as every part of the library keys it: without
    surrounding white space or invisible format characters (zero-width spaces, BOMs), so
    ``" p1"`` is the person ``"p1"``; None stays None. Raises ``error`` for anything else."""
    if value is None:
        return None
    check_text(value, "person", error=error)
    assert isinstance(value, str)
    if not value.isascii():
        value = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    text = value.strip()
    if not text:
        raise error(f"person must be None or a non-empty string, got {value!r}")
    return text


def _message_person(value: object) -> str | None:
    return person_id(value, InvalidMessageError)


def _recipient_address(_instance: object, _attribute: object, value: Any) -> None:
    check_address(value, "to", InvalidMessageError)


def _body(_instance: object, _attribute: object, value: object) -> None:
    check_text(value, "body", blank=True, nul=False, error=InvalidMessageError)


_SPACES = re.compile(r"\s+")


def fingerprint(topic: str, body: str) -> str:
    """Return the default content key: a hash of the topic and the normalised body.

    Normalisation folds case, Unicode compatibility forms and runs of white space, so the same
    text sent twice with cosmetic differences has the same key.
    """
    normal = _SPACES.sub(" ", unicodedata.normalize("NFKC", body).casefold()).strip()
    digest = hashlib.sha256(f"{topic.casefold()}\x00{normal}".encode()).hexdigest()
    return digest[:32]


def _default_key(message: Message) -> str:
    # Runs before the validators: leave type errors and unencodable text to them.
    if isinstance(message.topic, str) and isinstance(message.body, str):
        try:
            return fingerprint(message.topic, message.body)
        except UnicodeEncodeError:
            return "-"
    return "-"


def country_code(value: object) -> str | None:
    """``value`` as an ISO 3166-1 alpha-2 code (any case in, upper case out), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or pycountry.countries.get(alpha_2=value) is None:
        raise InvalidInputError(f"country must be an ISO 3166-1 alpha-2 code, got {value!r}")
    return value.upper()


def zone_name_or_none(value: object) -> str | None:
    """``value`` (an IANA name or a tzinfo naming one) as an IANA name, or None."""
    if value is None:
        return None
    if isinstance(value, str | dt.tzinfo):
        return zone_name(zone(value))
    raise InvalidInputError(f"timezone must be an IANA name or tzinfo, got {value!r}")


def text_or_none(value: object) -> str | None:
    """``value`` when it is None or non-empty text, else :class:`InvalidInputError`."""
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise InvalidInputError(f"expected None or a non-empty string, got {value!r}")


_BARE_STATE_COUNTRIES = ("US", "CA")
"""Where a state written without its country is looked for: the numbering plan whose states
and provinces have laws of their own here (a bare "FL" is Florida)."""


def _is_subdivision(code: str) -> bool:
    return pycountry.subdivisions.get(code=code) is not None  # type: ignore[no-untyped-call]


def subdivision_code(state: str | None, country: str | None) -> str | None:
    """The ISO 3166-2 code ("US-FL") of a state or province written as "FL", "fl" or "US-FL",
    within ``country`` when one is given. Without a country a bare code means the US state or
    Canadian province of that code, when exactly one has it; anything else is refused."""
    if state is None:
        return None
    code = state.strip().upper()
    if "-" in code:
        found = code if _is_subdivision(code) else None
    elif country is not None:
        found = f"{country}-{code}" if _is_subdivision(f"{country}-{code}") else None
    else:
        matches = [f"{c}-{code}" for c in _BARE_STATE_COUNTRIES if _is_subdivision(f"{c}-{code}")]
        if len(matches) > 1:
            raise InvalidInputError(
                f"state {state!r} is ambiguous ({' or '.join(matches)}): give the country "
                f"or write it as {matches[0]!r}"
            )
        if not matches:
            raise InvalidInputError(
                f"state {state!r} is not a US state or Canadian province code: give the "
                "country, or write it as an ISO 3166-2 code such as 'US-FL'"
            )
        found = matches[0]
    if found is None:
        raise InvalidInputError(f"state {state!r} is not an ISO 3166-2 subdivision")
    return found


@attrs.frozen(kw_only=True)
class RecipientFacts:
    """What the sender knows about one message's recipient, given with the message: the time
    ``zone`` (IANA name or tzinfo), ``country`` (ISO alpha-2), ``state`` ("FL", "US-FL"; a bare
    code without a country is a US state or Canadian province), ``postal_code`` and ``locale``.

    Facts only add: the zone joins the number's candidate zones and the profile's, the
    residence adds jurisdictions. They never open a window the number or the profile keeps
    closed, and never replace a zone, whatever ``trust_profile_zone`` says.
    """

    zone: str | None = attrs.field(default=None, converter=zone_name_or_none)
    country: str | None = attrs.field(default=None, converter=country_code)
    state: str | None = attrs.field(default=None, converter=text_or_none)
    postal_code: str | None = attrs.field(default=None, converter=text_or_none)
    locale: str | None = attrs.field(default=None, converter=text_or_none)

    def __attrs_post_init__(self) -> None:
        self.subdivision()  # validates

    def subdivision(self) -> str | None:
        """The declared state or province as an ISO 3166-2 code ("US-FL"), or None."""
        return subdivision_code(self.state, self.country)


_FACT_NAMES = frozenset(field.name for field in attrs.fields(RecipientFacts))


def _recipient_facts(value: object) -> RecipientFacts | None:
    if value is None or isinstance(value, RecipientFacts):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(str(key) for key in value if key not in _FACT_NAMES)
        if unknown:
            allowed = ", ".join(sorted(_FACT_NAMES))
            raise InvalidMessageError(
                f"recipient facts take {allowed}; got unknown {', '.join(unknown)}"
            )
        try:
            return RecipientFacts(**value)
        except InvalidInputError as error:
            raise InvalidMessageError(f"recipient: {error}") from None
    raise InvalidMessageError(
        f"recipient must be a smspolicy.RecipientFacts, a mapping of its fields or None, "
        f"got {type(value).__name__}"
    )


@attrs.frozen
class Message:
    """One message someone wants to send, as the policy sees it.

    ``to`` is an E.164 string (or any parseable form, or a ``phonenumbers.PhoneNumber``) for
    SMS, MMS and voice, and an address for the other channels. ``content_key`` defaults to a
    fingerprint of the topic and normalised body. A deferral past ``not_after`` becomes a deny:
    stale content is never sent. ``recipient`` carries what the sender knows of this
    recipient (:class:`RecipientFacts`, or a mapping of its fields): it adds candidate zones and
    jurisdictions to the number's and the profile's, never removes any.
    """

    to: str | phonenumbers.PhoneNumber = attrs.field(validator=_recipient_address)
    topic: str = attrs.field(validator=_required_text)
    purpose: Purpose = attrs.field(converter=_message_purpose)
    channel: Channel = attrs.field(default=Channel.SMS, converter=_message_channel)
    body: str = attrs.field(default="", validator=_body)
    brand: str | None = attrs.field(default=None, validator=_optional_text)
    sender: str | None = attrs.field(default=None, validator=_optional_text)
    person: str | None = attrs.field(default=None, converter=_message_person)
    content_key: str = attrs.field(
        default=attrs.Factory(lambda self: _default_key(self), takes_self=True),
        validator=_required_text,
    )
    not_after: dt.datetime | None = attrs.field(default=None, converter=_aware_or_none)
    locale: str | None = attrs.field(default=None, validator=_optional_text)
    recipient: RecipientFacts | None = attrs.field(default=None, converter=_recipient_facts)

    @property
    def address(self) -> str:
        """The recipient as text: E.164 for a parsed number, the address as given otherwise."""
        if isinstance(self.to, phonenumbers.PhoneNumber):
            return phonenumbers.format_number(self.to, phonenumbers.PhoneNumberFormat.E164)
        return self.to


def _freeze_mapping(value: Mapping[str, object] | None) -> Mapping[str, object]:
    if value is None:
        return types.MappingProxyType({})
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"Reason.data must be a mapping, got {type(value).__name__}")
    return types.MappingProxyType(dict(value))


@attrs.frozen
class Reason:
    """Why a rule did not simply allow: a stable dotted ``code``, the rule's name, one English
    sentence, the legal citation where one applies, and machine-readable details."""

    code: str
    rule: str
    message: str
    citation: str | None = None
    data: Mapping[str, object] = attrs.field(
        factory=dict, converter=_freeze_mapping, eq=False, hash=False
    )


def _reasons(value: Iterable[Reason]) -> tuple[Reason, ...]:
    reasons = tuple(value)
    for reason in reasons:
        if not isinstance(reason, Reason):
            raise RuleError(f"a Decision's reasons must be Reason values, got {reason!r}")
    return reasons


def _until(value: object) -> dt.datetime | None:
    # A rule's deferral is computed from a checked instant: it may lie a little past the range
    # the API accepts as input.
    return None if value is None else as_utc(value, "until")


@attrs.frozen
class Decision:
    """The verdict for one message: ALLOW, DEFER until an exact UTC instant, or DENY.

    ``until`` is set exactly when the verdict is DEFER. ``reasons`` lists every rule that did not
    allow, in policy order; an ALLOW may carry informational reasons. ``zone`` is the recipient
    time zone used to show ``until`` in :meth:`explain`, when one is known.
    """

    verdict: Verdict = attrs.field(converter=_verdict)
    until: dt.datetime | None = attrs.field(default=None, converter=_until)
    reasons: tuple[Reason, ...] = attrs.field(default=(), converter=_reasons)
    zone: str | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if (self.verdict is Verdict.DEFER) != (self.until is not None):
            raise RuleError("a Decision has `until` exactly when its verdict is DEFER")

    @property
    def allowed(self) -> bool:
        """True when the message may be sent now."""
        return self.verdict is Verdict.ALLOW

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes, in order."""
        return tuple(reason.code for reason in self.reasons)

    def explain(self, locale: str = "en") -> str:
        """Say in words what was decided and why, in ``locale`` ("en", "es", "fr"...)."""
        from .i18n import explain

        return explain(self, locale)


def allow(*reasons: Reason) -> Decision:
    """An ALLOW, optionally with informational reasons."""
    if not reasons:
        return _ALLOW  # decisions are immutable: the plain ALLOW is shared
    return Decision(Verdict.ALLOW, None, reasons)


def defer(until: dt.datetime, *reasons: Reason) -> Decision:
    """A DEFER until the aware instant ``until``, with the reasons."""
    return Decision(Verdict.DEFER, until, reasons)


def deny(*reasons: Reason) -> Decision:
    """A DENY with the reasons."""
    return Decision(Verdict.DENY, None, reasons)


def checked_parts(
    verdict: Verdict, until: dt.datetime | None, reasons: tuple[Reason, ...], zone: str | None
) -> Decision:
    """A Decision made from parts that come from checked Decisions (a zone added, a deferral
    moved to an instant another rule deferred to): the converters have nothing left to check,
    and the engine makes several of these per deferral."""
    decision = blank(Decision)
    for name, value in (("verdict", verdict), ("until", until), ("reasons", reasons)):
        set_field(decision, name, value)
    set_field(decision, "zone", zone)
    return decision


_ALLOW = Decision(Verdict.ALLOW)

ALLOWED: Decision = _ALLOW
"""The plain ALLOW, shared (decisions are immutable): what ``allow()`` returns. Rules on the
hot path return it by name, which spares a call per rule per decision."""
