"""Who a message goes to: parsed number, line type, candidate zones and jurisdictions."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import attrs
import cachetools
import phonenumbers
import pycountry
import pytz
from phonenumbers import geodata, phonenumberutil
from phonenumbers import timezone as phone_timezone
from phonenumbers.tzdata import TIMEZONE_DATA

from . import _enum
from ._memo import CACHES, lru, set_field
from ._values import (
    Channel,
    RecipientFacts,
    check_address,
    country_code,
    subdivision_code,
    text_or_none,
    to_enum,
    zone_name_or_none,
)
from .errors import (
    ConfigurationError,
    InvalidAddressError,
    InvalidInputError,
    InvalidNumberError,
)

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "OUTLYING_ZONES",
    "STAND_IN_JURISDICTIONS",
    "TERRITORIES",
    "LineType",
    "LineTypeLookup",
    "Profile",
    "Recipient",
    "Resolver",
    "build_nanp_zone_data",
    "nanp_area_zones",
    "normalise_address",
    "normalise_domain",
    "normalise_email",
    "normalise_push_token",
    "parse_number",
    "principal_zones",
    "stop_key",
]

DEFAULT_CACHE_SIZE = 100_000
"""How many resolved numbers a :class:`Resolver` keeps by default (least recently used go
first): about 520 bytes each, some 50 MiB when full (benchmarks/README.md, B5)."""

_MAX_NUMBER_LENGTH = 64


class LineType(_enum.Enum):
    """What kind of line a number is, from phonenumbers or an external lookup."""

    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"

    @property
    def geographic(self) -> bool:
        """True when the number says where its user is (fixed and mobile lines)."""
        return self in _GEOGRAPHIC


_GEOGRAPHIC = frozenset({LineType.MOBILE, LineType.FIXED_LINE, LineType.FIXED_LINE_OR_MOBILE})

_FROM_PHONENUMBERS = {
    phonenumbers.PhoneNumberType.FIXED_LINE: LineType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE: LineType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: LineType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE: LineType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE: LineType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST: LineType.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP: LineType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: LineType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.PAGER: LineType.PAGER,
    phonenumbers.PhoneNumberType.UAN: LineType.UAN,
    phonenumbers.PhoneNumberType.VOICEMAIL: LineType.VOICEMAIL,
}


@runtime_checkable
class LineTypeLookup(Protocol):
    """An external source of line types (e.g. Pinpoint ``PhoneNumberValidate``).

    Return None when the source does not know the number. Raise
    :class:`smspolicy.errors.LineTypeLookupError` when the source fails: the engine then denies.
    """

    def line_type(self, e164: str) -> LineType | None:
        """The line type of the E.164 number, or None when unknown."""
        ...


def _clean(text: str) -> str:
    # Zero-width spaces, joiners, BOMs and bidi marks are format characters (category Cf):
    # invisible in a form field, fatal to a parser.
    if text.isascii():  # every format character is outside ASCII
        return text.strip()
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


def parse_number(
    value: str | phonenumbers.PhoneNumber, default_region: str | None = None
) -> phonenumbers.PhoneNumber:
    """Parse a phone number in any common written form and check that it can exist.

    Raises :class:`smspolicy.errors.InvalidNumberError` for anything that is not a valid number.
    """
    return _parse_checked(value, default_region)[0]


# phonenumbers' is_valid_number_for_region and number_type both end in this private helper, and
# number_type finds the region again first (the costliest step); calling the helper once gives
# validity and type together. Should a release drop it, the public calls are used instead
# (tests check that both ways agree).
_TYPE_HELPER = getattr(phonenumberutil, "_number_type_helper", None)


def _valid_type(number: phonenumbers.PhoneNumber, region: str | None) -> int | None:
    """The number's type (a ``PhoneNumberType``) when it is valid for ``region``, else None."""
    if region is None or number.country_code is None:
        return None
    if _TYPE_HELPER is None:
        if not phonenumbers.is_valid_number_for_region(number, region):
            return None
        return int(phonenumbers.number_type(number))
    code = number.country_code
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None or (
        region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
        and code != phonenumbers.country_code_for_valid_region(region)
    ):
        return None
    kind = int(_TYPE_HELPER(phonenumbers.national_significant_number(number), metadata))
    return None if kind == phonenumbers.PhoneNumberType.UNKNOWN else kind


