"""The bundled example campaign (examples/recipients.csv and consents.csv, made by
examples/generate.py) scaled to any number of distinct recipients, deterministically.

Row ``i`` takes the place of the example's row ``i % 3100``: the same country or US/Canadian area
code (22 area codes, the UK, Japan and Australia in the example's shares), with its own number;
the rows' topic, purpose, time zone and state and the consent each number has on record are
drawn with the example's probabilities (70% written consent to marketing, 8% of it revoked
later; 10% implied; 5% a request not confirmed; every number consents to alerts).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import phonenumbers

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example() -> ModuleType:
    """examples/generate.py, for its area codes, texts and instant."""
    spec = importlib.util.spec_from_file_location("example_generate", EXAMPLES / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = _example()
SEED = 20261130
ABROAD = (("+4474", 8), ("+8190", 8), ("+614", 8))  # UK, Japanese and Australian mobiles
PER_AREA, PER_COUNTRY = 100, 300  # the example's rows per area code and per country abroad


def _slots() -> list[str]:
    """The example's 3,100 rows as the prefix each number starts with, in a shuffled order so
    that any first part of a scaled list has the example's country mix."""
    slots = [f"+1{area}" for area in EXAMPLE.NANP for _ in range(PER_AREA)]
    slots += [prefix for prefix, _ in ABROAD for _ in range(PER_COUNTRY)]
    random.Random(SEED).shuffle(slots)
    return slots


def _nanp(area: str) -> Iterator[str]:
    """Valid numbers in one area code, in order of exchange and line."""
    for exchange, line in itertools.product(range(200, 1000), range(10000)):
        text = f"+1{area}{exchange}{line:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(text)):
            yield text


def _abroad(prefix: str, digits: int, rng: random.Random) -> Iterator[str]:
    """Distinct valid numbers starting with ``prefix``, drawn at random."""
    seen: set[str] = set()
    while True:
        text = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        if text not in seen and phonenumbers.is_valid_number(phonenumbers.parse(text)):
            seen.add(text)
            yield text


def campaign_numbers(count: int) -> list[str]:
    """``count`` distinct numbers in the example campaign's country mix."""
    rng = random.Random(SEED)
    sources: dict[str, Iterator[str]] = {f"+1{area}": _nanp(area) for area in EXAMPLE.NANP}
    sources.update((prefix, _abroad(prefix, digits, rng)) for prefix, digits in ABROAD)
    slots = _slots()
    return [next(sources[slots[i % len(slots)]]) for i in range(count)]


def write_campaign(numbers: list[str], recipients: Path, consents: Path) -> None:
    """Write the recipients and consents CSVs of the example campaign for ``numbers``."""
    rng = random.Random(SEED)
    now = EXAMPLE.NOW
    with recipients.open("w", newline="") as rows, consents.open("w", newline="") as ledger:
        out = csv.writer(rows, lineterminator="\n")
        out.writerow(["number", "topic", "purpose", "brand", "body", "timezone", "state"])
        events = csv.writer(ledger, lineterminator="\n")
        events.writerow(["number", "kind", "at", "topic", "purpose", "basis", "source", "evidence"])
        for number in numbers:
            alerts = rng.random() < 0.2
            timezone = "America/Los_Angeles" if rng.random() < 0.02 else ""
            state = "FL" if number.startswith("+1212") and rng.random() < 0.05 else ""
            out.writerow(
                [
                    number,
                    "alerts" if alerts else "deals",
                    "transactional" if alerts else "marketing",
                    "Acme",
                    EXAMPLE.ALERT if alerts else EXAMPLE.BODY,
                    timezone,
                    state,
                ]
            )
            roll = rng.random()
            signed_up = now - dt.timedelta(days=rng.randrange(1, 900), minutes=rng.randrange(1440))
            evidence = json.dumps({"ip": f"203.0.113.{rng.randrange(1, 255)}", "form": "v3"})
            history: list[list[object]] = []
            if roll < 0.70:
                history.append(
                    ["requested", signed_up, "deals", "marketing", "", "web:signup", evidence]
                )
                written = {
                    "signature": "sms-reply:yes",
                    "disclosure": EXAMPLE.DISCLOSURE,
                    "number": number,
                }
                history.append(
                    [
                        "confirmed",
                        signed_up + dt.timedelta(minutes=2),
                        "deals",
                        "marketing",
                        "express",
                        "keyword:yes",
                        json.dumps({"written_consent": written}),
                    ]
                )
                if rng.random() < 0.08:
                    revoked = signed_up + dt.timedelta(days=rng.randrange(1, 60))
                    history.append(["revoked", revoked, "", "", "", "keyword:stop", "{}"])
            elif roll < 0.80:
                history.append(
                    ["implied", signed_up, "", "marketing", "purchase", "pos:checkout", evidence]
                )
            elif roll < 0.85:
                history.append(
                    [
                        "requested",
                        now - dt.timedelta(days=2),
                        "deals",
                        "marketing",
                        "",
                        "web:signup",
                        evidence,
                    ]
                )
            alerts_consent = ["alerts", "transactional", "express", "checkout:terms", "{}"]
            history.append(["confirmed", signed_up, *alerts_consent])
            for kind, at, *rest in history:
                assert isinstance(at, dt.datetime)
                events.writerow([number, kind, at.isoformat(), *rest])
