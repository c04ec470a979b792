"""Sender identity and content by jurisdiction: opt-out instructions (not bare words), a way to
reach the sender where the law asks for one, and the seller's details on programs."""

from __future__ import annotations

import datetime as dt

import pytest

from smspolicy import Channel, Engine, Message, Program, jurisdictions
from smspolicy.consent import WrittenConsent
from smspolicy.errors import ConfigurationError
from smspolicy.rules import has_opt_out, required_content
from smspolicy.rules._content import has_contact
from smspolicy.testing import FrozenClock

NOON_UTC = dt.datetime(2026, 3, 10, 17, tzinfo=dt.UTC)  # 12:00 Toronto and New York


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("Acme: ends at the end of the month", False, id="end-as-a-word"),
        pytest.param("Cancel anytime", False, id="cancel-as-a-word"),
        pytest.param("Acme: sale ends soon. Cancel or stop anytime.", False, id="stop-as-a-word"),
        pytest.param("Reply HELP for help", False, id="help-only"),
        pytest.param("Acme: 20% off. Reply STOP to opt out.", True, id="reply-stop"),
        pytest.param("Text END to 12345", True, id="text-end-to"),
        pytest.param("Msg&data rates may apply. STOP to end", True, id="stop-to-end"),
        pytest.param("Txt STOP to quit", True, id="txt-stop"),
        pytest.param("Reply with UNSUBSCRIBE", True, id="reply-with"),
        pytest.param("Répondez STOP pour ne plus recevoir", True, id="fr-repondez"),
        pytest.param("Promo -20% STOP au 36111", True, id="fr-stop-au"),
        pytest.param("Responde BAJA para cancelar", True, id="es-responde"),
        pytest.param("Responda SAIR", True, id="pt-responda"),
        pytest.param("Antworte STOPP zum Abmelden", True, id="de-antworte"),
        pytest.param("Rispondi STOP", True, id="it-rispondi"),
        pytest.param("Unsubscribe: https://acme.example/unsub?u=1", True, id="unsubscribe-link"),
        pytest.param("More at https://acme.example/deals", False, id="other-link"),
        pytest.param("To unsubscribe, visit our site", True, id="to-unsubscribe"),
        pytest.param("配信停止はこちら", True, id="ja"),
        pytest.param("退订回TD", True, id="zh"),
        pytest.param("Reply NO to stop", True, id="au-custom-word"),
    ],
)
def test_opt_out_means_an_instruction(body: str, expected: bool) -> None:
    """Only an instruction (reply STOP, text END to, an unsubscribe link...) counts."""
    assert has_opt_out(body) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("Acme Corp, acme.example/contact", True, id="bare-link"),
        pytest.param("Details: https://acme.example", True, id="https"),
        pytest.param("Write to help@acme.example", True, id="email"),
        pytest.param("Call +1 416 555 0123", True, id="phone"),
        pytest.param("Call 416-555-0123", True, id="national-phone"),
        pytest.param("Acme: 20% off today", False, id="none"),
        pytest.param("Text END to 12345", False, id="short-code-is-not-a-contact"),
    ],
)
def test_contact_is_a_link_email_or_phone(body: str, expected: bool) -> None:
    """A contact is a link, an email address or a telephone number."""
    assert has_contact(body) is expected


def _engine() -> Engine:
    return Engine(jurisdictions.standard(), clock=FrozenClock(NOON_UTC))


def _consented(engine: Engine, number: str) -> None:
    written = WrittenConsent("web", "Acme marketing texts", number).evidence()
    engine.consent.confirm(
        number, topic="deals", purpose="marketing", source="web", evidence=written
    )


@pytest.mark.parametrize(
    ("number", "code"),
    [
        pytest.param("+14165550123", "jurisdiction.ca.casl.content", id="CASL"),
        pytest.param("+819012345678", "jurisdiction.jp.content", id="Japan"),
    ],
)
def test_casl_and_japan_need_a_way_to_reach_the_sender(number: str, code: str) -> None:
    """Without a link, email or phone number the message is denied; with a link to the
    sender's details it is allowed (Japan at 02:00 local would be held, so the instant is
    chosen for each)."""
    engine = _engine()
    if number.startswith("+81"):
        engine.clock.set(dt.datetime(2026, 3, 10, 3, tzinfo=dt.UTC))  # type: ignore[attr-defined]
    _consented(engine, number)
    bare = Message(
        number, "deals", "marketing", body="Acme: 20% off. Reply STOP to opt out.", brand="Acme"
    )
    decision = engine.evaluate(bare)
    assert decision.codes == (code,)
    assert decision.reasons[0].data == {}
    full = Message(
        number,
        "deals",
        "marketing",
        body="Acme Corp acme.example/about: 20% off. Reply STOP to opt out.",
        brand="Acme",
    )
    assert engine.evaluate(full).allowed, engine.evaluate(full).codes


@pytest.mark.parametrize(
    ("number", "code"),
    [
        pytest.param("+447400123456", "jurisdiction.uk.pecr.content", id="PECR"),
        pytest.param("+33612345678", "jurisdiction.eu.eprivacy.content", id="ePrivacy"),
        pytest.param("+61412345678", "jurisdiction.au.content", id="Australia"),
        pytest.param("+14165550123", "jurisdiction.ca.casl.content", id="CASL"),
    ],
)
def test_a_bare_end_is_no_opt_out(number: str, code: str) -> None:
    """ "Acme: ends at the end of the month" used to pass as an opt-out; it no longer does."""
    engine = _engine()
    local_noon = {"+44": 12, "+33": 11, "+61": 1, "+14": 17}[number[:3]]
    engine.clock.set(dt.datetime(2026, 3, 10, local_noon, tzinfo=dt.UTC))  # type: ignore[attr-defined]
    _consented(engine, number)
    body = "Acme: sale ends at the end of the month acme.example/about"
    decision = engine.evaluate(Message(number, "deals", "marketing", body=body, brand="Acme"))
    assert code in decision.codes


