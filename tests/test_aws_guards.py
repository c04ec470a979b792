"""Both AWS guards against real boto3 clients whose HTTP answers are scripted through botocore's
``before-send`` event: every request that goes out is counted, and botocore's own retry logic
runs as configured."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from smspolicy import Engine, Message, Policy, Program, rules
from smspolicy.aws import (
    FileJournal,
    Outcome,
    OutcomeStatus,
    PinpointGuard,
    Region,
    SmsVoiceV2Guard,
    single_attempt,
)
from smspolicy.errors import ConfigurationError, RequestValidationError
from smspolicy.store import SendStatus
from smspolicy.testing import FrozenClock

from .aws_helpers import (
    CLOSED,
    CONNECT_TIMEOUT,
    DEFAULT_ATTEMPTS,
    NO_ENDPOINT,
    OPTED_OUT_V2,
    READ_TIMEOUT,
    SERVER_PINPOINT,
    SERVER_V2,
    THROTTLE_PINPOINT,
    THROTTLE_V2,
    Answer,
    FlakyStore,
    Script,
    client,
    error,
    ok,
)

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
DAY = dt.timedelta(days=1)
NY, NY2 = "+12125550123", "+12125550124"
EAST_ID, WEST_ID, ALERTS_ID, BETA_ID = (
    "+18885550100",
    "+18885550199",
    "+18885550177",
    "+18885550155",
)
BODY = "Acme: 20% off. Reply STOP to opt out."
ACME = Program(
    "Acme Deals",
    "Acme",
    topic="deals",
    senders=[EAST_ID, WEST_ID],
    help_contact="help@acme.example",
    frequency="4 msgs/week",
)
ALERTS = Program(
    "Acme Alerts",
    "Acme",
    topic="alerts",
    purpose="transactional",
    senders=[ALERTS_ID],
    help_contact="help@acme.example",
    frequency="4 msgs/week",
)
BETA = Program(
    "Beta Deals",
    "Beta",
    topic="deals",
    senders=[BETA_ID],
    help_contact="help@beta.example",
    frequency="4 msgs/week",
)


def make_engine(*extra: Any, store: FlakyStore | None = None, programs: Any = ()) -> Engine:
    """An engine where NY and NY2 consented to deals (marketing and transactional), with a cap
    of one send a day per topic unless ``extra`` rules say more."""
    policy = Policy(rules.consent(), *(extra or (rules.frequency_cap(1, DAY),)), name="t")
    engine = Engine(policy, store or FlakyStore(), FrozenClock(NOW), programs=list(programs))
    for number in (NY, NY2):
        for purpose in ("marketing", "transactional"):
            engine.consent.confirm(number, topic="deals", purpose=purpose, source="web")
    return engine


def sends(engine: Engine, number: str = NY) -> list[Any]:
    """The number's records in the send log today."""
    return engine.store.sends([number], since=NOW - dt.timedelta(days=1))[number]


def sent(engine: Engine, number: str = NY) -> list[Any]:
    """The number's counted (sent) records."""
    return [s for s in sends(engine, number) if s.status is SendStatus.SENT]


def pp_request(*addresses: str, body: str | None = BODY, **sms: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"MessageType": "PROMOTIONAL", "OriginationNumber": EAST_ID, **sms}
    if body is not None:
        message["Body"] = body
    return {
        "Addresses": {a: {"ChannelType": "SMS"} for a in addresses},
        "MessageConfiguration": {"SMSMessage": message},
    }


def addresses_of(body: dict[str, Any]) -> list[str]:
    """The destinations of one scripted request (either API)."""
    if "DestinationPhoneNumber" in body:
        return [body["DestinationPhoneNumber"]]
    return list(body.get("Addresses", {}))


@attrs.frozen
class Api:
    """One of the two guarded APIs, so each case runs on both."""

    name: str
    service: str
    operation: str
    throttle: Answer
    server: Answer

    def guard(self, c: Any, engine: Engine, **options: Any) -> Any:
        cls = SmsVoiceV2Guard if self.name == "v2" else PinpointGuard
        return cls(c, engine, topic="deals", **{"brand": "Acme", **options})

    def script(self, c: Any, *answers: Answer) -> Script:
        return Script(c, self.operation, *answers)

    def opt_out(self) -> Answer:
        return OPTED_OUT_V2 if self.name == "v2" else ok(**{NY: "OPT_OUT"})

    def call(
        self, guard: Any, number: str = NY, purpose: str = "PROMOTIONAL", **extra: Any
    ) -> tuple[Outcome, BaseException | None]:
        """Send BODY to ``number``; the outcome, and the error raised if any."""
        try:
            if self.name == "v2":
                answer = guard.send_text_message(
                    DestinationPhoneNumber=number,
                    MessageBody=BODY,
                    MessageType=purpose,
                    OriginationIdentity=EAST_ID,
                    **extra,
                )
                return answer["Outcome"], None
            answer = guard.send_messages(
                ApplicationId="app-east",
                MessageRequest=pp_request(number, MessageType=purpose),
                **extra,
            )
            return answer["Outcomes"][number], None
        except (ClientError, BotoCoreError) as raised:
            if self.name == "v2":
                return raised.outcome, raised  # type: ignore[attr-defined]
            return raised.outcomes[number], raised  # type: ignore[attr-defined]


V2 = Api("v2", "pinpoint-sms-voice-v2", "SendTextMessage", THROTTLE_V2, SERVER_V2)
PINPOINT = Api("pinpoint", "pinpoint", "SendMessages", THROTTLE_PINPOINT, SERVER_PINPOINT)
APIS = pytest.mark.parametrize("api", [V2, PINPOINT], ids=["v2", "pinpoint"])


def west_region(api: Api, origination: Any = WEST_ID) -> tuple[Any, Region]:
    c = client(api.service, "us-west-2")
    return c, Region(c, application_id="app-west", origination=origination)


# -- retries belong to the guard --------------------------------------------------------------


@APIS
@pytest.mark.parametrize(
    ("config", "attempts"),
    [
        (None, DEFAULT_ATTEMPTS),
        (Config(retries={"mode": "legacy"}), 5),
        (Config(retries={"total_max_attempts": 2}), 2),
    ],
    ids=["default", "legacy", "two-attempts"],
)
def test_a_client_that_retries_is_refused(api: Api, config: Config | None, attempts: int) -> None:
    """A client botocore would retry on its own (the default: 3 or 5 attempts by version) is
    refused with a clear error, as the primary client or a failover region's."""
    retrying = client(api.service, config=config)
    script = api.script(retrying)
    with pytest.raises(ConfigurationError, match=f"up to {attempts} attempts"):
        api.guard(retrying, make_engine())
    with pytest.raises(ConfigurationError, match="total_max_attempts"):
        api.guard(retrying, make_engine())
    single = client(api.service)
    with pytest.raises(ConfigurationError, match="us-west-2 makes up to"):
        api.guard(
            single,
            make_engine(),
            failover=[Region(client(api.service, "us-west-2", config=config))],
        )
    assert script.requests == []


