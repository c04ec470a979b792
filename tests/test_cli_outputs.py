"""What the command line prints for scripts and people: versions, exit statuses, typed JSON,
CSV for spreadsheets, summaries, progress and whole-file checks of consent imports, run as a
user runs them."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import smspolicy
from smspolicy.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("smspolicy")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "smspolicy.cli"]
# 13:30 UTC: 08:30 in New York (inside 08:00-21:00), 05:30 in Los Angeles (outside).
AT = "2026-11-27T13:30:00Z"
NEW_YORK, LOS_ANGELES, NO_CONSENT = "+12125550100", "+12135550100", "+12125550199"
# Signed agreements (written consent), as US marketing requires (47 CFR 64.1200(f)(9)).
CONSENTS = (
    "number,kind,at,topic,purpose,source,signature,disclosure\n"
    f"{NEW_YORK},confirmed,2026-01-01T00:00Z,deals,marketing,web,e-sign:1,Deals by text\n"
    f"{LOS_ANGELES},confirmed,2026-01-01T00:00Z,deals,marketing,web,e-sign:2,Deals by text\n"
)


def smspolicy_run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script, as a user runs it."""
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        cwd=cwd,
        env={**os.environ, "SMSPOLICY_DB": "", **(env or {})},
        check=False,
    )


def recipients(folder: Path, name: str, *numbers: str) -> str:
    """A recipients file of marketing texts on the topic deals to ``numbers``."""
    path = folder / name
    path.write_text("number,topic,purpose\n" + "".join(f"{n},deals,marketing\n" for n in numbers))
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a store holding marketing consent for the New York and Los Angeles
    numbers, and recipient lists."""
    path = tmp_path_factory.mktemp("outputs")
    (path / "consents.csv").write_text(CONSENTS)
    done = smspolicy_run("consent", "import", str(path / "consents.csv"), "--db", db(path))
    assert done.stdout == "2 consent events imported, 0 already present\n", done.stderr
    recipients(path, "all.csv", NEW_YORK, LOS_ANGELES, NO_CONSENT)
    recipients(path, "no-deny.csv", NEW_YORK, LOS_ANGELES)
    recipients(path, "allowed.csv", NEW_YORK)
    return path


def db(folder: Path) -> str:
    return str(folder / "store.sqlite3")


# --- version and help ----------------------------------------------------------------------


def test_version_comes_from_the_package_metadata() -> None:
    """`smspolicy --version` and `smspolicy.__version__` are the installed distribution's."""
    installed = importlib.metadata.version("smspolicy")
    assert smspolicy.__version__ == installed
    done = smspolicy_run("--version")
    assert (done.returncode, done.stdout) == (0, f"smspolicy {installed}\n")


def _options(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _options(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((f"{path} {'/'.join(action.option_strings) or action.dest}", action))
    return found


def test_every_option_and_argument_has_help_text() -> None:
    """Every option and positional argument of every command explains itself in --help."""
    options = _options(_parser(), "smspolicy")
    assert len(options) > 40
    missing = [name for name, action in options if not (action.help or "").strip()]
    assert missing == []


def test_help_lists_the_exit_statuses() -> None:
    """`smspolicy --help` documents the exit statuses scripts branch on."""
    out = smspolicy_run("--help").stdout
    for status, meaning in [("0", "success"), ("2", "bad input"), ("3", "check: deferred")]:
        assert re.search(rf"^\s+{status}\s+{meaning}", out, re.M), out
    assert re.search(r"^\s+4\s+check: denied; preflight --fail-on deny\|defer", out, re.M)


# --- exit statuses -------------------------------------------------------------------------


CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["number", "verdict", "until_utc", "until_local", "zone", "reasons", "explanation"],
    "additionalProperties": False,
    "properties": {
        "number": {"type": "string"},
        "verdict": {"enum": ["allow", "defer", "deny"]},
        "until_utc": {"type": ["string", "null"], "format": "date-time"},
        "until_local": {"type": ["string", "null"], "format": "date-time"},
        "zone": {"type": ["string", "null"]},
        "explanation": {"type": "string"},
        "reasons": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "rule", "citation", "text"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "pattern": r"^[a-z_]+(\.[a-z0-9_]+)+$"},
                    "rule": {"type": "string"},
                    "citation": {"type": ["string", "null"]},
                    "text": {"type": "string"},
                },
            },
        },
    },
}
DATE_TIME = jsonschema.FormatChecker(formats=())