def test_us_identification_is_off_until_enabled() -> None:
    """64.1200(d)(4) for texts is unconfirmed: off by default, enabled it asks for a contact."""
    ny = "+12125550123"
    body = "Acme: 20% off. Reply STOP to opt out."
    engine = _engine()
    _consented(engine, ny)
    assert engine.evaluate(Message(ny, "deals", "marketing", body=body, brand="Acme")).allowed
    strict = Engine(
        jurisdictions.standard(enable={"us.tcpa.identification"}), clock=FrozenClock(NOON_UTC)
    )
    _consented(strict, ny)
    decision = strict.evaluate(Message(ny, "deals", "marketing", body=body, brand="Acme"))
    assert decision.codes == ("jurisdiction.us.tcpa.identification",)
    assert decision.reasons[0].citation == "47 CFR 64.1200(d)(4) (UNCONF for texts)"
    call = Message(ny, "deals", "marketing", body=body + " Call 212-555-0100", brand="Acme")
    assert strict.evaluate(call).allowed


def test_required_content_contact_option_and_repr() -> None:
    """``contact=True`` shows in the rule's repr; the default does not ask for a contact."""
    assert repr(required_content(contact=True)) == (
        "required_content(identification=True, opt_out=True, contact=True)"
    )
    assert repr(required_content()) == "required_content(identification=True, opt_out=True)"


def test_program_sender_details() -> None:
    """A program declares the seller's legal name, postal address and contact, and writes the
    identification line from those it has."""
    program = Program(
        "Acme Deals",
        "Acme",
        help_contact="help@acme.example",
        frequency="2 msgs/month",
        legal_name="Acme Corp",
        postal_address="1 Main St, Toronto ON M5V 1A1",
        contact="acme.example/contact",
    )
    assert program.sender_details() == (
        "Acme Corp, 1 Main St, Toronto ON M5V 1A1; acme.example/contact"
    )
    brand_only = Program("P", "Acme", help_contact="h", frequency="2 msgs/month")
    assert brand_only.sender_details() == "Acme"
    with pytest.raises(ConfigurationError, match="legal_name"):
        Program("P", "Acme", help_contact="h", frequency="2 msgs/month", legal_name=" ")


_HEADERS = "Subject: Acme deals\nList-Unsubscribe: {value}\n\nAcme: 20% off this week."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<mailto:leave@acme.example>", True),
        ("<https://acme.example/l/8f3a9c>", True),
        ("< mailto:leave@acme.example >, <https://acme.example/l/8f3a9c>", True),
        ("<http://acme.example/l/8f3a9c>", True),
        ("mailto:leave@acme.example", False),  # RFC 2369 wants the URI in angle brackets
        ("<mailto:leave>", False),  # no domain
        ("<mailto:leave@acme>", False),  # no dot in the domain
        ("<ftp://acme.example/x>", False),
        ("<>", False),
        ("<https://>", False),
    ],
)
def test_an_email_list_unsubscribe_header_is_an_opt_out(value: str, expected: bool) -> None:
    """An opaque link or a bare mail address in a List-Unsubscribe header is the mail client's
    unsubscribe button: an opt-out for an email, whatever the address says."""
    body = _HEADERS.format(value=value)
    assert has_opt_out(body, Channel.EMAIL) is expected


def test_a_list_unsubscribe_header_counts_only_for_email_and_only_in_the_headers() -> None:
    body = _HEADERS.format(value="<mailto:leave@acme.example>")
    assert has_opt_out(body, Channel.EMAIL) is True
    assert has_opt_out(body) is False
    assert has_opt_out(body, Channel.SMS) is False
    in_a_part = "Subject: Acme deals\n\nList-Unsubscribe: <mailto:leave@acme.example>"
    assert has_opt_out(in_a_part, Channel.EMAIL) is False
    crlf = body.replace("\n", "\r\n")
    assert has_opt_out(crlf, Channel.EMAIL) is True


def test_us_marketing_email_with_an_opaque_unsubscribe_header_is_allowed() -> None:
    """CAN-SPAM: no prior consent; the postal address in the body and a List-Unsubscribe header
    with an opaque link are enough. Without the header the same email is denied."""
    engine = Engine(jurisdictions.standard(), clock=FrozenClock(NOON_UTC))
    footer = "Acme Inc., 100 Main Street, Springfield, IL 62701"
    with_header = (
        "Subject: Acme deals\nList-Unsubscribe: <https://acme.example/l/8f3a9c>\n\n"
        f"Acme: 20% off this week.\n{footer}"
    )
    message = Message(
        "alice@example.com",
        "deals",
        "marketing",
        channel=Channel.EMAIL,
        body=with_header,
        brand="Acme",
        recipient={"country": "US", "state": "IL", "zone": "America/Chicago"},
    )
    assert engine.evaluate(message).allowed
    without = Message(
        "alice@example.com",
        "deals",
        "marketing",
        channel=Channel.EMAIL,
        body=f"Subject: Acme deals\n\nAcme: 20% off this week.\n{footer}",
        brand="Acme",
        recipient={"country": "US", "state": "IL", "zone": "America/Chicago"},
    )
    assert "jurisdiction.us.canspam.opt_out" in engine.evaluate(without).codes
