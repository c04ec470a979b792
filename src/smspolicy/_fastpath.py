"""A policy's fast path: its leaf rules, flattened once per (purpose, jurisdictions).

Most decisions do not depend on how the rules are nested: an :func:`all_of` whose rules all
return the plain ALLOW returns the plain ALLOW, a :func:`when` whose predicate is false returns it
too, and without deferrals a DENY carries the reasons of every denying rule, in order, however
deep. So, for each (purpose, candidate jurisdictions) pair, the policy tree is flattened into its
leaf rules: each combinator says what it amounts to for the pair (``leaves``): nested ``all_of``
and ``Policy`` give their rules, a ``when`` whose predicate is settled by the pair gives its rule
or nothing, and a jurisdiction pack gives the provisions that apply. Deciding is then one loop
over the leaves. A leaf that defers hands the message to the full tree, which finds the earliest
instant at which its rules agree.
"""

from __future__ import annotations

from ._compose import collect, combine_settled, combiner_of, leaves_of, run_rule
from ._context import Context
from ._memo import Memo
from ._values import Decision, Message, Purpose, allow
from .typing import Rule

__all__ = ["FastPath"]

MAX_SHAPES = 4096
"""How many (purpose, jurisdictions) pairs a fast path remembers before starting over."""


def _leaves(rule: Rule, purpose: Purpose, jurisdictions: frozenset[str], out: list[Rule]) -> None:
    inner = leaves_of(rule, purpose, jurisdictions)
    if inner is None:
        out.append(rule)
        return
    for part in inner:
        _leaves(part, purpose, jurisdictions, out)


def _combined(others: list[Decision], denied: bool) -> tuple[tuple[Decision, ...], Decision]:
    return tuple(others), combine_settled(others, denied=denied)


class FastPath:
    """Decide like ``rule``, answering the all-allow case from its flattened leaves."""

    __slots__ = ("_combine", "_combined", "_shapes", "rule")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self._combine = combiner_of(rule)
        self._shapes = Memo(MAX_SHAPES)
        self._combined = Memo(MAX_SHAPES)

    def __call__(self, message: Message, context: Context) -> Decision:
        key = (message.purpose, context.recipient.jurisdictions)
        leaves, flat = self._shapes.get(key, self._flatten, *key)
        # Where nested deferrals meet (and whether they meet within each level's horizon)
        # depends on the nesting: only the tree knows, unless there is no nesting.
        collected = collect(leaves, message, context, stop_at_defer=not flat)
        if collected is None:
            return run_rule(self.rule, message, context)
        others, denied, deferred = collected
        if not others:
            return allow()
        if flat:  # the leaves are the policy's own rules: combine exactly as it does
            assert self._combine is not None
            return self._combine(message, context, others, denied=denied, deferred=deferred)
        # Without deferrals, nesting does not matter (combine_settled). Rules often return
        # shared decisions (no consent on record): their combination is shared too. The
        # decisions are kept with the result, so their ids cannot be reused meanwhile.
        _kept, combined = self._combined.get(tuple(map(id, others)), _combined, others, denied)
        return combined

    def _flatten(
        self, purpose: Purpose, jurisdictions: frozenset[str]
    ) -> tuple[tuple[Rule, ...], bool]:
        out: list[Rule] = []
        _leaves(self.rule, purpose, jurisdictions, out)
        leaves = tuple(out)
        # Nothing was opened: the leaves are the top-level all_of's own rules, in order.
        own = leaves_of(self.rule, purpose, jurisdictions) if self._combine else None
        flat = own is not None and len(leaves) == len(own)
        flat = flat and all(a is b for a, b in zip(leaves, own or (), strict=False))
        return leaves, flat

    def __repr__(self) -> str:
        return f"FastPath({self.rule!r})"
