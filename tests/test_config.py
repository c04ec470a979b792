"""TOML policy files: loading, and errors that name the file, line, key and problem."""

from __future__ import annotations

import datetime as dt
import inspect
import typing
from pathlib import Path

import pytest

from smspolicy import Engine, Message, Policy, Purpose, Verdict, jurisdictions, rules, when
from smspolicy._annotate import Rows
from smspolicy.config import (
    PolicyFileError,
    byte_position,
    load_config,
    load_policy,
    parse_duration,
    shown_path,
)
from smspolicy.errors import ConfigurationError
from smspolicy.predicates import channel_is, purpose_is, topic_is
from smspolicy.programs import Program
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
            2,
            "enable",
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("36600d", dt.timedelta(days=36_600)),
        ("5228w", dt.timedelta(days=36_596)),
        ("878400h", dt.timedelta(days=36_600)),
        ("52704000m", dt.timedelta(days=36_600)),
        ("3162240000s", dt.timedelta(days=36_600)),
        ("0d", dt.timedelta(0)),
        ("00000000000000000007d", dt.timedelta(days=7)),
        ("\t45 s\n", dt.timedelta(seconds=45)),
    ],
    ids=["days", "weeks", "hours", "minutes", "seconds", "zero", "leading-zeros", "spaces"],
)
def test_parse_duration_up_to_the_longest(text: str, expected: dt.timedelta) -> None:
    """Durations up to 36,600 days parse in every unit (hand-computed values)."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["36601d", "5229w", "878401h", "52704001m", "3162240001s", "9999999999999d", "9" * 5000 + "d"],
    ids=["days", "weeks", "hours", "minutes", "seconds", "thirteen-digits", "five-thousand"],
)
def test_parse_duration_past_the_longest(text: str) -> None:
    """One unit past 36,600 days, and any number too long to read, is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="is longer than 36600 days"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("\uff13\uff10d", "'\uff13\uff10d'"),
        ("1y", "'1y'"),
        (30, "int"),
        (["30d"], "list"),
        ("", "''"),
    ],
    ids=["fullwidth-digits", "years", "int", "list", "empty"],
)
def test_parse_duration_refusals(value: object, shown: str) -> None:
    """Anything but ASCII digits and a unit is refused, showing the text or the type."""
    with pytest.raises(ConfigurationError) as info:
        parse_duration(value)  # type: ignore[arg-type]
    assert str(info.value) == f"{shown} is not a duration like '30d', '24h' or '15m'"


def test_policy_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark (as Windows editors write) is skipped."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbfname = "bom"\n')
    assert load_config(path).name == "bom"


def test_non_utf8_policy_names_line_and_column(tmp_path: Path) -> None:
    """A byte that is not UTF-8 is reported with its line and column."""
    path = tmp_path / "latin.toml"
    path.write_bytes(b'name = "p"\n# caf\xe9\n')
    with pytest.raises(PolicyFileError) as info:
        load_config(path)
    assert info.value.line == 2
    assert "byte 0xe9 at column 6" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "key", "problem"),
    [
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", None, None, "nested too deeply"),
        ('[[rules]]\ntype = ["frequency_cap"]\n', 2, "rules[0].type", "type must name"),
        ("[[rules]]\ntype = 7\n", 2, "rules[0].type", "type must name"),
        ('[[rules]]\ntype = "origination"\ntable = [1]\n', 1, "rules[0]", "array of tables"),
        ('horizon = "99999999999999d"\n', 1, "horizon", "longer than 36600 days"),
        (
            '[[rules]]\ntype = "dedupe"\nwindow = "99999999999999d"\n',
            1,
            "rules[0]",
            "longer than 36600 days",
        ),
    ],
    ids=["nested-5000", "type-list", "type-int", "table-rows", "horizon", "window"],
)
def test_malformed_values_are_policy_file_errors(
    tmp_path: Path, text: str, line: int | None, key: str | None, problem: str
) -> None:
    """Values that used to crash the loader are reported with the file, line and key."""
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as info:
        load_config(path)
    assert (info.value.line, info.value.key) == (line, key)
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (7, "a policy file path must be text, got int"),
        ("a\x00b.toml", "a\\x00b.toml: cannot read the file: embedded null byte"),
    ],
    ids=["int", "nul"],
)
def test_unreadable_paths(path: object, problem: str) -> None:
    """A path that is not text, or that no file can have, is a ConfigurationError."""
    with pytest.raises(ConfigurationError) as info:
        load_config(path)  # type: ignore[arg-type]
    assert str(info.value) == problem


