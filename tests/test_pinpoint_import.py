"""Importing a Pinpoint endpoint export: profiles, person links, opt-outs, grants, errors."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Channel, Engine, Message, Profile, rules
from smspolicy.cli import main
from smspolicy.errors import ConfigurationError, InvalidInputError
from smspolicy.pinpoint import SOURCE, import_endpoints
from smspolicy.pinpoint import _endpoints as endpoints_module
from smspolicy.store import (
    ComposedStore,
    MemoryStore,
    ProfileRecord,
    SQLiteStore,
    StoredProfiles,
)
from smspolicy.store._profiles import layered
from smspolicy.testing import FrozenClock

from .services import drop, postgres_store, redis_store

AT = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
NY, LA, TORONTO = "+12125550123", "+13105550123", "+14165550123"


def endpoint(address: str = NY, **fields: Any) -> dict[str, Any]:
    """An SMS endpoint as Pinpoint's export job writes it."""
    base: dict[str, Any] = {
        "Id": f"ep-{address[-4:]}",
        "Address": address,
        "ChannelType": "SMS",
        "EndpointStatus": "ACTIVE",
        "OptOut": "NONE",
        "EffectiveDate": "2026-03-04T05:06:07.890Z",
        "ApplicationId": "app",
    }
    base.update(fields)
    return base


def write(path: Path, *items: object, compress: bool = False) -> Path:
    lines = "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)
    if compress:
        path.write_bytes(gzip.compress(lines.encode()))
    else:
        path.write_text(lines, encoding="utf-8")
    return path


@pytest.fixture
def engine() -> Engine:
    return Engine(rules.consent(), MemoryStore(), FrozenClock(AT))


def decide(engine: Engine, number: str) -> str:
    return engine.evaluate(Message(number, "deals", "marketing")).verdict.value


def test_profile_fields_and_person_are_stored(engine: Engine, tmp_path: Path) -> None:
    """Zone, locale, country, state (by name or code), postal code and user id are stored."""
    path = write(
        tmp_path / "e.json",
        endpoint(
            NY,
            Demographic={"Timezone": "America/New_York", "Locale": "en_US"},
            Location={"Country": "US", "Region": "New York", "PostalCode": "10001"},
            User={"UserId": "user-1"},
            Attributes={"tier": ["gold"]},
        ),
        endpoint(TORONTO, Location={"Country": "CA", "Region": "ON"}),
    )
    summary = import_endpoints(engine, [path])
    found = engine.store.profiles([NY, TORONTO, LA])  # type: ignore[attr-defined]
    assert found[NY] == ProfileRecord(
        Profile(
            timezone="America/New_York",
            country="US",
            state="US-NY",
            postal_code="10001",
            locale="en_US",
        ),
        "user-1",
    )
    assert found[TORONTO] == ProfileRecord(Profile(country="CA", state="CA-ON"))
    assert found[LA] is None
    assert (summary.lines, summary.endpoints, summary.profiles, summary.persons) == (2, 2, 2, 1)
    assert summary.error_count == 0


def test_opt_out_all_becomes_a_revocation_with_provenance(engine: Engine, tmp_path: Path) -> None:
    """OptOut ALL is recorded as a revocation from pinpoint-export naming the endpoint."""
    path = write(tmp_path / "e.json", endpoint(LA, Id="abc", OptOut="ALL"))
    summary = import_endpoints(engine, [path])
    (event,) = engine.consent.history(LA)
    assert event.kind.value == "revoked"
    assert event.source == SOURCE == "pinpoint-export"
    assert (event.topic, event.brand, event.purpose) == (None, None, None)
    assert dict(event.evidence) == {
        "endpoint_id": "abc",
        "effective_date": "2026-03-04T05:06:07.890000+00:00",
    }
    assert summary.revocations == 1
    engine.consent.confirm(LA, topic=None, purpose="marketing", source="x")  # dated at AT
    assert decide(engine, LA) == "deny"  # the tie goes to the revocation


def test_no_consent_is_invented(engine: Engine, tmp_path: Path) -> None:
    """An endpoint that is not opted out records no consent without --grant."""
    path = write(tmp_path / "e.json", endpoint(NY), endpoint(LA, EndpointStatus="INACTIVE"))
    summary = import_endpoints(engine, [path])
    assert engine.consent.history(NY) == [] == engine.consent.history(LA)
    assert summary.grants == 0
    assert decide(engine, NY) == "deny"


