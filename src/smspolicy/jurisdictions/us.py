"""United States: the TCPA (47 U.S.C. 227, 47 CFR 64.1200) and the state mini-TCPAs."""

from __future__ import annotations

import datetime as dt

from .. import rules
from .._compose import any_of
from .._values import Purpose
from ..rules._caps import Scope
from ..typing import Rule
from ._builders import Days, OnClock, cap, consent, content, window
from ._canspam import CAN_SPAM
from ._model import AS_OF, AUDIT, Provision, provision

__all__ = ["PROVISIONS"]

TCPA_WINDOW = "47 CFR 64.1200(c)(1)"
SB_140 = dt.date(2025, 9, 1)
"""Texas SB 140 in force: texts are telephone solicitations."""
FCC_REVOCATION = dt.date(2025, 4, 11)
"""The FCC's revocation rules (FCC 24-24, 64.1200(a)(10)) in force."""
REVOKE_ALL = dt.date(2027, 1, 31)
"""The delayed "revoke-all" rule: a revocation on one topic covers every message."""
VA_OPT_OUT = dt.date(2026, 1, 1)
"""Virginia: an opt-out is honoured for at least 10 years."""
_REVOCATION = "47 CFR 64.1200(a)(10)"
_WRITTEN = "47 CFR 64.1200(a)(2), (f)(9)"
_ALL = frozenset(Purpose)
DAY = dt.timedelta(hours=24)
_SUMMARY_SOURCE = "law-firm summary, 2026-11-27"
NO_SUNDAYS = {0, 1, 2, 3, 4, 5}


def _unread(note: str) -> str:
    """The note of a provision shipped on from a summary: the statute's text was not read."""
    unread = (
        "Parameters from a law-firm summary; the statute's text was not read (not confirmed). "
        "Shipped on: applying it is the stricter choice."
    )
    return f"{note} {unread}" if note else unread


def _window(
    pid: str, start: str, end: str, citation: str, days: Days = None, holidays: str | None = None
) -> Rule:
    return window(pid, start, end, citation, days, holidays)


def _cap(pid: str, limit: int, citation: str, scope: Scope = "topic") -> Rule:
    return cap(pid, limit, DAY, citation, scope)


def _state_window(
    state: str,
    pid: str,
    window: tuple[str, str],
    citation: str,
    title: str,
    *,
    days: Days = None,
    holidays: str | None = None,
    confirmed: bool = False,
    default_on: bool = True,
    note: str = "",
    effective: dt.date | None = None,
    source: str = _SUMMARY_SOURCE,
    as_of: dt.date = AS_OF,
) -> Provision:
    start, end = window
    parameters: dict[str, object] = {"window": f"{start}-{end}" if start != end else "all day"}
    if days is not None:
        parameters["days"] = days
    if holidays is not None:
        parameters["holidays"] = holidays
    return provision(
        pid,
        f"US-{state}",
        title,
        citation,
        _window(pid, start, end, citation, days, holidays),
        parameters=parameters,
        confirmed=confirmed,
        default_on=default_on and not confirmed,
        note=_unread(note) if not confirmed and default_on else note,
        effective=effective,
        source=source,
        as_of=as_of,
    )


def _cap_provision(
    state: str, pid: str, citation: str, title: str, as_of: dt.date = AS_OF
) -> Provision:
    return provision(
        pid,
        f"US-{state}",
        title,
        citation,
        _cap(pid, 3, citation),
        parameters={"limit": 3, "per": "24h", "scope": "topic"},
        confirmed=False,
        default_on=True,
        note=_unread(""),
        source=_SUMMARY_SOURCE,
        as_of=as_of,
    )


def _holiday_ban(state: str, name: str) -> Provision:
    return _state_window(
        state,
        f"us.{state.lower()}.holidays",
        ("00:00", "00:00"),
        f"{name} telephone solicitation law (UNCONF)",
        f"{name}: no marketing texts on legal holidays",
        holidays=f"US-{state}",
        default_on=False,
        note="Holiday list and observed-date rules not confirmed.",
    )


