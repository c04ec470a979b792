"""Build the example Pinpoint endpoint export, its recipients list and the expected decisions.

    python examples/pinpoint/generate.py [FOLDER]

The export follows the shape of Pinpoint's export job (one endpoint per line, as GetEndpoint
returns it). The expected decisions are worked out here from the geography of each area code
(a table written by hand below) and pytz's time-zone database (the one smspolicy reads, so
both agree on rule changes such as Alberta's), not from smspolicy: the round-trip test
compares smspolicy's preflight against them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sys
from pathlib import Path

import pytz

AT = dt.datetime(2026, 12, 1, 14, 30, tzinfo=dt.UTC)
"""The instant of the round trip's preflight (a Tuesday)."""
OPENS, CLOSES = dt.time(8, 1), dt.time(21, 0)
"""The example campaign's quiet time 21:00-08:00, both ends inclusive in Pinpoint."""
TOPIC = "winter-sale"

# Area code -> (country, region as Pinpoint writes it, the zones its numbers may be in).
AREAS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "+1212": ("US", "New York", ("America/New_York",)),
    "+1617": ("US", "MA", ("America/New_York",)),
    "+1305": ("US", "Florida", ("America/New_York",)),
    "+1312": ("US", "Illinois", ("America/Chicago",)),
    "+1512": ("US", "TX", ("America/Chicago",)),
    "+1303": ("US", "Colorado", ("America/Denver",)),
    "+1915": ("US", "Texas", ("America/Denver",)),  # El Paso keeps Mountain time
    "+1602": ("US", "Arizona", ("America/Phoenix",)),
    "+1213": ("US", "California", ("America/Los_Angeles",)),
    "+1206": ("US", "WA", ("America/Los_Angeles",)),
    "+1808": ("US", "Hawaii", ("Pacific/Honolulu",)),
    # Split area codes: their numbers span time zones.
    "+1850": ("US", "Florida", ("America/Chicago", "America/New_York")),  # the Panhandle
    "+1208": ("US", "Idaho", ("America/Boise", "America/Denver", "America/Los_Angeles")),
    "+1605": (
        "US",
        "South Dakota",
        ("America/Chicago", "America/Denver", "America/North_Dakota/Center"),
    ),
    "+1907": (
        "US",
        "Alaska",
        ("America/Adak", "America/Anchorage", "America/Juneau", "Pacific/Honolulu"),
    ),
    "+1416": ("CA", "ON", ("America/Toronto",)),
    "+1514": ("CA", "Quebec", ("America/Toronto",)),
    "+1604": ("CA", "BC", ("America/Vancouver",)),
    "+1403": ("CA", "Alberta", ("America/Edmonton",)),
    "+1902": ("CA", "NS", ("America/Halifax",)),
    "+1709": ("CA", "NL", ("America/Halifax", "America/St_Johns")),
    "+4420": ("GB", "England", ("Europe/London",)),
}
LOCALES = {"US": "en_US", "CA": "en_CA", "GB": "en_GB"}
PER_AREA = 14


def _number(area: str, index: int) -> str:
    if area == "+4420":
        return f"+44207946{index:04d}"  # Ofcom's drama range for London
    return f"{area}5550{index + 100:03d}"


def build(
    rng: random.Random,
) -> tuple[list[dict[str, object]], list[tuple[str, str]]]:
    """The endpoints, and (number, expected verdict) for each SMS address."""
    endpoints: list[dict[str, object]] = []
    expected: list[tuple[str, str]] = []
    serial = 0
    for area, (country, region, zones) in AREAS.items():
        for index in range(PER_AREA):
            serial += 1
            number = _number(area, index)
            opted_out = serial % 7 == 0
            inactive = not opted_out and serial % 11 == 0
            known = rng.random() < 0.6
            zone = zones[0] if known else None
            if known and serial % 13 == 0:
                zone = "America/Los_Angeles"  # a subscriber who moved away
            item: dict[str, object] = {
                "ApplicationId": "7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c",
                "Id": f"ep-{serial:04d}",
                "Address": number,
                "ChannelType": "SMS",
                "EndpointStatus": "INACTIVE" if inactive else "ACTIVE",
                "OptOut": "ALL" if opted_out else "NONE",
                "EffectiveDate": f"2026-0{1 + serial % 9}-1{serial % 10}T12:00:00.000Z",
                "CohortId": str(serial % 100),
                "CreationDate": "2025-06-01T00:00:00.000Z",
                "Location": {"Country": country, "Region": region},
                "Demographic": {"Platform": "sms"},
                "User": {"UserId": f"user-{serial:04d}"} if serial % 3 else {},
                "Attributes": {"Tier": [rng.choice(["gold", "silver"])]},
                "Metrics": {},
            }
            demographic = item["Demographic"]
            assert isinstance(demographic, dict)
            if zone is not None:
                demographic["Timezone"] = zone
            if rng.random() < 0.7:
                demographic["Locale"] = "fr_CA" if area == "+1514" else LOCALES[country]
            if country != "GB" and rng.random() < 0.5:
                location = item["Location"]
                assert isinstance(location, dict)
                location["PostalCode"] = f"{rng.randrange(10000, 99999)}"
            endpoints.append(item)
            expected.append((number, _expected(opted_out, inactive, zones, zone)))
    for n in range(8):  # channels that are not imported
        endpoints.append(
            {
                "Id": f"email-{n}",
                "Address": f"person{n}@example.com",
                "ChannelType": "EMAIL",
                "EndpointStatus": "ACTIVE",
                "OptOut": "ALL" if n % 2 else "NONE",
            }
        )
        endpoints.append(
            {
                "Id": f"push-{n}",
                "Address": f"token{n:040d}",
                "ChannelType": "APNS",
                "OptOut": "NONE",
            }
        )
    rng.shuffle(endpoints)
    return endpoints, expected


def _expected(opted_out: bool, inactive: bool, zones: tuple[str, ...], zone: str | None) -> str:
    """The verdict at AT: no consent (opted out, or inactive so never granted) denies; else
    the campaign's window must hold in every candidate zone (a message in quiet time is
    dropped, as Pinpoint's campaigns did)."""
    if opted_out or inactive:
        return "deny"
    candidates = set(zones) | ({zone} if zone else set())
    inside = all(OPENS <= AT.astimezone(pytz.timezone(z)).time() < CLOSES for z in candidates)
    return "allow" if inside else "deny"


def write(folder: Path) -> None:
    endpoints, expected = build(random.Random(26))
    with open(folder / "endpoints.ndjson", "w", encoding="utf-8", newline="\n") as out:
        for item in endpoints:
            out.write(json.dumps(item, separators=(",", ":")) + "\n")
    with open(folder / "recipients.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["number", "topic", "purpose"])
        for number, _ in expected:
            writer.writerow([number, TOPIC, "marketing"])
    with open(folder / "expected.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["number", "verdict"])
        writer.writerows(expected)


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
