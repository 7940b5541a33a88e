"""A real HTTP client for the switch's HTTP door (aiohttp's), speaking the national envelope and v1."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp

__all__ = ["CALL_SERVICE", "FIXMEDINS", "HttpClient", "http_client", "national"]

CALL_SERVICE = "/fsi/api/rsfComIfsService/callService"
FIXMEDINS = "P37050000001"
_sequence = itertools.count(1)


def national(infno: str, input: dict[str, Any] | str, msgid: str | None = None, fixmedins_code: str = FIXMEDINS,
             **fields: Any) -> dict[str, Any]:
    """The platform's request envelope; a msgid shaped as the platform's unless one is given."""
    return {"infno": infno, "msgid": msgid or f"{fixmedins_code}20261125100000{next(_sequence) % 10000:04d}",
            "mdtrtarea_admvs": "370500", "insuplc_admdvs": "370500", "recer_sys_code": "FSI_LOCAL",
            "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "SM3", "infver": "V1.0",
            "opter_type": "1", "opter": "001", "opter_name": "收银员", "inf_time": "2026-11-25 10:00:00",
            "fixmedins_code": fixmedins_code, "fixmedins_name": "测试药房", "sign_no": "", "input": input,
            **fields}


class HttpClient:
    """Posts bodies to one switch's HTTP door and decodes the answers."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base.rstrip("/")
        self.session = session

    async def raw(self, path: str, body: bytes, method: str = "POST",
                  headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        async with self.session.request(method, self.base + path, data=body,
                                        headers=headers or {"Content-Type": "application/json"}) as resp:
            return resp.status, await resp.read()

    async def post(self, path: str, envelope: dict[str, Any], **kw: Any) -> dict[str, Any]:
        status, body = await self.raw(path, json.dumps(envelope, ensure_ascii=False).encode(), **kw)
        assert status == 200, (status, body)
        decoded = json.loads(body, parse_float=Decimal)
        assert isinstance(decoded, dict)
        return decoded

    async def call(self, infno: str, input: dict[str, Any] | str, path: str = CALL_SERVICE,
                   **kw: Any) -> dict[str, Any]:
        return await self.post(path, national(infno, input, **kw))

    async def admin(self, infno: str, input: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return await self.post("/gongji/v1/admin", {"infno": infno, "msgid": f"adm-{next(_sequence)}",
                                                    "input": input or {}, **kw})


@asynccontextmanager
async def http_client(base: str) -> AsyncIterator[HttpClient]:
    async with aiohttp.ClientSession() as session:
        yield HttpClient(base, session)
