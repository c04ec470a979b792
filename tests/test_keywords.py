"""Keywords: the one normaliser, every language's words, disguises, ordinary replies and unclear
replies."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smspolicy import Program
from smspolicy._normalise import clauses, sanitise
from smspolicy.errors import ConfigurationError
from smspolicy.keywords import LANGUAGES, InboundKind, classify, normalise
from smspolicy.programs import check_keywords

OPT_OUT = InboundKind.OPT_OUT
UNCLEAR = InboundKind.UNCLEAR
OTHER = InboundKind.OTHER
HELP = InboundKind.HELP

CORPUS = [
    line
    for line in (Path(__file__).parent / "ordinary_replies.txt").read_text("utf-8").splitlines()
    if line
]

# --- the normaliser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),
        ("  Stop!!! ", "stop"),
        ("S T O P", "stop"),
        ("S.T.O.P", "stop"),
        ("S. T. O. P.", "stop"),
        ("s-t-o-p", "stop"),
        ("S * T * O * P", "stop"),
        ("S_T_O_P", "stop"),
        ("S\u200bTOP", "stop"),
        ("S\u00adT\u2060O\ufeffP", "stop"),
        ("ST\u200dOP\ufe0f", "stop"),
        ("\u0405\u0422\u041e\u0420", "stop"),  # Cyrillic DZE, TE, O, ER
        ("\u0455\u0442\u043e\u0440", "stop"),  # the small Cyrillic letters
        ("\u03a4\u039f", "to"),  # Greek TAU, OMICRON
        ("\uff33\uff34\uff2f\uff30", "stop"),  # fullwidth
        ("\U0001d412\U0001d413\U0001d40e\U0001d40f", "stop"),  # mathematical bold
        ("\ua731\u1d1b\u1d0f\u1d18", "stop"),  # Latin small capitals
        ("st0p", "stop"),
        ("5T0P", "stop"),
        ("qu1t", "quit"),
        ("3nd", "end"),
        ("$top", "stop"),
        ("STOOOOP", "stop"),
        ("S\u0334T\u0334O\u0334P\u0334", "stop"),  # stacked combining marks
        ("Arr\u00eat", "arret"),
        ("Stra\u00dfe", "strasse"),
        ("don\u2019t stop", "dont stop"),
        ("opt-out", "opt out"),
        ("20% off at 10am", "20 off at ioam"),
        ("\u914d \u4fe1 \u505c \u6b62", "\u914d\u4fe1\u505c\u6b62"),  # spaced kanji join
        ("\u30d6\u30ed\u30c3\u30af", "\u30d6\u30ed\u30c3\u30af"),  # voiced kana keep marks
        ("\ud55c\uad6d\uc5b4", "\ud55c\uad6d\uc5b4"),  # Hangul stays composed
        ("\u041f\u0440\u0438\u0432\u0435\u0442", "\u043f\u0440\u0438\u0432\u0435\u0442"),
        ("", ""),
        ("?!...", ""),
        ("\u00d8K", "ok"),  # a capital without a look-alike of its own folds in lower case
        ("0:00O", "oo"),  # read digits, shorten, join: until nothing changes
        ("\u024f\u043e", "\u024fo"),  # the last Latin letter before IPA: the word folds
        ("\u0250\u043e", "\u0250\u043e"),  # an IPA letter: the word keeps its letters
        ("ab\u0301c", "abc"),
        ("\u4e00\u0301", "\u4e00"),  # a stray mark is no letter: dropped with punctuation
    ],
)
def test_normalise_undoes_each_disguise(text: str, expected: str) -> None:
    """Each disguise of the normaliser's list comes out as the plain lower-case words."""
    assert normalise(text) == expected


def test_clauses_split_at_sentence_breaks() -> None:
    """Sentence punctuation and line breaks split clauses; commas do not."""
    assert clauses("Thanks, see you. STOP\nbye!") == ("thanks see you", "stop", "bye")
    assert clauses("a\nb") == ("a", "b")  # line breaks never join spaced letters


def test_sanitise_replaces_lone_surrogates_and_controls() -> None:
    """A lone surrogate becomes U+FFFD, a surrogate pair its character, controls spaces."""
    assert sanitise("STOP \ud83d") == "STOP \ufffd"
    assert sanitise("\ud83d\ude00") == "\U0001f600"
    assert sanitise("a\x00b\x07c\td\ne\x9f") == "a b c\td\ne "
    assert sanitise("plain") == "plain"


