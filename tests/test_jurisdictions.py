"""Jurisdiction packs and `jurisdictions.standard()`."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import Decision, Engine, Message, Profile, Verdict, jurisdictions
from smspolicy.consent import WrittenConsent, add_months
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
    written = WrittenConsent("web:form v3, 203.0.113.7", "Acme marketing texts", number)
    engine.consent.confirm(
        number, topic=topic, purpose="marketing", source="web:form", evidence=written.evidence()
    )


CASL_BODY = "Acme (acme.example/about): 20% off today. Reply STOP to opt out."


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
    """Texas Sunday 10:00 (SB 140 in force) defers to 12:00."""
    engine = engine_at(dt.datetime(2025, 9, 7, 10, tzinfo=tz("America/Chicago")))
    consented(engine, TX)
    decision = engine.evaluate(marketing(TX))
    assert decision.until == dt.datetime(2025, 9, 7, 12, tzinfo=tz("America/Chicago"))
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
    decision = engine.evaluate(marketing(CA, body=CASL_BODY))
    assert decision.allowed is allowed
    if not allowed:
        assert "jurisdiction.ca.casl.consent" in decision.codes
        assert_cited(decision)


def test_casl_requires_identification_and_unsubscribe() -> None:
    """A Canadian commercial message must name its sender and offer an unsubscribe."""
    engine = engine_at(dt.datetime(2026, 6, 1, 12, tzinfo=tz("America/Toronto")))
    consented(engine, CA)
    decision = engine.evaluate(marketing(CA, body="20% off today!"))
    # No name, no way to reach the sender, no unsubscribe: three reasons.
    assert decision.codes == ("jurisdiction.ca.casl.content",) * 3
    assert_cited(decision)
    assert engine.evaluate(marketing(CA, body=CASL_BODY)).allowed


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
    assert "us.ms.holidays" not in enabled
    everything = {p.id for p in jurisdictions.provisions(include_unconfirmed=True)}
    assert {"us.al.window", "us.ms.holidays", "fr.sms.hours"} <= everything
    # Confirmed, and unconfirmed but stricter: on by default.
    assert {"us.nj.window", "in.promotional_hours"} <= ids
    with pytest.raises(ConfigurationError, match="unknown provisions"):
        jurisdictions.provisions(enable={"us.zz.nothing"})
    with pytest.raises(ConfigurationError, match="unknown jurisdiction pack"):
        jurisdictions.pack("zz")


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        pytest.param(
            {"relax": "uk.pecr.consent"},
            "relax must be a collection of provision ids, not one text",
            id="relax-text",
        ),
        pytest.param(
            {"enable": "us.al.window"},
            "enable must be a collection of provision ids, not one text",
            id="enable-text",
        ),
        pytest.param(
            {"enable": ["us.nowhere", 5]},
            "enable must be a collection of provision ids",
            id="enable-not-all-text",
        ),
        pytest.param(
            {"relax": [("uk.pecr.consent",), "x"]},
            "relax must be a collection of provision ids",
            id="relax-not-all-text",
        ),
        pytest.param(
            {"relax": {"uk.pecr.nowhere"}},
            r"relax names provisions that are not in the chosen packs: \['uk.pecr.nowhere'\]",
            id="relax-unknown",
        ),
        pytest.param(
            {"packs": ["us"], "relax": {"uk.pecr.consent"}},
            r"not in the chosen packs: \['uk.pecr.consent'\]",
            id="relax-of-a-pack-not-chosen",
        ),
        pytest.param(
            {"relax": {"us.tcpa.window"}},
            r"without a relaxed form: \['us.tcpa.window'\]",
            id="relax-without-a-relaxed-form",
        ),
    ],
)
def test_relax_and_enable_say_what_is_wrong(options: dict[str, object], problem: str) -> None:
    """A provision id given as one text, an id no chosen pack has, and a provision without a
    milder form are each refused with a message saying which."""
    with pytest.raises(ConfigurationError, match=problem):
        jurisdictions.standard(**options)  # type: ignore[arg-type]


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
        assert p.as_of in (jurisdictions.AS_OF, dt.date(2026, 11, 29))
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


PART_OF_A_MEMBER_STATE = {
    "RE": ("+262692123456", "Indian/Reunion"),  # Reunion
    "YT": ("+262639012345", "Indian/Mayotte"),  # Mayotte
    "GP": ("+590690123456", "America/Guadeloupe"),  # Guadeloupe
    "MQ": ("+596696123456", "America/Martinique"),  # Martinique
    "GF": ("+594694123456", "America/Cayenne"),  # French Guiana
    "AX": ("+35818123456", "Europe/Mariehamn"),  # Aland, part of Finland
}


@pytest.mark.parametrize("region", sorted(PART_OF_A_MEMBER_STATE))
def test_overseas_departments_and_aland_get_the_eu_consent_rule(region: str) -> None:
    """France's overseas departments and Aland are in the EU: marketing on an inquiry (not
    the soft opt-in) is DENY under the ePrivacy Directive, as for a Paris number."""
    number, zone = PART_OF_A_MEMBER_STATE[region]
    engine = engine_at(dt.datetime(2026, 3, 17, 12, tzinfo=tz(zone)))  # a Tuesday
    engine.consent.imply(number, basis="inquiry", purpose="marketing", topic="deals", source="web")
    decision = engine.evaluate(marketing(number))
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("jurisdiction.eu.eprivacy.consent",)


def test_a_reunion_mobile_gets_frances_hours_in_its_zones() -> None:
    """The AF2M's hours hold in Reunion in every candidate zone of +262 (Reunion, Mayotte an
    hour behind): Sunday 2026-03-15 12:00 there defers to Monday 08:00 Mayotte time."""
    number, zone = PART_OF_A_MEMBER_STATE["RE"]
    engine = engine_at(dt.datetime(2026, 3, 15, 12, tzinfo=tz(zone)))
    consented(engine, number)
    decision = engine.evaluate(marketing(number))
    assert decision.until == dt.datetime(2026, 3, 16, 8, tzinfo=tz("Indian/Mayotte"))
    assert decision.codes == ("jurisdiction.fr.sms.hours",)


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


# --- the law in force at the send's instant ------------------------------------------------


@pytest.mark.parametrize(
    ("at", "until"),
    [
        pytest.param(dt.datetime(2025, 8, 31, 8, 30), None, id="day-before"),
        pytest.param(dt.datetime(2025, 9, 1, 8, 30), dt.datetime(2025, 9, 1, 9), id="day-of"),
    ],
)
def test_texas_sb_140_applies_from_2025_09_01(at: dt.datetime, until: dt.datetime | None) -> None:
    """At 08:30 in Dallas on 2025-08-31 only the TCPA window applies (allowed); on 2025-09-01
    SB 140 makes Texas's 09:00 start apply (defer to 09:00)."""
    chicago = tz("America/Chicago")
    engine = engine_at(at.replace(tzinfo=chicago))
    consented(engine, TX)
    decision = engine.evaluate(marketing(TX))
    if until is None:
        assert decision.allowed, decision.codes
    else:
        assert decision.until == until.replace(tzinfo=chicago)
        assert decision.codes == ("jurisdiction.us.tx.window",)