def _region_and_type(number: phonenumbers.PhoneNumber) -> tuple[str | None, int | None]:
    """The number's region (``phonenumbers.region_code_for_number``) and its type when it is
    valid for that region (:func:`_valid_type`). A calling code shared by several regions (+1:
    the US, Canada and 23 others) is matched region by region on their number types, so the
    type of the region that matched is already known: finding it again for validity would
    repeat the costliest check of a +1 number."""
    code = number.country_code
    regions = None if code is None else phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    if _TYPE_HELPER is None or regions is None or len(regions) == 1:
        region = phonenumbers.region_code_for_number(number)
        return region, _valid_type(number, region)
    national = phonenumbers.national_significant_number(number)
    for region in regions:  # as phonenumbers' _region_code_for_number_from_list
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re.match(metadata.leading_digits, national):
                return region, _valid_type(number, region)
            continue
        kind = int(_TYPE_HELPER(national, metadata))
        if kind != phonenumbers.PhoneNumberType.UNKNOWN:
            # _valid_type would read this region's metadata and find this type again.
            return region, kind
    return None, None


_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")


def _parse_text(text: str, default_region: str | None) -> phonenumbers.PhoneNumber:
    """``phonenumbers.parse``, with a shortcut for canonical +1 numbers (most of a US list): for
    them parse builds exactly this, as no national prefix can be stripped before a 2-9 digit
    (the tests compare the two)."""
    if _NANP_E164.fullmatch(text):
        return phonenumbers.PhoneNumber(country_code=1, national_number=int(text[2:]))
    return phonenumbers.parse(text, default_region)


def _parse_checked(
    value: str | phonenumbers.PhoneNumber, default_region: str | None
) -> tuple[phonenumbers.PhoneNumber, str, int]:
    """The parsed number, its region and its type; the region is found once and reused for
    validity and type (is_valid_number and number_type would each find it again)."""
    if isinstance(value, phonenumbers.PhoneNumber):
        number = value
    elif isinstance(value, str):
        text = _clean(value)
        if not text:
            raise InvalidNumberError("the phone number is empty")
        if len(text) > _MAX_NUMBER_LENGTH:
            raise InvalidNumberError(
                f"the phone number is {len(text)} characters long (at most {_MAX_NUMBER_LENGTH})"
            )
        try:
            number = _parse_text(text, default_region)
        except phonenumbers.NumberParseException as error:
            raise InvalidNumberError(f"{text!r} is not a phone number: {error._msg}") from None
    else:
        raise InvalidNumberError(
            f"a phone number must be a string or phonenumbers.PhoneNumber, "
            f"got {type(value).__name__}"
        )
    region, kind = _region_and_type(number)
    if region is None or kind is None:
        shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        raise InvalidNumberError(f"{shown} is not a valid phone number")
    return number, region, kind


_MAX_LOCAL = 64
_MAX_DOMAIN = 253
_MAX_TOKEN = 4096
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_WHITESPACE = re.compile(r"\s")
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,"]')
"""RFC 5322's specials, which a bare local part cannot hold: "a@x.example,b@y.example" is two
addresses, "Al <b@x.example>" a display name, "(c)b@x.example" a comment. A quoted local part
is refused with them (it is rare, and one mailbox must not be read as another)."""


def normalise_email(value: object) -> str:
    """The ledger's form of an email address: the local part kept exactly as given (RFC 5321
    lets a server tell ``Alice`` from ``alice``), the domain case-folded and IDNA-encoded
    (``Bücher.Example`` becomes ``xn--bcher-kva.example``). Surrounding white space and
    invisible format characters are dropped.

    Raises :class:`smspolicy.errors.InvalidAddressError` for anything that is not one address
    (no ``@``, an empty part, white space or control characters inside, a domain without a dot
    or with a label that is not a host name)."""
    if not isinstance(value, str):
        raise InvalidAddressError(f"an email address must be a string, got {type(value).__name__}")
    return _email_of(value)