@given(st.text(alphabet=st.characters(blacklist_categories=()), max_size=300))
def test_normaliser_never_fails_and_is_idempotent(text: str) -> None:
    """Any text, surrogates and controls included, normalises to encodable words, and
    normalising its sentences again changes nothing."""
    once = clauses(text)
    assert clauses("\n".join(once)) == once
    words = normalise(text)
    words.encode("utf-8")
    assert words == " ".join(once)
    assert "  " not in words
    assert words == words.strip()
    assert classify(text).kind in set(InboundKind)


# --- every keyword of every language -------------------------------------------------------

KEYWORDS = sorted(
    {
        (word, kind, lang.code)
        for lang in LANGUAGES.values()
        for words, kind in (
            (lang.revoke, OPT_OUT),
            (lang.opt_out, OPT_OUT),
            (lang.help, HELP),
            (lang.opt_in, InboundKind.OPT_IN),
            (lang.confirm, InboundKind.CONFIRM),
        )
        for word in words
    }
)
REVOKE_WORDS = {w for lang in LANGUAGES.values() for w in lang.revoke}


@pytest.mark.parametrize(("word", "kind", "lang"), KEYWORDS)
def test_every_keyword_bare(word: str, kind: InboundKind, lang: str) -> None:
    """Each word of each language's lists is read as its action, in upper case too."""
    assert classify(word).kind is kind
    assert classify(word.upper()).kind is kind


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("STOPP", "de"),
        ("ABMELDEN", "de"),
        ("\u914d\u4fe1\u505c\u6b62", "ja"),  # haishin teishi
        ("\u505c\u6b62", "ja"),
        ("\u9000\u8ba2", "zh"),
        ("TD", "en"),
        ("\uc218\uc2e0\uac70\ubd80", "ko"),
        ("SAIR", "pt"),
        ("PARAR", "pt"),
        ("BASTA", "es"),
        ("DISISCRIVI", "it"),
        ("AFMELDEN", "nl"),
        ("ARRET", "fr"),
    ],
)
def test_opt_out_words_of_the_law_notes(text: str, language: str) -> None:
    """The opt-out words the law notes list for each language are opt-outs, tagged with the
    language whose reply they get."""
    keyword = classify(text)
    assert keyword.kind is OPT_OUT
    assert keyword.language == language


@pytest.mark.parametrize(
    ("text", "kind", "language"),
    [
        ("HILFE", HELP, "de"),
        ("AIUTO", HELP, "it"),
        ("AJUDA", HELP, "pt"),
        ("HULP", HELP, "nl"),
        ("\u30d8\u30eb\u30d7", HELP, "ja"),
        ("\u5e2e\u52a9", HELP, "zh"),
        ("\ub3c4\uc6c0\ub9d0", HELP, "ko"),
        ("AYUDA", HELP, "es"),
        ("AIDE", HELP, "fr"),
        ("JA", InboundKind.CONFIRM, "de"),
        ("SIM", InboundKind.CONFIRM, "pt"),
        ("\u306f\u3044", InboundKind.CONFIRM, "ja"),
        ("\u662f", InboundKind.CONFIRM, "zh"),
        ("\ub124", InboundKind.CONFIRM, "ko"),
        ("ANMELDEN", InboundKind.OPT_IN, "de"),
        ("AANMELDEN", InboundKind.OPT_IN, "nl"),
        ("START", InboundKind.OPT_IN, "en"),
    ],
)
def test_help_and_opt_in_words_per_language(text: str, kind: InboundKind, language: str) -> None:
    """Help, confirmation and opt-in words of every language are read with their language."""
    keyword = classify(text)
    assert (keyword.kind, keyword.language) == (kind, language)


def test_each_language_names_its_source_and_unconfirmed_words() -> None:
    """Every language cites a source, and every word it marks unconfirmed is one of its own."""
    assert set(LANGUAGES) == {"en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ko"}
    for lang in LANGUAGES.values():
        assert "64.1200(a)(10)" in lang.source
        own = {*lang.revoke, *lang.opt_out, *lang.opt_in, *lang.help, *lang.confirm}
        assert set(lang.unconfirmed) <= own, lang.code
        assert set(lang.weak) <= set(lang.opt_out), lang.code
    assert "UNCONF" in LANGUAGES["de"].source
    assert "Anatel 2018" in LANGUAGES["pt"].source


# --- disguises (Hypothesis) -----------------------------------------------------------------

