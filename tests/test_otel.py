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


def test_store_calls_are_timed_and_their_failures_counted() -> None:
    """measure_store times each call at the store's boundary by operation and outcome, and
    counts the calls that raised by operation and error type, for a known sequence of calls."""
    from smspolicy.otel import measure_store

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    clock = FrozenClock(NOW)
    policy = Policy(rules.consent(), name="p")
    engine = Engine(policy, measure_store(MemoryStore(), meter_provider=meters), clock)
    engine.consent.confirm(NEW_YORK, topic="deals", purpose="marketing", source="web")
    message = Message(NEW_YORK, "deals", "marketing")
    engine.evaluate(message)  # profiles read, then one snapshot
    engine.evaluate(message)  # the profile is remembered: one snapshot
    # profiles read, then a snapshot that fails (its consent read fails inside the store)
    broken = Engine(policy, measure_store(BrokenStore(), meter_provider=meters), clock)
    assert broken.evaluate(message).codes == ("store.unavailable",)

    found = points(reader)
    assert found["smspolicy.store.duration"] == {
        (("operation", "append_consent"), ("outcome", "ok")): 1,
        (("operation", "profiles"), ("outcome", "ok")): 2,
        (("operation", "snapshot"), ("outcome", "ok")): 2,
        (("operation", "snapshot"), ("outcome", "error")): 1,
    }
    assert found["smspolicy.store.failures"] == {
        (("error", "ConnectionError"), ("operation", "snapshot")): 1
    }


def test_measured_store_keeps_the_stores_capabilities() -> None:
    """A measured store is still a Store and a ProfileStore, and shows what it wraps."""
    from smspolicy.otel import measure_store
    from smspolicy.store import ProfileStore, SlotStore, Store

    class NoProfiles(MemoryStore):
        upsert_profiles = None  # type: ignore[assignment]
        profiles = None  # type: ignore[assignment]

    measured = measure_store(MemoryStore())
    assert isinstance(measured, Store)
    assert isinstance(measured, ProfileStore)
    assert isinstance(measured, SlotStore)
    without = measure_store(NoProfiles())
    assert isinstance(without, Store)
    assert not isinstance(without, ProfileStore)
    assert repr(measured) == "measure_store(MemoryStore())"


def test_reserve_many_has_a_span_and_counts_each_reservation() -> None:
    """reserve_many opens one span with the batch's counts and counts each reservation."""
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
    batch = [Message(n, "deals", "marketing") for n in (NEW_YORK, LOS_ANGELES, NO_CONSENT)]
    reservations = engine.reserve_many(batch)
    assert [r.decision.verdict.value for r in reservations] == ["allow", "defer", "deny"]

    found = points(reader)
    assert found["smspolicy.reservations"] == {
        (("outcome", "granted"),): 1,
        (("outcome", "refused"),): 2,
    }
    assert found["smspolicy.decisions"] == {
        (("verdict", "allow"),): 1,
        (("verdict", "defer"),): 1,
        (("verdict", "deny"),): 1,
    }
    assert found["smspolicy.batch.duration"] == {(): 1}
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["smspolicy.reserve_many"]
    assert dict(spans[0].attributes or {}) == {
        "smspolicy.batch.size": 3,
        "smspolicy.batch.allow": 1,
        "smspolicy.batch.defer": 1,
        "smspolicy.batch.deny": 1,
    }


def _global_spans() -> InMemorySpanExporter:
    """An exporter of the spans of the global tracer provider (set to the SDK's once)."""
    from opentelemetry import trace

    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_each_guard_call_has_a_span_with_channels_verdicts_and_outcomes() -> None:
    """send_messages with one address allowed and sent, one denied and one deferred gives one
    span smspolicy.aws.SendMessages with those counts; send_text_message gives its own."""
    import boto3
    from botocore.stub import Stubber

    from smspolicy.aws import PinpointGuard, SmsVoiceV2Guard, single_attempt

    exporter = _global_spans()
    clock = FrozenClock(NOW)
    policy = Policy(rules.consent(), rules.sending_window("08:00", "21:00"), name="p")
    engine = Engine(policy, MemoryStore(), clock)
    for number in (NEW_YORK, LOS_ANGELES):
        engine.consent.confirm(number, topic="deals", purpose="marketing", source="web")

    def aws(service: str) -> object:
        return boto3.client(
            service,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=single_attempt(),
        )

    pinpoint = aws("pinpoint")
    sms = {"Body": "Acme deals", "MessageType": "PROMOTIONAL"}
    request = {
        "Addresses": {n: {"ChannelType": "SMS"} for n in (NEW_YORK, LOS_ANGELES, NO_CONSENT)},
        "MessageConfiguration": {"SMSMessage": sms},
    }
    answer = {
        "MessageResponse": {
            "ApplicationId": "app",
            "Result": {NEW_YORK: {"DeliveryStatus": "SUCCESSFUL", "StatusCode": 200}},
        }
    }
    with Stubber(pinpoint) as stub:  # type: ignore[arg-type]
        stub.add_response("send_messages", answer)
        guard = PinpointGuard(pinpoint, engine, topic="deals")
        guard.send_messages(ApplicationId="app", MessageRequest=request)
    voice = aws("pinpoint-sms-voice-v2")
    with Stubber(voice) as stub:  # type: ignore[arg-type]
        stub.add_response("send_text_message", {"MessageId": "m-1"})
        SmsVoiceV2Guard(voice, engine, topic="deals").send_text_message(
            DestinationPhoneNumber=NEW_YORK, MessageBody="Acme deals", MessageType="PROMOTIONAL"
        )

    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("smspolicy.aws.")]
    assert [s.name for s in spans] == [
        "smspolicy.aws.SendMessages",
        "smspolicy.aws.SendTextMessage",
    ]
    assert dict(spans[0].attributes or {}) == {
        "smspolicy.guard.operation": "SendMessages",
        "smspolicy.channels": ("sms",),
        "smspolicy.guard.addresses": 3,
        "smspolicy.outcome.sent": 1,
        "smspolicy.outcome.deferred": 1,
        "smspolicy.outcome.denied": 1,
        "smspolicy.verdict.allow": 1,
        "smspolicy.verdict.defer": 1,
        "smspolicy.verdict.deny": 1,
    }
    assert dict(spans[1].attributes or {}) == {
        "smspolicy.guard.operation": "SendTextMessage",
        "smspolicy.channels": ("sms",),
        "smspolicy.guard.addresses": 1,
        "smspolicy.outcome.sent": 1,
        "smspolicy.verdict.allow": 1,
    }
