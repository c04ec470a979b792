"""Do-not-call registries: where :func:`smspolicy.rules.do_not_call` looks a number up.

A registry is anything with a ``name``, the date of its copy (``as_of``, None for a source read
live, such as a sender's own list in its database) and ``listed(e164) -> bool``. The library
ships four:

- :class:`NumberList`, numbers and ranges held in memory, read from a file with
  :func:`read_file` (the FTC's subscriber downloads: one number a line, ten digits or
  ``AAA,NNNNNNN``; ranges as ``FIRST..LAST``);
- :class:`SQLiteRegistry`, a copy imported into a SQLite table (``smspolicy dnc import``);
- :class:`PostgresRegistry`, the same tables in PostgreSQL (extra ``postgres``);
- :class:`CallableRegistry`, any function of the number.

Numbers are kept as the integer of their E.164 digits, and ranges are merged when a copy is
built, so a lookup is one binary search (or one indexed query).
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs
import phonenumbers

from .errors import ConfigurationError, InvalidInputError

__all__ = [
    "CallableRegistry",
    "NumberList",
    "PostgresRegistry",
    "Registry",
    "SQLiteRegistry",
    "merge_ranges",
    "parse_entries",
    "read_file",
]

Range = tuple[int, int]


class Registry(Protocol):
    """A do-not-call list: its name, the date of the copy, and whether a number is on it."""

    @property
    def name(self) -> str:
        """The registry's name, shown in reasons ("us.national", "us-tx", "internal")."""

    @property
    def as_of(self) -> dt.date | None:
        """The date the copy was obtained from the registry's administrator (None: read live)."""

    def listed(self, e164: str) -> bool:
        """True when the E.164 number is on the list."""


def _key(e164: str) -> int:
    digits = e164[1:] if e164.startswith("+") else e164
    if not digits.isdigit() or not 0 < len(digits) <= 15:
        raise InvalidInputError(f"not an E.164 number: {e164!r}")
    return int(digits)


