"""The ``smspolicy`` command line: preflight a campaign list, check one number, handle an inbound
text, import and export consent, audit the lists."""

from __future__ import annotations

import argparse
import codecs
import collections
import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO

from . import jurisdictions
from ._clock import Clock, SystemClock
from ._engine import Engine
from ._recipients import Profile
from ._records import ConsentEvent, ConsentKind
from ._time import ensure_aware, to_local, zone
from ._values import Decision, Message, Reason, deny
from .config import byte_position, load_config, parse_duration, shown_path
from .consent import superseded_by
from .errors import InvalidNumberError, SmsPolicyError
from .pinpoint._cli import add_commands as add_pinpoint_commands
from .store import SQLiteStore, StoredProfiles
from .store._profiles import layered
from .testing import FrozenClock

__all__ = ["main"]

REQUIRED_COLUMNS = ("number", "topic", "purpose")
OPTIONAL_COLUMNS = ("brand", "channel", "body", "person", "timezone", "locale", "state")
CONSENT_COLUMNS = ("number", "kind", "at", "source")
BATCH = 1000
PREFLIGHT_CACHE = 4096
PATH_ARGUMENTS = frozenset({"recipients", "csv", "db", "out", "policy", "exports", "settings"})
"""Arguments that name files: they may hold any bytes a file name can (other text may not)."""


class UsageError(Exception):
    """A problem with the command's input, reported without a traceback."""


def default_db() -> Path:
    """The embedded store's file: ``$SMSPOLICY_DB`` or the user's data directory."""
    if os.environ.get("SMSPOLICY_DB"):
        return Path(os.environ["SMSPOLICY_DB"])
    try:
        import platformdirs
    except ImportError:  # the cli extra is not installed: fall back to the home directory
        return Path.home() / ".smspolicy" / "smspolicy.sqlite3"
    return Path(platformdirs.user_data_dir("smspolicy")) / "smspolicy.sqlite3"


def _db_path(chosen: str | None) -> Path:
    """The store file to open. A file the user named (``--db`` or ``$SMSPOLICY_DB``) must be in
    a folder that exists: no folder is created that the user did not ask for. Only the user's
    data directory, the default, is created when missing."""
    named = chosen or os.environ.get("SMSPOLICY_DB")
    if named:
        path, label = Path(named), "--db" if chosen else "$SMSPOLICY_DB"
        if path.is_dir():
            raise UsageError(f"{label} {shown_path(path)} is a folder: name a database file")
        if not path.parent.is_dir():
            raise UsageError(
                f"{label} {shown_path(path)}: the folder {shown_path(path.parent)} does not "
                "exist (create it first)"
            )
        return path
    path = default_db()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create {shown_path(path.parent)}: {error.strerror}") from None
    return path


def _instant(text: str | None, name: str = "--at") -> dt.datetime | None:
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{name} {text!r} is not an ISO 8601 date and time") from None
    if parsed.tzinfo is None:
        raise UsageError(f"{name} {text!r} has no time zone: add Z or an offset such as +00:00")
    return ensure_aware(parsed, name)


def _engine(args: argparse.Namespace, profiles: dict[str, Profile] | None = None) -> Engine:
    at = _instant(getattr(args, "at", None))
    clock: Clock = FrozenClock(at) if at else SystemClock()
    if getattr(args, "policy", None):
        config = load_config(args.policy)
        policy, programs = config.policy, config.programs
    else:
        policy, programs = jurisdictions.standard(), ()
    store = SQLiteStore(_db_path(args.db))
    # A campaign list visits each number about once: a small resolution cache keeps memory flat
    # in the list's length.
    return Engine(
        policy,
        store,
        clock,
        programs=programs,
        profiles=layered((profiles or {}).get, StoredProfiles(store, cache_size=PREFLIGHT_CACHE)),
        cache_size=PREFLIGHT_CACHE,
    )


