"""Import an Amazon Pinpoint endpoint export (newline-delimited JSON, optionally gzip) into
profiles, person links and the consent ledger.

Pinpoint's export job writes one endpoint per line, as ``GetEndpoint`` returns it. What is
read: ``Id``, ``Address``, ``ChannelType``, ``EndpointStatus``, ``OptOut``,
``EffectiveDate``, ``Demographic.Timezone`` / ``Locale``, ``Location.Country`` / ``Region`` /
``PostalCode`` and ``User.UserId``. ``OptOut: "ALL"`` becomes a revocation with provenance; an
endpoint that merely is not opted out grants nothing unless the caller asks for a grant.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import gzip
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO

import attrs
import pycountry

from .._cli_output import plural
from .._engine import Engine
from .._recipients import Profile
from .._records import Basis, ConsentEvent, ConsentKind
from .._values import Channel, Purpose, to_enum
from ..errors import ConfigurationError, InvalidInputError, SmsPolicyError
from ..store import ProfileRecord, ProfileStore

__all__ = ["SOURCE", "ImportSummary", "LineError", "import_endpoints"]

SOURCE = "pinpoint-export"
"""The ``source`` of every ledger event the import records."""

PHONE_CHANNELS = frozenset({"SMS", "VOICE"})
ADDRESS_CHANNELS: Mapping[str, Channel] = {
    "EMAIL": Channel.EMAIL,
    **dict.fromkeys(
        ("PUSH", "GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "BAIDU", "ADM"),
        Channel.PUSH,
    ),
}
"""The endpoint types keyed by an email address or a push token, and their channel."""
BATCH = 500
KEPT_ERRORS = 1000
"""Line errors kept with their text; more are counted."""

_GZIP_MAGIC = b"\x1f\x8b"


@attrs.frozen
class LineError:
    """A problem with one line of an export file."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}: line {self.line}: {self.message}"


@attrs.define
class ImportSummary:
    """What an import read and recorded."""

    lines: int = 0
    endpoints: int = 0
    profiles: int = 0
    persons: int = 0
    revocations: int = 0
    revocations_present: int = 0
    grants: int = 0
    grants_present: int = 0
    grants_refused: int = 0
    skipped: collections.Counter[str] = attrs.field(factory=collections.Counter)
    error_count: int = 0
    errors: list[LineError] = attrs.field(factory=list)

    def error(self, path: str, line: int, message: str) -> None:
        """Count a line error (its text is kept for the first ``KEPT_ERRORS``)."""
        self.error_count += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append(LineError(path, line, message))

    def report(self, shown_errors: int = 20) -> str:
        """The summary as lines of text, with the first ``shown_errors`` errors."""
        out = [
            f"{plural(self.lines, 'line')} read, {plural(self.endpoints, 'endpoint')} imported",
            f"  profiles written       {self.profiles:>8}  (with a person: {self.persons})",
            f"  opt-outs recorded      {self.revocations:>8}  "
            f"(already present: {self.revocations_present})",
        ]
        if self.grants or self.grants_present or self.grants_refused:
            out.append(
                f"  consents recorded      {self.grants:>8}  (already present: "
                f"{self.grants_present}; refused after an opt-out: {self.grants_refused})"
            )
        for why, count in sorted(self.skipped.items()):
            out.append(f"  skipped: {why:<30} {count:>6}")
        out.append(f"  lines with errors      {self.error_count:>8}")
        for item in self.errors[:shown_errors]:
            out.append(f"    {item}")
        if self.error_count > shown_errors:
            out.append(f"    ... and {self.error_count - shown_errors} more")
        return "\n".join(out)


@attrs.frozen
class _Endpoint:
    line: int
    endpoint_id: str | None
    address: str
    opted_out: bool
    active: bool
    effective: str | None
    fields: Mapping[str, Any]
    channel: Channel | None = None
    """The ledger scope of the endpoint's events: None for a phone number (every channel of
    the number), email or push for the others."""