# Independent of the module's own table: look-alikes as a reader sees them.
LOOK_ALIKE = {
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440", "x": "\u0445",
    "y": "\u0443", "s": "\u0455", "i": "\u0456", "j": "\u0458",
    "A": "\u0410", "B": "\u0412", "C": "\u0421", "E": "\u0415", "H": "\u041d", "K": "\u041a",
    "M": "\u041c", "O": "\u041e", "P": "\u0420", "T": "\u0422", "X": "\u0425", "Y": "\u0423",
    "S": "\u0405", "I": "\u0406", "N": "\u039d", "Z": "\u0396",
}  # fmt: skip
DIGIT_FOR = {"o": "0", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7"}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\ufe0f"]
SEPARATORS = [" ", ".", "-", ". ", " - ", "*", "_", "  "]
INLINE = [
    "hi",
    "hello",
    "ok",
    "so",
    "really",
    "folks",
    "guys",
    "hmm",
    "well",
    "listen",
    "\U0001f642",
]
FILLER = [line for line in CORPUS if classify(line).kind is OTHER]


@st.composite
def disguised(draw: st.DrawFn, word: str) -> str:
    """``word`` as people disguise it: case, look-alikes or fullwidth letters, digits for
    letters, accents, letters spaced or punctuated apart, invisible characters and
    punctuation around it."""
    units = list(word)
    if word.isascii():
        case = draw(st.sampled_from(["lower", "upper", "title", "mixed"]))
        if case == "upper":
            units = [c.upper() for c in units]
        elif case == "title":
            units = list(word.title())
        elif case == "mixed":
            units = [c.upper() if draw(st.booleans()) else c for c in units]
        if draw(st.booleans()):
            units = [draw(st.sampled_from([c, LOOK_ALIKE.get(c, c)])) for c in units]
        elif draw(st.booleans()):
            units = [chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in units]
        letters = [i for i, c in enumerate(units) if c.lower() in DIGIT_FOR]
        if len(letters) > 1 and draw(st.booleans()):
            i = draw(st.sampled_from(letters[1:]))  # the first letter stays a letter
            units[i] = DIGIT_FOR[units[i].lower()]
        if draw(st.booleans()):
            units = [c + "\u0301" if c.isalpha() else c for c in units]
    if draw(st.booleans()):
        separator = draw(st.sampled_from(SEPARATORS))
        text = separator.join(c for c in units if c != " ")
    else:
        text = "".join(units)
    if draw(st.booleans()):
        text = "".join(c + draw(st.sampled_from(["", *INVISIBLE])) for c in text)
    before = draw(st.sampled_from(["", " ", '"', "\u00bf", "(", "\t"]))
    after = draw(st.sampled_from(["", "!", "!!!", ".", "?", "...", '"', " \U0001f6d1", ")"]))
    return before + text + after


@st.composite
def surrounded(draw: st.DrawFn, word: str, inline: bool) -> str:
    """``word`` (disguised) with up to 2,000 characters of ordinary text around it: whole
    sentences of the corpus around it, or neutral words on the same line (``inline``)."""
    core = draw(disguised(word))
    pool = INLINE if inline else FILLER
    joint = " " if inline else draw(st.sampled_from(["\n", "\n\n", " \n "]))
    parts = draw(st.lists(st.sampled_from(pool), max_size=40))
    cut = draw(st.integers(0, len(parts)))
    before, after = parts[:cut], parts[cut:]
    while len(" ".join(parts)) > 2000:
        parts.pop()
        before, after = parts[: min(cut, len(parts))], parts[min(cut, len(parts)) :]
    return joint.join([*before, core, *after])


@given(st.data(), st.sampled_from(KEYWORDS))
def test_disguised_keyword_reads_as_the_bare_one(
    data: st.DataObject, keyword: tuple[str, InboundKind, str]
) -> None:
    """Every keyword of every language, under any disguise of the list, is classified as the
    bare keyword."""
    word, kind, _lang = keyword
    text = data.draw(disguised(word))
    assert classify(text).kind is kind, (text, normalise(text))


@given(st.data(), st.sampled_from(KEYWORDS))
def test_keyword_among_other_sentences(
    data: st.DataObject, keyword: tuple[str, InboundKind, str]
) -> None:
    """Among up to 2,000 characters of ordinary sentences, an opt-out or help keyword standing
    as its own sentence keeps its meaning; an opt-in or confirmation word is never read as
    consent from inside a longer reply."""
    word, kind, _lang = keyword
    text = data.draw(surrounded(word, inline=False))
    found = classify(text).kind
    if kind is OPT_OUT or kind is HELP:
        assert found is kind, (text, normalise(text))
    else:  # only polite sentences ("Thanks!", "Ok") around it leave it the whole reply
        assert found in (OTHER, kind), (text, normalise(text))