def test_botocore_default_client_would_resend() -> None:
    """The hazard the guard closes: a default client resends after a read timeout (two requests
    for one call), while a single_attempt() client makes exactly one."""
    default = client("pinpoint-sms-voice-v2", config=None)
    script = Script(default, "SendTextMessage", READ_TIMEOUT, ok())
    default.send_text_message(DestinationPhoneNumber=NY, MessageBody=BODY)
    assert len(script.requests) == 2
    single = client("pinpoint-sms-voice-v2", config=single_attempt())
    script = Script(single, "SendTextMessage", READ_TIMEOUT, ok())
    with pytest.raises(ReadTimeoutError):
        single.send_text_message(DestinationPhoneNumber=NY, MessageBody=BODY)
    assert len(script.requests) == 1


def test_single_attempt_keeps_the_rest_of_the_config() -> None:
    """single_attempt(config) sets one attempt and keeps the caller's other settings."""
    config = single_attempt(Config(read_timeout=7, retries={"mode": "adaptive"}))
    assert config.retries == {"total_max_attempts": 1, "mode": "adaptive"}
    assert config.read_timeout == 7
    assert single_attempt().retries == {"total_max_attempts": 1, "mode": "standard"}


@APIS
@pytest.mark.parametrize(
    "answer", [READ_TIMEOUT, CLOSED, "server"], ids=["read-timeout", "reset", "5xx"]
)
def test_possibly_delivered_is_unknown_counted_and_never_resent(api: Api, answer: Any) -> None:
    """A read timeout, a connection reset after sending or a 5xx makes one request only: the
    outcome is unknown (not retryable), the send counts for the cap (six minutes later, past
    any hold, a 1-per-day cap still defers), and the error is raised with the outcome."""
    c = client(api.service)
    script = api.script(c, api.server if answer == "server" else answer, ok())
    engine = make_engine()
    outcome, raised = api.call(api.guard(c, engine))
    assert len(script.requests) == 1
    assert isinstance(raised, ClientError if answer == "server" else BotoCoreError)
    assert (outcome.status, outcome.retryable) == (OutcomeStatus.UNKNOWN, False)
    assert outcome.may_have_delivered
    assert [s.provider_id for s in sent(engine)] == [None]
    engine.clock.advance(dt.timedelta(minutes=6))  # type: ignore[attr-defined]
    again, _ = api.call(api.guard(c, engine))
    assert again.status is OutcomeStatus.DEFERRED
    assert len(script.requests) == 1


@APIS
@pytest.mark.parametrize(
    ("east", "fails_over", "status"),
    [
        ("throttle", True, OutcomeStatus.SENT),
        (CONNECT_TIMEOUT, True, OutcomeStatus.SENT),
        (NO_ENDPOINT, True, OutcomeStatus.SENT),
        (READ_TIMEOUT, False, OutcomeStatus.UNKNOWN),
        (CLOSED, False, OutcomeStatus.UNKNOWN),
        ("server", False, OutcomeStatus.UNKNOWN),
        (error("AccessDeniedException", 403), False, OutcomeStatus.FAILED),
        (error("ValidationException", 400), False, OutcomeStatus.FAILED),
    ],
    ids=[
        "throttle",
        "connect-timeout",
        "no-endpoint",
        "read-timeout",
        "reset",
        "5xx",
        "403",
        "400",
    ],
)
def test_failover_only_after_proof_of_non_delivery(
    api: Api, east: Any, fails_over: bool, status: OutcomeStatus
) -> None:
    """The next region is tried only after an answer that proves nothing went out (throttling,
    a connection never made); never after one that may have delivered, nor after a refusal."""
    named = {"throttle": api.throttle, "server": api.server}
    answer = named[east] if isinstance(east, str) else east
    east_client = client(api.service)
    east_script = api.script(east_client, answer)
    west_client, region = west_region(api)
    west_script = api.script(west_client, ok())
    engine = make_engine(rules.origination(), rules.frequency_cap(1, DAY), programs=[ACME])
    outcome, _ = api.call(api.guard(east_client, engine, failover=[region]))
    assert len(east_script.requests) == 1
    assert len(west_script.requests) == (1 if fails_over else 0)
    assert outcome.status is status
    delivering = len(east_script.delivering) + len(west_script.delivering)
    assert delivering <= 1
    assert len(sent(engine)) == delivering
    if fails_over:
        assert (outcome.region, outcome.sender, sent(engine)[0].sender) == (
            "us-west-2",
            WEST_ID,
            WEST_ID,
        )
    if status is OutcomeStatus.FAILED:
        assert sends(engine) == []  # a refusal gives the hold back


@APIS
def test_guard_retries_in_region_only_on_proof(api: Api) -> None:
    """With attempts=3 the guard retries a throttled request after a backoff, and stops at the
    first answer that may have delivered."""
    waits: list[float] = []
    c = client(api.service)
    script = api.script(c, api.throttle, ok())
    engine = make_engine()
    outcome, _ = api.call(api.guard(c, engine, attempts=3, sleep=waits.append))
    assert (outcome.status, len(script.requests), waits) == (OutcomeStatus.SENT, 2, [0.1])
    c2 = client(api.service)
    script2 = api.script(c2, api.throttle, api.server, ok())
    waits.clear()
    outcome, raised = api.call(api.guard(c2, engine, attempts=3, sleep=waits.append), NY2)
    assert (outcome.status, len(script2.requests), waits) == (OutcomeStatus.UNKNOWN, 2, [0.1])
    assert isinstance(raised, ClientError)


@APIS
def test_backoff_doubles_up_to_a_second(api: Api) -> None:
    """Waits between attempts in a region double from 0.1 s and stop growing at 1 s."""
    waits: list[float] = []
    c = client(api.service)
    script = api.script(c, *[api.throttle] * 5, ok())
    outcome, _ = api.call(api.guard(c, make_engine(), attempts=6, sleep=waits.append))
    assert (outcome.status, len(script.requests)) == (OutcomeStatus.SENT, 6)
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])


