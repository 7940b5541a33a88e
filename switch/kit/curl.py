"""The retry window over the HTTP door as ``curl`` commands and their exact answers, recorded from the real switch.

Strategy: as ``switch.kit.examples`` does for MQTT, the requests are written here and the answers
recorded by running them through a fresh ``SettlementSwitch`` with a frozen virtual clock, each
routed by the HTTP door's own ``route_of``. The platform's ``inf_refmsgid`` ends in a sequence
drawn from real time; the recording draws it from 0, and the reference says so.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from switch.core.policy import packaged_policies
from switch.doors.http import route_of
from switch.kit.examples import DONGYING, FIXMEDINS, START
from switch.service.clock import VirtualClock
from switch.service.forms import NationalForm
from switch.service.handling import SettlementSwitch
from switch.store.sqlite import SqliteStore
from switch.wire.national import RefmsgidSource

__all__ = ["BASE", "CALL_SERVICE", "HTTP_WORKED", "HttpExchange", "HttpStep", "curl_command", "recorded_http"]

BASE = "http://127.0.0.1:8080"
CALL_SERVICE = "/fsi/api/rsfComIfsService/callService"


@dataclass(frozen=True, slots=True)
class HttpStep:
    """One POST a client makes: its path and JSON body."""

    label: str
    path: str
    body: dict[str, Any]

    @property
    def raw(self) -> str:
        # One line, no single quotes: it is pasted into a shell command as it is.
        return json.dumps(self.body, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class HttpExchange:
    step: HttpStep
    response: bytes


def curl_command(step: HttpStep, base: str = BASE) -> str:
    return (f"curl -s {base}{step.path} -H 'Content-Type: application/json' "
            f"-d '{step.raw}'")


def _national(infno: str, msgid: str, input: dict[str, Any]) -> dict[str, Any]:
    return {"infno": infno, "msgid": msgid, "mdtrtarea_admvs": "370500", "insuplc_admdvs": "370500",
            "recer_sys_code": "FSI_LOCAL", "infver": "V1.0", "opter_type": "1", "opter": "001",
            "opter_name": "收银员", "inf_time": "2026-11-25 10:00:00", "fixmedins_code": FIXMEDINS,
            "fixmedins_name": "东营测试药房", "sign_no": "", "input": input}


def _swipe(psn_no: str, amount: str) -> dict[str, Any]:
    return {"druginfo": {"psn_no": psn_no, "mdtrt_cert_type": "01", "mdtrt_cert_no": f"QR{psn_no}",
                         "medfee_sumamt": amount, "acct_used_flag": "1"}}


def _msgid(sequence: int) -> str:
    return f"{FIXMEDINS}20261125100000{sequence:04d}"


_ADMIN = "/gongji/v1/admin"
HTTP_WORKED: tuple[HttpStep, ...] = (
    HttpStep("start from an empty ledger", _ADMIN, {"infno": "admin.reset", "msgid": "h-1", "input": {}}),
    HttpStep("load the family", _ADMIN, {"infno": "admin.load", "msgid": "h-2", "input": DONGYING}),
    HttpStep("read DR's card (1101)", CALL_SERVICE,
             _national("1101", _msgid(1), {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDR"})),
    HttpStep("first swipe: DR (no personal account) pays 80.00", CALL_SERVICE,
             _national("2102", _msgid(2), _swipe("DR", "80.00"))),
    HttpStep("a minute passes (virtual clock)", _ADMIN,
             {"infno": "admin.clock", "msgid": "h-3", "input": {"advance": "1m"}}),
    HttpStep("second swipe inside the window, a new msgid, on a path that names the transaction", "/csb/2102",
             _national("2102", _msgid(3), _swipe("DR", "80.00"))),
    HttpStep("the till retries the same request (the answer was lost)", "/csb/2102",
             _national("2102", _msgid(3), _swipe("DR", "80.00"))),
)
"""The retry-window story over HTTP, request by request."""


async def record_http(steps: tuple[HttpStep, ...]) -> list[HttpExchange]:
    """Run ``steps`` through a fresh switch, each routed as the HTTP door routes its path."""
    exchanges = []
    with tempfile.TemporaryDirectory(prefix="gongji-curl-") as tmp:
        switch = SettlementSwitch(SqliteStore(Path(tmp) / "examples.db"), VirtualClock(START), packaged_policies(),
                                  national_form=NationalForm(RefmsgidSource(lambda: 0.0)))
        await switch.start()
        try:
            for step in steps:
                route = route_of("POST", step.path)
                assert not isinstance(route, int), step.path
                channel, sender, infno = route
                reply = await switch.handle(channel, sender, step.raw.encode(), infno=infno)
                exchanges.append(HttpExchange(step, reply.payload))
        finally:
            await switch.stop()
    return exchanges


@cache
def recorded_http() -> tuple[HttpExchange, ...]:
    """The exchanges of ``HTTP_WORKED``, recorded once per process (needs no running loop)."""
    return tuple(asyncio.run(record_http(HTTP_WORKED)))
