"""Sending windows in the recipient's time zone: DST, multi-zone numbers, holidays."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs
import pytest
import pytz
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import Context, Engine, Message, Policy, Profile, Recipient, Resolver, Verdict
from smspolicy import rules as R
from smspolicy.errors import ConfigurationError
from smspolicy.strategies import phone_numbers
from smspolicy.testing import FrozenClock

from .async_support import both_engines  # noqa: F401  (runs each test on both engines)

NY = zoneinfo.ZoneInfo("America/New_York")
TCPA = R.sending_window("08:00", "21:00")


def local(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone))  # type: ignore[misc]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


def decide(
    rule: object,
    number: str,
    at: dt.datetime,
    purpose: str = "marketing",
    profile: Profile | None = None,
) -> object:
    engine = Engine(
        Policy(rule, name="hours"),  # type: ignore[arg-type]
        clock=FrozenClock(at),
        profiles={} if profile is None else {number: profile},
    )
    return engine.evaluate(Message(number, "news", purpose))


@pytest.mark.parametrize("month", [1, 7], ids=["january", "july"])
def test_new_york_afternoon_allowed(month: int) -> None:
    """New York 15:00 is allowed in winter and summer."""
    assert decide(TCPA, "+12125550123", local("America/New_York", 2025, month, 15, 15)).allowed


def test_0759_defers_to_exactly_0800_local() -> None:
    """07:59 local defers to exactly 08:00 local."""
    decision = decide(TCPA, "+12125550123", local("America/New_York", 2025, 1, 15, 7, 59))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == local("America/New_York", 2025, 1, 15, 8, 0)
    assert decision.codes == ("hours.outside_window",)


def test_2100_exactly_is_outside() -> None:
    """21:00 exactly is outside (the end is exclusive) and defers to 08:00 next day."""
    decision = decide(TCPA, "+12125550123", local("America/New_York", 2025, 1, 15, 21, 0))
    assert decision.until == local("America/New_York", 2025, 1, 16, 8, 0)
    assert decide(TCPA, "+12125550123", local("America/New_York", 2025, 1, 15, 20, 59)).allowed


def test_phoenix_has_no_dst() -> None:
    """Phoenix opens at 15:00 UTC all year (MST, no DST), unlike Denver in summer."""
    for month in (1, 7):
        at = dt.datetime(2025, month, 15, 14, 0, tzinfo=dt.UTC)
        decision = decide(TCPA, "+16025550123", at)
        assert decision.until == dt.datetime(2025, month, 15, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("at", "until"),
    [
        # spring forward: 01:30 EST; the window opens at 08:00 EDT = 12:00 UTC
        (utc(2025, 3, 9, 6, 30), utc(2025, 3, 9, 12, 0)),
        # fall back: 01:30 EDT (first pass); the window opens at 08:00 EST = 13:00 UTC
        (utc(2025, 11, 2, 5, 30), utc(2025, 11, 2, 13, 0)),
        # 21:00 EDT on 2025-11-01 -> 08:00 EST on 2025-11-02
        (utc(2025, 11, 2, 1, 0), utc(2025, 11, 2, 13, 0)),
    ],
    ids=["spring-forward", "fall-back", "night-before-fall-back"],
)
def test_dst_days_defer_to_correct_utc_instant(at: dt.datetime, until: dt.datetime) -> None:
    """On DST days in New York the deferral instant is the correct UTC instant."""
    assert decide(TCPA, "+12125550123", at).until == until


def test_window_opening_in_nonexistent_hour() -> None:
    """A window starting at 02:30 on spring-forward day opens at 03:00 EDT, the first existing
    instant after its start."""
    rule = R.sending_window("02:30", "05:00")
    decision = decide(rule, "+12125550123", local("America/New_York", 2025, 3, 9, 0, 0))
    assert decision.until == dt.datetime(2025, 3, 9, 7, 0, tzinfo=dt.UTC)


def test_repeated_hour_judged_per_pass() -> None:
    """In the fall-back hour each pass is judged by its own reading: a window 01:15-01:45
    allows both passes of 01:30."""
    rule = R.sending_window("01:15", "01:45")
    first = dt.datetime(2025, 11, 2, 5, 30, tzinfo=dt.UTC)  # 01:30 EDT
    second = dt.datetime(2025, 11, 2, 6, 30, tzinfo=dt.UTC)  # 01:30 EST
    assert decide(rule, "+12125550123", first).allowed
    assert decide(rule, "+12125550123", second).allowed
    between = dt.datetime(2025, 11, 2, 5, 50, tzinfo=dt.UTC)  # 01:50 EDT
    assert decide(rule, "+12125550123", between).until == dt.datetime(
        2025, 11, 2, 6, 15, tzinfo=dt.UTC
    )


def test_split_area_code_uses_exchange_zone() -> None:
    """850-434 (Chicago) at 08:30 New York time defers to 09:00 New York time; so does 850-644,
    whose exchange has no entry: the panhandle's Central zone stays a candidate."""
    for number in ("+18504341234", "+18506441234"):
        decision = decide(TCPA, number, local("America/New_York", 2025, 1, 15, 8, 30))
        assert decision.until == local("America/New_York", 2025, 1, 15, 9, 0)
        assert decision.zone == "America/Chicago"
    assert decide(TCPA, "+18504341234", local("America/New_York", 2025, 1, 15, 9, 0)).allowed


