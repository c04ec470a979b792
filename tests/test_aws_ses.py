"""``SesV2Guard.send_email`` decides every To, Cc and Bcc recipient as an email and forwards only
the allowed ones, at most once. Real boto3 clients with botocore's Stubber (every request
expected exactly) or scripted HTTP answers (every request counted)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import types
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.stub import Stubber

from smspolicy import Channel, Decision, Engine, Message, Policy, allow, rule, rules, when
from smspolicy.aws import (
    EmailTemplate,
    OutcomeStatus,
    Region,
    SesV2Guard,
    SmsVoiceV2Guard,
    json_ready,
)
from smspolicy.errors import ConfigurationError, RequestValidationError
from smspolicy.outbox import MemoryOutbox, Outbox
from smspolicy.predicates import is_marketing
from smspolicy.store import MemoryStore, SendStatus
from smspolicy.testing import FrozenClock

from .aws_helpers import (
    CLOSED,
    CONNECT_TIMEOUT,
    DEFAULT_ATTEMPTS,
    READ_TIMEOUT,
    FlakyStore,
    Script,
    client,
    error,
    ok,
)

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
ALICE, BOB, CAROL, DAN = (
    "alice@example.com",
    "bob@example.com",
    "carol@example.com",
    "dan@example.com",
)
UNSUBSCRIBE = "<https://acme.example/unsubscribe?u=1>, <mailto:unsubscribe@acme.example>"
POLICY = Policy(
    rules.dedupe(DAY),
    rules.frequency_cap(1, DAY, scope="all"),
    when(is_marketing, rules.required_content()),
    name="email",
)
"""Rules that decide an email address today (no consent ledger, no windows): one email a day
per address, no repeat of the same content, and an opt-out in marketing."""
THROTTLED = error("TooManyRequestsException", 429)
SERVER = error("InternalFailure", 500)


def make_engine(*, capped: tuple[str, ...] = ()) -> Engine:
    """An engine where each ``capped`` address already had an email today (the cap defers it
    until 15:00 tomorrow)."""
    engine = Engine(POLICY, MemoryStore(), FrozenClock(NOW))
    for address in capped:
        engine.record_sent(Message(address, "deals", "marketing", "email", body="earlier"))
    return engine


def records(engine: Engine, address: str) -> list[Any]:
    """The address's records in the send log today."""
    return engine.store.sends([address], since=NOW - DAY)[address]


def sent(engine: Engine, address: str) -> list[Any]:
    """The address's counted sends through the guard (not the earlier one of ``make_engine``)."""
    return [
        r
        for r in records(engine, address)
        if r.status is SendStatus.SENT and r.topic == "deals" and r.provider_id is not None
    ]


