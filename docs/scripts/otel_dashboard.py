"""Draw docs/img/otel-dashboard.png: dashboard panels from the OpenTelemetry metrics of a real
run, the example campaign decided every three hours of a day through ``smspolicy.otel``, on a
SQLite store measured with ``measure_store``.

Run: python docs/scripts/otel_dashboard.py   (needs matplotlib and opentelemetry-sdk)
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from smspolicy import Engine, Message, Profile
from smspolicy.config import load_config
from smspolicy.otel import measure_store, observe
from smspolicy.store import ConsentEvent, SQLiteStore
from smspolicy.testing import FrozenClock

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def _sums(reader: InMemoryMetricReader, name: str, key: str) -> Counter[str]:
    """A counter's cumulative value by one attribute."""
    totals: Counter[str] = Counter()
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        totals[str(point.attributes[key])] += int(point.value)
    return totals


def _latencies(reader: InMemoryMetricReader) -> dict[str, tuple[float, int]]:
    """Each store operation's mean call time (ms) and number of calls."""
    found: dict[str, tuple[float, int]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "smspolicy.store.duration":
                    for point in metric.data.data_points:
                        operation = str(point.attributes["operation"])
                        found[operation] = (1000 * point.sum / point.count, point.count)
    return found


def main() -> None:
    config = load_config(ROOT / "examples" / "policy.toml")
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    folder = tempfile.mkdtemp()
    store = measure_store(SQLiteStore(f"{folder}/dashboard.sqlite3"), meter_provider=meters)
    with (ROOT / "examples" / "consents.csv").open() as handle:
        for row in csv.DictReader(handle):
            store.append_consent(
                ConsentEvent(
                    kind=row["kind"],
                    number=row["number"],
                    at=dt.datetime.fromisoformat(row["at"]),
                    source=row["source"],
                    topic=row["topic"] or None,
                    purpose=row["purpose"] or None,
                    basis=row["basis"] or None,
                )
            )
    with (ROOT / "examples" / "recipients.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    profiles = {r["number"]: Profile(timezone=r["timezone"]) for r in rows if r["timezone"]}
    clock = FrozenClock(DAY)
    engine = observe(
        Engine(config.policy, store, clock, programs=config.programs, profiles=profiles),
        meter_provider=meters,
    )
    messages = [
        Message(r["number"], r["topic"], r["purpose"], body=r["body"], brand=r["brand"])
        for r in rows
    ]
    hours = list(range(0, 24, 3))
    by_hour: dict[str, list[int]] = {"allow": [], "defer": [], "deny": []}
    before: Counter[str] = Counter()
    for hour in hours:
        clock.set(DAY + dt.timedelta(hours=hour))
        list(engine.evaluate_many(messages))
        now = _sums(reader, "smspolicy.decisions", "verdict")
        for verdict, values in by_hour.items():
            values.append(now[verdict] - before[verdict])
        before = now
    reasons = _sums(reader, "smspolicy.decision.reasons", "code").most_common(8)

    latencies = sorted(_latencies(reader).items(), key=lambda item: item[1][0])

    figure, (left, right, store_panel) = plt.subplots(
        1, 3, figsize=(17, 4), gridspec_kw={"width_ratios": [1, 1.1, 0.9]}
    )
    bottom = [0] * len(hours)
    for verdict, values in by_hour.items():
        left.bar(hours, values, width=2.4, bottom=bottom, label=verdict)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    left.set_title("smspolicy_decisions_total by verdict")
    left.set_xlabel("hour of 2026-11-27 (UTC)")
    left.set_xticks(hours)
    left.legend(fontsize="small", loc="lower left", framealpha=0.9)
    right.barh([code for code, _ in reversed(reasons)], [n for _, n in reversed(reasons)])
    right.set_title("smspolicy_decision_reasons_total (top 8)")
    right.tick_params(axis="y", labelsize=8)
    store_panel.barh([op for op, _ in latencies], [mean for _, (mean, _) in latencies])
    for row, (_, (mean, calls)) in enumerate(latencies):
        store_panel.annotate(f" {calls} calls", (mean, row), va="center", fontsize=8)
    store_panel.set_title("smspolicy_store_duration_seconds\nmean by operation", fontsize=11)
    store_panel.set_xlabel("milliseconds per call (SQLite, this run)")
    store_panel.margins(x=0.35)
    store_panel.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    figure.savefig(ROOT / "docs" / "img" / "otel-dashboard.png", dpi=100)


if __name__ == "__main__":
    main()
