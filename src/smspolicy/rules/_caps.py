"""Frequency caps and cross-channel dedupe over the send log.

Sends and live reservations count (a reservation stops counting when it expires); keyword
replies (topic ``smspolicy.reply``) never count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import attrs

from .. import i18n
from .._constants import REPLY_TOPIC
from .._context import Context
from .._memo import set_field
from .._records import SendRecord
from .._time import Zone, first_instant_at_or_after, to_local, zone, zone_name
from .._values import ALLOWED, Decision, Message, Reason, Verdict, defer, deny
from ..errors import ConfigurationError
from ..programs import Program

__all__ = ["CALENDAR_PERIODS", "dedupe", "frequency_cap", "history_gap", "program_frequency"]

Scope = Literal["topic", "brand", "channel", "all"]

CALENDAR_PERIODS = {
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(weeks=1),
    "month": dt.timedelta(days=31),
}
"""Calendar periods and the rolling window used instead when the recipient's zone is unknown
(a rolling window always counts at least as many sends as the calendar period inside it)."""

_CAP = i18n.register_template(
    "cap.exceeded",
    "{count} messages were already sent in {window} ({scope} {value}); the limit is {limit}",
)
_SHORT = i18n.register_template(
    "history.too_short",
    "the send history read covers {covered} but this rule needs {needed}",
)
_DUPLICATE = i18n.register_template(
    "dedupe.duplicate",
    "the same content was already sent to this recipient on {at} via {channel}",
)


_SCOPE_FIELDS = {"topic": "topic", "brand": "brand", "channel": "channel", "all": None}
"""The field a send must share with the message to count, per scope (None: every send)."""
SCOPES = tuple(_SCOPE_FIELDS)


def counted(
    context: Context, message: Message, scope: str, after: dt.datetime | None = None
) -> list[SendRecord]:
    """The sends that count against a cap of ``scope`` for ``message`` at ``context.now``
    (only those later than ``after`` when given), oldest first."""
    now = context.now
    field = _SCOPE_FIELDS[scope]
    wanted = None if field is None else getattr(message, field)
    return [
        r
        for r in context.history.sends
        if (field is None or getattr(r, field) == wanted)
        and (after is None or r.at > after)
        and r.topic != REPLY_TOPIC
        and r.counts_at(now)
    ]


def _scope_value(message: Message, scope: str) -> str:
    """The message's value of the scope's field, as a reason shows it."""
    field = _SCOPE_FIELDS[scope]
    if field is None:
        return "*"
    value = getattr(message, field)
    return str(getattr(value, "value", value) or "-")  # an enum's value; no brand: "-"


def history_gap(context: Context, lookback: dt.timedelta, rule: str) -> Decision | None:
    """A DENY when the context's send history does not reach back ``lookback``: counting over a
    window the store was not asked for would undercount and allow too much."""
    since = context.history.since
    if since is None or since <= context.now - lookback:
        return None
    return deny(
        i18n.reason(
            "history.too_short",
            rule,
            _SHORT,
            covered=str(context.now - since),
            needed=str(lookback),
        )
    )


def _period_start(local: dt.datetime, period: str) -> dt.date:
    day = local.date()
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _next_period(start: dt.date, period: str) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(weeks=1)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _midnight(tz: Zone, day: dt.date) -> dt.datetime:
    return first_instant_at_or_after(tz, dt.datetime.combine(day, dt.time()))


@attrs.frozen(repr=False)
class _FrequencyCap:
    limit: int
    per: dt.timedelta | str
    scope: str
    calendar: bool
    code: str
    citation: str | None
    name: str
    # The rolling length and the lookback, worked out once rather than on every decision.
    _rolling: dt.timedelta = attrs.field(init=False, eq=False)
    _lookback: dt.timedelta = attrs.field(init=False, eq=False)
    # This cap's key in the decider's memo (its last rolling deferral, its reasons).
    _key: object = attrs.field(init=False, factory=object, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        rolling = self.per if isinstance(self.per, dt.timedelta) else CALENDAR_PERIODS[self.per]
        set_field(self, "_rolling", rolling)
        # A calendar period starts at a local midnight, up to a day before the rolling length.
        extra = dt.timedelta(0) if isinstance(self.per, dt.timedelta) else dt.timedelta(days=1)
        set_field(self, "_lookback", rolling + extra)

    def lookback(self) -> dt.timedelta:
        """How far back this cap must see sends (a calendar period starts at a local midnight,
        up to a day before the rolling length)."""
        return self._lookback

    def allows_onward(self) -> bool:
        """Rolling: a cap that allows now allows later on the same records (no send enters the
        window as time passes, a hold only stops counting, and the history read reaches back
        further the later it is). Calendar: no (the next period may hold sends dated ahead)."""
        return not self.calendar

    def __call__(self, message: Message, context: Context) -> Decision:
        short = history_gap(context, self._lookback, self.name)
        if short is not None:
            return short
        if self.calendar and context.recipient.zones:
            return self._calendar(message, context, counted(context, message, self.scope))
        per = self._rolling
        inside = [r.at for r in counted(context, message, self.scope, after=context.now - per)]
        if len(inside) < self.limit:
            return ALLOWED
        # A rolling deferral is exact: at `until`, on the same records, fewer than `limit`
        # sends count (no send enters the window as time passes; the newest `limit - 1` are
        # all that can still be in it, and a hold may have expired too). all_of re-runs every
        # rule at the instant it settles on, so the same records at that instant are answered
        # at once. The tuple holds the objects, so identity cannot match anything else.
        last = context.shared.peek((self._key, "last"))
        if (
            isinstance(last, tuple)
            and last[0] is context.history
            and last[1] is context.recipient
            and last[2] is message
            and last[3] == context.now
        ):
            return ALLOWED
        inside.sort()
        until = inside[len(inside) - self.limit] + per
        context.shared.put(
            (self._key, "last"), (context.history, context.recipient, message, until)
        )
        return defer(until, self._reason(context, message, len(inside), str(per)))

    def _calendar(self, message: Message, context: Context, records: list[SendRecord]) -> Decision:
        assert isinstance(self.per, str)
        latest: tuple[dt.datetime, Zone, int] | None = None
        for name in context.recipient.zones:
            tz = zone(name)
            start = _period_start(to_local(context.now, tz), self.per)
            count = self._count(tz, start, records)
            if count >= self.limit:
                until = self._next_open(tz, start, records)
                if latest is None or until > latest[0]:
                    latest = (until, tz, count)
        if latest is None:
            return ALLOWED
        until, tz, count = latest
        reason = self._reason(context, message, count, f"this calendar {self.per}")
        return Decision(Verdict.DEFER, until, (reason,), zone_name(tz))

    def _count(self, tz: Zone, start: dt.date, records: list[SendRecord]) -> int:
        """How many sends fall in the local period that starts on ``start`` (its first
        instant included, the next period's excluded: sends may be dated ahead)."""
        assert isinstance(self.per, str)
        opened = _midnight(tz, start)
        closes = _midnight(tz, _next_period(start, self.per))
        return sum(1 for r in records if opened <= r.at < closes)

    def _next_open(self, tz: Zone, start: dt.date, records: list[SendRecord]) -> dt.datetime:
        """The start of the first later period with room."""
        assert isinstance(self.per, str)
        while True:
            start = _next_period(start, self.per)
            if self._count(tz, start, records) < self.limit:
                return _midnight(tz, start)

    def _reason(self, context: Context, message: Message, count: int, window: str) -> Reason:
        value = _scope_value(message, self.scope)
        # The same few reasons recur for every capped recipient: each is built once.
        key = (self._key, count, window, value)
        return context.shared.get(key, self._make_reason, count, window, value)

    def _make_reason(self, count: int, window: str, value: str) -> Reason:
        return i18n.reason(
            self.code,
            self.name,
            _CAP,
            citation=self.citation,
            count=count,
            window=window,
            scope=self.scope,
            value=value,
            limit=self.limit,
        )

    def __repr__(self) -> str:
        options = "" if self.scope == "topic" else f", scope={self.scope!r}"
        options += ", calendar=True" if self.calendar else ""
        return f"{self.name}({self.limit}, {str(self.per)!r}{options})"


def frequency_cap(
    limit: int,
    per: dt.timedelta | str,
    *,
    scope: Scope = "topic",
    calendar: bool = False,
    code: str = "cap.exceeded",
    citation: str | None = None,
    name: str = "frequency_cap",
) -> _FrequencyCap:
    """At most ``limit`` messages per ``per``, counted over ``scope`` ("topic", "brand",
    "channel" or "all").

    Rolling by default: ``per`` is a timedelta and the rule defers until the oldest counted send
    leaves the window. With ``calendar=True``, ``per`` is "day", "week" (Monday to Sunday) or
    "month", counted in the recipient's local calendar (every candidate zone), deferring to the
    next period; with no known zone a rolling window of the same length is used instead.
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfigurationError(f"limit must be a positive int, got {limit!r}")
    if scope not in SCOPES:
        raise ConfigurationError(f"scope must be one of {SCOPES}, got {scope!r}")
    if calendar:
        if per not in CALENDAR_PERIODS:
            raise ConfigurationError(f"a calendar cap's per is 'day', 'week' or 'month': {per!r}")
    elif not isinstance(per, dt.timedelta) or per <= dt.timedelta(0):
        raise ConfigurationError(f"per must be a positive timedelta, got {per!r}")
    return _FrequencyCap(limit, per, scope, calendar, code, citation, name)


@attrs.frozen(repr=False)
class _Dedupe:
    window: dt.timedelta
    across_channels: bool

    def lookback(self) -> dt.timedelta:
        """How far back dedupe must see sends."""
        return self.window

    def allows_onward(self) -> bool:
        """True: a send that is not a duplicate now is none later on the same records (no
        send enters the window as time passes)."""
        return True

    def __call__(self, message: Message, context: Context) -> Decision:
        short = history_gap(context, self.window, "dedupe")
        if short is not None:
            return short
        since = context.now - self.window
        for record in reversed(context.history.sends):
            if (
                record.content_key == message.content_key
                and record.at > since
                and record.counts_at(context.now)
                and (self.across_channels or record.channel is message.channel)
            ):
                return deny(
                    i18n.reason(
                        "dedupe.duplicate",
                        "dedupe",
                        _DUPLICATE,
                        at=record.at.isoformat(),
                        channel=record.channel.value,
                        content_key=message.content_key,
                    )
                )
        return ALLOWED

    def __repr__(self) -> str:
        extra = "" if self.across_channels else ", across_channels=False"
        return f"dedupe({str(self.window)!r}{extra})"


def dedupe(window: dt.timedelta, *, across_channels: bool = True) -> _Dedupe:
    """Deny ``dedupe.duplicate`` when the same ``content_key`` went to the same person (linked
    by ``Message.person``, else by address) within ``window``, on any channel (or the same
    channel only, with ``across_channels=False``)."""
    if not isinstance(window, dt.timedelta) or window <= dt.timedelta(0):
        raise ConfigurationError(f"window must be a positive timedelta, got {window!r}")
    return _Dedupe(window, bool(across_channels))


@attrs.frozen(repr=False)
class _ProgramFrequency:
    caps: tuple[tuple[str, str, _FrequencyCap], ...]

    def __call__(self, message: Message, context: Context) -> Decision:
        for topic, brand, cap in self.caps:
            if message.topic == topic and message.brand in (None, brand):
                return cap(message, context)
        return ALLOWED

    def lookback(self) -> dt.timedelta:
        """The longest history its caps need."""
        return max((cap.lookback() for _t, _b, cap in self.caps), default=dt.timedelta(0))

    def allows_onward(self) -> bool:
        """True when every cap does (they are rolling)."""
        return all(cap.allows_onward() for _t, _b, cap in self.caps)

    def __repr__(self) -> str:
        return f"program_frequency({[topic for topic, _b, _c in self.caps]!r})"


def program_frequency(programs: Sequence[Program]) -> _ProgramFrequency:
    """Each program's declared frequency ("Up to 4 msgs/week") as a rolling cap on its topic
    (CTIA Messaging Principles: the frequency disclosed at opt-in is the frequency sent)."""
    caps = []
    for program in programs:
        if not isinstance(program, Program):
            raise ConfigurationError(f"programs must be Program values, got {program!r}")
        cap = frequency_cap(
            program.frequency.limit,
            program.frequency.per,
            code="cap.program",
            name=f"program_frequency[{program.name}]",
        )
        caps.append((program.topic_name, program.brand, cap))
    return _ProgramFrequency(tuple(caps))
