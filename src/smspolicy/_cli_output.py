"""How the command line writes results: typed JSON, CSV (optionally for spreadsheets) and aligned
tables, summaries with correct plurals, and a progress bar on a terminal."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

from ._time import to_local, zone
from ._values import Decision, Reason

__all__ = [
    "FORMATS",
    "OUTPUT_FIELDS",
    "Progress",
    "RecordWriter",
    "decision_json",
    "plural",
    "reason_json",
    "spreadsheet_safe",
    "summary",
]

FORMATS = ("table", "csv", "json")

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

# Spaces a spreadsheet reading a CSV in its legacy code page turns into mojibake.
_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2009": " ", "\u2007": " "})


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun in the number it needs: "1 recipient", "2 recipients"."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet shows as written: narrow and no-break spaces become plain spaces."""
    return text.translate(_SPACES)


def reason_json(reason: Reason) -> dict[str, str | None]:
    """A reason as JSON: its code, rule, citation (or null) and English sentence."""
    return {
        "code": reason.code,
        "rule": reason.rule,
        "citation": reason.citation,
        "text": reason.message,
    }


def _instant(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def decision_json(decision: Decision, locale: str | None = "en") -> dict[str, Any]:
    """A decision as typed JSON: ISO instants or null, reasons as a list of objects."""
    until_local = None
    if decision.until is not None and decision.zone:
        until_local = to_local(decision.until, zone(decision.zone)).isoformat()
    return {
        "verdict": decision.verdict.value,
        "until_utc": _instant(decision.until),
        "until_local": until_local,
        "zone": decision.zone,
        "reasons": [reason_json(r) for r in decision.reasons],
        "explanation": decision.explain(locale or "en"),
    }


def _flat(record: Mapping[str, Any]) -> dict[str, str]:
    """A typed record as CSV cells: null is empty, reasons are their codes joined by ``;``."""
    cells = {}
    for key, value in record.items():
        if value is None:
            cells[key] = ""
        elif key == "reasons":
            cells[key] = ";".join(r["code"] for r in value)
        else:
            cells[key] = str(value)
    return cells


class RecordWriter:
    """Streams records as an aligned table, CSV or a JSON array.

    ``columns`` are the table's columns as ``(field, heading, width)``; the last one is not
    padded. With ``excel`` CSV starts with a byte-order mark (the caller opens the file with
    ``utf-8-sig``) and every cell has plain spaces."""

    def __init__(
        self,
        out: IO[str],
        fmt: str,
        fields: Sequence[str],
        columns: Sequence[tuple[str, str, int]],
        *,
        excel: bool = False,
    ) -> None:
        self.out, self.fmt, self.columns, self.excel, self.count = out, fmt, columns, excel, 0
        if fmt == "csv":
            self.csv = csv.DictWriter(
                out, fieldnames=fields, lineterminator="\r\n" if excel else "\n"
            )
            self.csv.writeheader()
        elif fmt == "json":
            out.write("[")
        else:
            out.write(self._row({field: heading for field, heading, _ in columns}).rstrip() + "\n")

    def _row(self, cells: Mapping[str, str]) -> str:
        *padded, (last, _, _) = self.columns
        head = "".join(
            f"{cells[f]:>{w}}  " if f == "line" else f"{cells[f]:<{w}} " for f, _, w in padded
        )
        return head + cells[last]

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one record."""
        if self.fmt == "json":
            self.out.write(
                ("," if self.count else "") + "\n" + json.dumps(record, ensure_ascii=False)
            )
        elif self.fmt == "csv":
            cells = _flat(record)
            if self.excel:
                cells = {k: spreadsheet_safe(v) for k, v in cells.items()}
            self.csv.writerow(cells)
        else:
            self.out.write(self._row(_flat(record)).rstrip() + "\n")
        self.count += 1

    def close(self) -> None:
        """End the output (a JSON array's closing bracket)."""
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")


def summary(
    verdicts: collections.Counter[str],
    reasons: collections.Counter[str],
    out: IO[str],
    path: str | None,
) -> None:
    """The count and share of each verdict and the number of recipients given each reason code
    (once per recipient, however many rules gave it), aligned on the longest code."""
    total = sum(verdicts.values())
    out.write(f"\n{plural(total, 'recipient')}")
    out.write(f" (decisions in {path})\n" if path else "\n")
    counts = [verdicts[v] for v in ("allow", "defer", "deny")] + list(reasons.values())
    digits = max(len(str(c)) for c in counts)
    for verdict in ("allow", "defer", "deny"):
        share = 100 * verdicts[verdict] / total if total else 0
        out.write(f"  {verdict:<6} {verdicts[verdict]:>{digits}}  {share:5.1f}%\n")
    if reasons:
        out.write("by reason:\n")
        width = max(len(code) for code in reasons)
        for code, count in reasons.most_common():
            out.write(f"  {code:<{width}}  {count:>{digits}}\n")


class Progress:
    """A progress bar on standard error over ``total`` bytes of input (or another ``unit``),
    with the rate and the time left; nothing at all when standard error is not a terminal or
    tqdm is missing."""

    def __init__(self, total: int | None, enabled: bool, *, unit: str = "B") -> None:
        self.bar: Any = None
        if not enabled or not sys.stderr.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError:  # the cli extra is not installed: no bar
            return
        # A terminal that reports 0 columns and rows (a fresh pseudo-terminal, some CI consoles)
        # gets a standard size: tqdm would otherwise hide the bar.
        size = shutil.get_terminal_size((80, 24))
        self.bar = tqdm(
            total=total or None,
            unit=unit if unit == "B" else f" {unit}",
            unit_scale=unit == "B",
            unit_divisor=1024,
            file=sys.stderr,
            ncols=size.columns or 80,
            nrows=size.lines or 24,
            desc="reading",
        )

    def add(self, count: int) -> None:
        """Move the bar on by ``count`` units (lines, for a count of lines)."""
        if self.bar is not None:
            self.bar.update(count)

    def to(self, position: int) -> None:
        """Move the bar to ``position`` bytes read."""
        if self.bar is not None:
            self.bar.update(position - self.bar.n)

    def close(self) -> None:
        """Take the bar off the screen's last line."""
        if self.bar is not None:
            self.bar.close()
