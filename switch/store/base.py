"""The store port: what the switch needs from durable storage, whatever the backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from switch.core.books import Archive, ClinicArchive
from switch.core.model import Effect, State
from switch.core.policy import Policy
from switch.errors import GongjiError

__all__ = ["Commit", "LedgerReads", "ReplyRow", "Store", "StoreError", "StoreOpenError"]


class StoreError(GongjiError, RuntimeError):
    """The store could not do what was asked; the switch must not answer as if it had."""


class StoreOpenError(StoreError):
    """The ledger cannot be opened (in use, unreadable, foreign, newer); the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class ReplyRow:
    """The recorded answer to one request: the idempotency record."""

    channel: str
    sender: str
    msgid: str
    infno: str
    fingerprint: str
    code: str
    setl_id: str | None
    response: bytes
    at: str


@dataclass(frozen=True, slots=True)
class Commit:
    """Everything one request changes, written atomically with its answer."""

    effects: Sequence[Effect]
    reply: ReplyRow | None


class LedgerReads(Archive, ClinicArchive, Protocol):
    """Reads by key of what left memory: the books' archives, and recorded answers."""

    def reply(self, channel: str, sender: str, msgid: str, since: str) -> tuple[str, str, str, str | None] | None:
        """(infno, fingerprint, code, setl_id) of the answer recorded for the key at ``since`` (ISO) or later."""
        ...


class Store(Protocol):
    @property
    def keep(self) -> int | None:
        """Of each kind of traffic, how many of the newest are kept in memory (None: all of it)."""
        ...

    @property
    def archive(self) -> LedgerReads | None:
        """Where the rest is read back from, once the store is open."""
        ...

    async def open(self) -> None: ...

    async def load(self, base_policies: Sequence[Policy],
                   replies_since: str | None = "") -> tuple[State, list[ReplyRow]]:
        """The whole state, and the replies recorded at ``replies_since`` (ISO) or later, oldest first, with
        ``response`` left empty ("": all of them; None: none)."""
        ...

    async def prune_replies(self, before: str) -> int:
        """Delete the replies recorded before ``before`` (ISO); returns how many."""
        ...

    def send(self, batch: Sequence[Commit], answer: Callable[[StoreError | None], None]) -> None:
        """Start writing a batch of commits as one transaction; ``answer`` is called with None once it is
        durable, or with the StoreError that failed it."""
        ...

    async def commit(self, batch: Sequence[Commit]) -> None:
        """Write a batch of commits in one transaction, durably, or raise StoreError."""
        ...

    async def reply_bytes(self, channel: str, sender: str, msgid: str) -> bytes | None: ...

    async def audit(self, memory: Mapping[str, int] | None = None,
                    pinned: Callable[[], None] | None = None) -> list[str]:
        """Ledger violations found on disk, and where ``memory``'s balances differ from the same snapshot;
        empty when the books balance. ``pinned`` is called on the event loop once that snapshot is fixed."""
        ...

    async def close(self, discard: bool = False) -> None:
        """Close the store; ``discard``: also remove the ledger if opening it created it."""
        ...
