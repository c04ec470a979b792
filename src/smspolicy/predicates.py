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
    """A named predicate ``(message, context) -> bool`` that composes with ``& | ~``;
    ``a & b & c`` and ``a | b | c`` flatten into one conjunction or disjunction."""

    test: Callable[[Message, Context], bool]
    name: str
    reads: frozenset[str] | None = attrs.field(default=None, kw_only=True, eq=False)
    """What the test reads when that is only the message's ``"purpose"`` and ``"channel"``
    and/or the recipient's ``"jurisdictions"``; the engine then settles the predicate once per
    such (purpose, jurisdictions, channel), after
    checking that the test reads nothing else (a test that reaches for anything more is asked
    on every decision). None (the default, for any user predicate) means it may read anything
    and is asked every time."""

    def __call__(self, message: Message, context: Context) -> bool:
        return bool(self.test(message, context))

    def settled(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel | None = None
    ) -> bool | None:
        """The answer for every message of ``purpose`` on ``channel`` to a recipient with
        candidate ``jurisdictions``, when the test reads only those; else None (also when it
        reads the channel and none is given). The test is run on a message and a context that
        hold nothing else, so one that declares ``reads`` but reads more is found out, not
        trusted."""
        if self.reads is None or not self.reads <= _STATIC:
            return None
        message = _PurposeOnly(purpose, channel)
        try:
            return bool(self.test(message, _JurisdictionsOnly(jurisdictions)))  # type: ignore[arg-type]
        except (_ReadsMore, AttributeError):  # reads more, even through getattr or hasattr
            return None

    def __and__(self, other: Callable[[Message, Context], bool]) -> Predicate:
        return _joined(_All, "&", self, _wrap(other))

    def __or__(self, other: Callable[[Message, Context], bool]) -> Predicate:
        return _joined(_Any, "|", self, _wrap(other))

    def __invert__(self) -> Predicate:
        return Predicate(_Not(self), f"~{self!r}", reads=self.reads)

    def __repr__(self) -> str:
        return self.name


_STATIC = frozenset({"purpose", "jurisdictions", "channel"})


class _ReadsMore(Exception):
    """Raised by the stand-ins when a test reads anything but what a key holds. Not an
    AttributeError, so ``getattr(message, "topic", None)`` and ``hasattr`` cannot swallow it."""


class _Probe:
    """A stand-in whose every attribute it does not hold raises :class:`_ReadsMore`."""

    __slots__ = ()

    def __getattr__(self, name: str) -> object:
        raise _ReadsMore(name)


class _PurposeOnly(_Probe):
    """A message that has nothing but its purpose and, when given, its channel (reading an
    unset slot, or any other field, is found out)."""

    __slots__ = ("channel", "purpose")

    def __init__(self, purpose: Purpose, channel: Channel | None) -> None:
        self.purpose = purpose
        if channel is not None:
            self.channel = channel


class _RecipientJurisdictions(_Probe):
    __slots__ = ("jurisdictions",)

    def __init__(self, jurisdictions: frozenset[str]) -> None:
        self.jurisdictions = jurisdictions


class _JurisdictionsOnly(_Probe):
    """A context whose recipient has nothing but candidate jurisdictions."""

    __slots__ = ("recipient",)

    def __init__(self, jurisdictions: frozenset[str]) -> None:
        self.recipient = _RecipientJurisdictions(jurisdictions)


@attrs.frozen
class _All:
    parts: tuple[Predicate, ...]

    def __call__(self, message: Message, context: Context) -> bool:
        return all(part(message, context) for part in self.parts)


@attrs.frozen
class _Any:
    parts: tuple[Predicate, ...]

    def __call__(self, message: Message, context: Context) -> bool:
        return any(part(message, context) for part in self.parts)


@attrs.frozen
class _Not:
    part: Predicate

    def __call__(self, message: Message, context: Context) -> bool:
        return not self.part(message, context)


def _joined(kind: type[_All | _Any], symbol: str, left: Predicate, right: Predicate) -> Predicate:
    parts: list[Predicate] = []
    for side in (left, right):
        parts.extend(side.test.parts if isinstance(side.test, kind) else (side,))
    reads: frozenset[str] | None = frozenset()
    for part in parts:
        reads = _both(reads, part.reads)
    name = "(" + f" {symbol} ".join(repr(part) for part in parts) + ")"
    return Predicate(kind(tuple(parts)), name, reads=reads)


def _both(left: frozenset[str] | None, right: frozenset[str] | None) -> frozenset[str] | None:
    return None if left is None or right is None else left | right


PURPOSE = frozenset({"purpose"})
JURISDICTIONS = frozenset({"jurisdictions"})
CHANNEL = frozenset({"channel"})


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
    return Predicate(lambda m, _c: m.channel in wanted, f"channel_is({names})", reads=CHANNEL)


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