@pytest.mark.parametrize(
    ("basis", "kind"),
    [("express", "confirmed"), ("purchase", "implied"), ("soft_opt_in", "implied")],
)
def test_grant_records_consent_with_provenance(
    engine: Engine, tmp_path: Path, basis: str, kind: str
) -> None:
    """--grant BASIS records consent for active endpoints that are not opted out."""
    path = write(
        tmp_path / "e.json",
        endpoint(NY, Id="n"),
        endpoint(LA, EndpointStatus="INACTIVE"),
        endpoint(TORONTO, OptOut="ALL"),
    )
    summary = import_endpoints(engine, [path], grant=basis, topic="deals", purpose="marketing")
    (event,) = engine.consent.history(NY)
    assert (event.kind.value, event.basis.value if event.basis else None) == (kind, basis)
    assert (event.topic, event.purpose.value if event.purpose else None) == ("deals", "marketing")
    assert event.source == "pinpoint-export"
    assert event.evidence["endpoint_id"] == "n"
    assert event.evidence["granted_by"] == "--grant"
    assert engine.consent.history(LA) == []
    assert [e.kind.value for e in engine.consent.history(TORONTO)] == ["revoked"]
    assert (summary.grants, summary.revocations) == (1, 1)
    assert decide(engine, NY) == "allow"
    assert decide(engine, TORONTO) == "deny"


def test_grant_never_overrides_an_opt_out_on_record(engine: Engine, tmp_path: Path) -> None:
    """A number that already texted STOP, or another of whose endpoints is opted out, gets
    no grant, in whichever order the endpoints come."""
    engine.inbound("STOP", NY)
    path = write(
        tmp_path / "e.json",
        endpoint(NY),
        endpoint(LA, Id="first"),
        endpoint(LA, Id="second", OptOut="ALL"),
    )
    summary = import_endpoints(engine, [path], grant="express")
    assert summary.grants == 0
    assert summary.grants_refused == 2
    assert decide(engine, NY) == "deny"
    assert decide(engine, LA) == "deny"


def test_grant_is_refused_for_a_forgotten_opted_out_number(engine: Engine, tmp_path: Path) -> None:
    """A number forgotten while opted out stays suppressed: no grant brings it back."""
    engine.consent.revoke(NY, source="sms")
    engine.forget(NY)
    summary = import_endpoints(engine, [write(tmp_path / "e.json", endpoint(NY))], grant="express")
    assert (summary.grants, summary.grants_refused) == (0, 1)
    assert engine.consent.history(NY) == []


