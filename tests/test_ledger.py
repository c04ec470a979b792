"""The consent ledger: folding by effective time, unclear holds, the tamper check, proofs
against the ledger, and the boundaries of the consent rule."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import (
    Basis,
    ConsentEvent,
    ConsentKind,
    Engine,
    Message,
    Policy,
    Program,
    Purpose,
    Verdict,
)
from smspolicy import rules as R
from smspolicy._inbound import REPLY_TOPIC
from smspolicy._memo import Seen
from smspolicy.cli import main
from smspolicy.consent import (
    ChainBreak,
    ConsentStatus,
    add_months,
    chain_break,
    consent_status,
    effective_order,
    superseded_by,
    verify_chain,
    verify_proof,
)
from smspolicy.errors import (
    ConfigurationError,
    InvalidInputError,
    LedgerIntegrityError,
    StoreUnavailableError,
)
from smspolicy.store import ComposedStore, MemoryStore, SQLiteStore
from smspolicy.testing import FrozenClock

from . import services
from .conftest import T0

NUMBER = "+12125550123"
MARKETING = Purpose.MARKETING
TRANSACTIONAL = Purpose.TRANSACTIONAL
DEALS = Program(
    "Acme Deals",
    "Acme",
    topic="deals",
    senders=["+12125550100"],
    help_contact="help@acme.example",
    frequency="Up to 4 msgs/week",
)


def make_engine(clock: FrozenClock, store: object = None, **kwargs: object) -> Engine:
    return Engine(
        Policy(R.consent(**kwargs), name="consent"),  # type: ignore[arg-type]
        store or MemoryStore(),  # type: ignore[arg-type]
        clock,
        programs=[DEALS],
    )


def codes(
    engine: Engine, topic: str = "deals", purpose: str = "marketing", **kw: object
) -> list[str]:
    decision = engine.evaluate(Message(NUMBER, topic, purpose, **kw))  # type: ignore[arg-type]
    return [] if decision.allowed else list(decision.codes)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """Each ledger regression runs on the in-memory and the SQLite store."""
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(tmp_path / "ledger.db")


def event(kind: str, at: dt.datetime, **fields: object) -> ConsentEvent:
    return ConsentEvent(kind=kind, number=NUMBER, at=at, source="test", **fields)  # type: ignore[arg-type]


def fold(events: list[ConsentEvent], now: dt.datetime, **kw: object) -> ConsentStatus:
    options = {"topic": "deals", "purpose": MARKETING, "brand": None, **kw}
    return consent_status(events, now=now, **options).status  # type: ignore[arg-type]


# --- folding by effective time ------------------------------------------------------------

INSTANTS = [T0 + dt.timedelta(minutes=m) for m in (0, 0, 1, 2, 2, 5, 30)]
specs = st.lists(
    st.tuples(
        st.sampled_from(["requested", "confirmed", "revoked", "implied", "unclear"]),
        st.sampled_from(["deals", "alerts", None]),
        st.sampled_from(["marketing", "transactional"]),
        st.sampled_from([None, "Acme", "Other"]),
        st.sampled_from([*INSTANTS, T0 - dt.timedelta(days=400), T0 + dt.timedelta(days=90)]),
        st.sampled_from([None, dt.timedelta(minutes=3), dt.timedelta(days=40)]),
        st.sampled_from(["purchase", "inquiry", "soft_opt_in"]),
    ),
    max_size=10,
)


def build(items: list[tuple[object, ...]]) -> list[ConsentEvent]:
    out = []
    for kind, topic, purpose, brand, at, lasts, basis in items:
        assert isinstance(at, dt.datetime)
        out.append(
            event(
                str(kind),
                at,
                topic=topic,
                purpose=None if kind == "revoked" else purpose,
                brand=brand,
                basis=basis if kind == "implied" else None,
                expires=at + lasts
                if lasts is not None and kind in ("requested", "unclear")
                else None,  # type: ignore[operator]
            )
        )
    return out


def reference_allows(
    items: list[ConsentEvent], topic: str, purpose: Purpose, now: dt.datetime
) -> bool:
    """The simplest model, brand-free: sort by instant, grants before unclear replies before
    revocations at one instant; a revocation blocks until a later confirmation; implied consent
    counts only when not blocked (soft opt-in, no expiry); an unclear reply holds marketing
    until a later confirmation or revocation or its expiry (of two at one instant, the longer)."""
    rank = {"requested": 0, "implied": 0, "confirmed": 0, "unclear": 1, "revoked": 2}
    allowed = blocked = False
    hold: ConsentEvent | None = None
    for e in sorted(items, key=lambda e: (e.at, rank[e.kind.value])):
        if e.at > now:
            continue
        if e.kind is ConsentKind.REVOKED:
            allowed, blocked, hold = False, True, None
        elif e.kind is ConsentKind.UNCLEAR:
            never = dt.datetime.max.replace(tzinfo=dt.UTC)
            if hold is None or (e.at, e.expires or never) >= (hold.at, hold.expires or never):
                hold = e  # of two replies at one instant, the longer hold
        elif e.topic in (None, topic) and (e.purpose in (None, purpose, MARKETING)):
            if e.kind is ConsentKind.CONFIRMED:
                allowed, blocked, hold = True, False, None
            elif e.kind is ConsentKind.IMPLIED and not blocked:
                allowed = True
    held = (
        hold is not None and purpose is MARKETING and (hold.expires is None or now < hold.expires)
    )
    return allowed and not held


@given(
    specs,
    st.randoms(use_true_random=False),
    st.sampled_from([*INSTANTS, T0 + dt.timedelta(days=91)]),
)
def test_status_does_not_depend_on_append_order(
    items: list[tuple[object, ...]], rng: object, now: dt.datetime
) -> None:
    """For any events with arbitrary instants, appended in any order, the status is the one
    folded from the events sorted by instant (a revocation winning a tie)."""
    events = build(items)
    shuffled = list(events)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    for topic in ("deals", "alerts"):
        for purpose in (MARKETING, TRANSACTIONAL):
            for brand in (None, "Acme"):
                kw = {"topic": topic, "purpose": purpose, "brand": brand, "now": now}
                a = consent_status(events, **kw)  # type: ignore[arg-type]
                b = consent_status(shuffled, **kw)  # type: ignore[arg-type]
                c = consent_status(effective_order(shuffled), **kw)  # type: ignore[arg-type]
                assert (a.status, a.expires) == (b.status, b.expires) == (c.status, c.expires)


@given(specs, st.sampled_from([*INSTANTS, T0 + dt.timedelta(days=91)]))
def test_fold_matches_the_reference_model(
    items: list[tuple[object, ...]], now: dt.datetime
) -> None:
    """Without brands and with soft opt-in only, the fold allows exactly when the reference
    model does."""
    events = build([(*i[:3], None, i[4], i[5], "soft_opt_in") for i in items])
    for topic in ("deals", "alerts"):
        for purpose in (MARKETING, TRANSACTIONAL):
            status = consent_status(events, topic=topic, purpose=purpose, brand=None, now=now)
            assert status.status.allows == reference_allows(events, topic, purpose, now)


@given(
    specs,
    st.sampled_from(INSTANTS),
    st.sampled_from([None, "Acme"]),
    st.randoms(use_true_random=False),
)
def test_no_allow_after_a_revocation_without_a_later_confirmation(
    items: list[tuple[object, ...]], revoked_at: dt.datetime, brand: str | None, rng: object
) -> None:
    """No sequence lets a number revoked at T be allowed at a later instant unless an explicit
    confirmation covering the message is dated after T."""
    events = [*build(items), event("revoked", revoked_at, brand=brand)]
    rng.shuffle(events)  # type: ignore[attr-defined]
    for now in [revoked_at, *INSTANTS, T0 + dt.timedelta(days=91)]:
        if now < revoked_at:
            continue
        for topic in ("deals", "alerts"):
            for purpose in (MARKETING, TRANSACTIONAL):
                for message_brand in (None, "Acme", "Other"):
                    status = consent_status(
                        events, topic=topic, purpose=purpose, brand=message_brand, now=now
                    )
                    if not status.status.allows:
                        continue
                    if brand is not None and message_brand not in (None, brand):
                        continue  # another brand's revocation
                    assert any(
                        e.kind is ConsentKind.CONFIRMED
                        and revoked_at < e.at <= now
                        and e.topic in (None, topic)
                        and e.purpose in (None, purpose, MARKETING)
                        for e in events
                    ), (status, events)


def test_effective_order_ranks_ties() -> None:
    """At one instant grants come first, then unclear replies, then revocations; instants
    order everything else."""
    r = event("revoked", T0)
    u = event("unclear", T0)
    c = event("confirmed", T0)
    early = event("revoked", T0 - dt.timedelta(microseconds=1))
    assert effective_order([r, u, c, early]) == [early, c, u, r]


def test_a_grant_dated_at_the_revocation_does_not_undo_it() -> None:
    """A confirmation dated exactly at a revocation's instant does not undo it, in either
    append order; one microsecond later it does."""
    stop = event("revoked", T0)
    same = event("confirmed", T0, topic="deals", purpose="marketing")
    later = event(
        "confirmed", T0 + dt.timedelta(microseconds=1), topic="deals", purpose="marketing"
    )
    now = T0 + dt.timedelta(days=1)
    assert fold([stop, same], now) is ConsentStatus.REVOKED
    assert fold([same, stop], now) is ConsentStatus.REVOKED
    assert fold([later, stop], now) is ConsentStatus.EXPRESS


def test_confirm_with_the_clock_set_back_does_not_resubscribe(
    clock: FrozenClock, store: object
) -> None:
    """A confirmation recorded after a STOP but dated before it (a clock set back) leaves the
    number opted out."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.set(T0 + dt.timedelta(days=1))
    engine.inbound("STOP", NUMBER)
    clock.set(T0 + dt.timedelta(hours=1))
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.set(T0 + dt.timedelta(days=2))
    assert codes(engine) == ["consent.revoked"]
    assert [e.kind for e in engine.consent.history(NUMBER)] == [
        ConsentKind.CONFIRMED,
        ConsentKind.REVOKED,
        ConsentKind.CONFIRMED,
    ]


