"""Pinpoint ``SendMessages`` decides SMS, email, push and voice addresses each under its own
channel, on the text its own channel's message sends; outcomes are JSON data. Real boto3
clients with botocore's Stubber (every request is expected exactly) or scripted HTTP answers
(every request is counted)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import Channel, Engine, Message, Policy, rules, when
from smspolicy.aws import Outcome, OutcomeStatus, PinpointGuard, SesV2Guard, json_ready
from smspolicy.errors import ConfigurationError
from smspolicy.predicates import is_marketing
from smspolicy.store import MemoryStore, SendStatus
from smspolicy.testing import FrozenClock

from .aws_helpers import READ_TIMEOUT, Script, client, ok

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
DAY = dt.timedelta(days=1)
NY = "+12125550123"
ALICE = "alice@example.com"
TOKEN = "f0e1d2c3b4a5"
SMS_ID, VOICE_ID = "+18885550100", "+18885550111"
GOOD = "Acme: 20% off. Unsubscribe at https://acme.example/unsubscribe"
BAD = "Acme: 20% off today only."  # no opt-out: a marketing message is denied
UNSUBSCRIBE = "<https://acme.example/unsubscribe?u=1>"
POLICY = Policy(
    rules.dedupe(DAY),
    rules.frequency_cap(5, DAY, scope="all"),
    when(is_marketing, rules.required_content()),
    name="channels",
)
"""Rules that decide any address today: no consent, no windows (those need the ledger and the
jurisdictions of non-phone addresses)."""

PUSH_SECTIONS = {
    "GCM": "GCMMessage",
    "APNS": "APNSMessage",
    "APNS_SANDBOX": "APNSMessage",
    "APNS_VOIP": "APNSMessage",
    "APNS_VOIP_SANDBOX": "APNSMessage",
    "BAIDU": "BaiduMessage",
    "ADM": "ADMMessage",
}


def make_engine() -> Engine:
    return Engine(POLICY, MemoryStore(), FrozenClock(NOW))


def records(engine: Engine, address: str) -> list[Any]:
    """The address's records in the send log today."""
    return engine.store.sends([address], since=NOW - DAY)[address]


@pytest.fixture
def pinpoint() -> Iterator[tuple[Any, Stubber]]:
    c = client("pinpoint")
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


def answer_for(*addresses: str) -> dict[str, Any]:
    return {
        "MessageResponse": {
            "ApplicationId": "app-1",
            "Result": {
                a: {"DeliveryStatus": "SUCCESSFUL", "StatusCode": 200, "MessageId": f"id-{a}"}
                for a in addresses
            },
        }
    }


def send(guard: PinpointGuard, request: dict[str, Any]) -> dict[str, Any]:
    return guard.send_messages(ApplicationId="app-1", MessageRequest=request)


def narrowed(request: dict[str, Any], *addresses: str) -> dict[str, Any]:
    out = copy.deepcopy(request)
    out["Addresses"] = {a: request["Addresses"][a] for a in addresses}
    return out


# -- email -------------------------------------------------------------------------------------


def email_request(headers: list[dict[str, str]] | None, **extra: Any) -> dict[str, Any]:
    simple: dict[str, Any] = {
        "Subject": {"Data": "Acme deals for {{Name}}"},
        "TextPart": {"Data": "Acme: 20% off this week."},
    }
    if headers is not None:
        simple["Headers"] = headers
    return {
        "Addresses": {ALICE: {"ChannelType": "EMAIL", "Substitutions": {"Name": ["Alice"]}}},
        "MessageConfiguration": {
            "EmailMessage": {"FromAddress": "deals@acme.example", "SimpleEmail": simple},
            "DefaultMessage": {"Body": GOOD},  # the email's own parts decide, not this
            **extra,
        },
    }