def _text(value: object, name: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be non-empty text, got {value!r}")
    return value.strip()


def _table(endpoint: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = endpoint.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{name} must be an object, got {type(value).__name__}")
    return value


def _effective(value: object) -> str | None:
    text = _text(value, "EffectiveDate")
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"EffectiveDate {text!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise InvalidInputError(f"EffectiveDate {text!r} has no time zone")
    return parsed.astimezone(dt.UTC).isoformat()


def _subdivision(country: str | None, region: str | None) -> str | None:
    """The ISO 3166-2 code of a Pinpoint ``Location.Region`` (a code such as "WA" or a name
    such as "Washington"), or None when it is not one of the country's subdivisions."""
    if country is None or region is None:
        return None
    code = f"{country.upper()}-{region.upper()}"
    if pycountry.subdivisions.get(code=code) is not None:  # type: ignore[no-untyped-call]
        return code
    wanted = region.casefold()
    for item in pycountry.subdivisions.get(country_code=country.upper()) or ():  # type: ignore[no-untyped-call]
        if item.name.casefold() == wanted:
            return str(item.code)
    return None


def _endpoint(engine: Engine, line: int, data: object) -> _Endpoint | str:
    """The endpoint of one line, or why it is skipped (a channel the ledger does not key)."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"expected a JSON object (one endpoint), got {type(data).__name__}")
    channel = _text(data.get("ChannelType"), "ChannelType", optional=False)
    given = _text(data.get("Address"), "Address", optional=False) or ""
    scope: Channel | None = None
    if channel in PHONE_CHANNELS:
        address = engine.address_of(given)
    elif channel is not None and channel in ADDRESS_CHANNELS:
        scope = ADDRESS_CHANNELS[channel]
        address = engine.address_for(given, scope)
    else:
        return f"{channel} endpoints"
    opt_out = data.get("OptOut", "NONE")
    if opt_out not in ("ALL", "NONE", None):
        raise InvalidInputError(f"OptOut must be 'ALL' or 'NONE', got {opt_out!r}")
    status = data.get("EndpointStatus", "ACTIVE")
    if status not in ("ACTIVE", "INACTIVE", None):
        raise InvalidInputError(f"EndpointStatus must be 'ACTIVE' or 'INACTIVE', got {status!r}")
    return _Endpoint(
        line=line,
        endpoint_id=_text(data.get("Id"), "Id"),
        address=address,
        opted_out=opt_out == "ALL",
        active=status != "INACTIVE",
        effective=_effective(data.get("EffectiveDate")),
        fields=data,
        channel=scope,
    )


def _profile(endpoint: _Endpoint) -> tuple[ProfileRecord | None, str | None]:
    """The endpoint's profile record (None when it says nothing) and a note on what was left
    out of it."""
    data = endpoint.fields
    demographic, location, user = (
        _table(data, "Demographic"),
        _table(data, "Location"),
        _table(data, "User"),
    )
    country = _text(location.get("Country"), "Location.Country")
    region = _text(location.get("Region"), "Location.Region")
    state = _subdivision(country, region)
    note = None
    if region is not None and state is None:
        note = f"Location.Region {region!r} is not a subdivision of {country}: state left unset"
    profile = Profile(
        timezone=_text(demographic.get("Timezone"), "Demographic.Timezone"),
        country=country,
        state=state,
        postal_code=_text(location.get("PostalCode"), "Location.PostalCode"),
        locale=_text(demographic.get("Locale"), "Demographic.Locale"),
    )
    person = _text(user.get("UserId"), "User.UserId")
    if profile == Profile() and person is None:
        return None, note
    return ProfileRecord(profile, person), note


def _opt_out_only(raw: bytes) -> object:
    """The endpoint of a line that is not UTF-8, when it still says it opted out (read with
    the bad bytes replaced): an opt-out is never lost to a stray byte. Anything else on such a
    line is not trusted (None)."""
    try:
        endpoint = json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None
    if isinstance(endpoint, dict) and endpoint.get("OptOut") == "ALL":
        return endpoint
    return None


@contextlib.contextmanager
def _open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed when it starts with gzip's magic number."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise InvalidInputError(f"cannot read {os.fsdecode(path)}: {reason}") from None
    with handle:
        if handle.peek(2)[:2] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            yield handle


def _lines(
    path: str | os.PathLike[str], summary: ImportSummary
) -> Iterator[tuple[int, object | None]]:
    """``(line, parsed JSON)`` for each non-blank line; a line that is not JSON yields None
    after its error is counted. A file that ends corrupt stops with an error on that line."""
    name = os.fsdecode(path)
    line = 0
    with _open(path) as handle:
        try:
            for raw in handle:
                line += 1
                if not raw.strip():
                    continue
                summary.lines += 1
                try:
                    yield line, json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as error:
                    summary.error(name, line, f"not UTF-8 text at byte {error.start + 1}")
                    yield line, _opt_out_only(raw)
                except (ValueError, RecursionError) as error:
                    summary.error(name, line, f"not a JSON endpoint: {error}")
                    yield line, None
        except (OSError, EOFError, zlib.error) as error:
            summary.error(name, line + 1, f"the file cannot be read past here: {error}")


def _batches(items: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _provenance(endpoint: _Endpoint) -> dict[str, object]:
    return {"endpoint_id": endpoint.endpoint_id, "effective_date": endpoint.effective}


def _recorded(events: Sequence[ConsentEvent], kinds: frozenset[ConsentKind], key: object) -> bool:
    return any(
        e.kind in kinds
        and e.source == SOURCE
        and {
            "endpoint_id": e.evidence.get("endpoint_id"),
            "effective_date": e.evidence.get("effective_date"),
        }
        == key
        for e in events
    )


_REVOKED = frozenset({ConsentKind.REVOKED})
_GRANTED = frozenset({ConsentKind.CONFIRMED, ConsentKind.IMPLIED})


@attrs.frozen
class _Grant:
    basis: Basis
    purpose: Purpose
    topic: str | None
    brand: str | None


def _record_batch(
    engine: Engine,
    store: ProfileStore,
    path: str,
    batch: Sequence[tuple[int, object]],
    grant: _Grant | None,
    summary: ImportSummary,
) -> None:
    endpoints: list[_Endpoint] = []
    for line, data in batch:
        try:
            parsed = _endpoint(engine, line, data)
        except SmsPolicyError as error:
            summary.error(path, line, str(error))
            continue
        if isinstance(parsed, str):
            summary.skipped[parsed] += 1
        else:
            endpoints.append(parsed)
    numbers = sorted({e.address for e in endpoints})
    ledger = engine.store.consent_events(numbers)
    suppressed = engine.store.suppressed(numbers)
    # Opt-outs first, so that no grant of this batch is recorded for a number another of its
    # endpoints opted out.
    for endpoint in endpoints:
        if not endpoint.opted_out:
            continue
        events = ledger[endpoint.address]
        if _recorded(events, _REVOKED, _provenance(endpoint)):
            summary.revocations_present += 1
            continue
        events.append(
            engine.consent.revoke(
                endpoint.address,
                source=SOURCE,  # every brand: Pinpoint's opt-out ended the whole project
                evidence=_provenance(endpoint),
                channel=endpoint.channel,
            )
        )
        summary.revocations += 1
    records: dict[str, ProfileRecord] = {}
    for endpoint in endpoints:
        summary.endpoints += 1
        try:
            record, note = _profile(endpoint)
        except SmsPolicyError as error:
            summary.error(path, endpoint.line, f"profile not stored: {error}")
        else:
            if note is not None:
                summary.error(path, endpoint.line, note)
            if record is not None:
                records[endpoint.address] = record
        if grant is None or endpoint.opted_out or not endpoint.active:
            continue
        events = ledger[endpoint.address]
        if any(e.kind is ConsentKind.REVOKED for e in events) or endpoint.address in suppressed:
            summary.grants_refused += 1  # a grant never overrides an opt-out already on record
            continue
        if _recorded(events, _GRANTED, _provenance(endpoint)):
            summary.grants_present += 1
            continue
        events.append(_grant(engine, endpoint, grant))
        summary.grants += 1
    if records:
        summary.profiles += store.upsert_profiles(records)
        summary.persons += sum(1 for r in records.values() if r.person is not None)


def _grant(engine: Engine, endpoint: _Endpoint, grant: _Grant) -> ConsentEvent:
    evidence = {**_provenance(endpoint), "granted_by": "--grant"}
    if grant.basis is Basis.EXPRESS:
        return engine.consent.confirm(
            endpoint.address,
            topic=grant.topic,
            purpose=grant.purpose,
            brand=grant.brand,
            source=SOURCE,
            evidence=evidence,
            channel=endpoint.channel,
        )
    return engine.consent.imply(
        endpoint.address,
        basis=grant.basis,
        purpose=grant.purpose,
        topic=grant.topic,
        brand=grant.brand,
        source=SOURCE,
        evidence=evidence,
        channel=endpoint.channel,
    )


def import_endpoints(
    engine: Engine,
    paths: Iterable[str | os.PathLike[str]],
    *,
    grant: Basis | str | None = None,
    purpose: Purpose | str = Purpose.MARKETING,
    topic: str | None = None,
    brand: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import Pinpoint endpoint export files into the engine's store; returns the summary.

    Each file is newline-delimited JSON, gzip-compressed or not (recognised by its first bytes),
    read a batch at a time. SMS and VOICE endpoints are imported by number, EMAIL by normalised
    address and push endpoints (``PUSH``, ``GCM``, ``APNS``..., ``BAIDU``, ``ADM``) by token,
    their ledger events scoped to email or push; other channels (``CUSTOM``, ``IN_APP``) are
    counted as skipped. For each endpoint: its profile (zone, country, state, postal code,
    locale) and person (``User.UserId``) are upserted into the store; ``OptOut: "ALL"`` is
    recorded as a revocation with source ``"pinpoint-export"`` and the endpoint id and effective
    date as evidence. No consent is recorded unless ``grant`` names a basis: then an active
    endpoint that is not opted out, of a number with no opt-out on record, gets one
    (``confirmed`` for ``"express"``, else ``implied``) for ``purpose`` and ``topic`` (None:
    every topic). Running the same import again records nothing new. A bad line is counted in
    the summary's errors, naming the file and the line, and the import goes on. ``progress`` is
    called with the number of lines handled after each batch.
    """
    store = engine.store
    if not isinstance(store, ProfileStore):
        raise ConfigurationError(f"{store!r} does not keep profiles: use a store that does")
    store.profiles([])  # a composed store whose parts keep none says so before anything is written
    chosen = None
    if grant is not None:
        chosen = _Grant(
            to_enum(Basis, grant, InvalidInputError),
            to_enum(Purpose, purpose, InvalidInputError),
            _text(topic, "topic"),
            _text(brand, "brand"),
        )
    if isinstance(paths, str | bytes | os.PathLike):
        paths = [paths]  # one file, not the characters of its name
    summary = ImportSummary()
    for path in paths:
        name = os.fsdecode(path)
        for batch in _batches(_lines(path, summary)):
            parsed = [(line, data) for line, data in batch if data is not None]
            _record_batch(engine, store, name, parsed, chosen, summary)
            if progress is not None:
                progress(len(batch))
    engine.refresh_profiles()
    return summary
