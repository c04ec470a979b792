"""Do-not-call registries (`smspolicy.dnc`) and `rules.do_not_call`."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import Engine, Message, Policy, Verdict, dnc, rules
from smspolicy.cli import main
from smspolicy.consent import WrittenConsent
from smspolicy.errors import ConfigurationError, InvalidInputError
from smspolicy.testing import FrozenClock

LISTED = "+12025550123"
UNLISTED = "+12025550124"
COPY = dt.date(2026, 10, 1)
UTC = dt.UTC


def registry(as_of: dt.date | None = COPY, *entries: str) -> dnc.NumberList:
    return dnc.NumberList.of(entries or ("2025550123",), name="us.national", as_of=as_of)


def engine_at(at: dt.datetime, rule: object) -> tuple[Engine, FrozenClock]:
    clock = FrozenClock(at)
    return Engine(Policy(rule), clock=clock), clock  # type: ignore[arg-type]


def marketing(number: str = LISTED, **kwargs: object) -> Message:
    return Message(number, "deals", "marketing", brand="Acme", **kwargs)  # type: ignore[arg-type]


NOW = dt.datetime(2026, 10, 20, 15, tzinfo=UTC)


def test_listed_number_is_denied_unlisted_allowed() -> None:
    """A listed number gets DENY dnc.listed with the registry, copy date and citation."""
    engine, _ = engine_at(NOW, rules.do_not_call(registry()))
    denied = engine.evaluate(marketing())
    assert denied.verdict is Verdict.DENY
    assert denied.codes == ("dnc.listed",)
    (reason,) = denied.reasons
    assert reason.citation == "47 CFR 64.1200(c)(2)"
    assert reason.data["registry"] == "us.national"
    assert reason.data["as_of"] == "2026-10-01"
    assert engine.evaluate(marketing(UNLISTED)).allowed


def test_transactional_messages_pass_a_listed_number() -> None:
    """The registries bar solicitations only: a transactional message to a listed number is
    allowed, even with a stale copy."""
    rule = rules.do_not_call(registry(dt.date(2020, 1, 1)))
    engine, _ = engine_at(NOW, rule)
    assert engine.evaluate(Message(LISTED, "alerts", "transactional")).allowed


@pytest.mark.parametrize(
    ("now", "verdict"),
    [
        pytest.param(dt.datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC), Verdict.ALLOW, id="31-days"),
        pytest.param(dt.datetime(2026, 11, 2, 0, 0, tzinfo=UTC), Verdict.DENY, id="32-days"),
        pytest.param(dt.datetime(2026, 10, 1, 0, 0, tzinfo=UTC), Verdict.ALLOW, id="same-day"),
        pytest.param(dt.datetime(2026, 9, 30, 12, 0, tzinfo=UTC), Verdict.ALLOW, id="future-copy"),
    ],
)
def test_a_copy_older_than_31_days_is_stale(now: dt.datetime, verdict: Verdict) -> None:
    """The copy of 2026-10-01 may be used through 2026-11-01 (31 days, 64.1200(c)(2)(i)(D));
    from 2026-11-02 every marketing message is DENY dnc.stale, listed or not."""
    engine, _ = engine_at(now, rules.do_not_call(registry()))
    decision = engine.evaluate(marketing(UNLISTED))
    assert decision.verdict is verdict
    if verdict is Verdict.DENY:
        assert decision.codes == ("dnc.stale",)
        assert decision.reasons[0].data["max_days"] == 31
        assert decision.reasons[0].data["as_of"] == "2026-10-01"


GUAM = "+16715550123"  # Pacific/Guam, UTC+10 all year: a US territory the TCPA reaches


@pytest.mark.parametrize(
    ("now", "verdict"),
    [
        pytest.param(
            dt.datetime(2026, 11, 1, 13, 59, 59, tzinfo=UTC),
            Verdict.ALLOW,
            id="guam-2026-11-01-23:59:59",
        ),
        pytest.param(
            dt.datetime(2026, 11, 1, 14, 0, tzinfo=UTC), Verdict.DENY, id="guam-2026-11-02-00:00"
        ),
    ],
)
def test_the_day_of_the_call_is_the_latest_calendar_date_of_the_call(
    now: dt.datetime, verdict: Verdict
) -> None:
    """The copy of 2026-10-01 is stale once the call's date is 2026-11-02 anywhere it is
    made or received: at 14:00 UTC on 2026-11-01 it is already 2026-11-02 in Guam."""
    engine, _ = engine_at(now, rules.do_not_call(registry()))
    decision = engine.evaluate(marketing(GUAM))
    assert decision.verdict is verdict
    if verdict is Verdict.DENY:
        assert decision.codes == ("dnc.stale",)


def test_max_age_is_configurable_and_none_disables_it() -> None:
    """``max_age`` sets the limit (7 days: the 8th day is stale); None never goes stale, nor
    does a registry read live (``as_of`` None)."""
    at = dt.datetime(2026, 10, 9, 12, tzinfo=UTC)
    week = rules.do_not_call(registry(), max_age=dt.timedelta(days=7))
    assert engine_at(at, week)[0].evaluate(marketing(UNLISTED)).codes == ("dnc.stale",)
    at8 = dt.datetime(2026, 10, 8, 12, tzinfo=UTC)
    assert engine_at(at8, week)[0].evaluate(marketing(UNLISTED)).allowed
    late = dt.datetime(2030, 1, 1, tzinfo=UTC)
    never = rules.do_not_call(registry(), max_age=None)
    assert engine_at(late, never)[0].evaluate(marketing(UNLISTED)).allowed
    live = rules.do_not_call(registry(None))
    assert engine_at(late, live)[0].evaluate(marketing(UNLISTED)).allowed
    assert engine_at(late, live)[0].evaluate(marketing()).codes == ("dnc.listed",)


@pytest.mark.parametrize(
    ("offset", "allowed"),
    [
        pytest.param(dt.timedelta(seconds=-1), True, id="last-second"),
        pytest.param(dt.timedelta(0), False, id="18-months"),
    ],
)
def test_purchase_exempts_for_18_months(offset: dt.timedelta, allowed: bool) -> None:
    """A purchase on 2025-05-20 12:00 UTC exempts the listed number until 2026-11-20 12:00 UTC
    (18 months, 64.1200(f)(5)), not at that instant."""
    purchase = dt.datetime(2025, 5, 20, 12, tzinfo=UTC)
    engine, clock = engine_at(purchase, rules.do_not_call(registry(), max_age=None))
    engine.consent.imply(LISTED, basis="purchase", purpose="marketing", source="pos", brand="Acme")
    clock.set(dt.datetime(2026, 11, 20, 12, tzinfo=UTC) + offset)
    assert engine.evaluate(marketing()).allowed is allowed


@pytest.mark.parametrize(
    ("end", "allowed"),
    [
        pytest.param(dt.datetime(2026, 4, 30, 11, 59, 59, tzinfo=UTC), True, id="last-second"),
        pytest.param(dt.datetime(2026, 4, 30, 12, tzinfo=UTC), False, id="3-months"),
    ],
)
def test_inquiry_exempts_for_3_months(end: dt.datetime, allowed: bool) -> None:
    """An inquiry on 2026-01-31 12:00 UTC exempts the listed number until 2026-04-30 12:00 UTC
    (3 months, the month's last day), not at that instant."""
    inquiry = dt.datetime(2026, 1, 31, 12, tzinfo=UTC)
    engine, clock = engine_at(inquiry, rules.do_not_call(registry(), max_age=None))
    engine.consent.imply(LISTED, basis="inquiry", purpose="marketing", source="web", brand="Acme")
    clock.set(end)
    assert engine.evaluate(marketing()).allowed is allowed


def test_other_implied_bases_and_other_brands_do_not_exempt() -> None:
    """A soft opt-in is no business relationship, and a purchase from another brand is not one
    with this seller."""
    engine, _ = engine_at(NOW, rules.do_not_call(registry()))
    engine.consent.imply(LISTED, basis="soft_opt_in", purpose="marketing", source="x")
    engine.consent.imply(LISTED, basis="purchase", purpose="marketing", source="x", brand="Other")
    assert engine.evaluate(marketing()).codes == ("dnc.listed",)


def test_soft_opt_in_does_not_hide_a_purchase() -> None:
    """A soft opt-in recorded before a purchase does not shadow the purchase's exemption."""
    engine, _ = engine_at(NOW, rules.do_not_call(registry()))
    engine.consent.imply(LISTED, basis="soft_opt_in", purpose="marketing", source="x")
    engine.consent.imply(LISTED, basis="purchase", purpose="marketing", source="pos")
    assert engine.evaluate(marketing()).allowed


def test_written_consent_exempts_until_revoked() -> None:
    """Confirmed marketing consent for the topic exempts the listed number; a later revocation
    ends the exemption (and the relationship)."""
    engine, clock = engine_at(NOW, rules.do_not_call(registry()))
    engine.consent.imply(LISTED, basis="purchase", purpose="marketing", source="pos")
    engine.consent.confirm(LISTED, topic="deals", purpose="marketing", source="web:form")
    assert engine.evaluate(marketing()).allowed
    clock.advance(dt.timedelta(minutes=1))
    engine.consent.revoke(LISTED, source="keyword:STOP")
    assert engine.evaluate(marketing()).codes == ("dnc.listed",)


SIGNED = WrittenConsent("esign:envelope-7 (203.0.113.7)", "Acme may text me offers", LISTED)


@pytest.mark.parametrize(
    ("evidence", "exempt"),
    [
        pytest.param(None, False, id="confirmed-without-a-signed-agreement"),
        pytest.param(SIGNED.evidence(), True, id="signed-written-agreement"),
        pytest.param(
            WrittenConsent("esign:9", "Acme may text me offers", UNLISTED).evidence(),
            False,
            id="agreement-for-another-number",
        ),
    ],
)
def test_the_consent_exemption_needs_a_signed_written_agreement(
    evidence: dict[str, object] | None, exempt: bool
) -> None:
    """64.1200(c)(2)(ii): the permission that exempts a listed number is evidenced by a signed,
    written agreement naming the number; a confirmed consent without one does not exempt."""
    engine, _ = engine_at(NOW, rules.do_not_call(registry(), exemptions=("written_consent",)))
    engine.consent.confirm(
        LISTED, topic="deals", purpose="marketing", source="web", evidence=evidence
    )
    decision = engine.evaluate(marketing())
    assert decision.allowed is exempt
    if not exempt:
        assert decision.codes == ("dnc.listed",)


def test_transactional_consent_does_not_exempt() -> None:
    """Consent to transactional messages is no invitation to market."""
    engine, _ = engine_at(NOW, rules.do_not_call(registry()))
    engine.consent.confirm(LISTED, topic="deals", purpose="transactional", source="web")
    assert engine.evaluate(marketing()).codes == ("dnc.listed",)


@pytest.mark.parametrize(
    ("exemptions", "purchase", "confirmed"),
    [
        pytest.param((), True, True, id="internal-list"),
        pytest.param(("ebr",), False, True, id="ebr-only"),
        pytest.param(("written_consent",), True, False, id="consent-only"),
    ],
)
def test_exemptions_can_be_narrowed(
    exemptions: tuple[str, ...], purchase: bool, confirmed: bool
) -> None:
    """With ``exemptions=()`` (a sender's own list) nothing exempts; each exemption can be kept
    alone."""
    rule = rules.do_not_call(registry(), exemptions=exemptions)
    engine, _ = engine_at(NOW, rule)
    if purchase:
        engine.consent.imply(LISTED, basis="purchase", purpose="marketing", source="pos")
    if confirmed:
        engine.consent.confirm(LISTED, topic="deals", purpose="marketing", source="web")
    assert engine.evaluate(marketing()).codes == ("dnc.listed",)


def test_kept_exemption_alone_still_exempts() -> None:
    """``exemptions=("ebr",)`` still honours a purchase; ``("written_consent",)`` a consent."""
    engine, _ = engine_at(NOW, rules.do_not_call(registry(), exemptions=("ebr",)))
    engine.consent.imply(LISTED, basis="purchase", purpose="marketing", source="pos")
    assert engine.evaluate(marketing()).allowed
    engine, _ = engine_at(NOW, rules.do_not_call(registry(), exemptions=("written_consent",)))
    engine.consent.confirm(
        LISTED, topic="deals", purpose="marketing", source="web", evidence=SIGNED.evidence()
    )
    assert engine.evaluate(marketing()).allowed


def test_a_tampered_ledger_exempts_nobody() -> None:
    """A ledger whose chain does not verify gives no exemption: a purchase edited behind the
    ledger's back (hash left alone) no longer exempts."""
    from smspolicy._records import ConsentEvent
    from smspolicy.store import MemoryStore

    store = MemoryStore()
    engine = Engine(Policy(rules.do_not_call(registry())), store, FrozenClock(NOW))
    engine.consent.imply(LISTED, basis="purchase", purpose="marketing", source="pos")
    assert engine.evaluate(marketing()).allowed
    chain = store._events[LISTED]
    data = chain[0].to_json()
    data["source"] = "edited"
    chain[0] = ConsentEvent.from_json(data)
    engine = Engine(Policy(rules.do_not_call(registry())), store, FrozenClock(NOW))
    assert engine.evaluate(marketing()).codes == ("dnc.listed",)


@pytest.mark.parametrize(
    "function",
    [
        pytest.param(lambda n: 1 / 0, id="raises"),
        pytest.param(lambda n: "yes", id="not-a-bool"),
    ],
)
def test_a_failing_registry_fails_closed(function: object) -> None:
    """A registry that raises or answers nonsense is DENY dnc.unavailable for marketing."""
    source = dnc.CallableRegistry(function, name="state", as_of=COPY)  # type: ignore[arg-type]
    engine, _ = engine_at(NOW, rules.do_not_call(source))
    decision = engine.evaluate(marketing())
    assert decision.codes == ("dnc.unavailable",)
    assert decision.reasons[0].data["registry"] == "state"


def test_callable_registry_answers() -> None:
    """A callable registry is asked with the E.164 number."""
    asked: list[str] = []

    def lookup(number: str) -> bool:
        asked.append(number)
        return number == LISTED

    engine, _ = engine_at(NOW, rules.do_not_call(dnc.CallableRegistry(lookup, name="api")))
    assert engine.evaluate(marketing("+1 202-555-0123")).codes == ("dnc.listed",)
    assert engine.evaluate(marketing(UNLISTED)).allowed
    assert asked == [LISTED, UNLISTED]


def test_file_entries_numbers_and_ranges(tmp_path: Path) -> None:
    """A registry file takes ten-digit numbers, the FTC's ``AAA,NNNNNNN``, E.164, comments and
    ``FIRST..LAST`` ranges; a range holds both its ends and nothing beyond."""
    path = tmp_path / "dnc.txt"
    path.write_text(
        "# FTC subscriber download\n2025550123\n\n212,5550199\n+12145550100..+12145550199\n"
    )
    copy = dnc.read_file(path, name="us.national", as_of=COPY)
    expected = {
        "+12025550123": True,
        "+12025550122": False,
        "+12125550199": True,
        "+12145550099": False,
        "+12145550100": True,
        "+12145550150": True,
        "+12145550199": True,
        "+12145550200": False,
        "+442025550123": False,
    }
    assert {n: copy.listed(n) for n in expected} == expected


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param("hello", "not a phone number", id="text"),
        pytest.param("+12145550199..+12145550100", "upwards", id="downwards"),
        pytest.param("+12145550100..+442079460000", "one length", id="lengths"),
        pytest.param("+1202", "not a possible", id="short"),
    ],
)
def test_bad_entries_name_their_line(line: str, problem: str) -> None:
    """A bad line is an InvalidInputError naming the source and line number."""
    with pytest.raises(InvalidInputError, match=rf"^dnc\.txt:2: .*{problem}"):
        list(dnc.parse_entries(["2025550123", line], source="dnc.txt"))


