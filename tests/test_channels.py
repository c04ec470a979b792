"""Every channel, one person: the consent ledger for email addresses, push tokens and voice
numbers, scoped by channel and by person, on the in-memory and SQLite stores."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import Channel, Engine, Message, Verdict, rules
from smspolicy._recipients import normalise_address, normalise_email, normalise_push_token
from smspolicy.errors import InvalidAddressError, InvalidInputError, InvalidNumberError
from smspolicy.store import MemoryStore, SQLiteStore, Store
from smspolicy.testing import FrozenClock

from .conftest import T0

PHONE = "+12025550143"
OTHER_PHONE = "+12025550144"
TOKEN = "fcm:dGhpcy1pcy1hLXRva2Vu"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The in-memory store and a SQLite file."""
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "c.db")
    yield made
    made.close()


@pytest.fixture
def engine(store: Store) -> Engine:
    """An engine that only asks for consent, at T0."""
    return Engine(rules.consent(), store, FrozenClock(T0))


def _msg(to: str, channel: str, **more: object) -> Message:
    return Message(to, "news", "marketing", channel=channel, **more)  # type: ignore[arg-type]


# -- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "Alice@example.com"),
        ("  bob@EXAMPLE.org\u200b ", "bob@example.org"),
        ("ünïcode@Bücher.Example", "ünïcode@xn--bcher-kva.example"),
        ("o'neil+news@mail.example.co.uk.", "o'neil+news@mail.example.co.uk"),
    ],
    ids=["plain", "domain-case", "spaces-and-zero-width", "idna", "trailing-dot"],
)
def test_email_domain_is_folded_and_idna_encoded_local_part_kept(given: str, expected: str) -> None:
    """An email address keeps its local part as given; its domain is case-folded and IDNA."""
    assert normalise_email(given) == expected
    assert normalise_address(given) == expected
    assert normalise_address(given, Channel.EMAIL) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "alice",
        "@example.com",
        "alice@",
        "al ice@example.com",
        "alice@localhost",
        "alice@-bad.example",
        "alice@exa_mple.com",
        "a\x07b@example.com",
        f"{'x' * 65}@example.com",
        "alice@example.com,bob@example.com",
        "alice@example.com;bob@example.com",
        "alice<bob@example.com>",
        "(x)bob@example.com",
        "a:b@example.com",
    ],
    ids=[
        "no-at",
        "no-local",
        "no-domain",
        "space",
        "no-dot",
        "hyphen-label",
        "underscore",
        "control",
        "long-local",
        "two-addresses-comma",
        "two-addresses-semicolon",
        "angle-brackets",
        "comment",
        "group-colon",
    ],
)
def test_a_bad_email_address_is_a_clear_error(bad: str) -> None:
    """A malformed email address raises InvalidAddressError (an InvalidNumberError)."""
    with pytest.raises(InvalidAddressError):
        normalise_address(bad, "email")
    assert issubclass(InvalidAddressError, InvalidNumberError)
    assert issubclass(InvalidAddressError, InvalidInputError)


def test_push_tokens_are_trimmed_and_checked() -> None:
    """A push token is opaque: trimmed, never empty, no white space inside."""
    assert normalise_push_token(f"  {TOKEN}\n") == TOKEN
    assert normalise_address(TOKEN, "push") == TOKEN
    for bad in ("", "   ", "abc def", "abc\tdef", "a" * 4097):
        with pytest.raises(InvalidAddressError):
            normalise_push_token(bad)
    assert normalise_push_token("a" * 4096) == "a" * 4096


# -- the ledger for every address -------------------------------------------------------------


