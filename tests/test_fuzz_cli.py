"""The command line fuzzed as a user runs it (``smspolicy ...`` in a subprocess): malformed files
and arguments exit with status 2 and one line of error, never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smspolicy.cli import main

AT = "2026-11-27T15:00:00Z"
SCRIPT = Path(sys.executable).with_name("smspolicy")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "smspolicy.cli"]

# Each example of a process starts Python (about a second): a handful per test keeps CI time
# bounded. The same strategies drive ``main`` in this process for breadth.
FEW = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Run = Callable[..., subprocess.CompletedProcess[bytes]]


def smspolicy(*args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    """Run the console script with raw arguments (bytes pass through as a shell would)."""
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        timeout=120,
        env={**os.environ, "SMSPOLICY_DB": ""},
        check=False,
    )


def in_process(*args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    """``main`` called here as the console script would call it: bytes decoded as Python
    decodes a command line, output encoded as Python encodes it (strict UTF-8 on stdout)."""
    argv = [os.fsdecode(a) if isinstance(a, bytes) else a for a in args]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:  # argparse's refusals
            code = exit.code if isinstance(exit.code, int) else 1
        except Exception:  # what a user would see as a traceback
            err.write(traceback.format_exc())
            code = 1
    out.flush()
    err.flush()
    return subprocess.CompletedProcess(
        argv,
        code,
        out.buffer.getvalue(),  # type: ignore[attr-defined]
        err.buffer.getvalue(),  # type: ignore[attr-defined]
    )


def error_line(done: subprocess.CompletedProcess[bytes]) -> str:
    """The one line of error of a refused run; fails unless the run exited 2 without a
    traceback."""
    err = done.stderr.decode("utf-8", "backslashreplace")
    assert b"Traceback" not in done.stderr + done.stdout, err
    assert done.returncode == 2, err
    lines = err.strip().splitlines()
    if lines and lines[0].startswith("usage:"):  # argparse's own refusal: usage, then the error
        lines = [line for line in lines if ": error: " in line]
    assert len(lines) == 1, err
    assert ": error: " in lines[0]
    return lines[0]


# --- malformed files ------------------------------------------------------------------------

CHECK = ["check", "+12125550123", "--topic", "t", "--purpose", "marketing"]

FIELD_LIMIT = 131_072  # csv.field_size_limit()'s default
ROW_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00\r"), min_size=0, max_size=30
)


@st.composite
def csv_texts(draw: st.DrawFn, header: str) -> list[str]:
    """A CSV's lines: the header, then rows of any text."""
    rows = draw(st.lists(ROW_TEXT, max_size=5))
    return [header, *rows]


# Each defect makes a CSV unreadable wherever it lands, so the run must be refused.
DEFECTS: dict[str, bytes] = {
    "latin-1": "Société Générale".encode("latin-1"),
    "lone-byte-ff": b"\xff",
    "truncated-utf8": b"\xe2\x82",
    "nul": b"\x00",
    "utf16-bom": b"\xff\xfe",
}


@st.composite
def broken_csv(draw: st.DrawFn, header: str) -> bytes:
    """A CSV file with one defect on some line (or a 200 KB field, or a missing column)."""
    lines = [line.encode("utf-8") for line in draw(csv_texts(header))]
    kind = draw(st.sampled_from([*DEFECTS, "huge-field", "missing-column"]))
    if kind == "missing-column":
        lines[0] = b"number,colour"
    else:
        defect = b"," + b"a" * 200_000 + b"," if kind == "huge-field" else DEFECTS[kind]
        where = (
            draw(st.integers(1, len(lines)))
            if kind == "huge-field"
            else draw(st.integers(0, len(lines) - 1))
        )
        if where == len(lines):
            lines.append(b"")
        cut = draw(st.integers(0, len(lines[where])))
        lines[where] = lines[where][:cut] + defect + lines[where][cut:]
    return b"\n".join(lines) + draw(st.sampled_from([b"\n", b"\r\n", b""]))


