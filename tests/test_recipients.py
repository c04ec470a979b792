"""Recipient resolution: parsing, zones, jurisdictions, line types and the cache."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezone

from smspolicy import LineType, Message, Profile, Resolver, _recipients, parse_number
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
        ("+18506441234", ("America/Chicago", "America/New_York"), "US-FL"),
        ("+18505550123", ("America/Chicago", "America/New_York"), "US-FL"),
        ("+15418891234", ("America/Denver",), "US-OR"),
        ("+15413461234", ("America/Denver", "America/Los_Angeles"), "US-OR"),
        ("+19285550123", ("America/Denver", "America/Phoenix"), "US-AZ"),
        ("+14235550123", ("America/Chicago", "America/New_York"), "US-TN"),
        ("+12085550123", ("America/Boise", "America/Denver", "America/Los_Angeles"), "US-ID"),
    ],
    ids=["850-434", "850-644", "850-555", "541-889", "541-346", "928-555", "423-555", "208-555"],
)
def test_split_area_codes_never_narrow_to_one_zone(
    number: str, zones: tuple[str, ...], state: str
) -> None:
    """A split area code's number takes its exchange's zone when phonenumbers has an entry for
    it (850-434 and 541-889 have one), else every zone of the area code's exchanges."""
    recipient = Resolver().resolve(number)
    assert recipient.zones == zones
    assert recipient.jurisdictions == {"US", state}
    assert recipient.zone_source == "number"


# The area codes whose exchanges map to more zones than phonenumbers gives a number of an
# exchange without an entry of its own (issue 18).
SPLIT_AREA_CODES = [
    *("208", "219", "250", "270", "308", "418", "423", "541", "574", "605", "606"),
    *("620", "701", "775", "785", "807", "812", "850", "867", "906", "907", "928"),
]


def _exchanges(area: str) -> list[phonenumbers.PhoneNumber]:
    return [
        phonenumbers.PhoneNumber(country_code=1, national_number=int(f"{area}{nxx}0100"))
        for nxx in range(200, 1000)
    ]


def test_area_zone_table_recomputed_from_phonenumbers() -> None:
    """The area-code table is the union of every zone phonenumbers gives any number of each
    area code (recomputed here through phonenumbers' public lookup, one number per exchange),
    and it is wider than some exchange's answer in exactly the 22 split area codes."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    areas = sorted({key[1:4] for key in TIMEZONE_DATA if key[:1] == "1" and len(key) >= 4})
    table = _recipients.nanp_area_zones()
    assert table == _recipients.build_nanp_zone_data(TIMEZONE_DATA)[0]
    assert sorted(table) == areas
    narrower = []
    for area in areas:
        answers = [
            set(phone_timezone.time_zones_for_geographical_number(number))
            for number in _exchanges(area)
        ]
        # An exchange that no entry covers gets the NANP-wide list: not an answer of the area.
        known = [zones for zones in answers if zones != set(TIMEZONE_DATA["1"])]
        union = set().union(*known)
        assert set(table[area]) == union, area
        if any(zones < union for zones in known):
            narrower.append(area)
    assert narrower == SPLIT_AREA_CODES


def test_area_zone_table_is_built_once() -> None:
    """The table is computed once and cached."""
    assert _recipients.nanp_area_zones() is _recipients.nanp_area_zones()


@pytest.mark.parametrize("area", SPLIT_AREA_CODES)
def test_no_exchange_of_a_split_area_code_is_narrower_than_phonenumbers(area: str) -> None:
    """Every exchange of a split area code keeps at least phonenumbers' zones, and one that
    phonenumbers answers from the area code's own entry gets the whole area code's zones."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    union = set(_recipients.nanp_area_zones()[area])
    for number in _exchanges(area):
        ours = set(_recipients._nanp_zones(number) or ())
        theirs = set(phone_timezone.time_zones_for_geographical_number(number))
        assert theirs <= ours or theirs == set(TIMEZONE_DATA["1"]), number
        if f"1{area}" in TIMEZONE_DATA and theirs == set(TIMEZONE_DATA[f"1{area}"]):
            own_entry = str(number.national_number)[:6]
            if f"1{own_entry}" not in TIMEZONE_DATA and f"1{own_entry[:5]}" not in TIMEZONE_DATA:
                assert ours == union, number


