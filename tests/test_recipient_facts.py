"""Recipient facts given with each message, profiles read from the store by the engine itself,
and person links filled from the store: facts only add zones and jurisdictions."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smspolicy import (
    Channel,
    Engine,
    Message,
    Policy,
    Profile,
    RecipientFacts,
    Verdict,
    jurisdictions,
    rules,
)
from smspolicy.consent import WrittenConsent
from smspolicy.errors import InvalidInputError, InvalidMessageError
from smspolicy.pinpoint import import_endpoints
from smspolicy.store import ComposedStore, MemoryStore, ProfileRecord, SQLiteStore
from smspolicy.testing import FrozenClock

from .services import drop, postgres_store, redis_store

NY, LA, MIAMI = "+12125550123", "+13105550123", "+13055550199"
BODY = "Acme: 20% off today. Reply STOP to opt out."


def tz(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def new_york(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 1, 15, hour, minute, tzinfo=tz("America/New_York"))


def standard_engine(at: dt.datetime, **kwargs: Any) -> Engine:
    return Engine(jurisdictions.standard(), clock=FrozenClock(at), **kwargs)


def consented(engine: Engine, *numbers: str) -> None:
    for number in numbers:
        written = WrittenConsent("web:form v3, 203.0.113.7", "Acme marketing texts", number)
        engine.consent.confirm(
            number, topic="deals", purpose="marketing", source="web", evidence=written.evidence()
        )


def marketing(number: str, **facts: Any) -> Message:
    return Message(number, "deals", "marketing", body=BODY, brand="Acme", recipient=facts or None)


# --- facts per message -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "verdict"),
    [(19, 59, Verdict.ALLOW), (20, 0, Verdict.DEFER), (20, 30, Verdict.DEFER)],
    ids=["before-20:00", "at-20:00", "after-20:00"],
)
def test_a_state_given_with_the_message_applies_florida_hours(
    hour: int, minute: int, verdict: Verdict
) -> None:
    """A +1 212 number with state FL given per message gets Florida's 08:00-20:00 window."""
    engine = standard_engine(new_york(hour, minute))
    consented(engine, NY)
    decision = engine.evaluate(marketing(NY, state="FL"))
    assert decision.verdict is verdict
    if verdict is Verdict.DEFER:
        assert "jurisdiction.us.fl.window" in decision.codes
        assert decision.until == new_york(8).replace(day=16)
    assert engine.evaluate(marketing(NY)).allowed  # the number alone: New York's 21:00


def test_facts_join_the_profile_and_the_number() -> None:
    """The message's zone and state join the profile's and the number's own."""
    engine = standard_engine(
        new_york(12), profiles={NY: Profile(timezone="America/Chicago", state="TX")}
    )
    recipient = engine.recipient(marketing(NY, zone="America/Denver", state="FL"))
    assert recipient.zones == ("America/Denver", "America/Chicago", "America/New_York")
    assert recipient.jurisdictions == {"US", "US-NY", "US-TX", "US-FL"}
    assert recipient.zone_source == "number+profile+message"


