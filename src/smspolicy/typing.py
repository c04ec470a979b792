"""Type aliases for the pluggable pieces of smspolicy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from ._context import Context
    from ._values import Decision, Message

__all__ = ["Predicate", "Rule"]

Rule: TypeAlias = "Callable[[Message, Context], Decision]"
"""A rule: any callable taking the message and its context and returning a Decision."""

Predicate: TypeAlias = "Callable[[Message, Context], bool]"
"""A predicate for :func:`smspolicy.when` / :func:`smspolicy.unless`."""
