"""Draw docs/img/decisions-by-hour.png: the example campaign decided at every UTC hour of a day.

Run: python docs/scripts/decisions_by_hour.py   (needs matplotlib: pip install smspolicy[docs])
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from smspolicy import Engine, Message, Profile
from smspolicy.config import load_config
from smspolicy.store import ConsentEvent, MemoryStore
from smspolicy.testing import FrozenClock

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
REGIONS = {"+1": "US & Canada", "+44": "UK", "+81": "Japan", "+61": "Australia"}


def main() -> None:
    config = load_config(ROOT / "examples" / "policy.toml")
    store = MemoryStore()
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
    engine = Engine(config.policy, store, clock, programs=config.programs, profiles=profiles)
    messages = [
        Message(r["number"], r["topic"], r["purpose"], body=r["body"], brand=r["brand"])
        for r in rows
        if r["purpose"] == "marketing"
    ]
    allowed: dict[str, list[int]] = {name: [] for name in REGIONS.values()}
    for hour in range(24):
        clock.set(DAY + dt.timedelta(hours=hour))
        counts: Counter[str] = Counter()
        for message, decision in zip(messages, engine.evaluate_many(messages), strict=True):
            if decision.allowed:
                region = next(n for p, n in REGIONS.items() if message.address.startswith(p))
                counts[region] += 1
        for name in REGIONS.values():
            allowed[name].append(counts[name])
    figure, axes = plt.subplots(figsize=(9, 4))
    bottom = [0] * 24
    for name, values in allowed.items():
        axes.bar(range(24), values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_xlabel("hour of 2026-11-27 (UTC)")
    axes.set_ylabel("marketing texts allowed")
    axes.set_title("Example campaign: who may be texted when, by recipient region")
    axes.set_xticks(range(0, 24, 2))
    axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    figure.savefig(ROOT / "docs" / "img" / "decisions-by-hour.png", dpi=110)


if __name__ == "__main__":
    main()
