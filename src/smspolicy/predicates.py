"""Predicates for :func:`smspolicy.when` and :func:`smspolicy.unless`, composable with
``&``, ``|`` and ``~``: ``when(is_marketing & in_jurisdiction("US-FL"), rule)``."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ._context import Context
from ._values import Channel, Message, Purpose, enum_converter
from .errors import ConfigurationError

__all__ = [
    "Predicate",
    "channel_is",
    "in_jurisdiction",
    "is_marketing",
    "is_transactional",
    "predicate",
    "purpose_is",
    "topic_is",
]


@attrs.frozen(repr=False)
class Predicate:
    """A named predicate ``(message, context) -> bool`` that composes with ``& | ~``."""

    test: Callable[[Message, Context], bool]
    name: str
    reads: frozenset[str] | None = attrs.field(default=None, kw_only=True, eq=False)
    """What the test reads when that is only the message's ``"purpose"`` and/or the recipient's
    ``"jurisdictions"``; the engine then settles the predicate once per such pair. None (the
    default, for any user predicate) means it may read anything and is asked every time."""

    def __call__(self, message: Message, context: Context) -> bool:
        return bool(self.test(message, context))

    def __and__(self, other: Callable[[Message, Context], bool]) -> Predicate:
        right = _wrap(other)
        return Predicate(
            lambda m, c: self(m, c) and right(m, c),
            f"({self!r} & {right!r})",
            reads=_both(self.reads, right.reads),
        )

    def __or__(self, other: Callable[[Message, Context], bool]) -> Predicate:
        right = _wrap(other)
        return Predicate(
            lambda m, c: self(m, c) or right(m, c),
            f"({self!r} | {right!r})",
            reads=_both(self.reads, right.reads),
        )

    def __invert__(self) -> Predicate:
        return Predicate(lambda m, c: not self(m, c), f"~{self!r}", reads=self.reads)

    def __repr__(self) -> str:
        return self.name


def _both(left: frozenset[str] | None, right: frozenset[str] | None) -> frozenset[str] | None:
    return None if left is None or right is None else left | right


PURPOSE = frozenset({"purpose"})
JURISDICTIONS = frozenset({"jurisdictions"})


def _wrap(value: Callable[[Message, Context], bool]) -> Predicate:
    if isinstance(value, Predicate):
        return value
    if not callable(value):
        raise ConfigurationError(f"a predicate must be callable (message, context): {value!r}")
    return Predicate(value, getattr(value, "__name__", repr(value)))


def predicate(function: Callable[[Message, Context], bool]) -> Predicate:
    """Name a plain function as a composable predicate."""
    return _wrap(function)


def purpose_is(purpose: Purpose | str) -> Predicate:
    """True for messages of ``purpose``."""
    wanted: Purpose = enum_converter(Purpose, ConfigurationError)(purpose)
    return Predicate(
        lambda m, _c: m.purpose is wanted, f"purpose_is({wanted.value!r})", reads=PURPOSE
    )


is_marketing = purpose_is(Purpose.MARKETING)
is_transactional = purpose_is(Purpose.TRANSACTIONAL)


def channel_is(*channels: Channel | str) -> Predicate:
    """True for messages on any of ``channels``."""
    convert = enum_converter(Channel, ConfigurationError)
    wanted = frozenset(convert(c) for c in channels)
    if not wanted:
        raise ConfigurationError("channel_is needs at least one channel")
    names = ", ".join(repr(c.value) for c in sorted(wanted, key=lambda c: c.value))
    return Predicate(lambda m, _c: m.channel in wanted, f"channel_is({names})")


def topic_is(*topics: str) -> Predicate:
    """True for messages whose topic is one of ``topics``."""
    if not topics or not all(isinstance(t, str) and t for t in topics):
        raise ConfigurationError("topic_is needs one or more non-empty topic names")
    wanted = frozenset(topics)
    names = ", ".join(repr(t) for t in topics)
    return Predicate(lambda m, _c: m.topic in wanted, f"topic_is({names})")


def in_jurisdiction(*codes: str) -> Predicate:
    """True when any of ``codes`` ("US", "US-FL", "CA") is among the recipient's candidate
    jurisdictions (from the number and from the profile's declared residence)."""
    if not codes or not all(isinstance(c, str) and c for c in codes):
        raise ConfigurationError("in_jurisdiction needs one or more ISO codes such as 'US-FL'")
    wanted = frozenset(c.upper() for c in codes)
    names = ", ".join(repr(c) for c in codes)
    return Predicate(
        lambda _m, c: not wanted.isdisjoint(c.recipient.jurisdictions),
        f"in_jurisdiction({names})",
        reads=JURISDICTIONS,
    )