@APIS
def test_throttled_everywhere_sends_nothing_and_gives_the_hold_back(api: Api) -> None:
    """Throttled in every region: failed and retryable, the error raised, and the hold given
    back, so a later call is not blocked by the cap."""
    east_client = client(api.service)
    east = api.script(east_client, api.throttle, ok())
    west_client, region = west_region(api)
    west = api.script(west_client, api.throttle)
    engine = make_engine()
    guard = api.guard(east_client, engine, failover=[region])
    outcome, raised = api.call(guard)
    assert isinstance(raised, ClientError)
    assert (outcome.status, outcome.retryable) == (OutcomeStatus.FAILED, True)
    assert (outcome.region, outcome.sender) == ("us-west-2", WEST_ID)
    assert api.throttle.code in (outcome.error or "")
    assert outcome.decision is not None
    assert outcome.decision.allowed
    assert sends(engine) == []
    outcome, _ = api.call(guard)
    assert outcome.status is OutcomeStatus.SENT
    assert (len(east.requests), len(west.requests)) == (2, 1)


@APIS
def test_a_region_without_identity_is_skipped_not_the_last(api: Api) -> None:
    """A region with no identity for the message is skipped; the next region still sends."""
    east_client = client(api.service)
    api.script(east_client, api.throttle)
    west_client, west_region_ = west_region(api, origination=None)
    west = api.script(west_client)
    third_client = client(api.service, "eu-west-1")
    third = api.script(third_client, ok())
    third_region = Region(third_client, application_id="app-eu", origination=WEST_ID)
    engine = make_engine()
    guard = api.guard(east_client, engine, failover=[west_region_, third_region])
    outcome, _ = api.call(guard)
    assert (outcome.status, outcome.region) == (OutcomeStatus.SENT, "eu-west-1")
    assert (len(west.requests), len(third.requests)) == (0, 1)
    assert [s.sender for s in sent(engine)] == [WEST_ID]


@APIS
def test_interrupted_mid_request_counts_the_send(api: Api) -> None:
    """An interruption while the request is out (it may have gone) keeps the send counted."""
    c = client(api.service)

    def interrupt(**_kwargs: Any) -> None:
        raise KeyboardInterrupt

    c.meta.events.register(f"before-send.{api.service}.{api.operation}", interrupt)
    engine = make_engine()
    with pytest.raises(KeyboardInterrupt):
        api.call(api.guard(c, engine))
    assert len(sent(engine)) == 1


# -- nothing AWS accepted is lost -------------------------------------------------------------


@APIS
def test_store_failure_after_acceptance_keeps_the_message_id_and_the_count(api: Api) -> None:
    """When the store fails after AWS accepted, the outcome still carries the MessageId with the
    store error attached; the number is held (DENY store.unavailable, no request) until the
    journal is replayed, and then the send counts for the cap."""
    store = FlakyStore()
    engine = make_engine(store=store)
    c = client(api.service)
    script = api.script(c, ok())
    guard = api.guard(c, engine)
    store.failing = {"settle"}
    outcome, raised = api.call(guard)
    assert raised is None
    assert outcome.status is OutcomeStatus.SENT
    assert outcome.message_id is not None
    assert "StoreUnavailableError" in (outcome.store_error or "")
    store.failing = {"settle", "record"}
    blocked, _ = api.call(guard)
    assert blocked.decision is not None
    assert blocked.decision.codes == ("store.unavailable",)
    assert len(script.requests) == 1
    store.failing = set()
    later, _ = api.call(guard)  # replays the journal first, then the cap defers
    assert later.status is OutcomeStatus.DEFERRED
    assert len(script.requests) == 1
    assert [s.provider_id for s in sent(engine)] == [outcome.message_id]
    assert guard.replay() == 0


@APIS
def test_provider_opt_out_is_never_lost(api: Api) -> None:
    """A provider opt-out the ledger cannot take is journaled first: the number is denied
    store.unavailable (even transactional texts) until the revocation is written, then
    marketing is denied consent.revoked."""
    store = FlakyStore()
    engine = make_engine(rules.frequency_cap(5, DAY), store=store)
    c = client(api.service)
    script = api.script(c, api.opt_out())
    guard = api.guard(c, engine)
    store.failing = {"consent"}
    outcome, raised = api.call(guard)
    assert raised is None
    assert outcome.status is OutcomeStatus.OPTED_OUT
    assert outcome.store_error is not None
    blocked, _ = api.call(guard, purpose="TRANSACTIONAL")
    assert blocked.decision is not None
    assert blocked.decision.codes == ("store.unavailable",)
    assert sends(engine) == []
    store.failing = set()
    after, _ = api.call(guard)
    assert after.decision is not None
    assert after.decision.codes == ("consent.revoked",)
    assert len(script.requests) == 1
    blocked_reason = blocked.decision.reasons[0]
    assert blocked_reason.data["number"] == NY
    assert "journal" in blocked_reason.message
    assert blocked.retryable
    revocation = engine.consent.history(NY)[-1]
    assert revocation.kind.value == "revoked"
    assert revocation.brand == "Acme"  # the sender's brand, written by the replay
    expected = (
        "sms-voice-v2:DESTINATION_PHONE_NUMBER_OPTED_OUT"
        if api.name == "v2"
        else ("pinpoint:OPT_OUT")
    )
    assert revocation.source == expected


@APIS
def test_file_journal_is_replayed_after_a_restart(api: Api, tmp_path: Path) -> None:
    """Unsettled sends kept in a FileJournal are written by the next guard that opens it (after
    a crash), with the provider's message id."""
    store = FlakyStore()
    engine = make_engine(store=store)
    c = client(api.service)
    api.script(c, ok())
    store.failing = {"settle"}
    outcome, _ = api.call(api.guard(c, engine, journal=FileJournal(tmp_path / "j.jsonl")))
    store.failing = set()
    restarted = api.guard(c, engine, journal=FileJournal(tmp_path / "j.jsonl"))
    assert len(restarted.pending()) == 1
    assert restarted.replay() == 0
    (record,) = sent(engine)
    expected = Message(NY, "deals", "marketing", body=BODY, brand="Acme", sender=EAST_ID)
    assert (record.provider_id, record.brand, record.sender, record.topic) == (
        outcome.message_id,
        "Acme",
        EAST_ID,
        "deals",
    )
    assert (record.purpose.value, record.content_key) == ("marketing", expected.content_key)
    assert FileJournal(tmp_path / "j.jsonl").pending() == []


