"""AWS guards with real boto3 clients and botocore's Stubber (no network)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from smspolicy import Engine, LineType, Message, Policy, Program, rules, when
from smspolicy.aws import (
    OutcomeStatus,
    PinpointGuard,
    PinpointLineTypeLookup,
    Region,
    SmsVoiceV2Guard,
    single_attempt,
)
from smspolicy.errors import InvalidMessageError, RequestValidationError
from smspolicy.predicates import is_marketing
from smspolicy.store import MemoryStore, SendStatus
from smspolicy.testing import FrozenClock

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)  # 10:00 New York, 07:00 Los Angeles
NY, NY_OUT, LA = "+12125550123", "+12125550124", "+13105550123"
POLICY = Policy(
    rules.consent(), when(is_marketing, rules.sending_window("08:00", "21:00")), name="aws-test"
)


def client(service: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=single_attempt(),
    )


@pytest.fixture
def engine() -> Engine:
    """An engine where NY and LA consented to deals, and NY_OUT opted out."""
    e = Engine(POLICY, MemoryStore(), FrozenClock(NOW))
    for number in (NY, NY_OUT, LA):
        e.consent.confirm(number, topic="deals", purpose="marketing", source="web")
    e.inbound("STOP", NY_OUT)
    return e


@pytest.fixture
def pinpoint() -> Iterator[tuple[Any, Stubber]]:
    c = client("pinpoint")
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def smsv2() -> Iterator[tuple[Any, Stubber]]:
    c = client("pinpoint-sms-voice-v2")
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


def request(*addresses: str, message_type: str = "PROMOTIONAL") -> dict[str, Any]:
    return {
        "Addresses": {a: {"ChannelType": "SMS"} for a in addresses},
        "MessageConfiguration": {
            "SMSMessage": {
                "Body": "Acme: 20% off. Reply STOP to opt out.",
                "MessageType": message_type,
                "OriginationNumber": "+18885550100",
            }
        },
    }


def result(*addresses: str, status: str = "SUCCESSFUL") -> dict[str, Any]:
    return {
        "MessageResponse": {
            "ApplicationId": "app-1",
            "Result": {
                a: {"DeliveryStatus": status, "StatusCode": 200, "MessageId": f"id-{a}"}
                for a in addresses
            },
        }
    }


def test_three_addresses_forward_exactly_one(engine: Engine, pinpoint: tuple[Any, Stubber]) -> None:
    """Of three addresses, the opted-out one and the one in quiet hours are held back; exactly
    the third is forwarded, with the exact parameters, and its send is recorded."""
    c, stub = pinpoint
    stub.add_response(
        "send_messages",
        result(NY),
        expected_params={"ApplicationId": "app-1", "MessageRequest": request(NY)},
    )
    guard = PinpointGuard(c, engine, topic="deals")
    answer = guard.send_messages(ApplicationId="app-1", MessageRequest=request(NY, NY_OUT, LA))
    outcomes = answer["Outcomes"]
    assert outcomes[NY].status is OutcomeStatus.SENT
    assert outcomes[NY].message_id == f"id-{NY}"
    assert outcomes[NY_OUT].status is OutcomeStatus.DENIED
    assert outcomes[NY_OUT].decision.codes == ("consent.revoked",)
    assert outcomes[LA].status is OutcomeStatus.DEFERRED
    assert outcomes[LA].decision.until == dt.datetime(2025, 1, 15, 16, 0, tzinfo=dt.UTC)
    assert outcomes[LA].retryable
    results = answer["MessageResponse"]["Result"]
    assert set(results) == {NY, NY_OUT, LA}
    assert results[NY]["DeliveryStatus"] == "SUCCESSFUL"
    assert (results[NY_OUT]["DeliveryStatus"], results[NY_OUT]["StatusCode"]) == (
        "PERMANENT_FAILURE",
        403,
    )
    assert "consent.revoked" in results[NY_OUT]["StatusMessage"]
    assert (results[LA]["DeliveryStatus"], results[LA]["StatusCode"]) == ("THROTTLED", 429)
    assert "2025-01-15T16:00:00+00:00" in results[LA]["StatusMessage"]
    assert "ResponseMetadata" in answer
    (sent,) = engine.store.sends([NY], since=NOW - dt.timedelta(days=1))[NY]
    assert (sent.status, sent.provider_id, sent.sender) == (
        SendStatus.SENT,
        f"id-{NY}",
        "+18885550100",
    )


def test_delivery_status_opt_out_revokes(engine: Engine, pinpoint: tuple[Any, Stubber]) -> None:
    """A DeliveryStatus of OPT_OUT records a revocation and counts no send."""
    c, stub = pinpoint
    stub.add_response("send_messages", result(NY, status="OPT_OUT"))
    answer = PinpointGuard(c, engine, topic="deals").send_messages(
        ApplicationId="app-1", MessageRequest=request(NY)
    )
    assert answer["Outcomes"][NY].status is OutcomeStatus.OPTED_OUT
    assert not answer["Outcomes"][NY].retryable
    assert engine.consent.history(NY)[-1].source == "pinpoint:OPT_OUT"
    assert engine.store.sends([NY], since=NOW - dt.timedelta(days=1))[NY] == []
    assert engine.evaluate(Message(NY, "deals", "marketing")).codes == ("consent.revoked",)


@pytest.mark.parametrize(
    ("status", "kind", "retryable", "held"),
    [
        ("THROTTLED", OutcomeStatus.FAILED, True, 0),
        ("TEMPORARY_FAILURE", OutcomeStatus.UNKNOWN, False, 1),
        ("UNKNOWN_FAILURE", OutcomeStatus.UNKNOWN, False, 1),
        ("PERMANENT_FAILURE", OutcomeStatus.FAILED, False, 0),
        ("DUPLICATE", OutcomeStatus.FAILED, False, 0),
    ],
)
def test_pinpoint_status_classification(
    engine: Engine,
    pinpoint: tuple[Any, Stubber],
    status: str,
    kind: OutcomeStatus,
    retryable: bool,
    held: int,
) -> None:
    """Per-address delivery statuses: THROTTLED proves nothing went out (retryable, slot given
    back); TEMPORARY_FAILURE (Pinpoint retries it) and UNKNOWN_FAILURE may deliver, so they are
    unknown and counted; PERMANENT_FAILURE and DUPLICATE are final and give the slot back."""
    c, stub = pinpoint
    stub.add_response("send_messages", result(NY, status=status))
    outcome = PinpointGuard(c, engine, topic="deals").send_messages(
        ApplicationId="app-1", MessageRequest=request(NY)
    )["Outcomes"][NY]
    assert outcome.status is kind
    assert outcome.retryable is retryable
    assert status in (outcome.error or "")
    sends = engine.store.sends([NY], since=NOW - dt.timedelta(days=1))[NY]
    assert [s.status for s in sends] == [SendStatus.SENT] * held


@pytest.mark.parametrize(
    ("code", "http", "kind", "retryable"),
    [
        ("ThrottlingException", 429, OutcomeStatus.FAILED, True),
        ("InternalServerException", 500, OutcomeStatus.UNKNOWN, False),
        ("ValidationException", 400, OutcomeStatus.FAILED, False),
        ("AccessDeniedException", 403, OutcomeStatus.FAILED, False),
        ("ResourceNotFoundException", 404, OutcomeStatus.FAILED, False),
        ("ConflictException", 409, OutcomeStatus.FAILED, False),
    ],
)
def test_v2_error_classification(
    engine: Engine,
    smsv2: tuple[Any, Stubber],
    code: str,
    http: int,
    kind: OutcomeStatus,
    retryable: bool,
) -> None:
    """End User Messaging errors are raised as ClientError with the outcome attached; a refused
    request gives the slot back, a server error may have delivered: unknown, and counted."""
    c, stub = smsv2
    stub.add_client_error(
        "send_text_message",
        service_error_code=code,
        http_status_code=http,
        modeled_fields={"Reason": "KEYWORD_MISMATCH"} if code == "ConflictException" else None,
    )
    with pytest.raises(ClientError) as raised:
        SmsVoiceV2Guard(c, engine, topic="deals").send_text_message(
            DestinationPhoneNumber=NY,
            MessageBody="Acme: hi. Reply STOP to opt out.",
            MessageType="PROMOTIONAL",
            OriginationIdentity="+18885550100",
        )
    outcome = raised.value.outcome  # type: ignore[attr-defined]
    assert raised.value.response["Outcome"] is outcome  # type: ignore[typeddict-item]
    assert outcome.status is kind
    assert outcome.retryable is retryable
    held = engine.store.sends([NY], since=NOW - dt.timedelta(days=1))[NY]
    assert [s.status for s in held] == ([SendStatus.SENT] if http >= 500 else [])


def test_v2_opted_out_conflict(engine: Engine, smsv2: tuple[Any, Stubber]) -> None:
    """ConflictException DESTINATION_PHONE_NUMBER_OPTED_OUT is an opted-out outcome and a
    ledger revocation, not a crash."""
    c, stub = smsv2
    stub.add_client_error(
        "send_text_message",
        service_error_code="ConflictException",
        http_status_code=409,
        modeled_fields={"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT"},
    )
    answer = SmsVoiceV2Guard(c, engine, topic="deals").send_text_message(
        DestinationPhoneNumber=NY,
        MessageBody="Acme: hi. Reply STOP to opt out.",
        MessageType="PROMOTIONAL",
    )
    assert answer["Outcome"].status is OutcomeStatus.OPTED_OUT
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert engine.consent.history(NY)[-1].kind.value == "revoked"
    assert engine.evaluate(Message(NY, "deals", "marketing")).codes == ("consent.revoked",)


def test_v2_sends_exact_parameters_and_records(engine: Engine, smsv2: tuple[Any, Stubber]) -> None:
    """An allowed message is sent with exactly the caller's parameters and recorded."""
    c, stub = smsv2
    params = {
        "DestinationPhoneNumber": NY,
        "MessageBody": "Acme: hi. Reply STOP to opt out.",
        "MessageType": "PROMOTIONAL",
        "OriginationIdentity": "+18885550100",
        "TimeToLive": 300,
        "Context": {"topic": "deals"},
    }
    stub.add_response("send_text_message", {"MessageId": "m-1"}, expected_params=params)
    answer = SmsVoiceV2Guard(c, engine, topic="other").send_text_message(**params)
    assert answer["MessageId"] == "m-1"
    assert answer["Outcome"].status is OutcomeStatus.SENT
    (sent,) = engine.store.sends([NY], since=NOW - dt.timedelta(days=1))[NY]
    assert (sent.provider_id, sent.topic) == ("m-1", "deals")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"MessageBody": "x" * 1601}, "at most 1600"),
        ({"TimeToLive": 4}, "min value: 5"),
        ({"TimeToLive": 259_201}, "at most 259200"),
        ({"MessageType": "SPAM"}, "must be one of"),
        ({"DestinationPhoneNumber": "12-abc"}, "does not match"),
        ({"Context": {f"k{i}": "v" for i in range(6)}}, "at most 5"),
        ({"Colour": "red"}, "Unknown parameter"),
        ({"MessageBody": "   "}, "does not match"),
    ],
    ids=[
        "body-1601",
        "ttl-4",
        "ttl-max",
        "message-type",
        "destination",
        "context-6",
        "unknown",
        "blank-body",
    ],
)
def test_v2_validation_failures_make_no_request(
    engine: Engine, smsv2: tuple[Any, Stubber], change: dict[str, Any], problem: str
) -> None:
    """A request that breaks the botocore model raises a clear error and sends nothing."""
    c, _stub = smsv2
    params = {"DestinationPhoneNumber": NY, "MessageBody": "hi", **change}
    with pytest.raises(RequestValidationError, match=problem):
        SmsVoiceV2Guard(c, engine, topic="deals").send_text_message(**params)
    assert engine.store.sends([NY], since=NOW - dt.timedelta(days=1))[NY] == []


