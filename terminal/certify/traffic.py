"""What the till sent and what it was answered, read back from the switch's traffic journal.

Strategy: every door's exchanges are journaled by the switch (the request as heard, the answers sent,
how many went out), so one reader serves both doors: over MQTT the till's ``pos/{terminal_id}`` topics,
over HTTP the exchanges of its ``fixmedins_code``. The journal is written about once a second; a run
that owns its switch writes it on demand, one against a running switch waits for the next write.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from switch.journal.table import read_journal
from switch.store.base import StoreError
from terminal.errors import TerminalError

__all__ = ["DATA_WRAPPED", "Exchange", "JournalTraffic", "TrafficError", "fen", "settlement_data"]

DATA_WRAPPED = ("1101", "2103", "2208", "2601")  # the platform wraps these inputs in data{...}
SETTLING = ("2101", "2102", "2206", "2207")
WRITE_WAIT = 1.3  # the journal's write period (about a second) and some slack
READ_LIMIT = 100_000


class TrafficError(TerminalError):
    """The till's traffic cannot be read (no journal, no database)."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request of the till as the switch heard it, and the first answer it sent (None: none went out)."""

    id: int
    received: float
    switch_time: str | None
    infno: str | None
    msgid: str | None
    code: str | None
    answers: int  # how many answers went out: 0 dropped, 2 duplicated
    took_ms: float | None
    request: dict[str, Any]
    response: dict[str, Any] | None

    @property
    def input(self) -> dict[str, Any]:
        """The request's input, unwrapped from the platform's ``data{...}`` where it uses one."""
        raw = self.request.get("input")
        if isinstance(raw, str):
            try:
                raw = json.loads(raw, parse_float=Decimal)
            except ValueError:
                raw = None
        body = raw if isinstance(raw, dict) else {}
        data = body.get("data")
        if self.infno in DATA_WRAPPED and isinstance(data, dict):
            return data
        return body

    @property
    def output(self) -> dict[str, Any]:
        out = (self.response or {}).get("output")
        return out if isinstance(out, dict) else {}

    @property
    def setlinfo(self) -> dict[str, Any]:
        info = self.output.get("setlinfo")
        return info if isinstance(info, dict) else {}

    def evidence(self) -> dict[str, Any]:
        """The exchange as the report shows it."""
        return {"id": self.id, "switch_time": self.switch_time, "infno": self.infno, "msgid": self.msgid,
                "code": self.code, "answers_sent": self.answers, "request": self.request, "response": self.response}


def settlement_data(exchange: Exchange) -> dict[str, Any]:
    """The settlement body of a 2101/2102 (``druginfo``) or 2206/2207 (``data``)."""
    body = exchange.input
    inner = body.get("druginfo") if exchange.infno in ("2101", "2102") else body.get("data")
    return inner if isinstance(inner, dict) else {}


def fen(value: Any) -> int | None:
    """An amount as integer fen, None when it is not one."""
    try:
        return int((Decimal(str(value)) * 100).to_integral_value())
    except (ArithmeticError, ValueError, TypeError):
        return None


def _parse(blob: bytes | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    try:
        value = json.loads(blob, parse_float=Decimal)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class JournalTraffic:
    """The till's exchanges (the pos or national channel, sender ``sender``) in the journal of the switch's ``db``."""

    def __init__(self, db: Path, sender: str, write: Callable[[], Awaitable[None]] | None = None) -> None:
        self.db = db
        self.sender = sender
        self.write = write  # writes the journal now (a switch run in this process); None: wait for it

    async def _rows(self, after: int, wait: bool = True) -> list[Exchange]:
        if self.write is not None:
            await self.write()
        elif wait:
            await asyncio.sleep(WRITE_WAIT)
        try:
            rows = await asyncio.to_thread(read_journal, self.db, terminal=self.sender, limit=READ_LIMIT)
        except StoreError as exc:
            raise TrafficError(f"cannot read the till's traffic: {exc}") from None
        found = [Exchange(r.id, r.received, r.switch_time, r.infno, r.msgid, r.code, r.answers, r.took_ms,
                          _parse(r.request) or {}, _parse(r.response))
                 for r in rows if r.id > after and r.channel in ("pos", "national") and r.sender == self.sender]
        # A late answer is journaled when it went out: the order the till spoke in is the order heard.
        return sorted(found, key=lambda e: (e.received, e.id))

    async def mark(self) -> int:
        """The newest exchange written: what a case sees starts after it. Nothing of the till's is in flight
        between cases (each case's reading waited for its own), so the last write is enough."""
        rows = await self._rows(0, wait=False)
        return max((e.id for e in rows), default=0)

    async def since(self, mark: int) -> list[Exchange]:
        return await self._rows(mark)
