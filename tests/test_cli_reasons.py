"""The reason catalogue: every code the library gives is catalogued (found by making the rules
give them, not by reading the source), the docs page is generated from it, and
`smspolicy reasons` prints it."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import jsonschema
import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smspolicy import (
    ConsentEvent,
    Context,
    Engine,
    HistoryView,
    Message,
    Policy,
    Program,
    Reason,
    Recipient,
    all_of,
    jurisdictions,
    rules,
    strategies,
)
from smspolicy.cli import main
from smspolicy.errors import LineTypeLookupError
from smspolicy.reasons import catalogue, describe, markdown
from smspolicy.store import MemoryStore, SQLiteStore
from smspolicy.testing import FrozenClock, check_policy_laws

ROOT = Path(__file__).resolve().parent.parent
CATALOGUED = {r.code for r in catalogue()}
# A Wednesday, a Saturday night, Christmas morning: inside and outside the windows.
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
INSTANTS = [
    NOW,
    dt.datetime(2026, 11, 28, 4, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 25, 14, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.UTC),
]
REGIONS = ["US", "CA", "GB", "GG", "FR", "DE", "IT", "ES", "JP", "AU", "IN", "BR", "PR"]
US_AREA_CODES = ["212", "213", "305", "405", "512", "206", "205", "601", "850", "702", "801"]
BRANDLESS_BODY = "Deals today"
FULL_BODY = "Acme: deals today. Reply STOP to opt out"


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every reason code given while the test runs: each Reason built is recorded."""
    codes: set[str] = set()
    build = Reason.__init__

    def recording(self: Reason, *args: object, **kwargs: object) -> None:
        build(self, *args, **kwargs)  # type: ignore[arg-type]
        codes.add(self.code)

    monkeypatch.setattr(Reason, "__init__", recording)
    return codes


def mobile(region: str) -> str:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def numbers() -> list[str]:
    return [mobile(r) for r in REGIONS] + [f"+1{area}5550123" for area in US_AREA_CODES]


def consent_histories(number: str) -> Iterator[list[ConsentEvent]]:
    """No consent, express, pending, an old implied one, revoked, and an unclear reply."""
    at = NOW - dt.timedelta(days=400)

    def event(kind: str, **extra: object) -> ConsentEvent:
        fields: dict[str, object] = {
            "kind": kind,
            "number": number,
            "at": at,
            "source": "test",
            "topic": "deals",
            "purpose": "marketing",
            **extra,
        }
        return ConsentEvent(**fields)  # type: ignore[arg-type]

    yield []
    yield [event("confirmed")]
    yield [event("requested")]
    yield [event("implied", basis="inquiry")]
    yield [event("confirmed"), event("revoked", topic=None, purpose=None)]
    yield [event("confirmed"), event("unclear", topic=None, purpose=None)]


def decide_all(engine: Engine, messages: Sequence[Message], clock: FrozenClock) -> None:
    for instant in INSTANTS:
        clock.set(instant)
        list(engine.evaluate_many(messages))


def test_standard_policy_codes_are_catalogued(emitted: set[str]) -> None:
    """Every code the standard policy (with every provision switched on) gives to recipients
    across packs, consent states, bodies and times is in the catalogue."""
    policy = jurisdictions.standard(include_unconfirmed=True)
    for history_index in range(6):
        store, clock = MemoryStore(), FrozenClock(NOW)
        messages = []
        for number in numbers():
            for event in list(consent_histories(number))[history_index]:
                store.append_consent(event)
            for purpose in ("marketing", "transactional"):
                for body in (BRANDLESS_BODY, FULL_BODY):
                    messages.append(Message(number, "deals", purpose, body=body, brand="Acme"))
        decide_all(Engine(policy, store, clock), messages, clock)
    assert emitted <= CATALOGUED, sorted(emitted - CATALOGUED)
    provision_codes = {c for c in emitted if c.startswith("jurisdiction.")}
    assert len(provision_codes) >= 15
    assert {
        "consent.missing",
        "consent.pending",
        "consent.expired",
        "consent.revoked",
        "consent.held",
        "hours.outside_window",
        "jurisdiction.stand_in",
    } <= emitted


class BrokenStore(MemoryStore):
    """A store whose reads fail like a dropped connection."""

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        raise ConnectionError("server closed the connection unexpectedly")