@pytest.mark.parametrize(
    ("number", "opens_et"),
    [("+16055550123", 10), ("+12085550123", 11), ("+19282831234", 10)],
    ids=["605", "208", "928-283"],
)
def test_multi_zone_numbers_wait_for_every_zone(number: str, opens_et: int) -> None:
    """605, 208 and 928 numbers at 08:30 Eastern defer until 08:00 in their latest zone."""
    decision = decide(TCPA, number, local("America/New_York", 2025, 1, 15, 8, 30))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == local("America/New_York", 2025, 1, 15, opens_et, 0)


def test_toll_free_is_never_silently_allowed() -> None:
    """A toll-free number has no zone: marketing is denied, transactional allowed with a note."""
    at = local("America/New_York", 2025, 1, 15, 15)
    marketing = decide(TCPA, "+18005550123", at)
    assert marketing.codes == ("hours.zone_unknown",)
    assert marketing.verdict is Verdict.DENY
    transactional = decide(TCPA, "+18005550123", at, "transactional")
    assert transactional.allowed
    assert transactional.codes == ("hours.zone_unknown",)
    strict = R.sending_window("08:00", "21:00", on_unknown_zone="deny")
    assert not decide(strict, "+18005550123", at, "transactional").allowed
    fallback = R.sending_window("08:00", "21:00", fallback_zones=["America/Los_Angeles"])
    early = local("America/New_York", 2025, 1, 15, 10)
    assert decide(fallback, "+18005550123", early).until == local(
        "America/Los_Angeles", 2025, 1, 15, 8
    )


def test_profile_zone_adds_to_the_numbers() -> None:
    """A New York number with a Los Angeles profile is not texted at 21:30 New York time: it
    waits until 08:00 in Los Angeles (16:00 UTC), when both zones are open."""
    profile = Profile(timezone="America/Los_Angeles")
    at = local("America/New_York", 2025, 1, 15, 21, 30)
    decision = decide(TCPA, "+12125550123", at, profile=profile)
    assert decision.until == utc(2025, 1, 16, 16)
    assert decision.zone == "America/Los_Angeles"
    assert decision.explain().startswith(
        "Deferred until Jan 16, 2025, 8:00 AM PST (America/Los_Angeles) because it is "
        "Wed 21:30 EST in America/New_York, outside"
    )


def test_trusted_profile_zone_replaces_the_numbers() -> None:
    """With trust_profile_zone=True only the profile's zone counts: 21:30 in New York is 18:30
    in Los Angeles, inside the window; a London profile defers to 08:00 London."""
    at = local("America/New_York", 2025, 1, 15, 21, 30)
    engine = Engine(
        Policy(TCPA, name="hours"),
        clock=FrozenClock(at),
        profiles={
            "+12125550123": Profile(timezone="America/Los_Angeles"),
            "+12125550124": Profile(timezone="Europe/London"),
        },
        trust_profile_zone=True,
    )
    assert engine.evaluate(Message("+12125550123", "news", "marketing")).allowed
    london = engine.evaluate(Message("+12125550124", "news", "marketing"))
    assert london.until == local("Europe/London", 2025, 1, 16, 8)


def test_untrusted_london_profile_waits_for_new_york_too() -> None:
    """A New York number with a London profile at 16:30 New York (21:30 London) waits until
    08:00 New York (13:00 UTC), not 08:00 London (03:00 New York)."""
    profile = Profile(timezone="Europe/London")
    at = local("America/New_York", 2025, 1, 15, 16, 30)
    decision = decide(TCPA, "+12125550123", at, profile=profile)
    assert decision.until == utc(2025, 1, 16, 13)
    assert decision.zone == "America/New_York"


AU_MOBILE = "+61412345678"
BEST = R.sending_window("08:00", "21:00", zones="principal")


def test_best_practice_window_uses_australias_principal_zones() -> None:
    """An Australian mobile at 13:30 UTC in January (21:30 Perth, 00:30 Sydney) waits for
    08:00 in Perth, 00:00 UTC, and the explanation speaks of Perth only."""
    decision = decide(BEST, AU_MOBILE, utc(2025, 1, 15, 13, 30))
    assert decision.until == utc(2025, 1, 16, 0, 0)
    assert decision.zone == "Australia/Perth"
    assert decision.explain() == (
        "Deferred until Jan 16, 2025, 8:00 AM AWST (Australia/Perth) because it is "
        "Wed 21:30 AWST in Australia/Perth, outside the sending window (08:00-21:00)."
    )


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (utc(2025, 1, 15, 23, 59), False),  # 07:59 Perth
        (utc(2025, 1, 16, 0, 0), True),  # 08:00 Perth, 11:00 Sydney
        (utc(2025, 1, 16, 9, 59), True),  # 20:59 Sydney
        (utc(2025, 1, 16, 10, 0), False),  # 21:00 Sydney
    ],
    ids=["perth-0759", "perth-0800", "sydney-2059", "sydney-2100"],
)
def test_australian_best_practice_window_is_ten_hours(at: dt.datetime, allowed: bool) -> None:
    """In January an Australian mobile's best-practice window runs from 08:00 Perth (00:00 UTC)
    to 21:00 Sydney (10:00 UTC)."""
    assert decide(BEST, AU_MOBILE, at).allowed is allowed