@APIS
def test_replay_of_an_expired_hold_whose_slot_was_taken_still_logs_the_send(api: Api) -> None:
    """A journaled send replayed after its hold expired and another send took the slot cannot
    be committed; it happened, so the replay logs it anyway, with its message id."""
    store = FlakyStore()
    engine = make_engine(store=store)
    c = client(api.service)
    api.script(c, ok())
    guard = api.guard(c, engine)
    store.failing = {"settle"}
    outcome, _ = api.call(guard)
    store.failing = set()
    engine.clock.advance(dt.timedelta(minutes=10))  # type: ignore[attr-defined]
    engine.record_sent(Message(NY, "deals", "marketing", brand="Acme"), provider_id="other")
    assert guard.replay() == 0
    assert sorted(s.provider_id for s in sent(engine)) == sorted(["other", outcome.message_id])
    assert guard.pending() == []


@APIS
def test_late_commit_refused_by_the_policy_still_records_the_send(api: Api) -> None:
    """A hold that expired while AWS answered slowly, whose slot another send took, cannot be
    committed (ReservationExpiredError); the send happened, so the guard logs it anyway."""
    engine = make_engine()
    c = client(api.service)

    def slow(**_kwargs: Any) -> None:
        engine.clock.advance(dt.timedelta(minutes=10))  # type: ignore[attr-defined]
        engine.record_sent(Message(NY, "deals", "marketing", brand="Acme"), provider_id="other")

    c.meta.events.register(f"before-send.{api.service}.{api.operation}", slow)
    api.script(c, ok())
    outcome, _ = api.call(api.guard(c, engine))
    assert (outcome.status, outcome.store_error) == (OutcomeStatus.SENT, None)
    assert sorted(s.provider_id for s in sent(engine)) == sorted(["other", outcome.message_id])


# -- the sender, the purpose and the brand decided are those used ------------------------------


@APIS
def test_failover_identity_is_checked_by_the_policy(api: Api) -> None:
    """A failover region whose identity the policy refuses for the message (a transactional
    sender for a promotional text) sends nothing; the hold is given back."""
    east_client = client(api.service)
    api.script(east_client, api.throttle)
    west_client, region = west_region(api, origination=ALERTS_ID)
    west = api.script(west_client)
    engine = make_engine(rules.origination(), rules.frequency_cap(1, DAY), programs=[ACME, ALERTS])
    outcome, _ = api.call(api.guard(east_client, engine, failover=[region]))
    assert outcome.status is OutcomeStatus.DENIED
    assert outcome.decision is not None
    assert outcome.decision.codes[0].startswith("origination.")
    assert west.requests == []
    assert sends(engine) == []


@APIS
def test_region_without_identity_never_borrows_one(api: Api) -> None:
    """A failover region with no identity of its own is not used for a message that has one."""
    east_client = client(api.service)
    api.script(east_client, api.throttle)
    west_client, region = west_region(api, origination=None)
    west = api.script(west_client)
    engine = make_engine()
    outcome, raised = api.call(api.guard(east_client, engine, failover=[region]))
    assert (outcome.status, outcome.retryable) == (OutcomeStatus.FAILED, True)
    assert isinstance(raised, ClientError)
    assert west.requests == []
    assert sends(engine) == []


@APIS
def test_region_identity_per_brand_and_purpose(api: Api) -> None:
    """A region's identities may be a table by brand and purpose."""
    east_client = client(api.service)
    api.script(east_client, api.throttle)
    west_client, region = west_region(api, origination={("Acme", "marketing"): WEST_ID})
    west = api.script(west_client, ok())
    engine = make_engine()
    outcome, _ = api.call(api.guard(east_client, engine, brand="Acme", failover=[region]))
    assert (outcome.status, outcome.sender) == (OutcomeStatus.SENT, WEST_ID)
    sender = west.requests[0].get("OriginationIdentity") or west.requests[0][
        "MessageConfiguration"
    ]["SMSMessage"].get("OriginationNumber")
    assert sender == WEST_ID


@APIS
def test_message_type_decides_the_purpose(api: Api) -> None:
    """A guard told "transactional" refuses a PROMOTIONAL request (ConfigurationError, nothing
    held or sent); a request agreeing with it is sent."""
    c = client(api.service)
    script = api.script(c, ok())
    engine = make_engine()
    guard = api.guard(c, engine, purpose="transactional")
    with pytest.raises(ConfigurationError, match="MessageType"):
        api.call(guard)
    assert (script.requests, sends(engine)) == ([], [])
    outcome, _ = api.call(guard, purpose="TRANSACTIONAL")
    assert outcome.status is OutcomeStatus.SENT
    assert sent(engine)[0].purpose.value == "transactional"


def test_v2_missing_message_type_is_filled_with_the_decided_purpose() -> None:
    """Without MessageType, the request goes out with the MessageType the policy decided on."""
    c = client(V2.service)
    script = V2.script(c, ok())
    guard = V2.guard(c, make_engine(), purpose="transactional")
    guard.send_text_message(DestinationPhoneNumber=NY, MessageBody=BODY)
    assert script.requests[0]["MessageType"] == "TRANSACTIONAL"
    c2 = client(V2.service)
    script2 = V2.script(c2, ok())
    V2.guard(c2, make_engine()).send_text_message(DestinationPhoneNumber=NY, MessageBody=BODY)
    assert script2.requests[0]["MessageType"] == "PROMOTIONAL"


