"""The engine's fast path decides exactly like the policy tree it flattens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smspolicy import (
    Channel,
    Context,
    Decision,
    Message,
    Policy,
    Resolver,
    Verdict,
    all_of,
    allow,
    deny,
    jurisdictions,
    rule,
    rules,
    when,
)
from smspolicy._compose import run_rule
from smspolicy._context import ConsentView, HistoryView
from smspolicy._fastpath import MAX_SHAPES, FastPath
from smspolicy._values import Purpose, Reason
from smspolicy.predicates import Predicate, is_marketing, predicate
from smspolicy.store import SendRecord
from smspolicy.strategies import consent_histories, instants, messages, phone_numbers, policies

RESOLVER = Resolver()
NOW = dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.UTC)


def _context(
    message: Message, now: dt.datetime, events: list[object], sends: Sequence[SendRecord] = ()
) -> Context:
    return Context(
        now=now,
        recipient=RESOLVER.resolve(message.to),
        consent=ConsentView(events=events),  # type: ignore[arg-type]
        history=HistoryView(sends=sends, since=now - dt.timedelta(days=400)),
    )


def _sends(message: Message, now: dt.datetime, hours: list[int]) -> list[SendRecord]:
    return [
        SendRecord(
            number=message.to,
            at=now - dt.timedelta(hours=h),
            topic=message.topic,
            purpose=message.purpose,
            channel=message.channel,
            content_key=message.content_key if h % 2 else "other",
        )
        for h in sorted(hours, reverse=True)
    ]


def _same(left: Decision, right: Decision) -> None:
    assert (left.verdict, left.until, left.reasons, left.zone) == (
        right.verdict,
        right.until,
        right.reasons,
        right.zone,
    )


@settings(max_examples=150)
@given(policies(), st.data())
def test_fast_path_decides_like_the_tree(policy: object, data: st.DataObject) -> None:
    """For random policies (nested inside the standard packs), messages, instants and consent
    histories, the fast path's decision equals the tree's."""
    tree = Policy(jurisdictions.standard(), policy, name="mixed")  # type: ignore[arg-type]
    message = data.draw(messages(phone_numbers(regions=["US", "CA", "GB", "FR", "JP", "AU"])))
    now = data.draw(instants())
    events = data.draw(consent_histories(message.to, before=now, topics=st.just(message.topic)))
    fast = FastPath(tree)
    context = _context(message, now, events)
    _same(fast(message, context), run_rule(tree, message, _context(message, now, events)))
    # The second decision for the same shape comes from the remembered leaves.
    _same(fast(message, context), run_rule(tree, message, context))


@settings(max_examples=150)
@given(policies(), st.data())
def test_fast_path_decides_like_a_flat_policy(policy: object, data: st.DataObject) -> None:
    """A policy whose rules are leaves (nothing to open) is combined exactly as the policy does,
    deferrals included: random rules, instants, consent and send histories."""
    extra = data.draw(st.sampled_from([rules.frequency_cap(2, dt.timedelta(hours=6)), None]))
    tree = Policy(*(r for r in (policy, extra) if r is not None), name="flat")  # type: ignore[arg-type]
    message = data.draw(messages(phone_numbers(regions=["US", "GB", "JP"])))
    now = data.draw(instants())
    events = data.draw(consent_histories(message.to, before=now, topics=st.just(message.topic)))
    sends = _sends(message, now, data.draw(st.lists(st.integers(0, 30), max_size=5)))
    fast = FastPath(tree)
    for _ in range(2):
        context = _context(message, now, events, sends)
        _same(
            fast(message, context), run_rule(tree, message, _context(message, now, events, sends))
        )


@pytest.mark.caches
def test_static_predicates_are_settled_once_per_shape() -> None:
    """A predicate that reads only the purpose and jurisdictions is asked once per (purpose,
    jurisdictions); a user predicate that may read anything is asked on every decision."""
    asked = {"static": 0, "dynamic": 0}

    def count(name: str, answer: bool) -> object:
        def test(_m: Message, _c: Context) -> bool:
            asked[name] += 1
            return answer

        return test

    static = Predicate(count("static", True), "static", reads=frozenset({"jurisdictions"}))  # type: ignore[arg-type]
    tree = Policy(
        when(static & is_marketing, rules.valid_number()),
        when(predicate(count("dynamic", True)), rules.valid_number()),  # type: ignore[arg-type]
        name="p",
    )
    fast = FastPath(tree)
    message = Message("+12125550100", "news", "marketing")
    for minute in range(5):
        context = _context(message, NOW + dt.timedelta(minutes=minute), [])
        assert fast(message, context).allowed
    assert asked == {"static": 1, "dynamic": 5}
    other = Message("+13055550100", "news", "marketing")  # another jurisdiction set: asked again
    fast(other, _context(other, NOW, []))
    assert asked == {"static": 2, "dynamic": 6}


def test_a_non_plain_decision_goes_to_the_tree() -> None:
    """A leaf that denies hands the message to the tree, which gives every denying reason; an
    ALLOW with an informational reason keeps that reason."""
    note = Reason("test.note", "noted", "for the record")

    @rule(name="noted")
    def noted(_m: Message, _c: Context) -> Decision:
        return allow(note)

    @rule(name="refuse")
    def refuse(_m: Message, _c: Context) -> Decision:
        return deny(Reason("test.no", "refuse", "no"))

    message = Message("+12125550100", "news", "transactional")
    context = _context(message, NOW, [])
    assert FastPath(Policy(noted, name="p"))(message, context).reasons == (note,)
    decided = FastPath(Policy(all_of(noted, refuse), rules.valid_number(), name="p"))(
        message, context
    )
    assert decided.codes == ("test.no",)


@pytest.mark.caches
def test_shapes_are_bounded() -> None:
    """The remembered shapes never exceed their bound."""
    fast = FastPath(Policy(rules.valid_number(), name="p"))
    message = Message("+12125550100", "news", "marketing")
    base = RESOLVER.resolve(message.to)
    for index in range(MAX_SHAPES + 10):
        recipient = base.__class__(
            address=base.address,
            valid=True,
            e164=base.e164,
            jurisdictions=frozenset({f"X-{index}"}),
        )
        fast(message, Context(now=NOW, recipient=recipient))
    assert len(fast._shapes) <= MAX_SHAPES


@pytest.mark.caches
def test_only_marked_packs_are_opened() -> None:
    """A jurisdiction pack (marked static_dispatch) is replaced by its provisions; a rule that
    merely has a method of the same name is left whole and asked every time."""

    class LooksLikeAPack:
        asked = 0

        def rule_for(self, jurisdictions: frozenset[str], purpose: object) -> object:
            raise AssertionError("never opened")

        def __call__(self, message: Message, context: Context) -> Decision:
            LooksLikeAPack.asked += 1
            return allow()

    tree = Policy(jurisdictions.standard(), LooksLikeAPack(), name="p")  # type: ignore[arg-type]
    fast = FastPath(tree)
    message = Message("+12125550100", "news", "transactional")
    fast(message, _context(message, NOW, []))
    fast(message, _context(message, NOW, []))
    ((leaves, _flat, _timed),) = fast._shapes.values()
    assert not any(getattr(type(leaf), "static_dispatch", False) for leaf in leaves)
    assert any(isinstance(leaf, LooksLikeAPack) for leaf in leaves)
    assert LooksLikeAPack.asked == 2


def test_a_predicate_that_reads_more_than_it_declares_is_asked_every_time() -> None:
    """A user predicate declaring ``reads={"purpose"}`` that reads the topic is found out: the
    fast path asks it on every decision instead of reusing a wrong answer."""
    liar = Predicate(lambda m, _c: m.topic == "a", "liar", reads=frozenset({"purpose"}))
    refuse = when(liar, rules.valid_number(line_types={"fixed_line"}))
    fast = FastPath(Policy(refuse, name="p"))
    first = Message("+12125550100", "a", "marketing")
    second = Message("+12125550100", "b", "marketing")
    for message in (first, second, first):
        context = _context(message, NOW, [])
        _same(fast(message, context), run_rule(fast.rule, message, context))
    assert liar.settled(Purpose.MARKETING, frozenset({"US"})) is None


def test_built_in_predicates_are_settled_from_the_pair() -> None:
    """Built-in purpose and jurisdiction predicates, and their & | ~, answer from the pair."""
    from smspolicy.predicates import in_jurisdiction

    both = is_marketing & in_jurisdiction("US-FL")
    assert both.settled(Purpose.MARKETING, frozenset({"US", "US-FL"})) is True
    assert both.settled(Purpose.MARKETING, frozenset({"US"})) is False
    assert (~both).settled(Purpose.TRANSACTIONAL, frozenset({"US-FL"})) is True
    assert (both | predicate(lambda _m, _c: True)).settled(Purpose.MARKETING, frozenset()) is None


def test_channel_predicates_are_settled_with_the_channel() -> None:
    """``channel_is`` is settled once per (purpose, jurisdictions, channel); without a channel
    it cannot be."""
    from smspolicy.predicates import channel_is

    texts = channel_is("sms", "mms")
    assert texts.settled(Purpose.MARKETING, frozenset({"US"}), Channel.SMS) is True
    assert texts.settled(Purpose.MARKETING, frozenset({"US"}), Channel.EMAIL) is False
    assert texts.settled(Purpose.MARKETING, frozenset({"US"})) is None
    assert (is_marketing & ~texts).settled(Purpose.MARKETING, frozenset(), Channel.PUSH) is True


def _consented(address: str, now: dt.datetime) -> list[object]:
    from smspolicy import ConsentEvent
    from smspolicy.consent import WrittenConsent

    return [
        ConsentEvent(
            kind="confirmed",
            number=address,
            at=now - dt.timedelta(days=3),
            source="form",
            topic="news",
            purpose="marketing",
            basis="express",
            evidence=WrittenConsent("Acme", "Acme news", address).evidence(),
        ).chained(0, "0" * 64)
    ]


def _email_context(address: str, zone: str, country: str, now: dt.datetime) -> Context:
    from smspolicy._recipients import Profile, address_recipient

    return Context(
        now=now,
        recipient=address_recipient(address, Profile(timezone=zone, country=country, state="NY")),
        consent=ConsentView(events=_consented(address, now)),  # type: ignore[arg-type]
        history=HistoryView(sends=(), since=now - dt.timedelta(days=400)),
    )


def test_the_channel_is_part_of_the_fast_paths_key() -> None:
    """A text and an email to recipients with the same zones and jurisdictions at the same
    instant: the text's sending window does not reach the email (and the email's content
    laws do not reach the text), however the one fast path saw them first."""
    tree = Policy(jurisdictions.standard(), name="p")
    night = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)  # 03:00 in New York
    text = Message("+12125550123", "news", "marketing", body="Acme: hi. Reply STOP to end.")
    email = Message(
        "ann@example.com",
        "news",
        "marketing",
        channel="email",
        body="Acme, 1 Main St, New York, NY 10001. To opt out, reply STOP.",
    )
    sms_context = _context(text, night, _consented(text.to, night))
    mail_context = _email_context("ann@example.com", "America/New_York", "US", night)
    assert (sms_context.recipient.zones, sms_context.recipient.jurisdictions) == (
        mail_context.recipient.zones,
        mail_context.recipient.jurisdictions,
    )
    for first, second in ((text, email), (email, text)):
        fast = FastPath(tree)
        for message in (first, second, first, second):
            context = sms_context if message is text else mail_context
            decided = fast(message, context)
            _same(decided, run_rule(tree, message, context))
            expected = Verdict.DEFER if message is text else Verdict.ALLOW
            assert decided.verdict is expected


@settings(max_examples=100)
@given(policies(), st.data())
def test_fast_path_decides_like_the_tree_on_every_phone_channel(
    policy: object, data: st.DataObject
) -> None:
    """One fast path, one recipient, one instant, the message sent as a text, an MMS and a
    call in a random order: each decision equals the tree's."""
    from smspolicy.strategies import channels

    tree = Policy(jurisdictions.standard(), policy, name="mixed")  # type: ignore[arg-type]
    message = data.draw(messages(phone_numbers(regions=["US", "CA", "GB", "JP"])))
    now = data.draw(instants())
    events = data.draw(consent_histories(message.to, before=now, topics=st.just(message.topic)))
    order = data.draw(st.lists(channels(["sms", "mms", "voice"]), min_size=2, max_size=5))
    fast = FastPath(tree)
    for channel in order:
        sent = attrs.evolve(message, channel=channel)
        expected = run_rule(tree, sent, _context(sent, now, events))
        _same(fast(sent, _context(sent, now, events)), expected)