def test_opt_out_in_a_later_batch_wins_over_an_earlier_grant(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are streamed; a later opt-out of the same number still ends the grant."""
    monkeypatch.setattr(endpoints_module, "BATCH", 2)
    calls: list[int] = []
    path = write(
        tmp_path / "e.json",
        endpoint(NY, Id="a"),
        endpoint(TORONTO),
        endpoint(NY, Id="b", OptOut="ALL"),
    )
    summary = import_endpoints(engine, [path], grant="express", progress=calls.append)
    assert calls == [2, 1]
    assert (summary.grants, summary.revocations) == (2, 1)
    assert decide(engine, NY) == "deny"
    assert decide(engine, TORONTO) == "allow"


def test_import_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    """Importing the same export twice records nothing new."""
    path = write(tmp_path / "e.json", endpoint(NY), endpoint(LA, OptOut="ALL"))
    import_endpoints(engine, [path], grant="express")
    before = engine.consent.history(NY) + engine.consent.history(LA)
    again = import_endpoints(engine, [path], grant="express")
    assert engine.consent.history(NY) + engine.consent.history(LA) == before
    assert (again.grants, again.grants_present) == (0, 1)
    assert (again.revocations, again.revocations_present) == (0, 1)


def test_a_changed_endpoint_is_recorded_again(engine: Engine, tmp_path: Path) -> None:
    """A later export of the endpoint (new EffectiveDate) is new provenance."""
    import_endpoints(engine, [write(tmp_path / "a.json", endpoint(LA, OptOut="ALL"))])
    later = endpoint(LA, OptOut="ALL", EffectiveDate="2026-05-01T00:00:00Z")
    summary = import_endpoints(engine, [write(tmp_path / "b.json", later)])
    assert summary.revocations == 1
    assert len(engine.consent.history(LA)) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("{oops", "not a JSON endpoint", id="not-json"),
        pytest.param("[1, 2]", "expected a JSON object (one endpoint), got list", id="array"),
        pytest.param(json.dumps({"Address": NY}), "ChannelType must be", id="no-channel"),
        pytest.param(json.dumps(endpoint("+1212")), "+1212", id="bad-number"),
        pytest.param(json.dumps(endpoint(NY, OptOut="SOME")), "OptOut must be", id="opt-out"),
        pytest.param(
            json.dumps(endpoint(NY, EndpointStatus="GONE")), "EndpointStatus must", id="status"
        ),
        pytest.param(
            json.dumps(endpoint(NY, EffectiveDate="yesterday")), "EffectiveDate", id="date"
        ),
        pytest.param(
            json.dumps(endpoint(NY, EffectiveDate="2026-01-01T00:00:00")),
            "has no time zone",
            id="naive-date",
        ),
        pytest.param(
            json.dumps(endpoint(NY, Demographic="x")), "Demographic must be an object", id="table"
        ),
        pytest.param(
            json.dumps(endpoint(NY, Demographic={"Timezone": "Mars/Base"})),
            "profile not stored",
            id="zone",
        ),
        pytest.param(json.dumps(endpoint(NY, Location={"Country": "ZZ"})), "country", id="country"),
    ],
)
def test_malformed_lines_are_reported_per_line(
    engine: Engine, tmp_path: Path, line: str, message: str
) -> None:
    """A bad line is an error naming the file and line; the lines around it are imported."""
    path = write(tmp_path / "e.json", endpoint(LA, OptOut="ALL"), line, endpoint(TORONTO))
    summary = import_endpoints(engine, [path], grant="express")
    assert summary.error_count == 1
    (error,) = summary.errors
    assert (error.path, error.line) == (str(path), 2)
    assert message in error.message
    assert str(error).startswith(f"{path}: line 2: ")
    assert decide(engine, LA) == "deny"
    assert decide(engine, TORONTO) == "allow"


def test_an_opt_out_is_kept_when_its_profile_is_bad(engine: Engine, tmp_path: Path) -> None:
    """A line whose profile cannot be stored still records its opt-out."""
    bad = endpoint(NY, OptOut="ALL", Demographic={"Timezone": "Nowhere"})
    summary = import_endpoints(engine, [write(tmp_path / "e.json", bad)])
    assert summary.revocations == 1
    assert summary.error_count == 1
    assert engine.store.profiles([NY])[NY] is None  # type: ignore[attr-defined]


def test_unknown_region_is_noted_and_the_rest_stored(engine: Engine, tmp_path: Path) -> None:
    """A Region that is no subdivision of the country leaves the state unset, with a note."""
    item = endpoint(NY, Location={"Country": "US", "Region": "Atlantis", "PostalCode": "1"})
    summary = import_endpoints(engine, [write(tmp_path / "e.json", item)])
    assert engine.store.profiles([NY])[NY] == ProfileRecord(  # type: ignore[attr-defined]
        Profile(country="US", postal_code="1")
    )
    assert "Atlantis" in summary.errors[0].message


def test_bytes_that_are_not_utf8(engine: Engine, tmp_path: Path) -> None:
    """A line that is not UTF-8 is an error of that line."""
    path = tmp_path / "e.json"
    path.write_bytes(json.dumps(endpoint(NY)).encode() + b"\n\xff\xfe\n")
    summary = import_endpoints(engine, [path])
    assert [(e.line, e.message) for e in summary.errors] == [(2, "not UTF-8 text at byte 1")]
    assert summary.endpoints == 1


def test_blank_lines_and_other_channels_are_skipped(engine: Engine, tmp_path: Path) -> None:
    """Blank lines are ignored; custom and in-app endpoints are counted as skipped."""
    path = write(
        tmp_path / "e.json",
        endpoint(NY),
        "   ",
        endpoint("https://hook.example/x", ChannelType="CUSTOM", OptOut="ALL"),
        endpoint("app-user", ChannelType="IN_APP"),
        endpoint(LA, ChannelType="VOICE", OptOut="ALL"),
    )
    summary = import_endpoints(engine, [path])
    assert summary.lines == 4
    assert dict(summary.skipped) == {"CUSTOM endpoints": 1, "IN_APP endpoints": 1}
    assert summary.revocations == 1
    assert "skipped: IN_APP endpoints" in summary.report()


def test_email_and_push_opt_outs_are_recorded(engine: Engine, tmp_path: Path) -> None:
    """An email or push endpoint that opted out is revoked in the ledger under its normal form
    and channel (an opted-out address is never lost to a skip); its user links it to the
    person."""
    path = write(
        tmp_path / "e.json",
        endpoint("Ann@B.Example", ChannelType="EMAIL", OptOut="ALL", User={"UserId": "u-1"}),
        endpoint(" apns-0f1e2d3c ", ChannelType="APNS", OptOut="ALL"),
        endpoint("gcm-9a8b7c", ChannelType="GCM"),
    )
    summary = import_endpoints(engine, [path])
    assert summary.revocations == 2
    assert dict(summary.skipped) == {}
    email = engine.consent.history("Ann@b.example")
    assert [(e.kind.value, e.channel) for e in email] == [("revoked", Channel.EMAIL)]
    push = engine.consent.history("apns-0f1e2d3c", channel="push")
    assert [(e.kind.value, e.channel) for e in push] == [("revoked", Channel.PUSH)]
    assert engine.consent.history("gcm-9a8b7c", channel="push") == []
    message = Message("ann@b.example", "news", "marketing", channel="email")
    assert engine.evaluate(message).codes == ("consent.revoked",)
    assert engine.profile("Ann@b.example") is not None


def test_gzip_exports_are_read(engine: Engine, tmp_path: Path) -> None:
    """A gzip-compressed export (as written to S3) is read like a plain one."""
    path = write(tmp_path / "part-0.gz", endpoint(LA, OptOut="ALL"), compress=True)
    summary = import_endpoints(engine, [path])
    assert summary.revocations == 1
    assert summary.error_count == 0


def test_a_truncated_gzip_export_keeps_what_was_read(engine: Engine, tmp_path: Path) -> None:
    """A cut-off gzip file is an error at the line where reading stopped; earlier lines count."""
    data = gzip.compress(
        "".join(
            json.dumps(endpoint(f"+1212555{n:04d}", OptOut="ALL")) + "\n" for n in range(300)
        ).encode()
    )
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) - 20])
    summary = import_endpoints(engine, [path])
    assert summary.error_count == 1
    assert "cannot be read past here" in summary.errors[0].message
    assert summary.revocations == summary.lines == summary.errors[0].line - 1
    assert summary.revocations > 0


def test_a_single_path_is_one_file(engine: Engine, tmp_path: Path) -> None:
    """A lone path (not in a list) is read as one file."""
    path = write(tmp_path / "e.json", endpoint(LA, OptOut="ALL"))
    assert import_endpoints(engine, str(path)).revocations == 1  # type: ignore[arg-type]


def test_a_missing_file_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    """An unreadable file raises InvalidInputError naming it."""
    with pytest.raises(InvalidInputError, match=r"cannot read .*nope\.json"):
        import_endpoints(engine, [tmp_path / "nope.json"])


def test_a_store_without_profiles_is_refused(tmp_path: Path) -> None:
    """The import needs a store that keeps profiles."""

    class Plain(MemoryStore):
        upsert_profiles = None  # type: ignore[assignment]

    engine = Engine(rules.consent(), Plain(), FrozenClock(AT))
    with pytest.raises(ConfigurationError, match="does not keep profiles"):
        import_endpoints(engine, [write(tmp_path / "e.json", endpoint())])


@pytest.mark.parametrize(
    ("argument", "value"), [("grant", "forever"), ("purpose", "spam"), ("topic", " ")]
)
def test_bad_grant_arguments(engine: Engine, tmp_path: Path, argument: str, value: str) -> None:
    """A grant with an unknown basis or purpose, or a blank topic, is refused before reading."""
    options: dict[str, Any] = {"grant": "express", argument: value}
    with pytest.raises(InvalidInputError):
        import_endpoints(engine, [write(tmp_path / "e.json", endpoint())], **options)
    assert engine.consent.history(NY) == []


# --- the command line ---------------------------------------------------------------------


def test_cli_imports_and_summarises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """smspolicy pinpoint import-endpoints prints a summary; a bad line gives exit status 1."""
    db = str(tmp_path / "s.sqlite3")
    path = write(tmp_path / "e.json", endpoint(NY), endpoint(LA, OptOut="ALL"), "{")
    args = ["pinpoint", "import-endpoints", str(path), "--db", db, "--quiet"]
    assert main([*args, "--grant", "express", "--at", "2026-12-01T15:00Z"]) == 1
    out = capsys.readouterr().out
    assert "3 lines read, 2 endpoints imported" in out
    assert "opt-outs recorded             1" in out
    assert f"{path}: line 3: not a JSON endpoint" in out
    store = SQLiteStore(db)
    (grant,) = store.consent_events([NY])[NY]
    assert grant.at == AT
    assert grant.kind.value == "confirmed"
    store.close()
    clean = write(tmp_path / "ok.json", endpoint(TORONTO))
    assert main(["pinpoint", "import-endpoints", str(clean), "--db", db, "--quiet"]) == 0


def test_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing export is a one-line error with exit status 2."""
    db = str(tmp_path / "s.sqlite3")
    assert main(["pinpoint", "import-endpoints", str(tmp_path / "x.json"), "--db", db]) == 2
    assert "smspolicy: error: cannot read" in capsys.readouterr().err


# --- the profile store --------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgres", "postgres+redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        made: Any = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "p.sqlite3")
    elif request.param == "postgres":
        made = postgres_store()
    else:
        made = ComposedStore(postgres_store(), redis_store())  # type: ignore[arg-type]
    yield made
    drop(made)


@pytest.fixture
def redis() -> Iterator[Any]:
    made = redis_store()
    yield made
    drop(made)


def test_redis_keeps_profiles_as_hashes(redis: Any) -> None:
    """RedisStore upserts profiles in bulk, replaces them, and forget_sends erases them."""
    full = ProfileRecord(Profile(timezone="America/Chicago", country="US", state="TX"), "p1")
    empty = ProfileRecord(Profile())
    assert redis.upsert_profiles({NY: full, LA: empty}) == 2
    assert redis.profiles([NY, LA, TORONTO]) == {NY: full, LA: empty, TORONTO: None}
    assert redis.profiles([]) == {}
    redis.upsert_profiles({NY: ProfileRecord(Profile(locale="fr"))})
    assert redis.profiles([NY])[NY] == ProfileRecord(Profile(locale="fr"))
    redis.forget_sends(NY)
    assert redis.profiles([NY, LA]) == {NY: None, LA: empty}


def test_composed_store_without_profiles_refuses_before_writing(redis: Any, tmp_path: Path) -> None:
    """A composed store whose parts keep no profiles is refused before any event is written."""

    class Plain(MemoryStore):
        upsert_profiles = None  # type: ignore[assignment]
        profiles = None  # type: ignore[assignment]

    class NoProfiles(type(redis)):  # type: ignore[misc]
        upsert_profiles = None
        profiles = None

    counters = NoProfiles.__new__(NoProfiles)
    counters.__dict__.update(redis.__dict__)
    store = ComposedStore(Plain(), counters)
    engine = Engine(rules.consent(), store, FrozenClock(AT))
    with pytest.raises(ConfigurationError, match="keeps profiles"):
        import_endpoints(engine, [write(tmp_path / "e.json", endpoint(NY, OptOut="ALL"))])
    assert engine.consent.history(NY) == []


def test_profile_store_upserts_reads_and_forgets(store: Any) -> None:
    """Profiles are upserted in bulk, read back, replaced, and erased by forget."""
    first = ProfileRecord(Profile(timezone="America/Chicago", country="US", state="TX"), "p1")
    assert store.upsert_profiles({NY: first, LA: ProfileRecord(Profile(locale="es"))}) == 2
    assert store.profiles([NY, LA, TORONTO]) == {
        NY: first,
        LA: ProfileRecord(Profile(locale="es")),
        TORONTO: None,
    }
    store.upsert_profiles({NY: ProfileRecord(Profile(postal_code="75001"))})
    assert store.profiles([NY])[NY] == ProfileRecord(Profile(postal_code="75001"))
    store.forget(NY)
    assert store.profiles([NY, LA])[NY] is None
    assert store.profiles([LA])[LA] is not None


def test_engine_reads_stored_profiles(store: Any) -> None:
    """StoredProfiles is an engine profile source: a stored zone joins the number's zones."""
    store.upsert_profiles({NY: ProfileRecord(Profile(timezone="Europe/London"), "p")})
    source = StoredProfiles(store)
    engine = Engine(rules.consent(), store, FrozenClock(AT), profiles=source)
    recipient = engine.recipient(Message(NY, "deals", "marketing"))
    assert recipient.zones == ("Europe/London", "America/New_York")
    assert source.person(NY) == "p"
    assert source.person(LA) is None
    assert source(LA) is None


def test_stored_profiles_are_cached_until_cleared() -> None:
    """Reads are cached (misses too); clear() makes new writes visible."""
    store = MemoryStore()
    source = StoredProfiles(store)
    source.prefetch([NY])
    store.upsert_profiles({NY: ProfileRecord(Profile(locale="fr"))})
    assert source(NY) is None
    source.clear()
    assert source(NY) == Profile(locale="fr")
    fresh = StoredProfiles(store, ttl=0.0)  # entries expire at once: every read is fresh
    assert fresh(NY) == Profile(locale="fr")
    store.forget(NY)
    assert fresh(NY) is None


def test_prefetch_reads_what_is_not_remembered_once_in_one_read() -> None:
    """prefetch reads the addresses not remembered in one store read, each once and in the
    order first asked; remembered ones (misses too) are not read again until they expire."""
    asked: list[list[str]] = []

    class Counting(MemoryStore):
        def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
            asked.append(list(addresses))
            return super().profiles(addresses)

    store = Counting()
    store.upsert_profiles({LA: ProfileRecord(Profile(locale="es"), "p")})
    source = StoredProfiles(store)
    assert source.prefetch([NY]) == {NY: None}
    found = source.prefetch([LA, NY, TORONTO, LA])
    assert found == {LA: ProfileRecord(Profile(locale="es"), "p"), NY: None, TORONTO: None}
    assert asked == [[NY], [LA, TORONTO]]
    assert source.remembered([TORONTO, LA, NY]) == (
        {TORONTO: None, LA: ProfileRecord(Profile(locale="es"), "p"), NY: None},
        [],
    )
    expiring = StoredProfiles(store, ttl=0.0)  # entries expire at once: asked again each time
    expiring.prefetch([NY])
    assert expiring.remembered([NY, LA]) == ({}, [NY, LA])


def test_layered_profiles_take_fields_from_the_first_source() -> None:
    """Per-message facts win field by field; the stored profile fills the rest."""
    first = {NY: Profile(locale="es")}.get
    then = {NY: Profile(locale="en", timezone="America/Denver"), LA: Profile(locale="fr")}.get
    merged = layered(first, then)
    assert merged(NY) == Profile(locale="es", timezone="America/Denver")
    assert merged(LA) == Profile(locale="fr")
    assert layered(then, first)(NY) == Profile(locale="en", timezone="America/Denver")
    assert merged(TORONTO) is None


def test_profile_record_checks_its_values() -> None:
    """A record holds a Profile and a person that is text or None."""
    with pytest.raises(InvalidInputError):
        ProfileRecord("x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        ProfileRecord(Profile(), " ")
    with pytest.raises(InvalidInputError):
        StoredProfiles(object())  # type: ignore[arg-type]


def test_an_opt_out_on_a_line_that_is_not_utf8_is_kept(engine: Engine, tmp_path: Path) -> None:
    """A stray byte elsewhere on an opted-out endpoint's line is an error of that line, and
    the opt-out is still recorded; a line that is not UTF-8 and not an opt-out grants nothing,
    even with --grant."""
    opted_out = json.dumps(endpoint(LA, OptOut="ALL")).encode().replace(b'"ep-', b'"ep-\xff')
    active = json.dumps(endpoint(NY)).encode().replace(b'"ep-', b'"ep-\xff')
    path = tmp_path / "e.json"
    path.write_bytes(opted_out + b"\n" + active + b"\n")
    summary = import_endpoints(engine, [path], grant="express")
    assert [e.line for e in summary.errors] == [1, 2]
    assert all(e.message.startswith("not UTF-8 text at byte") for e in summary.errors)
    assert [event.kind.value for event in engine.consent.history(LA)] == ["revoked"]
    assert engine.consent.history(NY) == []
    assert summary.revocations == 1
    assert summary.grants == 0


def test_the_summary_counts_one_line_and_one_endpoint_in_the_singular(
    engine: Engine, tmp_path: Path
) -> None:
    """One line and one endpoint are said in the singular, two in the plural."""
    one = import_endpoints(engine, [write(tmp_path / "one.json", endpoint(NY))])
    assert one.report().splitlines()[0] == "1 line read, 1 endpoint imported"
    two = import_endpoints(engine, [write(tmp_path / "two.json", endpoint(NY), endpoint(LA))])
    assert two.report().splitlines()[0] == "2 lines read, 2 endpoints imported"
