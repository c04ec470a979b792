"""Written consent for US marketing: the evidence the FCC's definition asks for (47 CFR
64.1200(f)(9)), recorded on ledger events and required by the US pack."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from smspolicy import Engine, Message, Policy, Verdict, jurisdictions, rules
from smspolicy.cli import main
from smspolicy.consent import WrittenConsent, written_consent_of
from smspolicy.errors import ConfigurationError, InvalidInputError
from smspolicy.testing import FrozenClock

NY = "+12125550123"
TORONTO = "+14165550123"
NOON = dt.datetime(2026, 3, 10, 17, tzinfo=dt.UTC)  # 12:00 in New York
CODE = "jurisdiction.us.tcpa.written_consent_evidence"
DISCLOSURE = (
    "By replying YES you agree to receive recurring automated marketing texts from Acme at "
    "this number. Consent is not a condition of purchase. Reply STOP to cancel."
)
BODY = "Acme acme.example/about: 20% off today. Reply STOP to opt out."


def engine(**kwargs: object) -> Engine:
    return Engine(jurisdictions.standard(**kwargs), clock=FrozenClock(NOON))  # type: ignore[arg-type]


def deals(number: str = NY) -> Message:
    return Message(number, "deals", "marketing", body=BODY, brand="Acme")


def signed(number: str = NY) -> dict[str, object]:
    return WrittenConsent("docusign:envelope-42", DISCLOSURE, number).evidence(ip="203.0.113.7")


def test_confirmation_without_written_evidence_is_denied_for_us_marketing() -> None:
    """A confirmed consent without the signed agreement on record is DENY with the provision's
    code and citation; the same consent with it is allowed."""
    plain = engine()
    plain.consent.confirm(NY, topic="deals", purpose="marketing", source="web:form")
    decision = plain.evaluate(deals())
    assert decision.verdict is Verdict.DENY
    assert decision.codes == (CODE,)
    assert decision.reasons[0].citation == "47 CFR 64.1200(a)(2), (f)(9)"
    proven = engine()
    proven.consent.confirm(
        NY, topic="deals", purpose="marketing", source="web:form", evidence=signed()
    )
    assert proven.evaluate(deals()).allowed


def test_relaxed_pack_attaches_a_warning_instead() -> None:
    """``relax={"us.tcpa.written_consent_evidence"}`` allows the message with the reason
    attached, for senders who keep the evidence elsewhere."""
    relaxed = engine(relax={"us.tcpa.written_consent_evidence"})
    relaxed.consent.confirm(NY, topic="deals", purpose="marketing", source="web:form")
    decision = relaxed.evaluate(deals())
    assert decision.allowed
    assert CODE in decision.codes


def test_only_relaxable_provisions_can_be_relaxed() -> None:
    """Relaxing a provision without a milder form is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match=r"us\.fl\.window"):
        jurisdictions.standard(relax={"us.fl.window"})


def test_other_purposes_and_countries_need_no_written_evidence() -> None:
    """Transactional messages and Canadian recipients are not held for it."""
    e = engine()
    e.consent.confirm(NY, topic="orders", purpose="transactional", source="checkout")
    assert e.evaluate(Message(NY, "orders", "transactional", body="Shipped")).allowed
    e.consent.confirm(TORONTO, topic="deals", purpose="marketing", source="web:form")
    assert e.evaluate(deals(TORONTO)).allowed


def test_double_opt_in_with_disclosure_is_recorded_as_written_consent() -> None:
    """A request carrying the disclosure, then YES from that number: the confirmation records
    the written consent (signature: the reply, the disclosure, the number) and is allowed."""
    e = engine()
    e.consent.opt_in(
        NY,
        topic="deals",
        purpose="marketing",
        source="web:form",
        evidence={"disclosure": DISCLOSURE},
    )
    result = e.inbound("YES", NY)
    (event,) = result.events
    written = event.evidence["written_consent"]
    assert written == {"signature": "sms-reply:yes", "disclosure": DISCLOSURE, "number": NY}
    assert e.evaluate(deals()).allowed


def test_double_opt_in_without_disclosure_is_not_written_consent() -> None:
    """A YES to a request that did not carry the disclosure text proves no written consent."""
    e = engine()
    e.consent.opt_in(NY, topic="deals", purpose="marketing", source="web:form")
    (event,) = e.inbound("YES", NY).events
    assert "written_consent" not in event.evidence
    assert e.evaluate(deals()).codes == (CODE,)


