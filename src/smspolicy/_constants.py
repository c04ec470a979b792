"""Names shared across layers, kept at the bottom so no layer imports a higher one for them."""

from __future__ import annotations

__all__ = ["REPLY_TOPIC"]

REPLY_TOPIC = "smspolicy.reply"
"""The topic of keyword replies built by :meth:`smspolicy.InboundResult.reply_message`: the
consent rule lets one through after a STOP, and caps do not count them."""