def test_legal_window_keeps_every_australian_zone() -> None:
    """A window with every candidate zone (the default, for windows a law sets) waits for
    08:00 on the Cocos Islands (+06:30), 01:30 UTC."""
    decision = decide(TCPA, AU_MOBILE, utc(2025, 1, 15, 13, 30))
    assert decision.until == utc(2025, 1, 16, 1, 30)
    assert decision.zone == "Indian/Cocos"
    assert decide(TCPA, AU_MOBILE, utc(2025, 1, 16, 1, 29)).verdict is Verdict.DEFER
    assert decide(BEST, AU_MOBILE, utc(2025, 1, 16, 1, 29)).allowed


def test_principal_window_with_a_recipient_built_by_hand() -> None:
    """A hand-built Recipient without principal zones is held in every candidate zone; one
    with no zone at all uses the fallback zones."""
    message = Message("+12125550123", "news", "marketing")
    night = utc(2025, 1, 16, 3)  # 22:00 New York, 19:00 Los Angeles
    both = Recipient(address="x", valid=True, zones=("America/Los_Angeles", "America/New_York"))
    assert BEST(message, Context(now=night, recipient=both)).verdict is Verdict.DEFER
    narrowed = attrs.evolve(both, principal_zones=("America/Los_Angeles",))
    assert BEST(message, Context(now=night, recipient=narrowed)).allowed
    assert TCPA(message, Context(now=night, recipient=narrowed)).verdict is Verdict.DEFER
    fallback = R.sending_window("08:00", "21:00", zones="principal", fallback_zones=["UTC"])
    nowhere = Recipient(address="x", valid=True, principal_zones=())
    assert fallback(message, Context(now=utc(2025, 1, 16, 7), recipient=nowhere)).until == utc(
        2025, 1, 16, 8
    )
    assert repr(fallback) == "sending_window('08:00', '21:00', zones='principal')"


def test_reason_names_the_zone_that_opens_last_when_it_is_closed() -> None:
    """With every zone closed the reason names the zone the deferral waits for (not the first
    candidate): 00:30 in Chicago and 23:30 in Denver waits for 08:00 Denver."""
    both = Recipient(address="x", valid=True, zones=("America/Chicago", "America/Denver"))
    message = Message("+12125550123", "news", "marketing")
    decision = TCPA(message, Context(now=utc(2025, 1, 15, 6, 30), recipient=both))
    assert decision.until == utc(2025, 1, 15, 15)
    assert decision.zone == "America/Denver"
    assert decision.reasons[0].data["zone"] == "America/Denver"
    assert decision.reasons[0].data["local"] == "Tue 23:30 MST"
    strict = R.sending_window("08:00", "21:00", on_outside="deny")
    denied = strict(message, Context(now=utc(2025, 1, 15, 6, 30), recipient=both))
    assert denied.reasons[0].data["zone"] == "America/Chicago"


def test_window_crossing_midnight() -> None:
    """A window 22:00-02:00 allows 23:00 and 01:00, and defers 03:00 to 22:00."""
    night = R.sending_window("22:00", "02:00")
    assert decide(night, "+12125550123", local("America/New_York", 2025, 1, 15, 23)).allowed
    assert decide(night, "+12125550123", local("America/New_York", 2025, 1, 16, 1)).allowed
    decision = decide(night, "+12125550123", local("America/New_York", 2025, 1, 16, 3))
    assert decision.until == local("America/New_York", 2025, 1, 16, 22)


def test_quiet_hours_is_the_complement() -> None:
    """quiet_hours(21:00, 08:00) behaves as sending_window(08:00, 21:00)."""
    quiet = R.quiet_hours("21:00", "08:00")
    for hour in (0, 7, 8, 12, 20, 21, 23):
        at = local("America/New_York", 2025, 1, 15, hour)
        quiet_decision = decide(quiet, "+12125550123", at)
        window_decision = decide(TCPA, "+12125550123", at)
        assert quiet_decision.verdict is window_decision.verdict
        assert quiet_decision.until == window_decision.until
    assert repr(quiet) == "quiet_hours('21:00', '08:00')"


def test_texas_per_weekday_window() -> None:
    """Texas: Sunday 10:00 defers to 12:00; Monday 10:00 is allowed."""
    texas = R.sending_window("09:00", "21:00", days={6: ("12:00", "21:00")})
    sunday = local("America/Chicago", 2025, 1, 19, 10)
    assert decide(texas, "+12145550123", sunday).until == local("America/Chicago", 2025, 1, 19, 12)
    assert decide(texas, "+12145550123", local("America/Chicago", 2025, 1, 20, 10)).allowed


