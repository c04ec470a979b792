"""B4 CLI preflight: `smspolicy preflight` over 10,000 and 100,000 rows. Targets: peak memory
flat in list size (10k vs 100k), time <= 2x B2 (the engine alone on the same numbers).

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

from _common import machine, report
from _numbers import us_numbers

from smspolicy import Engine, Message, jurisdictions
from smspolicy.store import SQLiteStore
from smspolicy.testing import FrozenClock

MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_cli(rows: Path, folder: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one preflight run in its own process."""
    command = [
        sys.executable,
        "-m",
        "smspolicy.cli",
        "preflight",
        str(rows),
        "--db",
        str(folder / f"{rows.stem}.sqlite3"),
        "--at",
        "2026-11-27T17:00:00Z",
        "--out",
        str(folder / f"{rows.stem}.out.csv"),
        "--quiet",
    ]
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, int(done.stdout.strip())


def main() -> None:
    small, large = (int(a) for a in (sys.argv[1:3] if len(sys.argv) > 2 else ("10000", "100000")))
    numbers = us_numbers(large)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for count in (small, large):
            with (folder / f"rows{count}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["number", "topic", "purpose", "brand"])
                writer.writerows([n, "deals", "marketing", "Acme"] for n in numbers[:count])
        small_time, small_rss = run_cli(folder / f"rows{small}.csv", folder)
        large_time, large_rss = run_cli(folder / f"rows{large}.csv", folder)
        engine = Engine(
            jurisdictions.standard(),
            SQLiteStore(folder / "b2.sqlite3"),
            FrozenClock(dt.datetime(2026, 11, 27, 17, tzinfo=dt.UTC)),
        )
        start = time.perf_counter()
        sum(
            1
            for _ in engine.evaluate_many(
                Message(n, "deals", "marketing", brand="Acme") for n in numbers[:large]
            )
        )
        b2 = time.perf_counter() - start
    print(f"B4 on {machine()}: CLI preflight of {small} and {large} rows")
    report(
        f"B4 peak memory {large} vs {small} rows",
        large_rss / 1024,
        small_rss / 1024,
        "MiB",
        "flat (ratio about 1)",
    )
    report(f"B4 time for {large} rows vs B2", large_time, b2, "s", "<= 2x B2")
    print(f"B4 {small} rows: {small_time:.1f} s")


if __name__ == "__main__":
    main()
