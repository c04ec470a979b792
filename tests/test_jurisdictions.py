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


TERRITORY_NUMBERS = {
    "PR": "+17872345678",
    "VI": "+13406421234",
    "GU": "+16713001234",
    "AS": "+16847331234",
    "MP": "+16702345678",
}


@pytest.mark.parametrize("region", sorted(TERRITORY_NUMBERS))
def test_territory_marketing_needs_written_consent_like_new_york(region: str) -> None:
    """Marketing to a number of a US territory on purchase-implied consent is denied under
    the TCPA exactly like the same message to New York."""
    engine = engine_at(dt.datetime(2025, 1, 15, 17, tzinfo=dt.UTC))
    decisions = []
    for number in (TERRITORY_NUMBERS[region], NY):
        engine.consent.imply(number, basis="purchase", purpose="marketing", source="pos")
        decisions.append(engine.evaluate(marketing(number)))
    territory, new_york = decisions
    assert territory.verdict is Verdict.DENY
    assert territory.codes == new_york.codes == ("jurisdiction.us.tcpa.written_consent",)
    assert territory.reasons[0].citation == "47 CFR 64.1200(a)(2)"


def test_puerto_rico_evening_is_held_by_the_tcpa_window() -> None:
    """A consented marketing text to Puerto Rico at 21:30 local (Atlantic, no DST) waits for
    08:00 local, 12:00 UTC, under 47 CFR 64.1200(c)(1)."""
    engine = engine_at(dt.datetime(2025, 7, 16, 1, 30, tzinfo=dt.UTC))
    consented(engine, TERRITORY_NUMBERS["PR"])
    decision = engine.evaluate(marketing(TERRITORY_NUMBERS["PR"]))
    assert decision.until == dt.datetime(2025, 7, 16, 12, tzinfo=dt.UTC)
    assert "jurisdiction.us.tcpa.window" in decision.codes
    assert decision.zone == "America/Puerto_Rico"


JERSEY_MOBILE = "+447797712345"
STAND_IN_NOTE = (
    "Jersey (JE) has rules of its own that are not encoded yet; the GB rules are applied in "
    "their place"
)


def test_crown_dependency_gets_the_uk_pack_and_says_so() -> None:
    """A Jersey mobile gets PECR's rules, and every reason they give is followed by a note
    that the UK's rules stand in for Jersey's own."""
    engine = engine_at(dt.datetime(2025, 6, 2, 12, tzinfo=tz("Europe/London")))
    engine.consent.imply(JERSEY_MOBILE, basis="inquiry", purpose="marketing", source="web")
    inquiry = engine.evaluate(marketing(JERSEY_MOBILE))
    assert inquiry.verdict is Verdict.DENY
    assert inquiry.codes == ("jurisdiction.uk.pecr.consent", "jurisdiction.stand_in")
    assert inquiry.reasons[1].rule == "uk.pecr.consent"
    assert inquiry.reasons[1].data["region"] == "JE"
    assert inquiry.reasons[1].data["stand_in"] == "GB"
    assert inquiry.explain().endswith(f"(PECR reg. 22(2)-(3)); {STAND_IN_NOTE}.")
    engine.consent.imply(JERSEY_MOBILE, basis="soft_opt_in", purpose="marketing", source="shop")
    assert engine.evaluate(marketing(JERSEY_MOBILE)) == Decision(Verdict.ALLOW)
    without = engine.evaluate(marketing(JERSEY_MOBILE, body="Acme: 20% off today"))
    assert without.codes == ("jurisdiction.uk.pecr.content", "jurisdiction.stand_in")


def test_a_british_number_gets_no_stand_in_note() -> None:
    """A number of Great Britain itself is under the UK pack with no note."""
    engine = engine_at(dt.datetime(2025, 6, 2, 12, tzinfo=tz("Europe/London")))
    engine.consent.imply(UK, basis="inquiry", purpose="marketing", source="web")
    assert engine.evaluate(marketing(UK)).codes == ("jurisdiction.uk.pecr.consent",)


def test_stand_in_wraps_only_provisions_borrowed() -> None:
    """Only provisions reached through a stand-in are wrapped; the wrapper reads like code and
    passes a plain ALLOW through unchanged."""
    from smspolicy import Purpose, allow
    from smspolicy.jurisdictions._model import Provisions, StandIn

    pack = Provisions(jurisdictions.provisions(["uk", "us"]), dt.timedelta(days=35))
    jersey = pack.rule_for(frozenset({"JE", "GB"}), Purpose.MARKETING)
    assert all(isinstance(rule, StandIn) for rule in jersey.rules)  # type: ignore[attr-defined]
    assert [r.borrowed for r in jersey.rules] == [(("JE", "GB"),)] * 2  # type: ignore[attr-defined]
    british = pack.rule_for(frozenset({"GB"}), Purpose.MARKETING)
    assert not any(isinstance(rule, StandIn) for rule in british.rules)  # type: ignore[attr-defined]
    wrapped = StandIn(lambda m, c: allow(), (("IM", "GB"),), "x")
    assert repr(wrapped).endswith(", {'IM': 'GB'})")
    from smspolicy import Context, Recipient

    context = Context(now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), recipient=Recipient("x", True))
    assert wrapped(marketing(UK), context) is allow()


def test_australian_mobile_best_practice_waits_for_perth_only() -> None:
    """Under the standard policy an Australian mobile at 13:30 UTC in January (21:30 Perth,
    00:30 Sydney) waits for 08:00 Perth, 00:00 UTC, not 08:00 on the Cocos Islands."""
    mobile = "+61412345678"
    engine = engine_at(dt.datetime(2025, 1, 15, 13, 30, tzinfo=dt.UTC))
    consented(engine, mobile)
    decision = engine.evaluate(marketing(mobile))
    assert decision.codes == ("hours.outside_window",)
    assert decision.until == dt.datetime(2025, 1, 16, 0, 0, tzinfo=dt.UTC)
    assert decision.explain().startswith(
        "Deferred until Jan 16, 2025, 8:00 AM AWST (Australia/Perth) because it is "
        "Wed 21:30 AWST in Australia/Perth"
    )
