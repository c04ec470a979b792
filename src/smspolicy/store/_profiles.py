"""Profiles that live in the store: what a sender knows about each recipient (zone, country,
state, postal code, locale) and the person an address belongs to.

A store that holds profiles implements :class:`ProfileStore` (every store of the library does);
an :class:`smspolicy.Engine` whose store is one reads its profiles and person links from it by
itself, through :class:`StoredProfiles` (a small memo in front of the store). ``forget`` erases
a number's profile with the rest of its records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from .._memo import Memo
from .._recipients import Profile
from .._values import person_id
from ..errors import InvalidInputError, StoreUnavailableError

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
    return person_id(value)


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
    """An engine's profile source read from a :class:`ProfileStore`, with a memo of
    ``cache_size`` addresses (a miss is remembered too) whose entries live ``ttl`` seconds, so
    a profile written or forgotten elsewhere is seen within that time. Call :meth:`clear` to
    see it at once. ``SMSPOLICY_NO_CACHE=1`` turns the memo off (every lookup reads the store).

    A failing read raises :class:`smspolicy.errors.StoreUnavailableError`: the engine fails
    closed, as for any other store read.
    """

    def __init__(self, store: ProfileStore, *, cache_size: int = 4096, ttl: float = 60.0) -> None:
        if not isinstance(store, ProfileStore):
            raise InvalidInputError(f"{store!r} does not keep profiles (no upsert_profiles)")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise InvalidInputError(f"cache_size must be a positive int, got {cache_size!r}")
        if not isinstance(ttl, int | float) or ttl < 0:
            raise InvalidInputError(f"ttl must be a number of seconds (0 or more), got {ttl!r}")
        self.store = store
        self.ttl = float(ttl)
        self._memo = Memo(cache_size)

    def _read(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        try:
            found = self.store.profiles(addresses)
        except StoreUnavailableError:
            raise
        except Exception as error:  # any backend failure: the caller fails closed
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error
        expires = time.monotonic() + self.ttl
        for address in addresses:
            self._memo.put(address, (found.get(address), expires))
        return found

    def record(self, address: str) -> ProfileRecord | None:
        """The address's stored record (profile and person), or None."""
        entry: tuple[ProfileRecord | None, float] | None = self._memo.entries.get(address)  # type: ignore[assignment]
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        return self._read([address]).get(address)

    def __call__(self, address: str) -> Profile | None:
        found = self.record(address)
        return None if found is None else found.profile

    def person(self, address: str) -> str | None:
        """The person the address belongs to, if one was stored."""
        found = self.record(address)
        return None if found is None else found.person

    def remembered(
        self, addresses: Iterable[str]
    ) -> tuple[dict[str, ProfileRecord | None], list[str]]:
        """The records of the addresses remembered now, and the other addresses (in order,
        without repeats): those a :meth:`prefetch` would read from the store."""
        out: dict[str, ProfileRecord | None] = {}
        wanted: list[str] = []
        # One reading of the clock for all of them: a message decided alone asks for one or
        # two addresses, so the fixed cost is most of the cost.
        entries = self._memo.entries
        now = time.monotonic()
        for address in dict.fromkeys(addresses):
            entry: tuple[ProfileRecord | None, float] | None = entries.get(address)  # type: ignore[assignment]
            if entry is not None and entry[1] > now:
                out[address] = entry[0]
            else:
                wanted.append(address)
        return out, wanted

    def prefetch(self, addresses: Iterable[str]) -> dict[str, ProfileRecord | None]:
        """Many addresses' records, those not remembered read in one store read."""
        out, wanted = self.remembered(addresses)
        if wanted:
            read = self._read(wanted)
            out.update((address, read.get(address)) for address in wanted)
        return out

    def clear(self) -> None:
        """Forget every remembered record."""
        self._memo.clear()

    def __repr__(self) -> str:
        return f"StoredProfiles({self.store!r})"


def layered(
    first: Callable[[str], Profile | None], then: Callable[[str], Profile | None]
) -> Callable[[str], Profile | None]:
    """A profile source that takes each field from ``first`` (e.g. an engine's explicit
    ``profiles=``) and fills the fields it leaves unset from ``then`` (e.g.
    :class:`StoredProfiles`)."""

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