def _stop_alerts(engine: Engine, number: str) -> None:
    consented(engine, number, "deals")
    consented(engine, number, "alerts")
    engine.consent.revoke(number, topic="alerts", source="keyword:STOP ALERTS")


@pytest.mark.parametrize(
    ("day", "revoked_all"),
    [
        pytest.param(dt.date(2027, 1, 30), False, id="day-before"),
        pytest.param(dt.date(2027, 1, 31), True, id="day-of"),
    ],
)
def test_revoke_all_switches_on_2027_01_31(day: dt.date, revoked_all: bool) -> None:
    """With topic-scoped STOPs, "STOP ALERTS" ends only alerts until 2027-01-30; from
    2027-01-31 (New York time for a New York number) it ends every topic of the brand."""
    at = dt.datetime.combine(day, dt.time(12), tz("America/New_York"))
    engine = Engine(jurisdictions.standard(stop_scope="topic"), clock=FrozenClock(at))
    _stop_alerts(engine, NY)
    decision = engine.evaluate(Message(NY, "deals", "marketing", body="Acme: hi. Reply STOP"))
    if revoked_all:
        assert decision.codes == ("jurisdiction.us.fcc.revoke_all",)
        assert decision.reasons[0].citation == "47 CFR 64.1200(a)(10)"
    else:
        assert decision.allowed, decision.codes


def test_revoke_all_boundary_is_local_midnight() -> None:
    """The revoke-all rule starts at 00:00 on 2027-01-31 in the recipient's zone: 23:59:59 the
    day before in Los Angeles is before it, 00:00 is in it (08:00 UTC)."""
    la = "+13105550123"
    before = dt.datetime(2027, 1, 31, 7, 59, 59, tzinfo=dt.UTC)
    provision = next(p for p in jurisdictions.pack("us") if p.id == "us.fcc.revoke_all")
    rule = provision.rule_in_force
    from smspolicy._context import ConsentView, Context
    from smspolicy._recipients import Resolver

    ledger = Engine(jurisdictions.standard(), clock=FrozenClock(before - dt.timedelta(days=2)))
    ledger.consent.confirm(la, topic="deals", purpose="marketing", source="x")
    ledger.clock = FrozenClock(before - dt.timedelta(days=1))
    ledger.consent.revoke(la, topic="alerts", source="x")
    events = ledger.consent.history(la)
    recipient = Resolver().resolve(la)
    message = Message(la, "deals", "marketing")
    for now, allowed in ((before, True), (before + dt.timedelta(seconds=1), False)):
        context = Context(now=now, recipient=recipient, consent=ConsentView(events=events))
        decision = rule(message, context)
        assert decision.allowed is allowed, now
        if not allowed:  # the revoke-all rule itself, not a ledger that fails its check
            assert decision.codes == ("jurisdiction.us.fcc.revoke_all",)


def test_in_force_cuts_a_deferral_at_the_end_and_unknown_zones_are_everywhere() -> None:
    """A provision ending on a date defers at most to its end (the latest zone's midnight), and
    a recipient without a known zone gets it from the date's first start on Earth (UTC+14) to
    its last end (UTC-12)."""
    from smspolicy import defer, rule
    from smspolicy._context import Context
    from smspolicy._recipients import Recipient, Resolver
    from smspolicy.jurisdictions._model import InForce

    far = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    @rule
    def waits(message: Message, context: Context) -> Decision:
        return defer(far)

    bounded = InForce(waits, dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    ny = Resolver().resolve(NY)
    message = Message(NY, "deals", "marketing")
    end = dt.datetime(2026, 4, 1, 4, tzinfo=dt.UTC)  # 00:00 EDT
    inside = Context(now=dt.datetime(2026, 3, 15, tzinfo=dt.UTC), recipient=ny)
    assert bounded(message, inside).until == end
    assert bounded(message, Context(now=end, recipient=ny)).allowed
    just_before = Context(now=end - dt.timedelta(seconds=1), recipient=ny)
    assert bounded(message, just_before).until == end
    start = dt.datetime(2026, 3, 1, 5, tzinfo=dt.UTC)  # 00:00 EST
    assert bounded(message, Context(now=start - dt.timedelta(seconds=1), recipient=ny)).allowed
    assert not bounded(message, Context(now=start, recipient=ny)).allowed
    nowhere = Recipient("x", False)
    first = dt.datetime(2026, 2, 28, 10, tzinfo=dt.UTC)  # 00:00 on 1 March at UTC+14
    last = dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC)  # 00:00 on 1 April at UTC-12
    checks = {
        first - dt.timedelta(seconds=1): True,
        first: False,
        last - dt.timedelta(seconds=1): False,
        last: True,
    }
    for now, allowed in checks.items():
        assert bounded(message, Context(now=now, recipient=nowhere)).allowed is allowed, now
    assert "effective=2026-03-01, until=2026-04-01" in repr(bounded)