def test_pinpoint_validation_failures_make_no_request(
    engine: Engine, pinpoint: tuple[Any, Stubber]
) -> None:
    """Missing MessageConfiguration, a bad ChannelType or Endpoints are refused before sending."""
    c, _stub = pinpoint
    guard = PinpointGuard(c, engine, topic="deals")
    with pytest.raises(
        RequestValidationError, match=r"Missing required parameter.*MessageConfiguration"
    ):
        guard.send_messages(ApplicationId="a", MessageRequest={"Addresses": {NY: {}}})
    bad = request(NY)
    bad["Addresses"][NY]["ChannelType"] = "PIGEON"
    with pytest.raises(RequestValidationError, match="must be one of"):
        guard.send_messages(ApplicationId="a", MessageRequest=bad)
    with pytest.raises(RequestValidationError, match="Endpoints"):
        guard.send_messages(ApplicationId="a", MessageRequest={**request(), "Endpoints": {"e": {}}})


def test_pinpoint_bad_address_config_holds_nothing(
    engine: Engine, pinpoint: tuple[Any, Stubber]
) -> None:
    """An address whose own Context makes no valid message fails the call before any address
    of the request holds a slot, so nothing is left counting against a cap."""
    c, _stub = pinpoint
    guard = PinpointGuard(c, engine, topic="deals")
    bad = request(NY, LA)
    bad["Addresses"][LA]["Context"] = {"topic": " "}
    with pytest.raises(InvalidMessageError, match="topic"):
        guard.send_messages(ApplicationId="a", MessageRequest=bad)
    assert engine.store.sends([NY], since=NOW - dt.timedelta(days=1))[NY] == []