def test_a_reaffirmation_keeps_the_written_consent_it_reaffirms() -> None:
    """After an unclear reply, a YES reaffirms the earlier signed consent, which still counts."""
    clock = FrozenClock(NOON)
    e = Engine(jurisdictions.standard(), clock=clock)
    e.consent.confirm(NY, topic="deals", purpose="marketing", source="web", evidence=signed())
    clock.advance(dt.timedelta(hours=1))
    e.consent.hold(NY, source="keyword:unclear")
    clock.advance(dt.timedelta(minutes=10))
    (event,) = e.inbound("YES", NY).events
    assert "reaffirms" in event.evidence
    assert written_consent_of(event, e.consent.history(NY)) is not None
    assert e.evaluate(deals()).allowed


@pytest.mark.parametrize(
    "evidence",
    [
        pytest.param(
            {"written_consent": {"signature": "x", "disclosure": DISCLOSURE}}, id="no-number"
        ),
        pytest.param(
            {"written_consent": {"signature": " ", "disclosure": "d", "number": NY}}, id="blank"
        ),
        pytest.param({"written_consent": "signed"}, id="not-a-mapping"),
        pytest.param(
            WrittenConsent("sig", DISCLOSURE, "+12125550199").evidence(), id="other-number"
        ),
        pytest.param({"request": "0" * 64}, id="unknown-request"),
    ],
)
def test_incomplete_or_foreign_evidence_does_not_count(evidence: dict[str, object]) -> None:
    """Evidence missing a field, for another number or naming no known request is no proof."""
    e = engine()
    e.consent.confirm(NY, topic="deals", purpose="marketing", source="web", evidence=evidence)
    assert e.evaluate(deals()).codes == (CODE,)


def test_written_consent_fields_are_required() -> None:
    """Each field is a non-empty text."""
    with pytest.raises(InvalidInputError, match="disclosure"):
        WrittenConsent("sig", "", NY)
    with pytest.raises(InvalidInputError, match="signature"):
        WrittenConsent(None, DISCLOSURE, NY)  # type: ignore[arg-type]


def test_a_revocation_is_not_written_consent() -> None:
    """Only confirmations prove consent."""
    e = engine()
    event = e.consent.revoke(NY, source="keyword:STOP", evidence=signed())
    assert written_consent_of(event) is None


def test_standalone_rule_options() -> None:
    """The rule takes on_missing "deny" or "warn" and shows it in its repr."""
    assert repr(rules.written_consent_evidence()) == "written_consent_evidence()"
    warn = rules.written_consent_evidence(on_missing="warn")
    assert repr(warn) == "written_consent_evidence(on_missing='warn')"
    with pytest.raises(ConfigurationError, match="on_missing"):
        rules.written_consent_evidence(on_missing="ignore")  # type: ignore[arg-type]
    e = Engine(Policy(rules.written_consent_evidence()), clock=FrozenClock(NOON))
    assert e.evaluate(deals()).allowed  # no express consent: left to the consent rules
    e.consent.confirm(NY, topic="deals", purpose="marketing", source="web")
    assert e.evaluate(deals()).codes == ("consent.written_evidence_missing",)


def test_consent_import_maps_signature_and_disclosure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`consent import` records signature and disclosure columns as written-consent evidence
    for the row's number; on another kind of row they are refused."""
    rows = tmp_path / "consents.csv"
    rows.write_text(
        "number,kind,at,topic,purpose,source,evidence,signature,disclosure\n"
        f'{NY},confirmed,2026-03-01T12:00:00Z,deals,marketing,web,"{{""ip"": ""1.2.3.4""}}",'
        f'docusign:7,"{DISCLOSURE}"\n'
    )
    db = tmp_path / "store.sqlite3"
    assert main(["consent", "import", str(rows), "--db", str(db)]) == 0
    from smspolicy.store import SQLiteStore

    e = Engine(jurisdictions.standard(), SQLiteStore(db), FrozenClock(NOON))
    (event,) = e.consent.history(NY)
    assert event.evidence["ip"] == "1.2.3.4"
    assert event.evidence["written_consent"] == {
        "signature": "docusign:7",
        "disclosure": DISCLOSURE,
        "number": NY,
    }
    assert e.evaluate(deals()).allowed
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "number,kind,at,source,signature,disclosure\n"
        f"{NY},revoked,2026-03-02T12:00:00Z,web,docusign:8,text\n"
    )
    capsys.readouterr()
    assert main(["consent", "import", str(bad), "--db", str(db)]) == 2
    assert "line 2: signature and disclosure belong to confirmed rows" in capsys.readouterr().err


