"""Canada (CASL), the United Kingdom (PECR), the EU (ePrivacy), Japan, Australia, India and
Brazil."""

from __future__ import annotations

import datetime as dt

import attrs

from .. import rules
from .._compose import all_of
from .._records import Basis
from ._builders import consent, content, window
from ._model import AUDIT, EMAIL_LIKE_SMS, InForce, Provision, provision

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
CHARITY_SOFT_OPT_IN = dt.date(2026, 2, 5)
"""PECR reg. 22(3A), inserted by the Data (Use and Access) Act 2025 s. 114, in force."""
CHARITY_BASES = (*SOFT_OPT_IN, Basis.INQUIRY, Basis.NON_BUSINESS)
"""What a charity's soft opt-in rests on: details given while expressing an interest in its
charitable purposes (an inquiry) or offering or giving support (a donation, volunteering:
a non-business relationship)."""
CHARITY_COLLECTED_FROM = dt.datetime(2026, 2, 5, tzinfo=dt.UTC)
"""00:00 on 2026-02-05 in London (GMT): the charity soft opt-in is not retrospective (ICO), so
an inquiry or support recorded before this instant is not consent under it, in any zone."""


_CASL_CONSENT = "CASL s. 6(1)(a), s. 10(9)-(10)"
_CASL_CONTENT = "CASL s. 6(2), s. 11"
_PECR_CONSENT = "PECR reg. 22(2)-(3)"
_PECR_CHARITY = "PECR reg. 22(2)-(3A)"
_CHARITY_SOURCE = (
    "https://www.legislation.gov.uk/ukpga/2025/18/section/114 (DUAA s. 114, inserting reg. "
    "22(3A)); in force 2026-02-05 as summarised at https://www.mondaq.com/uk/social-media/"
    "1755702/soft-opt-in-now-in-force-for-uk-charities; not retrospective as the ICO reads it: "
    "https://ico.org.uk/about-the-ico/media-centre/news-and-blogs/2025/10/consultation-on-new-"
    "charitable-purpose-soft-opt-in-rules-to-support-fundraising"
)
_CRTC = "CRTC Unsolicited Telecommunications Rules, Part III (UNCONF for texts)"
_FR = "AF2M Business Messaging charter, 2024-09-01 (UNCONF)"
_FR_SOURCE = (
    "https://af2m.org/la-charte-de-deontologie-applicable-aux-services-de-business-messaging-"
    "est-effective-depuis-le-1er-septembre-2024 (AF2M: working days, 08:00-22:00); "
    "https://www.cnil.fr/fr/la-prospection-commerciale-par-sms-mms (CNIL: consent, sender "
    "identity and a free opt-out in every message; no hours)"
)
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
        "ca.crtc.telemarketing_hours",
        "CA",
        "Canada: telemarketing only 09:00-21:30 on weekdays and 10:00-18:00 on weekends, the "
        "consumer's local time (if the Rules reach texts)",
        _CRTC,
        window(
            "ca.crtc.telemarketing_hours",
            "09:00",
            "21:30",
            _CRTC,
            days={5: ("10:00", "18:00"), 6: ("10:00", "18:00")},
        ),
        parameters={"weekdays": "09:00-21:30", "weekends": "10:00-18:00"},
        confirmed=False,
        as_of=AUDIT,
        note="The hours are the CRTC's Telemarketing Rules as summarised (CRTC 2007-48); "
        "whether the Unsolicited Telecommunications Rules reach text messages, which CASL "
        "governs as commercial electronic messages, is not confirmed: switched off, enable it "
        "to apply the hours to texts.",
        source="http://www.crtc.gc.ca/eng/trules-reglest.htm (the Rules); "
        "https://www.lnnte-dncl.gc.ca/ind/ntr-nrt-eng (summary)",
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
        "products); relaxed for charities, from 2026-02-05 also the charity soft opt-in",
        _PECR_CONSENT,
        consent("uk.pecr.consent", _PECR_CONSENT, SOFT_OPT_IN),
        parameters={
            "implied consent": "soft opt-in only",
            "relaxable": "for charities: from 2026-02-05 also an inquiry about, or support "
            "for, the charity's purposes (reg. 22(3A))",
        },
        note="The charity soft opt-in (reg. 22(3A), in force 2026-02-05) covers marketing "
        "whose sole purpose is to further the charity's charitable purposes, to people whose "
        "details it obtained from that day (not retrospective, as the ICO reads it: an inquiry "
        "or support recorded before 00:00 London time on 2026-02-05 does not count) while they "
        "expressed an interest in those purposes or offered or gave support, with a free "
        "refusal offered then and in every message "
        "(uk.pecr.content). A charity chooses it with relax={'uk.pecr.consent'}: recorded "
        "with basis inquiry or non_business, such consent expires on the library's implied "
        "terms (6 and 24 months), stricter than the regulation.",
        relaxed=all_of(
            InForce(
                consent("uk.pecr.consent", _PECR_CONSENT, SOFT_OPT_IN), None, CHARITY_SOFT_OPT_IN
            ),
            InForce(
                attrs.evolve(
                    rules.consent(
                        implied_bases=CHARITY_BASES,
                        code="jurisdiction.uk.pecr.consent",
                        citation=_PECR_CHARITY,
                        name="uk.pecr.consent",
                    ),
                    counted_from=(
                        (Basis.INQUIRY, CHARITY_COLLECTED_FROM),
                        (Basis.NON_BUSINESS, CHARITY_COLLECTED_FROM),
                    ),
                ),
                CHARITY_SOFT_OPT_IN,
                None,
            ),
        ),
        source=f"https://www.legislation.gov.uk/uksi/2003/2426; {_CHARITY_SOURCE}",
        as_of=AUDIT,
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
        "France: marketing SMS only on working days (Mon-Sat, not on public holidays) "
        "08:00-22:00 (AF2M charter)",
        _FR,
        window("fr.sms.hours", "08:00", "22:00", _FR, days={0, 1, 2, 3, 4, 5}, holidays="FR"),
        parameters={"window": "08:00-22:00", "days": "Mon-Sat", "holidays": "FR"},
        confirmed=False,
        default_on=True,
        as_of=AUDIT,
        note="Re-checked on 2026-11-29: the AF2M's Business Messaging charter (Push SMS, "
        "conversational SMS and RCS; contractual for operators, aggregators and publishers, in "
        "force 2024-09-01) routes marketing messages only on working days between 08:00 and "
        "22:00, functional messages excepted; the CNIL's guidance sets no hours. Read from the "
        "AF2M's own announcement, not the charter's text (not confirmed); the 08:00-21:30 "
        "including Sundays reading was not found. Shipped on: operators apply it.",
        source=_FR_SOURCE,
    ),
    provision(
        "jp.consent",
        "JP",
        "Specified electronic mail (SMS included) needs prior opt-in",
        f"{_JP} art. 3(1)",
        consent("jp.consent", f"{_JP} art. 3(1)", ()),
        parameters={"implied consent": "not accepted"},
        confirmed=False,
        default_on=True,
        as_of=AUDIT,
        note="From a law-firm or regulator summary; the Act's text was not read (not "
        "confirmed). Shipped on: applying it is the stricter choice.",
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
        confirmed=False,
        default_on=True,
        as_of=AUDIT,
        note="From a law-firm or regulator summary; the Act's text was not read (not "
        "confirmed). Shipped on: applying it is the stricter choice.",
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