def refuses_recipients(run: Run, content: bytes) -> None:
    """preflight refuses the file with one line naming it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recipients.csv"
        path.write_bytes(content)
        done = run("preflight", str(path), "--db", f"{folder}/s.db", "--at", AT)
    assert str(path) in error_line(done)


@FEW
@given(broken_csv("number,topic,purpose,body"))
def test_broken_recipient_files(content: bytes) -> None:
    """preflight refuses a recipients file with a defect in one line: exit 2, one line."""
    refuses_recipients(smspolicy, content)


@MANY
@given(broken_csv("number,topic,purpose,body"))
def test_broken_recipient_files_in_process(content: bytes) -> None:
    """The same, for many more files, through main."""
    refuses_recipients(in_process, content)


def refuses_consents(run: Run, content: bytes) -> None:
    """consent import refuses the file with one line naming it, and imports nothing."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "consents.csv"
        path.write_bytes(content)
        line = error_line(run("consent", "import", str(path), "--db", f"{folder}/s.db"))
        assert str(path) in line
        exported = run("consent", "export", "+12125550123", "--db", f"{folder}/s.db")
    assert b'"events": []' in exported.stdout


@FEW
@given(broken_csv("number,kind,at,source"))
def test_broken_consent_files(content: bytes) -> None:
    """consent import refuses a consent file with a defect in one line, and (the file being
    shorter than one batch of 1,000 rows) imports none of the rows before it."""
    refuses_consents(smspolicy, content)


@MANY
@given(broken_csv("number,kind,at,source"))
def test_broken_consent_files_in_process(content: bytes) -> None:
    """The same, for many more files, through main."""
    refuses_consents(in_process, content)


POLICY_DEFECTS = [
    "x = " + "[" * 5000 + "]" * 5000,
    'name = "p"\n[[rules]]\ntype = ["frequency_cap"]\n',
    'name = "p"\n[[rules]]\ntype = "frequency_cap"\nlimit = 1\nper = "99999999999999d"\n',
    'name = "p"\nhorizon = "99999999999999d"\n',
    'name = "p"\n[[rules]]\ntype = "origination"\ntable = [1, 2]\n',
    'name = "p"\n[[rules]]\ntype = "sending_window"\nstart = "25:00"\nend = "09:00"\n',
    'name = "p"\n[[programs]]\nname = {}\n',
    'name = "p"\njurisdictions = [["us"]]\n',
    'name = "p"\nstop_scope = 7\njurisdictions = ["us"]\n',
    "name = 'caf\udce9'\n",  # a byte that is not UTF-8
]