@lru(65536)  # a decision reads its address two or three times, and a list reads it again
def _email_of(value: str) -> str:
    text = _clean(value)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddressError(f"{text!r} is not an email address (it needs local@domain)")
    if _WHITESPACE.search(text) or any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidAddressError(
            f"{text!r} is not an email address: it holds white space or control characters"
        )
    special = _SPECIALS.search(local)
    if special is not None:
        raise InvalidAddressError(
            f"{text!r} is not one email address: its local part holds {special.group()!r} "
            "(a list, a display name or a comment)"
        )
    if len(local.encode("utf-8", "surrogatepass")) > _MAX_LOCAL:
        raise InvalidAddressError(f"{text!r}: the local part is longer than {_MAX_LOCAL} bytes")
    try:
        ascii_domain = normalise_domain(domain)
    except InvalidAddressError as error:
        raise InvalidAddressError(f"{text!r}: {error}") from None
    return f"{local}@{ascii_domain}"


def normalise_domain(domain: str) -> str:
    """An email domain as the ledger keys it: case-folded, IDNA-encoded, without a trailing
    dot. Raises :class:`smspolicy.errors.InvalidAddressError` unless it is a host name with a
    dot (letters, digits and hyphens in each label)."""
    try:
        ascii_domain = domain.strip().rstrip(".").encode("idna").decode("ascii").casefold()
    except UnicodeError as error:
        raise InvalidAddressError(f"the domain {domain!r} is not a valid name ({error})") from None
    labels = ascii_domain.split(".")
    if (
        len(labels) < 2
        or len(ascii_domain) > _MAX_DOMAIN
        or not all(_LABEL.fullmatch(label) for label in labels)
    ):
        raise InvalidAddressError(
            f"the domain {domain!r} is not a host name with a dot "
            "(letters, digits and hyphens in each label)"
        )
    return ascii_domain


