"""Fuzzing every public entry point: bad input raises an SmsPolicyError subclass, never another
exception, and a rejected call records nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smspolicy import (
    Basis,
    Channel,
    ConsentEvent,
    Decision,
    Engine,
    InboundResult,
    Message,
    Policy,
    Profile,
    Program,
    Purpose,
    Resolver,
    jurisdictions,
    rules,
    segments,
)
from smspolicy.config import load_config, parse_duration
from smspolicy.errors import (
    ConfigurationError,
    InvalidInputError,
    InvalidMessageError,
    InvalidNumberError,
    NaiveDatetimeError,
    SmsPolicyError,
)
from smspolicy.store import MemoryStore, SQLiteStore
from smspolicy.store._base import Settlement
from smspolicy.testing import FrozenClock

T = TypeVar("T")
UTC = dt.UTC
T0 = dt.datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
NUMBERS = ("+12125550123", "+14155550123", "+447700900123", "+15145550123", "+61412345678")

# Bounded for CI: each fuzz test runs in a few seconds whatever the profile.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- strategies -----------------------------------------------------------------------------

# Characters that break naive code: lone surrogates (what Python makes of undecodable bytes),
# NUL, byte-order marks, zero-width and bidi marks, line breaks.
# (Mapped, so Hypothesis does not merge them into one uniform draw over all of Unicode, where
# they would almost never come up.)
ODD = st.sampled_from(["\ud800", "\udfff", "\udcff", "\x00", "\ufeff", "\u200b", "\u202e", "\n"])
CHARACTERS = st.one_of(ODD.map(str), st.characters(codec=None, exclude_categories=()))
TEXT = st.lists(CHARACTERS, max_size=24).map("".join)
# Inbound texts may carry anything a provider hands over, lone surrogates included: the reply is
# sanitised and recorded (tests/test_inbound.py checks what is recorded).
INBOUND_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.lists(CHARACTERS, max_size=40).map("".join),
    st.binary(max_size=40),
)

EDGE_INSTANTS = st.sampled_from(
    [
        dt.datetime.min.replace(tzinfo=UTC),
        dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=5))),
        dt.datetime.max.replace(tzinfo=UTC),
        dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.datetime(1, 1, 1, 12, tzinfo=UTC),
        dt.datetime(1899, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(1900, 1, 1, tzinfo=UTC),
        dt.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(3000, 1, 1, tzinfo=UTC),
        dt.datetime(9999, 12, 31, 23, tzinfo=UTC),
        dt.datetime(2025, 1, 15, 15),  # naive
    ]
)
DATETIMES = st.one_of(
    EDGE_INSTANTS, st.datetimes(timezones=st.none() | st.just(UTC) | st.timezones())
)
PHONE_OBJECTS = st.builds(
    phonenumbers.PhoneNumber,
    country_code=st.none() | st.integers(-10, 10**4),
    national_number=st.none() | st.integers(-10, 10**20),
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    TEXT,
    st.binary(max_size=8),
    DATETIMES,
    st.timedeltas(),
    PHONE_OBJECTS,
    st.sampled_from([*Purpose, *Channel, *Basis, "marketing", "sms", "purchase", "deals"]),
)
JUNK = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(TEXT, inner, max_size=3),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=2),
    ),
    max_leaves=4,
)
VALID_NUMBERS = st.sampled_from(NUMBERS)
ADDRESSES = st.one_of(
    VALID_NUMBERS,
    VALID_NUMBERS.map(lambda n: f"({n[2:5]}) {n[5:8]}-{n[8:]}"),
    TEXT.map(lambda t: "+1212" + t),
    TEXT,
    PHONE_OBJECTS,
    JUNK,
)
SOME_TEXT = st.one_of(st.just("deals"), TEXT, JUNK)
DURATIONS = st.one_of(
    st.timedeltas(),
    st.sampled_from([dt.timedelta(0), dt.timedelta.max, dt.timedelta(days=36_601)]),
    JUNK,
)
# The clock is mostly ordinary, sometimes at the edges of (or outside) the supported range.
CLOCKS = st.one_of(st.just(T0), EDGE_INSTANTS.filter(lambda d: d.tzinfo is not None))


def maybe_messages() -> st.SearchStrategy[Any]:
    """Keyword arguments for Message: plausible fields, each sometimes replaced by junk."""
    return st.fixed_dictionaries(
        {
            "to": ADDRESSES,
            "topic": st.one_of(st.just("deals"), SOME_TEXT),
            "purpose": st.one_of(st.sampled_from(["marketing", "transactional"]), JUNK),
            "channel": st.one_of(st.sampled_from(list(Channel)), JUNK),
        },
        optional={
            "body": st.one_of(TEXT, JUNK),
            "brand": st.one_of(st.none(), SOME_TEXT),
            "sender": st.one_of(st.none(), SOME_TEXT),
            "person": st.one_of(st.none(), SOME_TEXT),
            "content_key": SOME_TEXT,
            "not_after": st.one_of(st.none(), DATETIMES, JUNK),
            "locale": st.one_of(st.none(), st.just("es"), SOME_TEXT),
        },
    )


# --- engines --------------------------------------------------------------------------------


class CountingStore(MemoryStore):
    """The in-memory store, counting every write it is asked to make."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def append_consent(self, event: ConsentEvent) -> ConsentEvent:
        self.writes += 1
        return super().append_consent(event)

    def record_send(self, record: Any) -> Any:
        self.writes += 1
        return super().record_send(record)

    def _reserve_batch(self, numbers: Sequence[str], *, since: dt.datetime, decide: Any) -> Any:
        stored = super()._reserve_batch(numbers, since=since, decide=decide)
        self.writes += sum(len(records) for records in stored.values())
        return stored

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        self.writes += len(settlements)
        super().settle_many(settlements)

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        self.writes += 1
        super().record_engagement(number, at=at, kind=kind)

    def forget(self, number: str) -> None:
        self.writes += 1
        super().forget(number)


