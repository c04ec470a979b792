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
needs_examples = pytest.mark.skipif(
    not EXAMPLES.is_dir(), reason="examples/ is not in this copy of the project (mutation runs)"
)


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


@needs_examples
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


@needs_examples
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


@pytest.mark.parametrize(
    ("settings", "kind"),
    [
        pytest.param({"Activities": {}, "Limits": {"DailyCap": 1}}, "journey", id="activities"),
        pytest.param({"StartActivity": "a", "Limits": {"DailyCap": 1}}, "journey", id="start"),
        pytest.param({"WaitForQuietTime": False, "Limits": {"DailyCap": 1}}, "journey", id="wait"),
        pytest.param({"ApplicationId": "a", "Limits": {"Daily": 1}}, "application", id="app"),
        pytest.param(
            {"ApplicationId": "a", "Name": "N", "MessageConfiguration": {}, "Limits": {"Daily": 1}},
            "campaign",
            id="app-id-and-name",
        ),
        pytest.param(
            {"ApplicationId": "a", "Schedule": {}, "Limits": {"Daily": 1}}, "campaign", id="sched"
        ),
        pytest.param({"MessageConfiguration": {}, "Limits": {"Daily": 1}}, "campaign", id="msg"),
        pytest.param({"Schedule": {}, "Limits": {"Daily": 1}}, "campaign", id="schedule"),
    ],
)
def test_bare_objects_are_recognised(settings: dict[str, Any], kind: str) -> None:
    """A response's inner object is recognised by the keys only its kind has."""
    text = convert_settings(settings)
    assert text.startswith(f"# Converted from the Pinpoint {kind}")
    if kind == "journey":
        assert "Pinpoint Limits.DailyCap = 1" in text
    elif kind == "application":
        assert "each campaign (the application's default)" in text
        assert "when =" not in text
    else:
        assert "from the campaign\n# to one endpoint" in text


@pytest.mark.parametrize(
    "settings",
    [{"Name": "x"}, {"ApplicationId": "a", "Name": "x"}, {}],
    ids=["name-only", "app-id-and-name", "empty"],
)
def test_unrecognised_objects_are_refused(settings: dict[str, Any]) -> None:
    """An object of no known shape is refused, naming the three responses."""
    with pytest.raises(
        InvalidInputError,
        match=r"^not the JSON of GetCampaign, GetJourney or GetApplicationSettings \(expected a "
        r"CampaignResponse, JourneyResponse or ApplicationSettingsResource\)$",
    ):
        convert_settings(settings)


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("Winter Sale", "winter-sale"),
        ("  Spring: 20% OFF!  ", "spring-20-off"),
        ("Über Deals", "ber-deals"),
        ("!!!", "pinpoint"),
    ],
)
def test_topic_is_the_name_in_lower_case_with_dashes(name: str, topic: str) -> None:
    """The topic is the campaign's name in lower-case ASCII with dashes."""
    text = convert_settings(campaign(Name=name))
    assert f'name = "{topic}"' in text
    assert f'when = {{ topic = "{topic}" }}' in text
    assert f'# Send its messages with topic = "{topic}"' in text


def test_header_names_the_source() -> None:
    """The header names the kind, name and id of what was converted."""
    text = convert_settings(campaign())
    assert text.splitlines()[0] == '# Converted from the Pinpoint campaign "Winter Sale" (c1)'
    app = convert_settings({"ApplicationSettingsResource": {"ApplicationId": "app-7"}})
    assert app.splitlines()[0] == "# Converted from the Pinpoint application (app-7)"
    assert 'name = "pinpoint-application"' in app
    assert "[[rules]]" not in app


@pytest.mark.parametrize(
    ("limits", "rules_expected"),
    [
        pytest.param({"Daily": 0, "Total": 0}, [], id="zero-is-no-limit"),
        pytest.param({"Daily": 1}, [("1", '"24h"')], id="daily-1"),
        pytest.param({"Total": 1}, [("1", '"14d"')], id="total-1"),
    ],
)
def test_limits_of_zero_make_no_rule(limits: dict[str, int], rules_expected: list[Any]) -> None:
    """0 is Pinpoint's 'no limit'; 1 is a cap of one."""
    text = convert_settings(campaign(Limits=limits))
    caps = [
        (line.split(" = ")[1], following.split(" = ")[1])
        for line, following in zip(text.splitlines(), text.splitlines()[1:], strict=False)
        if line.startswith("limit = ")
    ]
    assert caps == rules_expected


