"""Policy files (TOML): programs, rule settings and jurisdiction packs, validated with errors
that name the file, the line, the key and the problem.

```toml
name = "acme"
jurisdictions = ["standard"]          # or a list of packs: ["us", "ca"]
enable = ["us.al.window"]             # unconfirmed provisions to switch on
relax = ["uk.pecr.consent"]           # provisions applied in their milder form (a charity)
stop_scope = "brand"

[[programs]]
name = "Acme Deals"
brand = "Acme"
topic = "deals"
senders = ["+18885550100"]
help_contact = "help@acme.example"
frequency = "Up to 4 msgs/week"
legal_name = "Acme Corp"              # seller identity (64.1200(d)(4), CASL, Japan)
postal_address = "1 Main St, Austin TX 78701"
contact = "acme.example/contact"
registrations = { "US-TX" = "2025-0042" }   # or "exempt: Bus. & Com. Code § 302.058"

[[rules]]
type = "frequency_cap"                # a factory in smspolicy.rules
limit = 1
per = "24h"                           # durations: "30d", "24h", "15m", "2w"
scope = "brand"
when = { purpose = "marketing" }      # optional: purpose, topic, channel, jurisdiction
```
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import inspect
import os
import re
import reprlib
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from . import jurisdictions as packs
from . import rules as rule_factories
from ._annotate import Rows
from ._compose import Policy, when
from ._time import MAX_DURATION
from .errors import ConfigurationError, SmsPolicyError
from .predicates import Predicate, channel_is, in_jurisdiction, purpose_is, topic_is
from .programs import Program
from .typing import Rule

__all__ = ["Config", "PolicyFileError", "load_config", "load_policy", "parse_duration"]

_DURATION = re.compile(r"^\s*([0-9]+)\s*(w|d|h|m|s)\s*$", re.ASCII)
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
# MAX_DURATION in seconds has 10 digits: a longer number is refused without converting it (a
# string of thousands of digits is slow to convert, and int() refuses past 4,300).
_MAX_DIGITS = 12
_TOP_KEYS = {
    "name",
    "jurisdictions",
    "enable",
    "include_unconfirmed",
    "relax",
    "stop_scope",
    "programs",
    "rules",
    "horizon",
}
# A program table's keys are Program's own fields: the file follows the signature.
_PROGRAM_KEYS = {field.name for field in attrs.fields(Program) if field.init}
_WHEN_KEYS = {"purpose", "topic", "channel", "jurisdiction"}


def _is_rule_factory(name: str) -> bool:
    """Whether ``rules.<name>`` builds a rule a policy file may name: a function returning one
    of the rules' own types (not a class, a calendar, a check or a ledger hook)."""
    factory = getattr(rule_factories, name)
    if inspect.isclass(factory) or name == "program_frequency":  # needs the engine's programs
        return False
    returned = typing.get_type_hints(factory).get("return")
    return isinstance(returned, type) and returned.__module__.startswith("smspolicy.rules.")


_RULES = {
    name: getattr(rule_factories, name) for name in rule_factories.__all__ if _is_rule_factory(name)
}


class PolicyFileError(ConfigurationError):
    """A policy file is wrong; the message names the file, line, key and problem."""

    def __init__(self, path: str, problem: str, *, key: str | None = None, line: int | None = None):
        self.path, self.key, self.line, self.problem = path, key, line, problem
        where = path + (f":{line}" if line else "") + (f": {key}" if key else "")
        super().__init__(f"{where}: {problem}")


def parse_duration(text: str) -> dt.timedelta:
    """Parse "30d", "24h", "15m", "45s" or "2w": ASCII digits and a unit, at most 36,600 days
    (about 100 years, the longest duration smspolicy accepts)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        shown = reprlib.repr(text) if isinstance(text, str) else type(text).__name__
        raise ConfigurationError(f"{shown} is not a duration like '30d', '24h' or '15m'")
    digits = match[1].lstrip("0") or "0"
    seconds = int(digits) * _UNIT_SECONDS[match[2]] if len(digits) <= _MAX_DIGITS else None
    if seconds is None or seconds > MAX_DURATION.total_seconds():
        raise ConfigurationError(
            f"{reprlib.repr(text.strip())} is longer than {MAX_DURATION.days} days, "
            "the longest duration smspolicy accepts"
        )
    return dt.timedelta(seconds=seconds)


def byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in bytes) of ``offset`` in ``data``."""
    start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - start + 1


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as printable text: bytes that are not UTF-8 (undecodable in a POSIX file name)
    are shown as escapes instead of failing on output."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name can hold
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


