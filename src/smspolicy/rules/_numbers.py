"""Destination checks: line types and countries."""

from __future__ import annotations

from collections.abc import Collection

import attrs

from .. import i18n
from .._context import Context
from .._recipients import LineType
from .._values import ALLOWED, Decision, Message, deny, to_enum
from ..errors import ConfigurationError

__all__ = ["valid_number"]

_LINE = i18n.register_template(
    "number.line_type", "the destination is a {line_type} line, not one of {allowed}"
)
_COUNTRY = i18n.register_template(
    "number.country", "messages to {region} are not sent by this policy"
)


def _countries(value: Collection[str] | None, name: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(c, str) and len(c) == 2 for c in value):
        raise ConfigurationError(f"{name} must be ISO alpha-2 codes such as ['US', 'CA']")
    return frozenset(c.upper() for c in value)


@attrs.frozen(repr=False)
class _ValidNumber:
    line_types: frozenset[LineType] | None
    countries: frozenset[str] | None
    exclude_countries: frozenset[str]

    def __call__(self, message: Message, context: Context) -> Decision:
        recipient = context.recipient
        if not message.channel.is_phone:
            return ALLOWED
        if self.line_types is not None and recipient.line_type not in self.line_types:
            allowed = ", ".join(sorted(t.value for t in self.line_types))
            return deny(
                i18n.reason(
                    "number.line_type",
                    "valid_number",
                    _LINE,
                    line_type=recipient.line_type.value,
                    allowed=allowed,
                )
            )
        region = recipient.region or "an unknown country"
        if (self.countries is not None and recipient.region not in self.countries) or (
            recipient.region in self.exclude_countries
        ):
            return deny(i18n.reason("number.country", "valid_number", _COUNTRY, region=region))
        return ALLOWED

    def allows_onward(self) -> bool:
        """True: the decision does not depend on the instant."""
        return True

    def __repr__(self) -> str:
        parts = []
        if self.line_types is not None:
            parts.append(f"line_types={sorted(t.value for t in self.line_types)!r}")
        if self.countries is not None:
            parts.append(f"countries={sorted(self.countries)!r}")
        if self.exclude_countries:
            parts.append(f"exclude_countries={sorted(self.exclude_countries)!r}")
        return f"valid_number({', '.join(parts)})"


def valid_number(
    line_types: Collection[LineType | str] | None = None,
    countries: Collection[str] | None = None,
    exclude_countries: Collection[str] = (),
) -> _ValidNumber:
    """Send only to phone numbers of the given line types and countries.

    Invalid numbers are already DENY ``number.invalid`` at the engine. Every valid US/CA
    geographic number is FIXED_LINE_OR_MOBILE offline: "mobile only" for NANP needs a
    :class:`smspolicy.LineTypeLookup`; without one, ``line_types=["mobile"]`` denies them.
    """
    types = None
    if line_types is not None:
        if isinstance(line_types, str):
            raise ConfigurationError("line_types must be a collection, e.g. ['mobile']")
        types = frozenset(to_enum(LineType, t, ConfigurationError) for t in line_types)
    return _ValidNumber(
        types,
        _countries(countries, "countries"),
        _countries(exclude_countries, "exclude_countries") or frozenset(),
    )
