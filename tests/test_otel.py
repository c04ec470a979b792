"""OpenTelemetry: exact metric counts, spans and decision logs for a known batch, read with the
SDK's in-memory reader and exporter."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from smspolicy import ConsentEvent, Engine, Message, Policy, rules
from smspolicy.otel import DECISION_LOGGER, observe
from smspolicy.store import MemoryStore
from smspolicy.testing import FrozenClock

# 15:00 UTC: 10:00 in New York (inside 08:00-21:00), 07:00 in Los Angeles (outside).
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
NEW_YORK, LOS_ANGELES, NO_CONSENT = "+12125550100", "+12135550100", "+12125550199"


class BrokenStore(MemoryStore):
    """A store whose reads fail like a dropped connection."""

    def consent_events(self, numbers: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        raise ConnectionError("server closed the connection unexpectedly")


def points(reader: InMemoryMetricReader) -> dict[str, dict[tuple[tuple[str, object], ...], int]]:
    """Each metric's value (a sum's total, a histogram's count) by its sorted attributes."""
    found: dict[str, dict[tuple[tuple[str, object], ...], int]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = tuple(sorted((point.attributes or {}).items()))
                    value = getattr(point, "value", None)
                    found.setdefault(metric.name, {})[key] = (
                        point.count if value is None else value  # type: ignore[union-attr]
                    )
    return found


def test_metrics_spans_and_logs_of_a_known_batch(caplog: pytest.LogCaptureFixture) -> None:
    """A batch of one allow, one defer and one deny, one more decision, two reservations, two
    inbound texts and a store failure give exactly these counts, spans and log records."""
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    exporter = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(exporter))
    clock = FrozenClock(NOW)
    policy = Policy(rules.consent(), rules.sending_window("08:00", "21:00"), name="p")
    engine = observe(
        Engine(policy, MemoryStore(), clock), meter_provider=meters, tracer_provider=tracers
    )
    for number in (NEW_YORK, LOS_ANGELES):
        engine.consent.confirm(number, topic="deals", purpose="marketing", source="web")

    def deals(number: str) -> Message:
        return Message(number, "deals", "marketing")

    with caplog.at_level(logging.DEBUG, logger=DECISION_LOGGER):
        batch = list(
            engine.evaluate_many(iter([deals(NEW_YORK), deals(LOS_ANGELES), deals(NO_CONSENT)]))
        )
    assert [d.verdict.value for d in batch] == ["allow", "defer", "deny"]
    engine.evaluate(deals(NEW_YORK))
    assert engine.reserve(deals(NEW_YORK)).allowed
    assert not engine.reserve(deals(NO_CONSENT)).allowed
    engine.inbound("STOP", NEW_YORK)
    engine.inbound("HELP", LOS_ANGELES)
    broken = observe(
        Engine(policy, BrokenStore(), clock), meter_provider=meters, tracer_provider=tracers
    )
    broken.evaluate(deals(NEW_YORK))

    found = points(reader)
    assert found["smspolicy.decisions"] == {
        (("verdict", "allow"),): 3,
        (("verdict", "defer"),): 1,
        (("verdict", "deny"),): 3,
    }
    assert found["smspolicy.decision.reasons"] == {
        (("code", "hours.outside_window"), ("verdict", "defer")): 1,
        (("code", "consent.missing"), ("verdict", "deny")): 2,
        (("code", "store.unavailable"), ("verdict", "deny")): 1,
    }
    assert found["smspolicy.store.errors"] == {(): 1}
    assert found["smspolicy.decision.duration"] == {(): 2}
    assert found["smspolicy.batch.duration"] == {(): 1}
    assert found["smspolicy.reservations"] == {
        (("outcome", "granted"),): 1,
        (("outcome", "refused"),): 1,
    }
    assert found["smspolicy.inbound"] == {(("kind", "opt_out"),): 1, (("kind", "help"),): 1}

    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [
        "smspolicy.evaluate_many",
        "smspolicy.evaluate",
        "smspolicy.reserve",
        "smspolicy.reserve",
        "smspolicy.inbound",
        "smspolicy.inbound",
        "smspolicy.evaluate",
    ]
    assert dict(spans[0].attributes or {}) == {
        "smspolicy.batch.size": 3,
        "smspolicy.batch.allow": 1,
        "smspolicy.batch.defer": 1,
        "smspolicy.batch.deny": 1,
    }
    assert spans[-1].attributes["smspolicy.reasons"] == ("store.unavailable",)  # type: ignore[index]

    logged = [r.smspolicy for r in caplog.records if r.name == DECISION_LOGGER]  # type: ignore[attr-defined]
    assert logged[1] == {
        "verdict": "defer",
        "until": "2026-11-25T16:00:00+00:00",
        "codes": ["hours.outside_window"],
        "topic": "deals",
        "purpose": "marketing",
        "channel": "sms",
    }
    assert [entry["verdict"] for entry in logged] == ["allow", "defer", "deny"]


def test_without_an_sdk_nothing_is_recorded_and_decisions_are_unchanged() -> None:
    """With the global (no-op) providers the observed engine decides exactly as the engine."""
    clock = FrozenClock(NOW)
    policy = Policy(rules.consent(), name="p")
    plain = Engine(policy, MemoryStore(), clock)
    observed = observe(Engine(policy, MemoryStore(), clock))
    message = Message(NEW_YORK, "deals", "marketing")
    assert observed.evaluate(message) == plain.evaluate(message)
    assert list(observed.evaluate_many([message, message])) == list(
        plain.evaluate_many([message, message])
    )
    assert observed.programs == plain.programs
