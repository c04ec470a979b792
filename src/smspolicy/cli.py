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
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO

import attrs
import phonenumbers

from . import __version__, jurisdictions
from ._cli_output import (
    FORMATS,
    OUTPUT_FIELDS,
    Progress,
    RecordWriter,
    decision_json,
    plural,
    summary,
)
from ._clock import Clock, FrozenClock, SystemClock
from ._engine import Engine
from ._recipients import Profile
from ._records import ConsentEvent, ConsentKind
from ._time import ensure_aware
from ._values import Decision, Message, Reason, deny
from .config import byte_position, load_config, parse_duration, shown_path
from .consent import WrittenConsent, superseded_by
from .errors import InvalidInputError, InvalidNumberError, SmsPolicyError
from .pinpoint._cli import add_commands as add_pinpoint_commands
from .store import SQLiteStore

__all__ = ["EXIT_BAD_INPUT", "EXIT_DEFER", "EXIT_DENY", "EXIT_OK", "main"]

EXIT_OK = 0
"""Success; for ``check``, the message is allowed."""
EXIT_BAD_INPUT = 2
"""Bad input: a file, an argument or a policy that cannot be used (one line on stderr)."""
EXIT_DEFER = 3
"""``check``: the message is deferred; ``preflight --fail-on defer``: a row was deferred."""
EXIT_DENY = 4
"""``check``: the message is denied; ``preflight --fail-on deny|defer``: a row was denied."""
MAX_ERRORS = 20