@given(st.data(), st.sampled_from(sorted(REVOKE_WORDS)))
def test_revocation_word_anywhere_in_a_reply(data: st.DataObject, word: str) -> None:
    """A revocation word (the FCC's per-se words and each language's unsubscribe words) is an
    opt-out wherever it stands in a reply of any length."""
    text = data.draw(surrounded(word, inline=True))
    assert classify(text).kind is OPT_OUT, (text, normalise(text))


# --- the corpus of ordinary replies -------------------------------------------------------


def test_ordinary_replies_are_never_opt_outs() -> None:
    """None of the 500 ordinary replies of the corpus is an opt-out; one is read as unclear
    (an Italian sentence holding BASTA) and one as a confirmation ("Y")."""
    assert len(CORPUS) >= 500
    assert len(set(CORPUS)) == len(CORPUS)
    kinds = {text: classify(text).kind for text in CORPUS}
    assert [t for t, k in kinds.items() if k is OPT_OUT] == []
    assert [t for t, k in kinds.items() if k is UNCLEAR] == ["Basta un clic per ordinare? Grazie"]
    assert [t for t, k in kinds.items() if k is InboundKind.CONFIRM] == ["Y"]


# --- named cases ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I want to opt out of these",
        "S T O P",
        "S\u200bTOP",
        "\u0405\u0422\u041e\u0420",
        "st0p",
        "cancel subscription",
        "ARRET SVP",
        "revoke consent",
        "STOPALL thanks",
        "stop sending",
        "Please stop texting me, I have asked three times already and I am getting really "
        "annoyed with these messages arriving every single day at dinner time. " * 2,
        "Hi, this is Maria. I moved to a new city and no longer shop there.\nSTOP",
        "Stop it",
        "please unsubscribe me from all of this",
        "UNSUB",
        "quit texting me",
        "END",
        "end this",
        "make it end",
        "how do I end this",
        "put an end to these texts",
        "remove me",
        "Take me off this list",
        "take me off your list please",
        "no more texts",
        "do not text me",
        "don't contact me again",
        "leave me alone",
        "opt me out",
        "wrong number",
        "lose my number",
        "go away",
        "I don't want these messages",
        "I don't want to opt out. Actually stop.",
        "Don't stop the deals. STOP",
        "why don't you stop texting me",
        "stop texting me and cancel my order",
        "Arr\u00eatez les SMS",
        "arrete de menvoyer des messages",
        "STOP SMS",
        "Je ne veux plus recevoir vos messages",
        "me desabonner svp",
        "Dar de baja por favor",
        "No me manden m\u00e1s mensajes",
        "ya no quiero",
        "Quitarme de la lista",
        "no quiero mensajes",
        "desuscribirme",
        "Bitte abmelden",
        "Keine SMS mehr",
        "nicht mehr schreiben bitte",
        "melde mich ab",
        "non voglio pi\u00f9",
        "Non mandatemi pi\u00f9 messaggi",
        "toglietemi",
        "basta messaggi",
        "cancellami",
        "N\u00e3o quero mais",
        "me tire da lista",
        "parar de receber",
        "n\u00e3o me mandem mais",
        "descadastrar",
        "geen sms meer",
        "meld me af",
        "uitschrijven",
        "\u9001\u3089\u306a\u3044\u3067\u304f\u3060\u3055\u3044",  # please don't send
        "\u914d\u4fe1\u505c\u6b62\u3057\u3066\u304f\u3060\u3055\u3044",
        "\u505c\u6b62\u3057\u3066\u304f\u3060\u3055\u3044",
        "\u8bf7\u9000\u8ba2",
        "\u4e0d\u8981\u518d\u53d1\u4e86",  # don't send any more
        "\u53d6\u6d88\u8ba2\u9605",
        "\uc218\uc2e0 \uac70\ubd80",
        "\uadf8\ub9cc \ubcf4\ub0b4\uc138\uc694",  # stop sending
        "\ubcf4\ub0b4\uc9c0 \ub9c8",
        "\uc911\uc9c0\uc694",
        "\uad6c\ub3c5\ucde8\uc18c",
        "Obrigado pela mensagem. SAIR",
    ],
)
def test_opt_out_phrases(text: str) -> None:
    """Per-se words in any reply, each language's affirmative phrases and disguised keywords
    are opt-outs (47 CFR 64.1200(a)(10))."""
    assert classify(text).kind is OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "stopped by yesterday",
        "don't stop the deals coming",
        "Don't ever stop",
        "I don't want to cancel",
        "no need to cancel",
        "The end of the movie was great",
        "The traffic was stop and go",
        "bus stop",
        "non-stop deals",
        "next stops are Boston and Providence",
        "stop sign at the corner",
        "stop at the bank first",
        "stop for gas on the way",
        "When does the sale end?",
        "what time does the party end",
        "How does the story end?",
        "Great end to the season",
        "the end",
        "week end plans",
        "I quit my job",
        "quit smoking this year",
        "Can you remove the item from my cart and send a new link",
        "thanks",
        "ok",
        "",
        "no",
        "Yes I will be there",
        "can you help me",
        "Send me more info",
        "x" * 100_000,
        "El volumen est\u00e1 muy alto",
        "td bank is closed",
    ],
)
def test_ordinary_text_is_not_an_opt_out(text: str) -> None:
    """Negated and ordinary uses of the per-se words, and ordinary replies, are other."""
    assert classify(text).kind is OTHER


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("please cancel my appointment", "cancel my appointment"),
        ("Can you cancel the order", "cancel the order"),
        ("cancel a reservation", "cancel a reservation"),
        ("when will this end", "when will this end"),
        ("not interested", "not interested"),
        ("No thanks", "no thanks"),
        ("nope thank you", "nope thank you"),
        ("enough", "enough"),
        ("enough please", "enough"),
        ("no more", "no more"),
        ("too many texts", "too many texts"),
        ("this is spam", "spam"),
        ("how did you get my number", "how did you get my number"),
        ("I never signed up for this", "never signed up"),
        ("Vou sair agora", "sair"),
        ("Basta cos\u00ec", "basta"),
        ("STOPP die Werbung", "stopp"),
        ("quiero cancelar mi cita", "cancelar"),
        ("no me interesa", "no me interesa"),
        ("pas int\u00e9ress\u00e9e", "pas interessee"),
        ("kein Interesse", "kein interesse"),
        ("non mi interessa", "non mi interessa"),
        ("n\u00e3o tenho interesse", "nao tenho interesse"),
        ("geen interesse", "geen interesse"),
        ("\u3082\u3046\u3044\u3089\u306a\u3044", "\u3044\u3089\u306a\u3044"),
        ("\u6211\u4e0d\u9700\u8981", "\u4e0d\u9700\u8981"),
        ("\uad00\uc2ec \uc5c6\uc5b4\uc694", "\uad00\uc2ec\uc5c6"),
        ("\u505c\u6b62\u8425\u4e1a\u4e86\u5417", "\u505c\u6b62"),
    ],
)
def test_unclear_replies(text: str, word: str) -> None:
    """Replies that may be a revocation but are not clear are unclear, naming what made them
    so."""
    keyword = classify(text)
    assert (keyword.kind, keyword.word) == (UNCLEAR, word)


