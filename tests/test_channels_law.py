"""Channel-aware law: each provision covers its law's channels, CAN-SPAM and the FCC's
wireless-domain rule for US email, residence for email and push from the profile, and windows
by channel, on the in-memory and SQLite stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from smspolicy import Channel, Engine, Message, Policy, Profile, Verdict, jurisdictions, rules
from smspolicy.errors import ConfigurationError
from smspolicy.jurisdictions._model import PHONE, Provisions, provision
from smspolicy.store import MemoryStore, SQLiteStore, Store
from smspolicy.testing import FrozenClock

from .conftest import T0

# T0 is Wednesday 2025-01-15 15:00 UTC: 10:00 in New York.
BODY = (
    "Acme winter sale: 20% off. Acme Inc., 1600 Main Street, Springfield, IL 62701. "
    "To unsubscribe visit https://acme.example/unsubscribe"
)
PROFILES = {
    "ann@example.com": Profile(country="US", state="US-NY", timezone="America/New_York"),
    "cal@example.ca": Profile(country="CA"),
    "bob@vtext.com": Profile(country="US"),
    "kim@mms.att.net": Profile(country="US"),
    "dee@carrier.example": Profile(country="US"),
    "tok-ny": Profile(timezone="America/New_York"),
    "+12025550143": Profile(timezone="America/New_York"),
}
CA_CONSENT_CODES = (
    "jurisdiction.ca.casl.consent",
    "jurisdiction.uk.pecr.consent",
    "jurisdiction.eu.eprivacy.consent",
    "jurisdiction.jp.consent",
    "jurisdiction.au.consent",
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The in-memory store and a SQLite file."""
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "l.db")
    yield made
    made.close()


def _engine(store: Store, policy: object = None, at: dt.datetime = T0) -> Engine:
    chosen = jurisdictions.standard() if policy is None else policy
    return Engine(chosen, store, FrozenClock(at), profiles=PROFILES)  # type: ignore[arg-type]


def _email(to: str, body: str = BODY, purpose: str = "marketing") -> Message:
    return Message(to, "news", purpose, channel="email", body=body, brand="Acme")


def test_us_marketing_email_needs_no_prior_consent(store: Store) -> None:
    """CAN-SPAM: a US marketing email with a postal address and an opt-out, no consent: ALLOW."""
    assert _engine(store).evaluate(_email("ann@example.com")).verdict is Verdict.ALLOW


def test_the_same_email_to_a_canadian_resident_needs_consent(store: Store) -> None:
    """CASL: the same email to a resident of Canada is denied until consent is on record."""
    engine = _engine(store)
    assert engine.evaluate(_email("cal@example.ca")).codes == ("jurisdiction.ca.casl.consent",)
    engine.consent.confirm("cal@example.ca", topic="news", purpose="marketing", source="form")
    assert engine.evaluate(_email("cal@example.ca")).allowed


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        (
            "Acme sale. To unsubscribe visit https://acme.example/unsubscribe",
            ("jurisdiction.us.canspam.postal_address",),
        ),
        (
            "Acme sale. Acme Inc., PO Box 12, Austin, TX 78701.",
            ("jurisdiction.us.canspam.opt_out",),
        ),
        (
            "Acme sale.",
            ("jurisdiction.us.canspam.postal_address", "jurisdiction.us.canspam.opt_out"),
        ),
    ],
    ids=["no-address", "no-opt-out", "neither"],
)
def test_can_spam_content(store: Store, body: str, codes: tuple[str, ...]) -> None:
    """A US marketing email without a postal address or an opt-out is denied, citing 7704."""
    decision = _engine(store).evaluate(_email("ann@example.com", body))
    assert decision.verdict is Verdict.DENY
    assert decision.codes == codes
    assert all(r.citation and r.citation.startswith("15 U.S.C. 7704") for r in decision.reasons)


def test_an_unsubscribed_us_address_is_denied(store: Store) -> None:
    """An unsubscribe is honoured at once, although CAN-SPAM needs no opt-in."""
    engine = _engine(store)
    engine.consent.revoke("ann@example.com", source="list-unsubscribe", channel="email")
    assert engine.evaluate(_email("ann@example.com")).codes == ("consent.revoked",)