def test_helpers_for_messages() -> None:
    """byte_position counts lines and columns from 1; shown_path escapes what cannot print."""
    assert byte_position(b"ab\ncd\xff", 5) == (2, 3)
    assert byte_position(b"\xff", 0) == (1, 1)
    assert shown_path("caf\udce9.toml") == "caf\\xe9.toml"
    assert shown_path(b"caf\xe9.toml") == "caf\\xe9.toml"
    assert shown_path(Path("a\tb")) == "a\\tb"
    assert shown_path("bad\ud800") == "bad\\ud800"
    assert shown_path("plain/é.toml") == "plain/é.toml"


def test_longer_than_message() -> None:
    """The refusal of a long duration quotes it and names the limit."""
    with pytest.raises(ConfigurationError) as info:
        parse_duration(" 99999999999999d ")
    assert str(info.value) == (
        "'99999999999999d' is longer than 36600 days, the longest duration smspolicy accepts"
    )


@pytest.mark.parametrize(
    ("data", "offset", "expected"),
    [
        (b"a\nb\ncX", 5, (3, 2)),
        (b"\nX", 1, (2, 1)),
        (b"\n\nX", 2, (3, 1)),
        (b"abX", 2, (1, 3)),
    ],
    ids=["third-line", "after-leading-newline", "two-leading-newlines", "first-line"],
)
def test_byte_position(data: bytes, offset: int, expected: tuple[int, int]) -> None:
    """byte_position counts lines and columns from 1, hand-counted."""
    assert byte_position(data, offset) == expected


def test_messages_of_unreadable_policy_files(tmp_path: Path) -> None:
    """The not-UTF-8 and nested-too-deeply refusals read in full."""
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"name = 'caf\xe9'\n")
    with pytest.raises(PolicyFileError) as info:
        load_config(latin)
    assert str(info.value) == (
        f"{latin}:1: not UTF-8 text: byte 0xe9 at column 12 "
        "(TOML files are UTF-8: save the file as UTF-8)"
    )
    deep = write(tmp_path, "x = " + "[" * 3000 + "]" * 3000)
    with pytest.raises(PolicyFileError) as nested:
        load_config(deep)
    assert str(nested.value) == f"{deep}: not valid TOML: arrays or tables nested too deeply"


def test_name_programs_and_policy_name(tmp_path: Path) -> None:
    """Without a name the file's stem names the config and its policy; without programs there
    are none."""
    path = tmp_path / "spring-sale.toml"
    path.write_text("jurisdictions = []\n")
    config = load_config(path)
    assert config.name == "spring-sale"
    assert config.policy.name == "spring-sale"
    assert config.programs == ()