def test_start_at_the_stop_instant_does_not_rejoin(clock: FrozenClock, store: object) -> None:
    """START recorded at the very instant of a STOP loses the tie; a moment later it rejoins."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    engine.inbound("STOP", NUMBER, to="+12125550100")
    engine.inbound("START", NUMBER, to="+12125550100")
    assert codes(engine) == ["consent.revoked"]
    clock.advance(dt.timedelta(microseconds=1))
    engine.inbound("START", NUMBER, to="+12125550100")
    assert codes(engine) == []


def test_events_dated_later_do_not_count_yet() -> None:
    """An event dated after now is not in effect yet; once now reaches it, it is."""
    events = [
        event("confirmed", T0, topic="deals", purpose="marketing"),
        event("revoked", T0 + dt.timedelta(hours=1)),
    ]
    assert fold(events, T0 + dt.timedelta(minutes=59)) is ConsentStatus.EXPRESS
    assert fold(events, T0 + dt.timedelta(hours=1)) is ConsentStatus.REVOKED


def test_two_requests_at_one_instant_keep_the_longer() -> None:
    """Of two requests dated at one instant, the one that runs longer is pending, in either
    order."""
    short = event(
        "requested", T0, topic="deals", purpose="marketing", expires=T0 + dt.timedelta(days=1)
    )
    long = event(
        "requested", T0, topic="deals", purpose="marketing", expires=T0 + dt.timedelta(days=30)
    )
    never = event("requested", T0, topic="deals", purpose="marketing")
    later = T0 + dt.timedelta(days=2)
    for events in ([short, long], [long, short]):
        detail = consent_status(events, topic="deals", purpose=MARKETING, brand=None, now=later)
        assert (detail.status, detail.expires) == (
            ConsentStatus.PENDING,
            T0 + dt.timedelta(days=30),
        )
    detail = consent_status([never, short], topic="deals", purpose=MARKETING, brand=None, now=later)
    assert (detail.status, detail.expires) == (ConsentStatus.PENDING, None)
    assert fold([short], T0 + dt.timedelta(days=1)) is ConsentStatus.MISSING


# --- unclear replies in the fold ------------------------------------------------------------


def test_unclear_reply_holds_marketing_only() -> None:
    """An unclear reply holds marketing (status held, until its expiry) and leaves
    transactional messages alone."""
    events = [
        event("confirmed", T0, topic="deals", purpose="marketing"),
        event("unclear", T0 + dt.timedelta(hours=1), expires=T0 + dt.timedelta(days=3)),
    ]
    now = T0 + dt.timedelta(hours=2)
    detail = consent_status(events, topic="deals", purpose=MARKETING, brand=None, now=now)
    assert (detail.status, detail.expires) == (ConsentStatus.HELD, T0 + dt.timedelta(days=3))
    assert fold(events, now, purpose=TRANSACTIONAL) is ConsentStatus.EXPRESS
    assert (
        fold(events, T0 + dt.timedelta(days=3) - dt.timedelta(microseconds=1)) is ConsentStatus.HELD
    )
    assert fold(events, T0 + dt.timedelta(days=3)) is ConsentStatus.EXPRESS


def test_unclear_reply_is_resolved_by_a_later_answer() -> None:
    """A later confirmation ends the hold, a later revocation revokes, a confirmation at the
    same instant does not end it, and a hold with no expiry lasts until answered."""
    grant = event("confirmed", T0, topic="deals", purpose="marketing")
    hold = event("unclear", T0 + dt.timedelta(hours=1))
    now = T0 + dt.timedelta(days=400)
    assert fold([grant, hold], now) is ConsentStatus.HELD
    again = event("confirmed", T0 + dt.timedelta(hours=2), topic="deals", purpose="marketing")
    assert fold([grant, hold, again], now) is ConsentStatus.EXPRESS
    tie = event("confirmed", T0 + dt.timedelta(hours=1), topic="deals", purpose="marketing")
    assert fold([grant, hold, tie], now) is ConsentStatus.HELD
    stop = event("revoked", T0 + dt.timedelta(hours=2))
    assert fold([grant, hold, stop], now) is ConsentStatus.REVOKED
    other_topic = event(
        "confirmed", T0 + dt.timedelta(hours=2), topic="alerts", purpose="marketing"
    )
    assert fold([grant, hold, other_topic], now) is ConsentStatus.HELD


def test_unclear_reply_of_another_brand_holds_nothing() -> None:
    """An unclear reply to one brand does not hold another brand's marketing."""
    events = [
        event("confirmed", T0, topic="deals", purpose="marketing"),
        event("unclear", T0, brand="Other"),
    ]
    assert fold(events, T0, brand="Acme") is ConsentStatus.EXPRESS
    assert fold(events, T0, brand="Other") is ConsentStatus.HELD


def test_unclear_without_consent_keeps_the_missing_reason() -> None:
    """With no consent to hold, an unclear reply leaves the status missing."""
    assert fold([event("unclear", T0)], T0) is ConsentStatus.MISSING