def test_until_must_follow_effective() -> None:
    """A provision ending on or before its start is a ConfigurationError."""
    from smspolicy.jurisdictions._model import provision

    with pytest.raises(ConfigurationError, match="not after"):
        provision(
            "x",
            "US",
            "t",
            "c",
            jurisdictions.best_practices()[0],
            effective=dt.date(2026, 1, 1),
            until=dt.date(2026, 1, 1),
        )


# --- corrections of 2026-11-29 -----------------------------------------------------------------

NJ = "+12015550123"  # Jersey City
IN = "+919812345678"


@pytest.mark.parametrize(
    ("local", "deferred"),
    [
        pytest.param(dt.time(20, 59, 59), False, id="20:59:59"),
        pytest.param(dt.time(21, 0), True, id="21:00"),
        pytest.param(dt.time(20, 0), False, id="20:00-not-a-limit"),
    ],
)
def test_new_jersey_window_ends_at_2100(local: dt.time, deferred: bool) -> None:
    """New Jersey bans telemarketing 21:00-08:00 (N.J.S.A. 56:8-128): 20:00 and 20:59:59 are
    allowed, 21:00 defers to 08:00 the next day."""
    ny = tz("America/New_York")
    engine = engine_at(dt.datetime.combine(dt.date(2026, 3, 10), local, ny))
    consented(engine, NJ)
    decision = engine.evaluate(marketing(NJ))
    if deferred:
        assert decision.until == dt.datetime(2026, 3, 11, 8, tzinfo=ny)
        nj = [r for r in decision.reasons if r.code == "jurisdiction.us.nj.window"]
        assert nj[0].citation == "N.J.S.A. 56:8-128"
    else:
        assert decision.allowed, decision.codes


def test_oklahoma_cap_cites_775c4_and_counts_per_subject() -> None:
    """Oklahoma's cap cites 15 O.S. § 775C.4 and counts the same subject only: the any-subject
    reading is gone."""
    ids = {p.id for p in jurisdictions.provisions(include_unconfirmed=True)}
    assert "us.ok.cap_any_subject" not in ids
    cap = next(p for p in jurisdictions.pack("us") if p.id == "us.ok.cap")
    assert cap.citation == "15 O.S. § 775C.4"
    assert cap.parameters["scope"] == "topic"


@pytest.mark.parametrize(
    ("local", "until"),
    [
        pytest.param(dt.time(8, 59, 59), dt.datetime(2026, 3, 10, 9), id="08:59:59"),
        pytest.param(dt.time(9, 0), None, id="09:00"),
        pytest.param(dt.time(20, 59, 59), None, id="20:59:59"),
        pytest.param(dt.time(21, 0), dt.datetime(2026, 3, 11, 9), id="21:00"),
    ],
)
def test_india_promotional_hours_are_on_by_default(
    local: dt.time, until: dt.datetime | None
) -> None:
    """India's promotional window 09:00-21:00 IST applies without being enabled."""
    kolkata = tz("Asia/Kolkata")
    engine = engine_at(dt.datetime.combine(dt.date(2026, 3, 10), local, kolkata))
    consented(engine, IN)
    decision = engine.evaluate(marketing(IN))
    if until is None:
        assert decision.allowed, decision.codes
    else:
        assert decision.until == until.replace(tzinfo=kolkata)
        assert "jurisdiction.in.promotional_hours" in decision.codes


def test_every_provision_names_its_source_and_unconfirmed_ones_say_so() -> None:
    """Each provision has a source; an unconfirmed one's citation says UNCONF or its note says
    why it is not confirmed."""
    for p in jurisdictions.provisions(include_unconfirmed=True):
        assert p.source, p.id
        if not p.confirmed:
            assert "UNCONF" in p.citation or "not confirmed" in p.note, p.id


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        pytest.param(2026, {(4, 3), (6, 14), (11, 3)}, id="2026"),
        pytest.param(2024, {(3, 29), (6, 14), (11, 5)}, id="2024"),
        pytest.param(2027, {(3, 26), (6, 14), (11, 2)}, id="2027"),
    ],
)
def test_pennsylvania_extra_holidays(year: int, expected: set[tuple[int, int]]) -> None:
    """Good Friday, Flag Day and Election Day (dates read off a calendar)."""
    from smspolicy import rules

    days = rules.pennsylvania_extra_holidays(year)
    assert {(d.month, d.day) for d in days} == expected
    assert all(d.year == year for d in days)


def test_pennsylvania_flag_day_closes_when_enabled() -> None:
    """With us.pa.extra_holidays on, Flag Day 2027 (a Monday) holds a Philadelphia text to
    Tuesday 08:00 (the TCPA window opens then)."""
    ny = tz("America/New_York")
    at = dt.datetime(2027, 6, 14, 12, tzinfo=ny)
    engine = Engine(jurisdictions.standard(enable={"us.pa.extra_holidays"}), clock=FrozenClock(at))
    consented(engine, "+12155550123")
    decision = engine.evaluate(marketing("+12155550123"))
    assert decision.until == dt.datetime(2027, 6, 15, 8, tzinfo=ny)
    assert "jurisdiction.us.pa.extra_holidays" in decision.codes


