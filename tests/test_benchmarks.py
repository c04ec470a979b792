"""The benchmarks keep running: each one, on small sizes, prints its figure, floor and ratio.

Nothing here looks at the figures themselves (timings belong to benchmarks/README.md, not to
tests); B3's over-cap count is checked, since it is a correctness result.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .services import drop, postgres_store, redis_store

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=BENCHMARKS.parent,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("script", "args", "lines"),
    [
        ("b1_warm_decision.py", (), ["B1 warm decision:"]),
        ("b2_cold_preflight.py", ("300",), ["B2 per number:", "B2 per number, national"]),
        (
            "b4_cli_preflight.py",
            ("100", "300"),
            ["B4 peak memory", "B4 time for 300 rows vs B2", "B4 time for 300 rows vs the engine"],
        ),
        ("b5_cache.py", ("300",), ["B5 cache:"]),
        (
            "b6_campaign_day.py",
            ("300", "1"),
            [
                "B6 campaign day:",
                "B6 hour 00:00 UTC:",
                "B6 hour 23:00 UTC:",
                "B6 one at a time allow:",
                "B6 one at a time defer:",
                "B6 one at a time deny:",
            ],
        ),
    ],
    ids=["b1", "b2", "b4", "b5", "b6"],
)
def test_benchmark_reports_figure_floor_and_ratio(
    script: str, args: tuple[str, ...], lines: list[str]
) -> None:
    """Each benchmark runs with one command and reports what benchmarks/README.md shows."""
    out = run(script, *args)
    for start in lines:
        (line,) = [text for text in out.splitlines() if text.startswith(start)]
        if not start.startswith("B5"):
            assert "floor" in line
            assert "ratio" in line


def test_warm_decision_benchmark_measures_person_caps_and_the_tamper_check() -> None:
    """B1 also decides its recipients with person ids (every one allowed, as without them) and
    prints the tamper check's cost per decision, warm and for a recipient's first decision."""
    out = run("b1_warm_decision.py")
    (persons,) = [line for line in out.splitlines() if line.startswith("B1 with person ids")]
    counted = re.search(r"\(person caps, (\d+) of (\d+) allowed\)", persons)
    assert counted is not None
    assert counted.group(1) == counted.group(2)
    assert int(counted.group(2)) > 0
    assert re.search(r"without [0-9.]+ us \| [0-9.]+x$", persons)
    (tamper,) = [line for line in out.splitlines() if line.startswith("B1 tamper check:")]
    figures = re.findall(r"([0-9.]+) us", tamper)
    assert len(figures) == 2  # warm, and a recipient's first decision (no timing compared)


def test_shared_counters_benchmark_never_exceeds_the_cap() -> None:
    """B3 on small sizes (1,600 reservations for 200 recipients capped at 5): both backends, one
    at a time and in batches, per number, per person (two numbers each) and after consent,
    grant exactly the cap and never more."""
    for made in (postgres_store(), redis_store()):  # skip or fail clearly when a service is down
        drop(made)
    out = run("b3_shared_counters.py", "400", "20", "1", "plain,persons,consent")
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(r["kind"], r["batch"], r["variant"]) for r in results] == [
        (kind, size, variant)
        for kind in ("redis", "postgres")
        for size in (1, 20)
        for variant in ("plain", "persons", "consent")
    ]
    assert all(r["over_cap"] == 0 for r in results)
    granted = re.findall(r"; (\d+) granted for (\d+) (\w+) x cap 5", out)
    assert (
        granted
        == [
            ("1000", "200", "recipients"),
            ("500", "100", "persons"),
            ("1000", "200", "recipients"),
        ]
        * 4
    )