@pytest.mark.parametrize(
    ("number", "zones"),
    [
        ("+12085230100", ("America/Denver",)),  # block 208-52x: every entry in it is Denver
        ("+12084120100", ("America/Denver",)),  # exchange 208-412 has its own entry
        ("+12084130100", ("America/Boise", "America/Denver", "America/Los_Angeles")),
        ("+12083040100", ("America/Los_Angeles",)),
    ],
    ids=["uniform-block", "own-exchange", "block-with-exceptions", "exchange-in-block"],
)
def test_a_block_of_exchanges_counts_only_when_none_differs(
    number: str, zones: tuple[str, ...]
) -> None:
    """A block entry (208-41x: Boise and Los Angeles, but 208-412 is Denver) answers for an
    exchange missing from the data only when no exchange inside the block differs from it."""
    assert Resolver().resolve(number).zones == zones


def test_covering_prefixes_are_those_no_entry_under_them_contradicts() -> None:
    """Built from a small table: a prefix covers its exchanges when every longer entry under
    it stays within its zones; an area code's union takes every entry of the area code."""
    data = {
        "1": ("America/New_York", "Pacific/Guam"),  # NANP-wide: not an area code's
        "1850": ("America/New_York",),
        "185043": ("America/Chicago",),
        "1850434": ("America/Chicago",),
        "1208": ("America/Boise", "America/Los_Angeles"),
        "12085": ("America/Boise",),
        "1208555": ("America/Boise",),
        "1212": ("America/New_York", "Etc/Unknown"),
        "44": ("Europe/London",),  # not NANP
    }
    unions, covering = _recipients.build_nanp_zone_data(data)
    assert unions == {
        "850": ("America/Chicago", "America/New_York"),
        "208": ("America/Boise", "America/Los_Angeles"),
        "212": ("America/New_York",),
    }
    assert covering == {"185043", "1850434", "1208", "12085", "1208555", "1212"}


def test_multi_zone_numbers_keep_every_candidate() -> None:
    """A number served by several zones keeps every candidate zone."""
    resolver = Resolver()
    assert resolver.resolve("+19075550123").zones == (
        "America/Adak",
        "America/Anchorage",
        "America/Juneau",
        "Pacific/Honolulu",
    )
    assert resolver.resolve("+61412345678").zones == AUSTRALIAN_MOBILE_ZONES


AUSTRALIAN_MOBILE_ZONES = (
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Eucla",
    "Australia/Lord_Howe",
    "Australia/Perth",
    "Australia/Sydney",
    "Indian/Christmas",
    "Indian/Cocos",
)


def test_non_geographic_numbers_have_no_zone() -> None:
    """Toll-free numbers resolve with no candidate zone, never 42 guesses."""
    toll_free = Resolver().resolve("+18005550123")
    assert toll_free.line_type is LineType.TOLL_FREE
    assert toll_free.zones == ()
    assert not toll_free.zone_known


def test_profile_zone_adds_and_residence_adds_jurisdiction() -> None:
    """A profile's zone joins the number's candidate zones (first); its residence adds to the
    number's jurisdictions."""
    profile = Profile(timezone=zoneinfo.ZoneInfo("America/Chicago"), country="US", state="FL")
    recipient = Resolver().resolve("+12125550123", profile)
    assert recipient.zones == ("America/Chicago", "America/New_York")
    assert recipient.principal_zones == ("America/Chicago", "America/New_York")
    assert recipient.zone_source == "number+profile"
    assert recipient.jurisdictions == {"US", "US-NY", "US-FL"}


def test_trusted_profile_zone_replaces_the_numbers() -> None:
    """With trust_profile_zone=True the profile's zone replaces the number's."""
    profile = Profile(timezone="America/Los_Angeles")
    recipient = Resolver(trust_profile_zone=True).resolve("+12125550123", profile)
    assert recipient.zones == ("America/Los_Angeles",)
    assert recipient.principal_zones == ("America/Los_Angeles",)
    assert recipient.zone_source == "profile"


def test_profile_zone_already_a_candidate_is_not_repeated() -> None:
    """A profile naming one of the number's zones moves it first without repeating it."""
    profile = Profile(timezone="America/New_York")
    recipient = Resolver().resolve("+18505550123", profile)
    assert recipient.zones == ("America/New_York", "America/Chicago")
    assert recipient.principal_zones == ("America/New_York", "America/Chicago")


