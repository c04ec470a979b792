"""B1 warm decision: jurisdictions.standard() + consent + caps + dedupe on MemoryStore, numbers
already resolved. Target: median <= 20 us per decision, <= 3x a hand-inlined function doing the
same checks (the floor).

Also printed: the same decisions with person ids (every two numbers one person, so caps and
dedupe count the person's sends on both: person-level caps), and the tamper check's cost per
decision (the hash chain of the recipient's consent events, as each decision checks it, and as
the first decision of a recipient checks it, hashing every event).

Run: python benchmarks/b1_warm_decision.py
"""

from __future__ import annotations

import datetime as dt
import random

import pytz
from _common import machine, per_item_paired, report

from smspolicy import Engine, Message, Policy, jurisdictions, rules
from smspolicy.consent import WrittenConsent
from smspolicy.store import MemoryStore, SendRecord
from smspolicy.testing import FrozenClock

NOW = dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.UTC)  # 12:00 in New York
AREAS = ["212", "305", "214", "310", "203", "206", "415", "512", "617", "702"]
N = 2000


def setup(persons: bool = False) -> tuple[Engine, list[Message]]:
    rng = random.Random(1)
    policy = Policy(
        jurisdictions.standard(),
        rules.frequency_cap(3, dt.timedelta(hours=24)),
        rules.dedupe(dt.timedelta(days=1)),
        name="b1",
    )
    store = MemoryStore()
    engine = Engine(policy, store, FrozenClock(NOW))
    numbers = [f"+1{rng.choice(AREAS)}55501{i % 100:02d}" for i in range(N)]
    numbers = sorted(set(numbers))
    for number in numbers:
        # Signed consent, as US marketing requires: the decisions measured are ALLOWs.
        signed = WrittenConsent("bench", "Acme marketing texts", number).evidence()
        engine.consent.confirm(
            number, topic="deals", purpose="marketing", source="bench", evidence=signed
        )
    person = {n: f"person-{i // 2}" if persons else None for i, n in enumerate(numbers)}
    for number in numbers:
        store.record_send(
            SendRecord(
                number=number,
                at=NOW - dt.timedelta(hours=3),
                topic="deals",
                purpose="marketing",
                channel="sms",
                content_key="old",
                person=person[number],
            )
        )
    messages = [
        Message(
            n,
            "deals",
            "marketing",
            body="Acme: 20% off. Reply STOP to opt out.",
            brand="Acme",
            person=person[n],
        )
        for n in numbers
    ]
    list(engine.evaluate_many(messages))  # warm the resolution cache
    return engine, messages


def floor_setup(messages: list[Message]) -> tuple[object, ...]:
    """The same checks, inlined: consent set, windows per zone, 24 h cap, dedupe."""
    consent = {m.address: {("deals", "marketing")} for m in messages}
    sends = {m.address: [NOW - dt.timedelta(hours=3)] for m in messages}
    keys = {m.address: {"old"} for m in messages}
    zones = {}
    from smspolicy._recipients import Resolver

    resolver = Resolver()
    for m in messages:
        recipient = resolver.resolve(m.address)
        zones[m.address] = ([pytz.timezone(z) for z in recipient.zones], recipient.jurisdictions)
    return consent, sends, keys, zones


def inlined(messages: list[Message], state: tuple[object, ...]) -> int:
    consent, sends, keys, zones = state  # type: ignore[misc]
    day = dt.timedelta(hours=24)
    allowed = 0
    for m in messages:
        number = m.address
        if (m.topic, m.purpose.value) not in consent[number]:
            continue
        tzs, places = zones[number]
        ends = 20 if ("US-FL" in places or "US-WA" in places) else 21
        starts = 9 if "US-CT" in places else 8
        if not all(starts <= NOW.astimezone(tz).hour < ends for tz in tzs):
            continue
        if sum(1 for at in sends[number] if at > NOW - day) >= 3:
            continue
        if m.content_key in keys[number]:
            continue
        allowed += 1
    return len(messages)


def main() -> None:
    engine, messages = setup()
    state = floor_setup(messages)
    figure, floor = per_item_paired(
        lambda: sum(1 for _ in engine.evaluate_many(messages)), lambda: inlined(messages, state)
    )
    print(
        f"B1 on {machine()}: {len(messages)} recipients, {len(repr(engine.policy))} chars of policy"
    )
    report("B1 warm decision", figure * 1e6, floor * 1e6, "us/decision", "<= 20 us and <= 3x floor")
    linked, linked_messages = setup(persons=True)
    allowed = sum(1 for d in linked.evaluate_many(linked_messages) if d.allowed)
    with_persons, plain = per_item_paired(
        lambda: sum(1 for _ in linked.evaluate_many(linked_messages)),
        lambda: sum(1 for _ in engine.evaluate_many(messages)),
    )
    print(
        f"B1 with person ids (person caps, {allowed} of {len(linked_messages)} allowed): "
        f"{with_persons * 1e6:.3f} us/decision | without {plain * 1e6:.3f} us | "
        f"{with_persons / plain:.2f}x"
    )
    tamper_check(engine, messages, figure)


def tamper_check(engine: Engine, messages: list[Message], decision: float) -> None:
    """What checking the consent hash chain costs a decision: warm (the events' hashes
    verified once, as the engine remembers them) and cold (every event hashed again)."""
    from smspolicy._memo import Seen
    from smspolicy.consent import chain_break

    chains = [engine.consent.history(m.address) for m in messages]
    verified = Seen()
    for chain in chains:
        assert chain_break(chain, verified) is None

    def warm() -> int:
        for chain in chains:
            chain_break(chain, verified)
        return len(chains)

    def cold() -> int:
        for chain in chains:
            chain_break(chain)
        return len(chains)

    warm_cost, cold_cost = per_item_paired(warm, cold)
    print(
        f"B1 tamper check: {warm_cost * 1e6:.3f} us/decision warm "
        f"({warm_cost / decision:.1%} of a decision), {cold_cost * 1e6:.3f} us for a "
        f"recipient's first decision (every event hashed)"
    )


if __name__ == "__main__":
    main()
