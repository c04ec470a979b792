"""The text a Pinpoint request sends to one address, rendered before deciding."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smspolicy import Channel
from smspolicy.aws import PinpointTemplates, SmsTemplate
from smspolicy.aws._content import UnknownContent, body_for
from smspolicy.testing import FrozenClock

from .aws_helpers import Script, client, error, ok

T0 = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)


def fixed(name: str, version: str | None) -> SmsTemplate:
    assert (name, version) == ("deal", "2")
    return SmsTemplate("T {{A}} {{B}}", {"A": "ta", "B": "tb"})


REQUEST: dict[str, Any] = {
    "MessageConfiguration": {
        "SMSMessage": {"Body": "S {{A}}", "Substitutions": {"A": ["sa"], "B": ["sb"]}},
        "VoiceMessage": {"Body": "V {{A}}"},
        "DefaultMessage": {"Body": "D {{A}} {{B}}", "Substitutions": {"A": ["da"], "B": ["db"]}},
    }
}


@pytest.mark.parametrize(
    ("config", "request_", "channel", "expected"),
    [
        ({}, REQUEST, Channel.SMS, "S sa"),
        ({"Substitutions": {"A": ["aa"]}}, REQUEST, Channel.SMS, "S aa"),
        ({"BodyOverride": "O {{B}}"}, REQUEST, Channel.SMS, "O sb"),
        ({}, REQUEST, Channel.VOICE, "V da"),
        ({}, {"MessageConfiguration": REQUEST["MessageConfiguration"] | {"SMSMessage": {}}},
         Channel.SMS, "D da db"),
        ({"RawContent": '{"body": "raw lower"}'}, REQUEST, Channel.SMS, "raw lower"),
        ({"RawContent": '"a json string"'}, REQUEST, Channel.SMS, "a json string"),
        ({}, {"MessageConfiguration": {"DefaultMessage": {"RawContent": "default raw"}}},
         Channel.SMS, "default raw"),
        ({}, {"MessageConfiguration": {"SMSMessage": {"RawContent": "sms raw"},
                                        "DefaultMessage": {"RawContent": "default raw"}}},
         Channel.SMS, "sms raw"),
        ({}, {"MessageConfiguration": {"DefaultMessage": {"Body": "plain {{ A }}",
                                                          "Substitutions": {"A": []}}}},
         Channel.SMS, "plain "),
        ({}, {"MessageConfiguration": {"SMSMessage": {}},
              "TemplateConfiguration": {"SMSTemplate": {"Name": "deal", "Version": "2"}}},
         Channel.SMS, "T ta tb"),
        ({"Substitutions": {"B": ["ab"]}},
         {"MessageConfiguration": {"SMSMessage": {}},
          "TemplateConfiguration": {"SMSTemplate": {"Name": "deal", "Version": "2"}}},
         Channel.SMS, "T ta ab"),
        ({}, {"MessageConfiguration": {"SMSMessage": {"Body": ""}}}, Channel.SMS, ""),
    ],
    ids=[
        "sms", "address-first", "override", "voice", "default", "raw-lower", "raw-string",
        "default-raw", "sms-raw-first", "empty-list", "template", "template-address-first",
        "empty",
    ],
)  # fmt: skip
def test_body_for(config: Any, request_: Any, channel: Channel, expected: str) -> None:
    """Raw content first, then the override, the channel's body, the default body or the
    template; variables from the address, the channel, the default message, the template."""
    assert body_for(config, request_, channel, fixed) == expected


@pytest.mark.parametrize(
    ("config", "request_", "templates", "problem"),
    [
        ({}, {"MessageConfiguration": {"SMSMessage": {"Body": "{{X}}"}}}, None, "no value"),
        ({"Substitutions": {"X": ["a", "b"]}},
         {"MessageConfiguration": {"SMSMessage": {"Body": "{{X}}"}}}, None, "2 values"),
        ({"RawContent": '{"Title": "t"}'}, {}, None, "no single text body"),
        ({"RawContent": '{"Body": "a", "body": "b"}'}, {}, None, "no single text body"),
        ({"RawContent": "[1]"}, {}, None, "no single text body"),
        ({}, {"TemplateConfiguration": {"SMSTemplate": {"Name": "deal"}}}, None, "no source"),
        ({}, {"MessageConfiguration": {"SMSMessage": {"Body": "b"}},
              "TemplateConfiguration": {"SMSTemplate": {"Name": "deal"}}}, fixed, "both"),
    ],
    ids=["no-value", "two-values", "raw-no-body", "raw-two-bodies", "raw-list", "no-source",
         "both"],
)  # fmt: skip
def test_unknown_text(config: Any, request_: Any, templates: Any, problem: str) -> None:
    """Text that cannot be known raises UnknownContent saying why."""
    with pytest.raises(UnknownContent, match=problem) as raised:
        body_for(config, request_, Channel.SMS, templates)
    assert raised.value.transient is False


def test_voice_templates_are_unknown() -> None:
    """A voice template has no source: unknown."""
    request = {"TemplateConfiguration": {"VoiceTemplate": {"Name": "v"}}}
    with pytest.raises(UnknownContent, match="no source"):
        body_for({}, request, Channel.VOICE, fixed)
    assert (
        body_for({}, {"TemplateConfiguration": {"VoiceTemplate": {"Name": "v"}}}, Channel.SMS, None)
        == ""
    )


def test_pinpoint_templates_cache_until_the_ttl() -> None:
    """GetSmsTemplate is asked once per name and version until the TTL has passed (an answer
    is fresh strictly before its expiry), with the version when one is given."""
    c = client("pinpoint")
    script = Script(
        c,
        "GetSmsTemplate",
        ok({"Body": "one {{A}}", "DefaultSubstitutions": '{"A": 1}'}),
        ok({"TemplateName": "deal"}),
        ok({"Body": "three"}),
    )
    clock = FrozenClock(T0)
    templates = PinpointTemplates(c, ttl=dt.timedelta(minutes=5), clock=clock)
    assert templates("deal", "7") == SmsTemplate("one {{A}}", {"A": "1"})
    clock.advance(dt.timedelta(minutes=4, seconds=59))
    assert templates("deal", "7").body == "one {{A}}"
    clock.advance(dt.timedelta(seconds=1))
    assert templates("deal", "7") == SmsTemplate("", {})
    assert templates("deal", None).body == "three"
    assert len(script.requests) == 3


def test_pinpoint_templates_ask_for_the_version() -> None:
    """The version asked for goes in the request; none asks for the active version."""
    c = client("pinpoint")
    urls: list[str] = []
    c.meta.events.register(
        "before-send.pinpoint.GetSmsTemplate", lambda request, **_: urls.append(request.url)
    )
    Script(c, "GetSmsTemplate", ok({"Body": "a"}), ok({"Body": "b"}))
    templates = PinpointTemplates(c)
    templates("deal", "7")
    templates("deal", None)
    assert urls[0].endswith("/v1/templates/deal/sms?version=7")
    assert urls[1].endswith("/v1/templates/deal/sms")


def test_pinpoint_templates_raise_on_aws_errors() -> None:
    """An AWS error reaches the caller (the guard turns it into content.unknown)."""
    c = client("pinpoint")
    Script(c, "GetSmsTemplate", error("NotFoundException", 404))
    with pytest.raises(Exception, match="NotFoundException"):
        PinpointTemplates(c)("deal", None)
