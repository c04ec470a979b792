"""Every cache of the library, and every constructor bypass, in one place.

Memoisation goes through :class:`Memo` (a bounded dict owned by whoever owns the work: a
context for one instant, a decider for its batches), :func:`bounded` for a dict owned by a
cache's owner, and :func:`lru` for pure functions of values. ``SMSPOLICY_NO_CACHE=1`` in the
environment, read at import, turns every one of them off, so the whole suite can show that no
answer depends on a cache. Frozen values are built around their constructor only here
(:func:`set_field`, :func:`blank`), as attrs keeps its own in one module.
"""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, TypeVar

__all__ = [
    "CACHES",
    "MISSING",
    "Memo",
    "Seen",
    "blank",
    "bounded",
    "copy_fields",
    "lru",
    "set_field",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")
P = ParamSpec("P")
F = TypeVar("F", bound=Callable[..., Any])

CACHES = os.environ.get("SMSPOLICY_NO_CACHE", "").strip().lower() not in ("1", "true", "yes")
"""False when ``SMSPOLICY_NO_CACHE`` asks for every cache to be off (read at import)."""


def bounded(
    cache: dict[K, V],
    key: K,
    limit: int,
    make: Callable[P, V],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> V:
    """``cache[key]``, made with ``make(*args, **kwargs)`` on a miss (passed apart, so a hit
    builds no closure); a cache that reaches ``limit`` entries starts over: the values are
    cheap to make again, and a plain dict is the fastest lookup. With caches off, every call
    makes the value."""
    if not CACHES:
        return make(*args, **kwargs)
    found = cache.get(key)
    if found is None:
        if len(cache) >= limit:
            cache.clear()
        found = cache[key] = make(*args, **kwargs)
    return found


MISSING: Any = object()
"""What a memo's ``entries.get(key, MISSING)`` gives for a key it does not hold."""


class Memo:
    """A bounded memo: ``get(key, compute, *args)`` is ``compute(*args)`` once per key until
    ``limit`` keys were stored, then it starts over. Whoever owns the work owns the memo (a
    context for its instant; a decider for everything it decides), so nothing else keeps
    entries alive."""

    __slots__ = ("entries", "limit")

    def __init__(self, limit: int = 4096) -> None:
        # Read in place (``entries.get(key, MISSING)``) where one call per hit matters.
        self.entries: dict[object, object] = {}
        self.limit = limit

    def get(self, key: object, compute: Callable[..., T], /, *args: object) -> T:
        """``compute(*args)``, remembered under ``key`` (``args`` passed apart, so the hot
        path builds no closure)."""
        if not CACHES:
            return compute(*args)
        entries = self.entries
        value = entries.get(key, MISSING)  # every key misses once: no exception for it
        if value is MISSING:
            if len(entries) >= self.limit:
                entries.clear()
            value = entries[key] = compute(*args)
        return value  # type: ignore[return-value]

    def peek(self, key: object) -> object | None:
        """The value under ``key``, or None."""
        return self.entries.get(key)

    def put(self, key: object, value: object) -> None:
        """Remember ``value`` under ``key`` (nothing with caches off)."""
        if CACHES:
            if len(self.entries) >= self.limit:
                self.entries.clear()
            self.entries[key] = value

    def clear(self) -> None:
        """Forget everything."""
        self.entries.clear()

    def values(self) -> list[object]:
        """The remembered values."""
        return list(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Memo({len(self.entries)} of {self.limit})"


class Seen:
    """Objects that passed a check, remembered by identity for as long as they live and no
    longer: the memo keeps none of them alive, so objects read afresh for each batch (a SQL
    store decodes new ones) leave nothing behind, while objects a store keeps (the in-memory
    store's) are checked once. An object's id cannot name another while it is remembered: its
    entry goes when it is collected. With caches off, nothing is remembered."""

    __slots__ = ("_alive",)

    def __init__(self) -> None:
        self._alive: weakref.WeakValueDictionary[int, object] = weakref.WeakValueDictionary()

    def __contains__(self, value: object) -> bool:
        return self._alive.get(id(value)) is value

    def add(self, value: object) -> None:
        """Remember ``value`` (nothing with caches off)."""
        if CACHES:
            self._alive[id(value)] = value

    def __len__(self) -> int:
        return len(self._alive)

    def __repr__(self) -> str:
        return f"Seen({len(self._alive)} alive)"


def lru(maxsize: int | None) -> Callable[[F], F]:
    """``functools.lru_cache(maxsize)``, or one that keeps nothing with caches off."""
    return functools.lru_cache(maxsize=maxsize if CACHES else 0)  # type: ignore[return-value]


def set_field(instance: object, name: str, value: object) -> None:
    """Set a field of a frozen instance: for values worked out once at construction."""
    object.__setattr__(instance, name, value)


def copy_fields(source: object, target: object, names: tuple[str, ...]) -> None:
    """Set each named field of the frozen ``target`` to the value it has in ``source`` (one
    frame for all of them: copies on the hot path)."""
    setter = object.__setattr__
    for name in names:
        setter(target, name, getattr(source, name))


def blank(cls: type[T]) -> T:
    """An instance of ``cls`` whose fields the caller sets with :func:`set_field` (for copies
    on the hot path that would otherwise convert every field again)."""
    return object.__new__(cls)
