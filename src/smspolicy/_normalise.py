"""One text normaliser for every inbound path: what a reply says, whatever it looks like.

A reply is first made safe to store (:func:`sanitise`: no lone surrogate, no control
character), then reduced to its words (:func:`normalise`): Unicode NFKC (fullwidth and styled
letters become plain ones), invisible and format characters removed (zero-width spaces, joiners,
soft hyphens, variation selectors), accents and stacked combining marks dropped from Latin,
Greek and Cyrillic letters, Cyrillic and Greek look-alikes folded to the Latin letters they
imitate (STOP written with Cyrillic letters), case folded, letters spaced or punctuated apart
joined (``S T O P``, ``S.T.O.P``, ``s-t-o-p``), digits standing for letters inside a word read
as those letters (``st0p``), runs of one letter shortened (``stooop``), and punctuation turned
into single spaces. Sentence breaks are kept apart as clauses (:func:`clauses`) so a keyword
that stands as a sentence of its own can be told from one inside other words.
"""

# The look-alike table below is made of the ambiguous letters ruff warns about (RUF001): it
# exists to fold them.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import unicodedata

from ._memo import lru

__all__ = ["clauses", "compact", "normalise", "sanitise"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Format characters (Unicode category Cf) and other characters that show nothing: removed, so
# "S\u200bTOP" reads "STOP".
_INVISIBLE = re.compile(
    "["
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\U000e0100-\U000e01ef"
    "]"
)

# Combining marks after a Latin, Greek or Cyrillic letter (accents, and the stacked marks of
# "zalgo" text); marks on other scripts (Japanese voicing marks) are kept.
_MARKS = re.compile(
    "([\u0000-\u052f\u1e00-\u1fff])"
    "[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+"
)

# Letters that imitate Latin ones (after NFKC), in upper and lower case: Cyrillic, Greek, Latin
# small capitals and a few Latin letters without a decomposition.
_LOOK_ALIKES = {
    # Cyrillic capitals
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ї": "I", "Ј": "J", "Ԛ": "Q",
    "Ԝ": "W", "Ү": "Y", "Һ": "H", "Ӏ": "I",
    # Cyrillic small letters
    "а": "a", "е": "e", "ё": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s",
    "і": "i", "ї": "i", "ј": "j", "һ": "h", "ԛ": "q", "ԝ": "w", "ү": "y", "ӏ": "l", "к": "k",
    "м": "m", "т": "t", "н": "h", "в": "b", "ԁ": "d", "ɡ": "g",
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    # Greek small letters
    "ο": "o", "ρ": "p", "ι": "i", "κ": "k", "ν": "v", "υ": "u", "χ": "x", "α": "a", "τ": "t",
    "ϲ": "c", "ϳ": "j",
    # Latin small capitals and letters without a decomposition
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i",
    "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ꞯ": "q", "ʀ": "r",
    "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ı": "i", "ł": "l",
    "ø": "o", "đ": "d", "ɑ": "a", "ſ": "s",
}  # fmt: skip
_FOLD = str.maketrans(_LOOK_ALIKES)
_WORD = re.compile(r"[^\W_]+")

# Digits (and two symbols) that stand for letters inside a word: "st0p", "qu1t", "$top".
_DIGITS = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"})
_SYMBOLS = re.compile(r"(?<=[^\W_])[$@]|[$@](?=[^\W_])")
_SYMBOL_LETTERS = str.maketrans({"$": "s", "@": "a"})
_MIXED = re.compile(r"(?<![^\W_])(?=[^\W_]*\d)(?=[^\W_]*[^\W\d_])[^\W_]+")

_APOSTROPHE = re.compile(r"(?<=[^\W_])['\u2019\u02bc`\u00b4](?=[^\W_])")
# Single letters (or digits) apart, with spaces or punctuation between: "S T O P",
# "S.T.O.P", "s-t-o-p", "S . T . O . P". A line break is never a separator: it ends a sentence.
_SPACED = re.compile(r"(?<![^\W_])[^\W_](?:(?:[^\w\n\r]|_)+[^\W_](?![^\W_]))+")
_SEPARATOR = re.compile(r"[^\w]|_")
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_BREAKS = re.compile(r"[.!?;\n\r\u2026\u3002\uff01\uff1f\uff1b\u00a1\u00bf]+")
_PUNCTUATION = re.compile(r"(?:[^\w]|_)+")


def sanitise(text: str) -> str:
    """``text`` made safe to store, hash and show: a lone surrogate (from undecodable bytes or
    a broken emoji) becomes U+FFFD, a surrogate pair becomes its character, and NUL and other
    control characters (but tab, line feed and carriage return) become spaces."""
    if not text.isascii():
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub(" ", text)


def _fold_word(match: re.Match[str]) -> str:
    word = match.group()
    # Fold only a word written entirely in Latin letters and look-alikes (STOP in Cyrillic
    # letters, or half Cyrillic): a Russian or Greek word keeps its letters.
    if all(ch < "\u0250" or ch in _LOOK_ALIKES for ch in word):
        return word.translate(_FOLD)
    return word


def _join(match: re.Match[str]) -> str:
    return _SEPARATOR.sub("", match.group())


def _read_digits(match: re.Match[str]) -> str:
    return match.group().translate(_DIGITS)


def _canonical(text: str) -> str:
    text = unicodedata.normalize("NFKC", sanitise(text))
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
        text = _MARKS.sub(r"\1", unicodedata.normalize("NFD", text))
        text = unicodedata.normalize("NFC", text)
        text = _WORD.sub(_fold_word, text)
    text = text.casefold()
    if not text.isascii():  # capitals with no look-alike of their own ("Ø") fold in lower case
        text = _WORD.sub(_fold_word, text)
    text = _SYMBOLS.sub(lambda m: m.group().translate(_SYMBOL_LETTERS), text)
    text = _APOSTROPHE.sub("", text)
    while True:  # each round joins, reads digits or shortens: it ends
        done = _REPEATS.sub(r"\1", _MIXED.sub(_read_digits, _SPACED.sub(_join, text)))
        if done == text:
            return done
        text = done


@lru(4096)  # a campaign sends one body to many recipients: each is read once
def clauses(text: str) -> tuple[str, ...]:
    """The normalised sentences of ``text`` (split at . ! ? ; and line breaks), each a string
    of words separated by single spaces; empty sentences are left out."""
    parts = (_PUNCTUATION.sub(" ", part).strip() for part in _BREAKS.split(_canonical(text)))
    return tuple(part for part in parts if part)


def normalise(text: str) -> str:
    """What ``text`` says, as lower-case words separated by single spaces: see the module
    documentation for every disguise that is undone (``normalise("S.T.0.P!")`` is
    ``"stop"``)."""
    return " ".join(clauses(text))


def compact(text: str) -> str:
    """A normalised text without its spaces, for scripts written without them (Japanese,
    Chinese)."""
    return text.replace(" ", "")
