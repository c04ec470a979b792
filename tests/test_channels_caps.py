"""Cross-channel caps and dedupe for one person reached by SMS, email and push: a cap with
``Message.person`` counts every channel, dedupe by content key blocks the second channel, on
the in-memory and SQLite stores and on PostgreSQL and Redis (real services)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import Engine, Message, Policy, Verdict, rules
from smspolicy.store import ComposedStore, MemoryStore, SQLiteStore, Store
from smspolicy.testing import FrozenClock

from .conftest import T0
from .services import drop, postgres_store, redis_store

PHONE = "+12025550143"
EMAIL = "Ann@Example.com"
TOKEN = "apns-0f1e2d3c4b5a"
DAY = dt.timedelta(days=1)


def _make(kind: str, tmp_path: Path) -> Store:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "caps.db")
    if kind == "postgres":
        return postgres_store()  # type: ignore[return-value]
    return ComposedStore(SQLiteStore(tmp_path / "ledger.db"), redis_store())  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every store: in memory, SQLite, PostgreSQL, and Redis for sends beside a SQLite ledger."""
    made = _make(request.param, tmp_path)
    yield made
    if request.param in ("postgres", "redis"):
        drop(made)
    made.close()


def _three(person: str | None = "p1", key: str | None = None) -> list[Message]:
    more: dict[str, object] = {"person": person}
    if key is not None:
        more["content_key"] = key
    return [
        Message(PHONE, "news", "marketing", channel="sms", body="Sale: 20% off", **more),  # type: ignore[arg-type]
        Message(EMAIL, "news", "marketing", channel="email", body="<p>Sale</p>", **more),  # type: ignore[arg-type]
        Message(TOKEN, "news", "marketing", channel="push", body="Sale!", **more),  # type: ignore[arg-type]
    ]


def test_a_person_cap_counts_sms_email_and_push(store: Store) -> None:
    """A cap of 2 a day for a person: SMS and email go, the push waits until the SMS leaves
    the window (exactly one day after it), and goes then."""
    clock = FrozenClock(T0)
    engine = Engine(Policy(rules.frequency_cap(2, DAY, scope="all")), store, clock)
    sms, email, push = _three()
    first = engine.reserve(sms)
    assert first.allowed
    first.commit("m-1")
    clock.advance(dt.timedelta(hours=1))
    second = engine.reserve(email)
    assert second.allowed
    second.commit("m-2")
    clock.advance(dt.timedelta(hours=1))
    third = engine.reserve(push)
    assert third.decision.verdict is Verdict.DEFER
    assert third.decision.until == T0 + DAY
    assert third.decision.codes == ("cap.exceeded",)
    clock.set(T0 + DAY - dt.timedelta(microseconds=1))
    assert engine.evaluate(push).verdict is Verdict.DEFER
    clock.set(T0 + DAY)
    assert engine.evaluate(push).allowed
    # the same three addresses without the person link count apart
    clock.set(T0 + dt.timedelta(hours=2))
    assert engine.evaluate(_three(person=None)[2]).allowed


def test_a_person_cap_holds_in_one_batch(store: Store) -> None:
    """Reserved together, the three channels of one person get exactly the cap's two slots."""
    engine = Engine(Policy(rules.frequency_cap(2, DAY, scope="all")), store, FrozenClock(T0))
    held = engine.reserve_many(_three())
    assert [r.allowed for r in held] == [True, True, False]
    assert held[2].decision.codes == ("cap.exceeded",)
    engine.settle_many([(r, "x", True) for r in held if r.allowed])
    assert not engine.evaluate(_three()[1]).allowed


def test_dedupe_blocks_the_second_channel(store: Store) -> None:
    """The same content key to the same person by SMS, then by email: the email is denied;
    another person, or after the window, it goes."""
    clock = FrozenClock(T0)
    engine = Engine(Policy(rules.dedupe(DAY)), store, clock)
    sms, email, push = _three(key="winter-sale")
    engine.reserve(sms).commit("m-1")
    clock.advance(dt.timedelta(minutes=5))
    decision = engine.evaluate(email)
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("dedupe.duplicate",)
    assert decision.reasons[0].data["channel"] == "sms"
    assert engine.reserve(push).decision.codes == ("dedupe.duplicate",)
    other = Message(EMAIL, "news", "marketing", channel="email", person="p2", content_key="x")
    assert engine.evaluate(other).allowed
    clock.set(T0 + DAY)
    assert engine.evaluate(email).allowed


def test_dedupe_per_channel_lets_other_channels_through(store: Store) -> None:
    """dedupe(across_channels=False) blocks only the same channel."""
    engine = Engine(Policy(rules.dedupe(DAY, across_channels=False)), store, FrozenClock(T0))
    sms, email, _push = _three(key="winter-sale")
    engine.record_sent(sms)
    assert engine.evaluate(email).allowed
    assert engine.evaluate(sms).codes == ("dedupe.duplicate",)


def test_sends_are_logged_under_the_normalised_address(store: Store) -> None:
    """An email send is logged under the normalised address, so another spelling of the
    domain is the same recipient for caps."""
    engine = Engine(Policy(rules.frequency_cap(1, DAY, scope="all")), store, FrozenClock(T0))
    record = engine.record_sent(Message(EMAIL, "news", "marketing", channel="email"))
    assert record.number == "Ann@example.com"
    again = Message("Ann@EXAMPLE.COM", "news", "marketing", channel="email")
    assert engine.evaluate(again).codes == ("cap.exceeded",)