def stop_key(address: str) -> str | None:
    """The key that every spelling of a normalised email address's local part shares (case-
    and width-folded: ``Alice``, ``ALICE`` and a full-width ``\uff21lice`` all give ``alice``),
    or None when ``address`` is not an email address or is that key already. Consent stays
    with the local part as given, but a revocation or hold is copied under this key, so it
    stops every spelling of the mailbox (a stop fails closed)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or address.startswith("person: "):
        return None
    folded = f"{unicodedata.normalize('NFKC', local).casefold()}@{domain}"
    return None if folded == address else folded


def normalise_push_token(value: object) -> str:
    """The ledger's form of a push endpoint or device token: opaque, so kept as given but for
    surrounding white space. Raises :class:`smspolicy.errors.InvalidAddressError` when it is
    empty, holds white space or control characters inside, or is longer than 4096 characters."""
    if not isinstance(value, str):
        raise InvalidAddressError(f"a push token must be a string, got {type(value).__name__}")
    text = _clean(value)
    if not text:
        raise InvalidAddressError("the push token is empty")
    if _WHITESPACE.search(text) or any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidAddressError(
            f"push token {text[:40]!r} holds white space or control characters inside"
        )
    if len(text) > _MAX_TOKEN:
        raise InvalidAddressError(
            f"the push token is {len(text)} characters (at most {_MAX_TOKEN})"
        )
    return text


def address_channel(value: object, channel: object = None) -> Channel | None:
    """The channel an address belongs to: ``channel`` when given (a :class:`Channel` or its
    value), else email when the text holds an ``@``, else None (a phone number)."""
    if channel is not None:
        return to_enum(Channel, channel, InvalidInputError)
    if isinstance(value, str) and "@" in value:
        return Channel.EMAIL
    return None


def normalise_address(
    value: str | phonenumbers.PhoneNumber,
    channel: Channel | str | None = None,
    default_region: str | None = None,
) -> str:
    """The ledger's form of an address on ``channel``: E.164 for SMS, MMS and voice (and for
    no channel, unless the text holds an ``@``: then it is an email address), the normalised
    email address for email (:func:`normalise_email`), the token for push and in-app
    (:func:`normalise_push_token`)."""
    kind = address_channel(value, channel)
    if kind is Channel.EMAIL:
        return normalise_email(value)
    if kind is Channel.PUSH or kind is Channel.IN_APP:
        return normalise_push_token(value)
    number = parse_number(check_address(value), default_region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@attrs.frozen(kw_only=True)
class Profile:
    """Facts the sender knows about a recipient, beyond the number itself.

    ``timezone`` is the recipient's known zone: it joins the number's candidate zones (it
    replaces them only with ``Resolver(trust_profile_zone=True)``); ``country`` (ISO alpha-2)
    and ``state`` ("FL" or "US-FL") declare residence, which adds that jurisdiction to the
    number's own. A bare state without a country ("FL") is the US state or Canadian province
    of that code; one that is neither is refused.
    """

    timezone: str | None = attrs.field(default=None, converter=zone_name_or_none)
    country: str | None = attrs.field(default=None, converter=country_code)
    state: str | None = attrs.field(default=None, converter=text_or_none)
    postal_code: str | None = attrs.field(default=None, converter=text_or_none)
    locale: str | None = attrs.field(default=None, converter=text_or_none)

    def __attrs_post_init__(self) -> None:
        self.subdivision()  # validates

    def subdivision(self) -> str | None:
        """The declared state or province as an ISO 3166-2 code ("US-FL"), or None."""
        return subdivision_code(self.state, self.country)


@attrs.frozen
class Recipient:
    """A resolved recipient: one per number, cached by the engine.

    ``zones`` are the candidate IANA zones (empty when unknown): legal windows hold in every one
    of them. ``principal_zones`` are the zones a best-practice window uses (None: every
    candidate): the candidates of the number's own country without its sparsely populated
    outlying zones, plus the profile's zone. ``jurisdictions`` are the candidate ISO codes
    ("US", "US-FL", "CA-ON"...) whose rules may apply.
    """

    address: str
    valid: bool
    e164: str | None = None
    region: str | None = None
    line_type: LineType = LineType.UNKNOWN
    zones: tuple[str, ...] = ()
    jurisdictions: frozenset[str] = frozenset()
    zone_source: str = "unknown"
    number: phonenumbers.PhoneNumber | None = attrs.field(default=None, eq=False, repr=False)
    principal_zones: tuple[str, ...] | None = None

    @property
    def zone_known(self) -> bool:
        """True when at least one candidate zone is known."""
        return bool(self.zones)


_NANP_SUBDIVISION_ALIASES = {
    "British Colombia": ("CA-BC",),
    "Washington State": ("US-WA",),
    "Washington D.C.": ("US-DC",),
}


@functools.cache  # a data table loaded once, not an answer: kept with caches off
def _subdivision_names() -> Mapping[str, str]:
    names: dict[str, str] = {}
    for country in ("US", "CA"):
        for subdivision in pycountry.subdivisions.get(  # type: ignore[no-untyped-call]
            country_code=country
        ):
            names[subdivision.name] = subdivision.code
    return names


def _subdivisions_for_description(description: str) -> tuple[str, ...]:
    if description in _NANP_SUBDIVISION_ALIASES:
        return _NANP_SUBDIVISION_ALIASES[description]
    names = _subdivision_names()
    codes: list[str] = []
    for part in description.split("/"):
        part = part.strip()
        if part in names:
            codes.append(names[part])
        elif ", " in part:  # "Chicago, IL", "Toronto, ON"
            suffix = part.rsplit(", ", 1)[1]
            code = next((c for c in (f"US-{suffix}", f"CA-{suffix}") if c in names.values()), None)
            if code:
                codes.append(code)
    return tuple(codes)


@functools.cache  # a data table loaded once, not an answer: kept with caches off
def nanp_area_codes() -> Mapping[str, tuple[str, ...]]:
    """Map each NANP area code ("850") to the US states / Canadian provinces it serves.

    Built from phonenumbers' own geocoding data: the statutes presume residence from the area
    code, and phonenumbers is the maintained source of which area code is where. An area code
    without a description of its own takes every subdivision its exchanges are described in.
    """
    own: dict[str, tuple[str, ...]] = {}
    from_exchanges: dict[str, set[str]] = {}
    for prefix, descriptions in geodata.GEOCODE_DATA.items():
        if not prefix.startswith("1") or len(prefix) < 4 or "en" not in descriptions:
            continue
        codes = _subdivisions_for_description(descriptions["en"])
        if not codes:
            continue
        if len(prefix) == 4:
            own[prefix[1:]] = codes
        else:
            from_exchanges.setdefault(prefix[1:4], set()).update(codes)
    table = {area: tuple(sorted(codes)) for area, codes in from_exchanges.items()}
    table.update(own)
    return table


TERRITORIES: Mapping[str, str] = {"AS": "US", "GU": "US", "MP": "US", "PR": "US", "VI": "US"}
"""Regions inside another country's law, by region: the US territories are within the
Communications Act's reach (47 U.S.C. 153), so their numbers are US numbers too and every US
rule applies to them, as to their own code and the US subdivision ("US-PR")."""

MEMBER_STATE_REGIONS: Mapping[str, str] = {
    "AX": "FI",
    "GF": "FR",
    "GP": "FR",
    "MQ": "FR",
    "RE": "FR",
    "YT": "FR",
}
"""Regions with their own code in the numbering plan that are part of an EU member state, so
its law and the EU's apply: France's overseas departments (TFEU art. 349, 355(1)) and Aland
(Finland)."""

STAND_IN_JURISDICTIONS: Mapping[str, str] = {"GG": "GB", "IM": "GB", "JE": "GB"}
"""Regions whose own laws are not encoded yet, and the jurisdiction whose rules stand in for
them meanwhile: the Crown dependencies (Guernsey, the Isle of Man, Jersey) have PECR-like laws
of their own (UNCONF) and get the UK's rules until those are encoded; reasons say so."""

