"""Profiles that live in the store: what a sender knows about each recipient (zone, country,
state, postal code, locale) and the person an address belongs to.

A store that holds profiles implements :class:`ProfileStore`; :class:`StoredProfiles` turns one
into an engine's profile source (``Engine(..., profiles=StoredProfiles(store))``), with a small
cache in front of it. ``forget`` erases a number's profile with the rest of its records.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs
import cachetools

from .._recipients import Profile
from ..errors import InvalidInputError

__all__ = [
    "ProfileRecord",
    "ProfileStore",
    "StoredProfiles",
    "decode_profile",
    "encode_profile",
    "layered",
]

_FIELDS = ("timezone", "country", "state", "postal_code", "locale")


def _profile(value: object) -> Profile:
    if not isinstance(value, Profile):
        raise InvalidInputError(f"profile must be a smspolicy.Profile, got {value!r}")
    return value


def _person(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise InvalidInputError(f"person must be None or non-empty text, got {value!r}")


@attrs.frozen
class ProfileRecord:
    """One address's stored profile and the person (``Message.person``) it belongs to."""

    profile: Profile = attrs.field(converter=_profile)
    person: str | None = attrs.field(default=None, converter=_person)


def encode_profile(record: ProfileRecord) -> str:
    """The record as compact JSON (the stored form in every backend)."""
    data: dict[str, str] = {
        name: value for name in _FIELDS if (value := getattr(record.profile, name)) is not None
    }
    if record.person is not None:
        data["person"] = record.person
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def decode_profile(text: str) -> ProfileRecord:
    """The record stored as ``text`` by :func:`encode_profile`."""
    data = json.loads(text)
    person = data.pop("person", None)
    return ProfileRecord(Profile(**data), person)


@runtime_checkable
class ProfileStore(Protocol):
    """A store that keeps recipients' profiles, keyed by address (E.164 for phones)."""

    def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        """Store each address's record, replacing the one it had, in one write; returns how
        many were written."""
        ...

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        """Each address's record, or None when it has none."""
        ...


class StoredProfiles:
    """An engine's profile source read from a :class:`ProfileStore`, with a cache of
    ``cache_size`` addresses (a miss is cached too) whose entries live ``ttl`` seconds, so a
    profile written or forgotten elsewhere is seen within that time. Call :meth:`clear` to see
    it at once."""

    def __init__(self, store: ProfileStore, *, cache_size: int = 4096, ttl: float = 60.0) -> None:
        if not isinstance(store, ProfileStore):
            raise InvalidInputError(f"{store!r} does not keep profiles (no upsert_profiles)")
        self.store = store
        self._cache: cachetools.TTLCache[str, ProfileRecord | None] = cachetools.TTLCache(
            cache_size, ttl
        )
        self._lock = threading.Lock()

    def record(self, address: str) -> ProfileRecord | None:
        """The address's stored record (profile and person), or None."""
        with self._lock:
            if address in self._cache:
                return self._cache[address]
        found = self.store.profiles([address])[address]
        with self._lock:
            self._cache[address] = found
        return found

    def __call__(self, address: str) -> Profile | None:
        found = self.record(address)
        return None if found is None else found.profile

    def person(self, address: str) -> str | None:
        """The person the address belongs to, if one was stored."""
        found = self.record(address)
        return None if found is None else found.person

    def prefetch(self, addresses: Iterable[str]) -> None:
        """Read many addresses' records in one store read."""
        wanted = [a for a in dict.fromkeys(addresses) if a not in self._cache]
        if wanted:
            found = self.store.profiles(wanted)
            with self._lock:
                self._cache.update(found)

    def clear(self) -> None:
        """Forget every cached record."""
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        return f"StoredProfiles({self.store!r})"


def layered(
    first: Callable[[str], Profile | None], then: Callable[[str], Profile | None]
) -> Callable[[str], Profile | None]:
    """A profile source that takes each field from ``first`` (e.g. a message's own facts) and
    fills the fields it leaves unset from ``then`` (e.g. :class:`StoredProfiles`)."""

    def profile(address: str) -> Profile | None:
        over, under = first(address), then(address)
        if over is None or under is None:
            return over if under is None else under
        return Profile(
            **{
                name: getattr(over, name)
                if getattr(over, name) is not None
                else getattr(under, name)
                for name in _FIELDS
            }
        )

    return profile
