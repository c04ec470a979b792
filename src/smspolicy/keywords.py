"""Classifying inbound texts: opt-out, opt-in, double opt-in confirmation, help, unclear, other.

Every inbound text is read through one normaliser (:func:`normalise`, from
:mod:`smspolicy._normalise`), then:

- a revocation word (the FCC's per-se words stop, quit, end, revoke, opt out, cancel and
  unsubscribe, and each language's explicit unsubscribe words) anywhere in a reply of any length
  is an opt-out (47 CFR 64.1200(a)(10)), unless it stands in a negated or ordinary context
  ("don't stop the deals", "stopped by", "the end of the movie");
- each language's affirmative phrases ("remove me", "take me off", "no more texts", "leave me
  alone") are an opt-out;
- a keyword that is common in ordinary speech (SAIR, BASTA, STOPP, 停止) is an opt-out when it
  stands as a sentence of its own; inside other words it makes the reply ``unclear``;
- a reply that may be a revocation but is not clear ("not interested", "cancel my appointment")
  is ``unclear``: marketing is held and one clarification text may go out;
- help words stand as a sentence of their own; opt-in and confirmation words must be the whole
  reply (consent is never read out of other words);
- a program's own words (``Program(keywords=...)``) must be the whole reply.

The word lists carry their sources in :data:`LANGUAGES`; words no primary text confirms are
listed in each language's ``unconfirmed``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

import attrs

from . import _enum
from ._normalise import clauses, compact, normalise

__all__ = [
    "LANGUAGES",
    "InboundKind",
    "Keyword",
    "Language",
    "classify",
    "normalise",
]


class InboundKind(_enum.Enum):
    """What an inbound text asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CONFIRM = "confirm"
    OTHER = "other"
    UNCLEAR = "unclear"
    """A reply that may be a revocation but is not clear: marketing is held until the recipient
    answers, and one clarification text may go out (47 CFR 64.1200(a)(10))."""


@attrs.frozen
class Language:
    """One language's reply words and phrases, and where they come from.

    ``revoke`` words revoke wherever they stand; ``opt_out`` words when they stand as a sentence
    of their own (inside other words they make a reply unclear, except the ``weak`` ones, which
    are too common to mean anything there). ``phrases`` and ``unclear`` are regular expressions
    matched on the normalised text (on the text without spaces for Japanese, Chinese and
    Korean). ``polite`` words around a keyword do not change it. ``unconfirmed`` lists the words
    no primary text was read for (UNCONF in the project's law notes).
    """

    code: str
    source: str
    revoke: tuple[str, ...] = ()
    opt_out: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()
    opt_in: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    unclear: tuple[str, ...] = ()
    polite: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()


_REASONABLE = (
    "phrases: the reasonable-person test of 47 CFR 64.1200(a)(10) (FCC 24-24, 89 FR 15756), "
    "chosen by the library"
)

