"""A policy's fast path: its leaf rules, flattened once per (purpose, jurisdictions).

Most decisions do not depend on how the rules are nested: an :func:`all_of` whose rules all
return the plain ALLOW returns the plain ALLOW, a :func:`when` whose predicate is false returns it
too, and without deferrals a DENY carries the reasons of every denying rule, in order, however
deep. So, for each (purpose, candidate jurisdictions) pair, the policy tree is flattened into its
leaf rules: nested ``all_of`` and ``Policy`` are opened, a ``when`` whose predicate reads only
the purpose and the jurisdictions is settled at once, and a jurisdiction pack is replaced by the
provisions that apply. Deciding is then one loop over the leaves. A leaf that defers hands the
message to the full tree, which finds the earliest instant at which its rules agree.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from ._cache import bounded
from ._compose import _AllOf, _When, collect, combine_settled, run_rule
from ._context import Context
from ._values import _ALLOW, Decision, Message, Purpose
from .typing import Rule

__all__ = ["Dispatch", "FastPath"]

MAX_SHAPES = 4096
"""How many (purpose, jurisdictions) pairs a fast path remembers before starting over."""


class Dispatch(Protocol):
    """A rule that only picks another rule from the message's purpose and the recipient's
    jurisdictions (a jurisdiction pack). It says so with ``static_dispatch = True``: a method
    of the same name on some other rule is not taken as that promise."""

    static_dispatch: ClassVar[bool]

    def rule_for(self, jurisdictions: frozenset[str], purpose: Purpose) -> Rule:
        """The rule this one applies for the pair."""


def _dispatch(rule: object) -> Dispatch | None:
    if getattr(type(rule), "static_dispatch", False) is True and hasattr(rule, "rule_for"):
        return rule  # type: ignore[return-value]
    return None


def _static(predicate: object) -> bool:
    reads = getattr(predicate, "reads", None)
    return reads is not None and reads <= {"purpose", "jurisdictions"}


def _leaves(rule: Rule, message: Message, context: Context, out: list[Rule]) -> None:
    if isinstance(rule, _AllOf):
        for inner in rule.rules:
            _leaves(inner, message, context, out)
    elif isinstance(rule, _When) and _static(rule.predicate):
        if bool(rule.predicate(message, context)) != rule.negate:
            _leaves(rule.rule, message, context, out)
    elif (dispatch := _dispatch(rule)) is not None:
        picked = dispatch.rule_for(context.recipient.jurisdictions, message.purpose)
        _leaves(picked, message, context, out)
    else:
        out.append(rule)


def _combined(others: list[Decision], denied: bool) -> tuple[tuple[Decision, ...], Decision]:
    return tuple(others), combine_settled(others, denied=denied)


class FastPath:
    """Decide like ``rule``, answering the all-allow case from its flattened leaves."""

    __slots__ = ("_combined", "_shapes", "rule")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self._shapes: dict[tuple[Purpose, frozenset[str]], tuple[tuple[Rule, ...], bool]] = {}
        self._combined: dict[tuple[int, ...], tuple[tuple[Decision, ...], Decision]] = {}

    def __call__(self, message: Message, context: Context) -> Decision:
        key = (message.purpose, context.recipient.jurisdictions)
        leaves, flat = self._shapes.get(key) or bounded(
            self._shapes, key, MAX_SHAPES, self._flatten, message, context
        )
        # Where nested deferrals meet (and whether they meet within each level's horizon)
        # depends on the nesting: only the tree knows, unless there is no nesting.
        collected = collect(leaves, message, context, stop_at_defer=not flat)
        if collected is None:
            return run_rule(self.rule, message, context)
        others, denied, deferred = collected
        if not others:
            return _ALLOW
        if flat:  # the leaves are the policy's own rules: combine exactly as it does
            assert isinstance(self.rule, _AllOf)
            return self.rule.combine(message, context, others, denied=denied, deferred=deferred)
        # Without deferrals, nesting does not matter (combine_settled). Rules often return
        # shared decisions (no consent on record): their combination is shared too. The
        # decisions are kept with the result, so their ids cannot be reused meanwhile.
        _kept, combined = bounded(
            self._combined, tuple(map(id, others)), MAX_SHAPES, _combined, others, denied
        )
        return combined

    def _flatten(self, message: Message, context: Context) -> tuple[tuple[Rule, ...], bool]:
        out: list[Rule] = []
        _leaves(self.rule, message, context, out)
        leaves = tuple(out)
        # Nothing was opened: the leaves are the top-level all_of's rules, in order.
        own = self.rule.rules if isinstance(self.rule, _AllOf) else None
        flat = own is not None and len(leaves) == len(own)
        flat = flat and all(a is b for a, b in zip(leaves, own or (), strict=False))
        return leaves, flat

    def __repr__(self) -> str:
        return f"FastPath({self.rule!r})"