def test_held_decision_names_the_reply(clock: FrozenClock, store: object) -> None:
    """The consent rule denies held marketing with consent.held and allows transactional."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    engine.consent.hold(NUMBER, source="api")
    assert codes(engine) == ["consent.held"]
    assert codes(engine, purpose="transactional") == []


# --- boundaries the tests never pinned ----------------------------------------------------


def test_brand_of_a_grant_must_match() -> None:
    """A grant for one brand does not cover another brand's message; a grant naming no brand
    covers every brand."""
    acme = [event("confirmed", T0, topic="deals", purpose="marketing", brand="Acme")]
    assert fold(acme, T0, brand="Other") is ConsentStatus.MISSING
    assert fold(acme, T0, brand="Acme") is ConsentStatus.EXPRESS
    assert fold(acme, T0, brand=None) is ConsentStatus.EXPRESS
    anyone = [event("confirmed", T0, topic="deals", purpose="marketing")]
    assert fold(anyone, T0, brand="Other") is ConsentStatus.EXPRESS


def test_transactional_consent_never_covers_marketing() -> None:
    """Transactional consent allows transactional messages only; marketing consent covers
    both; consent with no purpose covers both."""
    tx = [event("confirmed", T0, topic="deals", purpose="transactional")]
    assert fold(tx, T0) is ConsentStatus.MISSING
    assert fold(tx, T0, purpose=TRANSACTIONAL) is ConsentStatus.EXPRESS
    mk = [event("confirmed", T0, topic="deals", purpose="marketing")]
    assert fold(mk, T0, purpose=TRANSACTIONAL) is ConsentStatus.EXPRESS
    assert fold([event("confirmed", T0, topic="deals")], T0) is ConsentStatus.EXPRESS


@pytest.mark.parametrize(
    ("start", "basis", "expires"),
    [
        (
            dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC),
            "purchase",
            dt.datetime(2027, 1, 15, 15, 0, tzinfo=dt.UTC),
        ),
        (
            dt.datetime(2025, 6, 15, 9, 30, tzinfo=dt.UTC),
            "inquiry",
            dt.datetime(2025, 12, 15, 9, 30, tzinfo=dt.UTC),
        ),
        (
            dt.datetime(2025, 8, 31, 12, 0, tzinfo=dt.UTC),
            "inquiry",
            dt.datetime(2026, 2, 28, 12, 0, tzinfo=dt.UTC),
        ),
        (
            dt.datetime(2023, 8, 31, 12, 0, tzinfo=dt.UTC),
            "inquiry",
            dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.UTC),
        ),
        (
            dt.datetime(2025, 12, 1, 0, 0, tzinfo=dt.UTC),
            "inquiry",
            dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC),
        ),
        (
            dt.datetime(2024, 2, 29, 8, 0, tzinfo=dt.UTC),
            "purchase",
            dt.datetime(2026, 2, 28, 8, 0, tzinfo=dt.UTC),
        ),
        (
            dt.datetime(2025, 7, 10, 8, 0, tzinfo=dt.UTC),
            "non_business",
            dt.datetime(2027, 7, 10, 8, 0, tzinfo=dt.UTC),
        ),
    ],
)
def test_implied_consent_ends_at_its_exact_instant(
    start: dt.datetime, basis: str, expires: dt.datetime
) -> None:
    """Implied consent (CASL: 24 months from a purchase, 6 from an inquiry) allows until the
    instant before its expiry, written out by hand, and not at it."""
    events = [event("implied", start, basis=basis, purpose="marketing")]
    before = consent_status(
        events,
        topic="deals",
        purpose=MARKETING,
        brand=None,
        now=expires - dt.timedelta(microseconds=1),
    )
    at = consent_status(events, topic="deals", purpose=MARKETING, brand=None, now=expires)
    assert (before.status, before.expires) == (ConsentStatus.IMPLIED, expires)
    assert (at.status, at.expires) == (ConsentStatus.EXPIRED, expires)


def test_soft_opt_in_and_express_basis_do_not_expire() -> None:
    """Soft opt-in implied consent lasts until withdrawn."""
    events = [event("implied", T0, basis="soft_opt_in", purpose="marketing")]
    assert fold(events, T0 + dt.timedelta(days=3650)) is ConsentStatus.IMPLIED


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (dt.datetime(2024, 1, 31, tzinfo=dt.UTC), 1, dt.datetime(2024, 2, 29, tzinfo=dt.UTC)),
        (dt.datetime(2023, 1, 31, tzinfo=dt.UTC), 1, dt.datetime(2023, 2, 28, tzinfo=dt.UTC)),
        (dt.datetime(2025, 11, 15, tzinfo=dt.UTC), 1, dt.datetime(2025, 12, 15, tzinfo=dt.UTC)),
        (dt.datetime(2025, 12, 15, tzinfo=dt.UTC), 1, dt.datetime(2026, 1, 15, tzinfo=dt.UTC)),
        (dt.datetime(2025, 11, 30, tzinfo=dt.UTC), 3, dt.datetime(2026, 2, 28, tzinfo=dt.UTC)),
        (dt.datetime(2025, 3, 31, tzinfo=dt.UTC), 1, dt.datetime(2025, 4, 30, tzinfo=dt.UTC)),
        (dt.datetime(2025, 1, 29, tzinfo=dt.UTC), 1, dt.datetime(2025, 2, 28, tzinfo=dt.UTC)),
        (dt.datetime(2025, 5, 28, tzinfo=dt.UTC), 1, dt.datetime(2025, 6, 28, tzinfo=dt.UTC)),
        (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), 23, dt.datetime(2026, 12, 1, tzinfo=dt.UTC)),
        (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), 24, dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
        (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), 0, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_add_months_by_hand(start: dt.datetime, months: int, expected: dt.datetime) -> None:
    """Calendar months are added as a person counts them; a day the month lacks becomes its
    last day."""
    assert add_months(start, months) == expected


def test_reply_topic_needs_consent_without_a_stop(clock: FrozenClock, store: object) -> None:
    """A message on the reply topic with no STOP on record goes through the consent check like
    any other (denied without consent)."""
    engine = make_engine(clock, store)
    reply = Message(NUMBER, REPLY_TOPIC, "transactional")
    assert not engine.evaluate(reply).allowed
    assert engine.evaluate(reply).codes == ("consent.missing",)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    assert engine.evaluate(reply).codes == ("consent.missing",)


def test_stop_confirmation_window_is_five_minutes_exactly(
    clock: FrozenClock, store: object
) -> None:
    """The STOP confirmation may go out until the instant before five minutes have passed, not
    at five minutes (47 CFR 64.1200(a)(12))."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    reply = engine.inbound("STOP", NUMBER).reply_message()
    assert reply is not None
    assert engine.evaluate(reply).allowed
    clock.advance(dt.timedelta(minutes=5) - dt.timedelta(microseconds=1))
    assert engine.evaluate(reply).allowed
    clock.advance(dt.timedelta(microseconds=1))
    assert engine.evaluate(reply).codes == ("consent.revoked",)