def test_unknown_residence_is_the_strictest_by_default(store: Store) -> None:
    """An email whose profile names no residence gets every law's consent rule for email."""
    engine = _engine(store)
    assert engine.evaluate(_email("nobody@example.com")).codes == CA_CONSENT_CODES
    engine.consent.confirm("nobody@example.com", topic="news", purpose="marketing", source="f")
    assert engine.evaluate(_email("nobody@example.com")).allowed


def test_unknown_residence_may_be_assumed(store: Store) -> None:
    """unknown_residence={"US"} reads an email without residence as a US resident's."""
    engine = _engine(store, jurisdictions.standard(unknown_residence={"US"}))
    assert engine.evaluate(_email("nobody@example.com")).allowed
    assert engine.evaluate(_email("nobody@example.com", "Acme sale.")).codes == (
        "jurisdiction.us.canspam.postal_address",
        "jurisdiction.us.canspam.opt_out",
    )


@pytest.mark.parametrize("bad", ["laxest", "", [], [""], 3], ids=repr)
def test_unknown_residence_is_checked(bad: object) -> None:
    """unknown_residence is "strictest" or jurisdiction codes: anything else is refused."""
    with pytest.raises(ConfigurationError, match="unknown_residence"):
        jurisdictions.standard(unknown_residence=bad)  # type: ignore[arg-type]


def test_transactional_email_needs_no_consent(store: Store) -> None:
    """A receipt by email is allowed without consent, even with residence unknown."""
    receipt = _email("nobody@example.com", "Your receipt", purpose="transactional")
    assert _engine(store).evaluate(receipt).allowed


@pytest.mark.parametrize("address", ["bob@vtext.com", "kim@mms.att.net"], ids=["vtext", "att-mms"])
def test_wireless_domains_need_express_prior_authorisation(store: Store, address: str) -> None:
    """47 CFR 64.3100: commercial email to a wireless domain needs express consent on record;
    an implied basis is not enough."""
    engine = _engine(store)
    decision = engine.evaluate(_email(address))
    assert decision.codes == ("jurisdiction.us.fcc.wireless_domains",)
    assert decision.reasons[0].citation == "47 CFR 64.3100(a)"
    engine.consent.imply(address, basis="purchase", purpose="marketing", source="shop")
    assert engine.evaluate(_email(address)).codes == ("jurisdiction.us.fcc.wireless_domains",)
    engine.consent.confirm(address, topic="news", purpose="marketing", source="form")
    assert engine.evaluate(_email(address)).allowed


def test_the_wireless_domain_list_is_a_hook(store: Store) -> None:
    """standard(wireless_domains=...) replaces the example list; subdomains count."""
    engine = _engine(store, jurisdictions.standard(wireless_domains={"Carrier.Example"}))
    assert engine.evaluate(_email("dee@carrier.example")).codes == (
        "jurisdiction.us.fcc.wireless_domains",
    )
    assert engine.evaluate(_email("bob@vtext.com")).allowed
    sub = Engine(
        Policy(rules.wireless_domain_consent({"carrier.example"})),
        store,
        FrozenClock(T0),
    )
    assert sub.evaluate(_email("x@mail.carrier.example")).codes == ("consent.wireless_domain",)
    assert sub.evaluate(_email("x@notcarrier.example")).allowed


def _window_only(store: Store, at: dt.datetime) -> Engine:
    wanted = {"us.tcpa.window", "us.canspam.postal_address", "us.canspam.opt_out"}
    chosen = tuple(p for p in jurisdictions.provisions(["us"]) if p.id in wanted)
    return _engine(store, Policy(Provisions(chosen, dt.timedelta(days=35))), at)


def test_legal_windows_apply_to_texts_and_calls_not_email(store: Store) -> None:
    """At 23:30 in New York the TCPA window defers a text and a call to 08:00; an email goes."""
    late = dt.datetime(2025, 1, 16, 4, 30, tzinfo=dt.UTC)  # 23:30 New York
    engine = _window_only(store, late)
    for channel in ("sms", "voice"):
        decision = engine.evaluate(
            Message("+12025550143", "news", "marketing", channel=channel, body=BODY)
        )
        assert decision.verdict is Verdict.DEFER
        assert decision.until == dt.datetime(2025, 1, 16, 13, 0, tzinfo=dt.UTC)
        assert decision.codes == ("jurisdiction.us.tcpa.window",)
    assert engine.evaluate(_email("ann@example.com")).allowed