def email(
    to: tuple[str, ...] = (ALICE,),
    cc: tuple[str, ...] = (),
    bcc: tuple[str, ...] = (),
    *,
    headers: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """A SendEmail request with simple content (an opt-out only in its List-Unsubscribe
    header when ``headers``)."""
    destination = {
        name: list(addresses)
        for name, addresses in (("ToAddresses", to), ("CcAddresses", cc), ("BccAddresses", bcc))
        if addresses
    }
    simple: dict[str, Any] = {
        "Subject": {"Data": "Acme deals"},
        "Body": {"Text": {"Data": "Acme: 20% off this week."}},
    }
    if headers:
        simple["Headers"] = [
            {"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE},
            {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
        ]
    return {
        "FromEmailAddress": "deals@acme.example",
        "Destination": destination,
        "Content": {"Simple": simple},
        **extra,
    }


def guard(c: Any, engine: Engine, **options: Any) -> SesV2Guard:
    return SesV2Guard(c, engine, topic="deals", brand="Acme", **options)


@pytest.fixture
def ses() -> Iterator[tuple[Any, Stubber]]:
    c = client("sesv2")
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


# -- recipients --------------------------------------------------------------------------------


def test_to_cc_bcc_mix_forwards_only_allowed(ses: tuple[Any, Stubber]) -> None:
    """Of To (alice, bob), Cc (carol) and Bcc (dan), bob and dan already had today's email: one
    request goes to alice and carol only, each in the list it was written in; bob and dan are
    deferred to 15:00 tomorrow."""
    c, stub = ses
    engine = make_engine(capped=(BOB, DAN))
    request = email((ALICE, BOB), (CAROL,), (DAN,))
    forwarded = email((ALICE,), (CAROL,))
    stub.add_response("send_email", {"MessageId": "m-1"}, expected_params=forwarded)
    answer = guard(c, engine).send_email(**request)
    outcomes = answer["Outcomes"]
    assert answer["MessageId"] == "m-1"
    assert {a: o.status for a, o in outcomes.items()} == {
        ALICE: OutcomeStatus.SENT,
        BOB: OutcomeStatus.DEFERRED,
        CAROL: OutcomeStatus.SENT,
        DAN: OutcomeStatus.DEFERRED,
    }
    assert outcomes[BOB].decision.until == dt.datetime(2025, 1, 16, 15, 0, tzinfo=dt.UTC)
    assert outcomes[BOB].decision.codes == ("cap.exceeded",)
    assert [(r.channel, r.provider_id) for r in sent(engine, ALICE)] == [(Channel.EMAIL, "m-1")]
    assert [r.provider_id for r in sent(engine, CAROL)] == ["m-1"]
    assert sent(engine, BOB) == []


@pytest.mark.parametrize(
    ("to", "cc", "bcc"),
    [((BOB,), (), ()), ((), (BOB,), (DAN,)), ((BOB,), (DAN,), (BOB,))],
    ids=["to", "cc-bcc", "repeated"],
)
def test_all_blocked_makes_no_request(
    ses: tuple[Any, Stubber], to: tuple[str, ...], cc: tuple[str, ...], bcc: tuple[str, ...]
) -> None:
    """When no recipient is allowed, no request is made (the Stubber has none) and the answer
    has ResponseMetadata and no MessageId."""
    c, _stub = ses
    answer = guard(c, make_engine(capped=(BOB, DAN))).send_email(**email(to, cc, bcc))
    assert "MessageId" not in answer
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert {o.status for o in answer["Outcomes"].values()} == {OutcomeStatus.DEFERRED}


def test_one_mailbox_written_twice_is_sent_once(ses: tuple[Any, Stubber]) -> None:
    """alice in To and ALICE@Example.COM's twin alice@EXAMPLE.com in Bcc are one mailbox: sent
    once (the Bcc spelling is address.duplicate); a display name is read."""
    c, stub = ses
    request = email(("Alice <alice@example.com>",), (), ("alice@EXAMPLE.com",))
    stub.add_response(
        "send_email", {"MessageId": "m-1"}, expected_params=email(("Alice <alice@example.com>",))
    )
    outcomes = guard(c, make_engine()).send_email(**request)["Outcomes"]
    assert outcomes["Alice <alice@example.com>"].status is OutcomeStatus.SENT
    assert outcomes["alice@EXAMPLE.com"].decision.codes == ("address.duplicate",)


@pytest.mark.parametrize(
    "entry",
    [
        "alice@example.com, bob@example.com",
        "Alice <alice@example.com>, bob@example.com",
        "alice@example.com <bob@example.com>",
        "alice@example.com; bob@example.com",
        "alice@example.com,bob@example.com",
        "undisclosed-recipients:;",
    ],
    ids=["comma", "named-then-bare", "bare-then-angle", "semicolon", "no-space", "group"],
)
def test_an_entry_that_is_not_one_mailbox_is_refused(ses: tuple[Any, Stubber], entry: str) -> None:
    """One Destination entry must be one mailbox: an entry that is a list (or could be read as
    another mailbox than the one decided) is denied address.malformed and never forwarded;
    the other recipients go."""
    c, stub = ses
    engine = Engine(rules.consent(), MemoryStore(), FrozenClock(NOW))
    for address in (ALICE, CAROL):
        engine.consent.confirm(address, topic="deals", purpose="marketing", source="web")
    stub.add_response("send_email", {"MessageId": "m-1"}, expected_params=email((CAROL,)))
    outcomes = guard(c, engine).send_email(**email((entry, CAROL)))["Outcomes"]
    assert outcomes[entry].status is OutcomeStatus.DENIED
    assert outcomes[entry].decision.codes == ("address.malformed",)
    assert outcomes[CAROL].status is OutcomeStatus.SENT


# -- content -----------------------------------------------------------------------------------


def test_list_unsubscribe_header_is_the_opt_out(ses: tuple[Any, Stubber]) -> None:
    """A marketing email whose only opt-out is its List-Unsubscribe header is allowed; without
    the header it is denied content.opt_out_missing and nothing is sent; a transactional email
    needs none."""
    c, stub = ses
    engine = make_engine()
    denied = guard(c, engine).send_email(**email(headers=False))["Outcomes"][ALICE]
    assert denied.decision.codes == ("content.opt_out_missing",)
    stub.add_response("send_email", {"MessageId": "m-1"})
    allowed = guard(c, engine).send_email(**email())["Outcomes"][ALICE]
    assert allowed.status is OutcomeStatus.SENT
    stub.add_response("send_email", {"MessageId": "m-2"})
    receipt = guard(c, engine, purpose="transactional").send_email(**email((BOB,), headers=False))
    assert receipt["Outcomes"][BOB].status is OutcomeStatus.SENT


def test_html_unsubscribe_link_counts(ses: tuple[Any, Stubber]) -> None:
    """An unsubscribe link in the HTML part is an opt-out too (its target is read)."""
    c, stub = ses
    request = email(headers=False)
    request["Content"]["Simple"]["Body"] = {
        "Html": {"Data": '<p>Acme: 20% off.</p><a href="https://acme.example/unsub">Leave</a>'}
    }
    stub.add_response("send_email", {"MessageId": "m-1"})
    outcome = guard(c, make_engine()).send_email(**request)["Outcomes"][ALICE]
    assert outcome.status is OutcomeStatus.SENT


RAW = (
    b"From: deals@acme.example\r\n"
    b"To: Alice <alice@example.com>, bob@example.com\r\n"
    b"Cc: carol@example.com\r\n"
    b"Subject: Acme news\r\n"
    b"List-Unsubscribe: <https://acme.example/unsubscribe?u=2>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nAcme: new arrivals.\r\n"
    b"--b\r\nContent-Type: text/html\r\n\r\n<p>Acme: new arrivals.</p>\r\n--b--\r\n"
)


def test_raw_message_recipients_from_headers(ses: tuple[Any, Stubber]) -> None:
    """A raw message without Destination goes to its To and Cc headers: each is decided, and
    the request goes out with a Destination naming the allowed ones only."""
    c, stub = ses
    request = {"FromEmailAddress": "deals@acme.example", "Content": {"Raw": {"Data": RAW}}}
    expected = {
        **copy.deepcopy(request),
        "Destination": {"ToAddresses": [ALICE], "CcAddresses": [CAROL]},
    }
    stub.add_response("send_email", {"MessageId": "m-1"}, expected_params=expected)
    outcomes = guard(c, make_engine(capped=(BOB,))).send_email(**request)["Outcomes"]
    assert {a: o.status.value for a, o in outcomes.items()} == {
        ALICE: "sent",
        BOB: "deferred",
        CAROL: "sent",
    }


def test_raw_message_without_opt_out_is_denied(ses: tuple[Any, Stubber]) -> None:
    """A raw message is decided on its MIME text: without its List-Unsubscribe header the
    marketing email is denied."""
    c, _stub = ses
    raw = RAW.replace(b"List-Unsubscribe: <https://acme.example/unsubscribe?u=2>\r\n", b"")
    request = {"Destination": {"ToAddresses": [ALICE]}, "Content": {"Raw": {"Data": raw}}}
    outcome = guard(c, make_engine()).send_email(**request)["Outcomes"][ALICE]
    assert outcome.decision.codes == ("content.opt_out_missing",)


def template_request(template: dict[str, Any]) -> dict[str, Any]:
    return {
        "FromEmailAddress": "deals@acme.example",
        "Destination": {"ToAddresses": [ALICE]},
        "Content": {"Template": template},
    }


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        ({"name": "Alice", "link": "https://acme.example/unsubscribe"}, "sent"),
        ({"name": "Alice", "link": "https://acme.example/account"}, "content.opt_out_missing"),
        ({"name": "Alice"}, "content.unknown"),
    ],
    ids=["rendered", "no-opt-out", "missing-variable"],
)
def test_inline_template_is_rendered_before_deciding(
    ses: tuple[Any, Stubber], data: dict[str, str], outcome: str
) -> None:
    """TemplateContent is rendered with TemplateData before deciding: the rendered link is the
    opt-out; a variable without a value leaves the text unknown (denied, not sent)."""
    c, stub = ses
    request = template_request(
        {
            "TemplateContent": {"Subject": "Acme for {{name}}", "Text": "Acme. Leave: {{link}}"},
            "TemplateData": json.dumps(data),
        }
    )
    if outcome == "sent":
        stub.add_response("send_email", {"MessageId": "m-1"}, expected_params=request)
    found = guard(c, make_engine()).send_email(**request)["Outcomes"][ALICE]
    assert (found.status.value if outcome == "sent" else found.decision.codes[0]) == outcome


def test_stored_template_is_fetched_once_and_checked(ses: tuple[Any, Stubber]) -> None:
    """A stored template is read with GetEmailTemplate (once, then cached), its headers and
    variables rendered; a source that fails leaves the text unknown and retryable."""
    c, stub = ses
    template = {
        "TemplateName": "deals",
        "TemplateData": json.dumps({"name": "Alice"}),
        "Headers": [{"Name": "List-Unsubscribe", "Value": UNSUBSCRIBE}],
    }
    stub.add_response(
        "get_email_template",
        {"TemplateName": "deals", "TemplateContent": {"Subject": "Hi {{name}}", "Text": "Acme"}},
        expected_params={"TemplateName": "deals"},
    )
    stub.add_response("send_email", {"MessageId": "m-1"})
    stub.add_response("send_email", {"MessageId": "m-2"})
    g = guard(c, Engine(Policy(when(is_marketing, rules.required_content()), name="c")))
    assert g.send_email(**template_request(template))["Outcomes"][ALICE].status.value == "sent"
    assert g.send_email(**template_request(template))["Outcomes"][ALICE].status.value == "sent"

    def broken(name: str) -> EmailTemplate:
        raise RuntimeError("throttled")

    failing = guard(c, make_engine(), templates=broken)
    outcome = failing.send_email(**template_request(template))["Outcomes"][ALICE]
    assert (outcome.decision.codes, outcome.retryable) == (("content.unknown",), True)


# -- validation before any hold ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("Content"), "Content"),
        (lambda r: r["Destination"].update(ToAddresses=ALICE), "ToAddresses"),
        (
            lambda r: r["Content"]["Simple"]["Headers"].append({"Name": "Bad:Name", "Value": "x"}),
            "Bad:Name",
        ),
        (
            lambda r: r["Content"]["Simple"]["Headers"].extend(
                [{"Name": f"X-{i}", "Value": "x"} for i in range(14)]
            ),
            "at most 15",
        ),
        (lambda r: r.update(Destination=types.MappingProxyType({"ToAddresses": [ALICE]})), "dict"),
        (lambda r: r["Content"].update(Raw={"Data": b"x"}), "exactly one"),
        (lambda r: r.update(Destination={}), "no recipient"),
        (lambda r: r.update(EmailTags=[{"Name": "person", "Value": "p-1"}]), "one person"),
    ],
    ids=[
        "no-content",
        "not-a-list",
        "header-name",
        "sixteen-headers",
        "mapping-proxy",
        "two-contents",
        "no-recipient",
        "person-for-two",
    ],
)
def test_invalid_request_is_refused_before_any_hold(change: Any, problem: str) -> None:
    """A request that breaks botocore's sesv2 model (or that the guard cannot decide) raises
    RequestValidationError naming the problem: nothing is held, logged or sent."""
    c = client("sesv2")
    script = Script(c, "SendEmail", ok())
    engine = make_engine()
    request = email((ALICE, BOB))
    change(request)
    with pytest.raises(RequestValidationError, match=problem):
        guard(c, engine).send_email(**request)
    assert script.requests == []
    assert records(engine, ALICE) == records(engine, BOB) == []