LANGUAGES: Mapping[str, Language] = {
    lang.code: lang
    for lang in (
        Language(
            "en",
            "47 CFR 64.1200(a)(10) per-se words (FCC 24-24, in force 2025-04-11); CTIA Messaging "
            "Principles (2023) STOP/HELP/START; AWS End User Messaging required opt-out words; "
            + _REASONABLE,
            revoke=(
                "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
                "opt out", "unsub",
            ),
            opt_out=("remove", "td"),
            weak=("remove", "td"),
            opt_in=("start", "unstop", "subscribe"),
            help=("help", "info"),
            confirm=("yes", "y"),
            phrases=(
                r"\b(?:remove|delete|take) me (?:off|from)\b",
                r"\b(?:remove|delete|erase) me\b",
                r"\bno more (?:texts?|txts?|messages?|msgs?|sms|marketing|promos?|ads|offers)\b",
                r"\b(?:dont|do not|never) (?:text|txt|message|msg|contact|sms|call|email) "
                r"(?:me|us|this number)\b",
                r"\bleave (?:me|us) alone\b",
                r"\bopt (?:me|us) out\b",
                r"\bwrong (?:number|person)\b",
                r"\b(?:lose|delete|forget) (?:my|this) number\b",
                r"\bgo away\b",
                r"\b(?:dont|do not) (?:want|need) (?:these|your|any|this|the|more|any more) "
                r"(?:texts?|messages?|sms|msgs?)\b",
                r"\bput an end to\b",
            ),
            unclear=(
                r"\bnot interested\b",
                r"^(?:no|nope|nah) (?:thanks|thank you|thx|ty)$",
                r"^(?:enough|no more|please no|too many)$",
                r"\btoo many (?:texts?|messages?|msgs?)\b",
                r"\bspam(?:ming|mer|my)?\b",
                r"\bhow did you get (?:my|this) number\b",
                r"\b(?:never|didnt|did not) sign(?:ed)? up\b",
            ),
            polite=(
                "please", "pls", "plz", "now", "thanks", "thank you", "thx", "ty", "ok", "okay",
                "hi", "hello", "hey", "asap", "immediately", "right now",
            ),
            unconfirmed=("unsub",),
        ),
        Language(
            "es",
            "the project's keyword list (BAJA, CANCELAR; ALTO and BASTA UNCONF; AYUDA); "
            + _REASONABLE,
            revoke=("desuscribir", "desuscribirme"),
            opt_out=("baja", "cancelar", "alto", "basta"),
            weak=("baja", "alto"),
            help=("ayuda",),
            confirm=("si",),
            phrases=(
                r"\bno (?:me )?(?:envien|mandes|manden|envies|escriban|escribas) mas\b",
                r"\bdar(?:me)? de baja\b",
                r"\bya no (?:quiero|deseo)\b",
                r"\b(?:quitar|sacar|borrar|eliminar)me de (?:la|su|tu|esta) lista\b",
                r"\bno quiero (?:mas )?(?:mensajes|sms|textos)\b",
            ),
            unclear=(r"\bno me interesa\b",),
            polite=("por favor", "gracias", "ya", "ahora"),
            unconfirmed=("alto", "basta", "baja", "cancelar", "desuscribir", "desuscribirme"),
        ),
        Language(
            "fr",
            "France: \"STOP SMS\" opt-out (CPCE L34-5 practice); the project's keyword list "
            "(ARRET, AIDE); " + _REASONABLE,
            revoke=("desabonner", "desinscrire", "desinscription", "desabonnement"),
            opt_out=("arret", "stop sms", "stopsms"),
            help=("aide",),
            confirm=("oui",),
            phrases=(
                r"\bne (?:plus|pas) (?:menvoyer|me contacter|recevoir)\b",
                r"\bje ne (?:veux|souhaite) plus\b",
                r"\barret(?:ez|er|e)? (?:les |des |de )?(?:sms|messages|menvoyer)\b",
            ),
            unclear=(r"\bpas interesse(?:e)?\b",),
            polite=("svp", "stp", "sil vous plait", "sil te plait", "merci"),
            unconfirmed=("desinscrire", "desinscription", "desabonnement"),
        ),
        Language(
            "de",
            "carrier and industry practice (STOPP, ABMELDEN: UNCONF); " + _REASONABLE,
            revoke=("abmelden", "abbestellen", "austragen"),
            opt_out=("stopp",),
            opt_in=("anmelden",),
            help=("hilfe",),
            confirm=("ja",),
            phrases=(
                r"\bkeine (?:sms|nachrichten|werbung|mitteilungen) mehr\b",
                r"\bnicht mehr (?:schreiben|kontaktieren|anschreiben)\b",
                r"\bmelde mich ab\b",
            ),
            unclear=(r"\bkein interesse\b",),
            polite=("bitte", "danke", "sofort", "jetzt"),
            unconfirmed=("stopp", "abmelden", "abbestellen", "austragen", "anmelden", "hilfe"),
        ),
        Language(
            "it",
            "carrier and industry practice (BASTA, DISISCRIVI: UNCONF); " + _REASONABLE,
            revoke=("disiscrivi", "disiscrivimi", "disiscrivere", "cancellami"),
            opt_out=("basta",),
            opt_in=("iscrivimi",),
            help=("aiuto",),
            confirm=("si",),
            phrases=(
                r"\bnon (?:voglio|desidero) piu\b",
                r"\bnon (?:mandate|inviate|mandatemi|inviatemi|scrivetemi|mandarmi) piu\b",
                r"\btoglietemi\b",
                r"\bbasta (?:messaggi|sms)\b",
            ),
            unclear=(r"\bnon (?:mi )?interessa\b",),
            polite=("per favore", "grazie", "subito"),
            unconfirmed=(
                "basta", "disiscrivi", "disiscrivimi", "disiscrivere", "cancellami",
                "iscrivimi", "aiuto",
            ),
        ),
        Language(
            "pt",
            "Brazil: SAIR (Anatel 2018); carrier practice (PARAR: UNCONF); " + _REASONABLE,
            revoke=("descadastrar", "descadastre", "descadastra"),
            opt_out=("sair", "parar", "cancelar"),
            opt_in=("voltar",),
            help=("ajuda",),
            confirm=("sim",),
            phrases=(
                r"\bnao (?:quero|desejo) mais\b",
                r"\b(?:me )?(?:tire|tira|remova|retire|remove) da lista\b",
                r"\bparar de (?:receber|enviar|mandar)\b",
                r"\bnao (?:me )?(?:envie|envia|mande|manda)m? mais\b",
            ),
            unclear=(r"\bnao tenho interesse\b",),
            polite=("por favor", "obrigado", "obrigada"),
            unconfirmed=(
                "parar", "cancelar", "descadastrar", "descadastre", "descadastra", "voltar",
                "ajuda",
            ),
        ),
        Language(
            "nl",
            "carrier and industry practice (STOP, AFMELDEN: UNCONF); " + _REASONABLE,
            revoke=("afmelden", "uitschrijven"),
            opt_in=("aanmelden",),
            help=("hulp",),
            confirm=("ja",),
            phrases=(r"\bgeen (?:sms|smsjes|berichten) meer\b", r"\bmeld (?:me|mij) af\b"),
            unclear=(r"\bgeen interesse\b",),
            polite=("aub", "alstublieft", "alsjeblieft", "graag", "bedankt"),
            unconfirmed=("afmelden", "uitschrijven", "aanmelden", "hulp"),
        ),
        Language(
            "ja",
            "carrier and industry practice (配信停止, 停止: UNCONF); " + _REASONABLE,
            revoke=("配信停止", "配信解除", "受信拒否"),
            opt_out=("停止", "ストップ"),
            opt_in=("配信再開",),
            help=("ヘルプ",),
            confirm=("はい",),
            phrases=(r"送らないで", r"送信しないで"),
            unclear=(r"(?:要|い)らない",),
            polite=("してください", "して下さい", "ください", "お願いします", "おねがいします"),
            unconfirmed=("配信停止", "配信解除", "受信拒否", "停止", "ストップ", "配信再開"),
        ),
        Language(
            "zh",
            "mainland China practice (退订 and TD as the reply keyword: UNCONF); " + _REASONABLE,
            revoke=("退订", "退訂", "取消订阅", "取消訂閱"),
            opt_out=("停止", "td"),
            weak=("td",),
            opt_in=("订阅",),
            help=("帮助",),
            confirm=("是",),
            phrases=(r"不要再发", r"别再发", r"不要再發"),
            unclear=(r"不需要",),
            polite=("请", "請", "谢谢", "謝謝"),
            unconfirmed=("退订", "退訂", "取消订阅", "取消訂閱", "停止", "td", "订阅", "帮助"),
        ),
        Language(
            "ko",
            "carrier and industry practice (수신거부: UNCONF); " + _REASONABLE,
            revoke=("수신거부", "구독취소"),
            opt_out=("중지", "거부"),
            opt_in=("수신동의",),
            help=("도움말",),
            confirm=("네", "예"),
            phrases=(r"그만보내", r"보내지마"),
            unclear=(r"관심없",),
            polite=("해주세요", "주세요", "해줘", "요"),
            unconfirmed=("수신거부", "구독취소", "중지", "거부", "수신동의", "도움말"),
        ),
    )
}  # fmt: skip
"""Every language's reply words, by language code."""


