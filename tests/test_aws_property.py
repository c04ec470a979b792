"""A property of both AWS guards: for any sequence of scripted AWS answers (success, throttle,
5xx, timeouts before and after sending, resets, opt-outs) and store failures,

1. no address receives more requests that may have delivered than the guard reported as
   ``sent`` or ``unknown`` (and at most one per call);
2. every possibly delivered send counts for caps (a cap of two a day is never exceeded, and
   once the store is back every such send is in the send log);
3. no opted-out address is sent to afterwards, nor allowed once the store is back.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from hypothesis import example, given
from hypothesis import strategies as st

from smspolicy import Engine, Message, Policy, rules
from smspolicy.aws import Outcome, PinpointGuard, Region, SmsVoiceV2Guard
from smspolicy.store import SendStatus
from smspolicy.testing import FrozenClock

from .aws_helpers import (
    CLOSED,
    CONNECT_TIMEOUT,
    NO_ENDPOINT,
    OPTED_OUT_V2,
    READ_TIMEOUT,
    SERVER_PINPOINT,
    SERVER_V2,
    THROTTLE_PINPOINT,
    THROTTLE_V2,
    Answer,
    FlakyStore,
    Script,
    client,
    destinations,
    may_deliver,
    ok,
    opts_out,
)

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)
NUMBERS = ("+12125550123", "+12125550124")
BODY = "Acme: 20% off. Reply STOP to opt out."
CAP = 1
FAILURES = ("settle", "consent", "reserve", "record")

COMMON = [READ_TIMEOUT, CLOSED, CONNECT_TIMEOUT, NO_ENDPOINT]
V2_ANSWERS = st.sampled_from([ok(), THROTTLE_V2, SERVER_V2, OPTED_OUT_V2, *COMMON])
STATUSES = st.sampled_from(
    ["SUCCESSFUL", "THROTTLED", "OPT_OUT", "TEMPORARY_FAILURE", "PERMANENT_FAILURE"]
)
PINPOINT_ANSWERS = st.one_of(
    st.sampled_from([ok(), THROTTLE_PINPOINT, SERVER_PINPOINT, *COMMON]),
    st.builds(lambda a, b: ok(**{NUMBERS[0]: a, NUMBERS[1]: b}), STATUSES, STATUSES),
)
STEPS = st.lists(
    st.tuples(
        st.sampled_from([*NUMBERS, "both"]),
        st.frozensets(st.sampled_from(FAILURES)),
        st.integers(0, 10),  # minutes that pass before the call
    ),
    min_size=1,
    max_size=8,
)


def _engine(store: FlakyStore) -> Engine:
    policy = Policy(rules.consent(), rules.frequency_cap(CAP, dt.timedelta(days=1)), name="p")
    engine = Engine(policy, store, FrozenClock(NOW))
    for number in NUMBERS:
        engine.consent.confirm(number, topic="deals", purpose="marketing", source="web")
    return engine


def _call(api: str, guard: Any, number: str) -> dict[str, Outcome]:
    targets = list(NUMBERS) if number == "both" else [number]
    try:
        if api == "v2":
            outcomes = {}
            for target in targets:
                try:
                    answer = guard.send_text_message(
                        DestinationPhoneNumber=target,
                        MessageBody=BODY,
                        MessageType="PROMOTIONAL",
                        OriginationIdentity="+18885550100",
                    )
                    outcomes[target] = answer["Outcome"]
                except (ClientError, BotoCoreError) as raised:
                    outcomes[target] = raised.outcome  # type: ignore[attr-defined]
            return outcomes
        request = {
            "Addresses": {t: {"ChannelType": "SMS"} for t in targets},
            "MessageConfiguration": {
                "SMSMessage": {
                    "Body": BODY,
                    "MessageType": "PROMOTIONAL",
                    "OriginationNumber": "+18885550100",
                }
            },
        }
        answer = guard.send_messages(ApplicationId="app", MessageRequest=request)
        return dict(answer["Outcomes"])
    except (ClientError, BotoCoreError) as raised:
        return dict(raised.outcomes)  # type: ignore[attr-defined]


def _run(api: str, answers: list[Answer], steps: list[Any]) -> None:
    store = FlakyStore()
    engine = _engine(store)
    service, operation = (
        ("pinpoint-sms-voice-v2", "SendTextMessage")
        if api == "v2"
        else ("pinpoint", "SendMessages")
    )
    log: list[tuple[dict[str, Any], Answer]] = []
    shared = deque(answers)
    east, west = client(service), client(service, "us-west-2")
    for c in (east, west):
        Script(c, operation, fallback=ok(), log=log).answers = shared
    cls = SmsVoiceV2Guard if api == "v2" else PinpointGuard
    guard = cls(
        east,
        engine,
        topic="deals",
        brand="Acme",
        attempts=2,
        sleep=lambda _s: None,
        failover=[Region(west, application_id="app-west", origination="+18885550199")],
    )
    reported: Counter[str] = Counter()
    for number, failing, minutes in steps:
        if minutes:
            engine.clock.advance(dt.timedelta(minutes=minutes))  # type: ignore[attr-defined]
        store.failing = set(failing)
        before = len(log)
        outcomes = _call(api, guard, number)
        store.failing = set()
        for address, outcome in outcomes.items():
            reported[address] += outcome.may_have_delivered
        for address in NUMBERS:  # (1) at most once per call
            in_call = [a for body, a in log[before:] if address in destinations(body)]
            assert sum(may_deliver(a, address) for a in in_call) <= 1
    delivered = Counter(
        address
        for body, answer in log
        for address in destinations(body)
        if may_deliver(answer, address)
    )
    for address in NUMBERS:
        assert delivered[address] <= reported[address]  # (1)
        assert delivered[address] <= CAP  # (2) the cap saw every possibly delivered send
    guard.replay()
    assert guard.pending() == []
    for address in NUMBERS:
        counted = engine.store.sends([address], since=NOW - dt.timedelta(days=1))[address]
        assert sum(r.status is SendStatus.SENT for r in counted) >= delivered[address]  # (2)
        opted = [
            i
            for i, (body, a) in enumerate(log)
            if address in destinations(body) and opts_out(a, address)
        ]
        if opted:  # (3)
            later = [b for b, _a in log[opted[0] + 1 :] if address in destinations(b)]
            assert later == []
            assert not engine.evaluate(Message(address, "deals", "marketing", brand="Acme")).allowed


OPT_OUT_WHILE_LEDGER_DOWN = [(NUMBERS[0], frozenset({"consent"}), 0)] * 2


@given(answers=st.lists(V2_ANSWERS, max_size=30), steps=STEPS)
@example(answers=[OPTED_OUT_V2], steps=OPT_OUT_WHILE_LEDGER_DOWN)
@example(answers=[READ_TIMEOUT], steps=[(NUMBERS[0], frozenset({"settle"}), 0)] * 3)
def test_v2_guard_invariants(answers: list[Answer], steps: list[Any]) -> None:
    """SendTextMessage: the three invariants hold for any answers and store failures."""
    _run("v2", answers, steps)


@given(answers=st.lists(PINPOINT_ANSWERS, max_size=30), steps=STEPS)
@example(answers=[ok(**{NUMBERS[0]: "OPT_OUT"})], steps=OPT_OUT_WHILE_LEDGER_DOWN)
def test_pinpoint_guard_invariants(answers: list[Answer], steps: list[Any]) -> None:
    """SendMessages: the three invariants hold for any answers and store failures."""
    _run("pinpoint", answers, steps)