def test_standard_has_no_email_window(store: Store) -> None:
    """The best-practice window is for texts, calls and push: a 03:00 email is allowed."""
    night = dt.datetime(2025, 1, 16, 8, 0, tzinfo=dt.UTC)  # 03:00 New York
    assert _engine(store, at=night).evaluate(_email("ann@example.com")).allowed


def _push(to: str) -> Message:
    return Message(to, "news", "marketing", channel="push", body="Sale today")


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (dt.datetime(2025, 1, 16, 12, 59, 59, tzinfo=dt.UTC), dt.datetime(2025, 1, 16, 13, 0)),
        (dt.datetime(2025, 1, 16, 13, 0, tzinfo=dt.UTC), None),
        (dt.datetime(2025, 1, 16, 1, 59, 59, tzinfo=dt.UTC), None),
        (dt.datetime(2025, 1, 16, 2, 0, tzinfo=dt.UTC), dt.datetime(2025, 1, 16, 13, 0)),
    ],
    ids=["07:59:59", "08:00", "20:59:59", "21:00"],
)
def test_push_follows_a_window_in_the_profile_zone(
    store: Store, at: dt.datetime, until: dt.datetime | None
) -> None:
    """A marketing push goes 08:00-21:00 in the profile's zone, deferred to 08:00 outside."""
    decision = _engine(store, at=at).evaluate(_push("tok-ny"))
    if until is None:
        assert decision.verdict is Verdict.ALLOW
    else:
        assert decision.verdict is Verdict.DEFER
        assert decision.until == until.replace(tzinfo=dt.UTC)
        assert decision.codes == ("hours.outside_window",)


