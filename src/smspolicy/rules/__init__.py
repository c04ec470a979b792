"""Built-in rules. Each is a frozen attrs class with ``__call__(message, context)`` and a
readable repr; build them with the factory functions here."""

from ._consent import consent

__all__ = ["consent"]