def test_days_collection_closes_other_days() -> None:
    """days={0..5} closes Sundays: Saturday 21:00 defers to Monday 08:00."""
    no_sunday = R.sending_window("08:00", "20:00", days={0, 1, 2, 3, 4, 5})
    decision = decide(no_sunday, "+15045550123", local("America/Chicago", 2025, 1, 18, 20))
    assert decision.until == local("America/Chicago", 2025, 1, 20, 8)


def test_holiday_ban_defers_to_next_allowed_day() -> None:
    """A holiday ban (observed dates included) defers to the next allowed day."""
    louisiana = R.sending_window("08:00", "20:00", days={0, 1, 2, 3, 4, 5}, holidays="US-LA")
    # 2026-07-03 (Friday) is Independence Day observed; Saturday 07-04 is the holiday itself.
    decision = decide(louisiana, "+15045550123", local("America/Chicago", 2026, 7, 3, 10))
    assert decision.until == local("America/Chicago", 2026, 7, 6, 8)
    # Mardi Gras 2025-03-04 is a Louisiana holiday.
    decision = decide(louisiana, "+15045550123", local("America/Chicago", 2025, 3, 4, 12))
    assert decision.until == local("America/Chicago", 2025, 3, 5, 8)


def test_overnight_window_after_a_holiday() -> None:
    """A 22:00-02:00 window belongs to the day it starts on, and a holiday closes its whole
    date: New Year's Day 2025 (a Wednesday) is closed, and so is the after-midnight part of its
    window on January 2; January 3's after-midnight part belongs to January 2, which is open."""
    overnight = R.sending_window("22:00", "02:00", holidays="US")
    new_york = "+12125550123"
    reopens = local("America/New_York", 2025, 1, 2, 22)
    assert decide(overnight, new_york, local("America/New_York", 2024, 12, 31, 23)).allowed
    for at in (
        local("America/New_York", 2025, 1, 1, 1),
        local("America/New_York", 2025, 1, 1, 23),
        local("America/New_York", 2025, 1, 2, 1),
    ):
        assert decide(overnight, new_york, at).until == reopens
    assert decide(overnight, new_york, local("America/New_York", 2025, 1, 3, 1)).allowed
    assert decide(overnight, new_york, local("America/New_York", 2025, 1, 3, 2)).until == local(
        "America/New_York", 2025, 1, 3, 22
    )


def test_on_outside_deny() -> None:
    """on_outside='deny' denies instead of deferring."""
    strict = R.sending_window("08:00", "21:00", on_outside="deny")
    decision = decide(strict, "+12125550123", local("America/New_York", 2025, 1, 15, 7))
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("hours.outside_window",)


def test_explain_shows_recipient_time() -> None:
    """explain() shows the deferral in the recipient's zone, in three languages."""
    decision = decide(TCPA, "+18504341234", local("America/New_York", 2025, 1, 15, 8, 30))
    assert decision.explain().startswith(
        "Deferred until Jan 15, 2025, 8:00 AM CST (America/Chicago) because it is "
        "Wed 07:30 CST in America/Chicago, outside the sending window (08:00-21:00)"
    )
    assert decision.explain("es").startswith("Aplazado hasta 15 ene 2025, 8:00 CST")
    assert "fuera del horario de envío" in decision.explain("es")
    assert decision.explain("fr").startswith("Reporté au 15 janv. 2025, 08:00 CST")
    assert "en dehors de la plage d'envoi" in decision.explain("fr")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"start": "8am", "end": "21:00"}, "start must be a time like '08:00', got '8am'"),
        ({"start": "08:00", "end": "25:00"}, "end must be a time like '08:00', got '25:00'"),
        ({"start": "08:00", "end": "21:00", "days": {7: None}}, "weekdays are 0 (Monday) to 6"),
        ({"start": "08:00", "end": "21:00", "days": "0123"}, "days must be weekday numbers or"),
        ({"start": "08:00", "end": "21:00", "days": 5}, "days must be weekday numbers or a"),
        ({"start": "08:00", "end": "21:00", "days": {6: ("12:00",)}}, "days[6] must be a (start"),
        ({"start": "08:00", "end": "21:00", "days": {6: ("noon", "21:00")}}, "days[6] start mus"),
        ({"start": "08:00", "end": "21:00", "days": {6: ("12:00", "9pm")}}, "days[6] end must b"),
        ({"start": "08:00", "end": "21:00", "holidays": "XX"}, "no holiday calendar for 'XX': "),
        ({"start": "08:00", "end": "21:00", "holidays": 5}, "holidays must be a code like 'US'"),
        ({"start": "08:00", "end": "21:00", "on_outside": "maybe"}, "on_outside must be 'defer'"),
        ({"start": "08:00", "end": "21:00", "on_unknown_zone": "x"}, "on_unknown_zone must be 'd"),
        ({"start": "08:00", "end": "21:00", "fallback_zones": ["Mars/Base"]}, "fallback_zones: u"),
        ({"start": dt.time(8, tzinfo=dt.UTC), "end": "21:00"}, "start must be a naive datetime"),
        ({"start": "08:00", "end": dt.time(21, tzinfo=dt.UTC)}, "end must be a naive datetime."),
        ({"start": "08:00", "end": "21:00", "zones": "some"}, "zones must be 'all' or 'principa"),
    ],
    ids=[
        "bad-time",
        "bad-end",
        "bad-weekday",
        "days-text",
        "days-number",
        "day-window-single",
        "day-window-start",
        "day-window-end",
        "bad-holidays",
        "holidays-number",
        "bad-on-outside",
        "bad-on-unknown-zone",
        "bad-zone",
        "aware-time",
        "aware-end",
        "bad-zones",
    ],
)
def test_bad_window_arguments(kwargs: dict[str, object], error: str) -> None:
    """Bad window arguments raise ConfigurationError at construction, saying what is wrong."""
    with pytest.raises(ConfigurationError) as raised:
        R.sending_window(**kwargs)  # type: ignore[arg-type]
    assert str(raised.value).startswith(error)