# -- at most once ------------------------------------------------------------------------------


def test_a_client_that_retries_is_refused() -> None:
    """A client botocore would retry on its own is refused, as for the other guards."""
    with pytest.raises(ConfigurationError, match=f"up to {DEFAULT_ATTEMPTS} attempts"):
        guard(client("sesv2", config=None), make_engine())
    with pytest.raises(ConfigurationError, match="up to 2 attempts"):
        guard(
            client("sesv2"),
            make_engine(),
            failover=[Region(client("sesv2", config=Config(retries={"total_max_attempts": 2})))],
        )


@pytest.mark.parametrize("answer", [READ_TIMEOUT, CLOSED, SERVER], ids=["timeout", "reset", "5xx"])
def test_possibly_delivered_is_unknown_counted_and_never_resent(answer: Any) -> None:
    """A read timeout, a reset or a 5xx makes one request only, even with attempts and a
    failover region: every recipient is unknown, counted, and the error is raised with the
    outcomes."""
    c = client("sesv2")
    script = Script(c, "SendEmail", answer, ok())
    west = client("sesv2", "us-west-2")
    west_script = Script(west, "SendEmail", ok())
    engine = make_engine()
    g = guard(c, engine, attempts=3, failover=[Region(west)], sleep=lambda _s: None)
    with pytest.raises((ClientError, BotoCoreError)) as raised:
        g.send_email(**email((ALICE,), (BOB,)))
    outcomes = raised.value.outcomes  # type: ignore[union-attr]
    assert {o.status for o in outcomes.values()} == {OutcomeStatus.UNKNOWN}
    assert not any(o.retryable for o in outcomes.values())
    assert (len(script.requests), len(west_script.requests)) == (1, 0)
    assert [r.status for r in records(engine, ALICE)] == [SendStatus.SENT]


