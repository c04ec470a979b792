"""Property tests of the Pinpoint parsers: any input is imported or reported, never a crash,
and consent is never invented."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from smspolicy import Engine, rules
from smspolicy.config import load_config
from smspolicy.errors import InvalidInputError
from smspolicy.pinpoint import convert_settings, import_endpoints
from smspolicy.store import MemoryStore
from smspolicy.testing import FrozenClock

AT = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)

scalars = st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
endpoint_fields = st.fixed_dictionaries(
    {},
    optional={
        "Id": st.text(max_size=6) | st.none(),
        "Address": st.sampled_from(["+12125550123", "+13105550199", "12", "", "x"]) | values,
        "ChannelType": st.sampled_from(["SMS", "VOICE", "EMAIL", "APNS"]) | values,
        "EndpointStatus": st.sampled_from(["ACTIVE", "INACTIVE"]) | values,
        "OptOut": st.sampled_from(["ALL", "NONE"]) | values,
        "EffectiveDate": st.sampled_from(["2026-01-01T00:00:00Z", "bad"]) | values,
        "Demographic": st.fixed_dictionaries(
            {},
            optional={
                "Timezone": st.sampled_from(["America/Chicago", "Nowhere"]) | values,
                "Locale": values,
            },
        )
        | values,
        "Location": st.fixed_dictionaries(
            {},
            optional={
                "Country": st.sampled_from(["US", "CA", "GB", "ZZ"]) | values,
                "Region": st.sampled_from(["TX", "Ontario", "Atlantis"]) | values,
                "PostalCode": values,
            },
        )
        | values,
        "User": st.fixed_dictionaries({}, optional={"UserId": values}) | values,
    },
)
lines = st.lists(endpoint_fields.map(json.dumps) | st.text(max_size=20), max_size=8)


@settings(max_examples=60)
@given(lines)
@example(["\x1f"])
def test_any_export_is_imported_or_reported(items: list[str]) -> None:
    """Every line is imported, skipped or reported; no grant is recorded without --grant."""
    engine = Engine(rules.consent(), MemoryStore(), FrozenClock(AT))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "e.json"
        path.write_text("".join(i.replace("\n", " ") + "\n" for i in items), encoding="utf-8")
        summary = import_endpoints(engine, [path])
    # A line is blank when it holds ASCII white space only (as bytes): a line of another
    # control character ("\x1f") is read and reported, never skipped unseen.
    assert summary.lines == sum(1 for i in items if i.encode("utf-8").strip())
    for number in engine.store.numbers():
        assert all(e.kind.value == "revoked" for e in engine.consent.history(number))


settings_shapes = st.fixed_dictionaries(
    {},
    optional={
        "Name": st.text(max_size=10) | values,
        "Limits": st.fixed_dictionaries(
            {},
            optional={
                k: st.integers(-1, 150) | values
                for k in (
                    "Daily",
                    "Total",
                    "Session",
                    "MessagesPerSecond",
                    "MaximumDuration",
                    "DailyCap",
                    "TotalCap",
                    "EndpointReentryCap",
                )
            },
        )
        | values,
        "QuietTime": st.fixed_dictionaries(
            {},
            optional={
                "Start": st.sampled_from(["21:00", "08:01", "24:00"]) | values,
                "End": st.sampled_from(["08:00", "23:59", "7"]) | values,
            },
        )
        | values,
        "WaitForQuietTime": values,
    },
)
wrapped = st.tuples(
    st.sampled_from(["CampaignResponse", "JourneyResponse", "ApplicationSettingsResource"]),
    settings_shapes,
).map(lambda pair: {pair[0]: pair[1]})


@settings(max_examples=60)
@given(wrapped | values)
def test_any_settings_convert_to_a_loadable_policy_or_a_clear_error(data: Any) -> None:
    """Conversion gives a policy file that loads, or raises InvalidInputError."""
    try:
        text = convert_settings(data)
    except InvalidInputError:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.toml"
        path.write_text(text, encoding="utf-8")
        load_config(path)