@attrs.frozen
class Config:
    """A loaded policy file: the policy, its programs and its name."""

    name: str
    policy: Policy
    programs: tuple[Program, ...]


class _Lines:
    """Where keys and array tables stand in the file, for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def table(self, array: str, index: int) -> int | None:
        count = -1
        for number, line in enumerate(self.lines, 1):
            if line.strip() == f"[[{array}]]":
                count += 1
                if count == index:
                    return number
        return None

    def key(self, key: str, start: int | None = None) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number, line in enumerate(self.lines, 1):
            if start is not None and number <= start:
                continue
            if start is not None and line.strip().startswith("["):
                return None
            if pattern.match(line):
                return number
        return None


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """The policy of a TOML policy file (programs' frequencies are not in it: use
    :func:`load_config` and give the programs to the Engine)."""
    return load_config(path).policy


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML policy file."""
    if not isinstance(path, str | os.PathLike):
        raise ConfigurationError(f"a policy file path must be text, got {type(path).__name__}")
    name = shown_path(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise PolicyFileError(name, f"cannot read the file: {error.strerror}") from None
    except ValueError as error:  # a NUL in the path
        raise PolicyFileError(name, f"cannot read the file: {error}") from None
    try:
        text = raw.decode("utf-8-sig")  # TOML is UTF-8; a BOM from a Windows editor is dropped
    except UnicodeDecodeError as error:
        line, column = byte_position(raw, error.start)
        raise PolicyFileError(
            name,
            f"not UTF-8 text: byte 0x{raw[error.start]:02x} at column {column} "
            "(TOML files are UTF-8: save the file as UTF-8)",
            line=line,
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyFileError(name, f"not valid TOML: {error}") from None
    except RecursionError:
        raise PolicyFileError(name, "not valid TOML: arrays or tables nested too deeply") from None
    lines = _Lines(text)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise PolicyFileError(
            name,
            f"unknown setting (expected one of {sorted(_TOP_KEYS)})",
            key=unknown[0],
            line=lines.key(unknown[0]),
        )
    policy_name = data.get("name", Path(path).stem)
    if not isinstance(policy_name, str) or not policy_name.strip():
        raise PolicyFileError(name, "must be non-empty text", key="name", line=lines.key("name"))
    programs = tuple(
        _program(name, lines, i, p) for i, p in enumerate(_tables(name, data, "programs"))
    )
    built: list[Rule] = []
    try:
        built.extend(_jurisdiction_rules(data))
    except SmsPolicyError as error:
        # The packs' errors start with the setting they are about (enable, relax).
        key = next(
            (k for k in ("relax", "enable", "include_unconfirmed") if str(error).startswith(k)),
            "jurisdictions",
        )
        raise PolicyFileError(name, str(error), key=key, line=lines.key(key)) from None
    for index, table in enumerate(_tables(name, data, "rules")):
        built.append(_rule(name, lines, index, table))
    horizon = data.get("horizon", "35d")
    try:
        policy = Policy(*built, name=policy_name, horizon=parse_duration(horizon))
    except SmsPolicyError as error:
        raise PolicyFileError(name, str(error), key="horizon", line=lines.key("horizon")) from None
    return Config(policy_name, policy, programs)


def _tables(path: str, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise PolicyFileError(path, f"must be an array of tables: write [[{key}]]", key=key)
    return value


def _jurisdiction_rules(data: Mapping[str, Any]) -> list[Rule]:
    chosen = data.get("jurisdictions", [])
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        raise ConfigurationError('jurisdictions must be a list such as ["standard"]')
    enable = data.get("enable", [])
    relax = data.get("relax", [])
    unconfirmed = data.get("include_unconfirmed", False)
    stop_scope = data.get("stop_scope", "brand")
    if not isinstance(enable, list) or not all(isinstance(e, str) for e in enable):
        raise ConfigurationError('enable must be a list of provision ids, e.g. ["us.al.window"]')
    if not isinstance(unconfirmed, bool):
        raise ConfigurationError("include_unconfirmed must be true or false")
    if not isinstance(relax, list) or not all(isinstance(r, str) for r in relax):
        raise ConfigurationError(
            'relax must be a list of provision ids, e.g. ["us.tcpa.written_consent_evidence"]'
        )
    if not chosen:
        if relax:
            raise ConfigurationError(
                'relax names provisions of jurisdiction packs: add jurisdictions = ["standard"]'
            )
        return [rule_factories.consent(stop_scope=stop_scope)]
    names = None if chosen == ["standard"] else chosen
    if names is not None and "standard" in names:
        raise ConfigurationError('"standard" already includes every pack: use it alone')
    return [
        packs.standard(
            names,
            include_unconfirmed=unconfirmed,
            enable=enable,
            stop_scope=stop_scope,
            relax=relax,
        )
    ]


def _program(path: str, lines: _Lines, index: int, table: Mapping[str, Any]) -> Program:
    start = lines.table("programs", index)
    unknown = sorted(set(table) - _PROGRAM_KEYS)
    if unknown:
        raise PolicyFileError(
            path,
            f"unknown program field (expected {sorted(_PROGRAM_KEYS)})",
            key=f"programs[{index}].{unknown[0]}",
            line=lines.key(unknown[0], start),
        )
    try:
        return Program(**table)
    except TypeError as error:
        raise PolicyFileError(
            path, f"incomplete program: {error}", key=f"programs[{index}]", line=start
        ) from None
    except SmsPolicyError as error:
        raise PolicyFileError(path, str(error), key=f"programs[{index}]", line=start) from None


def _predicate(path: str, where: str, line: int | None, spec: object) -> Predicate:
    if not isinstance(spec, Mapping) or not spec or set(spec) - _WHEN_KEYS:
        raise PolicyFileError(
            path, f"when takes a table with keys from {sorted(_WHEN_KEYS)}", key=where, line=line
        )
    makers: dict[str, Callable[..., Predicate]] = {
        "purpose": purpose_is,
        "topic": topic_is,
        "channel": channel_is,
        "jurisdiction": in_jurisdiction,
    }
    parts: list[Predicate] = []
    try:
        for key, value in spec.items():
            values = value if isinstance(value, list) else [value]
            parts.append(makers[key](*values))
    except (SmsPolicyError, TypeError) as error:
        raise PolicyFileError(path, str(error), key=where, line=line) from None
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part
    return combined


def _convert(annotation: Any, value: Any) -> Any:
    """``value`` from TOML made into what ``annotation`` asks for: durations from "30d",
    tuples from arrays, mappings with whole-number keys from tables, and a mapping marked
    :class:`smspolicy._annotate.Rows` from an array of tables. Anything else is passed as it is,
    for the factory to check."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        rows = next((a for a in args[1:] if isinstance(a, Rows)), None)
        if rows is not None and isinstance(value, list):
            return rows.to_mapping(value)
        return _convert(args[0], value)
    if origin in (typing.Union, types.UnionType):
        for member in args:
            converted = _convert(member, value)
            if converted is not value:
                return converted
        return value
    if annotation is dt.timedelta and isinstance(value, str) and _DURATION.match(value):
        return parse_duration(value)
    if origin is tuple and isinstance(value, list) and args and args[-1] is not Ellipsis:
        if len(args) == len(value):
            return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
        return tuple(value)
    if origin in (collections.abc.Mapping, dict) and isinstance(value, Mapping) and args:
        key_type, value_type = args
        return {_key(key_type, k): _convert(value_type, v) for k, v in value.items()}
    return value


def _key(annotation: Any, key: str) -> Any:
    # A TOML table's keys are text: {"0" = [...]} names weekday 0 where keys are ints.
    if annotation is int:
        try:
            return int(key)
        except ValueError:
            raise ConfigurationError(f"{key!r} is not a whole number") from None
    return key


def _annotations(factory: Callable[..., Any]) -> dict[str, Any]:
    return typing.get_type_hints(factory, include_extras=True)


def _rule(path: str, lines: _Lines, index: int, table: Mapping[str, Any]) -> Rule:
    start = lines.table("rules", index)
    where = f"rules[{index}]"
    kind = table.get("type")
    if not isinstance(kind, str) or kind not in _RULES:
        raise PolicyFileError(
            path,
            f"type must name a rule factory: one of {sorted(_RULES)}",
            key=f"{where}.type",
            line=lines.key("type", start) or start,
        )
    factory = _RULES[kind]
    accepted = inspect.signature(factory).parameters
    arguments = {k: v for k, v in table.items() if k not in ("type", "when")}
    for key in arguments:
        if key not in accepted:
            raise PolicyFileError(
                path,
                f"{kind} takes no argument {key!r} (it takes {', '.join(accepted)})",
                key=f"{where}.{key}",
                line=lines.key(key, start),
            )
    try:
        # By keyword: a later parameter given without an earlier one must not take its place.
        hints = _annotations(factory)
        converted = {k: _convert(hints.get(k, Any), v) for k, v in arguments.items()}
        rule: Rule = factory(**converted)
    except (SmsPolicyError, TypeError, ValueError, KeyError) as error:
        raise PolicyFileError(path, f"{kind}: {error}", key=where, line=start) from None
    if "when" in table:
        rule = when(
            _predicate(path, f"{where}.when", lines.key("when", start), table["when"]), rule
        )
    return rule
