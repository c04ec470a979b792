"""B6 a campaign's day: jurisdictions.standard() + a 3/day cap + dedupe on MemoryStore, at
least 20,000 recipients in many countries (the US with area codes split across zones and Puerto
Rico, the UK, Japan, Australia, India, Germany), consent on record for almost all of them (the
rest are denied), resolution warmed, decided with evaluate_many at each of the 24 hours of one
day (most decisions outside business hours are deferrals).

Printed: per hour and for the day the µs per decision and the verdict mix, and the cost of one
ALLOW, DEFER and DENY decided one at a time (Engine.evaluate) next to the same messages in a
batch, each next to a hand-inlined floor doing the same checks (consent, every sending window
of the recipient's leaves in every zone it holds in, from window bounds cached per (window,
zone, local date) as UTC instants, the earliest instant every window agrees on, the cap and
dedupe) with the same caches, in the same run.

Targets: day mean <= 15 us per decision and <= 3x its floor; a DEFER <= 2x an ALLOW; no hour
above 2x the day mean; one at a time <= 1.5x evaluate_many per decision.

Run: python benchmarks/b6_campaign_day.py [RECIPIENTS] [REPEATS]
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time
from collections import Counter

import phonenumbers
from _common import machine, per_item_paired, report

from smspolicy import Decision, Engine, Message, Policy, Verdict, jurisdictions, rules
from smspolicy.consent import WrittenConsent
from smspolicy.rules._hours import Window
from smspolicy.store import MemoryStore, SendRecord
from smspolicy.testing import FrozenClock

DAY = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)  # a Friday (the day after Thanksgiving)
HOURS = [DAY + dt.timedelta(hours=h) for h in range(24)]
BODY = "Acme: 20% off today. Reply STOP to opt out."

# (prefix, national digits after it, share): area codes split across zones (850 Florida
# Central/Eastern, 541 Oregon Pacific/Mountain, 208 Idaho, 605 South Dakota, 915 El Paso),
# ordinary ones, Puerto Rico, and mobiles of the other countries.
MIX: list[tuple[str, int, float]] = [
    ("+1212", 7, 0.08),
    ("+1305", 7, 0.06),
    ("+1312", 7, 0.06),
    ("+1415", 7, 0.06),
    ("+1206", 7, 0.04),
    ("+1203", 7, 0.03),
    ("+1850", 7, 0.04),
    ("+1541", 7, 0.04),
    ("+1208", 7, 0.03),
    ("+1605", 7, 0.03),
    ("+1915", 7, 0.03),
    ("+1787", 7, 0.02),
    ("+1939", 7, 0.01),
    ("+447", 9, 0.12),
    ("+8190", 8, 0.10),
    ("+614", 8, 0.10),
    ("+919", 9, 0.08),
    ("+4915", 9, 0.07),
]
NO_CONSENT = 0.03
"""The share of recipients with nothing on record: their decisions are DENYs."""


def numbers(count: int) -> list[str]:
    """``count`` distinct valid numbers in the mix (deterministic)."""
    rng = random.Random(6)
    found: list[str] = []
    for prefix, digits, share in MIX:
        want = max(1, round(count * share))
        seen: set[str] = set()
        for _ in range(want * 50):
            text = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
            if text in seen:
                continue
            number = phonenumbers.parse(text)
            if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            ):
                seen.add(text)
                if len(seen) == want:
                    break
        found.extend(sorted(seen))
    rng.shuffle(found)
    return found[:count]


def setup(count: int) -> tuple[Engine, FrozenClock, list[Message], set[str]]:
    policy = Policy(
        jurisdictions.standard(),
        rules.frequency_cap(3, dt.timedelta(days=1)),
        rules.dedupe(dt.timedelta(days=1)),
        name="b6",
    )
    store = MemoryStore()
    clock = FrozenClock(DAY)
    engine = Engine(policy, store, clock)
    listed = numbers(count)
    rng = random.Random(7)
    consented = set()
    for number in listed:
        if rng.random() < NO_CONSENT:
            continue
        consented.add(number)
        signed = WrittenConsent("bench", "Acme marketing texts", number).evidence()
        engine.consent.confirm(
            number, topic="deals", purpose="marketing", source="bench", evidence=signed
        )
        store.record_send(
            SendRecord(
                number=number,
                at=DAY - dt.timedelta(hours=20),
                topic="deals",
                purpose="marketing",
                channel="sms",
                content_key="old",
            )
        )
    messages = [Message(n, "deals", "marketing", body=BODY, brand="Acme") for n in listed]
    for at in HOURS:  # resolution and the policy's shapes warmed, as in a running campaign
        clock.set(at)
        list(engine.evaluate_many(messages))
    return engine, clock, messages, consented


class Floor:
    """The same checks inlined: consent on record, each sending window among the recipient's
    leaves in every zone it holds in (bounds cached per window, zone and local date as UTC
    instants), the earliest instant they all agree on, a 24 h cap of 3 and dedupe."""

    def __init__(self, engine: Engine, messages: list[Message], consented: set[str]) -> None:
        from smspolicy._time import zone

        decider = engine._decider  # the leaves the engine decides from, flattened the same way
        self.consent = {m.address: {("deals", "marketing")} for m in messages}
        for m in messages:
            if m.address not in consented:
                self.consent[m.address] = set()
        self.sends = {m.address: [DAY - dt.timedelta(hours=20)] for m in messages}
        self.keys = {m.address: {"old"} for m in messages}
        self.bounds: dict[tuple[object, str, dt.date], tuple[tuple[dt.datetime, dt.datetime], ...]]
        self.bounds = {}
        self.zones = {}
        self.checks: dict[str, tuple[tuple[object, tuple[str, ...]], ...]] = {}
        self.instants: dict[tuple[int, dt.datetime], dt.datetime] = {}
        shared: dict[
            tuple[tuple[object, tuple[str, ...]], ...], tuple[tuple[object, tuple[str, ...]], ...]
        ] = {}
        for m in messages:
            recipient = decider.recipient(m)
            leaves = decider._fast._flatten(m.purpose, recipient.jurisdictions, m.channel)[0]
            windows = []
            for leaf in leaves:
                leaf = getattr(leaf, "rule", leaf)  # a law in force: its window
                window = getattr(leaf, "window", None)
                if not isinstance(window, Window):
                    continue
                names = leaf._zones(recipient)  # the zones that window holds in
                windows.append((window, names))
            found = tuple(windows)
            self.checks[m.address] = shared.setdefault(found, found)  # one object per set
            for _window, names in windows:
                for name in names:
                    self.zones[name] = zone(name)

    def _bounds(
        self, window: object, name: str, day: dt.date
    ) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        key = (window, name, day)
        found = self.bounds.get(key)
        if found is None:
            tz = self.zones[name]
            spans = []
            for start, end in window.intervals(day):  # type: ignore[attr-defined]
                opened = tz.localize(dt.datetime.combine(day, start)).astimezone(dt.UTC)
                if end is None:
                    closing = day + dt.timedelta(days=1)
                    closed = tz.localize(dt.datetime.combine(closing, dt.time())).astimezone(dt.UTC)
                else:
                    closed = tz.localize(dt.datetime.combine(day, end)).astimezone(dt.UTC)
                spans.append((opened, closed))
            found = self.bounds[key] = tuple(spans)
        return found

    def _next_open(self, window: object, name: str, at: dt.datetime) -> dt.datetime:
        local = at.astimezone(self.zones[name]).date()
        for offset in range(-1, 9):
            for opened, closed in self._bounds(window, name, local + dt.timedelta(days=offset)):
                if closed > at:
                    return max(opened, at)
        return at + dt.timedelta(days=400)

    def decide(self, m: Message, now: dt.datetime) -> Verdict:
        number = m.address
        if (m.topic, m.purpose.value) not in self.consent[number]:
            return Verdict.DENY
        day = dt.timedelta(hours=24)
        if sum(1 for at in self.sends[number] if at > now - day) >= 3:
            return Verdict.DEFER
        if m.content_key in self.keys[number]:
            return Verdict.DENY
        checks = self.checks[number]
        key = (id(checks), now)  # recipients share their windows and zones, as in the engine
        found = self.instants.get(key)
        if found is None:
            found = self.instants[key] = self._joint(checks, now)
        return Verdict.ALLOW if found == now else Verdict.DEFER

    def _joint(
        self, checks: tuple[tuple[object, tuple[str, ...]], ...], now: dt.datetime
    ) -> dt.datetime:
        """The earliest instant at or after ``now`` at which every window is open in every
        zone it holds in."""
        instant = now
        for _ in range(16):
            moved = False
            for window, names in checks:
                for name in names:
                    opening = self._next_open(window, name, instant)
                    if opening > instant:
                        instant, moved = opening, True
            if not moved:
                break
        return instant

    def run(self, messages: list[Message], now: dt.datetime) -> int:
        decide = self.decide
        for m in messages:
            decide(m, now)
        return len(messages)


def one_at_a_time(
    engine: Engine, clock: FrozenClock, floor: Floor, picked: list[tuple[dt.datetime, Message]]
) -> tuple[float, float, float]:
    """Median µs per decision of ``picked`` (instant, message) decided one at a time, in
    batches of one hour's messages, and by the floor."""
    by_hour: dict[dt.datetime, list[Message]] = {}
    for at, m in picked:
        by_hour.setdefault(at, []).append(m)
    single: list[float] = []
    batch: list[float] = []
    floors: list[float] = []
    for _ in range(5):
        for at, chunk in by_hour.items():
            clock.set(at)
            start = time.perf_counter()
            for m in chunk:
                engine.evaluate(m)
            single.append((time.perf_counter() - start) / len(chunk))
            start = time.perf_counter()
            for _ in engine.evaluate_many(chunk):
                pass
            batch.append((time.perf_counter() - start) / len(chunk))
            start = time.perf_counter()
            floor.run(chunk, at)
            floors.append((time.perf_counter() - start) / len(chunk))
    return (
        statistics.median(single) * 1e6,
        statistics.median(batch) * 1e6,
        statistics.median(floors) * 1e6,
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    engine, clock, messages, consented = setup(count)
    floor = Floor(engine, messages, consented)
    print(
        f"B6 on {machine()}: {len(messages)} recipients "
        f"({len(messages) - len(consented)} with nothing on record), 24 hourly instants "
        f"of {DAY:%Y-%m-%d} UTC, {repeats} interleaved runs each"
    )
    figures: list[float] = []
    floors: list[float] = []
    picked: dict[Verdict, list[tuple[dt.datetime, Message]]] = {v: [] for v in Verdict}
    for at in HOURS:
        clock.set(at)
        decided: list[Decision] = list(engine.evaluate_many(messages))
        mix = Counter(d.verdict for d in decided)
        for index, (m, d) in enumerate(zip(messages, decided, strict=True)):
            if len(picked[d.verdict]) < 400 and (index + at.hour) % 12 == 0:
                picked[d.verdict].append((at, m))

        def figure(at: dt.datetime = at) -> int:
            return sum(1 for _ in engine.evaluate_many(messages))

        def inlined(at: dt.datetime = at) -> int:
            return floor.run(messages, at)

        run_figure, run_floor = per_item_paired(figure, inlined, repeats)
        figures.append(run_figure * 1e6)
        floors.append(run_floor * 1e6)
        print(
            f"B6 hour {at:%H}:00 UTC: {run_figure * 1e6:.3f} us/decision | floor "
            f"{run_floor * 1e6:.3f} us | ratio {run_figure / run_floor:.2f}x | "
            f"ALLOW {mix[Verdict.ALLOW]} DEFER {mix[Verdict.DEFER]} DENY {mix[Verdict.DENY]}"
        )
    mean, floor_mean = statistics.fmean(figures), statistics.fmean(floors)
    report("B6 campaign day", mean, floor_mean, "us/decision", "<= 15 us and <= 3x floor")
    worst = max(figures)
    print(
        f"B6 worst hour: {worst:.3f} us/decision | {worst / mean:.2f}x the day mean | "
        "target <= 2x the day mean"
    )
    costs: dict[Verdict, float] = {}
    for verdict in (Verdict.ALLOW, Verdict.DEFER, Verdict.DENY):
        chosen = picked[verdict]
        if not chosen:
            print(f"B6 one at a time {verdict.value}: none decided")
            continue
        single, batch, floor_cost = one_at_a_time(engine, clock, floor, chosen)
        costs[verdict] = single
        report(
            f"B6 one at a time {verdict.value}",
            single,
            floor_cost,
            "us/decision",
            "DEFER <= 2x ALLOW",
        )
        print(
            f"B6 one at a time vs batch {verdict.value}: {single:.3f} us | batch {batch:.3f} us "
            f"| {single / batch:.2f}x | target <= 1.5x"
        )
    if Verdict.ALLOW in costs and Verdict.DEFER in costs:
        print(
            f"B6 DEFER vs ALLOW one at a time: {costs[Verdict.DEFER]:.3f} vs "
            f"{costs[Verdict.ALLOW]:.3f} us | {costs[Verdict.DEFER] / costs[Verdict.ALLOW]:.2f}x "
            "| target <= 2x"
        )


if __name__ == "__main__":
    main()
