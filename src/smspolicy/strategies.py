"""Hypothesis strategies for property-testing send policies.

They follow Hypothesis' own style: plural names, strategies as arguments, ``min_``/``max_``
bounds, and clear errors on bad arguments. Everything generated is valid (numbers pass
``phonenumbers.is_valid_number``, datetimes are aware) and shrinks toward simple values.

Requires ``hypothesis`` (``pip install 'smspolicy[testing]'``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Sequence

import phonenumbers
import pytz
from hypothesis import strategies as st

from ._compose import all_of, any_of, when
from ._recipients import LineType, Profile
from ._records import Basis, ConsentEvent, ConsentKind
from ._time import UTC
from ._values import Channel, Message, Purpose
from .errors import InvalidInputError
from .keywords import HELP, OPT_IN, OPT_OUT, YES
from .predicates import is_marketing
from .typing import Rule

__all__ = [
    "DEFAULT_REGIONS",
    "addresses",
    "channels",
    "consent_events",
    "consent_histories",
    "email_addresses",
    "inbound_texts",
    "instants",
    "messages",
    "phone_numbers",
    "policies",
    "profiles",
    "push_tokens",
]

DEFAULT_REGIONS = ("US", "CA", "GB", "JP", "AU", "FR", "DE", "IN", "BR")
"""Regions :func:`phone_numbers` draws from by default."""

_TOPICS = st.sampled_from(["deals", "alerts"])
_ANY_TOPIC = st.sampled_from(["deals", "alerts", None])
_PURPOSES = st.sampled_from(list(Purpose))
_SMS = st.just(Channel.SMS)
_BODIES = st.sampled_from(
    ["", "Acme: 20% off today. Reply STOP to opt out.", "Your code is 123456"]
)
_BRANDS = st.sampled_from([None, "Acme"])

_KINDS = {
    LineType.MOBILE: phonenumbers.PhoneNumberType.MOBILE,
    LineType.FIXED_LINE: phonenumbers.PhoneNumberType.FIXED_LINE,
    LineType.FIXED_LINE_OR_MOBILE: phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    LineType.TOLL_FREE: phonenumbers.PhoneNumberType.TOLL_FREE,
}

# NANP prefixes that make time zones hard: split area codes resolve by exchange, and some
# numbers have several candidate zones.
HARD_NANP_PREFIXES = (
    "+1850434",
    "+1850644",
    "+1541889",
    "+1541346",
    "+1928283",
    "+1605555",
    "+1208555",
    "+1907555",
    "+1709555",
)


@functools.cache
def _example(region: str, kind: LineType) -> str | None:
    number = phonenumbers.example_number_for_type(region, _KINDS[kind])
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid(text: str, region: str | None, kinds: frozenset[LineType]) -> bool:
    try:
        number = phonenumbers.parse(text)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    if region is not None and phonenumbers.region_code_for_number(number) != region:
        return False
    kind = phonenumbers.number_type(number)
    return any(_KINDS[k] == kind for k in kinds)


def phone_numbers(
    regions: Collection[str] | None = None,
    kinds: Collection[LineType | str] | None = None,
) -> st.SearchStrategy[str]:
    """Valid E.164 numbers from ``regions`` (default :data:`DEFAULT_REGIONS`) of line ``kinds``
    (default mobile, fixed line and fixed-line-or-mobile), including US split-area-code and
    multi-zone numbers. Shrinks toward the region's example number."""
    chosen = tuple(DEFAULT_REGIONS if regions is None else regions)
    if not chosen or isinstance(regions, str):
        raise InvalidInputError("regions must be a non-empty collection such as ['US', 'GB']")
    for region in chosen:
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidInputError(f"{region!r} is not a phonenumbers region code")
    wanted = frozenset(
        LineType(k) if isinstance(k, str) else k
        for k in (kinds or (LineType.MOBILE, LineType.FIXED_LINE, LineType.FIXED_LINE_OR_MOBILE))
    )
    if not wanted <= set(_KINDS):
        raise InvalidInputError(f"kinds must be among {[k.value for k in _KINDS]}")
    bases = list(
        dict.fromkeys(
            (r, e)
            for r in chosen
            for k in sorted(wanted, key=lambda k: k.value)
            if (e := _example(r, k)) is not None
        )
    )
    if not bases:
        raise InvalidInputError("no valid numbers exist for those regions and kinds")

    def vary(base: tuple[str, str], suffix: int) -> str:
        _region, example = base
        return example[:-4] + f"{suffix:04d}"

    generated = st.builds(vary, st.sampled_from(bases), st.integers(0, 9999))
    if "US" in chosen and wanted & {
        LineType.FIXED_LINE_OR_MOBILE,
        LineType.MOBILE,
        LineType.FIXED_LINE,
    }:
        hard = st.builds(
            lambda p, n: f"{p}{n:04d}", st.sampled_from(HARD_NANP_PREFIXES), st.integers(0, 9999)
        )
        generated = st.one_of(generated, hard)
    return generated.filter(lambda text: _valid(text, None, wanted))


