"""What the till sent and what it was answered, read back from the switch's traffic journal.

Strategy: every door's exchanges are journaled by the switch (the request as heard, the answers sent,
how many went out), so one reader serves both doors: over MQTT the till's ``pos/{terminal_id}`` topics,
over HTTP the exchanges of its ``fixmedins_code``. Against a running switch the run reads them through
its HTTP door (``GET /gongji/v1/journal``, which writes the pending rows before it answers; see
``terminal.certify.journal_http``), or from its ledger file (``--db``: the journal is written about
once a second, so the read waits for the next write). A run that owns its switch writes it on demand.
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

__all__ = ["DATA_WRAPPED", "Exchange", "JournalTraffic", "TrafficError", "exchange_of", "fen", "settlement_data"]

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
    channel: str | None = None
    sender: str | None = None

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


def exchange_of(id: int, received: float, switch_time: str | None, channel: str | None, sender: str | None,
                infno: str | None, msgid: str | None, code: str | None, answers: int, took_ms: float | None,
                request: bytes | None, response: bytes | None) -> Exchange:
    """An exchange from a journal row's columns (the payloads parsed; one that is not a JSON object: empty)."""
    return Exchange(id, received, switch_time, infno, msgid, code, answers, took_ms, _parse(request) or {},
                    _parse(response), channel, sender)


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

    def __init__(self, db: Path | None, sender: str, write: Callable[[], Awaitable[None]] | None = None) -> None:
        self.db = db
        self.sender = sender
        self.write = write  # writes the journal now (a switch run in this process); None: wait for it

    async def _read(self, after: int, wait: bool) -> list[Exchange]:
        """Every exchange journaled after row ``after`` that may be the till's (filtered again by ``_rows``)."""
        if self.write is not None:
            await self.write()
        elif wait:
            await asyncio.sleep(WRITE_WAIT)
        assert self.db is not None  # set unless a subclass reads elsewhere
        try:
            rows = await asyncio.to_thread(read_journal, self.db, terminal=self.sender, limit=READ_LIMIT)
        except StoreError as exc:
            raise TrafficError(f"cannot read the till's traffic: {exc}") from None
        return [exchange_of(r.id, r.received, r.switch_time, r.channel, r.sender, r.infno, r.msgid, r.code,
                            r.answers, r.took_ms, r.request, r.response) for r in rows if r.id > after]

    async def _rows(self, after: int, wait: bool = True) -> list[Exchange]:
        found = [e for e in await self._read(after, wait) if e.channel in ("pos", "national")
                 and e.sender == self.sender]
        # A late answer is journaled when it went out: the order the till spoke in is the order heard.
        return sorted(found, key=lambda e: (e.received, e.id))

    async def mark(self) -> int:
        """The newest exchange written: what a case sees starts after it. Nothing of the till's is in flight
        between cases (each case's reading waited for its own), so the last write is enough."""
        rows = await self._rows(0, wait=False)
        return max((e.id for e in rows), default=0)

    async def since(self, mark: int) -> list[Exchange]:
        return await self._rows(mark)
