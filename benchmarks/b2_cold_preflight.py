"""B2 cold preflight: 100,000 distinct numbers through Engine.evaluate_many with SQLiteStore.
Target: <= 1.5x the floor of phonenumbers.parse + is_valid_number + time_zones_for_number over
the same numbers. Also printed, for information: the same numbers written in national format,
which cannot take the shortcut for canonical +1 numbers.

Run: python benchmarks/b2_cold_preflight.py [COUNT]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import phonenumbers
from _common import machine, report
from _numbers import us_numbers
from phonenumbers import timezone

from smspolicy import Engine, Message, jurisdictions
from smspolicy.store import SQLiteStore
from smspolicy.testing import FrozenClock


def run(numbers: list[str], default_region: str | None) -> tuple[float, float]:
    """The floor and the figure, in seconds, for ``numbers`` as written."""
    start = time.perf_counter()
    for text in numbers:
        number = phonenumbers.parse(text, default_region)
        phonenumbers.is_valid_number(number)
        timezone.time_zones_for_number(number)
    floor = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(
            jurisdictions.standard(),
            SQLiteStore(Path(folder) / "b2.sqlite3"),
            FrozenClock(dt.datetime(2026, 11, 27, 17, tzinfo=dt.UTC)),
            default_region=default_region,
        )
        messages = (Message(n, "deals", "marketing", brand="Acme") for n in numbers)
        start = time.perf_counter()
        decided = sum(1 for _ in engine.evaluate_many(messages))
        figure = time.perf_counter() - start
    assert decided == len(numbers)
    return floor, figure


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    numbers = us_numbers(count)
    floor, figure = run(numbers, None)
    print(f"B2 on {machine()}: {count} distinct numbers, cold cache")
    report("B2 cold preflight", figure, floor, "s", "<= 1.5x floor")
    report("B2 per number", figure / count * 1e6, floor / count * 1e6, "us", "<= 1.5x floor")
    # The same list written nationally ("(212) 555-0123") cannot take the canonical +1 shortcut:
    # shown for information, on a tenth of the numbers.
    national = [f"({n[2:5]}) {n[5:8]}-{n[8:]}" for n in numbers[: max(1, count // 10)]]
    floor, figure = run(national, "US")
    report(
        "B2 per number, national format (information)",
        figure / len(national) * 1e6,
        floor / len(national) * 1e6,
        "us",
        "-",
    )


if __name__ == "__main__":
    main()