@pytest.mark.parametrize("answer", [THROTTLED, CONNECT_TIMEOUT], ids=["throttled", "no-connect"])
def test_retry_and_failover_only_on_proof_of_non_delivery(answer: Any) -> None:
    """Throttling or a connection never made is retried (attempts) and then failed over: the
    email goes out exactly once."""
    c = client("sesv2")
    script = Script(c, "SendEmail", answer, answer)
    west = client("sesv2", "us-west-2")
    west_script = Script(west, "SendEmail", ok())
    waits: list[float] = []
    engine = make_engine()
    g = guard(c, engine, attempts=2, failover=[Region(west)], sleep=waits.append)
    outcome = g.send_email(**email())["Outcomes"][ALICE]
    assert (outcome.status, outcome.region) == (OutcomeStatus.SENT, "us-west-2")
    assert (len(script.requests), len(west_script.requests), waits) == (2, 1, [0.1])
    assert [r.provider_id for r in sent(engine, ALICE)] == ["msg-1"]


def test_throttled_everywhere_sends_nothing_and_gives_the_hold_back() -> None:
    """Throttled in every region: failed, retryable, nothing counted (the cap still allows)."""
    c = client("sesv2")
    Script(c, "SendEmail", THROTTLED)
    engine = make_engine()
    with pytest.raises(ClientError) as raised:
        guard(c, engine).send_email(**email())
    outcome = raised.value.outcomes[ALICE]  # type: ignore[attr-defined]
    assert (outcome.status, outcome.retryable) == (OutcomeStatus.FAILED, True)
    assert records(engine, ALICE) == []
    assert engine.evaluate(Message(ALICE, "deals", "transactional", "email", body="x")).allowed