REQUIRED_COLUMNS = ("number", "topic", "purpose")
OPTIONAL_COLUMNS = ("brand", "channel", "body", "person", "timezone", "locale", "state")
CONSENT_COLUMNS = ("number", "kind", "at", "source")
BATCH = 1000
PREFLIGHT_CACHE = 4096
PATH_ARGUMENTS = frozenset(
    {"recipients", "csv", "db", "out", "policy", "outbox", "file", "exports", "settings"}
)
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
    region = getattr(args, "region", None)
    if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise UsageError(f"--region {region!r} is not a region code (e.g. US, GB, FR)")
    store = SQLiteStore(_db_path(args.db))
    # A campaign list visits each number about once: a small resolution cache keeps memory flat
    # in the list's length.
    return Engine(
        policy,
        store,
        clock,
        programs=programs,
        profiles=None if profiles is None else profiles.get,
        cache_size=PREFLIGHT_CACHE,
        default_region=region.upper() if region else None,
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


@attrs.define
class _Read:
    """How many bytes of a file have been read so far (for the progress bar)."""

    bytes: int = 0


def _decoded_lines(
    handle: BinaryIO, path: str, encoding: str, read: _Read | None = None
) -> Iterator[str]:
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
        if read is not None:
            read.bytes += len(raw)
        *complete, pending = text.split("\n")
        for piece in complete:
            line += 1
            yield piece + "\n"
    if pending:
        yield pending


def _csv_rows(
    path: str,
    encoding: str,
    required: Sequence[str],
    optional: Sequence[str] | None = None,
    read: _Read | None = None,
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
        reader = csv.reader(_decoded_lines(handle, path, codec, read))
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


def _rows(
    path: str, encoding: str = "utf-8", read: _Read | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    return _csv_rows(path, encoding, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, read)


def _row_error(line: int, problem: str) -> Decision:
    return deny(Reason("row.invalid", "preflight", f"line {line}: {problem}", data={"line": line}))


_MESSAGE_COLUMNS = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)


def _message(row: dict[str, str], engine: Engine, profiles: dict[str, Profile]) -> Message:
    fields = {k: v for k, v in row.items() if v and k in _MESSAGE_COLUMNS}
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
    if any(k in fields for k in ("timezone", "locale", "state")) and not message.channel.is_phone:
        # An email address or token says nothing of where its owner lives: the row's facts
        # are the profile (a state needs its country: "US-NY"; without one the law for an
        # unknown residence applies).
        try:
            address = engine.address_for(message.to, message.channel)
            state = fields.get("state")
            profiles[address] = Profile(
                timezone=fields.get("timezone"),
                locale=fields.get("locale"),
                country=state.partition("-")[0] if state and "-" in state else None,
                state=state if state and "-" in state else None,
            )
        except InvalidInputError:
            pass  # the engine denies a bad address; a bad fact leaves the residence unknown
        return message
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


def _record(line: int, row: dict[str, str], described: dict[str, Any]) -> dict[str, Any]:
    """One row's output record: the row's line, number, topic and purpose, and its decision
    as :func:`decision_json` describes it."""
    return {
        "line": line,
        "number": row.get("number", ""),
        "topic": row.get("topic", ""),
        "purpose": row.get("purpose", ""),
        **described,
    }


TABLE_COLUMNS = (
    ("line", "line", 6),
    ("number", "number", 16),
    ("verdict", "verdict", 7),
    ("until", "until (local)", 25),
    ("reasons", "reasons", 0),
)


def _table_cells(record: dict[str, Any]) -> dict[str, Any]:
    """The table shows the earliest send time in the recipient's time, else in UTC."""
    return {**record, "until": record["until_local"] or record["until_utc"]}


def _format(args: argparse.Namespace) -> str:
    """The output format: as chosen, else CSV into a file and a table on screen."""
    return str(args.format or ("csv" if args.out else "table"))


@contextlib.contextmanager
def _opened(args: argparse.Namespace) -> Iterator[IO[str]]:
    """Where results go: ``--out`` (its folder must exist) or standard output. ``--excel``
    starts the text with a byte-order mark so a spreadsheet reads it as UTF-8."""
    excel = getattr(args, "excel", False)
    if not args.out:
        if excel:
            sys.stdout.write("\ufeff")
        yield sys.stdout
        return
    with _output(args.out, "utf-8-sig" if excel else "utf-8") as out:
        yield out


Decided = tuple[dict[str, Any], str, tuple[str, ...]]
"""One row's output record, its verdict and its reason codes."""


def _decide_rows(
    engine: Engine, profiles: dict[str, Profile], batch: Sequence[tuple[int, dict[str, str]]]
) -> list[Decided]:
    """Decide one batch of rows: each row's output record, verdict and reason codes."""
    profiles.clear()
    messages: list[tuple[int, dict[str, str], Message | Decision]] = []
    for line, row in batch:
        try:
            messages.append((line, row, _message(row, engine, profiles)))
        except SmsPolicyError as error:
            messages.append((line, row, _row_error(line, str(error))))
    decided = iter(engine.evaluate_many([m for _, _, m in messages if isinstance(m, Message)]))
    # The engine hands recipients with the same outcome one shared decision (most of a list's
    # denials): it is put in words once per batch. Each entry holds its decision, so the id
    # cannot be reused by another one meanwhile.
    described: dict[int, tuple[Decision, dict[str, Any]]] = {}
    out: list[Decided] = []
    for line, row, item in messages:
        decision = next(decided) if isinstance(item, Message) else item
        entry = described.get(id(decision))
        if entry is None or entry[0] is not decision:
            entry = described[id(decision)] = (decision, decision_json(decision))
        out.append((_record(line, row, entry[1]), decision.verdict.value, decision.codes))
    return out


_WORKER: tuple[Engine, dict[str, Profile]] | None = None
"""A preflight worker process's engine and profiles (see :func:`_in_workers`)."""


def _start_worker(args: argparse.Namespace) -> None:
    global _WORKER
    profiles: dict[str, Profile] = {}
    _WORKER = (_engine(args, profiles), profiles)


def _worker_batch(batch: list[tuple[int, dict[str, str]]]) -> list[Decided]:
    assert _WORKER is not None, "the worker was not started"
    return _decide_rows(*_WORKER, batch)


def _in_process(
    args: argparse.Namespace, batches: Iterable[list[tuple[int, dict[str, str]]]]
) -> Generator[list[Decided], None, None]:
    """The batches' decisions, in order, from an engine in this process."""
    profiles: dict[str, Profile] = {}
    engine = _engine(args, profiles)

    def decided() -> Generator[list[Decided], None, None]:
        try:
            for batch in batches:
                yield _decide_rows(engine, profiles, batch)
        finally:
            engine.store.close()

    return decided()


def _in_workers(
    args: argparse.Namespace, batches: Iterable[list[tuple[int, dict[str, str]]]]
) -> Generator[list[Decided], None, None]:
    """The batches' decisions, in order, from ``args.workers`` processes, each with its own
    engine on the same store. At most two batches per worker are in flight, so memory stays
    flat in the list's length; this process reads the file and writes the results."""
    import multiprocessing

    _engine(args, {}).store.close()  # report a bad policy, region or store here, once

    def decided() -> Generator[list[Decided], None, None]:
        context = multiprocessing.get_context("spawn")  # no store connection is inherited
        with context.Pool(args.workers, initializer=_start_worker, initargs=(args,)) as pool:
            pending: collections.deque[Any] = collections.deque()
            for batch in batches:
                pending.append(pool.apply_async(_worker_batch, (batch,)))
                if len(pending) >= 2 * args.workers:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()

    return decided()


def preflight(args: argparse.Namespace) -> int:
    """Decide every row of a recipients CSV; write the decisions and print a summary."""
    verdicts: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    fmt = _format(args)
    masked = not args.out and not args.show_numbers
    read = _Read()
    try:
        size: int | None = os.stat(args.recipients).st_size
    except (OSError, ValueError):
        size = None  # reading it reports the problem
    workers = getattr(args, "workers", 1)
    with contextlib.ExitStack() as stack:
        batches = _batches(_rows(args.recipients, args.encoding, read))
        decided = _in_workers(args, batches) if workers > 1 else _in_process(args, batches)
        stack.callback(decided.close)
        out = stack.enter_context(_opened(args))
        writer = RecordWriter(out, fmt, OUTPUT_FIELDS, TABLE_COLUMNS, excel=args.excel)
        bar = Progress(size, enabled=not args.quiet)
        stack.callback(bar.close)
        for results in decided:
            for record, verdict, codes in results:
                verdicts[verdict] += 1
                reasons.update(dict.fromkeys(codes, 1))  # recipients per code
                if masked:
                    record["number"] = mask(record["number"])
                writer.write(_table_cells(record) if fmt == "table" else record)
            bar.to(read.bytes)
        writer.close()
    summary_out = sys.stdout if args.out or fmt == "table" else sys.stderr
    summary(verdicts, reasons, summary_out, shown_path(args.out) if args.out else None)
    if args.fail_on and verdicts["deny"]:
        return EXIT_DENY
    if args.fail_on == "defer" and verdicts["defer"]:
        return EXIT_DEFER
    return EXIT_OK


def _output(path: str, encoding: str = "utf-8") -> IO[str]:
    """A results file, opened for writing; its folder must exist."""
    try:
        return open(path, "w", newline="", encoding=encoding)
    except OSError as error:
        reason = "it is a folder" if os.path.isdir(path) else error.strerror
        raise UsageError(f"cannot write --out {shown_path(path)}: {reason}") from None
    except ValueError as error:  # a NUL in the path
        raise UsageError(f"cannot write --out {shown_path(path)}: {error}") from None


# --- other commands ------------------------------------------------------------------------


VERDICT_EXIT = {"allow": EXIT_OK, "defer": EXIT_DEFER, "deny": EXIT_DENY}


def check(args: argparse.Namespace) -> int:
    """Decide one message and explain it; the exit status says the verdict (0 allow, 3 defer,
    4 deny)."""
    engine = _engine(args)
    message = Message(
        args.number, args.topic, args.purpose, args.channel, body=args.body, brand=args.brand
    )
    decision = engine.evaluate(message)
    if args.format == "json":
        record = {"number": args.number, **decision_json(decision, args.locale)}
        print(json.dumps(record, ensure_ascii=False, indent=2))
    else:
        print(f"{decision.verdict.value.upper()}: {decision.explain(args.locale)}")
        for reason in decision.reasons:
            cite = f" [{reason.citation}]" if reason.citation else ""
            print(f"  - {reason.code}{cite}")
    return VERDICT_EXIT[decision.verdict.value]


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
    if args.format == "json":
        print(json.dumps({"kind": result.kind.value, "reply": result.reply}, ensure_ascii=False))
    else:
        print(f"{result.kind.value}: {result.reply or '(no reply)'}")
    return 0


@attrs.frozen
class _BadField:
    """One problem with one field of a consent file."""

    line: int
    column: str | None
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


def consent_import(args: argparse.Namespace) -> int:
    """Append consent events from a CSV, keeping their original time, source and evidence.

    The whole file is checked first: when any row is bad, every problem is reported (up to
    ``--max-errors``) and nothing is imported. A row is skipped when the ledger already holds
    the same event (every field equal); grants that a revocation dated at or after them ends
    are kept as history and counted."""
    engine = _engine(args)
    bad: list[_BadField] = []
    # Two passes keep memory flat in the file's length: check every row, then import.
    for line, row in _csv_rows(args.csv, args.encoding, CONSENT_COLUMNS):
        _consent_event(line, row, engine, bad)
    if bad:
        raise UsageError(_bad_rows_report(shown_path(args.csv), bad, args.max_errors))
    added = skipped = 0
    grants: list[ConsentEvent] = []
    batch: list[tuple[int, ConsentEvent]] = []
    for line, row in _csv_rows(args.csv, args.encoding, CONSENT_COLUMNS):
        event = _consent_event(line, row, engine, bad)
        if event is None:  # the file changed between the passes
            raise UsageError(_bad_rows_report(shown_path(args.csv), bad, args.max_errors))
        batch.append((line, event))
        if len(batch) == BATCH:
            a, s = _append_new(engine, batch, grants)
            added, skipped, batch = added + a, skipped + s, []
    a, s = _append_new(engine, batch, grants)
    added, skipped = added + a, skipped + s
    overridden = _overridden(engine, grants)
    if args.format == "json":
        counts = {"imported": added, "already_present": skipped, "superseded": overridden}
        print(json.dumps(counts))
        return 0
    print(f"{plural(added, 'consent event')} imported, {skipped} already present")
    if overridden:
        rows = plural(overridden, "row")
        print(f"{rows} older than a later STOP: kept as history, not effective")
    return 0


def _bad_rows_report(path: str, bad: Sequence[_BadField], limit: int) -> str:
    """One line for one problem; else a count, then a line per problem up to ``limit``."""
    if len(bad) == 1:
        return f"{path}: {bad[0]} (nothing imported)"
    rows = len({b.line for b in bad})
    lines = [f"{path}: {plural(len(bad), 'problem')} in {plural(rows, 'row')}, nothing imported:"]
    lines += [f"  {path}: {b}" for b in bad[:limit]]
    if len(bad) > limit:
        lines.append(f"  ... and {len(bad) - limit} more (raise --max-errors to see them)")
    return "\n".join(lines)


_EXAMPLE_FIELDS: dict[str, object] = {
    "kind": "confirmed",
    "number": "+12025550100",
    "at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    "source": "import",
}
"""Valid values to try one column at a time against, to find which column is bad."""


def _consent_event(
    line: int, row: dict[str, str], engine: Engine, bad: list[_BadField]
) -> ConsentEvent | None:
    """The row's consent event; None when a field is bad, each problem added to ``bad``."""
    fields: dict[str, object] = {}
    problems: list[_BadField] = []

    def parse(column: str, value: Any) -> None:
        try:
            fields[column] = value()
        except (SmsPolicyError, UsageError, ValueError, RecursionError) as error:
            problems.append(_BadField(line, column, _named(column, str(error))))

    parse("number", lambda: engine.address_of(row["number"]))
    parse("at", lambda: _instant(row["at"], "at"))
    parse("evidence", lambda: json.loads(row["evidence"]) if row.get("evidence") else {})
    parse("expires", lambda: _instant(row.get("expires") or None, "expires"))
    if (row.get("signature") or row.get("disclosure")) and not problems:
        parse("signature", lambda: _written_evidence(row, fields))
        if "signature" in fields:
            fields["evidence"] = fields.pop("signature")
    fields.update(kind=row["kind"], source=row["source"])
    for column in ("topic", "purpose", "brand", "basis"):
        fields[column] = row.get(column) or None
    if not problems:
        try:
            return ConsentEvent(**fields)  # type: ignore[arg-type]
        except (SmsPolicyError, ValueError, RecursionError):
            pass  # find the column below
    # A problem the event itself finds is named by trying each column alone with valid others.
    for column in ("kind", "source", "topic", "purpose", "brand", "basis", "evidence", "expires"):
        if column not in fields or any(p.column == column for p in problems):
            continue
        try:
            ConsentEvent(**{**_EXAMPLE_FIELDS, column: fields[column]})  # type: ignore[arg-type]
        except (SmsPolicyError, ValueError, RecursionError) as error:
            problems.append(_BadField(line, column, _named(column, str(error))))
    if not problems:  # only the combination is wrong
        try:
            ConsentEvent(**fields)  # type: ignore[arg-type]
        except (SmsPolicyError, ValueError, RecursionError) as error:
            problems.append(_BadField(line, None, str(error)))
    bad.extend(sorted(problems, key=lambda p: list(row).index(p.column) if p.column in row else 99))
    return None


def _written_evidence(row: dict[str, str], fields: dict[str, object]) -> dict[str, Any]:
    """The row's evidence with its signed agreement (``signature`` and ``disclosure``
    columns), as US marketing requires (47 CFR 64.1200(f)(9))."""
    if row["kind"] != "confirmed":
        raise UsageError("signature and disclosure belong to confirmed rows")
    evidence = fields["evidence"]
    if not isinstance(evidence, dict):
        raise UsageError("evidence must be a JSON object")
    number = str(fields["number"])
    written = WrittenConsent(row.get("signature", ""), row.get("disclosure", ""), number)
    return written.evidence(**evidence)


def _named(column: str, problem: str) -> str:
    """The problem, starting with the column's name."""
    return problem if problem.startswith(column) else f"{column}: {problem}"


def dnc_import(args: argparse.Namespace) -> int:
    """Replace the stored copy of a do-not-call registry with a file's numbers and ranges."""
    from . import dnc

    try:
        as_of = dt.date.fromisoformat(args.date)
    except ValueError:
        raise UsageError(f"--date {args.date!r} is not an ISO 8601 date (YYYY-MM-DD)") from None
    try:
        handle = Path(args.file).open("rb")  # noqa: SIM115 - closed below, after the import
    except OSError as error:
        raise UsageError(f"cannot read {shown_path(args.file)}: {error.strerror}") from None
    registry = dnc.SQLiteRegistry(_db_path(args.db), args.name)
    try:
        with handle:
            lines = _decoded_lines(handle, args.file, _checked_encoding(args.encoding))
            ranges = list(
                dnc.parse_entries(lines, region=args.region, source=shown_path(args.file))
            )
        count = registry.replace(
            ranges, as_of=as_of, source=shown_path(args.file), now=dt.datetime.now(dt.UTC)
        )
    finally:
        registry.close()
    print(f"do-not-call registry {args.name!r}: {count} ranges imported, copy of {as_of}")
    return 0


def _append_new(
    engine: Engine, batch: Sequence[tuple[int, ConsentEvent]], grants: list[ConsentEvent]
) -> tuple[int, int]:
    store = engine.store
    assert isinstance(store, SQLiteStore), "the command line keeps its records in SQLite"
    existing = store.consent_events(sorted({e.number for _, e in batch}))
    # Idempotent on everything an event records (its fingerprint): a transactional and a
    # marketing row at the same instant are two consents, not one.
    seen = {e.fingerprint() for events in existing.values() for e in events}
    new: list[ConsentEvent] = []
    for _, event in sorted(batch, key=lambda item: (item[1].number, item[1].at)):
        key = event.fingerprint()
        if key not in seen:
            seen.add(key)
            new.append(event)
    # One transaction per batch: a run stopped part way keeps whole batches, and importing the
    # file again skips them.
    for stored in store.append_consents(new):
        if stored.kind is not ConsentKind.REVOKED and stored.kind is not ConsentKind.UNCLEAR:
            grants.append(stored)
    return len(new), len(batch) - len(new)


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
    proof = _engine(args).consent.proof(args.number, format=args.format)
    with _opened(args) as out:
        out.write(proof)
    return 0


AUDIT_FIELDS = ("list", "number", "topic", "brand", "since", "text")
AUDIT_COLUMNS = (
    ("list", "list", 9),
    ("number", "number", 16),
    ("topic", "topic", 16),
    ("since", "since", 10),
    ("text", "text", 0),
)


def audit(args: argparse.Namespace) -> int:
    """List reminders due and unengaged subscribers."""
    engine = _engine(args)
    unengaged = parse_duration(args.unengaged_after) if args.unengaged_after else None
    result = engine.audit(engine.now(), every=parse_duration(args.every), unengaged_after=unengaged)
    lists = [("reminder", result.reminders)]
    if unengaged is not None:
        lists.append(("unengaged", result.unengaged))
    fmt = _format(args)
    masked = not args.out and not args.show_numbers
    counts = [plural(len(result.reminders), "reminder") + " due"]
    if unengaged is not None:
        counts.append(f"{plural(len(result.unengaged), 'subscriber')} unengaged")
    line = ", ".join(counts) + (f" (list in {shown_path(args.out)})" if args.out else "")
    print(line, file=sys.stdout if args.out or fmt == "table" else sys.stderr)
    with _opened(args) as out:
        writer = RecordWriter(out, fmt, AUDIT_FIELDS, AUDIT_COLUMNS, excel=args.excel)
        for name, items in lists:
            for item in items:
                writer.write(
                    {
                        "list": name,
                        "number": mask(item.number) if masked else item.number,
                        "topic": item.topic,
                        "brand": item.program.brand,
                        # the table is read by people: the day is enough there
                        "since": item.since.date().isoformat()
                        if fmt == "table"
                        else item.since.isoformat(),
                        "text": item.text,
                    }
                )
        writer.close()
    return 0


REASON_FIELDS = ("code", "rule", "meaning", "citation")
REASON_COLUMNS = (("code", "code", 0),)


def reasons(args: argparse.Namespace) -> int:
    """Print the reason catalogue: every code smspolicy gives, its rule, meaning and citation."""
    from .reasons import catalogue

    fmt = _format(args)
    with _opened(args) as out:
        if fmt == "table":
            entries = catalogue()
            width = max(len(r.code) for r in entries)
            for r in entries:
                cite = f" [{r.citation}]" if r.citation else ""
                out.write(f"{r.code:<{width}}  {r.rule}: {r.meaning}{cite}\n")
            return 0
        writer = RecordWriter(out, fmt, REASON_FIELDS, REASON_COLUMNS, excel=args.excel)
        for r in catalogue():
            writer.write(attrs.asdict(r))
        writer.close()
    return 0


# --- worker --------------------------------------------------------------------------------


def _callback(spec: str) -> Any:
    """The function ``module:function`` names (the current folder is importable)."""
    import importlib

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"--send {spec!r}: give module:function, e.g. myapp.sms:send")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as error:  # an import runs user code: any failure is the user's to see
        raise UsageError(f"--send {spec!r}: cannot import {module_name}: {error!r}") from None
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise UsageError(f"--send {spec!r}: {module_name} has no {attribute}")
    if not callable(target):
        raise UsageError(f"--send {spec!r} is not callable")
    return target


def worker(args: argparse.Namespace) -> int:
    """Release held messages at their instant through a user callback until SIGTERM."""
    import time

    from .outbox import Outbox, Released, RunStats

    send = _callback(args.send)
    if args.batch < 1 or args.concurrency < 1 or not args.poll > 0:
        raise UsageError("--batch and --concurrency must be at least 1, --poll above 0")
    engine = _engine(args)
    seen: collections.Counter[str] = collections.Counter()
    shown = [time.monotonic()]

    def progress(result: Released) -> None:
        seen[result.status.value] += 1
        if not args.quiet and time.monotonic() - shown[0] >= 1.0:
            shown[0] = time.monotonic()
            counts = ", ".join(f"{name} {count}" for name, count in sorted(seen.items()))
            print(f"released {sum(seen.values())}: {counts}", file=sys.stderr)

    outbox = Outbox(
        args.outbox or _db_path(args.db),
        engine,
        visibility=parse_duration(args.visibility),
        on_release=progress,
    )
    try:
        stats: RunStats = outbox.run(
            send, batch=args.batch, concurrency=args.concurrency, poll=args.poll, once=args.once
        )
    finally:
        outbox.close()
    print(
        f"claimed {stats.claimed}: sent {stats.sent} (recovered {stats.recovered}), "
        f"held again {stats.held}, dropped {stats.dropped}, lost {stats.lost}",
        file=sys.stderr,
    )
    return 0


# --- parser --------------------------------------------------------------------------------


def _positive(text: str) -> int:
    """A whole number of at least 1 (an argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1 or more")
    return value


EPILOG = """exit status:
  0  success (check: the message is allowed)
  2  bad input: a file, an argument or a policy that cannot be used
  3  check: deferred; preflight --fail-on defer: some row was deferred (and none denied)
  4  check: denied; preflight --fail-on deny|defer: some row was denied
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smspolicy",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
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

    def output(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument(
            "--out", help=f"write {what} to this file (its folder must exist) instead of the screen"
        )
        sub.add_argument(
            "--format",
            choices=FORMATS,
            help="table (default on screen), csv (default with --out) or json: an array of "
            "objects with integers, null and ISO 8601 instants",
        )
        sub.add_argument(
            "--excel",
            action="store_true",
            help="CSV for spreadsheets: a UTF-8 byte-order mark, CRLF line ends, plain spaces",
        )
        sub.add_argument(
            "--show-numbers",
            action="store_true",
            help="do not mask numbers on screen (files always hold them in full)",
        )

    def region(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--region",
            help="country of numbers written in national format, e.g. US for (212) 555-0123 "
            "(default: numbers must start with + and the country code)",
        )

    p = commands.add_parser(
        "preflight",
        help="decide a whole recipients list",
        description="Decide every row of a recipients CSV and summarise the verdicts.",
    )
    p.add_argument("recipients", help="CSV with number, topic, purpose columns")
    common(p)
    encoding(p)
    region(p)
    output(p, "one decision per recipient")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--fail-on",
        choices=("deny", "defer"),
        help="exit 4 when a row is denied; with defer, also exit 3 when a row is deferred",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="decide in this many processes (default 1); the output is the same, in order",
    )
    p.set_defaults(run=preflight)

    c = commands.add_parser(
        "check",
        help="decide one message and explain it",
        description="Decide one message and explain it. Exit status: 0 allow, 3 defer, 4 deny.",
    )
    c.add_argument("number", help="the recipient's number, e.g. +12125550123")
    c.add_argument("--topic", required=True, help="the message's topic, e.g. deals")
    c.add_argument(
        "--purpose",
        required=True,
        choices=("marketing", "transactional"),
        help="why the message is sent",
    )
    c.add_argument(
        "--channel", default="sms", help="sms (default), mms, voice, email, push or in_app"
    )
    c.add_argument("--brand", help="the brand sending the message")
    c.add_argument("--body", default="", help="the message text (some rules read it)")
    c.add_argument("--locale", default="en", help="language of the explanation (default en)")
    c.add_argument(
        "--format", choices=("table", "json"), help="table (default) or json: the typed decision"
    )
    region(c)
    common(c)
    c.set_defaults(run=check)

    i = commands.add_parser("inbound", help="process an inbound text and print the reply")
    i.add_argument("number", help="the number the text came from")
    i.add_argument("text", help="the text received, or - to read it from standard input")
    i.add_argument("--to", help="the number the text was sent to")
    i.add_argument(
        "--format", choices=("table", "json"), help="table (default) or json: kind and reply"
    )
    region(i)
    common(i)
    i.set_defaults(run=inbound)

    consent = commands.add_parser("consent", help="import or export consent records")
    actions = consent.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import",
        help="import consent events from a CSV",
        description="Check every row of a consent CSV, then import it; when any row is bad, "
        "report every problem and import nothing.",
    )
    imp.add_argument(
        "csv", help="CSV with number, kind, at, source (optional: topic, purpose, brand, ...)"
    )
    imp.add_argument(
        "--max-errors",
        type=_positive,
        default=MAX_ERRORS,
        help=f"report at most this many problems (default {MAX_ERRORS})",
    )
    imp.add_argument(
        "--format", choices=("table", "json"), help="table (default) or json: the counts"
    )
    region(imp)
    common(imp)
    encoding(imp)
    imp.set_defaults(run=consent_import)
    exp = actions.add_parser("export", help="print a number's proof of consent")
    exp.add_argument("number", help="the number whose consent to prove")
    exp.add_argument(
        "--format", choices=("json", "csv"), default="json", help="json (default) or csv"
    )
    exp.add_argument("--out", help="write the proof to this file instead of the screen")
    common(exp)
    exp.set_defaults(run=consent_export)

    d = commands.add_parser("dnc", help="do-not-call registries")
    dnc_actions = d.add_subparsers(dest="action", required=True)
    di = dnc_actions.add_parser("import", help="import a registry copy (numbers or ranges)")
    di.add_argument("file", help="one number or FIRST..LAST range a line (FTC download format)")
    di.add_argument("--name", required=True, help="the registry's name, e.g. us.national")
    di.add_argument("--date", required=True, help="the date the copy was obtained (YYYY-MM-DD)")
    di.add_argument("--region", default="US", help="region of numbers without + (default US)")
    common(di, policy=False)
    encoding(di)
    di.set_defaults(run=dnc_import)

    a = commands.add_parser("audit", help="reminders due and unengaged subscribers")
    a.add_argument("--every", default="30d", help="remind subscribers this often (default 30d)")
    a.add_argument("--unengaged-after", help="also list subscribers silent this long, e.g. 90d")
    output(a, "the lists")
    common(a)
    a.set_defaults(run=audit)

    r = commands.add_parser(
        "reasons",
        help="list every reason code, its rule, meaning and citation",
        description="The reason catalogue: every reason code smspolicy can give.",
    )
    r.add_argument("--out", help="write the catalogue to this file instead of the screen")
    r.add_argument(
        "--format",
        choices=FORMATS,
        help="table (default on screen), csv (default with --out) or json: an array of "
        "{code, rule, meaning, citation} objects",
    )
    r.add_argument(
        "--excel",
        action="store_true",
        help="CSV for spreadsheets: a UTF-8 byte-order mark, CRLF line ends, plain spaces",
    )
    r.set_defaults(run=reasons)
    w = commands.add_parser("worker", help="release held messages at their instant")
    w.add_argument("--send", required=True, help="the sender, as module:function")
    w.add_argument(
        "--outbox",
        help="outbox: SQLite path or postgresql:// or redis:// URL (default: the --db file)",
    )
    w.add_argument("--batch", type=int, default=100, help="messages claimed at a time")
    w.add_argument("--concurrency", type=int, default=1, help="sends at once (threads)")
    w.add_argument("--poll", type=float, default=1.0, help="seconds between empty claims")
    w.add_argument("--visibility", default="5m", help="how long a claim lasts (default 5m)")
    w.add_argument("--once", action="store_true", help="stop when nothing is due")
    w.add_argument("--quiet", action="store_true", help="no progress lines")
    w.add_argument("--db", help="SQLite store (default: the user's data directory)")
    w.add_argument("--policy", help="TOML policy file (default: jurisdictions.standard())")
    w.set_defaults(run=worker)
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
