"""Core values: Message, Reason, Decision and their validation."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pytest

from smspolicy import Channel, Decision, Message, Purpose, Reason, Verdict, allow, defer, deny
from smspolicy.errors import InvalidMessageError, NaiveDatetimeError, RuleError

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
        "Deferred until Jan 15, 2025, 9:00\u202fAM CST (America/Chicago) "
        "because a custom rule says so."
    )
    assert d.explain("es").startswith("Aplazado hasta 15 ene 2025, 9:00 CST (America/Chicago)")
    assert d.explain("fr").startswith("Reporté au 15 janv. 2025, 09:00 CST (America/Chicago)")
    assert d.explain("de") == d.explain("en")
    assert allow().explain("fr") == "Autorisé."