def mask(number: str) -> str:
    """A number with its middle digits hidden: +1212*****23."""
    if len(number) <= 7:
        return number[:2] + "*" * max(0, len(number) - 2)
    return number[:5] + "*" * (len(number) - 7) + number[-2:]


# --- preflight -----------------------------------------------------------------------------


def _checked_encoding(name: str) -> str:
    """The codec to read CSV files with: a text encoding Python knows; UTF-8 skips a BOM."""
    try:
        io.TextIOWrapper(io.BytesIO(), encoding=name)  # refuses unknown and non-text codecs
        info = codecs.lookup(name)
    except LookupError:
        raise UsageError(
            f"--encoding {name!r} is not a text encoding (try utf-8, cp1252 or latin-1)"
        ) from None
    return "utf-8-sig" if info.name in ("utf-8", "utf-8-sig") else info.name


def _decoded_lines(handle: BinaryIO, path: str, encoding: str) -> Iterator[str]:
    """The file's lines, decoded, each with its line ending. A byte the encoding cannot decode,
    or a NUL (a binary or UTF-16 file read as UTF-8), is a UsageError naming the line and
    column."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, pending, fed = 1, "", 0  # fed: bytes of the current line given to the decoder
    for raw in itertools.chain(handle, [b""]):
        # The error's offset counts from the bytes the decoder still held, which end the line.
        held = len(decoder.getstate()[0])
        try:
            text = pending + decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as error:
            _, column = byte_position(error.object, error.start)
            column += fed - held if error.object.rfind(b"\n", 0, error.start) < 0 else 0
            bad = " ".join(f"0x{byte:02x}" for byte in error.object[error.start : error.end][:4])
            raise UsageError(
                f"{shown_path(path)}: line {line}, column {column}: {bad} is not valid "
                f"{encoding.removesuffix('-sig')} (save the file as UTF-8, or name its encoding "
                "with --encoding, e.g. --encoding cp1252 for a CSV saved by Excel)"
            ) from None
        if "\x00" in text:
            where = text.index("\x00")
            at_line = line + text.count("\n", 0, where)
            column = where - text.rfind("\n", 0, where)
            raise UsageError(
                f"{shown_path(path)}: line {at_line}, column {column}: a NUL character, so this "
                "is not a text file in this encoding (for UTF-16, give --encoding utf-16)"
            )
        fed = 0 if raw.endswith(b"\n") else fed + len(raw)
        *complete, pending = text.split("\n")
        for piece in complete:
            line += 1
            yield piece + "\n"
    if pending:
        yield pending


def _csv_rows(
    path: str, encoding: str, required: Sequence[str], optional: Sequence[str] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` for every record of a CSV with a header holding the ``required`` columns
    (and, when ``optional`` is given, no others); ``line`` is where the record starts. Every
    problem with the file is a UsageError naming the file (and the line)."""
    codec = _checked_encoding(encoding)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise UsageError(f"cannot read {shown_path(path)}: {error.strerror}") from None
    except ValueError as error:  # a NUL in the path
        raise UsageError(f"cannot read {shown_path(path)}: {error}") from None
    with handle:
        reader = csv.reader(_decoded_lines(handle, path, codec))
        try:
            header = next(reader, [])
            _check_header(path, header, required, optional)
            while True:
                line = reader.line_num + 1
                values = next(reader, None)
                if values is None:
                    return
                if values:  # blank lines are skipped; a short row's missing fields are empty
                    yield (
                        line,
                        dict(itertools.zip_longest(header, values[: len(header)], fillvalue="")),
                    )
        except csv.Error as error:
            raise UsageError(
                f"{shown_path(path)}: line {reader.line_num}: not a readable CSV record: {error}"
            ) from None
        except OSError as error:
            raise UsageError(f"cannot read {shown_path(path)}: {error.strerror}") from None