def test_only_one_reply_after_the_stop(clock: FrozenClock, store: object) -> None:
    """A reply sent before the STOP does not use up its confirmation; one sent at or after it
    does."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    engine.record_sent(Message(NUMBER, REPLY_TOPIC, "transactional"))
    clock.advance(dt.timedelta(seconds=1))
    reply = engine.inbound("STOP", NUMBER).reply_message()
    assert reply is not None
    assert engine.evaluate(reply).allowed
    engine.record_sent(reply)
    assert not engine.evaluate(reply).allowed


def test_reply_topic_after_a_later_grant_needs_consent(clock: FrozenClock) -> None:
    """Once a grant follows the STOP, the STOP is no longer the latest event: within the five
    minutes the reply topic is judged like any topic (still revoked)."""
    engine = make_engine(clock)
    engine.inbound("STOP", NUMBER)
    clock.advance(dt.timedelta(seconds=1))
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    assert engine.evaluate(Message(NUMBER, REPLY_TOPIC, "transactional")).codes == (
        "consent.revoked",
    )


# --- the tamper check -----------------------------------------------------------------------


def filled(engine: Engine, clock: FrozenClock) -> None:
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(minutes=1))
    engine.consent.revoke(NUMBER, source="keyword:stop")
    clock.advance(dt.timedelta(minutes=1))


def _edit_sqlite(path: Path) -> Callable[[int, Callable[[dict[str, object]], None]], None]:
    def edit(seq: int, change: Callable[[dict[str, object]], None]) -> None:
        db = sqlite3.connect(path)
        (record,) = db.execute(
            "SELECT record FROM consent_events WHERE number = ? AND seq = ?", (NUMBER, seq)
        ).fetchone()
        data = json.loads(record)
        change(data)
        db.execute(
            "UPDATE consent_events SET record = ? WHERE number = ? AND seq = ?",
            (json.dumps(data), NUMBER, seq),
        )
        db.commit()
        db.close()

    return edit


def _edit_postgres(schema: str) -> Callable[[int, Callable[[dict[str, object]], None]], None]:
    import psycopg
    from psycopg import sql

    def edit(seq: int, change: Callable[[dict[str, object]], None]) -> None:
        table = sql.SQL("{}.consent_events").format(sql.Identifier(schema))
        with psycopg.connect(services.POSTGRES_DSN, autocommit=True) as conn:
            row = conn.execute(
                sql.SQL("SELECT record FROM {} WHERE number = %s AND seq = %s").format(table),
                (NUMBER, seq),
            ).fetchone()
            assert row is not None
            data = json.loads(row[0])
            change(data)
            conn.execute(
                sql.SQL("UPDATE {} SET record = %s WHERE number = %s AND seq = %s").format(table),
                (json.dumps(data), NUMBER, seq),
            )

    return edit


def _edit_memory(store: MemoryStore) -> Callable[[int, Callable[[dict[str, object]], None]], None]:
    def edit(seq: int, change: Callable[[dict[str, object]], None]) -> None:
        chain = store._events[NUMBER]
        data = chain[seq].to_json()
        change(data)
        chain[seq] = ConsentEvent.from_json(data)

    return edit


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def tamperable(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[object, Callable[..., None]]]:
    """A store and a way to edit one stored consent event behind its back: the in-memory
    list, the SQLite row, the PostgreSQL row, and, with Redis for the send log (Redis holds no
    consent events), the SQL ledger row beside it."""
    if request.param == "memory":
        memory = MemoryStore()
        yield memory, _edit_memory(memory)
    elif request.param == "sqlite":
        path = tmp_path / "ledger.db"
        yield SQLiteStore(path), _edit_sqlite(path)
    elif request.param == "postgres":
        pg = services.postgres_store()
        try:
            yield pg, _edit_postgres(pg.schema)  # type: ignore[attr-defined]
        finally:
            services.drop(pg)
    else:
        pg = services.postgres_store()
        composed = ComposedStore(pg, services.redis_store())  # type: ignore[arg-type]
        try:
            yield composed, _edit_postgres(pg.schema)  # type: ignore[attr-defined]
        finally:
            services.drop(composed)


def _set_kind(data: dict[str, object]) -> None:
    data["kind"] = "confirmed"
    data["topic"] = "deals"
    data["purpose"] = "marketing"


def test_edited_stop_is_denied_as_tampered(
    clock: FrozenClock, tamperable: tuple[object, Callable[..., None]]
) -> None:
    """A STOP edited into a confirmation in the store, its hash left alone, makes every
    decision DENY consent.tampered naming the number and the event; before the edit the same
    message was denied as revoked."""
    store, edit = tamperable
    engine = make_engine(clock, store)
    filled(engine, clock)
    assert codes(engine) == ["consent.revoked"]
    edit(1, _set_kind)
    decision = engine.evaluate(Message(NUMBER, "deals", "marketing"))
    assert decision.codes == ("consent.tampered",)
    reason = decision.reasons[0]
    assert NUMBER in reason.message
    assert "event 1" in reason.message
    assert (reason.data["number"], reason.data["seq"]) == (NUMBER, 1)
    assert "hash does not match" in str(reason.data["problem"])
    assert codes(engine, purpose="transactional") == ["consent.tampered"]
    assert not engine.evaluate(Message(NUMBER, REPLY_TOPIC, "transactional")).allowed


def test_proof_exported_before_an_edit_no_longer_verifies(
    clock: FrozenClock, tamperable: tuple[object, Callable[..., None]]
) -> None:
    """A proof exported before a stored event was edited fails verification against the
    ledger, naming the event and the field that differ."""
    store, edit = tamperable
    engine = make_engine(clock, store)
    filled(engine, clock)
    proof = engine.consent.proof(NUMBER)
    assert engine.consent.verify(proof) is True
    edit(1, lambda data: data.update(kind="confirmed"))
    with pytest.raises(LedgerIntegrityError) as caught:
        engine.consent.verify(proof)
    message = str(caught.value)
    assert "event 1 differs" in message
    assert "kind 'revoked' in the proof, 'confirmed' in the ledger" in message
    assert "event 0 differs" not in message
    assert f"event 1 of {NUMBER} was altered" in message
    assert verify_proof(proof) is True  # on its own, the proof is still one intact chain


def test_edited_grant_with_a_recomputed_hash_breaks_the_next_link(
    clock: FrozenClock, tamperable: tuple[object, Callable[..., None]]
) -> None:
    """Editing an event and recomputing its hash breaks the link of the event after it."""
    store, edit = tamperable
    engine = make_engine(clock, store)
    filled(engine, clock)
    first = engine.consent.history(NUMBER)[0]
    forged = attrs.evolve(first, source="forged").chained(0, first.prev_hash)
    edit(0, lambda data: data.update(forged.to_json()))
    decision = engine.evaluate(Message(NUMBER, "deals", "marketing"))
    assert decision.codes == ("consent.tampered",)
    assert decision.reasons[0].data["seq"] == 1
    assert decision.reasons[0].data["problem"] == "does not follow event 0"


def test_chain_break_names_each_problem() -> None:
    """Each way a chain can break is named with its position."""
    a = event("confirmed", T0).chained(0, "0" * 64)
    b = event("revoked", T0).chained(1, a.hash)
    assert chain_break([a, b]) is None
    assert chain_break([]) is None
    assert chain_break([b]) == ChainBreak(NUMBER, 0, "has seq 1: an event was dropped or reordered")
    assert chain_break([a, event("revoked", T0).chained(1, "f" * 64)]) == ChainBreak(
        NUMBER, 1, "does not follow event 0"
    )
    other = ConsentEvent(kind="revoked", number="+12125550199", at=T0, source="b").chained(
        1, a.hash
    )
    assert chain_break([a, other]) == ChainBreak(NUMBER, 1, "belongs to another recipient")
    edited = attrs.evolve(b, kind="confirmed")
    assert chain_break([a, edited]) == ChainBreak(
        NUMBER, 1, "was altered: its hash does not match its fields"
    )
    assert (
        str(chain_break([a, edited]))
        == f"event 1 of {NUMBER} was altered: its hash does not match its fields"
    )
    with pytest.raises(LedgerIntegrityError, match="event 1 of"):
        verify_chain([a, edited])
    assert chain_break([a, b]) is None  # verified once, still verified


def test_each_fresh_copy_of_an_event_is_checked() -> None:
    """An edited copy of an event already verified is checked on its own (the check is kept
    per object, not per content)."""
    a = event("confirmed", T0).chained(0, "0" * 64)
    assert chain_break([a]) is None
    evidence = attrs.evolve(a, evidence={"ip": "198.51.100.9"})
    assert evidence == a  # evidence does not take part in equality...
    assert chain_break([evidence]) == ChainBreak(
        NUMBER, 0, "was altered: its hash does not match its fields"
    )


# --- proofs against the ledger ----------------------------------------------------------------


def test_forged_proof_does_not_match_the_ledger(clock: FrozenClock, store: object) -> None:
    """A proof that is one intact chain but not the ledger's records (rebuilt with an event
    changed) verifies on its own and fails against the ledger."""
    engine = make_engine(clock, store)
    filled(engine, clock)
    data = json.loads(engine.consent.proof(NUMBER))
    events = [ConsentEvent.from_json(e) for e in data["events"]]
    first = attrs.evolve(events[0], source="forged").chained(0, "0" * 64)
    second = events[1].chained(1, first.hash)
    data["events"] = [first.to_json(), second.to_json()]
    data["head"] = second.hash
    forged = json.dumps(data)
    assert verify_proof(forged) is True
    with pytest.raises(LedgerIntegrityError, match="does not match the ledger") as caught:
        engine.consent.verify(forged)
    assert "event 0 differs (source 'forged' in the proof, 'api' in the ledger" in str(caught.value)


def test_proof_and_ledger_of_different_lengths(clock: FrozenClock, store: object) -> None:
    """A proof exported before later events is not the whole record; a ledger shorter than the
    proof lost events."""
    engine = make_engine(clock, store)
    filled(engine, clock)
    proof = engine.consent.proof(NUMBER)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    with pytest.raises(
        LedgerIntegrityError, match=r"holds 1 event\(s\) after the proof's last \(event 1\)"
    ):
        engine.consent.verify(proof)
    data = json.loads(engine.consent.proof(NUMBER))
    other = make_engine(clock, MemoryStore())
    other.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    with pytest.raises(LedgerIntegrityError, match="lacks events 1 to 2 of the proof"):
        other.consent.verify(json.dumps(data))


def test_proof_of_an_empty_history_verifies(clock: FrozenClock) -> None:
    """A number with no events exports an empty proof that verifies."""
    engine = make_engine(clock)
    assert engine.consent.verify(engine.consent.proof(NUMBER)) is True


# --- consent import ---------------------------------------------------------------------------

HEADER = "number,kind,at,topic,purpose,brand,basis,source,evidence\n"


def _import(tmp_path: Path, rows: str, db: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "consents.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    assert main(["consent", "import", str(path), "--db", str(db), "--at", "2025-01-20T00:00Z"]) == 0
    return capsys.readouterr().out


def test_import_keys_on_every_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A transactional and a marketing row at one instant both import; importing them again
    adds nothing."""
    rows = (
        "+12125550123,confirmed,2025-01-10T12:00Z,deals,transactional,,,crm,\n"
        "+12125550123,confirmed,2025-01-10T12:00Z,deals,marketing,,,crm,\n"
        '+12125550123,confirmed,2025-01-10T12:00Z,deals,marketing,,,crm,"{""ip"": ""1""}"\n'
    )
    db = tmp_path / "l.db"
    assert _import(tmp_path, rows, db, capsys) == "3 consent events imported, 0 already present\n"
    assert _import(tmp_path, rows, db, capsys) == "0 consent events imported, 3 already present\n"
    purposes = [e.purpose for e in SQLiteStore(db).consent_events([NUMBER])[NUMBER]]
    assert purposes == [Purpose.TRANSACTIONAL, Purpose.MARKETING, Purpose.MARKETING]


