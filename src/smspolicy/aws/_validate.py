"""Validate a request against botocore's own service model before anything is sent.

botocore checks required members and types when sending; this also checks what it leaves to the
service: enums, patterns, string lengths, number ranges, list and map sizes, unknown members.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, Shape

from ..errors import RequestValidationError

__all__ = ["validate_request"]


@functools.cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:  # a Java-only construct: the service still checks it
        return None


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, Mapping):
            problems.append(f"{path} must be a structure (dict), got {type(value).__name__}")
            return
        members = shape.members  # type: ignore[attr-defined]
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}.{name} is required")
        for name, item in value.items():
            if name not in members:
                problems.append(f"{path}.{name} is not a parameter of {shape.name}")
            else:
                _check(members[name], item, f"{path}.{name}", problems)
        return
    if kind == "list":
        if not isinstance(value, list | tuple):
            problems.append(f"{path} must be a list, got {type(value).__name__}")
            return
        _size(meta, len(value), path, "items", problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", problems)  # type: ignore[attr-defined]
        return
    if kind == "map":
        if not isinstance(value, Mapping):
            problems.append(f"{path} must be a map (dict), got {type(value).__name__}")
            return
        _size(meta, len(value), path, "entries", problems)
        for key, item in value.items():
            _check(shape.key, key, f"{path} key {key!r}", problems)  # type: ignore[attr-defined]
            _check(shape.value, item, f"{path}[{key!r}]", problems)  # type: ignore[attr-defined]
        return
    if kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path} must be a string, got {type(value).__name__}")
            return
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            problems.append(f"{path} must be one of {', '.join(enum)}, got {value!r}")
        _size(meta, len(value), path, "characters", problems)
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            problems.append(f"{path} {value[:40]!r} does not match {meta['pattern']}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path} must be an integer, got {type(value).__name__}")
            return
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path} must be at least {meta['min']}, got {value}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path} must be at most {meta['max']}, got {value}")
        return
    if kind == "boolean" and not isinstance(value, bool):
        problems.append(f"{path} must be true or false, got {value!r}")


def _size(meta: Mapping[str, Any], size: int, path: str, unit: str, problems: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        problems.append(f"{path} needs at least {meta['min']} {unit}, has {size}")
    if "max" in meta and size > meta["max"]:
        problems.append(f"{path} allows at most {meta['max']} {unit}, has {size}")


def validate_request(operation: OperationModel, params: Mapping[str, Any]) -> None:
    """Raise :class:`RequestValidationError` listing every way ``params`` break the model."""
    problems: list[str] = []
    if operation.input_shape is None:
        raise RequestValidationError(operation.name, ["the operation takes no input"])
    _check(operation.input_shape, params, operation.name, problems)
    if problems:
        raise RequestValidationError(operation.name, problems)