@pytest.mark.parametrize(
    ("text", "line", "key", "problem"),
    [
        ('jurisdictions = []\nname = ""\n', 2, "name", "must be non-empty text"),
        ("name = 5\n", 1, "name", "must be non-empty text"),
        ("programs = 5\n", None, "programs", "must be an array of tables: write [[programs]]"),
        ("rules = [1]\n", None, "rules", "must be an array of tables: write [[rules]]"),
        (
            'jurisdictions = "us"\n',
            1,
            "jurisdictions",
            'jurisdictions must be a list such as ["standard"]',
        ),
        (
            "jurisdictions = [1]\n",
            1,
            "jurisdictions",
            'jurisdictions must be a list such as ["standard"]',
        ),
        (
            'jurisdictions = ["us"]\nenable = "us.al.window"\n',
            2,
            "enable",
            "enable must be a list of provision ids",
        ),
        (
            'jurisdictions = ["us"]\ninclude_unconfirmed = "yes"\n',
            2,
            "include_unconfirmed",
            "include_unconfirmed must be true or false",
        ),
        (
            'jurisdictions = ["standard", "us"]\n',
            1,
            "jurisdictions",
            '"standard" already includes every pack: use it alone',
        ),
        (
            '[[programs]]\nname = "A"\nbrand = "B"\nhelp_contact = "c"\nfrequency = "2 msgs/week"\n'
            '[[programs]]\nname = "C"\ncolour = "red"\n',
            8,
            "programs[1].colour",
            "unknown program field",
        ),
        (
            '[[rules]]\ntype = "dedupe"\nwindow = "1d"\nwhen = 5\n',
            4,
            "rules[0].when",
            "when takes a table with keys from ['channel', 'jurisdiction', 'purpose', 'topic']",
        ),
        (
            '[[rules]]\ntype = "dedupe"\nwindow = "1d"\nwhen = {}\n',
            4,
            "rules[0].when",
            "when takes a table",
        ),
        (
            '[[rules]]\ntype = "dedupe"\nwindow = "1d"\nwhen = { purpose = "spam" }\n',
            4,
            "rules[0].when",
            "Purpose must be one of",
        ),
        (
            '[[rules]]\ntype = "frequency_cap"\nlimit = 1\nper = "1d"\nscope = "5d"\n',
            1,
            "rules[0]",
            "'5d'",
        ),
    ],
    ids=[
        "empty-name",
        "int-name",
        "programs-not-tables",
        "rules-not-tables",
        "jurisdictions-text",
        "jurisdictions-ints",
        "enable-text",
        "unconfirmed-text",
        "standard-and-more",
        "second-program-key",
        "when-int",
        "when-empty",
        "when-bad-purpose",
        "duration-like-scope",
    ],
)
def test_more_errors_name_file_line_key_and_problem(
    tmp_path: Path, text: str, line: int | None, key: str | None, problem: str
) -> None:
    """Each remaining refusal names the file, line, key and problem."""
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as info:
        load_config(path)
    assert (info.value.path, info.value.line, info.value.key) == (str(path), line, key)
    assert problem in str(info.value)


def test_jurisdiction_settings_reach_the_packs(tmp_path: Path) -> None:
    """include_unconfirmed, enable and stop_scope are passed to jurisdictions.standard."""
    path = write(
        tmp_path,
        'name = "p"\njurisdictions = ["us"]\ninclude_unconfirmed = true\nstop_scope = "topic"\n',
    )
    expected = jurisdictions.standard(["us"], include_unconfirmed=True, stop_scope="topic")
    assert repr(load_policy(path)) == f"Policy({expected!r}, name='p')"
    enabled = write(tmp_path, 'name = "p"\njurisdictions = ["us"]\nenable = ["us.al.window"]\n')
    chosen = jurisdictions.standard(["us"], enable=["us.al.window"])
    assert repr(load_policy(enabled)) == f"Policy({chosen!r}, name='p')"
    alone = write(tmp_path, 'name = "p"\nstop_scope = "topic"\n')
    assert repr(load_policy(alone)) == "Policy(consent(stop_scope='topic'), name='p')"


def test_when_and_arguments_build_the_rules(tmp_path: Path) -> None:
    """A when table of three keys joins them all; durations, reduced tiers, weekday windows and
    origination tables become the factories' arguments."""
    path = write(
        tmp_path,
        """
name = "p"
[[rules]]
type = "dedupe"
window = "1d"
when = { purpose = "marketing", topic = "a", channel = "sms" }
[[rules]]
type = "engagement"
unengaged_after = "30d"
reduced = [1, "7d"]
remove_after = "90d"
[[rules]]
type = "sending_window"
start = "09:00"
end = "17:00"
days = {6 = ["12:00", "17:00"]}
[[rules]]
type = "origination"
table = [{brand = "Acme", purpose = "marketing", senders = ["+18885550100"]}]
""",
    )
    expected = Policy(
        rules.consent(),
        when(
            purpose_is("marketing") & topic_is("a") & channel_is("sms"),
            rules.dedupe(dt.timedelta(days=1)),
        ),
        rules.engagement(
            unengaged_after=dt.timedelta(days=30),
            reduced=(1, dt.timedelta(days=7)),
            remove_after=dt.timedelta(days=90),
        ),
        rules.sending_window("09:00", "17:00", days={6: ("12:00", "17:00")}),  # type: ignore[arg-type]
        rules.origination({("Acme", Purpose.MARKETING): ["+18885550100"]}),
        name="p",
    )
    assert repr(load_policy(path)) == repr(expected)