@DATE_TIME.checks("date-time", raises=ValueError)
def _aware_iso_instant(value: object) -> bool:
    """An ISO 8601 instant with its offset (the format every instant in the output has)."""
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


def validate(value: object, schema: dict[str, Any]) -> None:
    jsonschema.validate(value, schema, format_checker=DATE_TIME)


@pytest.mark.parametrize(
    ("number", "status", "verdict", "until", "codes"),
    [
        (NEW_YORK, 0, "allow", None, []),
        (
            LOS_ANGELES,
            3,
            "defer",
            "2026-11-27T16:00:00+00:00",
            ["hours.outside_window", "jurisdiction.us.tcpa.window"],
        ),
        (
            NO_CONSENT,
            4,
            "deny",
            None,
            # The consent rule, the US written-consent standard and the FCC's revocation rule.
            ["consent.missing", "jurisdiction.us.tcpa.written_consent", "consent.missing"],
        ),
    ],
    ids=["allow-0", "defer-3", "deny-4"],
)
def test_check_exit_status_says_the_verdict(
    folder: Path, number: str, status: int, verdict: str, until: str | None, codes: list[str]
) -> None:
    """check exits 0 for ALLOW, 3 for DEFER and 4 for DENY, and --format json prints the typed
    decision."""
    args = ["check", number, "--topic", "deals", "--purpose", "marketing", "--db", db(folder)]
    done = smspolicy_run(*args, "--at", AT, "--format", "json")
    assert done.returncode == status, done.stderr
    decision = json.loads(done.stdout)
    validate(decision, CHECK_SCHEMA)
    assert (decision["verdict"], decision["until_utc"]) == (verdict, until)
    assert [r["code"] for r in decision["reasons"]] == codes
    table = smspolicy_run(*args, "--at", AT)
    assert table.returncode == status
    assert table.stdout.startswith(verdict.upper() + ": ")


@pytest.mark.parametrize(
    ("listing", "fail_on", "status"),
    [
        ("all.csv", None, 0),
        ("all.csv", "deny", 4),
        ("all.csv", "defer", 4),
        ("no-deny.csv", "deny", 0),
        ("no-deny.csv", "defer", 3),
        ("allowed.csv", "defer", 0),
    ],
)
def test_preflight_fail_on(folder: Path, listing: str, fail_on: str | None, status: int) -> None:
    """preflight exits 0 unless --fail-on names a verdict some row got: 4 for a denial, 3 for a
    deferral (with --fail-on defer) when no row was denied."""
    args = ["preflight", str(folder / listing), "--db", db(folder), "--at", AT]
    done = smspolicy_run(*args, *(["--fail-on", fail_on] if fail_on else []))
    assert done.returncode == status, done.stderr
    assert "recipient" in done.stdout


# --- typed JSON ----------------------------------------------------------------------------


PREFLIGHT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        **CHECK_SCHEMA,
        "required": ["line", "topic", "purpose", *CHECK_SCHEMA["required"]],
        "properties": {
            **CHECK_SCHEMA["properties"],
            "line": {"type": "integer", "minimum": 2},
            "topic": {"type": "string"},
            "purpose": {"type": "string"},
        },
    },
}