def test_refusal_is_final_and_counts_nothing() -> None:
    """A MessageRejected (400) is failed, not retryable, not retried, and nothing is counted."""
    c = client("sesv2")
    script = Script(c, "SendEmail", error("MessageRejected", 400), ok())
    engine = make_engine()
    with pytest.raises(ClientError):
        guard(c, engine, attempts=3).send_email(**email())
    assert len(script.requests) == 1
    assert records(engine, ALICE) == []


def test_idempotency_key_makes_a_repeat_a_no_op(ses: tuple[Any, Stubber]) -> None:
    """A repeat with the same idempotency key returns the first outcomes and sends nothing."""
    c, stub = ses
    stub.add_response("send_email", {"MessageId": "m-1"})
    g = guard(c, make_engine(capped=(BOB,)))
    first = g.send_email(**email((ALICE, BOB)), idempotency_key="order-1")
    again = g.send_email(**email((ALICE, BOB)), idempotency_key="order-1")
    assert again["MessageId"] == "m-1"
    assert again["Outcomes"] == first["Outcomes"]


def test_deferred_recipient_is_held_and_released_once() -> None:
    """With an outbox, a deferred recipient is held with the request narrowed to it, and the
    release sends exactly that one request."""
    c = client("sesv2")
    script = Script(c, "SendEmail", ok(), ok())
    engine = make_engine(capped=(BOB,))
    outbox = Outbox(MemoryOutbox(), engine)
    g = guard(c, engine, outbox=outbox)
    outcomes = g.send_email(**email((ALICE,), (BOB,)), idempotency_key="o-1")["Outcomes"]
    held = outcomes[BOB]
    assert held.held_until == dt.datetime(2025, 1, 16, 15, 0, tzinfo=dt.UTC)
    assert outbox.get(held.hold_id).key == f"o-1|{BOB}"
    assert [r["Destination"] for r in script.requests] == [{"ToAddresses": [ALICE]}]
    engine.clock.set(held.held_until)  # type: ignore[attr-defined]
    (released,) = outbox.release_due(g.release_sender())
    assert released.status.value == "sent"
    assert [r["Destination"] for r in script.requests[1:]] == [{"CcAddresses": [BOB]}]


