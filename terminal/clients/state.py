"""A terminal's durable memory: its msgid counter and the reversal it still owes, one small file per terminal.

Strategy: a real POS keeps both on disk, because a msgid reused after a restart is replayed (the
switch answers the *old* settlement and moves nothing) and a settlement left unanswered by a crash
must still be reversed when the terminal comes back. Each change rewrites the file atomically
(write, fsync, rename) under an ``flock``, so two processes sharing a terminal id never hand out the
same msgid. The file also holds a random ``epoch`` chosen when it is created: msgids are
``{terminal}-{epoch}-{n}``, so a deleted state directory yields new msgids, not replays.

Over the national (HTTP) door the sender is the institution, not the terminal, and msgids take the
platform's shape: ``fixmedins_code`` + ``yyyyMMddHHmmss`` + a 4-digit sequence. Every terminal of an
institution then draws from one counter, ``{fixmedins_code}.national.json`` beside the terminals'
files (locked after the terminal's own file, always in that order): its (time, sequence) only rises,
taking the later of the wall clock (China time) and the last time issued, and the next second once
a second's 9999 are used; so no two terminals sharing the directory send the same msgid, a restart
goes on above the last one, and a deleted directory starts at the present second.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from switch.wire.topics import valid_id

__all__ = ["PendingReversal", "TerminalState", "default_state_dir", "next_platform_msgid"]

MSGID_MAX = 64
CHINA = timezone(timedelta(hours=8))  # the platform's msgid time is China time
NATIONAL_DOOR = "http"  # the door a pending reversal owed over the national interface goes back through


def default_state_dir() -> Path:
    """``$GONGJI_STATE_DIR``, else ``$XDG_STATE_HOME/gongji/terminals``, else ``~/.local/state/...``."""
    if env := os.environ.get("GONGJI_STATE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gongji" / "terminals"


def next_platform_msgid(counter: dict[str, Any], fixmedins_code: str, now: datetime) -> str:
    """The institution's next platform msgid; ``counter`` keeps the last (time, sequence) issued, and only rises."""
    last, seq = str(counter.get("time", "")), int(counter.get("seq", 0))
    stamp = f"{now.astimezone(CHINA):%Y%m%d%H%M%S}"
    if stamp > last:
        seq = 1
    elif seq < 9999:
        stamp, seq = last, seq + 1
    else:  # a second's sequence is used up (or the clock went back): borrow the next second
        stamp = f"{datetime.strptime(last, '%Y%m%d%H%M%S') + timedelta(seconds=1):%Y%m%d%H%M%S}"
        seq = 1
    counter["time"], counter["seq"] = stamp, seq
    return f"{fixmedins_code}{stamp}{seq:04d}"


@dataclass(frozen=True, slots=True)
class PendingReversal:
    """A settlement sent and not (yet) answered: if it stays so, 2601 ``msgid`` undoes ``omsgid``."""

    msgid: str
    omsgid: str
    oinfno: str
    psn_no: str
    door: str = "mqtt"  # a 2601 reverses msgids of its own door: it must go back the same way

    def input(self) -> dict[str, str]:
        return {"psn_no": self.psn_no, "omsgid": self.omsgid, "oinfno": self.oinfno}


class TerminalState:
    """``{state_dir}/{terminal_id}.json``: ``{"epoch", "next", "pending": [...]}``; with ``national``
    (the institution's fixmedins_code), msgids in the platform's shape from the institution's counter."""

    def __init__(self, state_dir: Path, terminal_id: str, *, national: str | None = None,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(CHINA)) -> None:
        if not valid_id(terminal_id):
            raise ValueError(f"terminal id {terminal_id!r} must be 1-64 characters of A-Za-z0-9_-")
        if national is not None and not valid_id(national):
            raise ValueError(f"fixmedins_code {national!r} must be 1-64 characters of A-Za-z0-9_-")
        self.terminal_id = terminal_id
        self.dir = Path(state_dir)
        self.path = self.dir / f"{terminal_id}.json"
        self.national = national
        self._wall_clock = wall_clock

    @contextmanager
    def _locked(self, path: Path | None = None) -> Iterator[dict[str, Any]]:
        """A file's content under an exclusive lock; what the block leaves in the dict is written back."""
        path = path or self.path
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read(path)
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(path, data)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return {"terminal_id": self.terminal_id, "epoch": secrets.token_hex(3), "next": 1, "pending": []}
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"terminal state {path} is unreadable ({exc}); fix or remove it "
                               "(removing it forgets any reversal this terminal still owes)") from None
        if not isinstance(data, dict) or not isinstance(data.get("next"), int) or "epoch" not in data:
            raise RuntimeError(f"terminal state {path} is not a gongji terminal state file")
        data.setdefault("pending", [])
        return data

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a power cut
        finally:
            os.close(dir_fd)

    def _format(self, epoch: str, n: int) -> str:
        suffix = f"-{epoch}-{n:06d}"
        return self.terminal_id[: MSGID_MAX - len(suffix)] + suffix

    def _reserve(self, data: dict[str, Any], count: int) -> list[str]:
        """``count`` new msgids, the terminal's file (``data``) already locked by the caller."""
        n = data["next"]
        data["next"] = n + count  # counted in national mode too: next_number tells how many were used
        if self.national is None:
            return [self._format(data["epoch"], n + i) for i in range(count)]
        with self._locked(self.dir / f"{self.national}.national.json") as counter:
            return [next_platform_msgid(counter, self.national, self._wall_clock()) for _ in range(count)]

    def next_msgid(self) -> str:
        """A msgid this terminal never used, durably reserved before it is returned."""
        with self._locked() as data:
            return self._reserve(data, 1)[0]

    def arm_settlement(self, oinfno: str, psn_no: str) -> PendingReversal:
        """Reserve a settlement's msgid and, in the same write, the reversal undoing it if no answer comes.

        Written *before* the settlement goes out, so a terminal that dies waiting still owes (and,
        on its next start, sends) the reversal under the same reversal msgid.
        """
        with self._locked() as data:
            omsgid, msgid = self._reserve(data, 2)
            door = "mqtt" if self.national is None else NATIONAL_DOOR
            pending = PendingReversal(msgid, omsgid, oinfno, psn_no, door)
            entry = {"msgid": msgid, "omsgid": omsgid, "oinfno": oinfno, "psn_no": psn_no}
            data["pending"].append(entry if door == "mqtt" else {**entry, "door": door})
            return pending

    def disarm(self, pending: PendingReversal) -> None:
        """The settlement (or its reversal) was answered: nothing is owed any more."""
        with self._locked() as data:
            data["pending"] = [p for p in data["pending"] if p["msgid"] != pending.msgid]

    def pending(self) -> list[PendingReversal]:
        """Reversals owed from an earlier run, oldest first."""
        with self._locked() as data:
            return [PendingReversal(p["msgid"], p["omsgid"], p["oinfno"], p["psn_no"], p.get("door", "mqtt"))
                    for p in data["pending"]]

    @property
    def next_number(self) -> int:
        with self._locked() as data:
            return int(data["next"])
