"""Small bounded caches for values that recur on the hot path."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import ParamSpec, TypeVar

__all__ = ["bounded"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
P = ParamSpec("P")


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
    cheap to make again, and a plain dict is the fastest lookup."""
    found = cache.get(key)
    if found is None:
        if len(cache) >= limit:
            cache.clear()
        found = cache[key] = make(*args, **kwargs)
    return found
