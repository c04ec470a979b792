"""Senders: `rules.origination` (dedicated origination identities per brand and purpose) and
`rules.seller_registration` (the registrations a seller declares, Texas's among them)."""

from __future__ import annotations

import datetime as dt

import pytest

from smspolicy import Context, Message, Program, Purpose, Verdict, rules
from smspolicy._recipients import Resolver
from smspolicy.errors import ConfigurationError

NOW = dt.datetime(2026, 3, 10, 18, tzinfo=dt.UTC)
DALLAS = "+12145550123"
NEW_YORK = "+12125550123"
SHORT_CODE = "12345"


def context(number: str = DALLAS, **options: object) -> Context:
    return Context(now=NOW, recipient=Resolver().resolve(number), **options)  # type: ignore[arg-type]


def program(brand: str = "Acme", **options: object) -> Program:
    return Program(
        f"{brand} {len(options)}",
        brand,
        topic="deals",
        help_contact="help@acme.example",
        frequency="4 msgs/week",
        **options,  # type: ignore[arg-type]
    )


def marketing(number: str = DALLAS, **options: object) -> Message:
    fields: dict[str, object] = {"brand": "Acme", **options}
    return Message(number, "deals", "marketing", **fields)  # type: ignore[arg-type]


# --- origination -----------------------------------------------------------------------------

TABLE = {("Acme", "marketing"): [SHORT_CODE, "67890"], (None, Purpose.TRANSACTIONAL): ["55555"]}


def test_a_dedicated_sender_is_allowed() -> None:
    """A message from one of its brand's identities for its purpose is the plain ALLOW."""
    rule = rules.origination(TABLE)
    decision = rule(marketing(sender=SHORT_CODE), context())
    assert decision.verdict is Verdict.ALLOW
    assert decision.reasons == ()


def test_another_sender_is_a_mismatch_naming_the_allowed_ones() -> None:
    """A promotional message through another identity is DENY origination.mismatch, naming the
    sender, the brand, the purpose and the allowed identities in order."""
    decision = rules.origination(TABLE)(marketing(sender="99999"), context())
    assert decision.verdict is Verdict.DENY
    (reason,) = decision.reasons
    assert reason.code == "origination.mismatch"
    assert reason.rule == "origination"
    assert reason.message == ("99999 is not a marketing sender of Acme; use one of 12345, 67890")


def test_no_sender_listed_for_the_pair_is_unlisted() -> None:
    """A brand and purpose with no identity in the table is DENY origination.unlisted; a message
    without a brand is shown as "(no brand)"."""
    other = rules.origination(TABLE)(marketing(brand="Other", sender=SHORT_CODE), context())
    assert other.verdict is Verdict.DENY
    (reason,) = other.reasons
    assert (reason.code, reason.rule) == ("origination.unlisted", "origination")
    assert reason.message == "no sender is registered for Other marketing messages"
    brandless = rules.origination(TABLE)(
        Message(DALLAS, "deals", "marketing", sender=SHORT_CODE), context()
    )
    assert brandless.reasons[0].message == (
        "no sender is registered for (no brand) marketing messages"
    )
    notice = Message(DALLAS, "deals", "transactional", sender="55555")
    assert rules.origination(TABLE)(notice, context()).reasons == ()


def test_a_message_naming_no_sender_is_denied() -> None:
    """A message that names no origination identity cannot be checked: DENY
    origination.missing."""
    decision = rules.origination(TABLE)(marketing(), context())
    assert decision.verdict is Verdict.DENY
    (reason,) = decision.reasons
    assert (reason.code, reason.rule) == ("origination.missing", "origination")
    assert reason.message == "the message names no origination identity to check"


def test_without_a_table_the_programs_senders_are_used() -> None:
    """``origination()`` reads the engine's programs' senders from the context."""
    rule = rules.origination()
    senders = {("Acme", Purpose.MARKETING): frozenset({SHORT_CODE})}
    assert rule(marketing(sender=SHORT_CODE), context(senders=senders)).reasons == ()
    assert rule(marketing(sender="99999"), context(senders=senders)).verdict is Verdict.DENY
    assert rule(marketing(sender=SHORT_CODE), context()).codes == ("origination.unlisted",)


def test_other_channels_are_not_checked() -> None:
    """An email has no origination identity to check: allowed."""
    email = Message("a@example.com", "deals", "marketing", channel="email", brand="Acme")
    recipient_context = Context(now=NOW, recipient=Resolver().resolve(DALLAS))
    assert rules.origination(TABLE)(email, recipient_context).reasons == ()