def test_profile_zone_is_the_only_zone_of_a_number_without_one() -> None:
    """A toll-free number (no zone of its own) takes the profile's zone, trusted or not."""
    recipient = Resolver().resolve("+18005550123", Profile(timezone="America/Denver"))
    assert recipient.zones == ("America/Denver",)
    assert recipient.principal_zones == ("America/Denver",)
    assert recipient.zone_source == "profile"
    without = Resolver().resolve("+18005550123", Profile(country="US"))
    assert (without.zones, without.principal_zones, without.zone_source) == ((), (), "unknown")


def test_resolver_rejects_a_non_boolean_trust_option() -> None:
    """trust_profile_zone must be a bool."""
    with pytest.raises(ConfigurationError, match="trust_profile_zone"):
        Resolver(trust_profile_zone="yes")  # type: ignore[arg-type]


def test_engine_passes_the_trust_option_to_its_resolver() -> None:
    """Engine(trust_profile_zone=True) resolves with a trusting resolver; the default adds."""
    from smspolicy import Engine, Policy, allow

    profiles = {"+12125550123": Profile(timezone="America/Chicago")}
    message = Message("+12125550123", "news", "marketing")
    trusting = Engine(
        Policy(lambda m, c: allow(), name="p"), profiles=profiles, trust_profile_zone=True
    )
    assert trusting.recipient(message).zones == ("America/Chicago",)
    adding = Engine(Policy(lambda m, c: allow(), name="p"), profiles=profiles)
    assert adding.recipient(message).zones == ("America/Chicago", "America/New_York")


@pytest.mark.parametrize(
    ("number", "region", "zone"),
    [
        ("+17872345678", "PR", "America/Puerto_Rico"),
        ("+13406421234", "VI", "America/St_Thomas"),
        ("+16713001234", "GU", "Pacific/Guam"),
        ("+16847331234", "AS", "Pacific/Pago_Pago"),
        ("+16846221234", "AS", "Pacific/Pago_Pago"),
        ("+16702345678", "MP", "Pacific/Saipan"),
    ],
    ids=["puerto-rico", "virgin-islands", "guam", "samoa-mobile", "samoa-fixed", "mariana"],
)
def test_us_territories_are_in_the_us(number: str, region: str, zone: str) -> None:
    """Numbers of the US territories are US numbers too (their own code, US and US-XX), placed
    in their own zone by the area code (a Samoan mobile is not given every NANP zone)."""
    recipient = Resolver().resolve(number)
    assert recipient.region == region
    assert recipient.jurisdictions == {region, "US", f"US-{region}"}
    assert recipient.zones == (zone,)


@pytest.mark.parametrize(
    ("number", "region", "zones"),
    [
        ("+447797712345", "JE", ("Europe/Jersey",)),
        ("+441534456789", "JE", ("Europe/Jersey",)),
        ("+447781123456", "GG", ("Europe/Guernsey",)),
        ("+441481256789", "GG", ("Europe/Guernsey",)),
        ("+441624756789", "IM", ("Europe/Isle_of_Man",)),
    ],
    ids=["jersey-mobile", "jersey-fixed", "guernsey-mobile", "guernsey-fixed", "man-fixed"],
)
def test_crown_dependencies_borrow_the_uk(number: str, region: str, zones: tuple[str, ...]) -> None:
    """Guernsey, Jersey and Isle of Man numbers get GB besides their own code; a +44 7 mobile
    of theirs keeps every British Isles zone as candidates and its own as principal."""
    recipient = Resolver().resolve(number)
    assert recipient.region == region
    assert recipient.jurisdictions == {region, "GB"}
    assert recipient.principal_zones == zones


def test_declared_residence_in_a_territory_or_dependency_adds_its_parent() -> None:
    """A profile declaring residence in Puerto Rico adds US; in Jersey, GB."""
    resolver = Resolver()
    puerto_rico = resolver.resolve("+447400123456", Profile(country="PR"))
    assert puerto_rico.jurisdictions == {"GB", "PR", "US", "US-PR"}
    jersey = resolver.resolve("+12125550123", Profile(country="JE"))
    assert jersey.jurisdictions == {"US", "US-NY", "JE", "GB"}
    state = resolver.resolve("+447400123456", Profile(state="US-PR"))
    assert state.jurisdictions == {"GB", "PR", "US", "US-PR"}