_VA = "Va. Code § 59.1-511"
_ECFR = (
    "https://www.ecfr.gov/current/title-47/chapter-I/subchapter-B/part-64/subpart-L/section-64.1200"
)
_SUMMARY = "law-firm summary, 2026-11-29"  # the audit of the shipped packs
_FL_WINDOW = "Fla. Stat. § 501.616(6)(a)"
_FL_CAP = "Fla. Stat. § 501.616(6)(b)"
_OK = "15 O.S. § 775C.4"
_MD = "Md. Code, Com. Law § 14-4502"
_TX_HOURS = "Tex. Bus. & Com. Code § 301.051"
_TX_DAYS = {6: ("12:00", "21:00")}
_TX_REGISTRATION = "Tex. Bus. & Com. Code § 302.101"
_TX_SOURCE = (
    "https://www.cloudcommunications.com/news/texas-senate-bill-140 (law-firm summary: the "
    "recipient's local time); https://capitol.texas.gov/tlodocs/89R/analysis/html/SB00140F.htm"
)
_TX_SOURCE_302 = (
    "https://statutes.capitol.texas.gov/Docs/BC/htm/BC.302.htm (ch. 302; §§ 302.102-302.103 "
    "read through its mirrors); https://www.mondaq.com/unitedstates/telecoms-mobile-cable-"
    "communications/1671662/ (SB 140 and registration, summary)"
)

