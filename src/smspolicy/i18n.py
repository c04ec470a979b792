"""Localised text: decision explanations and reply messages, from babel message catalogs.

Catalogs are gettext ``.po`` files under ``smspolicy/locales/<lang>/LC_MESSAGES/smspolicy.po``,
read with babel. English is the source language (the msgids).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path

import babel
from babel.dates import format_date, format_time
from babel.messages.pofile import read_po

from ._time import to_local, zone
from ._values import Decision, Reason, Verdict

__all__ = [
    "REPLY_LANGUAGES",
    "SUPPORTED_LANGUAGES",
    "explain",
    "format_instant",
    "gettext",
    "language",
    "reason",
    "reason_text",
    "register_template",
    "reply_language",
    "reply_text",
]

_LOCALES = Path(__file__).parent / "locales"
SUPPORTED_LANGUAGES = ("en", "es", "fr")
"""Languages with a full catalog; anything else falls back to English."""
REPLY_LANGUAGES = (*SUPPORTED_LANGUAGES, "de", "it", "pt", "nl", "ja", "zh", "ko")
"""Languages the keyword replies (HELP, STOP, confirmations) are translated into."""

REASON_TEMPLATES: dict[str, str] = {}
"""English message templates by reason code, filled from ``Reason.data`` and translated."""


def register_template(code: str, template: str) -> str:
    """Declare the English template of a reason code so :func:`explain` can translate it."""
    REASON_TEMPLATES[code] = template
    return template


@functools.cache  # a data table loaded once, not an answer: kept with caches off
def _catalog(lang: str) -> Mapping[str, str]:
    path = _LOCALES / lang / "LC_MESSAGES" / "smspolicy.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


@functools.cache  # a data table loaded once, not an answer: kept with caches off
def language(locale: str | None) -> str:
    """The supported language for a locale tag ("es_MX", "fr-CA", "de" -> "en")."""
    if not locale:
        return "en"
    try:
        parsed = babel.Locale.parse(locale.replace("-", "_"))
    except (ValueError, TypeError, babel.UnknownLocaleError):
        return "en"
    return parsed.language if parsed.language in SUPPORTED_LANGUAGES else "en"


@functools.cache  # a data table loaded once, not an answer: kept with caches off
def reply_language(locale: str | None) -> str:
    """The reply language for a locale tag ("pt_BR" -> "pt", "zh-Hant" -> "zh", "sv" -> "en")."""
    if not locale:
        return "en"
    try:
        parsed = babel.Locale.parse(locale.replace("-", "_"))
    except (ValueError, TypeError, babel.UnknownLocaleError):
        return "en"
    return parsed.language if parsed.language in REPLY_LANGUAGES else "en"


def reply_text(message: str, locale: str | None = "en") -> str:
    """Translate an English reply template into the locale's reply language."""
    lang = reply_language(locale)
    if lang == "en":
        return message
    return _catalog(lang).get(message, message)


def gettext(message: str, locale: str | None = "en") -> str:
    """Translate an English message into the locale's language (English when missing)."""
    lang = language(locale)
    if lang == "en":
        return message
    return _catalog(lang).get(message, message)


def format_instant(instant: dt.datetime, zone_name: str | None, locale: str | None) -> str:
    """An instant as the recipient reads it: "Jan 15, 2025, 8:00 AM CST (America/Chicago)".

    Without a zone the instant is shown in UTC.
    """
    lang = language(locale)
    tz = zone(zone_name or "UTC")
    local = to_local(instant, tz)
    text = (
        f"{format_date(local, 'medium', locale=lang)}, {format_time(local, 'short', locale=lang)}"
    )
    # CLDR puts a narrow no-break space before AM/PM: plain spaces survive CSV and spreadsheets.
    return f"{text} {local.tzname()} ({zone_name or 'UTC'})".translate(_PLAIN_SPACES)


_PLAIN_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})


class _Defaults(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _sentence(reason: Reason, locale: str | None) -> str:
    template = REASON_TEMPLATES.get(reason.code)
    if template is None:
        return reason.message
    return gettext(template, locale).format_map(_Defaults(reason.data))


def reason_text(reason: Reason, locale: str | None = "en") -> str:
    """A reason's sentence in the locale's language, with its citation when it has one."""
    text = _sentence(reason, locale)
    return f"{text} ({reason.citation})" if reason.citation else text


def _families(reasons: tuple[Reason, ...], locale: str | None) -> str:
    """Each distinct sentence once, in order, followed by the citations of every reason that
    says it: two rules deferring for the same window read as one sentence citing both."""
    cited: dict[str, dict[str, None]] = {}
    for reason in reasons:
        citations = cited.setdefault(_sentence(reason, locale), {})
        if reason.citation:
            citations[reason.citation] = None
    return "; ".join(
        f"{text} ({'; '.join(citations)})" if citations else text
        for text, citations in cited.items()
    )


def explain(decision: Decision, locale: str | None = "en") -> str:
    """Say in words what was decided and why, one sentence per reason with the citations of
    every rule that gave it; times are shown in the recipient's zone, with plain spaces."""
    reasons = _families(decision.reasons, locale)
    if decision.verdict is Verdict.ALLOW:
        head = gettext("Allowed.", locale)
        return f"{head} {reasons}" if reasons else head
    if decision.verdict is Verdict.DEFER:
        assert decision.until is not None
        when = format_instant(decision.until, decision.zone, locale)
        if reasons:
            return gettext("Deferred until {when} because {reasons}.", locale).format(
                when=when, reasons=reasons.rstrip(".")
            )
        return gettext("Deferred until {when}.", locale).format(when=when)
    if reasons:
        return gettext("Denied because {reasons}.", locale).format(reasons=reasons.rstrip("."))
    return gettext("Denied.", locale)


def reason(
    code: str, rule: str, template: str, *, citation: str | None = None, **data: object
) -> Reason:
    """Build a :class:`Reason` whose English sentence comes from a registered template.

    The template is filled from ``data``, and :func:`explain` translates it.
    """
    register_template(code, template)
    return Reason(code, rule, template.format_map(_Defaults(data)), citation, data)
