"""``smspolicy worker``: releases held messages through a ``module:function`` sender, reports
counts on stderr, refuses bad callbacks, and stops gracefully on SIGTERM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from smspolicy import Engine, Message, Policy
from smspolicy.cli import main
from smspolicy.outbox import HoldState, Outbox, SQLiteOutbox
from smspolicy.store import SQLiteStore

N1 = "+12125550141"
POLICY = """
name = "worker-test"
jurisdictions = []

[[rules]]
type = "frequency_cap"
limit = 2
per = "1d"
"""
SENDER = """
import pathlib, time

def send(release):
    time.sleep({delay})
    with open({log!r}, "a") as log:
        log.write(release.key + "\\n")
    return "id-" + release.key
"""


def setup(tmp_path: Path, delay: float = 0.0) -> tuple[Path, Path, Path, str]:
    """A store file, a policy, a sender module (unique name) and its log."""
    db, policy, log = tmp_path / "store.sqlite3", tmp_path / "policy.toml", tmp_path / "sent.log"
    policy.write_text(POLICY)
    engine = Engine(Policy(name="none"), SQLiteStore(db))
    engine.consent.confirm(N1, topic="news", purpose="transactional", source="test")
    engine.store.close()  # type: ignore[attr-defined]
    name = "sender_" + uuid.uuid4().hex[:8]
    (tmp_path / f"{name}.py").write_text(SENDER.format(delay=delay, log=str(log)))
    return db, policy, log, name


def test_worker_releases_through_the_callback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three held messages under a cap of two a day and one stale message: two are sent
    through ``module:function``, one is held again, the stale one is dropped; the counts are
    on stderr."""
    db, policy, log, name = setup(tmp_path)
    now = dt.datetime.now(dt.UTC)
    outbox = Outbox(SQLiteOutbox(db))
    for i in range(3):
        outbox.hold(Message(N1, "news", "transactional", body=str(i)), now, key=f"k{i}")
    stale = Message(N1, "news", "transactional", body="old", not_after=now)
    outbox.hold(stale, now - dt.timedelta(minutes=1), key="stale")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    status = main(
        ["worker", "--send", f"{name}:send", "--db", str(db), "--policy", str(policy), "--once"]
    )
    assert status == 0
    err = capsys.readouterr().err
    assert "claimed 4: sent 2 (recovered 0), held again 1, dropped 1, lost 0" in err
    assert sorted(log.read_text().split()) == ["k0", "k1"]
    counts = outbox.counts()
    assert (counts[HoldState.SENT], counts[HoldState.HELD], counts[HoldState.DROPPED]) == (2, 1, 1)
    assert outbox.dropped()[0].key == "stale"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        pytest.param("json", "module:function", id="no-colon"),
        pytest.param("no_such_module_xyz:send", "cannot import", id="no-module"),
        pytest.param("json:no_such_function", "has no", id="no-function"),
        pytest.param("json:__name__", "not callable", id="not-callable"),
    ],
)
def test_worker_refuses_a_bad_callback(
    spec: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``--send`` that does not name a function is a usage error (exit 2), not a traceback."""
    status = main(["worker", "--send", spec, "--db", str(tmp_path / "s.sqlite3"), "--once"])
    assert status == 2
    assert words in capsys.readouterr().err


def test_worker_refuses_bad_loop_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch or concurrency below one, or a poll of zero, is a usage error."""
    for bad in (["--batch", "0"], ["--concurrency", "0"], ["--poll", "0"]):
        status = main(["worker", "--send", "json:dumps", "--db", str(tmp_path / "s.sqlite3"), *bad])
        assert status == 2
    assert "--batch" in capsys.readouterr().err


def test_sigterm_finishes_the_batch_in_hand(tmp_path: Path) -> None:
    """SIGTERM during a slow batch: the worker finishes the messages it claimed, exits 0, and
    leaves none claimed; each logged send is recorded as sent, the rest are still held."""
    db, policy, log, name = setup(tmp_path, delay=0.2)
    now = dt.datetime.now(dt.UTC)
    outbox = Outbox(SQLiteOutbox(db))
    for i in range(20):
        outbox.hold(Message(N1, "news", "transactional", body=str(i)), now, key=f"k{i}")
    policy.write_text(POLICY.replace("limit = 2", "limit = 100"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smspolicy.cli",
            "worker",
            "--send",
            f"{name}:send",
            "--db",
            str(db),
            "--policy",
            str(policy),
            "--batch",
            "3",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    sent = log.read_text().split()
    assert len(sent) == len(set(sent))
    assert 1 <= len(sent) < 20
    counts = outbox.counts()
    assert counts[HoldState.CLAIMED] == 0
    assert counts[HoldState.SENT] == len(sent)
    assert counts[HoldState.HELD] == 20 - len(sent)
    assert f"sent {len(sent)} " in err
