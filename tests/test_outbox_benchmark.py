"""B7 keeps running: on small sizes it reports holds/s and releases/s with their floors on
every backend, and counts zero duplicates and zero lost messages (a correctness result)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .outbox_support import open_store, remove, spec_for

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_outbox_benchmark_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """800 messages through 4 processes per backend: figure, floor and ratio printed for holds
    and releases; 0 duplicates and 0 lost, for the outbox and for the floor's claim loop."""
    for kind in ("postgres", "redis"):  # skip, or fail under CI, when a service is down
        remove(open_store(spec_for(kind, tmp_path)))
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "b7_outbox.py"), "800", "50"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=BENCHMARKS.parent,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for kind in ("postgres", "redis", "sqlite"):
        for what in ("holds", "releases"):
            [line] = [x for x in lines if x.startswith(f"B7 {kind} {what}:")]
            assert "floor" in line
            assert "ratio" in line
        [line] = [x for x in lines if x.startswith(f"B7 {kind} duplicates")]
        assert re.search(r"duplicates 0 lost 0 \|", line), line
        assert "'sent': 800" in line
        assert line.endswith("floor duplicates 0 lost 0"), line
