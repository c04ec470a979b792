"""Guards that hold deferred addresses in an outbox, and a release through the guard: real boto3
clients whose HTTP answers are scripted through botocore's ``before-send`` event, so every
request that goes out is counted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Engine, Policy, rules, when
from smspolicy.aws import OutcomeStatus, PinpointGuard, SmsVoiceV2Guard
from smspolicy.errors import ConfigurationError
from smspolicy.outbox import (
    HoldState,
    MemoryOutbox,
    Outbox,
    Release,
    ReleaseStatus,
    SQLiteOutbox,
)
from smspolicy.predicates import is_marketing
from smspolicy.store import MemoryStore, SendStatus
from smspolicy.testing import FrozenClock

from .aws_helpers import (
    OPTED_OUT_V2,
    READ_TIMEOUT,
    THROTTLE_PINPOINT,
    THROTTLE_V2,
    Answer,
    FlakyStore,
    Script,
    client,
    ok,
)

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)  # 10:00 New York, 07:00 Los Angeles
OPENS = dt.datetime(2025, 1, 15, 16, 0, tzinfo=dt.UTC)  # 08:00 Los Angeles
NY, LA = "+12125550123", "+13105550123"
SENDER = "+18885550100"
BODY = "Acme: 20% off. Reply STOP to opt out."
POLICY = Policy(
    rules.consent(), when(is_marketing, rules.sending_window("08:00", "21:00")), name="hold"
)


class World:
    """An engine, an outbox on one store kind, a scripted client and a guard of one API."""

    def __init__(
        self, api: str, store: str, tmp_path: Path, engine_store: MemoryStore | None = None
    ) -> None:
        self.api = api
        self.clock = FrozenClock(NOW)
        self.engine = Engine(POLICY, engine_store or MemoryStore(), self.clock)
        for number in (NY, LA):
            self.engine.consent.confirm(number, topic="deals", purpose="marketing", source="web")
        kept = MemoryOutbox() if store == "memory" else SQLiteOutbox(tmp_path / "outbox.sqlite3")
        self.outbox = Outbox(kept, self.engine)
        self.operation = "SendMessages" if api == "pinpoint" else "SendTextMessage"
        self.client = client("pinpoint" if api == "pinpoint" else "pinpoint-sms-voice-v2")
        self.script = Script(self.client, self.operation)
        self.guard = self.make_guard()

    def make_guard(self, **options: Any) -> Any:
        options.setdefault("outbox", self.outbox)
        if self.api == "pinpoint":
            return PinpointGuard(self.client, self.engine, topic="deals", **options)
        return SmsVoiceV2Guard(self.client, self.engine, topic="deals", **options)

    def call(self, *numbers: str, guard: Any = None, key: str | None = None) -> dict[str, Any]:
        """One guard call to ``numbers``; returns address -> outcome (and the raw answer)."""
        guard = guard or self.guard
        if self.api == "pinpoint":
            answer = guard.send_messages(
                ApplicationId="app-1",
                MessageRequest={
                    "Addresses": {n: {"ChannelType": "SMS"} for n in numbers},
                    "MessageConfiguration": {
                        "SMSMessage": {
                            "Body": BODY,
                            "MessageType": "PROMOTIONAL",
                            "OriginationNumber": SENDER,
                        }
                    },
                },
                idempotency_key=key,
            )
            return {**answer["Outcomes"], "answer": answer}
        (number,) = numbers
        answer = guard.send_text_message(
            DestinationPhoneNumber=number,
            MessageBody=BODY,
            MessageType="PROMOTIONAL",
            OriginationIdentity=SENDER,
            idempotency_key=key,
        )
        return {number: answer["Outcome"], "answer": answer}

    def expected_payload(self, number: str) -> dict[str, Any]:
        """The request narrowed to ``number``, written out by hand."""
        if self.api == "pinpoint":
            return {
                "SendMessages": {
                    "ApplicationId": "app-1",
                    "MessageRequest": {
                        "Addresses": {number: {"ChannelType": "SMS"}},
                        "MessageConfiguration": {
                            "SMSMessage": {
                                "Body": BODY,
                                "MessageType": "PROMOTIONAL",
                                "OriginationNumber": SENDER,
                            }
                        },
                    },
                }
            }
        return {
            "SendTextMessage": {
                "DestinationPhoneNumber": number,
                "MessageBody": BODY,
                "MessageType": "PROMOTIONAL",
                "OriginationIdentity": SENDER,
            }
        }

    def destinations(self) -> list[str]:
        """The destination of every request that went out, in order."""
        out: list[str] = []
        for body in self.script.requests:
            if "DestinationPhoneNumber" in body:
                out.append(body["DestinationPhoneNumber"])
            else:
                out.extend(body.get("MessageRequest", body)["Addresses"])
        return out

    def sends(self, number: str) -> list[Any]:
        return self.engine.store.sends([number], since=NOW - dt.timedelta(days=1))[number]

    def throttle(self) -> Answer:
        return THROTTLE_PINPOINT if self.api == "pinpoint" else THROTTLE_V2


@pytest.fixture(params=["pinpoint", "v2"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(api: str, tmp_path: Path) -> Iterator[World]:
    w = World(api, "memory", tmp_path)
    yield w
    w.outbox.close()


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_deferred_is_held_then_released_once_through_the_guard(
    api: str, store: str, tmp_path: Path
) -> None:
    """07:00 in Los Angeles: the address is held (no request), reported deferred with the
    hold's id and instant; nothing is released before 08:00; at 08:00 the release sends
    exactly one request with the held request and the send log has exactly one record."""
    w = World(api, store, tmp_path)
    w.script.add(ok())
    outcome = w.call(LA)[LA]
    assert outcome.status is OutcomeStatus.DEFERRED
    assert outcome.hold_id is not None
    assert outcome.held_until == OPENS
    assert w.script.requests == []
    held = w.outbox.get(outcome.hold_id)
    assert held is not None
    assert held.state is HoldState.HELD
    assert held.due == OPENS
    assert held.message.address == LA
    assert held.payload == w.expected_payload(LA)
    send = w.guard.release_sender()
    w.clock.set(OPENS - dt.timedelta(microseconds=1))
    assert w.outbox.release_due(send) == []
    assert w.script.requests == []
    w.clock.set(OPENS)
    (released,) = w.outbox.release_due(send)
    assert released.status is ReleaseStatus.SENT
    assert w.destinations() == [LA]
    request = w.expected_payload(LA)[w.operation]
    assert w.script.requests[0] == request.get("MessageRequest", request)
    expected_id = f"msg-1-{LA}" if api == "pinpoint" else "msg-1"
    assert released.provider_id == expected_id
    records = w.sends(LA)
    assert [(r.status, r.provider_id) for r in records] == [(SendStatus.SENT, expected_id)]
    assert w.outbox.counts()[HoldState.SENT] == 1
    assert w.outbox.release_due(send) == []  # nothing left: no second request
    assert len(w.script.requests) == 1
    w.outbox.close()


def test_pinpoint_sends_the_allowed_and_holds_the_deferred(tmp_path: Path) -> None:
    """One request for New York (open), Los Angeles held: its Result entry says THROTTLED 429
    with the hold's id and instant in StatusMessage."""
    w = World("pinpoint", "memory", tmp_path)
    w.script.add(ok())
    got = w.call(NY, LA)
    assert got[NY].status is OutcomeStatus.SENT
    assert got[NY].hold_id is None
    assert w.destinations() == [NY]
    hold_id = got[LA].hold_id
    result = got["answer"]["MessageResponse"]["Result"][LA]
    assert (result["DeliveryStatus"], result["StatusCode"]) == ("THROTTLED", 429)
    assert result["StatusMessage"] == (
        "smspolicy deferred until 2025-01-15T16:00:00+00:00: hours.outside_window "
        f"(held {hold_id} until 2025-01-15T16:00:00+00:00)"
    )
    assert w.outbox.counts()[HoldState.HELD] == 1