def test_list_arguments_pass_through_and_tables_keep_brands(tmp_path: Path) -> None:
    """A list argument reaches its factory as written, and an origination table keeps each
    row's brand, purpose and senders."""
    path = write(
        tmp_path,
        'name = "p"\n[[rules]]\ntype = "valid_number"\ncountries = ["US", "CA"]\n'
        '[[rules]]\ntype = "origination"\n'
        'table = [{brand = "Acme", purpose = "marketing", senders = ["+18885550100"]},'
        ' {purpose = "transactional", senders = ["+18885550111"]}]\n',
    )
    policy = load_policy(path)
    numbers, origination = policy.rules[1:]
    assert repr(numbers) == repr(rules.valid_number(countries=["US", "CA"]))
    assert origination.table == {
        ("Acme", Purpose.MARKETING): frozenset({"+18885550100"}),
        (None, Purpose.TRANSACTIONAL): frozenset({"+18885550111"}),
    }


def test_reduced_tier_with_a_number_is_a_policy_file_error(tmp_path: Path) -> None:
    """reduced = [1, 5] (no unit) is reported, not an IndexError."""
    path = write(
        tmp_path,
        '[[rules]]\ntype = "engagement"\nunengaged_after = "30d"\nreduced = [1, 5]\n'
        'remove_after = "90d"\n',
    )
    with pytest.raises(PolicyFileError) as info:
        load_config(path)
    assert (info.value.key, info.value.line) == ("rules[0]", 1)


def test_arguments_follow_the_factory_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A factory's annotations alone turn TOML values into its arguments: a duration, a tuple
    with a duration, a table keyed by weekday, and rows into a mapping."""
    import smspolicy.config as config_module

    seen: dict[str, object] = {}

    def custom(
        *,
        gap: dt.timedelta,
        pair: tuple[int, dt.timedelta],
        by_day: typing.Mapping[int, tuple[str, str] | None],
        rows: typing.Annotated[typing.Mapping[object, object], Rows(("a", "b"), "c")],
        text: str = "30d",
    ) -> object:
        seen.update(gap=gap, pair=pair, by_day=by_day, rows=rows, text=text)
        return rules.valid_number()

    monkeypatch.setitem(config_module._RULES, "custom", custom)
    path = write(
        tmp_path,
        """
[[rules]]
type = "custom"
gap = "90m"
pair = [3, "2d"]
by_day = { "0" = ["09:00", "17:00"] }
rows = [{ a = "x", b = "y", c = 1 }]
text = "30d"
""",
    )
    load_config(path)
    assert seen == {
        "gap": dt.timedelta(minutes=90),
        "pair": (3, dt.timedelta(days=2)),
        "by_day": {0: ("09:00", "17:00")},
        "rows": {("x", "y"): 1},
        "text": "30d",
    }


def test_every_rule_factory_has_readable_annotations() -> None:
    """Every factory a policy file may name has annotations the loader can read."""
    import smspolicy.config as config_module

    for name, factory in config_module._RULES.items():
        hints = typing.get_type_hints(factory, include_extras=True)
        assert set(hints) - {"return"} == set(inspect.signature(factory).parameters), name


def test_quiet_hours_is_typed() -> None:
    """quiet_hours names its options instead of taking **options, and passes them on."""
    parameters = inspect.signature(rules.quiet_hours).parameters
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    quiet = rules.quiet_hours("21:00", "08:00", on_outside="deny", holidays="US")
    assert quiet == rules.sending_window(
        "08:00", "21:00", on_outside="deny", holidays="US", name="quiet_hours"
    )


def test_program_keywords_from_a_policy_file(tmp_path: Path) -> None:
    """A program's own keywords are accepted from TOML, as by Program(keywords=...)."""
    path = write(
        tmp_path,
        """
[[programs]]
name = "Acme"
brand = "Acme"
topic = "deals"
help_contact = "help@acme.example"
frequency = "2 msgs/week"
keywords = { opt_out = ["HALT"], help = ["AIDEZ"] }
""",
    )
    (program,) = load_config(path).programs
    expected = Program(
        "Acme",
        "Acme",
        topic="deals",
        help_contact="help@acme.example",
        frequency="2 msgs/week",
        keywords={"opt_out": ["HALT"], "help": ["AIDEZ"]},
    )
    assert program == expected