# The tables below are built once, at import, from LANGUAGES: plain expressions rather than
# helper functions. A word listed by several languages is named by the first.
_LISTS = {
    attribute: {
        word: lang.code
        for lang in reversed(list(LANGUAGES.values()))
        for word in getattr(lang, attribute)
    }
    for attribute in ("revoke", "opt_out", "weak", "opt_in", "help", "confirm", "polite")
}
_REVOKE = _LISTS["revoke"]
OPT_OUT = {**_LISTS["opt_out"], **_REVOKE}
"""Every opt-out word, with the language that lists it first."""
OPT_IN = _LISTS["opt_in"]
"""Every opt-in word (rejoin the programs), with its language."""
HELP = _LISTS["help"]
"""Every help word, with its language."""
YES = _LISTS["confirm"]
"""Every double opt-in confirmation word, with its language."""
_POLITE = _LISTS["polite"]
_INSIDE = [w for w in _LISTS["opt_out"] if w not in _LISTS["weak"]]

# Words of Latin script match as whole words; Japanese, Chinese and Korean words, written
# without spaces, match anywhere in the text without its spaces. Longer words first.
_REVOKE_WORDS = re.compile(
    r"\b(?:"
    + "|".join(re.escape(w) for w in sorted(filter(str.isascii, _REVOKE), key=len, reverse=True))
    + r")\b"
)
_REVOKE_STRINGS = re.compile(
    "|".join(re.escape(w) for w in sorted(_REVOKE, key=len, reverse=True) if not w.isascii())
)
_INSIDE_WORDS = re.compile(
    r"\b(?:" + "|".join(re.escape(w) for w in _INSIDE if w.isascii()) + r")\b"
)
_INSIDE_STRINGS = re.compile("|".join(re.escape(w) for w in _INSIDE if not w.isascii()))
_PHRASES = tuple(
    (re.compile(pattern), lang.code, lang.code in ("ja", "zh", "ko"))
    for lang in LANGUAGES.values()
    for pattern in lang.phrases
)
_UNCLEAR = tuple(
    (re.compile(pattern), lang.code, lang.code in ("ja", "zh", "ko"))
    for lang in LANGUAGES.values()
    for pattern in lang.unclear
)

