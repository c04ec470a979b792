"""SMS encoding and segment counting, max_segments and cost estimates."""

from __future__ import annotations

import decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import Context, Message, Recipient, rules
from smspolicy.errors import ConfigurationError, InvalidInputError
from smspolicy.segments import GSM7_BASIC, GSM7_EXTENSION, count, estimate_cost

from .conftest import T0


@pytest.mark.parametrize(
    ("body", "encoding", "parts", "units"),
    [
        ("a" * 160, "gsm7", 1, 160),
        ("a" * 161, "gsm7", 2, 161),
        ("a" * 306, "gsm7", 2, 306),
        ("a" * 307, "gsm7", 3, 307),
        ("€" * 80, "gsm7", 1, 160),
        ("€" * 81, "gsm7", 2, 162),
        ("é" * 70, "gsm7", 1, 70),
        ("ê" * 70, "ucs2", 1, 70),
        ("ê" * 71, "ucs2", 2, 71),
        ("😀" * 35, "ucs2", 1, 70),
        ("😀" * 36, "ucs2", 2, 72),
        ("", "gsm7", 0, 0),
    ],
    ids=[
        "160",
        "161",
        "306",
        "307",
        "euro-80",
        "euro-81",
        "e-acute",
        "e-circumflex-70",
        "e-circumflex-71",
        "emoji-35",
        "emoji-36",
        "empty",
    ],
)
def test_counts(body: str, encoding: str, parts: int, units: int) -> None:
    """Bodies count as GSM-7 (extension characters take two septets) or UCS-2 (emoji take two
    code units), in 160/153 or 70/67 unit parts."""
    info = count(body)
    assert (info.encoding, info.parts, info.units) == (encoding, parts, units)


def test_escape_sequence_never_split() -> None:
    """A two-septet character that would straddle a part boundary moves to the next part."""
    assert count("a" * 152 + "€" + "a" * 153).parts == 3
    assert count("a" * 151 + "€" + "a" * 153).parts == 2


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=1000))
def test_gsm7_parts_bound(body: str) -> None:
    """Any GSM-7 text needs at least ceil(units/153) parts and no more than one extra."""
    info = count(body)
    assert info.encoding == "gsm7"
    if info.units > 160:
        assert -(-info.units // 153) <= info.parts <= -(-info.units // 153) + 1


def test_max_segments_rule() -> None:
    """max_segments denies bodies longer than n parts and ignores other channels."""
    context = Context(now=T0, recipient=Recipient(address="+12125550123", valid=True))
    rule = rules.max_segments(1)
    assert rule(Message("+12125550123", "t", "marketing", body="a" * 160), context).allowed
    long = rule(Message("+12125550123", "t", "marketing", body="a" * 161), context)
    assert long.codes == ("content.too_long",)
    email = Message("a@example.com", "t", "marketing", channel="email", body="a" * 5000)
    assert rule(email, context).allowed
    with pytest.raises(ConfigurationError):
        rules.max_segments(0)


def test_estimate_cost() -> None:
    """The cost is the per-part price times the parts; an unknown country is an error."""
    prices = {"US": "0.00581", "GB": 0.0416}
    assert estimate_cost("a" * 161, "us", prices) == decimal.Decimal("0.01162")
    assert estimate_cost("hi", "GB", prices) == decimal.Decimal("0.0416")
    with pytest.raises(InvalidInputError, match="no price for FR"):
        estimate_cost("hi", "FR", prices)
    with pytest.raises(InvalidInputError):
        count(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("country", "prices", "problem"),
    [
        (None, {"US": "0.01"}, "country must be an ISO alpha-2 code, got NoneType"),
        ("US", [("US", "0.01")], "prices must be a mapping, got list"),
        ("US", {"US": "NaN"}, "the price for US is not a price: 'NaN'"),
        ("US", {"US": float("inf")}, "the price for US is not a price: inf"),
        ("US", {"US": "-0.01"}, "the price for US is not a price: '-0.01'"),
        ("US", {"US": True}, "the price for US is not a price: True"),
        ("US", {"US": [1]}, "the price for US is not a price: [1]"),
        ("US", {"US": decimal.Decimal("sNaN")}, "the price for US is not a price: Decimal('sNaN')"),
    ],
    ids=["country-none", "prices-list", "nan", "infinity", "negative", "bool", "list", "snan"],
)
def test_estimate_cost_refusals(country: object, prices: object, problem: str) -> None:
    """A country that is not text, a table that is not a mapping or a price that is not a
    finite, non-negative number is an InvalidInputError saying which."""
    with pytest.raises(InvalidInputError) as info:
        estimate_cost("hi", country, prices)  # type: ignore[arg-type]
    assert str(info.value) == problem


def test_estimate_cost_accepts_zero_and_decimals() -> None:
    """A free country costs nothing; a Decimal price is used as given."""
    assert estimate_cost("a" * 161, "US", {"US": 0}) == decimal.Decimal(0)
    assert estimate_cost("a" * 161, "US", {"US": decimal.Decimal("0.005")}) == decimal.Decimal(
        "0.010"
    )


@pytest.mark.parametrize(
    ("body", "encoding", "parts", "characters", "units"),
    [
        ("\uffff", "ucs2", 1, 1, 1),
        ("\U00010000", "ucs2", 1, 1, 2),
        ("ж" * 134, "ucs2", 2, 134, 134),
        ("ж" * 135, "ucs2", 3, 135, 135),
        ("é€" * 3, "gsm7", 1, 6, 9),
    ],
    ids=["last-bmp", "first-astral", "two-full-ucs2-parts", "one-past", "gsm7-with-escape"],
)
def test_counts_at_the_boundaries(
    body: str, encoding: str, parts: int, characters: int, units: int
) -> None:
    """Characters, units and parts, hand-counted: U+FFFF is one UTF-16 unit and U+10000 two;
    a split UCS-2 body holds 67 units a part; € takes two GSM-7 septets."""
    info = count(body)
    assert (info.encoding, info.parts, info.characters, info.units) == (
        encoding,
        parts,
        characters,
        units,
    )


def test_count_and_cost_messages_name_the_type() -> None:
    """A body or country of the wrong type is named in the message."""
    with pytest.raises(InvalidInputError) as body:
        count(b"bytes")  # type: ignore[arg-type]
    assert str(body.value) == "an SMS body must be str, got bytes"
    with pytest.raises(InvalidInputError) as country:
        estimate_cost("hi", 5, {"US": "0.01"})  # type: ignore[arg-type]
    assert str(country.value) == "country must be an ISO alpha-2 code, got int"