@functools.cache
def _transitions(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, ...]:
    found: set[dt.datetime] = set()
    for name in (
        "America/New_York",
        "America/Denver",
        "Europe/London",
        "Australia/Sydney",
        "America/St_Johns",
        "Pacific/Chatham",
    ):
        for moment in getattr(pytz.timezone(name), "_utc_transition_times", ()):
            aware = moment.replace(tzinfo=UTC)
            if start <= aware <= end:
                found.add(aware)
    return tuple(sorted(found))


def instants(
    min_value: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=UTC),
    max_value: dt.datetime = dt.datetime(2030, 12, 31, tzinfo=UTC),
) -> st.SearchStrategy[dt.datetime]:
    """Aware UTC instants between the bounds, with DST transition days over-weighted."""
    for name, value in (("min_value", min_value), ("max_value", max_value)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise InvalidInputError(f"{name} must be an aware datetime, got {value!r}")
    low, high = min_value.astimezone(UTC), max_value.astimezone(UTC)
    if low > high:
        raise InvalidInputError("min_value must not be after max_value")
    plain = st.datetimes(low.replace(tzinfo=None), high.replace(tzinfo=None)).map(
        lambda d: d.replace(tzinfo=UTC)
    )
    near = _transitions(low, high)
    if not near:
        return plain
    around = st.builds(
        lambda t, minutes: min(high, max(low, t + dt.timedelta(minutes=minutes))),
        st.sampled_from(near),
        st.integers(-36 * 60, 36 * 60),
    )
    return st.one_of(plain, around)


def channels(only: Collection[Channel | str] | None = None) -> st.SearchStrategy[Channel]:
    """Every channel (SMS, MMS, voice, email, push, in-app), or those in ``only``; shrinks
    toward SMS."""
    try:
        chosen = [Channel(c) for c in (only if only is not None else list(Channel))]
    except ValueError as error:
        raise InvalidInputError(f"channels: {error}") from None
    if not chosen:
        raise InvalidInputError("channels: give at least one channel")
    return st.sampled_from(chosen)


def email_addresses() -> st.SearchStrategy[str]:
    """Valid e-mail addresses, some in unusual forms (plus tags, apostrophes, upper case)."""
    return st.one_of(
        st.sampled_from(["ann@example.com", "Bob.Smith+news@example.co.uk", "o'neil@example.org"]),
        st.from_regex(r"[a-z]{1,8}@example\.(com|net)", fullmatch=True),
    )


def push_tokens() -> st.SearchStrategy[str]:
    """Push or in-app device tokens (opaque, no white space)."""
    return st.from_regex(r"device-[0-9a-f]{8,16}", fullmatch=True)


def addresses() -> st.SearchStrategy[str]:
    """Addresses for the channels that are not phones: e-mail addresses (some in unusual but
    valid forms) and push or in-app device tokens."""
    return st.one_of(email_addresses(), push_tokens())


def messages(
    to: st.SearchStrategy[str] | None = None,
    *,
    topics: st.SearchStrategy[str] = _TOPICS,
    purposes: st.SearchStrategy[Purpose] = _PURPOSES,
    channels: st.SearchStrategy[Channel] = _SMS,
    bodies: st.SearchStrategy[str] = _BODIES,
    brands: st.SearchStrategy[str | None] = _BRANDS,
    others: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Message]:
    """Messages to ``to`` (default :func:`phone_numbers`) on phone channels and to ``others``
    on the rest (default: :func:`email_addresses` for email, :func:`push_tokens` for push and
    in-app), built from the given strategies. Only SMS by default: pass
    ``channels=channels()`` for every channel."""
    phones = to if to is not None else phone_numbers()
    emails = others if others is not None else email_addresses()
    tokens = others if others is not None else push_tokens()

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        channel = draw(channels)
        if channel.is_phone:
            address = draw(phones)
        else:
            address = draw(emails if channel is Channel.EMAIL else tokens)
        return Message(
            address,
            draw(topics),
            draw(purposes),
            channel,
            body=draw(bodies),
            brand=draw(brands),
        )

    return build()


_ZONE_NAMES = st.sampled_from(
    ["America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Tokyo", "Pacific/Chatham"]
)


def profiles() -> st.SearchStrategy[Profile | None]:
    """What a sender may know of a recipient: nothing (None), or a :class:`smspolicy.Profile`
    with some of a time zone, a country, a US state and a locale."""
    return st.one_of(
        st.none(),
        st.builds(
            Profile,
            timezone=st.one_of(st.none(), _ZONE_NAMES),
            country=st.sampled_from([None, "US", "CA", "GB", "FR"]),
            state=st.sampled_from([None, "US-CA", "US-FL", "US-NY"]),
            locale=st.sampled_from([None, "en", "es", "fr"]),
        ),
    )


def consent_events(
    numbers: st.SearchStrategy[str] | None = None,
    *,
    topics: st.SearchStrategy[str | None] = _ANY_TOPIC,
    at: st.SearchStrategy[dt.datetime] | None = None,
    kinds: Sequence[ConsentKind | str] = tuple(ConsentKind),
) -> st.SearchStrategy[ConsentEvent]:
    """Unchained consent events (the store chains them when appended)."""
    chosen = [ConsentKind(k) if isinstance(k, str) else k for k in kinds]
    if not chosen:
        raise InvalidInputError("kinds must not be empty")

    def build(
        number: str,
        kind: ConsentKind,
        topic: str | None,
        purpose: Purpose,
        basis: Basis,
        when: dt.datetime,
    ) -> ConsentEvent:
        return ConsentEvent(
            kind=kind,
            number=number,
            at=when,
            source="strategy",
            topic=topic,
            purpose=None if kind is ConsentKind.REVOKED else purpose,
            basis=basis if kind is ConsentKind.IMPLIED else None,
            expires=when + dt.timedelta(days=30) if kind is ConsentKind.REQUESTED else None,
        )

    return st.builds(
        build,
        numbers if numbers is not None else phone_numbers(),
        st.sampled_from(chosen),
        topics,
        st.sampled_from(list(Purpose)),
        st.sampled_from(list(Basis)),
        at if at is not None else instants(),
    )


def consent_histories(
    number: str,
    *,
    min_size: int = 0,
    max_size: int = 8,
    before: dt.datetime | None = None,
    topics: st.SearchStrategy[str | None] = _ANY_TOPIC,
) -> st.SearchStrategy[list[ConsentEvent]]:
    """Lists of one number's consent events in time order (all before ``before``)."""
    if min_size < 0 or max_size < min_size:
        raise InvalidInputError("need 0 <= min_size <= max_size")
    end = before or dt.datetime(2030, 1, 1, tzinfo=UTC)
    times = instants(end - dt.timedelta(days=1000), end - dt.timedelta(seconds=1))
    events = st.lists(
        consent_events(st.just(number), topics=topics, at=times),
        min_size=min_size,
        max_size=max_size,
    )
    return events.map(lambda items: sorted(items, key=lambda e: e.at))


def _decorate(word: str, upper: int, space: str, punct: str, accent: bool) -> str:
    if accent and word == "arret":
        word = "arrêt"
    text = word.upper() if upper == 0 else word.title() if upper == 1 else word
    return f"{space}{text}{punct}{space}"


# Look-alike letters from other scripts that people (and spam filters' victims) send.
_CONFUSABLES = {"S": "\u0405", "T": "\u0422", "O": "\u041e", "P": "\u0420", "o": "\u043e"}


def _disguise(word: str, how: int) -> str:
    if how == 1:
        return " ".join(word)  # S T O P
    if how == 2:
        return "\u200b".join(word)  # zero-width spaces between the letters
    if how == 3:
        return "".join(_CONFUSABLES.get(c, c) for c in word)  # Cyrillic look-alikes
    if how == 4:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)  # full width
    return word


