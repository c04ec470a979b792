"""Shared helpers for the benchmarks: timing, machine description, result lines."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable


def machine() -> str:
    """One line describing where the benchmark ran."""
    return (
        f"{platform.python_implementation()} {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"
    )


def per_item(run: Callable[[], int], repeats: int = 7) -> float:
    """Median seconds per item over ``repeats`` runs of ``run`` (which returns its item count)."""
    return per_item_paired(run, lambda: 1, repeats)[0]


def per_item_paired(
    figure: Callable[[], int], floor: Callable[[], int], repeats: int = 15
) -> tuple[float, float]:
    """Median seconds per item of ``figure`` and of ``floor``, their runs interleaved so that a
    busy spell on a shared machine slows both alike rather than only one of them."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for run, into in ((figure, samples[0]), (floor, samples[1])):
            start = time.perf_counter()
            count = run()
            into.append((time.perf_counter() - start) / count)
    return statistics.median(samples[0]), statistics.median(samples[1])


def report(name: str, figure: float, floor: float, unit: str, target: str) -> None:
    """Print the figure, the floor measured in the same run, their ratio and the target."""
    ratio = figure / floor if floor else float("inf")
    print(
        f"{name}: {figure:.3f} {unit} | floor {floor:.3f} {unit} | ratio {ratio:.2f}x | "
        f"target {target}"
    )


def report_rate(name: str, rate: float, floor: float, target: str) -> None:
    """Print a throughput, the floor's throughput in the same run, and how many times slower."""
    slower = floor / rate if rate else float("inf")
    print(
        f"{name}: {rate:,.0f}/s | floor {floor:,.0f}/s | ratio {slower:.2f}x slower | "
        f"target {target}"
    )
