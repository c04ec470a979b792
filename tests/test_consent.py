"""Consent: the ledger API, the consent rule, keywords, replies, proofs and erasure."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import (
    Basis,
    ConsentEvent,
    ConsentKind,
    Engine,
    InboundKind,
    Message,
    Policy,
    Program,
    Purpose,
)
from smspolicy import rules as R
from smspolicy.consent import add_months, consent_status, verify_chain
from smspolicy.errors import (
    InvalidInputError,
    InvalidNumberError,
    LedgerIntegrityError,
    NaiveDatetimeError,
)
from smspolicy.keywords import InboundKind as Kind
from smspolicy.keywords import classify
from smspolicy.store import MemoryStore, SQLiteStore
from smspolicy.testing import FrozenClock

from .async_support import both_engines  # noqa: F401  (runs each test on both engines)
from .conftest import T0

NUMBER = "+12125550123"
DEALS = Program(
    "Acme Deals",
    "Acme",
    topic="deals",
    senders=["+12125550100"],
    help_contact="help@acme.example",
    frequency="Up to 4 msgs/week",
)
ALERTS = Program(
    "Acme Alerts",
    "Acme",
    topic="alerts",
    purpose="transactional",
    senders=["+12125550100"],
    help_contact="help@acme.example",
    frequency="2 msgs/month",
)


def make_engine(clock: FrozenClock, store: object = None, **kwargs: object) -> Engine:
    return Engine(
        Policy(R.consent(**kwargs), name="consent"),  # type: ignore[arg-type]
        store or MemoryStore(),  # type: ignore[arg-type]
        clock,
        programs=[DEALS, ALERTS],
    )


def send(
    engine: Engine, topic: str = "deals", purpose: str = "marketing", **kw: object
) -> list[str]:
    decision = engine.evaluate(Message(NUMBER, topic, purpose, **kw))  # type: ignore[arg-type]
    return list(decision.codes) if not decision.allowed else []


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """Each consent test runs on the in-memory and the SQLite store."""
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(tmp_path / "ledger.db")


def test_double_opt_in(clock: FrozenClock, store: object) -> None:
    """A pending request never allows; the YES reply confirms it and then it allows."""
    engine = make_engine(clock, store)
    event = engine.consent.opt_in(NUMBER, topic="deals", purpose="marketing", source="web:form")
    assert event.kind is ConsentKind.REQUESTED
    assert event.expires == T0 + dt.timedelta(days=30)
    assert send(engine) == ["consent.pending"]
    result = engine.inbound("Yes", NUMBER, to="+12125550100")
    assert result.kind is InboundKind.CONFIRM
    assert [e.kind for e in result.events] == [ConsentKind.CONFIRMED]
    assert result.events[0].evidence["request"] == event.hash
    assert send(engine) == []


def test_pending_request_expires(clock: FrozenClock) -> None:
    """A request left unconfirmed for 30 days is no longer pending, and a late YES confirms
    nothing: it starts a fresh request for the same topic and says so."""
    engine = make_engine(clock)
    old = engine.consent.opt_in(NUMBER, topic="deals", purpose="marketing", source="web")
    clock.advance(dt.timedelta(days=31))
    assert send(engine) == ["consent.missing"]
    result = engine.inbound("YES", NUMBER)
    assert result.kind is InboundKind.CONFIRM
    assert [(e.kind, e.topic) for e in result.events] == [(ConsentKind.REQUESTED, "deals")]
    assert result.events[0].evidence["renews"] == old.hash
    assert result.reply is not None
    assert "expired" in result.reply
    assert send(engine, topic="deals") == ["consent.pending"]
    assert send(engine, topic="alerts", purpose="transactional") == ["consent.missing"]


def test_topics_and_purposes_are_independent(clock: FrozenClock, store: object) -> None:
    """Consent for topic A never allows topic B; transactional never covers marketing;
    marketing consent covers transactional messages on the same topic."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="alerts", purpose="transactional", source="api")
    assert send(engine, "alerts", "transactional") == []
    assert send(engine, "alerts", "marketing") == ["consent.missing"]
    assert send(engine, "deals", "transactional") == ["consent.missing"]
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    assert send(engine, "deals", "transactional") == []
    assert send(engine, "other", "marketing") == ["consent.missing"]


