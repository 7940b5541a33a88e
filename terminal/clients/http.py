"""A client of the switch's HTTP door: the national platform's envelope, the v1 admin and app paths, SSE events.

Strategy: HTTP pairs each answer with its request, so nothing is matched by msgid here (the national
answer's ``inf_refmsgid`` is the platform's own id, not the request's). What a terminal must tell
apart is the same as over MQTT: an answer (any HTTP 200, failures included: the platform signals
them in the body), no answer (a timeout, or the connection ending before the answer: the request
may have been committed, so ``NoAnswer``, and ``ConnectionEnded`` for the latter), and nothing listening
at all (``Unreachable``: nothing was
sent). One aiohttp session per client keeps its connections alive between requests, closed by the
client a little before the door's idle timeout so a request never goes out on a connection the door
is closing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Self
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from terminal.clients.mqtt import ConnectionEnded, NoAnswer, Refused
from terminal.clients.state import CHINA
from terminal.clients.v1 import V1Requests
from terminal.errors import TerminalError

__all__ = ["CALL_SERVICE", "HttpLink", "HttpStatus", "HttpSwitchClient", "HttpV1Client", "Unreachable",
           "bare", "credentials_of", "parse_http_url", "region_of_code", "shown"]

CALL_SERVICE = "/fsi/api/rsfComIfsService/callService"  # the most common province path; any works
ADMIN_PATH = "/gongji/v1/admin"
APP_PATH = "/gongji/v1/app/"
EVENTS_PATH = "/gongji/v1/events"
KEEPALIVE_SECONDS = 5.0  # below the door's 10 s idle timeout
_REGION = re.compile(r"[A-Z]([0-9]{6})[0-9]+")


class Unreachable(TerminalError, ConnectionError):
    """Nothing answers at the URL (refused, no such host): no request reached a switch."""


class HttpStatus(TerminalError):
    """The URL answered with an HTTP status the door uses only for what is not a request (404, 405, 413...)."""

    def __init__(self, url: str, status: int, text: str) -> None:
        self.status = status
        hint = ("a switch started with --access takes the account in the URL: http://USER:PASSWORD@HOST:PORT"
                if status in (401, 403) else "is this a gongji switch's HTTP door, and the path right?")
        super().__init__(f"{url} answered HTTP {status}: {text.strip()[:200]} ({hint})")


def parse_http_url(url: str) -> tuple[str, str]:
    """(base URL, national path) of ``http://[user:password@]host:port[/path]``: the path a till posts to,
    else ``CALL_SERVICE``. The base has no credentials (``credentials_of`` reads them)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--http {shown(url)!r}: expected http://HOST:PORT (e.g. http://127.0.0.1:8080), "
                         "optionally with an account (http://T1:PASSWORD@HOST:PORT, for a switch started with "
                         "--access) and the till's path (…/callService)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"--http {shown(url)!r}: the port is not a number") from None
    path = parts.path.rstrip("/")
    return bare(f"{parts.scheme}://{parts.netloc}"), path or CALL_SERVICE


def credentials_of(url: str) -> dict[str, str]:
    """The account in ``http://user:password@host:port`` (percent-encoded as URLs are) as the header of HTTP
    Basic credentials, which a switch started with ``--access`` asks for; no header without one."""
    parts = urlsplit(url)
    if parts.username is None:
        return {}
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def bare(url: str) -> str:
    """``url`` without the account in it (``credentials_of`` reads that)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def shown(url: str) -> str:
    """``url`` as it may be printed: a password in it replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}"))


def region_of_code(fixmedins_code: str) -> str | None:
    """The 6-digit region in a platform institution code (``P37050000001`` → ``370500``), if it has one."""
    found = _REGION.fullmatch(fixmedins_code)
    return found.group(1) if found else None


