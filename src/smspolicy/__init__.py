"""smspolicy: composable send-policy rules that keep outbound SMS lawful and welcome.

Every message comes out ALLOW, DEFER until an exact instant, or DENY, with reasons and legal
citations.
"""

from ._clock import Clock, SystemClock
from ._compose import Policy, all_of, any_of, rule, unless, when
from ._context import ConsentView, Context, HistoryView
from ._engine import Engine
from ._recipients import LineType, LineTypeLookup, Profile, Recipient, Resolver, parse_number
from ._records import Basis, ConsentEvent, ConsentKind, SendRecord
from ._values import (
    Channel,
    Decision,
    Message,
    Purpose,
    Reason,
    Verdict,
    allow,
    defer,
    deny,
)

__all__ = [
    "Basis",
    "Channel",
    "Clock",
    "ConsentEvent",
    "ConsentKind",
    "ConsentView",
    "Context",
    "Decision",
    "Engine",
    "HistoryView",
    "LineType",
    "LineTypeLookup",
    "Message",
    "Policy",
    "Profile",
    "Purpose",
    "Reason",
    "Recipient",
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
