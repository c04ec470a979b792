"""Redis store for the send log, caps, dedupe and reservations at scale (redis-py).

Install with ``pip install smspolicy[redis]``. Every recipient's keys share a hash tag
(``smspolicy:{+12125550123}:...``), so each recipient lives in one Redis Cluster slot and a Lua
script can check-and-reserve atomically: the policy is evaluated on the sends read at version
*v*, and the script stores the reservation only if the recipient's version is still *v*
(otherwise the engine re-reads and decides again). Keys expire after ``retention``.

Every write gives the recipient a new random version, so a version names one state of its sends:
the store remembers the sends it last saw of each recipient (bounded), and a read of a recipient
whose version has not moved brings back only the version.

A person (``Message.person``) has keys of the same shape in a namespace of its own
(``smspolicy:person:{ID}:...``: an address's keys always begin ``smspolicy:{``), holding a copy
of each of the person's sends. A reservation for a person writes the person's copies first, on
condition that the person's version is the one its decision read, then the address's records on
the same condition; if the second write loses a race, the copies are taken back and the
reservation is decided again. Every writer of a person's sends goes through the person's
version, so a person's cap holds across numbers and processes, also on Redis Cluster, where the
person's keys live in another slot than the address's.

The consent ledger stays on SQL: pair ``RedisStore`` with :class:`PostgresStore` or
:class:`SQLiteStore` through :class:`ComposedStore`.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import redis as redis_lib
from redis.exceptions import NoScriptError

from .._memo import CACHES, lru
from .._records import SendRecord
from ..errors import ConfigurationError, StoreUnavailableError
from ._base import (
    Counters,
    DecideMany,
    HoldsByBatch,
    PersonsOf,
    Settlement,
    Snapshot,
    decide_in_order,
    send_order,
)
from ._codec import decode_send, encode_send, micros
from ._profiles import ProfileRecord, decode_profile, encode_profile

__all__ = ["RedisStore"]

# Each script works on one or more numbers, three keys each (sends zset, records hash, version
# key): on standalone Redis a whole batch goes in one call; on Redis Cluster, where one script may
# only touch one slot, each number gets its own call in a pipeline.

_CLAIM_SLOT = """
local last = redis.call('GET', KEYS[1])
local slot = tonumber(ARGV[1])
if last then
    local next_free = tonumber(last) + tonumber(ARGV[2])
    if next_free > slot then slot = next_free end