PROGRAM = Program(
    "Acme Deals", "Acme", topic="deals", help_contact="help@acme.example", frequency="4 msgs/week"
)
STANDARD = jurisdictions.standard()
# A policy with no consent rule, so reservations are allowed and can be committed.
PERMISSIVE = Policy(
    rules.frequency_cap(3, dt.timedelta(days=1), scope="all"),
    rules.dedupe(dt.timedelta(minutes=1)),
    name="permissive",
)


def engine_at(at: dt.datetime, policy: Policy = STANDARD) -> tuple[Engine, CountingStore]:
    """A fresh engine on a counting store, its clock at ``at`` (which may be out of range)."""
    store = CountingStore()
    clock = FrozenClock(T0)
    clock._now = at  # the engine must check the clock's reading itself
    return Engine(policy, store, clock, programs=[PROGRAM]), store


def attempt(store: CountingStore, call: Callable[[], T]) -> T | None:
    """Run ``call``: it returns, or raises an SmsPolicyError having written nothing."""
    before = store.writes
    try:
        return call()
    except SmsPolicyError:
        assert store.writes == before, "a rejected call wrote to the store"
        return None


def build_message(fields: dict[str, Any]) -> Message | None:
    """The message, or None when its fields are rejected (with an SmsPolicyError)."""
    try:
        return Message(**fields)
    except SmsPolicyError:
        return None


# --- values ---------------------------------------------------------------------------------


@FUZZ
@given(maybe_messages())
def test_message_fields(fields: dict[str, Any]) -> None:
    """A Message is built or rejected with InvalidMessageError (or an invalid instant)."""
    try:
        message = Message(**fields)
    except (InvalidMessageError, InvalidInputError):
        return
    assert isinstance(message.content_key, str)
    assert message.content_key.strip()