def test_import_of_an_old_list_reports_what_a_later_stop_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows dated before a STOP on record are imported as history, counted, and do not
    resubscribe; rows after it, or for another number, count as effective."""
    db = tmp_path / "l.db"
    clock = FrozenClock(dt.datetime(2025, 1, 12, tzinfo=dt.UTC))
    engine = make_engine(clock, SQLiteStore(db))
    engine.inbound("STOP", NUMBER)
    rows = (
        "+12125550123,confirmed,2025-01-10T12:00Z,deals,marketing,,,old-list,\n"
        "+12125550123,implied,2025-01-11T12:00Z,deals,marketing,,purchase,old-list,\n"
        "+12125550123,confirmed,2025-01-12T00:00Z,deals,marketing,,,old-list,\n"
        "+12125550123,confirmed,2025-01-13T00:00Z,alerts,transactional,,,new-list,\n"
        "+12125550199,confirmed,2025-01-10T12:00Z,deals,marketing,,,old-list,\n"
        "+12125550123,revoked,2025-01-09T00:00Z,,,,,old-list,\n"
    )
    out = _import(tmp_path, rows, db, capsys)
    assert out == (
        "6 consent events imported, 0 already present\n"
        "3 rows older than a later STOP: kept as history, not effective\n"
    )
    clock.set(dt.datetime(2025, 1, 20, tzinfo=dt.UTC))
    assert codes(make_engine(clock, SQLiteStore(db))) == ["consent.revoked"]


def test_import_without_a_stop_reports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An import no revocation overrides prints only the count."""
    rows = "+12125550123,confirmed,2025-01-10T12:00Z,deals,marketing,,,crm,\n"
    out = _import(tmp_path, rows, tmp_path / "l.db", capsys)
    assert out == "1 consent event imported, 0 already present\n"


def test_superseded_by_follows_the_brand_scope() -> None:
    """A revocation dated at or after a grant, from its brand or naming none, supersedes it;
    another brand's, an earlier one, or a revocation itself does not."""
    grant = event("confirmed", T0, topic="deals", brand="Acme")
    same_instant = event("revoked", T0)
    assert superseded_by(grant, [same_instant]) is same_instant
    assert superseded_by(grant, [event("revoked", T0 - dt.timedelta(microseconds=1))]) is None
    assert superseded_by(grant, [event("revoked", T0, brand="Other")]) is None
    topic_stop = event("revoked", T0, brand="Acme", topic="alerts")
    assert superseded_by(grant, [topic_stop]) is topic_stop
    assert superseded_by(same_instant, [same_instant]) is None
    elsewhere = ConsentEvent(kind="revoked", number="+12125550199", at=T0, source="x")
    assert superseded_by(grant, [elsewhere]) is None
    assert superseded_by(grant, [event("unclear", T0)]) is None


# --- the send log and reservations keep working on a tampered ledger --------------------


def test_reservation_is_denied_on_a_tampered_ledger(clock: FrozenClock) -> None:
    """reserve() takes no slot when the consent chain is broken."""
    store = MemoryStore()
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    _edit_memory(store)(0, lambda data: data.update(source="edited"))
    reservation = engine.reserve(Message(NUMBER, "deals", "marketing"))
    assert reservation.decision.codes == ("consent.tampered",)
    assert store.sends([NUMBER], since=T0 - dt.timedelta(days=1))[NUMBER] == []


# --- the ledger API writes exactly what it is given ---------------------------------------


class TickingClock:
    """A clock one millisecond later at every reading, so two readings never agree."""

    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def now(self) -> dt.datetime:
        self.at += dt.timedelta(milliseconds=1)
        return self.at


def test_ledger_methods_record_every_field() -> None:
    """Each ledger call records its kind, topic, purpose, brand, basis, source, evidence and
    expiry as given, stamped with one reading of the clock."""
    clock = TickingClock(T0)
    engine = Engine(
        Policy(R.consent()),
        MemoryStore(),
        clock,
        programs=[DEALS],
        unclear_hold=dt.timedelta(days=2),
    )
    ms = dt.timedelta(milliseconds=1)
    ev = {"ip": "203.0.113.7"}
    requested = engine.consent.opt_in(
        NUMBER, topic="deals", purpose="marketing", source="web", brand="Acme", evidence=ev
    )
    confirmed = engine.consent.confirm(
        NUMBER, topic="deals", purpose="transactional", source="api", brand="Acme", evidence=ev
    )
    implied = engine.consent.imply(
        NUMBER,
        basis="purchase",
        purpose="marketing",
        source="pos",
        topic="deals",
        brand="Acme",
        evidence=ev,
    )
    held = engine.consent.hold(NUMBER, source="keyword", brand="Acme", evidence=ev)
    revoked = engine.consent.revoke(
        NUMBER, source="keyword:stop", topic="deals", brand="Acme", evidence=ev
    )
    rows = [
        (
            e.kind.value,
            e.at,
            e.topic,
            e.purpose and e.purpose.value,
            e.brand,
            e.basis and e.basis.value,
            e.source,
            dict(e.evidence),
            e.expires,
        )
        for e in (requested, confirmed, implied, held, revoked)
    ]
    assert rows == [
        (
            "requested",
            T0 + ms,
            "deals",
            "marketing",
            "Acme",
            None,
            "web",
            ev,
            T0 + ms + dt.timedelta(days=30),
        ),
        ("confirmed", T0 + 2 * ms, "deals", "transactional", "Acme", "express", "api", ev, None),
        ("implied", T0 + 3 * ms, "deals", "marketing", "Acme", "purchase", "pos", ev, None),
        (
            "unclear",
            T0 + 4 * ms,
            None,
            None,
            "Acme",
            None,
            "keyword",
            ev,
            T0 + 4 * ms + dt.timedelta(days=2),
        ),
        ("revoked", T0 + 5 * ms, "deals", None, "Acme", None, "keyword:stop", ev, None),
    ]
    assert [e.seq for e in engine.consent.history(NUMBER)] == [0, 1, 2, 3, 4]


