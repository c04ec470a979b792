"""Recipient resolution: parsing, zones, jurisdictions, line types and the cache."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from smspolicy import LineType, Profile, Resolver, _recipients, parse_number
from smspolicy.errors import ConfigurationError, InvalidInputError, InvalidNumberError
from smspolicy.strategies import phone_numbers


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("+1 (212) 555-0123", None, "+12125550123"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("\ufeff+1 212 555\u200b0123", None, "+12125550123"),
        ("+1\u200d212\u2060555 0123 ", None, "+12125550123"),
        ("+44 (0)20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+1.416.555.0123", None, "+14165550123"),
    ],
    ids=["parens", "national", "bom-zwsp", "zwj-wj", "uk-(0)", "uk-national", "dots"],
)
def test_messy_valid_numbers_resolve(text: str, region: str | None, e164: str) -> None:
    """Spaces, parentheses, (0), zero-width and BOM characters and national formats parse."""
    recipient = Resolver(default_region=region).resolve(text)
    assert recipient.e164 == e164
    assert recipient.valid


@pytest.mark.parametrize(
    "text",
    ['07";DROP TABLE;"', "+1 264 555 0100", "", "   ", "\u200b", "+1" + "2" * 80, "hello"],
    ids=["sql", "anguilla-555", "empty", "blank", "zero-width-only", "huge", "word"],
)
def test_invalid_numbers_raise_clear_error(text: str) -> None:
    """Invalid numbers raise InvalidNumberError (a ValueError) and nothing else."""
    with pytest.raises(InvalidNumberError):
        parse_number(text)


def test_non_string_number_rejected() -> None:
    """A number of the wrong type raises InvalidNumberError."""
    with pytest.raises(InvalidNumberError, match="must be a string"):
        parse_number(12125550123)  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_parse_number_never_raises_anything_else(text: str) -> None:
    """Arbitrary text either parses to a valid number or raises InvalidNumberError."""
    try:
        number = parse_number(text, "US")
    except InvalidNumberError:
        return
    assert phonenumbers.is_valid_number(number)


@pytest.mark.parametrize(
    ("number", "zones", "state"),
    [
        ("+18504341234", ("America/Chicago",), "US-FL"),
        ("+18506441234", ("America/New_York",), "US-FL"),
        ("+15418891234", ("America/Denver",), "US-OR"),
        ("+15413461234", ("America/Los_Angeles",), "US-OR"),
    ],
    ids=["850-434", "850-644", "541-889", "541-346"],
)
def test_split_area_codes_resolve_by_exchange(
    number: str, zones: tuple[str, ...], state: str
) -> None:
    """Split area codes resolve to the zone of the exchange, not one zone per area code."""
    recipient = Resolver().resolve(number)
    assert recipient.zones == zones
    assert recipient.jurisdictions == {"US", state}
    assert recipient.zone_source == "number"


def test_multi_zone_numbers_keep_every_candidate() -> None:
    """A number served by several zones keeps every candidate zone."""
    resolver = Resolver()
    alaska = resolver.resolve("+19075550123")
    assert {"America/Anchorage", "America/Adak"} <= set(alaska.zones)
    australia = resolver.resolve("+61412345678")
    assert len(australia.zones) == 8
    assert set(resolver.resolve("+12085550123").zones) == {"America/Boise", "America/Los_Angeles"}


def test_non_geographic_numbers_have_no_zone() -> None:
    """Toll-free numbers resolve with no candidate zone, never 42 guesses."""
    toll_free = Resolver().resolve("+18005550123")
    assert toll_free.line_type is LineType.TOLL_FREE
    assert toll_free.zones == ()
    assert not toll_free.zone_known


def test_profile_zone_wins_and_residence_adds_jurisdiction() -> None:
    """A profile's zone replaces the number's; its residence adds to the number's."""
    profile = Profile(timezone=zoneinfo.ZoneInfo("America/Chicago"), country="US", state="FL")
    recipient = Resolver().resolve("+12125550123", profile)
    assert recipient.zones == ("America/Chicago",)
    assert recipient.zone_source == "profile"
    assert recipient.jurisdictions == {"US", "US-NY", "US-FL"}


def test_canadian_province_from_area_code() -> None:
    """A Canadian number gets its province from the area code."""
    assert Resolver().resolve("+14165550123").jurisdictions == {"CA", "CA-ON"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timezone": "Mars/Olympus"},
        {"country": "XX"},
        {"state": "ZZ", "country": "US"},
        {"state": "FL"},
        {"locale": ""},
    ],
    ids=["zone", "country", "state", "state-without-country", "empty-locale"],
)
def test_profile_rejects_bad_values(kwargs: dict[str, object]) -> None:
    """Profiles check their fields when built."""
    with pytest.raises(InvalidInputError):
        Profile(**kwargs)  # type: ignore[arg-type]


