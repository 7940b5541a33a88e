"""The idempotency index in memory: kept for the retention, forgotten a second at a time, never early."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from switch.service.clock import CST
from switch.service.replies import Recorded, ReplyIndex

T0 = datetime(2026, 12, 2, 10, 0, 0, tzinfo=CST)


def _entry(infno: str = "2102") -> Recorded:
    return Recorded("f" * 32, infno, "OK", None, None)


def _fresh(text: str) -> str:
    """An equal string that is another object, as every parsed request brings."""
    return text.encode().decode()


def test_keys_go_a_whole_second_at_a_time_once_all_of_it_is_past() -> None:
    """Two answers of 10:00:00 stay while the cutoff is inside that second and go together at 10:00:01."""
    index = ReplyIndex(timedelta(hours=24))
    index.remember(("pos", "T1", "m1"), _entry(), T0 + timedelta(milliseconds=200))
    index.remember(("pos", "T1", "m2"), _entry(), T0 + timedelta(milliseconds=900))
    index.remember(("pos", "T1", "m3"), _entry(), T0 + timedelta(seconds=1, milliseconds=100))
    assert index.expire(T0 + timedelta(milliseconds=950)) == 0  # m1 is past, m2 not: neither goes early
    assert len(index) == 3
    assert index.expire(T0 + timedelta(seconds=1)) == 2
    assert index.get(("pos", "T1", "m1")) is None and index.get(("pos", "T1", "m2")) is None
    assert index.get(("pos", "T1", "m3")) is not None
    assert index.expire(T0 + timedelta(seconds=2)) == 1 and len(index) == 0


def test_remembering_drops_what_passed_the_retention() -> None:
    """An answer remembered a retention and a second after another one pushes the old one out."""
    index = ReplyIndex(timedelta(hours=1))
    index.remember(("national", "P1", "a"), _entry(), T0)
    index.remember(("national", "P1", "b"), _entry(), T0 + timedelta(minutes=59, seconds=59))
    assert len(index) == 2
    index.remember(("national", "P1", "c"), _entry(), T0 + timedelta(hours=1, seconds=1))
    assert index.get(("national", "P1", "a")) is None and len(index) == 2


def test_a_clock_moved_back_forgets_each_answer_at_its_own_time() -> None:
    """Remembered at 10:00:05 then, after the clock went back, at 10:00:02 and 10:00:03: a cutoff of 10:00:04
    drops the two early ones (they used to wait behind the later one), 10:00:06 the last."""
    index = ReplyIndex(timedelta(hours=24))
    index.remember(("pos", "T1", "late"), _entry(), T0 + timedelta(seconds=5))
    index.remember(("pos", "T1", "early"), _entry(), T0 + timedelta(seconds=2))
    index.remember(("pos", "T1", "early2"), _entry(), T0 + timedelta(seconds=3, milliseconds=500))
    index.remember(("pos", "T1", "early3"), _entry(), T0 + timedelta(seconds=2, milliseconds=300))
    assert index.expire(T0 + timedelta(seconds=3)) == 2  # the two of 10:00:02
    assert index.get(("pos", "T1", "early")) is None and index.get(("pos", "T1", "early3")) is None
    assert index.expire(T0 + timedelta(seconds=4)) == 1
    assert index.get(("pos", "T1", "late")) is not None and len(index) == 1
    assert index.expire(T0 + timedelta(seconds=6)) == 1 and len(index) == 0


def test_senders_and_infnos_of_many_answers_share_one_string() -> None:
    """Equal sender names and infnos parsed afresh for each request are kept as one object each."""
    index = ReplyIndex(timedelta(hours=24))
    for i in range(3):
        index.remember(("pos", _fresh("POS-01"), f"m{i}"), _entry(_fresh("2102")), T0)
    keys = list(index._by_key)
    assert len({id(sender) for _, sender, _ in keys}) == 1
    assert len({id(index._by_key[k].infno) for k in keys}) == 1
    assert index.get(("pos", _fresh("POS-01"), "m1")) is not None  # found by an equal string


class FakeReplies:
    """The store's answers (the archive port): key -> (infno, fingerprint, code, setl_id, at ISO); reads noted."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], tuple[str, str, str, str | None, str]] = {}
        self.asked: list[tuple[str, str, str, str]] = []

    def reply(self, channel: str, sender: str, msgid: str, since: str) -> tuple[str, str, str, str | None] | None:
        self.asked.append((channel, sender, msgid, since))
        row = self.rows.get((channel, sender, msgid))
        return None if row is None or row[4] < since else row[:4]


def test_only_durable_answers_leave_memory_and_are_found_on_disk_within_the_retention() -> None:
    loop = asyncio.new_event_loop()
    try:
        disk = FakeReplies()
        index = ReplyIndex(timedelta(hours=1), disk, keep=2)
        pending = []
        for i in range(4):
            entry = _entry()
            entry.durable = loop.create_future()
            pending.append(entry.durable)
            index.remember(("pos", "T1", f"m{i}"), entry, T0 + timedelta(seconds=i))
        assert len(index) == 4 and not index.cold  # none is on disk yet: all stay, over the limit
        assert index.get(("pos", "T1", "new")) is None and disk.asked == []  # nothing on disk only: no read
        for i, done in enumerate(pending):
            done.set_result(None)
            disk.rows[("pos", "T1", f"m{i}")] = ("2102", "f" * 32, "OK", None, (T0 + timedelta(seconds=i)).isoformat(
                timespec="milliseconds"))
        index.remember(("pos", "T1", "m4"), _entry(), T0 + timedelta(seconds=4))
        assert len(index) == 2 and index.cold
        assert index.get(("pos", "T1", "m3")) is not None and disk.asked == []  # still in memory
        found = index.get(("pos", "T1", "m0"))
        assert found is not None and found.response is None and found.code == "OK"  # bytes: from the store
        assert disk.asked == [("pos", "T1", "m0", (T0 + timedelta(seconds=4) - timedelta(hours=1)).isoformat(
            timespec="milliseconds"))]
        index.expire(T0 + timedelta(milliseconds=500))  # m0 is past the retention now, on disk too; m1 is not
        assert index.get(("pos", "T1", "m0")) is None and index.get(("pos", "T1", "m1")) is not None
    finally:
        loop.close()
