"""Core values: Message, Reason, Decision and their validation."""

from __future__ import annotations

import datetime as dt
import re

import phonenumbers
import pytest

from smspolicy import Channel, Decision, Message, Purpose, Reason, Verdict, allow, defer, deny
from smspolicy._values import check_address, check_text, checked_parts, enum_converter, iterate
from smspolicy.errors import (
    ConfigurationError,
    InvalidInputError,
    InvalidMessageError,
    InvalidNumberError,
    NaiveDatetimeError,
    RuleError,
)

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)


def test_message_defaults() -> None:
    """A message defaults to SMS, an empty body and a content key from topic and body."""
    m = Message("+12125550123", "news", Purpose.MARKETING)
    assert m.channel is Channel.SMS
    assert m.body == ""
    assert len(m.content_key) == 32


def test_content_key_ignores_cosmetic_differences() -> None:
    """The default content key folds case and white space but not wording or topic."""
    a = Message("+12125550123", "news", "marketing", body="Sale  TODAY")
    b = Message("+12125550124", "news", "marketing", body="sale today ")
    c = Message("+12125550123", "news", "marketing", body="sale tomorrow")
    d = Message("+12125550123", "alerts", "marketing", body="sale today")
    assert a.content_key == b.content_key
    assert a.content_key != c.content_key
    assert a.content_key != d.content_key


def test_message_accepts_values_as_strings() -> None:
    """Purpose and channel may be given as their string values."""
    m = Message("+12125550123", "news", "transactional", channel="email")
    assert m.purpose is Purpose.TRANSACTIONAL
    assert m.channel is Channel.EMAIL
    assert Purpose.MARKETING.message_type == "PROMOTIONAL"


def test_message_address_from_parsed_number() -> None:
    """A phonenumbers.PhoneNumber recipient is shown in E.164."""
    m = Message(phonenumbers.parse("+1 212 555 0123"), "news", "marketing")
    assert m.address == "+12125550123"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"purpose": "spam"}, "Purpose must be one of"),
        ({"topic": ""}, "topic must be a non-empty string"),
        ({"channel": "fax"}, "Channel must be one of"),
        ({"to": 12125550123}, "to must be"),
        ({"body": None}, "body must be a string"),
        ({"brand": "  "}, "brand must be None or a non-empty string"),
    ],
    ids=["bad-purpose", "empty-topic", "bad-channel", "int-to", "none-body", "blank-brand"],
)
def test_message_rejects_bad_fields(kwargs: dict[str, object], match: str) -> None:
    """Bad message fields raise InvalidMessageError naming the field."""
    fields: dict[str, object] = {"to": "+12125550123", "topic": "news", "purpose": "marketing"}
    fields.update(kwargs)
    with pytest.raises(InvalidMessageError, match=match):
        Message(**fields)  # type: ignore[arg-type]


def test_naive_not_after_rejected() -> None:
    """A naive not_after raises NaiveDatetimeError, which is both a ValueError and TypeError."""
    with pytest.raises(NaiveDatetimeError) as info:
        Message("+12125550123", "news", "marketing", not_after=dt.datetime(2025, 1, 1))
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)


def test_decision_constructors() -> None:
    """allow/defer/deny build the three verdicts; until is converted to UTC."""
    reason = Reason("x.y", "r", "because")
    assert allow().allowed
    later = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    d = defer(later, reason)
    assert d.verdict is Verdict.DEFER
    assert d.until == NOW + dt.timedelta(hours=2)
    assert d.until is not None
    assert d.until.utcoffset() == dt.timedelta(0)
    assert deny(reason).codes == ("x.y",)


def test_decision_until_exactly_when_defer() -> None:
    """A Decision has until exactly when it defers; naive until is rejected."""
    with pytest.raises(RuleError):
        Decision(Verdict.ALLOW, NOW)
    with pytest.raises(RuleError):
        Decision(Verdict.DEFER, None)
    with pytest.raises(NaiveDatetimeError):
        defer(dt.datetime(2025, 1, 1))


def test_decision_reasons_must_be_reasons() -> None:
    """A Decision refuses reasons that are not Reason values."""
    with pytest.raises(RuleError, match="Reason values"):
        deny("nope")  # type: ignore[arg-type]


def test_reason_data_is_read_only() -> None:
    """Reason.data is a read-only copy of the mapping given."""
    source = {"a": 1}
    reason = Reason("x.y", "r", "m", data=source)
    source["a"] = 2
    assert reason.data["a"] == 1
    with pytest.raises(TypeError):
        reason.data["a"] = 3  # type: ignore[index]


def test_explain_in_three_languages() -> None:
    """explain() speaks English, Spanish and French, falling back to English."""
    d = defer(NOW, Reason("custom.code", "r", "a custom rule says so"))
    d = Decision(d.verdict, d.until, d.reasons, zone="America/Chicago")
    assert d.explain() == (
        "Deferred until Jan 15, 2025, 9:00 AM CST (America/Chicago) because a custom rule says so."
    )
    assert d.explain("es").startswith("Aplazado hasta 15 ene 2025, 9:00 CST (America/Chicago)")
    assert d.explain("fr").startswith("Reporté au 15 janv. 2025, 09:00 CST (America/Chicago)")
    assert d.explain("de") == d.explain("en")
    assert allow().explain("fr") == "Autorisé."