@pytest.mark.parametrize(
    "name",
    ["Reassignment", "mark_reassigned", "pennsylvania_extra_holidays", "has_opt_out"],
)
def test_a_rules_name_that_builds_no_rule_is_not_a_type(tmp_path: Path, name: str) -> None:
    """Names that smspolicy.rules exports but that build no rule (an enum, a ledger hook, a
    calendar, a check) are refused as a rule's type."""
    path = write(tmp_path, f'[[rules]]\ntype = "{name}"\n')
    with pytest.raises(PolicyFileError, match="type must name a rule factory"):
        load_config(path)


# --- relaxed forms and the seller's identity ---------------------------------------------------

POLICY_WITH_SELLER = """
name = "acme"
jurisdictions = ["standard"]
relax = ["us.tcpa.written_consent_evidence", "uk.pecr.consent"]

[[programs]]
name = "Acme Deals"
brand = "Acme"
topic = "deals"
help_contact = "help@acme.example"
frequency = "Up to 4 msgs/week"
legal_name = "Acme Corp"
postal_address = "1 Main St, Austin TX 78701"
contact = "acme.example/contact"
registrations = { "US-TX" = "2025-0042" }
"""


def test_policy_file_relaxes_provisions_and_declares_the_seller(tmp_path: Path) -> None:
    """A policy file's relax list reaches the packs (the written-consent evidence becomes a
    warning, the charity soft opt-in applies), and a program table takes the seller's legal
    name, address, contact and Texas registration, so a registered seller's Texas marketing
    carries no warning."""
    config = load_config(write(tmp_path, POLICY_WITH_SELLER))
    (program,) = config.programs
    assert program.legal_name == "Acme Corp"
    assert program.postal_address == "1 Main St, Austin TX 78701"
    assert program.contact == "acme.example/contact"
    assert program.registration("US-TX") == "2025-0042"
    assert program.sender_details() == "Acme Corp, 1 Main St, Austin TX 78701; acme.example/contact"
    at = dt.datetime(2026, 3, 10, 18, tzinfo=dt.UTC)  # 12:00 in Dallas, 18:00 in London
    engine = Engine(config.policy, clock=FrozenClock(at), programs=config.programs)
    dallas = "+12145550123"
    engine.consent.confirm(dallas, topic="deals", purpose="marketing", source="web")
    decision = engine.evaluate(
        Message(
            dallas, "deals", "marketing", body="Acme: 20% off. Reply STOP to opt out.", brand="Acme"
        )
    )
    assert decision.allowed
    assert decision.codes == ("jurisdiction.us.tcpa.written_consent_evidence",)
    london = "+447400123456"
    engine.consent.imply(
        london, basis="inquiry", purpose="marketing", topic="deals", source="web:volunteer form"
    )
    charity = engine.evaluate(
        Message(
            london, "deals", "marketing", body="Acme: join us. Reply STOP to opt out.", brand="Acme"
        )
    )
    assert charity.allowed, charity.codes