def test_preflight_json_is_typed(folder: Path) -> None:
    """preflight --format json writes integer lines, null for what is absent, ISO instants and
    reasons as objects with code, rule, citation and text."""
    done = smspolicy_run(
        "preflight",
        str(folder / "all.csv"),
        "--db",
        db(folder),
        "--at",
        AT,
        "--format",
        "json",
        "--show-numbers",
    )
    records = json.loads(done.stdout)
    validate(records, PREFLIGHT_SCHEMA)
    assert [(r["line"], r["number"], r["verdict"]) for r in records] == [
        (2, NEW_YORK, "allow"),
        (3, LOS_ANGELES, "defer"),
        (4, NO_CONSENT, "deny"),
    ]
    allowed, deferred, denied = records
    assert (allowed["until_utc"], allowed["until_local"], allowed["reasons"]) == (None, None, [])
    assert deferred["until_utc"] == "2026-11-27T16:00:00+00:00"
    assert deferred["until_local"] == "2026-11-27T08:00:00-08:00"
    assert deferred["zone"] == "America/Los_Angeles"
    assert deferred["reasons"][1] == {
        "code": "jurisdiction.us.tcpa.window",
        "rule": "us.tcpa.window",
        "citation": "47 CFR 64.1200(c)(1)",
        "text": "it is Fri 05:30 PST in America/Los_Angeles, outside the sending window "
        "(08:00-21:00)",
    }
    assert (denied["until_utc"], denied["until_local"]) == (None, None)
    # The summary goes to standard error, so standard output is only the JSON.
    assert "3 recipients" in done.stderr


def test_preflight_json_of_an_empty_list_is_an_empty_array(folder: Path) -> None:
    """A list with no rows is the empty JSON array."""
    done = smspolicy_run(
        "preflight", recipients(folder, "empty.csv"), "--db", db(folder), "--format", "json"
    )
    assert json.loads(done.stdout) == []
    assert "0 recipients" in done.stderr


def test_preflight_csv_cells(folder: Path, tmp_path: Path) -> None:
    """CSV keeps one cell per field: empty for null, the reason codes joined by ';'."""
    out = tmp_path / "decisions.csv"
    smspolicy_run(
        "preflight", str(folder / "all.csv"), "--db", db(folder), "--at", AT, "--out", str(out)
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["line"], r["until_utc"], r["reasons"]) for r in rows] == [
        ("2", "", ""),
        ("3", "2026-11-27T16:00:00+00:00", "hours.outside_window;jurisdiction.us.tcpa.window"),
        ("4", "", "consent.missing;jurisdiction.us.tcpa.written_consent;consent.missing"),
    ]


def test_excel_csv_has_a_bom_crlf_and_plain_spaces(folder: Path, tmp_path: Path) -> None:
    """--excel writes a UTF-8 byte-order mark, CRLF line ends, and times with plain spaces;
    without it the file has none of these."""
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    args = ["preflight", str(folder / "all.csv"), "--db", db(folder), "--at", AT]
    smspolicy_run(*args, "--out", str(plain))
    smspolicy_run(*args, "--out", str(excel), "--excel")
    data = excel.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfline,number,")
    assert data.count(b"\r\n") == 4
    assert b"8:00 AM PST" in data
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" not in plain.read_bytes()
    for text in (data.decode("utf-8-sig"), plain.read_text(encoding="utf-8")):
        assert "\u202f" not in text
        assert "\u00a0" not in text


# --- regions -------------------------------------------------------------------------------


def test_region_reads_national_numbers(folder: Path) -> None:
    """--region US reads (212) 555-0100 as +12125550100; without it the number is invalid;
    an unknown region is bad input."""
    args = ["check", "(212) 555-0100", "--topic", "deals", "--purpose", "marketing"]
    args += ["--db", db(folder), "--at", AT]
    assert smspolicy_run(*args, "--region", "us").returncode == 0
    without = smspolicy_run(*args)
    assert without.returncode == 4
    assert "number.invalid" in without.stdout
    bad = smspolicy_run(*args, "--region", "XX")
    assert bad.returncode == 2
    assert bad.stderr == (
        "smspolicy: error: --region 'XX' is not a region code (e.g. US, GB, FR)\n"
    )


# --- summaries -----------------------------------------------------------------------------


