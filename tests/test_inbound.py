"""Inbound texts through the engine: no input loses a STOP, unclear replies, late YES
replies, programs' own words and translated replies."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from smspolicy import ConsentKind, Engine, InboundKind, Message, Policy, Program
from smspolicy import rules as R
from smspolicy.errors import ConfigurationError, InvalidInputError
from smspolicy.i18n import REPLY_LANGUAGES, _catalog, reply_language
from smspolicy.programs import (
    CLARIFY,
    GENERIC_CLARIFY,
    GENERIC_HELP,
    GENERIC_KEPT,
    GENERIC_RENEWAL,
    GENERIC_STOP,
    GENERIC_WELCOME,
    HELP,
    KEPT,
    REMINDER,
    RENEWAL,
    REQUEST,
    STOP,
    WELCOME,
)
from smspolicy.store import MemoryStore, SQLiteStore
from smspolicy.testing import FrozenClock

from .async_support import both_engines  # noqa: F401  (runs each test on both engines)
from .conftest import T0

NUMBER = "+12125550123"
ACME = "+12125550100"
OTHER_SENDER = "+12125550101"
DEALS = Program(
    "Acme Deals",
    "Acme",
    topic="deals",
    senders=[ACME],
    help_contact="help@acme.example",
    frequency="Up to 4 msgs/week",
)
ALERTS = Program(
    "Acme Alerts",
    "Acme",
    topic="alerts",
    purpose="transactional",
    senders=[ACME],
    help_contact="help@acme.example",
    frequency="2 msgs/month",
)
BETA = Program(
    "Beta News",
    "Beta",
    topic="news",
    senders=[OTHER_SENDER],
    help_contact="help@beta.example",
    frequency="1 msg/week",
)


def make_engine(
    clock: FrozenClock,
    store: object = None,
    programs: tuple[Program, ...] = (DEALS, ALERTS),
    **kw: object,
) -> Engine:
    return Engine(
        Policy(R.consent(), name="consent"),
        store or MemoryStore(),  # type: ignore[arg-type]
        clock,
        programs=programs,
        **kw,  # type: ignore[arg-type]
    )


def codes(
    engine: Engine, topic: str = "deals", purpose: str = "marketing", **kw: object
) -> list[str]:
    decision = engine.evaluate(Message(NUMBER, topic, purpose, **kw))  # type: ignore[arg-type]
    return [] if decision.allowed else list(decision.codes)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """Each inbound test runs on the in-memory and the SQLite store."""
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(tmp_path / "ledger.db")


# --- no input loses a STOP ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("STOP \ud83d", "STOP \ufffd"),
        ("\ud83dSTOP", "\ufffdSTOP"),
        ("\x00\xff\ufffdSTOP\x00", " \xff\ufffdSTOP "),
        ("S\u200bTOP", "S\u200bTOP"),
        (b"STOP \xff\xfe", "STOP \ufffd\ufffd"),
        (bytearray(b"stop"), "stop"),
    ],
)
def test_broken_text_still_stops(
    clock: FrozenClock, store: object, text: object, kept: str
) -> None:
    """Lone surrogates, undecodable bytes and control characters are sanitised: the STOP is
    recorded, with the text as it could be read."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    result = engine.inbound(text, NUMBER, to=ACME)  # type: ignore[arg-type]
    assert result.kind is InboundKind.OPT_OUT
    assert result.events[0].evidence["text"] == kept
    assert engine.consent.history(NUMBER)[-1].kind is ConsentKind.REVOKED
    assert codes(engine) == ["consent.revoked"]


