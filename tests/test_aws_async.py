"""The async guards (``smspolicy.aws.AsyncPinpointGuard``, ``AsyncSmsVoiceV2Guard``,
``AsyncSesV2Guard``) on real aiobotocore clients with botocore's Stubber, every request counted:
the same outcomes, requests and counted sends as the synchronous guards for the same calls.

Skipped when aiobotocore is not installed (``pip install smspolicy[aws-async]``); under CI
(CI=true) a missing aiobotocore fails, unless SMSPOLICY_SKIP_AWS_ASYNC=1 says this run leaves
these tests to the run that installed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.stub import Stubber

from smspolicy import AsyncEngine, Engine, Message, Policy, rules
from smspolicy.aws import (
    AsyncPinpointGuard,
    AsyncSesV2Guard,
    AsyncSmsVoiceV2Guard,
    PinpointGuard,
    SesV2Guard,
    SmsVoiceV2Guard,
)
from smspolicy.errors import ConfigurationError, RequestValidationError
from smspolicy.store import MemoryStore, SendStatus
from smspolicy.testing import FrozenClock

from .async_support import async_drop, async_postgres_store
from .aws_helpers import client


def _aiobotocore() -> Any:
    try:
        from aiobotocore.session import get_session
    except ImportError as error:
        message = f"aiobotocore is not installed ({error}): pip install 'smspolicy[aws-async]'"
        if os.environ.get("CI") == "true" and os.environ.get("SMSPOLICY_SKIP_AWS_ASYNC") != "1":
            pytest.fail(f"{message}: under CI it must be installed", pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return get_session


get_session = _aiobotocore()

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
DAY = dt.timedelta(days=1)
NY, NY2, NONE = "+12125550123", "+12125550124", "+12125550125"  # NONE never consented
ALICE, BOB = "alice@example.com", "bob@example.com"  # BOB had an email today (capped)
EAST_ID = "+18885550100"
BODY = "Acme: 20% off. Reply STOP to opt out."
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1, "mode": "standard"})
SMS_POLICY = Policy(rules.consent(), rules.frequency_cap(1, DAY), name="t")
EMAIL_POLICY = Policy(rules.dedupe(DAY), rules.frequency_cap(1, DAY, scope="all"), name="email")


@contextlib.asynccontextmanager
async def aio_client(service: str, *, config: Config | None = ONE_ATTEMPT) -> AsyncIterator[Any]:
    """A real aiobotocore client with fake credentials."""
    async with get_session().create_client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    ) as c:
        yield c


class Counter:
    """Counts the requests a client makes (every API call builds its parameters once)."""

    def __init__(self, c: Any) -> None:
        self.count = 0
        c.meta.events.register("before-parameter-build", self)

    def __call__(self, **_kwargs: Any) -> None:
        self.count += 1


# -- the three APIs ----------------------------------------------------------------------------


def pinpoint_request(*addresses: str) -> dict[str, Any]:
    message = {"MessageType": "PROMOTIONAL", "OriginationNumber": EAST_ID, "Body": BODY}
    return {
        "ApplicationId": "app",
        "MessageRequest": {
            "Addresses": {a: {"ChannelType": "SMS"} for a in addresses},
            "MessageConfiguration": {"SMSMessage": message},
        },
    }


def v2_request(address: str) -> dict[str, Any]:
    return {
        "DestinationPhoneNumber": address,
        "OriginationIdentity": EAST_ID,
        "MessageBody": BODY,
        "MessageType": "PROMOTIONAL",
    }


def ses_request(*addresses: str) -> dict[str, Any]:
    return {
        "FromEmailAddress": "deals@acme.example",
        "Destination": {"ToAddresses": list(addresses)},
        "Content": {
            "Simple": {
                "Subject": {"Data": "Acme deals"},
                "Body": {"Text": {"Data": "Acme: 20% off this week."}},
            }
        },
    }


@attrs.frozen
class Api:
    name: str
    service: str
    method: str
    sync_guard: type[Any]
    async_guard: type[Any]
    policy: Policy
    mixed: list[dict[str, Any]]  # calls: one allowed address, one blocked
    blocked: list[dict[str, Any]]  # calls whose every address is blocked
    allowed: dict[str, Any]  # one call to one allowed address
    invalid: dict[str, Any]  # a call botocore's model refuses
    ok: Callable[[list[str]], dict[str, Any]]  # the answer accepting these addresses


def _pinpoint_ok(addresses: list[str]) -> dict[str, Any]:
    result = {
        a: {"DeliveryStatus": "SUCCESSFUL", "StatusCode": 200, "MessageId": f"m-{i}"}
        for i, a in enumerate(addresses)
    }
    return {"MessageResponse": {"ApplicationId": "app", "Result": result}}


PINPOINT = Api(
    "pinpoint",
    "pinpoint",
    "send_messages",
    PinpointGuard,
    AsyncPinpointGuard,
    SMS_POLICY,
    [pinpoint_request(NY, NONE)],
    [pinpoint_request(NONE)],
    pinpoint_request(NY),
    {"ApplicationId": "app", "MessageRequest": {"Addresses": "not a map"}},
    _pinpoint_ok,
)
V2 = Api(
    "v2",
    "pinpoint-sms-voice-v2",
    "send_text_message",
    SmsVoiceV2Guard,
    AsyncSmsVoiceV2Guard,
    SMS_POLICY,
    [v2_request(NY), v2_request(NONE)],
    [v2_request(NONE)],
    v2_request(NY),
    {**v2_request(NY), "MessageType": "LOUD"},
    lambda _addresses: {"MessageId": "m-0"},
)
SES = Api(
    "ses",
    "sesv2",
    "send_email",
    SesV2Guard,
    AsyncSesV2Guard,
    EMAIL_POLICY,
    [ses_request(ALICE, BOB)],
    [ses_request(BOB)],
    ses_request(ALICE),
    {**ses_request(ALICE), "Destination": {"ToAddresses": "alice"}},
    lambda _addresses: {"MessageId": "e-0"},
)
APIS = [PINPOINT, V2, SES]


def allowed_addresses(api: Api, call: dict[str, Any]) -> list[str]:
    if api is PINPOINT:
        return [a for a in call["MessageRequest"]["Addresses"] if a == NY]
    if api is V2:
        return [call["DestinationPhoneNumber"]] if call["DestinationPhoneNumber"] == NY else []
    return [a for a in call["Destination"]["ToAddresses"] if a == ALICE]


# -- both engines, set up alike ----------------------------------------------------------------

CONSENTED = [(n, p) for n in (NY, NY2) for p in ("marketing", "transactional")]


def sync_engine(api: Api) -> Engine:
    engine = Engine(api.policy, MemoryStore(), FrozenClock(NOW))
    for number, purpose in CONSENTED:
        engine.consent.confirm(number, topic="deals", purpose=purpose, source="web")
    engine.record_sent(Message(BOB, "deals", "marketing", "email", body="earlier"))
    return engine


async def async_engine(api: Api, store: Any) -> AsyncEngine:
    engine = AsyncEngine(api.policy, store, FrozenClock(NOW))
    for number, purpose in CONSENTED:
        await engine.consent.confirm(number, topic="deals", purpose=purpose, source="web")
    await engine.record_sent(Message(BOB, "deals", "marketing", "email", body="earlier"))
    return engine


def summary(answer: dict[str, Any]) -> dict[str, tuple[str, tuple[str, ...]]]:
    outcomes = answer["Outcomes"] if "Outcomes" in answer else {"-": answer["Outcome"]}
    return {a: (o.status.value, o.decision.codes) for a, o in outcomes.items()}


def raised_summary(error: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    outcomes = error.outcomes if hasattr(error, "outcomes") else {"-": error.outcome}
    return {a: (o.status.value, o.decision.codes) for a, o in outcomes.items()}


ADDRESSES = (NY, NONE, ALICE, BOB)


def counted(sends: dict[str, list[Any]]) -> dict[str, int]:
    return {a: sum(r.status is SendStatus.SENT for r in sends.get(a, [])) for a in ADDRESSES}


# A scenario: the calls, the answers scripted (an answer: ("ok",) or ("error", code, status)),
# the guard options. Expected values are written by hand per API below.
Scenario = tuple[str, Callable[[Api], list[dict[str, Any]]], list[tuple[Any, ...]], dict[str, Any]]
SCENARIOS: list[Scenario] = [
    ("mixed", lambda api: api.mixed, [("ok",)], {}),
    ("all-blocked", lambda api: api.blocked, [], {}),
    ("unknown", lambda api: [api.allowed], [("error", "InternalFailure", 500)], {"attempts": 3}),
    (
        "throttled-then-sent",
        lambda api: [api.allowed],
        [("error", "TooManyRequestsException", 429), ("ok",)],
        {"attempts": 2},
    ),
]


def _script(api: Api, stub: Stubber, answers: list[tuple[Any, ...]], call: dict[str, Any]) -> None:
    for answer in answers:
        if answer[0] == "ok":
            stub.add_response(api.method, api.ok(allowed_addresses(api, call)))
        else:
            stub.add_client_error(api.method, answer[1], http_status_code=answer[2])


def _result(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "answered", summary(call())
    except (ClientError, BotoCoreError) as error:
        return type(error).__name__, raised_summary(error)


def run_sync(api: Api, scenario: Scenario) -> tuple[list[Any], int, dict[str, int]]:
    _name, calls_of, answers, options = scenario
    c = client(api.service)
    engine = sync_engine(api)
    guard = api.sync_guard(c, engine, topic="deals", brand="Acme", sleep=lambda _s: None, **options)
    counter = Counter(c)
    results = []
    with Stubber(c) as stub:
        for index, call in enumerate(calls_of(api)):
            _script(api, stub, answers if index == 0 else [], call)
            results.append(_result(lambda call=call: getattr(guard, api.method)(**call)))
        stub.assert_no_pending_responses()
    sends = engine.store.sends(list(ADDRESSES), since=NOW - DAY)
    return results, counter.count, counted(sends)


async def run_async(
    api: Api, scenario: Scenario, store: Any
) -> tuple[list[Any], int, dict[str, int]]:
    _name, calls_of, answers, options = scenario
    engine = await async_engine(api, store)
    async with aio_client(api.service) as c:
        guard = api.async_guard(
            c, engine, topic="deals", brand="Acme", sleep=lambda _s: None, **options
        )
        counter = Counter(c)
        results = []
        with Stubber(c) as stub:
            for index, call in enumerate(calls_of(api)):
                _script(api, stub, answers if index == 0 else [], call)
                try:
                    results.append(("answered", summary(await getattr(guard, api.method)(**call))))
                except (ClientError, BotoCoreError) as error:
                    results.append((type(error).__name__, raised_summary(error)))
            stub.assert_no_pending_responses()
    sends = await engine.store.sends(list(ADDRESSES), since=NOW - DAY)
    return results, counter.count, counted(sends)


def _expected(api: Api, name: str) -> tuple[list[Any], int, dict[str, int]]:
    """Written by hand: what each scenario gives, per API."""
    consent = ("denied", ("consent.missing",))
    capped = ("deferred", ("cap.exceeded",))
    sent = ("sent", ())
    unknown = ("unknown", ())
    before = {NY: 0, NONE: 0, ALICE: 0, BOB: 1}
    one = NY if api is not SES else ALICE
    blocked_one = NONE if api is not SES else BOB
    blocked = consent if api is not SES else capped
    key = (lambda a: "-") if api is V2 else (lambda a: a)
    if name == "mixed":
        if api is V2:
            results = [("answered", {"-": sent}), ("answered", {"-": consent})]
        else:
            results = [("answered", {key(one): sent, key(blocked_one): blocked})]
        return results, 1, {**before, one: 1}
    if name == "all-blocked":
        return [("answered", {key(blocked_one): blocked})], 0, before
    if name == "unknown":
        return [("ClientError", {key(one): unknown})], 1, {**before, one: 1}
    return [("answered", {key(one): sent})], 2, {**before, one: 1}


@pytest.mark.parametrize("api", APIS, ids=[a.name for a in APIS])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_async_guards_match_the_sync_guards(api: Api, scenario: Scenario) -> None:
    """Allowed and blocked mixes, all blocked (no request), an unknown answer sent once and
    counted, a throttle retried on proof: the same outcomes, requests and counted sends from
    the async guard as from the sync guard, and the values written by hand."""
    expected = _expected(api, scenario[0])
    assert run_sync(api, scenario) == expected
    assert asyncio.run(run_async(api, scenario, MemoryStore())) == expected


@pytest.mark.parametrize("api", APIS, ids=[a.name for a in APIS])
def test_async_guards_on_postgres_match(api: Api) -> None:
    """On an AsyncPostgresStore (the engine's store seen through its bridge), the mixed call
    gives the same as the sync guard on its store."""

    async def run() -> tuple[list[Any], int, dict[str, int]]:
        store = await async_postgres_store()
        try:
            return await run_async(api, SCENARIOS[0], store)
        finally:
            await async_drop(store)

    assert asyncio.run(run()) == _expected(api, "mixed")


@pytest.mark.parametrize("api", APIS, ids=[a.name for a in APIS])
def test_validation_fails_before_any_hold_or_request(api: Api) -> None:
    """A request botocore's model refuses raises RequestValidationError: nothing held, no
    request."""

    async def run() -> tuple[int, dict[str, list[Any]]]:
        engine = await async_engine(api, MemoryStore())
        async with aio_client(api.service) as c:
            guard = api.async_guard(c, engine, topic="deals", brand="Acme")
            counter = Counter(c)
            with Stubber(c), pytest.raises(RequestValidationError):
                await getattr(guard, api.method)(**api.invalid)
        sends = await engine.store.sends([NY, ALICE], since=NOW - DAY)
        return counter.count, sends

    assert asyncio.run(run()) == (0, {NY: [], ALICE: []})


@pytest.mark.parametrize("api", APIS, ids=[a.name for a in APIS])
@pytest.mark.parametrize(
    ("config", "attempts"),
    [(None, None), (Config(retries={"total_max_attempts": 2}), 2)],
    ids=["default", "two"],
)
def test_a_retrying_client_is_refused(
    api: Api, config: Config | None, attempts: int | None
) -> None:
    """A client botocore would retry on its own is refused, before anything is decided."""

    async def run() -> None:
        engine = await async_engine(api, MemoryStore())
        async with aio_client(api.service, config=config) as c:
            api.async_guard(c, engine, topic="deals", brand="Acme")

    match = f"up to {attempts} attempts" if attempts else r"up to \d+ attempts"
    with pytest.raises(ConfigurationError, match=match):
        asyncio.run(run())


def test_an_unknown_answer_is_never_resent_on_a_repeat() -> None:
    """A 5xx may have delivered: one request, counted; the same idempotency key again sends
    nothing and answers the first call's outcome."""

    async def run() -> tuple[int, list[str], int]:
        engine = await async_engine(V2, MemoryStore())
        async with aio_client(V2.service) as c:
            guard = AsyncSmsVoiceV2Guard(c, engine, topic="deals", attempts=3)
            counter = Counter(c)
            statuses = []
            with Stubber(c) as stub:
                stub.add_client_error("send_text_message", "InternalFailure", http_status_code=500)
                with pytest.raises(ClientError) as raised:
                    await guard.send_text_message(**v2_request(NY), idempotency_key="k-1")
                statuses.append(raised.value.outcome.status.value)  # type: ignore[attr-defined]
                again = await guard.send_text_message(**v2_request(NY), idempotency_key="k-1")
                statuses.append(again["Outcome"].status.value)
        sends = await engine.store.sends([NY], since=NOW - DAY)
        return counter.count, statuses, counted(sends)[NY]

    assert asyncio.run(run()) == (1, ["unknown", "unknown"], 1)


def test_an_engine_that_is_not_async_is_refused() -> None:
    async def run() -> None:
        async with aio_client("sesv2") as c:
            AsyncSesV2Guard(c, Engine(EMAIL_POLICY), topic="deals")  # type: ignore[arg-type]

    with pytest.raises(ConfigurationError, match="AsyncEngine"):
        asyncio.run(run())
