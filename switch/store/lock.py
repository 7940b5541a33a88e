"""One switch per ledger file: an OS lock on a sidecar file, held for the life of the process.

Strategy: ``fcntl.flock`` on ``<db>.lock``, not SQLite's exclusive locking mode, so that readers
(``gongji-switch journal --db``) can still open the ledger while a switch runs. The OS releases the
lock when the process ends however it ends (exit, SIGKILL), so a stale lock file never blocks a
restart; the file only says who held it last.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

from switch.store.base import StoreOpenError

__all__ = ["LedgerLock"]


class LedgerLock:
    """The lock of one ledger file; ``acquire`` raises StoreOpenError naming the holder when taken."""

    def __init__(self, db: Path) -> None:
        self.db = db
        # not with_name: "." and ".." have no name, and must reach check_file's "it is a directory"
        self.path = db.parent / f"{db.name}.lock"
        self._fd: int | None = None
        self.created = False  # whether acquire made the lock file (``remove`` takes only such a file away)

    def acquire(self) -> None:
        while True:
            self.created = not os.path.lexists(self.path)
            fd = self._locked()
            try:  # still the file at that path: a switch that failed to start may have removed the one we locked
                if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {started}\n".encode(), 0)
        self._fd = fd

    def _locked(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreOpenError(f"cannot create the lock file {self.path} of ledger {self.db}: "
                                 f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "a process that wrote nothing yet"
            os.close(fd)
            raise StoreOpenError(f"ledger {self.db} is in use by another switch ({holder}); "
                                 f"one ledger file serves one switch (lock file {self.path})") from None
        return fd

    def remove(self) -> None:
        """Take away the lock file this lock created, while still holding it (then release): a switch starting
        meanwhile either fails on the held lock or, once the path is gone, makes a new file of its own."""
        if self._fd is not None and self.created:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        self.release()

    @property
    def fd(self) -> int | None:
        """The locked descriptor, for a helper process that must keep the ledger locked while it lives."""
        return self._fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None