@pytest.mark.parametrize(
    ("number", "principal"),
    [
        (
            "+61412345678",
            ("Australia/Adelaide", "Australia/Brisbane", "Australia/Perth", "Australia/Sydney"),
        ),
        ("+64211234567", ("Pacific/Auckland",)),
        ("+447400123456", ("Europe/London",)),
        ("+18505550123", ("America/Chicago", "America/New_York")),
        ("+12125550123", ("America/New_York",)),
    ],
    ids=["australia-mobile", "new-zealand-mobile", "uk-mobile", "850-555", "new-york"],
)
def test_principal_zones_leave_out_outlying_and_foreign_zones(
    number: str, principal: tuple[str, ...]
) -> None:
    """Principal zones are the candidates of the number's own country without Eucla, Lord
    Howe or the Chatham Islands (and never Cocos or Christmas Island for an Australian
    number); a US number keeps every candidate."""
    assert Resolver().resolve(number).principal_zones == principal


def test_a_profile_brings_its_outlying_zone_back() -> None:
    """A profile on Lord Howe Island puts its zone first among the principal zones."""
    recipient = Resolver().resolve("+61412345678", Profile(timezone="Australia/Lord_Howe"))
    assert recipient.principal_zones == (
        "Australia/Lord_Howe",
        "Australia/Adelaide",
        "Australia/Brisbane",
        "Australia/Perth",
        "Australia/Sydney",
    )
    assert recipient.zones == (
        "Australia/Lord_Howe",
        *(z for z in AUSTRALIAN_MOBILE_ZONES if z != "Australia/Lord_Howe"),
    )


def test_principal_zones_never_empty_out() -> None:
    """Principal zones keep the country's own zones without outlying ones; when no candidate
    is of the number's own country (or the region is unknown), every candidate stays."""
    principal = _recipients.principal_zones
    assert principal("AU", AUSTRALIAN_MOBILE_ZONES) == (
        "Australia/Adelaide",
        "Australia/Brisbane",
        "Australia/Perth",
        "Australia/Sydney",
    )
    assert principal("NZ", ("Pacific/Auckland", "Pacific/Chatham")) == ("Pacific/Auckland",)
    assert principal("CC", ("Australia/Perth", "Australia/Sydney")) == (
        "Australia/Perth",
        "Australia/Sydney",
    )
    assert principal(None, ("Australia/Perth", "Indian/Cocos")) == (
        "Australia/Perth",
        "Indian/Cocos",
    )
    assert principal("AU", ("Australia/Lord_Howe",)) == ("Australia/Lord_Howe",)
    assert principal("XX", ("Europe/Paris", "Europe/Berlin")) == ("Europe/Paris", "Europe/Berlin")


def test_email_recipient_takes_profile_facts() -> None:
    """A non-phone recipient has the profile's zone, jurisdictions and principal zone only."""
    recipient = _recipients.address_recipient(
        " a@example.com ", Profile(timezone="Europe/Jersey", country="JE")
    )
    assert recipient.address == "a@example.com"
    assert recipient.valid
    assert recipient.zones == recipient.principal_zones == ("Europe/Jersey",)
    assert recipient.jurisdictions == {"JE", "GB"}
    assert recipient.zone_source == "profile"
    blank = _recipients.address_recipient("  ")
    assert not blank.valid
    assert (blank.zones, blank.jurisdictions, blank.zone_source) == ((), frozenset(), "unknown")


def test_canadian_province_from_area_code() -> None:
    """A Canadian number gets its province from the area code."""
    assert Resolver().resolve("+14165550123").jurisdictions == {"CA", "CA-ON"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timezone": "Mars/Olympus"},
        {"country": "XX"},
        {"state": "ZZ", "country": "US"},
        {"state": "ZZ"},
        {"locale": ""},
    ],
    ids=["zone", "country", "state", "unknown-state-without-country", "empty-locale"],
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


@pytest.mark.caches
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


@given(_CANDIDATES)
def test_region_and_type_agree_with_phonenumbers(text: str) -> None:
    """Region and type found in one pass over a shared calling code's regions are
    phonenumbers' region and the type checked for it."""
    try:
        number = phonenumbers.parse(text)
    except phonenumbers.NumberParseException:
        assume(False)  # no country code of that number: nothing to compare
    region = phonenumbers.region_code_for_number(number)
    assert _recipients._region_and_type(number) == (
        region,
        _recipients._valid_type(number, region),
    )


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