def test_bad_quiet_hours_arguments() -> None:
    """quiet_hours names the bad argument as it was given."""
    with pytest.raises(ConfigurationError, match=r"^start must be a time like '08:00', got 'x'$"):
        R.quiet_hours("x", "08:00")
    with pytest.raises(ConfigurationError, match=r"^end must be a time like '08:00', got 'y'$"):
        R.quiet_hours("21:00", "y")


def test_window_descriptions() -> None:
    """describe() gives one window when every day shares it, else each weekday's, and the
    holiday calendar that closes it."""
    assert R.sending_window("08:00", "21:00").window.describe() == "08:00-21:00"
    louisiana = R.sending_window("08:00", "20:00", days={0, 1, 2, 3, 4, 5}, holidays="US-LA")
    assert louisiana.window.describe() == (
        "Mon 08:00-20:00, Tue 08:00-20:00, Wed 08:00-20:00, Thu 08:00-20:00, Fri 08:00-20:00, "
        "Sat 08:00-20:00, Sun closed, closed on US-LA holidays"
    )
    monday = R.sending_window("09:00", "17:00", days={0: ("10:00", "12:00")})
    assert monday.window.describe().startswith("Mon 10:00-12:00, Tue 09:00-17:00, Wed")
    assert monday.window.by_weekday == (
        (dt.time(10), dt.time(12)),
        *((dt.time(9), dt.time(17)),) * 6,
    )
    assert R.sending_window("08:00", "21:00").window.by_weekday == ((dt.time(8), dt.time(21)),) * 7


@pytest.mark.caches
def test_window_intervals_are_computed_once_per_date() -> None:
    """A window answers each local date from what it computed the first time."""
    window = R.sending_window("22:00", "02:00").window
    day = dt.date(2025, 1, 15)
    assert window.intervals(day) == ((dt.time(0), dt.time(2)), (dt.time(22), None))
    assert window.intervals(day) is window.intervals(day)


def test_window_opening_when_the_clock_falls_back_into_it() -> None:
    """A window 00:30-01:30 is closed at 01:40 EDT on fall-back day and opens again when the
    clock goes back to 01:00 EST (06:00 UTC), which is no window start."""
    window = R.sending_window("00:30", "01:30")
    decision = decide(window, "+12125550123", utc(2025, 11, 2, 5, 40))
    assert decision.until == utc(2025, 11, 2, 6, 0)


def test_windows_that_never_meet_deny_with_a_reason() -> None:
    """An hour-long window in New York and Tokyo never opens in both: DENY hours.no_window with
    the rule's name, citation and the window searched."""
    rule = R.sending_window("08:00", "09:00", citation="Rule 1", name="morning")
    recipient = Recipient(address="x", valid=True, zones=("America/New_York", "Asia/Tokyo"))
    message = Message("+12125550123", "news", "marketing")
    decision = rule(message, Context(now=utc(2025, 1, 15), recipient=recipient))
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("hours.no_window",)
    (reason,) = decision.reasons
    assert (reason.rule, reason.citation) == ("morning", "Rule 1")
    assert reason.data == {"window": "08:00-09:00", "days": 400}


def test_outside_reason_carries_rule_citation_and_zones() -> None:
    """The outside-window reason names its rule, cites it and lists the zones checked."""
    rule = R.sending_window("08:00", "21:00", citation="Rule 2", name="evening", code="x.y")
    decision = decide(rule, "+18505550123", utc(2025, 1, 15, 13, 30))
    (reason,) = decision.reasons
    assert (reason.code, reason.rule, reason.citation) == ("x.y", "evening", "Rule 2")
    assert reason.data["zones"] == ["America/Chicago", "America/New_York"]
    assert reason.data["zone"] == "America/Chicago"
    assert reason.data["window"] == "08:00-21:00"


@pytest.mark.parametrize(
    ("option", "purpose", "verdict"),
    [
        (None, "marketing", Verdict.DENY),
        (None, "transactional", Verdict.ALLOW),
        ("deny", "transactional", Verdict.DENY),
        ("allow", "marketing", Verdict.ALLOW),
    ],
    ids=["default-marketing", "default-transactional", "deny", "allow"],
)
def test_unknown_zone_options(option: str | None, purpose: str, verdict: Verdict) -> None:
    """With no zone, marketing is denied and transactional allowed unless on_unknown_zone says
    otherwise; the reason names the rule and its citation either way."""
    rule = R.sending_window("08:00", "21:00", on_unknown_zone=option, citation="C", name="n")  # type: ignore[arg-type]
    decision = decide(rule, "+18005550123", local("America/New_York", 2025, 1, 15, 15), purpose)
    assert decision.verdict is verdict
    (reason,) = decision.reasons
    assert (reason.code, reason.rule, reason.citation) == ("hours.zone_unknown", "n", "C")