@FUZZ
@given(JUNK, JUNK, JUNK, JUNK, JUNK)
def test_profile_fields(timezone: Any, country: Any, state: Any, postal: Any, locale: Any) -> None:
    """A Profile is built, with a country and state that read back as ISO codes, or rejected
    with an SmsPolicyError."""
    try:
        profile = Profile(
            timezone=timezone, country=country, state=state, postal_code=postal, locale=locale
        )
    except SmsPolicyError:
        return
    assert profile.country is None or (len(profile.country) == 2 and profile.country.isupper())
    subdivision = profile.subdivision()
    assert subdivision is None or subdivision.split("-")[0].isupper()


@FUZZ
@given(st.one_of(ADDRESSES, JUNK), st.one_of(st.none(), JUNK), st.one_of(st.none(), TEXT, JUNK))
def test_resolver(number: Any, profile: Any, region: Any) -> None:
    """A Resolver is built and resolves a number (with or without a profile) into a recipient
    whose number reads back as E.164, or rejects the input with an SmsPolicyError."""
    try:
        resolver = Resolver(default_region=region)
        recipient = resolver.resolve(number, profile)
    except SmsPolicyError:
        return
    assert recipient.valid
    assert recipient.e164 is not None
    assert recipient.e164.startswith("+")
    assert recipient.e164[1:].isdigit()


@FUZZ
@given(st.one_of(st.from_regex(r"\s*[0-9]{1,30}\s*[wdhms]\s*", fullmatch=True), TEXT, JUNK))
def test_parse_duration(text: Any) -> None:
    """A duration parses to at most about 100 years, or is a ConfigurationError."""
    try:
        parsed = parse_duration(text)
    except ConfigurationError:
        return
    assert dt.timedelta(0) <= parsed <= dt.timedelta(days=36_600)


@FUZZ
@given(st.one_of(TEXT, JUNK), st.one_of(st.just("US"), TEXT, JUNK), st.one_of(JUNK, TEXT))
def test_segments(body: Any, country: Any, price: Any) -> None:
    """Counting and pricing a body succeed or raise InvalidInputError."""
    try:
        info = segments.count(body)
    except InvalidInputError:
        return
    assert info.characters == len(body)
    for prices in ({"US": price}, price):
        try:
            cost = segments.estimate_cost(body, country, prices)
        except InvalidInputError:
            continue
        assert cost.is_finite()
        assert cost >= 0


# --- the engine -----------------------------------------------------------------------------


@FUZZ
@given(CLOCKS, st.lists(maybe_messages(), min_size=1, max_size=3), JUNK)
def test_evaluate(at: dt.datetime, fields: list[dict[str, Any]], junk: Any) -> None:
    """evaluate and evaluate_many return decisions or raise an SmsPolicyError."""
    engine, store = engine_at(at)
    messages = [m for m in map(build_message, fields) if m is not None]
    for message in messages:
        decision = attempt(store, lambda m=message: engine.evaluate(m))
        assert decision is None or isinstance(decision, Decision)
    decisions = attempt(store, lambda: list(engine.evaluate_many(messages)))
    assert decisions is None or len(decisions) == len(messages)
    for batch in (junk, [*messages, junk]):
        attempt(store, lambda b=batch: list(engine.evaluate_many(b)))
    attempt(store, lambda: engine.evaluate(junk))
    assert store.writes == 0


@FUZZ
@given(CLOCKS, st.lists(maybe_messages(), min_size=1, max_size=3), DURATIONS, JUNK, SOME_TEXT)
def test_reserve(
    at: dt.datetime, fields: list[dict[str, Any]], hold: Any, junk: Any, provider_id: Any
) -> None:
    """reserve and reserve_many hold a slot or raise an SmsPolicyError; a commit with a bad
    provider id is refused and leaves the hold as it was."""
    engine, store = engine_at(at, PERMISSIVE)
    messages = [m for m in map(build_message, fields) if m is not None]
    for message in messages:
        attempt(store, lambda m=message: engine.reserve(m, hold=hold))
        reservation = attempt(store, lambda m=message: engine.reserve(m))
        if reservation is not None and reservation.allowed:
            attempt(store, lambda r=reservation: r.commit(provider_id))
    for batch in (messages, junk, [*messages, junk]):
        attempt(store, lambda b=batch: engine.reserve_many(b, hold=hold))
    attempt(store, lambda: engine.reserve(junk))