def _check_header(
    path: str, header: Sequence[str], required: Sequence[str], optional: Sequence[str] | None
) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise UsageError(
            f"{shown_path(path)}: missing column(s) {', '.join(missing)} "
            f"(required: {', '.join(required)})"
        )
    if optional is None:
        return
    unknown = [c for c in header if c not in (*required, *optional)]
    if unknown:
        raise UsageError(
            f"{shown_path(path)}: unknown column(s) {', '.join(unknown)} "
            f"(optional: {', '.join(optional)})"
        )


def _rows(path: str, encoding: str = "utf-8") -> Iterator[tuple[int, dict[str, str]]]:
    return _csv_rows(path, encoding, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)


def _row_error(line: int, problem: str) -> Decision:
    return deny(Reason("row.invalid", "preflight", f"line {line}: {problem}", data={"line": line}))


def _message(row: dict[str, str], engine: Engine, profiles: dict[str, Profile]) -> Message:
    fields = {k: v for k, v in row.items() if k in REQUIRED_COLUMNS + OPTIONAL_COLUMNS and v}
    message = Message(
        fields.get("number", ""),
        fields.get("topic", ""),
        fields.get("purpose", ""),
        fields.get("channel", "sms"),
        body=fields.get("body", ""),
        brand=fields.get("brand"),
        person=fields.get("person"),
        locale=fields.get("locale"),
    )
    if any(k in fields for k in ("timezone", "locale", "state")) and message.channel.is_phone:
        try:
            facts = engine.resolver.number_facts(message.to)
        except InvalidNumberError:
            return message  # the engine denies it number.invalid
        state = fields.get("state")
        profiles[facts.e164] = Profile(
            timezone=fields.get("timezone"),
            locale=fields.get("locale"),
            country=facts.region if state and "-" not in state else None,
            state=state,
        )
    return message


