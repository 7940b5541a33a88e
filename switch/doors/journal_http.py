"""The HTTP door's ``GET /gongji/v1/journal``: the traffic journal, read-only, for tools on another machine.

Strategy: the switch writes the journal's pending rows and reads the asked slice in one hop to the
store's own thread (``SqliteStore.read_journal``), where the answer's JSON is encoded as well, so an
answer holds every exchange finished before it was asked and the event loop never waits on the file.
With ``--admin-token`` the same token guards it (``Authorization: Bearer``): 401 when missing, 403 when
wrong, worded as the admin channel's.
"""

from __future__ import annotations

import base64
import hmac
import json
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import fields
from typing import Any, Protocol, TypeVar

from aiohttp import web

from switch.journal.hints import Journal
from switch.journal.table import JournalRow, JournalSlice, select_after
from switch.store.base import StoreError

__all__ = ["JOURNAL_PATH", "MAX_LIMIT", "JournalReader", "journal_route", "parse_slice", "row_json"]

JOURNAL_PATH = "/gongji/v1/journal"
MAX_LIMIT = 1000  # rows per answer: one hop to the store's thread stays short
T = TypeVar("T")
_COLUMNS = tuple(f.name for f in fields(JournalRow))
JournalRoute = Callable[[web.Request], Awaitable[web.StreamResponse]]


class JournalReader(Protocol):
    """A store that keeps the journal and reads it in its own thread (``SqliteStore``)."""

    journal: Journal | None

    async def read_journal(self, read: Callable[[sqlite3.Connection], T]) -> T: ...


class BadQuery(ValueError):
    """A query parameter that cannot be used; the message is the one line to answer."""


def _count(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise BadQuery(f"{name}={raw!r}: expected a whole number from {low} to {high}")
    return int(raw)


def _text(params: Mapping[str, str], name: str) -> str | None:
    raw = params.get(name)
    if raw is not None and not 0 < len(raw) <= 64:
        raise BadQuery(f"{name}={raw!r}: expected 1 to 64 characters")
    return raw


def parse_slice(params: Mapping[str, str]) -> JournalSlice:
    """The slice a query asks for; a BadQuery naming the first parameter that is wrong."""
    unknown = sorted(set(params) - {"after", "limit", "terminal_id", "fixmedins_code"})
    if unknown:
        raise BadQuery(f"{unknown[0]}: unknown parameter (after, limit, terminal_id, fixmedins_code)")
    return JournalSlice(_count(params, "after", 0, 0, 2**63 - 1), _count(params, "limit", 100, 1, MAX_LIMIT),
                        _text(params, "terminal_id"), _text(params, "fixmedins_code"))


def _payload(blob: bytes | None) -> tuple[str | None, str]:
    """A payload as JSON text: itself when UTF-8, else base64 (a hostile payload can be any bytes)."""
    if blob is None:
        return None, "utf-8"
    try:
        return bytes(blob).decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(blob).decode("ascii"), "base64"


def row_json(row: JournalRow) -> dict[str, Any]:
    """One journal row as the path answers it: the table's columns, payloads as text."""
    out = {name: getattr(row, name) for name in _COLUMNS}  # not asdict: it deep-copies, 4x the cost
    out["request"], out["request_encoding"] = _payload(row.request)
    out["response"], out["response_encoding"] = _payload(row.response)
    return out


def _page(db: sqlite3.Connection, query: JournalSlice) -> bytes:
    """The answer's JSON, encoded in the store's thread too: a full page is megabytes, kept off the event loop."""
    rows = select_after(db, query)
    last = rows[-1].id if rows else query.after
    page = {"rows": [row_json(r) for r in rows], "after": last, "more": len(rows) == query.limit}
    return json.dumps(page, ensure_ascii=False).encode()


def _refused(status: int, err_msg: str) -> web.Response:
    body = json.dumps({"code": "UNAUTHORIZED", "err_msg": err_msg}, ensure_ascii=False)
    headers = {"WWW-Authenticate": 'Bearer realm="gongji"'} if status == 401 else None
    return web.json_response(text=body, status=status, headers=headers)


def _guard(request: web.Request, token: str | None) -> web.Response | None:
    """None when the request may read; else the 401/403 answer (the admin channel's words)."""
    if token is None:
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _refused(401, "admin token missing: this switch was started with --admin-token; "
                             "send it as the header Authorization: Bearer <token>")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return _refused(403, "admin token wrong: the bearer token is not the one this switch was started "
                             "with (--admin-token)")
    return None


def journal_route(store: object, token: str | None) -> JournalRoute | None:
    """The handler of ``GET /gongji/v1/journal``, or None when the store keeps no journal."""
    if getattr(store, "journal", None) is None or not callable(getattr(store, "read_journal", None)):
        return None
    reader: JournalReader = store  # type: ignore[assignment]

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.method != "GET":
            return web.Response(status=405, text=f"405 method not allowed: {request.method} {request.path}\n")
        refused = _guard(request, token)
        if refused is not None:
            return refused
        try:
            query = parse_slice(request.query)
        except BadQuery as exc:
            return web.Response(status=400, text=f"400 {exc}\n")
        try:
            body = await reader.read_journal(lambda db: _page(db, query))
        except StoreError as exc:
            return web.Response(status=503, text=f"503 {exc}\n")
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    return answer