def test_principal_option_is_set_at_construction() -> None:
    """zones="principal" is what narrows a window to the principal zones; "all" does not."""
    at = utc(2025, 1, 16, 1, 29)  # 07:29 on the Cocos Islands, 09:29 in Perth
    assert decide(R.sending_window("08:00", "21:00", zones="principal"), AU_MOBILE, at).allowed
    everywhere = R.sending_window("08:00", "21:00", zones="all")
    assert decide(everywhere, AU_MOBILE, at).verdict is Verdict.DEFER


# --- brute force --------------------------------------------------------------------------

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/St_Johns",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
]
times = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
# Instants near DST changes are over-weighted.
instants = st.one_of(
    st.integers(0, 365 * 24 * 60).map(
        lambda m: dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=m)
    ),
    st.sampled_from(
        [
            dt.datetime(2025, 3, 9, tzinfo=dt.UTC),
            dt.datetime(2025, 11, 2, tzinfo=dt.UTC),
            dt.datetime(2025, 3, 30, tzinfo=dt.UTC),
            dt.datetime(2025, 10, 26, tzinfo=dt.UTC),
            dt.datetime(2025, 4, 6, tzinfo=dt.UTC),
            dt.datetime(2025, 10, 5, tzinfo=dt.UTC),
        ]
    ).flatmap(lambda d: st.integers(0, 36 * 60).map(lambda m: d + dt.timedelta(minutes=m))),
)


def inside(zone: str, start: dt.time, end: dt.time, instant: dt.datetime) -> bool:
    wall = instant.astimezone(pytz.timezone(zone)).time()
    return start <= wall < end if start < end else (wall >= start or wall < end)  # == : all day


@given(
    st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True), times, times, instants
)
def test_brute_force_minute_scan(
    zones: list[str], start: dt.time, end: dt.time, now: dt.datetime
) -> None:
    """An ALLOW is inside the window in every zone, and a DEFER's until is the earliest such
    instant, checked against a scan of every minute."""
    rule = R.sending_window(start, end)
    recipient = Recipient(address="x", valid=True, zones=tuple(zones))
    context = Context(now=now, recipient=recipient)
    decision = rule(Message("+12125550123", "news", "marketing"), context)
    if decision.allowed:
        assert all(inside(z, start, end, now) for z in zones)
        return
    if decision.verdict is Verdict.DENY:
        # Disjoint windows across zones: no minute in the next 48 hours works.
        minute, limit = now, now + dt.timedelta(hours=48)
        while minute < limit:
            assert not all(inside(z, start, end, minute) for z in zones)
            minute += dt.timedelta(minutes=15)
        return
    assert decision.until is not None
    assert all(inside(z, start, end, decision.until) for z in zones)
    minute = now.replace(second=0, microsecond=0)
    while minute < decision.until:
        if minute >= now:
            assert not all(inside(z, start, end, minute) for z in zones), minute
        minute += dt.timedelta(minutes=1)


def inside_days(
    zone: str, start: dt.time, end: dt.time, days: set[int], instant: dt.datetime
) -> bool:
    local = instant.astimezone(pytz.timezone(zone))
    wall, weekday = local.time(), local.weekday()
    if start < end:
        return weekday in days and start <= wall < end
    # crossing midnight, or start == end: a whole day from start
    today = weekday in days and wall >= start
    carried = (weekday - 1) % 7 in days and wall < end
    return today or carried


@given(st.sampled_from(ZONES), times, times, st.sets(st.integers(0, 6), min_size=1), instants)
def test_brute_force_weekdays(
    zone: str, start: dt.time, end: dt.time, days: set[int], now: dt.datetime
) -> None:
    """With weekday restrictions (windows crossing midnight belong to their first day), a
    DEFER's until is still the earliest instant inside, by a minute scan."""
    rule = R.sending_window(start, end, days=days)
    context = Context(now=now, recipient=Recipient(address="x", valid=True, zones=(zone,)))
    decision = rule(Message("+12125550123", "news", "marketing"), context)
    if decision.allowed:
        assert inside_days(zone, start, end, days, now)
        return
    assert decision.until is not None
    assert inside_days(zone, start, end, days, decision.until)
    minute = now.replace(second=0, microsecond=0)
    while minute < decision.until:
        if minute >= now:
            assert not inside_days(zone, start, end, days, minute), minute
        minute += dt.timedelta(minutes=1)


def test_whole_day_window_for_day_bans() -> None:
    """start == end is a whole day: with days it bans only the other days."""
    no_sunday = R.sending_window("00:00", "00:00", days={0, 1, 2, 3, 4, 5})
    saturday_night = local("America/Chicago", 2025, 1, 18, 23, 59)
    assert decide(no_sunday, "+12055550123", saturday_night).allowed
    sunday = local("America/Chicago", 2025, 1, 19, 10)
    assert decide(no_sunday, "+12055550123", sunday).until == local("America/Chicago", 2025, 1, 20)


