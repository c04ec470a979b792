"""The outbox on every store: holding, claiming, re-deciding at release, visibility-timeout
recovery, idempotent completion, failed sends and the release loop."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Engine, Message, Policy, Reason, Verdict, allow, defer, deny, rules
from smspolicy.errors import ConfigurationError, InvalidInputError, StoreUnavailableError
from smspolicy.outbox import (
    HoldState,
    MemoryOutbox,
    Outbox,
    OutboxStore,
    Release,
    Released,
    ReleaseStatus,
)
from smspolicy.store import MemoryStore
from smspolicy.testing import FrozenClock

from .conftest import T0
from .outbox_support import KINDS, SHARED_KINDS, open_store, remove, spec_for

N1, N2 = "+12125550141", "+12125550142"
DAY = dt.timedelta(days=1)
US = dt.timedelta(microseconds=1)
VIS = dt.timedelta(minutes=5)
SINCE = T0 - dt.timedelta(days=30)


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OutboxStore]:
    """Every outbox store in turn, isolated by a unique table, schema or key prefix."""
    made = open_store(spec_for(request.param, tmp_path))
    yield made
    remove(made)


def engine_for(clock: FrozenClock, limit: int = 5) -> Engine:
    """Consent required, at most ``limit`` sends a day per topic; N1 and N2 consented."""
    engine = Engine(
        Policy(rules.consent(), rules.frequency_cap(limit, DAY), name="test"), MemoryStore(), clock
    )
    for number in (N1, N2):
        engine.consent.confirm(number, topic="deals", purpose="marketing", source="form")
    return engine


def msg(to: str = N1, **kw: Any) -> Message:
    kw.setdefault("body", "20% off")
    return Message(to, "deals", "marketing", **kw)


class Sender:
    """A sender that records each call and returns a provider id per call."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[Release] = []
        self.fail = fail

    def __call__(self, release: Release) -> str:
        self.calls.append(release)
        if self.fail:
            raise ConnectionError("provider down")
        return f"p-{len(self.calls)}"


def sends(engine: Engine, number: str = N1) -> list[str | None]:
    """Provider ids of the sends the engine's log counts for ``number``."""
    records = engine.store.sends([number], since=SINCE)[number]
    return [r.provider_id for r in records]


# --- holding -------------------------------------------------------------------------------


def test_hold_keeps_the_message_until_the_deferral(store: OutboxStore, clock: FrozenClock) -> None:
    """A DEFER's instant becomes the hold's due instant; payload and key are kept."""
    outbox = Outbox(store, engine_for(clock))
    until = T0 + dt.timedelta(hours=3)
    held = outbox.hold(msg(), defer(until), payload={"req": [1, "x"]}, key="k-1")
    got = outbox.get(held.id)
    assert got is not None
    assert (got.due, got.key, got.payload, got.state) == (
        until,
        "k-1",
        {"req": [1, "x"]},
        HoldState.HELD,
    )
    assert got.message == msg()
    assert got.held_at == T0
    assert outbox.counts()[HoldState.HELD] == 1


def test_a_hold_keeps_the_deferral_s_reasons(store: OutboxStore, clock: FrozenClock) -> None:
    """The reasons of the DEFER a message was held for are kept with it."""
    outbox = Outbox(store, engine_for(clock))
    why = Reason("hours.outside_window", "sending_window", "quiet hours", "47 CFR 64.1200")
    held = outbox.hold(msg(), defer(T0 + DAY, why))
    got = outbox.get(held.id)
    assert got is not None
    assert got.reasons == (why,)


def test_holding_a_key_twice_keeps_one_message(store: OutboxStore, clock: FrozenClock) -> None:
    """A second hold with the same key stores nothing and returns the first message."""
    outbox = Outbox(store, engine_for(clock))
    first = outbox.hold(msg(), T0 + DAY, key="same")
    second = outbox.hold(msg(N2), T0 + 2 * DAY, key="same")
    assert second.id == first.id
    assert second.message.to == N1
    assert outbox.counts()[HoldState.HELD] == 1


@pytest.mark.parametrize(
    ("decision", "error"),
    [
        pytest.param(allow(), InvalidInputError, id="allow"),
        pytest.param(deny(), InvalidInputError, id="deny"),
        pytest.param(dt.datetime(2025, 1, 1), InvalidInputError, id="naive"),
        pytest.param("tomorrow", InvalidInputError, id="text"),
    ],
)
def test_hold_refuses_what_is_not_a_deferral(decision: object, error: type[Exception]) -> None:
    """Only a DEFER or an aware instant can be held."""
    outbox = Outbox(MemoryOutbox())
    with pytest.raises(error):
        outbox.hold(msg(), decision)  # type: ignore[arg-type]


