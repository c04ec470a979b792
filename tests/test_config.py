"""TOML policy files: loading, and errors that name the file, line, key and problem."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from smspolicy import Engine, Message, Verdict
from smspolicy.config import PolicyFileError, load_config, load_policy, parse_duration
from smspolicy.testing import FrozenClock

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_example_policy_loads() -> None:
    """The example policy loads with its programs and rules."""
    config = load_config(ROOT / "examples" / "policy.toml")
    assert config.name == "acme-campaigns"
    assert [p.name for p in config.programs] == ["Acme Deals", "Acme Alerts"]
    text = repr(config.policy)
    assert "frequency_cap(1, 'day', scope='brand', calendar=True)" in text
    assert "dedupe('7 days, 0:00:00')" in text
    assert "max_segments(2)" in text


def test_rules_from_toml_behave(tmp_path: Path) -> None:
    """Rules declared in TOML decide like the same rules built in code; a file without
    jurisdictions still requires consent."""
    path = write(
        tmp_path,
        """
name = "t"
[[rules]]
type = "sending_window"
start = "09:00"
end = "17:00"
days = {6 = ["12:00", "17:00"]}
when = { purpose = "marketing", jurisdiction = "US" }
[[rules]]
type = "engagement"
unengaged_after = "30d"
reduced = [1, "7d"]
remove_after = "90d"
when = { topic = ["news"] }
""",
    )
    policy = load_policy(path)
    sunday = dt.datetime(2025, 1, 19, 10, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    engine = Engine(policy, clock=FrozenClock(sunday))
    for purpose in ("marketing", "transactional"):
        engine.consent.confirm("+12125550123", topic="deals", purpose=purpose, source="web")
    decision = engine.evaluate(Message("+12125550123", "deals", "marketing"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == sunday.replace(hour=12)
    assert engine.evaluate(Message("+12125550123", "deals", "transactional")).allowed


def test_parse_duration() -> None:
    """Durations read as weeks, days, hours, minutes and seconds."""
    assert parse_duration("30d") == dt.timedelta(days=30)
    assert parse_duration("2w") == dt.timedelta(weeks=2)
    assert parse_duration(" 15m ") == dt.timedelta(minutes=15)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


@pytest.mark.parametrize(
    ("text", "line", "key", "problem"),
    [
        ('name = "x"\ncolour = "red"\n', 2, "colour", "unknown setting"),
        ('name = "x"\n[[rules]]\ntype = "nope"\n', 3, "rules[0].type", "type must name"),
        (
            '[[rules]]\ntype = "frequency_cap"\nlimit = 3\nper = "24h"\nscop = "x"\n',
            5,
            "rules[0].scop",
            "takes no argument 'scop'",
        ),
        (
            '[[rules]]\ntype = "frequency_cap"\nlimit = 0\nper = "24h"\n',
            1,
            "rules[0]",
            "limit must be a positive int",
        ),
        (
            '[[rules]]\ntype = "dedupe"\nwindow = "7d"\nwhen = { mood = "x" }\n',
            4,
            "rules[0].when",
            "when takes a table",
        ),
        (
            '[[programs]]\nname = "A"\nbrand = "B"\nhelp_contact = "c"\nfrequency = "often"\n',
            1,
            "programs[0]",
            "cannot read frequency",
        ),
        (
            '[[programs]]\nname = "A"\nbrand = "B"\nhelp = "c"\n',
            4,
            "programs[0].help",
            "unknown program field",
        ),
        ('[[programs]]\nname = "A"\nbrand = "B"\n', 1, "programs[0]", "incomplete program"),
        ('jurisdictions = ["us", "mars"]\n', 1, "jurisdictions", "unknown jurisdiction pack"),
        (
            'jurisdictions = ["standard"]\nenable = ["us.xx"]\n',
            1,
            "jurisdictions",
            "unknown provisions",
        ),
        ("name = \n", None, None, "not valid TOML"),
        ('horizon = "forever"\n', 1, "horizon", "not a duration"),
    ],
    ids=[
        "unknown-key",
        "unknown-rule",
        "unknown-argument",
        "bad-argument",
        "bad-when",
        "bad-frequency",
        "unknown-program-field",
        "incomplete-program",
        "unknown-pack",
        "unknown-provision",
        "bad-toml",
        "bad-horizon",
    ],
)
def test_errors_name_file_line_key_and_problem(
    tmp_path: Path, text: str, line: int | None, key: str | None, problem: str
) -> None:
    """Every mistake in a policy file is reported with its file, line, key and problem."""
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as info:
        load_config(path)
    error = info.value
    assert error.path == str(path)
    assert error.line == line
    assert error.key == key
    assert problem in str(error)
    assert str(error).startswith(str(path))


def test_missing_and_binary_files(tmp_path: Path) -> None:
    """A missing or non-text file gets a clear error."""
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PolicyFileError, match="not UTF-8"):
        load_config(binary)