def test_targeted_opt_out_names_only_a_program_topic() -> None:
    """ "STOP ALERTS" names the topic "alerts" when a program has it; "stop sending" names no
    topic; without topics "STOP ALERTS" is a plain opt-out."""
    topics = frozenset({"alerts", "Daily Deals"})
    assert classify("STOP ALERTS", topics).topic == "alerts"
    assert classify("stop daily deals", topics).topic == "Daily Deals"
    assert classify("remove alerts", topics).topic == "alerts"
    sending = classify("stop sending", topics)
    assert (sending.kind, sending.topic, sending.word) == (OPT_OUT, None, "stop")
    assert classify("STOP ALERTS").topic is None
    assert classify("don't stop alerts", topics).kind is OTHER


def test_opt_out_wins_over_every_other_word() -> None:
    """A reply that holds an opt-out and another keyword is an opt-out."""
    for text in ("stop start", "HELP STOP", "yes. stop", "START. STOPP", "cancel my order. end"):
        assert classify(text).kind is OPT_OUT


def test_consent_words_only_as_the_whole_reply() -> None:
    """YES and START count only as the whole reply (polite words aside); HELP counts as a
    sentence of its own."""
    assert classify("yes please").kind is InboundKind.CONFIRM
    assert classify("Ok yes. Thanks").kind is InboundKind.CONFIRM
    assert classify("yes but later").kind is OTHER
    assert classify("start now").kind is InboundKind.OPT_IN
    assert classify("start the car").kind is OTHER
    assert classify("Thanks. HELP").kind is HELP
    assert classify("help me please").kind is OTHER