def test_email_consent_is_recorded_and_allows_email(engine: Engine) -> None:
    """engine.consent.confirm works for an email address and the email is then allowed."""
    event = engine.consent.confirm(
        "Alice@Example.COM", topic="news", purpose="marketing", source="form"
    )
    assert event.number == "Alice@example.com"
    assert event.channel is None
    assert engine.evaluate(_msg("Alice@EXAMPLE.com", "email")).verdict is Verdict.ALLOW
    # the local part is kept: another spelling of it is another mailbox
    assert engine.evaluate(_msg("alice@example.com", "email")).codes == ("consent.missing",)
    assert [e.kind.value for e in engine.consent.history("ALICE@example.com")] == []
    assert [e.kind.value for e in engine.consent.history("Alice@EXAMPLE.COM")] == ["confirmed"]


def test_a_bad_address_in_the_ledger_api_is_a_clear_error(engine: Engine) -> None:
    """Bad email addresses and push tokens raise, naming what is wrong; nothing is written."""
    with pytest.raises(InvalidAddressError, match="not an email address"):
        engine.consent.confirm("alice@", topic="news", purpose="marketing", source="form")
    with pytest.raises(InvalidAddressError, match="white space"):
        engine.consent.confirm(
            "abc def", topic="news", purpose="marketing", source="app", channel="push"
        )
    with pytest.raises(InvalidNumberError, match="not a phone number"):
        engine.consent.confirm("device-token", topic="news", purpose="marketing", source="app")
    assert engine.store.consent_events(["alice@"]) == {"alice@": []}


def test_a_malformed_destination_is_denied_with_its_own_code(engine: Engine) -> None:
    """An email message to a malformed address is denied address.malformed (empty: invalid)."""
    decision = engine.evaluate(_msg("not an address", "email"))
    assert decision.codes == ("address.malformed",)
    assert engine.evaluate(_msg("   ", "email")).codes == ("address.invalid",)


def test_push_consent_by_token(engine: Engine) -> None:
    """A push token has its own chain; a token message is allowed after its consent."""
    assert engine.evaluate(_msg(TOKEN, "push")).codes == ("consent.missing",)
    engine.consent.confirm(
        f" {TOKEN} ", topic="news", purpose="marketing", source="app", channel="push"
    )
    assert engine.evaluate(_msg(TOKEN, "push")).allowed
    assert [e.number for e in engine.consent.history(TOKEN, channel="push")] == [TOKEN]


def test_voice_consent_does_not_allow_texts(engine: Engine) -> None:
    """Consent for voice calls covers calls only; one for SMS covers SMS and MMS only."""
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="ivr", channel="voice")
    assert engine.evaluate(_msg(PHONE, "voice")).allowed
    assert engine.evaluate(_msg(PHONE, "sms")).codes == ("consent.missing",)
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="web", channel="sms")
    assert engine.evaluate(_msg(PHONE, "sms")).allowed
    assert engine.evaluate(_msg(PHONE, "mms")).allowed


def test_an_sms_stop_revokes_sms_and_leaves_voice(engine: Engine) -> None:
    """A revocation for SMS ends texts (SMS and MMS) but not a consent for calls."""
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="web")
    engine.consent.revoke(PHONE, source="keyword", channel="sms")
    assert engine.evaluate(_msg(PHONE, "sms")).codes == ("consent.revoked",)
    assert engine.evaluate(_msg(PHONE, "mms")).codes == ("consent.revoked",)
    assert engine.evaluate(_msg(PHONE, "voice")).allowed


def test_an_inbound_stop_revokes_every_channel_of_the_number(engine: Engine) -> None:
    """A STOP texted in names no channel, so it ends SMS, MMS and voice (fail closed)."""
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="web")
    engine.inbound("STOP", PHONE)
    for channel in ("sms", "mms", "voice"):
        assert engine.evaluate(_msg(PHONE, channel)).codes == ("consent.revoked",)