@pytest.mark.parametrize(
    ("value", "options", "problem"),
    [
        (None, {}, "x must be a non-empty string, got NoneType"),
        (5, {"optional": True}, "x must be None or a non-empty string, got int"),
        (b"ab", {"blank": True}, "x must be a string, got bytes"),
        ("  ", {}, "x must be a non-empty string, got '  '"),
        ("ab\x00", {}, "x holds a NUL character (at position 2)"),
        ("é\x00", {}, "x holds a NUL character (at position 1)"),
        ("ab\ud800", {}, "x holds a lone surrogate (U+D800 at position 2)"),
        ("\udce9", {"nul": False}, "x holds a lone surrogate (U+DCE9 at position 0)"),
    ],
    ids=["none", "int", "bytes", "blank", "nul", "nul-after-accent", "surrogate", "escape"],
)
def test_check_text_refusals(value: object, options: dict[str, bool], problem: str) -> None:
    """check_text refuses non-strings, blanks, NULs and lone surrogates, naming the argument and
    the position."""
    with pytest.raises(InvalidInputError) as info:
        check_text(value, "x", **options)
    assert str(info.value) == problem


@pytest.mark.parametrize(
    ("value", "options"),
    [
        (None, {"optional": True}),
        ("", {"blank": True}),
        ("a\x00b", {"nul": False}),
        ("café 😀", {}),
        (" x ", {}),
    ],
    ids=["none-optional", "empty-blank", "nul-allowed", "accents-and-emoji", "padded"],
)
def test_check_text_accepts(value: object, options: dict[str, bool]) -> None:
    """check_text returns what it accepts unchanged."""
    assert check_text(value, "x", **options) == value


def test_check_text_raises_the_given_error() -> None:
    """The error class is the caller's."""
    with pytest.raises(InvalidMessageError):
        check_text("", "topic", error=InvalidMessageError)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (["+12125550123"], "number must be a phone number string, a phonenumbers.PhoneNumber"),
        ({"n": 1}, "number must be a phone number string, a phonenumbers.PhoneNumber"),
        ((1, 2125550123, None), "number must be a phone number string"),
        (phonenumbers.PhoneNumber(), "number is a phonenumbers.PhoneNumber without a country"),
        (phonenumbers.PhoneNumber(country_code=1), "without a country code or number"),
        (phonenumbers.PhoneNumber(national_number=2125550123), "without a country code"),
        (phonenumbers.PhoneNumber(country_code=-1, national_number=2125550123), "without"),
        (phonenumbers.PhoneNumber(country_code=1, national_number=-1), "without"),
        ("+1212555\udc80", "number holds a lone surrogate (U+DC80 at position 8)"),
    ],
    ids=[
        "list",
        "dict",
        "tuple",
        "empty-phonenumber",
        "no-national-number",
        "no-country-code",
        "negative-country-code",
        "negative-number",
        "surrogate",
    ],
)
def test_check_address_refusals(value: object, problem: str) -> None:
    """check_address refuses anything a parser or cache key would choke on."""
    with pytest.raises(InvalidNumberError, match=re.escape(problem)):
        check_address(value)


def test_check_address_accepts() -> None:
    """Strings (even empty: the engine denies those) and complete PhoneNumbers pass unchanged."""
    number = phonenumbers.PhoneNumber(country_code=1, national_number=2125550123)
    assert check_address(number) is number
    zero = phonenumbers.PhoneNumber(country_code=0, national_number=0)
    assert check_address(zero) is zero
    assert check_address("") == ""
    assert check_address("bob@example.com", "to") == "bob@example.com"


def test_iterate() -> None:
    """iterate gives an iterator over any iterable and refuses the rest, naming the argument."""
    assert list(iterate((1, 2), "messages")) == [1, 2]
    with pytest.raises(InvalidInputError, match=r"^messages must be an iterable of messages"):
        iterate(3, "messages")


