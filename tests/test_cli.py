"""The command line, driven as a subprocess."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
AT = "2026-11-27T15:00:00Z"


def run(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "smspolicy.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}: {done.stderr}")
    return done


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite store with the example consents imported."""
    path = str(tmp_path / "demo.sqlite3")
    out = run("consent", "import", str(EXAMPLES / "consents.csv"), "--db", path).stdout
    assert re.match(r"\d+ consent events imported, 0 already present", out)
    return path


def test_consent_import_is_idempotent(db: str) -> None:
    """Importing the same file again adds nothing."""
    out = run("consent", "import", str(EXAMPLES / "consents.csv"), "--db", db).stdout
    assert out.startswith("0 consent events imported")


def test_preflight_writes_every_decision(db: str, tmp_path: Path) -> None:
    """Preflight writes one full decision per row and a summary by verdict and reason."""
    out_file = tmp_path / "decisions.csv"
    done = run(
        "preflight",
        str(EXAMPLES / "recipients.csv"),
        "--policy",
        str(EXAMPLES / "policy.toml"),
        "--db",
        db,
        "--at",
        AT,
        "--out",
        str(out_file),
    )
    rows = list(csv.DictReader(out_file.read_text().splitlines()))
    recipients = list(csv.DictReader((EXAMPLES / "recipients.csv").read_text().splitlines()))
    assert len(rows) == len(recipients)
    assert [r["number"] for r in rows] == [r["number"] for r in recipients]
    assert {r["verdict"] for r in rows} == {"allow", "defer", "deny"}
    deferred = next(r for r in rows if r["verdict"] == "defer")
    assert deferred["until_utc"].endswith("+00:00")
    assert deferred["until_local"]
    assert deferred["zone"]
    summary = done.stdout
    assert f"{len(rows)} recipients" in summary
    for verdict in ("allow", "defer", "deny"):
        count = sum(r["verdict"] == verdict for r in rows)
        assert re.search(rf"{verdict}\s+{count}\s", summary)
    assert "jurisdiction.us.tcpa.written_consent" in summary