@FUZZ
@given(CLOCKS, st.one_of(INBOUND_TEXT, JUNK), ADDRESSES, st.one_of(st.none(), ADDRESSES))
def test_inbound(at: dt.datetime, text: Any, from_: Any, to: Any) -> None:
    """inbound returns a result or raises an SmsPolicyError having written nothing."""
    engine, store = engine_at(at)
    result = attempt(store, lambda: engine.inbound(text, from_, to=to))
    assert result is None or isinstance(result, InboundResult)


CONSENT_CALLS = {
    "opt_in": st.fixed_dictionaries(
        {"topic": SOME_TEXT, "purpose": SOME_TEXT, "source": SOME_TEXT},
        optional={"evidence": JUNK, "brand": SOME_TEXT},
    ),
    "confirm": st.fixed_dictionaries(
        {"topic": st.one_of(st.none(), SOME_TEXT), "purpose": SOME_TEXT, "source": SOME_TEXT},
        optional={"evidence": JUNK, "brand": SOME_TEXT},
    ),
    "imply": st.fixed_dictionaries(
        {
            "basis": st.one_of(st.sampled_from(list(Basis)), JUNK),
            "purpose": SOME_TEXT,
            "source": SOME_TEXT,
        },
        optional={"topic": SOME_TEXT, "evidence": JUNK},
    ),
    "revoke": st.fixed_dictionaries(
        {"source": SOME_TEXT}, optional={"topic": SOME_TEXT, "brand": SOME_TEXT}
    ),
    "history": st.just({}),
    "proof": st.fixed_dictionaries({}, optional={"format": st.one_of(st.just("csv"), JUNK)}),
}


@pytest.mark.parametrize("method", sorted(CONSENT_CALLS))
@FUZZ
@given(data=st.data())
def test_consent_calls(method: str, data: st.DataObject) -> None:
    """Every ledger call records an event, returns, or raises an SmsPolicyError having
    written nothing."""
    engine, store = engine_at(data.draw(CLOCKS, "clock"))
    number = data.draw(ADDRESSES, "number")
    kwargs = data.draw(CONSENT_CALLS[method], "kwargs")
    before = store.writes
    result = attempt(store, lambda: getattr(engine.consent, method)(number, **kwargs))
    if isinstance(result, ConsentEvent):
        assert store.writes == before + 1
        assert engine.consent.history(number)[-1].hash == result.hash


PROOFS = st.one_of(
    TEXT,
    JUNK,
    st.sampled_from(['{"events": [[]]}', '{"events": {}}', "[" * 5000, '{"events": [1]}']),
    st.sampled_from(["seq,kind\n0,confirmed\n", "seq\x00\n", 'a,"b\n', "\r0", "a\rb\n"]),
)


@FUZZ
@given(CLOCKS, PROOFS, st.one_of(st.sampled_from(["json", "csv"]), st.just("json"), JUNK))
def test_consent_verify(at: dt.datetime, text: Any, format: Any) -> None:
    """verify returns True or raises an SmsPolicyError for any text."""
    engine, store = engine_at(at)
    assert attempt(store, lambda: engine.consent.verify(text, format=format)) in (True, None)


@FUZZ
@given(CLOCKS, st.one_of(DATETIMES, JUNK), DURATIONS, st.one_of(st.none(), DURATIONS))
def test_audit(at: dt.datetime, now: Any, every: Any, unengaged: Any) -> None:
    """audit returns an Audit or raises an SmsPolicyError."""
    engine, store = engine_at(at)
    attempt(
        store,
        lambda: engine.consent.confirm(
            NUMBERS[0], topic="deals", purpose="marketing", source="web"
        ),
    )
    attempt(store, lambda: engine.audit(now, every=every, unengaged_after=unengaged))