# --- proofs: their exact form -----------------------------------------------------------


def _proven(clock: FrozenClock) -> Engine:
    engine = make_engine(clock)
    engine.consent.confirm(
        NUMBER,
        topic="deals",
        purpose="marketing",
        source="web",
        evidence={"b": 1, "a": "caf\u00e9"},
    )
    clock.advance(dt.timedelta(minutes=1))
    engine.consent.revoke(NUMBER, source="keyword:stop")
    return engine


def test_json_proof_form(clock: FrozenClock) -> None:
    """A JSON proof names the number, the export instant and the head hash, indents by two
    spaces and keeps non-ASCII text as it is."""
    engine = _proven(clock)
    text = engine.consent.proof(NUMBER)
    data = json.loads(text)
    assert list(data) == ["number", "exported_at", "head", "events"]
    assert data["number"] == NUMBER
    assert data["exported_at"] == "2025-01-15T15:01:00+00:00"
    assert data["head"] == data["events"][1]["hash"]
    assert text.startswith('{\n  "number": "+12125550123",\n  "exported_at"')
    assert "caf\u00e9" in text
    assert [e["kind"] for e in data["events"]] == ["confirmed", "revoked"]


def test_csv_proof_form(clock: FrozenClock) -> None:
    """A CSV proof has one header and one line per event, lines ended by a line feed, empty
    cells for missing values and the evidence as sorted, readable JSON."""
    engine = _proven(clock)
    text = engine.consent.proof(NUMBER, format="csv")
    lines = text.split("\n")
    assert "\r" not in text
    assert (
        lines[0]
        == "seq,kind,number,at,topic,purpose,brand,basis,source,evidence,expires,prev_hash,hash"
    )
    assert lines[1].startswith(
        "0,confirmed,+12125550123,2025-01-15T15:00:00+00:00,deals,marketing,,express,web,"
        '"{""a"": ""caf\u00e9"", ""b"": 1}",,' + "0" * 64 + ","
    )
    assert lines[2].startswith(
        "1,revoked,+12125550123,2025-01-15T15:01:00+00:00,,,,,keyword:stop,{},,"
    )
    assert lines[3] == ""
    assert engine.consent.verify(text, format="csv") is True


def test_proof_format_must_be_json_or_csv(clock: FrozenClock) -> None:
    """An unknown proof format is a clear error, on export and on verification."""
    engine = _proven(clock)
    with pytest.raises(InvalidInputError, match="format must be 'json' or 'csv', got 'xml'"):
        engine.consent.proof(NUMBER, format="xml")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="format must be 'json' or 'csv', got 'xml'"):
        engine.consent.verify("{}", format="xml")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"^a proof must be text$"):
        engine.consent.verify(b"{}")  # type: ignore[arg-type]


def test_unreadable_proofs_say_why(clock: FrozenClock) -> None:
    """A proof that cannot be read, or whose head is not its last event, is named as such; a
    proof without a head reads as an empty chain's."""
    engine = _proven(clock)
    data = json.loads(engine.consent.proof(NUMBER))
    with pytest.raises(LedgerIntegrityError, match="the proof cannot be read"):
        engine.consent.verify("{")
    data["head"] = "f" * 64
    with pytest.raises(
        LedgerIntegrityError, match=r"^the proof's head does not match its last event$"
    ):
        engine.consent.verify(json.dumps(data))
    empty = {"number": NUMBER, "events": []}
    assert verify_proof(json.dumps(empty)) is True
    del data["head"]
    with pytest.raises(LedgerIntegrityError, match="head does not match"):
        verify_proof(json.dumps(data))
    csv_proof = engine.consent.proof(NUMBER, format="csv").replace(
        ',"{""a"": ""caf\u00e9"", ""b"": 1}",', ",,"
    )
    with pytest.raises(LedgerIntegrityError, match="was altered"):
        verify_proof(csv_proof, format="csv")


def test_differences_are_listed_field_by_field(clock: FrozenClock) -> None:
    """Every differing field of every differing event is named, events and problems apart."""
    store = MemoryStore()
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
    clock.advance(dt.timedelta(minutes=1))
    engine.consent.revoke(NUMBER, source="keyword:stop")
    proof = engine.consent.proof(NUMBER)
    _edit_memory(store)(0, lambda data: data.update(source="crm", topic="alerts"))
    _edit_memory(store)(1, lambda data: data.update(source="api"))
    with pytest.raises(LedgerIntegrityError) as caught:
        engine.consent.verify(proof)
    assert str(caught.value) == (
        "the proof does not match the ledger's records: "
        "event 0 differs (source 'web' in the proof, 'crm' in the ledger, "
        "topic 'deals' in the proof, 'alerts' in the ledger); "
        "event 1 differs (source 'keyword:stop' in the proof, 'api' in the ledger); "
        f"the ledger's own chain is broken: event 0 of {NUMBER} was altered: its hash does not "
        "match its fields"
    )
    del store._events[NUMBER][1]
    with pytest.raises(LedgerIntegrityError) as caught:
        engine.consent.verify(proof)
    assert "the ledger lacks events 1 to 1 of the proof: they were dropped" in str(caught.value)


# --- each stored event is hashed once ------------------------------------------------------


@pytest.mark.caches
def test_each_event_object_is_hashed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """An event object whose hash was checked is not hashed again; a fresh copy is."""
    a = event("confirmed", T0).chained(0, "0" * 64)
    b = event("revoked", T0).chained(1, a.hash)
    calls: list[int] = []
    real = ConsentEvent.compute_hash

    def counting(self: ConsentEvent) -> str:
        calls.append(self.seq)
        return real(self)

    monkeypatch.setattr(ConsentEvent, "compute_hash", counting)
    verified = Seen()
    for _ in range(3):
        assert chain_break([a, b], verified) is None
    assert calls == [0, 1]
    copy = ConsentEvent.from_json(b.to_json())
    assert chain_break([a, copy], verified) is None
    assert calls == [0, 1, 1]


@pytest.mark.caches
def test_checked_events_are_remembered_only_while_they_live() -> None:
    """The memory of checked events keeps none of them alive: once an event object is
    collected, its entry goes, and a new object (perhaps at the same address) is hashed."""
    import gc

    verified = Seen()
    events = [
        event("confirmed", T0 + dt.timedelta(seconds=i)).chained(0, "0" * 64) for i in range(3)
    ]
    for e in events:
        assert chain_break([e], verified) is None
    assert len(verified) == 3
    assert all(e in verified for e in events)
    del e
    events.pop()
    gc.collect()
    assert len(verified) == 2
    events.clear()
    gc.collect()
    assert len(verified) == 0


