"""The pytest plugin: an engine factory usable inside @given, the policy chosen by a marker
or the ini option."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings

from smspolicy import Engine, Message, Purpose, rules
from smspolicy.errors import ConfigurationError
from smspolicy.strategies import instants, messages, phone_numbers
from smspolicy.testing import EngineFactory, FrozenClock, resolve_policy

pytest_plugins = ["pytester"]

WINDOW = rules.sending_window("09:00", "17:00")


@settings(max_examples=20, deadline=None)
@given(messages(phone_numbers(regions=["US"])), instants())
def test_factory_works_inside_given(
    sms_engine_factory: EngineFactory, message: Message, at: dt.datetime
) -> None:
    """The factory is session-scoped, so @given accepts it, and each call gives a fresh
    store and clock: consent given in one example is not seen in the next."""
    engine = sms_engine_factory(at=at)
    assert engine.consent.history(message.address) == []
    engine.consent.confirm(message.address, topic="x", purpose="marketing", source="test")
    assert sms_engine_factory(at=at).consent.history(message.address) == []
    assert engine.clock.now() == at


@pytest.mark.smspolicy_policy(WINDOW)
def test_marker_chooses_the_policy(sms_engine_factory: EngineFactory, sms_engine: Engine) -> None:
    """The closest smspolicy_policy marker sets the policy of both fixtures."""
    assert sms_engine_factory().policy is WINDOW
    assert sms_engine.policy is WINDOW


@pytest.mark.smspolicy_policy(lambda: WINDOW)
def test_marker_takes_a_callable(sms_engine_factory: EngineFactory) -> None:
    """A marker may name a callable without arguments that builds the policy."""
    assert sms_engine_factory().policy is WINDOW


def test_default_policy_is_standard(sms_engine_factory: EngineFactory) -> None:
    """Without marker or ini option the policy is jurisdictions.standard()."""
    assert repr(sms_engine_factory().policy).startswith("Policy(")
    assert "name='standard'" in repr(sms_engine_factory().policy)


def test_factory_takes_a_policy_per_call(sms_engine_factory: EngineFactory) -> None:
    """A policy given to one call wins over the test's policy for that call only."""
    engine = sms_engine_factory(policy=WINDOW, at=dt.datetime(2025, 1, 15, 15, tzinfo=dt.UTC))
    assert engine.policy is WINDOW
    assert isinstance(engine.clock, FrozenClock)
    message = Message("+12125550123", "deals", Purpose.MARKETING)
    assert engine.evaluate(message).allowed  # 10:00 in New York
    engine.clock.set(dt.datetime(2025, 1, 15, 23, tzinfo=dt.UTC))  # 18:00 in New York
    assert not engine.evaluate(message).allowed


@pytest.mark.parametrize(
    "spec",
    ["nothing", "no.such.module:policy", "smspolicy.rules:nope", 42, "missing.toml"],
    ids=["no-colon", "no-module", "no-attribute", "not-callable", "missing-file"],
)
def test_bad_policy_specs_are_configuration_errors(spec: object) -> None:
    """A policy spec that names nothing usable is a ConfigurationError (or the policy file
    loader's error), never an AttributeError or ImportError."""
    with pytest.raises(ConfigurationError):
        resolve_policy(spec)


def test_ini_option_chooses_the_policy(pytester: pytest.Pytester) -> None:
    """The smspolicy_policy ini option names a module attribute; the factory uses it inside
    @given in a project of its own."""
    pytester.makepyfile(
        mypolicy="""
from smspolicy import rules

def build():
    return rules.sending_window("10:00", "11:00")
""",
        test_it="""
from hypothesis import given, settings, strategies as st

@settings(max_examples=5)
@given(st.integers())
def test_uses_ini_policy(sms_engine_factory, n):
    assert repr(sms_engine_factory().policy) == "sending_window('10:00', '11:00')"
""",
    )
    pytester.makeini("[pytest]\nsmspolicy_policy = mypolicy:build\n")
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_ini_option_takes_a_policy_file(pytester: pytest.Pytester) -> None:
    """The ini option may name a policy TOML file, relative to the project's root."""
    pytester.makefile(
        ".toml",
        policy='name = "p"\n\n[[rules]]\ntype = "sending_window"\nstart = "10:00"\nend = "11:00"\n',
    )
    pytester.makepyfile(
        test_it="""
def test_uses_file_policy(sms_engine_factory):
    assert "sending_window('10:00', '11:00')" in repr(sms_engine_factory().policy)
"""
    )
    pytester.makeini("[pytest]\nsmspolicy_policy = policy.toml\n")
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.smspolicy_policy(WINDOW)
def test_policy_survives_an_inner_pytest_run(
    pytester: pytest.Pytester, sms_engine_factory: EngineFactory
) -> None:
    """A test that runs pytest inside itself still gets its own policy afterwards."""
    pytester.makepyfile(test_inner="def test_nothing():\n    pass\n")
    pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:cacheprovider").assert_outcomes(
        passed=1
    )
    assert sms_engine_factory().policy is WINDOW
