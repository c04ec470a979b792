"""Sending windows in the recipient's local time: quiet hours, per-weekday windows, holidays.

A local instant is inside a window when its wall-clock reading is in [start, end); a window
whose end is before its start crosses midnight and belongs to the day it starts on. With several
candidate zones an instant passes only if it is inside the window in every one of them, and a
DEFER goes to the earliest instant that satisfies all of them. A window no law sets may use the
recipient's principal zones instead (``zones="principal"``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import attrs
import holidays as holidays_lib

from .. import i18n
from .._context import Context
from .._memo import lru
from .._recipients import Recipient
from .._time import (
    Zone,
    day_switch_points,
    to_local,
    wall_instants,
    zone,
    zone_name,
)
from .._values import ALLOWED, Decision, Message, Purpose, Reason, Verdict, allow, deny
from ..errors import ConfigurationError, InvalidInputError

__all__ = ["Window", "quiet_hours", "sending_window"]

SEARCH_DAYS = 400
"""How many local days ahead a window rule looks for its next opening."""

_OUTSIDE = i18n.register_template(
    "hours.outside_window",
    "it is {local} in {zone}, outside the sending window ({window})",
)
_NO_ZONE = i18n.register_template(
    "hours.zone_unknown",
    "the recipient's time zone is unknown, so the sending window cannot be checked",
)
_NEVER = i18n.register_template(
    "hours.no_window",
    "the sending window ({window}) never opens in every candidate zone within {days} days",
)

DayWindow = tuple[dt.time, dt.time] | None


def _time(value: object, name: str) -> dt.time:
    if isinstance(value, str):
        try:
            value = dt.time.fromisoformat(value)
        except ValueError:
            raise ConfigurationError(f"{name} must be a time like '08:00', got {value!r}") from None
    if not isinstance(value, dt.time) or value.tzinfo is not None:
        raise ConfigurationError(f"{name} must be a naive datetime.time, got {value!r}")
    return value


def _window(value: Any, name: str) -> DayWindow:
    if value is None:
        return None
    try:
        start, end = value
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a (start, end) pair or None") from None
    return (_time(start, f"{name} start"), _time(end, f"{name} end"))


def _text(window: DayWindow) -> str:
    if window is None:
        return "closed"
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}"


@attrs.frozen(cache_hash=True)
class Window:
    """A weekly schedule of local sending windows plus optional holiday closures."""

    by_weekday: tuple[DayWindow, ...]
    holidays: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.holidays is not None:
            _holiday_calendar(self.holidays)  # validate now

    def closed_on(self, day: dt.date) -> bool:
        """True when ``day`` is a holiday (observed dates included) in the calendar."""
        return self.holidays is not None and day in _holiday_calendar(self.holidays)

    def intervals(self, day: dt.date) -> tuple[tuple[dt.time, dt.time | None], ...]:
        """The wall-clock intervals [a, b) open on ``day`` (b None means until midnight),
        computed once per window and date."""
        return _intervals(self, day)

    def _compute(self, day: dt.date) -> tuple[tuple[dt.time, dt.time | None], ...]:
        if self.closed_on(day):
            return ()
        result: list[tuple[dt.time, dt.time | None]] = []
        before = self.by_weekday[(day.weekday() - 1) % 7]
        yesterday_open = not self.closed_on(day - dt.timedelta(days=1))
        if yesterday_open and before is not None and dt.time() != before[1] <= before[0]:
            result.append((dt.time(), before[1]))
        today = self.by_weekday[day.weekday()]
        if today is not None:
            start, end = today
            result.append((start, None if end <= start else end))
        return tuple(result)

    def contains(self, local: dt.datetime) -> bool:
        """True when the local wall-clock reading is inside the window."""
        wall = local.time().replace(tzinfo=None)
        return any(a <= wall and (b is None or wall < b) for a, b in self.intervals(local.date()))

    def describe(self) -> str:
        """A short text such as "08:00-21:00" or "Mon 09:00-21:00, ..., Sun 12:00-21:00"."""
        first, *others = texts = [_text(w) for w in self.by_weekday]
        if set(others) == {first}:
            base = first
        else:
            base = ", ".join(f"{_DAYS[day]} {text}" for day, text in enumerate(texts))
        return f"{base}, closed on {self.holidays} holidays" if self.holidays else base


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@lru(64)
def _holiday_calendar(code: str) -> Any:
    country, _, subdiv = code.upper().partition("-")
    try:
        return holidays_lib.country_holidays(country, subdiv=subdiv or None, observed=True)
    except (NotImplementedError, KeyError) as error:
        raise ConfigurationError(f"no holiday calendar for {code!r}: {error}") from None


@lru(4096)  # (window, local date) pairs: a window's boundaries are worked out once per date
def _intervals(window: Window, day: dt.date) -> tuple[tuple[dt.time, dt.time | None], ...]:
    return window._compute(day)


def _inside(window: Window, tz: Zone, instant: dt.datetime) -> bool:
    return window.contains(to_local(instant, tz))


_DAY = dt.timedelta(days=1)


@lru(16384)  # (window, zone, local date): a window's openings are worked out once per date
def spans(window: Window, tz: Zone, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """The window's openings in zone ``tz`` from the first instant of local date ``day`` to
    the first of the next, as UTC spans [opened, closed) in order. Consecutive dates' spans
    follow one another, so a deferral's instant is read off them with no conversion.

    Inside or outside changes only where the wall clock reaches an interval's start or end, a
    local midnight or a DST jump; between two such points it is that of the first, read once.
    A reading the clock passes twice (fall back) can give two spans, and where the clock falls
    back over midnight (Chile) the repeated hour is read with the day before's intervals. Where
    it falls back from just after midnight (St John's at 00:01, until 2011), it reaches that
    midnight a second time. A date the clock skips (Samoa, 2011-12-30) has no openings.
    """
    jumps = day_switch_points(tz, day)
    ends = day_switch_points(tz, day + _DAY)[0]  # the next date's first instant
    if ends <= jumps[0]:
        return ()
    points = set(jumps)
    date = min(to_local(jump, tz).date() for jump in jumps)
    while date <= day:  # the dates the clock shows, and their midnights (once or twice)
        points.update(wall_instants(tz, date, dt.time()))
        for start, end in window.intervals(date):
            points.update(wall_instants(tz, date, start))
            if end is not None:
                points.update(wall_instants(tz, date, end))
        date += _DAY
    ordered = sorted(p for p in points if jumps[0] <= p < ends)
    found: list[tuple[dt.datetime, dt.datetime]] = []
    for point, following in zip(ordered, [*ordered[1:], ends], strict=True):
        if not _inside(window, tz, point):
            continue
        if found and found[-1][1] == point:  # the span goes on
            found[-1] = (found[-1][0], following)
        else:
            found.append((point, following))
    return tuple(found)


def next_open(window: Window, tz: Zone, now: dt.datetime) -> dt.datetime | None:
    """The earliest instant at or after ``now`` inside ``window`` in zone ``tz``, or None
    within :data:`SEARCH_DAYS`: read off the window's :func:`spans`, day by day from the local
    date of ``now`` (where the clock fell back over midnight, the day before the one holding
    ``now``, whose spans all end before it), with no other conversion to local time."""
    day = to_local(now, tz).date()
    for _ in range(SEARCH_DAYS):
        for opened, closed in spans(window, tz, day):
            if closed > now:
                return opened if opened > now else now
        day += _DAY
    return None


def next_open_everywhere(
    window: Window, zones: Sequence[Zone], now: dt.datetime
) -> tuple[dt.datetime, Zone] | None:
    """The earliest instant at or after ``now`` inside the window in every zone, with the zone
    that set it; None when there is none within the search range."""
    instant, setter = now, zones[0]
    for _ in range(len(zones) * 64 + 64):
        moved = False
        for tz in zones:
            opening = next_open(window, tz, instant)
            if opening is None:
                return None
            if opening > instant:
                instant, setter, moved = opening, tz, True
        if not moved:
            return instant, setter
    return None


def _on_unknown(value: object) -> Literal["deny", "allow"] | None:
    if value not in (None, "deny", "allow"):
        raise ConfigurationError(f"on_unknown_zone must be 'deny', 'allow' or None, got {value!r}")
    return value


ZoneChoice = Literal["all", "principal"]


@attrs.frozen(repr=False)
class _SendingWindow:
    window: Window
    on_outside: Literal["defer", "deny"]
    fallback_zones: tuple[str, ...]
    on_unknown_zone: Literal["deny", "allow"] | None
    code: str
    citation: str | None
    name: str
    built: str = attrs.field(eq=False)
    principal: bool = False
    # The key of this rule's answers in the decider's memo: a batch decides many recipients
    # at one instant, and recipients share zones.
    _key: object = attrs.field(init=False, factory=object, eq=False, repr=False)

    def _zones(self, recipient: Recipient) -> tuple[str, ...]:
        if self.principal and recipient.principal_zones is not None:
            return recipient.principal_zones or self.fallback_zones
        return recipient.zones or self.fallback_zones

    def zone_timed(self) -> bool:
        """True: the decision depends only on the purpose, the zones and the instant."""
        return True

    def __call__(self, message: Message, context: Context) -> Decision:
        names = self._zones(context.recipient)
        if not names:
            return self._unknown(message)
        # The answer depends only on the zones and the instant: a batch decides many
        # recipients at one instant, and they share zones.
        now = context.now
        return context.shared.get((self._key, now, names), self._decide, names, now)

    def _decide(self, names: tuple[str, ...], now: dt.datetime) -> Decision:
        zones = [zone(name) for name in names]
        outside = [tz for tz in zones if not _inside(self.window, tz, now)]
        if not outside:
            return ALLOWED
        if self.on_outside == "deny":
            return deny(self._outside(outside[0], now, names))
        found = next_open_everywhere(self.window, zones, now)
        if found is None:
            return deny(
                i18n.reason(
                    "hours.no_window",
                    self.name,
                    _NEVER,
                    citation=self.citation,
                    window=self.window.describe(),
                    days=SEARCH_DAYS,
                )
            )
        until, setter = found
        # The zone that opens last is the one the reader needs: the deferral is shown in it,
        # and the reason names it too when it is closed now (else the first closed zone).
        shown = setter if setter in outside else outside[0]
        reason = self._outside(shown, now, names)
        return Decision(Verdict.DEFER, until, (reason,), zone_name(setter))

    def _outside(self, tz: Zone, now: dt.datetime, names: tuple[str, ...]) -> Reason:
        local = to_local(now, tz)
        return i18n.reason(
            self.code,
            self.name,
            _OUTSIDE,
            citation=self.citation,
            local=f"{local:%a %H:%M} {local.tzname()}",
            zone=zone_name(tz),
            window=self.window.describe(),
            zones=list(names),
        )

    def _unknown(self, message: Message) -> Decision:
        policy = self.on_unknown_zone
        denied = message.purpose is Purpose.MARKETING if policy is None else policy == "deny"
        reason = i18n.reason("hours.zone_unknown", self.name, _NO_ZONE, citation=self.citation)
        return deny(reason) if denied else allow(reason)

    def __repr__(self) -> str:
        return self.built


def _schedule(
    start: dt.time, end: dt.time, days: Collection[int] | Mapping[int, Any] | None
) -> tuple[DayWindow, ...]:
    default: DayWindow = (start, end)
    if days is None:
        return (default,) * 7
    if isinstance(days, str) or not isinstance(days, Collection):
        raise ConfigurationError("days must be weekday numbers or a mapping weekday -> window")
    for day in days:
        if not isinstance(day, int) or not 0 <= day <= 6:
            raise ConfigurationError(f"weekdays are 0 (Monday) to 6 (Sunday), got {day!r}")
    if isinstance(days, Mapping):
        return tuple(_window(days[d], f"days[{d}]") if d in days else default for d in range(7))
    return tuple(default if d in days else None for d in range(7))


def sending_window(
    start: dt.time | str,
    end: dt.time | str,
    *,
    days: Collection[int] | Mapping[int, tuple[dt.time | str, dt.time | str] | None] | None = None,
    holidays: str | None = None,
    on_outside: Literal["defer", "deny"] = "defer",
    fallback_zones: Sequence[str | dt.tzinfo] = (),
    on_unknown_zone: Literal["deny", "allow"] | None = None,
    zones: ZoneChoice = "all",
    code: str = "hours.outside_window",
    citation: str | None = None,
    name: str = "sending_window",
) -> _SendingWindow:
    """Send only between ``start`` (inclusive) and ``end`` (exclusive) in the recipient's time.

    ``start == end`` is a whole day (from ``start`` to ``start`` the next day): use it with
    ``days`` or ``holidays`` for day-only bans. ``days`` restricts the window to some weekdays
    (Monday = 0) or maps weekdays to their own ``(start, end)`` (None: closed). ``holidays``
    ("US", "US-LA") closes the country's or subdivision's public holidays, observed dates
    included. Outside the window the rule defers to the earliest instant inside it in every
    candidate zone (or denies, with ``on_outside="deny"``). With no known zone it uses
    ``fallback_zones``, else denies marketing and allows transactional messages with a note
    (``on_unknown_zone`` overrides that).

    ``zones="principal"`` holds the window in the recipient's principal zones only (the number's
    country without its sparsely populated outlying zones, plus the profile's zone): for windows
    no law sets, so that a country spread over many zones stays reachable. A legal window keeps
    the default, ``"all"``: every candidate zone.
    """
    if on_outside not in ("defer", "deny"):
        raise ConfigurationError(f"on_outside must be 'defer' or 'deny', got {on_outside!r}")
    if zones not in ("all", "principal"):
        raise ConfigurationError(f"zones must be 'all' or 'principal', got {zones!r}")
    start_time, end_time = _time(start, "start"), _time(end, "end")
    if holidays is not None and not isinstance(holidays, str):
        raise ConfigurationError(f"holidays must be a code like 'US' or 'US-LA', got {holidays!r}")
    try:
        fallback = tuple(zone_name(zone(z)) for z in fallback_zones)
    except InvalidInputError as error:
        raise ConfigurationError(f"fallback_zones: {error}") from None
    window = Window(_schedule(start_time, end_time, days), holidays)
    shown = (end_time, start_time) if name == "quiet_hours" else (start_time, end_time)
    parts = [repr(f"{t:%H:%M}") for t in shown]
    if days is not None:
        parts.append(f"days={days!r}")
    if holidays:
        parts.append(f"holidays={holidays!r}")
    if on_outside != "defer":
        parts.append(f"on_outside={on_outside!r}")
    if zones != "all":
        parts.append(f"zones={zones!r}")
    built = f"{name}({', '.join(parts)})"
    return _SendingWindow(
        window,
        on_outside,
        fallback,
        _on_unknown(on_unknown_zone),
        code,
        citation,
        name,
        built,
        principal=zones == "principal",
    )


def quiet_hours(
    start: dt.time | str,
    end: dt.time | str,
    *,
    days: Collection[int] | Mapping[int, tuple[dt.time | str, dt.time | str] | None] | None = None,
    holidays: str | None = None,
    on_outside: Literal["defer", "deny"] = "defer",
    fallback_zones: Sequence[str | dt.tzinfo] = (),
    on_unknown_zone: Literal["deny", "allow"] | None = None,
    zones: ZoneChoice = "all",
    code: str = "hours.outside_window",
    citation: str | None = None,
    name: str = "quiet_hours",
) -> _SendingWindow:
    """Never send between ``start`` and ``end`` local time (e.g. 21:00 to 08:00): the
    complement of :func:`sending_window` ``(end, start)``, which takes the same options."""
    start_time, end_time = _time(start, "start"), _time(end, "end")
    return sending_window(
        end_time,
        start_time,
        days=days,
        holidays=holidays,
        on_outside=on_outside,
        fallback_zones=fallback_zones,
        on_unknown_zone=on_unknown_zone,
        zones=zones,
        code=code,
        citation=citation,
        name=name,
    )
