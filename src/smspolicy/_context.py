"""What a rule sees besides the message: the instant, the recipient and their records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar, runtime_checkable

import attrs

from ._memo import CACHES, MISSING, Memo, Seen, blank, copy_fields, set_field
from ._recipients import Profile, Recipient
from ._records import ConsentEvent, SendRecord
from ._time import as_utc, ensure_aware, to_local, zone
from ._values import Purpose
from .consent import _STOPS, ChainBreak, chain_break
from .programs import Program

__all__ = [
    "ConsentView",
    "Context",
    "FoldTimed",
    "HistoryView",
    "Onward",
    "ZoneTimed",
    "is_fold_timed",
    "is_onward",
    "is_zone_timed",
    "traced",
]

T = TypeVar("T")


_UNCHECKED = ChainBreak("", -1, "not checked yet")


@runtime_checkable
class ZoneTimed(Protocol):
    """A rule whose decision depends on nothing but the message's purpose and channel, the
    recipient's candidate jurisdictions, candidate and principal zones and the instant: a
    decider may ask it once per instant for every recipient who shares those (a sending
    window)."""

    def zone_timed(self) -> bool:
        """True: the rule keeps that promise."""
        ...


def is_zone_timed(rule: object) -> bool:
    """True when ``rule`` says it is zone-timed (a wrapper asks the rule inside)."""
    return isinstance(rule, ZoneTimed) and rule.zone_timed() is True


@runtime_checkable
class Onward(Protocol):
    """A rule that, once it allows without reasons at an instant, allows without reasons (and
    with no zone) at every later instant on the same records: nothing it counts enters its
    window as time passes (a rolling cap, dedupe), or it does not read the instant at all (a
    valid number, required content). A deferral found for one recipient then needs no second
    look at this rule at its later instants for another recipient whom it allows now."""

    def allows_onward(self) -> bool:
        """True: the rule keeps that promise."""
        ...


def is_onward(rule: object) -> bool:
    """True when ``rule`` says it allows onward (a wrapper asks the rule inside)."""
    return isinstance(rule, Onward) and rule.allows_onward() is True


@runtime_checkable
class FoldTimed(Protocol):
    """A rule whose decision depends on the instant only through the folds of its context's
    consent view (:meth:`ConsentView.folded`): at a later instant, on the same records, at
    which every fold the view holds still holds (:meth:`ConsentView.holds_through`), it
    decides as it did (the consent rules)."""

    def fold_timed(self) -> bool:
        """True: the rule keeps that promise."""
        ...


def is_fold_timed(rule: object) -> bool:
    """True when ``rule`` says it is fold-timed."""
    return isinstance(rule, FoldTimed) and rule.fold_timed() is True


class ConsentView:
    """The recipient's consent events, read from the store on first use, and whether their
    hash chain holds (checked once per view, when a rule first asks). ``person_events`` are
    the person's own events (a person-level "stop everything"), a chain of their own: they
    join ``events`` and are checked apart. ``shared_events`` are the chain an email address
    shares with every spelling of its local part (:func:`smspolicy._recipients.stop_key`): its
    revocations and holds join ``events``, and it is checked apart too."""

    __slots__ = (
        "_break",
        "_chains",
        "_events",
        "_folds",
        "_load",
        "_own",
        "_person",
        "_suppressed",
        "_verified",
    )

    def __init__(
        self,
        load: Callable[[], tuple[Sequence[ConsentEvent], bool]] | None = None,
        *,
        events: Sequence[ConsentEvent] = (),
        suppressed: bool = False,
        verified: Seen | None = None,
        person_events: Sequence[ConsentEvent] = (),
        shared_events: Sequence[ConsentEvent] = (),
    ) -> None:
        self._load = load
        self._verified = verified
        # Of the chain every spelling of an email address shares, only what stops mail joins
        # (a grant there is another mailbox's); both chains are checked apart.
        self._chains = (tuple(person_events), tuple(shared_events))
        if shared_events:
            stops = tuple(e for e in self._chains[1] if e.kind in _STOPS)
            self._person = (*self._chains[0], *stops)
        else:
            self._person = self._chains[0]
        self._own: tuple[ConsentEvent, ...] | None = None if load else tuple(events)
        self._events: tuple[ConsentEvent, ...] | None = (
            None if load else (*tuple(events), *self._person) if self._person else self._own
        )
        self._suppressed = suppressed
        self._break: ChainBreak | None = _UNCHECKED
        self._folds: dict[object, tuple[object, dt.datetime, dt.datetime | None]] = {}

    def _ensure(self) -> tuple[ConsentEvent, ...]:
        if self._events is None:
            assert self._load is not None
            events, suppressed = self._load()
            self._own, self._suppressed = tuple(events), suppressed
            self._events = (*self._own, *self._person)
        return self._events

    @property
    def events(self) -> tuple[ConsentEvent, ...]:
        """Every consent event for this recipient, oldest first."""
        events = self._events
        return self._ensure() if events is None else events

    @property
    def broken(self) -> ChainBreak | None:
        """The first event whose hash or link does not verify, or None when the chain is
        intact: decisions trust only an intact ledger."""
        if self._break is _UNCHECKED:
            self._ensure()
            assert self._own is not None
            self._break = chain_break(self._own, self._verified)
            for chain in self._chains:
                if self._break is None and chain:
                    self._break = chain_break(chain, self._verified)
        return self._break

    def folded(
        self,
        key: object,
        now: dt.datetime,
        fold: Callable[..., tuple[T, dt.datetime | None]],
        /,
        *args: object,
    ) -> T:
        """``fold(*args)``'s answer at ``now``: ``fold`` returns it with the first instant after
        ``now`` at which it may change (None: never). The answer is remembered per ``key`` with
        that span, and given again at any instant in it: rules that fold alike share it, and
        so do the later instants a deferral looks at (contexts made with ``Context.at`` share
        this view). With caches off, every ask folds."""
        if not CACHES:
            return fold(*args)[0]
        found = self._folds.get(key)
        if found is not None:
            answer, since, until = found
            if since <= now and (until is None or now < until):
                return answer  # type: ignore[return-value]
        answer, until = fold(*args)
        self._folds[key] = (answer, now, until)
        return answer

    def holds_through(self, now: dt.datetime, later: dt.datetime) -> bool:
        """True when every fold this view remembers was made at or before ``now`` and holds
        until after ``later``: asked at any instant from ``now`` to ``later``, each gives
        the same answer. False with caches off (nothing is remembered, so nothing is known)."""
        if not CACHES:
            return False
        for _answer, since, until in self._folds.values():
            if since > now or (until is not None and until <= later):
                return False
        return True

    @property
    def suppressed(self) -> bool:
        """True when the number was erased with :meth:`Engine.forget` after opting out."""
        if self._events is None:
            self._ensure()
        return self._suppressed

    def __repr__(self) -> str:
        return f"ConsentView({len(self.events)} events)"


class HistoryView:
    """The recipient's recent sends (and live reservations), read from the store on first use."""

    __slots__ = ("_load", "_sends", "since")

    def __init__(
        self,
        load: Callable[[], Sequence[SendRecord]] | None = None,
        *,
        sends: Sequence[SendRecord] = (),
        since: dt.datetime | None = None,
    ) -> None:
        self._load = load
        self._sends: tuple[SendRecord, ...] | None = None if load else tuple(sends)
        self.since = since

    @property
    def sends(self) -> tuple[SendRecord, ...]:
        """The sends at or after ``since``, oldest first."""
        if self._sends is None:
            assert self._load is not None
            self._sends = tuple(sorted(self._load(), key=lambda r: (r.at, r.id)))
        return self._sends

    def __repr__(self) -> str:
        return f"HistoryView({len(self.sends)} sends)"


