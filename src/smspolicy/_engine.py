"""The engine: the facade users call, over a decider, reservations, a ledger and an inbound
handler, each given only the few things it uses (store, clock, resolver, programs)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Literal, TypeGuard, cast

import attrs
from phonenumbers import PhoneNumber

from ._audit import Audit, run_audit
from ._clock import CheckedClock, Clock, SystemClock
from ._compose import all_of
from ._decider import Decider, read_snapshot, required_history
from ._inbound import InboundHandler, InboundResult, programs_for
from ._recipients import (
    DEFAULT_CACHE_SIZE,
    LineTypeLookup,
    Profile,
    ProfileSource,
    Recipient,
    Resolver,
    address_channel,
    stop_key,
)
from ._records import SendRecord
from ._reserve import DEFAULT_HOLD, Reservation, Reserver, send_record, settle_all
from ._time import ensure_aware, ensure_duration
from ._values import Channel, Decision, Message, Purpose, check_text, iterate, to_enum
from .consent import DEFAULT_PENDING_EXPIRY, Ledger
from .errors import (
    ConfigurationError,
    InvalidInputError,
    InvalidNumberError,
    LineTypeLookupError,
    StoreUnavailableError,
)
from .programs import Program, check_keywords
from .rules._caps import program_frequency
from .store import ComposedStore, Counters, MemoryStore, Store
from .store._base import missing_methods
from .store._profiles import ProfileStore, StoredProfiles, layered
from .typing import Rule

__all__ = ["DEFAULT_HISTORY", "Engine", "required_history"]

log = logging.getLogger("smspolicy")

DEFAULT_HISTORY = dt.timedelta(days=93)
"""How far back the engine reads sends for caps and dedupe, unless told otherwise."""

_BATCH = 512
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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


def linked_addresses(store: Store, person: str) -> list[tuple[str, Channel]]:
    """Every address (with its channel) the send log holds a send of ``person`` to, of any
    age: the addresses a person-level "stop everything" reaches besides those named."""
    found = store.person_sends([person], since=_EPOCH).get(person, [])
    return sorted({(record.number, record.channel) for record in found})


def _stop_channel(value: object) -> Channel | None:
    if value is None:
        return None
    channel = to_enum(Channel, value, ConfigurationError)
    if not channel.is_phone:
        raise ConfigurationError(
            f"stop_channel must be a phone channel (sms, mms, voice) or None, got {value!r}"
        )
    return channel


def _keeps_profiles(store: Store) -> TypeGuard[ProfileStore]:
    """True when ``store`` keeps profiles: it is a :class:`ProfileStore` and, made of parts,
    one of its parts is one."""
    if isinstance(store, ComposedStore):
        return any(isinstance(part, ProfileStore) for part in (store.ledger, store.counters))
    return isinstance(store, ProfileStore)


def _locale_only(
    profile: Callable[[str], Profile | None],
) -> Callable[[str], Profile | None]:
    """The profile source of the inbound handler, which reads only a reply's language: when the
    store cannot be read, the reply goes out in the default language rather than not at all
    (the ledger event is already written)."""

    def read(address: str) -> Profile | None:
        try:
            return profile(address)
        except StoreUnavailableError:
            return None

    return read


def _check_messages(batch: Sequence[object]) -> None:
    for message in batch:
        if not isinstance(message, Message):
            raise InvalidInputError(f"expected a smspolicy.Message, got {message!r}")


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


class Engine:
    """Evaluates messages against a policy, with the records it needs from a store.

    Fail closed: a store error gives DENY ``store.unavailable`` (or DEFER with
    ``on_store_error="defer"``), never ALLOW; an invalid number gives DENY ``number.invalid``.
    ``trust_profile_zone=True`` lets a profile's zone replace the number's zones instead of
    joining them: a legal risk (see :class:`smspolicy.Resolver`). ``stop_channel`` is what an
    inbound STOP revokes: every channel of the number (None, the default: SMS, MMS and voice)
    or one (``"sms"``: texts, SMS and MMS, leaving a consent for calls).

    Profiles: when the store keeps profiles (:class:`smspolicy.store.ProfileStore`, as every
    store of the library does) the engine reads each recipient's profile and person link from
    it by itself. An explicit ``profiles=`` source is merged with the stored one field by
    field: the explicit source's fields win, the store fills those it leaves unset. A message
    without ``person`` gets the person stored for its address, so person-scoped caps and
    dedupe count every address of an imported person. A message's own facts
    (``Message.recipient``) are laid over both and only add zones and jurisdictions.

    The engine is a facade: deciding is its decider's (policy, fast path, contexts),
    reservations its reserver's (decider, store, clock), the consent API its ledger's (store,
    clock, addresses, topics) and inbound texts its inbound handler's.
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
        stop_channel: Channel | str | None = None,
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
        self._clock = CheckedClock(SystemClock() if clock is None else clock)
        self.resolver = Resolver(
            default_region=default_region,
            line_type_lookup=line_type_lookup,
            cache_size=cache_size,
            trust_profile_zone=trust_profile_zone,
        )
        self._stored = StoredProfiles(self.store) if _keeps_profiles(self.store) else None
        explicit = _profiles(profiles)
        if self._stored is None:
            self._profile = explicit
        elif profiles is None:
            self._profile = self._stored
        else:
            self._profile = layered(explicit, self._stored)
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
        rule: Rule = all_of(policy, program_frequency(self.programs)) if self.programs else policy
        # Read at least as far back as the policy's longest cap, dedupe or tier window, so no
        # rule ever counts over sends it was not given.
        self.history = ensure_duration(
            max(ensure_duration(history, "history"), required_history(rule)), "history"
        )
        self._decider = Decider(
            rule,
            resolver=self.resolver,
            profile=self._profile,
            history=self.history,
            senders=self.senders,
            on_store_error=on_store_error,
            store_retry=store_retry,
            programs=self.programs,
        )
        now = self._clock.now
        self._reserver = Reserver(self._decider, self.store, now)
        self.consent = Ledger(
            self.store,
            now,
            self.resolver.address_of,
            self._topics,
            pending_expiry=ensure_duration(pending_expiry),
            unclear_hold=None if unclear_hold is None else ensure_duration(unclear_hold),
            address_for=self.resolver.address_for,
            linked=functools.partial(linked_addresses, self.store),
        )
        self._inbound = InboundHandler(
            ledger=self.consent,
            engagement=self.store,
            now=now,
            address_of=self.resolver.address_of,
            profile=_locale_only(self._profile),
            programs=self.programs,
            topics=self._topics,
            stop_channel=_stop_channel(stop_channel),
        )

    @property
    def clock(self) -> Clock:
        """Where the engine's ``now`` comes from; assigning another clock moves every part of
        the engine to it."""
        return self._clock.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        if not isinstance(clock, Clock):
            raise ConfigurationError(f"clock must have a now() method, got {clock!r}")
        self._clock.clock = clock

    def address_of(self, number: str | PhoneNumber) -> str:
        """The E.164 form of a phone number (raises InvalidNumberError when it is not one)."""
        return self.resolver.address_of(number)

    def address_for(self, address: str | PhoneNumber, channel: Channel | str | None = None) -> str:
        """The ledger's form of an address on ``channel``: E.164 for a phone number, the
        normalised email address (domain case-folded and IDNA-encoded, local part kept), the
        trimmed push token. Without a channel, text with an ``@`` is an email address and
        anything else a phone number. Raises
        :class:`~smspolicy.errors.InvalidNumberError` (or its subclass
        :class:`~smspolicy.errors.InvalidAddressError`) when it is not one."""
        return self.resolver.address_for(address, channel)

    def profile(self, address: str) -> Profile | None:
        """The recipient's profile, if the engine has one."""
        return self._profile(address)

    def refresh_profiles(self) -> None:
        """Forget the profiles remembered from the store (they are kept a minute), so the next
        decisions read them again: call it after writing profiles in bulk."""
        if self._stored is not None:
            self._stored.clear()

    def programs_for(self, sender: str | None) -> tuple[Program, ...]:
        """The programs sent from ``sender`` (all programs when it is unknown or None)."""
        return programs_for(self.programs, sender, self.resolver.address_of)

    def topics(self) -> frozenset[str]:
        """The topics of the engine's programs."""
        return self._topics

    def inbound(self, text: str, from_: str, *, to: str | None = None) -> InboundResult:
        """Handle an inbound text: classify it, write the ledger event durably *before*
        returning, and return the reply to send (the STOP confirmation always goes out)."""
        return self._inbound(text, from_, check_text(to, "to", optional=True))

    def forget(self, number: str, *, channel: Channel | str | None = None) -> None:
        """Erase the address's personal data, keeping a hashed suppression when it had opted
        out, so it stays opted out (an email address or push token too: see
        :meth:`address_for` for ``channel``). For an email address, the record every
        spelling of its local part shares (the copies of its unsubscribes) is erased too, with
        the same hashed suppression, so every spelling stays opted out."""
        address = self.address_for(number, channel)
        self.store.forget(address)
        shared = stop_key(address) if address_channel(address, channel) is Channel.EMAIL else None
        if shared is not None:
            self.store.forget(shared)
        self.resolver.clear()
        if self._stored is not None:
            self._stored.clear()

    def record_sent(self, message: Message, *, provider_id: str | None = None) -> SendRecord:
        """Log a send that went out (for caps, dedupe and records)."""
        if not isinstance(message, Message):
            raise InvalidInputError(f"expected a smspolicy.Message, got {message!r}")
        check_text(provider_id, "provider_id", optional=True)
        address = self.address_for(message.to, message.channel)
        (message,) = self._with_persons([message])
        return self.store.record_send(
            send_record(message, address, self.now(), provider_id=provider_id)
        )

    def __repr__(self) -> str:
        return f"Engine({self.policy!r}, store={self.store!r}, clock={self.clock!r})"

    def now(self) -> dt.datetime:
        """The engine clock's current instant, checked to be aware, in UTC."""
        return self._clock.now()

    def recipient(self, message: Message) -> Recipient:
        """Resolve the message's recipient (cached per number); profiles are keyed by E.164."""
        return self._decider.recipient(message)

    def evaluate(self, message: Message) -> Decision:
        """Decide one message now."""
        return self._evaluate_batch([message], self.now())[0]

    def evaluate_many(self, messages: Iterable[Message]) -> Iterator[Decision]:
        """Decide many messages, reading the store in batches; yields in input order."""
        iterator = iterate(messages, "messages")
        while batch := list(itertools.islice(iterator, _BATCH)):
            yield from self._evaluate_batch(batch, self.now())

    def _stored_keys(self, message: object) -> tuple[str, ...]:
        """The addresses a message's stored profile may be kept under: the normal form, then,
        for an email or push address, the address as spelled (as the decider looks them up);
        none when it cannot have one."""
        if not isinstance(message, Message):
            return ()  # the decider names the wrong type
        try:
            if message.channel.is_phone:  # a number: its E.164 form, from the resolver's cache
                return (self.resolver.address_of(message.to),)
            address = self.resolver.address_for(message.to, message.channel)
        except (InvalidNumberError, LineTypeLookupError):
            return ()  # the decider denies it
        spelled = message.address.strip()
        return (address,) if spelled == address else (address, spelled)

    def _with_persons(self, batch: Sequence[Message]) -> Sequence[Message]:
        """The batch with the store's profiles read in one go (so deciding finds them
        remembered) and each message without a person given the one stored for its address.
        Raises StoreUnavailableError when the store cannot be read."""
        stored = self._stored
        if stored is None:
            return batch
        # Plain loops, no comprehension or generator: a message decided alone comes here too.
        keys: list[tuple[str, ...]] = []
        wanted: list[str] = []
        for message in batch:
            found = self._stored_keys(message)
            keys.append(found)
            wanted.extend(found)
        records = stored.prefetch(wanted)
        out: list[Message] = []
        for message, found in zip(batch, keys, strict=True):
            if found and not message.person:  # found is empty for what is not a Message
                for key in found:
                    record = records.get(key)
                    if record is not None and record.person:
                        message = attrs.evolve(message, person=record.person)
                        break
            out.append(message)
        return out

    def _evaluate_batch(self, batch: Sequence[Message], now: dt.datetime) -> list[Decision]:
        decider = self._decider
        try:
            batch = self._with_persons(batch)
        except StoreUnavailableError as error:
            log.warning("store unavailable: %s", error)
            _check_messages(batch)
            return [decider.failed(error, now) for _ in batch]
        # Plain loops, no comprehensions: a message decided alone (evaluate) comes here too,
        # and a comprehension's own call is a large part of deciding one message.
        resolved: list[Recipient | Decision] = []
        recipients: list[Recipient] = []
        for message in batch:
            item = decider.resolve(message)
            resolved.append(item)
            if isinstance(item, Recipient):
                recipients.append(item)
        try:
            snapshot = read_snapshot(self.store, batch, recipients, now - self.history)
        except StoreUnavailableError as error:
            log.warning("store unavailable: %s", error)
            return [r if isinstance(r, Decision) else decider.failed(error, now) for r in resolved]
        decisions: list[Decision] = []
        for message, item in zip(batch, resolved, strict=True):
            if isinstance(item, Decision):
                decisions.append(item)
            else:
                decisions.append(
                    decider.decide(message, decider.context(snapshot, message, item, now))
                )
        return decisions

    def reserve(self, message: Message, *, hold: dt.timedelta = DEFAULT_HOLD) -> Reservation:
        """Decide ``message`` and, when allowed, count it in the send log atomically: under the
        store's lock on the recipient's address and on its person (``Message.person``: every
        address and channel of that person) the policy is re-run on fresh sends, so two workers
        can never both take the last slot of a cap. A message the policy does not allow on the
        sends read first is answered without the lock (a no takes no slot). Commit or release
        the returned reservation."""
        ensure_duration(hold, "hold")
        try:
            (message,) = self._with_persons([message])
        except StoreUnavailableError as error:
            return self._unread(error)[0]
        return self._reserver.reserve(message, hold)

    def _unread(self, error: StoreUnavailableError, count: int = 1) -> list[Reservation]:
        """The reservations of a batch whose profiles could not be read: failed closed."""
        log.warning("store unavailable: %s", error)
        decision = self._decider.failed(error, self.now())
        return [Reservation(decision, None, self._reserver.settler) for _ in range(count)]

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
        try:
            batch = list(self._with_persons(batch))
        except StoreUnavailableError as error:
            _check_messages(batch)
            return self._unread(error, len(batch))
        return self._reserver.reserve_many(batch, hold)

    def settle_many(self, settlements: Iterable[tuple[Reservation, str | None, bool]]) -> None:
        """Settle many reservations in one store call: each item is ``(reservation,
        provider_id, sent)``, as :meth:`Reservation.commit` (sent) or
        :meth:`Reservation.release` (not sent). Nothing is settled if any item cannot be."""
        settle_all(self._reserver.settler, list(settlements))

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
        return run_audit(
            self.store,
            self._profile,
            self.programs,
            ensure_aware(now, "now"),
            every,
            unengaged_after,
        )