@pytest.mark.parametrize(
    "text",
    [
        "I want to opt out of these",
        "S T O P",
        "S\u200bTOP",
        "\u0405\u0422\u041e\u0420",
        "st0p",
        "cancel subscription",
        "ARRET SVP",
        "revoke consent",
        "STOPALL thanks",
        "remove me",
        "take me off this list",
        "STOPP",
        "\u914d\u4fe1\u505c\u6b62",
        "\u9000\u8ba2",
        "\uc218\uc2e0\uac70\ubd80",
        "SAIR",
        "PARAR",
        "BASTA",
    ],
)
def test_named_opt_outs_revoke_through_the_engine(
    clock: FrozenClock, store: object, text: str
) -> None:
    """Each opt-out the issue names is recorded as a revocation and ends marketing."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    result = engine.inbound(text, NUMBER, to=ACME)
    assert result.kind is InboundKind.OPT_OUT
    assert [e.kind for e in result.events] == [ConsentKind.REVOKED]
    assert codes(engine) == ["consent.revoked"]


def test_huge_reply_stops_and_keeps_its_fingerprint(clock: FrozenClock, store: object) -> None:
    """A megabyte-long reply with STOP at its very end is an opt-out; its event keeps the first
    160 characters, the length and the SHA-256 of the whole text."""
    engine = make_engine(clock, store)
    text = "blah " * 200_000 + "STOP"
    result = engine.inbound(text, NUMBER)
    assert result.kind is InboundKind.OPT_OUT
    evidence = result.events[0].evidence
    assert evidence["text"] == ("blah " * 32)
    assert evidence["length"] == 1_000_004
    assert evidence["sha256"] == hashlib.sha256(text.encode()).hexdigest()


def test_long_polite_revocation_is_honoured(clock: FrozenClock, store: object) -> None:
    """A reply of more than 160 characters that asks to stop is an opt-out (the FCC's rule has
    no length limit)."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    text = (
        "Hello, I have been a customer for many years and I appreciate the offers, but my "
        "phone plan charges me for every message now, so I would like you to stop texting me."
    )
    assert len(text) > 160
    assert engine.inbound(text, NUMBER).kind is InboundKind.OPT_OUT
    assert codes(engine) == ["consent.revoked"]


def test_stop_sending_records_an_opt_out_of_everything(clock: FrozenClock, store: object) -> None:
    """ "stop sending" is an opt-out of every topic (no topic "sending" is made up), even with
    programs whose topics are checked."""
    engine = make_engine(clock, store)
    result = engine.inbound("stop sending", NUMBER, to=ACME)
    assert result.kind is InboundKind.OPT_OUT
    assert [(e.kind, e.topic, e.source) for e in result.events] == [
        (ConsentKind.REVOKED, None, "keyword:stop")
    ]


def test_non_text_is_a_clear_error(clock: FrozenClock) -> None:
    """A value that is neither text nor bytes raises InvalidInputError."""
    with pytest.raises(InvalidInputError):
        make_engine(clock).inbound(None, NUMBER)  # type: ignore[arg-type]


