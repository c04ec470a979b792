"""Type aliases for the pluggable pieces of smspolicy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from ._context import Context
    from ._values import Decision, Message

__all__ = ["Condition", "Predicate", "Rule"]

Rule: TypeAlias = "Callable[[Message, Context], Decision]"
"""A rule: any callable taking the message and its context and returning a Decision."""

Condition: TypeAlias = "Callable[[Message, Context], bool]"
"""A test for :func:`smspolicy.when` / :func:`smspolicy.unless`: any callable taking the message
and its context and returning a bool (:class:`smspolicy.predicates.Predicate` is one that
composes with ``& | ~``)."""

Predicate: TypeAlias = Condition
"""Deprecated: the old name of :data:`Condition`, kept so existing annotations still work
(it is not :class:`smspolicy.predicates.Predicate`)."""
