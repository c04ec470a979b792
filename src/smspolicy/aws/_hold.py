"""Holding deferred addresses in an outbox, and releasing them through a guard."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._values import Decision, Message, Verdict
from ..errors import ConfigurationError
from ._delivery import Delivery
from ._outcomes import Outcome, from_decision

if TYPE_CHECKING:
    from ..outbox import Outbox, Release

__all__ = ["NotSent", "check_outbox", "hold_key", "hold_outcome", "release_once"]

log = logging.getLogger("smspolicy.aws")


class NotSent(Exception):
    """Raised to the outbox by a guard's release sender when AWS's answer proves the message
    did not go out (throttled, refused, opted out): the outbox holds it again and decides it
    anew at the next try (an opted-out number is then dropped by the policy)."""


def check_outbox(outbox: object) -> Outbox | None:
    """The guard's ``outbox=`` argument, checked."""
    if outbox is None:
        return None
    from ..outbox import Outbox

    if not isinstance(outbox, Outbox):
        raise ConfigurationError(f"outbox must be a smspolicy.outbox.Outbox, got {outbox!r}")
    return outbox


def hold_key(idempotency_key: str | None, address: str) -> str | None:
    """The outbox key of one address of a guard call: derived from the call's idempotency key
    (so a repeated call holds nothing twice); without one, the outbox picks a fresh key."""
    if idempotency_key is None:
        return None
    return f"{idempotency_key}|{address}"


def hold_outcome(
    outbox: Outbox | None,
    message: Message,
    decision: Decision,
    payload: Mapping[str, Any],
    key: str | None,
) -> Outcome:
    """The outcome of an address the policy did not allow; a DEFER is held in ``outbox``
    (when there is one) and reported with the hold's id and instant."""
    outcome = from_decision(decision)
    if outbox is None or decision.verdict is not Verdict.DEFER or decision.until is None:
        return outcome
    try:
        held = outbox.hold(message, decision, payload=dict(payload), key=key)
    except Exception as error:  # not held: the caller keeps the deferral, as without an outbox
        log.error("could not hold the deferred message to %s: %r", message.address, error)
        return attrs.evolve(outcome, store_error=f"not held: {type(error).__name__}: {error}")
    return attrs.evolve(outcome, hold_id=held.id, held_until=held.due)


def release_once(
    guard: Any,
    release: Release,
    send: Callable[[Mapping[str, Any]], tuple[Delivery, str | None, str]],
    source: str,
) -> str | None:
    """Send one released message through ``send`` (one AWS request for the held payload) at
    most once. The outbox has already decided it and records the send itself, so nothing is
    recorded here. The hold's key is the guard's idempotency key: an earlier try that sent or
    may have sent is not repeated (its provider id, if any, is returned)."""
    stored = guard.recall(release.key)
    if stored is not None and stored.get("state") != "not_sent":
        return None if stored.get("message_id") is None else str(stored["message_id"])
    message = release.message
    number = guard.normalise(message.address, message.channel)
    blocked = number in guard.blocked()
    guard.replay()
    if blocked:  # the outbox decided without it: decide again once it is written
        raise NotSent(f"a send to or an opt-out of {number} was not in the store yet")
    if not isinstance(release.payload, Mapping):
        raise NotSent(f"the held payload is not a guard's request: {release.payload!r}")
    guard.remember(release.key, {"state": "started"})
    try:
        delivery, message_id, text = send(release.payload)
    except NotSent:  # refused before any request went out
        guard.remember(release.key, {"state": "not_sent"})
        raise
    if delivery in (Delivery.ACCEPTED, Delivery.UNKNOWN):
        guard.remember(release.key, {"state": delivery.value, "message_id": message_id})
        return message_id
    guard.remember(release.key, {"state": "not_sent"})
    if delivery is Delivery.OPTED_OUT:
        store_error = guard.opted_out(number, message.brand, source, channel=message.channel)
        if store_error is not None:
            text = f"{text} ({store_error})"
    raise NotSent(text)