# -- across channels ---------------------------------------------------------------------------


def test_same_content_key_by_sms_then_email_is_blocked() -> None:
    """One person (person p-1) gets content key spring-sale by SMS through the End User
    Messaging guard; the email with the same key and person through SesV2Guard is denied
    dedupe.duplicate with no request; another person's email is sent."""
    engine = Engine(
        Policy(rules.dedupe(DAY), when(is_marketing, rules.required_content()), name="dedupe"),
        MemoryStore(),
        FrozenClock(NOW),
    )
    sms_client = client("pinpoint-sms-voice-v2")
    Script(sms_client, "SendTextMessage", ok())
    sms = SmsVoiceV2Guard(sms_client, engine, topic="deals", brand="Acme")
    context = {"person": "p-1", "content_key": "spring-sale"}
    first = sms.send_text_message(
        DestinationPhoneNumber="+12125550123",
        MessageBody="Acme: 20% off. Reply STOP to opt out.",
        MessageType="PROMOTIONAL",
        Context=context,
    )
    assert first["Outcome"].status is OutcomeStatus.SENT
    c = client("sesv2")
    script = Script(c, "SendEmail", ok())
    tags = [{"Name": k, "Value": v} for k, v in context.items()]
    blocked = guard(c, engine).send_email(**email(), EmailTags=tags)["Outcomes"][ALICE]
    assert blocked.decision.codes == ("dedupe.duplicate",)
    assert script.requests == []
    other = [{"Name": "person", "Value": "p-2"}, {"Name": "content_key", "Value": "spring-sale"}]
    sent_ = guard(c, engine).send_email(**email((BOB,)), EmailTags=other)["Outcomes"][BOB]
    assert sent_.status is OutcomeStatus.SENT
    assert len(script.requests) == 1