OUTLYING_ZONES = frozenset({"Australia/Eucla", "Australia/Lord_Howe", "Pacific/Chatham"})
"""Zones of a few hundred people each (Eucla, Lord Howe Island, the Chatham Islands) that
phonenumbers gives every mobile of their country: a best-practice window leaves them out of a
recipient's principal zones unless the profile names one. Legal windows keep them."""

_AREA_PREFIX = 4  # "1" + area code: phonenumbers' NANP time-zone keys are 4 to 7 digits long


NanpZoneData = tuple[Mapping[str, tuple[str, ...]], frozenset[str]]


@functools.cache  # a data table loaded once, not an answer: kept with caches off
def _nanp_zone_data() -> NanpZoneData:
    """:func:`build_nanp_zone_data` of phonenumbers' data, built once."""
    return build_nanp_zone_data(TIMEZONE_DATA)


def build_nanp_zone_data(data: Mapping[str, tuple[str, ...]]) -> NanpZoneData:
    """Every area code's union of zones, and the prefixes that cover their exchanges: those
    whose more specific entries (exchanges, blocks of exchanges) all stay within their zones.

    phonenumbers' keys are compressed: a shorter prefix ("1850", "12085") holds the zone of most
    of its exchanges and longer ones the exceptions, so an exchange missing from the data says
    nothing about it, unless no exchange under its prefix differs from the prefix."""
    entries = {p: frozenset(z) for p, z in data.items() if p[:1] == "1"}
    entries = {p: z for p, z in entries.items() if len(p) >= _AREA_PREFIX}
    found: dict[str, set[str]] = {}
    covering = set(entries)
    for prefix, zones in entries.items():
        found.setdefault(prefix[1:_AREA_PREFIX], set()).update(zones)
        for length in range(_AREA_PREFIX, len(prefix)):
            shorter = entries.get(prefix[:length])
            if shorter is not None and not zones <= shorter:
                covering.discard(prefix[:length])
    unions = {
        area: tuple(sorted(z for z in zones if z != phone_timezone.UNKNOWN_TIMEZONE))
        for area, zones in found.items()
    }
    return unions, frozenset(covering)


def nanp_area_zones() -> Mapping[str, tuple[str, ...]]:
    """Map each NANP area code ("850") to every zone any of its exchanges maps to (sorted).

    Built once from phonenumbers' own time-zone data, and the candidate zones of a number whose
    exchange has no entry of its own: phonenumbers falls back to the area code's zone, narrower
    than its exchanges' in split area codes (850-555 would be New York only, though the Florida
    panhandle is Central; 928 would miss the Navajo Nation's Denver).
    """
    return _nanp_zone_data()[0]


def _nanp_zones(number: phonenumbers.PhoneNumber) -> tuple[str, ...] | None:
    """The zones of a NANP number: its exchange's entry (or that of a block of exchanges none
    of which differs), else the union of its area code's (None when phonenumbers knows
    nothing of the area code). Every line type is placed by its area code: mobiles of the
    territories and the Caribbean too, which phonenumbers would give all 42 NANP zones."""
    digits = f"1{number.national_number}"
    unions, covering = _nanp_zone_data()
    for length in range(len(digits), _AREA_PREFIX - 1, -1):
        prefix = digits[:length]
        if prefix in covering:
            return tuple(TIMEZONE_DATA[prefix])
        if prefix in TIMEZONE_DATA:
            break
    return unions.get(digits[1:_AREA_PREFIX])