def test_each_status_names_the_event_that_settled_it() -> None:
    """The folded status carries the event that settled it, which the consent rule quotes."""
    grant = event("confirmed", T0, topic="deals", purpose="marketing")
    stop = event("revoked", T0 + dt.timedelta(hours=1))
    request = event(
        "requested", T0, topic="deals", purpose="marketing", expires=T0 + dt.timedelta(days=30)
    )
    implied = event("implied", T0, basis="inquiry", purpose="marketing")
    hold = event("unclear", T0 + dt.timedelta(hours=1))
    later = T0 + dt.timedelta(days=1)

    def detail(events: list[ConsentEvent], now: dt.datetime) -> tuple[ConsentStatus, object]:
        found = consent_status(events, topic="deals", purpose=MARKETING, brand=None, now=now)
        return found.status, found.event

    assert detail([grant], later) == (ConsentStatus.EXPRESS, grant)
    assert detail([grant, stop], later) == (ConsentStatus.REVOKED, stop)
    assert detail([request], later) == (ConsentStatus.PENDING, request)
    assert detail([implied], later) == (ConsentStatus.IMPLIED, implied)
    assert detail([implied], T0 + dt.timedelta(days=365)) == (ConsentStatus.EXPIRED, implied)
    assert detail([grant, hold], later) == (ConsentStatus.HELD, hold)
    assert detail([], later) == (ConsentStatus.MISSING, None)


def test_implied_consent_and_requests_respect_the_brand() -> None:
    """Implied consent or a request for one brand says nothing about another brand's message."""
    implied = [event("implied", T0, basis="purchase", purpose="marketing", brand="Other")]
    assert fold(implied, T0, brand="Acme") is ConsentStatus.MISSING
    assert fold(implied, T0, brand="Other") is ConsentStatus.IMPLIED
    request = [event("requested", T0, topic="deals", purpose="marketing", brand="Other")]
    assert fold(request, T0, brand="Acme") is ConsentStatus.MISSING
    assert fold(request, T0, brand="Other") is ConsentStatus.PENDING


def test_implied_after_a_stop_and_after_a_confirmation() -> None:
    """Implied consent after a STOP does not restore consent; after a confirmation that
    followed the STOP it changes nothing (express consent stays)."""
    stop = event("revoked", T0)
    purchase = event("implied", T0 + dt.timedelta(hours=1), basis="purchase", purpose="marketing")
    assert fold([stop, purchase], T0 + dt.timedelta(days=1)) is ConsentStatus.REVOKED
    again = event("confirmed", T0 + dt.timedelta(minutes=1), topic="deals", purpose="marketing")
    assert fold([stop, again, purchase], T0 + dt.timedelta(days=1)) is ConsentStatus.EXPRESS


# --- the consent rule's reasons and options ------------------------------------------------


def _decide(
    rule: object, events: list[ConsentEvent], now: dt.datetime, **message: object
) -> object:
    store = MemoryStore()
    for e in events:
        store.append_consent(e)
    engine = Engine(Policy(rule, name="p"), store, FrozenClock(now))  # type: ignore[arg-type]
    fields = {"to": NUMBER, "topic": "deals", "purpose": "marketing", **message}
    return engine.evaluate(Message(**fields))  # type: ignore[arg-type]


def test_reasons_carry_status_topic_purpose_and_instants() -> None:
    """Each denial names its status, topic, purpose and the instants of the event that settled
    it, in data and in words."""
    later = T0 + dt.timedelta(days=400)
    missing = _decide(R.consent(), [], T0)
    reason = missing.reasons[0]  # type: ignore[attr-defined]
    assert (reason.code, reason.rule, reason.citation) == ("consent.missing", "consent", None)
    assert dict(reason.data) == {
        "status": "missing",
        "topic": "deals",
        "purpose": "marketing",
        "at": "",
        "expires": "",
    }
    assert reason.message == "there is no consent for topic deals (marketing)"
    expired = _decide(
        R.consent(), [event("implied", T0, basis="inquiry", purpose="marketing")], later
    )
    reason = expired.reasons[0]  # type: ignore[attr-defined]
    assert dict(reason.data) == {
        "status": "expired",
        "topic": "deals",
        "purpose": "marketing",
        "at": "2025-01-15T15:00:00+00:00",
        "expires": "2025-07-15T15:00:00+00:00",
    }
    assert reason.message == (
        "the implied consent of 2025-01-15T15:00:00+00:00 expired on 2025-07-15T15:00:00+00:00"
    )
    revoked = _decide(R.consent(), [event("revoked", T0)], later, purpose="transactional")
    reason = revoked.reasons[0]  # type: ignore[attr-defined]
    assert (reason.data["status"], reason.data["purpose"], reason.data["at"]) == (
        "revoked",
        "transactional",
        "2025-01-15T15:00:00+00:00",
    )
    assert reason.message == "the recipient opted out on 2025-01-15T15:00:00+00:00"


def test_code_citation_and_name_of_a_jurisdictions_consent_rule() -> None:
    """With code and citation the denial names them and the jurisdiction's standard; the
    rule's name is the reason's rule, and its repr."""
    rule = R.consent(code="us.tcpa.written_consent", citation="47 CFR 64.1200(a)(2)", name="tcpa")
    reason = _decide(rule, [], T0).reasons[0]  # type: ignore[attr-defined]
    assert (reason.code, reason.rule, reason.citation) == (
        "us.tcpa.written_consent",
        "tcpa",
        "47 CFR 64.1200(a)(2)",
    )
    assert (
        reason.message
        == "the consent on record (missing) does not meet this jurisdiction's standard"
    )
    assert repr(rule) == "tcpa"
    assert repr(R.consent(stop_scope="topic")) == "consent(stop_scope='topic')"
    with pytest.raises(
        ConfigurationError, match="stop_scope must be 'brand' or 'topic', got 'all'"
    ):
        R.consent(stop_scope="all")  # type: ignore[arg-type]


def test_erased_number_reason_uses_the_rules_code(clock: FrozenClock) -> None:
    """A number erased after opting out is denied with the rule's code, name and citation."""
    store = MemoryStore()
    engine = Engine(
        Policy(R.consent(code="x.consent", citation="Act s. 1", name="x"), name="p"), store, clock
    )
    engine.consent.revoke(NUMBER, source="api")
    engine.forget(NUMBER)
    reason = engine.evaluate(Message(NUMBER, "deals", "marketing")).reasons[0]
    assert (reason.code, reason.rule, reason.citation, reason.message) == (
        "x.consent",
        "x",
        "Act s. 1",
        "the number was erased after opting out",
    )
    plain = Engine(Policy(R.consent(), name="p"), store, clock)
    assert (
        plain.evaluate(Message(NUMBER, "deals", "marketing")).reasons[0].code == "consent.revoked"
    )


@pytest.mark.parametrize(
    ("bases", "basis", "allowed"),
    [
        ((), "purchase", False),
        ((), "soft_opt_in", False),
        (("soft_opt_in",), "soft_opt_in", True),
        (("soft_opt_in",), "purchase", False),
        (None, "purchase", True),
        ({"purchase", "inquiry"}, "inquiry", True),
    ],
)
def test_implied_bases_limit_what_implied_consent_counts(
    bases: object, basis: str, allowed: bool
) -> None:
    """Only the implied bases a rule accepts allow; the rest count as missing consent, and
    express consent always counts."""
    rule = R.consent(implied_bases=bases)  # type: ignore[arg-type]
    decision = _decide(rule, [event("implied", T0, basis=basis, purpose="marketing")], T0)
    assert decision.allowed is allowed  # type: ignore[attr-defined]
    if not allowed:
        assert decision.codes == ("consent.missing",)  # type: ignore[attr-defined]
        at = decision.reasons[0].data["at"]  # type: ignore[attr-defined]
        assert at == "2025-01-15T15:00:00+00:00"  # the implied consent it did not accept
    express = [event("confirmed", T0, topic="deals", purpose="marketing")]
    assert _decide(rule, express, T0).allowed  # type: ignore[attr-defined]


