"""Closed days from a calendar of dates: holidays a package does not know (Pennsylvania's Good
Friday, Flag Day and Election Day), days a governor proclaims, declared emergencies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection

import attrs
from dateutil.easter import easter  # type: ignore[import-untyped]  # no stubs installed

from .. import i18n
from .._context import Context
from .._time import first_instant_at_or_after, to_local, zone
from .._values import ALLOWED, Decision, Message, defer, deny
from ..errors import ConfigurationError

__all__ = ["Calendar", "closed_days", "pennsylvania_extra_holidays"]

Calendar = Collection[dt.date] | Callable[[int], Collection[dt.date]]
"""Closed dates: a collection, or a function of the year giving that year's dates."""

MAX_STEPS = 400
"""How many consecutive closed days a deferral looks across before it denies."""

EVERY_OFFSET = tuple(f"Etc/GMT{-h:+d}" if h else "Etc/GMT" for h in range(14, -13, -1))
"""Every whole-hour offset from UTC+14 to UTC-12: an unknown zone may be any of them."""

_CLOSED = i18n.register_template("hours.closed_day", "{date} is a closed day in {zone}")
_NO_DAY = i18n.register_template(
    "hours.no_open_day", "no open day was found within {days} days of {date}"
)


def pennsylvania_extra_holidays(year: int) -> frozenset[dt.date]:
    """Good Friday, Flag Day (14 June) and Election Day (the Tuesday after the first Monday of
    November) of ``year``: the days practitioners add to the `holidays` package's US-PA list."""
    first = dt.date(year, 11, 1)
    first_monday = first + dt.timedelta(days=(0 - first.weekday()) % 7)
    return frozenset(
        {
            easter(year) - dt.timedelta(days=2),
            dt.date(year, 6, 14),
            first_monday + dt.timedelta(days=1),
        }
    )


def _checked(calendar: object) -> Callable[[int], Collection[dt.date]]:
    if callable(calendar):
        return calendar
    if isinstance(calendar, str) or not isinstance(calendar, Collection):
        raise ConfigurationError(f"a calendar is dates or a function of the year, not {calendar!r}")
    dates = frozenset(calendar)
    for day in dates:
        if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
            raise ConfigurationError(f"calendar entries must be dates, got {day!r}")
    return lambda _year: dates


@attrs.frozen(repr=False)
class _ClosedDays:
    dates_of: Callable[[int], Collection[dt.date]] = attrs.field(eq=False)
    code: str
    citation: str | None
    name: str
    built: str
    _key: object = attrs.field(init=False, factory=object, eq=False, repr=False)

    def _closed(self, day: dt.date, context: Context) -> bool:
        """Whether ``day`` is closed; a year's dates are remembered in the engine's memo."""
        return day in context.shared.get((self._key, day.year), self._dates, day.year)

    def _dates(self, year: int) -> frozenset[dt.date]:
        return frozenset(self.dates_of(year))

    def __call__(self, message: Message, context: Context) -> Decision:
        zones = context.recipient.zones or EVERY_OFFSET
        now = context.now
        first: tuple[dt.date, str] | None = None
        for _ in range(MAX_STEPS):
            later = now
            for name in zones:
                day = to_local(now, zone(name)).date()
                if self._closed(day, context):
                    first = first or (day, name)
                    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
                    later = max(later, first_instant_at_or_after(zone(name), midnight))
            if later == now:
                break
            now = later
        else:
            assert first is not None
            return deny(
                i18n.reason(
                    "hours.no_open_day",
                    self.name,
                    _NO_DAY,
                    citation=self.citation,
                    days=MAX_STEPS,
                    date=first[0].isoformat(),
                )
            )
        if first is None:
            return ALLOWED
        reason = i18n.reason(
            self.code,
            self.name,
            _CLOSED,
            citation=self.citation,
            date=first[0].isoformat(),
            zone=first[1],
        )
        return defer(now, reason)

    def __repr__(self) -> str:
        return self.built


def closed_days(
    calendar: Calendar,
    *,
    code: str = "hours.closed_day",
    citation: str | None = None,
    name: str = "closed_days",
) -> _ClosedDays:
    """Hold messages on the calendar's dates, local time in every candidate zone of the
    recipient (unknown zones: every zone on Earth), and defer them to the first instant at
    which no candidate zone is on a closed date. ``calendar`` is a collection of dates (days a
    governor proclaimed, declared emergencies) or a function of the year
    (:func:`pennsylvania_extra_holidays`). More than 400 closed days in a row deny."""
    dates_of = _checked(calendar)
    shown = calendar.__name__ if callable(calendar) else f"{len(calendar)} dates"
    return _ClosedDays(dates_of, code, citation, name, f"{name}({shown})")
