"""B4 CLI preflight of the example campaign: `smspolicy preflight` with the example policy over
10,000 and 100,000 rows of the bundled example scaled up (benchmarks/_campaign.py: the
example's country mix, consent on record for most rows, imported first with
`smspolicy consent import`). Targets: peak memory flat in list size (10k vs 100k), time <= 2x
B2 (the engine alone, `jurisdictions.standard()` on an empty SQLiteStore, on the same numbers).
Also printed, for information: the import's time, and the engine alone with the example policy
on the imported store (the decisions the command makes, without reading and writing CSV).

Run: python benchmarks/b4_cli_preflight.py [SMALL] [LARGE]
"""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _campaign import EXAMPLES, campaign_numbers, write_campaign
from _common import machine, report

from smspolicy import Engine, Message, jurisdictions
from smspolicy.config import load_config
from smspolicy.store import SQLiteStore
from smspolicy.testing import FrozenClock

AT = "2026-11-27T15:00:00Z"  # the example's instant (README's preflight)
POLICY = EXAMPLES / "policy.toml"
MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_cli(*arguments: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one ``smspolicy`` command in its own process."""
    command = [sys.executable, "-m", "smspolicy.cli", *arguments]
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, int(done.stdout.strip())


def messages(rows: Path) -> list[Message]:
    """The file's rows as messages (the rows' time zone and state facts left out)."""
    with rows.open(newline="") as handle:
        return [
            Message(r["number"], r["topic"], r["purpose"], body=r["body"], brand=r["brand"])
            for r in csv.DictReader(handle)
        ]


def engine_seconds(engine: Engine, batch: list[Message]) -> float:
    start = time.perf_counter()
    decided = sum(1 for _ in engine.evaluate_many(batch))
    seconds = time.perf_counter() - start
    assert decided == len(batch)
    engine.store.close()
    return seconds


def main() -> None:
    small, large = (int(a) for a in (sys.argv[1:3] if len(sys.argv) > 2 else ("10000", "100000")))
    numbers = campaign_numbers(large)
    at = dt.datetime.fromisoformat(AT.replace("Z", "+00:00"))
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        seconds: dict[int, tuple[float, float, int]] = {}
        for count in (small, large):
            rows, consents = folder / f"rows{count}.csv", folder / f"consents{count}.csv"
            write_campaign(numbers[:count], rows, consents)
            db = str(folder / f"rows{count}.sqlite3")
            imported, _ = run_cli("consent", "import", str(consents), "--db", db)
            taken, rss = run_cli(
                "preflight", str(rows), "--policy", str(POLICY), "--db", db, "--at", AT,
                "--out", str(folder / f"rows{count}.out.csv"), "--quiet",
            )  # fmt: skip
            seconds[count] = (imported, taken, rss)
        b2 = engine_seconds(
            Engine(jurisdictions.standard(), SQLiteStore(folder / "b2.sqlite3"), FrozenClock(at)),
            [Message(n, "deals", "marketing", brand="Acme") for n in numbers],
        )
        config = load_config(POLICY)
        alone = engine_seconds(
            Engine(
                config.policy,
                SQLiteStore(folder / f"rows{large}.sqlite3"),
                FrozenClock(at),
                programs=config.programs,
                cache_size=4096,
            ),
            messages(folder / f"rows{large}.csv"),
        )
    (small_import, small_time, small_rss), (large_import, large_time, large_rss) = (
        seconds[small],
        seconds[large],
    )
    print(f"B4 on {machine()}: CLI preflight of the example campaign, {small} and {large} rows")
    report(
        f"B4 peak memory {large} vs {small} rows",
        large_rss / 1024,
        small_rss / 1024,
        "MiB",
        "flat (ratio about 1)",
    )
    report(f"B4 time for {large} rows vs B2", large_time, b2, "s", "<= 2x B2")
    report(
        f"B4 time for {large} rows vs the engine alone (information)",
        large_time,
        alone,
        "s",
        "-",
    )
    print(
        f"B4 {small} rows: {small_time:.1f} s; {large / large_time:,.0f} rows/s for {large} rows; "
        f"consent import {small_import:.1f} s and {large_import:.1f} s (not timed in B4)"
    )


if __name__ == "__main__":
    main()