# --- a program's own words ----------------------------------------------------------------


def program(**keywords: list[str]) -> Program:
    return Program(
        "Acme",
        "Acme",
        help_contact="help@acme.example",
        frequency="2 msgs/month",
        keywords=keywords,
    )


def test_custom_words_count_as_the_whole_reply() -> None:
    """A program's own words are read as their action when they are the whole reply."""
    table = program(opt_out=["NO"], help=["ACMEHELP"], confirm=["JOIN"]).keyword_table()
    assert table == {"no": OPT_OUT, "acmehelp": HELP, "join": InboundKind.CONFIRM}
    assert classify("No.", custom=table).kind is OPT_OUT
    assert classify("no please", custom=table).kind is OPT_OUT
    assert classify("n o", custom=table).kind is OPT_OUT
    assert classify("No, I'll be late", custom=table).kind is OTHER
    assert classify("acme help", custom=table).kind is OTHER
    assert classify("AcmeHelp", custom=table).kind is HELP
    assert classify("stop", custom=table).kind is OPT_OUT


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"opt_in": ["stop"]}, "already means opt_out"),
        ({"confirm": ["START"]}, "already means opt_in"),
        ({"help": ["cancel please"]}, "already means opt_out"),
        ({"opt_in": ["not interested"]}, "already means unclear"),
        ({"opt_out": ["NO"], "help": ["no"]}, "both opt_out and help"),
        ({"other": ["x"]}, "not 'other'"),
        ({"unclear": ["x"]}, "not 'unclear'"),
        ({"opt_out": "NO"}, "must be a list of words"),
        ({"opt_out": [""]}, "must be a word"),
        ({"opt_out": ["!!!"]}, "must be a word"),
        ({"opt_out": ["x" * 65]}, "at most 64"),
        ({"opt_out": [7]}, "must be a word"),
        ({"whatever": ["x"]}, "whatever"),
    ],
)
def test_custom_words_are_checked(keywords: dict[str, object], message: str) -> None:
    """Words that collide with built-in words or each other, and malformed tables, raise a
    clear ConfigurationError."""
    with pytest.raises(ConfigurationError, match=message):
        program(**keywords)  # type: ignore[arg-type]


def test_custom_word_lists_accept_any_iterable_and_their_own_builtin() -> None:
    """A tuple of words works, and a word the built-in lists give the same action is allowed."""
    assert program(opt_out=("remove", "NO")).keyword_table() == {"remove": OPT_OUT, "no": OPT_OUT}
    with pytest.raises(ConfigurationError):
        Program("A", "B", help_contact="x", frequency="2 msgs/month", keywords=["NO"])  # type: ignore[arg-type]


def test_programs_must_agree_on_their_words() -> None:
    """Two programs giving one word to different actions raise ConfigurationError; the same
    action is fine."""
    a = program(opt_out=["NO"])
    b = Program("Beta", "Beta", help_contact="x", frequency="1 msg/week", keywords={"help": ["No"]})
    with pytest.raises(ConfigurationError, match=r"'Acme'.*'Beta'"):
        check_keywords([a, b])
    c = Program(
        "Gamma", "G", help_contact="x", frequency="1 msg/week", keywords={"opt_out": ["no"]}
    )
    assert check_keywords([a, c]) == {"no": OPT_OUT}


# --- the word lists, written out by hand --------------------------------------------------