def test_answer_is_json_ready(ses: tuple[Any, Stubber]) -> None:
    """The guard's answer goes through json.dumps after json_ready, outcomes as dictionaries."""
    c, stub = ses
    stub.add_response("send_email", {"MessageId": "m-1"})
    answer = guard(c, make_engine(capped=(BOB,))).send_email(**email((ALICE, BOB)))
    data = json.loads(json.dumps(json_ready(answer)))
    assert data["MessageId"] == "m-1"
    assert data["Outcomes"][ALICE]["status"] == "sent"
    assert data["Outcomes"][BOB]["decision"]["until"] == "2025-01-16T15:00:00+00:00"
    assert data["Outcomes"][BOB]["codes"] == ["cap.exceeded"]


def test_rules_see_subject_and_opt_out_headers_first(ses: tuple[Any, Stubber]) -> None:
    """The text a rule sees for an email is its Subject line, its List-Unsubscribe and
    List-Unsubscribe-Post header lines as written (other headers left out), a blank line, then
    the text part and the HTML part's text and link targets."""
    c, stub = ses
    seen: list[Message] = []

    @rule
    def look(message: Message, _context: Any) -> Decision:
        seen.append(message)
        return allow()

    request = email()
    request["Content"]["Simple"]["Headers"].insert(0, {"Name": "X-Campaign", "Value": "spring"})
    request["Content"]["Simple"]["Body"]["Html"] = {
        "Data": '<html><head><style>p {}</style></head><p>Hi</p><a href="https://a.example/x">Go</a>'
    }
    stub.add_response("send_email", {"MessageId": "m-1"})
    guard(c, Engine(Policy(look, name="look"), MemoryStore(), FrozenClock(NOW))).send_email(
        **request
    )
    message = seen[-1]
    assert {m.body for m in seen} == {message.body}
    assert message.body == (
        "Subject: Acme deals\n"
        "List-Unsubscribe: <https://acme.example/unsubscribe?u=1>, "
        "<mailto:unsubscribe@acme.example>\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
        "\n"
        "Acme: 20% off this week.\n"
        "Hi\n"
        "https://a.example/x\n"
        "Go"
    )
    assert (message.channel, message.address, message.brand) == (Channel.EMAIL, ALICE, "Acme")


def test_store_failure_after_acceptance_keeps_every_send() -> None:
    """When the store fails after SES accepted the email, every forwarded recipient keeps its
    MessageId with a store_error, the sends wait in the journal, and the recipients are denied
    store.unavailable (no request) until the journal is written; then they count."""
    store = FlakyStore()
    engine = Engine(POLICY, store, FrozenClock(NOW))
    c = client("sesv2")
    script = Script(c, "SendEmail", ok())
    g = guard(c, engine)
    store.failing.add("settle")
    outcomes = g.send_email(**email((ALICE,), (BOB,)))["Outcomes"]
    assert {(o.status, o.message_id) for o in outcomes.values()} == {(OutcomeStatus.SENT, "msg-1")}
    assert all(o.store_error for o in outcomes.values())
    held = g.send_email(**email(("alice@EXAMPLE.com",)))["Outcomes"]["alice@EXAMPLE.com"]
    assert held.decision.codes == ("store.unavailable",)
    assert len(script.requests) == 1
    store.failing.clear()
    assert g.replay() == 0
    assert [r.provider_id for r in sent(engine, ALICE)] == ["msg-1"]
    assert [r.provider_id for r in sent(engine, BOB)] == ["msg-1"]