def _batches(
    rows: Iterable[tuple[int, dict[str, str]]],
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    batch: list[tuple[int, dict[str, str]]] = []
    for item in rows:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


OUTPUT_FIELDS = (
    "line",
    "number",
    "topic",
    "purpose",
    "verdict",
    "until_utc",
    "until_local",
    "zone",
    "reasons",
    "explanation",
)


def _record(line: int, row: dict[str, str], decision: Decision) -> dict[str, str]:
    until_local = ""
    if decision.until is not None and decision.zone:
        until_local = to_local(decision.until, zone(decision.zone)).isoformat()
    return {
        "line": str(line),
        "number": row.get("number", ""),
        "topic": row.get("topic", ""),
        "purpose": row.get("purpose", ""),
        "verdict": decision.verdict.value,
        "until_utc": decision.until.isoformat() if decision.until else "",
        "until_local": until_local,
        "zone": decision.zone or "",
        "reasons": ";".join(decision.codes),
        "explanation": decision.explain(),
    }


class _Writer:
    """Streams decisions as a table, CSV or a JSON array."""

    def __init__(self, out: IO[str], fmt: str, masked: bool) -> None:
        self.out, self.fmt, self.masked, self.count = out, fmt, masked, 0
        if fmt == "csv":
            self.csv = csv.DictWriter(out, fieldnames=OUTPUT_FIELDS, lineterminator="\n")
            self.csv.writeheader()
        elif fmt == "json":
            out.write("[")
        else:
            out.write(f"{'line':>6}  {'number':<16} {'verdict':<6} {'until (local)':<26} reasons\n")

    def write(self, record: dict[str, str]) -> None:
        if self.masked:
            record = {**record, "number": mask(record["number"])}
        if self.fmt == "csv":
            self.csv.writerow(record)
        elif self.fmt == "json":
            self.out.write(
                ("," if self.count else "") + "\n" + json.dumps(record, ensure_ascii=False)
            )
        else:
            when = record["until_local"] or record["until_utc"]
            self.out.write(
                f"{record['line']:>6}  {record['number']:<16} {record['verdict']:<6} "
                f"{when[:25]:<26} {record['reasons']}\n"
            )
        self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n")


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(unit=" rows", file=sys.stderr, dynamic_ncols=True)


def preflight(args: argparse.Namespace) -> int:
    """Decide every row of a recipients CSV; write the decisions and print a summary."""
    profiles: dict[str, Profile] = {}
    engine = _engine(args, profiles)
    verdicts: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    fmt = args.format or ("csv" if args.out else "table")
    with contextlib.ExitStack() as stack:
        out: IO[str] = sys.stdout
        if args.out:
            out = stack.enter_context(_output(args.out))
        writer = _Writer(out, fmt, masked=not args.out and not args.show_numbers)
        bar = _progress(sys.stderr.isatty() and not args.quiet)
        if bar is not None:
            stack.callback(bar.close)
        for batch in _batches(_rows(args.recipients, args.encoding)):
            profiles.clear()
            messages: list[tuple[int, dict[str, str], Message | Decision]] = []
            for line, row in batch:
                try:
                    messages.append((line, row, _message(row, engine, profiles)))
                except SmsPolicyError as error:
                    messages.append((line, row, _row_error(line, str(error))))
            decided = iter(
                engine.evaluate_many([m for _, _, m in messages if isinstance(m, Message)])
            )
            for line, row, item in messages:
                decision = next(decided) if isinstance(item, Message) else item
                verdicts[decision.verdict.value] += 1
                reasons.update(decision.codes)
                writer.write(_record(line, row, decision))
            if bar is not None:
                bar.update(len(batch))
        writer.close()
    summary_out = sys.stdout if args.out or fmt == "table" else sys.stderr
    _summary(verdicts, reasons, summary_out, args.out)
    return 0


def _output(path: str) -> IO[str]:
    """The decisions file, opened for writing; its folder must exist."""
    try:
        return open(path, "w", newline="", encoding="utf-8")
    except OSError as error:
        reason = "it is a folder" if os.path.isdir(path) else error.strerror
        raise UsageError(f"cannot write --out {shown_path(path)}: {reason}") from None
    except ValueError as error:  # a NUL in the path
        raise UsageError(f"cannot write --out {shown_path(path)}: {error}") from None


def _summary(
    verdicts: collections.Counter[str],
    reasons: collections.Counter[str],
    out: IO[str],
    path: str | None,
) -> None:
    total = sum(verdicts.values())
    out.write(f"\n{total} recipients")
    out.write(f" (decisions in {shown_path(path)})\n" if path else "\n")
    for verdict in ("allow", "defer", "deny"):
        share = 100 * verdicts[verdict] / total if total else 0
        out.write(f"  {verdict:<6} {verdicts[verdict]:>8}  {share:5.1f}%\n")
    if reasons:
        out.write("by reason:\n")
        for code, count in reasons.most_common():
            out.write(f"  {code:<40} {count:>8}\n")


# --- other commands ------------------------------------------------------------------------


def check(args: argparse.Namespace) -> int:
    """Decide one message and explain it."""
    engine = _engine(args)
    message = Message(
        args.number, args.topic, args.purpose, args.channel, body=args.body, brand=args.brand
    )
    decision = engine.evaluate(message)
    print(f"{decision.verdict.value.upper()}: {decision.explain(args.locale)}")
    for reason in decision.reasons:
        cite = f" [{reason.citation}]" if reason.citation else ""
        print(f"  - {reason.code}{cite}")
    return 0


def _inbound_text(text: str) -> str:
    """The text argument as the bytes it was typed as, decoded as UTF-8 (undecodable bytes
    become U+FFFD), or read from standard input for ``-``."""
    if text == "-":
        return sys.stdin.buffer.read().decode("utf-8", "replace")
    try:
        return os.fsencode(text).decode("utf-8", "replace")
    except UnicodeEncodeError:  # not from the command line's bytes: the engine sanitises it
        return text


def inbound(args: argparse.Namespace) -> int:
    """Handle an inbound text and print the reply."""
    result = _engine(args).inbound(_inbound_text(args.text), args.number, to=args.to)
    print(f"{result.kind.value}: {result.reply or '(no reply)'}")
    return 0


def consent_import(args: argparse.Namespace) -> int:
    """Append consent events from a CSV, keeping their original time, source and evidence.

    A row is skipped when the ledger already holds the same event (every field equal); grants
    that a revocation dated at or after them ends are kept as history and counted."""
    engine = _engine(args)
    added = skipped = 0
    grants: list[ConsentEvent] = []
    batch: list[tuple[int, ConsentEvent]] = []
    for line, row in _csv_rows(args.csv, args.encoding, CONSENT_COLUMNS):
        batch.append((line, _consent_event(args.csv, line, row, engine)))
        if len(batch) == BATCH:
            a, s = _append_new(engine, batch, grants)
            added, skipped, batch = added + a, skipped + s, []
    a, s = _append_new(engine, batch, grants)
    print(f"{added + a} consent events imported, {skipped + s} already present")
    overridden = _overridden(engine, grants)
    if overridden:
        print(f"{overridden} rows older than a later STOP: kept as history, not effective")
    return 0


def _consent_event(path: str, line: int, row: dict[str, str], engine: Engine) -> ConsentEvent:
    try:
        evidence = json.loads(row["evidence"]) if row.get("evidence") else {}
        at = _instant(row["at"], "at")
        return ConsentEvent(
            kind=row["kind"],
            number=engine.address_of(row["number"]),
            at=at,
            source=row["source"],
            topic=row.get("topic") or None,
            purpose=row.get("purpose") or None,
            brand=row.get("brand") or None,
            basis=row.get("basis") or None,
            evidence=evidence,
            expires=_instant(row.get("expires") or None),
        )
    except (SmsPolicyError, UsageError, ValueError, RecursionError) as error:
        raise UsageError(f"{shown_path(path)}: line {line}: {error}") from None


def _append_new(
    engine: Engine, batch: Sequence[tuple[int, ConsentEvent]], grants: list[ConsentEvent]
) -> tuple[int, int]:
    existing = engine.store.consent_events(sorted({e.number for _, e in batch}))
    # Idempotent on everything an event records (its fingerprint): a transactional and a
    # marketing row at the same instant are two consents, not one.
    seen = {e.fingerprint() for events in existing.values() for e in events}
    added = skipped = 0
    for _, event in sorted(batch, key=lambda item: (item[1].number, item[1].at)):
        key = event.fingerprint()
        if key in seen:
            skipped += 1
            continue
        stored = engine.store.append_consent(event)
        seen.add(key)
        added += 1
        if stored.kind is not ConsentKind.REVOKED and stored.kind is not ConsentKind.UNCLEAR:
            grants.append(stored)
    return added, skipped


def _overridden(engine: Engine, grants: Sequence[ConsentEvent]) -> int:
    """How many imported grants a revocation dated at or after them ends."""
    by_number: dict[str, list[ConsentEvent]] = collections.defaultdict(list)
    for grant in grants:
        by_number[grant.number].append(grant)
    numbers = sorted(by_number)
    count = 0
    for start in range(0, len(numbers), BATCH):
        ledger = engine.store.consent_events(numbers[start : start + BATCH])
        for number, events in ledger.items():
            count += sum(1 for g in by_number[number] if superseded_by(g, events) is not None)
    return count


def consent_export(args: argparse.Namespace) -> int:
    """Print a number's proof of consent."""
    print(_engine(args).consent.proof(args.number, format=args.format), end="")
    return 0


def audit(args: argparse.Namespace) -> int:
    """List reminders due and unengaged subscribers."""
    engine = _engine(args)
    unengaged = parse_duration(args.unengaged_after) if args.unengaged_after else None
    result = engine.audit(engine.now(), every=parse_duration(args.every), unengaged_after=unengaged)
    print(f"{len(result.reminders)} reminders due")
    for item in result.reminders:
        shown = item.number if args.show_numbers else mask(item.number)
        print(f"  {shown}  {item.topic}: {item.text}")
    if unengaged is not None:
        print(f"{len(result.unengaged)} unengaged")
        for item in result.unengaged:
            shown = item.number if args.show_numbers else mask(item.number)
            print(f"  {shown}  {item.topic} (silent since {item.since.date().isoformat()})")
    return 0


# --- parser --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smspolicy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser, policy: bool = True) -> None:
        sub.add_argument("--db", help="SQLite store (default: the user's data directory)")
        sub.add_argument("--at", help="decide as of this ISO 8601 instant (e.g. 2026-11-27T15:00Z)")
        if policy:
            sub.add_argument(
                "--policy", help="TOML policy file (default: jurisdictions.standard())"
            )

    def encoding(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--encoding",
            default="utf-8",
            help="the CSV file's text encoding (default utf-8, with or without a byte-order "
            "mark; e.g. cp1252 for a CSV saved by Excel)",
        )

    p = commands.add_parser("preflight", help="decide a whole recipients list")
    p.add_argument("recipients", help="CSV with number, topic, purpose columns")
    common(p)
    encoding(p)
    p.add_argument("--out", help="write per-recipient decisions to this file")
    p.add_argument("--format", choices=("table", "csv", "json"))
    p.add_argument("--show-numbers", action="store_true", help="do not mask numbers on screen")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=preflight)

    c = commands.add_parser("check", help="decide one message and explain it")
    c.add_argument("number")
    c.add_argument("--topic", required=True)
    c.add_argument("--purpose", required=True, choices=("marketing", "transactional"))
    c.add_argument("--channel", default="sms")
    c.add_argument("--brand")
    c.add_argument("--body", default="")
    c.add_argument("--locale", default="en")
    common(c)
    c.set_defaults(run=check)

    i = commands.add_parser("inbound", help="process an inbound text and print the reply")
    i.add_argument("number")
    i.add_argument("text", help="the text received, or - to read it from standard input")
    i.add_argument("--to", help="the number the text was sent to")
    common(i)
    i.set_defaults(run=inbound)

    consent = commands.add_parser("consent", help="import or export consent records")
    actions = consent.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help="import consent events from a CSV")
    imp.add_argument("csv")
    common(imp)
    encoding(imp)
    imp.set_defaults(run=consent_import)
    exp = actions.add_parser("export", help="print a number's proof of consent")
    exp.add_argument("number")
    exp.add_argument("--format", choices=("json", "csv"), default="json")
    common(exp)
    exp.set_defaults(run=consent_export)

    a = commands.add_parser("audit", help="reminders due and unengaged subscribers")
    a.add_argument("--every", default="30d", help="remind subscribers this often (default 30d)")
    a.add_argument("--unengaged-after", help="also list subscribers silent this long")
    a.add_argument("--show-numbers", action="store_true")
    common(a)
    a.set_defaults(run=audit)
    add_pinpoint_commands(commands, common)
    return parser


def _check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse arguments that are not valid UTF-8 text. Python hands over undecodable bytes of
    the command line as lone surrogates; file names may hold them (the system opens them as
    given), but a number or topic cannot be stored or printed. An inbound text is the
    exception: it is the recipient's words, and a STOP in it must never be lost, so
    ``smspolicy inbound`` recovers its bytes and records them sanitised."""
    for name, value in vars(args).items():
        if name in PATH_ARGUMENTS or not isinstance(value, str) or value.isascii():
            continue
        if name == "text" and args.run is inbound:
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            option = name if name in ("number", "text") else "--" + name.replace("_", "-")
            code = ord(value[error.start])
            # An undecodable byte B arrives as the surrogate U+DC00 + B (PEP 383).
            what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
            raise UsageError(
                f"{option} is not valid UTF-8 text: {what} at position {error.start + 1}"
            ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check_text_arguments(args)
        return int(args.run(args))
    except (UsageError, SmsPolicyError) as error:
        print(f"smspolicy: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr = io.StringIO()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