class FailingLookup:
    """A line-type lookup that times out."""

    def line_type(self, e164: str) -> None:
        raise LineTypeLookupError("timed out")


DEALS = Program(
    "Acme Deals", "Acme", topic="deals", help_contact="help@acme.example", frequency="1 msgs/week"
)


def _engine(policy: object, **options: object) -> tuple[Engine, FrozenClock]:
    clock = FrozenClock(NOW)
    store = options.pop("store", MemoryStore())
    return Engine(policy, store, clock, **options), clock  # type: ignore[arg-type]


def _library_cases() -> list[tuple[str, Callable[[], None]]]:
    us, au = "+12125550123", mobile("AU")

    def engine_faults() -> None:
        message = Message(us, "deals", "marketing")
        _engine(Policy(rules.consent(), name="p"), store=BrokenStore())[0].evaluate(message)
        lookup = FailingLookup()
        _engine(Policy(rules.consent(), name="p"), line_type_lookup=lookup)[0].evaluate(message)
        engine = _engine(Policy(rules.consent(), name="p"))[0]
        engine.evaluate(Message("", "deals", "marketing", channel="email"))
        engine.evaluate(Message("not an address", "deals", "marketing", channel="email"))
        engine.evaluate(Message("not-a-number", "deals", "marketing"))

    def email_law() -> None:
        policy = Policy(rules.postal_address(), rules.wireless_domain_consent(), name="p")
        engine = _engine(policy)[0]
        engine.evaluate(Message("bob@vtext.com", "deals", "marketing", channel="email"))

    def numbers_and_senders() -> None:
        engine = _engine(Policy(rules.valid_number(countries=["GB"]), name="p"))[0]
        engine.evaluate(Message(us, "deals", "marketing"))
        typed = Engine(
            Policy(rules.valid_number(line_types=["voip"]), name="p"),
            clock=FrozenClock(NOW),
        )
        typed.evaluate(Message(us, "deals", "marketing"))
        senders = _engine(Policy(rules.origination({("Acme", "marketing"): ["12345"]}), name="p"))
        for sender in (None, "99999"):
            for brand in ("Acme", "Other"):
                senders[0].evaluate(Message(us, "deals", "marketing", brand=brand, sender=sender))

    def content_and_repeats() -> None:
        policy = Policy(
            rules.required_content(),
            rules.max_segments(1),
            rules.dedupe(dt.timedelta(days=1)),
            rules.frequency_cap(1, dt.timedelta(days=1)),
            rules.program_frequency([DEALS]),
            name="p",
        )
        engine, clock = _engine(policy, programs=[DEALS])
        message = Message(us, "deals", "marketing", body="x" * 400, brand="Acme", content_key="k")
        engine.record_sent(message)
        clock.advance(dt.timedelta(minutes=1))
        engine.evaluate(message)
        # A rule handed less history than its window (a store read cut short) says so.
        recipient = Recipient(address=us, valid=True, e164=us)
        since = NOW - dt.timedelta(hours=1)
        short = Context(now=NOW, recipient=recipient, history=HistoryView(since=since))
        rules.frequency_cap(1, dt.timedelta(days=1))(message, short)

    def engagement() -> None:
        rule = rules.engagement(
            unengaged_after=dt.timedelta(days=30),
            reduced=(1, dt.timedelta(days=7)),
            remove_after=dt.timedelta(days=90),
        )
        engine, clock = _engine(Policy(rule, name="p"))
        message = Message(us, "deals", "marketing")
        engine.consent.confirm(us, topic="deals", purpose="marketing", source="web")
        clock.advance(dt.timedelta(days=40))
        engine.record_sent(message)
        engine.evaluate(message)
        clock.advance(dt.timedelta(days=100))
        engine.evaluate(message)

    def hours_and_composition() -> None:
        unknown = rules.sending_window("08:00", "21:00", on_unknown_zone="deny")
        _engine(Policy(unknown, name="p"))[0].evaluate(
            Message("a@example.com", "deals", "marketing", channel="email")
        )
        narrow = rules.sending_window("08:00", "08:30", zones="all")
        _engine(Policy(narrow, name="p"))[0].evaluate(Message(au, "deals", "marketing"))
        disjoint = all_of(
            rules.sending_window("08:00", "09:00"), rules.sending_window("10:00", "11:00")
        )
        engine = _engine(Policy(disjoint, name="p"))[0]
        engine.evaluate(Message(us, "deals", "marketing"))
        evening = _engine(Policy(rules.sending_window("22:00", "23:00"), name="p"))[0]
        evening.evaluate(Message(us, "deals", "marketing", not_after=NOW + dt.timedelta(minutes=5)))

    def registries_and_evidence() -> None:
        from smspolicy.dnc import CallableRegistry, NumberList

        fresh = NumberList.of([us], name="national", as_of=NOW.date())
        stale = NumberList.of([us], name="old", as_of=NOW.date() - dt.timedelta(days=40))

        def broken(number: str) -> bool:
            raise ConnectionError("registry down")

        down = CallableRegistry(broken, name="down")
        for registry in (fresh, stale, down):
            _engine(Policy(rules.do_not_call(registry), name="p"))[0].evaluate(
                Message(us, "deals", "marketing")
            )
        evidence = rules.written_consent_evidence()
        engine = _engine(Policy(evidence, name="p"))[0]
        engine.consent.confirm(us, topic="deals", purpose="marketing", source="web")
        engine.evaluate(Message(us, "deals", "marketing"))

        def answers(answer: str) -> Callable[[str, dt.date], str]:
            def lookup(number: str, since: dt.date) -> str:
                if answer == "error":
                    raise TimeoutError("no answer")
                return answer

            return lookup

        for answer in ("reassigned", "no_data", "error"):
            rule = rules.reassigned_numbers(answers(answer), min_age=dt.timedelta(0))
            engine = _engine(Policy(rule, name="p"))[0]
            engine.consent.confirm(us, topic="deals", purpose="marketing", source="web")
            engine.evaluate(Message(us, "deals", "marketing"))
        texas = "+15125550123"
        registration = rules.seller_registration("US-TX")
        _engine(Policy(registration, name="p"))[0].evaluate(
            Message(texas, "deals", "marketing", brand="Acme")
        )

    return [
        ("engine-faults", engine_faults),
        ("registries-and-evidence", registries_and_evidence),
        ("email-law", email_law),
        ("numbers-and-senders", numbers_and_senders),
        ("content-and-repeats", content_and_repeats),
        ("engagement", engagement),
        ("hours-and-composition", hours_and_composition),
    ]


