"""What a transaction's decision may know: its request, the state, ``now``, and three narrow service hooks.

Strategy: a decide function gets a ``Context`` and its own validated input, nothing else; the pure
core gets even less (state, the command, ``now``). The few operator transactions that act on the
switch itself (admin.clock, admin.faults, admin.reset) and the reversal (2601, which must know what
was answered before) reach the service only through the Protocols below, so a decide function can
be run in a test with plain objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from switch.core.model import State
from switch.core.settlement import Original
from switch.service.clock import Clock
from switch.wire.inputs import FaultRule

__all__ = ["Context", "FaultRules", "Replies"]


class Replies(Protocol):
    """The recorded answers (2601 reverses a message by what the switch answered to it)."""

    def original(self, sender: str, msgid: str) -> Original | None:
        """What the switch answered to ``sender``'s message ``msgid`` on the pos channel, if anything."""
        ...


class FaultRules(Protocol):
    """The fault rules in force (admin.faults sets and lists them, admin.reset restores those of the start)."""

    def replace(self, rules: Sequence[FaultRule]) -> None: ...

    def restore(self) -> None: ...

    def view(self) -> list[dict[str, Any]]: ...


@dataclass(slots=True)  # built per request: not frozen, for speed (see core/model.py)
class Context:
    """One request as its decision sees it."""

    state: State
    infno: str
    sender: str  # the terminal_id (pos), the caller's psn_no (app), the operator (admin)
    msgid: str
    fixmedins_code: str  # "" off the pos channel
    now: datetime
    clock: Clock
    faults: FaultRules
    replies: Replies
    # admin.audit only: what the ledger on disk disagrees with, read after every commit is durable.
    findings: list[str] | None = None
    sign_no: str | None = None  # the envelope's sign-in number (policy require_sign_in)
