"""`rules.closed_days`: days from a calendar (Louisiana's proclaimed days and emergencies,
Pennsylvania's extra holidays)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from smspolicy import Engine, Message, rules
from smspolicy._context import Context
from smspolicy._recipients import Recipient, Resolver
from smspolicy.errors import ConfigurationError
from smspolicy.store import MemoryStore
from smspolicy.testing import FrozenClock

RESOLVER = Resolver()
NEW_ORLEANS = "+15045550123"
ARIZONA = "+19285550123"  # Denver and Phoenix
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
EMERGENCY = {dt.date(2026, 8, 28), dt.date(2026, 8, 29)}


def decide(rule: object, number: str, now: dt.datetime) -> object:
    recipient = RESOLVER.resolve(number)
    return rule(Message(number, "deals", "marketing"), Context(now=now, recipient=recipient))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("local", "until"),
    [
        pytest.param(dt.datetime(2026, 8, 27, 23, 59, 59), None, id="day-before"),
        pytest.param(dt.datetime(2026, 8, 28, 0, 0), dt.datetime(2026, 8, 30), id="first-day"),
        pytest.param(dt.datetime(2026, 8, 29, 23, 59, 59), dt.datetime(2026, 8, 30), id="last"),
        pytest.param(dt.datetime(2026, 8, 30, 0, 0), None, id="day-after"),
    ],
)
def test_consecutive_closed_days_defer_to_the_next_open_midnight(
    local: dt.datetime, until: dt.datetime | None
) -> None:
    """Two declared emergency days in New Orleans hold texts from 00:00 on the first to 00:00
    after the second, local time."""
    rule = rules.closed_days(EMERGENCY, citation="La. PSC General Order R-29617")
    decision = decide(rule, NEW_ORLEANS, local.replace(tzinfo=CHICAGO))
    if until is None:
        assert decision.allowed  # type: ignore[attr-defined]
    else:
        assert decision.until == until.replace(tzinfo=CHICAGO)  # type: ignore[attr-defined]
        (reason,) = decision.reasons  # type: ignore[attr-defined]
        assert reason.code == "hours.closed_day"
        assert reason.citation == "La. PSC General Order R-29617"
        assert reason.data["date"] == local.date().isoformat()


def test_every_candidate_zone_must_be_open() -> None:
    """A 928 number (Denver and Phoenix): in summer Phoenix is an hour behind Denver, so the
    hold lasts until Phoenix's midnight (07:00 UTC)."""
    rule = rules.closed_days({dt.date(2026, 7, 1)})
    decision = decide(rule, ARIZONA, dt.datetime(2026, 7, 1, 12, tzinfo=dt.UTC))
    assert decision.until == dt.datetime(2026, 7, 2, 7, tzinfo=dt.UTC)  # type: ignore[attr-defined]
    # 06:30 UTC on 2 July: Denver is open (00:30), Phoenix still on 1 July (23:30).
    late = decide(rule, ARIZONA, dt.datetime(2026, 7, 2, 6, 30, tzinfo=dt.UTC))
    assert late.until == dt.datetime(2026, 7, 2, 7, tzinfo=dt.UTC)  # type: ignore[attr-defined]
    assert decide(rule, ARIZONA, dt.datetime(2026, 7, 2, 7, tzinfo=dt.UTC)).allowed  # type: ignore[attr-defined]


def test_unknown_zones_count_as_every_zone() -> None:
    """Without a zone the day is closed from its start at UTC+14 to its end at UTC-12."""
    rule = rules.closed_days({dt.date(2026, 7, 1)})
    nowhere = Recipient("x", False)
    message = Message("+15045550123", "deals", "marketing")
    start = dt.datetime(2026, 6, 30, 10, tzinfo=dt.UTC)
    end = dt.datetime(2026, 7, 2, 12, tzinfo=dt.UTC)
    assert rule(message, Context(now=start - dt.timedelta(seconds=1), recipient=nowhere)).allowed
    assert rule(message, Context(now=start, recipient=nowhere)).until == end
    assert rule(message, Context(now=end, recipient=nowhere)).allowed


@pytest.mark.caches
def test_a_function_of_the_year_is_a_calendar() -> None:
    """A calendar may be a function of the year, asked once per year."""
    asked: list[int] = []

    def proclaimed(year: int) -> set[dt.date]:
        asked.append(year)
        return {dt.date(year, 3, 2)}

    rule = rules.closed_days(proclaimed)
    clock = FrozenClock(dt.datetime(2026, 3, 2, 12, tzinfo=CHICAGO))
    engine = Engine(rule, MemoryStore(), clock)
    assert not engine.evaluate(Message(NEW_ORLEANS, "deals", "marketing")).allowed
    clock.set(dt.datetime(2026, 3, 2, 13, tzinfo=CHICAGO))
    assert not engine.evaluate(Message(NEW_ORLEANS, "deals", "marketing")).allowed
    assert asked == [2026]  # the engine remembers the year's dates
    assert repr(rule) == "closed_days(proclaimed)"


def test_a_closed_run_longer_than_the_limit_denies() -> None:
    """401 closed days in a row deny with hours.no_open_day; 399 defer."""
    first = dt.date(2026, 1, 1)
    long = {first + dt.timedelta(days=i) for i in range(401)}
    decision = decide(
        rules.closed_days(long), NEW_ORLEANS, dt.datetime(2026, 1, 1, 12, tzinfo=CHICAGO)
    )
    assert decision.codes == ("hours.no_open_day",)  # type: ignore[attr-defined]
    short = {first + dt.timedelta(days=i) for i in range(399)}
    decision = decide(
        rules.closed_days(short), NEW_ORLEANS, dt.datetime(2026, 1, 1, 12, tzinfo=CHICAGO)
    )
    assert decision.until == dt.datetime.combine(first + dt.timedelta(days=399), dt.time(), CHICAGO)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "calendar",
    [
        pytest.param("2026-01-01", id="string"),
        pytest.param([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)], id="datetime"),
        pytest.param(["2026-01-01"], id="strings"),
        pytest.param(5, id="int"),
    ],
)
def test_bad_calendars_are_refused(calendar: object) -> None:
    """A calendar is dates or a function of the year."""
    with pytest.raises(ConfigurationError, match="calendar"):
        rules.closed_days(calendar)  # type: ignore[arg-type]