def refuses_policy(run: Run, text: str) -> None:
    """check refuses the policy file with one line naming it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.toml"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        done = run(*CHECK, "--policy", str(path), "--db", f"{folder}/s.db")
    assert str(path) in error_line(done)


COMMENTS = st.lists(ROW_TEXT.map(lambda t: "# " + t.replace("\n", " ")), max_size=3)


@FEW
@given(st.sampled_from(POLICY_DEFECTS), COMMENTS)
def test_broken_policy_files(defect: str, comments: list[str]) -> None:
    """Any command refuses a broken policy file: exit 2, one line naming the file."""
    refuses_policy(smspolicy, "\n".join([*comments, defect]))


@MANY
@given(st.sampled_from(POLICY_DEFECTS), COMMENTS)
def test_broken_policy_files_in_process(defect: str, comments: list[str]) -> None:
    """The same, through main."""
    refuses_policy(in_process, "\n".join([*comments, defect]))


# --- malformed arguments --------------------------------------------------------------------

NOT_UTF8 = st.sampled_from([b"caf\xe9", b"\xff\xfe", b"+1212555\x80123", b"\xc3"])


@st.composite
def broken_argv(draw: st.DrawFn, folder: str) -> list[str | bytes]:
    """A command line with one malformed argument."""
    db = ["--db", f"{folder}/s.db"]
    bad = draw(NOT_UTF8)
    recipients = ["preflight", f"{folder}/r.csv"]
    at = draw(st.sampled_from(["0001-01-01T00:00Z", "9999-12-31T23:59Z", "0001-01-01T00:00+05:00"]))
    every = draw(st.sampled_from(["99999999999999d", "0d", "-1d", "1y"]))
    encoding = draw(st.sampled_from(["klingon", "base64", "rot13", ""]))
    out = draw(st.sampled_from([folder, f"{folder}/no/such/out.csv"]))
    store = draw(st.sampled_from([folder, f"{folder}/no/such/s.db"]))
    return draw(
        st.sampled_from(
            [
                ["check", bad, "--topic", "t", "--purpose", "marketing", *db],
                ["check", "+12125550123", "--topic", bad, "--purpose", "marketing", *db],
                [*CHECK, "--brand", bad, *db],
                [*CHECK, "--at", bad, *db],
                [*CHECK, "--at", at, *db],
                [*CHECK, "--channel", "carrier-pigeon", *db],
                ["inbound", "+12125550123", "STOP", "--to", bad, *db],
                ["audit", "--every", bad, *db],
                ["audit", "--every", every, *db],
                ["audit", "--unengaged-after", "99999999999999d", *db],
                ["consent", "export", bad, *db],
                [*recipients, "--encoding", encoding, *db],
                [*recipients, "--out", out, *db],
                [*recipients, "--db", store],
                ["preflight", f"{folder}/nothing-here.csv", *db],
                ["preflight", folder, *db],
            ]
        )
    )


def refuses_arguments(run: Run, data: st.DataObject) -> None:
    """The command is refused with one line, and no folder is created."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "r.csv").write_text("number,topic,purpose\n+12125550123,t,marketing\n")
        argv = data.draw(broken_argv(folder), "argv")
        error_line(run(*argv))
        folders = [p for p in Path(folder).rglob("*") if p.is_dir()]
    assert folders == []


@FEW
@given(st.data())
def test_broken_arguments(data: st.DataObject) -> None:
    """A malformed argument (undecodable bytes, an instant out of range, a missing folder...)
    exits 2 with one line of error, and creates no folder."""
    refuses_arguments(smspolicy, data)


@MANY
@given(st.data())
def test_broken_arguments_in_process(data: st.DataObject) -> None:
    """The same, for many more command lines, through main."""
    refuses_arguments(in_process, data)


# --- the examples that crashed, one by one --------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with a recipients file and a database path."""
    (tmp_path / "r.csv").write_text("number,topic,purpose\n+12125550123,t,marketing\n")
    return tmp_path


def test_latin1_recipient_file_names_line_and_byte(folder: Path) -> None:
    """A Latin-1 recipients file (as Excel saves it) is refused naming the line, the column
    and the byte, and suggests --encoding."""
    path = folder / "excel.csv"
    path.write_bytes(
        b"number,topic,purpose,body\n+12125550123,t,marketing,ok\n+12125550124,t,marketing,Soci\xe9t\xe9\n"
    )
    line = error_line(smspolicy("preflight", str(path), "--db", str(folder / "s.db")))
    assert f"{path}: line 3, column 30: 0xe9 is not valid utf-8" in line
    assert "--encoding cp1252" in line


def test_latin1_consent_file_names_line_and_byte(folder: Path) -> None:
    """A Latin-1 consent file is refused naming the line, column and byte; nothing is imported."""
    path = folder / "consents.csv"
    path.write_bytes(b"number,kind,at,source\n+12125550123,confirmed,2026-01-01T00:00Z,caf\xe9\n")
    line = error_line(smspolicy("consent", "import", str(path), "--db", str(folder / "s.db")))
    assert f"{path}: line 2, column 45: 0xe9 is not valid utf-8" in line


