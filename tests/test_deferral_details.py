"""A remembered deferral is handed only to a message whose rules give decisions with the same
details: a detail equal under ``==`` but of another value (1 and 1.0, 1 and True) is another
detail, and the tree's decision shows it."""

from __future__ import annotations

import datetime as dt

from smspolicy import Context, Decision, Message, Policy, Resolver, allow, defer, rule, rules
from smspolicy._compose import run_rule
from smspolicy._fastpath import FastPath
from smspolicy._values import Reason

# 23:00 in New York: the window defers to 08:00, the rule below an hour.
NOW = dt.datetime(2026, 11, 28, 4, 0, tzinfo=dt.UTC)
FIRST, SECOND = "+12125550100", "+12125550111"  # one zone, one key


@rule(name="waits_an_hour")
def waits_an_hour(message: Message, context: Context) -> Decision:
    # The same wait, worked out as a float for one recipient and given as an int for another.
    hours: object = 1.0 if message.to == SECOND else 1
    if context.now >= NOW + dt.timedelta(hours=1):
        return allow()
    return defer(NOW + dt.timedelta(hours=1), Reason("w", "w", "wait", data={"h": hours}))


def _decide(fast: FastPath, policy: Policy, number: str) -> tuple[object, object]:
    message = Message(number, "deals", "marketing")
    recipient = Resolver().resolve(number)
    got = fast(message, Context(now=NOW, recipient=recipient))
    want = run_rule(policy, message, Context(now=NOW, recipient=recipient))
    return (
        [(type(v), v) for r in got.reasons if r.code == "w" for v in r.data.values()],
        [(type(v), v) for r in want.reasons if r.code == "w" for v in r.data.values()],
    )


def test_a_detail_equal_under_eq_but_of_another_type_is_not_shared() -> None:
    """FIRST twice (seen, then remembered), then SECOND: SECOND's rule says 1.0 hours, the
    tree's decision for it carries 1.0; the fast path hands it FIRST's (1)."""
    policy = Policy(rules.sending_window("08:00", "21:00"), waits_an_hour, name="p")
    fast = FastPath(policy)
    for number in (FIRST, FIRST):
        got, want = _decide(fast, policy, number)
        assert got == want
    got, want = _decide(fast, policy, SECOND)
    assert want == [(float, 1.0)]
    assert got == want