def test_command_line_reads_undecodable_bytes(tmp_path: Path) -> None:
    """``smspolicy inbound`` given bytes that are not UTF-8 records the STOP and prints the
    confirmation; ``-`` reads the text from standard input."""
    db = tmp_path / "cli.db"
    base = [sys.executable, "-m", "smspolicy.cli", "inbound", NUMBER]
    done = subprocess.run(
        [*base, b"STOP \xff\xfe please", "--db", str(db)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("opt_out: You are unsubscribed")
    events = SQLiteStore(db).consent_events([NUMBER])[NUMBER]
    assert [e.evidence["text"] for e in events] == ["STOP \ufffd\ufffd please"]
    done = subprocess.run(
        [*base, "-", "--db", str(db)],
        input=b"\xffHELP",
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("help: ")


# --- unclear replies ----------------------------------------------------------------------


def test_unclear_reply_holds_marketing_and_allows_one_clarification(
    clock: FrozenClock, store: object
) -> None:
    """An unclear reply is recorded durably, holds marketing (not transactional messages) and
    lets exactly one clarification through within five minutes."""
    engine = make_engine(clock, store)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    engine.consent.confirm(NUMBER, topic="alerts", purpose="transactional", source="api")
    clock.advance(dt.timedelta(seconds=1))
    result = engine.inbound("please cancel my appointment", NUMBER, to=ACME)
    assert result.kind is InboundKind.UNCLEAR
    assert [(e.kind, e.brand, e.expires) for e in result.events] == [
        (ConsentKind.UNCLEAR, "Acme", None)
    ]
    assert result.events[0].source == "keyword:cancel my appointment"
    assert result.reply == (
        "Acme Deals: Do you want to stop all messages from Acme? Reply STOP to unsubscribe or "
        "YES to keep them. Help: help@acme.example"
    )
    assert codes(engine) == ["consent.held"]
    assert codes(engine, "alerts", "transactional") == []
    clarification = result.reply_message()
    assert clarification is not None
    clock.advance(dt.timedelta(minutes=5) - dt.timedelta(microseconds=1))
    assert engine.evaluate(clarification).allowed
    engine.record_sent(clarification)
    assert not engine.evaluate(clarification).allowed
    clock.advance(dt.timedelta(days=365))
    assert codes(engine) == ["consent.held"]  # until answered


def test_clarification_window_closes_at_five_minutes(clock: FrozenClock) -> None:
    """The clarification may not go out once five minutes have passed."""
    engine = make_engine(clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    clarification = engine.inbound("not interested", NUMBER).reply_message()
    assert clarification is not None
    clock.advance(dt.timedelta(minutes=5))
    assert not engine.evaluate(clarification).allowed


def test_yes_after_a_clarification_keeps_what_the_recipient_had(
    clock: FrozenClock, store: object
) -> None:
    """YES to a clarification reaffirms the recipient's own express consents (nothing new) and
    lifts the hold."""
    engine = make_engine(clock, store)
    grant = engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    engine.inbound("too many texts", NUMBER, to=ACME)
    clock.advance(dt.timedelta(minutes=1))
    result = engine.inbound("YES", NUMBER, to=ACME)
    assert result.kind is InboundKind.CONFIRM
    assert [(e.kind, e.topic) for e in result.events] == [(ConsentKind.CONFIRMED, "deals")]
    assert result.events[0].evidence["reaffirms"] == grant.hash
    assert (
        result.reply
        == "Acme Deals: Thanks, you will keep getting our messages. Reply STOP to unsubscribe."
    )
    assert codes(engine) == []
    assert codes(engine, "alerts", "transactional") == ["consent.missing"]


def test_stop_after_a_clarification_revokes(clock: FrozenClock) -> None:
    """STOP in answer to a clarification revokes everything from the brand."""
    engine = make_engine(clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    engine.inbound("no thanks", NUMBER)
    clock.advance(dt.timedelta(seconds=1))
    engine.inbound("STOP", NUMBER)
    assert codes(engine) == ["consent.revoked"]


def test_hold_period_is_configurable(clock: FrozenClock, store: object) -> None:
    """With ``unclear_hold``, the hold ends at the reply's instant plus that period exactly."""
    engine = make_engine(clock, store, unclear_hold=dt.timedelta(days=10))
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.set(dt.datetime(2025, 2, 1, 12, 0, tzinfo=dt.UTC))
    result = engine.inbound("enough", NUMBER)
    assert result.events[0].expires == dt.datetime(2025, 2, 11, 12, 0, tzinfo=dt.UTC)
    clock.set(dt.datetime(2025, 2, 11, 11, 59, 59, 999999, tzinfo=dt.UTC))
    assert codes(engine) == ["consent.held"]
    clock.set(dt.datetime(2025, 2, 11, 12, 0, tzinfo=dt.UTC))
    assert codes(engine) == []
    with pytest.raises(InvalidInputError):
        make_engine(clock, unclear_hold=dt.timedelta(0))


def test_unclear_reply_without_programs_gets_the_generic_clarification(clock: FrozenClock) -> None:
    """Without programs the clarification is the generic one and the hold names no brand."""
    engine = make_engine(clock, programs=())
    result = engine.inbound("not interested", NUMBER)
    assert result.reply == GENERIC_CLARIFY
    assert [e.brand for e in result.events] == [None]


# --- a late YES subscribes nothing new ----------------------------------------------------


def test_yes_confirms_only_the_requested_topic(clock: FrozenClock, store: object) -> None:
    """A YES within the request's 30 days confirms that request's topic and nothing else."""
    engine = make_engine(clock, store)
    request = engine.consent.opt_in(NUMBER, topic="deals", purpose="marketing", source="web")
    clock.advance(dt.timedelta(days=29))
    result = engine.inbound("YES", NUMBER, to=ACME)
    assert [(e.kind, e.topic, e.evidence["request"]) for e in result.events] == [
        (ConsentKind.CONFIRMED, "deals", request.hash)
    ]
    assert codes(engine) == []
    assert codes(engine, "alerts", "transactional") == ["consent.missing"]


def test_yes_after_expiry_starts_a_fresh_request(clock: FrozenClock, store: object) -> None:
    """A YES after the request expired (30 days, the boundary included) confirms nothing: it
    starts a fresh request for the same topic and the reply says so."""
    engine = make_engine(clock, store)
    old = engine.consent.opt_in(NUMBER, topic="deals", purpose="marketing", source="web")
    clock.set(T0 + dt.timedelta(days=30))
    result = engine.inbound("yes", NUMBER, to=ACME)
    assert result.kind is InboundKind.CONFIRM
    assert [(e.kind, e.topic, e.expires) for e in result.events] == [
        (ConsentKind.REQUESTED, "deals", T0 + dt.timedelta(days=60))
    ]
    assert result.events[0].evidence["renews"] == old.hash
    assert result.reply == (
        "Acme Deals: Your earlier request expired. Reply YES to get deals messages. Up to 4 "
        "msgs/week. Msg & data rates may apply. Reply HELP for help, STOP to cancel."
    )
    assert codes(engine) == ["consent.pending"]
    assert codes(engine, "alerts", "transactional") == ["consent.missing"]
    clock.advance(dt.timedelta(minutes=1))
    assert engine.inbound("yes", NUMBER, to=ACME).events[0].kind is ConsentKind.CONFIRMED
    assert codes(engine) == []


def test_yes_with_nothing_asked_does_nothing(clock: FrozenClock, store: object) -> None:
    """A YES with no request on record (or only a revoked one) records nothing and sends no
    reply."""
    engine = make_engine(clock, store)
    result = engine.inbound("YES", NUMBER, to=ACME)
    assert (result.kind, result.reply, result.events) == (InboundKind.CONFIRM, None, ())
    engine.consent.opt_in(NUMBER, topic="deals", purpose="marketing", source="web")
    clock.advance(dt.timedelta(seconds=1))
    engine.inbound("STOP", NUMBER)
    clock.advance(dt.timedelta(days=40))
    assert engine.inbound("YES", NUMBER, to=ACME).events == ()
    assert engine.consent.history(NUMBER)[-1].kind is ConsentKind.REVOKED


def test_yes_to_one_brand_leaves_another_brands_request(clock: FrozenClock) -> None:
    """A YES sent to one brand's number does not confirm a request another brand made."""
    engine = make_engine(clock, programs=(DEALS, BETA))
    engine.consent.opt_in(NUMBER, topic="news", purpose="marketing", source="web", brand="Beta")
    assert engine.inbound("YES", NUMBER, to=ACME).events == ()
    confirmed = engine.inbound("YES", NUMBER, to=OTHER_SENDER).events
    assert [(e.topic, e.brand) for e in confirmed] == [("news", "Beta")]


def test_yes_ignores_requests_for_topics_no_program_has(clock: FrozenClock) -> None:
    """A request for a topic the engine's programs no longer have is neither confirmed nor
    renewed, and the YES does not fail."""
    store = MemoryStore()
    old = make_engine(clock, store, programs=(DEALS, BETA))
    old.consent.opt_in(NUMBER, topic="news", purpose="marketing", source="web")
    result = make_engine(clock, store).inbound("YES", NUMBER)
    assert result.events == ()


def test_start_rejoins_programs_of_the_sender(clock: FrozenClock, store: object) -> None:
    """START after STOP restores the sender's programs; without programs, the scopes confirmed
    before."""
    engine = make_engine(clock, store)
    engine.inbound("STOP", NUMBER, to=ACME)
    clock.advance(dt.timedelta(seconds=1))
    result = engine.inbound("START", NUMBER, to=ACME)
    assert sorted(e.topic or "" for e in result.events) == ["alerts", "deals"]
    assert codes(engine) == []
    bare = make_engine(clock, MemoryStore(), programs=())
    bare.consent.confirm(NUMBER, topic="x", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    bare.inbound("STOP", NUMBER)
    clock.advance(dt.timedelta(seconds=1))
    assert [e.topic for e in bare.inbound("START", NUMBER).events] == ["x"]
    assert make_engine(clock, MemoryStore(), programs=()).inbound("START", NUMBER).reply is None


# --- a program's own words ----------------------------------------------------------------


def test_program_words_work_through_the_engine(clock: FrozenClock, store: object) -> None:
    """An Australian program's "NO" is an opt-out on its sender; a brand word asks for help."""
    au = Program(
        "Acme AU",
        "Acme",
        topic="deals",
        senders=[ACME],
        help_contact="help@acme.example",
        frequency="2 msgs/month",
        keywords={"opt_out": ["NO"], "help": ["ACMEINFO"]},
    )
    engine = make_engine(clock, store, programs=(au,))
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="api")
    clock.advance(dt.timedelta(seconds=1))
    assert engine.inbound("acmeinfo", NUMBER, to=ACME).kind is InboundKind.HELP
    result = engine.inbound("No.", NUMBER, to=ACME)
    assert result.kind is InboundKind.OPT_OUT
    assert result.events[0].source == "keyword:no"
    assert codes(engine) == ["consent.revoked"]


def test_engine_refuses_programs_that_disagree(clock: FrozenClock) -> None:
    """Two programs giving one word to different actions cannot share an engine."""
    a = Program("A", "A", help_contact="x", frequency="1 msg/week", keywords={"opt_out": ["NO"]})
    b = Program("B", "B", help_contact="x", frequency="1 msg/week", keywords={"confirm": ["no"]})
    with pytest.raises(ConfigurationError, match="'no' means opt_out for program 'A'"):
        make_engine(clock, programs=(a, b))


# --- translated replies -------------------------------------------------------------------

REPLIES = [
    HELP,
    STOP,
    WELCOME,
    REQUEST,
    REMINDER,
    RENEWAL,
    CLARIFY,
    KEPT,
    GENERIC_STOP,
    GENERIC_HELP,
    GENERIC_WELCOME,
    GENERIC_RENEWAL,
    GENERIC_CLARIFY,
    GENERIC_KEPT,
]


@pytest.mark.parametrize("lang", [lang for lang in REPLY_LANGUAGES if lang != "en"])
def test_every_reply_is_translated(lang: str) -> None:
    """Every reply has a translation in every reply language, with the same placeholders."""
    import re

    catalog = _catalog(lang)
    for template in REPLIES:
        assert template in catalog, (lang, template)
        assert sorted(re.findall(r"\{\w+\}", catalog[template])) == sorted(
            re.findall(r"\{\w+\}", template)
        )
        assert catalog[template] != template


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOPP", "Acme Deals: Sie sind abgemeldet"),
        ("ABMELDEN", "Acme Deals: Sie sind abgemeldet"),
        (
            "\u914d\u4fe1\u505c\u6b62",
            "Acme Deals: \u914d\u4fe1\u3092\u505c\u6b62\u3057\u307e\u3057\u305f",
        ),
        ("\u9000\u8ba2", "Acme Deals\uff1a\u60a8\u5df2\u9000\u8ba2"),
        (
            "\uc218\uc2e0\uac70\ubd80",
            "Acme Deals: \uc218\uc2e0\uac70\ubd80\ub418\uc5c8\uc73c\uba70",
        ),
        ("SAIR", "Acme Deals: voc\u00ea cancelou a inscri\u00e7\u00e3o"),
        ("DISISCRIVI", "Acme Deals: hai annullato l'iscrizione"),
        ("AFMELDEN", "Acme Deals: u bent afgemeld"),
        ("BAJA", "Acme Deals: Te has dado de baja"),
        ("ARRET", "Acme Deals : vous \u00eates d\u00e9sabonn\u00e9"),
        ("STOP", "Acme Deals: You are unsubscribed"),
        ("HILFE", "Acme Deals: Hilfe unter help@acme.example"),
    ],
)
def test_reply_in_the_keywords_language(clock: FrozenClock, text: str, expected: str) -> None:
    """The reply is in the language of the word the recipient used."""
    reply = make_engine(clock).inbound(text, NUMBER, to=ACME).reply
    assert reply is not None
    assert reply.startswith(expected)


@pytest.mark.parametrize(
    ("locale", "language"),
    [("pt_BR", "pt"), ("zh-Hant", "zh"), ("ko-KR", "ko"), ("sv", "en"), (None, "en"), ("??", "en")],
)
def test_reply_language_of_a_locale(locale: str | None, language: str) -> None:
    """Locales map to their reply language, English when there is none."""
    assert reply_language(locale) == language