def test_implied_bases_are_checked() -> None:
    """An unknown basis or a value that is not a collection is a clear ConfigurationError."""
    with pytest.raises(ConfigurationError, match=r"Basis must be one of .*got .sometimes."):
        R.consent(implied_bases=["sometimes"])
    with pytest.raises(
        ConfigurationError, match="implied_bases must be a collection of Basis, got 3"
    ):
        R.consent(implied_bases=3)  # type: ignore[arg-type]


def test_two_consent_rules_fold_with_their_own_terms() -> None:
    """Two consent rules with different implied terms in one policy each fold with their own
    terms (their shared work is kept apart)."""
    purchase = [event("implied", T0, basis="purchase", purpose="marketing")]
    short = R.consent(implied_terms={Basis.PURCHASE: 1}, name="short")
    both = Policy(short, R.consent(), name="both")
    decision = _decide(both, purchase, T0 + dt.timedelta(days=60))
    assert [(r.rule, r.code) for r in decision.reasons] == [("short", "consent.expired")]  # type: ignore[attr-defined]
    reverse = Policy(R.consent(), short, name="reverse")
    decision = _decide(reverse, purchase, T0 + dt.timedelta(days=60))
    assert [(r.rule, r.code) for r in decision.reasons] == [("short", "consent.expired")]  # type: ignore[attr-defined]


def test_shared_denials_keep_each_messages_facts(clock: FrozenClock) -> None:
    """Denials are shared only between messages with the same facts: each names its own topic,
    purpose and the instant of its own STOP."""
    engine = make_engine(clock)
    first = engine.evaluate(Message(NUMBER, "deals", "marketing")).reasons[0]
    second = engine.evaluate(Message(NUMBER, "alerts", "transactional")).reasons[0]
    assert (first.data["topic"], first.data["purpose"]) == ("deals", "marketing")
    assert (second.data["topic"], second.data["purpose"]) == ("alerts", "transactional")
    engine.consent.revoke(NUMBER, source="api")
    clock.advance(dt.timedelta(hours=1))
    engine.consent.revoke("+12125550124", source="api")
    a = engine.evaluate(Message(NUMBER, "deals", "marketing")).reasons[0]
    b = engine.evaluate(Message("+12125550124", "deals", "marketing")).reasons[0]
    assert (a.data["at"], b.data["at"]) == (
        "2025-01-15T15:00:00+00:00",
        "2025-01-15T16:00:00+00:00",
    )


def test_tampered_reason_names_the_rule(clock: FrozenClock) -> None:
    """The tamper denial is given by the rule that found it."""
    store = MemoryStore()
    engine = Engine(Policy(R.consent(name="tcpa"), name="p"), store, clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    _edit_memory(store)(0, lambda data: data.update(source="edited"))
    reason = engine.evaluate(Message(NUMBER, "deals", "marketing")).reasons[0]
    assert (reason.code, reason.rule, reason.citation) == ("consent.tampered", "tcpa", None)
    assert reason.message == (
        f"the consent records of {NUMBER} fail their integrity check at event 0 (was altered: "
        "its hash does not match its fields), so no decision is taken from them"
    )


def test_written_evidence_edited_after_a_decision_is_tampering(
    clock: FrozenClock, tamperable: tuple[object, Callable[..., None]]
) -> None:
    """A US marketing text allowed on a signed written consent; the agreement is then removed
    from the stored event, its hash left alone: the next decision is DENY consent.tampered,
    not the ALLOW the proven agreement gave before."""
    from smspolicy import jurisdictions
    from smspolicy.consent import WrittenConsent

    store, edit = tamperable
    clock.set(dt.datetime(2026, 3, 10, 17, tzinfo=dt.UTC))  # 12:00 in New York
    engine = Engine(jurisdictions.standard(), store, clock)  # type: ignore[arg-type]
    signed = WrittenConsent("docusign:envelope-42", "Acme deals by text", NUMBER).evidence()
    engine.consent.confirm(
        NUMBER, topic="deals", purpose="marketing", source="web", evidence=signed, brand="Acme"
    )
    text = Message(NUMBER, "deals", "marketing", body="Acme: 20% off. Reply STOP to opt out.")
    assert engine.evaluate(text).allowed
    assert engine.evaluate(text).allowed  # the proof remembered
    edit(0, lambda data: data.update(evidence={}))
    decision = engine.evaluate(text)
    assert decision.verdict is Verdict.DENY
    assert "consent.tampered" in decision.codes


# --- appending a batch ---------------------------------------------------------------------


def _batch() -> list[ConsentEvent]:
    other = "+12125550199"
    return [
        ConsentEvent(kind="confirmed", number=NUMBER, at=T0, source="web", topic="deals"),
        ConsentEvent(kind="confirmed", number=other, at=T0, source="web", evidence={"ip": "x"}),
        ConsentEvent(kind="revoked", number=NUMBER, at=T0 + dt.timedelta(days=1), source="sms"),
        ConsentEvent(kind="implied", number=other, at=T0, source="pos", basis="purchase"),
    ]


def test_sqlite_batch_append_chains_as_one_at_a_time(tmp_path: Path) -> None:
    """SQLiteStore.append_consents stores the events exactly as append_consent one after another
    would, after what the ledger already holds, and the chains verify."""
    first = ConsentEvent(kind="requested", number=NUMBER, at=T0, source="web")
    one, many = SQLiteStore(tmp_path / "one.sqlite3"), SQLiteStore(tmp_path / "many.sqlite3")
    one.append_consent(first)
    many.append_consent(first)
    singly = [one.append_consent(e) for e in _batch()]
    assert many.append_consents(_batch()) == singly
    assert many.append_consents([]) == []
    ledger = many.consent_events([NUMBER, "+12125550199"])
    assert ledger == one.consent_events([NUMBER, "+12125550199"])
    assert [e.seq for e in ledger[NUMBER]] == [0, 1, 2]
    assert all(chain_break(events) is None for events in ledger.values())
    one.close()
    many.close()


def test_sqlite_batch_append_is_all_or_nothing(tmp_path: Path) -> None:
    """A batch that fails part way stores none of its events."""
    store = SQLiteStore(tmp_path / "ledger.sqlite3")
    store._db.execute(  # a write the database refuses, at the batch's third event
        "CREATE TRIGGER refuse BEFORE INSERT ON consent_events WHEN NEW.seq = 1 "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(StoreUnavailableError, match="refused"):
        store.append_consents(_batch())
    assert store.consent_events([NUMBER, "+12125550199"]) == {NUMBER: [], "+12125550199": []}
    store.close()


@pytest.mark.caches
def test_verified_events_are_remembered_while_they_live_and_no_longer(
    clock: FrozenClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event whose hash was checked is not hashed again while the object lives (the
    in-memory store keeps its events), and the engine keeps none alive: a SQL store's events,
    decoded afresh for each read, leave nothing remembered once the decisions are made."""
    import gc

    hashed: list[str] = []
    compute = ConsentEvent.compute_hash

    def counting(event: ConsentEvent) -> str:
        hashed.append(event.number)
        return compute(event)

    numbers = [f"+1212555{i:04d}" for i in range(50)]
    for store in (MemoryStore(), SQLiteStore(tmp_path / "seen.db")):
        engine = make_engine(clock, store)
        for number in numbers:
            engine.consent.confirm(number, topic="deals", purpose="marketing", source="api")
        messages = [Message(n, "deals", "marketing") for n in numbers]
        monkeypatch.setattr(ConsentEvent, "compute_hash", counting)
        assert all(d.allowed for d in engine.evaluate_many(messages))
        first = len(hashed)
        assert first == len(numbers)  # each event hashed once
        assert all(d.allowed for d in engine.evaluate_many(messages))
        again = len(hashed) - first
        monkeypatch.undo()
        hashed.clear()
        gc.collect()
        remembered = len(engine._decider._verified)
        if isinstance(store, MemoryStore):
            assert again == 0  # the store's own objects: checked once
            assert remembered == len(numbers)
        else:
            assert again == len(numbers)  # fresh objects: checked again, nothing kept
            assert remembered == 0
