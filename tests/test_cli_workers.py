"""``smspolicy preflight --workers N``: the same decisions, in the same order, from N processes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from .test_cli import AT, EXAMPLES, run


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite store with the example consents imported."""
    path = str(tmp_path / "demo.sqlite3")
    run("consent", "import", str(EXAMPLES / "consents.csv"), "--db", path)
    return path


def _preflight(db: str, out: Path, *more: str) -> str:
    return run(
        "preflight",
        str(EXAMPLES / "recipients.csv"),
        "--policy",
        str(EXAMPLES / "policy.toml"),
        "--db",
        db,
        "--at",
        AT,
        "--out",
        str(out),
        "--quiet",
        *more,
    ).stdout


def test_workers_give_byte_identical_decisions(db: str, tmp_path: Path) -> None:
    """The example list decided by 1, 2 and 3 processes gives the same file, byte for byte
    (so also sorted), in the list's order, and the same summary."""
    outputs, summaries = {}, {}
    for workers in (1, 2, 3):
        out = tmp_path / f"w{workers}.csv"
        summaries[workers] = _preflight(db, out, "--workers", str(workers)).replace(str(out), "")
        outputs[workers] = out.read_bytes()
    assert outputs[2] == outputs[1]
    assert outputs[3] == outputs[1]
    assert sorted(outputs[3].splitlines()) == sorted(outputs[1].splitlines())
    assert summaries[2] == summaries[1] == summaries[3]
    rows = list(csv.DictReader(outputs[2].decode().splitlines()))
    recipients = list(csv.DictReader((EXAMPLES / "recipients.csv").read_text().splitlines()))
    assert len(rows) == len(recipients) == 3100
    assert [int(r["line"]) for r in rows] == sorted(int(r["line"]) for r in rows)
    assert rows[0]["line"] == "2"  # the first record, after the header
    assert {r["verdict"] for r in rows} == {"allow", "defer", "deny"}


def test_workers_write_json_the_same(db: str, tmp_path: Path) -> None:
    """JSON output from 2 processes equals the single process's."""
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    _preflight(db, one, "--format", "json")
    _preflight(db, two, "--format", "json", "--workers", "2")
    assert json.loads(two.read_text()) == json.loads(one.read_text())
    assert two.read_bytes() == one.read_bytes()


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_workers_must_be_a_positive_count(value: str, tmp_path: Path) -> None:
    """--workers takes a whole number of at least 1."""
    done = run("preflight", str(EXAMPLES / "recipients.csv"), "--workers", value, check=False)
    assert done.returncode == 2
    assert "--workers" in done.stderr


def test_workers_report_a_bad_policy_once(tmp_path: Path) -> None:
    """A policy file that cannot be read is one clear error, before any worker starts."""
    done = run(
        "preflight",
        str(EXAMPLES / "recipients.csv"),
        "--policy",
        str(tmp_path / "missing.toml"),
        "--db",
        str(tmp_path / "x.sqlite3"),
        "--workers",
        "2",
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("smspolicy: error:") == 1
    assert "missing.toml" in done.stderr