@pytest.mark.parametrize(
    ("start", "end", "per"),
    [
        pytest.param("2026-12-01T00:00:00Z", "2026-12-15T00:00:00Z", "14d", id="whole-days"),
        pytest.param("2026-12-01T00:00:00Z", "2026-12-15T01:00:00Z", "15d", id="rounds-up"),
        pytest.param("2026-12-01T00:00:00Z", "2026-12-01T02:00:00Z", "1d", id="at-least-a-day"),
        pytest.param("2026-12-01T00:00:00+01:00", "2026-12-02T00:00:00Z", "2d", id="offsets"),
        pytest.param("2026-12-01T00:00:00", "2026-12-03T00:00:00", "2d", id="naive-is-utc"),
        pytest.param("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z", "365d", id="end-first"),
        pytest.param("2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "365d", id="empty"),
        pytest.param("2026-12-01T00:00:00Z", None, "365d", id="no-end"),
        pytest.param(None, "2026-12-01T00:00:00Z", "365d", id="no-start"),
    ],
)
def test_total_cap_window_follows_the_schedule(
    start: str | None, end: str | None, per: str
) -> None:
    """The total cap counts over the schedule in whole days, rounded up, at least one."""
    schedule = {"StartTime": start, "EndTime": end}
    text = convert_settings(campaign(Limits={"Total": 3}, Schedule=schedule))
    assert f'limit = 3\nper = "{per}"' in text


def test_bad_schedule_instants_are_clear_errors() -> None:
    """A StartTime that is not ISO 8601 is refused, naming it."""
    with pytest.raises(InvalidInputError, match=r"^Schedule\.StartTime is not an ISO 8601"):
        convert_settings(campaign(Limits={"Total": 3}, Schedule={"StartTime": "soon"}))


@pytest.mark.parametrize(
    ("interval", "window"),
    [
        ("PT48H", "2d"),
        ("P1D", "1d"),
        ("PT2H", "2h"),
        ("PT90M", "90m"),
        ("PT45S", "45s"),
        ("P1DT2H3M4S", "93784s"),
        ("PT1H30M", "90m"),
    ],
)
def test_reentry_interval_becomes_a_dedupe_window(interval: str, window: str) -> None:
    """EndpointReentryInterval (ISO 8601) becomes the dedupe window in the largest whole unit."""
    text = convert_settings(journey(Limits={"EndpointReentryInterval": interval}))
    assert f'type = "dedupe"\nwindow = "{window}"' in text


@pytest.mark.parametrize("interval", ["P", "PT", "1D", "P1H", "PT1D", 5])
def test_bad_reentry_intervals(interval: object) -> None:
    """An interval that is not an ISO 8601 duration is refused."""
    with pytest.raises(InvalidInputError, match="EndpointReentryInterval must be an ISO 8601"):
        convert_settings(journey(Limits={"EndpointReentryInterval": interval}))


@pytest.mark.parametrize(
    ("start", "end", "window"),
    [
        ("21:00", "08:00", ('"08:01"', '"21:00"')),
        ("00:00", "23:58", ('"23:59"', '"00:00"')),
        ("12:00", "23:59", ('"00:00"', '"12:00"')),
        ("09:30", "09:30", ('"09:31"', '"09:30"')),
        ("19:05", "07:59", ('"08:00"', '"19:05"')),
    ],
)
def test_quiet_time_bounds(start: str, end: str, window: tuple[str, str]) -> None:
    """The window opens one minute after End and closes at Start."""
    text = convert_settings(journey(QuietTime={"Start": start, "End": end}))
    assert f"start = {window[0]}\nend = {window[1]}" in text


@pytest.mark.parametrize(
    ("quiet", "message"),
    [
        ({"Start": "24:00", "End": "08:00"}, r"QuietTime\.Start must be a time HH:MM, got '24:00'"),
        ({"Start": "21:00", "End": "8:00"}, r"QuietTime\.End must be a time HH:MM, got '8:00'"),
        ({"Start": "21:60", "End": "08:00"}, r"QuietTime\.Start must be a time HH:MM"),
        ({"Start": 2100, "End": "08:00"}, r"QuietTime\.Start must be a time HH:MM, got 2100"),
        ({"Start": "21:00"}, r"QuietTime\.End must be a time HH:MM, got None"),
        ({"Start": "00:00", "End": "23:59"}, "from 00:00 to 23:59 .both inclusive. covers the"),
    ],
)
def test_bad_quiet_times(quiet: dict[str, Any], message: str) -> None:
    """A quiet time that is not two HH:MM times, or covers the whole day, is refused."""
    with pytest.raises(InvalidInputError, match=message):
        convert_settings(journey(QuietTime=quiet))


def test_no_quiet_time_means_no_window() -> None:
    """Without Start and End (or with an empty QuietTime) no window is written."""
    for quiet in ({}, {"Start": None, "End": None}):
        assert "sending_window" not in convert_settings(journey(QuietTime=quiet))


def test_application_quiet_time_and_campaign_fallback() -> None:
    """A campaign without Schedule.QuietTime uses its own QuietTime, named as such."""
    text = convert_settings(
        campaign(Schedule={}, QuietTime={"Start": "22:00", "End": "07:00"}, Limits={})
    )
    assert "# Pinpoint QuietTime 22:00-07:00" in text
    assert 'start = "07:01"\nend = "22:00"\non_outside = "deny"' in text


@pytest.mark.parametrize(
    ("key", "value"),
    [("Daily", 1.5), ("Total", "3"), ("MaximumDuration", -5), ("Session", [1])],
)
def test_limits_must_be_whole_numbers(key: str, value: object) -> None:
    """Each limit is a whole number of at least zero."""
    with pytest.raises(InvalidInputError, match=rf"^Limits\.{key} must be a whole number >= 0"):
        convert_settings(campaign(Limits={key: value}))


def test_timeframe_cap_needs_both_parts() -> None:
    """TimeframeCap with a zero Cap or Days makes no rule; a non-object is refused."""
    for frame in ({"Days": 0, "Cap": 3}, {"Days": 7, "Cap": 0}, {"Days": 7}):
        assert "frequency_cap" not in convert_settings(journey(Limits={"TimeframeCap": frame}))
    with pytest.raises(InvalidInputError, match="TimeframeCap must be a JSON object"):
        convert_settings(journey(Limits={"TimeframeCap": [7, 3]}))


def test_topic_must_be_text() -> None:
    """A blank --topic is refused."""
    with pytest.raises(InvalidInputError, match="topic must be non-empty text"):
        convert_settings(campaign(), topic=" ")


def test_convert_file_errors(tmp_path: Path) -> None:
    """A missing file, bad JSON or bad settings raise InvalidInputError naming the file."""
    with pytest.raises(InvalidInputError, match=r"cannot read .*nope\.json"):
        convert_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"Schedule": {"QuietTime": {"Start": "x", "End": "08:00"}}}', "utf-8")
    with pytest.raises(InvalidInputError, match=r"bad\.json: Schedule\.QuietTime\.Start must"):
        convert_file(bad)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(campaign()).encode())
    assert 'name = "winter-sale"' in convert_file(bom)