ALL_PROVISIONS = jurisdictions.provisions(include_unconfirmed=True)
RELAXABLE = {p.id for p in ALL_PROVISIONS if p.relaxed is not None}
# The relaxed forms are provisions too (a sender's choice): adding one never allows either.
ALL_PROVISIONS += tuple(
    p
    for p in jurisdictions.provisions(include_unconfirmed=True, relax=RELAXABLE)
    if p.id in RELAXABLE
)


_NUMBERS_BY_PLACE = {
    "OK": "+14055550123",
    "MD": "+14105550123",
    "NJ": "+12015550123",
    "VA": "+17035550123",
    "WA": "+12065550123",
    "LA": "+15045550123",
    "AL": "+12055550123",
    "MS": "+16015550123",
    "UT": "+18015550123",
    "RI": "+14015550123",
    "PA": "+12155550123",
    "FL": FL,
    "NY": NY,
    "CT": CT,
    "JP": "+81312345678",
    "AU": "+61412345678",
    "IN": "+919876543210",
    "BR": "+5511987654321",
    "DE": "+4915123456789",
    "GB": UK,
    "FR": "+33612345678",
    "CA": CA,
    "TX": TX,
    "EL_PASO": "+19155550123",
    "HOUSTON": "+17135550123",
}


def _governed_numbers() -> dict[str, list[str]]:
    from smspolicy._recipients import Resolver

    resolver = Resolver()
    places = {n: resolver.resolve(n).jurisdictions for n in _NUMBERS_BY_PLACE.values()}
    return {
        p.id: [n for n, codes in places.items() if not p.jurisdictions.isdisjoint(codes)]
        for p in ALL_PROVISIONS
    }


PROPERTY_NUMBERS = _governed_numbers()


def test_every_provision_has_a_number_for_the_property() -> None:
    """The packs-only-restrict property reaches every provision: each has at least one number
    among its draws that it governs (Texas three, one of them El Paso's)."""
    assert all(PROPERTY_NUMBERS.values()), [k for k, v in PROPERTY_NUMBERS.items() if not v]
    assert sorted(PROPERTY_NUMBERS["us.tx.window_central"]) == sorted(
        ["+12145550123", "+19155550123", "+17135550123"]
    )


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_adding_a_provision_never_allows_what_was_held(data: st.DataObject) -> None:
    """Packs only restrict: for random provision sets (every provision, switched on or off,
    and the relaxed forms), recipients, instants and consent histories, adding one more
    provision never turns a DENY or a DEFER into an ALLOW."""
    from smspolicy._context import ConsentView, Context
    from smspolicy._recipients import Resolver
    from smspolicy.jurisdictions._model import Provisions
    from smspolicy.strategies import consent_histories, instants, messages, phone_numbers

    chosen = data.draw(st.lists(st.sampled_from(ALL_PROVISIONS), max_size=6, unique_by=id))
    extra = data.draw(st.sampled_from(ALL_PROVISIONS))
    horizon = dt.timedelta(days=35)
    base = Provisions(tuple(chosen), horizon)
    more = Provisions((*chosen, extra), horizon)
    regions = ["US", "CA", "GB", "FR", "JP", "AU", "IN", "BR"]
    # The numbers of the audit's provisions (Texas on two clocks, Toronto, London, Paris) often,
    # and, as often, a number and a purpose the added provision governs: without them most
    # draws of a state's provision would meet no recipient it applies to.
    audited = st.sampled_from([EL_PASO, HOUSTON, TX, CA, UK, FR])
    governed = st.sampled_from(PROPERTY_NUMBERS[extra.id])
    purposes = st.sampled_from(sorted(extra.purposes, key=lambda p: p.value))
    message = data.draw(
        st.one_of(
            messages(st.one_of(phone_numbers(regions=regions), audited)),
            messages(governed, purposes=purposes),
        )
    )
    now = data.draw(instants(dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))
    events = data.draw(consent_histories(message.to, before=now, topics=st.just(message.topic)))
    recipient = Resolver().resolve(message.to)

    def decide(rule: Provisions) -> Decision:
        return rule(
            message, Context(now=now, recipient=recipient, consent=ConsentView(events=events))
        )

    if not decide(base).allowed:
        assert not decide(more).allowed, (extra.id, [p.id for p in chosen])


# --- Texas: hours on both clocks, seller registration --------------------------------------

EL_PASO = "+19155550123"  # area code 915: America/Denver
HOUSTON = "+17135550123"  # America/Chicago
DENVER_TZ, CHICAGO_TZ = tz("America/Denver"), tz("America/Chicago")
SUNDAY = dt.date(2026, 3, 15)  # after the DST change of 2026-03-08
MONDAY = dt.date(2026, 3, 16)


@pytest.mark.parametrize(
    ("number", "zone", "local", "until", "code"),
    [
        pytest.param(
            EL_PASO,
            "America/Denver",
            dt.time(11, 59, 59),
            (SUNDAY, 12),
            "us.tx.window",
            id="el-paso-11:59:59",
        ),
        pytest.param(EL_PASO, "America/Denver", dt.time(12), None, None, id="el-paso-12:00"),
        pytest.param(
            EL_PASO, "America/Denver", dt.time(19, 59, 59), None, None, id="el-paso-19:59:59"
        ),
        pytest.param(
            EL_PASO,
            "America/Denver",
            dt.time(20),
            (MONDAY, 9),
            "us.tx.window_central",
            id="el-paso-20:00-is-21:00-central",
        ),
        pytest.param(
            HOUSTON,
            "America/Chicago",
            dt.time(11, 59, 59),
            (SUNDAY, 12),
            "us.tx.window",
            id="houston-11:59:59",
        ),
        pytest.param(HOUSTON, "America/Chicago", dt.time(12), None, None, id="houston-12:00"),
        pytest.param(
            HOUSTON, "America/Chicago", dt.time(20, 59, 59), None, None, id="houston-20:59:59"
        ),
        pytest.param(
            HOUSTON, "America/Chicago", dt.time(21), (MONDAY, 9), "us.tx.window", id="houston-21:00"
        ),
    ],
)
def test_texas_sunday_hours_in_el_paso_and_houston(
    number: str,
    zone: str,
    local: dt.time,
    until: tuple[dt.date, int] | None,
    code: str | None,
) -> None:
    """Texas's Sunday 12:00-21:00 holds in the recipient's local time, and (until the clock is
    settled) on Central time too: El Paso (Mountain) opens at 12:00 MDT and closes at 20:00
    MDT (21:00 CDT); Houston opens at 12:00 and closes at 21:00 CDT, with one reason."""
    engine = engine_at(dt.datetime.combine(SUNDAY, local, tz(zone)))
    consented(engine, number)
    decision = engine.evaluate(marketing(number))
    if until is None:
        assert decision.allowed, decision.codes
        return
    day, hour = until
    assert decision.until == dt.datetime(day.year, day.month, day.day, hour, tzinfo=tz(zone))
    assert f"jurisdiction.{code}" in decision.codes
    if number == HOUSTON:  # Central is Houston's own clock: the second reading adds nothing
        assert "jurisdiction.us.tx.window_central" not in decision.codes


