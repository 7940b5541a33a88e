"""A fleet's tills over the switch's HTTP door: national envelopes on kept-alive connections.

Strategy: as over MQTT, tills share one client (``per_connection`` of them, one aiohttp session),
but HTTP answers one request per connection at a time, so each till holds a connection of its own,
kept alive between its requests: the run pays one TCP handshake per till, not per request, as a
till's checkout software does. msgids take the platform's shape (``fixmedins_code`` +
``yyyyMMddHHmmss`` + 4 digits), counted in memory per institution: several tills of one
institution draw from one counter, and no fsync per msgid throttles the fleet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from terminal.clients.http import HttpLink, region_of_code
from terminal.clients.mqtt import NoAnswer
from terminal.clients.state import CHINA, next_platform_msgid
from terminal.load.stats import Stats

__all__ = ["HttpLine"]


class HttpLine:
    """One aiohttp session shared by several tills, a kept-alive connection for each."""

    national = True

    def __init__(self, url: str, tills: Sequence[str], stats: Stats, timeout: float,
                 counters: dict[str, dict[str, Any]]) -> None:
        self.tills, self.stats, self.timeout = tills, stats, timeout
        self.link = HttpLink(url, timeout=timeout, connections=len(tills))
        self._counters = counters  # per institution, shared by every line: an institution's tills span lines

    async def open(self) -> None:
        await self.link.__aenter__()

    async def close(self) -> None:
        await self.link.__aexit__(None, None, None)

    def next_msgid(self, fixmedins_code: str) -> str:
        counter = self._counters.setdefault(fixmedins_code, {})
        return next_platform_msgid(counter, fixmedins_code, datetime.now(CHINA))

    def payload(self, fixmedins_code: str, infno: str, msgid: str, body: dict[str, Any]) -> bytes:
        """The platform's envelope, with what a till fills in and blanks as ``""``."""
        envelope = {"infno": infno, "msgid": msgid, "mdtrtarea_admvs": region_of_code(fixmedins_code) or "",
                    "insuplc_admdvs": "", "recer_sys_code": "FSI_LOCAL", "dev_no": "", "dev_safe_info": "",
                    "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "load",
                    "opter_name": "gongji-load", "inf_time": f"{datetime.now(CHINA):%Y-%m-%d %H:%M:%S}",
                    "fixmedins_code": fixmedins_code, "fixmedins_name": "", "sign_no": "", "input": body}
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()

    async def request(self, till: str, infno: str, payload: bytes, msgid: str) -> dict[str, Any] | None:
        """Post and wait for the answer; None after ``timeout`` or a connection ended unanswered (counted)."""
        sent = time.perf_counter()
        try:
            answer = await self.link.post(self.link.path, payload)
        except NoAnswer:
            self.stats.timeouts += 1
            return None
        now = time.perf_counter()
        self.stats.record(infno, str(answer.get("code")), now - sent, now)
        return answer