_POLITE_WORDS = "|".join(re.escape(w) for w in sorted(_POLITE, key=len, reverse=True))
_POLITE_EDGES = re.compile(rf"^(?:(?:{_POLITE_WORDS})(?: |$))+|(?:(?:^| )(?:{_POLITE_WORDS}))+$")
_CJK_POLITE = "|".join(re.escape(w) for w in _POLITE if not w.isascii())
_CJK_EDGES = re.compile(f"^(?:{_CJK_POLITE})+|(?:{_CJK_POLITE})+$")

# Contexts in which an English revocation word is not one. Negated: "don't stop the deals",
# "I don't want to cancel". Ordinary: "stop by", "bus stop", "the end of the movie", "quit my
# job", "when does the sale end". Ambiguous (the reply is unclear): "cancel my appointment".
_NEGATION = re.compile(
    r"\b(?:dont|do not|never|cant|cannot|can not|wont|will not|didnt|did not|doesnt|does not|"
    r"wouldnt|would not|shouldnt|should not|no need to|not going to|not gonna)"
    r" (?:(?:want|need|have) to |wanna |ever )*"
    r"(?:stop|quit|end|cancel|unsubscribe|revoke|opt out|optout|remove me|take me off)\b"
)
_THINGS = (
    r"(?:sale|sales|offer|offers|deal|deals|promo|promos|promotion|coupon|discount|event|show|"
    r"movie|film|story|book|series|episode|game|match|season|trial|contest|auction|party|class|"
    r"meeting|concert|festival|tournament|shift|semester|term|lease|contract|warranty|"
    r"membership|subscription)"
)
_ORDINARY = re.compile(
    r"\bstop (?:by|in|over|and go|at (?:the|my|your|our|his|her)|for (?:gas|lunch|coffee|food|"
    r"groceries|a bite|a drink))\b"
    r"|\b(?:bus|next|last|first|one|non|pit|truck|rest|full|final|short|quick|brief|each|"
    r"every|request|train|metro|subway|tram|tour|whistle) stops?\b"
    r"|\bstop (?:sign|signs|light|lights|watch|loss|gap|motion)\b"
    r"|\b(?:the|its|week|weeks|month|months|year|years|quarter|day|days|dead|high|low|front|"
    r"back|tail|deep|far|other|rear|west|east|north|south|great|good|nice|perfect|fitting|"
    r"happy|sad|strong|fantastic|awesome|amazing|fun|bitter|sweet) end\b"
    r"|\bend (?:of|up|ups|date|dates|time|times|result|results|user|users|zone|game|goal|"
    r"product|point|table|cap|caps)\b"
    rf"|\b{_THINGS} (?:will |would |should |does |did )?end\b"
    r"|\bhow (?:does|did|will|would) (?:the |this |that |it |your |my |his |her |their )?"
    r"(?:[^\W\d_]+ )?end\b"
    r"|\bquit (?:my|his|her|their|your|our|the) (?:job|jobs|team|club|gym|band|school)\b"
    r"|\bquit (?:smoking|drinking|vaping|gambling|sugar|caffeine)\b"
)
_AMBIGUOUS = re.compile(
    r"\bwhen (?:will|does|is) (?:it|this|that|all this) (?:going to |gonna )?end\b"
    r"|\bcancel (?:my |the |our |this |that |your |an |a )?(?:order|orders|appointment|"
    r"appointments|appt|reservation|reservations|booking|bookings|flight|ride|delivery|payment|"
    r"card|trip|visit|meeting|class|session|lesson|table|plan|plans|event|shipment|"
    r"transaction|pickup|request|installation|consultation|tour)\b"
)