def test_v2_failover_on_throttling_never_sends_twice(engine: Engine) -> None:
    """Throttled in the first region, the message goes out once from the second region's own
    origination identity."""
    east, west = client("pinpoint-sms-voice-v2"), client("pinpoint-sms-voice-v2", "us-west-2")
    body = "Acme: hi. Reply STOP to opt out."
    with Stubber(east) as east_stub, Stubber(west) as west_stub:
        east_stub.add_client_error(
            "send_text_message", service_error_code="ThrottlingException", http_status_code=429
        )
        west_stub.add_response(
            "send_text_message",
            {"MessageId": "west-1"},
            expected_params={
                "DestinationPhoneNumber": NY,
                "MessageBody": body,
                "MessageType": "PROMOTIONAL",
                "OriginationIdentity": "+18885550199",
            },
        )
        guard = SmsVoiceV2Guard(
            east, engine, topic="deals", failover=[Region(west, origination="+18885550199")]
        )
        answer = guard.send_text_message(
            DestinationPhoneNumber=NY,
            MessageBody=body,
            MessageType="PROMOTIONAL",
            OriginationIdentity="+18885550100",
        )
        east_stub.assert_no_pending_responses()
        west_stub.assert_no_pending_responses()
    assert answer["Outcome"].status is OutcomeStatus.SENT
    assert answer["Outcome"].region == "us-west-2"
    sends = engine.store.sends([NY], since=NOW - dt.timedelta(days=1))[NY]
    assert [(s.provider_id, s.status) for s in sends] == [("west-1", SendStatus.SENT)]