def _number(text: str, region: str) -> int:
    compact = "".join(text.split())
    if compact.isdigit() and len(compact) == 10 and region == "US":
        return int("1" + compact)  # the FTC's form, parsed without phonenumbers (large files)
    if "," in compact:  # the FTC's "area code,number" form
        area, _, rest = compact.partition(",")
        compact = area + rest
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidInputError(f"not a phone number: {text!r} ({error})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidInputError(f"not a possible phone number: {text!r}")
    return _key(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def parse_entries(lines: Iterable[str], *, region: str = "US", source: str = "") -> Iterator[Range]:
    """The ranges of a registry file's lines: a number (E.164, national, ten digits or
    ``AAA,NNNNNNN``) is a range of one; ``FIRST..LAST`` a range of numbers of one length.
    Blank lines and lines starting with ``#`` are skipped; anything else raises
    :class:`~smspolicy.errors.InvalidInputError` naming the line."""
    for line_number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if ".." in line:
                first, _, last = line.partition("..")
                lo, hi = _number(first, region), _number(last, region)
                if len(str(lo)) != len(str(hi)) or lo > hi:
                    raise InvalidInputError(
                        f"range {line!r} must run upwards between numbers of one length"
                    )
            else:
                lo = hi = _number(line, region)
        except InvalidInputError as error:
            raise InvalidInputError(f"{source or 'line'}:{line_number}: {error}") from None
        yield lo, hi


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, disjoint ranges covering exactly the given ones (adjacent ranges joined)."""
    merged: list[Range] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _check_as_of(as_of: object) -> dt.date | None:
    if as_of is None:
        return None
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise ConfigurationError(f"as_of must be a date, got {as_of!r}")
    return as_of


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"a registry needs a name, got {name!r}")
    return name.strip()


def _merged(ranges: Iterable[Range]) -> tuple[Range, ...]:
    return tuple(merge_ranges(ranges))


@attrs.frozen(repr=False)
class NumberList:
    """A registry copy in memory: sorted, disjoint ranges of E.164 numbers."""

    name: str = attrs.field(converter=_check_name)
    as_of: dt.date | None = attrs.field(converter=_check_as_of)
    ranges: tuple[Range, ...] = attrs.field(converter=_merged)
    _starts: tuple[int, ...] = attrs.field(
        init=False,
        eq=False,
        default=attrs.Factory(lambda self: tuple(lo for lo, _ in self.ranges), takes_self=True),
    )

    @classmethod
    def of(
        cls, entries: Iterable[str], *, name: str, as_of: dt.date | None, region: str = "US"
    ) -> NumberList:
        """A list from entries written as in a registry file."""
        return cls(name, as_of, parse_entries(entries, region=region))

    def listed(self, e164: str) -> bool:
        """True when the number falls in one of the ranges."""
        key = _key(e164)
        index = bisect.bisect_right(self._starts, key) - 1
        return index >= 0 and key <= self.ranges[index][1]

    def __len__(self) -> int:
        return len(self.ranges)

    def __repr__(self) -> str:
        return f"NumberList({self.name!r}, as_of={self.as_of}, {len(self.ranges)} ranges)"


def read_file(
    path: str | os.PathLike[str], *, name: str, as_of: dt.date | None, region: str = "US"
) -> NumberList:
    """Read a registry file (see :func:`parse_entries`) into a :class:`NumberList`."""
    with Path(path).open(encoding="utf-8-sig") as handle:
        return NumberList(name, as_of, parse_entries(handle, region=region, source=str(path)))


@attrs.frozen(repr=False)
class CallableRegistry:
    """A registry answered by a function of the E.164 number (a service, a cache, a query)."""

    function: Callable[[str], bool]
    name: str = attrs.field(converter=_check_name, kw_only=True)
    as_of: dt.date | None = attrs.field(default=None, converter=_check_as_of, kw_only=True)

    def listed(self, e164: str) -> bool:
        """The function's answer; anything but True or False is an error."""
        answer = self.function(e164)
        if not isinstance(answer, bool):
            raise InvalidInputError(f"registry {self.name!r} answered {answer!r}, not a bool")
        return answer

    def __repr__(self) -> str:
        return f"CallableRegistry({self.function!r}, name={self.name!r}, as_of={self.as_of})"


COPIES = "smspolicy_dnc_copies"
RANGES = "smspolicy_dnc_ranges"
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {COPIES} (registry TEXT PRIMARY KEY, as_of TEXT NOT NULL, "
    "imported_at TEXT NOT NULL, ranges BIGINT NOT NULL, source TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {RANGES} (registry TEXT NOT NULL, lo BIGINT NOT NULL, "
    "hi BIGINT NOT NULL, PRIMARY KEY (registry, lo))",
)
# Ranges are disjoint, so the one that may hold a number is the last starting at or below it.
_LOOKUP = f"SELECT hi FROM {RANGES} WHERE registry = ? AND lo <= ? ORDER BY lo DESC LIMIT 1"
_AS_OF = f"SELECT as_of FROM {COPIES} WHERE registry = ?"


def _copy_date(row: tuple[Any, ...] | None, name: str) -> dt.date:
    if row is None:
        raise ConfigurationError(f"no copy of registry {name!r} has been imported")
    value = row[0]
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


class SQLiteRegistry:
    """A registry copy in a SQLite database (the store's file or another), imported with
    :meth:`replace` or ``smspolicy dnc import``; the date is read with every lookup, so a new
    import is seen at once."""

    def __init__(self, path: str | os.PathLike[str], name: str) -> None:
        self._path = os.fspath(path)
        self._name = _check_name(name)
        self._connection = sqlite3.connect(self._path, check_same_thread=False, timeout=30.0)
        with self._connection:
            for statement in _SCHEMA:
                self._connection.execute(statement)

    @property
    def name(self) -> str:
        """The registry's name (its rows' key in the tables)."""
        return self._name

    @property
    def as_of(self) -> dt.date:
        """The date of the imported copy (no copy: :class:`ConfigurationError`)."""
        row = self._connection.execute(_AS_OF, (self._name,)).fetchone()
        return _copy_date(row, self._name)

    def listed(self, e164: str) -> bool:
        """True when the number falls in one of the copy's ranges."""
        key = _key(e164)
        row = self._connection.execute(_LOOKUP, (self._name, key)).fetchone()
        return row is not None and key <= int(row[0])

    def replace(
        self, ranges: Iterable[Range], *, as_of: dt.date, source: str, now: dt.datetime
    ) -> int:
        """Replace the copy with ``ranges`` dated ``as_of``, in one transaction (a failed
        import leaves the previous copy); returns how many disjoint ranges were stored."""
        as_of = _check_as_of(as_of)  # type: ignore[assignment]
        if as_of is None:
            raise ConfigurationError("an imported copy needs its date")
        merged = merge_ranges(ranges)
        with self._connection:
            self._connection.execute(f"DELETE FROM {RANGES} WHERE registry = ?", (self._name,))
            self._connection.executemany(
                f"INSERT INTO {RANGES} (registry, lo, hi) VALUES (?, ?, ?)",
                ((self._name, lo, hi) for lo, hi in merged),
            )
            self._connection.execute(
                f"INSERT OR REPLACE INTO {COPIES} VALUES (?, ?, ?, ?, ?)",
                (self._name, as_of.isoformat(), now.isoformat(), len(merged), source),
            )
        return len(merged)

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def __repr__(self) -> str:
        return f"SQLiteRegistry({self._path!r}, {self._name!r})"


class PostgresRegistry:
    """A registry copy in PostgreSQL tables (the same as :class:`SQLiteRegistry`'s), in
    ``schema`` when given; needs the ``postgres`` extra."""

    def __init__(self, dsn: str, name: str, *, schema: str | None = None) -> None:
        import psycopg

        self._name = _check_name(name)
        self._prefix = f'"{schema}".' if schema else ""
        self._connection = psycopg.connect(dsn, autocommit=True)
        with self._connection.transaction():
            if schema:
                self._connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            for statement in _SCHEMA:
                self._connection.execute(self._sql(statement))

    def _sql(self, statement: str) -> str:
        return (
            statement.replace(COPIES, self._prefix + COPIES)
            .replace(RANGES, self._prefix + RANGES)
            .replace("?", "%s")
        )

    @property
    def name(self) -> str:
        """The registry's name (its rows' key in the tables)."""
        return self._name

    @property
    def as_of(self) -> dt.date:
        """The date of the imported copy (no copy: :class:`ConfigurationError`)."""
        row = self._connection.execute(self._sql(_AS_OF), (self._name,)).fetchone()
        return _copy_date(row, self._name)

    def listed(self, e164: str) -> bool:
        """True when the number falls in one of the copy's ranges."""
        key = _key(e164)
        row = self._connection.execute(self._sql(_LOOKUP), (self._name, key)).fetchone()
        return row is not None and key <= int(row[0])

    def replace(
        self, ranges: Iterable[Range], *, as_of: dt.date, source: str, now: dt.datetime
    ) -> int:
        """Replace the copy with ``ranges`` dated ``as_of``, in one transaction."""
        if _check_as_of(as_of) is None:
            raise ConfigurationError("an imported copy needs its date")
        merged = merge_ranges(ranges)
        with self._connection.transaction(), self._connection.cursor() as cursor:
            cursor.execute(self._sql(f"DELETE FROM {RANGES} WHERE registry = ?"), (self._name,))
            cursor.executemany(
                self._sql(f"INSERT INTO {RANGES} (registry, lo, hi) VALUES (?, ?, ?)"),
                [(self._name, lo, hi) for lo, hi in merged],
            )
            cursor.execute(self._sql(f"DELETE FROM {COPIES} WHERE registry = ?"), (self._name,))
            cursor.execute(
                self._sql(f"INSERT INTO {COPIES} VALUES (?, ?, ?, ?, ?)"),
                (self._name, as_of.isoformat(), now.isoformat(), len(merged), source),
            )
        return len(merged)

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def __repr__(self) -> str:
        return f"PostgresRegistry({self._name!r})"
