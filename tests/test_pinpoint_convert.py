"""Converting Pinpoint campaign, journey and application settings into a policy file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Engine, Message, Profile
from smspolicy.cli import main
from smspolicy.config import load_config
from smspolicy.errors import InvalidInputError
from smspolicy.pinpoint._convert import convert_file, convert_settings
from smspolicy.store import MemoryStore
from smspolicy.testing import FrozenClock

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "pinpoint"
NY = "+12125550123"  # America/New_York, UTC-5 in December


def campaign(**changes: Any) -> dict[str, Any]:
    inner: dict[str, Any] = {
        "Id": "c1",
        "Name": "Winter Sale",
        "Limits": {"Daily": 2, "Total": 4},
        "Schedule": {
            "StartTime": "2026-12-01T14:00:00Z",
            "EndTime": "2026-12-15T14:00:00Z",
            "IsLocalTime": True,
            "QuietTime": {"Start": "21:00", "End": "08:00"},
        },
        "MessageConfiguration": {},
    }
    inner.update(changes)
    return {"CampaignResponse": inner}


def journey(**changes: Any) -> dict[str, Any]:
    inner: dict[str, Any] = {
        "Id": "j1",
        "Name": "Welcome",
        "Limits": {"DailyCap": 1, "TimeframeCap": {"Days": 7, "Cap": 3}},
        "QuietTime": {"Start": "20:00", "End": "09:00"},
        "WaitForQuietTime": True,
        "Activities": {},
    }
    inner.update(changes)
    return {"JourneyResponse": inner}


def engine_for(text: str, tmp_path: Path, at: dt.datetime, **kwargs: Any) -> Engine:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    engine = Engine(load_config(path).policy, MemoryStore(), FrozenClock(at), **kwargs)
    engine.consent.confirm(NY, topic=None, purpose="marketing", source="form")
    return engine


def local(hour: int, minute: int = 0, day: int = 1) -> dt.datetime:
    """An instant at hour:minute in New York (UTC-5) on December ``day``, 2026."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC) + dt.timedelta(hours=5)


def verdict(engine: Engine, topic: str = "winter-sale", body: str = "hi") -> str:
    return engine.evaluate(Message(NY, topic, "marketing", body=body)).verdict.value


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        pytest.param(20, 59, "allow", id="20:59-before-quiet"),
        pytest.param(21, 0, "deny", id="21:00-start-inclusive"),
        pytest.param(3, 0, "deny", id="03:00-night"),
        pytest.param(8, 0, "deny", id="08:00-end-inclusive"),
        pytest.param(8, 1, "allow", id="08:01-open"),
    ],
)
def test_campaign_quiet_time_is_inclusive_and_drops(
    tmp_path: Path, hour: int, minute: int, expected: str
) -> None:
    """Campaign QuietTime 21:00-08:00 holds both ends inclusive; a message in it is denied."""
    engine = engine_for(convert_settings(campaign()), tmp_path, local(hour, minute))
    assert verdict(engine) == expected


def test_journey_quiet_time_waits_when_asked(tmp_path: Path) -> None:
    """WaitForQuietTime true defers to the first minute after End."""
    engine = engine_for(convert_settings(journey()), tmp_path, local(22))
    decision = engine.evaluate(Message(NY, "welcome", "marketing"))
    assert decision.verdict.value == "defer"
    assert decision.until == local(9, 1, day=2)


def test_journey_without_wait_drops(tmp_path: Path) -> None:
    """WaitForQuietTime false denies a message due in quiet time."""
    text = convert_settings(journey(WaitForQuietTime=False))
    assert verdict(engine_for(text, tmp_path, local(22)), "welcome") == "deny"
    assert 'on_outside = "deny"' in text


