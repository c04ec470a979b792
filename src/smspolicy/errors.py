"""Exceptions raised by smspolicy.

Normal outcomes (allow, defer, deny) are returned as :class:`smspolicy.Decision` values.
Exceptions mean bad input or misconfiguration, and every one of them derives from
:class:`SmsPolicyError`, so ``except smspolicy.errors.SmsPolicyError`` catches them all.

Arguments are checked where they enter the API, and a rejected call records nothing: instants
must be aware and from 1900-01-01 up to 3000-01-01 UTC, durations at most 36,600 days, numbers
and addresses text or a complete ``phonenumbers.PhoneNumber``, and text valid Unicode (no lone
surrogates) without NUL characters.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConfigurationError",
    "InvalidAddressError",
    "InvalidInputError",
    "InvalidMessageError",
    "InvalidNumberError",
    "LedgerIntegrityError",
    "LineTypeLookupError",
    "NaiveDatetimeError",
    "RequestValidationError",
    "ReservationExpiredError",
    "RuleError",
    "SmsPolicyError",
    "StoreUnavailableError",
    "UnknownZoneError",
]


class SmsPolicyError(Exception):
    """Base class of every error smspolicy raises on purpose."""


class InvalidInputError(SmsPolicyError, ValueError):
    """A value given to the API is malformed."""


class NaiveDatetimeError(InvalidInputError, TypeError):
    """A datetime without a time zone was given where an aware one is required."""


class InvalidNumberError(InvalidInputError):
    """A phone number does not parse, or parses to a number that cannot exist."""


class InvalidMessageError(InvalidInputError):
    """A :class:`smspolicy.Message` field has a wrong type or value."""


class RequestValidationError(InvalidInputError):
    """An AWS request does not fit the botocore service model; nothing was sent.

    ``problems`` lists every violation, each naming the parameter path.
    """

    def __init__(self, operation: str, problems: list[str]) -> None:
        self.operation = operation
        self.problems = problems
        super().__init__(f"invalid {operation} request: " + "; ".join(problems))


class UnknownZoneError(InvalidInputError):
    """A time-zone name is not in the IANA database shipped with pytz."""


class ConfigurationError(SmsPolicyError, ValueError):
    """A rule, policy, store or engine was built with arguments that cannot work."""


class RuleError(SmsPolicyError):
    """A rule broke its contract, e.g. returned a non-Decision or deferred to the past."""


class StoreUnavailableError(SmsPolicyError):
    """The store could not be read or written; the engine turns this into a DENY."""


class LineTypeLookupError(SmsPolicyError):
    """An external line-type source failed; the engine turns this into a DENY."""


class LedgerIntegrityError(SmsPolicyError):
    """A consent record or proof does not verify: something was altered, dropped or reordered."""


class ReservationExpiredError(SmsPolicyError):
    """A reservation was committed after its hold expired, and the policy, re-checked under the
    store's lock at the commit, no longer allows the send (another message took the slot
    meanwhile): nothing was counted. Reserve again before sending; if the message already went
    out, record it with :meth:`smspolicy.Engine.record_sent` so the send log stays true.

    ``reservations`` lists the reservations that could not be committed.
    """

    def __init__(self, message: str, reservations: Sequence[object] = ()) -> None:
        self.reservations = tuple(reservations)
        super().__init__(message)


class InvalidAddressError(InvalidNumberError):
    """An email address or push token is malformed (a subclass of
    :class:`InvalidNumberError`, so code that catches bad numbers catches bad addresses too)."""
