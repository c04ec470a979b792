"""Redis store for the send log, caps, dedupe and reservations at scale (redis-py).

Install with ``pip install smspolicy[redis]``. Every recipient's keys share a hash tag
(``smspolicy:{+12125550123}:...``), so each recipient lives in one Redis Cluster slot and a Lua
script can check-and-reserve atomically: the policy is evaluated on the sends read at version
*v*, and the script stores the reservation only if the recipient's version is still *v*
(otherwise the engine re-reads and decides again). Keys expire after ``retention``.

Every write gives the recipient a new random version, so a version names one state of its sends:
the store remembers the sends it last saw of each recipient (bounded), and a read of a recipient
whose version has not moved brings back only the version.

The consent ledger stays on SQL: pair ``RedisStore`` with :class:`PostgresStore` or
:class:`SQLiteStore` through :class:`ComposedStore`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
import threading
from collections.abc import Sequence
from typing import Any

import redis as redis_lib

from .._records import SendRecord
from ..errors import ConfigurationError, StoreUnavailableError
from ._base import BatchBacked, DecideMany, Settlement
from ._codec import decode_send, encode_send, micros

__all__ = ["RedisStore"]

# Each script works on one or more numbers, three keys each (sends zset, records hash, version
# key): on standalone Redis a whole batch goes in one call; on Redis Cluster, where one script may
# only touch one slot, each number gets its own call in a pipeline.

_RESERVE = """
-- ARGV: retention ms, then for each number: expected version ('*': any), the new version, oldest
-- score to keep, how many records, and each record's id, score and json. Returns 1 (stored) or 0
-- (the version moved) for each number.
local result, a = {}, 2
for k = 1, #KEYS, 3 do
  local expected, new, oldest, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  a = a + 4
  local version = tonumber(redis.call('GET', KEYS[k + 2]) or '0')
  if expected ~= '*' and version ~= tonumber(expected) then
    result[#result + 1] = 0
  else
    local old = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', '(' .. oldest)
    for _, id in ipairs(old) do redis.call('HDEL', KEYS[k + 1], id) end
    redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', '(' .. oldest)
    for j = a, a + 3 * (n - 1), 3 do
      redis.call('ZADD', KEYS[k], ARGV[j + 1], ARGV[j])
      redis.call('HSET', KEYS[k + 1], ARGV[j], ARGV[j + 2])
    end
    redis.call('SET', KEYS[k + 2], new)
    for i = k, k + 2 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
    result[#result + 1] = 1
  end
  a = a + 3 * n
end
return result
"""

_READ = """
-- ARGV: oldest score wanted, then for each number the version the client already has ('':
-- none). Returns for each number 1 when it is still that version (a number, not a table: most
-- numbers of a busy batch are unchanged), else {version, then each send's id and record,
-- oldest first (false: no record)}.
local result, a = {}, 1
for k = 1, #KEYS, 3 do
  a = a + 1
  local known = ARGV[a]
  local version = redis.call('GET', KEYS[k + 2]) or '0'
  if version == known then
    result[a - 1] = 1
  else
    local ids = redis.call('ZRANGEBYSCORE', KEYS[k], ARGV[1], '+inf')
    local out = {version}
    for first = 1, #ids, 1000 do  -- in chunks: unpack has a limit on how many values it returns
      local last = math.min(first + 999, #ids)
      local texts = redis.call('HMGET', KEYS[k + 1], unpack(ids, first, last))
      for i = first, last do
        out[#out + 1] = ids[i]
        out[#out + 1] = texts[i - first + 1]
      end
    end
    result[a - 1] = out
  end
end
return result
"""

_SETTLE = """
-- ARGV: retention ms, then for each record its id, new json ('' to drop it) and the number's new
-- version. A record that is no longer there (forgotten) is left alone. Returns for each record
-- the number's version before it was settled, or false when it was left alone.
local result, a = {}, 2
for k = 1, #KEYS, 3 do
  local id, new, version = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  a = a + 3
  if redis.call('HEXISTS', KEYS[k + 1], id) == 1 then
    result[#result + 1] = redis.call('GET', KEYS[k + 2]) or '0'
    if new == '' then
      redis.call('ZREM', KEYS[k], id)
      redis.call('HDEL', KEYS[k + 1], id)
    else
      redis.call('HSET', KEYS[k + 1], id, new)
    end
    redis.call('SET', KEYS[k + 2], version)
    for i = k, k + 2 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  else
    result[#result + 1] = false
  end
end
return result
"""

_ERRORS = (redis_lib.RedisError, OSError)

_Seen = tuple[int, int, tuple[SendRecord, ...]]
"""A number's version, the oldest score read, and its sends from that score on (oldest first)."""


@functools.lru_cache(maxsize=65_536)  # every read of a batch names every number's keys
def _number_keys(prefix: str, number: str) -> tuple[str, str, str]:
    """A number's sends, records and version keys, under one hash tag."""
    tag = f"{prefix}:{{{number}}}"
    return (f"{tag}:sends", f"{tag}:records", f"{tag}:version")


def _new_version() -> int:
    """A fresh version: random (52 bits, exact in Lua's numbers), so that no two states of a
    recipient's sends share one, even across a forget, an expiry or a failover."""
    return secrets.randbits(52) + 1


def _send_order(record: SendRecord) -> tuple[dt.datetime, str]:
    return (record.at, record.id)


def _settled(
    seen: _Seen | None, before: int, new: int, record_id: str, settled: SendRecord | None
) -> _Seen | None:
    """What was seen of a number after one of its records was settled at version ``before``
    (None when what was seen is not that version)."""
    if seen is None or seen[0] != before:
        return None
    records: list[SendRecord] = []
    for record in seen[2]:
        if record.id != record_id:
            records.append(record)
        elif settled is not None:
            records.append(settled)
    return (new, seen[1], tuple(records))


class RedisStore(BatchBacked):
    """Send log, reservations and engagement in Redis (standalone or Cluster)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis_lib.Redis | None = None,
        prefix: str = "smspolicy",
        retention: dt.timedelta = dt.timedelta(days=400),
        max_attempts: int = 64,
        timeout: float = 5.0,
        remembered: int = 100_000,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("give RedisStore either a url or a client")
        if not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError(f"prefix must be non-empty text without braces: {prefix!r}")
        if client is None:
            client = redis_lib.Redis.from_url(
                url or "",
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=True,
            )
        self._redis = client
        self._cluster = isinstance(client, redis_lib.RedisCluster)
        self.prefix = prefix
        self.retention = retention
        self.max_attempts = max_attempts
        self._reserve = self._redis.register_script(_RESERVE)
        self._settle = self._redis.register_script(_SETTLE)
        self._read_script = self._redis.register_script(_READ)
        if not isinstance(remembered, int) or remembered < 0:
            raise ConfigurationError(f"remembered must be a whole number >= 0: {remembered!r}")
        self.remembered = remembered
        # number -> (version, oldest score read, that number's sends from that score on); the
        # size counts each number once and each of its sends once.
        self._seen: dict[str, _Seen] = {}
        self._seen_size = 0
        self._seen_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"

    def close(self) -> None:
        """Close the client's connections."""
        self._redis.close()

    def _keys(self, number: str) -> tuple[str, str, str]:
        return _number_keys(self.prefix, number)

    def _person_key(self, person: str) -> str:
        return f"{self.prefix}:{{person:{person}}}:sends"

    @property
    def _retention_ms(self) -> int:
        return int(self.retention.total_seconds() * 1000)

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except _ERRORS as error:
            raise StoreUnavailableError(f"Redis {what}: {type(error).__name__}: {error}") from error

    def _oldest(self, now: dt.datetime) -> int:
        return micros(now - self.retention)

    def _remember(self, number: str, seen: _Seen | None) -> None:
        """Keep (or, with None, drop) what this store knows of ``number``'s sends; past
        ``remembered`` numbers and sends in all, it starts over."""
        with self._seen_lock:
            old = self._seen.pop(number, None)
            if old is not None:
                self._seen_size -= 1 + len(old[2])
            # Version 0 is a number without keys: not a state to trust a cache with.
            if seen is None or seen[0] == 0:
                return
            size = 1 + len(seen[2])
            if self._seen_size + size > self.remembered:
                self._seen.clear()
                self._seen_size = 0
                if size > self.remembered:
                    return
            self._seen[number] = seen
            self._seen_size += size

    def record_send(self, record: SendRecord) -> SendRecord:
        # A send that happened is logged whatever the version: nothing was decided on it.
        self._reserve_groups([(record.number, "*", [record])])
        self._remember(record.number, None)
        if record.person:
            self._index_persons([record])
        return record

    def _groups(
        self, script: Any, what: str, shared: list[Any], groups: list[tuple[str, list[Any]]]
    ) -> list[Any]:
        """Run ``script`` over ``groups`` of (number, that number's arguments): one call on
        standalone Redis, one call per number in a pipeline on Redis Cluster. Returns the
        script's answer for each number, in order."""
        if not groups:
            return []
        if not self._cluster:
            keys = [key for number, _args in groups for key in _number_keys(self.prefix, number)]
            args = shared + [arg for _number, group in groups for arg in group]
            return list(self._call(what, script, keys=keys, args=args))
        pipe = self._redis.pipeline(transaction=False)
        for number, group in groups:
            script(keys=list(self._keys(number)), args=shared + group, client=pipe)
        return [answer for answers in self._call(what, pipe.execute) for answer in answers]

    def _reserve_groups(
        self, writes: list[tuple[str, int | str, list[SendRecord]]]
    ) -> list[int | None]:
        """Store each number's records if its version is still the one given ('*': any);
        returns each number's new version, or None where the version had moved."""
        groups: list[tuple[str, list[Any]]] = []
        versions = [_new_version() for _ in writes]
        for (number, version, records), new in zip(writes, versions, strict=True):
            group: list[Any] = [version, new, self._oldest(records[0].at), len(records)]
            for record in records:
                group += [record.id, micros(record.at), encode_send(record)]
            groups.append((number, group))
        answers = self._groups(self._reserve, "reserve", [self._retention_ms], groups)
        return [new if answer else None for new, answer in zip(versions, answers, strict=True)]

    def _index_persons(self, records: Sequence[SendRecord]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for record in records:
            key = self._person_key(record.person or "")
            pipe.zadd(key, {f"{record.number}|{record.id}": micros(record.at)})
            pipe.pexpire(key, self._retention_ms)
        self._call("person index", pipe.execute)

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        plain = [key for key in numbers if not key.startswith("person:")]
        result = {
            number: records
            for number, (_version, records) in zip(
                plain, self._read_many(plain, since) if plain else [], strict=True
            )
        }
        for key in numbers:
            if key.startswith("person:"):
                result[key] = self._person_sends(key.removeprefix("person:"), since)
        return result

    def _read_many(
        self, numbers: Sequence[str], since: dt.datetime
    ) -> list[tuple[int, list[SendRecord]]]:
        """Each number's version and sends (oldest first) in one round trip; a script runs
        atomically, so version and sends agree. A number whose version is the one this store
        last saw comes back as the version alone, and its sends from what was seen."""
        floor = micros(since)
        seen = [self._seen.get(number) for number in numbers]
        known = [[str(s[0]) if s is not None and s[1] <= floor else ""] for s in seen]
        replies = self._groups(
            self._read_script, "read", [floor], list(zip(numbers, known, strict=True))
        )
        out: list[tuple[int, list[SendRecord]]] = []
        for number, was, reply in zip(numbers, seen, replies, strict=True):
            if not isinstance(reply, list):  # unchanged: what was seen still holds
                if was is None:
                    raise StoreUnavailableError(f"Redis: {number} unchanged from no version")
                out.append((was[0], [r for r in was[2] if r.at >= since]))
                continue
            version = int(reply[0])
            records = self._decode(number, reply[1:])
            self._remember(number, (version, floor, tuple(records)))
            out.append((version, records))
        return out

    @staticmethod
    def _decode(number: str, pairs: list[Any]) -> list[SendRecord]:
        ids, texts = pairs[0::2], pairs[1::2]
        missing = [i for i, text in zip(ids, texts, strict=True) if text is None]
        if missing:  # never undercount a cap: an index without its record is a broken store
            raise StoreUnavailableError(f"Redis: sends {missing[:3]} of {number} have no record")
        return [decode_send(text) for text in texts]

    def _person_sends(self, person: str, since: dt.datetime) -> list[SendRecord]:
        members = self._call(
            "read", self._redis.zrangebyscore, self._person_key(person), micros(since), "+inf"
        )
        found: list[SendRecord] = []
        for member in members:
            number, _, record_id = member.rpartition("|")
            text = self._call("read", self._redis.hget, self._keys(number)[1], record_id)
            if text is not None:
                found.append(decode_send(text))
        return sorted(found, key=lambda r: (r.at, r.id))

    def _reserve_batch(
        self, numbers: Sequence[str], *, since: dt.datetime, decide: DecideMany
    ) -> dict[str, list[SendRecord]]:
        todo = list(dict.fromkeys(numbers))
        stored: dict[str, list[SendRecord]] = {}
        floor = micros(since)
        for _ in range(self.max_attempts):
            if not todo:
                return stored
            writes: list[tuple[str, int | str, list[SendRecord]]] = []
            read: dict[str, list[SendRecord]] = {}
            for number, (version, records) in zip(todo, self._read_many(todo, since), strict=True):
                holds = decide(number, list(records))  # decide may change its list
                if holds:
                    writes.append((number, version, holds))
                    read[number] = records
                else:
                    stored[number] = []
            todo = []
            for (number, _version, holds), new in zip(
                writes, self._reserve_groups(writes), strict=True
            ):
                if new is None:  # another writer got there first: read again and decide again
                    todo.append(number)
                    continue
                stored[number] = holds
                # The write replaced exactly the state read: that state plus the holds, unless
                # it also dropped records too old to keep from inside the window read.
                kept = self._oldest(holds[0].at) <= floor
                after = tuple(sorted([*read[number], *holds], key=_send_order))
                self._remember(number, (new, floor, after) if kept else None)
            persons = [r for n, _v, holds in writes if n in stored for r in holds if r.person]
            if persons:
                self._index_persons(persons)
        if todo:
            raise StoreUnavailableError("Redis: too much contention reserving sends")
        return stored

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        self.settle_many([(record, provider_id, sent)])

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        # The held record is the one this store wrote, so the settled one is built here; the
        # script only applies it if the hold is still there (it may have been forgotten).
        groups: list[tuple[str, list[Any]]] = []
        changes: list[tuple[str, str, SendRecord | None, int]] = []
        for record, pid, sent in settlements:
            settled = record.as_sent(pid) if sent else None
            new = _new_version()
            text = "" if settled is None else encode_send(settled)
            groups.append((record.number, [record.id, text, new]))
            changes.append((record.number, record.id, settled, new))
        answers = self._groups(self._settle, "settle", [self._retention_ms], groups)
        for (number, record_id, settled, new), before in zip(changes, answers, strict=True):
            if before is not None:  # settled: what was seen at the version before moves on
                self._remember(
                    number, _settled(self._seen.get(number), int(before), new, record_id, settled)
                )

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        key = f"{self.prefix}:{{{number}}}:engagement"
        value = json.dumps({"at": at.isoformat(), "kind": kind})
        current = self._call("read", self._redis.get, key)
        if current is None or dt.datetime.fromisoformat(json.loads(current)["at"]) < at:
            self._call("write", self._redis.set, key, value, px=self._retention_ms)

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        keys = [f"{self.prefix}:{{{number}}}:engagement" for number in numbers]
        texts: list[str | None] = []
        if keys and not self._cluster:  # one command; on Cluster the keys span slots
            texts = self._call("read", self._redis.mget, keys)
        elif keys:
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.get(key)
            texts = self._call("read", pipe.execute)
        return {
            number: dt.datetime.fromisoformat(json.loads(text)["at"]) if text else None
            for number, text in zip(numbers, texts, strict=True)
        }

    def forget_sends(self, number: str) -> None:
        """Delete every send and the engagement of ``number``."""
        tag = f"{self.prefix}:{{{number}}}"
        self._remember(number, None)
        self._call("forget", self._redis.delete, *self._keys(number), f"{tag}:engagement")

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        text = self._call("read", self._redis.get, f"{self.prefix}:cache:{key}")
        if text is None:
            return None
        value, expires = json.loads(text)
        return str(value) if dt.datetime.fromisoformat(expires) > now else None

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        ttl = max(1, int((expires - dt.datetime.now(dt.UTC)).total_seconds() * 1000))
        payload = json.dumps([value, expires.isoformat()])
        self._call("write", self._redis.set, f"{self.prefix}:cache:{key}", payload, px=ttl)