def test_quiet_time_holds_without_an_endpoint_zone(tmp_path: Path) -> None:
    """Pinpoint sent to endpoints without a time zone at any hour; here the number's zone
    and the profile's zone both count."""
    engine = engine_for(convert_settings(campaign()), tmp_path, local(22))
    assert verdict(engine) == "deny"  # no profile at all: the number's own zone
    profiled = engine_for(
        convert_settings(campaign()),
        tmp_path,
        local(9),
        profiles={NY: Profile(timezone="America/Los_Angeles")},
    )
    assert verdict(profiled) == "deny"  # 09:00 in New York, 06:00 in Los Angeles


def test_other_topics_are_not_touched(tmp_path: Path) -> None:
    """The converted rules apply to the campaign's topic only."""
    engine = engine_for(convert_settings(campaign()), tmp_path, local(22))
    assert verdict(engine, topic="other") == "allow"


def test_daily_and_total_limits(tmp_path: Path) -> None:
    """Daily 2 per rolling 24 hours and Total 4 over the 14-day schedule."""
    clock_engine = engine_for(convert_settings(campaign()), tmp_path, local(10))
    clock = clock_engine.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(2):
        clock_engine.record_sent(Message(NY, "winter-sale", "marketing"))
    decision = clock_engine.evaluate(Message(NY, "winter-sale", "marketing"))
    assert decision.verdict.value == "defer"
    assert "cap.exceeded" in decision.codes
    clock.set(local(10, day=2))
    for _ in range(2):
        assert verdict(clock_engine) == "allow"
        clock_engine.record_sent(Message(NY, "winter-sale", "marketing"))
    clock.set(local(10, day=3))
    total = clock_engine.evaluate(Message(NY, "winter-sale", "marketing"))
    assert total.verdict.value == "defer"
    assert total.until is not None
    assert total.until >= local(10, day=15)


def test_journey_caps_and_reentry(tmp_path: Path) -> None:
    """DailyCap 1, TimeframeCap 3 per 7 days, and the re-entry interval as dedupe."""
    limits = {
        "DailyCap": 1,
        "TimeframeCap": {"Days": 7, "Cap": 3},
        "EndpointReentryInterval": "PT48H",
    }
    engine = engine_for(convert_settings(journey(Limits=limits)), tmp_path, local(10))
    clock = engine.clock
    assert isinstance(clock, FrozenClock)
    engine.record_sent(Message(NY, "welcome", "marketing", body="one"))
    assert verdict(engine, "welcome") == "defer"
    clock.set(local(10, day=2))
    assert verdict(engine, "welcome", body="one") == "deny"  # same message within 48 h
    engine.record_sent(Message(NY, "welcome", "marketing", body="two"))
    clock.set(local(10, day=3))
    engine.record_sent(Message(NY, "welcome", "marketing", body="three"))
    clock.set(local(10, day=4))
    assert verdict(engine, "welcome", body="four") == "defer"  # 3 in 7 days
    assert verdict(engine, "welcome", body="one") == "defer"  # 72 h later: not a duplicate


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param(campaign(), "both inclusive", id="inclusive"),
        pytest.param(campaign(), "fail open", id="fail-open"),
        pytest.param(campaign(), "opens at 08:01", id="opens"),
        pytest.param(
            campaign(Limits={"MessagesPerSecond": 20}),
            "SenderThroughput(store,\n# {ORIGINATION_IDENTITY: 20})",
            id="mps",
        ),
        pytest.param(
            campaign(Limits={"MaximumDuration": 3600}), "Message(not_after=", id="duration"
        ),
        pytest.param(campaign(Limits={"Session": 3}), "SMS has no sessions", id="session"),
        pytest.param(campaign(), "IsLocalTime = true", id="schedule"),
        pytest.param(
            journey(Limits={"EndpointReentryCap": 2}), "EndpointReentryCap = 2", id="reentry-cap"
        ),
        pytest.param(journey(), "waits for the window (defer)", id="wait"),
        pytest.param(
            campaign(
                Schedule={"QuietTime": {"Start": "22:00", "End": "07:00"}}, Limits={"Total": 1}
            ),
            "counted over 365d",
            id="no-end-time",
        ),
    ],
)
def test_each_difference_has_a_comment(settings: dict[str, Any], expected: str) -> None:
    """Every setting that behaves differently is explained in the policy file."""
    assert expected in convert_settings(settings)


