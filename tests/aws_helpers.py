"""Real boto3 clients whose HTTP answers are scripted through botocore's ``before-send`` event,
so botocore's own retry logic runs and every request that goes out is counted; and a store that
fails on demand."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import boto3
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from smspolicy.errors import StoreUnavailableError
from smspolicy.store import MemoryStore

DEFAULT_ATTEMPTS = {"standard": 3, "legacy": 5, "adaptive": 3}[
    botocore.session.get_session().get_config_variable("retry_mode")
]
"""What botocore does with a client built without a retry config: standard mode (3 attempts)
since botocore 1.44, legacy mode (5 attempts) before (aiobotocore pins an older botocore)."""

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def client(service: str, region: str = "us-east-1", *, config: Config | None = ONE_ATTEMPT) -> Any:
    """A real boto3 client with fake credentials (one attempt per call unless told)."""
    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


@attrs.frozen
class Answer:
    """One scripted HTTP answer. ``delivers`` says whether a request answered so may have
    reached the recipient (judged by the test, independently of the guard)."""

    kind: str  # "ok", "error", "read_timeout", "closed", "connect_timeout", "no_endpoint"
    status: int = 200
    body: Any = None
    code: str | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    per_address: Mapping[str, str] = attrs.field(factory=dict)  # Pinpoint DeliveryStatus

    @property
    def delivers(self) -> bool:
        if self.kind in ("connect_timeout", "no_endpoint"):
            return False
        if self.kind == "error":
            return self.status >= 500
        return True


def ok(body: Any = None, **per_address: str) -> Answer:
    """A 200 answer: for End User Messaging ``body`` (default a MessageId); for Pinpoint, every
    address SUCCESSFUL unless ``per_address`` says otherwise."""
    return Answer("ok", 200, body, per_address=per_address)


def error(code: str, status: int, **fields: Any) -> Answer:
    """An AWS error answer."""
    return Answer("error", status, code=code, fields=fields)


READ_TIMEOUT = Answer("read_timeout")
CLOSED = Answer("closed")
CONNECT_TIMEOUT = Answer("connect_timeout")
NO_ENDPOINT = Answer("no_endpoint")
THROTTLE_V2 = error("ThrottlingException", 400)
THROTTLE_PINPOINT = error("TooManyRequestsException", 429)
SERVER_V2 = error("InternalServerException", 500)
SERVER_PINPOINT = error("InternalServerErrorException", 500)
OPTED_OUT_V2 = error(
    "ConflictException",
    400,
    Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT",
    ResourceType="opt-out-list",
    ResourceId="default",
)


class Script:
    """Answers the client's requests for one operation in order and records each request."""

    def __init__(
        self,
        client: Any,
        operation: str,
        *answers: Answer,
        fallback: Answer | None = None,
        log: list[tuple[dict[str, Any], Answer]] | None = None,
    ) -> None:
        self.client = client
        self.fallback = fallback
        self.log = log
        self.operation = operation
        self.answers: deque[Answer] = deque(answers)
        self.requests: list[dict[str, Any]] = []
        self.given: list[Answer] = []
        service = client.meta.service_model.service_id.hyphenize()
        self.rest = client.meta.service_model.protocol == "rest-json"
        client.meta.events.register(f"before-send.{service}.{operation}", self._send)

    def add(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    @property
    def delivering(self) -> list[dict[str, Any]]:
        """The requests whose answer did not prove that nothing was delivered."""
        return [r for r, a in zip(self.requests, self.given, strict=True) if a.delivers]

    def _send(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse:
        body = json.loads(request.body or b"{}")
        if not self.answers and self.fallback is None:
            raise AssertionError(f"unexpected {self.operation} request: {body}")
        answer = self.answers.popleft() if self.answers else self.fallback
        assert answer is not None
        if self.log is not None:
            self.log.append((body, answer))
        if answer.kind == "connect_timeout":
            self.requests.append(body)
            self.given.append(answer)
            raise ConnectTimeoutError(endpoint_url=request.url)
        if answer.kind == "no_endpoint":
            self.requests.append(body)
            self.given.append(answer)
            raise EndpointConnectionError(endpoint_url=request.url)
        self.requests.append(body)
        self.given.append(answer)
        if answer.kind == "read_timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if answer.kind == "closed":
            raise ConnectionClosedError(endpoint_url=request.url)
        if answer.kind == "error":
            payload = {"Message": f"scripted {answer.code}", **answer.fields}
            headers = {"x-amzn-ErrorType": str(answer.code), "Content-Type": "application/json"}
            if not self.rest:
                payload["__type"] = str(answer.code)
            return _response(request, answer.status, headers, payload)
        if answer.body is not None:
            payload = answer.body
        elif self.operation == "SendMessages":
            addresses = body.get("MessageRequest", body).get("Addresses", {})
            payload = {
                "ApplicationId": "scripted",
                "RequestId": f"req-{len(self.requests)}",
                "Result": {
                    a: _result(a, answer.per_address.get(a, "SUCCESSFUL"), len(self.requests))
                    for a in addresses
                },
            }
        else:
            payload = {"MessageId": f"msg-{len(self.requests)}"}
        return _response(request, 200, {"Content-Type": "application/json"}, payload)


def destinations(body: Mapping[str, Any]) -> list[str]:
    """The addresses one request (of either API) went to."""
    if "DestinationPhoneNumber" in body:
        return [str(body["DestinationPhoneNumber"])]
    return list(body.get("MessageRequest", body).get("Addresses", {}))


DELIVERING_STATUSES = frozenset({"SUCCESSFUL", "TEMPORARY_FAILURE", "UNKNOWN_FAILURE"})


def may_deliver(answer: Answer, address: str) -> bool:
    """Whether a request answered so may have reached ``address`` (judged from the scripted
    answer alone: a 200 by the address's DeliveryStatus, otherwise by the answer's kind)."""
    if answer.kind == "ok":
        return answer.per_address.get(address, "SUCCESSFUL") in DELIVERING_STATUSES
    return answer.delivers


def opts_out(answer: Answer, address: str) -> bool:
    """Whether the answer reports ``address`` as opted out."""
    if answer.kind == "ok":
        return answer.per_address.get(address) == "OPT_OUT"
    return answer.fields.get("Reason") == "DESTINATION_PHONE_NUMBER_OPTED_OUT"


def _result(address: str, status: str, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "DeliveryStatus": status,
        "StatusCode": 200 if status == "SUCCESSFUL" else 400,
    }
    if status in ("SUCCESSFUL", "TEMPORARY_FAILURE", "UNKNOWN_FAILURE"):
        out["MessageId"] = f"msg-{n}-{address}"
    return out


def _response(
    request: AWSPreparedRequest, status: int, headers: dict[str, str], payload: Any
) -> AWSResponse:
    raw = _Raw(json.dumps(payload).encode())
    return AWSResponse(request.url, status, {"x-amzn-RequestId": "rid", **headers}, raw)


class FlakyStore(MemoryStore):
    """A MemoryStore whose named operations raise StoreUnavailableError while listed in
    ``failing`` ("settle", "consent", "reserve", "record")."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: set[str] = set()

    def _check(self, what: str) -> None:
        if what in self.failing:
            raise StoreUnavailableError(f"scripted outage: {what}")

    def settle_many(self, settlements: Any) -> None:
        self._check("settle")
        super().settle_many(settlements)

    def settle(self, record: Any, *, provider_id: str | None, sent: bool) -> None:
        self._check("settle")
        super().settle(record, provider_id=provider_id, sent=sent)

    def append_consent(self, event: Any) -> Any:
        self._check("consent")
        return super().append_consent(event)

    def hold(self, *args: Any, **kwargs: Any) -> Any:
        self._check("reserve")
        return super().hold(*args, **kwargs)

    def reserve_many(self, *args: Any, **kwargs: Any) -> Any:
        self._check("reserve")
        return super().reserve_many(*args, **kwargs)

    def record_send(self, record: Any) -> Any:
        self._check("record")
        return super().record_send(record)


Sleep = Callable[[float], None]