def test_window_answer_is_per_instant_and_per_zones() -> None:
    """One rule instance decides many contexts: what it remembers for one instant and one set
    of zones never answers for another instant or another set."""
    window = R.sending_window("08:00", "21:00")
    message = Message("+12125550123", "news", "marketing")
    noon = utc(2025, 1, 15, 17)  # 12:00 in New York, 09:00 in Los Angeles
    night = utc(2025, 1, 16, 3)  # 22:00 in New York, 19:00 in Los Angeles

    def at(instant: dt.datetime, *zones: str) -> Verdict:
        recipient = Recipient(address=message.to, valid=True, e164=message.to, zones=zones)
        return window(message, Context(now=instant, recipient=recipient)).verdict

    assert at(noon, "America/New_York") is Verdict.ALLOW
    assert at(night, "America/New_York") is Verdict.DEFER
    assert at(noon, "America/New_York") is Verdict.ALLOW
    assert at(night, "America/Los_Angeles") is Verdict.ALLOW
    assert at(night, "America/Los_Angeles", "America/New_York") is Verdict.DEFER
    assert at(night, "America/Los_Angeles") is Verdict.ALLOW


PROPERTY_REGIONS = ["US", "CA", "AU", "GB", "JE", "NZ", "RU", "PR", "AS", "BR", "MX", "PT"]


@given(
    phone_numbers(regions=PROPERTY_REGIONS),
    st.sampled_from([None, "America/Los_Angeles", "Australia/Lord_Howe", "Europe/London"]),
    instants,
)
def test_legal_window_never_opens_where_a_candidate_zone_is_closed(
    number: str, profile_zone: str | None, now: dt.datetime
) -> None:
    """For any number and profile, a window over every candidate zone allows only inside the
    window in each of them (the profile's zone among them), and then the principal window,
    whose zones are a subset, allows too."""
    recipient = Resolver().resolve(number, Profile(timezone=profile_zone))
    assert set(recipient.principal_zones or ()) <= set(recipient.zones)
    if profile_zone is not None:
        assert profile_zone in recipient.zones
        assert profile_zone in (recipient.principal_zones or ())
    message = Message(number, "news", "marketing")
    context = Context(now=now, recipient=recipient)
    legal = R.sending_window("08:00", "21:00")(message, context)
    if legal.allowed and recipient.zones:
        assert all(inside(z, dt.time(8), dt.time(21), now) for z in recipient.zones)
        assert R.sending_window("08:00", "21:00", zones="principal")(message, context).allowed


# --- window openings cached per (window, zone, local date) as UTC spans ------------------

from smspolicy.rules import _hours  # noqa: E402  (the spans are internal: checked here)

SPAN_ZONES = [
    *ZONES,
    "America/Santiago",  # falls back from 24:00 to 23:00
    "Asia/Beirut",  # falls back at midnight
    "America/Havana",  # springs forward at midnight: the day starts at 01:00
    "Asia/Tehran",
]
# Local dates around DST changes in those zones are over-weighted.
span_days = st.one_of(
    st.integers(0, 2 * 366).map(lambda d: dt.date(2025, 1, 1) + dt.timedelta(days=d)),
    st.sampled_from(
        [
            dt.date(2025, 3, 9),
            dt.date(2025, 11, 2),
            dt.date(2025, 3, 30),
            dt.date(2025, 10, 26),
            dt.date(2025, 4, 6),
            dt.date(2025, 4, 5),
            dt.date(2025, 9, 6),
            dt.date(2025, 9, 28),
            dt.date(2026, 3, 8),
            dt.date(2026, 11, 1),
            dt.date(2010, 11, 7),  # St John's fell back from 00:01 to 23:01: midnight twice
        ]
    ).flatmap(lambda d: st.integers(-2, 2).map(lambda k: d + dt.timedelta(days=k))),
)
schedules = st.lists(st.one_of(st.none(), st.tuples(times, times)), min_size=7, max_size=7).map(
    tuple
)


def reference_next_open(window: _hours.Window, tz: dt.tzinfo, now: dt.datetime) -> object:
    """The earliest instant at or after ``now`` inside the window, found as the rule found it
    before the spans: every candidate of each local day (interval starts, midnights, DST
    jumps) converted to local time and checked."""
    if _hours._inside(window, tz, now):
        return now
    first_day = now.astimezone(tz).date()
    for offset in range(_hours.SEARCH_DAYS):
        day = first_day + dt.timedelta(days=offset)
        candidates = set(_hours.day_switch_points(tz, day))
        for start, _end in window.intervals(day):
            candidates.update(_hours.wall_instants(tz, day, start))
        for candidate in sorted(candidates):
            if candidate > now and _hours._inside(window, tz, candidate):
                return candidate
    return None