def test_out_to_a_missing_folder(folder: Path) -> None:
    """--out into a folder that does not exist is refused, and the folder is not created."""
    out = folder / "missing" / "out.csv"
    line = error_line(
        smspolicy(
            "preflight", str(folder / "r.csv"), "--db", str(folder / "s.db"), "--out", str(out)
        )
    )
    assert line == f"smspolicy: error: cannot write --out {out}: No such file or directory"
    assert not out.parent.exists()


def test_out_to_a_directory(folder: Path) -> None:
    """--out naming a folder is refused."""
    line = error_line(
        smspolicy(
            "preflight", str(folder / "r.csv"), "--db", str(folder / "s.db"), "--out", str(folder)
        )
    )
    assert line == f"smspolicy: error: cannot write --out {folder}: it is a folder"


def test_toml_nested_5000_levels(folder: Path) -> None:
    """A policy file nested 5,000 levels deep is refused, naming the file."""
    policy = folder / "deep.toml"
    policy.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    line = error_line(
        smspolicy(
            "preflight",
            str(folder / "r.csv"),
            "--db",
            str(folder / "s.db"),
            "--policy",
            str(policy),
        )
    )
    assert line == f"smspolicy: error: {policy}: not valid TOML: arrays or tables nested too deeply"


def test_rule_type_given_as_a_list(folder: Path) -> None:
    """type = ["frequency_cap"] is refused, naming the line and key."""
    policy = folder / "list.toml"
    policy.write_text('name = "p"\n[[rules]]\ntype = ["frequency_cap"]\nlimit = 1\n')
    line = error_line(
        smspolicy(
            "preflight",
            str(folder / "r.csv"),
            "--db",
            str(folder / "s.db"),
            "--policy",
            str(policy),
        )
    )
    assert line.startswith(
        f"smspolicy: error: {policy}:3: rules[0].type: type must name a rule factory"
    )


def test_csv_field_of_200_kb(folder: Path) -> None:
    """A 200 KB field is refused, naming its line."""
    path = folder / "big.csv"
    path.write_text("number,topic,purpose,body\n+12125550123,t,marketing," + "a" * 200_000 + "\n")
    line = error_line(smspolicy("preflight", str(path), "--db", str(folder / "s.db")))
    assert line == (
        f"smspolicy: error: {path}: line 2: not a readable CSV record: "
        f"field larger than field limit ({FIELD_LIMIT})"
    )


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_instants_out_of_range_on_the_command_line(folder: Path, at: str) -> None:
    """--at in year 1 (or 9999) is refused as outside the supported range."""
    line = error_line(
        smspolicy("preflight", str(folder / "r.csv"), "--db", str(folder / "s.db"), "--at", at)
    )
    assert "--at" in line
    assert "is outside the supported range (from 1900-01-01 up to 3000-01-01, UTC)" in line


def test_year_one_in_a_consent_file(folder: Path) -> None:
    """A consent event dated in year 1 is refused naming its line."""
    path = folder / "consents.csv"
    path.write_text("number,kind,at,source\n+12125550123,confirmed,0001-01-01T00:00Z,web\n")
    line = error_line(smspolicy("consent", "import", str(path), "--db", str(folder / "s.db")))
    assert line.startswith(
        f"smspolicy: error: {path}: line 2: at 0001-01-01T00:00:00+00:00 is outside"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [b"check", b"+12125550123", b"--topic", b"caf\xe9", b"--purpose", b"marketing"],
            "--topic is not valid UTF-8 text: byte 0xe9 at position 4",
        ),
        (
            [b"check", b"+1212\x80", b"--topic", b"t", b"--purpose", b"marketing"],
            "number is not valid UTF-8 text: byte 0x80 at position 6",
        ),
    ],
    ids=["topic", "number"],
)
def test_non_utf8_bytes_in_argv(folder: Path, argv: Sequence[bytes], message: str) -> None:
    """Bytes that are not UTF-8 in a text argument are refused, naming the argument and byte."""
    line = error_line(smspolicy(*argv, "--db", str(folder / "s.db")))
    assert line == f"smspolicy: error: {message}"


