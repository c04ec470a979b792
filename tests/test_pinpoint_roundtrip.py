"""The Pinpoint example end to end: import the export, convert the campaign, preflight."""

from __future__ import annotations

import collections
import csv
import json
import re
import runpy
from pathlib import Path

import pytest

from smspolicy.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "pinpoint"
AT = "2026-12-01T14:30:00Z"
IMPORTED_AT = "2026-12-01T00:00:00Z"


def test_example_files_match_their_generator(tmp_path: Path) -> None:
    """The committed export, recipients and expected decisions are what generate.py writes."""
    module = runpy.run_path(str(EXAMPLES / "generate.py"))
    module["write"](tmp_path)
    for name in ("endpoints.ndjson", "recipients.csv", "expected.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


def test_the_export_has_the_documented_shapes() -> None:
    """A few hundred endpoints: US, Canada and UK, split area codes, with and without zones
    and opt-outs, and email and push endpoints."""
    items = [json.loads(x) for x in (EXAMPLES / "endpoints.ndjson").read_text("utf-8").splitlines()]
    sms = [i for i in items if i["ChannelType"] == "SMS"]
    assert len(sms) >= 300
    assert {i["Location"]["Country"] for i in sms} == {"US", "CA", "GB"}
    assert any(i["Address"].startswith("+1850") for i in sms)
    assert any("Timezone" in i["Demographic"] for i in sms)
    assert any("Timezone" not in i["Demographic"] for i in sms)
    assert any(i["OptOut"] == "ALL" for i in sms)
    assert {i["ChannelType"] for i in items} == {"SMS", "EMAIL", "APNS"}


def test_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Import, convert and preflight give the decisions in expected.csv, row for row."""
    db, policy, out = tmp_path / "p.sqlite3", tmp_path / "policy.toml", tmp_path / "out.csv"
    export = str(EXAMPLES / "endpoints.ndjson")
    assert main(["pinpoint", "convert", str(EXAMPLES / "campaign.json"), "--out", str(policy)]) == 0
    imported = ["pinpoint", "import-endpoints", export, "--db", str(db), "--quiet"]
    assert main([*imported, "--grant", "express", "--at", IMPORTED_AT]) == 0
    first = capsys.readouterr().out
    assert main([*imported, "--grant", "express", "--at", IMPORTED_AT]) == 0  # idempotent
    second = capsys.readouterr().out
    items = [json.loads(line) for line in Path(export).read_text("utf-8").splitlines()]
    # email and push opt-outs are recorded too; the recipients to decide are the SMS ones
    every = sum(1 for i in items if i["OptOut"] == "ALL")
    opted_out = sum(1 for i in items if i["ChannelType"] == "SMS" and i["OptOut"] == "ALL")
    assert every > opted_out
    assert re.search(rf"opt-outs recorded +{every}  \(already present: 0\)", first)
    assert re.search(rf"opt-outs recorded +0  \(already present: {every}\)", second)
    recipients = str(EXAMPLES / "recipients.csv")
    args = ["preflight", recipients, "--policy", str(policy), "--db", str(db), "--at", AT]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    expected = {
        r["number"]: r["verdict"]
        for r in csv.DictReader((EXAMPLES / "expected.csv").read_text("utf-8").splitlines())
    }
    got = {r["number"]: r for r in csv.DictReader(out.read_text("utf-8").splitlines())}
    assert {n: r["verdict"] for n, r in got.items()} == expected
    assert collections.Counter(expected.values()) == collections.Counter(
        r["verdict"] for r in got.values()
    )
    revoked = sum(1 for r in got.values() if "consent.revoked" in r["reasons"].split(";"))
    assert revoked == opted_out
    assert "allow" in expected.values()
    assert "deny" in expected.values()
