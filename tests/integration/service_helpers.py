"""Drive the real service (real SQLite file, no MQTT) with wire payloads."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

from switch.bootstrap import policies_from
from switch.service.clock import Clock, VirtualClock
from switch.service.handling import SettlementSwitch
from switch.store.sqlite import SqliteStore
from tests.unit.core_helpers import T0


def make_switch(db: Path, clock: Clock | None = None, token: str | None = None) -> SettlementSwitch:
    return SettlementSwitch(SqliteStore(db), clock or VirtualClock(T0), policies_from(None), token)


@dataclass
class Driver:
    switch: SettlementSwitch
    terminal: str = "T1"
    fixmedins: str = "P37050000001"
    _ids: count[int] = field(default_factory=lambda: count(1))

    async def raw(self, channel: str, payload: bytes, sender: str | None = None) -> bytes:
        reply = await self.switch.handle(channel, sender or (self.terminal if channel == "pos" else "admin"), payload)
        return reply.payload

    async def send(self, channel: str, infno: str, input: dict[str, Any] | None = None, *,
                   msgid: str | None = None, sender: str | None = None, **envelope: Any) -> dict[str, Any]:
        msgid = msgid or f"m{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        env: dict[str, Any] = {"infno": infno, "msgid": msgid, "input": input or {}}
        if channel == "pos":
            env["fixmedins_code"] = self.fixmedins
        env.update(envelope)
        return json.loads(await self.raw(channel, json.dumps(env).encode(), sender))  # type: ignore[no-any-return]

    async def pos(self, infno: str, input: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return await self.send("pos", infno, input, **kw)

    async def admin(self, infno: str, input: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return await self.send("admin", infno, input, **kw)

    async def balances(self) -> dict[str, str]:
        state = await self.admin("admin.state")
        return {p["psn_no"]: p["balc"] for p in state["output"]["people"]}