end
redis.call('SET', KEYS[1], string.format('%d', slot), 'PX', ARGV[3])
return string.format('%d', slot)
"""

_SENDS_FROM = """
-- A number's version and its sends from a score on, oldest first, as one table: {version, then
-- each send's id and record (false: no record)}.
local function sends_from(sends, records, version, floor)
  local ids = redis.call('ZRANGEBYSCORE', sends, floor, '+inf')
  local out = {version}
  for first = 1, #ids, 1000 do  -- in chunks: unpack has a limit on how many values it returns
    local last = math.min(first + 999, #ids)
    local texts = redis.call('HMGET', records, unpack(ids, first, last))
    for i = first, last do
      out[#out + 1] = ids[i]
      out[#out + 1] = texts[i - first + 1]
    end
  end
  return out
end
"""

_RESERVE = (
    _SENDS_FROM
    + """
-- ARGV: retention ms, the oldest score to read back where the version moved ('': none), then
-- for each number: expected version ('*': any), the new version, oldest score to keep, how many
-- records, and each record's id, score and json. Returns for each number 1 (stored), or where
-- the version moved, 0, or with a score to read back, its version and sends from that score on
-- (see sends_from): read in the same script, they are what a read would have found.
local result, a = {}, 3
for k = 1, #KEYS, 3 do
  local expected, new, oldest, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  a = a + 4
  local version = redis.call('GET', KEYS[k + 2]) or '0'
  if expected ~= '*' and tonumber(version) ~= tonumber(expected) then
    if ARGV[2] == '' then
      result[#result + 1] = 0
    else
      result[#result + 1] = sends_from(KEYS[k], KEYS[k + 1], version, ARGV[2])
    end
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
)

_READ = (
    _SENDS_FROM
    + """
-- ARGV: oldest score wanted, then for each number the version the client already has ('':
-- none). Returns for each number 1 when it is still that version (a number, not a table: most
-- numbers of a busy batch are unchanged), else its version and sends (see sends_from).
local result, a = {}, 1
for k = 1, #KEYS, 3 do
  a = a + 1
  local known = ARGV[a]
  local version = redis.call('GET', KEYS[k + 2]) or '0'
  if version == known then
    result[a - 1] = 1
  else
    result[a - 1] = sends_from(KEYS[k], KEYS[k + 1], version, ARGV[1])
  end
end
return result
"""
)

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

_FORGET_PERSON = """
-- KEYS: a person's sends, records and version keys. ARGV: an address, the person's new version,
-- retention ms. Removes the person's copies of that address's sends; returns how many.
local removed, all = 0, redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local ok, record = pcall(cjson.decode, all[i + 1])
  if ok and type(record) == 'table' and record['number'] == ARGV[1] then
    redis.call('ZREM', KEYS[1], all[i])
    redis.call('HDEL', KEYS[2], all[i])
    removed = removed + 1
  end
end
if removed > 0 then
  redis.call('SET', KEYS[3], ARGV[2])
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
end
return removed
"""

_ERRORS = (redis_lib.RedisError, OSError)
_CACHE_FLOOR_MS = 3_600_000

_Seen = tuple[int, int, tuple[SendRecord, ...]]
"""A number's version, the oldest score read, and its sends from that score on (oldest first)."""


_Keys = tuple[str, str, str]
"""The sends (sorted set), records (hash) and version keys of an address or a person."""

_Queued = tuple[int, Any, list[str], list[Any]]
"""A script call queued on a pipeline: its place there, the script, its keys and arguments."""


@lru(65_536)  # every read of a batch names every number's keys
def _number_keys(prefix: str, number: str) -> _Keys:
    """A number's sends, records and version keys, under one hash tag (``prefix:{number}``)."""
    tag = f"{prefix}:{{{number}}}"
    return (f"{tag}:sends", f"{tag}:records", f"{tag}:version")


@lru(4096)
def _person_keys(prefix: str, person: str) -> _Keys:
    """A person's keys: ``prefix:person:{id}:...``, never the keys of an address (those begin
    ``prefix:{``), whatever the address and the id."""
    tag = f"{prefix}:person:{{{person}}}"
    return (f"{tag}:sends", f"{tag}:records", f"{tag}:version")


def _glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis glob pattern."""
    return "".join("\\" + c if c in "\\*?[]^" else c for c in text)


def _new_version() -> int:
    """A fresh version: random (52 bits, exact in Lua's numbers), so that no two states of a
    recipient's sends share one, even across a forget, an expiry or a failover."""
    return secrets.randbits(52) + 1


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


class RedisStore(HoldsByBatch, Counters):
    """Send log, reservations, engagement and lookup cache in Redis (standalone or Cluster).

    It holds no consent ledger, so it is not a store an :class:`smspolicy.Engine` can use alone:
    pair it with one through :class:`smspolicy.store.ComposedStore`.
    """

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
        self._forget_person = self._redis.register_script(_FORGET_PERSON)
        self._claim_slot = self._redis.register_script(_CLAIM_SLOT)
        if not isinstance(remembered, int) or remembered < 0:
            raise ConfigurationError(f"remembered must be a whole number >= 0: {remembered!r}")
        # With every cache off (SMSPOLICY_NO_CACHE=1) the store remembers nothing.
        self.remembered = remembered if CACHES else 0
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

    def _keys(self, number: str) -> _Keys:
        return _number_keys(self.prefix, number)

    def _person_keys(self, person: str) -> _Keys:
        return _person_keys(self.prefix, person)

    def _persons_key(self, number: str) -> str:
        """The set of persons whose keys hold copies of ``number``'s sends (for forget). It
        lives twice the retention: a person's copy outlives its address's keys by at most one
        retention."""
        return f"{self.prefix}:{{{number}}}:persons"

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
        groups = [(self._keys(record.number), self._write_args("*", [record])[0])]
        if record.person is None:
            self._groups(self._reserve, "reserve", [self._retention_ms, ""], groups)
        else:
            person = (self._person_keys(record.person), self._write_args("*", [record])[0])
            pipe = self._redis.pipeline(transaction=False)
            self._note_persons(pipe, {record.number: {record.person}})
            self._groups(
                self._reserve, "reserve", [self._retention_ms, ""], [person, *groups], pipe
            )
        self._remember(record.number, None)
        return record

    def _note_persons(self, pipe: Any, persons: dict[str, set[str]]) -> None:
        """Queue on ``pipe`` the notes of which persons will hold copies of which numbers'
        sends, before the copies are written."""
        for number, names in persons.items():
            pipe.sadd(self._persons_key(number), *sorted(names))
            pipe.pexpire(self._persons_key(number), 2 * self._retention_ms)

    def _groups(
        self,
        script: Any,
        what: str,
        shared: list[Any],
        groups: list[tuple[_Keys, list[Any]]],
        pipe: Any = None,
    ) -> list[Any]:
        """Run ``script`` over ``groups`` of (keys, their arguments): one call on standalone
        Redis, one call per group in a pipeline on Redis Cluster. Returns the script's answer
        for each group, in order. With ``pipe``, the calls join the commands already queued on
        it (their answers are not returned)."""
        if not groups:
            return []
        queued = 0 if pipe is None else len(pipe)
        if not self._cluster and pipe is None:
            keys = [key for group_keys, _args in groups for key in group_keys]
            args = shared + [arg for _keys, group in groups for arg in group]
            return list(self._call(what, script, keys=keys, args=args))
        pipe = self._redis.pipeline(transaction=False) if pipe is None else pipe
        calls: list[_Queued] = []
        self._queue(script, shared, groups, pipe, calls)
        answers = self._execute(what, pipe, calls)[queued:]
        return [answer for each in answers for answer in each]

    def _queue(
        self,
        script: Any,
        shared: list[Any],
        groups: list[tuple[_Keys, list[Any]]],
        pipe: Any,
        calls: list[_Queued],
    ) -> int:
        """Queue ``script`` over ``groups`` on ``pipe`` (one call, or one per group on Redis
        Cluster), noting each call in ``calls``; returns how many commands were queued.

        The calls are queued as EVALSHA of the script's digest, not as the script object: with
        a script object queued, redis-py asks the server whether its scripts exist before every
        pipeline, one more round trip each time. A call the server answers NOSCRIPT (it never
        ran) is run again by :meth:`_execute`, which loads the script."""
        if not self._cluster:
            keys = [key for group_keys, _args in groups for key in group_keys]
            batches = [(keys, shared + [arg for _keys, group in groups for arg in group])]
        else:
            batches = [(list(group_keys), shared + group) for group_keys, group in groups]
        for keys, args in batches:
            calls.append((len(pipe), script, keys, args))
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        return len(batches)

    def _execute(self, what: str, pipe: Any, calls: list[_Queued]) -> list[Any]:
        """Send ``pipe``'s commands; a script call answered NOSCRIPT (the server's scripts were
        flushed: it did not run) runs again on its own, loading its script. Any other error
        raises :class:`StoreUnavailableError`."""
        answers = list(self._call(what, pipe.execute, raise_on_error=False))
        for index, script, keys, args in calls:
            if isinstance(answers[index], NoScriptError):
                answers[index] = self._call(what, script, keys=keys, args=args)
        for answer in answers:
            if isinstance(answer, Exception):
                raise StoreUnavailableError(
                    f"Redis {what}: {type(answer).__name__}: {answer}"
                ) from answer
        return answers

    def _write_args(self, version: int | str, records: list[SendRecord]) -> tuple[list[Any], int]:
        """The reserve script's arguments for storing ``records`` if the keys' version is still
        ``version`` ('*': any), and the new version they get."""
        new = _new_version()
        group: list[Any] = [version, new, self._oldest(records[0].at), len(records)]
        for record in records:
            group += [record.id, micros(record.at), encode_send(record)]
        return group, new

    def sends(self, numbers: Sequence[str], *, since: dt.datetime) -> dict[str, list[SendRecord]]:
        distinct = list(dict.fromkeys(numbers))
        read = self._read_many(distinct, since) if distinct else []
        return {n: records for n, (_v, records) in zip(distinct, read, strict=True)}

    def person_sends(
        self, persons: Sequence[str], *, since: dt.datetime
    ) -> dict[str, list[SendRecord]]:
        distinct = list(dict.fromkeys(persons))
        read = self._read_many([], since, distinct) if distinct else []
        return {p: records for p, (_v, records) in zip(distinct, read, strict=True)}

    def _read_many(
        self, numbers: Sequence[str], since: dt.datetime, persons: Sequence[str] = ()
    ) -> list[tuple[int, list[SendRecord]]]:
        """Each number's, then each person's, version and sends (oldest first) in one round
        trip; a script runs atomically, so version and sends agree. A number whose version is
        the one this store last saw comes back as the version alone, and its sends from what
        was seen. (Persons are read whole.)"""
        groups, seen = self._read_groups(numbers, since, persons)
        replies = self._groups(self._read_script, "read", [micros(since)], groups)
        return self._read_replies(numbers, since, persons, seen, replies)

    def _read_groups(
        self, numbers: Sequence[str], since: dt.datetime, persons: Sequence[str]
    ) -> tuple[list[tuple[_Keys, list[Any]]], list[_Seen | None]]:
        """The read script's groups for ``numbers`` and ``persons``, and what was seen of each
        number (the version it names)."""
        floor = micros(since)
        seen = [self._seen.get(number) for number in numbers]
        known = [[str(s[0]) if s is not None and s[1] <= floor else ""] for s in seen]
        groups = [(self._keys(n), k) for n, k in zip(numbers, known, strict=True)]
        groups += [(self._person_keys(person), [""]) for person in persons]
        return groups, seen

    def _read_replies(
        self,
        numbers: Sequence[str],
        since: dt.datetime,
        persons: Sequence[str],
        seen: list[_Seen | None],
        replies: list[Any],
    ) -> list[tuple[int, list[SendRecord]]]:
        """The read script's replies as each number's, then each person's, version and sends."""
        floor = micros(since)
        out: list[tuple[int, list[SendRecord]]] = []
        for number, was, reply in zip(numbers, seen, replies, strict=False):
            if not isinstance(reply, list):  # unchanged: what was seen still holds
                if was is None:
                    raise StoreUnavailableError(f"Redis: {number} unchanged from no version")
                out.append((was[0], [r for r in was[2] if r.at >= since]))
                continue
            version = int(reply[0])
            records = self._decode(number, reply[1:])
            self._remember(number, (version, floor, tuple(records)))
            out.append((version, records))
        for person, reply in zip(persons, replies[len(numbers) :], strict=True):
            out.append((int(reply[0]), self._decode(f"person {person}", reply[1:])))
        return out

    def snapshot(
        self, numbers: Sequence[str], *, persons: Sequence[str] = (), since: dt.datetime
    ) -> Snapshot:
        """The sends of ``numbers`` and of ``persons`` and the numbers' engagement in one round
        trip: the read script and the engagement keys' read in one pipeline."""
        distinct, wanted = list(dict.fromkeys(numbers)), list(dict.fromkeys(persons))
        if not distinct and not wanted:
            return Snapshot(
                consent={}, suppressed=frozenset(), sends={}, person_sends={}, engagement={}
            )
        groups, seen = self._read_groups(distinct, since, wanted)
        pipe = self._redis.pipeline(transaction=False)
        queued: list[_Queued] = []
        calls = self._queue(self._read_script, [micros(since)], groups, pipe, queued)
        engaged = self._queue_engagement(pipe, distinct)
        answers = self._execute("read", pipe, queued)
        replies = [reply for each in answers[:calls] for reply in each]
        read = self._read_replies(distinct, since, wanted, seen, replies)
        texts = answers[calls] if engaged == 1 else answers[calls:]
        return Snapshot(
            consent={},
            suppressed=frozenset(),
            sends={n: records for n, (_v, records) in zip(distinct, read, strict=False)},
            person_sends={
                p: records for p, (_v, records) in zip(wanted, read[len(distinct) :], strict=True)
            },
            engagement=self._engagement(distinct, texts or []),
        )

    @staticmethod
    def _decode(number: str, pairs: list[Any]) -> list[SendRecord]:
        ids, texts = pairs[0::2], pairs[1::2]
        missing = [i for i, text in zip(ids, texts, strict=True) if text is None]
        if missing:  # never undercount a cap: an index without its record is a broken store
            raise StoreUnavailableError(f"Redis: sends {missing[:3]} of {number} have no record")
        return [decode_send(text) for text in texts]

    def reserve_many(
        self,
        numbers: Sequence[str],
        *,
        since: dt.datetime,
        decide: DecideMany,
        persons: PersonsOf | None = None,
    ) -> dict[str, list[SendRecord]]:
        todo = list(dict.fromkeys(numbers))
        linked = {n: list(dict.fromkeys(persons[n])) for n in todo if persons and n in persons}
        stored: dict[str, list[SendRecord]] = {}
        floor = micros(since)
        # The first attempt decides on what this store remembers when it remembers every
        # number (the batch's snapshot has just read them): a hold is written on condition that
        # its number is still at the version remembered, so a stale memory costs a lost write
        # (which brings back the sends), never a wrong count, and a fresh one saves the read's
        # round trip. A number given no hold on that memory is read and decided again (no write
        # confirms that the memory was current).
        remembered = self._remembered(todo, since) if not linked else None
        # A write that finds the version moved brings back the number's sends as they are
        # now: a number decided again on them needs no read of its own (a number with persons
        # is read again with them: its claims moved their versions).
        moved: dict[str, tuple[int, list[SendRecord]]] = {}
        attempts = 0
        while todo:
            from_memory = remembered is not None
            if remembered is not None:
                read, remembered = remembered, None
                wanted: list[str] = []
            elif attempts < self.max_attempts:
                attempts += 1
                wanted = sorted({person for n in todo for person in linked.get(n, ())})
                unread = [n for n in todo if n not in moved]
                got = self._read_many(unread, since, wanted) if unread or wanted else []
                fresh = dict(zip(unread, got, strict=False))
                read = [moved[n] if n in moved else fresh[n] for n in todo] + got[len(unread) :]
            else:
                raise StoreUnavailableError("Redis: too much contention reserving sends")
            own = {n: records for n, (_v, records) in zip(todo, read, strict=False)}
            versions = {n: version for n, (version, _r) in zip(todo, read, strict=False)}
            theirs = dict(zip(wanted, read[len(todo) :], strict=True))
            decided = decide_in_order(
                todo, linked, own, {p: records for p, (_v, records) in theirs.items()}, decide
            )
            writes = [(n, versions[n], holds) for n, holds in decided.items() if holds]
            unconfirmed = [n for n, holds in decided.items() if not holds and from_memory]
            for n, holds in decided.items():
                if not holds and not from_memory:
                    stored[n] = []
            claimed, lost = self._claim_persons(writes, {p: v for p, (v, _r) in theirs.items()})
            free = [write for write in writes if write[0] not in lost]
            landed, moved = self._reserve_groups(free, since)
            done = dict(zip([w[0] for w in free], landed, strict=True))
            moved = {n: state for n, state in moved.items() if n not in linked}
            self._unclaim([c for c in claimed if done.get(c[0]) is None])
            todo = unconfirmed
            for number, _version, holds in writes:
                new = done.get(number)
                if new is None:  # another writer got there first: decide again on its sends
                    todo.append(number)
                    continue
                stored[number] = holds
                # The write replaced exactly the state read: that state plus the holds, unless
                # it also dropped records too old to keep from inside the window read.
                kept = self._oldest(holds[0].at) <= floor
                replaced = {hold.id for hold in holds}  # a hold may replace a record by id
                before = [r for r in own[number] if r.id not in replaced]
                after = tuple(sorted([*before, *holds], key=send_order))
                self._remember(number, (new, floor, after) if kept else None)
        return stored

    def _remembered(
        self, numbers: Sequence[str], since: dt.datetime
    ) -> list[tuple[int, list[SendRecord]]] | None:
        """Each number's version and sends from ``since`` on, as this store remembers them,
        or None unless it remembers every one of them from ``since`` on."""
        floor = micros(since)
        out: list[tuple[int, list[SendRecord]]] = []
        for number in numbers:
            seen = self._seen.get(number)
            if seen is None or seen[1] > floor:
                return None
            out.append((seen[0], [r for r in seen[2] if r.at >= since]))
        return out

    def _claim_persons(
        self,
        writes: list[tuple[str, int, list[SendRecord]]],
        versions: dict[str, int],
    ) -> tuple[list[tuple[str, str, list[SendRecord]]], set[str]]:
        """Write the copies of the holds of ``writes`` to their persons' keys, each on condition
        that the person's version is the one read (or the one an earlier claim of this batch
        left: the batch's decisions saw those holds). Returns the claims that landed, as
        (number, person, records), and the numbers with a claim that did not."""
        claims: list[tuple[str, str, list[SendRecord]]] = []
        groups: list[tuple[_Keys, list[Any]]] = []
        current: dict[str, int | str] = dict(versions)
        notes: dict[str, set[str]] = {}
        for number, _version, holds in writes:
            by_person: dict[str, list[SendRecord]] = {}
            for hold in holds:
                if hold.person is not None:
                    by_person.setdefault(hold.person, []).append(hold)
            for person, records in by_person.items():
                # A person the decision did not read (not in ``persons``) is written whatever
                # its version, as a send is: nothing was decided on its sends.
                args, written = self._write_args(current.get(person, "*"), records)
                if person in current:
                    current[person] = written
                claims.append((number, person, records))
                groups.append((self._person_keys(person), args))
                notes.setdefault(number, set()).add(person)
        if not claims:
            return [], set()
        pipe = self._redis.pipeline(transaction=False)
        self._note_persons(pipe, notes)
        answers = self._groups(self._reserve, "reserve", [self._retention_ms, ""], groups, pipe)
        landed = [claim for claim, ok in zip(claims, answers, strict=True) if ok]
        lost = {claim[0] for claim, ok in zip(claims, answers, strict=True) if not ok}
        self._unclaim([claim for claim in landed if claim[0] in lost])
        return [claim for claim in landed if claim[0] not in lost], lost

    def _unclaim(self, claims: list[tuple[str, str, list[SendRecord]]]) -> None:
        """Take back copies written to persons' keys for holds that were not stored."""
        groups = [
            (self._person_keys(person), [record.id, "", _new_version()])
            for _number, person, records in claims
            for record in records
        ]
        self._groups(self._settle, "release", [self._retention_ms], groups)

    def _reserve_groups(
        self, writes: Sequence[tuple[str, int | str, list[SendRecord]]], since: dt.datetime
    ) -> tuple[list[int | None], dict[str, tuple[int, list[SendRecord]]]]:
        """Store each number's records if its version is still the one given ('*': any).
        Returns each number's new version, or None where the version had moved, and the
        version and sends from ``since`` on of each number whose version had moved, as the
        same script found them (atomically, as a read would have: this store remembers them)."""
        groups: list[tuple[_Keys, list[Any]]] = []
        versions: list[int] = []
        for number, version, records in writes:
            args, new = self._write_args(version, records)
            groups.append((self._keys(number), args))
            versions.append(new)
        floor = micros(since)
        answers = self._groups(self._reserve, "reserve", [self._retention_ms, floor], groups)
        done: list[int | None] = []
        moved: dict[str, tuple[int, list[SendRecord]]] = {}
        for (number, _version, _records), new, answer in zip(
            writes, versions, answers, strict=True
        ):
            if isinstance(answer, list):
                version, found = int(answer[0]), self._decode(number, answer[1:])
                self._remember(number, (version, floor, tuple(found)))
                moved[number] = (version, found)
            done.append(new if answer == 1 else None)
        return done, moved

    def settle(self, record: SendRecord, *, provider_id: str | None, sent: bool) -> None:
        self.settle_many([(record, provider_id, sent)])

    def settle_many(self, settlements: Sequence[Settlement]) -> None:
        # The held record is the one this store wrote, so the settled one is built here; the
        # script only applies it if the hold is still there (it may have been forgotten). A
        # person's copy is settled in the same call (on Cluster: the same pipeline).
        groups: list[tuple[_Keys, list[Any]]] = []
        copies: list[tuple[_Keys, list[Any]]] = []
        changes: list[tuple[str, str, SendRecord | None, int]] = []
        for record, pid, sent in settlements:
            settled = record.as_sent(pid) if sent else None
            new = _new_version()
            text = "" if settled is None else encode_send(settled)
            groups.append((self._keys(record.number), [record.id, text, new]))
            changes.append((record.number, record.id, settled, new))
            if record.person is not None:
                copies.append((self._person_keys(record.person), [record.id, text, _new_version()]))
        answers = self._groups(self._settle, "settle", [self._retention_ms], copies + groups)
        for (number, record_id, settled, new), before in zip(
            changes, answers[len(copies) :], strict=True
        ):
            if before is not None:  # settled: what was seen at the version before moves on
                self._remember(
                    number, _settled(self._seen.get(number), int(before), new, record_id, settled)
                )

    def record_engagement(self, number: str, *, at: dt.datetime, kind: str) -> None:
        key = self._engagement_key(number)
        value = json.dumps({"at": at.isoformat(), "kind": kind})
        current = self._call("read", self._redis.get, key)
        if current is None or dt.datetime.fromisoformat(json.loads(current)["at"]) < at:
            self._call("write", self._redis.set, key, value, px=self._retention_ms)

    def _engagement_key(self, number: str) -> str:
        return f"{self.prefix}:{{{number}}}:engagement"

    def _queue_engagement(self, pipe: Any, numbers: Sequence[str]) -> int:
        """Queue the read of ``numbers``' engagement on ``pipe``: one MGET, or on Cluster (where
        the keys span slots) one GET each; returns how many commands were queued."""
        keys = [self._engagement_key(number) for number in numbers]
        if not keys:
            return 0
        if not self._cluster:
            pipe.mget(keys)
            return 1
        for key in keys:
            pipe.get(key)
        return len(keys)

    @staticmethod
    def _engagement(
        numbers: Sequence[str], texts: Sequence[str | None]
    ) -> dict[str, dt.datetime | None]:
        return {
            number: dt.datetime.fromisoformat(json.loads(text)["at"]) if text else None
            for number, text in zip(numbers, texts, strict=True)
        }

    def last_engagement(self, numbers: Sequence[str]) -> dict[str, dt.datetime | None]:
        if not numbers:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        engaged = self._queue_engagement(pipe, numbers)
        answers = self._call("read", pipe.execute)
        return self._engagement(numbers, answers[0] if engaged == 1 else answers)

    def forget_sends(self, number: str) -> None:
        """Delete every send of ``number`` (its own keys and the copies in its persons' keys),
        its engagement and every lookup cache entry naming it."""
        persons = self._call("forget", self._redis.smembers, self._persons_key(number))
        texts = self._call("forget", self._redis.hvals, self._keys(number)[1])
        # Person indexes of earlier versions (prefix:{person:ID}:sends, members number|id).
        legacy = [decode_send(text) for text in texts]
        pipe = self._redis.pipeline(transaction=False)
        for person in sorted(persons):
            self._forget_person(
                keys=list(self._person_keys(person)),
                args=[number, _new_version(), self._retention_ms],
                client=pipe,
            )
        for record in legacy:
            if record.person is not None:
                old = f"{self.prefix}:{{person:{record.person}}}:sends"
                pipe.zrem(old, f"{number}|{record.id}")
        self._call("forget", pipe.execute)
        tag = f"{self.prefix}:{{{number}}}"
        self._call(
            "forget",
            self._redis.delete,
            *self._keys(number),
            f"{tag}:engagement",
            f"{tag}:profile",
            self._persons_key(number),
        )
        self._remember(number, None)
        pattern = f"{_glob_escape(self.prefix)}:cache:*{_glob_escape(number)}*"
        found = self._call("forget", lambda: list(self._redis.scan_iter(match=pattern, count=1000)))
        for first in range(0, len(found), 1000):
            self._call("forget", self._redis.delete, *found[first : first + 1000])

    def claim_slot(self, key: str, *, now_us: int, interval_us: int) -> int:
        """The slot is kept under ``prefix:slot:{key}`` for a minute past its time."""
        keep_ms = max(60_000, (interval_us // 1000) * 2 + 60_000)
        reply = self._call(
            "write",
            self._claim_slot,
            keys=[f"{self.prefix}:slot:{{{key}}}"],
            args=[now_us, interval_us, keep_ms],
        )
        return int(reply)

    def upsert_profiles(self, records: Mapping[str, ProfileRecord]) -> int:
        """Store each address's profile as a hash (``prefix:{address}:profile``), replacing
        the one it had; one pipelined round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for address, record in records.items():
            key = f"{self.prefix}:{{{address}}}:profile"
            pipe.delete(key)
            pipe.hset(key, mapping=json.loads(encode_profile(record)) or {"": ""})
        self._call("write", pipe.execute)
        return len(records)

    def profiles(self, addresses: Sequence[str]) -> dict[str, ProfileRecord | None]:
        wanted = list(dict.fromkeys(addresses))
        pipe = self._redis.pipeline(transaction=False)
        for address in wanted:
            pipe.hgetall(f"{self.prefix}:{{{address}}}:profile")
        found = self._call("read", pipe.execute) if wanted else []
        result: dict[str, ProfileRecord | None] = dict.fromkeys(addresses)
        for address, fields in zip(wanted, found, strict=True):
            if fields:
                data = {k: v for k, v in fields.items() if k}
                result[address] = decode_profile(json.dumps(data))
        return result

    def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
        text = self._call("read", self._redis.get, f"{self.prefix}:cache:{key}")
        if text is None:
            return None
        value, expires = json.loads(text)
        return str(value) if dt.datetime.fromisoformat(expires) > now else None

    def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
        # cache_get compares ``expires`` with the caller's clock; the key's own expiry only
        # clears it away, by the server's clock, and never sooner than an hour: a caller whose
        # clock is behind the server's (a frozen test clock) still reads what it just wrote.
        ttl = int((expires - dt.datetime.now(dt.UTC)).total_seconds() * 1000)
        ttl = max(_CACHE_FLOOR_MS, ttl)
        payload = json.dumps([value, expires.isoformat()])
        self._call("write", self._redis.set, f"{self.prefix}:cache:{key}", payload, px=ttl)