def test_preflight_table_masks_numbers(db: str, tmp_path: Path) -> None:
    """On screen numbers are masked unless asked; JSON output is a valid array."""
    small = tmp_path / "small.csv"
    small.write_text(
        "number,topic,purpose\n+12125550100,deals,marketing\nnot-a-number,deals,marketing\n"
        "+12125550101,deals,spam\n"
    )
    table = run("preflight", str(small), "--db", db, "--at", AT).stdout
    assert "+1212*****00" in table
    assert "+12125550100" not in table
    assert "number.invalid" in table
    assert "row.invalid" in table
    shown = run("preflight", str(small), "--db", db, "--at", AT, "--show-numbers").stdout
    assert "+12125550100" in shown
    as_json = run("preflight", str(small), "--db", db, "--at", AT, "--format", "json").stdout
    records = json.loads(as_json)
    assert [r["verdict"] for r in records] == ["allow", "deny", "deny"]
    assert "Purpose must be one of" in records[2]["explanation"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["preflight", "missing.csv"], "cannot read missing.csv"),
        (["preflight", "{bad_header}"], "missing column(s) topic, purpose"),
        (["preflight", "{extra_column}"], "unknown column(s) colour"),
        (["preflight", "{small}", "--policy", "{bad_policy}"], "unknown setting"),
        (["preflight", "{small}", "--at", "2026-11-27T15:00"], "has no time zone"),
        (["preflight", "{small}", "--at", "yesterday"], "not an ISO 8601"),
        (["consent", "import", "{bad_consents}"], "line 2"),
        (["inbound", "not-a-number", "STOP"], "not a phone number"),
        (
            [
                "check",
                "+12125550100",
                "--topic",
                "t",
                "--purpose",
                "marketing",
                "--policy",
                "nope.toml",
            ],
            "cannot read the file",
        ),
    ],
    ids=[
        "missing-file",
        "bad-header",
        "extra-column",
        "bad-policy",
        "naive-at",
        "bad-at",
        "bad-consents",
        "bad-number",
        "missing-policy",
    ],
)
def test_errors_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    """Bad input exits with status 2 and one clear line, never a traceback."""
    files = {
        "bad_header": "number\n+12125550100\n",
        "extra_column": "number,topic,purpose,colour\n+12125550100,t,marketing,red\n",
        "small": "number,topic,purpose\n+12125550100,t,marketing\n",
        "bad_policy": "colour = 'red'\n",
        "bad_consents": "number,kind,at,source\n+12125550100,confirmed,2026-01-01T00:00,web\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / name
        paths[name].write_text(text)
    argv = [a.format(**{k: str(v) for k, v in paths.items()}) for a in args]
    done = run(*argv, "--db", str(tmp_path / "x.db"), check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_check_inbound_export_audit(db: str) -> None:
    """check explains one decision; inbound prints the reply and writes the ledger; consent
    export prints a proof; audit lists reminders."""
    done = run(
        "check",
        "+12125550100",
        "--topic",
        "deals",
        "--purpose",
        "marketing",
        "--policy",
        str(EXAMPLES / "policy.toml"),
        "--db",
        db,
        "--at",
        AT,
    )
    assert done.stdout.startswith("ALLOW: Allowed.")
    reply = run(
        "inbound",
        "+12125550100",
        "stop please",
        "--to",
        "+18885550100",
        "--policy",
        str(EXAMPLES / "policy.toml"),
        "--db",
        db,
        "--at",
        AT,
    ).stdout
    assert reply.startswith("opt_out: Acme Deals: You are unsubscribed")
    denied = run(
        "check",
        "+12125550100",
        "--topic",
        "deals",
        "--purpose",
        "marketing",
        "--db",
        db,
        "--at",
        AT,
        check=False,
    )
    assert denied.returncode == 4
    again = denied.stdout
    assert again.startswith("DENY")
    assert "consent.revoked" in again
    proof = json.loads(run("consent", "export", "+12125550100", "--db", db).stdout)
    assert proof["events"][-1]["source"] == "keyword:stop"
    assert proof["events"][-1]["evidence"]["text"] == "stop please"
    audit = run("audit", "--db", db, "--policy", str(EXAMPLES / "policy.toml"), "--at", AT).stdout
    assert re.match(r"\d+ reminders due", audit)


def test_default_store_location(tmp_path: Path) -> None:
    """Without --db the store lives at $SMSPOLICY_DB (else the user's data directory)."""
    target = tmp_path / "default.sqlite3"
    run("inbound", "+12125550100", "HELP", env={"SMSPOLICY_DB": str(target)})
    assert target.exists()


def test_readme_first_command_works_verbatim(tmp_path: Path) -> None:
    """README's first command, run verbatim in a fresh copy of the project, prints the
    preflight summary and writes decisions.csv."""
    readme = (ROOT / "README.md").read_text()
    first = re.findall(r"```sh\n(.*?)\n```", readme, re.S)[0]
    assert "preflight" in first
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    copy = tmp_path / "project"
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    done = subprocess.run(
        ["bash", "-c", first], cwd=copy, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3100 recipients (decisions in decisions.csv)" in done.stdout
    assert (copy / "decisions.csv").exists()


def test_encoding_reads_a_file_saved_by_excel(tmp_path: Path) -> None:
    """With --encoding cp1252 a consent file saved by Excel imports with its accents intact."""
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"number,kind,at,source\r\n+12125550100,confirmed,2026-01-01T00:00Z,caf\xe9\r\n"
    )
    db = str(tmp_path / "s.db")
    out = run("consent", "import", str(path), "--db", db, "--encoding", "cp1252").stdout
    assert out.startswith("1 consent event imported")
    proof = json.loads(run("consent", "export", "+12125550100", "--db", db).stdout)
    assert [e["source"] for e in proof["events"]] == ["café"]


@pytest.mark.parametrize(
    ("content", "encoding", "topic"),
    [
        (b"\xef\xbb\xbfnumber,topic,purpose\n+12125550100,deals,marketing\n", None, "deals"),
        ("number,topic,purpose\n+12125550100,tea,marketing\n".encode("utf-16"), "utf-16", "tea"),
        (b"number,topic,purpose\n+12125550100,d\xe9als,marketing\n", "latin-1", "d\u00e9als"),
    ],
    ids=["utf-8-bom", "utf-16", "latin-1"],
)
def test_preflight_reads_the_named_encoding(
    tmp_path: Path, content: bytes, encoding: str | None, topic: str
) -> None:
    """preflight reads UTF-8 with a byte-order mark by default and any encoding by name."""
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    args = ["preflight", str(path), "--db", str(tmp_path / "s.db"), "--show-numbers"]
    done = run(*args, "--format", "json", *(["--encoding", encoding] if encoding else []))
    records = json.loads(done.stdout)
    assert [(r["line"], r["number"], r["topic"]) for r in records] == [(2, "+12125550100", topic)]


def test_record_lines_are_where_records_start(tmp_path: Path) -> None:
    """A record's line is the line it starts on, past blank lines and quoted line breaks."""
    path = tmp_path / "list.csv"
    path.write_text(
        'number,topic,purpose,body\n+12125550100,deals,marketing,"two\nlines"\n\n'
        "+12125550101,deals,marketing,one\n"
    )
    done = run("preflight", str(path), "--db", str(tmp_path / "s.db"), "--format", "json")
    assert [r["line"] for r in json.loads(done.stdout)] == [2, 5]


def test_short_rows_read_as_empty_fields(tmp_path: Path) -> None:
    """A row with fewer fields than the header is decided (a row.invalid deny), not a crash."""
    path = tmp_path / "list.csv"
    path.write_text("topic,purpose,number\ndeals\n")
    done = run("preflight", str(path), "--db", str(tmp_path / "s.db"), "--format", "json")
    records = json.loads(done.stdout)
    assert [(r["number"], r["verdict"]) for r in records] == [("", "deny")]