def test_an_email_unsubscribe_revokes_email_only(engine: Engine) -> None:
    """Unsubscribing an email address leaves the same person's SMS consent alone."""
    for address in ("ann@example.com", PHONE):
        engine.consent.confirm(address, topic="news", purpose="marketing", source="web")
    engine.consent.revoke("ANN@example.com".lower(), source="list-unsubscribe")
    assert engine.evaluate(_msg("ann@example.com", "email", person="p1")).codes == (
        "consent.revoked",
    )
    assert engine.evaluate(_msg(PHONE, "sms", person="p1")).allowed


def test_person_stop_everything_reaches_every_linked_address(engine: Engine) -> None:
    """A person's stop-everything revokes named addresses, addresses the send log links to the
    person, and every message naming the person, whatever its address."""
    clock = engine.clock
    assert isinstance(clock, FrozenClock)
    for address, channel in (("ann@example.com", None), (PHONE, None), (TOKEN, "push")):
        engine.consent.confirm(
            address, topic="news", purpose="marketing", source="web", channel=channel
        )
    engine.consent.confirm(OTHER_PHONE, topic="news", purpose="marketing", source="web")
    engine.record_sent(_msg(TOKEN, "push", person="p1"))  # links the token to p1
    clock.advance(dt.timedelta(minutes=1))
    events = engine.consent.revoke_person("p1", source="account-page", addresses=[PHONE])
    assert [e.number for e in events] == ["person: p1", PHONE, TOKEN]
    assert all(e.kind.value == "revoked" for e in events)
    assert events[1].evidence["person"] == "p1"
    # linked addresses are stopped even when the message names no person
    assert engine.evaluate(_msg(PHONE, "sms")).codes == ("consent.revoked",)
    assert engine.evaluate(_msg(TOKEN, "push")).codes == ("consent.revoked",)
    # an address not linked yet is stopped when the message names the person ...
    assert engine.evaluate(_msg("ann@example.com", "email", person="p1")).codes == (
        "consent.revoked",
    )
    # ... and allowed for another person or none
    assert engine.evaluate(_msg("ann@example.com", "email")).allowed
    assert engine.evaluate(_msg(OTHER_PHONE, "sms", person="p2")).allowed
    # a later confirmation of one address restores that address only
    clock.advance(dt.timedelta(minutes=1))
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="web")
    assert engine.evaluate(_msg(PHONE, "sms", person="p1")).allowed
    assert engine.evaluate(_msg(TOKEN, "push", person="p1")).codes == ("consent.revoked",)
    assert [e.kind.value for e in engine.consent.person_history("p1")] == ["revoked"]


def test_a_person_stop_for_one_channel_skips_addresses_without_it(engine: Engine) -> None:
    """A person's stop for email writes nothing into a phone number's chain."""
    events = engine.consent.revoke_person(
        "p1", source="api", channel="email", addresses=["ann@example.com", PHONE]
    )
    assert [(e.number, e.channel) for e in events] == [
        ("person: p1", Channel.EMAIL),
        ("ann@example.com", Channel.EMAIL),
    ]
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="web")
    assert engine.evaluate(_msg(PHONE, "sms", person="p1")).allowed


def test_a_tampered_person_chain_denies(engine: Engine, store: Store) -> None:
    """The person's own chain is checked like any other: an edit denies consent.tampered."""
    engine.consent.confirm("ann@example.com", topic="news", purpose="marketing", source="web")
    engine.consent.revoke_person("p1", source="api")
    if isinstance(store, MemoryStore):
        chain = store._events["person: p1"]  # type: ignore[attr-defined]
        chain[0] = chain[0].__class__(**{**_fields(chain[0]), "source": "forged"})
    else:
        assert isinstance(store, SQLiteStore)
        with store._write() as db:
            row = db.execute(
                "SELECT record FROM consent_events WHERE number = ?", ("person: p1",)
            ).fetchone()
            record = json.loads(row[0])
            record["source"] = "forged"
            db.execute(
                "UPDATE consent_events SET record = ? WHERE number = ?",
                (json.dumps(record), "person: p1"),
            )
    decision = engine.evaluate(_msg("ann@example.com", "email", person="p1"))
    assert decision.codes == ("consent.tampered",)


