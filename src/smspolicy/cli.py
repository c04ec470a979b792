"""The ``smspolicy`` command line: preflight a campaign list, check one number, handle an inbound
text, import and export consent, audit the lists."""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import datetime as dt
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from . import jurisdictions
from ._clock import Clock, SystemClock
from ._engine import Engine
from ._recipients import Profile
from ._records import ConsentEvent, ConsentKind
from ._time import ensure_aware, to_local, zone
from ._values import Decision, Message, Reason, deny
from .config import load_config, parse_duration
from .consent import superseded_by
from .errors import InvalidNumberError, SmsPolicyError
from .store import SQLiteStore
from .testing import FrozenClock

__all__ = ["main"]

REQUIRED_COLUMNS = ("number", "topic", "purpose")
OPTIONAL_COLUMNS = ("brand", "channel", "body", "person", "timezone", "locale", "state")
CONSENT_COLUMNS = ("number", "kind", "at", "source")
BATCH = 1000
PREFLIGHT_CACHE = 4096


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


def _instant(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO 8601 date and time") from None
    if parsed.tzinfo is None:
        raise UsageError(f"--at {text!r} has no time zone: add Z or an offset such as +00:00")
    return ensure_aware(parsed, "--at")


def _engine(args: argparse.Namespace, profiles: dict[str, Profile] | None = None) -> Engine:
    at = _instant(getattr(args, "at", None))
    clock: Clock = FrozenClock(at) if at else SystemClock()
    if getattr(args, "policy", None):
        config = load_config(args.policy)
        policy, programs = config.policy, config.programs
    else:
        policy, programs = jurisdictions.standard(), ()
    store = SQLiteStore(args.db or default_db())
    # A campaign list visits each number about once: a small resolution cache keeps memory flat
    # in the list's length.
    return Engine(
        policy,
        store,
        clock,
        programs=programs,
        profiles=(profiles or {}).get,
        cache_size=PREFLIGHT_CACHE,
    )


def mask(number: str) -> str:
    """A number with its middle digits hidden: +1212*****23."""
    if len(number) <= 7:
        return number[:2] + "*" * max(0, len(number) - 2)
    return number[:5] + "*" * (len(number) - 7) + number[-2:]


# --- preflight -----------------------------------------------------------------------------


def _rows(path: str) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise UsageError(
                f"{path}: missing column(s) {', '.join(missing)} "
                f"(required: {', '.join(REQUIRED_COLUMNS)})"
            )
        unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
        if unknown:
            raise UsageError(
                f"{path}: unknown column(s) {', '.join(unknown)} "
                f"(optional: {', '.join(OPTIONAL_COLUMNS)})"
            )
        try:
            yield from enumerate(reader, start=2)
        except (csv.Error, UnicodeDecodeError) as error:
            raise UsageError(f"{path}: cannot read line {reader.line_num}: {error}") from None


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
            out = stack.enter_context(open(args.out, "w", newline="", encoding="utf-8"))
        writer = _Writer(out, fmt, masked=not args.out and not args.show_numbers)
        bar = _progress(sys.stderr.isatty() and not args.quiet)
        if bar is not None:
            stack.callback(bar.close)
        for batch in _batches(_rows(args.recipients)):
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


def _summary(
    verdicts: collections.Counter[str],
    reasons: collections.Counter[str],
    out: IO[str],
    path: str | None,
) -> None:
    total = sum(verdicts.values())
    out.write(f"\n{total} recipients")
    out.write(f" (decisions in {path})\n" if path else "\n")
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
    try:
        handle = open(args.csv, newline="", encoding="utf-8-sig")  # noqa: SIM115
    except OSError as error:
        raise UsageError(f"cannot read {args.csv}: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CONSENT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UsageError(f"{args.csv}: missing column(s) {', '.join(missing)}")
        batch: list[tuple[int, ConsentEvent]] = []
        for line, row in enumerate(reader, start=2):
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
        at = _instant(row["at"])
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
    except (SmsPolicyError, UsageError, ValueError) as error:
        raise UsageError(f"{path}: line {line}: {error}") from None


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

    p = commands.add_parser("preflight", help="decide a whole recipients list")
    p.add_argument("recipients", help="CSV with number, topic, purpose columns")
    common(p)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (UsageError, SmsPolicyError) as error:
        print(f"smspolicy: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr = io.StringIO()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
