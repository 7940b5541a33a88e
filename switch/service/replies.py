"""The idempotency record in memory: the answers recorded by (channel, sender, msgid), kept for a stated retention.

Strategy: a payment API keeps idempotency keys for a day, not for ever; so does the switch
(``--idempotency-hours``, 24 by default). Each recorded answer is indexed with the moment it was
decided; ``expire`` drops every key older than the retention. Memory holds only the newest
``keep`` answers (``serve --keep``): an older one, once durable, leaves memory and is found in the
store's ``replies`` table when its msgid comes again (the archive's lookup, by the same key and
within the same retention); its bytes are read back when replayed. The table is pruned with the
same cutoff, after memory, so a key still indexed here always has its row on disk.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

__all__ = ["DEFAULT_RETENTION", "Recorded", "ReplyArchive", "ReplyIndex"]

DEFAULT_RETENTION = timedelta(hours=24)
Key = tuple[str, str, str]  # (channel, sender, msgid)


class ReplyArchive(Protocol):
    def reply(self, channel: str, sender: str, msgid: str, since: str) -> tuple[str, str, str, str | None] | None:
        """(infno, fingerprint, code, setl_id) of the answer recorded for the key at ``since`` (ISO) or later."""
        ...


@dataclass(slots=True)
class Recorded:
    fingerprint: str
    infno: str
    code: str
    setl_id: str | None
    response: bytes | None  # None when read back from the archive: read the bytes from the store
    durable: asyncio.Future[None] | None = None


class ReplyIndex:
    """Recorded answers by key, each for ``retention`` after the moment it was decided; the newest ``keep`` in
    memory (all of them without an archive), older ones looked up in ``archive``."""

    def __init__(self, retention: timedelta = DEFAULT_RETENTION, archive: ReplyArchive | None = None,
                 keep: int | None = None) -> None:
        self.retention = retention
        self.archive = archive
        self.keep = keep
        self.cold = False  # whether some answer within the retention is on disk only
        self._cutoff: datetime | None = None  # the last cutoff: older answers are past the retention
        self._by_key: dict[Key, Recorded] = {}
        # Every remembered (key, entry), oldest decided first, and how many were decided in each second: keys
        # expire a whole second at a time, and the oldest leave memory first once more than ``keep`` are held.
        self._order: deque[tuple[Key, Recorded]] = deque()
        self._seconds: deque[list[float]] = deque()  # [second, how many of _order's front were remembered in it]

    def __len__(self) -> int:
        """The answers held in memory."""
        return len(self._by_key)

    def get(self, key: Key) -> Recorded | None:
        entry = self._by_key.get(key)
        if entry is None and self.cold and self.archive is not None:
            since = "" if self._cutoff is None else self._cutoff.isoformat(timespec="milliseconds")  # as stored
            row = self.archive.reply(*key, since)
            if row is not None:
                infno, fingerprint, code, setl_id = row
                entry = Recorded(fingerprint, infno, code, setl_id, None)
        return entry

    def remember(self, key: Key, entry: Recorded, at: datetime) -> None:
        """Index ``entry``, decided at ``at``; keys that passed the retention by then are dropped, and the oldest
        durable ones beyond ``keep`` leave memory."""
        # The sender and infno of every request are strings of their own as parsed; a day of answers
        # keeps tens of thousands of copies of a few names unless they are shared.
        channel, sender, msgid = key
        key = (channel, sys.intern(sender), msgid)
        entry.infno = sys.intern(entry.infno)
        self._by_key[key] = entry
        second = at.timestamp() // 1
        seconds = self._seconds
        if not seconds or seconds[-1][0] < second:
            seconds.append([second, 1])
            self._order.append((key, entry))
        elif seconds[-1][0] == second:
            seconds[-1][1] += 1
            self._order.append((key, entry))
        else:
            self._insert_in_time(key, entry, second)
        self.expire(at - self.retention)
        keep = self.keep
        if keep is not None and self.archive is not None:
            while len(self._by_key) > keep and self._order:
                old = self._order[0][1]
                if old.durable is not None and not old.durable.done():
                    break  # not on disk yet: it stays until it is
                self._drop_front()
                self.cold = True

    def _insert_in_time(self, key: Key, entry: Recorded, second: float) -> None:
        """Remember an answer decided before the newest one (a virtual clock moved back) among those of its
        second, so that it is forgotten at its own time, not behind answers of later times."""
        seconds, index, bucket = self._seconds, len(self._order), len(self._seconds)
        while bucket and seconds[bucket - 1][0] > second:
            bucket -= 1
            index -= int(seconds[bucket][1])
        if bucket and seconds[bucket - 1][0] == second:
            seconds[bucket - 1][1] += 1
        else:
            seconds.insert(bucket, [second, 1])
        self._order.insert(index, (key, entry))

    def _drop_front(self) -> bool:
        """Take the oldest remembered entry out of memory; whether it was still the one indexed for its key."""
        key, entry = self._order.popleft()
        front = self._seconds[0]
        front[1] -= 1
        if not front[1]:
            self._seconds.popleft()
        if self._by_key.get(key) is entry:
            del self._by_key[key]
            return True
        return False

    def expire(self, cutoff: datetime) -> int:
        """Forget every key decided before ``cutoff``; returns how many left memory.

        Keys go a whole second at a time, once all of it is before ``cutoff``: up to a second late,
        never early. They are held in time order, whatever order a virtual clock moved back and forth
        remembered them in.
        """
        self._cutoff = cutoff
        limit = cutoff.timestamp()
        dropped = 0
        while self._seconds and self._seconds[0][0] + 1 <= limit:
            for _ in range(int(self._seconds[0][1])):
                dropped += self._drop_front()
        return dropped

    def forget(self, key: Key) -> None:
        """Drop ``key`` now: its stored answer is gone (pruned by time while this index kept it longer)."""
        self._by_key.pop(key, None)

    def clear(self) -> None:
        self._by_key.clear()
        self._order.clear()
        self._seconds.clear()
        self.cold = False
