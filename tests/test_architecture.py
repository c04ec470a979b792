"""The package's shape: the engine is a facade over parts with narrow dependencies, and the
modules depend on each other one way."""

from __future__ import annotations

import ast
import datetime as dt
import pathlib

import attrs

import smspolicy
import smspolicy._clock
import smspolicy.testing
from smspolicy import Channel, Engine, Message, Purpose, jurisdictions, rules
from smspolicy._constants import REPLY_TOPIC
from smspolicy._decider import Decider, required_history
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
    text = path.read_text(encoding="utf-8")
    return imports_in(text, _module_name(path), package=path.name == "__init__.py")


def imports_in(text: str, module: str, *, package: bool) -> set[str]:
    """The smspolicy modules the source ``text`` of ``module`` imports."""
    base_package = module if package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("smspolicy"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = base_package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("smspolicy"):
                continue
            for alias in node.names:  # ``from . import i18n`` imports a module, not the package
                folder = SRC.parent / target.replace(".", "/") / alias.name
                if folder.with_suffix(".py").exists() or (folder / "__init__.py").exists():
                    found.add(f"{target}.{alias.name}")
                else:
                    found.add(target)
    return found


def sources() -> dict[str, pathlib.Path]:
    """Every module of the package, by name."""
    return {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def test_production_code_never_imports_the_testing_kit() -> None:
    """Only the testing kit's own modules import smspolicy.testing."""
    kit = {
        "smspolicy.testing",
        "smspolicy._laws",
        "smspolicy.pytest_plugin",
        "smspolicy.strategies",
    }
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


# --- caches --------------------------------------------------------------------------------


def test_constructor_bypasses_live_in_the_memo_module() -> None:
    """object.__setattr__ and object.__new__ appear only in smspolicy._memo."""
    found = set()
    for name, path in sources().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "object"
                and node.attr in {"__setattr__", "__new__"}
            ):
                found.add(name)
    assert found == {"smspolicy._memo"}


def _private_values(rule: object) -> list[tuple[str, object]]:
    return [
        (field.name, getattr(rule, field.name))
        for field in attrs.fields(type(rule))
        if field.name.startswith("_")
    ]


PACKS = jurisdictions.standard(include_unconfirmed=True)
PROVISIONS = next(rule for rule in PACKS.rules if type(rule).__name__ == "Provisions")


def test_frozen_rules_hold_no_mutable_caches() -> None:
    """No built-in rule keeps a dict, list or set of its own to remember answers in."""
    built = [
        rules.sending_window(dt.time(8), dt.time(21)),
        rules.quiet_hours(dt.time(21), dt.time(8)),
        rules.frequency_cap(2, dt.timedelta(days=1)),
        rules.frequency_cap(2, "week", calendar=True),
        rules.consent(),
        rules.dedupe(dt.timedelta(days=1)),
        rules.valid_number(),
        *PACKS.rules,
        *(provision.rule for provision in PROVISIONS.provisions),
    ]
    for rule in built:
        assert attrs.has(type(rule)), rule
        for name, value in _private_values(rule):
            assert not isinstance(value, dict | list | set), (rule, name)


REGISTRIES = {("smspolicy.i18n", "REASON_TEMPLATES")}
"""Module-level tables keyed by value that rules add their reason codes to (not caches)."""


def _module_containers() -> dict[tuple[str, str], int]:
    import importlib

    sizes = {}
    for name in sources():
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (name, attribute) in REGISTRIES:
                continue
            if isinstance(value, dict | list | set) and not attribute.startswith("__"):
                sizes[(name, attribute)] = len(value)
    return sizes


def test_deciding_fills_no_module_global_cache() -> None:
    """Deciding a batch leaves every module-level dict, list and set as it was: what is
    remembered belongs to the engine that decided."""
    from smspolicy import jurisdictions

    engine = Engine(
        smspolicy.Policy(jurisdictions.standard(), rules.consent(), name="p"),
        MemoryStore(),
        smspolicy.testing.FrozenClock(AT),
    )
    messages = [Message(f"+1212555{i:04d}", "news", Purpose.MARKETING) for i in range(50)]
    engine.consent.confirm("+12125550199", topic="news", purpose="marketing", source="t")
    warm = [*messages, Message("+12125550199", "news", Purpose.MARKETING)]
    list(engine.evaluate_many(warm))  # warm anything filled once, at first use (imports)
    before = _module_containers()
    engine.consent.confirm(NUMBER, topic="news", purpose="marketing", source="t")
    again = [Message(f"+1310555{i:04d}", "news", Purpose.MARKETING) for i in range(50)]
    list(engine.evaluate_many([*again, Message(NUMBER, "news", Purpose.MARKETING)]))
    assert _module_containers() == before


def test_the_decider_owns_the_shared_memo() -> None:
    """Contexts built by an engine share its decider's memo; a context built alone has its
    own."""
    engine = Engine(rules.valid_number(), MemoryStore())
    message = Message(NUMBER, "news", Purpose.MARKETING)
    recipient = engine.recipient(message)
    snapshot = engine.store.snapshot([NUMBER], persons=[], since=AT)
    context = engine._decider.context(snapshot, message, recipient, AT)
    assert context.shared is engine._decider.memo
    assert context.at(AT + dt.timedelta(hours=1)).shared is engine._decider.memo
    alone = smspolicy.Context(now=AT, recipient=recipient)
    assert alone.shared is not engine._decider.memo


def test_no_cache_switch_turns_every_memo_off() -> None:
    """With SMSPOLICY_NO_CACHE=1 a fresh interpreter computes every memoised value again
    and decides exactly as with caches."""
    import subprocess
    import sys

    script = (
        "import datetime as dt, smspolicy._memo as m\n"
        "calls = []\n"
        "def rec(x):\n    calls.append(x)\n    return x\n"
        "memo = m.Memo()\n"
        "for _ in range(3): memo.get('k', rec, 1)\n"
        "cached = {}\n"
        "for _ in range(2): m.bounded(cached, 'k', 9, rec, 2)\n"
        "f = m.lru(None)(rec)\n"
        "f(3); f(3)\n"
        "print(m.CACHES, calls)\n"
    )
    import os

    for value, expected in (("1", "False [1, 1, 1, 2, 2, 3, 3]"), ("", "True [1, 2, 3]")):
        env = {**os.environ, "SMSPOLICY_NO_CACHE": value}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert out.startswith(expected), out


# --- combinators ---------------------------------------------------------------------------


def test_fast_path_asks_combinators_instead_of_looking_inside() -> None:
    """_fastpath.py names no private combinator type and no duck-typed attribute."""
    text = (SRC / "_fastpath.py").read_text(encoding="utf-8")
    for name in ("_AllOf", "_When", "_ALLOW", "static_dispatch", "rule_for", "getattr"):
        assert name not in text, name


class _Both:
    """A combinator written outside the library: both rules must allow."""

    def __init__(self, first: object, second: object) -> None:
        self.first, self.second = first, second

    def __call__(self, message: Message, context: smspolicy.Context) -> smspolicy.Decision:
        return smspolicy.all_of(self.first, self.second)(message, context)  # type: ignore[arg-type]

    def leaves(
        self, purpose: Purpose, jurisdictions: frozenset[str], channel: Channel
    ) -> tuple[object, ...]:
        return (self.first, self.second)

    def lookback(self) -> dt.timedelta:
        return max(required_history(self.first), required_history(self.second))


def test_a_new_combinator_is_one_class() -> None:
    """A class with leaves() and lookback() is opened by the fast path and read for the
    history the engine keeps, with no change to the library."""
    from smspolicy._compose import leaves_of
    from smspolicy._fastpath import FastPath

    cap = rules.frequency_cap(1, dt.timedelta(days=40), scope="all")
    both = _Both(rules.valid_number(), cap)
    engine = Engine(smspolicy.Policy(both, name="p"), MemoryStore())  # type: ignore[arg-type]
    assert engine.history == dt.timedelta(days=93)
    longer = _Both(rules.valid_number(), rules.frequency_cap(1, dt.timedelta(days=100)))
    assert required_history(longer) == dt.timedelta(days=100)
    assert leaves_of(both, Purpose.MARKETING, frozenset(), Channel.SMS) == (both.first, both.second)
    fast = FastPath(smspolicy.Policy(both, name="p"))  # type: ignore[arg-type]
    leaves = fast._flatten(Purpose.MARKETING, frozenset({"US"}), Channel.SMS)[0]
    assert leaves == (both.first, cap)


def test_required_history_does_not_walk_attribute_names() -> None:
    """A rule that merely has an attribute named ``rules`` is not looked inside."""

    class Holder:
        rules = (rules.frequency_cap(1, dt.timedelta(days=200)),)

        def __call__(self, message: Message, context: object) -> smspolicy.Decision:
            return smspolicy.allow()

    assert required_history(Holder()) == dt.timedelta(0)
    wrapped = smspolicy.when(smspolicy.predicates.is_marketing, Holder.rules[0])
    assert required_history(smspolicy.Policy(wrapped, name="p")) == dt.timedelta(days=200)


# --- layers --------------------------------------------------------------------------------

LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "values and records",
        frozenset(
            {
                "smspolicy.errors",
                "smspolicy._enum",
                "smspolicy._constants",
                "smspolicy._memo",
                "smspolicy._annotate",
                "smspolicy._normalise",
                "smspolicy._time",
                "smspolicy._values",
                "smspolicy.i18n",
                "smspolicy.segments",
                "smspolicy.keywords",
                "smspolicy._records",
                "smspolicy.dnc",
                "smspolicy.zones",
            }
        ),
    ),
    (
        "recipients, records and stores",
        frozenset(
            {
                "smspolicy._clock",
                "smspolicy._recipients",
                "smspolicy.programs",
                "smspolicy.consent",
                "smspolicy.store",
            }
        ),
    ),
    (
        "rules and combinators",
        frozenset(
            {
                "smspolicy._context",
                "smspolicy.typing",
                "smspolicy.predicates",
                "smspolicy._compose",
                "smspolicy.rules",
                "smspolicy.jurisdictions",
            }
        ),
    ),
    ("decider", frozenset({"smspolicy._fastpath", "smspolicy._decider"})),
    (
        "reservations, ledger and inbound",
        frozenset({"smspolicy._reserve", "smspolicy._inbound", "smspolicy._audit"}),
    ),
    ("engine facade", frozenset({"smspolicy._engine", "smspolicy"})),
    (
        "guards, command line and tools",
        frozenset(
            {
                "smspolicy.aws",
                "smspolicy.outbox",
                "smspolicy.config",
                "smspolicy.cli",
                "smspolicy.testing",
                "smspolicy.strategies",
                "smspolicy.pytest_plugin",
                "smspolicy.jurisdictions.__main__",
                "smspolicy._laws",
                "smspolicy._cli_output",
                "smspolicy.reasons",
                "smspolicy.otel",
                "smspolicy.pinpoint",
            }
        ),
    ),
)
"""The layers of docs/explanation.md, lowest first; a module belongs to the layer of its
longest listed prefix."""


