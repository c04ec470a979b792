"""United States: the TCPA (47 U.S.C. 227, 47 CFR 64.1200) and the state mini-TCPAs."""

from __future__ import annotations

import datetime as dt

from .. import rules
from .._compose import any_of
from .._values import Purpose
from ..rules._caps import Scope
from ..typing import Rule
from ._builders import Days, cap, consent, window
from ._model import Provision, provision

__all__ = ["PROVISIONS"]

TCPA_WINDOW = "47 CFR 64.1200(c)(1)"
DAY = dt.timedelta(hours=24)
NO_SUNDAYS = {0, 1, 2, 3, 4, 5}


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
    confirmed: bool = True,
    note: str = "",
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
        note=note,
    )


def _cap_provision(state: str, pid: str, citation: str, title: str) -> Provision:
    return provision(
        pid,
        f"US-{state}",
        title,
        citation,
        _cap(pid, 3, citation),
        parameters={"limit": 3, "per": "24h", "scope": "topic"},
    )


def _holiday_ban(state: str, name: str) -> Provision:
    return _state_window(
        state,
        f"us.{state.lower()}.holidays",
        ("00:00", "00:00"),
        f"{name} telephone solicitation law (UNCONF)",
        f"{name}: no marketing texts on legal holidays",
        holidays=f"US-{state}",
        confirmed=False,
        note="Holiday list and observed-date rules not confirmed.",
    )


_VA = "Va. Code § 59.1-511"
_FL_WINDOW = "Fla. Stat. § 501.616(6)(a)"
_FL_CAP = "Fla. Stat. § 501.616(6)(b)"
_OK = "Okla. Stat. tit. 15, § 775C"
_MD = "Md. Code, Com. Law § 14-4502"

PROVISIONS: tuple[Provision, ...] = (
    provision(
        "us.tcpa.window",
        "US",
        "Telephone solicitations only 08:00-21:00 at the called party's location",
        TCPA_WINDOW,
        _window("us.tcpa.window", "08:00", "21:00", TCPA_WINDOW),
        parameters={"window": "08:00-21:00"},
        note="Enforced for marketing even with consent (litigation risk).",
    ),
    provision(
        "us.tcpa.written_consent",
        "US",
        "Marketing texts need prior express written consent",
        "47 CFR 64.1200(a)(2)",
        consent("us.tcpa.written_consent", "47 CFR 64.1200(a)(2)", ()),
        parameters={"implied consent": "not accepted"},
    ),
    provision(
        "us.tcpa.prior_express_consent",
        "US",
        "Informational texts need prior express consent",
        "47 U.S.C. 227(b)(1)(A)",
        consent("us.tcpa.prior_express_consent", "47 U.S.C. 227(b)(1)(A)", None),
        purposes=frozenset({Purpose.TRANSACTIONAL}),
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
        "OK", "us.ok.window", ("08:00", "20:00"), _OK, "Oklahoma: sales texts only 08:00-20:00"
    ),
    _cap_provision(
        "OK", "us.ok.cap", _OK, "Oklahoma: at most 3 sales texts per 24 h on the same subject"
    ),
    provision(
        "us.ok.cap_any_subject",
        "US-OK",
        "Oklahoma: at most 3 sales texts per 24 h whatever the subject",
        f"{_OK} (UNCONF)",
        _cap("us.ok.cap_any_subject", 3, f"{_OK} (UNCONF)", "all"),
        parameters={"limit": 3, "per": "24h", "scope": "all"},
        confirmed=False,
        note="Whether the cap is per subject is not confirmed; this stricter reading is opt-in.",
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
    ),
    _state_window(
        "TX",
        "us.tx.window",
        ("09:00", "21:00"),
        "Tex. Bus. & Com. Code § 301.051",
        "Texas: sales texts Mon-Sat 09:00-21:00, Sunday 12:00-21:00",
        days={6: ("12:00", "21:00")},
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
        confirmed=False,
        note="Section and holiday list not confirmed from the statute.",
    ),
    _state_window(
        "AL",
        "us.al.window",
        ("08:00", "20:00"),
        "Alabama (secondary source, UNCONF)",
        "Alabama: telephone solicitation only 08:00-20:00",
        confirmed=False,
    ),
    _holiday_ban("MS", "Mississippi"),
    _holiday_ban("UT", "Utah"),
    _holiday_ban("RI", "Rhode Island"),
    _holiday_ban("PA", "Pennsylvania"),
    _state_window(
        "NJ",
        "us.nj.window",
        ("08:00", "20:00"),
        "New Jersey (secondary source, UNCONF)",
        "New Jersey: telemarketing ends at 20:00",
        confirmed=False,
    ),
)
