"""The package's shape: the engine is a facade over parts with narrow dependencies, and the
modules depend on each other one way."""

from __future__ import annotations

import ast
import datetime as dt
import pathlib

import smspolicy
import smspolicy._clock
import smspolicy.testing
from smspolicy import Engine, Message, Purpose, rules
from smspolicy._constants import REPLY_TOPIC
from smspolicy._decider import Decider
from smspolicy._inbound import InboundHandler
from smspolicy._recipients import Resolver
from smspolicy._reserve import Reserver
from smspolicy.consent import Ledger
from smspolicy.keywords import InboundKind
from smspolicy.store import MemoryStore

SRC = pathlib.Path(smspolicy.__file__).parent
AT = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)
NUMBER = "+12125550123"


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: pathlib.Path) -> set[str]:
    """The smspolicy modules ``path`` imports (absolute names), at run time or for types."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("smspolicy"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("smspolicy"):
                continue
            found.add(target)
            for alias in node.names:  # ``from . import i18n`` imports a module
                if (SRC.parent / target.replace(".", "/") / f"{alias.name}.py").exists():
                    found.add(f"{target}.{alias.name}")
    return found


def sources() -> dict[str, pathlib.Path]:
    """Every module of the package, by name."""
    return {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def test_production_code_never_imports_the_testing_kit() -> None:
    """Only the testing kit's own modules import smspolicy.testing."""
    kit = {"smspolicy.testing", "smspolicy.pytest_plugin", "smspolicy.strategies"}
    offenders = {
        name
        for name, path in sources().items()
        if name not in kit and "smspolicy.testing" in imports_of(path)
    }
    assert offenders == set()


def test_frozen_clock_lives_with_the_clocks() -> None:
    """smspolicy.testing.FrozenClock is the clock module's, re-exported."""
    assert smspolicy.testing.FrozenClock is smspolicy._clock.FrozenClock
    assert smspolicy._clock.FrozenClock.__module__ == "smspolicy._clock"


def test_reply_topic_is_a_bottom_layer_constant() -> None:
    """Rules read REPLY_TOPIC from the constants module, not from the inbound handler."""
    assert REPLY_TOPIC == "smspolicy.reply"
    for name, path in sources().items():
        if name.startswith("smspolicy.rules"):
            assert "smspolicy._inbound" not in imports_of(path), name


def test_engine_modules_never_look_up_store_methods_by_name() -> None:
    """No getattr/hasattr on a store in the engine, the decider or the reservations."""
    for name in ("_engine", "_decider", "_reserve", "_inbound", "_audit", "consent"):
        tree = ast.parse((SRC / f"{name}.py").read_text(encoding="utf-8"))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr"}
            and "store" in ast.unparse(node.args[0])
        ]
        assert calls == [], name


def test_ledger_needs_only_a_store_a_clock_addresses_and_topics() -> None:
    """A Ledger works without an engine: it is given the store, the clock and the rest."""
    store = MemoryStore()
    ledger = Ledger(
        store,
        lambda: AT,
        lambda number: number,
        frozenset({"alerts"}),
        pending_expiry=dt.timedelta(days=1),
    )
    event = ledger.opt_in(NUMBER, topic="alerts", purpose=Purpose.MARKETING, source="form")
    assert event.at == AT
    assert event.expires == AT + dt.timedelta(days=1)
    assert store.consent_events([NUMBER])[NUMBER] == [event]


def test_inbound_handler_needs_no_engine() -> None:
    """An InboundHandler works from the ledger, the store's audience, the clock and programs."""
    store = MemoryStore()
    ledger = Ledger(store, lambda: AT, lambda n: n, frozenset(), pending_expiry=dt.timedelta(1))
    handler = InboundHandler(
        ledger=ledger,
        engagement=store,
        now=lambda: AT,
        address_of=lambda n: n,
        profile=lambda _n: None,
        programs=(),
        topics=frozenset(),
    )
    result = handler("STOP", NUMBER, None)
    assert result.kind is InboundKind.OPT_OUT
    assert [e.kind.value for e in store.consent_events([NUMBER])[NUMBER]] == ["revoked"]
    assert store.last_engagement([NUMBER])[NUMBER] == AT


def test_reserver_takes_a_decider_a_store_and_a_clock() -> None:
    """Reservations are made from (decider, store, clock), with no engine."""
    store = MemoryStore()
    decider = Decider(
        rules.frequency_cap(1, dt.timedelta(days=1), scope="all"),
        resolver=Resolver(),
        profile=lambda _n: None,
        history=dt.timedelta(days=2),
        senders={},
    )
    reserver = Reserver(decider, store, lambda: AT)
    message = Message(NUMBER, "alerts", Purpose.TRANSACTIONAL)
    first = reserver.reserve(message, dt.timedelta(minutes=5))
    assert first.allowed
    assert not reserver.reserve(message, dt.timedelta(minutes=5)).allowed
    first.commit("id-1")
    assert [r.provider_id for r in store.sends([NUMBER], since=AT)[NUMBER]] == ["id-1"]


def _held(part: object) -> list[object]:
    slots = [name for cls in type(part).__mro__ for name in getattr(cls, "__slots__", ())]
    values = [getattr(part, name) for name in slots if hasattr(part, name)]
    return values + list(getattr(part, "__dict__", {}).values())


def test_engine_helpers_are_not_given_the_engine() -> None:
    """The engine's parts hold neither the engine nor any of its bound methods."""
    engine = Engine(rules.valid_number(), MemoryStore())
    parts = [engine._decider, engine._reserver, engine._reserver.settler, engine.consent]
    parts.append(engine._inbound)
    for part in parts:
        held = _held(part)
        assert held, part
        for value in held:
            assert value is not engine, part
            assert getattr(value, "__self__", None) is not engine, (part, value)
