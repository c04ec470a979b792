"""Built-in rules. Each is a frozen attrs class with ``__call__(message, context)`` and a
readable repr; build them with the factory functions here."""

from ._consent import consent
from ._hours import quiet_hours, sending_window

__all__ = ["consent", "quiet_hours", "sending_window"]