def test_texas_central_clock_starts_with_sb_140() -> None:
    """At 20:30 MDT in El Paso (21:30 CDT) on Sunday 2025-08-31 only the TCPA's local window
    applies (allowed); on Monday 2025-09-01 the Central reading defers to Tuesday 09:00 MDT."""
    before = engine_at(dt.datetime(2025, 8, 31, 20, 30, tzinfo=DENVER_TZ))
    consented(before, EL_PASO)
    assert before.evaluate(marketing(EL_PASO)).allowed
    day_of = engine_at(dt.datetime(2025, 9, 1, 20, 30, tzinfo=DENVER_TZ))
    consented(day_of, EL_PASO)
    decision = day_of.evaluate(marketing(EL_PASO))
    assert decision.until == dt.datetime(2025, 9, 2, 9, tzinfo=DENVER_TZ)
    assert decision.codes[0] == "jurisdiction.us.tx.window_central"


def test_on_clock_refuses_an_unknown_zone_and_reads_as_built() -> None:
    """OnClock checks its zone when built and prints the clock it reads."""
    from smspolicy import rules
    from smspolicy.errors import SmsPolicyError
    from smspolicy.jurisdictions._builders import OnClock

    window = rules.sending_window("09:00", "21:00")
    with pytest.raises(SmsPolicyError):
        OnClock(window, "Mars/Olympus")
    assert repr(OnClock(window, "America/Chicago")).endswith("'America/Chicago')")


def _program(**options: object) -> object:
    from smspolicy import Program

    return Program(
        "Acme Deals",
        options.pop("brand", "Acme"),  # type: ignore[arg-type]
        topic="deals",
        help_contact="help@acme.example",
        frequency="4 msgs/week",
        **options,  # type: ignore[arg-type]
    )


REGISTRATION = "jurisdiction.us.tx.registration"


@pytest.mark.parametrize(
    ("programs", "warned"),
    [
        pytest.param([], True, id="no-program"),
        pytest.param([{"registrations": {"US-TX": "2025-0042"}}], False, id="registered"),
        pytest.param(
            [{"registrations": {"US-TX": "exempt: Bus. & Com. Code § 302.058"}}],
            False,
            id="exempt",
        ),
        pytest.param([{}], True, id="program-without-registration"),
        pytest.param([{"registrations": {"US-FL": "FL-1"}}], True, id="another-state"),
        pytest.param(
            [{"brand": "Other", "registrations": {"US-TX": "2025-0042"}}], True, id="other-brand"
        ),
        pytest.param(
            [{}, {"brand": "Acme", "registrations": {"US-TX": "2025-0042"}}],
            False,
            id="one-of-the-brand's-programs",
        ),
    ],
)
def test_texas_marketing_warns_without_a_declared_registration(
    programs: list[dict[str, object]], warned: bool
) -> None:
    """Marketing to Dallas at noon on 2026-03-10 is allowed; without a registration number or
    exemption declared by a program of the brand it carries the warning."""
    built = [_program(**dict(options)) for options in programs]
    # Distinct names: one engine refuses two programs answering the same keywords differently.
    built = [attrs_evolve(p, name=f"Acme {i}") for i, p in enumerate(built)]
    engine = engine_at(dt.datetime(2026, 3, 10, 12, tzinfo=CHICAGO_TZ), programs=built)
    consented(engine, TX)
    decision = engine.evaluate(marketing(TX))
    assert decision.allowed
    if warned:
        assert decision.codes == (REGISTRATION,)
        assert decision.reasons[0].citation == "Tex. Bus. & Com. Code § 302.101"
        assert decision.reasons[0].data["jurisdiction"] == "US-TX"
    else:
        assert decision.codes == ()


def attrs_evolve(value: object, **changes: object) -> object:
    import attrs

    return attrs.evolve(value, **changes)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("day", "warned"),
    [
        pytest.param(dt.date(2025, 8, 31), False, id="day-before"),
        pytest.param(dt.date(2025, 9, 1), True, id="day-of"),
    ],
)
def test_texas_registration_warning_starts_with_sb_140(day: dt.date, warned: bool) -> None:
    """Texts became telephone solicitations on 2025-09-01: the warning starts that day."""
    engine = engine_at(dt.datetime.combine(day, dt.time(12), CHICAGO_TZ))
    consented(engine, TX)
    decision = engine.evaluate(marketing(TX))
    assert decision.allowed
    assert (REGISTRATION in decision.codes) is warned


