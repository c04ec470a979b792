"""Marks that rule factories put in their annotations, so a policy file's values become their
arguments from the signature alone (``typing.Annotated[..., Rows(...)]``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from .errors import ConfigurationError

__all__ = ["Rows"]


@attrs.frozen
class Rows:
    """A mapping written in a policy file as an array of tables: each row's ``key`` fields
    (``optional`` ones may be left out) make the key, its ``value`` field the value."""

    key: tuple[str, ...]
    value: str
    optional: frozenset[str] = frozenset()

    def to_mapping(self, rows: Sequence[object]) -> dict[object, object]:
        """The mapping the rows stand for."""
        shape = "{" + ", ".join((*self.key, self.value)) + "}"
        if not all(isinstance(row, Mapping) for row in rows):
            raise ConfigurationError(f"must be an array of tables {shape}")
        mapping: dict[object, object] = {}
        for row in rows:
            assert isinstance(row, Mapping)
            parts = tuple(
                row.get(name) if name in self.optional else row[name] for name in self.key
            )
            mapping[parts if len(parts) > 1 else parts[0]] = row[self.value]
        return mapping
