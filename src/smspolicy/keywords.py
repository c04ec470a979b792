"""Classifying inbound texts: opt-out, opt-in, double opt-in confirmation, help, other.

Exact keywords (the union in the project's keyword list: CTIA, AWS End User Messaging, FCC
per-se words, French, Spanish, Portuguese) in any case, with surrounding white space,
punctuation and accents; plus the phrases a reasonable person uses to revoke ("please stop",
"remove me", "take me off this list"), as the FCC's reasonable-means rule requires
(47 CFR 64.1200(a)(10)). Ordinary text ("stopping by later?") is not an opt-out.
"""

from __future__ import annotations

import re
import unicodedata

import attrs

from . import _enum

__all__ = [
    "InboundKind",
    "Keyword",
    "classify",
    "normalise",
]

MAX_KEYWORD_TEXT = 160
"""Longer texts are conversation, not keywords."""


class InboundKind(_enum.Enum):
    """What an inbound text asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CONFIRM = "confirm"
    OTHER = "other"


OPT_OUT = {
    "stop": "en",
    "stopall": "en",
    "unsubscribe": "en",
    "cancel": "en",
    "end": "en",
    "quit": "en",
    "revoke": "en",
    "optout": "en",
    "opt-out": "en",
    "opt out": "en",
    "remove": "en",
    "arret": "fr",
    "td": "en",
    "sair": "pt",
    "alto": "es",
    "basta": "es",
    "stop sms": "fr",
    "desabonner": "fr",
    "baja": "es",
    "cancelar": "es",
}
OPT_IN = {"start": "en", "unstop": "en", "subscribe": "en"}
YES = {"yes": "en", "y": "en", "si": "es", "oui": "fr"}
HELP = {"help": "en", "info": "en", "aide": "fr", "ayuda": "es"}
_STRONG = frozenset({"stop", "stopall", "unsubscribe", "optout", "quit", "revoke", "arret"})

_POLITE = r"(?:please|pls|plz|now|thanks|thank you|por favor|s'il vous plait|svp)"
_PHRASES = [
    (re.compile(p), lang)
    for p, lang in [
        (
            rf"^(?:{_POLITE} )?(?:stop|unsubscribe|cancel|quit|end|opt out|remove)"
            rf"(?: (?:it|me|this|that|all|everything|texting(?: me)?|messaging(?: me)?|"
            rf"sending(?: me)?(?: (?:texts|messages))?|texts|messages|now))*(?: {_POLITE})?$",
            "en",
        ),
        (r"\b(?:remove|delete) me\b", "en"),
        (r"\btake me off\b", "en"),
        (r"\bunsubscribe me\b", "en"),
        (r"\b(?:stop|quit) (?:texting|messaging|sending|contacting|spamming)\b", "en"),
        (r"\bno more (?:texts|messages|sms)\b", "en"),
        (r"\b(?:do not|dont|don't) (?:text|message|contact|sms) me\b", "en"),
        (r"\bopt me out\b", "en"),
        (r"\bno (?:me )?(?:envien|mandes|manden|envies) mas\b", "es"),
        (r"\bdar(?:me)? de baja\b", "es"),
        (r"\bne (?:plus|pas) (?:m'envoyer|recevoir)\b", "fr"),
        (r"\bme desabonner\b", "fr"),
    ]
]


@attrs.frozen
class Keyword:
    """The classification of one inbound text."""

    kind: InboundKind
    language: str | None = None
    topic: str | None = None
    word: str | None = None


def normalise(text: str) -> str:
    """Fold case and accents, drop punctuation, collapse white space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.casefold().replace("\u2019", "'")
    plain = re.sub(r"[^\w\s'-]", " ", plain)
    plain = re.sub(r"(?<!\w)[-']|[-'](?!\w)", " ", plain)
    return re.sub(r"\s+", " ", plain).strip()


def classify(text: str, topics: frozenset[str] = frozenset()) -> Keyword:
    """Classify an inbound text. ``topics`` are the program topics a targeted opt-out may name
    ("STOP ALERTS" -> opt-out of topic "alerts")."""
    if len(text) > MAX_KEYWORD_TEXT:
        return Keyword(InboundKind.OTHER)
    words = normalise(text)
    for table, kind in (
        (OPT_OUT, InboundKind.OPT_OUT),
        (HELP, InboundKind.HELP),
        (OPT_IN, InboundKind.OPT_IN),
        (YES, InboundKind.CONFIRM),
    ):
        if words in table:
            return Keyword(kind, table[words], word=words)
    head, _, rest = words.partition(" ")
    if head in OPT_OUT and rest in topics:
        return Keyword(InboundKind.OPT_OUT, OPT_OUT[head], topic=rest, word=head)
    if head in _STRONG and len(words.split()) <= 3:
        return Keyword(InboundKind.OPT_OUT, OPT_OUT[head], word=head)
    for pattern, language in _PHRASES:
        if pattern.search(words):
            return Keyword(InboundKind.OPT_OUT, language, word=words)
    return Keyword(InboundKind.OTHER)