def test_implied_consent_expires_with_casl_clock(clock: FrozenClock) -> None:
    """Implied consent from a purchase lasts 2 years, from an inquiry 6 months; a new purchase
    restarts the clock."""
    engine = make_engine(clock)
    engine.consent.imply(NUMBER, basis=Basis.PURCHASE, purpose="marketing", source="pos")
    clock.set(add_months(T0, 24) - dt.timedelta(seconds=1))
    assert send(engine) == []
    clock.set(add_months(T0, 24) + dt.timedelta(days=1))
    assert send(engine) == ["consent.expired"]
    engine.consent.imply(NUMBER, basis="inquiry", purpose="marketing", source="web")
    clock.advance(dt.timedelta(days=170))
    assert send(engine) == []
    clock.advance(dt.timedelta(days=20))
    assert send(engine) == ["consent.expired"]


def test_inquiry_does_not_shorten_a_purchase() -> None:
    """An inquiry after a purchase keeps the purchase's longer term."""
    events = [
        ConsentEvent(
            kind="implied",
            number=NUMBER,
            at=T0,
            source="pos",
            basis="purchase",
            purpose="marketing",
        ),
        ConsentEvent(
            kind="implied",
            number=NUMBER,
            at=T0 + dt.timedelta(days=1),
            source="web",
            basis="inquiry",
            purpose="marketing",
        ),
    ]
    later = T0 + dt.timedelta(days=365)
    status = consent_status(events, topic="deals", purpose=Purpose.MARKETING, brand=None, now=later)
    assert status.status.allows