def test_merge_joins_overlapping_and_adjacent_ranges_only() -> None:
    """Overlapping and adjacent ranges merge; a gap of one number keeps them apart."""
    assert dnc.merge_ranges([(5, 7), (1, 2), (3, 4), (6, 9), (11, 12)]) == [(1, 9), (11, 12)]
    assert dnc.merge_ranges([(1, 10), (2, 3)]) == [(1, 10)]


ranges = st.lists(
    st.tuples(st.integers(10**10, 10**10 + 60), st.integers(0, 8)).map(
        lambda p: (p[0], p[0] + p[1])
    ),
    max_size=8,
)


@given(ranges, st.integers(10**10 - 2, 10**10 + 72))
def test_a_number_is_listed_exactly_when_a_range_holds_it(
    spans: list[tuple[int, int]], key: int
) -> None:
    """Lookups in memory agree with a scan of the unmerged ranges."""
    copy = dnc.NumberList("x", COPY, spans)
    assert copy.listed(f"+{key}") is any(lo <= key <= hi for lo, hi in spans)


def test_sqlite_registry_imports_and_replaces(tmp_path: Path) -> None:
    """A SQLite copy answers like the file; a new import replaces the numbers and the date,
    seen at once by an open registry; a failed import keeps the previous copy."""
    db = tmp_path / "store.sqlite3"
    copy = dnc.SQLiteRegistry(db, "us.national")
    with pytest.raises(ConfigurationError, match="no copy"):
        _ = copy.as_of
    count = copy.replace(
        dnc.parse_entries(["2025550123", "+12145550100..+12145550199", "2145550150"]),
        as_of=COPY,
        source="a.txt",
        now=NOW,
    )
    assert count == 2
    assert copy.as_of == COPY
    answers = {n: copy.listed(n) for n in ("+12025550123", "+12145550099", "+12145550100")}
    assert answers == {"+12025550123": True, "+12145550099": False, "+12145550100": True}
    assert copy.listed("+12145550199")
    assert not copy.listed("+12145550200")

    def broken() -> object:
        yield (12025550124, 12025550124)
        raise InvalidInputError("bad line")

    with pytest.raises(InvalidInputError):
        copy.replace(broken(), as_of=dt.date(2026, 11, 1), source="b.txt", now=NOW)  # type: ignore[arg-type]
    assert copy.as_of == COPY
    assert copy.listed("+12025550123")
    other = dnc.SQLiteRegistry(db, "us.national")
    other.replace([(12025550124, 12025550124)], as_of=dt.date(2026, 11, 1), source="c", now=NOW)
    assert copy.as_of == dt.date(2026, 11, 1)
    assert not copy.listed("+12025550123")
    assert copy.listed("+12025550124")
    assert not dnc.SQLiteRegistry(db, "us-tx").listed("+12025550124")  # per registry name


