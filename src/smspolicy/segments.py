"""SMS encoding and segment counting (GSM 03.38 / 3GPP TS 23.038), and cost estimates.

A body that fits the GSM 7-bit alphabet (with its extension table, whose characters take two
septets) is sent as GSM-7: 160 septets in one part, 153 per part when split. Anything else is
UCS-2: 70 UTF-16 code units in one part, 67 per part. Parts never split an escape sequence or a
surrogate pair.
"""

from __future__ import annotations

import decimal
import reprlib
from collections.abc import Mapping
from typing import Literal

import attrs

from .errors import InvalidInputError

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "SegmentInfo", "count", "estimate_cost"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 7-bit default alphabet: one septet each."""

GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
"""The GSM 7-bit extension table: two septets each (escape + character)."""


@attrs.frozen
class SegmentInfo:
    """How a body travels: its encoding, how many parts, and how many characters it has."""

    encoding: Literal["gsm7", "ucs2"]
    parts: int
    characters: int
    units: int


def _parts(sizes: list[int], single: int, each: int) -> int:
    total = sum(sizes)
    if total <= single:
        return 1 if total else 0
    parts, used = 1, 0
    for size in sizes:
        if used + size > each:
            parts, used = parts + 1, 0
        used += size
    return parts


def count(body: str) -> SegmentInfo:
    """Count the encoding and parts of an SMS body."""
    if not isinstance(body, str):
        raise InvalidInputError(f"an SMS body must be str, got {type(body).__name__}")
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body):
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in body]
        return SegmentInfo("gsm7", _parts(sizes, 160, 153), len(body), sum(sizes))
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
    return SegmentInfo("ucs2", _parts(sizes, 70, 67), len(body), sum(sizes))


def estimate_cost(
    body: str, country: str, prices: Mapping[str, decimal.Decimal | float | str]
) -> decimal.Decimal:
    """The cost of sending ``body`` to ``country`` (ISO alpha-2) from a user-supplied price
    table of prices per part; a missing country is an error, never a guess."""
    if not isinstance(country, str):
        raise InvalidInputError(
            f"country must be an ISO alpha-2 code, got {type(country).__name__}"
        )
    if not isinstance(prices, Mapping):
        raise InvalidInputError(f"prices must be a mapping, got {type(prices).__name__}")
    code = country.upper()
    if code not in prices:
        raise InvalidInputError(f"no price for {code} in the price table")
    value = prices[code]
    try:
        price: decimal.Decimal | None = decimal.Decimal(str(value))
    except (decimal.InvalidOperation, ValueError):
        price = None
    if price is None or isinstance(value, bool) or not price.is_finite() or price < 0:
        raise InvalidInputError(f"the price for {code} is not a price: {reprlib.repr(value)}")
    return price * count(body).parts