# --- the whole converted text, line by line ------------------------------------------------

FULL_JOURNEY: dict[str, Any] = {
    "JourneyResponse": {
        "Id": "j1",
        "Name": "Welcome",
        "Limits": {
            "DailyCap": 1,
            "TotalCap": 5,
            "TimeframeCap": {"Days": 1, "Cap": 1},
            "EndpointReentryCap": 2,
            "EndpointReentryInterval": "P1D",
            "MessagesPerSecond": 20,
        },
        "QuietTime": {"Start": "20:00", "End": "09:00"},
        "WaitForQuietTime": True,
        "Schedule": {"StartTime": "2026-12-01T00:00:00Z", "EndTime": "2026-12-31T00:00:00Z"},
    }
}

FULL_CAMPAIGN: dict[str, Any] = {
    "CampaignResponse": {
        "Id": "c1",
        "Name": "Winter Sale",
        "Limits": {
            "Daily": 2,
            "Total": 4,
            "Session": 3,
            "MaximumDuration": 3600,
            "MessagesPerSecond": 50,
        },
        "Schedule": {
            "StartTime": "2026-12-01T14:00:00Z",
            "EndTime": "2026-12-15T14:00:00Z",
            "IsLocalTime": True,
            "Timezone": "UTC-05",
            "QuietTime": {"Start": "21:00", "End": "08:00"},
        },
    }
}

FULL_APPLICATION: dict[str, Any] = {
    "ApplicationSettingsResource": {
        "ApplicationId": "app-9",
        "Limits": {"Daily": 1, "Total": 1},
        "QuietTime": {"Start": "22:00", "End": "07:30"},
    }
}

