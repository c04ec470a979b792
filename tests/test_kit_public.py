"""The testing kit's public surface: docs examples import public modules only, the zones
helpers, the new strategies and the install extra."""

from __future__ import annotations

import ast
import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given

from smspolicy import Channel, InboundKind, Message, Profile
from smspolicy.errors import InvalidInputError, NaiveDatetimeError, UnknownZoneError
from smspolicy.keywords import classify
from smspolicy.strategies import addresses, channels, inbound_texts, messages, profiles
from smspolicy.zones import local_time, zone, zone_name

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def private_imports(source: str) -> list[str]:
    """The smspolicy modules with a private part (a name starting with "_") that ``source``
    imports, or names it imports from smspolicy that are private."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "smspolicy" and any(p.startswith("_") for p in parts[1:]):
                found.append(name)
    return found


def _examples() -> list[tuple[str, str]]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    blocks = [(p.name, b) for p in paths for b in _BLOCK.findall(p.read_text(encoding="utf-8"))]
    blocks += [(p.name, p.read_text(encoding="utf-8")) for p in sorted(ROOT.glob("examples/*.py"))]
    return blocks


def test_docs_examples_import_public_modules_only() -> None:
    """No Python example in the README, the docs or examples/ imports a private module."""
    examples = _examples()
    assert any(name == "testing.md" for name, _ in examples)
    offending = [(name, found) for name, source in examples if (found := private_imports(source))]
    assert offending == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from smspolicy._time import zone", ["smspolicy._time", "smspolicy._time.zone"]),
        ("import smspolicy._engine", ["smspolicy._engine"]),
        ("from smspolicy.rules import _hours", ["smspolicy.rules._hours"]),
        ("from smspolicy.zones import zone", []),
        ("import os._x", []),
    ],
    ids=["from-private", "import-private", "private-name", "public", "not-smspolicy"],
)
def test_private_import_check_sees_every_form(source: str, expected: list[str]) -> None:
    """The check catches each way of importing a private module, and only those."""
    assert private_imports(source) == expected


def test_zones_helpers() -> None:
    """zones.local_time reads an instant on a zone's wall clock (DST included); zone and
    zone_name turn names and tzinfos into each other; bad input is a clear error."""
    noon = dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC)
    assert local_time(noon, "America/Los_Angeles").hour == 5  # PDT, UTC-7
    assert local_time(noon.replace(month=1), "America/Los_Angeles").hour == 4  # PST, UTC-8
    assert local_time(noon, zone("Asia/Kolkata")).minute == 30
    assert zone_name(zone("Europe/Paris")) == "Europe/Paris"
    with pytest.raises(NaiveDatetimeError, match=r"^instant 2025-07-01T12:00:00 is naive"):
        local_time(dt.datetime(2025, 7, 1, 12), "Europe/Paris")
    with pytest.raises(UnknownZoneError):
        zone("Mars/Olympus")


@given(messages(channels=channels()))
def test_messages_cover_every_channel(message: Message) -> None:
    """Messages on phone channels go to numbers, the others to addresses."""
    assert message.address.startswith("+") == message.channel.is_phone


def test_every_channel_is_reachable() -> None:
    """channels() can draw each channel, and only those asked for."""
    from hypothesis import find

    for channel in Channel:
        assert find(channels(), lambda c, ch=channel: c is ch) is channel
    assert find(channels(["email"]), lambda _c: True) is Channel.EMAIL
    with pytest.raises(InvalidInputError, match="channels: 'fax' is not a valid Channel"):
        channels(["fax"])
    with pytest.raises(InvalidInputError, match="channels: give at least one channel"):
        channels([])


@given(addresses())
def test_addresses_are_not_numbers(address: str) -> None:
    """Addresses are e-mail addresses or device tokens."""
    assert "@" in address or address.startswith("device-")


@given(profiles())
def test_profiles(profile: Profile | None) -> None:
    """Profiles are None or Profile values."""
    assert profile is None or isinstance(profile, Profile)


@given(inbound_texts(["opt_out"], disguised=True))
def test_disguised_stops_classify_as_opt_outs(text: str) -> None:
    """Spaced, zero-width, look-alike and full-width STOPs are all recognised as opt-outs."""
    assert classify(text).kind is InboundKind.OPT_OUT


def test_disguises_are_generated() -> None:
    """Each disguise can be drawn: spaced, zero-width, Cyrillic look-alike, full width."""
    from hypothesis import find

    strategy = inbound_texts(["opt_out"], disguised=True)
    for disguised in (
        "S T O P",
        "S\u200bT\u200bO\u200bP",
        "\u0405\u0422\u041e\u0420",  # Cyrillic DZE, TE, O, ER
        "\uff33\uff34\uff2f\uff30",  # full width
        "\u0405to\u0070".replace("o", "\u043e"),  # "Stop" with Cyrillic S and o
    ):
        assert find(strategy, lambda t, d=disguised: t == d) == disguised
    plain = inbound_texts(["opt_out"])
    assert not [t for t in (find(plain, lambda t: True),) if "\u200b" in t]
    assert find(inbound_texts(["help"], disguised=True), lambda t: True).strip().lower() != "stop"


def test_testing_extra_brings_hypothesis_and_pytest() -> None:
    """pip install 'smspolicy[testing]' installs Hypothesis and pytest."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {re.split(r"[<>=\[]", spec)[0] for spec in extras["testing"]}
    assert names == {"hypothesis", "pytest"}


def test_zones_module_all_lists_its_names() -> None:
    """smspolicy.zones exports exactly its public helpers."""
    import smspolicy.zones

    assert sorted(smspolicy.zones.__all__) == ["Zone", "local_time", "zone", "zone_name"]
    for name in smspolicy.zones.__all__:
        assert hasattr(smspolicy.zones, name)
