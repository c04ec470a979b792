"""smspolicy: composable send-policy rules that keep outbound SMS lawful and welcome.

Every message comes out ALLOW, DEFER until an exact instant, or DENY, with reasons and legal
citations.
"""

from importlib import metadata as _metadata

from ._async_engine import AsyncEngine
from ._clock import Clock, SystemClock
from ._compose import Policy, all_of, any_of, rule, unless, when
from ._context import ConsentView, Context, HistoryView
from ._engine import Engine
from ._inbound import InboundResult
from ._recipients import LineType, LineTypeLookup, Profile, Recipient, Resolver, parse_number
from ._records import Basis, ConsentEvent, ConsentKind, SendRecord
from ._values import (
    Channel,
    Decision,
    Message,
    Purpose,
    Reason,
    RecipientFacts,
    Verdict,
    allow,
    defer,
    deny,
)
from .consent import ConsentStatus, Ledger
from .keywords import InboundKind
from .programs import Program

try:
    __version__ = _metadata.version("smspolicy")
    """The installed distribution's version (PEP 440), read from its metadata."""
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AsyncEngine",
    "Basis",
    "Channel",
    "Clock",
    "ConsentEvent",
    "ConsentKind",
    "ConsentStatus",
    "ConsentView",
    "Context",
    "Decision",
    "Engine",
    "HistoryView",
    "InboundKind",
    "InboundResult",
    "Ledger",
    "LineType",
    "LineTypeLookup",
    "Message",
    "Policy",
    "Profile",
    "Program",
    "Purpose",
    "Reason",
    "Recipient",
    "RecipientFacts",
    "Resolver",
    "SendRecord",
    "SystemClock",
    "Verdict",
    "all_of",
    "allow",
    "any_of",
    "defer",
    "deny",
    "parse_number",
    "rule",
    "unless",
    "when",
]