@attrs.frozen
class _NumberFacts:
    e164: str
    region: str | None
    line_type: LineType
    zones: tuple[str, ...]
    jurisdictions: frozenset[str]
    number: phonenumbers.PhoneNumber = attrs.field(eq=False)
    plain: Recipient = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # The recipient without a profile, the common case, is built once with the facts.
        set_field(self, "plain", _recipient(self, None))


def _number_zones(number: phonenumbers.PhoneNumber, kind: int) -> tuple[str, ...]:
    if number.country_code == 1:
        nanp = _nanp_zones(number)
        if nanp is not None:
            return _known_zones(nanp)
    if phonenumbers.is_number_type_geographical(kind, number.country_code or 0):
        # The number is known valid and geographical: skip time_zones_for_number's own
        # re-check of the type (and of the region behind it).
        found = phone_timezone.time_zones_for_geographical_number(number)
    else:
        found = phone_timezone.time_zones_for_number(number)
    return _known_zones(tuple(found))


def _facts(
    number: phonenumbers.PhoneNumber, region: str, kind: int, line_type: LineType | None
) -> _NumberFacts:
    if line_type is None:
        line_type = _FROM_PHONENUMBERS[kind]  # a valid number's type is never UNKNOWN
    zones = _number_zones(number, kind) if line_type.geographic else ()
    area_code = str(number.national_number)[:3] if number.country_code == 1 else None
    return _NumberFacts(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=region,
        line_type=line_type,
        zones=zones,
        jurisdictions=_jurisdictions(region, area_code),
        number=number,
    )


# Numbers share a handful of zone lists and jurisdiction sets: one shared value for each keeps
# the cache small and lets the engine hash a recipient's jurisdictions once (frozensets cache
# their hash).


