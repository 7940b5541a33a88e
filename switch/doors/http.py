"""The HTTP door: the national platform's URLs, the v1 admin and app envelopes, and the events as SSE.

It only moves bytes, as the MQTT door does: read the path, the sender and the body, hand them to
the same ``Serve``, and write back the first answer it is given. It answers by itself only what
HTTP alone decides (404 unknown path, 405 wrong method, 413 body too large, 408 body too slow).
aiohttp's server: one well-kept asyncio dependency, and a request costs a parse and a write, like
an MQTT message. Slow clients hold nothing: idle or half-sent headers end with the connection's
keepalive timeout, a body must arrive within ``body_seconds``, and an events subscriber that does
not read is dropped once its bounded queue is full.

With access files (``serve --access DIR``) the door asks for the same accounts as the broker, as HTTP
Basic credentials, and applies the rules of their topics (``switch.doors.access.http_refusal``): a
request without them, or with wrong ones, is answered 401 before its body is read, so nothing is
decided or journaled; an account on a path its role may not use is answered 403. A national request
is then served as its terminal's, as over MQTT: its sender is the account, not the envelope's
fixmedins_code, so the switch checks the institution the account is registered for and keys the
msgid under the terminal. The events stream gives a terminal or member app only the events that
concern it, the admin all of them; the journal is the admin's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import re

from aiohttp import web

from switch.doors.access import AccessConfig, Logins, User, http_refusal, own_events
from switch.doors.broker import PortTaken, free_port_after
from switch.doors.journal_http import JOURNAL_PATH, JournalRoute
from switch.errors import ConfigError
from switch.service.delivery import Reply, Serve
from switch.web import page
from switch.wire.envelope import NATIONAL
from switch.wire.events import Announced, recipients
from switch.wire.inputs import MAX_PAYLOAD_BYTES

__all__ = ["EVENTS_PATH", "HttpDoor", "parse_http_address", "route_of"]

log = logging.getLogger("gongji.http")

ADMIN_PATH = "/gongji/v1/admin"
APP_PREFIX = "/gongji/v1/app/"
EVENTS_PATH = "/gongji/v1/events"
_CODED = re.compile(r"(?:.*-)?([0-9]{4})")  # a last segment that is, or ends in -, a 4-digit infno
EVENT_QUEUE = 1024  # events held for one subscriber before it counts as too slow and is dropped
REALM = 'Basic realm="gongji"'
# Whose events a stream carries: None every event (no access files, or the admin), else (role, id).
Whose = tuple[str, str] | None


def parse_http_address(value: str) -> tuple[str, int] | None:
    """``HOST:PORT`` as (host, port), None for ``off``; a ConfigError naming what to pass otherwise."""
    if value == "off":
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--http {value!r}: expected HOST:PORT (e.g. 127.0.0.1:8080) or off")
    return host.strip("[]"), int(port)


def route_of(method: str, path: str) -> tuple[str, str, str | None] | int:
    """(channel, sender, the path's infno) a request goes to, or the HTTP status that answers it."""
    if path == EVENTS_PATH:
        return ("events", "", None) if method == "GET" else 405
    if path == ADMIN_PATH:
        route: tuple[str, str, str | None] = ("admin", "admin", None)
    elif path.startswith(APP_PREFIX) and "/" not in path[len(APP_PREFIX):]:
        route = ("app", path[len(APP_PREFIX):], None)
    elif path.endswith("/callService"):
        route = (NATIONAL, "", None)  # the service reads the sender (fixmedins_code) from the envelope
    elif (coded := _CODED.fullmatch(path.rpartition("/")[2])) is not None:
        route = (NATIONAL, "", coded.group(1))
    else:
        return 404
    return route if method == "POST" else 405


class HttpDoor:
    """An aiohttp server on (host, port); ``connected`` is set while it listens."""

    name = "http"

    def __init__(self, serve: Serve, host: str, port: int, *, heartbeat: float = 15.0,
                 body_seconds: float = 10.0, idle_seconds: float = 10.0, studio: bool = False,
                 journal: JournalRoute | None = None, access: AccessConfig | None = None) -> None:
        self.serve = serve
        self.logins = Logins(access) if access is not None else None  # None: the door is open to anyone
        self.studio = studio  # also serve the checkout studio's page at / (switch/web)
        self.journal = journal  # GET /gongji/v1/journal (switch/doors/journal_http.py); None: no journal kept
        self.host, self.port = host, port
        self.heartbeat = heartbeat
        self.body_seconds = body_seconds
        self.connected = asyncio.Event()
        self._serving = asyncio.Event()  # listening starts before the ledger is loaded; serving after
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES)
        app.router.add_route("*", "/{path:.*}", self._route)
        # lingering_time: after an early 413 the rest of a body is read for this long, no longer (a 408 closes).
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=idle_seconds,
                                     lingering_time=body_seconds, shutdown_timeout=10)
        self._subscribers: dict[asyncio.Queue[bytes | None], tuple[web.Request, Whose]] = {}
        self._tasks: set[asyncio.Future[Reply | None]] = set()
        self._closed = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def describe(self) -> str:
        return f"http {self.url}/"

    async def open(self) -> None:
        """Listen (before the switch says it is ready), or a one-line ConfigError saying what to pass."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            where = f"{self.host}:{self.port}"
            if exc.errno == errno.EADDRINUSE:
                raise PortTaken(f"{where} is taken (another switch, or another web server?): pass --http "
                                f"{self.host}:{free_port_after(self.host, self.port)} for another port, or "
                                f"--http off for no HTTP door") from None
            raise ConfigError(f"cannot listen for HTTP on {where}: {exc.strerror or exc}; "
                              f"pass another --http HOST:PORT, or --http off") from None
        bound = self._runner.addresses[0]
        self.port = int(bound[1])  # port 0 asks for a free one
        self.connected.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; then answer what is in flight, end the event streams, and close."""
        if not self.connected.is_set():
            await self.open()
        log.info("HTTP door listening on %s/%s", self.url,
                 " (HTTP Basic credentials of the --access accounts required)" if self.logins else "")
        self._serving.set()
        await stop.wait()
        self.connected.clear()
        if self._tasks:  # answers still being committed or sent late (fault rules) finish first
            await asyncio.wait(set(self._tasks), timeout=10)
        for queue, (request, _) in list(self._subscribers.items()):
            self._drop(queue, request)
        await self.close()

    async def close(self) -> None:
        """Stop listening and close every connection (again: nothing)."""
        if not self._closed:
            self._closed = True
            await self._runner.cleanup()

    async def _route(self, request: web.Request) -> web.StreamResponse:
        await self._serving.wait()
        if request.path == JOURNAL_PATH:
            if self.logins is not None and (refused := self._refused(request, "journal", "")[1]) is not None:
                return refused
            if self.journal is None:
                return web.Response(status=404, text="404 this switch keeps no traffic journal (--journal-max 0)\n")
            return await self.journal(request)
        route = route_of(request.method, request.path)
        if isinstance(route, int):
            # Looked up only once the transaction paths said 404: they never pay for the page.
            if route == 404 and self.studio and request.method in ("GET", "HEAD") and (
                    found := page(request.path)) is not None:
                return web.Response(body=found[0], content_type=found[1], charset="utf-8",
                                    headers={"Cache-Control": "no-cache"})
            return web.Response(status=route, text=f"{route} {_REASONS[route]}: {request.method} {request.path}\n")
        channel, sender, infno = route
        whose: Whose = None
        if self.logins is not None:
            user, refused = self._refused(request, channel, sender)
            if refused is not None:
                return refused
            assert user is not None
            if channel == NATIONAL:
                sender = user.name  # the terminal's account, as the topic's terminal_id is on MQTT
            whose = own_events(user)
        if channel == "events":
            return await self._events(request, whose)
        if request.content_length is not None and request.content_length > MAX_PAYLOAD_BYTES:
            return web.Response(status=413, text=f"413 body larger than {MAX_PAYLOAD_BYTES} bytes\n")
        try:
            if request.content.is_eof():  # the whole body came with the headers: no timer needed
                body = await request.read()
            else:
                async with asyncio.timeout(self.body_seconds):
                    body = await request.read()
        except TimeoutError:
            # The client stalled: waiting for the rest of its body (aiohttp's lingering, for a 413 whose
            # sender is still writing) would hold the connection another body_seconds. Written, then closed.
            late = web.Response(status=408, text="408 the body did not arrive in time\n",
                                headers={"Connection": "close"})
            await late.prepare(request)
            await late.write_eof()
            if request.transport is not None:
                request.transport.close()  # after what is buffered has gone out
            return late
        where = f"{request.method} {request.path} ({', '.join(k.lower() for k in request.headers)})"
        return await self._answer(request, where, channel, sender, body, infno)

    def _refused(self, request: web.Request, channel: str, sender: str) -> tuple[User | None, web.Response | None]:
        """(the account, None) when the request's Basic credentials may use ``channel`` as ``sender``;
        else (None, the 401 or 403 answer), one line saying what to send."""
        assert self.logins is not None
        given = request.headers.get("Authorization")
        user = self.logins.basic(given) if given else None
        if user is None:
            if not given:
                why = ("credentials required: this switch was started with --access; send an account of its "
                       "access files as HTTP Basic credentials (curl -u USER:PASSWORD)")
            else:
                why = ("user name or password wrong: send an account of the switch's access files (users.yaml "
                       "of mosquitto-config) as HTTP Basic credentials (curl -u USER:PASSWORD)")
            log.info("http %s %s from %s refused: %s", request.method, request.path, request.remote,
                     "no credentials" if not given else "wrong credentials")
            return None, web.Response(status=401, text=f"401 {why}\n", headers={"WWW-Authenticate": REALM})
        refusal = http_refusal(user, channel, sender)
        if refusal is not None:
            log.info("http %s %s as %s refused: not for its role", request.method, request.path, user.name)
            return None, web.Response(status=403, text=f"403 {refusal}: {request.method} {request.path}\n")
        return user, None

    async def _answer(self, request: web.Request, where: str, channel: str, sender: str, body: bytes,
                      infno: str | None) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[bytes | None] = loop.create_future()
        given = False

        def send(answer: bytes) -> bool:
            nonlocal given
            if given:
                return False  # HTTP has one answer per request: a duplicated one is not sent
            given = True
            if not answered.done():
                answered.set_result(answer)
            return True

        def ended(_: asyncio.Future[Reply | None]) -> None:  # ended without answering: a fault rule dropped it
            if not answered.done():
                answered.set_result(None)

        # Its own task: a client that leaves does not stop the commit or the journal. Awaiting the one
        # future the answer or the end of serving fills costs less than asyncio.wait over a shield.
        serving = asyncio.ensure_future(self.serve(where, channel, sender, body, send, infno=infno))
        self._tasks.add(serving)
        serving.add_done_callback(self._tasks.discard)
        serving.add_done_callback(ended)
        answer = await answered
        if answer is None:  # the client sees its connection end
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)
        return web.Response(body=answer, content_type="application/json", charset="utf-8")

    async def _events(self, request: web.Request, whose: Whose) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(EVENT_QUEUE)
        self._subscribers[queue] = (request, whose)
        try:
            await response.write(b": gongji events\n\n")
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), self.heartbeat)
                except TimeoutError:
                    frame = b": heartbeat\n\n"  # keeps proxies from closing a quiet stream
                if frame is None:
                    break
                await response.write(frame)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._subscribers.pop(queue, None)
        return response

    def publish_events(self, events: list[bytes]) -> None:
        """Subscribed to the service: every event to every stream; a stream that does not keep up is dropped."""
        if not self._subscribers or not events:
            return
        frames = [_frame(event) for event in events]
        concern: list[tuple[set[str], set[str]]] | None = None  # read once, when a stream is someone's own
        for queue, (request, whose) in list(self._subscribers.items()):
            own = frames
            if whose is not None:
                concern = concern or [_concerns(event) for event in events]
                kind, who = whose
                own = [frame for frame, (terminals, people) in zip(frames, concern, strict=True)
                       if who in (terminals if kind == "pos" else people)]
            for frame in own:
                try:
                    queue.put_nowait(frame)
                except asyncio.QueueFull:
                    log.warning("events subscriber %s does not read; dropped", request.remote)
                    self._drop(queue, request)
                    break

    def _drop(self, queue: asyncio.Queue[bytes | None], request: web.Request) -> None:
        self._subscribers.pop(queue, None)
        try:
            queue.put_nowait(None)
        except asyncio.QueueFull:  # it cannot even be told: end its connection
            if request.transport is not None:
                request.transport.abort()


def _concerns(event: bytes) -> tuple[set[str], set[str]]:
    """(terminal ids, psn_nos) an event concerns: the ones whose own MQTT events topic it goes to."""
    if isinstance(event, Announced):
        return set(event.terminals), set(event.people)
    with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
        terminals, people = recipients(json.loads(event)["data"])
        return set(terminals), set(people)
    return set(), set()


_TYPED = b'{"type":"'  # how the service encodes every event: its type first, compact


def _frame(event: bytes) -> bytes:
    """One Server-Sent Event: ``event: <type>`` and the v1 event JSON (one line: JSON escapes newlines)."""
    end = event.find(b'"', len(_TYPED)) if event.startswith(_TYPED) else -1
    if end > 0 and b"\\" not in event[len(_TYPED):end]:  # a plain type: read in place, no parse per event
        return b"event: " + event[len(_TYPED):end] + b"\ndata: " + event + b"\n\n"
    kind = "event"
    with contextlib.suppress(ValueError):
        parsed = json.loads(event)
        if isinstance(parsed, dict) and isinstance(parsed.get("type"), str):
            kind = parsed["type"]
    return b"event: " + kind.encode() + b"\ndata: " + event + b"\n\n"


_REASONS = {404: "no such path", 405: "method not allowed"}
