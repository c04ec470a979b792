"""The Redis outbox (redis-py): a sorted set by instant, claims by one atomic script.

Install with ``pip install smspolicy[redis]``. Every key of one outbox shares a hash tag
(``{prefix}``), so the scripts run on Redis Cluster too. A claim moves each ready message to
the end of its visibility timeout in the same sorted set: a worker that dies gives its claims
back when they time out, with no sweeper.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from ..errors import ConfigurationError, StoreUnavailableError
from ._model import (
    Finish,
    Held,
    HoldState,
    decode_reasons,
    decode_record,
    encode_reasons,
    encode_record,
    from_micros,
    micros,
)

__all__ = ["RedisOutbox"]

_ADD = """
local p = ARGV[1]
local existing = redis.call('GET', p .. ':k:' .. ARGV[3])
if existing then return existing end
redis.call('SET', p .. ':k:' .. ARGV[3], ARGV[2])
redis.call('HSET', p .. ':m:' .. ARGV[2], 'record', ARGV[5], 'state', 'held', 'due', ARGV[4],
    'attempts', 0)
if ARGV[6] ~= '' then redis.call('HSET', p .. ':m:' .. ARGV[2], 'reasons', ARGV[6]) end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('HINCRBY', p .. ':counts', 'held', 1)
return ARGV[2]
"""

_CLAIM = """
local p = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
    local h = p .. ':m:' .. id
    if redis.call('HGET', h, 'state') == 'held' then
        redis.call('HINCRBY', p .. ':counts', 'held', -1)
        redis.call('HINCRBY', p .. ':counts', 'claimed', 1)
    end
    redis.call('HSET', h, 'state', 'claimed', 'token', ARGV[5], 'ready', ARGV[4])
    redis.call('HINCRBY', h, 'attempts', 1)
    redis.call('ZADD', KEYS[1], ARGV[4], id)
    out[#out + 1] = redis.call('HGETALL', h)
end
return out
"""

_RECORD_SENDS = """
local p = ARGV[1]
for i = 2, #ARGV, 3 do
    local h = p .. ':m:' .. ARGV[i]
    if redis.call('HGET', h, 'state') == 'claimed' and redis.call('HEXISTS', h, 'sent') == 0 then
        redis.call('HSET', h, 'sent', ARGV[i + 2])
        if ARGV[i + 1] ~= '' then redis.call('HSET', h, 'provider_id', ARGV[i + 1]) end
    end
end
return 0
"""

_FINISH = """
local p = ARGV[1]
local out = {}
for i = 2, #ARGV, 7 do
    local id = ARGV[i]
    local h = p .. ':m:' .. id
    local ok = 0
    local state_now = redis.call('HGET', h, 'state')
    if state_now == 'claimed' and redis.call('HGET', h, 'token') == ARGV[i + 1] then
        ok = 1
        local state = ARGV[i + 2]
        redis.call('HINCRBY', p .. ':counts', 'claimed', -1)
        redis.call('HINCRBY', p .. ':counts', state, 1)
        redis.call('HDEL', h, 'token', 'ready')
        if ARGV[i + 5] ~= '' then
            redis.call('HSET', h, 'reasons', ARGV[i + 5])
        else
            redis.call('HDEL', h, 'reasons')
        end
        if state == 'held' then
            redis.call('HSET', h, 'state', 'held', 'due', ARGV[i + 4])
            redis.call('ZADD', KEYS[1], ARGV[i + 4], id)
        else
            redis.call('HSET', h, 'state', state, 'finished', ARGV[i + 3])
            redis.call('ZREM', KEYS[1], id)
            if state == 'sent' and redis.call('HEXISTS', h, 'sent') == 0 then
                redis.call('HSET', h, 'sent', ARGV[i + 3])
                if ARGV[i + 6] ~= '' then redis.call('HSET', h, 'provider_id', ARGV[i + 6]) end
            end
            if state == 'dropped' then redis.call('ZADD', KEYS[2], ARGV[i + 3], id) end
        end
    end
    out[#out + 1] = ok
end
return out
"""


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _held(fields: Mapping[bytes, bytes]) -> Held:
    state = HoldState(fields[b"state"].decode())
    sent = fields.get(b"sent")
    finished = fields.get(b"finished")
    return decode_record(
        fields[b"record"],
        state=state,
        due=int(fields[b"due"]),
        claim_until=from_micros(int(fields[b"ready"])) if state is HoldState.CLAIMED else None,
        token=_text(fields.get(b"token")),
        attempts=int(fields.get(b"attempts", 0)),
        provider_id=_text(fields.get(b"provider_id")),
        sent_at=None if sent is None else from_micros(int(sent)),
        reasons=decode_reasons(fields.get(b"reasons")),
        finished_at=None if finished is None else from_micros(int(finished)),
    )


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RedisOutbox:
    """Held messages in Redis under the hash tag ``{prefix}``: one hash per message, a sorted
    set of ready instants (due while held, the claim's end while claimed), a sorted set of
    dead letters. Claims, sends and completions are Lua scripts, atomic on the server."""

    def __init__(self, url: str | redis.Redis, *, prefix: str = "smspolicy:outbox") -> None:
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError(
                f"prefix must be non-empty text without braces, got {prefix!r}"
            )
        self.prefix = prefix
        self._p = "{" + prefix + "}"
        self._ready = self._p + ":ready"
        self._dropped = self._p + ":dropped"
        if isinstance(url, redis.Redis):
            self._client = url
        elif isinstance(url, str):
            self._client = redis.Redis.from_url(url, decode_responses=False)
        else:
            raise ConfigurationError(f"url must be a Redis URL or client, got {url!r}")
        self._add = self._client.register_script(_ADD)
        self._claim = self._client.register_script(_CLAIM)
        self._record = self._client.register_script(_RECORD_SENDS)
        self._finish = self._client.register_script(_FINISH)

    def __repr__(self) -> str:
        return f"RedisOutbox(prefix={self.prefix!r})"

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=[self._p, *args])
        except (redis.RedisError, OSError) as error:
            raise StoreUnavailableError(f"Redis outbox failed: {error}") from error

    def add(self, held: Held) -> Held:
        due = micros(held.due)
        reasons = encode_reasons(held.reasons) if held.reasons else ""
        stored = self._call(
            self._add, [self._ready], [held.id, held.key, due, encode_record(held), reasons]
        )
        if stored.decode() == held.id:
            return held
        existing = self.get(stored.decode())
        if existing is None:
            raise StoreUnavailableError(f"the key {held.key!r} names a message that is gone")
        return existing

    def claim(self, now: dt.datetime, limit: int, until: dt.datetime, token: str) -> list[Held]:
        rows = self._call(self._claim, [self._ready], [micros(now), limit, micros(until), token])
        return [_held(_pairs(row)) for row in rows]

    def record_sends(self, sends: Sequence[tuple[str, str | None, dt.datetime]]) -> None:
        if not sends:
            return
        args: list[Any] = []
        for id, provider_id, at in sends:
            args += [id, provider_id or "", micros(at)]
        self._call(self._record, [self._ready], args)

    def finish(self, items: Sequence[Finish]) -> list[bool]:
        if not items:
            return []
        args: list[Any] = []
        for item in items:
            args += [
                item.id,
                item.token,
                item.state.value,
                micros(item.at),
                micros(item.due) if item.due is not None else 0,
                encode_reasons(item.reasons) if item.reasons else "",
                item.provider_id or "",
            ]
        done = self._call(self._finish, [self._ready, self._dropped], args)
        return [bool(x) for x in done]

    def get(self, id: str) -> Held | None:
        try:
            fields: dict[bytes, bytes] = self._client.hgetall(f"{self._p}:m:{id}")  # type: ignore[assignment]
        except (redis.RedisError, OSError) as error:
            raise StoreUnavailableError(f"Redis outbox failed: {error}") from error
        return _held(fields) if fields else None

    def dropped(self, limit: int = 100) -> list[Held]:
        try:
            ids: list[bytes] = self._client.zrange(self._dropped, 0, limit - 1)  # type: ignore[assignment]
            pipe = self._client.pipeline(transaction=False)
            for id in ids:
                pipe.hgetall(f"{self._p}:m:{id.decode()}")
            rows = pipe.execute()
        except (redis.RedisError, OSError) as error:
            raise StoreUnavailableError(f"Redis outbox failed: {error}") from error
        return [_held(row) for row in rows if row]

    def counts(self) -> Mapping[HoldState, int]:
        try:
            raw: dict[bytes, bytes] = self._client.hgetall(f"{self._p}:counts")  # type: ignore[assignment]
        except (redis.RedisError, OSError) as error:
            raise StoreUnavailableError(f"Redis outbox failed: {error}") from error
        out = dict.fromkeys(HoldState, 0)
        for state, count in raw.items():
            out[HoldState(state.decode())] = int(count)
        return out

    def drop_keys(self) -> None:
        """Delete every key of this outbox: for tests."""
        for key in self._client.scan_iter(match=f"{self._p}:*"):
            self._client.delete(key)

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()