def test_the_evidence_is_that_of_the_brands_own_consent_per_topic() -> None:
    """The check reads the consent in effect for the message's brand and topic: another
    brand's signed consent does not stand in, and a STOP for another topic leaves this topic's
    unsigned consent to be judged (denied), with the rule, date and topic in the reason."""
    clock = FrozenClock(NOON)
    e = Engine(Policy(rules.written_consent_evidence()), clock=clock)
    e.consent.confirm(NY, topic="deals", purpose="marketing", source="web", brand="Acme")
    clock.advance(dt.timedelta(minutes=1))
    other = WrittenConsent("sig", DISCLOSURE, NY).evidence()
    e.consent.confirm(
        NY, topic="deals", purpose="marketing", source="web", brand="Other", evidence=other
    )
    clock.advance(dt.timedelta(minutes=1))
    e.consent.revoke(NY, topic="alerts", source="keyword:STOP ALERTS", brand="Acme")
    decision = e.evaluate(deals())
    assert decision.codes == ("consent.written_evidence_missing",)
    (reason,) = decision.reasons
    assert reason.rule == "written_consent_evidence"
    assert reason.data == {"at": NOON.isoformat(), "topic": "deals"}


def test_the_standalone_rule_leaves_implied_consent_to_the_consent_rules() -> None:
    """The rule alone asks for evidence only of an express consent: an implied (purchase)
    consent passes it with no reason, and its default reason cites 64.1200(a)(2), (f)(9)."""
    rule = rules.written_consent_evidence()
    implied = Engine(Policy(rule), clock=FrozenClock(NOON))
    implied.consent.imply(NY, basis="purchase", purpose="marketing", topic="deals", source="pos")
    decision = implied.evaluate(deals())
    assert decision.allowed
    assert decision.codes == ()
    express = Engine(Policy(rule), clock=FrozenClock(NOON))
    express.consent.confirm(NY, topic="deals", purpose="marketing", source="web:form")
    denied = express.evaluate(deals())
    assert denied.codes == ("consent.written_evidence_missing",)
    assert denied.reasons[0].citation == "47 CFR 64.1200(a)(2), (f)(9)"


def test_transactional_consent_is_no_marketing_consent_to_prove() -> None:
    """Transactional consent alone gives no marketing consent: the evidence rule leaves the
    message to the consent rules (the standard policy denies it for missing consent)."""
    rule = rules.written_consent_evidence()
    only = Engine(Policy(rule), clock=FrozenClock(NOON))
    only.consent.confirm(NY, topic="deals", purpose="transactional", source="web:form")
    assert only.evaluate(deals()).codes == ()


def test_the_evidence_is_read_from_the_grant_for_the_messages_channel() -> None:
    """A text's written consent is the one its own channel's grant carries: a signed agreement
    recorded later for calls only does not stand in for an SMS consent without one (and the
    other way round it does not stop a text whose SMS consent is signed)."""
    clock = FrozenClock(NOON - dt.timedelta(days=2))
    unsigned_text = Engine(jurisdictions.standard(), clock=clock)
    unsigned_text.consent.confirm(
        NY, topic="deals", purpose="marketing", source="web:form", channel="sms"
    )
    clock.set(NOON - dt.timedelta(days=1))
    unsigned_text.consent.confirm(
        NY, topic="deals", purpose="marketing", source="ivr", channel="voice", evidence=signed()
    )
    clock.set(NOON)
    decision = unsigned_text.evaluate(deals())
    assert decision.verdict is Verdict.DENY
    assert decision.codes == (CODE,)

    clock = FrozenClock(NOON - dt.timedelta(days=2))
    signed_text = Engine(jurisdictions.standard(), clock=clock)
    signed_text.consent.confirm(
        NY, topic="deals", purpose="marketing", source="web:form", channel="sms", evidence=signed()
    )
    clock.set(NOON - dt.timedelta(days=1))
    signed_text.consent.confirm(
        NY, topic="deals", purpose="marketing", source="ivr", channel="voice"
    )
    clock.set(NOON)
    assert signed_text.evaluate(deals()).allowed


def test_a_proof_remembered_for_one_number_never_proves_another() -> None:
    """One engine, two numbers: the first's consent is signed and allowed (its proof is then
    remembered); the second's is not signed and stays denied, before and after."""
    both = engine()
    other = "+12125550188"
    both.consent.confirm(NY, topic="deals", purpose="marketing", source="web", evidence=signed())
    both.consent.confirm(other, topic="deals", purpose="marketing", source="web")
    assert both.evaluate(deals(other)).codes == (CODE,)
    for _ in range(2):
        assert both.evaluate(deals()).allowed
        assert both.evaluate(deals(other)).codes == (CODE,)