@FUZZ
@given(CLOCKS, ADDRESSES, maybe_messages(), SOME_TEXT, st.one_of(st.none(), SOME_TEXT))
def test_records(at: dt.datetime, number: Any, fields: dict[str, Any], kind: Any, pid: Any) -> None:
    """forget, record_sent and record_engagement write once or raise an SmsPolicyError having
    written nothing."""
    engine, store = engine_at(at)
    attempt(store, lambda: engine.record_engagement(number, kind=kind))
    message = build_message(fields)
    if message is not None:
        attempt(store, lambda: engine.record_sent(message, provider_id=pid))
    attempt(store, lambda: engine.record_sent(fields, provider_id=pid))  # not a Message
    attempt(store, lambda: engine.forget(number))


@FUZZ
@given(maybe_messages(), st.one_of(st.none(), SOME_TEXT), SOME_TEXT)
def test_durable_store_takes_what_the_api_accepts(
    fields: dict[str, Any], pid: Any, kind: Any
) -> None:
    """Whatever text the API accepts, the SQLite store can write: no encoding error escapes."""
    engine = Engine(PERMISSIVE, SQLiteStore(":memory:"), FrozenClock(T0))
    message = build_message(fields)
    calls: list[Callable[[], object]] = [
        lambda: engine.record_engagement(NUMBERS[0], kind=kind),
        lambda: engine.consent.revoke(NUMBERS[0], source=kind, topic=fields["topic"]),
    ]
    if message is not None:
        calls += [
            lambda: engine.record_sent(message, provider_id=pid),
            lambda: engine.reserve(message).commit(pid),
        ]
    for call in calls:
        with contextlib.suppress(SmsPolicyError):
            call()
    assert engine.store.numbers() in ([], [NUMBERS[0]])


# --- policy files ---------------------------------------------------------------------------