@lru(4096)
def _known_zones(found: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(z for z in found if z != phone_timezone.UNKNOWN_TIMEZONE)


def _country_codes(country: str) -> set[str]:
    """A country's own code plus the jurisdictions it belongs to or borrows rules from."""
    codes = {country}
    parent = TERRITORIES.get(country)
    if parent is not None:
        codes.update({parent, f"{parent}-{country}"})
    stand_in = STAND_IN_JURISDICTIONS.get(country)
    if stand_in is not None:
        codes.add(stand_in)
    member_state = MEMBER_STATE_REGIONS.get(country)
    if member_state is not None:
        codes.add(member_state)
    return codes


@lru(4096)
def _jurisdictions(region: str, area_code: str | None) -> frozenset[str]:
    codes = _country_codes(region)
    if area_code is not None:
        codes.update(nanp_area_codes().get(area_code, ()))
    return frozenset(codes)


@lru(4096)
def _principal(region: str | None, zones: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`principal_zones`, once per (region, zones): numbers share a few zone lists."""
    return principal_zones(region, zones)


def principal_zones(region: str | None, zones: tuple[str, ...]) -> tuple[str, ...]:
    """The candidate zones a best-practice window uses: those of the number's own country
    (IANA zone.tab) that are not outlying; every candidate when that leaves none."""
    if len(zones) < 2 or region is None:
        return zones
    own = frozenset(pytz.country_timezones.get(region, ()))
    kept = tuple(z for z in zones if z in own and z not in OUTLYING_ZONES)
    return kept or zones


ProfileSource = Mapping[str, Profile] | Callable[[str], Profile | None]


class Resolver:
    """Resolves numbers into :class:`Recipient` values, caching each number (bounded LRU).

    An optional :class:`LineTypeLookup` refines phonenumbers' line type; its answers are cached
    for ``lookup_ttl``. A profile's zone joins the number's candidate zones;
    ``trust_profile_zone=True`` makes it replace them instead, which is a legal risk: a stale
    profile then opens a window the number's own zone keeps closed (a New York number with a
    Los Angeles profile texted at 21:30 New York time, outside 47 CFR 64.1200(c)(1)).
    """

    def __init__(
        self,
        *,
        default_region: str | None = None,
        line_type_lookup: LineTypeLookup | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        lookup_ttl: dt.timedelta = dt.timedelta(days=30),
        trust_profile_zone: bool = False,
    ) -> None:
        if not isinstance(cache_size, int) or cache_size < 1:
            raise ConfigurationError(f"cache_size must be a positive int, got {cache_size!r}")
        if default_region is not None and (
            not isinstance(default_region, str)
            or default_region.upper() not in phonenumbers.SUPPORTED_REGIONS
        ):
            raise ConfigurationError(f"default_region {default_region!r} is not a region code")
        if not isinstance(lookup_ttl, dt.timedelta) or lookup_ttl <= dt.timedelta(0):
            raise ConfigurationError(f"lookup_ttl must be a positive timedelta, got {lookup_ttl!r}")
        if line_type_lookup is not None and not isinstance(line_type_lookup, LineTypeLookup):
            raise ConfigurationError("line_type_lookup must have a line_type(e164) method")
        if not isinstance(trust_profile_zone, bool):
            raise ConfigurationError(
                f"trust_profile_zone must be True or False, got {trust_profile_zone!r}"
            )
        self.trust_profile_zone = trust_profile_zone
        self.default_region = default_region.upper() if default_region else None
        self.line_type_lookup = line_type_lookup
        # functools' LRU is implemented in C: a warm lookup costs one call, not several.
        self._facts_of = functools.lru_cache(maxsize=cache_size if CACHES else 0)(
            self._compute_facts
        )
        self._recipients: cachetools.LRUCache[
            tuple[str, Profile | None, RecipientFacts | None], Recipient
        ] = cachetools.LRUCache(maxsize=cache_size)
        self._line_types: cachetools.TTLCache[str, LineType | None] = cachetools.TTLCache(
            maxsize=cache_size, ttl=lookup_ttl.total_seconds()
        )

    def address_of(self, number: str | phonenumbers.PhoneNumber) -> str:
        """The E.164 form of a phone number (raises InvalidNumberError when it is not one)."""
        return self.number_facts(check_address(number)).e164

    def address_for(
        self, value: str | phonenumbers.PhoneNumber, channel: Channel | str | None = None
    ) -> str:
        """The ledger's form of an address on ``channel`` (see :func:`normalise_address`):
        phone numbers through this resolver's cache and default region."""
        kind = address_channel(value, channel)
        if kind is None or kind.is_phone:
            return self.address_of(value)
        return normalise_address(value, kind)

    def number_facts(self, value: str | phonenumbers.PhoneNumber) -> _NumberFacts:
        """Parse and describe a number, from the cache when possible."""
        if type(value) is str:  # the usual case first: every decision asks
            cached = self._facts_of(value)
        elif isinstance(value, phonenumbers.PhoneNumber):  # unhashable: key it by its parts
            cached = self._facts_of(
                (value.country_code, value.national_number, value.italian_leading_zero)
            )
        elif isinstance(value, str):
            cached = self._facts_of(value)
        else:  # unhashable or of another type: _parse_checked names the type
            _parse_checked(value, self.default_region)
            raise AssertionError("unreachable: _parse_checked refuses other types")
        if type(cached) is _NumberFacts:
            return cached
        if isinstance(cached, InvalidNumberError):
            raise InvalidNumberError(*cached.args)
        return cached

    def _compute_facts(
        self, key: str | tuple[int | None, int | None, bool | None]
    ) -> _NumberFacts | InvalidNumberError:
        value: str | phonenumbers.PhoneNumber
        if isinstance(key, tuple):
            code, national, leading_zero = key
            value = phonenumbers.PhoneNumber(
                country_code=code, national_number=national, italian_leading_zero=leading_zero
            )
        else:
            value = key
        try:
            number, region, kind = _parse_checked(value, self.default_region)
        except InvalidNumberError as error:
            return error  # cached too: a bad number is not parsed again
        return _facts(number, region, kind, self._lookup(number))

    def _lookup(self, number: phonenumbers.PhoneNumber) -> LineType | None:
        if self.line_type_lookup is None:
            return None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 in self._line_types:
            return self._line_types[e164]
        found = self.line_type_lookup.line_type(e164)
        if CACHES:
            self._line_types[e164] = found
        return found

    def resolve(
        self,
        value: str | phonenumbers.PhoneNumber,
        profile: Profile | None = None,
        given: RecipientFacts | None = None,
    ) -> Recipient:
        """The recipient for a number, with the profile's facts, then the message's ``given``
        facts, laid over the number's."""
        return self.recipient(self.number_facts(value), profile, given)

    def recipient(
        self, facts: _NumberFacts, profile: Profile | None, given: RecipientFacts | None = None
    ) -> Recipient:
        """The recipient for already parsed facts, with the profile's facts, then the
        message's ``given`` facts, laid over them (these only add zones and jurisdictions)."""
        if profile is None and given is None:
            return facts.plain
        if profile is not None and not isinstance(profile, Profile):
            raise InvalidInputError(
                f"profile must be a smspolicy.Profile or None, got {type(profile).__name__}"
            )
        key = (facts.e164, profile, given)
        recipient = self._recipients.get(key)
        if recipient is None:
            recipient = _recipient(
                facts, profile, trust_profile_zone=self.trust_profile_zone, given=given
            )
            if CACHES:
                self._recipients[key] = recipient
        return recipient

    def clear(self) -> None:
        """Forget every cached resolution."""
        self._facts_of.cache_clear()
        self._recipients.clear()
        self._line_types.clear()


def _join(
    zones: tuple[str, ...],
    principal: tuple[str, ...],
    source: str,
    known: str | None,
    *,
    replace: bool,
    label: str,
) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """A known zone joins the candidates, first (the one a decision shows), or replaces them
    when trusted or when none are known."""
    if known is None:
        return zones, principal, source
    if replace or not zones:
        return (known,), (known,), label
    return (
        (known, *(z for z in zones if z != known)),
        (known, *(z for z in principal if z != known)),
        f"{source}+{label}",
    )


def _residence(country: str | None, subdivision: str | None) -> set[str]:
    """The jurisdictions a declared residence adds: the country's and the subdivision's."""
    extra = _country_codes(country) if country else set()
    if subdivision is not None:
        code, _, part = subdivision.partition("-")
        extra.update(_country_codes(code))
        extra.add(subdivision)
        if TERRITORIES.get(part) == code:  # "US-PR" is Puerto Rico's own code too
            extra.update(_country_codes(part))
    return extra


def _overlay(
    region: str | None,
    zones: tuple[str, ...],
    jurisdictions: frozenset[str],
    profile: Profile | None,
    *,
    trust_profile_zone: bool = False,
    facts: RecipientFacts | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str], str]:
    """Lay a profile, then a message's facts, over facts from the number: each known zone
    joins the candidates (the profile's replaces them when trusted; a message's never does),
    each declared residence adds jurisdictions. Returns the zones, the principal zones, the
    jurisdictions and where the zones came from."""
    principal = _principal(region, zones)
    source = "number" if zones else "unknown"
    if profile is None and facts is None:
        return zones, principal, jurisdictions, source
    extra: set[str] = set()
    if profile is not None:
        zones, principal, source = _join(
            zones, principal, source, profile.timezone, replace=trust_profile_zone, label="profile"
        )
        extra |= _residence(profile.country, profile.subdivision())
    if facts is not None:
        zones, principal, source = _join(
            zones, principal, source, facts.zone, replace=False, label="message"
        )
        extra |= _residence(facts.country, facts.subdivision())
    return zones, principal, jurisdictions | extra, source


