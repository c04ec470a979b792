"""Random consent events for the tests that fold ledgers (the consent horizon's)."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from smspolicy import ConsentEvent

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
