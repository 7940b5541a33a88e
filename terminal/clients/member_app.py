"""A member's phone app: thin helpers over the app channel, where the caller is ``psn_no``.

Helpers return the answer's ``output`` and raise ``Refused`` on a failure code (a refused binding
carries its rule's code, e.g. ``RELATIVE_ALREADY_BOUND``); ``request`` gives the raw answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from switch.doors.mqtt import BrokerAddress
from switch.wire.topics import DEFAULT_ROOT
from terminal.clients.mqtt import SwitchClient

__all__ = ["MemberApp"]


class MemberApp(SwitchClient):
    def __init__(self, broker: BrokerAddress | str, psn_no: str, *, root: str = DEFAULT_ROOT,
                 timeout: float = 5.0) -> None:
        super().__init__(broker, "app", psn_no, root=root, timeout=timeout)

    @property
    def psn_no(self) -> str:
        return self.sender

    async def bind(self, relative_psn_no: str, rltn: str, *, face_verified: bool = True) -> dict[str, Any]:
        return await self.call("app.bind", {"relative_psn_no": relative_psn_no, "rltn": rltn,
                                            "face_verified": face_verified})

    async def unbind(self, relative_psn_no: str, *, face_verified: bool = True) -> dict[str, Any]:
        return await self.call("app.unbind", {"relative_psn_no": relative_psn_no,
                                              "face_verified": face_verified})

    async def set_cap(self, relative_psn_no: str, cap: str | Decimal | None) -> dict[str, Any]:
        return await self.call("app.set_cap", {"relative_psn_no": relative_psn_no,
                                               "cap": None if cap is None else str(cap)})

    async def bindings(self) -> dict[str, Any]:
        return await self.call("app.bindings")

    async def records(self, limit: int | None = None, before: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if limit is not None:
            body["limit"] = limit
        if before is not None:
            body["before"] = before
        return await self.call("app.records", body)

    async def pay_premium(self, relative_psn_no: str, year: int, amount: str | Decimal) -> dict[str, Any]:
        return await self.call("app.pay_premium", {"relative_psn_no": relative_psn_no, "year": year,
                                                   "amount": str(amount)})