def test_pinpoint_missing_message_type_is_filled_with_the_decided_purpose() -> None:
    """Pinpoint likewise gets SMSMessage.MessageType set to the decided purpose."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c, ok())
    request = pp_request(NY)
    del request["MessageConfiguration"]["SMSMessage"]["MessageType"]
    PINPOINT.guard(c, make_engine(), purpose="transactional").send_messages(
        ApplicationId="a", MessageRequest=request
    )
    assert (
        script.requests[0]["MessageConfiguration"]["SMSMessage"]["MessageType"] == "TRANSACTIONAL"
    )


@APIS
def test_context_never_changes_the_brand_unless_told(api: Api) -> None:
    """Context {"brand": ...} is event metadata: ignored unless read_context names "brand"."""
    for read, brand in [(None, "Acme"), (("topic", "brand"), "Beta")]:
        c = client(api.service)
        api.script(c, ok())
        engine = make_engine()
        options = {"brand": "Acme"} if read is None else {"brand": "Acme", "read_context": read}
        guard = api.guard(c, engine, **options)
        if api.name == "v2":
            guard.send_text_message(
                DestinationPhoneNumber=NY, MessageBody=BODY, Context={"brand": "Beta"}
            )
        else:
            request = {**pp_request(NY), "Context": {"brand": "Beta"}}
            guard.send_messages(ApplicationId="a", MessageRequest=request)
        assert sent(engine)[0].brand == brand


def test_pinpoint_splits_a_request_per_origination_identity() -> None:
    """Addresses whose brands need different senders go out in separate requests, each from
    its own number, and each record names the number used."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c, ok(), ok())
    engine = make_engine(rules.origination(), programs=[ACME, BETA])
    guard = PinpointGuard(
        c,
        engine,
        topic="deals",
        brand="Acme",
        read_context=("topic", "brand"),
        origination={("Acme", "marketing"): EAST_ID, ("Beta", "marketing"): BETA_ID},
    )
    request = pp_request(NY, NY2, body="{{Brand}}: 20% off. Reply STOP to opt out.")
    del request["MessageConfiguration"]["SMSMessage"]["OriginationNumber"]
    request["Addresses"][NY]["Substitutions"] = {"Brand": ["Acme"]}
    request["Addresses"][NY2]["Context"] = {"brand": "Beta"}
    request["Addresses"][NY2]["Substitutions"] = {"Brand": ["Beta"]}
    answer = guard.send_messages(ApplicationId="a", MessageRequest=request)
    senders = {
        tuple(r["Addresses"]): r["MessageConfiguration"]["SMSMessage"]["OriginationNumber"]
        for r in script.requests
    }
    assert senders == {(NY,): EAST_ID, (NY2,): BETA_ID}
    assert (sent(engine, NY)[0].sender, sent(engine, NY2)[0].sender) == (EAST_ID, BETA_ID)
    assert {a: o.sender for a, o in answer["Outcomes"].items()} == {NY: EAST_ID, NY2: BETA_ID}


# -- the content decided is the content sent ----------------------------------------------------


def content_guard(c: Any, **options: Any) -> tuple[PinpointGuard, Engine]:
    engine = make_engine(rules.required_content(), rules.frequency_cap(5, DAY))
    return PinpointGuard(c, engine, topic="deals", brand="Acme", **options), engine


def test_substitutions_are_rendered_before_deciding() -> None:
    """A per-address substitution that removes the opt-out text is denied; the same template
    with the text rendered in is sent."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c, ok())
    guard, _ = content_guard(c)
    request = pp_request(
        NY, NY2, body="Acme: 20% off. {{OptOut}}", Substitutions={"OptOut": ["Reply STOP to end."]}
    )
    request["Addresses"][NY2]["Substitutions"] = {"OptOut": [""]}
    answer = guard.send_messages(ApplicationId="a", MessageRequest=request)
    assert answer["Outcomes"][NY].status is OutcomeStatus.SENT
    assert answer["Outcomes"][NY2].decision.codes[0].startswith("content.")
    assert [list(r["Addresses"]) for r in script.requests] == [[NY]]


@pytest.mark.parametrize(
    ("substitutions", "code"),
    [({}, "content.unknown"), ({"OptOut": ["a", "b"]}, "content.unknown")],
    ids=["no-value", "two-values"],
)
def test_unrenderable_substitutions_fail_closed(substitutions: Any, code: str) -> None:
    """A variable with no value, or several, leaves the text unknown: denied, nothing sent."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c)
    guard, _ = content_guard(c)
    request = pp_request(NY, body="Acme: {{OptOut}}", Substitutions=substitutions)
    answer = guard.send_messages(ApplicationId="a", MessageRequest=request)
    assert answer["Outcomes"][NY].decision.codes == (code,)
    assert script.requests == []


def template_answer(body: str, defaults: str | None = None) -> Answer:
    response: dict[str, Any] = {"Body": body, "TemplateName": "deal", "TemplateType": "SMS"}
    if defaults is not None:
        response["DefaultSubstitutions"] = defaults
    return ok(response)


def test_templates_are_fetched_cached_and_checked() -> None:
    """A TemplateConfiguration with no Body is decided on the template's text from
    GetSmsTemplate (with its default substitutions), fetched once and cached."""
    c = client(PINPOINT.service)
    templates = Script(
        c,
        "GetSmsTemplate",
        template_answer("Acme: {{Deal}}. Reply STOP to end.", '{"Deal": "2x1"}'),
    )
    script = PINPOINT.script(c, ok(), ok())
    guard, engine = content_guard(c)
    request = pp_request(NY, body=None)
    request["TemplateConfiguration"] = {"SMSTemplate": {"Name": "deal"}}
    assert guard.send_messages(ApplicationId="a", MessageRequest=request)["Outcomes"][
        NY
    ].status is (OutcomeStatus.SENT)
    request2 = pp_request(NY2, body=None)
    request2["TemplateConfiguration"] = {"SMSTemplate": {"Name": "deal"}}
    guard.send_messages(ApplicationId="a", MessageRequest=request2)
    assert len(templates.requests) == 1
    assert len(script.requests) == 2
    expected = Message(NY, "deals", "marketing", body="Acme: 2x1. Reply STOP to end.", brand="Acme")
    assert sent(engine)[0].content_key == expected.content_key


def test_template_without_opt_out_is_denied() -> None:
    """A template whose text lacks the opt-out instructions is denied by required_content."""
    c = client(PINPOINT.service)
    Script(c, "GetSmsTemplate", template_answer("Acme: 2x1 today only."))
    script = PINPOINT.script(c)
    guard, _ = content_guard(c)
    request = pp_request(NY, body=None)
    request["TemplateConfiguration"] = {"SMSTemplate": {"Name": "deal", "Version": "3"}}
    outcome = guard.send_messages(ApplicationId="a", MessageRequest=request)["Outcomes"][NY]
    assert outcome.status is OutcomeStatus.DENIED
    assert script.requests == []