def test_without_an_outbox_nothing_is_held(api: str, tmp_path: Path) -> None:
    """Without ``outbox=`` the deferral is reported as before: no hold id, no hold."""
    w = World(api, "memory", tmp_path)
    guard = w.make_guard(outbox=None)
    got = w.call(LA, guard=guard)
    assert got[LA].status is OutcomeStatus.DEFERRED
    assert (got[LA].hold_id, got[LA].held_until, got[LA].store_error) == (None, None, None)
    assert w.outbox.counts()[HoldState.HELD] == 0
    if api == "pinpoint":
        message = got["answer"]["MessageResponse"]["Result"][LA]["StatusMessage"]
        assert message == "smspolicy deferred until 2025-01-15T16:00:00+00:00: hours.outside_window"


def test_a_stop_in_between_drops_without_a_request(world: World) -> None:
    """A STOP after the hold: at 08:00 the outbox drops it with consent.revoked; no request
    goes out and nothing is recorded."""
    outcome = world.call(LA)[LA]
    world.engine.inbound("STOP", LA)
    world.clock.set(OPENS)
    (released,) = world.outbox.release_due(world.guard.release_sender())
    assert released.status is ReleaseStatus.DROPPED
    assert "consent.revoked" in [r.code for r in released.reasons]
    assert world.script.requests == []
    assert [r for r in world.sends(LA) if r.status is SendStatus.SENT] == []
    assert [h.id for h in world.outbox.dropped()] == [outcome.hold_id]


