"""Built-in rules. Each is a frozen attrs class with ``__call__(message, context)`` and a
readable repr; build them with the factory functions here."""

from ._caps import dedupe, frequency_cap, program_frequency
from ._consent import consent
from ._engagement import engagement
from ._hours import quiet_hours, sending_window

__all__ = [
    "consent",
    "dedupe",
    "engagement",
    "frequency_cap",
    "program_frequency",
    "quiet_hours",
    "sending_window",
]