def test_summary_is_aligned_and_counts_in_words(folder: Path) -> None:
    """The summary says "1 recipient" and aligns every count on the longest reason code."""
    one = smspolicy_run("preflight", str(folder / "allowed.csv"), "--db", db(folder), "--at", AT)
    assert "\n1 recipient\n" in one.stdout
    done = smspolicy_run("preflight", str(folder / "all.csv"), "--db", db(folder), "--at", AT)
    summary = done.stdout.split("\n3 recipients\n", 1)[1]
    verdicts, reasons = summary.split("by reason:\n")
    assert verdicts.splitlines() == [
        "  allow  1   33.3%",
        "  defer  1   33.3%",
        "  deny   1   33.3%",
    ]
    assert reasons.splitlines() == [
        "  hours.outside_window                  1",
        "  jurisdiction.us.tcpa.window           1",
        "  consent.missing                       1",
        "  jurisdiction.us.tcpa.written_consent  1",
    ]


# --- audit ---------------------------------------------------------------------------------


AUDIT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["list", "number", "topic", "brand", "since", "text"],
        "additionalProperties": False,
        "properties": {
            "list": {"enum": ["reminder", "unengaged"]},
            "number": {"type": "string"},
            "topic": {"type": "string"},
            "brand": {"type": ["string", "null"]},
            "since": {"type": "string", "format": "date-time"},
            "text": {"type": "string"},
        },
    },
}


def test_audit_json_csv_and_summary(folder: Path, tmp_path: Path) -> None:
    """audit --format json lists each subscriber found with an ISO instant; --out writes CSV and
    the counts go to the screen with correct plurals."""
    args = ["audit", "--db", db(folder), "--policy", str(ROOT / "examples" / "policy.toml")]
    args += ["--at", AT, "--show-numbers"]
    done = smspolicy_run(*args, "--format", "json", "--unengaged-after", "300d")
    items = json.loads(done.stdout)
    validate(items, AUDIT_SCHEMA)
    assert [(i["list"], i["number"], i["since"]) for i in items] == [
        ("reminder", NEW_YORK, "2026-01-01T00:00:00+00:00"),
        ("reminder", LOS_ANGELES, "2026-01-01T00:00:00+00:00"),
        ("unengaged", NEW_YORK, "2026-01-01T00:00:00+00:00"),
        ("unengaged", LOS_ANGELES, "2026-01-01T00:00:00+00:00"),
    ]
    assert done.stderr == "2 reminders due, 2 subscribers unengaged\n"
    out = tmp_path / "audit.csv"
    written = smspolicy_run(*args, "--out", str(out))
    assert written.stdout == f"2 reminders due (list in {out})\n"
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["list"], r["number"], r["topic"]) for r in rows] == [
        ("reminder", NEW_YORK, "deals"),
        ("reminder", LOS_ANGELES, "deals"),
    ]


# --- consent import ------------------------------------------------------------------------


BAD_CONSENTS = (
    "number,kind,at,source,expires,evidence\n"
    "+12125550142,confirmed,2026-01-01T00:00Z,web,,\n"  # line 2: good
    "not-a-number,confirmed,2026-01-01T00:00Z,web,,\n"  # line 3: number
    "+12125550143,confirmed,2026-01-01T00:00,web,,\n"  # line 4: at without a zone
    "+12125550144,liked,2026-01-01T00:00Z,web,,\n"  # line 5: kind
    '+12125550145,confirmed,2026-01-01T00:00Z,,soon,"{bad"\n'  # line 6: source, expires, evidence
)


