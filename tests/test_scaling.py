"""Scaling out: the Dask recipe (examples/dask_preflight.py) on a LocalCluster of processes
gives the single-process engine's decisions, against shared PostgreSQL and Redis stores."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Engine, Message, jurisdictions
from smspolicy.store import ComposedStore, RedisStore
from smspolicy.testing import FrozenClock

from .services import POSTGRES_DSN, REDIS_URL, drop, postgres_store

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-27T15:00:00+00:00"
distributed = pytest.importorskip("dask.distributed", reason="pip install smspolicy[dask]")


def _recipe() -> Any:
    spec = importlib.util.spec_from_file_location(
        "dask_preflight", ROOT / "examples" / "dask_preflight.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dask_preflight"] = module  # the workers unpickle its functions by this name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("with_redis", [False, True], ids=["postgres", "postgres+redis"])
def test_dask_partitions_decide_as_one_engine(with_redis: bool, tmp_path: Path) -> None:
    """The first 400 example rows decided in partitions of 64 by two worker processes give,
    partition by partition and in order, the decisions of one engine deciding them all."""
    recipe = _recipe()
    ledger: Any = postgres_store()
    schema = ledger.schema
    redis = REDIS_URL if with_redis else None
    store: Any = (
        ComposedStore(ledger, RedisStore(REDIS_URL, prefix=schema)) if with_redis else ledger
    )
    try:
        rows = list(recipe.read_rows(ROOT / "examples" / "recipients.csv"))[:400]
        clock = FrozenClock(dt.datetime.fromisoformat(AT))
        engine = Engine(jurisdictions.standard(), store, clock)
        for row in rows[:200:7]:  # some recipients have consent, so not every row is the same
            engine.consent.confirm(
                row["number"], topic=row["topic"], purpose=row["purpose"], source="web"
            )
        expected = [
            {"number": r["number"], "verdict": d.verdict.value, "codes": list(d.codes)}
            for r, d in zip(
                rows,
                engine.evaluate_many(Message(r["number"], r["topic"], r["purpose"]) for r in rows),
                strict=True,
            )
        ]
        written: dict[int, list[dict[str, Any]]] = {}
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.upload_file(str(ROOT / "examples" / "dask_preflight.py"))  # to every worker
            count = recipe.run(
                client,
                iter(rows),
                lambda index, decisions: written.setdefault(index, decisions),
                postgres=POSTGRES_DSN,
                redis=redis,
                schema=schema,
                at=AT,
                size=64,
                in_flight=3,
            )
            workers = {w["name"] for w in client.scheduler_info()["workers"].values()}
        assert count == 7  # 400 rows in partitions of 64
        assert list(written) == list(range(7))
        got = [{**d, "codes": list(d["codes"])} for i in range(7) for d in written[i]]
        assert got == expected
        assert {d["verdict"] for d in got} >= {"allow", "deny"}
        assert len(workers) == 2
    finally:
        drop(store)