def test_pinpoint_failover_per_address(engine: Engine) -> None:
    """An address THROTTLED in the first region is retried in the second (with its own
    application id and origination number); the address sent in the first is not sent again."""
    east, west = client("pinpoint"), client("pinpoint", "us-west-2")
    engine.consent.confirm("+12125550125", topic="deals", purpose="marketing", source="web")
    first = result(NY)
    first["MessageResponse"]["Result"]["+12125550125"] = {
        "DeliveryStatus": "THROTTLED",
        "StatusCode": 429,
    }
    west_request = request("+12125550125")
    west_request["MessageConfiguration"]["SMSMessage"]["OriginationNumber"] = "+18885550199"
    with Stubber(east) as east_stub, Stubber(west) as west_stub:
        east_stub.add_response("send_messages", first)
        west_stub.add_response(
            "send_messages",
            result("+12125550125"),
            expected_params={"ApplicationId": "app-west", "MessageRequest": west_request},
        )
        guard = PinpointGuard(
            east,
            engine,
            topic="deals",
            failover=[Region(west, application_id="app-west", origination="+18885550199")],
        )
        answer = guard.send_messages(
            ApplicationId="app-1", MessageRequest=request(NY, "+12125550125")
        )
        west_stub.assert_no_pending_responses()
    assert {a: o.region for a, o in answer["Outcomes"].items()} == {
        NY: "us-east-1",
        "+12125550125": "us-west-2",
    }
    assert set(answer["MessageResponse"]["Result"]) == {NY, "+12125550125"}