class HttpLink:
    """One aiohttp session to one switch: posts bodies, decodes answers, turns transport failures into ours."""

    def __init__(self, url: str, *, timeout: float = 5.0, connections: int = 100) -> None:
        self.base, self.path = parse_http_url(url)  # the base without the account: it is printed
        self.credentials = credentials_of(url)
        self.url = shown(url)
        self.timeout = timeout
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=self.connections, keepalive_timeout=KEEPALIVE_SECONDS)
        self._session = aiohttp.ClientSession(connector=connector, json_serialize=json.dumps,
                                              headers=self.credentials)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use 'async with' first"
        return self._session

    async def post(self, path: str, body: bytes, *, timeout: float | None = None,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
        """POST ``body`` to ``path``; the answer's JSON object, ``NoAnswer``, ``Unreachable`` or ``HttpStatus``."""
        answer, _ = await self.exchange(path, body, timeout=timeout, headers=headers)
        return answer

    async def exchange(self, path: str, body: bytes, *, timeout: float | None = None,
                       headers: dict[str, str] | None = None) -> tuple[dict[str, Any], bytes]:
        """As ``post``, with the answer's bytes as they came (for a record of what was on the wire)."""
        wait = timeout if timeout is not None else self.timeout
        url = self.base + path
        try:
            async with asyncio.timeout(wait):
                async with self.session.post(url, data=body, headers=headers or {
                        "Content-Type": "application/json; charset=utf-8"}) as resp:
                    raw = await resp.read()
                    status = resp.status
        except TimeoutError:
            raise NoAnswer(f"no answer from {url} within {wait:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            raise Unreachable(f"nothing answers at {self.base}: {_reason(exc)}; is gongji-switch serve running "
                              f"with --http {urlsplit(self.base).netloc}?") from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError):
            # The request went out: whether the switch committed it is unknown, as after a timeout.
            raise ConnectionEnded(f"the switch closed the connection without an answer (POST {url})") from None
        if status != 200:
            raise HttpStatus(url, status, raw.decode("utf-8", "replace"))
        try:
            answer = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise HttpStatus(url, status, f"not JSON: {raw[:80]!r}") from None
        if not isinstance(answer, dict):
            raise HttpStatus(url, status, f"not a JSON object: {raw[:80]!r}")
        return answer, raw

    async def post_json(self, path: str, envelope: dict[str, Any], *, timeout: float | None = None
                        ) -> dict[str, Any]:
        payload = json.dumps(envelope, ensure_ascii=False, default=str).encode()
        return await self.post(path, payload, timeout=timeout)

    async def events(self, opened: asyncio.Event | None = None) -> AsyncIterator[dict[str, Any]]:
        """The switch's events, as ``GET /gongji/v1/events`` streams them (Server-Sent Events), until closed;
        ``opened`` is set once the stream is there (events from then on are all seen)."""
        try:
            resp = await self.session.get(self.base + EVENTS_PATH, timeout=aiohttp.ClientTimeout(total=None))
        except aiohttp.ClientConnectorError as exc:
            raise Unreachable(f"nothing answers at {self.base}: {_reason(exc)}") from None
        async with resp:
            if resp.status != 200:
                raise HttpStatus(self.base + EVENTS_PATH, resp.status, await resp.text())
            data: list[str] = []
            async for line in resp.content:
                if opened is not None:  # the door's first line follows the subscription: nothing missed after it
                    opened.set()
                text = line.decode("utf-8").rstrip("\r\n")
                if text.startswith("data:"):
                    data.append(text[5:].removeprefix(" "))
                elif not text and data:  # a blank line ends one event
                    try:
                        event = json.loads("\n".join(data), parse_float=Decimal)
                    except ValueError:
                        event = None
                    data = []
                    if isinstance(event, dict):
                        yield event