CHANNEL_OF = {"sms": PHONE, "mms": PHONE, "voice": PHONE, "email": EMAIL, "push": TOKEN}
PER = dt.timedelta(minutes=60)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["memory", "sqlite"]),
    limit=st.integers(min_value=1, max_value=3),
    steps=st.lists(
        st.tuples(
            st.sampled_from(sorted(CHANNEL_OF)),
            st.integers(min_value=0, max_value=45),  # minutes before this send
            st.booleans(),  # committed (sent) or released
            st.booleans(),  # as one reserve_many batch with the next one
        ),
        min_size=1,
        max_size=14,
    ),
)
def test_a_person_cap_never_lets_one_more_through(
    kind: str, limit: int, steps: list[tuple[str, int, bool, bool]]
) -> None:
    """For any interleaving of sends across channels for one person (reserved one by one or
    in batches, committed or released), a cap of N per hour never has N + 1 sends inside
    any hour, on the in-memory and SQLite stores."""
    with tempfile.TemporaryDirectory() as folder:
        store = _make(kind, Path(folder))
        try:
            _interleave(store, limit, steps)
        finally:
            store.close()


def _interleave(store: Store, limit: int, steps: list[tuple[str, int, bool, bool]]) -> None:
    clock = FrozenClock(T0)
    engine = Engine(Policy(rules.frequency_cap(limit, PER, scope="all")), store, clock)
    sent: list[dt.datetime] = []
    index = 0
    while index < len(steps):
        _channel, wait, _commit, batched = steps[index]
        if wait:
            clock.advance(dt.timedelta(minutes=wait))
        group = [steps[index]]
        if batched and index + 1 < len(steps):
            group.append(steps[index + 1])
        messages = [
            Message(CHANNEL_OF[c], "news", "marketing", channel=c, person="p1")
            for c, _w, _c, _b in group
        ]
        for reservation, (_c, _w, keep, _b) in zip(
            engine.reserve_many(messages), group, strict=True
        ):
            if reservation.allowed and keep:
                reservation.commit("id")
                sent.append(clock.now())
            elif reservation.allowed:
                reservation.release()
        index += len(group)
    for at in sent:
        inside = [t for t in sent if at - PER < t <= at]
        assert len(inside) <= limit


def test_a_person_stop_and_channel_scopes_on_every_store(store: Store) -> None:
    """A voice-only consent, an SMS STOP and a person's stop-everything read back the same on
    every store: the person's record and the addresses the send log links to the person."""
    clock = FrozenClock(T0)
    engine = Engine(rules.consent(), store, clock)
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="ivr", channel="voice")
    engine.consent.confirm(EMAIL, topic="news", purpose="marketing", source="web")
    engine.consent.confirm(TOKEN, topic="news", purpose="marketing", source="app", channel="push")
    sms, email, push = _three()
    voice = Message(PHONE, "news", "marketing", channel="voice", person="p1")
    assert engine.evaluate(sms).codes == ("consent.missing",)
    assert engine.evaluate(voice).allowed
    engine.record_sent(email)  # links the email address to p1
    clock.advance(dt.timedelta(minutes=1))
    events = engine.consent.revoke_person("p1", source="account page")
    assert [e.number for e in events] == ["person: p1", "Ann@example.com"]
    assert engine.evaluate(voice).codes == ("consent.revoked",)
    assert engine.evaluate(push).codes == ("consent.revoked",)
    unlinked = Message(EMAIL, "news", "marketing", channel="email")
    assert engine.evaluate(unlinked).codes == ("consent.revoked",)
    assert engine.evaluate(Message(TOKEN, "news", "marketing", channel="push")).allowed
    stored = store.consent_events([PHONE])[PHONE]
    assert [e.channel.value if e.channel else None for e in stored] == ["voice"]
    # the stop reached every spelling of the email address's local part
    for spelled in ("ann@example.com", "ANN@EXAMPLE.COM"):
        assert engine.evaluate(Message(spelled, "news", "marketing", channel="email")).codes == (
            "consent.revoked",
        )
    shared = store.consent_events(["ann@example.com"])["ann@example.com"]
    assert [(e.kind.value, e.evidence["address"]) for e in shared] == [
        ("revoked", "Ann@example.com")
    ]


def test_racing_channels_of_one_person_take_one_slot(store: Store) -> None:
    """Six workers reserve at once for one person, two by SMS, two by email (spelled apart) and
    two by push, under a cap of one a day: exactly one slot is taken, on every store."""
    import threading

    engines = [
        Engine(Policy(rules.frequency_cap(1, DAY, scope="all")), store, FrozenClock(T0))
        for _ in range(6)
    ]
    messages = [
        Message(PHONE, "news", "marketing", channel="sms", person="p1"),
        Message(PHONE, "news", "marketing", channel="sms", person="p1"),
        Message("ann@example.com", "news", "marketing", channel="email", person="p1"),
        Message("ANN@EXAMPLE.COM", "news", "marketing", channel="email", person="p1"),
        Message(TOKEN, "news", "marketing", channel="push", person="p1"),
        Message(TOKEN, "news", "marketing", channel="push", person=" p1"),
    ]
    barrier = threading.Barrier(len(engines))
    allowed: list[bool] = []
    lock = threading.Lock()

    def work(engine: Engine, message: Message) -> None:
        barrier.wait()
        reservation = engine.reserve(message)
        if reservation.allowed:
            reservation.commit("m")
        with lock:
            allowed.append(reservation.allowed)

    threads = [
        threading.Thread(target=work, args=pair) for pair in zip(engines, messages, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(allowed) == [False] * 5 + [True]
    sends = store.person_sends(["p1"], since=T0 - DAY)["p1"]
    assert len(sends) == 1