def test_stop_revokes_everything_from_the_brand(clock: FrozenClock, store: object) -> None:
    """STOP ends every topic of the brand, is durable before the reply, and the reply carries
    the program name and contact but no marketing content."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    engine.consent.confirm(NUMBER, topic="alerts", purpose="transactional", source="api")
    result = engine.inbound("  Stop! ", NUMBER, to="+12125550100")
    assert result.kind is InboundKind.OPT_OUT
    assert result.reply is not None
    assert "Acme Deals" in result.reply
    assert "help@acme.example" in result.reply
    assert "unsubscribed" in result.reply
    assert "deal" not in result.reply.lower().replace("acme deals", "")
    assert engine.consent.history(NUMBER)[-1].kind is ConsentKind.REVOKED
    assert send(engine, "deals") == ["consent.revoked"]
    assert send(engine, "alerts", "transactional") == ["consent.revoked"]


def test_stop_topic_scope(clock: FrozenClock) -> None:
    """With stop_scope='topic', STOP ALERTS ends only alerts; plain STOP still ends all."""
    engine = make_engine(clock, stop_scope="topic")
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    engine.consent.confirm(NUMBER, topic="alerts", purpose="transactional", source="api")
    result = engine.inbound("STOP ALERTS", NUMBER)
    assert result.events[0].topic == "alerts"
    assert send(engine, "alerts", "transactional") == ["consent.revoked"]
    assert send(engine, "deals") == []
    engine.inbound("stop", NUMBER)
    assert send(engine, "deals") == ["consent.revoked"]


def test_brand_scope_topic_stop_ends_everything(clock: FrozenClock) -> None:
    """With the default brand scope, even STOP ALERTS ends every topic of the brand."""
    engine = make_engine(clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    engine.inbound("STOP ALERTS", NUMBER)
    assert send(engine, "deals") == ["consent.revoked"]


def test_start_rejoins_after_stop(clock: FrozenClock) -> None:
    """START after STOP restores the program's consent with a welcome reply."""
    engine = make_engine(clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    engine.inbound("STOP", NUMBER, to="+12125550100")
    clock.advance(dt.timedelta(seconds=1))
    result = engine.inbound("start", NUMBER, to="+12125550100")
    assert result.kind is InboundKind.OPT_IN
    assert result.reply is not None
    assert "Msg & data rates may apply" in result.reply
    assert send(engine, "deals") == []


def test_implied_after_stop_does_not_restore(clock: FrozenClock) -> None:
    """After a revoke, a later purchase (implied consent) does not allow marketing."""
    engine = make_engine(clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    engine.consent.revoke(NUMBER, source="api")
    engine.consent.imply(NUMBER, basis="purchase", purpose="marketing", source="pos")
    assert send(engine) == ["consent.revoked"]


@pytest.mark.parametrize(
    ("text", "locale_word"),
    [("HELP", "Help at"), ("ayuda", "Ayuda en"), ("AIDE", "aide au"), ("info", "Help at")],
)
def test_help_replies_in_keyword_language(clock: FrozenClock, text: str, locale_word: str) -> None:
    """HELP replies carry name, contact, frequency, rates and opt-out, in the keyword's language."""
    result = make_engine(clock).inbound(text, NUMBER, to="+12125550100")
    assert result.kind is InboundKind.HELP
    assert result.reply is not None
    assert locale_word in result.reply
    for part in ("Acme Deals", "help@acme.example", "Up to 4 msgs/week", "STOP"):
        assert part in result.reply
    assert result.events == ()


def test_spanish_stop_reply(clock: FrozenClock) -> None:
    """A Spanish opt-out phrase gets the Spanish confirmation."""
    result = make_engine(clock).inbound("No me envíen más", NUMBER, to="+12125550100")
    assert result.kind is InboundKind.OPT_OUT
    assert result.reply is not None
    assert "Te has dado de baja" in result.reply


OPT_OUTS = [
    "STOP",
    "stop",
    " Stop. ",
    "STOPALL",
    "unsubscribe",
    "CANCEL",
    "end",
    "QUIT",
    "revoke",
    "optout",
    "OPT-OUT",
    "opt out",
    "remove",
    "ARRET",
    "Arrêt",
    "TD",
    "SAIR",
    "please stop",
    "stop please",
    "Stop texting me",
    "remove me",
    "take me off this list",
    "Please take me off your list",
    "STOP!!!",
]
NOT_OPT_OUTS = [
    "stopping by later?",
    "thanks",
    "The end of the movie was great",
    "Can you remove the item from my cart and send a new link",
    "ok",
    "",
]


@pytest.mark.parametrize("text", OPT_OUTS)
def test_opt_out_keywords(text: str) -> None:
    """Every listed opt-out keyword or phrase is an opt-out."""
    assert classify(text).kind is Kind.OPT_OUT


@pytest.mark.parametrize("text", NOT_OPT_OUTS)
def test_ordinary_text_is_not_opt_out(text: str) -> None:
    """Ordinary text is not an opt-out."""
    assert classify(text).kind is not Kind.OPT_OUT


@given(
    st.sampled_from(OPT_OUTS[:17]),
    st.sampled_from(["", " ", "\t", "\n"]),
    st.sampled_from(["", ".", "!", "?"]),
    st.booleans(),
)
def test_opt_out_keywords_any_case_space_punctuation(
    word: str, space: str, punct: str, upper: bool
) -> None:
    """Opt-out keywords match in any case with white space and punctuation around them."""
    text = f"{space}{word.upper() if upper else word.lower()}{punct}{space}"
    assert classify(text).kind is Kind.OPT_OUT


# --- hypothesis: the fold against a reference model ----------------------------------------

TOPICS = ["deals", "alerts"]
event_specs = st.lists(
    st.tuples(
        st.sampled_from(["requested", "confirmed", "revoked", "implied"]),
        st.sampled_from([*TOPICS, None]),
        st.sampled_from(["marketing", "transactional"]),
    ),
    max_size=12,
)


def build(specs: list[tuple[str, str | None, str]]) -> list[ConsentEvent]:
    events = []
    for i, (kind, topic, purpose) in enumerate(specs):
        events.append(
            ConsentEvent(
                kind=kind,
                number=NUMBER,
                at=T0 + dt.timedelta(minutes=i),
                source="test",
                topic=topic,
                purpose=purpose,
                basis="soft_opt_in" if kind == "implied" else None,
                expires=T0 + dt.timedelta(days=30) if kind == "requested" else None,
            )
        )
    return events


def reference(specs: list[tuple[str, str | None, str]], topic: str, purpose: str) -> bool:
    """The simplest model: walk events; revoke clears everything and blocks implied until an
    explicit confirmation; grants need a matching topic and a purpose that covers."""
    allowed, blocked = False, False
    for kind, event_topic, event_purpose in specs:
        if kind == "revoked":
            allowed, blocked = False, True
            continue
        matches = event_topic in (None, topic) and (
            event_purpose == purpose or event_purpose == "marketing"
        )
        if not matches:
            continue
        if kind == "confirmed":
            allowed, blocked = True, False
        elif kind == "implied" and not blocked:
            allowed = True
    return allowed


@given(event_specs, st.sampled_from(TOPICS), st.sampled_from(["marketing", "transactional"]))
def test_fold_matches_reference_model(
    specs: list[tuple[str, str | None, str]], topic: str, purpose: str
) -> None:
    """For any sequence of events the folded state allows exactly when the reference does."""
    events = build(specs)
    now = T0 + dt.timedelta(hours=1)
    status = consent_status(events, topic=topic, purpose=Purpose(purpose), brand=None, now=now)
    assert status.status.allows == reference(specs, topic, purpose)


@given(event_specs, st.sampled_from(TOPICS))
def test_no_marketing_after_revoke_until_explicit_opt_in(
    specs: list[tuple[str, str | None, str]], topic: str
) -> None:
    """After any revoke, marketing is never allowed until a later confirmation."""
    specs = [*specs, ("revoked", None, "marketing")]
    for extra in [("implied", topic, "marketing"), ("requested", topic, "marketing")]:
        specs.append(extra)
        status = consent_status(
            build(specs),
            topic=topic,
            purpose=Purpose.MARKETING,
            brand=None,
            now=T0 + dt.timedelta(hours=1),
        )
        assert not status.status.allows


# --- proofs ------------------------------------------------------------------------------


def filled(clock: FrozenClock, store: object = None) -> Engine:
    engine = make_engine(clock, store)
    engine.consent.opt_in(
        NUMBER,
        topic="deals",
        purpose="marketing",
        source="web:signup",
        evidence={"ip": "203.0.113.7", "form": "v3"},
    )
    clock.advance(dt.timedelta(minutes=2))
    engine.inbound("YES", NUMBER)
    clock.advance(dt.timedelta(days=3))
    engine.inbound("STOP", NUMBER)
    return engine


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_proof_round_trip(clock: FrozenClock, store: object, fmt: str) -> None:
    """A proof exports date, time and source of every event and verifies."""
    engine = filled(clock, store)
    proof = engine.consent.proof(NUMBER, format=fmt)  # type: ignore[arg-type]
    assert "web:signup" in proof
    assert "keyword:yes" in proof
    assert "203.0.113.7" in proof
    assert T0.isoformat() in proof
    assert engine.consent.verify(proof, format=fmt) is True  # type: ignore[arg-type]


def test_proof_detects_edit_drop_and_reorder(clock: FrozenClock) -> None:
    """Editing, dropping or reordering an event makes verification fail."""
    engine = filled(clock)
    data = json.loads(engine.consent.proof(NUMBER))
    edited = json.loads(json.dumps(data))
    edited["events"][0]["source"] = "import"
    dropped = json.loads(json.dumps(data))
    del dropped["events"][1]
    reordered = json.loads(json.dumps(data))
    reordered["events"][0], reordered["events"][1] = reordered["events"][1], reordered["events"][0]
    tail = json.loads(json.dumps(data))
    del tail["events"][-1]
    tail["head"] = tail["events"][-1]["hash"]
    for bad in (edited, dropped, reordered, tail):
        with pytest.raises(LedgerIntegrityError):
            engine.consent.verify(json.dumps(bad))
    csv_proof = engine.consent.proof(NUMBER, format="csv")
    with pytest.raises(LedgerIntegrityError):
        engine.consent.verify(csv_proof.replace("web:signup", "web:other"), format="csv")
    with pytest.raises(LedgerIntegrityError):
        engine.consent.verify("not json")


def test_verify_chain_detects_foreign_event() -> None:
    """A chain holding another recipient's event does not verify."""
    first = ConsentEvent(kind="confirmed", number=NUMBER, at=T0, source="a").chained(0, "0" * 64)
    other = ConsentEvent(kind="revoked", number="+12125550199", at=T0, source="b")
    with pytest.raises(LedgerIntegrityError):
        verify_chain([first, other.chained(1, first.hash)])


# --- erasure and durability ----------------------------------------------------------------


def test_forget_keeps_suppression(clock: FrozenClock, store: object) -> None:
    """forget erases the records but an opted-out number stays opted out."""
    engine = filled(clock, store)
    engine.forget(NUMBER)
    assert engine.consent.history(NUMBER) == []
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="import")
    assert send(engine) == ["consent.revoked"]


def test_stop_seen_by_new_sqlite_instance(clock: FrozenClock, tmp_path: Path) -> None:
    """A STOP written through one SQLiteStore is seen by another opened on the same file."""
    path = tmp_path / "ledger.db"
    first = make_engine(clock, SQLiteStore(path))
    first.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    first.inbound("STOP", NUMBER)
    second = make_engine(clock, SQLiteStore(path))
    assert send(second) == ["consent.revoked"]


def test_inbound_durable_when_process_is_killed(tmp_path: Path) -> None:
    """Killing the process right after inbound returns loses nothing."""
    import subprocess
    import sys

    path = tmp_path / "ledger.db"
    script = f"""
import datetime as dt, os, signal, sys
from smspolicy import Engine, Policy, rules
from smspolicy.store import SQLiteStore
engine = Engine(Policy(rules.consent(), name="p"), SQLiteStore({str(path)!r}))
engine.consent.confirm("{NUMBER}", topic="deals", purpose="marketing", source="api")
result = engine.inbound("STOP", "{NUMBER}")
sys.stdout.write(result.reply + "\\n"); sys.stdout.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -9
    assert "unsubscribed" in done.stdout
    events = SQLiteStore(path).consent_events([NUMBER])[NUMBER]
    assert [e.kind for e in events] == [ConsentKind.CONFIRMED, ConsentKind.REVOKED]


# --- bad input ---------------------------------------------------------------------------


def test_bad_input_never_corrupts_the_ledger(clock: FrozenClock, tmp_path: Path) -> None:
    """Huge or binary text, unknown topics, naive datetimes and bad numbers get clear errors or
    harmless results, and the ledger still verifies afterwards."""
    engine = make_engine(clock, SQLiteStore(tmp_path / "l.db"))
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    assert engine.inbound("x" * 100_000, NUMBER).kind is InboundKind.OTHER
    with pytest.raises(InvalidInputError):
        engine.inbound(12, NUMBER)  # type: ignore[arg-type]
    with pytest.raises(InvalidNumberError):
        engine.inbound("STOP", "not a number")
    with pytest.raises(InvalidInputError, match="unknown topic"):
        engine.consent.confirm(NUMBER, topic="nope", purpose="marketing", source="api")
    with pytest.raises(InvalidInputError):
        engine.consent.confirm(NUMBER, topic="deals", purpose="sometimes", source="api")
    with pytest.raises(InvalidInputError):
        engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="a" * 5000)
    with pytest.raises(InvalidInputError):
        engine.consent.opt_in(
            NUMBER, topic="deals", purpose="marketing", source="api", evidence={"when": object()}
        )
    with pytest.raises(NaiveDatetimeError):
        ConsentEvent(kind="confirmed", number=NUMBER, at=dt.datetime(2025, 1, 1), source="x")
    history = engine.consent.history(NUMBER)
    assert len(history) == 1
    verify_chain(history)
    assert engine.consent.verify(engine.consent.proof(NUMBER))
    assert send(engine, "deals") == []


def test_stop_confirmation_is_the_one_message_allowed(clock: FrozenClock) -> None:
    """After STOP, its confirmation reply passes the consent rule once, within 5 minutes; a
    second reply and any marketing are denied."""
    engine = make_engine(clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    result = engine.inbound("STOP", NUMBER, to="+12125550100")
    reply = result.reply_message()
    assert reply is not None
    assert reply.sender == "+12125550100"
    assert engine.evaluate(reply).allowed
    engine.record_sent(reply)
    assert not engine.evaluate(reply).allowed
    assert send(engine) == ["consent.revoked"]


def test_stop_confirmation_window_closes(clock: FrozenClock) -> None:
    """A STOP confirmation not sent within 5 minutes is no longer allowed."""
    engine = make_engine(clock)
    reply = engine.inbound("STOP", NUMBER).reply_message()
    assert reply is not None
    clock.advance(dt.timedelta(minutes=6))
    assert not engine.evaluate(reply).allowed


def test_revoke_of_one_brand_leaves_another(clock: FrozenClock) -> None:
    """A revoke scoped to one brand does not end another brand's consent."""
    engine = make_engine(clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api", brand="Other")
    engine.consent.revoke(NUMBER, source="api", brand="Acme")
    assert send(engine, brand="Other") == []
    assert send(engine, brand="Acme") == ["consent.revoked"]
    assert send(engine) == ["consent.revoked"]


def test_reply_survives_engagement_store_failure(clock: FrozenClock) -> None:
    """If noting the engagement fails after the STOP is durable, the reply still comes back."""

    class NoEngagement(MemoryStore):
        def record_engagement(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            from smspolicy.errors import StoreUnavailableError

            raise StoreUnavailableError("engagement table is locked")

    engine = make_engine(clock, NoEngagement())
    result = engine.inbound("STOP", NUMBER)
    assert result.reply is not None
    assert engine.consent.history(NUMBER)[-1].kind is ConsentKind.REVOKED


def test_events_dated_later_are_skipped_not_a_stop() -> None:
    """An event dated after now is skipped without hiding later-appended, earlier-dated ones."""
    events = [
        ConsentEvent(kind="revoked", number=NUMBER, at=T0 + dt.timedelta(days=1), source="x"),
        ConsentEvent(
            kind="confirmed",
            number=NUMBER,
            at=T0 - dt.timedelta(days=1),
            source="y",
            topic="deals",
            purpose="marketing",
        ),
    ]
    status = consent_status(events, topic="deals", purpose=Purpose.MARKETING, brand=None, now=T0)
    assert status.status.allows