JOURNEY_TEXT = """\
# Converted from the Pinpoint journey "Welcome" (j1)
# by `smspolicy pinpoint convert`.
# Send its messages with topic = "welcome": the rules below apply to it.
# Consent is required for every message (the ledger holds the imported opt-outs).
# Recommended: jurisdictions = ["standard"] adds the legal windows, caps and content
# rules of each recipient's jurisdictions, which Pinpoint never applied.
name = "welcome"

# Pinpoint QuietTime 20:00-09:00: no messages in quiet time.
# - Pinpoint's Start and End were both inclusive (a message at 09:00 was still
#   held): the window here opens at 09:01 (start inclusive, end exclusive).
# - Pinpoint applied quiet time only to endpoints with Demographic.Timezone and sent
#   to the others at any hour (fail open). Here the window holds in every candidate
#   zone of the recipient (the number's area code and the profile's zone), and a
#   marketing message to a recipient with no known zone is denied (fail closed).
# - WaitForQuietTime is true: a message in quiet time waits for the window (defer).
[[rules]]
type = "sending_window"
start = "09:01"
end = "20:00"
on_outside = "defer"
when = { topic = "welcome" }

# Pinpoint Limits.DailyCap = 1: at most 1 message from the journey
# to one participant in any 24 hours.
[[rules]]
type = "frequency_cap"
limit = 1
per = "24h"
scope = "topic"
when = { topic = "welcome" }

# Pinpoint Limits.TotalCap = 5: at most 5 messages from the journey
# to one participant over its course.
# Counted over the schedule, 30 days from StartTime to EndTime.
[[rules]]
type = "frequency_cap"
limit = 5
per = "30d"
scope = "topic"
when = { topic = "welcome" }

# Pinpoint Limits.TimeframeCap: at most 1 message in 1 day.
[[rules]]
type = "frequency_cap"
limit = 1
per = "1d"
scope = "topic"
when = { topic = "welcome" }

# Pinpoint Limits.EndpointReentryInterval = P1D: a participant re-entered
# the journey only after this long. Here: the same message (content key) to the
# same person is denied within that window, which stops a re-entry from repeating
# what was already sent.
[[rules]]
type = "dedupe"
window = "1d"
when = { topic = "welcome" }
#
# Limits.EndpointReentryCap = 2: how often a participant may enter the
# journey is a property of your journey code, not of a message: no equivalent rule
# (the caps above bound what any number of entries can send).
#
# Limits.MessagesPerSecond = 20: a throughput setting, not a consent rule,
# so not in this file. Give it to smspolicy.throughput.SenderThroughput(store,
# {ORIGINATION_IDENTITY: 20}): each message gets its sender's next free slot,
# shared by every worker through the store, instead of a ThrottlingException.
# Keep it at or below the rate End User Messaging allows the identity.
"""

CAMPAIGN_TEXT = """\
# Converted from the Pinpoint campaign "Winter Sale" (c1)
# by `smspolicy pinpoint convert`.
# Send its messages with topic = "winter-sale": the rules below apply to it.
# Consent is required for every message (the ledger holds the imported opt-outs).
# Recommended: jurisdictions = ["standard"] adds the legal windows, caps and content
# rules of each recipient's jurisdictions, which Pinpoint never applied.
name = "winter-sale"

# Pinpoint Schedule.QuietTime 21:00-08:00: no messages in quiet time.
# - Pinpoint's Start and End were both inclusive (a message at 08:00 was still
#   held): the window here opens at 08:01 (start inclusive, end exclusive).
# - Pinpoint applied quiet time only to endpoints with Demographic.Timezone and sent
#   to the others at any hour (fail open). Here the window holds in every candidate
#   zone of the recipient (the number's area code and the profile's zone), and a
#   marketing message to a recipient with no known zone is denied (fail closed).
# - Pinpoint did not send a message due in quiet time (a campaign never waits): it is
#   denied here too; write on_outside = "defer" to send it when the window opens.
[[rules]]
type = "sending_window"
start = "08:01"
end = "21:00"
on_outside = "deny"
when = { topic = "winter-sale" }

# Pinpoint Limits.Daily = 2: at most 2 messages from the campaign
# to one endpoint in any 24 hours (rolling, as in Pinpoint). Counted per topic and
# number here: send each campaign with its own topic.
[[rules]]
type = "frequency_cap"
limit = 2
per = "24h"
scope = "topic"
when = { topic = "winter-sale" }

# Pinpoint Limits.Total = 4: at most 4 messages from the campaign
# to one endpoint over its whole run.
# Counted over the schedule, 14 days from StartTime to EndTime.
[[rules]]
type = "frequency_cap"
limit = 4
per = "14d"
scope = "topic"
when = { topic = "winter-sale" }
#
# Limits.Session = 3: a limit per in-app session; SMS has no sessions, so there is no equivalent.
#
# Limits.MaximumDuration = 3600 s: Pinpoint stopped trying to deliver this
# long after the scheduled start. Here it is per message: set
# Message(not_after=scheduled start + 3600 s); a deferral past it is denied
# (message.stale).
#
# Limits.MessagesPerSecond = 50: a throughput setting, not a consent rule,
# so not in this file. Give it to smspolicy.throughput.SenderThroughput(store,
# {ORIGINATION_IDENTITY: 50}): each message gets its sender's next free slot,
# shared by every worker through the store, instead of a ThrottlingException.
# Keep it at or below the rate End User Messaging allows the identity.
#
# Schedule (IsLocalTime = true, Timezone = "UTC-05"):
# when to start sending stays your scheduler's job; the policy decides each
# message in the recipient's own zones whatever the schedule's zone, and a message
# sent early is deferred to the window, never sent in quiet time.
"""