def test_a_repeated_call_with_the_same_key_holds_once(world: World) -> None:
    """The same idempotency key: the repeat (same guard) reports the same hold; another guard
    with a fresh journal finds the hold by its key. A different key holds again; without a key,
    each call holds."""
    first = world.call(LA, key="order-1")[LA]
    again = world.call(LA, key="order-1")[LA]
    assert again.status is OutcomeStatus.DEFERRED
    assert (again.hold_id, again.held_until) == (first.hold_id, OPENS)
    other = world.make_guard()  # its own memory journal: only the outbox knows the key
    elsewhere = world.call(LA, guard=other, key="order-1")[LA]
    assert elsewhere.hold_id == first.hold_id
    assert world.outbox.counts()[HoldState.HELD] == 1
    assert world.call(LA, key="order-2")[LA].hold_id not in (None, first.hold_id)
    assert world.outbox.counts()[HoldState.HELD] == 2
    world.call(LA)
    world.call(LA)
    assert world.outbox.counts()[HoldState.HELD] == 4
    assert world.script.requests == []
    world.clock.set(OPENS)
    world.script.add(ok(), ok(), ok(), ok())
    released = world.outbox.release_due(world.guard.release_sender())
    assert [r.status for r in released] == [ReleaseStatus.SENT] * 4
    assert len(world.script.requests) == 4


def test_the_hold_key_is_the_calls_key_and_the_address(world: World) -> None:
    """The hold's key is derived from the idempotency key and the address, and is the key the
    release passes on."""
    outcome = world.call(LA, key="order-1")[LA]
    held = world.outbox.get(outcome.hold_id)
    assert held is not None
    assert held.key == f"order-1|{LA}"


def test_throttled_at_release_is_held_again_and_sent_once_later(world: World) -> None:
    """Throttled at release (proves nothing went out): held again, nothing recorded; the next
    release sends it: two requests in all, one send record."""
    world.call(LA)
    world.clock.set(OPENS)
    world.script.add(world.throttle())
    send = world.guard.release_sender()
    (first,) = world.outbox.release_due(send)
    assert first.status is ReleaseStatus.HELD
    assert [r.code for r in first.reasons] == ["send.failed"]
    assert world.sends(LA) == []
    world.clock.set(first.until)
    world.script.add(ok())
    (second,) = world.outbox.release_due(send)
    assert second.status is ReleaseStatus.SENT
    assert world.destinations() == [LA, LA]
    assert [r.status for r in world.sends(LA)] == [SendStatus.SENT]