def test_hold_refuses_a_payload_that_is_not_json() -> None:
    """A payload that cannot be stored as JSON is refused before anything is stored."""
    outbox = Outbox(MemoryOutbox())
    with pytest.raises(InvalidInputError, match="JSON"):
        outbox.hold(msg(), T0, payload={"at": object()})
    with pytest.raises(InvalidInputError):
        outbox.hold("+12125550141", T0)  # type: ignore[arg-type]
    assert outbox.counts()[HoldState.HELD] == 0


def test_bad_configuration_is_refused() -> None:
    """Durations, attempts, hooks and stores are checked at construction."""
    with pytest.raises(ConfigurationError):
        Outbox(MemoryOutbox(), visibility=dt.timedelta(0))
    with pytest.raises(ConfigurationError):
        Outbox(MemoryOutbox(), retry=-US)
    with pytest.raises(ConfigurationError):
        Outbox(MemoryOutbox(), max_attempts=0)
    with pytest.raises(ConfigurationError):
        Outbox(MemoryOutbox(), on_release=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Outbox(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Outbox(MemoryOutbox(), engine="engine")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="engine"):
        Outbox(MemoryOutbox()).release_due(Sender())


# --- claiming ------------------------------------------------------------------------------


def test_a_message_is_claimed_at_its_instant_not_before(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """Due at T: nothing is ready a microsecond before T; at T it is claimed."""
    outbox = Outbox(store, engine_for(clock))
    due = T0 + dt.timedelta(hours=1)
    held = outbox.hold(msg(), due)
    assert outbox.claim(due - US) == []
    claimed = outbox.claim(due)
    assert [c.id for c in claimed] == [held.id]
    assert claimed[0].state is HoldState.CLAIMED
    assert claimed[0].attempts == 1
    assert claimed[0].claim_until == due + VIS


def test_claims_take_the_earliest_first_up_to_the_limit(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """A claim takes at most ``limit`` messages, earliest due first; the rest stay held."""
    outbox = Outbox(store, engine_for(clock))
    ids = [outbox.hold(msg(), T0 + dt.timedelta(minutes=m)).id for m in (3, 1, 2)]
    first = outbox.claim(T0 + DAY, limit=2)
    assert sorted(c.id for c in first) == sorted([ids[1], ids[2]])
    assert [c.id for c in outbox.claim(T0 + DAY, limit=2)] == [ids[0]]
    with pytest.raises(InvalidInputError):
        outbox.claim(T0, limit=0)


def test_a_claim_hides_the_message_until_its_visibility_timeout(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """A claimed message is not claimed again before the timeout; at the timeout another worker
    takes it over, and the first worker's completion is refused (LOST)."""
    engine = engine_for(clock)
    outbox = Outbox(store, engine)
    held = outbox.hold(msg(), T0)
    dead = outbox.claim(T0)
    assert outbox.claim(T0 + VIS - US) == []
    clock.set(T0 + VIS)
    again = outbox.claim()
    assert [c.id for c in again] == [held.id]
    assert again[0].attempts == 2
    assert again[0].token != dead[0].token
    late = outbox.release(dead, Sender())  # the first worker wakes up
    assert [r.status for r in late] == [ReleaseStatus.LOST]
    sender = Sender()
    done = outbox.release(again, sender)
    assert [r.status for r in done] == [ReleaseStatus.SENT]
    got = outbox.get(held.id)
    assert got is not None
    assert got.state is HoldState.SENT
    assert got.provider_id == "p-1"


# --- re-deciding at release ----------------------------------------------------------------


def test_an_allowed_release_is_sent_and_committed_with_the_provider_id(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """ALLOW at release: the sender gets message, payload, key and attempt; the outbox and the
    engine's send log both record the provider id."""
    engine = engine_for(clock)
    outbox = Outbox(store, engine)
    held = outbox.hold(msg(), T0, payload={"MessageRequest": {"x": 1}}, key="order-7")
    sender = Sender()
    [result] = outbox.release_due(sender)
    assert result.status is ReleaseStatus.SENT
    assert result.provider_id == "p-1"
    assert result.decision is not None
    assert result.decision.verdict is Verdict.ALLOW
    [call] = sender.calls
    assert call.message == msg()
    assert (call.id, call.key, call.payload, call.attempt) == (
        held.id,
        "order-7",
        {"MessageRequest": {"x": 1}},
        1,
    )
    assert sends(engine) == ["p-1"]
    got = outbox.get(held.id)
    assert got is not None
    assert (got.state, got.provider_id, got.sent_at, got.finished_at) == (
        HoldState.SENT,
        "p-1",
        T0,
        T0,
    )


def test_a_cap_filled_meanwhile_holds_the_message_again(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """DEFER at release (the daily cap filled while it waited): held again at the cap's
    instant, with the cap's reason, and not sent."""
    engine = engine_for(clock, limit=1)
    outbox = Outbox(store, engine)
    held = outbox.hold(msg(), T0 + dt.timedelta(hours=1))
    engine.record_sent(msg(), provider_id="direct")  # the cap's only slot, at T0
    clock.set(T0 + dt.timedelta(hours=1))
    sender = Sender()
    [result] = outbox.release_due(sender)
    assert result.status is ReleaseStatus.HELD
    assert result.until == T0 + DAY  # the direct send leaves the rolling day at T0 + 1 day
    assert [r.code for r in result.reasons] == ["cap.exceeded"]
    assert result.decision is not None
    assert result.decision.verdict is Verdict.DEFER
    assert sender.calls == []
    got = outbox.get(held.id)
    assert got is not None
    assert (got.state, got.due, got.token) == (HoldState.HELD, T0 + DAY, None)
    assert [r.code for r in got.reasons] == ["cap.exceeded"]
    assert outbox.claim(T0 + DAY - US) == []
    clock.set(T0 + DAY)
    [later] = outbox.release_due(sender)
    assert later.status is ReleaseStatus.SENT
    assert sends(engine) == ["direct", "p-1"]


def test_a_stop_in_between_drops_the_message_with_its_reason(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """DENY at release (a STOP arrived while it waited): dropped, never sent, listed among
    the dead letters with the consent reason."""
    engine = engine_for(clock)
    outbox = Outbox(store, engine)
    held = outbox.hold(msg(), T0 + dt.timedelta(hours=1))
    engine.inbound("STOP", N1)
    clock.set(T0 + dt.timedelta(hours=1))
    sender = Sender()
    [result] = outbox.release_due(sender)
    assert result.status is ReleaseStatus.DROPPED
    assert result.decision is not None
    assert result.decision.verdict is Verdict.DENY
    assert sender.calls == []
    assert sends(engine) == []
    [dead] = outbox.dropped()
    assert dead.id == held.id
    assert dead.state is HoldState.DROPPED
    assert dead.finished_at == T0 + dt.timedelta(hours=1)
    assert dead.reasons
    assert dead.reasons[0].code.startswith("consent.")
    assert [r.code for r in dead.reasons] == [r.code for r in result.reasons]


@pytest.mark.parametrize(
    ("late", "status"),
    [
        pytest.param(dt.timedelta(0), ReleaseStatus.SENT, id="at-not_after"),
        pytest.param(US, ReleaseStatus.DROPPED, id="past-not_after"),
    ],
)
def test_a_message_past_its_not_after_is_dropped_as_stale(
    store: OutboxStore, clock: FrozenClock, late: dt.timedelta, status: ReleaseStatus
) -> None:
    """Released at its ``not_after`` it goes; a microsecond later it is dropped with
    ``message.stale`` and never reaches the sender."""
    engine = engine_for(clock)
    outbox = Outbox(store, engine)
    not_after = T0 + dt.timedelta(hours=2)
    outbox.hold(msg(not_after=not_after), T0 + dt.timedelta(hours=1))
    clock.set(not_after + late)
    sender = Sender()
    [result] = outbox.release_due(sender)
    assert result.status is status
    assert len(sender.calls) == (status is ReleaseStatus.SENT)
    if status is ReleaseStatus.DROPPED:
        assert [r.code for r in result.reasons] == ["message.stale"]
        assert [d.reasons[0].code for d in outbox.dropped()] == ["message.stale"]


def test_a_re_deferral_past_not_after_is_dropped_as_stale(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """A cap that would push the message past its ``not_after`` drops it (the engine's
    ``message.stale``) instead of holding it again."""
    engine = engine_for(clock, limit=1)
    outbox = Outbox(store, engine)
    outbox.hold(msg(not_after=T0 + dt.timedelta(hours=6)), T0 + dt.timedelta(hours=1))
    engine.record_sent(msg(), provider_id="direct")
    clock.set(T0 + dt.timedelta(hours=1))
    [result] = outbox.release_due(Sender())
    assert result.status is ReleaseStatus.DROPPED
    assert "message.stale" in [r.code for r in result.reasons]


def test_a_store_outage_at_release_holds_the_message_for_a_retry(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """The engine fails closed (``store.unavailable``) when its store is down: the message is
    held again for ``retry``, not dropped."""

    class Down(MemoryStore):
        def snapshot(self, *args: Any, **kwargs: Any) -> Any:
            raise StoreUnavailableError("down")

        def sends(self, *args: Any, **kwargs: Any) -> Any:
            raise StoreUnavailableError("down")

    engine = Engine(Policy(rules.frequency_cap(1, DAY), name="t"), Down(), clock)
    outbox = Outbox(store, engine, retry=dt.timedelta(minutes=2))
    held = outbox.hold(msg(), T0)
    [result] = outbox.release_due(Sender())
    assert result.status is ReleaseStatus.HELD
    assert result.until == T0 + dt.timedelta(minutes=2)
    assert [r.code for r in result.reasons] == ["store.unavailable"]
    got = outbox.get(held.id)
    assert got is not None
    assert got.state is HoldState.HELD


# --- failures and exactly once -------------------------------------------------------------


def test_a_failed_send_is_retried_then_dropped_after_max_attempts(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """A sender that raises: the reservation is released, the message held again for
    ``retry``; on the ``max_attempts``-th claim it is dropped with ``send.failed``."""
    engine = engine_for(clock)
    retry = dt.timedelta(minutes=1)
    outbox = Outbox(store, engine, retry=retry, max_attempts=2)
    held = outbox.hold(msg(), T0)
    sender = Sender(fail=True)
    [first] = outbox.release_due(sender)
    assert (first.status, first.until) == (ReleaseStatus.HELD, T0 + retry)
    assert [r.code for r in first.reasons] == ["send.failed"]
    assert sends(engine) == []  # the slot was given back
    assert outbox.claim(T0 + retry - US) == []
    clock.set(T0 + retry)
    [second] = outbox.release_due(sender)
    assert second.status is ReleaseStatus.DROPPED
    assert [r.code for r in second.reasons] == ["send.failed"]
    assert second.decision is not None
    assert second.decision.verdict is Verdict.ALLOW
    assert len(sender.calls) == 2
    [dead] = outbox.dropped()
    assert (dead.id, dead.attempts, dead.reasons[0].code) == (held.id, 2, "send.failed")


def test_a_reclaimed_message_whose_send_was_recorded_is_completed_not_resent(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """A worker sent and recorded the send, then died before completing: the next claim
    completes it with the recorded provider id, records it in the engine's log once, and
    never calls the sender."""
    engine = engine_for(clock)
    outbox = Outbox(store, engine)
    held = outbox.hold(msg(), T0)
    [claimed] = outbox.claim()
    store.record_sends([(claimed.id, "p-first", T0)])  # ... and the worker dies here
    clock.set(T0 + VIS)
    sender = Sender()
    [result] = outbox.release_due(sender)
    assert (result.status, result.recovered, result.provider_id) == (
        ReleaseStatus.SENT,
        True,
        "p-first",
    )
    assert sender.calls == []
    assert sends(engine) == ["p-first"]
    got = outbox.get(held.id)
    assert got is not None
    assert (got.state, got.provider_id, got.sent_at) == (HoldState.SENT, "p-first", T0)
    assert got.finished_at == T0 + VIS
    stats_engine = engine_for(clock)
    again = Outbox(store, stats_engine)
    assert again.run(sender, once=True).recovered == 0  # nothing left to recover


def test_completion_is_idempotent(store: OutboxStore, clock: FrozenClock) -> None:
    """Completing a claim twice changes nothing the second time; a send recorded twice keeps
    the first provider id; a finished message is never claimed again."""
    from smspolicy.outbox._model import Finish

    outbox = Outbox(store, engine_for(clock))
    held = outbox.hold(msg(), T0)
    [claimed] = outbox.claim()
    token = claimed.token
    assert token is not None
    store.record_sends([(held.id, "p-a", T0)])
    store.record_sends([(held.id, "p-b", T0 + US)])
    done = Finish(held.id, token, HoldState.SENT, T0 + VIS, provider_id="p-c")
    assert store.finish([done]) == [True]
    assert store.finish([done]) == [False]
    assert store.finish([Finish(held.id, token, HoldState.HELD, T0, due=T0)]) == [False]
    got = outbox.get(held.id)
    assert got is not None
    assert (got.state, got.provider_id, got.sent_at) == (HoldState.SENT, "p-a", T0)
    assert got.finished_at == T0 + VIS
    assert outbox.claim(T0 + 10 * DAY) == []
    assert outbox.counts()[HoldState.SENT] == 1
    assert outbox.counts()[HoldState.CLAIMED] == 0


def test_a_finish_with_another_token_is_refused(store: OutboxStore, clock: FrozenClock) -> None:
    """Only the claim that holds a message can finish it."""
    from smspolicy.outbox._model import Finish

    outbox = Outbox(store, engine_for(clock))
    held = outbox.hold(msg(), T0)
    outbox.claim()
    assert store.finish([Finish(held.id, "not-mine", HoldState.DROPPED, T0)]) == [False]
    assert store.finish([Finish("no-such-id", "x", HoldState.SENT, T0)]) == [False]
    got = outbox.get(held.id)
    assert got is not None
    assert got.state is HoldState.CLAIMED


def test_release_reports_every_outcome_to_the_metrics_hook(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """``on_release`` sees each outcome once; a hook that raises does not stop the release."""
    seen: list[Released] = []

    def hook(result: Released) -> None:
        seen.append(result)
        raise RuntimeError("metrics backend down")

    engine = engine_for(clock)
    outbox = Outbox(store, engine, on_release=hook)
    outbox.hold(msg(), T0)
    outbox.hold(msg("+12125550199"), T0)  # no consent: dropped
    results = outbox.release_due(Sender())
    assert sorted(r.status.value for r in seen) == ["dropped", "sent"]
    assert seen == results


# --- the loop ------------------------------------------------------------------------------


def test_run_releases_everything_due_with_concurrent_sends(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """``run(once=True)`` releases all due messages in batches, with ``concurrency`` sending
    threads, and counts the outcomes; messages not yet due stay held."""
    engine = engine_for(clock, limit=100)
    outbox = Outbox(store, engine)
    for i in range(25):
        outbox.hold(msg(body=f"m{i}"), T0)
    outbox.hold(msg(body="later"), T0 + DAY)
    sender = Sender()
    lock = threading.Lock()

    def send(release: Release) -> str:
        with lock:
            return sender(release)

    stats = outbox.run(send, batch=10, concurrency=4, once=True)
    assert (stats.claimed, stats.sent, stats.dropped, stats.held, stats.batches) == (
        25,
        25,
        0,
        0,
        3,
    )
    assert len({c.id for c in sender.calls}) == 25
    counts = outbox.counts()
    assert (counts[HoldState.SENT], counts[HoldState.HELD]) == (25, 1)


def test_run_stops_when_asked(clock: FrozenClock) -> None:
    """Setting ``stop`` ends the loop; bad loop arguments are refused."""
    outbox = Outbox(MemoryOutbox(), engine_for(clock))
    stop = threading.Event()
    stop.set()
    assert outbox.run(Sender(), stop=stop).batches == 0
    for bad in ({"batch": 0}, {"concurrency": 0}, {"poll": -1.0}, {"batch": True}):
        with pytest.raises(InvalidInputError):
            outbox.run(Sender(), once=True, **bad)  # type: ignore[arg-type]


# --- processes -----------------------------------------------------------------------------


def _claim_worker(spec: Any, queue: Any, barrier: Any) -> None:
    from smspolicy.outbox._model import Finish

    from .outbox_support import open_store as reopen

    store = reopen(spec)
    barrier.wait()
    now = dt.datetime.now(dt.UTC) + DAY
    mine: list[str] = []
    while True:
        claimed = store.claim(now, 7, now + DAY, multiprocessing.current_process().name)
        if not claimed:
            break
        mine += [c.id for c in claimed]
        store.finish([Finish(c.id, c.token or "", HoldState.SENT, now) for c in claimed])
    queue.put(mine)
    store.close()


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_concurrent_processes_never_claim_a_message_twice(kind: str, tmp_path: Path) -> None:
    """Four processes claim 300 due messages at once: each message is claimed exactly once."""
    spec = spec_for(kind, tmp_path)
    store = open_store(spec)
    try:
        outbox = Outbox(store)
        ids = {outbox.hold(msg(body=str(i)), T0).id for i in range(300)}
        ctx = multiprocessing.get_context("spawn")
        queue, barrier = ctx.Queue(), ctx.Barrier(4)
        workers = [ctx.Process(target=_claim_worker, args=(spec, queue, barrier)) for _ in range(4)]
        for worker in workers:
            worker.start()
        claimed = [queue.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        flat = [i for part in claimed for i in part]
        assert len(flat) == len(set(flat)) == 300
        assert set(flat) == ids
        assert outbox.counts()[HoldState.SENT] == 300
    finally:
        remove(store)


def test_json_payloads_round_trip(store: OutboxStore, clock: FrozenClock) -> None:
    """Every JSON value type survives the store."""
    outbox = Outbox(store, engine_for(clock))
    payload = {"s": "é😀", "n": 1.5, "i": -3, "b": True, "none": None, "l": [1, {"a": []}]}
    held = outbox.hold(msg(), T0, payload=payload)
    got = outbox.get(held.id)
    assert got is not None
    assert json.dumps(got.payload, sort_keys=True) == json.dumps(payload, sort_keys=True)


def test_holding_again_replaces_the_reasons(store: OutboxStore, clock: FrozenClock) -> None:
    """A message held again keeps only the reasons of its latest hold (none clears them)."""
    from smspolicy.outbox._model import Finish

    outbox = Outbox(store, engine_for(clock))
    held = outbox.hold(msg(), T0)
    why = (Reason("cap.exceeded", "cap", "full"),)
    [first] = outbox.claim()
    assert store.finish(
        [Finish(held.id, first.token or "", HoldState.HELD, T0, due=T0, reasons=why)]
    )
    got = outbox.get(held.id)
    assert got is not None
    assert got.reasons == why
    [second] = outbox.claim()
    assert store.finish([Finish(held.id, second.token or "", HoldState.HELD, T0, due=T0)]) == [True]
    got = outbox.get(held.id)
    assert got is not None
    assert got.reasons == ()


def test_a_send_whose_hold_expired_is_still_recorded(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """The sender took longer than the reservation's hold and another send filled the cap
    meanwhile: the engine refuses the late commit, and the outbox records the send anyway
    (it went out), so the send log shows both."""
    engine = engine_for(clock, limit=1)
    visibility = dt.timedelta(minutes=2)  # shorter than the engine's default hold
    outbox = Outbox(store, engine, visibility=visibility)
    held = outbox.hold(msg(), T0)

    def slow(release: Release) -> str:
        clock.advance(visibility + US)  # the reservation's hold (one visibility) expires
        engine.record_sent(msg(), provider_id="direct")
        return "p-slow"

    [result] = outbox.release_due(slow)
    assert result.status is ReleaseStatus.SENT
    assert sorted(p or "" for p in sends(engine)) == ["direct", "p-slow"]
    got = outbox.get(held.id)
    assert got is not None
    assert got.provider_id == "p-slow"


def test_outbox_all_lists_its_public_names() -> None:
    """``smspolicy.outbox.__all__`` is sorted and names exactly the package's public values."""
    import types

    import smspolicy.outbox as package

    public = {
        name
        for name in dir(package)
        if not name.startswith("_")
        and name != "annotations"
        and not isinstance(getattr(package, name), types.ModuleType)
    }
    assert package.__all__ == sorted(package.__all__)
    assert set(package.__all__) == public


def test_run_waits_out_a_store_outage(clock: FrozenClock) -> None:
    """A claim that fails because the outbox store is down does not end the loop: it counts
    the failed batch, waits ``poll`` and releases once the store answers again."""

    class Flaky(MemoryOutbox):
        failures = 2

        def claim(self, *args: Any, **kwargs: Any) -> Any:
            if self.failures:
                self.failures -= 1
                raise StoreUnavailableError("connection refused")
            return super().claim(*args, **kwargs)

    outbox = Outbox(Flaky(), engine_for(clock))
    outbox.hold(msg(), T0)
    stats = outbox.run(Sender(), once=True, poll=0.01)
    assert (stats.errors, stats.sent, stats.batches) == (2, 1, 1)


def test_postgres_outbox_reconnects_after_a_lost_connection(tmp_path: Path) -> None:
    """A PostgreSQL outbox whose connection was cut fails that call with StoreUnavailableError
    and works again on the next call once the server answers."""
    from smspolicy.outbox.postgres import PostgresOutbox

    from .services import POSTGRES_DSN, proxy

    remove(open_store(spec_for("postgres", tmp_path)))  # skip, or fail under CI, when down
    schema = "ob_" + uuid.uuid4().hex[:12]
    with proxy(5432) as gate:
        dsn = POSTGRES_DSN.replace("port=5432", f"port={gate.port}")
        store = PostgresOutbox(dsn, schema=schema)
        try:
            outbox = Outbox(store)
            held = outbox.hold(msg(), T0)
            gate.cut()
            with pytest.raises(StoreUnavailableError):
                outbox.claim(T0)
            gate.restore()
            assert [h.id for h in outbox.claim(T0)] == [held.id]
        finally:
            remove(store)


def test_an_outbox_opens_a_store_from_a_path_or_url(tmp_path: Path) -> None:
    """A path (text or Path) opens a SQLite outbox; ``postgresql://`` and ``redis://`` URLs
    open those stores; defaults are five minutes' visibility, one minute's retry, 10 attempts."""
    from smspolicy.outbox import SQLiteOutbox
    from smspolicy.outbox.postgres import PostgresOutbox
    from smspolicy.outbox.redis import RedisOutbox

    from .services import REDIS_URL

    for target in (str(tmp_path / "a.sqlite3"), tmp_path / "b.sqlite3"):
        outbox = Outbox(target)
        assert isinstance(outbox.store, SQLiteOutbox)
        assert outbox.store.path == Path(target)
        assert (outbox.visibility, outbox.retry, outbox.max_attempts) == (
            dt.timedelta(minutes=5),
            dt.timedelta(minutes=1),
            10,
        )
        outbox.close()
    remove(open_store(spec_for("postgres", tmp_path)))  # skip, or fail under CI, when down
    for url in ("postgresql://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1/test"):
        outbox = Outbox(url)
        assert isinstance(outbox.store, PostgresOutbox)
        outbox.close()
    outbox = Outbox(REDIS_URL)
    assert isinstance(outbox.store, RedisOutbox)
    outbox.close()
    with pytest.raises(ConfigurationError, match="not both"):
        Outbox(MemoryOutbox(), Engine(Policy(name="x")), clock=FrozenClock(T0))


def test_an_outbox_without_an_engine_holds_on_its_own_clock() -> None:
    """Holding needs no engine: the hold is stamped with the given clock's now."""
    outbox = Outbox(MemoryOutbox(), clock=FrozenClock(T0))
    held = outbox.hold(msg(), T0 + DAY)
    assert held.held_at == T0
    assert outbox.now() == T0


def test_a_claim_of_one_takes_one(store: OutboxStore, clock: FrozenClock) -> None:
    """``limit=1`` is the smallest batch: it claims exactly one message."""
    outbox = Outbox(store, engine_for(clock))
    for _ in range(2):
        outbox.hold(msg(), T0)
    assert len(outbox.claim(limit=1)) == 1
    assert len(outbox.release_due(Sender(), limit=1)) == 1


def test_drop_reasons_carry_their_details(clock: FrozenClock) -> None:
    """A stale drop names ``not_after`` and the release instant; a send failure names the
    error, and says it will retry or gave up."""
    engine = engine_for(clock)
    outbox = Outbox(MemoryOutbox(), engine, max_attempts=2)
    not_after = T0 + dt.timedelta(hours=1)
    outbox.hold(msg(not_after=not_after), T0)
    clock.set(not_after + US)
    [stale] = outbox.release_due(Sender())
    [reason] = stale.reasons
    assert (reason.code, reason.rule) == ("message.stale", "outbox")
    assert dict(reason.data) == {"not_after": str(not_after), "now": str(not_after + US)}
    assert str(not_after) in reason.message
    outbox.hold(msg(), engine.now())
    [first] = outbox.release_due(Sender(fail=True))
    assert (first.reasons[0].code, first.reasons[0].rule) == ("send.failed", "outbox")
    assert dict(first.reasons[0].data) == {"error": "ConnectionError('provider down')"}
    assert "ConnectionError: provider down (will retry)" in first.reasons[0].message
    clock.advance(dt.timedelta(minutes=1))
    [last] = outbox.release_due(Sender(fail=True))
    assert "(gave up after repeated failures)" in last.reasons[0].message


def test_a_finish_as_sent_without_a_recorded_send_records_it(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """Completing as sent a claim whose send was not recorded records the provider id and
    the instant with the completion."""
    from smspolicy.outbox._model import Finish

    outbox = Outbox(store, engine_for(clock))
    held = outbox.hold(msg(), T0)
    [claimed] = outbox.claim()
    at = T0 + dt.timedelta(minutes=1)
    done = Finish(held.id, claimed.token or "", HoldState.SENT, at, provider_id="p-c")
    assert store.finish([done]) == [True]
    got = outbox.get(held.id)
    assert got is not None
    assert (got.provider_id, got.sent_at, got.finished_at) == ("p-c", at, at)


def test_a_provider_id_that_is_not_text_is_kept_as_text(clock: FrozenClock) -> None:
    """A sender returning a number gives the provider id as text; None stays None."""
    outbox = Outbox(MemoryOutbox(), engine_for(clock))
    outbox.hold(msg(body="a"), T0)
    [numbered] = outbox.release_due(lambda release: 42)  # type: ignore[arg-type,return-value]
    assert numbered.provider_id == "42"
    outbox.hold(msg(body="b"), T0)
    [anonymous] = outbox.release_due(lambda release: None)
    assert anonymous.provider_id is None


@pytest.mark.parametrize("via", ["release", "run"])
def test_concurrency_sends_from_that_many_threads(clock: FrozenClock, via: str) -> None:
    """With ``concurrency=4`` four sends are in flight at once (a barrier of four passes)."""
    outbox = Outbox(MemoryOutbox(), engine_for(clock, limit=100))
    for i in range(8):
        outbox.hold(msg(body=str(i)), T0)
    barrier = threading.Barrier(4, timeout=30)
    threads: set[int] = set()

    def send(release: Release) -> str:
        threads.add(threading.get_ident())
        barrier.wait()
        return "ok"

    if via == "release":
        results = outbox.release_due(send, concurrency=4)
        assert [r.status for r in results] == [ReleaseStatus.SENT] * 8
    else:
        assert outbox.run(send, batch=8, concurrency=4, once=True).sent == 8
    assert len(threads) == 4


def test_sigterm_stops_the_loop_and_the_handler_is_restored(clock: FrozenClock) -> None:
    """SIGTERM while ``run`` waits for work ends the loop (the loop's own handler takes it,
    not the one installed before), and the previous handler is back afterwards."""
    import os
    import signal

    calls: list[int] = []

    def previous(signum: int, frame: object) -> None:
        calls.append(signum)

    old = signal.signal(signal.SIGTERM, previous)
    try:
        outbox = Outbox(MemoryOutbox(), engine_for(clock))
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
        timer.start()
        stats = outbox.run(Sender(), poll=0.05)
        timer.join()
        assert stats.batches == 0
        assert calls == []
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, old)


def test_a_recovered_send_the_engine_cannot_record_yet_is_held_for_a_retry(
    store: OutboxStore, clock: FrozenClock
) -> None:
    """A claim finds a send recorded by a worker that died, but the engine's store is down:
    the message is held again for ``retry`` with its send still recorded, never sent again,
    and completed once the store answers."""

    class Down(MemoryStore):
        down = True

        def record_send(self, *args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailableError("down")
            return super().record_send(*args, **kwargs)

    engine_store = Down()
    engine = Engine(Policy(name="t"), engine_store, clock)
    retry = dt.timedelta(minutes=3)
    outbox = Outbox(store, engine, retry=retry)
    held = outbox.hold(msg(), T0)
    [claimed] = outbox.claim()
    store.record_sends([(claimed.id, "p-first", T0)])
    clock.set(T0 + VIS)
    sender = Sender()
    [result] = outbox.release_due(sender)
    assert (result.status, result.recovered, result.until) == (
        ReleaseStatus.HELD,
        True,
        T0 + VIS + retry,
    )
    got = outbox.get(held.id)
    assert got is not None
    assert (got.state, got.due, got.sent_at) == (HoldState.HELD, T0 + VIS + retry, T0)
    engine_store.down = False
    clock.set(T0 + VIS + retry)
    [done] = outbox.release_due(sender)
    assert (done.status, done.recovered, done.provider_id) == (ReleaseStatus.SENT, True, "p-first")
    assert sender.calls == []


def test_release_and_dropped_refuse_what_they_cannot_use(clock: FrozenClock) -> None:
    """``release`` takes only claimed messages (a held one, or anything else, is refused
    before anything is sent); ``dropped`` takes a positive limit."""
    outbox = Outbox(MemoryOutbox(), engine_for(clock))
    held = outbox.hold(msg(), T0)
    sender = Sender()
    for bad in ([held], ["not a message"]):
        with pytest.raises(InvalidInputError, match="claim"):
            outbox.release(bad, sender)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        outbox.release(outbox.claim(), "send")  # type: ignore[arg-type]
    assert sender.calls == []
    for limit in (0, True, "1"):
        with pytest.raises(InvalidInputError):
            outbox.dropped(limit)  # type: ignore[arg-type]
    assert outbox.dropped(1) == []