def test_non_utf8_file_name_is_read(folder: Path) -> None:
    """A file name that is not UTF-8 (legal on POSIX) is opened as given."""
    name = os.fsencode(folder) + b"/caf\xe9.csv"
    Path(os.fsdecode(name)).write_text("number,topic,purpose\n+12125550123,t,marketing\n")
    done = smspolicy(b"preflight", name, "--db", str(folder / "s.db"), "--at", AT)
    assert done.returncode == 0, done.stderr
    assert b"\n1 recipient\n" in done.stdout


@pytest.mark.parametrize("where", ["missing/parent", "missing"])
def test_db_creates_no_parent_folders(folder: Path, where: str) -> None:
    """--db in a folder that does not exist is refused; no folder is created."""
    db = folder / where / "s.db"
    line = error_line(smspolicy("preflight", str(folder / "r.csv"), "--db", str(db)))
    assert (
        line
        == f"smspolicy: error: --db {db}: the folder {db.parent} does not exist (create it first)"
    )
    assert not (folder / "missing").exists()


def test_db_naming_a_folder(folder: Path) -> None:
    """--db naming a folder is refused."""
    line = error_line(smspolicy("preflight", str(folder / "r.csv"), "--db", str(folder)))
    assert line == f"smspolicy: error: --db {folder} is a folder: name a database file"


def test_nul_names_its_line_and_column(folder: Path) -> None:
    """A NUL (a UTF-16 file read as UTF-8) is refused at its line and column, with a hint."""
    path = folder / "nul.csv"
    path.write_bytes(b"number,topic,purpose\n+12125550123,t,marketing\n+1212\x00,t,marketing\n")
    line = error_line(in_process("preflight", str(path), "--db", str(folder / "s.db")))
    assert line == (
        f"smspolicy: error: {path}: line 3, column 6: a NUL character, so this is not a text "
        "file in this encoding (for UTF-16, give --encoding utf-16)"
    )


def test_truncated_character_at_the_end(folder: Path) -> None:
    """A file cut in the middle of a character is refused at its last line, showing the bytes."""
    path = folder / "cut.csv"
    path.write_bytes(b"number,topic,purpose\n+12125550123,t,marketing \xe2\x82")
    line = error_line(in_process("preflight", str(path), "--db", str(folder / "s.db")))
    assert f"{path}: line 2, column 26: 0xe2 0x82 is not valid utf-8" in line


@pytest.mark.parametrize("encoding", ["klingon", "base64", ""])
def test_unknown_encodings(folder: Path, encoding: str) -> None:
    """--encoding names a text encoding Python knows, or the run is refused."""
    done = in_process("preflight", str(folder / "r.csv"), "--db", str(folder / "s.db"),
                      "--encoding", encoding)  # fmt: skip
    assert error_line(done) == (
        f"smspolicy: error: --encoding {encoding!r} is not a text encoding "
        "(try utf-8, cp1252 or latin-1)"
    )


def test_smspolicy_db_variable_creates_no_folder(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$SMSPOLICY_DB is held to the same rule as --db, and named as such."""
    db = folder / "missing" / "s.db"
    monkeypatch.setenv("SMSPOLICY_DB", str(db))
    line = error_line(in_process("preflight", str(folder / "r.csv")))
    assert line == (
        f"smspolicy: error: $SMSPOLICY_DB {db}: the folder {db.parent} does not exist "
        "(create it first)"
    )
    assert not db.parent.exists()


def test_default_store_folder_is_created(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --db or $SMSPOLICY_DB the user's data directory is created when missing."""
    monkeypatch.delenv("SMSPOLICY_DB", raising=False)
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / "data"))
    done = in_process("preflight", str(folder / "r.csv"), "--at", AT)
    assert done.returncode == 0, done.stderr
    assert (folder / "data" / "smspolicy" / "smspolicy.sqlite3").exists()
