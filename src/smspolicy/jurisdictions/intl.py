"""Canada (CASL), the United Kingdom (PECR), the EU (ePrivacy), Japan, Australia, India and
Brazil."""

from __future__ import annotations

import attrs

from .._records import Basis
from ._builders import consent, content, window
from ._model import AUDIT, EMAIL_LIKE_SMS, Provision, provision

__all__ = ["PROVISIONS"]

EU_MEMBERS = (
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
)
SOFT_OPT_IN = (Basis.SOFT_OPT_IN, Basis.PURCHASE)


_CASL_CONSENT = "CASL s. 6(1)(a), s. 10(9)-(10)"
_CASL_CONTENT = "CASL s. 6(2), s. 11"
_PECR_CONSENT = "PECR reg. 22(2)-(3)"
_PECR_CONTENT = "PECR reg. 23"
_EPRIVACY_CONSENT = "Directive 2002/58/EC art. 13(1)-(2)"
_EPRIVACY_CONTENT = "Directive 2002/58/EC art. 13(4)"
_JP = "Act No. 26 of 2002"
_SUMMARY = "law-firm or regulator summary, 2026-11-27"
SOURCES = {
    "ca.": "https://laws-lois.justice.gc.ca/eng/acts/E-1.6/",
    "uk.": "https://www.legislation.gov.uk/uksi/2003/2426",
    "eu.": "https://eur-lex.europa.eu/eli/dir/2002/58/oj",
    "jp.": _SUMMARY,
    "au.": "https://www.legislation.gov.au/C2004A01214/latest",
    "br.": _SUMMARY,
}
"""Where each pack's text was read or summarised (by id prefix)."""
_AU = "Spam Act 2003"

PROVISIONS: tuple[Provision, ...] = (
    provision(
        "ca.casl.consent",
        "CA",
        "Commercial messages need express or live implied consent (2 years from a purchase, "
        "6 months from an inquiry)",
        _CASL_CONSENT,
        consent("ca.casl.consent", _CASL_CONSENT, None),
        parameters={"purchase": "24 months", "inquiry": "6 months", "express": "until withdrawn"},
    ),
    provision(
        "ca.casl.content",
        "CA",
        "Every commercial message identifies the sender, gives a mailing address and a contact "
        "(in a text, a link to them) and offers a free unsubscribe, valid 60 days",
        _CASL_CONTENT,
        content("ca.casl.content", _CASL_CONTENT, contact=True),
        parameters={"identification": True, "contact": "link, email or phone", "opt_out": True},
        note="CRTC 2012-548: the address and contact may be on a page the message links to.",
    ),
    provision(
        "uk.pecr.consent",
        "GB",
        "Marketing texts need consent, or the soft opt-in (details from a sale, own similar "
        "products)",
        _PECR_CONSENT,
        consent("uk.pecr.consent", _PECR_CONSENT, SOFT_OPT_IN),
        parameters={"implied consent": "soft opt-in only"},
    ),
    provision(
        "uk.pecr.content",
        "GB",
        "Sender not concealed and an opt-out address in every message",
        _PECR_CONTENT,
        content("uk.pecr.content", _PECR_CONTENT),
        parameters={"identification": True, "opt_out": True},
    ),
    provision(
        "eu.eprivacy.consent",
        EU_MEMBERS,
        "Marketing texts need prior consent, or the soft opt-in for own similar products",
        _EPRIVACY_CONSENT,
        consent("eu.eprivacy.consent", _EPRIVACY_CONSENT, SOFT_OPT_IN),
        parameters={"implied consent": "soft opt-in only"},
    ),
    provision(
        "eu.eprivacy.content",
        EU_MEMBERS,
        "No disguised sender and a valid opt-out address in every message",
        _EPRIVACY_CONTENT,
        content("eu.eprivacy.content", _EPRIVACY_CONTENT),
        parameters={"identification": True, "opt_out": True},
    ),
    provision(
        "fr.sms.hours",
        "FR",
        "France: no marketing SMS 20:00-08:00, on Sundays or public holidays (industry code)",
        "FFTélécoms/AF2M code of conduct (UNCONF)",
        window(
            "fr.sms.hours",
            "08:00",
            "20:00",
            "FFTélécoms/AF2M code of conduct (UNCONF)",
            days={0, 1, 2, 3, 4, 5},
            holidays="FR",
        ),
        parameters={"window": "08:00-20:00", "days": "Mon-Sat", "holidays": "FR"},
        confirmed=False,
        note="The current AF2M code of conduct is reported to allow 08:00-21:30 including "
        "Sundays and holidays; neither version was checked against the code's text or CNIL "
        "guidance, so this stricter version stays off until it is.",
        source=_SUMMARY,
    ),
    provision(
        "jp.consent",
        "JP",
        "Specified electronic mail (SMS included) needs prior opt-in",
        f"{_JP} art. 3(1)",
        consent("jp.consent", f"{_JP} art. 3(1)", ()),
        parameters={"implied consent": "not accepted"},
    ),
    provision(
        "jp.content",
        "JP",
        "Each message shows the sender's name, postal address (or a link to it) and how to refuse",
        f"{_JP} art. 4",
        content("jp.content", f"{_JP} art. 4", contact=True),
        parameters={
            "identification": True,
            "contact": "link to the postal address",
            "opt_out": True,
        },
    ),
    provision(
        "au.consent",
        "AU",
        "Commercial messages need express or inferred consent",
        f"{_AU} s. 16",
        consent("au.consent", f"{_AU} s. 16", None),
    ),
    provision(
        "au.content",
        "AU",
        "Each message identifies the authoriser and has a functional unsubscribe",
        f"{_AU} s. 17-18",
        content("au.content", f"{_AU} s. 17-18"),
        parameters={"identification": True, "opt_out": True},
    ),
    provision(
        "in.promotional_hours",
        "IN",
        "India: promotional SMS only 09:00-21:00 IST",
        "TRAI TCCCPR 2018 (carrier practice, UNCONF)",
        window(
            "in.promotional_hours", "09:00", "21:00", "TRAI TCCCPR 2018 (carrier practice, UNCONF)"
        ),
        parameters={"window": "09:00-21:00"},
        confirmed=False,
        default_on=True,
        as_of=AUDIT,
        note="Stated by every source found (vendor documents citing TRAI); the clause is not "
        "confirmed, and the window ships on because it is the stricter choice.",
        source=_SUMMARY,
    ),
    provision(
        "br.hours",
        "BR",
        "Brazil: marketing SMS only 09:00-21:00",
        "Anatel practice (UNCONF)",
        window("br.hours", "09:00", "21:00", "Anatel practice (UNCONF)"),
        parameters={"window": "09:00-21:00"},
        confirmed=False,
    ),
)

PROVISIONS = tuple(
    p
    if p.source
    else attrs.evolve(p, source=next(v for k, v in SOURCES.items() if p.id.startswith(k)))
    for p in PROVISIONS
)

_EMAIL_TOO = frozenset(
    {
        "ca.casl.consent",
        "ca.casl.content",
        "uk.pecr.consent",
        "uk.pecr.content",
        "eu.eprivacy.consent",
        "eu.eprivacy.content",
        "jp.consent",
        "jp.content",
        "au.consent",
        "au.content",
    }
)
"""The provisions of laws that treat email like texts (CASL, PECR, ePrivacy, Japan's Act,
the Spam Act): their consent and content rules reach email; the windows stay telephone-only."""

PROVISIONS = tuple(
    attrs.evolve(p, channels=EMAIL_LIKE_SMS) if p.id in _EMAIL_TOO else p for p in PROVISIONS
)
