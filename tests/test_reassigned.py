"""`rules.reassigned_numbers`: the FCC's Reassigned Numbers Database (47 CFR 64.1200(m))."""

from __future__ import annotations

import datetime as dt

import pytest

from smspolicy import Engine, Message, Policy, rules
from smspolicy.errors import ConfigurationError
from smspolicy.store import MemoryStore
from smspolicy.testing import FrozenClock

NUMBER = "+12125550123"
CONSENTED = dt.datetime(2025, 1, 15, 12, tzinfo=dt.UTC)
AGE = dt.timedelta(days=90)


class Database:
    """A stand-in for the database: answers by number, and counts the questions."""

    def __init__(self, answer: object = "not_reassigned") -> None:
        self.answer = answer
        self.asked: list[tuple[str, dt.date]] = []

    def __call__(self, number: str, since: dt.date) -> object:
        self.asked.append((number, since))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def setup(
    database: Database, *, at: dt.datetime, purpose: str = "marketing", **kwargs: object
) -> tuple[Engine, FrozenClock]:
    clock = FrozenClock(CONSENTED)
    store = MemoryStore()
    rule = rules.reassigned_numbers(database, cache=store, **kwargs)  # type: ignore[arg-type]
    engine = Engine(Policy(rules.consent(), rule), store, clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose=purpose, source="web", brand="Acme")
    clock.set(at)
    return engine, clock


def offer(purpose: str = "marketing") -> Message:
    return Message(NUMBER, "deals", purpose, brand="Acme")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("age", "asked"),
    [
        pytest.param(AGE - dt.timedelta(seconds=1), False, id="younger"),
        pytest.param(AGE, True, id="exactly-min-age"),
    ],
)
def test_only_consent_older_than_min_age_is_checked(age: dt.timedelta, asked: bool) -> None:
    """Consent younger than ``min_age`` is not looked up; at ``min_age`` it is, with the
    consent's date."""
    database = Database("reassigned")
    engine, _ = setup(database, at=CONSENTED + age)
    decision = engine.evaluate(offer())
    assert decision.allowed is not asked
    assert database.asked == ([(NUMBER, dt.date(2025, 1, 15))] if asked else [])


@pytest.mark.parametrize(
    ("consented", "since"),
    [
        pytest.param(
            dt.datetime(2025, 1, 16, 0, 59, 59, tzinfo=dt.UTC),
            dt.date(2025, 1, 15),
            id="19:59:59-in-new-york-00:59:59-utc-next-day",
        ),
        pytest.param(
            dt.datetime(2025, 1, 16, 5, tzinfo=dt.UTC),
            dt.date(2025, 1, 16),
            id="00:00-in-new-york",
        ),
    ],
)
def test_the_database_is_asked_from_the_consents_earliest_date(
    consented: dt.datetime, since: dt.date
) -> None:
    """A consent given at 19:59:59 on 2025-01-15 in New York (already 2025-01-16 in UTC) is
    asked about since 2025-01-15: a later date would miss a disconnection that day."""
    database = Database()
    clock = FrozenClock(consented)
    engine = Engine(
        Policy(rules.consent(), rules.reassigned_numbers(database)), MemoryStore(), clock
    )
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web", brand="Acme")
    clock.set(consented + dt.timedelta(days=120))
    assert engine.evaluate(offer()).allowed
    assert database.asked == [(NUMBER, since)]


def test_reassigned_is_denied_and_the_consent_marked_stale() -> None:
    """A reassigned number is DENY consent.reassigned citing 64.1200(m); with
    ``mark_reassigned`` the ledger gets a revocation naming the database and the consent."""
    database = Database("reassigned")
    clock = FrozenClock(CONSENTED)
    store = MemoryStore()
    holder: list[Engine] = []
    rule = rules.reassigned_numbers(
        database,
        cache=store,
        on_reassigned=lambda n, e: rules.mark_reassigned(holder[0].consent)(n, e),
    )
    engine = Engine(Policy(rules.consent(), rule), store, clock)
    holder.append(engine)
    grant = engine.consent.confirm(
        NUMBER, topic="deals", purpose="marketing", source="web", brand="Acme"
    )
    clock.set(CONSENTED + dt.timedelta(days=400))
    decision = engine.evaluate(offer())
    assert decision.codes == ("consent.reassigned",)
    assert decision.reasons[0].citation == "47 CFR 64.1200(m)"
    assert decision.reasons[0].data["since"] == "2025-01-15"
    revoked = engine.consent.history(NUMBER)[-1]
    assert revoked.kind.value == "revoked"
    assert revoked.source == "fcc:reassigned-numbers-database"
    assert revoked.brand == "Acme"
    assert revoked.evidence == {
        "reason": "reassigned",
        "consent": grant.hash,
        "since": "2025-01-15",
    }
    assert engine.evaluate(offer()).codes == ("consent.revoked",)


