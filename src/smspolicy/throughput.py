"""Sender throughput: a messages-per-second limit per origination identity, shared by every
worker through the store.

Pinpoint and End User Messaging enforce a rate per origination identity (by number type and
country) and answer ``ThrottlingException`` above it. :class:`SenderThroughput` hands out send
slots instead: each message of a sender gets the earliest instant at or after now that is at
least ``1 / rate`` seconds after the sender's previous slot, claimed atomically in the store,
so that across all processes no one-second window ever holds more than ``rate`` sends.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping

from ._clock import Clock, SystemClock
from ._time import ensure_aware
from ._values import Decision, Message, Reason, allow, defer
from .errors import ConfigurationError
from .store import SlotStore

__all__ = ["SenderThroughput"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_RATE = 1_000_000.0


def _rate(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of messages per second, got {value!r}")
    if not (0 < value <= _MAX_RATE) or math.isnan(value):
        raise ConfigurationError(f"{name} must be above 0 and at most {_MAX_RATE:g}, got {value!r}")
    return float(value)


def _micros(instant: dt.datetime) -> int:
    return (instant - _EPOCH) // dt.timedelta(microseconds=1)


class SenderThroughput:
    """Messages-per-second limits by origination identity (``Message.sender``).

    ``rates`` maps each sender to its rate; ``default`` applies to other senders (None: no
    limit). :meth:`check` claims a slot for a message and allows it when the slot is now, or
    defers it to the slot (``throughput.slot``): send it then, and no faster. The slot is
    claimed either way, so a worker that defers must send at ``until`` or waste the slot
    (never exceed the rate). Slots are spaced ``ceil(1e6 / rate)`` microseconds apart.
    """

    def __init__(
        self,
        store: SlotStore,
        rates: Mapping[str, float],
        *,
        default: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(store, SlotStore):
            raise ConfigurationError(f"{store!r} does not hand out send slots (no claim_slot)")
        if not isinstance(rates, Mapping):
            raise ConfigurationError(f"rates must map senders to rates, got {rates!r}")
        self.store = store
        self.rates = {str(k): _rate(v, f"rates[{k!r}]") for k, v in rates.items()}
        self.default = None if default is None else _rate(default, "default")
        self.clock: Clock = SystemClock() if clock is None else clock

    def __repr__(self) -> str:
        return f"SenderThroughput({self.store!r}, {self.rates!r}, default={self.default!r})"

    def rate(self, sender: str | None) -> float | None:
        """The sender's limit in messages per second, or None when it has none."""
        if sender is None:
            return None
        return self.rates.get(sender, self.default)

    def slot(self, sender: str, now: dt.datetime | None = None) -> dt.datetime:
        """Claim the sender's next free slot at or after ``now`` (the clock's now by
        default) and return it; a sender without a limit gets ``now``."""
        instant = ensure_aware(self.clock.now() if now is None else now, "now")
        rate = self.rate(sender)
        if rate is None:
            return instant
        interval = math.ceil(1_000_000 / rate)
        claimed = self.store.claim_slot(sender, now_us=_micros(instant), interval_us=interval)
        return _EPOCH + dt.timedelta(microseconds=claimed)

    def check(self, message: Message, now: dt.datetime | None = None) -> Decision:
        """ALLOW when the message's sender has a free slot now (claiming it), else DEFER to
        the slot claimed for it."""
        instant = ensure_aware(self.clock.now() if now is None else now, "now")
        sender = message.sender
        rate = self.rate(sender)
        if sender is None or rate is None:
            return allow()
        slot = self.slot(sender, instant)
        if slot <= instant:
            return allow()
        return defer(
            slot,
            Reason(
                "throughput.slot",
                "sender_throughput",
                f"the sender {sender} is limited to {rate:g} messages per second: its next "
                "free slot is later",
                data={"sender": sender, "rate": rate},
            ),
        )

    def wait(self, sender: str, *, sleep: Callable[[float], None] = time.sleep) -> dt.datetime:
        """Claim the sender's next slot and sleep until it; returns the slot."""
        now = ensure_aware(self.clock.now(), "clock.now()")
        slot = self.slot(sender, now)
        delay = (slot - now).total_seconds()
        if delay > 0:
            sleep(delay)
        return slot