def test_registration_warning_is_for_texas_marketing_only() -> None:
    """New York marketing and Texas transactional messages carry no registration warning."""
    engine = engine_at(dt.datetime(2026, 3, 10, 12, tzinfo=CHICAGO_TZ))
    consented(engine, NY)
    assert engine.evaluate(marketing(NY)).codes == ()
    engine.consent.confirm(TX, topic="deals", purpose="transactional", source="web")
    notice = engine.evaluate(Message(TX, "deals", "transactional", body="Acme: order shipped"))
    assert notice.allowed
    assert REGISTRATION not in notice.codes


@pytest.mark.parametrize(
    "registrations",
    [
        pytest.param({"Texas": "1"}, id="not-a-code"),
        pytest.param({"US-TX": "  "}, id="blank"),
        pytest.param({"US-TX": 42}, id="not-text"),
        pytest.param(["US-TX"], id="not-a-mapping"),
    ],
)
def test_program_registrations_are_checked(registrations: object) -> None:
    """A registration is a jurisdiction code mapped to non-empty text."""
    with pytest.raises(ConfigurationError, match="registrations"):
        _program(registrations=registrations)


def test_program_registration_lookup_and_seller_registration_checks() -> None:
    """Program.registration reads the declared entry (trimmed); seller_registration refuses a
    jurisdiction that is not a code and prints what it checks."""
    from smspolicy import rules

    program = _program(registrations={"US-TX": " 2025-0042 "})
    assert program.registration("US-TX") == "2025-0042"  # type: ignore[attr-defined]
    assert program.registration("US-FL") is None  # type: ignore[attr-defined]
    assert attrs_evolve(program).registrations == (("US-TX", "2025-0042"),)  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="US-TX"):
        rules.seller_registration("Texas")
    assert repr(rules.seller_registration("US-TX")) == "seller_registration('US-TX')"


# --- the UK charity soft opt-in ---------------------------------------------------------------

LONDON = tz("Europe/London")
CHARITY = {"uk.pecr.consent"}


def _supporter(engine: Engine, basis: str) -> None:
    engine.consent.imply(
        UK, basis=basis, purpose="marketing", topic="deals", source="web:donation form"
    )


@pytest.mark.parametrize(
    ("day", "relax", "basis", "allowed"),
    [
        pytest.param(dt.date(2026, 2, 4), CHARITY, "inquiry", False, id="relaxed-day-before"),
        pytest.param(dt.date(2026, 2, 5), CHARITY, "inquiry", True, id="relaxed-day-of"),
        pytest.param(dt.date(2026, 2, 5), CHARITY, "non_business", True, id="support-day-of"),
        pytest.param(dt.date(2026, 2, 5), set(), "inquiry", False, id="not-relaxed-day-of"),
        pytest.param(dt.date(2026, 2, 4), CHARITY, "soft_opt_in", True, id="soft-opt-in-before"),
    ],
)
def test_uk_charity_soft_opt_in_from_2026_02_05(
    day: dt.date, relax: set[str], basis: str, allowed: bool
) -> None:
    """A charity (relax={"uk.pecr.consent"}) may text a supporter whose details came with an
    inquiry about its purposes or with support from 2026-02-05 (PECR reg. 22(3A)), recorded an
    hour before; the day before, and for a sender that did not choose it, that is not consent."""
    at = dt.datetime.combine(day, dt.time(12), LONDON)
    engine = Engine(
        jurisdictions.standard(relax=relax), clock=FrozenClock(at - dt.timedelta(hours=1))
    )
    _supporter(engine, basis)
    engine.clock = FrozenClock(at)
    decision = engine.evaluate(marketing(UK))
    assert decision.allowed is allowed, decision.codes
    if not allowed:
        assert decision.codes == ("jurisdiction.uk.pecr.consent",)
        assert decision.verdict is Verdict.DENY


def test_uk_charity_soft_opt_in_starts_at_london_midnight() -> None:
    """The relaxed rule on its own: 23:59:59 on 2026-02-04 London time denies an inquiry's
    consent, 00:00 on 2026-02-05 allows one recorded at that instant, and the citation names
    reg. 22(3A)."""
    from smspolicy._context import ConsentView, Context
    from smspolicy._recipients import Resolver

    (item,) = [
        p for p in jurisdictions.provisions(["uk"], relax=CHARITY) if p.id == "uk.pecr.consent"
    ]

    def supporter(at: dt.datetime) -> list[object]:
        engine = Engine(jurisdictions.standard(), clock=FrozenClock(at))
        _supporter(engine, "inquiry")
        return engine.consent.history(UK)  # type: ignore[return-value]

    recipient = Resolver().resolve(UK)
    start = dt.datetime(2026, 2, 5, tzinfo=dt.UTC)  # 00:00 GMT
    inquiry = supporter(start - dt.timedelta(seconds=1))
    before = item.rule(
        marketing(UK),
        Context(
            now=start - dt.timedelta(seconds=1),
            recipient=recipient,
            consent=ConsentView(events=inquiry),
        ),
    )
    assert before.verdict is Verdict.DENY
    assert before.reasons[0].citation == "PECR reg. 22(2)-(3)"
    at_start = item.rule(
        marketing(UK),
        Context(now=start, recipient=recipient, consent=ConsentView(events=supporter(start))),
    )
    assert at_start.allowed
    expired = supporter(dt.datetime(2026, 2, 5, tzinfo=dt.UTC))
    later = dt.datetime(2026, 8, 6, tzinfo=dt.UTC)  # past the inquiry's six months
    late = item.rule(
        marketing(UK),
        Context(now=later, recipient=recipient, consent=ConsentView(events=expired)),
    )
    assert late.verdict is Verdict.DENY
    assert late.reasons[0].citation == "PECR reg. 22(2)-(3A)"