@pytest.mark.parametrize(("name", "case"), _library_cases(), ids=[n for n, _ in _library_cases()])
def test_rule_codes_are_catalogued(emitted: set[str], name: str, case: Callable[[], None]) -> None:
    """Every code the engine and the built-in rules give on their refusal paths is in the
    catalogue."""
    case()
    assert emitted, name
    assert emitted <= CATALOGUED, sorted(emitted - CATALOGUED)


def test_library_refusal_paths_give_the_catalogued_codes(emitted: set[str]) -> None:
    """Together the cases reach every catalogued library code but the testing kit's, the
    command line's and the tampered ledger's (which have tests of their own below)."""
    for _, case in _library_cases():
        case()
    library = {c for c in CATALOGUED if not c.startswith("jurisdiction.")}
    missing = library - emitted - {"laws.deny", "row.invalid", "consent.tampered"}
    missing -= _guard_refusal_codes()  # the guards' own tests reach those
    # the consent states are reached by the standard policy's test above
    missing -= {f"consent.{s}" for s in ("expired", "held", "pending", "missing", "revoked")}
    assert missing == set()


def _guard_refusal_codes() -> set[str]:
    """The codes the AWS guards give of their own, read from their ``refusal(...)`` calls."""
    import smspolicy.aws

    codes: set[str] = set()
    for path in Path(smspolicy.aws.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "refusal"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                codes.add(str(node.args[0].value))
    return codes


def test_guard_refusal_codes_are_catalogued() -> None:
    """Every code a guard refuses with is in the catalogue (the guards' own tests reach them)."""
    codes = _guard_refusal_codes()
    assert {"address.duplicate", "channel.unsupported", "content.unknown"} <= codes
    assert codes <= CATALOGUED, sorted(codes - CATALOGUED)


def test_tampered_ledger_code_is_catalogued(emitted: set[str], tmp_path: Path) -> None:
    """A consent record edited behind the store's back gives a catalogued code."""
    path = tmp_path / "ledger.db"
    engine, _ = _engine(Policy(rules.consent(), name="p"), store=SQLiteStore(path))
    engine.consent.confirm("+12125550123", topic="deals", purpose="marketing", source="web")
    db = sqlite3.connect(path)
    (record,) = db.execute("SELECT record FROM consent_events").fetchone()
    data = json.loads(record)
    data["source"] = "edited"
    db.execute("UPDATE consent_events SET record = ?", (json.dumps(data),))
    db.commit()
    db.close()
    engine.evaluate(Message("+12125550123", "deals", "marketing"))
    assert "consent.tampered" in emitted
    assert emitted <= CATALOGUED


def test_testing_kit_and_command_line_codes_are_catalogued(
    emitted: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The law check's denying rule and preflight's bad-row denial give catalogued codes."""
    check_policy_laws(Policy(rules.consent(), name="p"), max_examples=3)
    listing = tmp_path / "list.csv"
    listing.write_text("number,topic,purpose\n+12125550123,deals,spam\n")
    assert main(["preflight", str(listing), "--db", str(tmp_path / "s.db")]) == 0
    capsys.readouterr()
    assert {"laws.deny", "row.invalid"} <= emitted <= CATALOGUED


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=strategies.policies(), data=st.data())
def test_random_policies_give_only_catalogued_codes(policy: object, data: st.DataObject) -> None:
    """Random compositions of the built-in rules, on random messages, consent histories and
    instants, give only catalogued codes."""
    message = data.draw(strategies.messages())
    instant = data.draw(strategies.instants())
    store = MemoryStore()
    for event in data.draw(strategies.consent_histories(message.to, before=instant)):
        store.append_consent(event)
    engine = Engine(Policy(policy, name="p"), store, FrozenClock(instant))  # type: ignore[arg-type]
    codes = set(engine.evaluate(message).codes)
    assert codes <= CATALOGUED, sorted(codes - CATALOGUED)


# --- the catalogue itself ------------------------------------------------------------------


def test_catalogue_lists_each_code_once_with_a_meaning() -> None:
    """Codes are unique, sorted and dotted; each has a rule and a one-sentence meaning; every
    switched-on or switched-off provision is there with its citation."""
    entries = catalogue()
    codes = [r.code for r in entries]
    assert codes == sorted(set(codes))
    for r in entries:
        assert "." in r.code
        assert r.rule
        assert r.meaning.endswith(".")
    provisions = {
        p.code: p.citation for name in jurisdictions.PACKS for p in jurisdictions.pack(name)
    }
    assert {r.code: r.citation for r in entries if r.code in provisions} == provisions
    assert describe("consent.revoked") is not None
    assert describe("custom.code") is None


def test_docs_page_is_generated_from_the_catalogue() -> None:
    """docs/reasons.md is exactly what `python -m smspolicy.reasons` prints."""
    assert (ROOT / "docs" / "reasons.md").read_text() == markdown()
    done = subprocess.run(
        [sys.executable, "-m", "smspolicy.reasons"], capture_output=True, text=True, check=True
    )
    assert done.stdout == markdown()


REASONS_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "rule", "meaning", "citation"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "string"},
            "rule": {"type": "string"},
            "meaning": {"type": "string"},
            "citation": {"type": ["string", "null"]},
        },
    },
}


def test_reasons_command(tmp_path: Path) -> None:
    """`smspolicy reasons --format json` prints the whole catalogue; the table has a line per
    code; --out writes CSV."""
    script = Path(sys.executable).with_name("smspolicy")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "smspolicy.cli"]
    env = {**os.environ, "SMSPOLICY_DB": ""}

    def run(*args: str) -> str:
        return subprocess.run(
            [*command, *args], capture_output=True, text=True, check=True, env=env
        ).stdout

    entries = json.loads(run("reasons", "--format", "json"))
    jsonschema.validate(entries, REASONS_SCHEMA)
    assert [(e["code"], e["citation"]) for e in entries] == [
        (r.code, r.citation) for r in catalogue()
    ]
    table = run("reasons").splitlines()
    assert len(table) == len(entries)
    assert table[0].startswith("address.duplicate  ")
    out = tmp_path / "reasons.csv"
    run("reasons", "--out", str(out))
    assert out.read_text().splitlines()[0] == "code,rule,meaning,citation"
