"""Engagement tiers: fewer messages to the silent, none to the long silent."""

from __future__ import annotations

import datetime as dt

import attrs

from .. import i18n
from .._context import Context
from .._records import ConsentKind
from .._values import ALLOWED, Decision, Message, deny
from ..errors import ConfigurationError
from ._caps import Scope, frequency_cap

__all__ = ["engagement"]

_UNENGAGED = i18n.register_template(
    "engagement.unengaged",
    "the recipient has not engaged since {since}, more than {remove_after} ago",
)


def last_activity(context: Context) -> dt.datetime | None:
    """The later of the last recorded engagement and the last explicit or implied grant."""
    grants = [
        e.at
        for e in context.consent.events
        if e.kind in (ConsentKind.CONFIRMED, ConsentKind.IMPLIED) and e.at <= context.now
    ]
    moments = [m for m in (context.engagement, max(grants, default=None)) if m is not None]
    return max(moments, default=None)


@attrs.frozen(repr=False)
class _Engagement:
    unengaged_after: dt.timedelta
    reduced: tuple[int, dt.timedelta]
    remove_after: dt.timedelta
    scope: Scope

    def lookback(self) -> dt.timedelta:
        """How far back the reduced tier must see sends."""
        return self.reduced[1]

    def __call__(self, message: Message, context: Context) -> Decision:
        last = last_activity(context)
        silence = context.now - last if last else None
        if silence is None or silence >= self.remove_after:
            return self._unengaged(last)
        if silence < self.unengaged_after:
            return ALLOWED
        cap = frequency_cap(
            *self.reduced, scope=self.scope, code="engagement.reduced", name="engagement"
        )
        decision = cap(message, context)
        assert last is not None
        if decision.until is not None and decision.until >= last + self.remove_after:
            return self._unengaged(last)
        return decision

    def _unengaged(self, last: dt.datetime | None) -> Decision:
        return deny(
            i18n.reason(
                "engagement.unengaged",
                "engagement",
                _UNENGAGED,
                since=last.isoformat() if last else "never",
                remove_after=str(self.remove_after),
            )
        )

    def __repr__(self) -> str:
        limit, per = self.reduced
        return (
            f"engagement(unengaged_after={str(self.unengaged_after)!r}, "
            f"reduced=({limit}, {str(per)!r}), remove_after={str(self.remove_after)!r})"
        )


def engagement(
    *,
    unengaged_after: dt.timedelta,
    reduced: tuple[int, dt.timedelta],
    remove_after: dt.timedelta,
    scope: Scope = "topic",
) -> _Engagement:
    """Lower the frequency for recipients who stopped engaging, then stop.

    Silence is measured from the later of the last engagement (:meth:`Engine.record_engagement`;
    every inbound text counts) and the last consent grant. After ``unengaged_after`` the
    recipient gets at most ``reduced = (limit, per)``; after ``remove_after`` the rule denies
    ``engagement.unengaged`` and :meth:`Engine.audit` lists the recipient for removal.
    """
    for name, value in (("unengaged_after", unengaged_after), ("remove_after", remove_after)):
        if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
            raise ConfigurationError(f"{name} must be a positive timedelta, got {value!r}")
    if remove_after <= unengaged_after:
        raise ConfigurationError("remove_after must be longer than unengaged_after")
    try:
        limit, per = reduced
    except (TypeError, ValueError):
        raise ConfigurationError("reduced must be a (limit, per) pair") from None
    frequency_cap(limit, per, scope=scope)  # validates
    return _Engagement(unengaged_after, (limit, per), remove_after, scope)