def layer_of(module: str) -> int:
    """The index of ``module``'s layer."""
    best: tuple[int, int] | None = None
    for index, (_name, members) in enumerate(LAYERS):
        for member in members:
            inside = module == member or module.startswith(member + ".")
            if inside and (best is None or len(member) > best[0]):
                best = (len(member), index)
    assert best is not None, f"{module} is in no layer: add it to LAYERS and the docs"
    return best[1]


def upward(module: str, targets: set[str]) -> list[str]:
    """The imports among ``targets`` that point above ``module``'s layer."""
    own = layer_of(module)
    return sorted(t for t in targets if layer_of(t) > own)


def test_no_module_imports_a_higher_layer() -> None:
    """Every import of the package points to the importer's layer or one below it."""
    found = {name: upward(name, imports_of(path)) for name, path in sources().items()}
    assert {name: targets for name, targets in found.items() if targets} == {}


def test_the_layer_check_sees_an_upward_import() -> None:
    """The check finds a rule module that imports the engine, even for types only."""
    path = SRC / "rules" / "_numbers.py"
    text = path.read_text(encoding="utf-8")
    assert (
        upward(
            "smspolicy.rules._numbers", imports_in(text, "smspolicy.rules._numbers", package=False)
        )
        == []
    )
    bad = text + "\nif TYPE_CHECKING:\n    from .._engine import Engine\n"
    assert upward(
        "smspolicy.rules._numbers", imports_in(bad, "smspolicy.rules._numbers", package=False)
    ) == ["smspolicy._engine"]


def test_the_docs_name_every_layer() -> None:
    """docs/explanation.md's architecture section names each layer of this test."""
    docs = (SRC.parent.parent / "docs" / "explanation.md").read_text(encoding="utf-8")
    section = docs[docs.index("## Architecture") :]
    for name, _members in LAYERS:
        assert name in section, name