def _fields(event: object) -> dict[str, object]:
    import attrs

    return attrs.asdict(event, recurse=False)  # type: ignore[arg-type]


def test_email_proof_verifies_and_forget_keeps_it_unsubscribed(engine: Engine) -> None:
    """An email chain exports a proof that verifies; forgetting an unsubscribed address keeps
    it suppressed."""
    engine.consent.confirm("ann@example.com", topic="news", purpose="marketing", source="web")
    engine.consent.revoke("ann@example.com", source="unsubscribe", channel="email")
    proof = engine.consent.proof("ANN@Example.com".replace("ANN", "ann"))
    assert json.loads(proof)["number"] == "ann@example.com"
    assert engine.consent.verify(proof)
    csv_proof = engine.consent.proof("ann@example.com", format="csv")
    assert csv_proof.splitlines()[0] == (
        "seq,kind,number,at,topic,purpose,brand,basis,source,evidence,expires,channel,"
        "prev_hash,hash"
    )
    assert csv_proof.splitlines()[2].split(",")[11] == "email"
    assert engine.consent.verify(csv_proof, format="csv")
    engine.forget("ann@example.com")
    assert engine.consent.history("ann@example.com") == []
    assert engine.evaluate(_msg("ann@example.com", "email")).codes == ("consent.revoked",)


def test_events_without_a_channel_keep_their_hash() -> None:
    """An event that names no channel hashes exactly as before channels existed."""
    from smspolicy import ConsentEvent

    event = ConsentEvent(
        kind="confirmed",
        number=PHONE,
        at=T0,
        source="form",
        topic="news",
        purpose="marketing",
        basis="express",
    ).chained(0, "0" * 64)
    legacy = {
        "kind": "confirmed",
        "number": PHONE,
        "at": "2025-01-15T15:00:00+00:00",
        "source": "form",
        "topic": "news",
        "purpose": "marketing",
        "brand": None,
        "basis": "express",
        "evidence": {},
        "expires": None,
        "seq": 0,
        "prev_hash": "0" * 64,
    }
    canonical = json.dumps(legacy, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert event.hash == hashlib.sha256(canonical.encode()).hexdigest()
    voice = ConsentEvent(
        kind="confirmed", number=PHONE, at=T0, source="form", channel="voice"
    ).chained(0, "0" * 64)
    assert voice.payload()["channel"] == "voice"
    assert ConsentEvent.from_json(voice.to_json()) == voice


def test_the_inbound_stop_scope_is_configurable(store: Store) -> None:
    """Engine(stop_channel="sms"): a texted STOP ends texts and leaves a consent for calls."""
    engine = Engine(rules.consent(), store, FrozenClock(T0), stop_channel="sms")
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="web")
    result = engine.inbound("STOP", PHONE)
    assert [e.channel for e in result.events] == [Channel.SMS]
    assert engine.evaluate(_msg(PHONE, "sms")).codes == ("consent.revoked",)
    assert engine.evaluate(_msg(PHONE, "mms")).codes == ("consent.revoked",)
    assert engine.evaluate(_msg(PHONE, "voice")).allowed


@pytest.mark.parametrize("bad", ["email", "push", "fax"], ids=str)
def test_the_stop_scope_is_a_phone_channel(bad: str) -> None:
    """stop_channel names a phone channel or nothing."""
    from smspolicy.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"stop_channel|Channel"):
        Engine(rules.consent(), stop_channel=bad)


