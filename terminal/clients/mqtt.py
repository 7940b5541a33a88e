"""A request/response client of the switch over MQTT, for one channel and one sender id.

Answers are matched to requests by ``inf_refmsgid``; answers that name no msgid (a payload the
switch could not read) are kept in ``unmatched`` for whoever sent raw bytes.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any, Self

import aiomqtt

from switch.doors.mqtt import NODELAY, BrokerAddress, parse_broker_url
from switch.errors import ConfigError
from switch.wire.topics import DEFAULT_ROOT, events_topic, is_events_topic, request_topic, response_topic
from terminal.clients.v1 import V1Requests
from terminal.errors import TerminalError

__all__ = ["ConnectionEnded", "NoAnswer", "Refused", "SwitchClient", "broker_url_problem", "no_switch_under"]


def broker_url_problem(url: str) -> str | None:
    """Why ``url`` given as ``--broker`` is no broker's URL, in one line saying what to pass; None when it is one."""
    try:
        parse_broker_url(url)
    except ConfigError as exc:
        if url.lower().startswith(("http://", "https://")):
            return (f"--broker {url} is an HTTP URL, not a broker's (mqtt://HOST:PORT): for the switch's HTTP "
                    f"door pass --http {url}")
        return f"--broker: {exc}"
    return None


def no_switch_under(broker: str, root: str) -> str:
    """What a command with a ``--root`` option says when no switch answers under that root."""
    return (f"no switch answered on {broker} under {root.rstrip('/')}: is a switch running there with that topic "
            f"root (--root here, --topic-root on the switch)?")


class NoAnswer(TerminalError, TimeoutError):
    """No answer arrived in time; the message says what was waited for."""


class ConnectionEnded(NoAnswer):
    """Over HTTP: the switch closed the connection without an answer (a fault rule dropped it, or the switch
    stopped). The request went out, so whether it was committed is unknown, as after a timeout."""


class Refused(TerminalError):
    """The switch answered with a failure code; ``answer`` is the whole response."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.code = str(answer.get("code"))
        self.err_msg = str(answer.get("err_msg"))
        super().__init__(f"{answer.get('infno')} refused: {self.code} ({self.err_msg})")


class SwitchClient(V1Requests):
    def __init__(self, broker: BrokerAddress | str, channel: str, sender: str = "admin", *,
                 root: str = DEFAULT_ROOT, fixmedins_code: str | None = None, token: str | None = None,
                 events: bool = False, own_events: bool = False, timeout: float = 5.0) -> None:
        self.broker = parse_broker_url(broker) if isinstance(broker, str) else broker
        self.channel = channel
        self.sender = sender
        self.root = root.rstrip("/")
        self.fixmedins_code = fixmedins_code
        self.token = token
        self.timeout = timeout
        self.want_events = events  # every event, on the operators' topic
        self.want_own_events = own_events  # the events that concern this terminal or app, on its own topic
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.unmatched: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.start_msgids()
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def req_topic(self) -> str:
        return request_topic(self.root, self.channel, self.sender)

    @property
    def resp_topic(self) -> str:
        return response_topic(self.root, self.channel, self.sender)

    async def __aenter__(self) -> Self:
        # A logged-in client's id is its login: the generated broker configs tie the two together.
        self._client = aiomqtt.Client(self.broker.host, self.broker.port, username=self.broker.username,
                                      password=self.broker.password, identifier=self.broker.username,
                                      socket_options=NODELAY)
        await self._client.__aenter__()
        await self._client.subscribe(self.resp_topic, qos=1)
        if self.want_events:
            await self._client.subscribe(events_topic(self.root), qos=1)
        if self.want_own_events:
            await self._client.subscribe(events_topic(self.root, self.channel, self.sender), qos=1)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._client is not None:
            await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        assert self._client is not None
        async for message in self._client.messages:
            try:
                body = json.loads(bytes(message.payload), parse_float=Decimal)
            except ValueError:
                continue
            if is_events_topic(self.root, str(message.topic)):
                await self.events.put(body)
                continue
            ref = body.get("inf_refmsgid") if isinstance(body, dict) else None
            future = self._pending.get(ref) if isinstance(ref, str) else None
            if future is not None and not future.done():
                future.set_result(body)
            else:
                await self.unmatched.put(body)

    async def call(self, infno: str, input: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """``request`` for helpers: the answer's ``output`` when it is OK, else ``Refused``."""
        answer = await self.request(infno, input, **kw)
        if answer.get("infcode") != 0:
            raise Refused(answer)
        output = answer.get("output")
        return output if isinstance(output, dict) else {}

    async def send(self, envelope: dict[str, Any], *, msgid: str,
                   timeout: float | None = None) -> dict[str, Any]:
        payload = json.dumps(envelope, ensure_ascii=False, default=str).encode()
        return await self.send_raw(payload, msgid=msgid, timeout=timeout)

    async def send_raw(self, payload: bytes, *, msgid: str | None = None,
                       timeout: float | None = None) -> dict[str, Any]:
        """Publish bytes as they are; wait for the answer naming ``msgid`` (with None: any unmatched one)."""
        assert self._client is not None, "use 'async with SwitchClient(...)'"
        wait = timeout if timeout is not None else self.timeout
        if msgid is None:
            await self._client.publish(self.req_topic, payload, qos=1)
            try:
                return await asyncio.wait_for(self.unmatched.get(), wait)
            except TimeoutError:
                raise NoAnswer(f"no answer on {self.resp_topic} within {wait} s") from None
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msgid] = future
        try:
            await self._client.publish(self.req_topic, payload, qos=1)
            return await asyncio.wait_for(future, wait)
        except TimeoutError:
            raise NoAnswer(f"no answer to msgid {msgid} on {self.resp_topic} within {wait} s") from None
        finally:
            self._pending.pop(msgid, None)

    async def next_event(self, type_: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        wait = timeout if timeout is not None else self.timeout
        while True:
            try:
                event = await asyncio.wait_for(self.events.get(), wait)
            except TimeoutError:
                raise NoAnswer(f"no {type_ or ''} event on {self.root}/events within {wait} s") from None
            if type_ is None or event.get("type") == type_:
                return event