def test_parse_number_returns_the_parsed_number() -> None:
    """parse_number returns the phonenumbers value, read in the default region when national,
    and takes an already parsed number as it is."""
    expected = phonenumbers.PhoneNumber(country_code=1, national_number=2125550123)
    assert parse_number("(212) 555-0123", "US") == expected
    assert parse_number(expected) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", "the phone number is empty"),
        ("+" + "1" * 64, "the phone number is 65 characters long (at most 64)"),
        ("hello", "'hello' is not a phone number: "),
        ("+1212555", "+1212555 is not a valid phone number"),
        (12125550123, "a phone number must be a string or phonenumbers.PhoneNumber, got int"),
    ],
    ids=["empty", "too-long", "not-a-number", "invalid", "wrong-type"],
)
def test_invalid_numbers_say_why(value: object, error: str) -> None:
    """Each way a number can be wrong has its own message."""
    with pytest.raises(InvalidNumberError) as raised:
        parse_number(value)  # type: ignore[arg-type]
    assert str(raised.value).startswith(error)


def test_sixty_four_characters_is_not_too_long() -> None:
    """A number written in exactly 64 characters (spaces included) is read; 65 are refused."""
    spaced = "+1" + " " * 52 + "2125550123"
    assert len(spaced) == 64
    assert parse_number(spaced).national_number == 2125550123
    with pytest.raises(InvalidNumberError, match="65 characters"):
        parse_number("+1 " + spaced[2:])


def test_type_check_refuses_a_region_the_number_is_not_of() -> None:
    """The one-pass type check agrees with phonenumbers for a region other than the number's
    own (207-946-0958 is a US number whose digits also form a London one) and for none."""
    number = phonenumbers.PhoneNumber(country_code=1, national_number=2079460958)
    assert not phonenumbers.is_valid_number_for_region(number, "GB")
    assert _recipients._valid_type(number, "GB") is None
    assert _recipients._valid_type(number, None) is None
    assert (
        _recipients._valid_type(number, "US") == phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
    )


def test_non_geographic_entity_numbers_resolve() -> None:
    """An international freephone number (+800, region 001) is valid, toll-free, zoneless."""
    recipient = Resolver().resolve("+80012345678")
    assert (recipient.region, recipient.line_type, recipient.zones) == (
        "001",
        LineType.TOLL_FREE,
        (),
    )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timezone": 5}, "timezone must be an IANA name or tzinfo, got 5"),
        ({"country": "XX"}, "country must be an ISO 3166-1 alpha-2 code, got 'XX'"),
        ({"country": 1}, "country must be an ISO 3166-1 alpha-2 code, got 1"),
        ({"locale": ""}, "expected None or a non-empty string, got ''"),
        (
            {"state": "XY"},
            "state 'XY' is not a US state or Canadian province code: give the country, "
            "or write it as an ISO 3166-2 code such as 'US-FL'",
        ),
        ({"state": "ZZ", "country": "US"}, "state 'ZZ' is not an ISO 3166-2 subdivision"),
        ({"state": "US-ZZ"}, "state 'US-ZZ' is not an ISO 3166-2 subdivision"),
        ({"state": 5}, "expected None or a non-empty string, got 5"),
    ],
    ids=[
        "zone-type",
        "country",
        "country-type",
        "empty-locale",
        "unknown-lone-state",
        "bad-state",
        "bad-qualified-state",
        "state-type",
    ],
)
def test_profile_errors_say_what_is_wrong(kwargs: dict[str, object], error: str) -> None:
    """A bad profile field is refused with a message naming it and the value."""
    with pytest.raises(InvalidInputError) as raised:
        Profile(**kwargs)  # type: ignore[arg-type]
    assert str(raised.value) == error


@pytest.mark.parametrize(
    ("state", "code"),
    [("FL", "US-FL"), ("fl", "US-FL"), (" tx ", "US-TX"), ("ON", "CA-ON"), ("US-NY", "US-NY")],
    ids=["florida", "lower-case", "spaces", "ontario", "qualified"],
)
def test_a_bare_state_is_a_us_state_or_canadian_province(state: str, code: str) -> None:
    """A state without a country is the US state or Canadian province of that code."""
    assert Profile(state=state).subdivision() == code