def test_a_registry_without_copy_fails_closed(tmp_path: Path) -> None:
    """A rule over a table with no imported copy denies marketing (dnc.unavailable)."""
    copy = dnc.SQLiteRegistry(tmp_path / "x.sqlite3", "us.national")
    engine, _ = engine_at(NOW, rules.do_not_call(copy))
    assert engine.evaluate(marketing()).codes == ("dnc.unavailable",)


def test_cli_import_then_decide(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``smspolicy dnc import`` stores a file's copy with its date in the store's database."""
    source = tmp_path / "national.txt"
    source.write_text("2025550123\n212,5550199\n")
    db = tmp_path / "store.sqlite3"
    code = main(
        [
            "dnc",
            "import",
            str(source),
            "--name",
            "us.national",
            "--date",
            "2026-10-01",
            "--db",
            str(db),
        ]
    )
    assert code == 0
    assert "2 ranges imported, copy of 2026-10-01" in capsys.readouterr().out
    copy = dnc.SQLiteRegistry(db, "us.national")
    assert copy.as_of == COPY
    assert copy.listed("+12125550199")
    assert not copy.listed("+12125550198")


@pytest.mark.parametrize(
    ("content", "date", "problem"),
    [
        pytest.param("2025550123\n", "2026-13-01", "not an ISO 8601 date", id="date"),
        pytest.param("2025550123\nhello\n", "2026-10-01", "national.txt:2: not a phone", id="line"),
        pytest.param(None, "2026-10-01", "cannot read", id="missing"),
        pytest.param(b"20255\xff50123\n", "2026-10-01", "not valid utf-8", id="bytes"),
    ],
)
def test_cli_import_refuses_bad_input(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes | None,
    date: str,
    problem: str,
) -> None:
    """Bad dates, lines, files and bytes are reported (exit 2) and nothing is imported."""
    source = tmp_path / "national.txt"
    if isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        source.write_text(content)
    db = tmp_path / "store.sqlite3"
    args = ["dnc", "import", str(source), "--name", "n", "--date", date, "--db", str(db)]
    assert main(args) == 2
    assert problem in capsys.readouterr().err
    if db.exists():
        with pytest.raises(ConfigurationError):
            _ = dnc.SQLiteRegistry(db, "n").as_of


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        pytest.param({"max_age": dt.timedelta(days=-1)}, "non-negative", id="negative-age"),
        pytest.param({"max_age": 31}, "timedelta", id="int-age"),
        pytest.param({"exemptions": ("ebr", "friendship")}, "friendship", id="exemption"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], problem: str) -> None:
    """Misconfiguration is a ConfigurationError when the rule is built."""
    with pytest.raises(ConfigurationError, match=problem):
        rules.do_not_call(registry(), **kwargs)  # type: ignore[arg-type]


def test_bad_registries_are_refused() -> None:
    """A registry must have a name, a date (not a datetime) and a lookup."""
    with pytest.raises(ConfigurationError, match="not a registry"):
        rules.do_not_call(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="name"):
        dnc.NumberList(" ", COPY, [])
    with pytest.raises(ConfigurationError, match="date"):
        dnc.NumberList("x", NOW, [])


def test_repr_reads_like_the_call() -> None:
    """The rule's repr shows the registry and the non-default arguments."""
    rule = rules.do_not_call(registry(), exemptions=())
    assert repr(rule) == (
        "do_not_call(NumberList('us.national', as_of=2026-10-01, 1 ranges), exemptions=[])"
    )


def test_postgres_registry() -> None:
    """The PostgreSQL copy answers like the SQLite one."""
    import psycopg

    from tests.services import POSTGRES_DSN, _unavailable

    schema = "t_" + uuid.uuid4().hex[:16]
    try:
        copy = dnc.PostgresRegistry(POSTGRES_DSN, "us.national", schema=schema)
    except psycopg.OperationalError as error:
        _unavailable(f"PostgreSQL at {POSTGRES_DSN!r}", error)
        raise
    try:
        copy.replace([(12025550100, 12025550199)], as_of=COPY, source="a", now=NOW)
        assert copy.as_of == COPY
        assert copy.listed("+12025550100")
        assert copy.listed("+12025550199")
        assert not copy.listed("+12025550099")
        assert not copy.listed("+12025550200")
        copy.replace([(12025550300, 12025550300)], as_of=dt.date(2026, 11, 1), source="b", now=NOW)
        assert not copy.listed("+12025550100")
        assert copy.listed("+12025550300")
        assert copy.as_of == dt.date(2026, 11, 1)
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')  # type: ignore[arg-type]
        copy.close()


def test_reasons_carry_the_rule_registry_and_citation() -> None:
    """Every reason names the rule and the registry and cites the regulation; a failure says
    what went wrong; a live registry's copy reads "live"."""
    stale = rules.do_not_call(registry())
    late = dt.datetime(2026, 12, 1, tzinfo=UTC)
    (reason,) = engine_at(late, stale)[0].evaluate(marketing(UNLISTED)).reasons
    assert (reason.rule, reason.citation) == ("do_not_call", "47 CFR 64.1200(c)(2)")
    assert reason.data["registry"] == "us.national"
    failing = dnc.CallableRegistry(lambda n: 1 / 0, name="state", as_of=COPY)
    (reason,) = engine_at(NOW, rules.do_not_call(failing))[0].evaluate(marketing()).reasons
    assert (reason.rule, reason.citation) == ("do_not_call", "47 CFR 64.1200(c)(2)")
    assert reason.data["error"] == "ZeroDivisionError: division by zero"
    live = rules.do_not_call(registry(None), citation="Tex. Bus. & Com. Code § 304", name="tx")
    (reason,) = engine_at(NOW, live)[0].evaluate(marketing()).reasons
    assert (reason.rule, reason.citation) == ("tx", "Tex. Bus. & Com. Code § 304")
    assert reason.data["as_of"] == "live"


def test_an_address_that_is_not_a_number_fails_closed() -> None:
    """An email recipient cannot be looked up: marketing to it is DENY dnc.unavailable."""
    from smspolicy._context import Context
    from smspolicy._recipients import Recipient

    message = Message("a@example.com", "deals", "marketing", channel="email")
    context = Context(now=NOW, recipient=Recipient("a@example.com", True))
    decision = rules.do_not_call(registry())(message, context)
    assert decision.codes == ("dnc.unavailable",)
    assert "not a phone number" in str(decision.reasons[0].data["error"])


def test_max_age_of_zero_days_means_todays_copy() -> None:
    """``max_age=timedelta(0)``: a copy of today is fresh, of yesterday stale."""
    today = rules.do_not_call(registry(NOW.date()), max_age=dt.timedelta(0))
    assert engine_at(NOW, today)[0].evaluate(marketing(UNLISTED)).allowed
    yesterday = rules.do_not_call(
        registry(NOW.date() - dt.timedelta(days=1)), max_age=dt.timedelta(0)
    )
    assert engine_at(NOW, yesterday)[0].evaluate(marketing(UNLISTED)).codes == ("dnc.stale",)
    assert "max_age=datetime.timedelta(0)" in repr(today)


def test_a_registry_needs_a_text_name() -> None:
    """An object with ``listed`` but no text ``name`` is no registry."""

    class Nameless:
        name = 5
        as_of = None

        def listed(self, number: str) -> bool:
            return False

    with pytest.raises(ConfigurationError, match="not a registry"):
        rules.do_not_call(Nameless())  # type: ignore[arg-type]


def test_numbers_are_read_in_the_region_given() -> None:
    """National numbers, single ones and ranges (a range of one included), are read in the
    region given: London numbers with region GB; ten digits are US numbers only for US."""
    london = dnc.NumberList.of(
        ["020 7946 0000..020 7946 0099", "2079460500..2079460500", "202 555 0123"],
        name="uk.tps",
        as_of=COPY,
        region="GB",
    )
    assert london.ranges == ((442025550123, 442025550123), (442079460000, 442079460099),
                             (442079460500, 442079460500))  # fmt: skip
    us = dnc.NumberList.of(["202 555 0123", "12025550124"], name="us", as_of=COPY)
    assert us.ranges == ((12025550123, 12025550124),)


@pytest.mark.parametrize(
    ("number", "listed"),
    [
        pytest.param("12025550123", True, id="without-plus"),
        pytest.param("+12025550123", True, id="with-plus"),
        pytest.param("+123456789012345", False, id="15-digits"),
        pytest.param("+1", False, id="1-digit"),
    ],
)
def test_lookups_take_e164_digits(number: str, listed: bool) -> None:
    """A lookup takes E.164 with or without the plus, from 1 to 15 digits."""
    assert registry().listed(number) is listed


@pytest.mark.parametrize("number", ["+1234567890123456", "+", "", "+1202555O123"])
def test_lookups_refuse_what_is_not_e164(number: str) -> None:
    """More than 15 digits, no digits or a letter is an InvalidInputError naming the input."""
    with pytest.raises(InvalidInputError, match=r"not an E\.164 number"):
        registry().listed(number)


def test_read_file_keeps_date_region_and_names_the_file(tmp_path: Path) -> None:
    """read_file skips a byte-order mark, keeps the copy's date, reads in the region given and
    names the file in errors."""
    path = tmp_path / "tps.txt"
    path.write_bytes("\ufeff020 7946 0000\n".encode())
    copy = dnc.read_file(path, name="uk.tps", as_of=COPY, region="GB")
    assert copy.as_of == COPY
    assert copy.listed("+442079460000")
    path.write_text("2025550123\nnonsense\n")
    with pytest.raises(InvalidInputError, match="^" + re.escape(f"{tmp_path / 'tps.txt'}:2: ")):
        dnc.read_file(path, name="x", as_of=COPY)
    with pytest.raises(InvalidInputError, match=r"^line:1: "):
        list(dnc.parse_entries(["nonsense"]))


def test_a_stop_on_another_topic_ends_the_exemption() -> None:
    """A do-not-call request to the seller ends the relationship: after "STOP ALERTS" the
    listed number's written consent for deals no longer exempts it (the brand's scope)."""
    engine, clock = engine_at(NOW, rules.do_not_call(registry(), exemptions=("written_consent",)))
    engine.consent.confirm(
        LISTED,
        topic="deals",
        purpose="marketing",
        source="web",
        brand="Acme",
        evidence=SIGNED.evidence(),
    )
    assert engine.evaluate(marketing()).allowed
    clock.advance(dt.timedelta(minutes=1))
    engine.consent.revoke(LISTED, topic="alerts", source="keyword:STOP ALERTS", brand="Acme")
    denied = engine.evaluate(marketing())
    assert denied.verdict is Verdict.DENY
    assert denied.codes == ("dnc.listed",)


def test_failures_say_what_was_wrong(tmp_path: Path) -> None:
    """A registry answering something other than True or False is named with its answer in the
    DENY's error; an import without a date says it needs one."""
    yes = dnc.CallableRegistry(lambda number: "yes", name="internal")  # type: ignore[arg-type,return-value]
    engine, _ = engine_at(NOW, rules.do_not_call(yes))
    (reason,) = engine.evaluate(marketing()).reasons
    assert reason.code == "dnc.unavailable"
    assert reason.data["error"] == (
        "InvalidInputError: registry 'internal' answered 'yes', not a bool"
    )
    copy = dnc.SQLiteRegistry(tmp_path / "dnc.sqlite3", "us.national")
    with pytest.raises(ConfigurationError, match="an imported copy needs its date"):
        copy.replace([], as_of=None, source="x", now=NOW)  # type: ignore[arg-type]


def test_a_sqlite_registry_answers_from_another_thread(tmp_path: Path) -> None:
    """One SQLiteRegistry serves the engine's worker threads."""
    import threading

    copy = dnc.SQLiteRegistry(tmp_path / "dnc.sqlite3", "us.national")
    copy.replace([(12025550123, 12025550123)], as_of=COPY, source="x", now=NOW)
    answers: list[bool] = []
    worker = threading.Thread(target=lambda: answers.append(copy.listed(LISTED)))
    worker.start()
    worker.join()
    assert answers == [True]
    copy.close()
