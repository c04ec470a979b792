"""Convert Pinpoint campaign, journey and application settings into a policy file.

Input: the JSON of a ``GetCampaign`` (``CampaignResponse``), ``GetJourney``
(``JourneyResponse``) or ``GetApplicationSettings`` (``ApplicationSettingsResource``)
response, or the inner object alone. Output: TOML that :func:`smspolicy.config.load_config`
reads, with a comment on every setting that behaves differently here.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

from .._cli_output import plural
from ..errors import InvalidInputError

__all__ = ["convert_file", "convert_settings"]

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$", re.ASCII)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>[0-9]+)D)?(?:T(?:(?P<h>[0-9]+)H)?(?:(?P<m>[0-9]+)M)?(?:(?P<s>[0-9]+)S)?)?$",
    re.ASCII,
)
DEFAULT_TOTAL_WINDOW = "365d"
"""The window of a total cap when the campaign or journey has no end time."""

_WRAPPERS = {
    "CampaignResponse": "campaign",
    "JourneyResponse": "journey",
    "ApplicationSettingsResource": "application",
}


def _kind(data: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    for key, kind in _WRAPPERS.items():
        if isinstance(data.get(key), Mapping):
            return kind, data[key]
    if "Activities" in data or "StartActivity" in data or "WaitForQuietTime" in data:
        return "journey", data
    if "ApplicationId" in data and "Schedule" not in data and "Name" not in data:
        return "application", data
    if "Schedule" in data or "MessageConfiguration" in data:
        return "campaign", data
    raise InvalidInputError(
        "not the JSON of GetCampaign, GetJourney or GetApplicationSettings (expected a "
        "CampaignResponse, JourneyResponse or ApplicationSettingsResource)"
    )


def _string(value: str) -> str:
    return json.dumps(value)  # a JSON string with ASCII escapes is a TOML basic string


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "pinpoint"


def _count(table: Mapping[str, Any], key: str, where: str) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{where}.{key} must be a whole number >= 0, got {value!r}")
    return value


def _clock(value: object, where: str) -> dt.time:
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidInputError(f"{where} must be a time HH:MM, got {value!r}")
    return dt.time(int(match[1]), int(match[2]))


def _instant(value: object, where: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{where} is not an ISO 8601 instant: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _iso_duration(value: object, where: str) -> dt.timedelta:
    match = _ISO_DURATION.match(value) if isinstance(value, str) else None
    if match is None or not any(match.groupdict().values()):
        raise InvalidInputError(f"{where} must be an ISO 8601 duration like PT24H, got {value!r}")
    parts = {k: int(v or 0) for k, v in match.groupdict().items()}
    return dt.timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def _duration_text(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class _Policy:
    def __init__(self, when: str | None) -> None:
        self.when = when
        self.parts: list[str] = []

    def comment(self, text: str) -> None:
        self.parts.append("\n".join(f"# {line}".rstrip() for line in text.splitlines()))

    def rule(self, comment: str, kind: str, **arguments: object) -> None:
        lines = ["", *(f"# {line}".rstrip() for line in comment.splitlines()), "[[rules]]"]
        lines.append(f"type = {_string(kind)}")
        for key, value in arguments.items():
            shown = _string(value) if isinstance(value, str) else str(value).lower()
            lines.append(f"{key} = {shown}")
        if self.when is not None:
            lines.append(f"when = {{ topic = {_string(self.when)} }}")
        self.parts.append("\n".join(lines))


def _quiet_time(
    policy: _Policy, quiet: Mapping[str, Any], where: str, *, wait: bool, waiting_key: str
) -> None:
    if not quiet or (quiet.get("Start") is None and quiet.get("End") is None):
        return
    start = _clock(quiet.get("Start"), f"{where}.Start")
    end = _clock(quiet.get("End"), f"{where}.End")
    opens = (dt.datetime.combine(dt.date(2000, 1, 1), end) + dt.timedelta(minutes=1)).time()
    if opens == start:
        raise InvalidInputError(
            f"{where} from {start:%H:%M} to {end:%H:%M} (both inclusive) covers the whole day"
        )
    outside = "defer" if wait else "deny"
    policy.rule(
        f"Pinpoint {where} {start:%H:%M}-{end:%H:%M}: no messages in quiet time.\n"
        f"- Pinpoint's Start and End were both inclusive (a message at {end:%H:%M} was still\n"
        f"  held): the window here opens at {opens:%H:%M} (start inclusive, end exclusive).\n"
        "- Pinpoint applied quiet time only to endpoints with Demographic.Timezone and sent\n"
        "  to the others at any hour (fail open). Here the window holds in every candidate\n"
        "  zone of the recipient (the number's area code and the profile's zone), and a\n"
        "  marketing message to a recipient with no known zone is denied (fail closed).\n"
        + (
            "- WaitForQuietTime is true: a message in quiet time waits for the window (defer)."
            if wait
            else f"- Pinpoint did not send a message due in quiet time ({waiting_key}): it is\n"
            '  denied here too; write on_outside = "defer" to send it when the window opens.'
        ),
        "sending_window",
        start=f"{opens:%H:%M}",
        end=f"{start:%H:%M}",
        on_outside=outside,
    )


def _total_window(schedule: Mapping[str, Any], where: str) -> tuple[str, str]:
    start = _instant(schedule.get("StartTime"), f"{where}.StartTime")
    end = _instant(schedule.get("EndTime"), f"{where}.EndTime")
    if start is None or end is None or end <= start:
        return DEFAULT_TOTAL_WINDOW, (
            f"There is no {where}.StartTime and EndTime to bound it: counted over "
            f"{DEFAULT_TOTAL_WINDOW}; lengthen `per` if it runs longer."
        )
    days = max(1, math.ceil((end - start) / dt.timedelta(days=1)))
    return f"{days}d", (
        f"Counted over the schedule, {plural(days, 'day')} from StartTime to EndTime."
    )


def _throughput(policy: _Policy, limits: Mapping[str, Any], where: str) -> None:
    mps = _count(limits, "MessagesPerSecond", where)
    if mps:
        policy.comment(
            f"\n{where}.MessagesPerSecond = {mps}: a throughput setting, not a consent rule,\n"
            "so not in this file. Give it to smspolicy.throughput.SenderThroughput(store,\n"
            f"{{ORIGINATION_IDENTITY: {mps}}}): each message gets its sender's next free slot,\n"
            "shared by every worker through the store, instead of a ThrottlingException.\n"
            "Keep it at or below the rate End User Messaging allows the identity."
        )


def _campaign_limits(
    policy: _Policy, limits: Mapping[str, Any], schedule: Mapping[str, Any], where: str, app: bool
) -> None:
    daily = _count(limits, "Daily", where)
    owner = "each campaign (the application's default)" if app else "the campaign"
    if daily:
        policy.rule(
            f"Pinpoint {where}.Daily = {daily}: at most {plural(daily, 'message')}"
            f" from {owner}\nto one endpoint in any 24 hours (rolling, as in Pinpoint). Counted"
            " per topic and\nnumber here: send each campaign with its own topic.",
            "frequency_cap",
            limit=daily,
            per="24h",
            scope="topic",
        )
    total = _count(limits, "Total", where)
    if total:
        per, why = (
            _total_window(schedule, "Schedule")
            if not app
            else (
                DEFAULT_TOTAL_WINDOW,
                f"An application default has no schedule: counted over {DEFAULT_TOTAL_WINDOW}.",
            )
        )
        policy.rule(
            f"Pinpoint {where}.Total = {total}: at most {plural(total, 'message')}"
            f" from {owner}\nto one endpoint over its whole run.\n{why}",
            "frequency_cap",
            limit=total,
            per=per,
            scope="topic",
        )
    session = _count(limits, "Session", where)
    if session:
        policy.comment(
            f"\n{where}.Session = {session}: a limit per in-app session; SMS has no sessions, "
            "so there is no equivalent."
        )
    duration = _count(limits, "MaximumDuration", where)
    if duration:
        policy.comment(
            f"\n{where}.MaximumDuration = {duration} s: Pinpoint stopped trying to deliver this\n"
            f"long after the scheduled start. Here it is per message: set\n"
            f"Message(not_after=scheduled start + {duration} s); a deferral past it is denied\n"
            "(message.stale)."
        )
    _throughput(policy, limits, where)


def _campaign(policy: _Policy, data: Mapping[str, Any], app: bool) -> None:
    limits = data.get("Limits") or {}
    schedule = data.get("Schedule") or {}
    if not isinstance(limits, Mapping) or not isinstance(schedule, Mapping):
        raise InvalidInputError("Limits and Schedule must be JSON objects")
    quiet = schedule.get("QuietTime") or data.get("QuietTime") or {}
    where = "Schedule.QuietTime" if schedule.get("QuietTime") else "QuietTime"
    if not isinstance(quiet, Mapping):
        raise InvalidInputError(f"{where} must be a JSON object")
    _quiet_time(policy, quiet, where, wait=False, waiting_key="a campaign never waits")
    _campaign_limits(policy, limits, schedule, "Limits", app)
    if schedule:
        local = schedule.get("IsLocalTime")
        zone = schedule.get("Timezone")
        policy.comment(
            f"\nSchedule (IsLocalTime = {json.dumps(local)}, Timezone = {json.dumps(zone)}):\n"
            "when to start sending stays your scheduler's job; the policy decides each\n"
            "message in the recipient's own zones whatever the schedule's zone, and a message\n"
            "sent early is deferred to the window, never sent in quiet time."
        )


def _journey(policy: _Policy, data: Mapping[str, Any]) -> None:
    limits = data.get("Limits") or {}
    quiet = data.get("QuietTime") or {}
    schedule = data.get("Schedule") or {}
    if not all(isinstance(x, Mapping) for x in (limits, quiet, schedule)):
        raise InvalidInputError("Limits, QuietTime and Schedule must be JSON objects")
    wait = data.get("WaitForQuietTime", False)
    if not isinstance(wait, bool):
        raise InvalidInputError(f"WaitForQuietTime must be true or false, got {wait!r}")
    _quiet_time(policy, quiet, "QuietTime", wait=wait, waiting_key="WaitForQuietTime is false")
    daily = _count(limits, "DailyCap", "Limits")
    if daily:
        policy.rule(
            f"Pinpoint Limits.DailyCap = {daily}: at most {plural(daily, 'message')} from the"
            " journey\nto one participant in any 24 hours.",
            "frequency_cap",
            limit=daily,
            per="24h",
            scope="topic",
        )
    total = _count(limits, "TotalCap", "Limits")
    if total:
        per, why = _total_window(schedule, "Schedule")
        policy.rule(
            f"Pinpoint Limits.TotalCap = {total}: at most {plural(total, 'message')} from the"
            f" journey\nto one participant over its course.\n{why}",
            "frequency_cap",
            limit=total,
            per=per,
            scope="topic",
        )
    frame = limits.get("TimeframeCap") or {}
    if not isinstance(frame, Mapping):
        raise InvalidInputError("Limits.TimeframeCap must be a JSON object")
    cap, days = (
        _count(frame, "Cap", "Limits.TimeframeCap"),
        _count(frame, "Days", "Limits.TimeframeCap"),
    )
    if cap and days:
        policy.rule(
            f"Pinpoint Limits.TimeframeCap: at most {plural(cap, 'message')} in "
            f"{plural(days, 'day')}.",
            "frequency_cap",
            limit=cap,
            per=f"{days}d",
            scope="topic",
        )
    interval = limits.get("EndpointReentryInterval")
    if interval is not None:
        window = _iso_duration(interval, "Limits.EndpointReentryInterval")
        policy.rule(
            f"Pinpoint Limits.EndpointReentryInterval = {interval}: a participant re-entered\n"
            "the journey only after this long. Here: the same message (content key) to the\n"
            "same person is denied within that window, which stops a re-entry from repeating\n"
            "what was already sent.",
            "dedupe",
            window=_duration_text(window),
        )
    reentry = _count(limits, "EndpointReentryCap", "Limits")
    if reentry is not None:
        policy.comment(
            f"\nLimits.EndpointReentryCap = {reentry}: how often a participant may enter the\n"
            "journey is a property of your journey code, not of a message: no equivalent rule\n"
            "(the caps above bound what any number of entries can send)."
        )
    _throughput(policy, limits, "Limits")


def convert_settings(data: Mapping[str, Any], *, topic: str | None = None) -> str:
    """The policy file (TOML text) equivalent to one campaign's, journey's or application's
    settings, with a comment on each behavioural difference."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"expected a JSON object, got {type(data).__name__}")
    kind, inner = _kind(data)
    name = inner.get("Name") if kind != "application" else None
    if topic is not None and (not isinstance(topic, str) or not topic.strip()):
        raise InvalidInputError(f"topic must be non-empty text, got {topic!r}")
    chosen = topic or (_slug(name) if isinstance(name, str) else None)
    policy = _Policy(None if kind == "application" else chosen)
    label = f"{kind} {json.dumps(name)}" if name else kind
    ident = inner.get("Id") or inner.get("ApplicationId")
    header = [
        f"# Converted from the Pinpoint {label}" + (f" ({ident})" if ident else ""),
        "# by `smspolicy pinpoint convert`.",
    ]
    if chosen and kind != "application":
        header.append(f'# Send its messages with topic = "{chosen}": the rules below apply to it.')
    else:
        header.append("# Application defaults: the rules below apply to every topic.")
    header += [
        "# Consent is required for every message (the ledger holds the imported opt-outs).",
        '# Recommended: jurisdictions = ["standard"] adds the legal windows, caps and content',
        "# rules of each recipient's jurisdictions, which Pinpoint never applied.",
        f"name = {_string(chosen or 'pinpoint-application')}",
    ]
    if kind == "journey":
        _journey(policy, inner)
    else:
        _campaign(policy, inner, app=kind == "application")
    return "\n".join(header + policy.parts) + "\n"


def convert_file(path: str | os.PathLike[str], *, topic: str | None = None) -> str:
    """:func:`convert_settings` of a JSON file; a file that cannot be read or parsed raises
    :class:`smspolicy.errors.InvalidInputError` naming it."""
    name = os.fsdecode(path)
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8-sig"))
    except OSError as error:
        raise InvalidInputError(f"cannot read {name}: {error.strerror}") from None
    except (ValueError, RecursionError) as error:
        raise InvalidInputError(f"{name}: not JSON: {error}") from None
    try:
        return convert_settings(data, topic=topic)
    except InvalidInputError as error:
        raise InvalidInputError(f"{name}: {error}") from None