def test_a_facts_zone_adds_a_stricter_window() -> None:
    """A Los Angeles zone given for a New York number at 08:30 New York (05:30 there) defers
    to 08:00 Los Angeles."""
    engine = standard_engine(new_york(8, 30))
    consented(engine, NY)
    decision = engine.evaluate(marketing(NY, zone="America/Los_Angeles"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == dt.datetime(2025, 1, 15, 8, tzinfo=tz("America/Los_Angeles"))
    assert engine.evaluate(marketing(NY)).allowed


@pytest.mark.parametrize("trust", [False, True], ids=["joined", "trusted-profile"])
def test_facts_never_open_a_window_the_number_keeps_closed(trust: bool) -> None:
    """A New York zone given for a Los Angeles number at 07:30 there does not open its window,
    even when the engine trusts profile zones."""
    at = dt.datetime(2025, 1, 15, 7, 30, tzinfo=tz("America/Los_Angeles"))
    engine = standard_engine(at, trust_profile_zone=trust)
    consented(engine, LA)
    decision = engine.evaluate(marketing(LA, zone="America/New_York"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == dt.datetime(2025, 1, 15, 8, tzinfo=tz("America/Los_Angeles"))


def test_facts_never_replace_a_stored_profile_zone() -> None:
    """A stored Los Angeles zone still holds when the message says New York: at 09:00 New York
    (06:00 Los Angeles) the message waits."""
    store = MemoryStore()
    store.upsert_profiles({NY: ProfileRecord(Profile(timezone="America/Los_Angeles"))})
    engine = standard_engine(new_york(9), store=store)
    consented(engine, NY)
    decision = engine.evaluate(marketing(NY, zone="America/New_York"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == dt.datetime(2025, 1, 15, 8, tzinfo=tz("America/Los_Angeles"))


def test_facts_place_an_email_recipient() -> None:
    """An email address has no number: the message's facts are all it has."""
    engine = Engine(rules.valid_number(), clock=FrozenClock(new_york(12)))
    message = Message(
        "ann@example.com",
        "deals",
        "marketing",
        channel=Channel.EMAIL,
        recipient=RecipientFacts(zone="Europe/Paris", country="FR"),
    )
    recipient = engine.recipient(message)
    assert (recipient.zones, recipient.jurisdictions, recipient.zone_source) == (
        ("Europe/Paris",),
        {"FR"},
        "message",
    )


def test_facts_accept_a_mapping_and_a_tzinfo() -> None:
    """A mapping of the fields is made into RecipientFacts; a tzinfo is named by its zone."""
    message = Message(NY, "deals", "marketing", recipient={"zone": tz("America/Chicago")})
    assert message.recipient == RecipientFacts(zone="America/Chicago")
    assert RecipientFacts(state="fl").subdivision() == "US-FL"
    assert RecipientFacts(country="ca", state="ON").subdivision() == "CA-ON"


@pytest.mark.parametrize(
    ("recipient", "error"),
    [
        (
            {"tz": "America/Chicago"},
            "recipient facts take country, locale, postal_code, state, zone; got unknown tz",
        ),
        (
            {"state": "ZZ"},
            "recipient: state 'ZZ' is not a US state or Canadian province code: "
            "give the country, or write it as an ISO 3166-2 code such as 'US-FL'",
        ),
        ({"country": "XX"}, "recipient: country must be an ISO 3166-1 alpha-2 code, got 'XX'"),
        (
            "FL",
            "recipient must be a smspolicy.RecipientFacts, a mapping of its fields or None, "
            "got str",
        ),
    ],
    ids=["unknown-field", "unknown-state", "bad-country", "wrong-type"],
)
def test_bad_facts_are_refused_with_a_clear_message(recipient: object, error: str) -> None:
    """Facts that cannot be used are refused when the message is built."""
    with pytest.raises(InvalidMessageError) as raised:
        Message(NY, "deals", "marketing", recipient=recipient)  # type: ignore[arg-type]
    assert str(raised.value) == error


def test_bad_facts_built_directly_are_refused() -> None:
    """RecipientFacts checks its fields like Profile does."""
    with pytest.raises(InvalidInputError, match="timezone must be an IANA name or tzinfo"):
        RecipientFacts(zone=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="'US-ZZ' is not an ISO 3166-2 subdivision"):
        RecipientFacts(state="US-ZZ")


_GEOGRAPHIC = [NY, LA, MIAMI, "+12145550123", "+14165550123", "+13125550123", "+18505550123"]
_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Europe/London",
    "Asia/Tokyo",
]


@st.composite
def _facts(draw: st.DrawFn) -> RecipientFacts:
    country = draw(st.sampled_from([None, "US", "CA", "GB"]))
    states = {None: [None, "FL", "TX", "ON"], "US": [None, "FL", "OK", "WA"], "CA": [None, "QC"]}
    return RecipientFacts(
        zone=draw(st.sampled_from([None, *_ZONES])),
        country=country,
        state=draw(st.sampled_from(states.get(country, [None]))),
        postal_code=draw(st.sampled_from([None, "33101"])),
        locale=draw(st.sampled_from([None, "es"])),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    number=st.sampled_from(_GEOGRAPHIC),
    minutes=st.integers(0, 7 * 24 * 60 - 1),
    profile=st.sampled_from(
        [None, Profile(timezone="America/Chicago"), Profile(country="US", state="FL")]
    ),
    facts=_facts(),
    purpose=st.sampled_from(["marketing", "transactional"]),
    consent=st.booleans(),
)
def test_facts_never_turn_a_deny_or_defer_into_an_allow(
    number: str,
    minutes: int,
    profile: Profile | None,
    facts: RecipientFacts,
    purpose: str,
    consent: bool,
) -> None:
    """For a number whose own zones are known, whatever the message says of its recipient,
    a message the standard policy holds back without the facts is held back with them."""
    at = dt.datetime(2025, 3, 3, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    engine = standard_engine(at, profiles={number: profile} if profile else None)
    if consent:
        consented(engine, number)
    plain = Message(number, "deals", purpose, body=BODY, brand="Acme")
    with_facts = Message(number, "deals", purpose, body=BODY, brand="Acme", recipient=facts)
    before, after = engine.evaluate(plain), engine.evaluate(with_facts)
    if before.verdict is not Verdict.ALLOW:
        assert after.verdict is not Verdict.ALLOW, (before.codes, after.codes)
    if before.verdict is Verdict.DENY:
        assert after.verdict is Verdict.DENY, (before.codes, after.codes)


# --- profiles from the store -----------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgres", "postgres+redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        made: Any = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "p.sqlite3")
    elif request.param == "postgres":
        made = postgres_store()
    else:
        made = ComposedStore(postgres_store(), redis_store())  # type: ignore[arg-type]
    yield made
    drop(made)


def test_the_engine_reads_profiles_from_its_store_by_itself(store: Any) -> None:
    """Without profiles=, a store that keeps profiles is the engine's profile source."""
    store.upsert_profiles({NY: ProfileRecord(Profile(timezone="Europe/London", state="FL"))})
    engine = Engine(rules.valid_number(), store, FrozenClock(new_york(12)))
    recipient = engine.recipient(Message(NY, "deals", "marketing"))
    assert recipient.zones == ("Europe/London", "America/New_York")
    assert recipient.jurisdictions == {"US", "US-NY", "US-FL"}
    assert engine.profile(NY) == Profile(timezone="Europe/London", state="FL")
    assert engine.profile(LA) is None


def test_explicit_profiles_win_field_by_field_over_stored_ones() -> None:
    """An explicit profiles= source's fields win; the store fills the fields it leaves unset."""
    store = MemoryStore()
    store.upsert_profiles(
        {
            NY: ProfileRecord(Profile(timezone="America/Denver", locale="en")),
            LA: ProfileRecord(Profile(locale="fr")),
        }
    )
    engine = Engine(rules.valid_number(), store, profiles={NY: Profile(locale="es")})
    assert engine.profile(NY) == Profile(timezone="America/Denver", locale="es")
    assert engine.profile(LA) == Profile(locale="fr")
    assert engine.profile(MIAMI) is None


def test_forget_and_refresh_make_store_changes_visible_at_once() -> None:
    """Remembered profiles go when the number is forgotten or the engine is told to refresh."""
    store = MemoryStore()
    engine = Engine(rules.valid_number(), store)
    assert engine.profile(NY) is None
    store.upsert_profiles({NY: ProfileRecord(Profile(locale="fr"))})
    assert engine.profile(NY) is None  # the miss is remembered for a minute
    engine.refresh_profiles()
    assert engine.profile(NY) == Profile(locale="fr")
    engine.forget(NY)
    assert engine.profile(NY) is None


class FailingProfiles(MemoryStore):
    """A store whose profile reads fail."""

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        raise OSError("profiles table unreachable")


def test_a_profile_read_failure_fails_closed() -> None:
    """When the store's profiles cannot be read, evaluate, reserve and reserve_many deny
    store.unavailable (or defer by on_store_error) instead of deciding without them."""
    engine = Engine(rules.valid_number(), FailingProfiles(), FrozenClock(new_york(12)))
    message = Message(NY, "deals", "marketing")
    assert engine.evaluate(message).codes == ("store.unavailable",)
    assert engine.reserve(message).decision.codes == ("store.unavailable",)
    assert [r.decision.verdict for r in engine.reserve_many([message, message])] == [
        Verdict.DENY,
        Verdict.DENY,
    ]
    deferring = Engine(
        rules.valid_number(), FailingProfiles(), FrozenClock(new_york(12)), on_store_error="defer"
    )
    assert deferring.evaluate(message).until == new_york(12, 5)
    with pytest.raises(InvalidInputError, match=r"expected a smspolicy\.Message"):
        engine.reserve_many(["+12125550123"])  # type: ignore[list-item]


def test_a_composed_store_whose_parts_keep_no_profiles_decides_without_them() -> None:
    """A store made of parts that keep no profiles gives the engine no profile source."""

    class Plain(MemoryStore):
        upsert_profiles = None  # type: ignore[assignment]
        profiles = None  # type: ignore[assignment]

        def forget_sends(self, number: str) -> None:
            self.forget(number)

    engine = Engine(rules.valid_number(), ComposedStore(Plain(), Plain()))
    assert engine.evaluate(Message(NY, "deals", "marketing")).allowed
    assert engine.profile(NY) is None


# --- person links ----------------------------------------------------------------------------


def _export(path: Path, *endpoints: tuple[str, str | None]) -> Path:
    lines = []
    for address, user in endpoints:
        item: dict[str, Any] = {
            "Id": f"ep-{address[-4:]}",
            "Address": address,
            "ChannelType": "SMS",
            "EndpointStatus": "ACTIVE",
            "OptOut": "NONE",
        }
        if user is not None:
            item["User"] = {"UserId": user}
        lines.append(json.dumps(item))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_imported_person_links_make_person_caps_count_across_numbers(
    kind: str, tmp_path: Path
) -> None:
    """Two numbers imported under one UserId share a person-scoped cap of one a day: the
    second number waits a day after the first is sent; a number of another user does not."""
    store: Any = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "s.sqlite3")
    clock = FrozenClock(new_york(12))
    policy = Policy(rules.frequency_cap(1, dt.timedelta(days=1), scope="all"), name="one-a-day")
    engine = Engine(policy, store, clock)
    assert engine.evaluate(Message(LA, "deals", "marketing")).allowed  # remembered: no person
    path = _export(tmp_path / "export.json", (NY, "user-1"), (LA, "user-1"), (MIAMI, "user-2"))
    summary = import_endpoints(engine, [path])
    assert (summary.profiles, summary.persons) == (3, 3)

    reservation = engine.reserve(Message(NY, "deals", "marketing"))
    assert reservation.allowed
    assert reservation.message is not None
    assert reservation.message.person == "user-1"
    reservation.commit("provider-1")
    clock.advance(dt.timedelta(hours=1))
    second = engine.evaluate(Message(LA, "deals", "marketing"))
    assert second.verdict is Verdict.DEFER
    assert second.until == new_york(12).replace(day=16)
    assert engine.evaluate(Message(MIAMI, "deals", "marketing")).allowed
    # a person given with the message is kept
    assert engine.evaluate(Message(LA, "deals", "marketing", person="someone-else")).allowed


def test_record_sent_fills_the_stored_person() -> None:
    """A send logged with record_sent counts for the stored person on the person's other
    numbers."""
    store = MemoryStore()
    store.upsert_profiles({NY: ProfileRecord(Profile(), "p"), LA: ProfileRecord(Profile(), "p")})
    clock = FrozenClock(new_york(12))
    policy = Policy(rules.frequency_cap(1, dt.timedelta(days=1), scope="all"), name="one-a-day")
    engine = Engine(policy, store, clock)
    record = engine.record_sent(Message(NY, "deals", "marketing"))
    assert record.person == "p"
    batch = engine.reserve_many([Message(LA, "deals", "marketing")])
    assert [r.decision.verdict for r in batch] == [Verdict.DEFER]


def test_a_held_message_keeps_its_facts() -> None:
    """A message held in the outbox comes back with the facts it was given."""
    from smspolicy.outbox._model import _message_from, _message_json

    message = marketing(NY, state="FL", zone="America/Chicago", postal_code="33101")
    stored = json.loads(json.dumps(_message_json(message)))
    assert _message_from(stored) == message
    assert _message_from({**stored, "recipient": None}).recipient is None


def test_preflight_applies_a_rows_own_time_zone(tmp_path: Path) -> None:
    """A recipient list's timezone column joins the number's zones: a New York number whose row
    says Los Angeles waits at 09:30 New York (06:30 there) for an 08:00-21:00 window."""
    from smspolicy.cli import main

    policy = tmp_path / "policy.toml"
    policy.write_text(
        'name = "p"\n[[rules]]\ntype = "sending_window"\nstart = "08:00"\nend = "21:00"\n',
        encoding="utf-8",
    )
    recipients = tmp_path / "recipients.csv"
    recipients.write_text(
        "number,topic,purpose,timezone\n"
        f"{NY},deals,transactional,America/Los_Angeles\n"
        f"{LA},deals,transactional,\n",
        encoding="utf-8",
    )
    database = tmp_path / "s.sqlite3"
    ledger = Engine(
        rules.consent(), SQLiteStore(database), FrozenClock(new_york(9) - dt.timedelta(days=9))
    )
    for number in (NY, LA):
        ledger.consent.confirm(number, topic="deals", purpose="transactional", source="web")
    out = tmp_path / "decisions.csv"
    main(
        [
            "preflight",
            str(recipients),
            "--policy",
            str(policy),
            "--db",
            str(database),
            "--at",
            "2025-01-15T14:30:00Z",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    import csv

    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert [(r["number"], r["verdict"], r["until_utc"]) for r in rows] == [
        (NY, "defer", "2025-01-15T16:00:00+00:00"),
        (LA, "defer", "2025-01-15T16:00:00+00:00"),
    ]


def test_a_stop_is_answered_when_the_profiles_cannot_be_read() -> None:
    """A STOP is recorded and confirmed in English even when the stored profiles are
    unreadable: the reply's language is the only thing the profile would change."""
    engine = Engine(rules.consent(), FailingProfiles(), FrozenClock(new_york(12)))
    result = engine.inbound("STOP", NY)
    assert result.kind.value == "opt_out"
    assert result.reply
    assert [event.kind.value for event in engine.consent.history(NY)] == ["revoked"]