def toml_values() -> st.SearchStrategy[str]:
    """TOML value literals of every kind, nested."""
    leaves = st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr).filter(lambda t: "e" not in t),
        st.sampled_from(["true", "false", "nan", "inf", "-inf", "1979-05-27T07:32:00Z"]),
        st.sampled_from(["'0001-01-01T00:00:00Z'", "0001-01-01T00:00:00Z", "'99999999999999d'"]),
        st.sampled_from(['"30d"', '"24h"', '"09:00"', '"25:99"', '"frequency_cap"', '"US"']),
        st.text(st.characters(codec="utf-8", exclude_characters='"\\'), max_size=8).map(
            lambda t: f'"{t}"'.replace("\n", "\\n").replace("\r", "\\r")
        ),
    )

    def nest(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        # A named function: Hypothesis cannot read the source of this extension as a lambda,
        # and would warn that it never uses its argument.
        return st.one_of(
            st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
            st.dictionaries(
                st.sampled_from(["a", "purpose", "topic", "6", "x"]), inner, max_size=2
            ).map(lambda items: "{" + ", ".join(f"{k} = {v}" for k, v in items.items()) + "}"),
        )

    return st.recursive(leaves, nest, max_leaves=6)


RULE_TYPES = [
    "consent", "dedupe", "engagement", "frequency_cap", "max_segments", "origination",
    "quiet_hours", "required_content", "sending_window", "valid_number", "nope",
]  # fmt: skip
RULE_KEYS = [
    "limit", "per", "scope", "calendar", "window", "start", "end", "days", "holidays",
    "on_outside", "n", "table", "unengaged_after", "reduced", "remove_after", "when",
    "across_channels", "stop_scope", "line_types", "countries", "bogus",
]  # fmt: skip
TOP_KEYS = ["name", "jurisdictions", "enable", "include_unconfirmed", "stop_scope", "horizon"]
PROGRAM_KEYS = ["name", "brand", "topic", "purpose", "senders", "help_contact", "frequency"]


@st.composite
def policy_files(draw: st.DrawFn) -> str:
    """TOML policy files: known keys with values of any shape, and some of any type."""
    values = toml_values()
    lines = [
        f"{key} = {draw(values)}"
        for key in draw(st.lists(st.sampled_from(TOP_KEYS), unique=True, max_size=3))
    ]
    for _ in range(draw(st.integers(0, 1))):
        lines.append("[[programs]]")
        for key in draw(st.lists(st.sampled_from(PROGRAM_KEYS), unique=True, max_size=7)):
            lines.append(f"{key} = {draw(values)}")
    for _ in range(draw(st.integers(0, 2))):
        lines.append("[[rules]]")
        kind = draw(st.one_of(st.sampled_from(RULE_TYPES).map(lambda t: f'"{t}"'), values))
        lines.append(f"type = {kind}")
        for key in draw(st.lists(st.sampled_from(RULE_KEYS), unique=True, max_size=4)):
            lines.append(f"{key} = {draw(values)}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(st.one_of(policy_files(), TEXT.map(lambda t: f"name = {t}")))
def test_policy_files(text: str) -> None:
    """Loading any policy file gives a Config or a ConfigurationError naming the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))  # a surrogate: invalid bytes
        try:
            outcome: object = load_config(path)
        except ConfigurationError as error:
            outcome = error
    if isinstance(outcome, ConfigurationError):
        assert str(outcome).startswith(str(path))
    else:
        assert callable(getattr(outcome, "policy", None))


@FUZZ
@given(st.one_of(JUNK, TEXT, st.binary(max_size=12).map(os.fsdecode)))
def test_policy_paths(path: Any) -> None:
    """Any path, of any type, gives a Config or a ConfigurationError."""
    try:
        config = load_config(path)
    except ConfigurationError:
        return
    assert config.name.strip()


# --- the examples that crashed, one by one --------------------------------------------------


@pytest.mark.parametrize(
    "number", [["+12125550123"], {"number": "+12125550123"}, (1, 2125550123, None)], ids=repr
)
def test_number_given_as_list_dict_or_tuple(number: object) -> None:
    """A number given as a list, dict or tuple is an InvalidNumberError (not 'unhashable') on
    every call that takes a number, and records nothing."""
    engine, store = engine_at(T0)
    calls: list[Callable[[], object]] = [
        lambda: engine.address_of(number),  # type: ignore[arg-type]
        lambda: engine.consent.opt_in(number, topic="deals", purpose="marketing", source="web"),  # type: ignore[arg-type]
        lambda: engine.consent.history(number),  # type: ignore[arg-type]
        lambda: engine.forget(number),  # type: ignore[arg-type]
        lambda: engine.record_engagement(number),  # type: ignore[arg-type]
        lambda: engine.inbound("STOP", number),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidNumberError, match="must be a phone number string"):
            call()
    with pytest.raises(InvalidMessageError, match="to must be a phone number string"):
        Message(number, "deals", "marketing")  # type: ignore[arg-type]
    assert store.writes == 0


def test_parse_duration_of_fourteen_digits() -> None:
    """parse_duration("99999999999999d") is a ConfigurationError, not an OverflowError."""
    with pytest.raises(ConfigurationError, match="longer than 36600 days"):
        parse_duration("99999999999999d")


@pytest.mark.parametrize(
    "instant",
    [
        dt.datetime.min.replace(tzinfo=UTC),
        dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=5))),
        dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ],
    ids=["min-utc", "min-plus-5h", "max-minus-5h"],
)
def test_instants_near_the_ends_of_datetime(instant: dt.datetime) -> None:
    """Instants near datetime.min and datetime.max are InvalidInputError wherever they enter:
    a clock, a message's not_after, an audit's now, a consent event's at."""
    engine, store = engine_at(instant)
    with pytest.raises(InvalidInputError, match="outside the supported range"):
        engine.evaluate(Message(NUMBERS[0], "deals", "marketing"))
    with pytest.raises(InvalidInputError, match="outside the supported range"):
        engine.consent.opt_in(NUMBERS[0], topic="deals", purpose="marketing", source="web")
    with pytest.raises(InvalidInputError, match="outside the supported range"):
        Message(NUMBERS[0], "deals", "marketing", not_after=instant)
    with pytest.raises(InvalidInputError, match="outside the supported range"):
        engine_at(T0)[0].audit(instant, every=dt.timedelta(days=30))
    with pytest.raises(InvalidInputError, match="outside the supported range"):
        ConsentEvent(kind="confirmed", number=NUMBERS[0], at=instant, source="import")
    with pytest.raises(InvalidInputError, match="outside the supported range"):
        FrozenClock(instant)
    assert store.writes == 0


def test_inbound_to_a_dict() -> None:
    """inbound(to={}) is an InvalidInputError and writes nothing, even for a STOP."""
    engine, store = engine_at(T0)
    with pytest.raises(InvalidInputError, match="to must be None or a non-empty string"):
        engine.inbound("STOP", NUMBERS[0], to={})  # type: ignore[arg-type]
    assert store.writes == 0


@pytest.mark.parametrize("field", ["body", "topic", "brand", "sender", "person", "content_key"])
def test_lone_surrogate_in_a_message(field: str) -> None:
    """A lone surrogate in a message's text is an InvalidMessageError naming the field."""
    fields: dict[str, Any] = {"to": NUMBERS[0], "topic": "deals", "purpose": "marketing"}
    fields[field] = "caf\udce9"
    with pytest.raises(InvalidMessageError, match=rf"{field} holds a lone surrogate \(U\+DCE9"):
        Message(**fields)


def test_lone_surrogate_in_a_provider_id() -> None:
    """A lone surrogate in a provider id is refused by record_sent and by commit, and the
    reservation can still be committed with a good id."""
    engine, store = engine_at(T0, PERMISSIVE)
    message = Message(NUMBERS[0], "deals", "marketing")
    with pytest.raises(InvalidInputError, match="provider_id holds a lone surrogate"):
        engine.record_sent(message, provider_id="id-\ud800")
    reservation = engine.reserve(message)
    assert reservation.allowed
    writes = store.writes
    with pytest.raises(InvalidInputError, match="provider_id holds a lone surrogate"):
        reservation.commit("id-\ud800")
    assert store.writes == writes
    reservation.commit("id-1")
    sent = store.sends([NUMBERS[0]], since=T0 - dt.timedelta(days=1))[NUMBERS[0]]
    assert [r.provider_id for r in sent] == ["id-1"]


def test_message_lists_that_are_not_iterable() -> None:
    """evaluate_many and reserve_many of a non-iterable are InvalidInputError."""
    engine, _store = engine_at(T0)
    with pytest.raises(InvalidInputError, match="messages must be an iterable of messages"):
        list(engine.evaluate_many(None))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="messages must be an iterable of messages"):
        engine.reserve_many(dt.datetime(2025, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]


def test_naive_clock_is_still_named_naive() -> None:
    """A naive clock reading is a NaiveDatetimeError, as before the range check."""
    engine, _store = engine_at(dt.datetime(2025, 1, 15, 15))
    with pytest.raises(NaiveDatetimeError, match="is naive"):
        engine.evaluate(Message(NUMBERS[0], "deals", "marketing"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"source": "web\udce9"},
        {"source": "web", "topic": "de\ud800als"},
        {"source": "web", "brand": "Acme\udfff"},
        {"source": "web", "evidence": {"form": "caf\udce9"}},
    ],
    ids=["source", "topic", "brand", "evidence"],
)
def test_lone_surrogate_in_a_ledger_call(kwargs: dict[str, Any]) -> None:
    """A lone surrogate in a ledger call's text is an InvalidInputError (it could never be
    hashed or stored), and nothing is written."""
    engine, store = engine_at(T0)
    with pytest.raises(InvalidInputError, match="holds a lone surrogate"):
        engine.consent.revoke(NUMBERS[0], **kwargs)
    assert store.writes == 0


def test_lone_surrogate_in_an_engagement_kind() -> None:
    """record_engagement refuses a kind that no store could write."""
    engine = Engine(PERMISSIVE, SQLiteStore(":memory:"), FrozenClock(T0))
    with pytest.raises(InvalidInputError, match=r"^kind holds a lone surrogate"):
        engine.record_engagement(NUMBERS[0], kind="reply\ud800")
    assert engine.store.last_engagement([NUMBERS[0]]) == {NUMBERS[0]: None}