@pytest.mark.parametrize(
    "change",
    ["template-fails", "no-source", "body-and-template"],
)
def test_unknown_template_text_fails_closed(change: str) -> None:
    """A template that cannot be fetched, no template source, or a body and a template together
    leave the text unknown: denied content.unknown, nothing sent."""
    c = client(PINPOINT.service)
    Script(c, "GetSmsTemplate", error("NotFoundException", 404))
    script = PINPOINT.script(c)
    options = {"templates": lambda name, version: 1 / 0} if change == "no-source" else {}
    guard, _ = content_guard(c, **options)
    request = pp_request(NY, body=BODY if change == "body-and-template" else None)
    request["TemplateConfiguration"] = {"SMSTemplate": {"Name": "deal"}}
    outcome = guard.send_messages(ApplicationId="a", MessageRequest=request)["Outcomes"][NY]
    assert outcome.decision is not None
    assert outcome.decision.codes == ("content.unknown",)
    assert outcome.retryable is (change != "body-and-template")  # a source may answer later
    assert script.requests == []


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [
        ('{"Body": "Acme: hello."}', False),
        ('{"Body": "Acme: hello. Reply STOP to end."}', True),
        ("Acme: plain text, nothing else", False),
        ('{"Title": "no body"}', False),
    ],
    ids=["json-no-stop", "json-stop", "plain", "no-body"],
)
def test_raw_content_overrides_and_is_checked(raw: str, allowed: bool) -> None:
    """RawContent "overrides all other values": it is what is decided, not the Body."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c, ok())
    guard, _ = content_guard(c)
    request = pp_request(NY)
    request["Addresses"][NY]["RawContent"] = raw
    outcome = guard.send_messages(ApplicationId="a", MessageRequest=request)["Outcomes"][NY]
    assert outcome.status is (OutcomeStatus.SENT if allowed else OutcomeStatus.DENIED)
    assert len(script.requests) == int(allowed)


def test_v2_decides_the_message_body_sent() -> None:
    """End User Messaging sends MessageBody as given: that text is decided."""
    c = client(V2.service)
    script = V2.script(c, ok())
    engine = make_engine(rules.required_content())
    guard = SmsVoiceV2Guard(c, engine, topic="deals", brand="Acme")
    denied = guard.send_text_message(DestinationPhoneNumber=NY, MessageBody="Acme: hello.")
    assert denied["Outcome"].status is OutcomeStatus.DENIED
    assert guard.send_text_message(DestinationPhoneNumber=NY, MessageBody=BODY)[
        "Outcome"
    ].status is (OutcomeStatus.SENT)
    assert [r["MessageBody"] for r in script.requests] == [BODY]


# -- DryRun, response shape, validation, channels, duplicates, idempotency ----------------------


def test_dry_run_records_nothing() -> None:
    """DryRun=True is decided and checked by AWS, recorded nowhere, and reported dry_run; a
    denied dry run makes no request."""
    c = client(V2.service)
    script = V2.script(c, ok(), ok())
    engine = make_engine()
    guard = SmsVoiceV2Guard(c, engine, topic="deals")
    for _ in range(2):  # a 1-per-day cap: a counted dry run would defer the second
        answer = guard.send_text_message(DestinationPhoneNumber=NY, MessageBody=BODY, DryRun=True)
        assert answer["Outcome"].status is OutcomeStatus.DRY_RUN
        assert answer["Outcome"].decision.allowed
        assert (answer["Outcome"].region, answer["Outcome"].retryable) == ("us-east-1", False)
        assert answer["MessageId"] == answer["Outcome"].message_id is not None
    assert [r["DryRun"] for r in script.requests] == [True, True]
    assert sends(engine) == []
    denied = guard.send_text_message(
        DestinationPhoneNumber="+12125550199", MessageBody=BODY, DryRun=True
    )
    assert denied["Outcome"].status is OutcomeStatus.DENIED
    assert denied["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(script.requests) == 2


def test_dry_run_errors_and_opt_outs() -> None:
    """A dry run that AWS refuses raises with a failed outcome and records nothing; an opt-out
    AWS reports for a dry run's destination (written any way) is still revoked."""
    c = client(V2.service)
    V2.script(c, error("ValidationException", 400), OPTED_OUT_V2)
    engine = make_engine()
    guard = SmsVoiceV2Guard(c, engine, topic="deals", brand="Acme")
    with pytest.raises(ClientError) as raised:
        guard.send_text_message(DestinationPhoneNumber=NY, MessageBody=BODY, DryRun=True)
    outcome = raised.value.outcome  # type: ignore[attr-defined]
    assert (outcome.status, outcome.retryable) == (OutcomeStatus.FAILED, False)
    assert (outcome.region, outcome.sender) == ("us-east-1", None)
    assert outcome.decision.allowed
    assert "ValidationException" in outcome.error
    answer = guard.send_text_message(
        DestinationPhoneNumber=NY, MessageBody=BODY, DryRun=True, OriginationIdentity=EAST_ID
    )
    opted = answer["Outcome"]
    assert (opted.status, opted.retryable, opted.region, opted.sender, opted.store_error) == (
        OutcomeStatus.OPTED_OUT,
        False,
        "us-east-1",
        EAST_ID,
        None,
    )
    assert opted.decision.allowed
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    revocation = engine.consent.history(NY)[-1]
    assert (revocation.brand, revocation.evidence["provider"]) == (
        "Acme",
        "sms-voice-v2:DESTINATION_PHONE_NUMBER_OPTED_OUT",
    )
    assert sends(engine) == []
    assert engine.evaluate(Message(NY, "deals", "marketing")).codes == ("consent.revoked",)


def test_pinpoint_has_no_dry_run() -> None:
    """SendMessages has no DryRun parameter: botocore's validation refuses it."""
    c = client(PINPOINT.service)
    with pytest.raises(TypeError):
        PinpointGuard(c, make_engine(), topic="deals").send_messages(  # type: ignore[call-arg]
            ApplicationId="a", MessageRequest=pp_request(NY), DryRun=True
        )