def test_profiles_are_found_under_the_normal_form_or_as_spelled(store: Store) -> None:
    """An email profile keyed by the normal form or by the sender's own spelling applies."""
    from smspolicy import Profile

    profiles = {"ann@example.com": Profile(country="CA"), "Bob@MAIL.Example": Profile(country="CA")}
    engine = Engine(rules.consent(), store, FrozenClock(T0), profiles=profiles)
    for to in ("ann@EXAMPLE.com", "Bob@MAIL.Example"):
        recipient = engine.recipient(_msg(to, "email"))
        assert recipient.jurisdictions == frozenset({"CA"})
    assert engine.recipient(_msg("Bob@mail.example", "email")).address == "Bob@mail.example"


def test_no_address_can_be_read_as_a_persons_own_record() -> None:
    """A person's record is keyed "person: <id>": the space keeps every address out of it."""
    from smspolicy.consent import person_key

    key = person_key("bob")
    assert key == "person: bob"
    for channel in ("push", "email"):
        with pytest.raises(InvalidAddressError):
            normalise_address(key, channel)
    with pytest.raises(InvalidNumberError):
        normalise_address(key, "sms")


def test_a_forgotten_push_token_stays_opted_out(engine: Engine) -> None:
    """forget(token, channel="push") erases the token's records and keeps it suppressed."""
    engine.consent.confirm(TOKEN, topic="news", purpose="marketing", source="app", channel="push")
    engine.consent.revoke(TOKEN, source="app-settings", channel="push")
    engine.forget(f" {TOKEN} ", channel="push")
    assert engine.consent.history(TOKEN, channel="push") == []
    assert engine.evaluate(_msg(TOKEN, "push")).codes == ("consent.revoked",)


# -- a revocation covers every spelling of the mailbox ------------------------------------------


@pytest.mark.parametrize(
    "sent_to",
    [
        "Alice@example.com",
        "alice@example.com",
        "ALICE@EXAMPLE.com.",
        "aLiCe@Example.Com",
        "\uff21lice@example.com",  # a full-width A
        " alice\u200b@EXAMPLE.COM ",
    ],
    ids=["as-revoked", "lower", "upper-trailing-dot", "mixed", "full-width", "zero-width"],
)
def test_an_email_unsubscribe_stops_every_spelling_of_the_local_part(
    engine: Engine, sent_to: str
) -> None:
    """Consent stays exact to the local part as given, but a revocation of "Alice@Example.COM"
    stops mail to any case or width variant of it: stopping fails closed."""
    engine.consent.confirm("alice@example.com", topic="news", purpose="marketing", source="web")
    engine.consent.confirm("ALICE@example.com", topic="news", purpose="marketing", source="web")
    engine.consent.revoke("Alice@Example.COM", source="list-unsubscribe", channel="email")
    assert engine.evaluate(_msg(sent_to, "email")).codes == ("consent.revoked",)
    # the revocation is in the chain of the address as given
    assert [e.kind.value for e in engine.consent.history("Alice@example.com")] == ["revoked"]


def test_a_variant_revocation_keeps_other_mailboxes_and_a_later_confirmation(
    engine: Engine,
) -> None:
    """Another mailbox is untouched, and a later explicit confirmation of a spelling restores
    that spelling alone."""
    clock = engine.clock
    assert isinstance(clock, FrozenClock)
    engine.consent.confirm("bob@example.com", topic="news", purpose="marketing", source="web")
    engine.consent.revoke("Alice@example.com", source="list-unsubscribe")
    assert engine.evaluate(_msg("bob@example.com", "email")).allowed
    clock.advance(dt.timedelta(minutes=1))
    engine.consent.confirm("ALICE@example.com", topic="news", purpose="marketing", source="web")
    assert engine.evaluate(_msg("ALICE@example.com", "email")).allowed
    assert engine.evaluate(_msg("alice@example.com", "email")).codes == ("consent.revoked",)
    assert engine.evaluate(_msg("Alice@example.com", "email")).codes == ("consent.revoked",)


