"""Redis store for the send log, caps, dedupe and reservations at scale (redis-py).

Install with ``pip install smspolicy[redis]``. Every recipient's keys share a hash tag
(``smspolicy:{+12125550123}:...``), so each recipient lives in one Redis Cluster slot and a Lua
script can check-and-reserve atomically: the policy is evaluated on the sends read at version
*v*, and the script stores the reservation only if the recipient's version is still *v*
(otherwise the engine re-reads and decides again). Keys expire after ``retention``.

The consent ledger stays on SQL: pair ``RedisStore`` with :class:`PostgresStore` or
:class:`SQLiteStore` through :class:`ComposedStore`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import redis as redis_lib

from .._records import SendRecord
from ..errors import ConfigurationError, StoreUnavailableError
from ._base import Decide, DecideMany, Settlement
from ._codec import decode_send, encode_send, micros

__all__ = ["RedisStore"]

_RESERVE = """
-- KEYS: sends zset, records hash, version key; ARGV: expected version ('*': any), retention
-- ms, oldest score to keep, then id, score and json of each record to store
local version = tonumber(redis.call('GET', KEYS[3]) or '0')
if ARGV[1] ~= '*' and version ~= tonumber(ARGV[1]) then return 0 end
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
for _, id in ipairs(old) do redis.call('HDEL', KEYS[2], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
for i = 4, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
end
redis.call('INCR', KEYS[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
return 1
"""

_READ = """
-- KEYS: sends zset, records hash, version key; ARGV: oldest score wanted
-- Returns the version, then each send's id and record, oldest first (false: no record).
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
local out = {redis.call('GET', KEYS[3]) or '0'}
for first = 1, #ids, 1000 do  -- in chunks: unpack has a limit on how many values it returns
  local last = math.min(first + 999, #ids)
  local texts = redis.call('HMGET', KEYS[2], unpack(ids, first, last))
  for i = first, last do
    out[#out + 1] = ids[i]
    out[#out + 1] = texts[i - first + 1]
  end
end
return out
"""

_SETTLE = """
-- KEYS: sends zset, records hash, version key; ARGV: id, new json or '' to drop, retention ms
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return 0 end
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
redis.call('INCR', KEYS[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return 1
"""

_ERRORS = (redis_lib.RedisError, OSError)


class RedisStore:
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
        self.prefix = prefix
        self.retention = retention
        self.max_attempts = max_attempts
        self._reserve = self._redis.register_script(_RESERVE)
        self._settle = self._redis.register_script(_SETTLE)
        self._read_script = self._redis.register_script(_READ)

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"

    def close(self) -> None:
        """Close the client's connections."""
        self._redis.close()

    def _keys(self, number: str) -> list[str]:
        tag = f"{self.prefix}:{{{number}}}"
        return [f"{tag}:sends", f"{tag}:records", f"{tag}:version"]

    def _index(self, record: SendRecord) -> str:
        return f"{self.prefix}:{{{record.number}}}:index"

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

    def record_send(self, record: SendRecord) -> SendRecord:
        # A send that happened is logged whatever the version: nothing was decided on it.
        self._write(record, "*")
        return record

    def _write(self, record: SendRecord, version: int | str) -> bool:
        stored = self._call("reserve", self._reserve_script, record.number, version, [record])
        if stored and record.person:
            self._index_persons([record])
        return bool(stored)

    def _reserve_script(
        self,
        number: str,
        version: int | str,
        records: Sequence[SendRecord],
        client: Any = None,
    ) -> Any:
        """Store ``records`` for ``number`` if its version is still ``version`` (on ``client``,
        a pipeline, when given)."""
        args: list[Any] = [version, self._retention_ms, self._oldest(records[0].at)]
        for record in records:
            args += [record.id, micros(record.at), encode_send(record)]
        return self._reserve(keys=self._keys(number), args=args, client=client)

    def _index_persons(self, records: Sequence[SendRecord]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for record in records:
            key = self._person_key(record.person or "")
            pipe.zadd(key, {f"{record.number}|{record.id}": micros(record.at)})
            pipe.pexpire(key, self._retention_ms)
        self._call("person index", pipe.execute)

    def _read(self, number: str, *, since: dt.datetime) -> tuple[int, list[SendRecord]]:
        return self._read_many([number], since)[0]

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
        """Each number's version and sends (oldest first), one script per number, all in one
        round trip. A script runs atomically, so version and sends agree."""
        pipe = self._redis.pipeline(transaction=False)
        for number in numbers:
            self._read_script(keys=self._keys(number), args=[micros(since)], client=pipe)
        replies = self._call("read", pipe.execute)
        return [
            (int(reply[0]), self._decode(number, reply[1:]))
            for number, reply in zip(numbers, replies, strict=True)
        ]

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

    def reserve(self, number: str, *, since: dt.datetime, decide: Decide) -> SendRecord | None:
        for _ in range(self.max_attempts):
            version, records = self._read(number, since=since)
            record = decide(records)
            if record is None:
                return None
            if self._write(record, version):
                return record
        raise StoreUnavailableError("Redis: too much contention reserving a send")

    def reserve_many(
        self, numbers: Sequence[str], *, since: dt.datetime, decide: DecideMany
    ) -> dict[str, list[SendRecord]]:
        todo = list(dict.fromkeys(numbers))
        stored: dict[str, list[SendRecord]] = {}
        for _ in range(self.max_attempts):
            if not todo:
                return stored
            writes: list[tuple[str, list[SendRecord]]] = []
            pipe = self._redis.pipeline(transaction=False)
            for number, (version, records) in zip(todo, self._read_many(todo, since), strict=True):
                holds = decide(number, records)
                if holds:
                    self._reserve_script(number, version, holds, client=pipe)
                    writes.append((number, holds))
                else:
                    stored[number] = []
            results = self._call("reserve", pipe.execute) if writes else []
            todo = []
            for (number, holds), landed in zip(writes, results, strict=True):
                if landed:
                    stored[number] = holds
                else:  # another writer got there first: read again and decide again
                    todo.append(number)
            persons = [r for number, holds in writes if number in stored for r in holds if r.person]
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
        pipe = self._redis.pipeline(transaction=False)
        for record, provider_id, sent in settlements:
            new = encode_send(record.as_sent(provider_id)) if sent else ""
            self._settle(
                keys=self._keys(record.number),
                args=[record.id, new, self._retention_ms],
                client=pipe,
            )
        if settlements:
            self._call("settle", pipe.execute)

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        key = f"{self.prefix}:{{{number}}}:engagement"
        value = json.dumps({"at": at.isoformat(), "kind": kind})
        current = self._call("read", self._redis.get, key)
        if current is None or dt.datetime.fromisoformat(json.loads(current)["at"]) < at:
            self._call("write", self._redis.set, key, value, px=self._retention_ms)

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        pipe = self._redis.pipeline(transaction=False)
        for number in numbers:
            pipe.get(f"{self.prefix}:{{{number}}}:engagement")
        texts = self._call("read", pipe.execute) if numbers else []
        return {
            number: dt.datetime.fromisoformat(json.loads(text)["at"]) if text else None
            for number, text in zip(numbers, texts, strict=True)
        }

    def forget_sends(self, number: str) -> None:
        """Delete every send and the engagement of ``number``."""
        tag = f"{self.prefix}:{{{number}}}"
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
