"""OpenTelemetry metrics, traces and decision logs for an :class:`~smspolicy.Engine` (the
``otel`` extra).

``observe(engine)`` returns the engine behind a thin facade that counts every decision by verdict
and reason code, times decisions and batches, counts store failures, reservations granted and
refused and inbound texts by kind, opens a span per call and batch, and logs each decision at
DEBUG with stable field names. ``measure_store(store)`` times every call at the store's boundary
and counts the calls that fail, whatever the backend: build the engine on it. It goes through
the OpenTelemetry API only: nothing is recorded until the application configures an SDK (or
passes providers here).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar, cast

from opentelemetry import metrics, trace

from ._engine import Engine
from ._inbound import InboundResult
from ._reserve import Reservation
from ._values import Decision, Message

__all__ = ["DECISION_LOGGER", "ObservedEngine", "measure_store", "observe"]

_S = TypeVar("_S")

DECISION_LOGGER = "smspolicy.decisions"
"""The logger of the per-decision DEBUG records; each has ``extra={"smspolicy": {...}}`` with
the fields ``verdict``, ``until``, ``codes``, ``topic``, ``purpose`` and ``channel``."""

_SCOPE = "smspolicy"
_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Histogram buckets in seconds: a decision takes well under a millisecond to a few."""
_STORE_DOWN = "store.unavailable"
_log = logging.getLogger(DECISION_LOGGER)


