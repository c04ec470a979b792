"""Built-in rules. Each is a frozen attrs class with ``__call__(message, context)`` and a
readable repr; build them with the factory functions here."""

from ._caps import dedupe, frequency_cap, program_frequency
from ._closed_days import closed_days, pennsylvania_extra_holidays
from ._consent import consent
from ._content import has_opt_out, required_content
from ._dnc import do_not_call
from ._email import has_postal_address, postal_address, wireless_domain_consent
from ._engagement import engagement
from ._hours import quiet_hours, sending_window
from ._numbers import valid_number
from ._reassigned import Reassignment, mark_reassigned, reassigned_numbers
from ._segments import max_segments
from ._senders import origination, seller_registration
from ._written import written_consent_evidence

__all__ = [
    "Reassignment",
    "closed_days",
    "consent",
    "dedupe",
    "do_not_call",
    "engagement",
    "frequency_cap",
    "has_opt_out",
    "has_postal_address",
    "mark_reassigned",
    "max_segments",
    "origination",
    "pennsylvania_extra_holidays",
    "postal_address",
    "program_frequency",
    "quiet_hours",
    "reassigned_numbers",
    "required_content",
    "seller_registration",
    "sending_window",
    "valid_number",
    "wireless_domain_consent",
    "written_consent_evidence",
]