def test_origination_repr() -> None:
    """The repr says whether the rule has its own table and how many pairs it holds."""
    assert repr(rules.origination()) == "origination()"
    assert repr(rules.origination(TABLE)) == "origination(2 senders)"


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        pytest.param({("Acme",): ["1"]}, "pairs", id="one-element-key"),
        pytest.param({5: ["1"]}, "pairs", id="not-a-pair"),
        pytest.param({("Acme", "marketing"): "12345"}, "list of identities", id="text"),
        pytest.param({("Acme", "marketing"): [""]}, "list of identities", id="empty"),
        pytest.param({("Acme", "marketing"): [5]}, "list of identities", id="number"),
        pytest.param({("Acme", "spam"): ["1"]}, "Purpose", id="bad-purpose"),
    ],
)
def test_origination_tables_are_checked(table: object, problem: str) -> None:
    """A table's keys are (brand, purpose) pairs and its values lists of identities."""
    with pytest.raises(ConfigurationError, match=problem):
        rules.origination(table)  # type: ignore[arg-type]


def test_origination_table_keys_are_converted() -> None:
    """Purposes given as text become Purpose members, identities a frozenset."""
    rule = rules.origination({("Acme", "marketing"): ["1", "2"]})
    assert rule.table == {("Acme", Purpose.MARKETING): frozenset({"1", "2"})}


# --- seller registration ----------------------------------------------------------------------


def test_no_declared_registration_warns_and_allows() -> None:
    """Marketing to a Texas number with no program declaring a Texas registration is allowed
    with the reason registration.missing, naming the brand and the jurisdiction."""
    decision = rules.seller_registration("US-TX")(marketing(), context())
    assert decision.verdict is Verdict.ALLOW
    (reason,) = decision.reasons
    assert (reason.code, reason.rule, reason.citation) == (
        "registration.missing",
        "seller_registration",
        None,
    )
    assert reason.message == (
        "no program of Acme declares a registration number or exemption for US-TX"
    )
    assert dict(reason.data) == {"brand": "Acme", "jurisdiction": "US-TX"}
    brandless = rules.seller_registration("US-TX")(Message(DALLAS, "deals", "marketing"), context())
    assert brandless.reasons[0].data["brand"] == "(no brand)"


@pytest.mark.parametrize(
    ("programs", "warned"),
    [
        pytest.param([program(registrations={"US-TX": "2025-0042"})], False, id="declared"),
        pytest.param([program()], True, id="none-declared"),
        pytest.param([program(registrations={"US-FL": "F-1"})], True, id="other-jurisdiction"),
        pytest.param(
            [program("Other", registrations={"US-TX": "2025-0042"})], True, id="other-brand"
        ),
        pytest.param(
            [program(), program(registrations={"US-TX": "exempt: § 302.058"})],
            False,
            id="second-program",
        ),
    ],
)
def test_a_program_of_the_brand_declares_it(programs: list[Program], warned: bool) -> None:
    """Only a registration for the jurisdiction, declared by a program of the message's brand,
    spares the warning."""
    decision = rules.seller_registration("US-TX")(marketing(), context(programs=tuple(programs)))
    assert decision.verdict is Verdict.ALLOW
    assert decision.codes == (("registration.missing",) if warned else ())


def test_other_recipients_and_purposes_are_not_concerned() -> None:
    """A New York recipient, and a transactional message to Texas, get the plain ALLOW."""
    rule = rules.seller_registration("US-TX")
    assert rule(marketing(NEW_YORK), context(NEW_YORK)).reasons == ()
    notice = Message(DALLAS, "deals", "transactional", brand="Acme")
    assert rule(notice, context()).reasons == ()


def test_code_citation_and_name_are_the_callers() -> None:
    """A pack's provision gives its own code, citation and name, and reads as its name."""
    rule = rules.seller_registration(
        "US-TX", code="jurisdiction.us.tx.registration", citation="§ 302.101", name="us.tx.reg"
    )
    (reason,) = rule(marketing(), context()).reasons
    assert (reason.code, reason.rule, reason.citation) == (
        "jurisdiction.us.tx.registration",
        "us.tx.reg",
        "§ 302.101",
    )
    assert repr(rule) == "us.tx.reg('US-TX')"


@pytest.mark.parametrize("jurisdiction", ["Texas", "us-tx", "US-TEXA", "", 5, "USA"])
def test_seller_registration_needs_a_jurisdiction_code(jurisdiction: object) -> None:
    """The jurisdiction is a code like "US-TX" or "CA"."""
    with pytest.raises(ConfigurationError, match="code like 'US-TX'"):
        rules.seller_registration(jurisdiction)  # type: ignore[arg-type]
    assert repr(rules.seller_registration("CA")) == "seller_registration('CA')"
