"""The AWS guards' journal and their construction checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from smspolicy import Engine, Policy, rules
from smspolicy.aws import FileJournal, Journal, MemoryJournal, SmsVoiceV2Guard
from smspolicy.errors import ConfigurationError
from smspolicy.store import SendStatus
from smspolicy.testing import FrozenClock

from .aws_helpers import FlakyStore, Script, client, ok

NOW = dt.datetime(2025, 1, 15, 15, 0, tzinfo=dt.UTC)
NY = "+12125550123"
BODY = "Acme: 20% off. Reply STOP to opt out."


def test_file_journal_round_trip(tmp_path: Path) -> None:
    """Entries, done marks and answers survive reopening; a line torn by a crash is skipped."""
    path = tmp_path / "sub" / "j.jsonl"
    journal = FileJournal(path)
    first = journal.append({"kind": "send", "number": NY})
    second = journal.append({"kind": "revoke", "number": "+1"})
    journal.done(first)
    journal.done("no-such-id")
    journal.remember("k", {"state": "started"})
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"op": "append", "id": "torn"')
    again = FileJournal(path)
    assert again.pending() == [(second, {"kind": "revoke", "number": "+1"})]
    assert again.recall("k") == {"state": "started"}
    assert again.recall("other") is None
    assert isinstance(again, Journal)
    assert "pending=1" in repr(again)


def test_memory_journal() -> None:
    """The memory journal keeps entries in order until done, and answers by key."""
    journal = MemoryJournal()
    ids = [journal.append({"n": i}) for i in range(3)]
    journal.done(ids[1])
    assert [e["n"] for _i, e in journal.pending()] == [0, 2]
    journal.remember("k", {"a": 1})
    assert journal.recall("k") == {"a": 1}
    assert repr(journal) == "MemoryJournal(pending=2)"


def test_file_journal_that_cannot_open_is_a_configuration_error(tmp_path: Path) -> None:
    """A journal path that cannot be a file is refused when the journal is made."""
    (tmp_path / "dir").mkdir()
    with pytest.raises(ConfigurationError, match="journal"):
        FileJournal(tmp_path / "dir")


class BrokenJournal(MemoryJournal):
    def append(self, entry: Any) -> str:
        raise OSError("disk full")


def test_a_failing_journal_still_keeps_the_send_in_memory() -> None:
    """When the journal itself fails, the unsettled send is kept in memory: the number is still
    held and the send is written once the store is back."""
    store = FlakyStore()
    engine = Engine(
        Policy(rules.frequency_cap(1, dt.timedelta(days=1)), name="p"), store, FrozenClock(NOW)
    )
    c = client("pinpoint-sms-voice-v2")
    script = Script(c, "SendTextMessage", ok())
    guard = SmsVoiceV2Guard(c, engine, topic="deals", journal=BrokenJournal())
    store.failing = {"settle"}
    outcome = guard.send_text_message(DestinationPhoneNumber=NY, MessageBody=BODY)["Outcome"]
    assert outcome.store_error is not None
    assert guard.blocked() == {NY}
    store.failing = set()
    assert guard.replay() == 0
    records = store.sends([NY], since=NOW - dt.timedelta(days=1))[NY]
    assert [(r.status, r.provider_id) for r in records] == [(SendStatus.SENT, "msg-1")]
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"attempts": 1.5}, "attempts"),
        ({"read_context": "brand"}, "read_context"),
        ({"read_context": ("colour",)}, "read_context"),
        ({"journal": object()}, "journal"),
        ({"failover": [object()]}, "Region"),
        ({"topic": ""}, "topic"),
        ({"purpose": "spam"}, "spam"),
    ],
    ids=["zero", "bool", "float", "string", "unknown", "journal", "failover", "topic", "purpose"],
)
def test_guard_arguments_are_checked(options: dict[str, Any], problem: str) -> None:
    """Bad guard arguments are refused when the guard is made."""
    engine = Engine(Policy(name="p"), FlakyStore(), FrozenClock(NOW))
    arguments = {"topic": "deals", **options}
    with pytest.raises(ConfigurationError, match=problem):
        SmsVoiceV2Guard(client("pinpoint-sms-voice-v2"), engine, **arguments)


def test_guard_needs_an_engine() -> None:
    """A guard without an engine is refused."""
    with pytest.raises(ConfigurationError, match="Engine"):
        SmsVoiceV2Guard(client("pinpoint-sms-voice-v2"), object(), topic="deals")  # type: ignore[arg-type]
