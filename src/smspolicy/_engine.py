"""The engine: resolves recipients, builds contexts, runs the policy, fails closed."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Literal, cast

import attrs
from phonenumbers import PhoneNumber

from . import i18n
from ._audit import Audit, run_audit
from ._cache import bounded
from ._clock import Clock, SystemClock
from ._compose import all_of
from ._context import ConsentView, Context, HistoryView
from ._fastpath import FastPath
from ._inbound import InboundResult, handle_inbound
from ._recipients import (
    DEFAULT_CACHE_SIZE,
    LineTypeLookup,
    Profile,
    ProfileSource,
    Recipient,
    Resolver,
    address_recipient,
)
from ._records import ConsentEvent, SendRecord
from ._reserve import DEFAULT_HOLD, Reservation, held_record, send_record, settle_all
from ._time import ensure_aware, ensure_duration
from ._values import (
    Decision,
    Message,
    Purpose,
    Verdict,
    check_address,
    check_text,
    checked_parts,
    defer,
    deny,
    iterate,
)
from .consent import DEFAULT_PENDING_EXPIRY, Ledger
from .errors import (
    ConfigurationError,
    InvalidInputError,
    InvalidNumberError,
    LineTypeLookupError,
    RuleError,
    StoreUnavailableError,
)
from .programs import Program, check_keywords
from .rules._caps import program_frequency
from .store import MemoryStore, Store, person_key
from .typing import Rule

__all__ = ["DEFAULT_HISTORY", "Engine"]

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

log = logging.getLogger("smspolicy")

DEFAULT_HISTORY = dt.timedelta(days=93)
"""How far back the engine reads sends for caps and dedupe, unless told otherwise."""

_BATCH = 512


def _profiles(value: object) -> Callable[[str], Profile | None]:
    if value is None:
        return lambda _number: None
    if isinstance(value, Mapping):
        mapping: Mapping[str, Profile] = value
        for key, profile in mapping.items():
            if not isinstance(profile, Profile):
                raise ConfigurationError(f"profiles[{key!r}] must be a Profile, got {profile!r}")
        return mapping.get
    if callable(value):
        return cast("Callable[[str], Profile | None]", value)
    raise ConfigurationError("profiles must be a mapping number -> Profile or a callable")


def required_history(rule: object, seen: set[int] | None = None) -> dt.timedelta:
    """The longest send history any rule inside ``rule`` needs (its ``lookback``), found by
    walking the combinators (``rules``, ``rule``, ``provisions``, ``caps``)."""
    seen = set() if seen is None else seen
    if id(rule) in seen:
        return dt.timedelta(0)
    seen.add(id(rule))
    needed = getattr(rule, "lookback", dt.timedelta(0))
    if not isinstance(needed, dt.timedelta):
        needed = dt.timedelta(0)
    for name in ("rules", "rule", "provisions", "caps"):
        inner = getattr(rule, name, None)
        if inner is None:
            continue
        for item in inner if isinstance(inner, tuple | list) else (inner,):
            parts = item if isinstance(item, tuple) else (item,)
            for part in parts:
                if not isinstance(part, str):
                    needed = max(needed, required_history(part, seen))
    return needed


def _store_failure(
    error: Exception, on_error: str, now: dt.datetime, retry: dt.timedelta
) -> Decision:
    reason = i18n.reason(
        "store.unavailable",
        "engine",
        _STORE_DOWN,
        error=f"{type(error).__name__}: {error}",
    )
    if on_error == "defer":
        return defer(now + retry, reason)
    return deny(reason)


class Engine:
    """Evaluates messages against a policy, with the records it needs from a store.

    Fail closed: a store error gives DENY ``store.unavailable`` (or DEFER with
    ``on_store_error="defer"``), never ALLOW; an invalid number gives DENY ``number.invalid``.
    ``trust_profile_zone=True`` lets a profile's zone replace the number's zones instead of
    joining them: a legal risk (see :class:`smspolicy.Resolver`).
    """

    def __init__(
        self,
        policy: Rule,
        store: Store | None = None,
        clock: Clock | None = None,
        *,
        profiles: ProfileSource | None = None,
        line_type_lookup: LineTypeLookup | None = None,
        default_region: str | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        history: dt.timedelta = DEFAULT_HISTORY,
        on_store_error: Literal["deny", "defer"] = "deny",
        store_retry: dt.timedelta = dt.timedelta(minutes=5),
        programs: Iterable[Program] = (),
        pending_expiry: dt.timedelta = DEFAULT_PENDING_EXPIRY,
        unclear_hold: dt.timedelta | None = None,
        trust_profile_zone: bool = False,
    ) -> None:
        if not callable(policy):
            raise ConfigurationError(f"policy must be a rule (a callable), got {policy!r}")
        if on_store_error not in ("deny", "defer"):
            raise ConfigurationError(
                f"on_store_error must be 'deny' or 'defer', got {on_store_error!r}"
            )
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigurationError(f"clock must have a now() method, got {clock!r}")
        self.policy = policy
        self.store: Store = MemoryStore() if store is None else store
        self.clock: Clock = SystemClock() if clock is None else clock
        self.resolver = Resolver(
            default_region=default_region,
            line_type_lookup=line_type_lookup,
            cache_size=cache_size,
            trust_profile_zone=trust_profile_zone,
        )
        self._profile = _profiles(profiles)
        self.on_store_error = on_store_error
        self.store_retry = store_retry
        self.programs = tuple(programs)
        for program in self.programs:
            if not isinstance(program, Program):
                raise ConfigurationError(f"programs must be Program values, got {program!r}")
        check_keywords(self.programs)
        senders: dict[tuple[str | None, Purpose], set[str]] = {}
        for program in self.programs:
            senders.setdefault((program.brand, program.purpose), set()).update(program.senders)
        self.senders = {key: frozenset(value) for key, value in senders.items()}
        self._topics = frozenset(p.topic_name for p in self.programs)
        # A program's declared frequency is a cap on its topic, whatever the policy says.
        self._rule: Rule = (
            all_of(policy, program_frequency(self.programs)) if self.programs else policy
        )
        # Read at least as far back as the policy's longest cap, dedupe or tier window, so no
        # rule ever counts over sends it was not given.
        self.history = ensure_duration(
            max(ensure_duration(history, "history"), required_history(self._rule)), "history"
        )
        self._fast = FastPath(self._rule)
        self.consent = Ledger(
            self,
            pending_expiry=ensure_duration(pending_expiry),
            unclear_hold=None if unclear_hold is None else ensure_duration(unclear_hold),
        )

    def address_of(self, number: str | PhoneNumber) -> str:
        """The E.164 form of a phone number (raises InvalidNumberError when it is not one)."""
        return self.resolver.number_facts(check_address(number)).e164

    def profile(self, address: str) -> Profile | None:
        """The recipient's profile, if the engine has one."""
        return self._profile(address)

    def programs_for(self, sender: str | None) -> tuple[Program, ...]:
        """The programs sent from ``sender`` (all programs when it is unknown or None)."""
        if sender is not None:
            matched = tuple(p for p in self.programs if sender in p.senders)
            if not matched:
                try:
                    e164 = self.address_of(sender)
                except InvalidNumberError:
                    e164 = None
                matched = tuple(p for p in self.programs if e164 in p.senders)
            if matched:
                return matched
        return self.programs

    def topics(self) -> frozenset[str]:
        """The topics of the engine's programs."""
        return self._topics

    def inbound(self, text: str, from_: str, *, to: str | None = None) -> InboundResult:
        """Handle an inbound text: classify it, write the ledger event durably *before*
        returning, and return the reply to send (the STOP confirmation always goes out)."""
        return handle_inbound(self, text, from_, check_text(to, "to", optional=True))

    def forget(self, number: str) -> None:
        """Erase the number's personal data, keeping a hashed suppression when it had opted
        out, so it stays opted out."""
        self.store.forget(self.address_of(number))
        self.resolver.clear()

    def record_sent(self, message: Message, *, provider_id: str | None = None) -> SendRecord:
        """Log a send that went out (for caps, dedupe and records)."""
        if not isinstance(message, Message):
            raise InvalidInputError(f"expected a smspolicy.Message, got {message!r}")
        check_text(provider_id, "provider_id", optional=True)
        address = self.address_of(message.to) if message.channel.is_phone else message.address
        return self.store.record_send(
            send_record(message, address, self.now(), provider_id=provider_id)
        )

    def __repr__(self) -> str:
        return f"Engine({self.policy!r}, store={self.store!r}, clock={self.clock!r})"

    def now(self) -> dt.datetime:
        """The engine clock's current instant, checked to be aware, in UTC."""
        return ensure_aware(self.clock.now(), "clock.now()")

    def recipient(self, message: Message) -> Recipient:
        """Resolve the message's recipient (cached per number); profiles are keyed by E.164."""
        if not message.channel.is_phone:
            return address_recipient(message.address, self._profile(message.address))
        facts = self.resolver.number_facts(message.to)
        return self.resolver.recipient(facts, self._profile(facts.e164))

    def evaluate(self, message: Message) -> Decision:
        """Decide one message now."""
        return next(self.evaluate_many([message]))

    def evaluate_many(self, messages: Iterable[Message]) -> Iterator[Decision]:
        """Decide many messages, reading the store in batches; yields in input order."""
        iterator = iterate(messages, "messages")
        while batch := list(itertools.islice(iterator, _BATCH)):
            yield from self._evaluate_batch(batch, self.now())

    def _evaluate_batch(self, batch: Sequence[Message], now: dt.datetime) -> list[Decision]:
        resolved = [self._resolve_or_deny(message) for message in batch]
        recipients = [r for r in resolved if isinstance(r, Recipient)]
        try:
            snapshot = self._prefetch(batch, recipients, now)
        except StoreUnavailableError as error:
            log.warning("store unavailable: %s", error)
            return [r if isinstance(r, Decision) else self._failed(error, now) for r in resolved]
        return [
            item
            if isinstance(item, Decision)
            else self._decide(message, snapshot.context(self, message, item, now))
            for message, item in zip(batch, resolved, strict=True)
        ]

    def _resolve_or_deny(self, message: Message) -> Recipient | Decision:
        if not isinstance(message, Message):
            raise InvalidInputError(f"expected a smspolicy.Message, got {message!r}")
        try:
            recipient = self.recipient(message)
            if not recipient.valid:
                return deny(i18n.reason("address.invalid", "engine", _EMPTY_ADDRESS))
            return recipient
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
            return deny(
                i18n.reason(
                    "lookup.unavailable",
                    "engine",
                    _LOOKUP_DOWN,
                    error=str(error),
                )
            )

    def _prefetch(
        self,
        batch: Sequence[Message],
        recipients: Sequence[Recipient],
        now: dt.datetime,
    ) -> _Snapshot:
        numbers = sorted({r.address for r in recipients})
        keys = {person_key(m.person) for m in batch if m.person} | set(numbers)
        try:
            at_once = getattr(self.store, "snapshot", None)
            if at_once is not None:
                consent, suppressed, sends, engaged = at_once(
                    numbers, sorted(keys), since=now - self.history
                )
                return _Snapshot(consent, suppressed, sends, engaged)
            return _Snapshot(
                consent=self.store.consent_events(numbers),
                suppressed=self.store.suppressed(numbers),
                sends=self.store.sends(sorted(keys), since=now - self.history),
                engagement=self.store.last_engagement(numbers),
            )
        except StoreUnavailableError:
            raise
        except Exception as error:  # any backend failure must fail closed
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error

    def reserve(self, message: Message, *, hold: dt.timedelta = DEFAULT_HOLD) -> Reservation:
        """Decide ``message`` and, when allowed, count it in the send log atomically: under the
        store's per-recipient lock the policy is re-run on fresh sends, so two workers can never
        both take the last slot of a cap. A message the policy does not allow on the sends read
        first is answered without the lock (a no takes no slot). Commit or release the
        returned reservation."""
        ensure_duration(hold, "hold")
        now = self.now()
        item = self._resolve_or_deny(message)
        if isinstance(item, Decision):
            return Reservation(item, None, self.store)
        return self._reserve_one(message, item, now, hold)

    def _reserve_one(
        self, message: Message, item: Recipient, now: dt.datetime, hold: dt.timedelta
    ) -> Reservation:
        decided: list[Decision] = []

        def decide(locked: list[SendRecord]) -> SendRecord | None:
            context = snapshot.context(self, message, item, now, locked)
            decided.append(self._decide(message, context))
            return held_record(message, item.address, now, hold) if decided[-1].allowed else None

        try:
            snapshot = self._prefetch([message], [item], now)
            first = self._decide(message, snapshot.context(self, message, item, now))
            if not first.allowed:  # a no needs no lock (see _without_lock)
                return Reservation(first, None, self.store)
            record = self.store.reserve(item.address, since=now - self.history, decide=decide)
        except RuleError:
            raise  # a broken rule is a bug to see, not a store outage
        except Exception as error:  # any backend failure must fail closed
            return Reservation(self._failed(error, now), None, self.store)
        return Reservation(decided[-1], record, self.store)

    def reserve_many(
        self, messages: Iterable[Message], *, hold: dt.timedelta = DEFAULT_HOLD
    ) -> list[Reservation]:
        """:meth:`reserve` for many messages at once, in input order, with the same guarantee
        for each: the store reads, locks and writes the whole batch in a few round trips when it
        can (:class:`smspolicy.store.BatchReservations`), and messages to the same number see
        each other's holds. Settle the results with :meth:`settle_many` (or one by one).

        A store failure fails the whole batch closed (``store.unavailable``); holds that landed
        before it stop counting when they expire.
        """
        ensure_duration(hold, "hold")
        batch = list(iterate(messages, "messages"))
        now = self.now()
        resolved = [self._resolve_or_deny(message) for message in batch]
        out = [
            Reservation(item, None, self.store) if isinstance(item, Decision) else None
            for item in resolved
        ]
        pending = [
            (index, message, item)
            for index, (message, item) in enumerate(zip(batch, resolved, strict=True))
            if isinstance(item, Recipient)
        ]
        many = getattr(self.store, "reserve_many", None)
        if many is None:  # a store without batches: one locked reservation per message
            for index, message, item in pending:
                out[index] = self._reserve_one(message, item, now, hold)
            return cast("list[Reservation]", out)
        if pending:
            self._reserve_batch(pending, out, now, hold, many)
        return cast("list[Reservation]", out)

    def _reserve_batch(
        self,
        pending: list[tuple[int, Message, Recipient]],
        out: list[Reservation | None],
        now: dt.datetime,
        hold: dt.timedelta,
        many: Callable[..., dict[str, list[SendRecord]]],
    ) -> None:
        by_number: dict[str, list[tuple[int, Message, Recipient]]] = {}
        for entry in pending:
            by_number.setdefault(entry[2].address, []).append(entry)
        decided: dict[int, Decision] = {}
        held: dict[int, SendRecord] = {}
        by_person: dict[str, list[int]] = {}
        for index, message, _item in pending:
            if message.person:
                by_person.setdefault(message.person, []).append(index)

        def decide(number: str, locked: list[SendRecord]) -> list[SendRecord]:
            sends, holds = list(locked), []
            for index, _message, _item in by_number[number]:
                held.pop(index, None)  # a store may ask again after a conflict
            for index, message, item in by_number[number]:
                # The holds this batch has made for the same person, on any number (the
                # person's index in the store was read before the batch).
                also = [held[i] for i in by_person.get(message.person or "", ()) if i in held]
                context = snapshot.context(self, message, item, now, sends, also)
                decision = decided[index] = self._decide(message, context)
                if decision.allowed:
                    record = held[index] = held_record(message, number, now, hold)
                    holds.append(record)
                    bisect.insort(sends, record, key=_send_order)  # later messages count it
            return holds

        try:
            snapshot = self._prefetch([m for _, m, _ in pending], [r for _, _, r in pending], now)
            for number in _without_lock(self, snapshot, by_number, decided, now):
                del by_number[number]
            stored = (
                many(list(by_number), since=now - self.history, decide=decide) if by_number else {}
            )
        except RuleError:
            raise
        except Exception as error:  # any backend failure must fail closed
            failed = self._failed(error, now)
            for index, _, _ in pending:
                out[index] = Reservation(failed, None, self.store)
            return
        for index, _, item in pending:
            record, decision = held.get(index), decided.get(index)
            kept = {r.id for r in stored.get(item.address, ())}
            if decision is None or (record is not None and record.id not in kept):
                # A store that skipped a number, or dropped its hold, must not pass as allowed.
                lost = StoreUnavailableError(f"the store did not keep the hold for {item.address}")
                out[index] = Reservation(self._failed(lost, now), None, self.store)
            else:
                out[index] = Reservation(decision, record, self.store)

    def settle_many(self, settlements: Iterable[tuple[Reservation, str | None, bool]]) -> None:
        """Settle many reservations in one store call: each item is ``(reservation,
        provider_id, sent)``, as :meth:`Reservation.commit` (sent) or
        :meth:`Reservation.release` (not sent). Nothing is settled if any item cannot be."""
        settle_all(self.store, list(settlements))

    def record_engagement(self, number: str, *, kind: str = "reply") -> None:
        """Note that the recipient engaged (replied, clicked...) now."""
        check_text(kind, "kind")
        self.store.record_engagement(self.address_of(number), at=self.now(), kind=kind)

    def audit(
        self,
        now: dt.datetime,
        *,
        every: dt.timedelta,
        unengaged_after: dt.timedelta | None = None,
    ) -> Audit:
        """List the subscribers due a reminder of their subscription (none in ``every``) and,
        with ``unengaged_after``, those silent that long."""
        return run_audit(self, ensure_aware(now, "now"), every, unengaged_after)

    def _decide(self, message: Message, context: Context) -> Decision:
        try:
            decision = self._fast(message, context)
        except StoreUnavailableError as error:
            return self._failed(error, context.now)
        return _with_zone(decision, context.recipient)

    def _failed(self, error: Exception, now: dt.datetime) -> Decision:
        return _store_failure(error, self.on_store_error, now, self.store_retry)