STRICT_UK = next(p for p in jurisdictions.pack("uk") if p.id == "uk.pecr.consent")
RELAXED_UK = next(
    p for p in jurisdictions.provisions(["uk"], relax=CHARITY) if p.id == "uk.pecr.consent"
)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_charity_form_only_adds_the_charity_bases_from_its_start(data: st.DataObject) -> None:
    """Wherever the relaxed (charity) form allows what the commercial form denies, the instant
    is on or after 2026-02-05 and the consent in effect rests on an inquiry or on support."""
    from smspolicy._context import ConsentView, Context
    from smspolicy._recipients import Resolver
    from smspolicy.consent import consent_status
    from smspolicy.strategies import consent_histories, instants

    message = marketing(UK)
    now = data.draw(
        instants(dt.datetime(2025, 6, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 31, tzinfo=dt.UTC))
    )
    events = data.draw(consent_histories(UK, before=now, topics=st.just("deals")))
    context = Context(now=now, recipient=Resolver().resolve(UK), consent=ConsentView(events=events))
    strict, relaxed = STRICT_UK.rule(message, context), RELAXED_UK.rule(message, context)
    if relaxed.allowed and not strict.allowed:
        assert now >= dt.datetime(2026, 2, 5, tzinfo=dt.UTC)
        event = consent_status(
            events, topic="deals", purpose="marketing", brand="Acme", now=now, stop_scope="brand"
        ).event
        assert event is not None
        assert event.basis is not None
        assert event.basis.value in ("inquiry", "non_business")
        assert event.at >= dt.datetime(2026, 2, 5, tzinfo=dt.UTC)  # not retrospective
    if strict.allowed:
        assert relaxed.allowed


CHARITY_AT = dt.datetime(2026, 3, 10, 12, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("recorded", "allowed"),
    [
        pytest.param(
            [("inquiry", dt.datetime(2026, 2, 4, 23, 59, 59, tzinfo=LONDON))],
            False,
            id="inquiry-23:59:59-the-day-before",
        ),
        pytest.param(
            [("inquiry", dt.datetime(2026, 2, 5, tzinfo=LONDON))], True, id="inquiry-00:00-day-of"
        ),
        pytest.param(
            [("non_business", dt.datetime(2025, 12, 1, 12, tzinfo=LONDON))],
            False,
            id="support-of-december",
        ),
        pytest.param(
            [
                ("non_business", dt.datetime(2026, 1, 15, 12, tzinfo=LONDON)),
                ("inquiry", dt.datetime(2026, 3, 1, 12, tzinfo=LONDON)),
            ],
            True,
            id="old-support-then-a-new-inquiry",
        ),
        pytest.param(
            [("soft_opt_in", dt.datetime(2025, 12, 1, 12, tzinfo=LONDON))],
            True,
            id="commercial-soft-opt-in-of-december",
        ),
    ],
)
def test_uk_charity_soft_opt_in_is_not_retrospective(
    recorded: list[tuple[str, dt.datetime]], allowed: bool
) -> None:
    """The charity soft opt-in covers only details obtained from 2026-02-05 00:00 London time
    (ICO: not for people already on a charity's database): on 2026-03-10 an inquiry or support
    recorded before then is not consent, one recorded from then is, and the commercial soft
    opt-in is unaffected."""
    engine = Engine(jurisdictions.standard(relax=CHARITY))
    for basis, at in recorded:
        engine.clock = FrozenClock(at)
        _supporter(engine, basis)
    engine.clock = FrozenClock(CHARITY_AT)
    decision = engine.evaluate(marketing(UK))
    assert decision.allowed is allowed, decision.codes
    if not allowed:
        assert decision.codes == ("jurisdiction.uk.pecr.consent",)


def test_uk_charity_soft_opt_in_starts_on_london_time_in_every_zone() -> None:
    """A British number read on Tokyo time (its day begins 9 hours before London's) gets no
    charity soft opt-in at 2026-02-04 20:00 UTC, still 2026-02-04 in London, for an inquiry
    recorded at 16:00 UTC that day."""
    from smspolicy._context import ConsentView, Context
    from smspolicy._recipients import Resolver

    recipient = attrs_evolve(Resolver().resolve(UK), zones=("Asia/Tokyo",))
    engine = Engine(
        jurisdictions.standard(), clock=FrozenClock(dt.datetime(2026, 2, 4, 16, tzinfo=dt.UTC))
    )
    _supporter(engine, "inquiry")
    context = Context(
        now=dt.datetime(2026, 2, 4, 20, tzinfo=dt.UTC),
        recipient=recipient,  # type: ignore[arg-type]
        consent=ConsentView(events=engine.consent.history(UK)),
    )
    decision = RELAXED_UK.rule(marketing(UK), context)
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("jurisdiction.uk.pecr.consent",)


# --- Canada: the CRTC's telemarketing hours (off unless enabled) ------------------------------

TORONTO = tz("America/Toronto")
CRTC = {"ca.crtc.telemarketing_hours"}


@pytest.mark.parametrize(
    ("at", "enable", "until"),
    [
        pytest.param(
            dt.datetime(2026, 3, 18, 8, 59, 59),
            CRTC,
            dt.datetime(2026, 3, 18, 9),
            id="weekday-08:59:59",
        ),
        pytest.param(dt.datetime(2026, 3, 18, 9), CRTC, None, id="weekday-09:00"),
        pytest.param(
            dt.datetime(2026, 3, 21, 9, 59, 59),
            CRTC,
            dt.datetime(2026, 3, 21, 10),
            id="saturday-09:59:59",
        ),
        pytest.param(dt.datetime(2026, 3, 21, 10), CRTC, None, id="saturday-10:00"),
        pytest.param(dt.datetime(2026, 3, 22, 17, 59, 59), CRTC, None, id="sunday-17:59:59"),
        pytest.param(
            dt.datetime(2026, 3, 22, 18), CRTC, dt.datetime(2026, 3, 23, 9), id="sunday-18:00"
        ),
        pytest.param(dt.datetime(2026, 3, 21, 9, 30), set(), None, id="off-by-default"),
    ],
)
def test_crtc_telemarketing_hours_when_enabled(
    at: dt.datetime, enable: set[str], until: dt.datetime | None
) -> None:
    """Enabled, the CRTC's hours hold a Toronto text to 09:00 on weekdays and 10:00-18:00 on
    weekends (Toronto time); switched off by default, Saturday 09:30 is allowed."""
    engine = Engine(
        jurisdictions.standard(enable=enable), clock=FrozenClock(at.replace(tzinfo=TORONTO))
    )
    consented(engine, CA)
    decision = engine.evaluate(marketing(CA, CASL_BODY))
    if until is None:
        assert decision.allowed, decision.codes
    else:
        assert decision.until == until.replace(tzinfo=TORONTO)
        assert "jurisdiction.ca.crtc.telemarketing_hours" in decision.codes