def _now(value: object) -> dt.datetime:
    return ensure_aware(value, "now")


@attrs.frozen(kw_only=True)
class Context:
    """Everything a rule may look at besides the message. Rules read ``now`` from here."""

    now: dt.datetime = attrs.field(converter=_now)
    recipient: Recipient
    consent: ConsentView = attrs.field(factory=ConsentView, eq=False)
    history: HistoryView = attrs.field(factory=HistoryView, eq=False)
    profile: Profile | None = None
    engagement: dt.datetime | None = None
    senders: Mapping[tuple[str | None, Purpose], frozenset[str]] = attrs.field(
        factory=dict, eq=False, repr=False
    )
    programs: tuple[Program, ...] = attrs.field(default=(), eq=False, repr=False)
    """The deciding engine's programs: what their sellers declare (registrations, identity)."""
    shared: Memo = attrs.field(factory=Memo, eq=False, repr=False)
    """The memo of whoever decides (an engine's decider keeps one for all its decisions):
    answers that hold for every recipient at one instant, or across instants, live here, keyed
    by the rule's own key and everything the answer depends on."""
    _memo: Memo = attrs.field(factory=Memo, init=False, eq=False, repr=False)
    # The instants of every context derived with ``at`` (a decider records where a deferral
    # was looked for); None when nobody asked.
    _trail: list[dt.datetime] | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def memo(self, key: object, compute: Callable[..., T], /, *args: object) -> T:
        """``compute(*args)``, once per context (the same instant): rules share work such as
        the recipient's local time or the folded consent state. Passing ``args`` apart spares
        the hot path a closure."""
        found = self._memo.entries.get(key, MISSING)  # a hit, the usual case, in one call
        if found is MISSING:
            return self._memo.get(key, compute, *args)
        return found  # type: ignore[return-value]

    def local_time(self, zone_name: str) -> dt.datetime:
        """``now`` in the zone, computed once per context."""
        return self.memo(("local", zone_name), lambda: to_local(self.now, zone(zone_name)))

    def at(self, instant: dt.datetime) -> Context:
        """This context at another instant, with the same recipient and records."""
        # Every other field is carried over (read from the class, so none can be forgotten),
        # and only ``now`` is converted: deferrals call this in a loop, and attrs.evolve (or
        # the constructor) would convert and check every field again.
        later = blank(Context)
        copy_fields(self, later, _CARRIED)
        # A deferral's instant, computed from a checked one, may lie a little past the range
        # the API accepts as input: it is converted, not range-checked.
        later_now = as_utc(instant, "now")
        set_field(later, "now", later_now)
        set_field(later, "_memo", Memo())
        trail = self._trail
        set_field(later, "_trail", trail)
        if trail is not None:
            trail.append(later_now)
        return later


def traced(context: Context, trail: list[dt.datetime]) -> Context:
    """``context`` (the same instant, records and memo) recording into ``trail`` the instant
    of every context derived from it with :meth:`Context.at`."""
    copy = blank(Context)
    copy_fields(context, copy, _CARRIED)
    set_field(copy, "now", context.now)
    set_field(copy, "_memo", context._memo)
    set_field(copy, "_trail", trail)
    return copy


_CARRIED = tuple(f.name for f in attrs.fields(Context) if f.init and f.name != "now")
# Fields the constructor fills itself must be given a value by ``at`` and ``traced`` too.
assert {f.name for f in attrs.fields(Context) if not f.init} == {"_memo", "_trail"}
