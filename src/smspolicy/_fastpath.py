"""A policy's fast path: its leaf rules, flattened once per (purpose, channel, jurisdictions).

Most decisions do not depend on how the rules are nested: an :func:`all_of` whose rules all
return the plain ALLOW returns the plain ALLOW, a :func:`when` whose predicate is false returns it
too, and without deferrals a DENY carries the reasons of every denying rule, in order, however
deep. So, for each (purpose, candidate jurisdictions) pair, the policy tree is flattened into its
leaf rules: each combinator says what it amounts to for the key (``leaves``): nested ``all_of``
and ``Policy`` give their rules, a ``when`` whose predicate is settled by the key gives its rule
or nothing, a jurisdiction pack gives the provisions that apply and each provision whether it
covers the channel. Deciding is then one loop
over the leaves. A leaf that defers hands the message to the full tree, which finds the earliest
instant at which its rules agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ._compose import _checked, at_instant_of, combine_settled, combiner_of, leaves_of, run_rule
from ._context import Context, is_fold_timed, is_onward, is_zone_timed, traced
from ._memo import MISSING, Memo
from ._values import Channel, Decision, Message, Purpose, Verdict, allow
from .typing import Rule

__all__ = ["FastPath"]

MAX_SHAPES = 4096
"""How many (purpose, channel, jurisdictions) keys a fast path remembers before starting
over."""

MAX_INSTANTS = 65536
"""How many (purpose, channel, jurisdictions, zones, instant) keys a fast path remembers, for its
zone-timed leaves' answers and for deferrals, before starting over."""


def _leaves(
    rule: Rule, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel, out: list[Rule]
) -> None:
    inner = leaves_of(rule, purpose, jurisdictions, channel)
    if inner is None:
        out.append(rule)
        return
    for part in inner:
        _leaves(part, purpose, jurisdictions, channel, out)


def _combined(others: list[Decision], denied: bool) -> tuple[tuple[Decision, ...], Decision]:
    return tuple(others), combine_settled(others, denied=denied)


# A shape: the leaves for (purpose, channel, jurisdictions), whether they are the policy's own
# rules, for each leaf its decision when the leaf is zone-timed (the same for every recipient
# with the key's zones at the key's instant), else None: the leaf is asked for each message;
# the leaves asked, in order; whether every zone-timed leaf gives the plain ALLOW (then a
# message whose asked leaves all do is allowed at once); and the leaves to ask at the other
# instants a deferral looks at (those not zone-timed, laws in force not settled).
Shape = tuple[
    tuple[Rule, ...], bool, tuple[Decision | None, ...], tuple[Rule, ...], bool, tuple[Rule, ...]
]

# A deferral found by the tree: the decisions of the leaves that are not zone-timed at the
# instant decided; the leaves to ask again at each instant the tree looked at; the latest of
# those instants when the fold-timed leaves are left out, else None; the decisions of the
# leaves asked again at each instant (the trail); and the tree's decision. It holds for any
# message whose leaves give the same decisions now and whose leaves asked again give them
# along the trail: everything else the tree reads is in the key. Not asked again: a leaf that
# allows onward (:class:`Onward`) and allowed without reasons now (it allows so at every later
# instant, for this message as for that one), and, while both messages' consent views hold
# through the latest instant, a fold-timed leaf (:class:`FoldTimed`: it decides there as now).
Deferral = tuple[
    tuple[Decision, ...],
    tuple[Rule, ...],
    dt.datetime | None,
    tuple[tuple[dt.datetime, tuple[Decision, ...]], ...],
    Decision,
]


