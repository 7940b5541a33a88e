"""The real service without MQTT: ``SettlementSwitch.handle`` on a real SQLite file and a virtual clock."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from switch.core.policy import packaged_policies
from switch.service.clock import CST, VirtualClock
from switch.service.handling import Reply, SettlementSwitch
from switch.store.archive import KEEP
from switch.store.sqlite import SqliteStore

__all__ = ["START", "Direct", "direct_switch"]

START = datetime(2026, 11, 25, 10, 0, tzinfo=CST)


class Direct:
    """Sends envelopes straight to ``handle`` and decodes the answers."""

    def __init__(self, switch: SettlementSwitch) -> None:
        self.switch = switch
        self._counter = itertools.count(1)

    @property
    def clock(self) -> VirtualClock:
        assert isinstance(self.switch.clock, VirtualClock)
        return self.switch.clock

    def msgid(self, sender: str) -> str:
        return f"{sender}-{next(self._counter):06d}"

    def envelope(self, channel: str, infno: str, input: dict[str, Any], msgid: str,
                 fixmedins_code: str | None = "P37050000001", token: str | None = None) -> bytes:
        env: dict[str, Any] = {"infno": infno, "msgid": msgid, "input": input}
        if channel == "pos" and fixmedins_code is not None:
            env["fixmedins_code"] = fixmedins_code
        if token is not None:
            env["token"] = token
        return json.dumps(env, ensure_ascii=False).encode()

    async def reply(self, channel: str, sender: str, infno: str, input: dict[str, Any] | None = None, *,
                    msgid: str | None = None, **kw: Any) -> Reply:
        payload = self.envelope(channel, infno, input or {}, msgid or self.msgid(sender), **kw)
        return await self.switch.handle(channel, sender, payload)

    async def send(self, channel: str, sender: str, infno: str, input: dict[str, Any] | None = None, *,
                   msgid: str | None = None, **kw: Any) -> dict[str, Any]:
        reply = await self.reply(channel, sender, infno, input, msgid=msgid, **kw)
        return decode(reply.payload)

    async def admin(self, infno: str, input: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return await self.send("admin", "admin", infno, input, **kw)

    async def pos(self, terminal: str, infno: str, input: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return await self.send("pos", terminal, infno, input, **kw)

    async def balances(self) -> dict[str, str]:
        state = await self.admin("admin.state")
        return {p["psn_no"]: p["balc"] for p in state["output"]["people"]}


def decode(payload: bytes) -> dict[str, Any]:
    body = json.loads(payload, parse_float=Decimal)
    assert isinstance(body, dict)
    return body


@asynccontextmanager
async def direct_switch(db: Path, start: datetime = START, keep: int | None = KEEP, **kw: Any) -> AsyncIterator[Direct]:
    """A started switch on ``db`` keeping the newest ``keep`` of its traffic in memory (``serve --keep``); stopped
    (everything committed) on exit."""
    switch = SettlementSwitch(SqliteStore(db, keep=keep), VirtualClock(start), packaged_policies(), **kw)
    await switch.start()
    try:
        yield Direct(switch)
    finally:
        await switch.stop()