def test_a_release_that_may_have_delivered_is_counted_not_resent(world: World) -> None:
    """A read timeout at release may have delivered: the outbox counts it as sent (one record)
    and it is never sent again."""
    world.call(LA)
    world.clock.set(OPENS)
    world.script.add(READ_TIMEOUT)
    (released,) = world.outbox.release_due(world.guard.release_sender())
    assert released.status is ReleaseStatus.SENT
    assert len(world.script.requests) == 1
    assert [r.status for r in world.sends(LA)] == [SendStatus.SENT]
    world.clock.set(OPENS + dt.timedelta(days=1))
    assert world.outbox.release_due(world.guard.release_sender()) == []
    assert len(world.script.requests) == 1


def test_a_release_key_that_already_went_out_sends_nothing(world: World) -> None:
    """A worker that died mid-request left the key started in the guard's journal: the next
    try of that message makes no request (it may have delivered) and completes it."""
    outcome = world.call(LA)[LA]
    held = world.outbox.get(outcome.hold_id)
    assert held is not None
    world.guard.journal.remember(held.key, {"state": "started"})
    world.clock.set(OPENS)
    (released,) = world.outbox.release_due(world.guard.release_sender())
    assert released.status is ReleaseStatus.SENT
    assert world.script.requests == []
    assert [r.status for r in world.sends(LA)] == [SendStatus.SENT]


def test_v2_opt_out_at_release_revokes_then_drops(tmp_path: Path) -> None:
    """End User Messaging says the number opted out at release: the revocation is written,
    nothing is counted, and the next release drops it (consent.revoked) without a request."""
    w = World("v2", "memory", tmp_path)
    w.call(LA)
    w.clock.set(OPENS)
    w.script.add(OPTED_OUT_V2)
    send = w.guard.release_sender()
    (first,) = w.outbox.release_due(send)
    assert first.status is ReleaseStatus.HELD
    assert w.sends(LA) == []
    w.clock.set(first.until)
    (second,) = w.outbox.release_due(send)
    assert second.status is ReleaseStatus.DROPPED
    assert "consent.revoked" in [r.code for r in second.reasons]
    assert len(w.script.requests) == 1


def test_pinpoint_permanent_failure_at_release_is_not_counted(tmp_path: Path) -> None:
    """A PERMANENT_FAILURE for the address at release proves it was not sent: held again with
    send.failed, nothing recorded."""
    w = World("pinpoint", "memory", tmp_path)
    w.call(LA)
    w.clock.set(OPENS)
    w.script.add(ok(**{LA: "PERMANENT_FAILURE"}))
    (first,) = w.outbox.release_due(w.guard.release_sender())
    assert first.status is ReleaseStatus.HELD
    assert "PERMANENT_FAILURE" in first.reasons[0].message
    assert w.sends(LA) == []


@pytest.mark.parametrize("bad", [object(), "outbox.sqlite3", MemoryOutbox()])
def test_outbox_must_be_an_outbox(world: World, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="outbox must be"):
        world.make_guard(outbox=bad)


def test_a_payload_that_is_not_a_guard_request_is_not_sent(world: World, tmp_path: Path) -> None:
    """A message held by other code (no guard request in its payload) is not sent by the
    guard's sender: it is held again and never counted."""
    outcome = world.call(LA)[LA]
    held = world.outbox.get(outcome.hold_id)
    assert held is not None
    world.outbox.hold(held.message, OPENS, payload={"something": "else"}, key="other")
    world.outbox.hold(held.message, OPENS, payload=["list"], key="list")
    world.clock.set(OPENS)
    world.script.add(ok())
    released = {r.held.key: r for r in world.outbox.release_due(world.guard.release_sender())}
    assert released["other"].status is ReleaseStatus.HELD
    assert released["list"].status is ReleaseStatus.HELD
    assert released[held.key].status is ReleaseStatus.SENT
    assert "not a guard's request: ['list']" in released["list"].reasons[0].message
    said = {
        "pinpoint": "is not a one-address SendMessages: {'something': 'else'}",
        "v2": "has no SendTextMessage request: {'something': 'else'}",
    }[world.api]
    assert said in released["other"].reasons[0].message
    assert world.guard.journal.recall("other") == {"state": "not_sent"}  # may be sent later
    assert world.guard.journal.recall("list") is None
    assert len(world.script.requests) == 1