class _OnLink:
    """A client over an ``HttpLink``: its own, opened and closed with it, or one shared and left alone."""

    def __init__(self, url: str, timeout: float, connections: int, link: HttpLink | None) -> None:
        self.link = link or HttpLink(url, timeout=timeout, connections=connections)
        self._own_link = link is None

    async def __aenter__(self) -> Self:
        if self._own_link:
            await self.link.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_link:
            await self.link.__aexit__(*exc)


class HttpSwitchClient(_OnLink):
    """A POS line to the national door: the platform's envelope for institution ``fixmedins_code``."""

    national = True  # the answers are the platform's envelope; the msgids should be the platform's shape

    def __init__(self, url: str, fixmedins_code: str, *, timeout: float = 5.0,
                 fields: dict[str, Any] | None = None, link: HttpLink | None = None) -> None:
        super().__init__(url, timeout, 1, link)
        self.fixmedins_code = fixmedins_code
        self.fields = fields or {}
        self.timeout = timeout

    @property
    def where(self) -> str:
        return self.link.base + self.link.path

    def envelope(self, infno: str, input: dict[str, Any], msgid: str) -> dict[str, Any]:
        """The platform's request envelope, as a till fills it in (blanks as ``""``, as vendors send them)."""
        region = region_of_code(self.fixmedins_code) or ""
        return {"infno": infno, "msgid": msgid, "mdtrtarea_admvs": region, "insuplc_admdvs": "",
                "recer_sys_code": "FSI_LOCAL", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "",
                "infver": "V1.0", "opter_type": "1", "opter": "gongji", "opter_name": "gongji-terminal",
                "inf_time": _now_text(), "fixmedins_code": self.fixmedins_code, "fixmedins_name": "",
                "sign_no": "", "input": input, **self.fields}

    async def request(self, infno: str, input: dict[str, Any] | None = None, *, msgid: str,
                      timeout: float | None = None) -> dict[str, Any]:
        """Post one request; its answer (``NoAnswer`` after ``timeout``, ``ConnectionEnded`` when the connection
        ends first)."""
        return await self.link.post_json(self.link.path, self.envelope(infno, input or {}, msgid),
                                         timeout=timeout if timeout is not None else self.timeout)


def _reason(exc: aiohttp.ClientConnectorError) -> str:
    """Why a connection failed, in the operating system's words (e.g. "Connection refused")."""
    error = exc.os_error
    # asyncio's own strerror is "Connect call failed (host, port)": the errno's text says more
    return os.strerror(error.errno) if error.errno else (error.strerror or str(error) or type(error).__name__)


def _now_text() -> str:
    return f"{datetime.now(CHINA):%Y-%m-%d %H:%M:%S}"  # the till's own clock: informational


class HttpV1Client(_OnLink, V1Requests):
    """The v1 admin or member-app channel over HTTP (``POST /gongji/v1/admin``, ``/gongji/v1/app/{psn_no}``)."""

    def __init__(self, url: str, channel: str, sender: str = "admin", *, token: str | None = None,
                 timeout: float = 5.0, link: HttpLink | None = None) -> None:
        if channel not in ("admin", "app"):
            raise ValueError(f"the HTTP door has v1 paths for admin and app, not {channel!r}")
        super().__init__(url, timeout, 4, link)
        self.channel, self.sender, self.token, self.timeout = channel, sender, token, timeout
        self.path = ADMIN_PATH if channel == "admin" else APP_PATH + sender
        self.root = self.link.base  # where a message says it asked
        self.start_msgids()

    async def send(self, envelope: dict[str, Any], *, msgid: str | None = None,
                   timeout: float | None = None) -> dict[str, Any]:
        return await self.link.post_json(self.path, envelope,
                                         timeout=timeout if timeout is not None else self.timeout)

    async def call(self, infno: str, input: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """``request`` for helpers: the answer's ``output`` when it is OK, else ``Refused``."""
        answer = await self.request(infno, input, **kw)
        if answer.get("infcode") != 0:
            raise Refused(answer)
        output = answer.get("output")
        return output if isinstance(output, dict) else {}
