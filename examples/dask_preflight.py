"""A preflight spread over a Dask cluster: one engine per worker process, deciding a partition of
the list at a time, against a store every worker shares (PostgreSQL, or PostgreSQL for the
ledger and Redis for the counters).

Run it on this machine (a LocalCluster of processes) with::

    python examples/dask_preflight.py examples/recipients.csv decisions/ \
        --postgres "host=127.0.0.1 dbname=test" --at 2026-11-27T15:00:00Z --workers 2

Each partition's decisions are written to a file of its own (``decisions/0.jsonl``, ...), in
the list's order; no process ever holds the whole list.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from smspolicy import Engine, Message, jurisdictions
from smspolicy.errors import SmsPolicyError
from smspolicy.store import ComposedStore, PostgresStore, RedisStore, Store
from smspolicy.testing import FrozenClock

_ENGINES: dict[tuple[str, str | None, str, str], Engine] = {}


def engine_for(postgres: str, redis: str | None, schema: str, at: str) -> Engine:
    """This worker process's engine, built on its first partition and kept: one connection
    pool per process, however many partitions it decides."""
    key = (postgres, redis, schema, at)
    if key not in _ENGINES:
        store: Store = PostgresStore(postgres, schema=schema)
        if redis is not None:
            store = ComposedStore(store, RedisStore(redis, prefix=schema))
        clock = FrozenClock(dt.datetime.fromisoformat(at))
        _ENGINES[key] = Engine(jurisdictions.standard(), store, clock)
    return _ENGINES[key]


def decide_partition(
    rows: Iterable[dict[str, str]], postgres: str, redis: str | None, schema: str, at: str
) -> list[dict[str, Any]]:
    """Decide one partition of rows (``number``, ``topic``, ``purpose``), in order."""
    engine = engine_for(postgres, redis, schema, at)
    rows = list(rows)
    out: list[dict[str, Any]] = []
    messages: list[Message | None] = []
    for row in rows:
        try:
            messages.append(Message(row["number"], row["topic"], row["purpose"]))
        except SmsPolicyError:
            messages.append(None)
    decided = iter(engine.evaluate_many([m for m in messages if m is not None]))
    for row, message in zip(rows, messages, strict=True):
        if message is None:
            out.append({"number": row["number"], "verdict": "deny", "codes": ["row.invalid"]})
            continue
        decision = next(decided)
        out.append(
            {"number": row["number"], "verdict": decision.verdict.value, "codes": decision.codes}
        )
    return out


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The list's rows, streamed."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        yield from csv.DictReader(handle)


def partitions(rows: Iterable[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    """The rows in partitions of ``size``."""
    chunk: list[dict[str, str]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run(
    client: Any,
    rows: Iterable[dict[str, str]],
    write: Any,
    *,
    postgres: str,
    redis: str | None = None,
    schema: str = "smspolicy",
    at: str,
    size: int = 10_000,
    in_flight: int = 4,
) -> int:
    """Submit partitions to the cluster, at most ``in_flight`` at a time, and hand each one's
    decisions to ``write(index, decisions)`` in the list's order; returns the partitions."""
    pending: collections.deque[tuple[int, Any]] = collections.deque()
    count = 0
    for index, chunk in enumerate(partitions(rows, size)):
        future = client.submit(decide_partition, chunk, postgres, redis, schema, at, pure=False)
        pending.append((index, future))
        count = index + 1
        if len(pending) >= in_flight:
            done, future = pending.popleft()
            write(done, future.result())
    while pending:
        done, future = pending.popleft()
        write(done, future.result())
    return count


def main() -> None:
    from dask.distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipients", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--redis")
    parser.add_argument("--schema", default="smspolicy")
    parser.add_argument("--at", required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)

    def write(index: int, decisions: list[dict[str, Any]]) -> None:
        with (args.out / f"{index}.jsonl").open("w") as handle:
            handle.writelines(json.dumps(d) + "\n" for d in decisions)

    with (
        LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True) as cluster,
        Client(cluster) as client,
    ):
        run(
            client,
            read_rows(args.recipients),
            write,
            postgres=args.postgres,
            redis=args.redis,
            schema=args.schema,
            at=args.at,
        )


if __name__ == "__main__":
    main()