def test_the_same_file_without_relax_denies(tmp_path: Path) -> None:
    """Without relax the written-consent evidence is required: the same Dallas text is DENY."""
    text = POLICY_WITH_SELLER.replace(
        'relax = ["us.tcpa.written_consent_evidence", "uk.pecr.consent"]\n', ""
    )
    config = load_config(write(tmp_path, text))
    at = dt.datetime(2026, 3, 10, 18, tzinfo=dt.UTC)
    engine = Engine(config.policy, clock=FrozenClock(at), programs=config.programs)
    dallas = "+12145550123"
    engine.consent.confirm(dallas, topic="deals", purpose="marketing", source="web")
    decision = engine.evaluate(
        Message(
            dallas, "deals", "marketing", body="Acme: 20% off. Reply STOP to opt out.", brand="Acme"
        )
    )
    assert decision.verdict is Verdict.DENY
    assert decision.codes == ("jurisdiction.us.tcpa.written_consent_evidence",)


@pytest.mark.parametrize(
    ("text", "key", "line", "problem"),
    [
        pytest.param(
            'jurisdictions = ["standard"]\nrelax = ["us.tcpa.window"]\n',
            "relax",
            2,
            "without a relaxed form",
            id="not-relaxable",
        ),
        pytest.param(
            'jurisdictions = ["standard"]\nrelax = ["uk.pecr.nowhere"]\n',
            "relax",
            2,
            r"not in the chosen packs: \['uk.pecr.nowhere'\]",
            id="relax-unknown",
        ),
        pytest.param(
            'jurisdictions = ["us"]\nrelax = ["uk.pecr.consent"]\n',
            "relax",
            2,
            r"not in the chosen packs: \['uk.pecr.consent'\]",
            id="relax-of-a-pack-not-chosen",
        ),
        pytest.param(
            '[[programs]]\nname = "D"\nbrand = "A"\nhelp_contact = "h"\nfrequency = "1 msgs/week"\n'
            "topic = 5\n",
            "programs[0]",
            1,
            "Program.topic must be non-empty text",
            id="topic-not-text",
        ),
        pytest.param(
            '[[programs]]\nname = "D"\nbrand = "A"\nhelp_contact = "h"\nfrequency = "1 msgs/week"\n'
            "senders = 5\n",
            "programs[0]",
            1,
            "senders must be a list of origination identities",
            id="senders-not-a-list",
        ),
        pytest.param(
            'jurisdictions = ["standard"]\nrelax = "uk.pecr.consent"\n',
            "relax",
            2,
            "list of provision ids",
            id="not-a-list",
        ),
        pytest.param(
            'relax = ["uk.pecr.consent"]\n', "relax", 1, "add jurisdictions", id="no-packs"
        ),
        pytest.param(
            'jurisdictions = ["standard"]\nenable = ["us.nowhere", 5]\n',
            "enable",
            2,
            "enable must be a list of provision ids",
            id="enable-not-text",
        ),
        pytest.param(
            'jurisdictions = ["standard"]\nenable = [["us.al.window"]]\n',
            "enable",
            2,
            "enable must be a list of provision ids",
            id="enable-nested-list",
        ),
        pytest.param(
            'jurisdictions = ["standard"]\nenable = ["us.nowhere"]\n',
            "enable",
            2,
            "unknown provisions",
            id="enable-unknown",
        ),
        pytest.param(
            '[[programs]]\nname = "D"\nbrand = "A"\nhelp_contact = "h"\nfrequency = "1 msgs/week"\n'
            'registrations = { Texas = "1" }\n',
            "programs[0]",
            1,
            "jurisdiction code",
            id="registration-key",
        ),
        pytest.param(
            '[[programs]]\nname = "D"\nbrand = "A"\nhelp_contact = "h"\nfrequency = "1 msgs/week"\n'
            'legal_name = ""\n',
            "programs[0]",
            1,
            "legal_name",
            id="blank-legal-name",
        ),
    ],
)
def test_relax_and_seller_errors_name_the_key(
    tmp_path: Path, text: str, key: str, line: int, problem: str
) -> None:
    """Mistakes in relax, enable and the seller's fields are PolicyFileErrors naming the key
    and the line."""
    with pytest.raises(PolicyFileError, match=problem) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.key == key
    assert caught.value.line == line


def test_program_tables_take_every_program_field() -> None:
    """The keys a program table accepts are Program's own fields, no list kept apart."""
    import attrs

    from smspolicy import config

    assert {f.name for f in attrs.fields(Program) if f.init} == config._PROGRAM_KEYS
