"""The idempotency record in memory: the answers recorded by (channel, sender, msgid), kept for a stated retention.

Strategy: a payment API keeps idempotency keys for a day, not for ever; so does the switch
(``--idempotency-hours``, 24 by default). Each recorded answer is indexed with the moment it was
decided; ``expire`` drops every key older than the retention, so memory follows the traffic of the
last retention period, not of the switch's whole life. The bytes of an answer stay in memory only
for the newest ``RECENT_RESPONSES``; older ones are read back from the store when replayed. The
store's ``replies`` table is pruned with the same cutoff, after memory, so a key still indexed
here always has its row on disk.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["DEFAULT_RETENTION", "RECENT_RESPONSES", "Recorded", "ReplyIndex"]

DEFAULT_RETENTION = timedelta(hours=24)
RECENT_RESPONSES = 20_000
Key = tuple[str, str, str]  # (channel, sender, msgid)


@dataclass(slots=True)
class Recorded:
    fingerprint: str
    infno: str
    code: str
    setl_id: str | None
    response: bytes | None  # None once evicted from memory: read it back from the store
    durable: asyncio.Future[None] | None = None


class ReplyIndex:
    """Recorded answers by key, each for ``retention`` after the moment it was decided."""

    def __init__(self, retention: timedelta = DEFAULT_RETENTION) -> None:
        self.retention = retention
        self._by_key: dict[Key, Recorded] = {}
        self._recent: deque[Key] = deque()  # whose response bytes are still in memory
        # Keys by the second they were decided in, in the order remembered: one list per second, not a
        # (datetime, key) pair per answer, which cost about 100 bytes of every answer kept for a day.
        self._expiry: deque[tuple[float, list[Key]]] = deque()

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: Key) -> Recorded | None:
        return self._by_key.get(key)

    def remember(self, key: Key, entry: Recorded, at: datetime) -> None:
        """Index ``entry``, decided at ``at``; keys that passed the retention by then are dropped."""
        # The sender and infno of every request are strings of their own as parsed; a day of answers
        # keeps tens of thousands of copies of a few names unless they are shared.
        channel, sender, msgid = key
        key = (channel, sys.intern(sender), msgid)
        entry.infno = sys.intern(entry.infno)
        self._by_key[key] = entry
        second = at.timestamp() // 1
        if self._expiry and self._expiry[-1][0] == second:
            self._expiry[-1][1].append(key)
        else:
            self._expiry.append((second, [key]))
        if entry.response is not None:
            self._recent.append(key)
            if len(self._recent) > RECENT_RESPONSES:
                old = self._by_key.get(self._recent.popleft())
                if old is not None and old.durable is None:
                    old.response = None
        self.expire(at - self.retention)

    def expire(self, cutoff: datetime) -> int:
        """Forget every key decided before ``cutoff``; returns how many.

        Keys go a whole second at a time, once all of it is before ``cutoff``: up to a second late,
        never early. A virtual clock moved back leaves the order of remembering out of time order: a
        key then waits behind a newer one at the front, and is forgotten late, never early.
        """
        limit = cutoff.timestamp()
        dropped = 0
        while self._expiry and self._expiry[0][0] + 1 <= limit:
            for key in self._expiry.popleft()[1]:
                if self._by_key.pop(key, None) is not None:
                    dropped += 1
        return dropped

    def forget(self, key: Key) -> None:
        """Drop ``key`` now: its stored answer is gone (pruned by time while this index kept it longer)."""
        self._by_key.pop(key, None)

    def clear(self) -> None:
        self._by_key.clear()
        self._recent.clear()
        self._expiry.clear()