def test_forgetting_an_unsubscribed_spelling_keeps_its_variants_stopped(engine: Engine) -> None:
    """forget() of an unsubscribed address leaves every spelling of it opted out."""
    engine.consent.confirm("alice@example.com", topic="news", purpose="marketing", source="web")
    engine.consent.revoke("Alice@example.com", source="list-unsubscribe")
    engine.forget("Alice@example.com")
    for sent_to in ("Alice@example.com", "alice@example.com", "ALICE@example.com"):
        assert engine.evaluate(_msg(sent_to, "email")).verdict is Verdict.DENY, sent_to


@pytest.mark.parametrize("spelled", [" p1", "p1 ", "\tp1\n", "p1\u200b", "\ufeffp1"])
def test_a_person_id_with_stray_spacing_is_the_same_person(engine: Engine, spelled: str) -> None:
    """A person's stop-everything reaches a message whose person id differs only by white
    space or invisible format characters, and such a message counts in the person's caps."""
    assert Message(PHONE, "news", "marketing", person=spelled).person == "p1"
    engine.consent.confirm(PHONE, topic="news", purpose="marketing", source="web")
    engine.consent.revoke_person("p1", source="account-page")
    assert engine.evaluate(_msg(PHONE, "sms", person=spelled)).codes == ("consent.revoked",)
    assert [e.number for e in engine.consent.person_history(spelled)] == ["person: p1"]


def test_person_caps_count_a_spaced_person_id_as_the_same_person(store: Store) -> None:
    """A cap of one a day per person: the send to " p1" counts for "p1"."""
    engine = Engine(
        rules.frequency_cap(1, dt.timedelta(days=1), scope="all"), store, FrozenClock(T0)
    )
    engine.record_sent(_msg(PHONE, "sms", person=" p1"))
    assert engine.evaluate(_msg("ann@example.com", "email", person="p1")).codes == ("cap.exceeded",)


@pytest.mark.parametrize(
    "spelled", ["alice@EXAMPLE.com", "alice@example.com.", " alice@Example.COM "]
)
def test_a_stored_person_link_is_found_for_any_spelling_of_the_domain(
    store: Store, spelled: str
) -> None:
    """An email address stored under its normal form links to its person when a message
    spells the domain another way: one person, one cap of one a day across SMS and email."""
    from smspolicy import Profile
    from smspolicy.store import ProfileRecord

    engine = Engine(
        rules.frequency_cap(1, dt.timedelta(days=1), scope="all"), store, FrozenClock(T0)
    )
    store.upsert_profiles(  # type: ignore[attr-defined]
        {
            PHONE: ProfileRecord(Profile(), "p1"),
            "alice@example.com": ProfileRecord(Profile(), "p1"),
        }
    )
    held = engine.reserve_many([_msg(PHONE, "sms"), _msg(spelled, "email")])
    assert [r.allowed for r in held] == [True, False]
    assert held[1].decision.codes == ("cap.exceeded",)
    engine.settle_many([(held[0], "m-1", True)])
    assert engine.evaluate(_msg(spelled, "email")).codes == ("cap.exceeded",)


def _forge(store: Store, number: str, field: str, value: object) -> None:
    """Edit the first stored event of ``number`` in place, its hash left alone."""
    if isinstance(store, MemoryStore):
        chain = store._events[number]  # type: ignore[attr-defined]
        chain[0] = chain[0].__class__(**{**_fields(chain[0]), field: value})
        return
    assert isinstance(store, SQLiteStore)
    with store._write() as db:
        row = db.execute("SELECT record FROM consent_events WHERE number = ?", (number,)).fetchone()
        record = json.loads(row[0])
        record[field] = value.value if isinstance(value, Channel) else value
        db.execute(
            "UPDATE consent_events SET record = ? WHERE number = ?", (json.dumps(record), number)
        )