def test_consent_import_reports_every_bad_row_and_imports_nothing(tmp_path: Path) -> None:
    """consent import checks the whole file first: every problem is named by line and column
    (up to --max-errors), the run exits 2, and not even the good row is imported."""
    path = tmp_path / "consents.csv"
    path.write_text(BAD_CONSENTS)
    store = str(tmp_path / "s.db")
    done = smspolicy_run("consent", "import", str(path), "--db", store)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == f"smspolicy: error: {path}: 6 problems in 4 rows, nothing imported:"
    assert [re.sub(r"^  .*?: line (\d+): (\w+).*", r"\1 \2", x) for x in lines[1:]] == [
        "3 number",
        "4 at",
        "5 kind",
        "6 source",
        "6 expires",
        "6 evidence",
    ]
    assert "at '2026-01-01T00:00' has no time zone" in lines[2]
    assert "expires 'soon' is not an ISO 8601 date and time" in lines[5]
    assert "Traceback" not in done.stderr
    exported = smspolicy_run("consent", "export", "+12125550142", "--db", store)
    assert json.loads(exported.stdout)["events"] == []
    limited = smspolicy_run("consent", "import", str(path), "--db", store, "--max-errors", "2")
    assert limited.stderr.splitlines()[1:] == [
        *lines[1:3],
        "  ... and 4 more (raise --max-errors to see them)",
    ]
    exact = smspolicy_run("consent", "import", str(path), "--db", store, "--max-errors", "6")
    assert exact.stderr.splitlines() == lines
    refused = smspolicy_run("consent", "import", str(path), "--db", store, "--max-errors", "0")
    assert refused.returncode == 2
    assert "--max-errors: '0' is not 1 or more" in refused.stderr


def test_consent_import_json_counts(tmp_path: Path) -> None:
    """consent import --format json prints the counts as integers."""
    path = tmp_path / "consents.csv"
    path.write_text(
        "number,kind,at,source\n"
        "+12125550142,confirmed,2026-01-01T00:00Z,web\n"
        "+12125550142,revoked,2026-02-01T00:00Z,web\n"
    )
    store = str(tmp_path / "s.db")
    done = smspolicy_run("consent", "import", str(path), "--db", store, "--format", "json")
    assert json.loads(done.stdout) == {"imported": 2, "already_present": 0, "superseded": 1}
    again = smspolicy_run("consent", "import", str(path), "--db", store)
    assert again.stdout == "0 consent events imported, 2 already present\n"


def test_inbound_json(tmp_path: Path) -> None:
    """inbound --format json prints the kind of text and the reply."""
    done = smspolicy_run(
        "inbound", NEW_YORK, "STOP", "--db", str(tmp_path / "s.db"), "--format", "json"
    )
    assert json.loads(done.stdout) == {
        "kind": "opt_out",
        "reply": "You are unsubscribed and will receive no more messages. Reply START to "
        "resubscribe.",
    }


def test_consent_export_out(folder: Path, tmp_path: Path) -> None:
    """consent export --out writes the proof to a file and nothing to the screen."""
    out = tmp_path / "proof.json"
    done = smspolicy_run("consent", "export", NEW_YORK, "--db", db(folder), "--out", str(out))
    assert done.stdout == ""
    assert json.loads(out.read_text())["events"][0]["source"] == "web"


# --- progress ------------------------------------------------------------------------------


def test_progress_shows_total_and_eta_on_a_terminal_only(folder: Path) -> None:
    """On a terminal (even one reporting 0 columns, as a fresh pseudo-terminal does) preflight
    shows the bytes read out of the file's size and the time left, on standard error; when
    standard error is not a terminal it shows nothing."""
    listing = folder / "all.csv"
    args = [*COMMAND, "preflight", str(listing), "--db", db(folder), "--at", AT]
    leader, follower = pty.openpty()
    with subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=follower, env={**os.environ, "SMSPOLICY_DB": ""}
    ) as process:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(timeout=300) == 0
    os.close(leader)
    text = shown.decode("utf-8", "replace")
    size = listing.stat().st_size
    assert re.search(rf"reading: 100%\|.*\| {size}/{size} \[\d\d:\d\d<\d\d:\d\d", text), text
    quiet = smspolicy_run("preflight", str(listing), "--db", db(folder), "--at", AT)
    assert quiet.stderr == ""


def test_readme_shows_json_output_and_exit_statuses() -> None:
    """README shows `--format json` and the exit statuses scripts branch on."""
    readme = (ROOT / "README.md").read_text()
    assert "--format json" in readme
    for text in ("0 for allow, 3 for defer and 4 for deny", "--fail-on deny", "exits 2"):
        assert text in readme
