"""Guards for aiobotocore clients: :class:`AsyncPinpointGuard`, :class:`AsyncSmsVoiceV2Guard`
and :class:`AsyncSesV2Guard`, over an :class:`smspolicy.AsyncEngine`.

Each runs the synchronous guard's own code (:class:`PinpointGuard`, :class:`SmsVoiceV2Guard`,
:class:`SesV2Guard`) in a worker thread, as :class:`smspolicy.AsyncEngine` runs the consent
ledger: one implementation of every at-most-once rule (single-attempt clients, retries only on
proof of non-delivery, no failover after a possibly delivered request, the journal, validation
before any hold, idempotency keys, outbox holds), so the outcomes are the synchronous guards'.
The guard's store calls and its requests come back to the event loop as coroutines: the store's
through the engine's bridge, the requests through the aiobotocore client, awaited on the loop
that called the guard.

A guard call cancelled while its worker thread runs is not stopped halfway: the thread runs the
call to its end (a request that went out is settled and counted, a hold that sent nothing is
given back), and the cancellation reaches the caller.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import attrs

from .._async_engine import AsyncEngine, _offload
from ..errors import ConfigurationError
from ._guard import GuardBase, Region
from ._pinpoint import PinpointGuard
from ._ses import SesV2Guard
from ._smsvoice import SmsVoiceV2Guard

__all__ = ["AsyncPinpointGuard", "AsyncSesV2Guard", "AsyncSmsVoiceV2Guard"]

G = TypeVar("G", bound=GuardBase)


class BlockingClient:
    """An aiobotocore client as a synchronous botocore client, for the guard's code running in a
    worker thread while ``loop`` runs the client's coroutines. Everything but the calls (``meta``,
    the service model, the config the guard checks for retries) is the client's own."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"BlockingClient({self.client!r})"

    @property
    def meta(self) -> Any:
        """The aiobotocore client's ``meta`` (region, config, service model, events)."""
        return self.client.meta

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.client, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            if not inspect.isawaitable(result):
                return result
            loop = self.loop
            try:
                running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if loop is None or running is loop:
                if inspect.iscoroutine(result):
                    result.close()
                raise RuntimeError(
                    "an aiobotocore client was called synchronously outside the async guard's "
                    "worker thread: await the async guard instead"
                )
            return asyncio.run_coroutine_threadsafe(_awaited(result), loop).result()

        call.__name__ = name
        return call


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class _AsyncGuard(Generic[G]):
    """What the three async guards share: the synchronous guard over blocking views of the
    clients and of the async engine's store, run in a worker thread."""

    GUARD: ClassVar[type[GuardBase]]

    def __init__(
        self,
        client: Any,
        engine: AsyncEngine,
        *,
        failover: Sequence[Region] = (),
        **options: Any,
    ) -> None:
        if not isinstance(engine, AsyncEngine):
            raise ConfigurationError(f"engine must be a smspolicy.AsyncEngine, got {engine!r}")
        for region in failover:
            if not isinstance(region, Region):
                raise ConfigurationError(f"failover takes Region values, got {region!r}")
        self.async_engine = engine
        self._clients = [BlockingClient(client)]
        regions = []
        for region in failover:
            view = BlockingClient(region.client)
            self._clients.append(view)
            regions.append(attrs.evolve(region, client=view))
        guard: Any = self.GUARD(self._clients[0], engine.engine, failover=regions, **options)
        self.guard: G = guard

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.guard!r})"

    @property
    def client(self) -> Any:
        """The aiobotocore client."""
        return self._clients[0].client

    async def _run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        for view in self._clients:
            view.loop = loop
        return await _offload(self.async_engine._bridge, method, *args, **kwargs)

    async def replay(self) -> int:
        """As the synchronous guard's ``replay``: write the journal's entries to the store;
        return how many are still waiting."""
        result: int = await self._run(self.guard.replay)
        return result

    def pending(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Journal entries not yet written to the store (their numbers are denied)."""
        return self.guard.pending()


class AsyncPinpointGuard(_AsyncGuard[PinpointGuard]):
    """:class:`smspolicy.aws.PinpointGuard` for an aiobotocore ``pinpoint`` client and an
    :class:`smspolicy.AsyncEngine`: the same arguments and the same outcomes, awaited."""

    GUARD = PinpointGuard

    async def send_messages(self, **kwargs: Any) -> dict[str, Any]:
        """As :meth:`smspolicy.aws.PinpointGuard.send_messages`, awaited."""
        answer: dict[str, Any] = await self._run(self.guard.send_messages, **kwargs)
        return answer


class AsyncSmsVoiceV2Guard(_AsyncGuard[SmsVoiceV2Guard]):
    """:class:`smspolicy.aws.SmsVoiceV2Guard` for an aiobotocore ``pinpoint-sms-voice-v2``
    client and an :class:`smspolicy.AsyncEngine`: the same arguments and outcomes, awaited."""

    GUARD = SmsVoiceV2Guard

    async def send_text_message(self, **kwargs: Any) -> dict[str, Any]:
        """As :meth:`smspolicy.aws.SmsVoiceV2Guard.send_text_message`, awaited."""
        answer: dict[str, Any] = await self._run(self.guard.send_text_message, **kwargs)
        return answer


class AsyncSesV2Guard(_AsyncGuard[SesV2Guard]):
    """:class:`smspolicy.aws.SesV2Guard` for an aiobotocore ``sesv2`` client and an
    :class:`smspolicy.AsyncEngine`: the same arguments and outcomes, awaited."""

    GUARD = SesV2Guard

    async def send_email(self, **kwargs: Any) -> dict[str, Any]:
        """As :meth:`smspolicy.aws.SesV2Guard.send_email`, awaited."""
        answer: dict[str, Any] = await self._run(self.guard.send_email, **kwargs)
        return answer