@given(st.sampled_from(SPAN_ZONES), schedules, st.sampled_from([None, "US", "GB"]), span_days)
def test_spans_hold_exactly_the_instants_inside(
    name: str, schedule: tuple[object, ...], holidays: str | None, day: dt.date
) -> None:
    """A day's spans are in order, apart, between its first instant and the next day's, and
    an instant of the day is in one exactly when its wall-clock reading is inside the window:
    checked at every minute, and a second either side of every span's ends."""
    window = _hours.Window(schedule, holidays)  # type: ignore[arg-type]
    tz = pytz.timezone(name)
    found = _hours.spans(window, tz, day)
    first = _hours.day_switch_points(tz, day)[0]
    after = _hours.day_switch_points(tz, day + dt.timedelta(days=1))[0]
    following = _hours.spans(window, tz, day + dt.timedelta(days=1))
    previous = None
    for opened, closed in found:  # apart: two spans that meet are one
        assert first <= opened if previous is None else previous < opened
        assert opened < closed
        assert closed <= after
        previous = closed
    assert not following or not found or found[-1][1] <= following[0][0]
    checked = {first + dt.timedelta(minutes=m) for m in range(27 * 60)}
    second = dt.timedelta(seconds=1)
    steps = (-second, 0 * second, second)
    checked |= {at + step for span in found for at in span for step in steps}
    for instant in sorted(checked):
        if not first <= instant < after:
            continue
        held = any(opened <= instant < closed for opened, closed in found)
        assert held == _hours._inside(window, tz, instant), instant


@given(st.sampled_from(SPAN_ZONES), schedules, st.sampled_from([None, "US"]), instants)
def test_next_open_from_spans_equals_the_candidate_search(
    name: str, schedule: tuple[object, ...], holidays: str | None, now: dt.datetime
) -> None:
    """Read off the spans, the next opening is the instant the candidate search finds, and it
    is inside the window (windows crossing midnight and DST changes included)."""
    window = _hours.Window(schedule, holidays)  # type: ignore[arg-type]
    tz = pytz.timezone(name)
    expected = reference_next_open(window, tz, now)
    assert _hours.next_open(window, tz, now) == expected
    if expected is not None:
        assert _hours._inside(window, tz, expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_next_open_at_span_ends(name: str) -> None:
    """At a span's opening the window is open; at its closing (exclusive) the next opening is
    the following span's; a microsecond before the closing it is still open."""
    window = _hours.Window(((dt.time(8), dt.time(21)),) * 7)
    tz = pytz.timezone(name)
    day = dt.date(2025, 11, 2)
    ((opened, closed),) = _hours.spans(window, tz, day)
    ((following, _),) = _hours.spans(window, tz, day + dt.timedelta(days=1))
    tick = dt.timedelta(microseconds=1)
    assert _hours.next_open(window, tz, opened) == opened
    assert _hours.next_open(window, tz, opened - tick) == opened
    assert _hours.next_open(window, tz, closed - tick) == closed - tick
    assert _hours.next_open(window, tz, closed) == following


@pytest.mark.caches
def test_a_deferral_is_read_off_the_spans_without_converting_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once a window's spans for the days ahead are known, finding the next opening converts
    only ``now`` to local time (for its date), however many days it looks ahead."""
    monday = (dt.time(8), dt.time(21))
    window = _hours.Window((monday, *(None,) * 5, (dt.time(9), dt.time(17))))
    tz = pytz.timezone("Europe/London")
    now = utc(2025, 1, 7, 22)  # Tuesday night: the window opens next on Sunday
    expected = _hours.next_open(window, tz, now)  # spans of the days ahead worked out
    assert expected == utc(2025, 1, 12, 9)
    calls: list[object] = []
    real = _hours.to_local

    def counted(instant: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
        calls.append(instant)
        return real(instant, zone)

    monkeypatch.setattr(_hours, "to_local", counted)
    assert _hours.next_open(window, tz, now) == expected
    assert calls == [now]


def test_spans_where_the_clock_falls_back_over_midnight() -> None:
    """St John's fell back at 00:01 to 23:01 the day before (2010): Saturday's 23:30 came
    again after Sunday began. That second pass is open, read with Saturday's intervals, and a
    deferral from just after the fall reaches it."""
    window = _hours.Window(((dt.time(23, 30), dt.time(23, 45)),) * 7)
    tz = pytz.timezone("America/St_Johns")
    saturday, sunday = (
        _hours.spans(window, tz, dt.date(2010, 11, 6)),
        _hours.spans(window, tz, dt.date(2010, 11, 7)),
    )
    assert saturday == ((utc(2010, 11, 7, 2), utc(2010, 11, 7, 2, 15)),)  # 23:30 NDT
    assert sunday == (
        (utc(2010, 11, 7, 3), utc(2010, 11, 7, 3, 15)),  # Saturday's 23:30 NST, again
        (utc(2010, 11, 8, 3), utc(2010, 11, 8, 3, 15)),  # Sunday's 23:30 NST
    )
    fallen = utc(2010, 11, 7, 2, 31)  # 23:01 NST on Saturday, after Sunday's first minute
    assert _hours.next_open(window, tz, fallen) == utc(2010, 11, 7, 3)
    assert reference_next_open(window, tz, fallen) == utc(2010, 11, 7, 3)