class CountingLookup:
    def __init__(self, answer: LineType | None) -> None:
        self.answer = answer
        self.calls = 0

    def line_type(self, e164: str) -> LineType | None:
        self.calls += 1
        return self.answer


def test_line_type_lookup_refines_and_is_cached() -> None:
    """A LineTypeLookup refines the line type and is asked once per number."""
    lookup = CountingLookup(LineType.MOBILE)
    resolver = Resolver(line_type_lookup=lookup)
    assert resolver.resolve("+12125550123").line_type is LineType.MOBILE
    assert resolver.resolve("+1 212 555 0123").line_type is LineType.MOBILE
    assert lookup.calls == 1


def test_line_type_lookup_unknown_keeps_phonenumbers_type() -> None:
    """A lookup that does not know the number leaves phonenumbers' type."""
    resolver = Resolver(line_type_lookup=CountingLookup(None))
    assert resolver.resolve("+12125550123").line_type is LineType.FIXED_LINE_OR_MOBILE


def test_cache_is_bounded() -> None:
    """The resolution cache never holds more than its bound."""
    resolver = Resolver(cache_size=10)
    for i in range(30):
        resolver.resolve(f"+1212555{i:04d}")
    assert resolver._facts_of.cache_info().currsize <= 10
    assert len(resolver._recipients) <= 10


def test_resolver_rejects_bad_configuration() -> None:
    """Bad resolver arguments raise ConfigurationError."""
    with pytest.raises(ConfigurationError):
        Resolver(cache_size=0)
    with pytest.raises(ConfigurationError):
        Resolver(default_region="XX")
    with pytest.raises(ConfigurationError):
        Resolver(line_type_lookup=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Resolver(lookup_ttl=dt.timedelta(0))


# Numbers of every kind across regions, and digit strings that are mostly not valid numbers.
_CANDIDATES = st.one_of(
    phone_numbers(regions=["US", "CA", "GB", "FR", "DE", "JP", "AU", "IN", "BR", "IT"]),
    st.from_regex(r"\+[1-9][0-9]{5,14}", fullmatch=True),
)


@given(_CANDIDATES)
def test_validity_and_type_agree_with_phonenumbers(text: str) -> None:
    """The one-pass validity and type check agrees with phonenumbers' public calls."""
    try:
        number = phonenumbers.parse(text)
    except phonenumbers.NumberParseException:
        assume(False)  # no country code of that number: nothing to compare
    region = phonenumbers.region_code_for_number(number)
    expected = (
        int(phonenumbers.number_type(number))
        if phonenumbers.is_valid_number_for_region(number, region)
        else None
    )
    assert _recipients._valid_type(number, region) == expected
    assert (expected is not None) == phonenumbers.is_valid_number(number)


def test_resolution_without_the_private_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should phonenumbers drop its private type helper, resolution gives the same answers."""
    texts = ["+12125550123", "+18005550123", "+447700900123", "+33612345678", "+1212555"]

    def outcome(resolver: Resolver, text: str) -> object:
        try:
            found = resolver.resolve(text)
        except InvalidNumberError as error:
            return str(error)
        return (found.e164, found.line_type, found.zones, found.jurisdictions)

    fast = [outcome(Resolver(), text) for text in texts]
    monkeypatch.setattr(_recipients, "_TYPE_HELPER", None)
    assert [outcome(Resolver(), text) for text in texts] == fast
    assert isinstance(fast[-1], str)  # the short number is rejected both ways


@given(st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True))
def test_canonical_nanp_numbers_parse_as_phonenumbers_does(text: str) -> None:
    """The shortcut for canonical +1 numbers builds exactly what phonenumbers.parse builds, and
    validity and zones follow as for any other form of the same number."""
    assert _recipients._parse_text(text, None) == phonenumbers.parse(text)
    assert _recipients._parse_text(text, "GB") == phonenumbers.parse(text, "GB")
    spaced = f"+1 ({text[2:5]}) {text[5:8]}-{text[8:]}"
    try:
        fast = Resolver().resolve(text)
    except InvalidNumberError:
        with pytest.raises(InvalidNumberError):
            Resolver().resolve(spaced)
        return
    slow = Resolver().resolve(spaced)
    assert (fast.e164, fast.line_type, fast.zones, fast.jurisdictions) == (
        slow.e164,
        slow.line_type,
        slow.zones,
        slow.jurisdictions,
    )