APPLICATION_TEXT = """\
# Converted from the Pinpoint application (app-9)
# by `smspolicy pinpoint convert`.
# Application defaults: the rules below apply to every topic.
# Consent is required for every message (the ledger holds the imported opt-outs).
# Recommended: jurisdictions = ["standard"] adds the legal windows, caps and content
# rules of each recipient's jurisdictions, which Pinpoint never applied.
name = "pinpoint-application"

# Pinpoint QuietTime 22:00-07:30: no messages in quiet time.
# - Pinpoint's Start and End were both inclusive (a message at 07:30 was still
#   held): the window here opens at 07:31 (start inclusive, end exclusive).
# - Pinpoint applied quiet time only to endpoints with Demographic.Timezone and sent
#   to the others at any hour (fail open). Here the window holds in every candidate
#   zone of the recipient (the number's area code and the profile's zone), and a
#   marketing message to a recipient with no known zone is denied (fail closed).
# - Pinpoint did not send a message due in quiet time (a campaign never waits): it is
#   denied here too; write on_outside = "defer" to send it when the window opens.
[[rules]]
type = "sending_window"
start = "07:31"
end = "22:00"
on_outside = "deny"

# Pinpoint Limits.Daily = 1: at most 1 message from each campaign (the application's default)
# to one endpoint in any 24 hours (rolling, as in Pinpoint). Counted per topic and
# number here: send each campaign with its own topic.
[[rules]]
type = "frequency_cap"
limit = 1
per = "24h"
scope = "topic"

# Pinpoint Limits.Total = 1: at most 1 message from each campaign (the application's default)
# to one endpoint over its whole run.
# An application default has no schedule: counted over 365d.
[[rules]]
type = "frequency_cap"
limit = 1
per = "365d"
scope = "topic"
"""


@pytest.mark.parametrize(
    ("settings", "text"),
    [
        (FULL_JOURNEY, JOURNEY_TEXT),
        (FULL_CAMPAIGN, CAMPAIGN_TEXT),
        (FULL_APPLICATION, APPLICATION_TEXT),
    ],
    ids=["journey", "campaign", "application"],
)
def test_every_setting_converts_to_exactly_this_text(settings: dict[str, Any], text: str) -> None:
    """A journey, a campaign and application settings with every limit convert to exactly
    this policy file: each rule, each comment on a difference, correct plurals."""
    assert convert_settings(settings) == text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (campaign(Limits=[1]), "Limits and Schedule must be JSON objects"),
        (
            campaign(Schedule={"QuietTime": ["21:00"]}),
            "Schedule.QuietTime must be a JSON object",
        ),
        (campaign(Schedule={}, QuietTime="21:00"), "QuietTime must be a JSON object"),
        (journey(Limits=[1]), "Limits, QuietTime and Schedule must be JSON objects"),
        (journey(Schedule=3), "Limits, QuietTime and Schedule must be JSON objects"),
        (
            journey(Limits={"DailyCap": -1}),
            "Limits.DailyCap must be a whole number >= 0, got -1",
        ),
        (
            journey(Limits={"TotalCap": "5"}),
            "Limits.TotalCap must be a whole number >= 0, got '5'",
        ),
        (
            journey(Limits={"TimeframeCap": [7, 3]}),
            "Limits.TimeframeCap must be a JSON object",
        ),
        (
            journey(Limits={"TimeframeCap": {"Cap": 1.5, "Days": 7}}),
            "Limits.TimeframeCap.Cap must be a whole number >= 0, got 1.5",
        ),
        (
            journey(Limits={"TimeframeCap": {"Cap": 3, "Days": False}}),
            "Limits.TimeframeCap.Days must be a whole number >= 0, got False",
        ),
        (
            journey(Limits={"EndpointReentryCap": -2}),
            "Limits.EndpointReentryCap must be a whole number >= 0, got -2",
        ),
        (
            journey(
                Limits={"TotalCap": 2},
                Schedule={"StartTime": "2026-12-01T00:00:00Z", "EndTime": "soon"},
            ),
            "Schedule.EndTime is not an ISO 8601 instant: 'soon'",
        ),
    ],
    ids=[
        "campaign-limits",
        "schedule-quiet-time",
        "campaign-quiet-time",
        "journey-limits",
        "journey-schedule",
        "daily-cap",
        "total-cap",
        "timeframe",
        "timeframe-cap",
        "timeframe-days",
        "reentry-cap",
        "end-time",
    ],
)
def test_bad_settings_name_the_key_exactly(settings: Any, message: str) -> None:
    """Each malformed setting is refused with a message naming its exact key and value."""
    with pytest.raises(InvalidInputError) as raised:
        convert_settings(settings)
    assert str(raised.value) == message