def test_a_release_key_already_accepted_returns_its_message_id(world: World) -> None:
    """An earlier try was accepted (kept in the guard's journal) but the outbox did not hear
    of it: the next try makes no request and completes with that message id."""
    outcome = world.call(LA)[LA]
    held = world.outbox.get(outcome.hold_id)
    assert held is not None
    world.guard.journal.remember(held.key, {"state": "accepted", "message_id": "m-9"})
    world.clock.set(OPENS)
    (released,) = world.outbox.release_due(world.guard.release_sender())
    assert (released.status, released.provider_id) == (ReleaseStatus.SENT, "m-9")
    assert world.script.requests == []
    assert [(r.status, r.provider_id) for r in world.sends(LA)] == [(SendStatus.SENT, "m-9")]


def test_a_number_blocked_by_the_journal_is_not_released(api: str, tmp_path: Path) -> None:
    """An opt-out of the number is in the guard's journal but not yet in the store: the release
    makes no request and the message is held again (the outbox decided without the opt-out);
    once the journal is written, the next release drops it."""
    store = FlakyStore()
    w = World(api, "memory", tmp_path, engine_store=store)
    w.call(LA)
    store.failing.add("consent")
    w.guard.opted_out(LA, None, "test")  # kept in the journal: the store is down
    store.failing.discard("consent")
    assert w.guard.blocked() == {LA}
    store.failing.add("consent")
    w.clock.set(OPENS)
    send = w.guard.release_sender()
    (first,) = w.outbox.release_due(send)
    assert first.status is ReleaseStatus.HELD
    assert "was not in the store yet" in first.reasons[0].message
    assert w.script.requests == []
    store.failing.discard("consent")
    w.clock.set(first.until)
    (second,) = w.outbox.release_due(send)  # decided before the journal was written: held
    assert second.status is ReleaseStatus.HELD
    assert w.guard.blocked() == set()
    w.clock.set(second.until)
    (third,) = w.outbox.release_due(send)
    assert third.status is ReleaseStatus.DROPPED
    assert "consent.revoked" in [r.code for r in third.reasons]
    assert w.script.requests == []


def test_release_retries_throttling_within_its_attempts(api: str, tmp_path: Path) -> None:
    """With ``attempts=2`` a throttled release is tried again at once: two requests, one send
    record, no guard-side retry beyond that."""
    w = World(api, "memory", tmp_path)
    guard = w.make_guard(attempts=2, sleep=lambda _s: None)
    w.call(LA, guard=guard)
    w.clock.set(OPENS)
    w.script.add(w.throttle(), ok())
    (released,) = w.outbox.release_due(guard.release_sender())
    assert released.status is ReleaseStatus.SENT
    assert w.destinations() == [LA, LA]
    assert [r.status for r in w.sends(LA)] == [SendStatus.SENT]


def test_pinpoint_opt_out_at_release_revokes_then_drops(tmp_path: Path) -> None:
    """Pinpoint answers OPT_OUT for the address at release: revocation written, nothing
    counted, the next release drops it without a request."""
    w = World("pinpoint", "memory", tmp_path)
    w.call(LA)
    w.clock.set(OPENS)
    w.script.add(ok(**{LA: "OPT_OUT"}))
    send = w.guard.release_sender()
    (first,) = w.outbox.release_due(send)
    assert first.status is ReleaseStatus.HELD
    assert w.sends(LA) == []
    w.clock.set(first.until)
    (second,) = w.outbox.release_due(send)
    assert second.status is ReleaseStatus.DROPPED
    assert "consent.revoked" in [r.code for r in second.reasons]
    assert len(w.script.requests) == 1


class BrokenOutbox(MemoryOutbox):
    def add(self, held: Any) -> Any:
        raise OSError("disk full")


