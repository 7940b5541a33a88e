"""The v1 request envelope and msgids, shared by the v1 clients of both transports (MQTT, HTTP)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

__all__ = ["V1Requests"]


class V1Requests:
    """``request`` = a v1 envelope under a fresh msgid, handed to the transport's ``send``."""

    sender: str
    token: str | None
    fixmedins_code: str | None = None

    def start_msgids(self) -> None:
        """Msgids ``{sender}-{8 random hex}-{n}``: unique per client instance, readable in the journal."""
        self._counter = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]

    def next_msgid(self) -> str:
        return f"{self.sender}-{self._prefix}-{next(self._counter):06d}"

    def envelope(self, infno: str, input: dict[str, Any], msgid: str) -> dict[str, Any]:
        env: dict[str, Any] = {"infno": infno, "msgid": msgid, "inf_time": None, "input": input}
        if self.fixmedins_code is not None:
            env["fixmedins_code"] = self.fixmedins_code
        if self.token is not None:
            env["token"] = self.token
        return env

    async def request(self, infno: str, input: dict[str, Any] | None = None, *, msgid: str | None = None,
                      timeout: float | None = None) -> dict[str, Any]:
        """Send one request and wait for the answer that names its msgid."""
        msgid = msgid or self.next_msgid()
        return await self.send(self.envelope(infno, input or {}, msgid), msgid=msgid, timeout=timeout)

    async def send(self, envelope: dict[str, Any], *, msgid: str, timeout: float | None = None) -> dict[str, Any]:
        raise NotImplementedError  # the transport's
