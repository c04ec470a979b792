"""Builders the pack modules share: each rule named by its provision id, reporting the code
``jurisdiction.<id>`` and the provision's citation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Literal

import attrs

from .. import rules
from .._compose import run_rule
from .._context import Context
from .._records import Basis
from .._time import zone
from .._values import ALLOWED, Decision, Message
from ..rules._caps import Scope
from ..typing import Rule

__all__ = ["Days", "OnClock", "cap", "consent", "content", "window"]

Days = Collection[int] | Mapping[int, tuple[str, str] | None] | None


def window(
    pid: str, start: str, end: str, citation: str, days: Days = None, holidays: str | None = None
) -> Rule:
    """A sending window for provision ``pid``."""
    return rules.sending_window(
        start,
        end,
        days=days,
        holidays=holidays,
        code=f"jurisdiction.{pid}",
        citation=citation,
        name=pid,
    )


def cap(pid: str, limit: int, per: dt.timedelta, citation: str, scope: Scope = "topic") -> Rule:
    """A rolling frequency cap for provision ``pid``."""
    return rules.frequency_cap(
        limit, per, scope=scope, code=f"jurisdiction.{pid}", citation=citation, name=pid
    )


def consent(
    pid: str,
    citation: str,
    bases: Collection[Basis] | None,
    stop_scope: Literal["brand", "topic"] = "brand",
) -> Rule:
    """A consent standard for provision ``pid``: ``bases`` are the implied bases it accepts
    (None: all, empty: express consent only); ``stop_scope`` how far a revocation reaches
    (the policy's own consent rule may reach further)."""
    return rules.consent(
        stop_scope=stop_scope,
        implied_bases=bases,
        code=f"jurisdiction.{pid}",
        citation=citation,
        name=pid,
    )


def content(pid: str, citation: str, *, contact: bool = False, opt_out: bool = True) -> Rule:
    """Sender identification and opt-out instructions (and, with ``contact``, a way to reach
    the sender) for provision ``pid``."""
    return rules.required_content(
        opt_out=opt_out,
        contact=contact,
        code=f"jurisdiction.{pid}",
        citation=citation,
        name=pid,
    )


@attrs.frozen(repr=False)
class OnClock:
    """A rule read on one fixed clock (an IANA zone) instead of the recipient's own zones: for
    a law whose clock is disputed, the provision on the other reading (Texas's hours on
    Central time for El Paso's Mountain-time numbers). A recipient one of whose zones is that
    clock already has the rule read on it, so it adds nothing there."""

    rule: Rule
    clock: str = attrs.field()

    @clock.validator
    def _known(self, _attribute: object, value: str) -> None:
        zone(value)  # an unknown zone name is refused when the provision is built

    def __call__(self, message: Message, context: Context) -> Decision:
        if self.clock in context.recipient.zones:
            return ALLOWED  # the rule on the recipient's own zones already reads this clock
        recipient = attrs.evolve(context.recipient, zones=(self.clock,), principal_zones=None)
        return run_rule(self.rule, message, attrs.evolve(context, recipient=recipient))

    def __repr__(self) -> str:
        return f"on_clock({self.rule!r}, {self.clock!r})"