# As people type them; independent of the module's own tables.
WRITTEN = {
    "en": {
        "revoke": "STOP|STOPALL|UNSUBSCRIBE|CANCEL|END|QUIT|REVOKE|OPTOUT|OPT OUT|UNSUB",
        "opt_out": "REMOVE TD",
        "opt_in": "START UNSTOP SUBSCRIBE",
        "help": "HELP INFO",
        "confirm": "YES Y",
        "polite": "please|pls|plz|now|thanks|thank you|thx|ty|ok|okay|hi|hello|hey|asap|"
        "immediately|right now",
    },
    "es": {
        "revoke": "DESUSCRIBIR DESUSCRIBIRME",
        "opt_out": "BAJA CANCELAR ALTO BASTA",
        "opt_in": "",
        "help": "AYUDA",
        "confirm": "SÍ",
        "polite": "por favor|gracias|ya|ahora",
    },
    "fr": {
        "revoke": "DÉSABONNER DÉSINSCRIRE DÉSINSCRIPTION DÉSABONNEMENT",
        "opt_out": "ARRÊT|STOP SMS|STOPSMS",
        "opt_in": "",
        "help": "AIDE",
        "confirm": "OUI",
        "polite": "svp|stp|s'il vous plaît|s'il te plaît|merci",
    },
    "de": {
        "revoke": "ABMELDEN ABBESTELLEN AUSTRAGEN",
        "opt_out": "STOPP",
        "opt_in": "ANMELDEN",
        "help": "HILFE",
        "confirm": "JA",
        "polite": "bitte danke sofort jetzt",
    },
    "it": {
        "revoke": "DISISCRIVI DISISCRIVIMI DISISCRIVERE CANCELLAMI",
        "opt_out": "BASTA",
        "opt_in": "ISCRIVIMI",
        "help": "AIUTO",
        "confirm": "SÌ",
        "polite": "per favore|grazie|subito",
    },
    "pt": {
        "revoke": "DESCADASTRAR DESCADASTRE DESCADASTRA",
        "opt_out": "SAIR PARAR CANCELAR",
        "opt_in": "VOLTAR",
        "help": "AJUDA",
        "confirm": "SIM",
        "polite": "por favor|obrigado|obrigada",
    },
    "nl": {
        "revoke": "AFMELDEN UITSCHRIJVEN",
        "opt_out": "",
        "opt_in": "AANMELDEN",
        "help": "HULP",
        "confirm": "JA",
        "polite": "aub alstublieft alsjeblieft graag bedankt",
    },
    "ja": {
        "revoke": "配信停止 配信解除 受信拒否",
        "opt_out": "停止 ストップ",
        "opt_in": "配信再開",
        "help": "ヘルプ",
        "confirm": "はい",
        "polite": "してください して下さい ください お願いします おねがいします",
    },
    "zh": {
        "revoke": "退订 退訂 取消订阅 取消訂閱",
        "opt_out": "停止 TD",
        "opt_in": "订阅",
        "help": "帮助",
        "confirm": "是",
        "polite": "请 請 谢谢 謝謝",
    },
    "ko": {
        "revoke": "수신거부 구독취소",
        "opt_out": "중지 거부",
        "opt_in": "수신동의",
        "help": "도움말",
        "confirm": "네 예",
        "polite": "해주세요 주세요 해줘 요",
    },
}
KINDS = {"revoke": OPT_OUT, "opt_out": OPT_OUT, "opt_in": InboundKind.OPT_IN, "help": HELP}
KINDS["confirm"] = InboundKind.CONFIRM


def _words(text: str) -> list[str]:
    """Words apart by spaces, or by bars when some hold a space."""
    return [w.strip() for w in text.split("|")] if "|" in text else text.split()


@pytest.mark.parametrize("code", sorted(WRITTEN))
def test_word_lists_are_the_written_ones(code: str) -> None:
    """Each language's lists hold exactly the words written out here (normalised)."""
    lang = LANGUAGES[code]
    for attribute, text in WRITTEN[code].items():
        expected = [normalise(w) for w in _words(text)]
        assert list(getattr(lang, attribute)) == expected, (code, attribute)


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        (w, KINDS[attribute])
        for lists in WRITTEN.values()
        for attribute, text in lists.items()
        if attribute != "polite"
        for w in _words(text)
    ],
)
def test_each_written_word_is_read_as_its_action(word: str, kind: InboundKind) -> None:
    """Each written word, as typed, is read as its action."""
    assert classify(word).kind is kind