def test_a_hold_that_fails_is_reported_not_hidden(
    api: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The outbox cannot take the hold: the address stays deferred (as without an outbox),
    with no hold id and the failure in ``store_error``; nothing is sent."""
    w = World(api, "memory", tmp_path)
    guard = w.make_guard(outbox=Outbox(BrokenOutbox(), w.engine))
    outcome = w.call(LA, guard=guard)[LA]
    assert outcome.status is OutcomeStatus.DEFERRED
    assert outcome.hold_id is None
    assert outcome.store_error == "not held: OSError: disk full"
    assert caplog.messages == [f"could not hold the deferred message to {LA}: OSError('disk full')"]
    assert w.script.requests == []


def test_a_denied_address_is_not_held(world: World) -> None:
    """Only a DEFER is held: an opted-out number is denied as before, with no hold and no
    store error."""
    world.engine.inbound("STOP", LA)
    outcome = world.call(LA)[LA]
    assert outcome.status is OutcomeStatus.DENIED
    assert (outcome.hold_id, outcome.store_error) == (None, None)
    assert world.outbox.counts()[HoldState.HELD] == 0


def test_the_release_marks_its_key_before_the_request_goes_out(world: World) -> None:
    """While the request is out the hold's key is marked started in the guard's journal (a
    crash then never resends); afterwards it holds what AWS answered, and a second try of the
    same release makes no request and returns the same id. A try refused for throttling is
    marked not sent."""
    seen: list[Any] = []
    outcome = world.call(LA)[LA]
    held = world.outbox.get(outcome.hold_id)
    assert held is not None

    def spy(**_kwargs: Any) -> None:
        seen.append(world.guard.journal.recall(held.key))

    world.client.meta.events.register_first(f"before-send.*.{world.operation}", spy)
    world.clock.set(OPENS)
    world.script.add(world.throttle(), ok())
    send = world.guard.release_sender()
    (first,) = world.outbox.release_due(send)
    assert world.guard.journal.recall(held.key) == {"state": "not_sent"}
    world.clock.set(first.until)
    (second,) = world.outbox.release_due(send)
    assert second.status is ReleaseStatus.SENT
    expected_id = f"msg-2-{LA}" if world.api == "pinpoint" else "msg-2"
    assert seen == [{"state": "started"}, {"state": "started"}]
    kept = {"state": "accepted", "message_id": expected_id}
    assert world.guard.journal.recall(held.key) == kept
    assert send(Release(held.id, held.key, held.message, held.payload, 3)) == expected_id
    assert len(world.script.requests) == 2


def test_an_opt_out_the_store_cannot_take_is_said_at_release(tmp_path: Path) -> None:
    """End User Messaging says opted out at release while the ledger is down: the release's
    reason says the revocation is kept in the journal, and the number is blocked."""
    store = FlakyStore()
    w = World("v2", "memory", tmp_path, engine_store=store)
    w.call(LA)
    w.clock.set(OPENS)
    w.script.add(OPTED_OUT_V2)
    store.failing.add("consent")
    (first,) = w.outbox.release_due(w.guard.release_sender())
    assert first.status is ReleaseStatus.HELD
    assert "kept in the journal" in first.reasons[0].message
    assert w.guard.blocked() == {LA}


def test_pinpoint_release_sends_only_one_address_payloads(tmp_path: Path) -> None:
    """A held SendMessages payload with two addresses is not sent by the guard's sender."""
    w = World("pinpoint", "memory", tmp_path)
    outcome = w.call(LA)[LA]
    held = w.outbox.get(outcome.hold_id)
    assert held is not None
    two = w.expected_payload(LA)
    two["SendMessages"]["MessageRequest"]["Addresses"][NY] = {"ChannelType": "SMS"}
    w.outbox.hold(held.message, OPENS, payload=two, key="two")
    w.clock.set(OPENS)
    w.script.add(ok())
    released = {r.held.key: r for r in w.outbox.release_due(w.guard.release_sender())}
    assert released["two"].status is ReleaseStatus.HELD
    assert released[held.key].status is ReleaseStatus.SENT
    assert w.destinations() == [LA]
