"""Random consent events for the tests that fold ledgers (the consent horizon's)."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from smspolicy import ConsentEvent
from smspolicy._records import GENESIS
from smspolicy.consent import WrittenConsent

KINDS = ["requested", "confirmed", "revoked", "implied", "unclear"]
BASES = ["purchase", "inquiry", "soft_opt_in", "non_business", "express"]

# How long a request or an unclear reply's hold runs: none, or up to two years.
lasting = st.one_of(
    st.none(), st.integers(1, 2 * 365 * 24 * 60).map(lambda m: dt.timedelta(minutes=m))
)


def consent_event(
    draw: st.DrawFn,
    number: str,
    at: dt.datetime,
    kinds: list[str],
    channels: list[str | None],
    runs_for: st.SearchStrategy[dt.timedelta | None] = lasting,
) -> ConsentEvent:
    """An event of one of ``kinds`` for ``number`` at ``at``, with a random topic, purpose,
    brand and channel, a basis when implied and an end (drawn from ``runs_for``) when a
    request or a hold."""
    kind = draw(st.sampled_from(kinds))
    runs = draw(runs_for)
    return ConsentEvent(
        kind=kind,
        number=number,
        at=at,
        source="test",
        topic=draw(st.sampled_from(["deals", "alerts", None])),
        purpose=draw(st.sampled_from(["marketing", "transactional", None])),
        brand=draw(st.sampled_from(["Acme", "Other", None])),
        basis=draw(st.sampled_from(BASES)) if kind == "implied" else None,
        expires=at + runs if runs is not None and kind in ("requested", "unclear") else None,
        channel=draw(st.sampled_from(channels)),
    )


def deals_event(
    kind: str, number: str, at: dt.datetime, *, written: bool = False, **fields: object
) -> ConsentEvent:
    """The first event of ``number``'s chain: ``kind`` for marketing on topic "deals" at
    ``at`` (with written-consent evidence when ``written``), with any other ``fields``."""
    if written:
        fields["evidence"] = WrittenConsent("test", "Acme deals by text", number).evidence()
    event = ConsentEvent(
        kind=kind,  # type: ignore[arg-type]
        number=number,
        at=at,
        source="test",
        topic="deals",
        purpose="marketing",  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
    return event.chained(0, GENESIS)


def stop_after(number: str, at: dt.datetime, after: ConsentEvent | None = None) -> ConsentEvent:
    """A STOP of ``number`` at ``at``, chained after ``after`` (or first)."""
    stop = ConsentEvent(kind="revoked", number=number, at=at, source="test")
    return stop.chained(0, GENESIS) if after is None else stop.chained(after.seq + 1, after.hash)
