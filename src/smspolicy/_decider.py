"""The decider: a policy (through its fast path), the contexts it reads, and failing closed.

It reads no clock and writes nothing: it is given the instant, the recipient and a snapshot of
their records, and returns decisions. The engine, the reservations and the guards all decide
through it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from . import i18n
from ._compose import lookback_of
from ._context import ConsentView, Context, HistoryView
from ._fastpath import FastPath
from ._memo import MISSING, Memo, Seen
from ._recipients import Profile, Recipient, Resolver, address_recipient, stop_key
from ._records import ConsentEvent, SendRecord
from ._values import Channel, Decision, Message, Purpose, Verdict, checked_parts, defer, deny
from .consent import person_key
from .errors import (
    InvalidAddressError,
    InvalidInputError,
    InvalidNumberError,
    LineTypeLookupError,
    StoreUnavailableError,
)
from .programs import Program
from .store import Snapshot, Store
from .store._base import merged_sends
from .typing import Rule

__all__ = ["Decider", "read_snapshot", "required_history"]

_STORE_DOWN = i18n.register_template(
    "store.unavailable",
    "the store could not be read, so the message is held back (fail closed)",
)
_INVALID_NUMBER = i18n.register_template(
    "number.invalid",
    "the destination is not a valid phone number",
)
_LOOKUP_DOWN = i18n.register_template(
    "lookup.unavailable",
    "the line-type lookup failed, so the message is held back (fail closed)",
)
_EMPTY_ADDRESS = i18n.register_template(
    "address.invalid",
    "the destination address is empty",
)


_BAD_ADDRESS = i18n.register_template(
    "address.malformed",
    "the destination is not a valid {channel} address",
)


def required_history(rule: object) -> dt.timedelta:
    """The longest send history any rule inside ``rule`` needs, as the rule (and each
    combinator, for the rules inside it) says through ``lookback()``."""
    return lookback_of(rule)


def read_snapshot(
    store: Store,
    messages: Sequence[Message],
    recipients: Sequence[Recipient],
    since: dt.datetime,
) -> Snapshot:
    """The records of a batch's recipients and persons, read in one call; any backend failure
    becomes :class:`StoreUnavailableError` (the caller fails closed)."""
    # One loop each, no comprehensions: a message decided alone reads a snapshot of its own.
    people: set[str] = set()
    for message in messages:
        if message.person:
            people.add(message.person)
    persons = sorted(people)
    keys: set[str] = set()
    for recipient in recipients:
        keys.add(recipient.address)
        if recipient.e164 is None:
            # An email address's revocations are also kept under the key every spelling of
            # its local part shares (see smspolicy._recipients.stop_key): read with its own.
            shared = stop_key(recipient.address)
            if shared is not None:
                keys.add(shared)
    # A person's own consent events (a person-level "stop everything") are read with the
    # addresses': their keys cannot be an address (see smspolicy.consent.person_key).
    for person in persons:
        keys.add(person_key(person))
    numbers = sorted(keys)
    try:
        return store.snapshot(numbers, persons=persons, since=since)
    except StoreUnavailableError:
        raise
    except Exception as error:  # any backend failure must fail closed
        raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error


class Decider:
    """Decides messages for one policy: resolves recipients, builds their contexts from a
    snapshot, runs the policy through its fast path, and turns store failures into
    ``store.unavailable`` decisions (DENY, or DEFER by ``on_store_error``)."""

    __slots__ = (
        "_fast",
        "_verified",
        "_zoned",
        "history",
        "memo",
        "on_store_error",
        "profile",
        "programs",
        "resolver",
        "rule",
        "senders",
        "store_retry",
    )

    def __init__(
        self,
        rule: Rule,
        *,
        resolver: Resolver,
        profile: Callable[[str], Profile | None],
        history: dt.timedelta,
        senders: Mapping[tuple[str | None, Purpose], frozenset[str]],
        on_store_error: Literal["deny", "defer"] = "deny",
        store_retry: dt.timedelta = dt.timedelta(minutes=5),
        programs: tuple[Program, ...] = (),
    ) -> None:
        self.rule = rule
        self.programs = programs
        self._fast = FastPath(rule)
        self.memo = Memo(65536)
        """What the policy's rules share across decisions (``Context.shared``)."""
        self._verified = Seen()  # consent events whose hash was checked, while they live
        self._zoned = Memo(4096)
        self.resolver = resolver
        self.profile = profile
        self.history = history
        self.senders = senders
        self.on_store_error = on_store_error
        self.store_retry = store_retry

    def recipient(self, message: Message) -> Recipient:
        """Resolve the message's recipient (cached per number); profiles are keyed by E.164,
        and the message's own facts (``Message.recipient``) are laid over the profile's. An
        email, push or in-app address has no place of its own: its profile is the one keyed by
        the address (normal form, else as spelled), else by the message's person."""
        if not message.channel.is_phone:
            if not message.address.strip():
                return address_recipient("")  # not valid: denied ``address.invalid``
            address = self.resolver.address_for(message.to, message.channel)
            profile = self.profile(address)
            if profile is None and address != message.address.strip():
                profile = self.profile(message.address.strip())  # keyed as the sender spells it
            if profile is None and message.person:
                profile = self.profile(message.person)  # the person's own profile
            return address_recipient(address, profile, message.recipient)
        facts = self.resolver.number_facts(message.to)
        return self.resolver.recipient(facts, self.profile(facts.e164), message.recipient)

    def resolve(self, message: Message) -> Recipient | Decision:
        """The message's recipient, or the DENY of an address that cannot be one."""
        if not isinstance(message, Message):
            raise InvalidInputError(f"expected a smspolicy.Message, got {message!r}")
        try:
            recipient = self.recipient(message)
            if not recipient.valid:
                return deny(i18n.reason("address.invalid", "engine", _EMPTY_ADDRESS))
            return recipient
        except InvalidAddressError as error:
            return deny(
                i18n.reason(
                    "address.malformed",
                    "engine",
                    _BAD_ADDRESS,
                    channel=message.channel.value,
                    to=message.address[:64],
                    detail=str(error),
                )
            )
        except InvalidNumberError as error:
            return deny(
                i18n.reason(
                    "number.invalid",
                    "engine",
                    _INVALID_NUMBER,
                    to=message.address[:64],
                    detail=str(error),
                )
            )
        except LineTypeLookupError as error:
            return deny(i18n.reason("lookup.unavailable", "engine", _LOOKUP_DOWN, error=str(error)))

    def context(
        self,
        snapshot: Snapshot,
        message: Message,
        recipient: Recipient,
        now: dt.datetime,
        locked: Sequence[SendRecord] | None = None,
    ) -> Context:
        """The context for one message: its recipient's records from ``snapshot``, and as its
        history the sends of its address and of its person, or ``locked``, those read under a
        reservation's lock (which already hold both)."""
        address = recipient.address
        person = message.person
        if locked is not None:
            sends: Sequence[SendRecord] = locked
        else:
            sends = snapshot.sends.get(address, ())
            if person:
                sends = merged_sends(sends, snapshot.person_sends.get(person, ()))
        consent = snapshot.consent
        suppressed = address in snapshot.suppressed
        shared = stop_key(address) if message.channel is _EMAIL else None
        shared_events: Sequence[ConsentEvent] = ()
        if shared is not None:
            suppressed = suppressed or shared in snapshot.suppressed
            shared_events = consent.get(shared, ())
        return Context(
            now=now,
            recipient=recipient,
            consent=ConsentView(
                events=consent.get(address, ()),
                person_events=consent.get(person_key(person), ()) if person else (),
                suppressed=suppressed,
                verified=self._verified,
                shared_events=shared_events,
            ),
            history=HistoryView(sends=sends, since=now - self.history),
            profile=self.profile(address),
            engagement=snapshot.engagement.get(address),
            senders=self.senders,
            programs=self.programs,
            shared=self.memo,
        )

    def decide(self, message: Message, context: Context) -> Decision:
        """The policy's decision for ``message`` in ``context`` (a store failure inside a
        rule fails closed)."""
        try:
            decision = self._fast(message, context)
        except StoreUnavailableError as error:
            return self.failed(error, context.now)
        return self._with_zone(decision, context.recipient)

    def failed(self, error: Exception, now: dt.datetime) -> Decision:
        """The decision when the store failed: DENY ``store.unavailable``, or DEFER it by
        ``store_retry`` with ``on_store_error="defer"``."""
        reason = i18n.reason(
            "store.unavailable",
            "engine",
            _STORE_DOWN,
            error=f"{type(error).__name__}: {error}",
        )
        if self.on_store_error == "defer":
            return defer(now + self.store_retry, reason)
        return deny(reason)

    def _with_zone(self, decision: Decision, recipient: Recipient) -> Decision:
        """``decision`` with the recipient's zone, when it has exactly one and none is set."""
        if decision.zone is not None or len(recipient.zones) != 1:
            return decision
        zone = recipient.zones[0]
        if decision.verdict is Verdict.DEFER:  # a deferral's instant is its own
            return checked_parts(decision.verdict, decision.until, decision.reasons, zone)
        # Shared decisions (the plain ALLOW, a combined DENY) get one zoned copy per zone; the
        # decision is kept with its copy, so its id cannot be reused meanwhile.
        key = (id(decision), zone)
        found: tuple[Decision, Decision] = self._zoned.entries.get(key, MISSING)  # type: ignore[assignment]
        if found is MISSING:  # a hit, the usual case, costs one call
            found = self._zoned.get(key, _zoned, decision, zone)
        _kept, zoned = found
        return zoned

    def __repr__(self) -> str:
        return f"Decider({self.rule!r})"


_EMAIL = Channel.EMAIL  # a module name: the enum's attribute is looked up for every message


def _zoned(decision: Decision, zone: str) -> tuple[Decision, Decision]:
    return decision, checked_parts(decision.verdict, decision.until, decision.reasons, zone)
