"""The outbox: hold deferred messages, release them at their instant through the policy."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import enum
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .._clock import Clock, SystemClock
from .._engine import Engine
from .._reserve import Reservation
from .._time import ensure_aware, ensure_duration
from .._values import Decision, Message, Reason, Verdict, check_text
from ..errors import ConfigurationError, InvalidInputError, ReservationExpiredError
from ._base import OutboxStore
from ._model import Finish, Held, HoldState, check_payload
from ._worker import RunStats, run_worker

__all__ = [
    "DEFAULT_VISIBILITY",
    "OnRelease",
    "Outbox",
    "Release",
    "ReleaseStatus",
    "Released",
    "Send",
]

log = logging.getLogger("smspolicy.outbox")

DEFAULT_VISIBILITY = dt.timedelta(minutes=5)
"""How long a claim lasts: a worker that dies gives its messages back after this."""


@attrs.frozen
class Release:
    """What the sender gets for one message allowed at release: the message, the caller's
    payload, and the idempotency key to hand to the provider where it takes one."""

    id: str
    key: str
    message: Message
    payload: Any
    attempt: int


Send = Callable[[Release], "str | None"]
"""The sender: sends one released message and returns the provider's message id (or None).
An exception means "not sent": the message is held again and retried."""


class ReleaseStatus(enum.Enum):
    """What became of a claimed message."""

    SENT = "sent"
    """Handed to the sender (or found already sent by an earlier claim) and completed."""
    HELD = "held"
    """Held again: the policy deferred it anew, or the send failed and will be retried."""
    DROPPED = "dropped"
    """Dropped for good with its reasons (STOP, consent gone, stale, too many failures)."""
    LOST = "lost"
    """Its claim ended before this worker finished and another worker took it over."""


@attrs.frozen
class Released:
    """The outcome of releasing one claimed message. ``recovered`` is True when an earlier
    claim had already recorded the send: the message was completed, not sent again."""

    held: Held
    status: ReleaseStatus
    decision: Decision | None = None
    provider_id: str | None = None
    reasons: tuple[Reason, ...] = ()
    until: dt.datetime | None = None
    recovered: bool = False


OnRelease = Callable[[Released], None]
"""A metrics hook: called once for every released message, after its outcome is stored."""


def _stale(message: Message, now: dt.datetime) -> Reason:
    return Reason(
        "message.stale",
        "outbox",
        f"the message was due by {message.not_after} and it is now {now}: stale content is "
        "never sent",
        data={"not_after": str(message.not_after), "now": str(now)},
    )


_OUTAGES = frozenset({"store.unavailable", "lookup.unavailable"})


def _unavailable(decision: Decision) -> bool:
    """True when the engine denied because a store or lookup was down (fail closed): the
    message is held and tried again, not dropped."""
    return any(reason.code in _OUTAGES for reason in decision.reasons)


def _send_failed(error: BaseException, final: bool) -> Reason:
    what = "gave up after repeated failures" if final else "will retry"
    return Reason(
        "send.failed",
        "outbox",
        f"the sender raised {type(error).__name__}: {error} ({what})",
        data={"error": repr(error)},
    )


def _duration(value: object, name: str) -> dt.timedelta:
    try:
        return ensure_duration(value, name)
    except InvalidInputError as error:
        raise ConfigurationError(str(error)) from None


def _open_store(store: OutboxStore | str | os.PathLike[str]) -> OutboxStore:
    if isinstance(store, OutboxStore):
        return store
    if isinstance(store, str | os.PathLike):
        text = os.fspath(store)
        if text.startswith(("postgresql://", "postgres://")):
            from .postgres import PostgresOutbox

            return PostgresOutbox(text)
        if text.startswith(("redis://", "rediss://", "unix://")):
            from .redis import RedisOutbox

            return RedisOutbox(text)
        from .sqlite import SQLiteOutbox

        return SQLiteOutbox(text)
    raise ConfigurationError(f"store must be an outbox store or a path or URL, got {store!r}")


class Outbox:
    """Deferred messages kept until their instant and released through the policy again.

    ``store`` is an outbox store, or a SQLite path, or a ``postgresql://`` or ``redis://`` URL.
    Holding needs no engine; releasing re-decides every message with ``engine.reserve`` (the
    engine's clock is the outbox's clock). A claim lasts ``visibility``; a send that raises is
    retried after ``retry``, and dropped with ``send.failed`` on claim ``max_attempts``.
    """

    def __init__(
        self,
        store: OutboxStore | str | os.PathLike[str],
        engine: Engine | None = None,
        *,
        visibility: dt.timedelta = DEFAULT_VISIBILITY,
        retry: dt.timedelta = dt.timedelta(minutes=1),
        max_attempts: int = 10,
        on_release: OnRelease | None = None,
        clock: Clock | None = None,
    ) -> None:
        if engine is not None and not isinstance(engine, Engine):
            raise ConfigurationError(f"engine must be an Engine, got {engine!r}")
        if engine is not None and clock is not None:
            raise ConfigurationError(
                "give an engine or a clock, not both: the engine's clock is used"
            )
        self.visibility = _duration(visibility, "visibility")
        self.retry = _duration(retry, "retry")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
        if on_release is not None and not callable(on_release):
            raise ConfigurationError(f"on_release must be callable, got {on_release!r}")
        self.store = _open_store(store)
        self.engine = engine
        self.max_attempts = max_attempts
        self.on_release = on_release
        self._now = engine.now if engine is not None else (clock or SystemClock()).now

    def __repr__(self) -> str:
        return f"Outbox({self.store!r})"

    def now(self) -> dt.datetime:
        """The current instant on the outbox's clock."""
        return ensure_aware(self._now(), "now")

    # --- holding -------------------------------------------------------------------------

    def hold(
        self,
        message: Message,
        decision: Decision | dt.datetime,
        *,
        payload: Any = None,
        key: str | None = None,
    ) -> Held:
        """Keep ``message`` until the DEFER ``decision``'s instant (or the instant given).
        ``payload`` is any JSON value the sender will get back (e.g. the original request);
        ``key`` is the idempotency key (a fresh one by default): holding again with a key
        already held stores nothing and returns the message that holds it."""
        if not isinstance(message, Message):
            raise InvalidInputError(f"expected a Message, got {message!r}")
        if isinstance(decision, Decision):
            if decision.verdict is not Verdict.DEFER or decision.until is None:
                raise InvalidInputError(
                    f"only a deferred message is held; the decision was {decision.verdict.value}"
                )
            due = decision.until
        else:
            due = ensure_aware(decision, "decision")
        check_text(key, "key", optional=True)
        check_payload(payload)
        id = uuid.uuid4().hex
        held = Held(
            id=id,
            key=key if key is not None else id,
            message=message,
            payload=payload,
            due=due.astimezone(dt.UTC),
            held_at=self.now(),
            reasons=decision.reasons if isinstance(decision, Decision) else (),
        )
        return self.store.add(held)

    # --- releasing -----------------------------------------------------------------------

    def claim(self, now: dt.datetime | None = None, limit: int = 100) -> list[Held]:
        """Claim up to ``limit`` messages ready at ``now`` (default: the clock's now) for the
        visibility timeout; release them with :meth:`release`."""
        at = self.now() if now is None else ensure_aware(now, "now")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit must be an integer >= 1, got {limit!r}")
        return self.store.claim(at, limit, at + self.visibility, uuid.uuid4().hex)

    def release_due(self, send: Send, *, limit: int = 100, concurrency: int = 1) -> list[Released]:
        """Claim the messages ready now and release them (one batch)."""
        return self.release(self.claim(limit=limit), send, concurrency=concurrency)

    def release(
        self,
        claimed: Sequence[Held],
        send: Send,
        *,
        concurrency: int = 1,
        executor: concurrent.futures.Executor | None = None,
    ) -> list[Released]:
        """Decide each claimed message again through ``engine.reserve``: ALLOW → ``send``,
        then the send is recorded and the reservation committed with the provider id;
        DEFER → held again at the new instant; DENY, or past ``not_after`` → dropped with
        the reasons. A message whose send an earlier claim recorded is completed, not sent
        again. ``concurrency`` sends run at once."""
        engine = self._engine()
        if not callable(send):
            raise ConfigurationError(f"send must be callable, got {send!r}")
        claimed = list(claimed)
        for item in claimed:
            if not isinstance(item, Held) or item.state is not HoldState.CLAIMED:
                raise InvalidInputError(f"release takes what claim() returned, got {item!r}")
        now = self.now()
        finishes: list[Finish] = []
        results: list[Released] = []
        to_send: list[tuple[Held, Reservation]] = []
        fresh: list[Held] = []
        for held in claimed:
            token = held.token or ""
            if held.sent_at is not None:
                results.append(self._recover(engine, held, now, finishes))
            elif held.message.not_after is not None and now > held.message.not_after:
                reason = _stale(held.message, now)
                finishes.append(Finish(held.id, token, HoldState.DROPPED, now, reasons=(reason,)))
                results.append(Released(held, ReleaseStatus.DROPPED, reasons=(reason,)))
            else:
                fresh.append(held)
        reservations = engine.reserve_many([h.message for h in fresh], hold=self.visibility)
        for held, reservation in zip(fresh, reservations, strict=True):
            decision, token = reservation.decision, held.token or ""
            if reservation.allowed:
                to_send.append((held, reservation))
            elif decision.verdict is Verdict.DENY and _unavailable(decision):
                until = now + self.retry  # an outage is not a verdict on the message
                finishes.append(
                    Finish(held.id, token, HoldState.HELD, now, due=until, reasons=decision.reasons)
                )
                results.append(
                    Released(
                        held, ReleaseStatus.HELD, decision, reasons=decision.reasons, until=until
                    )
                )
            elif decision.verdict is Verdict.DEFER and decision.until is not None:
                finishes.append(
                    Finish(
                        held.id,
                        token,
                        HoldState.HELD,
                        now,
                        due=decision.until,
                        reasons=decision.reasons,
                    )
                )
                results.append(
                    Released(
                        held,
                        ReleaseStatus.HELD,
                        decision,
                        reasons=decision.reasons,
                        until=decision.until,
                    )
                )
            else:
                finishes.append(
                    Finish(held.id, token, HoldState.DROPPED, now, reasons=decision.reasons)
                )
                results.append(
                    Released(held, ReleaseStatus.DROPPED, decision, reasons=decision.reasons)
                )
        if to_send:
            results += self._send(engine, to_send, send, now, finishes, concurrency, executor)
        done = self.store.finish(finishes) if finishes else []
        by_id = dict(zip([f.id for f in finishes], done, strict=True))
        out = [
            r if by_id.get(r.held.id, True) else attrs.evolve(r, status=ReleaseStatus.LOST)
            for r in results
        ]
        if self.on_release is not None:
            for result in out:
                try:
                    self.on_release(result)
                except Exception:  # a metrics hook must never stop a release
                    log.exception("the outbox's on_release hook failed")
        return out

    def _engine(self) -> Engine:
        if self.engine is None:
            raise ConfigurationError("releasing re-decides each message: give Outbox an engine")
        return self.engine

    def _recover(
        self, engine: Engine, held: Held, now: dt.datetime, finishes: list[Finish]
    ) -> Released:
        """An earlier claim sent this message and died before finishing: record the send in
        the engine's log (its reservation expired uncommitted) and complete it."""
        token = held.token or ""
        try:
            engine.record_sent(held.message, provider_id=held.provider_id)
        except Exception as error:
            log.warning("cannot record the recovered send of %s yet: %r", held.id, error)
            finishes.append(Finish(held.id, token, HoldState.HELD, now, due=now + self.retry))
            return Released(held, ReleaseStatus.HELD, until=now + self.retry, recovered=True)
        finishes.append(Finish(held.id, token, HoldState.SENT, now, provider_id=held.provider_id))
        return Released(held, ReleaseStatus.SENT, provider_id=held.provider_id, recovered=True)

    def _send(
        self,
        engine: Engine,
        items: list[tuple[Held, Reservation]],
        send: Send,
        now: dt.datetime,
        finishes: list[Finish],
        concurrency: int,
        executor: concurrent.futures.Executor | None,
    ) -> list[Released]:
        def one(held: Held) -> tuple[str | None, BaseException | None]:
            release = Release(held.id, held.key, held.message, held.payload, held.attempts)
            try:
                provider_id = send(release)
            except Exception as error:
                return None, error
            if provider_id is not None and not isinstance(provider_id, str):
                provider_id = str(provider_id)
            return provider_id, None

        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidInputError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        if executor is None and (concurrency == 1 or len(items) == 1):
            outcomes = [one(held) for held, _ in items]
        elif executor is None:
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                outcomes = list(pool.map(one, [held for held, _ in items]))
        else:
            outcomes = list(executor.map(one, [held for held, _ in items]))
        sent_at = self.now()
        self.store.record_sends(
            [
                (held.id, provider_id, sent_at)
                for (held, _), (provider_id, error) in zip(items, outcomes, strict=True)
                if error is None
            ]
        )
        results = []
        settlements: list[tuple[Reservation, str | None, bool]] = []
        for (held, reservation), (provider_id, error) in zip(items, outcomes, strict=True):
            token = held.token or ""
            settlements.append((reservation, provider_id, error is None))
            if error is None:
                finishes.append(
                    Finish(held.id, token, HoldState.SENT, sent_at, provider_id=provider_id)
                )
                results.append(
                    Released(
                        held, ReleaseStatus.SENT, reservation.decision, provider_id=provider_id
                    )
                )
                continue
            final = held.attempts >= self.max_attempts
            reason = _send_failed(error, final)
            if final:
                finishes.append(Finish(held.id, token, HoldState.DROPPED, now, reasons=(reason,)))
                results.append(
                    Released(held, ReleaseStatus.DROPPED, reservation.decision, reasons=(reason,))
                )
            else:
                until = now + self.retry
                finishes.append(
                    Finish(held.id, token, HoldState.HELD, now, due=until, reasons=(reason,))
                )
                results.append(
                    Released(
                        held,
                        ReleaseStatus.HELD,
                        reservation.decision,
                        reasons=(reason,),
                        until=until,
                    )
                )
        self._settle(engine, settlements)
        return results

    def _settle(
        self, engine: Engine, settlements: list[tuple[Reservation, str | None, bool]]
    ) -> None:
        """Commit the engine's reservations of what went out, release the others. A send
        happened whatever the engine's store says, so a late commit the policy refuses is
        recorded anyway, to keep the send log true."""
        try:
            engine.settle_many(settlements)
        except ReservationExpiredError as error:
            provider_ids = {id(r): provider_id for r, provider_id, _sent in settlements}
            for reservation in error.reservations:
                if isinstance(reservation, Reservation) and reservation.message is not None:
                    engine.record_sent(
                        reservation.message, provider_id=provider_ids.get(id(reservation))
                    )
        except Exception as error:
            log.warning("the engine could not settle a release (%r); the outbox has it", error)

    def run(
        self,
        send: Send,
        *,
        batch: int = 100,
        concurrency: int = 1,
        poll: float = 1.0,
        stop: threading.Event | None = None,
        once: bool = False,
        handle_signals: bool = True,
    ) -> RunStats:
        """Release due messages until stopped: claim up to ``batch`` at a time, send with
        ``concurrency`` threads, sleep ``poll`` seconds when nothing is ready. SIGTERM and
        SIGINT (when called from the main thread and ``handle_signals``), or setting ``stop``,
        end the loop after the batch in hand is finished. ``once=True`` returns as soon as
        nothing is ready. Returns the counts."""
        return run_worker(
            self,
            send,
            batch=batch,
            concurrency=concurrency,
            poll=poll,
            stop=stop,
            once=once,
            handle_signals=handle_signals,
        )

    # --- records -------------------------------------------------------------------------

    def get(self, id: str) -> Held | None:
        """The held message with this id (in any state), or None."""
        return self.store.get(id)

    def dropped(self, limit: int = 100) -> list[Held]:
        """The dead letters: dropped messages with their reasons, oldest drop first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit must be an integer >= 1, got {limit!r}")
        return self.store.dropped(limit)

    def counts(self) -> Mapping[HoldState, int]:
        """How many messages are held, claimed, sent and dropped."""
        return self.store.counts()

    def close(self) -> None:
        """Close the store's connections."""
        self.store.close()