class FastPath:
    """Decide like ``rule``, answering the all-allow case from its flattened leaves."""

    __slots__ = ("_combine", "_combined", "_deferrals", "_instants", "_shapes", "rule")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self._combine = combiner_of(rule)
        self._shapes = Memo(MAX_SHAPES)
        self._combined = Memo(MAX_SHAPES)
        self._instants = Memo(MAX_INSTANTS)
        self._deferrals = Memo(MAX_INSTANTS)

    def __call__(self, message: Message, context: Context) -> Decision:
        recipient = context.recipient
        key = (
            message.purpose,
            message.channel,
            recipient.jurisdictions,
            recipient.zones,
            recipient.principal_zones,
            context.now,
        )
        shape: Shape = self._instants.entries.get(key, MISSING)  # type: ignore[assignment]
        if shape is MISSING:  # a hit, the usual case, costs one call
            shape = self._instants.get(key, self._shape, message, context)
        leaves, flat, known, ask, quiet, later = shape
        plain = allow()  # the shared plain ALLOW, in a local name: this runs for every message
        asked = [leaf(message, context) for leaf in ask]  # the leaves not zone-timed, in order
        if quiet:  # every zone-timed leaf allows plainly at this key
            for decision in asked:
                if decision is not plain:
                    break
            else:
                return plain
        others: list[Decision] = []
        denied = deferred = False
        answers = iter(asked)
        for leaf, given in zip(leaves, known, strict=True):
            if given is None:
                decision = next(answers)
                if decision is plain:
                    continue
                decision = _checked(leaf, decision, context)
            elif given is plain:
                continue
            else:
                decision = given
            verdict = decision.verdict
            if verdict is Verdict.DENY:
                denied = True
            elif verdict is Verdict.DEFER:
                deferred = True
            others.append(decision)
        if not others:
            return allow()
        if deferred and not (flat and denied):
            # Where nested deferrals meet (a DENY among them too) depends on the nesting: the
            # tree decides, once per key and set of decisions.
            return self._deferral(key, message, context, (tuple(asked), ask, later), others, flat)
        if flat:  # the leaves are the policy's own rules: combine exactly as it does
            assert self._combine is not None
            return self._combine(message, context, others, denied=denied, deferred=deferred)
        # Without deferrals, nesting does not matter (combine_settled). Rules often return
        # shared decisions (no consent on record): their combination is shared too. The
        # decisions are kept with the result, so their ids cannot be reused meanwhile.
        _kept, combined = self._combined.get(tuple(map(id, others)), _combined, others, denied)
        return combined

    def _shape(self, message: Message, context: Context) -> Shape:
        recipient = context.recipient
        shape = (message.purpose, recipient.jurisdictions, message.channel)
        unsettled, flat, timed_before = self._shapes.get(shape, self._flatten, *shape)
        leaves, timed, settled = _at_instant(unsettled, timed_before, recipient.zones, context.now)
        flat = flat and not settled  # a leaf replaced: they are no longer the policy's own
        known = tuple(
            _checked(leaf, leaf(message, context), context) if zoned else None
            for leaf, zoned in zip(leaves, timed, strict=True)
        )
        ask = tuple(leaf for leaf, given in zip(leaves, known, strict=True) if given is None)
        # At the other instants a deferral looks at, a law may come into force or end: there
        # the leaves are asked as flattened, before they were settled at this instant.
        later = ask
        if settled:
            pairs = zip(unsettled, timed_before, strict=True)
            later = tuple(leaf for leaf, zoned in pairs if not zoned)
        plain = allow()
        quiet = all(given is None or given is plain for given in known)
        return leaves, flat, known, ask, quiet, later

    def _deferral(
        self,
        key: tuple[object, ...],
        message: Message,
        context: Context,
        now: tuple[tuple[Decision, ...], tuple[Rule, ...], tuple[Rule, ...]],
        others: list[Decision],
        flat: bool,
    ) -> Decision:
        """What the policy makes of a deferral, remembered per key (with the message's
        ``not_after``): recipients who share zones, jurisdictions and the instant, and whose
        other rules give the same decisions now and at every instant the policy looked at
        (mostly the plain ALLOW), share it. ``now`` holds the asked leaves' decisions, those
        leaves, and the leaves to ask at the other instants (the same, unless a law in force
        was settled at this instant)."""
        asked, ask, later = now
        full = (*key, message.not_after)
        found: Deferral | tuple[()] | None = self._deferrals.peek(full)  # type: ignore[assignment]
        if found:
            before, along, steady, trail, decision = found
            if (
                _same(before, asked)
                and (steady is None or context.consent.holds_through(context.now, steady))
                and _same_along(trail, along, message, context)
            ):
                return decision
        instants: list[dt.datetime] = []
        if flat:
            assert self._combine is not None
            decision = self._combine(
                message, traced(context, instants), others, denied=False, deferred=True
            )
        else:
            decision = run_rule(self.rule, message, traced(context, instants))
        if found is None:
            # Seen once: only a key that comes back (a batch, or messages decided at one
            # instant) is worth the look at the trail's instants that remembering takes.
            self._deferrals.put(full, ())
        elif not found:
            self._deferrals.put(
                full, _remembered(asked, ask, later, instants, message, context, decision)
            )
        return decision

    def _flatten(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
    ) -> tuple[tuple[Rule, ...], bool, tuple[bool, ...]]:
        out: list[Rule] = []
        _leaves(self.rule, purpose, jurisdictions, channel, out)
        leaves = tuple(out)
        # Nothing was opened: the leaves are the top-level all_of's own rules, in order.
        own = leaves_of(self.rule, purpose, jurisdictions, channel) if self._combine else None
        flat = own is not None and len(leaves) == len(own)
        flat = flat and all(a is b for a, b in zip(leaves, own or (), strict=False))
        return leaves, flat, tuple(is_zone_timed(leaf) for leaf in leaves)

    def __repr__(self) -> str:
        return f"FastPath({self.rule!r})"


def _at_instant(
    leaves: tuple[Rule, ...], timed: tuple[bool, ...], zones: tuple[str, ...], now: dt.datetime
) -> tuple[tuple[Rule, ...], tuple[bool, ...], bool]:
    """The leaves with each that says what it amounts to at ``now`` for ``zones`` (a law in
    force, or not) replaced by that, their zone-timed flags, and whether any was replaced."""
    out: list[tuple[Rule, bool]] = []
    settled = False
    for leaf, zoned in zip(leaves, timed, strict=True):
        rules = at_instant_of(leaf, zones, now)
        if rules is None:
            out.append((leaf, zoned))
        else:
            settled = True
            out.extend((rule, is_zone_timed(rule)) for rule in rules)
    if not settled:
        return leaves, timed, False
    return tuple(leaf for leaf, _ in out), tuple(zoned for _, zoned in out), True


