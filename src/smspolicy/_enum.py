"""The base of the library's enums."""

from __future__ import annotations

import enum

__all__ = ["Enum"]


class Enum(enum.Enum):
    """An :class:`enum.Enum` hashed by identity.

    Members compare by identity already; ``enum.Enum.__hash__`` is a Python-level function that
    hashes the member's name, and decisions hash purposes and verdicts on every call (dispatch
    tables, memo keys), so the C-level identity hash is used instead.
    """

    __hash__ = object.__hash__