def _recipient(
    facts: _NumberFacts,
    profile: Profile | None,
    *,
    trust_profile_zone: bool = False,
    given: RecipientFacts | None = None,
) -> Recipient:
    zones, principal, jurisdictions, source = _overlay(
        facts.region,
        facts.zones,
        facts.jurisdictions,
        profile,
        trust_profile_zone=trust_profile_zone,
        facts=given,
    )
    return Recipient(
        address=facts.e164,
        valid=True,
        e164=facts.e164,
        region=facts.region,
        line_type=facts.line_type,
        zones=zones,
        jurisdictions=jurisdictions,
        zone_source=source,
        number=facts.number,
        principal_zones=principal,
    )


def address_recipient(
    address: str, profile: Profile | None = None, facts: RecipientFacts | None = None
) -> Recipient:
    """A recipient on a non-phone channel (email, push, in-app): no number, the profile's and
    the message's facts only. ``address`` is taken as given: normalise it first
    (:func:`normalise_address`)."""
    zones, principal, jurisdictions, source = _overlay(None, (), frozenset(), profile, facts=facts)
    return Recipient(
        address=address.strip(),
        valid=bool(address.strip()),
        zones=zones,
        jurisdictions=jurisdictions,
        zone_source=source,
        principal_zones=principal,
    )