def test_a_bare_state_code_both_countries_use_is_ambiguous(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bare code that is a subdivision of both the US and Canada is refused as ambiguous."""
    import smspolicy._values as values

    monkeypatch.setattr(values, "_is_subdivision", lambda code: code in {"US-QQ", "CA-QQ"})
    with pytest.raises(InvalidInputError) as raised:
        Profile(state="QQ")
    assert str(raised.value) == (
        "state 'QQ' is ambiguous (US-QQ or CA-QQ): give the country or write it as 'US-QQ'"
    )


def test_profile_normalises_country_and_state() -> None:
    """A lower-case country is upper-cased and a bare state is qualified by the country."""
    profile = Profile(country="us", state="fl")
    assert profile.country == "US"
    assert profile.subdivision() == "US-FL"
    assert Profile().subdivision() is None


@pytest.mark.parametrize(
    ("description", "codes"),
    [
        ("Florida", ("US-FL",)),
        ("Chicago, IL", ("US-IL",)),
        ("Toronto, ON", ("CA-ON",)),
        ("Fort Wayne, Allen, IN", ("US-IN",)),
        ("Kansas/Missouri", ("US-KS", "US-MO")),
        ("British Colombia", ("CA-BC",)),
        ("Washington D.C.", ("US-DC",)),
        ("Springfield, XX", ()),
        ("Atlantis", ()),
    ],
    ids=[
        "state",
        "city-us",
        "city-ca",
        "two-commas",
        "two-states",
        "alias",
        "alias-dc",
        "unknown-suffix",
        "unknown",
    ],
)
def test_geocoder_descriptions_name_subdivisions(description: str, codes: tuple[str, ...]) -> None:
    """phonenumbers' area-code descriptions are read as US states and Canadian provinces."""
    assert _recipients._subdivisions_for_description(description) == codes


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"cache_size": 0}, "cache_size must be a positive int, got 0"),
        ({"cache_size": "9"}, "cache_size must be a positive int, got '9'"),
        ({"default_region": "XX"}, "default_region 'XX' is not a region code"),
        ({"lookup_ttl": dt.timedelta(0)}, "lookup_ttl must be a positive timedelta, got"),
        ({"line_type_lookup": object()}, "line_type_lookup must have a line_type(e164) method"),
    ],
    ids=["zero-cache", "text-cache", "region", "ttl", "lookup"],
)
def test_resolver_errors_say_what_is_wrong(kwargs: dict[str, object], error: str) -> None:
    """A bad resolver argument is refused with a message naming it."""
    with pytest.raises(ConfigurationError) as raised:
        Resolver(**kwargs)  # type: ignore[arg-type]
    assert str(raised.value).startswith(error)


def test_smallest_resolver_settings_are_accepted() -> None:
    """A cache of one number and a one-second lookup TTL are valid settings."""
    resolver = Resolver(cache_size=1, lookup_ttl=dt.timedelta(seconds=1), default_region="gb")
    assert resolver.default_region == "GB"
    assert resolver.resolve("020 7946 0958").e164 == "+442079460958"


def test_parsed_numbers_resolve_like_text() -> None:
    """A phonenumbers value resolves like its text, the Italian leading zero included, and the
    recipient carries the parsed number and its E.164 address."""
    resolver = Resolver()
    rome = resolver.resolve(phonenumbers.parse("+390612345678"))
    assert (rome.e164, rome.address) == ("+390612345678", "+390612345678")
    parsed = phonenumbers.parse("+12125550123")
    recipient = resolver.resolve(parsed)
    assert (recipient.e164, recipient.address) == ("+12125550123", "+12125550123")
    assert recipient.number == parsed
    profiled = resolver.resolve("+1 (212) 555-0123", Profile(country="US"))
    assert profiled.address == "+12125550123"
    assert profiled.number == parsed
    with pytest.raises(InvalidNumberError):
        resolver.resolve(phonenumbers.PhoneNumber(country_code=1, national_number=2125))


def test_lookup_is_asked_with_the_e164_number() -> None:
    """A line-type lookup is asked about the number in E.164 form."""
    asked: list[str] = []

    class Recording:
        def line_type(self, e164: str) -> LineType | None:
            asked.append(e164)
            return None

    Resolver(line_type_lookup=Recording()).resolve("+1 (212) 555-0123")
    assert asked == ["+12125550123"]


@pytest.mark.caches
def test_profiled_recipients_are_cached() -> None:
    """A number with the same profile resolves to the same recipient object."""
    resolver = Resolver()
    profile = Profile(timezone="America/Chicago")
    first = resolver.resolve("+12125550123", profile)
    assert resolver.resolve("+12125550123", profile) is first
    resolver.clear()
    assert resolver.resolve("+12125550123", profile) is not first