def test_email_with_list_unsubscribe_header_is_sent(pinpoint: tuple[Any, Stubber]) -> None:
    """A marketing email whose only opt-out is its List-Unsubscribe header is allowed, sent once
    with the caller's parameters, and logged as an email."""
    c, stub = pinpoint
    request = email_request([{"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE}])
    stub.add_response(
        "send_messages",
        answer_for(ALICE),
        expected_params={"ApplicationId": "app-1", "MessageRequest": request},
    )
    engine = make_engine()
    answer = send(PinpointGuard(c, engine, topic="deals", brand="Acme"), request)
    outcome = answer["Outcomes"][ALICE]
    assert (outcome.status, outcome.message_id) == (OutcomeStatus.SENT, f"id-{ALICE}")
    (record,) = records(engine, ALICE)
    assert (record.channel, record.status, record.sender) == (Channel.EMAIL, SendStatus.SENT, None)


def test_email_without_opt_out_is_denied_on_its_own_parts(pinpoint: tuple[Any, Stubber]) -> None:
    """Without the header, the email's own subject and text (not the DefaultMessage body, which
    has an opt-out) decide: denied content.opt_out_missing, no request."""
    c, _stub = pinpoint
    engine = make_engine()
    answer = send(PinpointGuard(c, engine, topic="deals", brand="Acme"), email_request(None))
    outcome = answer["Outcomes"][ALICE]
    assert outcome.status is OutcomeStatus.DENIED
    assert outcome.decision is not None
    assert outcome.decision.codes == ("content.opt_out_missing",)
    assert answer["MessageResponse"]["Result"][ALICE]["DeliveryStatus"] == "PERMANENT_FAILURE"
    assert records(engine, ALICE) == []


def test_email_html_link_counts_and_raw_email_is_read(pinpoint: tuple[Any, Stubber]) -> None:
    """An unsubscribe link in the HTML part counts; a RawEmail is read as MIME (its
    List-Unsubscribe header counts); SimpleEmail and RawEmail together cannot be known."""
    c, stub = pinpoint
    engine = make_engine()
    guard = PinpointGuard(c, engine, topic="deals", brand="Acme")
    html = '<p>Acme: 20% off.</p><a href="https://acme.example/unsub?u=1">Leave</a>'
    simple = {"Subject": {"Data": "Deals"}, "HtmlPart": {"Data": html}}
    request = {
        "Addresses": {ALICE: {"ChannelType": "EMAIL"}},
        "MessageConfiguration": {"EmailMessage": {"SimpleEmail": simple}},
    }
    stub.add_response("send_messages", answer_for(ALICE))
    assert send(guard, request)["Outcomes"][ALICE].status is OutcomeStatus.SENT
    raw = (
        b"From: deals@acme.example\r\nTo: bob@example.com\r\nSubject: Acme news\r\n"
        b"List-Unsubscribe: <https://acme.example/unsubscribe?u=2>\r\n"
        b"Content-Type: text/plain\r\n\r\nAcme: new arrivals.\r\n"
    )
    bob = "bob@example.com"
    raw_request = {
        "Addresses": {bob: {"ChannelType": "EMAIL"}},
        "MessageConfiguration": {"EmailMessage": {"RawEmail": {"Data": raw}}},
    }
    stub.add_response("send_messages", answer_for(bob))
    assert send(guard, raw_request)["Outcomes"][bob].status is OutcomeStatus.SENT
    both = copy.deepcopy(raw_request)
    both["MessageConfiguration"]["EmailMessage"]["SimpleEmail"] = simple
    outcome = send(guard, both)["Outcomes"][bob]
    assert outcome.decision is not None
    assert outcome.decision.codes == ("content.unknown",)


def test_email_template_cannot_be_known_and_is_denied(pinpoint: tuple[Any, Stubber]) -> None:
    """An EmailTemplate's text is not fetched by the guard: the address is denied
    content.unknown instead of being sent unchecked."""
    c, _stub = pinpoint
    request = {
        "Addresses": {ALICE: {"ChannelType": "EMAIL"}},
        "MessageConfiguration": {"EmailMessage": {}},
        "TemplateConfiguration": {"EmailTemplate": {"Name": "deals"}},
    }
    outcome = send(PinpointGuard(c, make_engine(), topic="deals"), request)["Outcomes"][ALICE]
    assert outcome.decision is not None
    assert outcome.decision.codes == ("content.unknown",)


def test_email_addresses_that_differ_by_domain_case_are_one() -> None:
    """alice@EXAMPLE.com is alice@example.com written another way (sent once); Alice@example.com
    is another mailbox (local parts are kept)."""
    c = client("pinpoint")
    script = Script(c, "SendMessages", ok())
    request = email_request([{"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE}])
    config = request["Addresses"][ALICE]
    request["Addresses"].update({"alice@EXAMPLE.com": config, "Alice@example.com": config})
    answer = send(PinpointGuard(c, make_engine(), topic="deals", brand="Acme"), request)
    assert [sorted(r["Addresses"]) for r in script.requests] == [["Alice@example.com", ALICE]]
    assert answer["Outcomes"]["alice@EXAMPLE.com"].decision.codes == ("address.duplicate",)


def test_email_addresses_the_ledger_reads_as_one_are_one_in_the_guard() -> None:
    """A trailing dot on the domain and a zero-width character are the ledger's same mailbox
    (``Engine.address_for``): the guard sends the address once, as it keys it the ledger's
    way."""
    c = client("pinpoint")
    script = Script(c, "SendMessages", ok())
    request = email_request([{"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE}])
    config = request["Addresses"][ALICE]
    request["Addresses"].update({"alice@example.com.": config, "alice\u200b@example.com": config})
    answer = send(PinpointGuard(c, make_engine(), topic="deals", brand="Acme"), request)
    assert [sorted(r["Addresses"]) for r in script.requests] == [[ALICE]]
    for spelling in ("alice@example.com.", "alice\u200b@example.com"):
        assert answer["Outcomes"][spelling].decision.codes == ("address.duplicate",)


# -- push --------------------------------------------------------------------------------------


def push_request(channel_type: str, own: dict[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "DefaultPushNotificationMessage": {"Title": "Acme", "Body": BAD},
        "DefaultMessage": {"Body": GOOD},
    }
    if own is not None and channel_type in PUSH_SECTIONS:
        config[PUSH_SECTIONS[channel_type]] = own
    return {"Addresses": {TOKEN: {"ChannelType": channel_type}}, "MessageConfiguration": config}


@pytest.mark.parametrize("channel_type", sorted(PUSH_SECTIONS), ids=str.lower)
def test_each_push_type_is_decided_on_its_platform_message(
    pinpoint: tuple[Any, Stubber], channel_type: str
) -> None:
    """A push address is a PUSH message whose text is its platform's own message (which
    overrides DefaultPushNotificationMessage): with the opt-out there it is sent once; with only
    the default push text (no opt-out) it is denied."""
    c, stub = pinpoint
    engine = make_engine()
    guard = PinpointGuard(c, engine, topic="deals", brand="Acme")
    request = push_request(channel_type, {"Title": "Acme", "Body": GOOD})
    stub.add_response(
        "send_messages",
        answer_for(TOKEN),
        expected_params={"ApplicationId": "app-1", "MessageRequest": request},
    )
    assert send(guard, request)["Outcomes"][TOKEN].status is OutcomeStatus.SENT
    (record,) = records(engine, TOKEN)
    assert record.channel is Channel.PUSH
    denied = send(guard, push_request(channel_type, None))["Outcomes"][TOKEN]
    assert denied.decision is not None
    assert denied.decision.codes == ("content.opt_out_missing",)


def test_generic_push_uses_the_default_push_message(pinpoint: tuple[Any, Stubber]) -> None:
    """ChannelType PUSH has no platform message: DefaultPushNotificationMessage decides, and
    its TitleOverride and BodyOverride per address win."""
    c, stub = pinpoint
    guard = PinpointGuard(c, make_engine(), topic="deals", brand="Acme")
    denied = send(guard, push_request("PUSH", None))["Outcomes"][TOKEN]
    assert denied.decision is not None
    assert denied.decision.codes == ("content.opt_out_missing",)
    request = push_request("PUSH", None)
    request["Addresses"][TOKEN]["BodyOverride"] = GOOD
    stub.add_response("send_messages", answer_for(TOKEN))
    assert send(guard, request)["Outcomes"][TOKEN].status is OutcomeStatus.SENT


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [
        (json.dumps({"aps": {"alert": {"title": "Acme", "body": GOOD}}}), True),
        (json.dumps({"notification": {"title": "Acme", "body": GOOD}}), True),
        (json.dumps({"data": {"pinpoint.notification.body": GOOD}}), True),
        (json.dumps({"aps": {"alert": BAD}}), False),
    ],
    ids=["apns-alert", "fcm-notification", "pinpoint-data", "apns-no-opt-out"],
)
def test_raw_push_payloads_show_their_text(raw: str, allowed: bool) -> None:
    """A platform's RawContent is decided on the title and body it shows."""
    c = client("pinpoint")
    script = Script(c, "SendMessages", ok())
    request = push_request("APNS", {"RawContent": raw})
    outcome = send(PinpointGuard(c, make_engine(), topic="deals", brand="Acme"), request)
    assert (outcome["Outcomes"][TOKEN].status is OutcomeStatus.SENT) is allowed
    assert len(script.requests) == (1 if allowed else 0)


# -- voice -------------------------------------------------------------------------------------


def test_voice_is_decided_on_its_voice_message_and_sender(pinpoint: tuple[Any, Stubber]) -> None:
    """A VOICE address is a voice message: its text is VoiceMessage.Body, its sender the
    VoiceMessage origination number (not the SMS one)."""
    c, stub = pinpoint
    engine = make_engine()
    request = {
        "Addresses": {NY: {"ChannelType": "VOICE"}},
        "MessageConfiguration": {
            "SMSMessage": {"Body": BAD, "OriginationNumber": SMS_ID},
            "VoiceMessage": {"Body": GOOD, "OriginationNumber": VOICE_ID, "LanguageCode": "en-US"},
        },
    }
    stub.add_response(
        "send_messages",
        answer_for(NY),
        expected_params={"ApplicationId": "app-1", "MessageRequest": request},
    )
    outcome = send(PinpointGuard(c, engine, topic="deals", brand="Acme"), request)["Outcomes"][NY]
    assert (outcome.status, outcome.sender) == (OutcomeStatus.SENT, VOICE_ID)
    (record,) = records(engine, NY)
    assert (record.channel, record.sender) == (Channel.VOICE, VOICE_ID)


def test_voice_goes_out_from_the_identity_it_was_decided_with() -> None:
    """With an origination table, SMS and voice addresses of one request are sent in one
    request, each channel from its own decided identity."""
    c = client("pinpoint")
    script = Script(c, "SendMessages", ok())
    engine = make_engine()
    guard = PinpointGuard(
        c, engine, topic="deals", brand="Acme", origination={("Acme", "marketing"): VOICE_ID}
    )
    other = "+12125550124"
    request = {
        "Addresses": {NY: {"ChannelType": "VOICE"}, other: {"ChannelType": "SMS"}},
        "MessageConfiguration": {
            "SMSMessage": {"Body": GOOD, "OriginationNumber": SMS_ID},
            "VoiceMessage": {"Body": GOOD},
        },
    }
    send(guard, request)
    (forwarded,) = script.requests
    config = forwarded["MessageConfiguration"]
    assert config["VoiceMessage"]["OriginationNumber"] == VOICE_ID
    assert config["SMSMessage"]["OriginationNumber"] == SMS_ID
    assert records(engine, NY)[0].sender == VOICE_ID
    assert records(engine, other)[0].sender == SMS_ID


# -- every channel in one request --------------------------------------------------------------


def mixed_request() -> dict[str, Any]:
    return {
        "Addresses": {
            NY: {"ChannelType": "SMS"},
            "+13105550123": {"ChannelType": "VOICE"},
            ALICE: {"ChannelType": "EMAIL"},
            "gcm-token": {"ChannelType": "GCM"},
            "apns-token": {"ChannelType": "APNS"},
            "bob@example.com": {"ChannelType": "EMAIL", "BodyOverride": BAD},
        },
        "MessageConfiguration": {
            "SMSMessage": {"Body": GOOD, "MessageType": "PROMOTIONAL", "OriginationNumber": SMS_ID},
            "VoiceMessage": {"Body": GOOD},
            "EmailMessage": {
                "SimpleEmail": {
                    "Subject": {"Data": "Acme deals"},
                    "TextPart": {"Data": "Acme: 20% off."},
                    "Headers": [{"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE}],
                }
            },
            "GCMMessage": {"Body": GOOD},
            "APNSMessage": {"Body": BAD},
        },
    }


SENT = (NY, "+13105550123", ALICE, "gcm-token", "bob@example.com")
"""The addresses of the mixed request that are allowed."""


def test_every_channel_in_one_request(pinpoint: tuple[Any, Stubber]) -> None:
    """SMS, voice, email and push addresses of one request are each decided on their own
    channel's text; exactly the allowed ones go out, in one request, and each is logged under
    its channel."""
    c, stub = pinpoint
    engine = make_engine()
    request = mixed_request()
    allowed = [NY, "+13105550123", ALICE, "gcm-token", "bob@example.com"]
    stub.add_response(
        "send_messages",
        answer_for(*allowed),
        expected_params={"ApplicationId": "app-1", "MessageRequest": narrowed(request, *allowed)},
    )
    answer = send(PinpointGuard(c, engine, topic="deals", brand="Acme"), request)
    outcomes = answer["Outcomes"]
    assert {a for a, o in outcomes.items() if o.status is OutcomeStatus.SENT} == set(allowed)
    # bob's BodyOverride replaces the email's parts; its List-Unsubscribe header still counts
    assert outcomes["apns-token"].decision.codes == ("content.opt_out_missing",)
    channels = {a: records(engine, a)[0].channel for a in allowed}
    assert channels == {
        NY: Channel.SMS,
        "+13105550123": Channel.VOICE,
        ALICE: Channel.EMAIL,
        "gcm-token": Channel.PUSH,
        "bob@example.com": Channel.EMAIL,
    }


def test_all_blocked_makes_no_request(pinpoint: tuple[Any, Stubber]) -> None:
    """When no address of any channel is allowed, no request is made (the Stubber has none)."""
    c, _stub = pinpoint
    request = mixed_request()
    del request["MessageConfiguration"]["EmailMessage"]["SimpleEmail"]["Headers"]
    for config in request["Addresses"].values():
        config["BodyOverride"] = BAD
    answer = send(PinpointGuard(c, make_engine(), topic="deals", brand="Acme"), request)
    assert {o.status for o in answer["Outcomes"].values()} == {OutcomeStatus.DENIED}


def test_content_key_dedupes_sms_then_email_for_one_person(pinpoint: tuple[Any, Stubber]) -> None:
    """The same content key to one person (Context person and content_key) by SMS and then by
    email through the guard: the email is denied dedupe.duplicate and not sent; another person
    with the same content key is sent."""
    c, stub = pinpoint
    engine = make_engine()
    guard = PinpointGuard(c, engine, topic="deals", brand="Acme")
    sms = {
        "Addresses": {NY: {"ChannelType": "SMS", "Context": {"person": "p-1"}}},
        "Context": {"content_key": "spring-sale"},
        "MessageConfiguration": {"SMSMessage": {"Body": GOOD, "MessageType": "PROMOTIONAL"}},
    }
    stub.add_response("send_messages", answer_for(NY))
    assert send(guard, sms)["Outcomes"][NY].status is OutcomeStatus.SENT
    mail = email_request([{"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE}])
    mail["Context"] = {"content_key": "spring-sale"}
    mail["Addresses"][ALICE]["Context"] = {"person": "p-1"}
    bob = "bob@example.com"
    mail["Addresses"][bob] = {**mail["Addresses"][ALICE], "Context": {"person": "p-2"}}
    stub.add_response(
        "send_messages",
        answer_for(bob),
        expected_params={"ApplicationId": "app-1", "MessageRequest": narrowed(mail, bob)},
    )
    outcomes = send(guard, mail)["Outcomes"]
    assert outcomes[ALICE].decision.codes == ("dedupe.duplicate",)
    assert outcomes[bob].status is OutcomeStatus.SENT
    assert records(engine, ALICE) == []


# -- results and JSON --------------------------------------------------------------------------


def test_blocked_entries_have_the_model_shape_and_can_be_left_out(
    pinpoint: tuple[Any, Stubber],
) -> None:
    """Every blocked address's Result entry is a valid botocore MessageResult (DeliveryStatus,
    StatusCode, StatusMessage); with blocked_in_result=False, Result holds AWS's own entries
    only, while Outcomes still has every address."""
    c, stub = pinpoint
    shape = c.meta.service_model.shape_for("MessageResult")
    request = mixed_request()
    stub.add_response("send_messages", answer_for(*SENT))
    results = send(PinpointGuard(c, make_engine(), topic="deals", brand="Acme"), request)[
        "MessageResponse"
    ]["Result"]
    blocked = results["apns-token"]
    assert blocked == {
        "DeliveryStatus": "PERMANENT_FAILURE",
        "StatusCode": 403,
        "StatusMessage": "smspolicy denied: content.opt_out_missing",
    }
    for entry in results.values():
        assert not ParamValidator().validate(entry, shape).has_errors()
    stub.add_response("send_messages", answer_for(*SENT))
    quiet = PinpointGuard(c, make_engine(), topic="deals", brand="Acme", blocked_in_result=False)
    answer = send(quiet, request)
    assert sorted(answer["MessageResponse"]["Result"]) == sorted(SENT)
    assert len(answer["Outcomes"]) == 6
    with pytest.raises(ConfigurationError, match="blocked_in_result"):
        PinpointGuard(c, make_engine(), topic="deals", blocked_in_result="no")


def test_answer_is_json_ready_and_outcomes_round_trip(pinpoint: tuple[Any, Stubber]) -> None:
    """json_ready(answer) goes through json.dumps; each outcome's to_dict holds the status,
    codes and decision, and from_dict gives the same outcome back."""
    c, stub = pinpoint
    stub.add_response("send_messages", answer_for(*SENT))
    answer = send(PinpointGuard(c, make_engine(), topic="deals", brand="Acme"), mixed_request())
    data = json.loads(json.dumps(json_ready(answer)))
    assert data["Outcomes"][NY]["status"] == "sent"
    assert data["Outcomes"][NY]["message_id"] == f"id-{NY}"
    denied = data["Outcomes"]["apns-token"]
    assert (denied["status"], denied["codes"], denied["retryable"]) == (
        "denied",
        ["content.opt_out_missing"],
        False,
    )
    assert denied["decision"]["verdict"] == "deny"
    assert denied["decision"]["reasons"][0]["rule"] == "required_content"
    for address, outcome in answer["Outcomes"].items():
        assert Outcome.from_dict(outcome.to_dict()) == outcome, address


@given(
    status=st.sampled_from(list(OutcomeStatus)),
    retryable=st.booleans(),
    message_id=st.none() | st.text(max_size=8),
    held_until=st.none()
    | st.datetimes(timezones=st.just(dt.UTC), min_value=dt.datetime(2000, 1, 1)),
)
def test_outcome_dict_round_trips(
    status: OutcomeStatus, retryable: bool, message_id: str | None, held_until: Any
) -> None:
    """Any outcome survives to_dict, json.dumps and from_dict unchanged."""
    outcome = Outcome(status, retryable, message_id=message_id, held_until=held_until)
    assert Outcome.from_dict(json.loads(json.dumps(outcome.to_dict()))) == outcome


# -- one person across channels, through the guards --------------------------------------------


def one_address(channel_type: str, address: str, person: str) -> dict[str, Any]:
    """A one-address request on ``channel_type`` with an opt-out in every channel's text."""
    return {
        "Addresses": {address: {"ChannelType": channel_type, "Context": {"person": person}}},
        "MessageConfiguration": {
            "SMSMessage": {"Body": GOOD, "MessageType": "PROMOTIONAL"},
            "EmailMessage": {
                "SimpleEmail": {"Subject": {"Data": "Acme"}, "TextPart": {"Data": GOOD}}
            },
            "GCMMessage": {"Body": GOOD},
        },
    }


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["SMS", "EMAIL", "GCM", "SES"]),
        st.integers(min_value=0, max_value=16 * 60),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_person_cap_holds_across_channels_through_the_guards(steps: list[tuple[str, int]]) -> None:
    """For any interleaving of SMS, Pinpoint email, push and SES email to one person, a cap of
    2 a day over everything never lets a third through in any 24-hour window, and every send
    the guards report went out in exactly one request."""
    engine = Engine(
        Policy(rules.frequency_cap(2, DAY, scope="all"), name="person-cap"),
        MemoryStore(),
        FrozenClock(NOW),
    )
    pinpoint_client = client("pinpoint")
    pinpoint_script = Script(pinpoint_client, "SendMessages", fallback=ok())
    ses_client = client("sesv2")
    ses_script = Script(ses_client, "SendEmail", fallback=ok())
    guard = PinpointGuard(pinpoint_client, engine, topic="deals", brand="Acme")
    mailer = SesV2Guard(ses_client, engine, topic="deals", brand="Acme")
    addresses = {"SMS": NY, "EMAIL": ALICE, "GCM": TOKEN}
    sent_at: list[dt.datetime] = []
    for channel, minutes in steps:
        if minutes:
            engine.clock.advance(dt.timedelta(minutes=minutes))  # type: ignore[attr-defined]
        if channel == "SES":
            outcomes = mailer.send_email(
                Destination={"ToAddresses": ["alice@work.example"]},
                Content={"Simple": {"Subject": {"Data": "Acme"}, "Body": {"Text": {"Data": GOOD}}}},
                EmailTags=[{"Name": "person", "Value": "p-1"}],
            )["Outcomes"]
        else:
            request = one_address(channel, addresses[channel], "p-1")
            outcomes = send(guard, request)["Outcomes"]
        (outcome,) = outcomes.values()
        if outcome.status is OutcomeStatus.SENT:
            sent_at.append(engine.now())
    for instant in sent_at:
        assert sum(instant - DAY < other <= instant for other in sent_at) <= 2
    assert len(pinpoint_script.requests) + len(ses_script.requests) == len(sent_at)


@pytest.mark.parametrize("channel_type", ["EMAIL", "GCM", "VOICE"], ids=str.lower)
def test_possibly_delivered_email_push_or_voice_is_counted_never_resent(channel_type: str) -> None:
    """On every channel a read timeout makes one request only (even with attempts=3): the
    address is unknown, counted, and not sent again."""
    c = client("pinpoint")
    script = Script(c, "SendMessages", READ_TIMEOUT, ok())
    engine = Engine(
        Policy(rules.frequency_cap(1, DAY, scope="all"), name="one"),
        MemoryStore(),
        FrozenClock(NOW),
    )
    address = {"EMAIL": ALICE, "GCM": TOKEN, "VOICE": NY}[channel_type]
    request = one_address(channel_type, address, "p-1")
    request["MessageConfiguration"]["VoiceMessage"] = {"Body": GOOD}
    guard = PinpointGuard(c, engine, topic="deals", attempts=3, sleep=lambda _s: None)
    with pytest.raises(BotoCoreError) as raised:
        send(guard, request)
    outcome = raised.value.outcomes[address]  # type: ignore[attr-defined]
    assert (outcome.status, outcome.retryable) == (OutcomeStatus.UNKNOWN, False)
    assert len(script.requests) == 1
    assert [r.status for r in records(engine, address)] == [SendStatus.SENT]
    again = send(guard, request)["Outcomes"][address]
    assert again.status is OutcomeStatus.DEFERRED
    assert len(script.requests) == 1


def test_email_opt_out_reported_by_pinpoint_is_never_lost() -> None:
    """A DeliveryStatus OPT_OUT for an email address is an opted_out outcome, nothing counted,
    recorded in the ledger as the email's revocation, and the address is not sent again (no
    second request) under a policy that honours revocations on an opt-out channel."""
    c = client("pinpoint")
    script = Script(c, "SendMessages", ok(**{ALICE: "OPT_OUT"}), ok())
    engine = Engine(
        Policy(POLICY, rules.consent(required_for=["sms"]), name="opt-out email"),
        MemoryStore(),
        FrozenClock(NOW),
    )
    guard = PinpointGuard(c, engine, topic="deals", brand="Acme")
    request = one_address("EMAIL", ALICE, "p-1")
    first = send(guard, request)["Outcomes"][ALICE]
    assert first.status is OutcomeStatus.OPTED_OUT
    assert records(engine, ALICE) == []
    again = send(guard, request)["Outcomes"][ALICE]
    assert again.status is OutcomeStatus.DENIED
    assert len(script.requests) == 1
    assert "consent.revoked" in again.decision.codes
    assert [e.kind.value for e in engine.consent.history(ALICE)] == ["revoked"]


@pytest.mark.parametrize("channel_type", ["GCM", "APNS", "ADM", "BAIDU"])
def test_push_opt_out_reported_by_pinpoint_is_never_lost(channel_type: str) -> None:
    """A DeliveryStatus OPT_OUT for a push token is recorded in the ledger as the token's push
    revocation, so a new engine over the same store (no journal, no memory of the guard) denies
    the token consent.revoked."""
    c = client("pinpoint")
    script = Script(c, "SendMessages", ok(**{TOKEN: "OPT_OUT"}), ok())
    store = MemoryStore()
    policy = Policy(POLICY, rules.consent(required_for=["sms"]), name="opt-out push")
    engine = Engine(policy, store, FrozenClock(NOW))
    guard = PinpointGuard(c, engine, topic="deals", brand="Acme")
    request = one_address(channel_type, TOKEN, "p-1")
    request["MessageConfiguration"][PUSH_SECTIONS[channel_type]] = {"Body": GOOD}
    first = send(guard, request)["Outcomes"][TOKEN]
    assert first.status is OutcomeStatus.OPTED_OUT
    assert first.store_error is None
    assert guard.pending() == []
    history = engine.consent.history(TOKEN, channel="push")
    assert [(e.kind.value, e.channel) for e in history] == [("revoked", Channel.PUSH)]
    fresh = Engine(policy, store, FrozenClock(NOW))
    message = Message(TOKEN, "deals", "marketing", channel="push", body=GOOD, brand="Acme")
    assert "consent.revoked" in fresh.evaluate(message).codes
    assert len(script.requests) == 1
