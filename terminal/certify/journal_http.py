"""The till's traffic read through a running switch's HTTP door: ``GET /gongji/v1/journal`` (docs/protocol.md).

Strategy: the switch writes its pending journal rows before it answers, so a case is read as soon as
the till is done (a short settle covers the exchange that is still being recorded as its answer goes
out); pages of ``PAGE`` rows are read after the case's mark until the switch says there are no more.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp

from terminal.certify.traffic import Exchange, JournalTraffic, TrafficError, exchange_of

__all__ = ["DEFAULT_SWITCH_HTTP", "HttpTraffic"]

DEFAULT_SWITCH_HTTP = "http://127.0.0.1:8080"  # gongji-switch serve's default --http
JOURNAL = "/gongji/v1/journal"
PAGE = 1000  # the most the path answers at once
SETTLE = 0.2  # seconds: an exchange is journaled just after its answer went out


def _blob(value: Any, encoding: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    return base64.b64decode(value) if encoding == "base64" else value.encode("utf-8")


def _exchange(row: dict[str, Any]) -> Exchange:
    return exchange_of(int(row["id"]), float(row["received"]), row.get("switch_time"), row.get("channel"),
                       row.get("sender"), row.get("infno"), row.get("msgid"), row.get("code"),
                       int(row.get("answers") or 0), row.get("took_ms"),
                       _blob(row.get("request"), row.get("request_encoding")),
                       _blob(row.get("response"), row.get("response_encoding")))


class HttpTraffic(JournalTraffic):
    """The till's exchanges (the pos or national channel, sender ``sender``) from the switch's journal path."""

    def __init__(self, url: str, sender: str, door: str, token: str | None = None,
                 option: str = "--switch-http") -> None:
        super().__init__(None, sender)
        self.url = url.rstrip("/")
        self.option = option  # the option the URL came from, named in the hint when it cannot be reached
        self.filter = "terminal_id" if door == "mqtt" else "fixmedins_code"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.seen = 0  # the last row id read: a mark reads on from it, not the whole journal again

    async def mark(self) -> int:
        await self._read(self.seen, wait=False)
        return self.seen

    async def _read(self, after: int, wait: bool) -> list[Exchange]:
        if wait:
            await asyncio.sleep(SETTLE)
        found: list[Exchange] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            while True:
                page = await self._page(session, after)
                found += [_exchange(row) for row in page["rows"]]
                after = int(page["after"])
                self.seen = max(self.seen, after)
                if not page["more"]:
                    return found

    async def _page(self, session: aiohttp.ClientSession, after: int) -> dict[str, Any]:
        where = f"the switch's traffic journal at {self.url}{JOURNAL}"
        params = {"after": str(after), "limit": str(PAGE), self.filter: self.sender}
        try:
            async with session.get(self.url + JOURNAL, params=params, headers=self.headers) as answer:
                text = await answer.text()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            why = exc.os_error.strerror if isinstance(exc, aiohttp.ClientConnectorError) else None
            raise TrafficError(f"cannot reach {where}: {why or exc or type(exc).__name__} (is the switch's HTTP "
                               f"door on? pass its URL with {self.option}, or its ledger with --db)") from None
        if status in (401, 403):
            try:
                said = str(json.loads(text)["err_msg"])
            except (ValueError, KeyError, TypeError):
                said = text.strip()[:200]
            raise TrafficError(f"{where} refused: {said} (pass the switch's admin token with --token)")
        if status == 404:
            raise TrafficError(f"{where}: HTTP 404 (a switch that keeps no journal, --journal-max 0, or an older "
                               "one): pass its ledger with --db")
        if status != 200:
            raise TrafficError(f"{where}: HTTP {status}: {text.strip()[:200]}")
        try:
            page = json.loads(text)
            if isinstance(page, dict) and isinstance(page.get("rows"), list):
                return page
        except ValueError:
            pass
        raise TrafficError(f"{where}: the answer is not the journal's JSON: {text.strip()[:100]!r}")