def _remembered(
    asked: tuple[Decision, ...],
    ask: tuple[Rule, ...],
    later: tuple[Rule, ...],
    instants: list[dt.datetime],
    message: Message,
    context: Context,
    decision: Decision,
) -> Deferral:
    """What a deferral the tree found (``decision``, looking at ``instants``) keeps, once the
    tree has run: ``asked`` are the decisions now of the leaves ``ask``, and ``later`` the
    leaves to ask at the other instants (``ask`` itself unless a law was settled now)."""
    along = later
    steady = None
    looked = tuple(dict.fromkeys(instants))
    if later is ask or _settled_alike(later, context.recipient.zones, context.now, looked):
        # The leaves as settled now are the leaves at every instant looked at.
        along = _along(ask, asked)
        latest = max(looked, default=None)
        if latest is not None and context.consent.holds_through(context.now, latest):
            kept = tuple(leaf for leaf in along if not is_fold_timed(leaf))
            if len(kept) < len(along):
                along, steady = kept, latest
    trail: tuple[tuple[dt.datetime, tuple[Decision, ...]], ...] = ()
    if along:  # else nothing along the trail can differ: no instant is kept
        trail = tuple((at, _asked(along, message, context.at(at))) for at in looked)
    return asked, along, steady, trail, decision


def _settled_alike(
    leaves: tuple[Rule, ...],
    zones: tuple[str, ...],
    now: dt.datetime,
    instants: tuple[dt.datetime, ...],
) -> bool:
    """True when each of ``leaves`` amounts at every one of ``instants`` to what it amounts to
    at ``now`` for ``zones`` (no law comes into force or ends in between): asked there, the
    leaves as settled at ``now`` answer as they do."""
    for leaf in leaves:
        here = at_instant_of(leaf, zones, now)
        if here is None:
            continue  # not settled now: asked as it is
        for at in instants:
            there = at_instant_of(leaf, zones, at)
            if there is None or not _same_rules(there, here):
                return False
    return True


def _same_rules(left: tuple[Rule, ...], right: tuple[Rule, ...]) -> bool:
    """True when both hold the very same rule objects, in order (rules equal as values may
    still decide differently: a field left out of equality)."""
    return len(left) == len(right) and all(a is b for a, b in zip(left, right, strict=True))


def _along(ask: tuple[Rule, ...], asked: tuple[Decision, ...]) -> tuple[Rule, ...]:
    """The leaves of ``ask`` to ask again at a deferral's later instants: all but those that
    allow onward and allowed plainly now (``asked``, their decisions now)."""
    plain = allow()
    return tuple(
        leaf
        for leaf, decision in zip(ask, asked, strict=True)
        if decision is not plain or not is_onward(leaf)
    )


def _asked(ask: tuple[Rule, ...], message: Message, context: Context) -> tuple[Decision, ...]:
    """The decisions, in order, of the leaves that are not zone-timed."""
    return tuple([leaf(message, context) for leaf in ask])


def _same_along(
    trail: tuple[tuple[dt.datetime, tuple[Decision, ...]], ...],
    ask: tuple[Rule, ...],
    message: Message,
    context: Context,
) -> bool:
    """True when the asked leaves give, at each instant of ``trail``, the decisions it holds."""
    for at, decisions in trail:  # noqa: SIM110 (a loop: all() adds a generator per call)
        if not _same(decisions, _asked(ask, message, context.at(at))):
            return False
    return True


def _same(left: tuple[Decision, ...], right: tuple[Decision, ...]) -> bool:
    """True when both hold the same decisions, in order: the same objects (the shared plain
    ALLOW, a window's remembered answer), or decisions alike in every field the policy reads,
    the reasons' details and the zone included (a rule's fresh DENY for the same reasons)."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):  # noqa: SIM110 (every deferral asks: no generator)
        if a is not b and not _alike(a, b):
            return False
    return True


def _alike(left: Decision, right: Decision) -> bool:
    return (
        left.verdict is right.verdict
        and _identical(left.until, right.until)
        and left.zone == right.zone
        and len(left.reasons) == len(right.reasons)
        and all(
            a is b or (a == b and _identical(a.data, b.data))
            for a, b in zip(left.reasons, right.reasons, strict=True)
        )
    )


def _identical(left: object, right: object) -> bool:
    """Equal and alike in what a reason shows: of one type, recursively (``1`` and ``1.0``
    are equal, but a reason's details print them differently), and instants in one zone."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dt.datetime):
        return left == right and left.utcoffset() == right.utcoffset()  # type: ignore[attr-defined]
    if isinstance(left, Mapping):
        return left.keys() == right.keys() and all(  # type: ignore[attr-defined]
            _identical(value, right[key])  # type: ignore[index]
            for key, value in left.items()
        )
    if isinstance(left, tuple | list):
        return len(left) == len(right) and all(  # type: ignore[arg-type]
            _identical(a, b)
            for a, b in zip(left, right, strict=True)  # type: ignore[call-overload]
        )
    return left == right