def inbound_texts(
    kinds: Collection[str] | None = None, *, disguised: bool = False
) -> st.SearchStrategy[str]:
    """Inbound keywords as people type them: any case, white space, punctuation, accents, and
    opt-out phrases ("please stop", "remove me"). ``kinds``: some of "opt_out", "opt_in",
    "help", "confirm". With ``disguised``, opt-out keywords also come spaced ("S T O P"), with
    zero-width characters, in look-alike letters (Cyrillic S, T, O and P) or full width."""
    tables = {"opt_out": OPT_OUT, "opt_in": OPT_IN, "help": HELP, "confirm": YES}
    chosen = list(kinds or tables)
    unknown = set(chosen) - set(tables)
    if unknown:
        raise InvalidInputError(f"unknown kinds {sorted(unknown)}: use {sorted(tables)}")
    words = sorted({w for k in chosen for w in tables[k]})
    if "opt_out" in chosen:
        words += ["please stop", "stop please", "remove me", "take me off this list"]
    plain = st.builds(
        _decorate,
        st.sampled_from(words),
        st.integers(0, 2),
        st.sampled_from(["", " ", "\n"]),
        st.sampled_from(["", ".", "!"]),
        st.booleans(),
    )
    if not (disguised and "opt_out" in chosen):
        return plain
    hidden = st.builds(
        _disguise, st.sampled_from(["STOP", "Stop", "stop", "UNSUBSCRIBE"]), st.integers(1, 4)
    )
    return st.one_of(plain, hidden)


def _leaf_rules() -> st.SearchStrategy[Rule]:
    from . import rules

    windows = st.builds(
        lambda a, b: rules.sending_window(dt.time(a), dt.time(b)),
        st.integers(0, 23),
        st.integers(0, 23),
    )
    caps = st.builds(
        lambda n, hours: rules.frequency_cap(n, dt.timedelta(hours=hours)),
        st.integers(1, 5),
        st.integers(1, 72),
    )
    return st.one_of(
        st.just(rules.consent()),
        windows,
        caps,
        st.just(rules.dedupe(dt.timedelta(days=1))),
        st.just(rules.quiet_hours("21:00", "08:00")),
    )


def policies(max_leaves: int = 6) -> st.SearchStrategy[Rule]:
    """Random compositions (all_of, any_of, when) of built-in rules."""
    if max_leaves < 1:
        raise InvalidInputError("max_leaves must be at least 1")
    return st.recursive(
        _leaf_rules(),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda rs: all_of(*rs)),
            st.lists(children, min_size=1, max_size=3).map(lambda rs: any_of(*rs)),
            children.map(lambda r: when(is_marketing, r)),
        ),
        max_leaves=max_leaves,
    )