def test_push_without_a_zone_uses_the_fallback_zone(store: Store) -> None:
    """With no zone known, a push is not denied: the window holds in the fallback zone
    (UTC by default, or the configured one)."""
    early = dt.datetime(2025, 1, 16, 7, 59, tzinfo=dt.UTC)
    decision = _engine(store, at=early).evaluate(_push("tok-unknown"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == dt.datetime(2025, 1, 16, 8, 0, tzinfo=dt.UTC)
    chicago = jurisdictions.standard(push_fallback_zone="America/Chicago")
    at = dt.datetime(2025, 1, 16, 13, 59, tzinfo=dt.UTC)  # 07:59 Chicago
    decision = _engine(store, chicago, at).evaluate(_push("tok-unknown"))
    assert decision.until == dt.datetime(2025, 1, 16, 14, 0, tzinfo=dt.UTC)
    at = dt.datetime(2025, 1, 16, 14, 0, tzinfo=dt.UTC)
    assert _engine(store, chicago, at).evaluate(_push("tok-unknown")).allowed


def test_transactional_push_has_no_window(store: Store) -> None:
    """Only marketing push waits for the window."""
    night = dt.datetime(2025, 1, 16, 8, 0, tzinfo=dt.UTC)  # 03:00 New York
    alert = Message("tok-ny", "news", "transactional", channel="push", body="Your code: 1234")
    assert _engine(store, at=night).evaluate(alert).allowed


def test_texts_still_need_consent_under_standard(store: Store) -> None:
    """The opt-out model is for email and push only: a marketing text needs consent."""
    decision = _engine(store).evaluate(
        Message("+12025550143", "news", "marketing", body="Acme: sale. Reply STOP to opt out")
    )
    assert "consent.missing" in decision.codes


def test_provisions_declare_their_channels() -> None:
    """The TCPA covers texts and calls, CASL email too, CAN-SPAM email alone; nothing push."""
    by_id = {p.id: p.channels for p in jurisdictions.provisions()}
    assert by_id["us.tcpa.window"] == frozenset({Channel.SMS, Channel.MMS, Channel.VOICE})
    assert by_id["us.fl.cap"] == PHONE
    assert by_id["ca.casl.consent"] == PHONE | {Channel.EMAIL}
    assert by_id["uk.pecr.content"] == PHONE | {Channel.EMAIL}
    assert by_id["us.canspam.opt_out"] == frozenset({Channel.EMAIL})
    assert by_id["in.promotional_hours"] == PHONE
    assert not any(Channel.PUSH in channels for channels in by_id.values())


def test_a_provision_covers_at_least_one_channel() -> None:
    """A provision with no channel, or with a channel that does not exist, is refused."""
    with pytest.raises(ConfigurationError, match="at least one channel"):
        provision("x.y", "US", "t", "c", rules.valid_number(), channels=frozenset())
    with pytest.raises(ConfigurationError):
        provision("x.y", "US", "t", "c", rules.valid_number(), channels=("fax",))  # type: ignore[arg-type]
    assert provision("x.y", "US", "t", "c", rules.valid_number()).channels == PHONE


def test_preflight_reads_email_residence_from_the_row(tmp_path: Path) -> None:
    """A preflight row's state gives an email recipient's residence: a US email with the
    postal address and an opt-out is allowed, the same email with no residence is not."""
    import csv

    from smspolicy.cli import main

    listing = tmp_path / "list.csv"
    with listing.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "topic", "purpose", "channel", "brand", "body", "state"])
        writer.writerow(["ann@example.com", "news", "marketing", "email", "Acme", BODY, "US-NY"])
        writer.writerow(["bea@example.com", "news", "marketing", "email", "Acme", BODY, ""])
    out = tmp_path / "out.csv"
    code = main(
        [
            "preflight",
            str(listing),
            "--db",
            str(tmp_path / "p.db"),
            "--at",
            "2025-01-15T15:00:00Z",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["verdict"] for r in rows] == ["allow", "deny"]


def test_preflight_applies_a_phone_rows_zone(tmp_path: Path) -> None:
    """A text's row with a timezone joins the number's zones: 09:00 in New York is 06:00 in
    Los Angeles, so a 08:00-20:00 window defers the row that names Los Angeles."""
    import csv

    from smspolicy.cli import main

    policy = tmp_path / "policy.toml"
    policy.write_text(
        'name = "window"\n[[rules]]\ntype = "sending_window"\nstart = "08:00"\nend = "20:00"\n'
    )
    listing = tmp_path / "list.csv"
    listing.write_text(
        "number,topic,purpose,timezone\n"
        "+12125550123,news,marketing,America/Los_Angeles\n"
        "+12125550124,news,marketing,\n"
    )
    database = SQLiteStore(tmp_path / "p.db")
    ledger = Engine(rules.consent(), database, FrozenClock(T0))
    for number in ("+12125550123", "+12125550124"):
        ledger.consent.confirm(number, topic="news", purpose="marketing", source="web")
    database.close()
    out = tmp_path / "out.csv"
    code = main(
        [
            "preflight",
            str(listing),
            "--policy",
            str(policy),
            "--db",
            str(tmp_path / "p.db"),
            "--at",
            "2025-01-16T14:00:00Z",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["verdict"] for r in rows] == ["defer", "allow"]
    assert rows[0]["until_utc"] == "2025-01-16T16:00:00+00:00"


def test_an_email_takes_the_persons_profile(store: Store) -> None:
    """An email address without a profile of its own takes the profile keyed by the
    message's person: a person living in Canada needs consent for email."""
    engine = Engine(
        jurisdictions.standard(),
        store,
        FrozenClock(T0),
        profiles={"person-7": Profile(country="CA"), "person-8": Profile(country="US")},
    )
    to_ca = Message(
        "zoe@example.com",
        "news",
        "marketing",
        channel="email",
        body=BODY,
        brand="Acme",
        person="person-7",
    )
    to_us = Message(
        "yan@example.com",
        "news",
        "marketing",
        channel="email",
        body=BODY,
        brand="Acme",
        person="person-8",
    )
    assert engine.evaluate(to_ca).codes == ("jurisdiction.ca.casl.consent",)
    assert engine.evaluate(to_us).allowed


def test_a_sender_may_ask_opt_in_for_email(store: Store) -> None:
    """Adding the consent rule for the email channel makes US email opt-in too."""
    from smspolicy import when
    from smspolicy.predicates import channel_is

    policy = Policy(
        jurisdictions.standard(), when(channel_is("email"), rules.consent()), name="opt-in"
    )
    engine = _engine(store, policy)
    assert engine.evaluate(_email("ann@example.com")).codes == ("consent.missing",)
    engine.consent.confirm("ann@example.com", topic="news", purpose="marketing", source="form")
    assert engine.evaluate(_email("ann@example.com")).allowed


@pytest.mark.parametrize(
    "body",
    [
        "Subject: Acme sale\n"
        "List-Unsubscribe: <https://acme.example/unsubscribe>, "
        "Acme Inc 1600 Main Street, Springfield, IL 62701\n\n"
        "Acme winter sale: 20% off.",
        "Acme winter sale: 20% off. <!-- Acme Inc., 1600 Main Street, Springfield, IL 62701 -->"
        " To unsubscribe visit https://acme.example/unsubscribe",
        "Acme winter sale: 20% off. <!--\nAcme Inc., PO Box 12, Austin, TX 78701.\n-->"
        " To unsubscribe visit https://acme.example/unsubscribe",
    ],
    ids=["in-list-unsubscribe", "in-html-comment", "box-in-multiline-comment"],
)
def test_a_postal_address_the_reader_never_sees_does_not_count(store: Store, body: str) -> None:
    """CAN-SPAM's postal address must be shown: one only in a List-Unsubscribe header or in an
    HTML comment is no address."""
    assert not rules.has_postal_address(body)
    assert _engine(store).evaluate(_email("ann@example.com", body)).codes == (
        "jurisdiction.us.canspam.postal_address",
    )


def test_a_shown_postal_address_next_to_the_headers_still_counts(store: Store) -> None:
    """The same address in the text itself, with the opt-out header above it, is allowed."""
    body = (
        "Subject: Acme sale\n"
        "List-Unsubscribe: <https://acme.example/unsubscribe>\n\n"
        "Acme winter sale. Acme Inc., 1600 Main Street, Springfield, IL 62701."
    )
    assert rules.has_postal_address(body)
    assert _engine(store).evaluate(_email("ann@example.com", body)).allowed


@pytest.mark.parametrize(
    "body",
    [
        "Acme sale. Acme Inc., 1600 Main Street, Springfield, IL 62701. "
        "<!-- To unsubscribe visit https://acme.example/unsubscribe -->",
        "<!--\nList-Unsubscribe: <https://acme.example/unsubscribe>\n\n-->"
        "Acme sale. Acme Inc., 1600 Main Street, Springfield, IL 62701.",
        "Acme sale. Acme Inc., 1600 Main Street, Springfield, IL 62701. <!-- Reply STOP",
    ],
    ids=["link-in-comment", "header-in-comment", "unclosed-comment"],
)
def test_an_opt_out_only_in_an_html_comment_is_none(store: Store, body: str) -> None:
    """An unsubscribe link or header hidden in an HTML comment offers the reader no opt-out."""
    assert not rules.has_opt_out(body, Channel.EMAIL)
    assert _engine(store).evaluate(_email("ann@example.com", body)).codes == (
        "jurisdiction.us.canspam.opt_out",
    )


@pytest.mark.parametrize(
    "bad",
    ["*.vtext.com", "vtext", "http://vtext.com", "vtext.com/", "vtext..com", "-vtext.com"],
    ids=["wildcard", "no-dot", "url", "slash", "empty-label", "hyphen"],
)
def test_a_wireless_domain_that_is_not_a_host_name_is_refused(bad: str) -> None:
    """A listed domain that could never match an address (a wildcard, a URL, a bare word) is
    a configuration error, not a rule that silently lets every such email through."""
    with pytest.raises(ConfigurationError, match="domains"):
        rules.wireless_domain_consent([bad])
    with pytest.raises(ConfigurationError, match="domains"):
        jurisdictions.standard(wireless_domains={bad})


def test_wireless_domains_are_read_like_addresses(store: Store) -> None:
    """Case, a trailing dot, spaces, full-width letters and Unicode forms are one domain."""
    policy = jurisdictions.standard(
        wireless_domains={" VTEXT.com. ", "Bücher.Example"}, unknown_residence={"US"}
    )
    engine = _engine(store, policy)
    for address in ("bob@vtext.com", "bob@mail.VTEXT.com", "bob@xn--bcher-kva.example"):
        assert engine.evaluate(_email(address)).codes == (
            "jurisdiction.us.fcc.wireless_domains",
        ), address