class ObservedEngine:
    """An :class:`~smspolicy.Engine` whose decisions, batches, reservations and inbound texts
    are measured; every other attribute is the engine's own."""

    def __init__(
        self,
        engine: Engine,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.engine = engine
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        self._tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        self._decisions = meter.create_counter(
            "smspolicy.decisions", unit="{decision}", description="Decisions by verdict."
        )
        self._reasons = meter.create_counter(
            "smspolicy.decision.reasons",
            unit="{reason}",
            description="Reasons given, by code and verdict.",
        )
        self._latency = meter.create_histogram(
            "smspolicy.decision.duration",
            unit="s",
            description="Time to decide one message.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self._batch_latency = meter.create_histogram(
            "smspolicy.batch.duration",
            unit="s",
            description="Time to decide a batch.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self._store_errors = meter.create_counter(
            "smspolicy.store.errors",
            unit="{decision}",
            description="Decisions held back because the store failed (store.unavailable).",
        )
        self._reservations = meter.create_counter(
            "smspolicy.reservations",
            unit="{reservation}",
            description="Reservations by outcome (granted or refused).",
        )
        self._inbound = meter.create_counter(
            "smspolicy.inbound", unit="{text}", description="Inbound texts by kind."
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def _count(self, message: Message, decision: Decision) -> None:
        verdict = decision.verdict.value
        self._decisions.add(1, {"verdict": verdict})
        for code in decision.codes:
            self._reasons.add(1, {"code": code, "verdict": verdict})
        if _STORE_DOWN in decision.codes:
            self._store_errors.add(1)
        if _log.isEnabledFor(logging.DEBUG):
            fields = {
                "verdict": verdict,
                "until": decision.until.isoformat() if decision.until else None,
                "codes": list(decision.codes),
                "topic": message.topic,
                "purpose": message.purpose.value,
                "channel": message.channel.value,
            }
            _log.debug("decision %s %s", verdict, ",".join(decision.codes), extra={_SCOPE: fields})

    def evaluate(self, message: Message) -> Decision:
        """:meth:`Engine.evaluate`, measured, in a span ``smspolicy.evaluate``."""
        with self._tracer.start_as_current_span("smspolicy.evaluate") as span:
            start = time.perf_counter()
            decision = self.engine.evaluate(message)
            self._latency.record(time.perf_counter() - start)
            span.set_attribute("smspolicy.verdict", decision.verdict.value)
            span.set_attribute("smspolicy.reasons", list(decision.codes))
        self._count(message, decision)
        return decision

    def evaluate_many(self, messages: Iterable[Message]) -> Iterator[Decision]:
        """:meth:`Engine.evaluate_many`, measured, in a span ``smspolicy.evaluate_many`` that
        ends when the decisions are all read. Messages stream through as they do without it."""
        pending: collections.deque[Message] = collections.deque()

        def read() -> Iterator[Message]:
            for message in messages:
                pending.append(message)
                yield message

        span = self._tracer.start_span("smspolicy.evaluate_many")
        start = time.perf_counter()
        counts = {"allow": 0, "defer": 0, "deny": 0}
        try:
            for decision in self.engine.evaluate_many(read()):
                counts[decision.verdict.value] += 1
                self._count(pending.popleft(), decision)
                yield decision
        finally:
            size = sum(counts.values())
            self._batch_latency.record(time.perf_counter() - start)
            span.set_attribute("smspolicy.batch.size", size)
            for verdict, count in counts.items():
                span.set_attribute(f"smspolicy.batch.{verdict}", count)
            span.end()

    def reserve(self, message: Message, **options: Any) -> Reservation:
        """:meth:`Engine.reserve`, measured: the decision, and a reservation granted or
        refused."""
        with self._tracer.start_as_current_span("smspolicy.reserve") as span:
            reservation = self.engine.reserve(message, **options)
            span.set_attribute("smspolicy.verdict", reservation.decision.verdict.value)
        self._count(message, reservation.decision)
        outcome = "granted" if reservation.allowed else "refused"
        self._reservations.add(1, {"outcome": outcome})
        return reservation

    def reserve_many(self, messages: Iterable[Message], **options: Any) -> list[Reservation]:
        """:meth:`Engine.reserve_many`, measured, in a span ``smspolicy.reserve_many`` with the
        batch's size and its counts by verdict; each reservation counted granted or refused."""
        batch = list(messages)
        with self._tracer.start_as_current_span("smspolicy.reserve_many") as span:
            start = time.perf_counter()
            reservations = self.engine.reserve_many(batch, **options)
            self._batch_latency.record(time.perf_counter() - start)
            counts = {"allow": 0, "defer": 0, "deny": 0}
            for reservation in reservations:
                counts[reservation.decision.verdict.value] += 1
            span.set_attribute("smspolicy.batch.size", len(reservations))
            for verdict, count in counts.items():
                span.set_attribute(f"smspolicy.batch.{verdict}", count)
        for message, reservation in zip(batch, reservations, strict=True):
            self._count(message, reservation.decision)
            outcome = "granted" if reservation.allowed else "refused"
            self._reservations.add(1, {"outcome": outcome})
        return reservations

    def inbound(self, text: str, from_: str, *, to: str | None = None) -> InboundResult:
        """:meth:`Engine.inbound`, counted by the kind of text."""
        with self._tracer.start_as_current_span("smspolicy.inbound") as span:
            result = self.engine.inbound(text, from_, to=to)
            span.set_attribute("smspolicy.inbound.kind", result.kind.value)
        self._inbound.add(1, {"kind": result.kind.value})
        return result


def observe(
    engine: Engine,
    *,
    meter_provider: metrics.MeterProvider | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> ObservedEngine:
    """``engine`` measured through OpenTelemetry: the global providers unless others are
    given (no-op until the application configures an SDK)."""
    return ObservedEngine(engine, meter_provider, tracer_provider)


class _MeasuredStore:
    """A store whose every public call is timed (``smspolicy.store.duration``, by operation and
    outcome) and, when it raises, counted (``smspolicy.store.failures``, by operation and
    error type); everything else is the store's own."""

    def __init__(self, store: object, meter: metrics.Meter) -> None:
        self._store = store
        self._duration = meter.create_histogram(
            "smspolicy.store.duration",
            unit="s",
            description="Time of one store call, by operation and outcome (ok or error).",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self._failures = meter.create_counter(
            "smspolicy.store.failures",
            unit="{call}",
            description="Store calls that raised, by operation and error type.",
        )

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name.startswith("_") or not callable(found):
            return found
        measured = self._measure(name, found)
        self.__dict__[name] = measured  # found once: later calls skip __getattr__
        return measured

    def _measure(self, operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
        duration, failures = self._duration, self._failures
        ok = {"operation": operation, "outcome": "ok"}
        failed = {"operation": operation, "outcome": "error"}

        def measured(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                result = call(*args, **kwargs)
            except Exception as error:
                duration.record(time.perf_counter() - start, failed)
                failures.add(1, {"operation": operation, "error": type(error).__name__})
                raise
            duration.record(time.perf_counter() - start, ok)
            return result

        return measured

    def __repr__(self) -> str:
        return f"measure_store({self._store!r})"


def measure_store(store: _S, *, meter_provider: metrics.MeterProvider | None = None) -> _S:
    """``store`` with every call measured at its boundary, whatever the backend: a histogram
    ``smspolicy.store.duration`` (attributes ``operation``, ``outcome``) and a counter
    ``smspolicy.store.failures`` (``operation``, ``error``). The store keeps its type's
    capabilities (profiles, slots, batch reservations). Build the engine on it:
    ``Engine(policy, measure_store(SQLiteStore(path)))``. A reservation's time includes the
    policy's re-check under the store's lock."""
    meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
    return cast("_S", _MeasuredStore(store, meter))