PROVISIONS: tuple[Provision, ...] = (
    provision(
        "us.tcpa.window",
        "US",
        "Telephone solicitations only 08:00-21:00 at the called party's location",
        TCPA_WINDOW,
        _window("us.tcpa.window", "08:00", "21:00", TCPA_WINDOW),
        parameters={"window": "08:00-21:00"},
        note="Enforced for marketing even with consent (litigation risk).",
        source=_ECFR,
    ),
    provision(
        "us.tcpa.written_consent",
        "US",
        "Marketing texts need prior express written consent",
        "47 CFR 64.1200(a)(2)",
        consent("us.tcpa.written_consent", "47 CFR 64.1200(a)(2)", (), "topic"),
        parameters={"implied consent": "not accepted"},
        source=_ECFR,
    ),
    provision(
        "us.tcpa.written_consent_evidence",
        "US",
        "Marketing consent is shown by a signed written agreement: the e-sign record, the "
        "disclosure shown and the number",
        _WRITTEN,
        rules.written_consent_evidence(
            code="jurisdiction.us.tcpa.written_consent_evidence",
            citation=_WRITTEN,
            name="us.tcpa.written_consent_evidence",
        ),
        parameters={"evidence": "signature, disclosure, number", "relaxable": "to a warning"},
        source=_ECFR,
        as_of=AUDIT,
        relaxed=rules.written_consent_evidence(
            on_missing="warn",
            code="jurisdiction.us.tcpa.written_consent_evidence",
            citation=_WRITTEN,
            name="us.tcpa.written_consent_evidence",
        ),
    ),
    provision(
        "us.tcpa.identification",
        "US",
        "Telephone solicitations give the seller's name and a telephone number or address",
        "47 CFR 64.1200(d)(4) (UNCONF for texts)",
        content(
            "us.tcpa.identification",
            "47 CFR 64.1200(d)(4) (UNCONF for texts)",
            contact=True,
            opt_out=False,
        ),
        parameters={"identification": True, "contact": "link, email or phone"},
        confirmed=False,
        note="Applied to texts by at least one court (Dawson v. Porch, 2024); not confirmed as "
        "a general rule.",
        source=_ECFR,
        as_of=AUDIT,
    ),
    provision(
        "us.fcc.revocation",
        "US",
        "A revocation by any reasonable means ends the consent it covers",
        _REVOCATION,
        rules.consent(stop_scope="topic", name="us.fcc.revocation", citation=_REVOCATION),
        parameters={"honour within": "10 business days (honoured at once)"},
        purposes=_ALL,
        effective=FCC_REVOCATION,
        note="FCC 24-24, 89 FR 15756.",
        source=_ECFR,
        as_of=AUDIT,
    ),
    provision(
        "us.fcc.revoke_all",
        "US",
        "A revocation on one topic covers every message from the caller (revoke-all)",
        _REVOCATION,
        rules.consent(
            stop_scope="brand",
            code="jurisdiction.us.fcc.revoke_all",
            citation=_REVOCATION,
            name="us.fcc.revoke_all",
        ),
        parameters={"scope": "every topic of the brand"},
        purposes=_ALL,
        effective=REVOKE_ALL,
        note="Delayed by the FCC to 2027-01-31: switched off until then, on from that day.",
        source=_ECFR,
        as_of=AUDIT,
    ),
    provision(
        "us.tcpa.prior_express_consent",
        "US",
        "Informational texts need prior express consent",
        "47 U.S.C. 227(b)(1)(A)",
        consent("us.tcpa.prior_express_consent", "47 U.S.C. 227(b)(1)(A)", None, "topic"),
        purposes=frozenset({Purpose.TRANSACTIONAL}),
        source="https://www.law.cornell.edu/uscode/text/47/227",
    ),
    _state_window(
        "FL",
        "us.fl.window",
        ("08:00", "20:00"),
        _FL_WINDOW,
        "Florida: sales texts only 08:00-20:00 in the called person's time zone",
    ),
    _cap_provision(
        "FL", "us.fl.cap", _FL_CAP, "Florida: at most 3 sales texts per 24 h on the same subject"
    ),
    _state_window(
        "OK",
        "us.ok.window",
        ("08:00", "20:00"),
        _OK,
        "Oklahoma: sales texts only 08:00-20:00",
        source=_SUMMARY,
        as_of=AUDIT,
    ),
    _cap_provision(
        "OK",
        "us.ok.cap",
        _OK,
        "Oklahoma: at most 3 sales texts per 24 h on the same subject",
        as_of=AUDIT,
    ),
    _state_window(
        "MD",
        "us.md.window",
        ("08:00", "20:00"),
        _MD,
        "Maryland: sales texts only 08:00-20:00 in the called party's time zone",
    ),
    _cap_provision(
        "MD", "us.md.cap", _MD, "Maryland: at most 3 sales texts per 24 h on the same subject"
    ),
    _state_window(
        "CT",
        "us.ct.window",
        ("09:00", "20:00"),
        "Conn. Gen. Stat. § 42-288a",
        "Connecticut: telephonic sales calls and texts only 09:00-20:00",
    ),
    provision(
        "us.va.window",
        "US-VA",
        "Virginia: sales texts only 08:00-21:00 unless the called person consented",
        _VA,
        any_of(
            rules.consent(implied_bases=(), name="us.va.prior_consent"),
            _window("us.va.window", "08:00", "21:00", _VA),
        ),
        parameters={"window": "08:00-21:00", "waived": "with prior express consent"},
        confirmed=False,
        default_on=True,
        note=_unread(""),
        source=_SUMMARY_SOURCE,
    ),
    provision(
        "us.va.opt_out",
        "US-VA",
        "Virginia: an opt-out (STOP, UNSUBSCRIBE) is honoured for at least 10 years",
        "Va. Code § 59.1-514",
        rules.consent(
            stop_scope="brand",
            implied_bases=(),
            code="jurisdiction.us.va.opt_out",
            citation="Va. Code § 59.1-514",
            name="us.va.opt_out",
        ),
        parameters={"opt-out honoured": "10 years (until a new express consent)"},
        confirmed=False,
        effective=VA_OPT_OUT,
        note="Section number not confirmed from the statute.",
        source=_SUMMARY_SOURCE,
        as_of=AUDIT,
    ),
    _state_window(
        "TX",
        "us.tx.window",
        ("09:00", "21:00"),
        _TX_HOURS,
        "Texas: sales texts Mon-Sat 09:00-21:00, Sunday 12:00-21:00, the recipient's local time",
        days=_TX_DAYS,
        effective=SB_140,
        note="SB 140 made texts telephone solicitations from 2025-09-01.",
        source=_TX_SOURCE,
        as_of=AUDIT,
    ),
    provision(
        "us.tx.window_central",
        "US-TX",
        "Texas: the same hours on Central time too (El Paso's Mountain-time numbers: Sunday "
        "12:00-20:00 and Mon-Sat 09:00-20:00 local)",
        f"{_TX_HOURS} (clock UNCONF)",
        OnClock(
            _window(
                "us.tx.window_central", "09:00", "21:00", f"{_TX_HOURS} (clock UNCONF)", _TX_DAYS
            ),
            "America/Chicago",
        ),
        parameters={"window": "09:00-21:00", "days": _TX_DAYS, "clock": "America/Chicago"},
        confirmed=False,
        default_on=True,
        effective=SB_140,
        note="Sources differ on the clock of Texas's hours (the recipient's local time or "
        "Central time); both are applied until that is settled, which only changes anything "
        "for Texas numbers outside Central time (El Paso, area code 915, America/Denver). "
        "Shipped on: applying both is the stricter choice.",
        source=_TX_SOURCE,
        as_of=AUDIT,
    ),
    provision(
        "us.tx.registration",
        "US-TX",
        "Texas: a seller of telephone solicitations (texts included) registers with the "
        "Secretary of State unless exempt; warns when no program declares it",
        _TX_REGISTRATION,
        rules.seller_registration(
            "US-TX",
            code="jurisdiction.us.tx.registration",
            citation=_TX_REGISTRATION,
            name="us.tx.registration",
        ),
        parameters={
            "declared by": 'Program(registrations={"US-TX": number or exemption})',
            "without it": "a warning (allowed)",
        },
        confirmed=False,
        default_on=True,
        effective=SB_140,
        note="Ch. 302's registration and the exemptions of §§ 302.053-302.061 (e.g. 501(c)(3) "
        "organisations, former or current customers) as summarised; § 302.101's text was not "
        "read (not confirmed). Shipped on: it only attaches a warning.",
        source=_TX_SOURCE_302,
        as_of=AUDIT,
    ),
    _state_window(
        "WA",
        "us.wa.window",
        ("08:00", "20:00"),
        "RCW 80.36.390",
        "Washington: commercial solicitation only 08:00-20:00",
    ),
    _state_window(
        "LA",
        "us.la.window",
        ("08:00", "20:00"),
        "La. PSC General Order R-29617",
        "Louisiana: 08:00-20:00 Mon-Sat, never on Sundays or legal holidays",
        days=NO_SUNDAYS,
        holidays="US-LA",
    ),
    _state_window(
        "AL",
        "us.al.days",
        ("00:00", "00:00"),
        "Ala. Code tit. 8, ch. 19A (UNCONF)",
        "Alabama: no telephone solicitation on Sundays or legal holidays",
        days=NO_SUNDAYS,
        holidays="US-AL",
        default_on=False,
        note="Section and holiday list not confirmed from the statute.",
    ),
    _state_window(
        "AL",
        "us.al.window",
        ("08:00", "20:00"),
        "Alabama (secondary source, UNCONF)",
        "Alabama: telephone solicitation only 08:00-20:00",
        default_on=False,
    ),
    _holiday_ban("MS", "Mississippi"),
    _holiday_ban("UT", "Utah"),
    _holiday_ban("RI", "Rhode Island"),
    _holiday_ban("PA", "Pennsylvania"),
    _state_window(
        "NJ",
        "us.nj.window",
        ("08:00", "21:00"),
        "N.J.S.A. 56:8-128",
        "New Jersey: no telemarketing 21:00-08:00",
        source=_SUMMARY,
        as_of=AUDIT,
    ),
    provision(
        "us.pa.extra_holidays",
        "US-PA",
        "Pennsylvania: no marketing texts on Good Friday, Flag Day or Election Day",
        "Pennsylvania telemarketing law (practitioners' holiday list, UNCONF)",
        rules.closed_days(
            rules.pennsylvania_extra_holidays,
            code="jurisdiction.us.pa.extra_holidays",
            citation="Pennsylvania telemarketing law (practitioners' holiday list, UNCONF)",
            name="us.pa.extra_holidays",
        ),
        parameters={"closed": "Good Friday, Flag Day (14 June), Election Day"},
        confirmed=False,
        note="Days the holidays package's US-PA calendar lacks; list not confirmed.",
        source=_SUMMARY,
        as_of=AUDIT,
    ),
)

# Email: CAN-SPAM and the FCC's wireless-domain rule (the provisions above cover texts and
# calls only).
PROVISIONS = (*PROVISIONS, *CAN_SPAM)
