"""The terminal's durable memory: msgids never repeat across restarts, owed reversals survive them."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from terminal.clients.state import TerminalState


def test_msgids_continue_after_a_restart(tmp_path: Path) -> None:
    """A new TerminalState on the same directory goes on from the last msgid, never back to 1."""
    first = TerminalState(tmp_path, "T1")
    used = [first.next_msgid() for _ in range(3)]
    again = TerminalState(tmp_path, "T1")
    later = [again.next_msgid() for _ in range(2)]
    epoch = json.loads((tmp_path / "T1.json").read_text())["epoch"]
    assert used + later == [f"T1-{epoch}-{n:06d}" for n in range(1, 6)]


def test_a_new_state_directory_gives_new_msgids(tmp_path: Path) -> None:
    """A lost state directory must not make the terminal replay its old msgids: the epoch differs."""
    old = TerminalState(tmp_path / "a", "T1").next_msgid()
    new = TerminalState(tmp_path / "b", "T1").next_msgid()
    assert old != new and old.endswith("-000001") and new.endswith("-000001")


def test_armed_reversal_is_owed_until_disarmed(tmp_path: Path) -> None:
    """The reversal reserved with a settlement is listed by a restarted terminal until it is disarmed."""
    pending = TerminalState(tmp_path, "T1").arm_settlement("2102", "DH")
    restarted = TerminalState(tmp_path, "T1")
    assert restarted.pending() == [pending]
    assert pending.input() == {"psn_no": "DH", "omsgid": pending.omsgid, "oinfno": "2102"}
    assert pending.omsgid.endswith("-000001") and pending.msgid.endswith("-000002")
    restarted.disarm(pending)
    assert TerminalState(tmp_path, "T1").pending() == []
    assert restarted.next_msgid().endswith("-000003")


def test_long_terminal_id_keeps_msgid_within_64_characters(tmp_path: Path) -> None:
    """A 64-character terminal id still yields msgids the protocol accepts (1-64 characters)."""
    msgid = TerminalState(tmp_path, "T" * 64).next_msgid()
    assert len(msgid) == 64 and msgid.endswith("-000001")


def test_concurrent_users_of_one_terminal_id_never_share_a_msgid(tmp_path: Path) -> None:
    """Two processes (here threads with their own file handles) on one terminal id get distinct msgids."""
    got: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        state = TerminalState(tmp_path, "T1")
        for _ in range(25):
            msgid = state.next_msgid()
            with lock:
                got.append(msgid)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 100 and len(set(got)) == 100


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    """A damaged state file stops the terminal with the path and what removing it would lose."""
    (tmp_path / "T1.json").write_text("{not json")
    with pytest.raises(RuntimeError, match=r"T1\.json is unreadable.*forgets any reversal"):
        TerminalState(tmp_path, "T1").next_msgid()


def test_bad_terminal_id_is_refused(tmp_path: Path) -> None:
    """A terminal id the protocol would refuse on the topic is refused before anything is written."""
    with pytest.raises(ValueError, match="1-64 characters"):
        TerminalState(tmp_path, "T 1")
    assert list(tmp_path.iterdir()) == []