def test_a_journey_that_does_not_wait_drops_and_says_why() -> None:
    """A journey without WaitForQuietTime drops a message due in quiet time (deny), and the
    comment names the setting."""
    settings = journey()
    del settings["JourneyResponse"]["WaitForQuietTime"]
    text = convert_settings(settings)
    assert 'on_outside = "deny"' in text
    assert "(WaitForQuietTime is false): it is" in text
    waiting = convert_settings(journey())
    assert 'on_outside = "defer"' in waiting


def test_a_schedule_instant_without_a_zone_is_utc() -> None:
    """A StartTime written without an offset is read as UTC, like one ending in Z."""
    text = convert_settings(
        journey(
            Limits={"TotalCap": 2},
            Schedule={"StartTime": "2026-12-01T00:00:00", "EndTime": "2026-12-03T00:00:01Z"},
        )
    )
    assert 'per = "3d"' in text
    assert "Counted over the schedule, 3 days from StartTime to EndTime." in text


def test_convert_file_names_the_file_and_passes_the_topic(tmp_path: Path) -> None:
    """A file that is not JSON is named with the parser's complaint; the topic reaches the
    converted rules."""
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(InvalidInputError) as raised:
        convert_file(broken)
    assert str(raised.value).startswith(f"{broken}: not JSON: Expecting property name")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(campaign()), encoding="utf-8")
    assert 'when = { topic = "promo" }' in convert_file(good, topic="promo")


def test_application_settings_ignore_a_name_and_a_topic() -> None:
    """Application defaults apply to every topic, whatever name the JSON carries or topic is
    asked for; a resource without an id names none."""
    settings = {"ApplicationSettingsResource": {"Name": "Shop", "Limits": {"Daily": 1}}}
    text = convert_settings(settings, topic="promo")
    assert text.splitlines()[:3] == [
        "# Converted from the Pinpoint application",
        "# by `smspolicy pinpoint convert`.",
        "# Application defaults: the rules below apply to every topic.",
    ]
    assert 'name = "promo"' in text  # the policy's name only
    assert "when =" not in text
    assert 'name = "pinpoint-application"' in convert_settings(settings)


def test_a_campaign_without_an_id_names_none() -> None:
    """The header names the campaign, and its id only when it has one."""
    inner = dict(campaign()["CampaignResponse"])
    del inner["Id"]
    first = convert_settings({"CampaignResponse": inner}).splitlines()[0]
    assert first == '# Converted from the Pinpoint campaign "Winter Sale"'


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ([1], "expected a JSON object, got list"),
        (
            campaign(Schedule={"QuietTime": {"End": "08:00"}}),
            "Schedule.QuietTime.Start must be a time HH:MM, got None",
        ),
        (
            campaign(Limits={"MessagesPerSecond": -5}),
            "Limits.MessagesPerSecond must be a whole number >= 0, got -5",
        ),
    ],
    ids=["not-an-object", "end-without-start", "throughput"],
)
def test_more_bad_settings_name_the_key_exactly(settings: Any, message: str) -> None:
    """A list, a quiet time with only an end and a negative rate are refused by name."""
    with pytest.raises(InvalidInputError) as raised:
        convert_settings(settings)
    assert str(raised.value) == message