def test_pinpoint_all_blocked_has_boto3_shape() -> None:
    """When every address is blocked, every address is in Result with a documented status and
    the reason code, and ResponseMetadata is present; no request is made."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c)
    engine = make_engine()
    engine.inbound("STOP", NY2)
    request = pp_request(NY, NY2, "+12125550150")
    request["Addresses"][NY]["ChannelType"] = "CUSTOM"
    answer = PinpointGuard(c, engine, topic="deals").send_messages(
        ApplicationId="a", MessageRequest=request
    )
    result = answer["MessageResponse"]["Result"]
    assert set(result) == {NY, NY2, "+12125550150"}
    assert result[NY]["DeliveryStatus"] == "PERMANENT_FAILURE"
    assert "channel.unsupported" in result[NY]["StatusMessage"]
    assert "consent.revoked" in result[NY2]["StatusMessage"]
    assert "consent.missing" in result["+12125550150"]["StatusMessage"]
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["MessageResponse"]["ApplicationId"] == "a"
    assert script.requests == []


def test_v2_blocked_has_response_metadata() -> None:
    """A blocked End User Messaging call still answers with ResponseMetadata and no MessageId."""
    c = client(V2.service)
    answer = SmsVoiceV2Guard(c, make_engine(), topic="deals").send_text_message(
        DestinationPhoneNumber="+12125550150", MessageBody=BODY
    )
    assert "ResponseMetadata" in answer
    assert "MessageId" not in answer
    assert answer["Outcome"].status is OutcomeStatus.DENIED


def test_pinpoint_aws_error_is_raised_with_every_outcome() -> None:
    """An AWS error on a partly blocked request is raised as ClientError carrying every
    address's outcome."""
    c = client(PINPOINT.service)
    PINPOINT.script(c, error("ForbiddenException", 403))
    engine = make_engine()
    with pytest.raises(ClientError) as raised:
        PinpointGuard(c, engine, topic="deals").send_messages(
            ApplicationId="a", MessageRequest=pp_request(NY, "+12125550150")
        )
    outcomes = raised.value.outcomes  # type: ignore[attr-defined]
    assert raised.value.response["Outcomes"] is outcomes  # type: ignore[typeddict-item]
    assert (outcomes[NY].status, outcomes[NY].retryable) == (OutcomeStatus.FAILED, False)
    assert outcomes["+12125550150"].decision.codes == ("consent.missing",)
    assert sends(engine) == []


@APIS
def test_mapping_proxy_is_refused_before_holding(api: Api) -> None:
    """botocore's own validation runs first: a MappingProxyType Context is refused before any
    hold, with no request."""
    c = client(api.service)
    script = api.script(c)
    engine = make_engine()
    guard = api.guard(c, engine)
    proxy = types.MappingProxyType({"topic": "deals"})
    if api.name == "v2":
        call = lambda: guard.send_text_message(  # noqa: E731
            DestinationPhoneNumber=NY, MessageBody=BODY, Context=proxy
        )
    else:
        call = lambda: guard.send_messages(  # noqa: E731
            ApplicationId="a", MessageRequest={**pp_request(NY), "Context": proxy}
        )
    with pytest.raises(RequestValidationError, match="Invalid type"):
        call()
    assert (script.requests, sends(engine)) == ([], [])


def test_v2_destination_country_parameters_proxy_is_refused() -> None:
    """The same for DestinationCountryParameters."""
    c = client(V2.service)
    engine = make_engine()
    with pytest.raises(RequestValidationError):
        SmsVoiceV2Guard(c, engine, topic="deals").send_text_message(
            DestinationPhoneNumber=NY,
            MessageBody=BODY,
            DestinationCountryParameters=types.MappingProxyType({"IN_TEMPLATE_ID": "1"}),
        )
    assert sends(engine) == []


@pytest.mark.parametrize("channel", ["CUSTOM", None], ids=["custom", "missing"])
def test_unsupported_channel_is_denied(channel: str | None) -> None:
    """ChannelType CUSTOM or missing is denied channel.unsupported, never decided as SMS."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c)
    request = pp_request(NY)
    if channel is None:
        del request["Addresses"][NY]["ChannelType"]
    else:
        request["Addresses"][NY]["ChannelType"] = channel
    outcome = PinpointGuard(c, make_engine(), topic="deals").send_messages(
        ApplicationId="a", MessageRequest=request
    )["Outcomes"][NY]
    assert outcome.decision is not None
    assert outcome.decision.codes == ("channel.unsupported",)
    assert script.requests == []


def test_same_number_two_ways_is_sent_once() -> None:
    """One number written two ways in one request goes out once; the other spelling is a
    DUPLICATE."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c, ok())
    engine = make_engine(rules.frequency_cap(5, DAY))
    answer = PinpointGuard(c, engine, topic="deals").send_messages(
        ApplicationId="a", MessageRequest=pp_request(NY, "+1 (212) 555-0123")
    )
    assert [list(r["Addresses"]) for r in script.requests] == [[NY]]
    assert answer["MessageResponse"]["Result"]["+1 (212) 555-0123"]["DeliveryStatus"] == "DUPLICATE"
    assert answer["Outcomes"]["+1 (212) 555-0123"].decision.codes == ("address.duplicate",)
    assert len(sent(engine)) == 1


