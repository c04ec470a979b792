"""The public API: what `smspolicy` exports."""

from __future__ import annotations

import importlib

import pytest

import smspolicy

PUBLIC_MODULES = [
    "smspolicy",
    "smspolicy.aws",
    "smspolicy.consent",
    "smspolicy.dnc",
    "smspolicy.errors",
    "smspolicy.i18n",
    "smspolicy.jurisdictions",
    "smspolicy.keywords",
    "smspolicy.predicates",
    "smspolicy.otel",
    "smspolicy.programs",
    "smspolicy.reasons",
    "smspolicy.rules",
    "smspolicy.segments",
    "smspolicy.strategies",
    "smspolicy.store",
    "smspolicy.testing",
]


def test_top_level_all_matches_public_names() -> None:
    """The package's `__all__` lists exactly its public, non-module names."""
    public = {
        n
        for n in dir(smspolicy)
        if not n.startswith("_") and not isinstance(getattr(smspolicy, n), type(smspolicy))
    }
    assert set(smspolicy.__all__) == public
    assert len(set(smspolicy.__all__)) == len(smspolicy.__all__)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_covers_module_definitions(name: str) -> None:
    """Each public module's `__all__` exists and names every public class and function it
    defines."""
    module = importlib.import_module(name)
    for exported in module.__all__:
        assert hasattr(module, exported), exported
    defined = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_") and getattr(value, "__module__", None) == name
    }
    assert defined <= set(module.__all__)


@pytest.mark.parametrize(
    "name",
    [
        "Channel",
        "Purpose",
        "Message",
        "Verdict",
        "Reason",
        "Decision",
        "allow",
        "defer",
        "deny",
        "all_of",
        "any_of",
        "when",
        "unless",
        "Policy",
        "rule",
        "Engine",
        "Context",
        "Recipient",
        "Profile",
        "LineTypeLookup",
    ],
)
def test_contract_names_importable(name: str) -> None:
    """Every contract name of the core is importable from the top-level package."""
    assert hasattr(smspolicy, name)


def test_typing_rule_alias() -> None:
    """`smspolicy.typing.Rule` names the rule callable type."""
    from smspolicy.typing import Rule

    assert "Callable" in str(Rule)