def test_a_deferral_may_end_past_the_input_range() -> None:
    """A rule's deferral, computed from an instant in range, may end past 3000-01-01: it is
    converted to UTC, not refused."""
    until = dt.datetime(3000, 1, 2, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    decision = defer(until, Reason("x.y", "r", "later"))
    assert decision.until == dt.datetime(3000, 1, 2, tzinfo=dt.UTC)


def test_default_key_leaves_surrogates_to_the_validator() -> None:
    """A body with a lone surrogate is refused by the body check, not by the fingerprint."""
    with pytest.raises(InvalidMessageError, match=r"^body holds a lone surrogate"):
        Message("+12125550123", "news", "marketing", body="\udce9")
    with pytest.raises(InvalidMessageError, match=r"^topic holds a lone surrogate"):
        Message("+12125550123", "n\udce9", "marketing")


def test_nul_positions_and_the_nul_option() -> None:
    """The first NUL is named, at position 0 too; with nul=False NUL passes, ASCII or not."""
    with pytest.raises(InvalidInputError, match=r"^x holds a NUL character \(at position 0\)$"):
        check_text("\x00a\x00", "x")
    with pytest.raises(InvalidInputError, match=r"^x holds a NUL character \(at position 1\)$"):
        check_text("é\x00\x00", "x")
    assert check_text("é\x00", "x", nul=False) == "é\x00"
    assert Message("+12125550123", "news", "marketing", body="a\x00b").body == "a\x00b"


def test_enum_values_in_any_case() -> None:
    """Purpose and channel values are read in any case; a wrong one lists the allowed values."""
    assert Message("+12125550123", "news", "MarKeting", channel="EMAIL").purpose is (
        Purpose.MARKETING
    )
    with pytest.raises(InvalidMessageError) as info:
        Message("+12125550123", "news", 5)  # type: ignore[arg-type]
    assert str(info.value) == "Purpose must be one of 'transactional', 'marketing', got 5"


def test_messages_name_the_field_and_type() -> None:
    """Each refusal names the field and what it was given."""
    cases: list[tuple[dict[str, object], str]] = [
        ({"to": 5}, "to must be a phone number string, a phonenumbers.PhoneNumber or an address, "
         "got int"),
        ({"topic": 5}, "topic must be a non-empty string, got int"),
        ({"content_key": " "}, "content_key must be a non-empty string, got ' '"),
        ({"locale": 5}, "locale must be None or a non-empty string, got int"),
        ({"person": "a\x00"}, "person holds a NUL character (at position 1)"),
        ({"body": 5}, "body must be a string, got int"),
    ]  # fmt: skip
    for kwargs, problem in cases:
        fields: dict[str, object] = {"to": "+12125550123", "topic": "news", "purpose": "marketing"}
        fields.update(kwargs)
        with pytest.raises(InvalidMessageError) as info:
            Message(**fields)  # type: ignore[arg-type]
        assert str(info.value) == problem
    with pytest.raises(NaiveDatetimeError, match=r"^not_after 2025-01-01T00:00:00 is naive"):
        Message("+12125550123", "news", "marketing", not_after=dt.datetime(2025, 1, 1))
    with pytest.raises(InvalidNumberError) as number:
        check_address(5)
    assert str(number.value).endswith("got int")
    with pytest.raises(InvalidInputError) as items:
        iterate(5, "messages")
    assert str(items.value) == "messages must be an iterable of messages, got int"


def test_decision_messages() -> None:
    """Malformed decisions and reasons say what is wrong."""
    with pytest.raises(NaiveDatetimeError, match=r"^until 2025-01-01T00:00:00 is naive"):
        defer(dt.datetime(2025, 1, 1))
    with pytest.raises(RuleError) as info:
        Decision(Verdict.ALLOW, NOW)
    assert str(info.value) == "a Decision has `until` exactly when its verdict is DEFER"
    with pytest.raises(InvalidInputError) as data:
        Reason("x.y", "r", "m", data=[1])  # type: ignore[arg-type]
    assert str(data.value) == "Reason.data must be a mapping, got list"
    with pytest.raises(RuleError, match=r"^Verdict must be one of"):
        Decision("maybe")  # type: ignore[arg-type]


def test_allow_shares_the_plain_allow() -> None:
    """allow() is one shared value; allow(reason) is a new ALLOW carrying the reason."""
    reason = Reason("info.x", "r", "for the record")
    assert allow() is allow()
    assert allow().reasons == ()
    informed = allow(reason)
    assert (informed.verdict, informed.until, informed.reasons) == (Verdict.ALLOW, None, (reason,))


def test_checked_parts_keeps_every_part() -> None:
    """checked_parts builds the decision from the parts as given, zone included."""
    reason = Reason("hours.outside_window", "r", "later")
    decision = checked_parts(Verdict.DEFER, NOW, (reason,), "Europe/Paris")
    assert (decision.verdict, decision.until, decision.reasons, decision.zone) == (
        Verdict.DEFER,
        NOW,
        (reason,),
        "Europe/Paris",
    )


def test_enum_converter_and_unhashable_values() -> None:
    """enum_converter reads a member or its value in any case and raises the given error; an
    unhashable value is refused like any other."""
    convert = enum_converter(Purpose, ConfigurationError)
    assert convert("MARKETING") is Purpose.MARKETING
    assert convert(Purpose.TRANSACTIONAL) is Purpose.TRANSACTIONAL
    with pytest.raises(ConfigurationError, match=r"^Purpose must be one of"):
        convert("spam")
    with pytest.raises(InvalidMessageError, match=r"^Purpose must be one of .*, got \[1\]$"):
        Message("+12125550123", "news", [1])  # type: ignore[arg-type]


def test_reason_data_defaults_to_empty() -> None:
    """Reason data given as None reads as an empty mapping."""
    assert dict(Reason("x.y", "r", "m", data=None).data) == {}  # type: ignore[arg-type]