def test_same_number_on_two_channels_is_not_a_duplicate() -> None:
    """The same number as SMS and as VOICE is two messages, not one written twice."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c, ok())
    engine = make_engine(rules.frequency_cap(5, DAY))
    request = pp_request(NY, "+1 (212) 555-0123")
    request["Addresses"]["+1 (212) 555-0123"]["ChannelType"] = "VOICE"
    request["MessageConfiguration"]["VoiceMessage"] = {"Body": BODY}
    answer = PinpointGuard(c, engine, topic="deals", brand="Acme").send_messages(
        ApplicationId="a", MessageRequest=request
    )
    assert [len(r["Addresses"]) for r in script.requests] == [2]
    assert {o.status for o in answer["Outcomes"].values()} == {OutcomeStatus.SENT}


@APIS
def test_idempotency_key_makes_a_repeat_a_no_op(api: Api, tmp_path: Path) -> None:
    """A repeated call with the same idempotency key returns the first outcome and sends
    nothing, also from a new guard on the same journal file."""
    c = client(api.service)
    script = api.script(c, ok(), ok())
    engine = make_engine(rules.frequency_cap(5, DAY))
    guard = api.guard(c, engine, journal=FileJournal(tmp_path / "j.jsonl"))
    first, _ = api.call(guard, idempotency_key="order-1")
    again, _ = api.call(guard, idempotency_key="order-1")
    other = api.guard(c, engine, journal=FileJournal(tmp_path / "j.jsonl"))
    third, _ = api.call(other, idempotency_key="order-1")
    assert first.status is OutcomeStatus.SENT
    assert (again.status, again.message_id) == (OutcomeStatus.SENT, first.message_id)
    assert third.message_id == first.message_id
    for repeat in (again, third):
        assert (
            repeat.retryable,
            repeat.error,
            repeat.region,
            repeat.sender,
            repeat.store_error,
        ) == (
            False,
            None,
            "us-east-1",
            EAST_ID,
            None,
        )
    assert len(script.requests) == 1
    assert len(sent(engine)) == 1
    api.call(guard, idempotency_key="order-2")
    assert len(script.requests) == 2


Hook = Callable[..., None]


@pytest.mark.parametrize(
    ("answer", "delivery", "code", "message"),
    [
        (
            SERVER_PINPOINT,
            "UNKNOWN_FAILURE",
            500,
            "smspolicy unknown: InternalServerErrorException",
        ),
        (READ_TIMEOUT, "UNKNOWN_FAILURE", 0, "smspolicy unknown: ReadTimeoutError"),
        (THROTTLE_PINPOINT, "THROTTLED", 429, "smspolicy failed: TooManyRequestsException"),
        (error("ForbiddenException", 403), "PERMANENT_FAILURE", 403, "smspolicy failed: Forbidden"),
    ],
    ids=["5xx", "timeout", "throttled", "403"],
)
def test_pinpoint_result_of_a_request_that_raised(
    answer: Answer, delivery: str, code: int, message: str
) -> None:
    """Addresses of a request that raised get a Result (kept with the answer of an idempotency
    key): unknown, failed retryable or failed final, with the HTTP status (0 without one)."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c, answer)
    guard = PinpointGuard(c, make_engine(), topic="deals")
    with pytest.raises((ClientError, BotoCoreError)) as raised:
        guard.send_messages(ApplicationId="a", MessageRequest=pp_request(NY), idempotency_key="k")
    outcomes = raised.value.outcomes  # type: ignore[union-attr]
    assert outcomes[NY].may_have_delivered is (delivery == "UNKNOWN_FAILURE")
    kept = guard.send_messages(
        ApplicationId="a", MessageRequest=pp_request(NY), idempotency_key="k"
    )
    entry = kept["MessageResponse"]["Result"][NY]
    assert (entry["DeliveryStatus"], entry["StatusCode"]) == (delivery, code)
    assert entry["StatusMessage"].startswith(message)
    assert kept["Outcomes"][NY].status is outcomes[NY].status
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("setup", "delivery", "code", "message"),
    [
        ("invalid", "PERMANENT_FAILURE", 400, "smspolicy invalid: number.invalid"),
        ("store", "THROTTLED", 503, "smspolicy denied: store.unavailable"),
        ("denied", "PERMANENT_FAILURE", 403, "smspolicy denied: consent.missing"),
    ],
)
def test_pinpoint_result_of_blocked_addresses(
    setup: str, delivery: str, code: int, message: str
) -> None:
    """The documented Result of addresses that were not forwarded."""
    c = client(PINPOINT.service)
    store = FlakyStore()
    engine = make_engine(store=store)
    number = {"invalid": "+1555", "store": NY, "denied": "+12125550150"}[setup]
    if setup == "store":
        store.failing = {"reserve"}
    answer = PinpointGuard(c, engine, topic="deals").send_messages(
        ApplicationId="a", MessageRequest=pp_request(number)
    )
    entry = answer["MessageResponse"]["Result"][number]
    assert (entry["DeliveryStatus"], entry["StatusCode"], entry["StatusMessage"]) == (
        delivery,
        code,
        message,
    )


def test_repeat_of_an_unfinished_call_is_unknown() -> None:
    """A key whose first call never finished (a crash mid-way) answers unknown for each of its
    addresses and sends nothing."""
    c = client(PINPOINT.service)
    script = PINPOINT.script(c)
    guard = PinpointGuard(c, make_engine(), topic="deals")
    guard.journal.remember("k", {"state": "started", "addresses": [NY, NY2]})
    answer = guard.send_messages(
        ApplicationId="a", MessageRequest=pp_request(NY), idempotency_key="k"
    )
    assert {a: (o.status, o.retryable) for a, o in answer["Outcomes"].items()} == {
        NY: (OutcomeStatus.UNKNOWN, False),
        NY2: (OutcomeStatus.UNKNOWN, False),
    }
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert script.requests == []
    v2 = client(V2.service)
    v2_guard = SmsVoiceV2Guard(v2, make_engine(), topic="deals")
    v2_guard.journal.remember("k", {"state": "started"})
    outcome = v2_guard.send_text_message(
        DestinationPhoneNumber=NY, MessageBody=BODY, idempotency_key="k"
    )["Outcome"]
    assert (outcome.status, outcome.retryable) == (OutcomeStatus.UNKNOWN, False)


def test_v2_context_person_and_purpose_when_read() -> None:
    """Context's person is read by default; its purpose only when told, and then it must agree
    with MessageType."""
    c = client(V2.service)
    script = V2.script(c, ok())
    engine = make_engine()
    guard = SmsVoiceV2Guard(c, engine, topic="deals", read_context=("topic", "person", "purpose"))
    guard.send_text_message(
        DestinationPhoneNumber=NY,
        MessageBody=BODY,
        Context={"person": "p-1", "purpose": "transactional"},
    )
    (record,) = sent(engine)
    assert (record.person, record.purpose.value) == ("p-1", "transactional")
    assert script.requests[0]["MessageType"] == "TRANSACTIONAL"
    with pytest.raises(ConfigurationError, match="Context purpose"):
        guard.send_text_message(
            DestinationPhoneNumber=NY2,
            MessageBody=BODY,
            MessageType="PROMOTIONAL",
            Context={"purpose": "transactional"},
        )
    ignored = SmsVoiceV2Guard(client(V2.service), make_engine(), topic="deals")
    assert ignored.purpose_for(None, {"purpose": "transactional"}).value == "marketing"


@APIS
def test_repeat_after_an_interruption_is_unknown(api: Api) -> None:
    """A call with a key interrupted while its request was out: the repeat answers unknown and
    sends nothing."""
    c = client(api.service)
    calls: list[int] = []

    def interrupt(**_kwargs: Any) -> None:
        calls.append(1)
        raise KeyboardInterrupt

    c.meta.events.register(f"before-send.{api.service}.{api.operation}", interrupt)
    guard = api.guard(c, make_engine())
    with pytest.raises(KeyboardInterrupt):
        api.call(guard, idempotency_key="k")
    outcome, _ = api.call(guard, idempotency_key="k")
    assert (outcome.status, outcome.retryable) == (OutcomeStatus.UNKNOWN, False)
    assert calls == [1]


def test_v2_repeat_returns_the_first_message_id() -> None:
    """The repeat of an End User Messaging call returns the first call's MessageId."""
    c = client(V2.service)
    V2.script(c, ok())
    guard = SmsVoiceV2Guard(c, make_engine(), topic="deals")
    first = guard.send_text_message(
        DestinationPhoneNumber=NY, MessageBody=BODY, idempotency_key="k"
    )
    again = guard.send_text_message(
        DestinationPhoneNumber=NY, MessageBody=BODY, idempotency_key="k"
    )
    assert again["MessageId"] == first["MessageId"] == "msg-1"
