"""A terminal's durable memory: its msgid counter and the reversal it still owes, one small file per terminal.

Strategy: a real POS keeps both on disk, because a msgid reused after a restart is replayed (the
switch answers the *old* settlement and moves nothing) and a settlement left unanswered by a crash
must still be reversed when the terminal comes back. Each change rewrites the file atomically
(write, fsync, rename) under an ``flock``, so two processes sharing a terminal id never hand out the
same msgid. The file also holds a random ``epoch`` chosen when it is created: msgids are
``{terminal}-{epoch}-{n}``, so a deleted state directory yields new msgids, not replays.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switch.wire.topics import valid_id

__all__ = ["PendingReversal", "TerminalState", "default_state_dir"]

MSGID_MAX = 64


def default_state_dir() -> Path:
    """``$GONGJI_STATE_DIR``, else ``$XDG_STATE_HOME/gongji/terminals``, else ``~/.local/state/...``."""
    if env := os.environ.get("GONGJI_STATE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gongji" / "terminals"


@dataclass(frozen=True, slots=True)
class PendingReversal:
    """A settlement sent and not (yet) answered: if it stays so, 2601 ``msgid`` undoes ``omsgid``."""

    msgid: str
    omsgid: str
    oinfno: str
    psn_no: str

    def input(self) -> dict[str, str]:
        return {"psn_no": self.psn_no, "omsgid": self.omsgid, "oinfno": self.oinfno}


class TerminalState:
    """``{state_dir}/{terminal_id}.json``: ``{"epoch", "next", "pending": [...]}``."""

    def __init__(self, state_dir: Path, terminal_id: str) -> None:
        if not valid_id(terminal_id):
            raise ValueError(f"terminal id {terminal_id!r} must be 1-64 characters of A-Za-z0-9_-")
        self.terminal_id = terminal_id
        self.dir = Path(state_dir)
        self.path = self.dir / f"{terminal_id}.json"
        self._lock_path = self.dir / f"{terminal_id}.lock"

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The file's content under an exclusive lock; what the block leaves in the dict is written back."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(data)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"terminal_id": self.terminal_id, "epoch": secrets.token_hex(3), "next": 1, "pending": []}
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"terminal state {self.path} is unreadable ({exc}); fix or remove it "
                               "(removing it forgets any reversal this terminal still owes)") from None
        if not isinstance(data, dict) or not isinstance(data.get("next"), int) or "epoch" not in data:
            raise RuntimeError(f"terminal state {self.path} is not a gongji terminal state file")
        data.setdefault("pending", [])
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a power cut
        finally:
            os.close(dir_fd)

    def _format(self, epoch: str, n: int) -> str:
        suffix = f"-{epoch}-{n:06d}"
        return self.terminal_id[: MSGID_MAX - len(suffix)] + suffix

    def next_msgid(self) -> str:
        """A msgid this terminal never used, durably reserved before it is returned."""
        with self._locked() as data:
            n = data["next"]
            data["next"] = n + 1
            return self._format(data["epoch"], n)

    def arm_settlement(self, oinfno: str, psn_no: str) -> PendingReversal:
        """Reserve a settlement's msgid and, in the same write, the reversal undoing it if no answer comes.

        Written *before* the settlement goes out, so a terminal that dies waiting still owes (and,
        on its next start, sends) the reversal under the same reversal msgid.
        """
        with self._locked() as data:
            n = data["next"]
            data["next"] = n + 2
            epoch = data["epoch"]
            pending = PendingReversal(self._format(epoch, n + 1), self._format(epoch, n), oinfno, psn_no)
            data["pending"].append({"msgid": pending.msgid, "omsgid": pending.omsgid, "oinfno": oinfno,
                                    "psn_no": psn_no})
            return pending

    def disarm(self, pending: PendingReversal) -> None:
        """The settlement (or its reversal) was answered: nothing is owed any more."""
        with self._locked() as data:
            data["pending"] = [p for p in data["pending"] if p["msgid"] != pending.msgid]

    def pending(self) -> list[PendingReversal]:
        """Reversals owed from an earlier run, oldest first."""
        with self._locked() as data:
            return [PendingReversal(p["msgid"], p["omsgid"], p["oinfno"], p["psn_no"])
                    for p in data["pending"]]

    @property
    def next_number(self) -> int:
        with self._locked() as data:
            return int(data["next"])