def test_an_edited_channel_on_a_revocation_denies(engine: Engine, store: Store) -> None:
    """An email revocation edited in the store to cover SMS only (to reopen email) no longer
    verifies: the email is denied consent.tampered, not allowed."""
    engine.consent.confirm("ann@example.com", topic="news", purpose="marketing", source="web")
    engine.clock.advance(dt.timedelta(minutes=1))  # type: ignore[attr-defined]
    engine.consent.revoke("ann@example.com", source="list-unsubscribe", channel="email")
    chain = engine.consent.history("ann@example.com")
    assert [e.channel for e in chain] == [None, Channel.EMAIL]
    if isinstance(store, MemoryStore):
        events = store._events["ann@example.com"]  # type: ignore[attr-defined]
        events[1] = events[1].__class__(**{**_fields(events[1]), "channel": Channel.SMS})
    else:
        assert isinstance(store, SQLiteStore)
        with store._write() as db:
            rows = db.execute(
                "SELECT seq, record FROM consent_events WHERE number = ? ORDER BY seq",
                ("ann@example.com",),
            ).fetchall()
            record = json.loads(rows[1][1])
            record["channel"] = "sms"
            db.execute(
                "UPDATE consent_events SET record = ? WHERE number = ? AND seq = ?",
                (json.dumps(record), "ann@example.com", rows[1][0]),
            )
    assert engine.evaluate(_msg("ann@example.com", "email")).codes == ("consent.tampered",)


def test_a_tampered_shared_spelling_chain_denies(engine: Engine, store: Store) -> None:
    """The chain every spelling of a mailbox shares is checked like any other: an edit there
    denies mail to another spelling consent.tampered."""
    engine.consent.confirm("ALICE@example.com", topic="news", purpose="marketing", source="web")
    engine.consent.revoke("Alice@example.com", source="list-unsubscribe")
    assert [e.evidence["address"] for e in engine.consent.history("alice@example.com")] == [
        "Alice@example.com"
    ]
    _forge(store, "alice@example.com", "source", "forged")
    assert engine.evaluate(_msg("ALICE@example.com", "email")).codes == ("consent.tampered",)


def test_forgetting_an_email_address_erases_its_shared_spelling_record(engine: Engine) -> None:
    """forget() of "Alice@example.com" leaves no record naming it (not even the copy of its
    unsubscribe kept for other spellings), and every spelling stays opted out by a hashed
    suppression."""
    engine.consent.revoke("Alice@example.com", source="list-unsubscribe")
    assert engine.consent.history("alice@example.com") != []
    engine.forget("Alice@example.com")
    assert engine.consent.history("alice@example.com") == []
    assert engine.consent.history("Alice@example.com") == []
    for sent_to in ("Alice@example.com", "alice@example.com", "ALICE@example.com"):
        assert engine.evaluate(_msg(sent_to, "email")).codes == ("consent.revoked",), sent_to


@settings(max_examples=60, deadline=None)
@given(
    local=st.from_regex(r"[A-Za-z][A-Za-z0-9.+_-]{0,15}", fullmatch=True),
    flips=st.lists(st.booleans(), min_size=16, max_size=16),
    domain_upper=st.booleans(),
)
def test_any_case_spelling_of_an_unsubscribed_mailbox_is_stopped(
    local: str, flips: list[bool], domain_upper: bool
) -> None:
    """For any local part and any change of its letters' case (and of the domain's), a mailbox
    unsubscribed under one spelling is stopped under the other, while consent granted under
    the second spelling alone never reopens it."""
    engine = Engine(rules.consent(), MemoryStore(), FrozenClock(T0))
    other = "".join(c.swapcase() if f else c for c, f in zip(local, flips, strict=False))
    domain = "EXAMPLE.ORG" if domain_upper else "example.org"
    engine.consent.confirm(f"{other}@{domain}", topic="news", purpose="marketing", source="web")
    engine.consent.revoke(f"{local}@example.org", source="list-unsubscribe", channel="email")
    decision = engine.evaluate(_msg(f"{other}@{domain}", "email"))
    assert decision.codes == ("consent.revoked",)