def test_dedicated_senders(engine: Engine, smsv2: tuple[Any, Stubber]) -> None:
    """A promotional message through the transactional sender is denied; without a sender the
    guard picks the dedicated one for the brand and purpose."""
    c, stub = smsv2
    acme = Program(
        "Acme Deals",
        "Acme",
        topic="deals",
        senders=["+18885550100"],
        help_contact="help@acme.example",
        frequency="4 msgs/week",
    )
    alerts = Program(
        "Acme Alerts",
        "Acme",
        topic="alerts",
        purpose="transactional",
        senders=["+18885550177"],
        help_contact="help@acme.example",
        frequency="4 msgs/week",
    )
    strict = Engine(
        Policy(rules.consent(), rules.origination(), name="s"),
        engine.store,
        engine.clock,
        programs=[acme, alerts],
    )
    guard = SmsVoiceV2Guard(
        c, strict, topic="deals", brand="Acme", origination={("Acme", "marketing"): "+18885550100"}
    )
    wrong = guard.send_text_message(
        DestinationPhoneNumber=NY,
        MessageBody="Acme deal. STOP=end",
        MessageType="PROMOTIONAL",
        OriginationIdentity="+18885550177",
    )
    assert wrong["Outcome"].status is OutcomeStatus.DENIED
    assert wrong["Outcome"].decision.codes == ("origination.mismatch",)
    stub.add_response(
        "send_text_message",
        {"MessageId": "m-2"},
        expected_params={
            "DestinationPhoneNumber": NY,
            "MessageBody": "Acme deal. STOP=end",
            "MessageType": "PROMOTIONAL",
            "OriginationIdentity": "+18885550100",
        },
    )
    right = guard.send_text_message(
        DestinationPhoneNumber=NY, MessageBody="Acme deal. STOP=end", MessageType="PROMOTIONAL"
    )
    assert right["Outcome"].status is OutcomeStatus.SENT


def test_pinpoint_line_type_lookup(pinpoint: tuple[Any, Stubber]) -> None:
    """PhoneNumberValidate answers become line types, cached in the store, so 'mobile only'
    works for US numbers; a failed lookup denies."""
    c, stub = pinpoint
    store = MemoryStore()
    stub.add_response(
        "phone_number_validate",
        {"NumberValidateResponse": {"PhoneTypeCode": 0, "PhoneType": "MOBILE"}},
        expected_params={"NumberValidateRequest": {"PhoneNumber": NY}},
    )
    lookup = PinpointLineTypeLookup(c, cache=store, clock=FrozenClock(NOW))
    engine = Engine(
        Policy(rules.valid_number(line_types=["mobile"]), name="m"),
        store,
        FrozenClock(NOW),
        line_type_lookup=lookup,
    )
    assert engine.evaluate(Message(NY, "deals", "transactional")).allowed
    assert (
        PinpointLineTypeLookup(c, cache=store, clock=FrozenClock(NOW)).line_type(NY)
        is LineType.MOBILE
    )
    stub.add_client_error(
        "phone_number_validate", service_error_code="TooManyRequestsException", http_status_code=429
    )
    failing = Engine(
        Policy(name="f"),
        MemoryStore(),
        FrozenClock(NOW),
        line_type_lookup=PinpointLineTypeLookup(c),
    )
    assert failing.evaluate(Message(LA, "deals", "transactional")).codes == ("lookup.unavailable",)