def test_not_reassigned_allows_and_the_answer_is_cached() -> None:
    """The safe harbor: "not reassigned" allows; the answer is kept in the store for ``ttl``
    and asked again after it."""
    database = Database("not_reassigned")
    engine, clock = setup(database, at=CONSENTED + dt.timedelta(days=400))
    assert engine.evaluate(offer()).allowed
    clock.advance(dt.timedelta(hours=23, minutes=59))
    assert engine.evaluate(offer()).allowed
    assert len(database.asked) == 1
    clock.advance(dt.timedelta(minutes=1))
    assert engine.evaluate(offer()).allowed
    assert len(database.asked) == 2


@pytest.mark.parametrize(
    ("purpose", "allowed"),
    [
        pytest.param("marketing", False, id="marketing"),
        pytest.param("transactional", True, id="tx"),
    ],
)
def test_a_failing_lookup_fails_closed_for_marketing(purpose: str, allowed: bool) -> None:
    """A lookup that raises or answers nonsense is DENY for marketing, an attached reason
    otherwise; nothing is cached."""
    for failure in (TimeoutError("no answer"), "maybe"):
        database = Database(failure)
        engine, _ = setup(database, at=CONSENTED + dt.timedelta(days=400), purpose=purpose)
        decision = engine.evaluate(offer(purpose))
        assert decision.allowed is allowed
        assert "consent.reassigned_unavailable" in decision.codes
        engine.evaluate(offer(purpose))
        assert len(database.asked) == 2  # not cached


@pytest.mark.parametrize(
    ("on_no_data", "allowed"),
    [pytest.param("allow", True, id="allow"), pytest.param("deny", False, id="deny")],
)
def test_no_data_has_no_safe_harbor(on_no_data: str, allowed: bool) -> None:
    """ "No data" allows with the reason attached, or denies with ``on_no_data="deny"``."""
    engine, _ = setup(Database("no_data"), at=CONSENTED + AGE, on_no_data=on_no_data)
    decision = engine.evaluate(offer())
    assert decision.allowed is allowed
    assert decision.codes == ("consent.reassigned_no_data",)


