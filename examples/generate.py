"""Regenerate the example recipients.csv and consents.csv (deterministic).

Run: python examples/generate.py
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

import phonenumbers

HERE = Path(__file__).parent
SEED = 20261127
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)

# NANP fixture numbers: 555-0100 to 555-0199 in area codes across states and provinces.
NANP = ["212", "718", "305", "407", "813", "850", "214", "512", "310", "415", "203", "405",
        "410", "206", "504", "205", "928", "208", "605", "416", "604", "514"]  # fmt: skip
BODY = "Acme: 20% off this weekend. Reply STOP to opt out."
ALERT = "Acme: your order has shipped."
DISCLOSURE = (
    "By replying YES you agree to receive recurring automated marketing texts from Acme at this "
    "number. Consent is not a condition of purchase. Msg & data rates may apply. Reply STOP to "
    "cancel."
)


def international(rng: random.Random, prefix: str, digits: int, count: int) -> list[str]:
    numbers: set[str] = set()
    while len(numbers) < count:
        candidate = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            numbers.add(candidate)
    return sorted(numbers)


def main() -> None:
    rng = random.Random(SEED)
    numbers = [f"+1{area}55501{n:02d}" for area in NANP for n in range(100)]
    numbers += international(rng, "+4474", 8, 300)  # UK mobiles
    numbers += international(rng, "+8190", 8, 300)  # Japanese mobiles
    numbers += international(rng, "+614", 8, 300)  # Australian mobiles
    with (HERE / "recipients.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["number", "topic", "purpose", "brand", "body", "timezone", "state"])
        for number in numbers:
            transactional = rng.random() < 0.2
            timezone = "America/Los_Angeles" if rng.random() < 0.02 else ""
            state = "FL" if number.startswith("+1212") and rng.random() < 0.05 else ""
            writer.writerow([number, "alerts" if transactional else "deals",
                             "transactional" if transactional else "marketing", "Acme",
                             ALERT if transactional else BODY, timezone, state])  # fmt: skip
    with (HERE / "consents.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["number", "kind", "at", "topic", "purpose", "basis", "source",
                         "evidence"])  # fmt: skip
        for number in numbers:
            roll = rng.random()
            signed_up = NOW - dt.timedelta(days=rng.randrange(1, 900), minutes=rng.randrange(1440))
            evidence = json.dumps({"ip": f"203.0.113.{rng.randrange(1, 255)}", "form": "v3"})
            rows = []
            if roll < 0.70:
                rows.append(["requested", signed_up, "deals", "marketing", "", "web:signup",
                             evidence])  # fmt: skip
                # The YES to a request that showed the disclosure: written consent (TCPA).
                written = {"signature": "sms-reply:yes", "disclosure": DISCLOSURE,
                           "number": number}  # fmt: skip
                rows.append(["confirmed", signed_up + dt.timedelta(minutes=2), "deals",
                             "marketing", "express", "keyword:yes",
                             json.dumps({"written_consent": written})])  # fmt: skip
                if rng.random() < 0.08:
                    rows.append(["revoked", signed_up + dt.timedelta(days=rng.randrange(1, 60)),
                                 "", "", "", "keyword:stop", "{}"])  # fmt: skip
            elif roll < 0.80:
                rows.append(["implied", signed_up, "", "marketing", "purchase", "pos:checkout",
                             evidence])  # fmt: skip
            elif roll < 0.85:
                rows.append(["requested", NOW - dt.timedelta(days=2), "deals", "marketing", "",
                             "web:signup", evidence])  # fmt: skip
            rows.append(["confirmed", signed_up, "alerts", "transactional", "express",
                         "checkout:terms", "{}"])  # fmt: skip
            for kind, at, topic, purpose, basis, source, ev in rows:
                writer.writerow([number, kind, at.isoformat(), topic, purpose, basis, source, ev])


if __name__ == "__main__":
    main()
