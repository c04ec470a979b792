"""The engine: resolves recipients, builds contexts, runs the policy, fails closed."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Literal, cast

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
from ._records import SendRecord
from ._reserve import DEFAULT_HOLD, Reservation, Settler, held_record, send_record, settle_all
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
from .store import Counters, MemoryStore, Snapshot, Store
from .store._base import merged_sends, missing_methods, send_order
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


def _not_a_store(store: object) -> str:
    """Why ``store`` cannot be an engine's store."""
    if isinstance(store, Counters):
        return (
            f"{store!r} holds sends and counters but no consent ledger, so the engine could "
            "decide nothing: pair it with a ledger, e.g. "
            "ComposedStore(PostgresStore(dsn), RedisStore(url))"
        )
    missing = ", ".join(missing_methods(store, Store))
    return (
        f"store must be a smspolicy.store.Store (subclass it to get the optional methods), "
        f"got {store!r}, which lacks: {missing}"
    )


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
        if store is not None and not isinstance(store, Store):
            raise ConfigurationError(_not_a_store(store))
        self.policy = policy
        self.store: Store = MemoryStore() if store is None else store
        self.clock: Clock = SystemClock() if clock is None else clock
        self._settler = Settler(self.store, self.now, self._recount)
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
            else self._decide(message, self._context(snapshot, message, item, now))
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
    ) -> Snapshot:
        numbers = sorted({r.address for r in recipients})
        persons = sorted({m.person for m in batch if m.person})
        try:
            return self.store.snapshot(numbers, persons=persons, since=now - self.history)
        except StoreUnavailableError:
            raise
        except Exception as error:  # any backend failure must fail closed
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error

    def _context(
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
        if locked is not None:
            sends: Sequence[SendRecord] = locked
        else:
            sends = snapshot.sends.get(recipient.address, ())
            if message.person:
                sends = merged_sends(sends, snapshot.person_sends.get(message.person, ()))
        return Context(
            now=now,
            recipient=recipient,
            consent=ConsentView(
                events=snapshot.consent.get(recipient.address, ()),
                suppressed=recipient.address in snapshot.suppressed,
            ),
            history=HistoryView(sends=sends, since=now - self.history),
            profile=self.profile(recipient.address),
            engagement=snapshot.engagement.get(recipient.address),
            senders=self.senders,
        )

    def reserve(self, message: Message, *, hold: dt.timedelta = DEFAULT_HOLD) -> Reservation:
        """Decide ``message`` and, when allowed, count it in the send log atomically: under the
        store's lock on the recipient's address and on its person (``Message.person``: every
        address and channel of that person) the policy is re-run on fresh sends, so two workers
        can never both take the last slot of a cap. A message the policy does not allow on the
        sends read first is answered without the lock (a no takes no slot). Commit or release
        the returned reservation."""
        ensure_duration(hold, "hold")
        now = self.now()
        item = self._resolve_or_deny(message)
        if isinstance(item, Decision):
            return Reservation(item, None, self._settler)
        return self._reserve_one(message, item, now, hold)

    def _reserve_one(
        self, message: Message, item: Recipient, now: dt.datetime, hold: dt.timedelta
    ) -> Reservation:
        decided: list[Decision] = []

        def decide(locked: list[SendRecord]) -> SendRecord | None:
            context = self._context(snapshot, message, item, now, locked)
            decided.append(self._decide(message, context))
            return held_record(message, item.address, now, hold) if decided[-1].allowed else None

        try:
            snapshot = self._prefetch([message], [item], now)
            first = self._decide(message, self._context(snapshot, message, item, now))
            if not first.allowed:  # a no needs no lock (see _without_lock)
                return Reservation(first, None, self._settler)
            record = self.store.reserve(
                item.address,
                since=now - self.history,
                decide=decide,
                persons=(message.person,) if message.person else (),
            )
        except RuleError:
            raise  # a broken rule is a bug to see, not a store outage
        except Exception as error:  # any backend failure must fail closed
            return Reservation(self._failed(error, now), None, self._settler)
        return Reservation(decided[-1], record, self._settler, message=message, recipient=item)

    def reserve_many(
        self, messages: Iterable[Message], *, hold: dt.timedelta = DEFAULT_HOLD
    ) -> list[Reservation]:
        """:meth:`reserve` for many messages at once, in input order, with the same guarantee
        for each: the store reads, locks and writes the whole batch in a few round trips
        (:meth:`smspolicy.store.Reservations.reserve_many`), and messages to the same address,
        or to the same person on any address, see each other's holds. Settle the results with
        :meth:`settle_many` (or one by one).

        A store failure fails the whole batch closed (``store.unavailable``); holds that landed
        before it stop counting when they expire.
        """
        ensure_duration(hold, "hold")
        batch = list(iterate(messages, "messages"))
        now = self.now()
        resolved = [self._resolve_or_deny(message) for message in batch]
        out = [
            Reservation(item, None, self._settler) if isinstance(item, Decision) else None
            for item in resolved
        ]
        pending = [
            (index, message, item)
            for index, (message, item) in enumerate(zip(batch, resolved, strict=True))
            if isinstance(item, Recipient)
        ]
        if pending:
            self._reserve_batch(pending, out, now, hold)
        return cast("list[Reservation]", out)

    def _reserve_batch(
        self,
        pending: list[tuple[int, Message, Recipient]],
        out: list[Reservation | None],
        now: dt.datetime,
        hold: dt.timedelta,
    ) -> None:
        by_number: dict[str, list[tuple[int, Message, Recipient]]] = {}
        for entry in pending:
            by_number.setdefault(entry[2].address, []).append(entry)
        decided: dict[int, Decision] = {}
        held: dict[int, SendRecord] = {}
        persons: dict[str, set[str]] = {}
        for _index, message, item in pending:
            if message.person:
                persons.setdefault(item.address, set()).add(message.person)

        def decide(number: str, locked: list[SendRecord]) -> list[SendRecord]:
            sends, holds = list(locked), []
            for index, _message, _item in by_number[number]:
                held.pop(index, None)  # a store may ask again after a conflict
            for index, message, item in by_number[number]:
                view = sends
                if number in persons:  # only this address's sends and this message's person's
                    view = [
                        r
                        for r in sends
                        if r.number == number or (r.person and r.person == message.person)
                    ]
                context = self._context(snapshot, message, item, now, view)
                decision = decided[index] = self._decide(message, context)
                if decision.allowed:
                    record = held[index] = held_record(message, number, now, hold)
                    holds.append(record)
                    bisect.insort(sends, record, key=send_order)  # later messages count it
            return holds

        try:
            snapshot = self._prefetch([m for _, m, _ in pending], [r for _, _, r in pending], now)
            for number in self._without_lock(snapshot, by_number, decided, now):
                del by_number[number]
            stored = (
                self.store.reserve_many(
                    list(by_number), since=now - self.history, decide=decide, persons=persons
                )
                if by_number
                else {}
            )
        except RuleError:
            raise
        except Exception as error:  # any backend failure must fail closed
            failed = self._failed(error, now)
            for index, _, _ in pending:
                out[index] = Reservation(failed, None, self._settler)
            return
        for index, message, item in pending:
            record, decision = held.get(index), decided.get(index)
            kept = {r.id for r in stored.get(item.address, ())}
            if decision is None or (record is not None and record.id not in kept):
                # A store that skipped a number, or dropped its hold, must not pass as allowed.
                lost = StoreUnavailableError(f"the store did not keep the hold for {item.address}")
                out[index] = Reservation(self._failed(lost, now), None, self._settler)
            else:
                out[index] = Reservation(
                    decision, record, self._settler, message=message, recipient=item
                )

    def _without_lock(
        self,
        snapshot: Snapshot,
        by_number: Mapping[str, list[tuple[int, Message, Recipient]]],
        decided: dict[int, Decision],
        now: dt.datetime,
    ) -> list[str]:
        """The numbers of a batch answered from the snapshot alone: those with one message,
        which the policy does not allow on the sends read with the rest of the batch's records.
        A no decided on what the store held at that read is as true as one decided under the
        lock a moment later (the lock only guards a slot being taken), so it holds nothing and
        takes no lock. A yes, and numbers with several messages (which see each other's
        holds), are decided again under the lock."""
        answered: list[str] = []
        for number, entries in by_number.items():
            if len(entries) != 1:
                continue
            index, message, item = entries[0]
            decision = self._decide(message, self._context(snapshot, message, item, now))
            if not decision.allowed:
                decided[index] = decision
                answered.append(number)
        return answered

    def _recount(
        self, items: Sequence[tuple[Reservation, str | None]], now: dt.datetime
    ) -> list[Reservation]:
        """Commit holds that expired before their commit: each is decided again, under the
        store's lock on its address and person, on the sends there now (a hold that expired no
        longer counts, so another message may have taken its slot). Those the policy still
        allows are counted as sent; the others' holds are dropped and they are returned."""
        refused: list[Reservation] = []
        for reservation, provider_id in items:
            record, message, item = reservation.record, reservation.message, reservation._recipient
            if record is None or message is None or item is None:
                raise InvalidInputError(f"{reservation!r} holds nothing to commit")
            if not self._recount_one(record, message, item, provider_id, now):
                refused.append(reservation)
        return refused

    def _recount_one(
        self,
        record: SendRecord,
        message: Message,
        item: Recipient,
        provider_id: str | None,
        now: dt.datetime,
    ) -> bool:
        decided: list[Decision | None] = []

        def decide(locked: list[SendRecord]) -> SendRecord | None:
            if all(r.id != record.id for r in locked):
                decided.append(None)  # forgotten meanwhile, or older than the history read
                return None
            others = [r for r in locked if r.id != record.id]
            decision = self._decide(message, self._context(snapshot, message, item, now, others))
            decided.append(decision)
            return record.as_sent(provider_id) if decision.allowed else None

        snapshot = self._prefetch([message], [item], now)
        persons = (message.person,) if message.person else ()
        self.store.reserve(item.address, since=now - self.history, decide=decide, persons=persons)
        last = decided[-1]
        if last is None:  # nothing to count against: settle it as any commit
            self.store.settle(record, provider_id=provider_id, sent=True)
            return True
        if last.allowed:
            return True
        self.store.settle(record, provider_id=None, sent=False)
        return False

    def settle_many(self, settlements: Iterable[tuple[Reservation, str | None, bool]]) -> None:
        """Settle many reservations in one store call: each item is ``(reservation,
        provider_id, sent)``, as :meth:`Reservation.commit` (sent) or
        :meth:`Reservation.release` (not sent). Nothing is settled if any item cannot be."""
        settle_all(self._settler, list(settlements))

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