def test_application_settings_apply_to_every_topic(tmp_path: Path) -> None:
    """GetApplicationSettings limits and quiet time become rules for every topic."""
    settings = {
        "ApplicationSettingsResource": {
            "ApplicationId": "app",
            "Limits": {"Daily": 1, "Total": 0, "MessagesPerSecond": 0},
            "QuietTime": {"Start": "21:00", "End": "08:00"},
        }
    }
    text = convert_settings(settings)
    assert "when =" not in text
    assert text.count("[[rules]]") == 2  # Total 0 and MessagesPerSecond 0: no limit
    assert "MessagesPerSecond" not in text
    engine = engine_for(text, tmp_path, local(12))
    engine.record_sent(Message(NY, "any", "marketing"))
    assert verdict(engine, "any") == "defer"
    assert verdict(engine, "other") == "allow"


def test_bare_objects_and_topic_override() -> None:
    """The inner object without its wrapper converts too; --topic names the topic."""
    inner = campaign()["CampaignResponse"]
    text = convert_settings(inner, topic="sale")
    assert 'when = { topic = "sale" }' in text
    assert 'name = "sale"' in text


def test_example_settings_load(tmp_path: Path) -> None:
    """The example campaign and journey convert to policies that load."""
    for name in ("campaign.json", "journey.json"):
        out = tmp_path / f"{name}.toml"
        out.write_text(convert_file(EXAMPLES / name), encoding="utf-8")
        assert load_config(out).policy is not None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"Other": 1}, "not the JSON of GetCampaign", id="unknown"),
        pytest.param([], "expected a JSON object", id="list"),
        pytest.param(
            campaign(Schedule={"QuietTime": {"Start": "9pm", "End": "08:00"}}),
            "Schedule.QuietTime.Start must be a time HH:MM",
            id="time",
        ),
        pytest.param(
            campaign(Schedule={"QuietTime": {"Start": "08:01", "End": "08:00"}}),
            "covers the whole day",
            id="whole-day",
        ),
        pytest.param(campaign(Limits={"Daily": -1}), "Limits.Daily must be", id="negative"),
        pytest.param(campaign(Limits={"Daily": True}), "Limits.Daily must be", id="bool"),
        pytest.param(
            journey(Limits={"EndpointReentryInterval": "1 day"}), "ISO 8601 duration", id="iso"
        ),
        pytest.param(journey(WaitForQuietTime="yes"), "WaitForQuietTime", id="wait"),
        pytest.param(campaign(Limits=[1]), "must be JSON objects", id="limits"),
    ],
)
def test_bad_settings_are_clear_errors(settings: Any, message: str) -> None:
    """Malformed settings raise InvalidInputError saying which key is wrong."""
    with pytest.raises(InvalidInputError, match=message):
        convert_settings(settings)


def test_cli_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """smspolicy pinpoint convert prints or writes the policy; bad JSON exits 2."""
    assert main(["pinpoint", "convert", str(EXAMPLES / "journey.json")]) == 0
    assert 'name = "welcome-series"' in capsys.readouterr().out
    out = tmp_path / "p.toml"
    args = ["pinpoint", "convert", str(EXAMPLES / "campaign.json"), "--out", str(out)]
    assert main([*args, "--topic", "deals"]) == 0
    assert load_config(out).name == "deals"
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    assert main(["pinpoint", "convert", str(bad)]) == 2
    assert "bad.json: not JSON" in capsys.readouterr().err
    assert json.loads((EXAMPLES / "campaign.json").read_text())["CampaignResponse"]["Name"]