@pytest.mark.parametrize(
    "polite", [w for lists in WRITTEN.values() for w in _words(lists["polite"])]
)
def test_each_written_polite_word_leaves_a_keyword_alone(polite: str) -> None:
    """Each polite word, before or after a keyword, leaves it standing alone."""
    if polite[0].isascii():
        assert classify(f"{polite} help").kind is HELP
        assert classify(f"help {polite}").kind is HELP
        assert classify(f"sair {polite}").kind is OPT_OUT
    else:
        assert classify(f"\u505c\u6b62{polite}").kind is OPT_OUT
        assert classify(f"{polite}\u505c\u6b62").kind is OPT_OUT


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ne plus m'envoyer de SMS", OPT_OUT),
        ("ne pas me contacter", OPT_OUT),
        ("\u9001\u4fe1\u3057\u306a\u3044\u3067", OPT_OUT),
        ("\u522b\u518d\u53d1\u4e86", OPT_OUT),
        ("\u4e0d\u8981\u518d\u767c", OPT_OUT),
        ("\u8981\u3089\u306a\u3044", UNCLEAR),
        ("please no", UNCLEAR),
        ("too many", UNCLEAR),
        ("nah thx", UNCLEAR),
        ("no ty", UNCLEAR),
        ("you are spamming me", UNCLEAR),
        ("i didnt sign up", UNCLEAR),
        ("delete me from your list", OPT_OUT),
        ("erase me", OPT_OUT),
        ("no more msgs", OPT_OUT),
        ("never call me", OPT_OUT),
        ("leave us alone", OPT_OUT),
        ("forget this number", OPT_OUT),
        ("I do not need any more texts", OPT_OUT),
        ("eliminarme de esta lista", OPT_OUT),
        ("no me escriban m\u00e1s", OPT_OUT),
        ("je ne souhaite plus", OPT_OUT),
        ("arr\u00eater de m'envoyer", OPT_OUT),
        ("keine Werbung mehr", OPT_OUT),
        ("nicht mehr kontaktieren", OPT_OUT),
        ("non scrivetemi pi\u00f9", OPT_OUT),
        ("non desidero pi\u00f9", OPT_OUT),
        ("basta sms", OPT_OUT),
        ("remova da lista", OPT_OUT),
        ("parar de enviar", OPT_OUT),
        ("n\u00e3o envie mais", OPT_OUT),
        ("geen berichten meer", OPT_OUT),
        ("meld mij af", OPT_OUT),
    ],
)
def test_each_phrase_pattern(text: str, kind: InboundKind) -> None:
    """Each affirmative and unclear phrase pattern reads its example."""
    assert classify(text).kind is kind


@pytest.mark.parametrize(
    ("text", "kind", "language", "word"),
    [
        ("Sair", OPT_OUT, "pt", "sair"),
        ("please stop texting me now", OPT_OUT, "en", "stop"),
        ("vielen Dank, bitte abmelden", OPT_OUT, "de", "abmelden"),
        ("\u8bf7\u9000\u8ba2\u8c22\u8c22", OPT_OUT, "zh", "\u9000\u8ba2"),
        ("remove me", OPT_OUT, "en", "remove me"),
        ("no me manden m\u00e1s", OPT_OUT, "es", "no me manden mas"),
        ("\u9001\u3089\u306a\u3044\u3067", OPT_OUT, "ja", "\u9001\u3089\u306a\u3044\u3067"),
        ("please cancel my appointment", UNCLEAR, "en", "cancel my appointment"),
        ("Vou sair agora", UNCLEAR, "pt", "sair"),
        ("pas int\u00e9ress\u00e9", UNCLEAR, "fr", "pas interesse"),
        ("\u6211\u4e0d\u9700\u8981", UNCLEAR, "zh", "\u4e0d\u9700\u8981"),
        ("AYUDA por favor", HELP, "es", "ayuda"),
        ("Anmelden", InboundKind.OPT_IN, "de", "anmelden"),
        ("Sim", InboundKind.CONFIRM, "pt", "sim"),
        ("\u306f\u3044", InboundKind.CONFIRM, "ja", "\u306f\u3044"),
        ("\u4e2d\u6b62 \u8981", OTHER, None, None),
        ("stop \uc694", OPT_OUT, "en", "stop"),
    ],
)
def test_language_and_word_of_each_reading(
    text: str, kind: InboundKind, language: str | None, word: str | None
) -> None:
    """Each way of reading a reply names its language (the reply's) and the word or phrase
    that settled it (the ledger event's source)."""
    keyword = classify(text)
    assert (keyword.kind, keyword.language, keyword.word) == (kind, language, word)


def test_targeted_opt_out_names_language_and_word() -> None:
    """A targeted opt-out names the language and the word that opened it."""
    keyword = classify("BASTA alerts", frozenset({"alerts"}))
    assert (keyword.kind, keyword.language, keyword.topic, keyword.word) == (
        OPT_OUT,
        "es",
        "alerts",
        "basta",
    )
    keyword = classify("stop alerts", frozenset({"alerts"}))
    assert (keyword.language, keyword.word) == ("en", "stop")
