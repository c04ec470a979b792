"""A predicate that declares it reads only the channel is settled per (purpose, jurisdictions,
channel) by the fast path: one that reads more must be found out, not trusted."""

from __future__ import annotations

import datetime as dt

from smspolicy import Channel, Context, Decision, Message, Policy, Resolver, deny, rule, rules, when
from smspolicy._compose import run_rule
from smspolicy._fastpath import FastPath
from smspolicy._values import Reason
from smspolicy.predicates import Predicate

NOW = dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.UTC)
HELD = Reason("held", "test", "held")


@rule
def held(_m: Message, _c: Context) -> Decision:
    return deny(HELD)


def _sms_alerts(message: Message, _context: Context) -> bool:
    # Reads the topic too, through getattr with a default (a common defensive spelling).
    return message.channel is Channel.SMS and getattr(message, "topic", None) == "alerts"


def test_a_channel_predicate_that_reads_the_topic_through_getattr_is_not_settled() -> None:
    """The predicate declares reads={"channel"} but reads the topic: on an SMS about
    "alerts" the tree applies the rule (DENY); the fast path settles the predicate on a
    stand-in message without a topic (getattr gives None: False) and drops the rule."""
    predicate = Predicate(_sms_alerts, "sms_alerts", reads=frozenset({"channel"}))
    policy = Policy(when(predicate, held), rules.valid_number(), name="p")
    message = Message("+12125550123", "alerts", "marketing")
    recipient = Resolver().resolve(message.to)
    expected = run_rule(policy, message, Context(now=NOW, recipient=recipient))
    assert expected.verdict.value == "deny"
    decided = FastPath(policy)(message, Context(now=NOW, recipient=recipient))
    assert (decided.verdict, decided.reasons) == (expected.verdict, expected.reasons)
