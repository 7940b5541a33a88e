"""The operator's client: thin helpers over the admin channel (load, reset, credit, clock, state, audit...).

Each helper returns the answer's ``output`` and raises ``Refused`` on a failure code; ``request``
(inherited) gives the raw answer when the code itself is what a caller wants to look at. The helpers
are one mixin over ``call``: ``Admin`` sends through the broker, ``HttpAdmin`` to ``POST /gongji/v1/admin``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from switch.doors.mqtt import BrokerAddress
from switch.wire.topics import DEFAULT_ROOT
from terminal.clients.http import HttpV1Client
from terminal.clients.mqtt import SwitchClient

__all__ = ["Admin", "AdminCalls", "HttpAdmin", "admin_client"]


class AdminCalls:
    """The admin helpers, over any line's ``call``."""

    if TYPE_CHECKING:  # provided by the line class mixed in (SwitchClient, HttpV1Client)
        async def call(self, infno: str, input: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]: ...

    async def load(self, people: list[dict[str, Any]] | None = None,
                   bindings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return await self.call("admin.load", {"people": people or [], "bindings": bindings or []})

    async def reset(self) -> dict[str, Any]:
        return await self.call("admin.reset")

    async def credit(self, psn_no: str, amount: str | Decimal) -> dict[str, Any]:
        return await self.call("admin.credit", {"psn_no": psn_no, "amount": str(amount)})

    async def set_status(self, psn_no: str, status: str) -> dict[str, Any]:
        return await self.call("admin.set_status", {"psn_no": psn_no, "status": status})

    async def clock(self, *, advance: timedelta | str | float | None = None, set: datetime | None = None,
                    speed: float | Decimal | None = None) -> dict[str, Any]:
        """Read the switch clock or move it: ``advance`` ("4m59s", seconds, timedelta), ``set``, ``speed``."""
        body: dict[str, Any] = {}
        if advance is not None:
            body["advance"] = advance.total_seconds() if isinstance(advance, timedelta) else advance
        if set is not None:
            body["set"] = set.isoformat()
        if speed is not None:
            body["speed"] = speed
        return await self.call("admin.clock", body)

    async def state(self, psn_no: str | None = None) -> dict[str, Any]:
        return await self.call("admin.state", {"psn_no": psn_no} if psn_no else {})

    async def balances(self, psn_no: str | None = None) -> dict[str, str]:
        """``{psn_no: balc}`` of everyone (or one family), as the wire's two-decimal strings."""
        return {p["psn_no"]: p["balc"] for p in (await self.state(psn_no))["people"]}

    async def audit(self) -> dict[str, Any]:
        return await self.call("admin.audit")

    async def policy(self, set: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.call("admin.policy", {"set": set} if set is not None else {})


class Admin(AdminCalls, SwitchClient):
    """The admin channel over MQTT."""

    def __init__(self, broker: BrokerAddress | str, *, root: str = DEFAULT_ROOT, token: str | None = None,
                 events: bool = False, timeout: float = 5.0) -> None:
        SwitchClient.__init__(self, broker, "admin", "admin", root=root, token=token, events=events,
                              timeout=timeout)


class HttpAdmin(AdminCalls, HttpV1Client):
    """The admin channel over the HTTP door: ``POST /gongji/v1/admin``, the same envelope and answers."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 5.0) -> None:
        HttpV1Client.__init__(self, url, "admin", "admin", token=token, timeout=timeout)


def admin_client(where: BrokerAddress | str, *, root: str = DEFAULT_ROOT, token: str | None = None,
                 timeout: float = 5.0) -> Admin | HttpAdmin:
    """The admin line an address names: ``http(s)://`` the HTTP door, else a broker."""
    if isinstance(where, str) and where.startswith(("http://", "https://")):
        return HttpAdmin(where, token=token, timeout=timeout)
    return Admin(where, root=root, token=token, timeout=timeout)