def test_without_consent_nothing_is_asked() -> None:
    """No consent on record: the consent rule decides and the database is not asked."""
    database = Database("reassigned")
    rule = rules.reassigned_numbers(database)
    engine = Engine(Policy(rule), clock=FrozenClock(CONSENTED))
    assert engine.evaluate(offer()).allowed
    assert database.asked == []


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        pytest.param({"min_age": dt.timedelta(days=-1)}, "^min_age must be", id="min-age"),
        pytest.param({"ttl": 5}, "^ttl must be", id="ttl"),
        pytest.param({"on_no_data": "ignore"}, "on_no_data", id="no-data"),
        pytest.param({"cache": object()}, "cache", id="cache"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], problem: str) -> None:
    """Misconfiguration is a ConfigurationError when the rule is built."""
    with pytest.raises(ConfigurationError, match=problem):
        rules.reassigned_numbers(Database(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="callable"):
        rules.reassigned_numbers("fcc")  # type: ignore[arg-type]


def test_answers_are_cached_per_number_and_date_and_the_callback_runs_once() -> None:
    """Each number and consent date has its own cached answer; the ledger callback runs for a
    fresh "reassigned" answer only, not for the cached one."""
    answers = {NUMBER: "reassigned", "+12125550124": "not_reassigned"}
    asked: list[str] = []

    def database(number: str, since: dt.date) -> str:
        asked.append(number)
        return answers[number]

    told: list[str] = []
    clock = FrozenClock(CONSENTED)
    store = MemoryStore()
    rule = rules.reassigned_numbers(
        database, cache=store, on_reassigned=lambda n, e: told.append(n)
    )
    engine = Engine(Policy(rule), store, clock)
    for number in answers:
        engine.consent.confirm(number, topic="deals", purpose="marketing", source="web")
    clock.set(CONSENTED + dt.timedelta(days=400))
    first = [engine.evaluate(Message(n, "deals", "marketing")).allowed for n in answers]
    again = [engine.evaluate(Message(n, "deals", "marketing")).allowed for n in answers]
    assert first == again == [False, True]
    assert asked == [NUMBER, "+12125550124"]
    assert told == [NUMBER]


def test_a_failing_cache_is_a_miss_and_a_failing_callback_does_not_lift_the_deny() -> None:
    """A cache that raises is bypassed (the database answers); a callback that raises leaves
    the DENY in place."""

    class Broken:
        def cache_get(self, key: str, *, now: dt.datetime) -> str | None:
            raise OSError("cache down")

        def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
            raise OSError("cache down")

    def explode(number: str, event: object) -> None:
        raise RuntimeError("ledger down")

    for answer, allowed in (("not_reassigned", True), ("reassigned", False)):
        database = Database(answer)
        rule = rules.reassigned_numbers(database, cache=Broken(), on_reassigned=explode)  # type: ignore[arg-type]
        clock = FrozenClock(CONSENTED)
        engine = Engine(Policy(rule), clock=clock)
        engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
        clock.set(CONSENTED + AGE)
        assert engine.evaluate(offer()).allowed is allowed
        assert len(database.asked) == 1


def test_consent_of_another_brand_is_not_checked() -> None:
    """The consent checked is the message brand's: another brand's grant does not count."""
    database = Database("reassigned")
    clock = FrozenClock(CONSENTED)
    engine = Engine(Policy(rules.reassigned_numbers(database)), clock=clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="w", brand="Other")
    clock.set(CONSENTED + AGE)
    assert engine.evaluate(offer()).allowed
    assert database.asked == []


def test_reasons_name_the_rule_and_the_error() -> None:
    """A failed lookup's reason names the rule, the consent's date and the error."""
    engine, _ = setup(Database(TimeoutError("no answer")), at=CONSENTED + AGE, name="rnd")
    (reason,) = engine.evaluate(offer()).reasons
    assert reason.rule == "rnd"
    assert reason.data == {"since": "2025-01-15", "error": "TimeoutError: no answer"}


def test_a_revoked_consent_is_not_looked_up() -> None:
    """After a STOP there is no consent to doubt: the rule alone allows without asking (the
    consent rules deny)."""
    database = Database("reassigned")
    clock = FrozenClock(CONSENTED)
    engine = Engine(Policy(rules.reassigned_numbers(database)), clock=clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
    clock.set(CONSENTED + dt.timedelta(days=1))
    engine.consent.revoke(NUMBER, source="keyword:STOP")
    clock.set(CONSENTED + AGE)
    decision = engine.evaluate(offer())
    assert decision.allowed
    assert decision.codes == ()
    assert database.asked == []


def test_an_answer_that_is_not_one_of_the_three_fails_closed_naming_it() -> None:
    """An answer the database does not give ("maybe"), fresh or from the cache, is DENY
    consent.reassigned_unavailable naming an InvalidInputError; the default rule name shows."""
    engine, _ = setup(Database("maybe"), at=CONSENTED + AGE)
    (reason,) = engine.evaluate(offer()).reasons
    assert reason.code == "consent.reassigned_unavailable"
    assert reason.rule == "reassigned_numbers"
    assert str(reason.data["error"]).startswith("InvalidInputError: Reassignment must be one of")
    store = MemoryStore()
    since = CONSENTED.date().isoformat()
    store.cache_put(f"smspolicy:rnd:{NUMBER}:{since}", "maybe", expires=CONSENTED + 2 * AGE)
    clock = FrozenClock(CONSENTED)
    rule = rules.reassigned_numbers(Database("not_reassigned"), cache=store)
    cached = Engine(Policy(rule), store, clock)
    cached.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
    clock.set(CONSENTED + AGE)
    (reason,) = cached.evaluate(offer()).reasons
    assert str(reason.data["error"]).startswith("InvalidInputError:")


def test_failures_of_the_cache_and_the_callback_are_logged_with_the_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cache that cannot keep the answer and a callback that fails are logged, naming the
    number."""

    class NoPut(MemoryStore):
        def cache_put(self, key: str, value: str, *, expires: dt.datetime) -> None:
            raise OSError("cache full")

    def explode(number: str, event: object) -> None:
        raise RuntimeError("ledger down")

    clock = FrozenClock(CONSENTED)
    rule = rules.reassigned_numbers(Database("reassigned"), cache=NoPut(), on_reassigned=explode)
    engine = Engine(Policy(rule), clock=clock)
    engine.consent.confirm(NUMBER, topic="deals", purpose="marketing", source="web")
    clock.set(CONSENTED + AGE)
    with caplog.at_level("WARNING", logger="smspolicy"):
        assert engine.evaluate(offer()).codes == ("consent.reassigned",)
    messages = [record.getMessage() for record in caplog.records]
    assert f"could not cache the reassigned-number answer for {NUMBER}" in messages
    assert f"recording the reassignment of {NUMBER} failed" in messages
    assert repr(rules.reassigned_numbers(Database())).startswith("reassigned_numbers(")


def test_zero_durations_are_accepted() -> None:
    """``min_age=0`` checks every consent and ``ttl=0`` keeps no answer: both are allowed, and
    a microsecond below zero is not."""
    rule = rules.reassigned_numbers(Database(), min_age=dt.timedelta(0), ttl=dt.timedelta(0))
    assert rule.min_age == dt.timedelta(0)
    with pytest.raises(ConfigurationError, match=r"^ttl must be"):
        rules.reassigned_numbers(Database(), ttl=-dt.timedelta(microseconds=1))
