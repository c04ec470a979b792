"""Jurisdiction packs and `jurisdictions.standard()`."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest

from smspolicy import Decision, Engine, Message, Profile, Verdict, jurisdictions
from smspolicy.consent import add_months
from smspolicy.errors import ConfigurationError
from smspolicy.testing import FrozenClock

ROOT = Path(__file__).resolve().parent.parent
FL = "+13055550199"  # Miami
NY = "+12125550123"
TX = "+12145550123"  # Dallas
CT = "+12035550123"  # New Haven
CA = "+14165550123"  # Toronto
UK = "+447400123456"


def tz(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def engine_at(at: dt.datetime, **kwargs: object) -> Engine:
    return Engine(jurisdictions.standard(), clock=FrozenClock(at), **kwargs)  # type: ignore[arg-type]


def consented(engine: Engine, number: str, topic: str = "deals") -> None:
    engine.consent.confirm(number, topic=topic, purpose="marketing", source="web:form")


def marketing(number: str, body: str = "Acme: 20% off today. Reply STOP to opt out.") -> Message:
    return Message(number, "deals", "marketing", body=body, brand="Acme")


def assert_cited(decision: Decision) -> None:
    jurisdiction = [r for r in decision.reasons if r.code.startswith("jurisdiction.")]
    assert jurisdiction, decision.codes
    for reason in jurisdiction:
        assert reason.citation, reason


def test_florida_evening_defers_new_york_does_not() -> None:
    """A Florida number at 20:30 local defers to 08:00 next day; a New York number at 20:30 is
    allowed."""
    at = dt.datetime(2025, 1, 15, 20, 30, tzinfo=tz("America/New_York"))
    engine = engine_at(at)
    consented(engine, FL)
    consented(engine, NY)
    florida = engine.evaluate(marketing(FL))
    assert florida.verdict is Verdict.DEFER
    assert florida.until == dt.datetime(2025, 1, 16, 8, tzinfo=tz("America/New_York"))
    assert "jurisdiction.us.fl.window" in florida.codes
    assert_cited(florida)
    assert engine.evaluate(marketing(NY)).allowed


def test_florida_fourth_text_in_24h_is_held() -> None:
    """A 4th same-topic marketing text to a Florida number within 24 h is held."""
    clock = FrozenClock(dt.datetime(2025, 1, 15, 10, tzinfo=tz("America/New_York")))
    engine = Engine(jurisdictions.standard(), clock=clock)
    consented(engine, FL)
    for _ in range(3):
        held = engine.reserve(marketing(FL, body=f"Acme deal {clock.now()}. Reply STOP to end."))
        assert held.allowed
        held.commit("id")
        clock.advance(dt.timedelta(hours=1))
    fourth = engine.evaluate(marketing(FL, body="Acme: another deal. Reply STOP to end."))
    assert fourth.verdict is Verdict.DEFER
    assert fourth.codes == ("jurisdiction.us.fl.cap",)
    assert fourth.until == dt.datetime(2025, 1, 16, 10, tzinfo=tz("America/New_York"))
    assert_cited(fourth)
    assert engine.evaluate(Message(FL, "news", "marketing", brand="Acme")).codes != (
        "jurisdiction.us.fl.cap",
    )


def test_texas_sunday_morning() -> None:
    """Texas Sunday 10:00 defers to 12:00."""
    engine = engine_at(dt.datetime(2025, 1, 19, 10, tzinfo=tz("America/Chicago")))
    consented(engine, TX)
    decision = engine.evaluate(marketing(TX))
    assert decision.until == dt.datetime(2025, 1, 19, 12, tzinfo=tz("America/Chicago"))
    assert "jurisdiction.us.tx.window" in decision.codes
    assert_cited(decision)


def test_connecticut_0830_defers_to_0900() -> None:
    """Connecticut 08:30 defers to 09:00."""
    engine = engine_at(dt.datetime(2025, 1, 15, 8, 30, tzinfo=tz("America/New_York")))
    consented(engine, CT)
    decision = engine.evaluate(marketing(CT))
    assert decision.until == dt.datetime(2025, 1, 15, 9, tzinfo=tz("America/New_York"))
    assert decision.codes == ("jurisdiction.us.ct.window",)


def test_transactional_not_held_by_solicitation_windows() -> None:
    """Transactional messages are not held by solicitation windows."""
    engine = engine_at(dt.datetime(2025, 1, 19, 6, tzinfo=tz("America/Chicago")))
    engine.consent.confirm(TX, topic="orders", purpose="transactional", source="checkout")
    assert engine.evaluate(
        Message(TX, "orders", "transactional", body="Your order shipped")
    ).allowed


def test_us_marketing_needs_express_consent() -> None:
    """In the US an implied basis (a purchase) is not written consent for marketing."""
    engine = engine_at(dt.datetime(2025, 1, 15, 12, tzinfo=tz("America/New_York")))
    engine.consent.imply(NY, basis="purchase", purpose="marketing", source="pos")
    decision = engine.evaluate(marketing(NY))
    assert decision.codes == ("jurisdiction.us.tcpa.written_consent",)
    assert decision.reasons[0].citation == "47 CFR 64.1200(a)(2)"


@pytest.mark.parametrize(("age", "allowed"), [("1y", True), ("2y+1d", False)])
def test_canadian_implied_consent_clock(age: str, allowed: bool) -> None:
    """Canadian implied consent from a purchase 1 year ago allows marketing; 2 years + 1 day
    ago it does not."""
    now = dt.datetime(2026, 6, 1, 12, tzinfo=tz("America/Toronto"))
    bought = add_months(now, -12) if age == "1y" else add_months(now, -24) - dt.timedelta(days=1)
    clock = FrozenClock(bought)
    engine = Engine(jurisdictions.standard(), clock=clock)
    engine.consent.imply(CA, basis="purchase", purpose="marketing", source="pos")
    clock.set(now)
    decision = engine.evaluate(marketing(CA))
    assert decision.allowed is allowed
    if not allowed:
        assert "jurisdiction.ca.casl.consent" in decision.codes
        assert_cited(decision)


def test_casl_requires_identification_and_unsubscribe() -> None:
    """A Canadian commercial message must name its sender and offer an unsubscribe."""
    engine = engine_at(dt.datetime(2026, 6, 1, 12, tzinfo=tz("America/Toronto")))
    consented(engine, CA)
    decision = engine.evaluate(marketing(CA, body="20% off today!"))
    assert decision.codes == ("jurisdiction.ca.casl.content", "jurisdiction.ca.casl.content")
    assert_cited(decision)


def test_uk_consent_and_soft_opt_in() -> None:
    """UK marketing without consent is denied; the soft opt-in is allowed only with an opt-out
    in the body."""
    engine = engine_at(dt.datetime(2025, 6, 2, 12, tzinfo=tz("Europe/London")))
    none = engine.evaluate(marketing(UK))
    assert none.verdict is Verdict.DENY
    assert "jurisdiction.uk.pecr.consent" in none.codes
    assert_cited(none)
    engine.consent.imply(UK, basis="soft_opt_in", purpose="marketing", source="checkout")
    assert engine.evaluate(marketing(UK)).allowed
    without = engine.evaluate(marketing(UK, body="Acme: 20% off today"))
    assert without.codes == ("jurisdiction.uk.pecr.content",)
    assert without.reasons[0].citation == "PECR reg. 23"


def test_uk_inquiry_is_not_soft_opt_in() -> None:
    """An inquiry is not a sale: under PECR it does not allow marketing."""
    engine = engine_at(dt.datetime(2025, 6, 2, 12, tzinfo=tz("Europe/London")))
    engine.consent.imply(UK, basis="inquiry", purpose="marketing", source="web")
    assert engine.evaluate(marketing(UK)).codes == ("jurisdiction.uk.pecr.consent",)


def test_profile_residence_applies_florida_rules_to_new_york_number() -> None:
    """A profile that says the recipient lives in Florida applies Florida rules to a New York
    number."""
    at = dt.datetime(2025, 1, 15, 20, 30, tzinfo=tz("America/New_York"))
    profiles = {NY: Profile(country="US", state="FL")}
    engine = engine_at(at, profiles=profiles)
    consented(engine, NY)
    decision = engine.evaluate(marketing(NY))
    assert "jurisdiction.us.fl.window" in decision.codes
    assert decision.until == dt.datetime(2025, 1, 16, 8, tzinfo=tz("America/New_York"))


def test_unconfirmed_provisions_are_off_until_enabled() -> None:
    """Unconfirmed provisions ship off; enable or include_unconfirmed switches them on."""
    ids = {p.id for p in jurisdictions.provisions()}
    assert "us.al.window" not in ids
    assert "us.fl.window" in ids
    enabled = {p.id for p in jurisdictions.provisions(enable={"us.al.window"})}
    assert "us.al.window" in enabled
    assert "us.nj.window" not in enabled
    everything = {p.id for p in jurisdictions.provisions(include_unconfirmed=True)}
    assert {"us.al.window", "us.nj.window", "fr.sms.hours"} <= everything
    with pytest.raises(ConfigurationError, match="unknown provisions"):
        jurisdictions.provisions(enable={"us.zz.nothing"})
    with pytest.raises(ConfigurationError, match="unknown jurisdiction pack"):
        jurisdictions.pack("zz")


def test_enabled_unconfirmed_provision_applies() -> None:
    """An enabled unconfirmed provision (Alabama's window) holds messages, citing its source."""
    at = dt.datetime(2025, 1, 15, 20, 30, tzinfo=tz("America/Chicago"))
    engine = Engine(jurisdictions.standard(enable={"us.al.window"}), clock=FrozenClock(at))
    consented(engine, "+12055550123")
    decision = engine.evaluate(marketing("+12055550123"))
    assert "jurisdiction.us.al.window" in decision.codes
    assert "UNCONF" in (decision.reasons[0].citation or "")


def test_every_provision_has_citation_and_date() -> None:
    """Every provision carries a citation, an as-of date and a unique id."""
    all_provisions = [p for name in jurisdictions.PACKS for p in jurisdictions.pack(name)]
    assert len({p.id for p in all_provisions}) == len(all_provisions)
    for p in all_provisions:
        assert p.citation
        assert p.as_of == jurisdictions.AS_OF
        assert p.confirmed or "UNCONF" in p.citation or p.note


def test_docs_table_is_current() -> None:
    """docs/jurisdictions.md is what `python -m smspolicy.jurisdictions` prints."""
    printed = subprocess.run(
        [sys.executable, "-m", "smspolicy.jurisdictions"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (ROOT / "docs" / "jurisdictions.md").read_text() == printed


def test_standard_repr_reads_like_code() -> None:
    """The standard policy prints its rules by name."""
    text = repr(jurisdictions.standard(["us"]))
    assert text.startswith("Policy(valid_number(), consent(stop_scope='brand'), when(")
    assert "us.fl.window" in text