def test_crtc_weekday_window_ends_at_2130() -> None:
    """The provision's own rule: 21:29:59 on a Wednesday in Toronto is inside, 21:30 defers to
    Thursday 09:00."""
    from smspolicy._context import Context
    from smspolicy._recipients import Resolver

    (item,) = [p for p in jurisdictions.pack("ca") if p.id == "ca.crtc.telemarketing_hours"]
    assert not item.on_by_default
    recipient = Resolver().resolve(CA)
    end = dt.datetime(2026, 3, 18, 21, 30, tzinfo=TORONTO)
    inside = item.rule(
        marketing(CA), Context(now=end - dt.timedelta(seconds=1), recipient=recipient)
    )
    assert inside.allowed
    outside = item.rule(marketing(CA), Context(now=end, recipient=recipient))
    assert outside.until == dt.datetime(2026, 3, 19, 9, tzinfo=TORONTO)


# --- France: the AF2M charter's hours -----------------------------------------------------

FR = "+33612345678"
PARIS = tz("Europe/Paris")


@pytest.mark.parametrize(
    ("at", "until"),
    [
        pytest.param(dt.datetime(2026, 3, 15, 12), dt.datetime(2026, 3, 16, 8), id="sunday"),
        pytest.param(dt.datetime(2026, 5, 1, 12), dt.datetime(2026, 5, 2, 8), id="1-may"),
        pytest.param(dt.datetime(2026, 5, 2, 12), None, id="saturday"),
        pytest.param(
            dt.datetime(2026, 3, 16, 7, 59, 59), dt.datetime(2026, 3, 16, 8), id="monday-07:59:59"
        ),
        pytest.param(dt.datetime(2026, 3, 16, 8), None, id="monday-08:00"),
    ],
)
def test_france_marketing_only_on_working_days(at: dt.datetime, until: dt.datetime | None) -> None:
    """On by default: a Paris mobile gets marketing Monday-Saturday from 08:00, never on a
    Sunday or on a public holiday (1 May 2026, a Friday, holds to Saturday 08:00)."""
    engine = engine_at(at.replace(tzinfo=PARIS))
    consented(engine, FR)
    decision = engine.evaluate(marketing(FR))
    if until is None:
        assert decision.allowed, decision.codes
    else:
        assert decision.until == until.replace(tzinfo=PARIS)
        assert "jurisdiction.fr.sms.hours" in decision.codes


def test_france_window_ends_at_2200_and_cites_the_af2m() -> None:
    """The provision's own rule: 21:59:59 on a Monday in Paris is inside, 22:00 defers to
    Tuesday 08:00; its source names the AF2M's charter and the CNIL's guidance."""
    from smspolicy._context import Context
    from smspolicy._recipients import Resolver

    (item,) = [p for p in jurisdictions.pack("eu") if p.id == "fr.sms.hours"]
    assert item.on_by_default
    assert not item.confirmed
    assert "af2m.org" in item.source
    assert "cnil.fr" in item.source
    recipient = Resolver().resolve(FR)
    end = dt.datetime(2026, 3, 16, 22, tzinfo=PARIS)
    assert item.rule(
        marketing(FR), Context(now=end - dt.timedelta(seconds=1), recipient=recipient)
    ).allowed
    outside = item.rule(marketing(FR), Context(now=end, recipient=recipient))
    assert outside.until == dt.datetime(2026, 3, 17, 8, tzinfo=PARIS)


# --- confirmed only where the primary text was read ------------------------------------------

PRIMARY = (
    "https://www.ecfr.gov/",
    "https://www.law.cornell.edu/uscode/",
    "https://laws-lois.justice.gc.ca/",
    "https://www.legislation.gov.uk/",
    "https://eur-lex.europa.eu/",
    "https://www.legislation.gov.au/",
)


def test_confirmed_provisions_cite_the_primary_text_by_url() -> None:
    """A confirmed provision's source is the URL of the primary text; one whose source is a
    summary is unconfirmed; the state tables read from summaries stay on."""
    every = {p.id: p for p in jurisdictions.provisions(include_unconfirmed=True)}
    for p in every.values():
        if p.confirmed:
            assert p.source.startswith(PRIMARY), p.id
        if "summary" in p.source and not p.source.startswith(PRIMARY):
            assert not p.confirmed, p.id
    on = {p.id for p in jurisdictions.provisions()}
    for pid in (
        "us.fl.window",
        "us.fl.cap",
        "us.tx.window",
        "us.nj.window",
        "us.va.window",
        "jp.consent",
        "fr.sms.hours",
        "us.tx.registration",
        "us.tx.window_central",
    ):
        assert not every[pid].confirmed, pid
        assert pid in on, pid
    for pid in ("us.tcpa.window", "ca.casl.consent", "uk.pecr.consent", "au.content"):
        assert every[pid].confirmed, pid
    assert "ca.crtc.telemarketing_hours" not in on