@attrs.frozen
class Keyword:
    """The classification of one inbound text: its kind, the language of the word that settled
    it, the topic a targeted opt-out names ("STOP ALERTS") and the word or phrase itself."""

    kind: InboundKind
    language: str | None = None
    topic: str | None = None
    word: str | None = None


_NOTHING = Keyword(InboundKind.OTHER)
_MAX_WORD = 64


def _bare(clause: str) -> str:
    """A clause without the polite words around it ("stop please" -> "stop")."""
    words = _POLITE_EDGES.sub("", clause).strip()
    if words.isascii():
        return words
    return _CJK_EDGES.sub("", compact(words))  # Japanese, Chinese, Korean: no spaces


def _masked(clause: str) -> tuple[str, str | None]:
    """The clause with negated, ordinary and ambiguous uses of revocation words blanked out,
    and the first ambiguous use found ("cancel my appointment")."""
    clause = _ORDINARY.sub(" ", _NEGATION.sub(" ", clause))
    found = _AMBIGUOUS.search(clause)
    if found is None:
        return clause, None
    return _AMBIGUOUS.sub(" ", clause), found.group()


def _revocation(clause: str, bare: str) -> Keyword | None:
    if bare in OPT_OUT:
        return Keyword(InboundKind.OPT_OUT, OPT_OUT[bare], word=bare)
    found = _REVOKE_WORDS.search(clause) or _REVOKE_STRINGS.search(compact(clause))
    if found:
        word = found.group()
        return Keyword(InboundKind.OPT_OUT, OPT_OUT[word], word=word)
    for pattern, language, cjk in _PHRASES:
        found = pattern.search(compact(clause) if cjk else clause)
        if found:
            return Keyword(InboundKind.OPT_OUT, language, word=found.group()[:_MAX_WORD])
    return None


def _unclear(clause: str, bare: str, ambiguous: str | None) -> Keyword | None:
    if ambiguous is not None:
        return Keyword(InboundKind.UNCLEAR, "en", word=ambiguous)
    found = _INSIDE_WORDS.search(clause) or _INSIDE_STRINGS.search(compact(clause))
    if found:
        word = found.group()
        return Keyword(InboundKind.UNCLEAR, OPT_OUT[word], word=word)
    for pattern, language, cjk in _UNCLEAR:
        found = pattern.search(compact(clause) if cjk else clause) or pattern.search(bare)
        if found:
            return Keyword(InboundKind.UNCLEAR, language, word=found.group()[:_MAX_WORD])
    return None


def classify(
    text: str,
    topics: Collection[str] = frozenset(),
    *,
    custom: Mapping[str, InboundKind] | None = None,
) -> Keyword:
    """Classify an inbound text of any length (see the module documentation for the rules).

    ``topics`` are the program topics a targeted opt-out may name ("STOP ALERTS" is an opt-out
    of topic "alerts"); ``custom`` maps a program's own words, normalised, to their kinds: they
    count when they are the whole reply.
    """
    parts = clauses(text)
    if not parts:
        return _NOTHING
    whole = " ".join(parts)
    message = _bare(whole)
    if custom:
        for candidate in (whole, message):
            if candidate in custom:
                return Keyword(custom[candidate], word=candidate[:_MAX_WORD])
    bare = [_bare(part) for part in parts]
    targeted = _targeted(bare, topics)
    if targeted is not None:
        return targeted
    readings = [(*_masked(part), _bare(part)) for part in parts]
    for clause, _ambiguous, alone in readings:
        found = _revocation(clause, alone)
        if found is not None:
            return found
    for clause, ambiguous, alone in readings:
        found = _unclear(clause, alone, ambiguous)
        if found is not None:
            return found
    for alone in bare:
        if alone in HELP:
            return Keyword(InboundKind.HELP, HELP[alone], word=alone)
    if message in OPT_IN:
        return Keyword(InboundKind.OPT_IN, OPT_IN[message], word=message)
    if message in YES:
        return Keyword(InboundKind.CONFIRM, YES[message], word=message)
    return _NOTHING


def _targeted(bare: list[str], topics: Collection[str]) -> Keyword | None:
    if not topics:
        return None
    named = {normalise(topic): topic for topic in topics}
    for alone in bare:
        head, _, rest = alone.partition(" ")
        if head in OPT_OUT and rest in named:
            return Keyword(InboundKind.OPT_OUT, OPT_OUT[head], topic=named[rest], word=head)
    return None