def _without_lock(
    engine: Engine,
    snapshot: _Snapshot,
    by_number: Mapping[str, list[tuple[int, Message, Recipient]]],
    decided: dict[int, Decision],
    now: dt.datetime,
) -> list[str]:
    """The numbers of a batch answered from the snapshot alone: those with one message, which
    the policy does not allow on the sends read with the rest of the batch's records. A no
    decided on what the store held at that read is as true as one decided under the lock a
    moment later (the lock only guards a slot being taken), so it holds nothing and takes no
    lock. A yes, and numbers with several messages (which see each other's holds), are decided
    again under the lock."""
    answered: list[str] = []
    for number, entries in by_number.items():
        if len(entries) != 1:
            continue
        index, message, item = entries[0]
        decision = engine._decide(message, snapshot.context(engine, message, item, now))
        if not decision.allowed:
            decided[index] = decision
            answered.append(number)
    return answered


@attrs.frozen
class _Snapshot:
    """What the store said about a batch of recipients, read in one go."""

    consent: Mapping[str, list[ConsentEvent]]
    suppressed: set[str]
    sends: Mapping[str, list[SendRecord]]
    engagement: Mapping[str, dt.datetime | None]

    def context(
        self,
        engine: Engine,
        message: Message,
        recipient: Recipient,
        now: dt.datetime,
        locked_sends: Sequence[SendRecord] | None = None,
        also: Sequence[SendRecord] = (),
    ) -> Context:
        """The context for one message; ``locked_sends`` replaces the number's own sends with
        those read under a reservation's lock, and ``also`` adds the person's holds made since
        the snapshot was read."""
        own = self.sends.get(recipient.address, ()) if locked_sends is None else locked_sends
        sends: Sequence[SendRecord] = own
        if message.person:
            records = {r.id: r for r in own}
            records.update({r.id: r for r in self.sends.get(person_key(message.person), ())})
            records.update({r.id: r for r in also})
            # Two sorted lists merged: keep the view's promise of oldest first.
            sends = sorted(records.values(), key=lambda r: (r.at, r.id))
        return Context(
            now=now,
            recipient=recipient,
            consent=ConsentView(
                events=self.consent.get(recipient.address, ()),
                suppressed=recipient.address in self.suppressed,
            ),
            history=HistoryView(sends=sends, since=now - engine.history),
            profile=engine.profile(recipient.address),
            engagement=self.engagement.get(recipient.address),
            senders=engine.senders,
        )


def _send_order(record: SendRecord) -> tuple[dt.datetime, str]:
    return (record.at, record.id)


def _with_zone(decision: Decision, recipient: Recipient) -> Decision:
    if decision.zone is not None or len(recipient.zones) != 1:
        return decision
    zone = recipient.zones[0]
    if decision.verdict is Verdict.DEFER:  # a deferral's instant is its own: nothing to share
        return checked_parts(decision.verdict, decision.until, decision.reasons, zone)
    # Shared decisions (the plain ALLOW, a combined DENY) get one zoned copy per zone; the
    # decision is kept with its copy, so its id cannot be reused meanwhile.
    key = (id(decision), zone)
    _kept, zoned = _ZONED.get(key) or bounded(_ZONED, key, 4096, _zoned, decision, zone)
    return zoned


def _zoned(decision: Decision, zone: str) -> tuple[Decision, Decision]:
    return decision, checked_parts(decision.verdict, decision.until, decision.reasons, zone)


_ZONED: dict[tuple[int, str], tuple[Decision, Decision]] = {}
