"""Where scenarios run: switches this process starts (virtual or system clock), or one already running.

A ``Session`` is the runner's line to one switch: an observer subscribed to ``{root}/#`` that
records every message (for the "messages exchanged" of a failure and for the events a step must
cause), and one ``SwitchClient`` per sender, kept for the whole run so each scenario does not pay
for new connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import aiomqtt

from switch.bootstrap import Running, Settings, running
from switch.doors.broker import EmbeddedBroker
from switch.doors.link import NODELAY, parse_broker_url
from switch.service.clock import CST
from switch.wire.topics import DEFAULT_ROOT, request_topic, response_topic
from terminal.clients.http import shown
from terminal.clients.mqtt import NoAnswer, SwitchClient
from terminal.scenarios.format import Scenario

__all__ = ["EmbeddedTargets", "Observer", "RemoteTargets", "RunnerError", "Seen", "Session", "Targets",
           "token_refused"]


REFUSED_LOGIN = (4, 5, 134, 135)  # MQTT 3.1.1 and 5.0: bad user name or password, not authorized


class RunnerError(RuntimeError):
    """The runner cannot run at all (no broker, no switch answering); the message says what to check."""


def token_refused(token: str | None, option: str) -> RunnerError:
    """The switch answered admin.clock UNAUTHORIZED: no token was given, or the one given (``option``) is wrong."""
    if token:
        return RunnerError(f"admin token wrong: the one given with {option} is not the one the switch was started "
                           "with (its --admin-token)")
    return RunnerError(f"the switch requires an admin token: pass {option} (the switch's --admin-token)")


def access_refused(what: str, unless: str = "") -> str:
    """Why the runner cannot run on a switch started with ``--access``, after ``what`` showed it: one line."""
    return (f"{what}: {unless}the switch runs with --access, where each account (a till, a member app, the admin) "
            "may speak only as itself; the runner speaks as the admin, every till and every member app of the "
            "scenarios at once, which one account cannot. Run scenarios on a test switch started without --access")


@dataclass(frozen=True, slots=True)
class Seen:
    """One message the observer saw, its topic relative to the root."""

    topic: str
    payload: bytes
    at: float

    @property
    def body(self) -> Any:
        try:
            return json.loads(self.payload, parse_float=Decimal)
        except ValueError:
            return None

    def field(self, name: str) -> Any:
        body = self.body
        return body.get(name) if isinstance(body, dict) else None


class Observer:
    """Every message under ``{root}/``, in arrival order."""

    def __init__(self, broker: str, root: str) -> None:
        self.address = parse_broker_url(broker)
        self.root = root
        self.log: list[Seen] = []
        self._news = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._client = aiomqtt.Client(self.address.host, self.address.port, username=self.address.username,
                                      password=self.address.password, socket_options=NODELAY)
        await self._client.__aenter__()
        await self._client.subscribe(f"{self.root}/#", qos=1)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._client is not None
        prefix = len(self.root) + 1
        async for message in self._client.messages:
            self.log.append(Seen(str(message.topic)[prefix:], bytes(message.payload), time.monotonic()))
            self._news.set()

    def mark(self) -> int:
        return len(self.log)

    def clear(self) -> None:
        self.log.clear()

    async def wait(self, found: Any, since: int, timeout: float) -> bool:
        """Wait until ``found(messages since the mark)`` is true; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not found(self.log[since:]):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), remaining)
            except TimeoutError:
                return bool(found(self.log[since:]))
        return True

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._client is not None:
            await self._client.__aexit__(None, None, None)


class Session:
    """The runner's connections to one switch (broker + topic root)."""

    national = False  # pos steps in the platform's form (the HTTP door's session)
    token_option = "--token"  # where the user gives the admin token (--gongji-token under pytest)
    delayed_log = True  # the observer hears an answer through the broker, after the client has it

    def __init__(self, broker: str, root: str, token: str | None, timeout: float = 5.0) -> None:
        self.broker = broker
        self.root = root.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.observer = Observer(broker, self.root)
        self.virtual = False
        self._clients: dict[tuple[str, str], SwitchClient] = {}

    async def open(self) -> None:
        try:
            await self.observer.open()
        except aiomqtt.MqttCodeError as exc:
            if exc.rc in REFUSED_LOGIN and self.observer.address.username is not None:
                raise RunnerError(access_refused(
                    f"the broker {shown(self.broker)} refused the login of {self.observer.address.username!r} "
                    f"({str(exc).strip()})", "if the password is right, ")) from None
            raise RunnerError(f"cannot connect to the broker {shown(self.broker)}: {exc}") from None
        except aiomqtt.MqttError as exc:
            raise RunnerError(f"cannot connect to the broker {shown(self.broker)}: {exc}") from None
        envelope = {"infno": "admin.clock", "msgid": f"runner-{secrets.token_hex(6)}", "input": {}}
        if self.token is not None:
            envelope["token"] = self.token
        try:
            answer = await self.send("admin", "admin", envelope)
        except NoAnswer:
            raise RunnerError(f"no switch answered admin.clock on {self.root}/admin/req within "
                              f"{self.timeout:g} s: is a switch running on {shown(self.broker)} with topic root "
                              f"{self.root!r}?") from None
        if answer.get("code") == "UNAUTHORIZED":
            raise token_refused(self.token, self.token_option)
        if answer.get("code") != "OK":
            raise RunnerError(f"admin.clock answered {answer.get('code')}: {answer.get('err_msg')}")
        self.virtual = bool(answer.get("output", {}).get("virtual"))
        # The observer hears everything under the root, our own requests too: unless the broker keeps it to
        # one account's topics (--access), or that account's connections take each other's place.
        heard = await self.observer.wait(
            lambda seen: any(m.topic == "admin/req" and m.field("msgid") == envelope["msgid"] for m in seen),
            0, self.timeout)
        if not heard:
            raise RunnerError(access_refused(
                f"the runner's own request on {self.root}/admin/req did not reach its subscription to {self.root}/# "
                f"on {shown(self.broker)}"))

    async def client(self, channel: str, sender: str) -> SwitchClient:
        key = (channel, sender)
        client = self._clients.get(key)
        if client is None:
            client = SwitchClient(self.broker, channel, sender, root=self.root, timeout=self.timeout)
            await client.__aenter__()
            self._clients[key] = client
        return client

    async def send(self, channel: str, sender: str, envelope: dict[str, Any], timeout: float | None = None
                   ) -> dict[str, Any]:
        client = await self.client(channel, sender)
        return await client.send(envelope, msgid=envelope["msgid"], timeout=timeout)

    async def send_raw(self, channel: str, sender: str, payload: bytes, timeout: float | None = None
                       ) -> dict[str, Any]:
        """Bytes as they are; the answer is whatever comes back on the sender's resp topic next."""
        client = await self.client(channel, sender)
        while not client.unmatched.empty():
            client.unmatched.get_nowait()
        return await client.send_raw(payload, msgid=None, timeout=timeout)

    def topics(self, channel: str, sender: str) -> tuple[str, str]:
        """(request, response) topic of a sender, relative to the root."""
        under = len(self.root) + 1
        return request_topic(self.root, channel, sender)[under:], response_topic(self.root, channel, sender)[under:]

    def envelope(self, channel: str, infno: str | None, msgid: str, body: dict[str, Any],
                 fixmedins_code: str | None, sender: str) -> dict[str, Any]:
        """A step's envelope before its own fields (token, ``envelope:`` overrides) are added."""
        sent_at = datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")  # the sender's clock: informational
        envelope: dict[str, Any] = {"infno": infno, "msgid": msgid, "inf_time": sent_at, "input": body}
        if channel == "pos" and fixmedins_code is not None:
            envelope["fixmedins_code"] = fixmedins_code
        return envelope

    def default_msgid(self, channel: str, sender: str, fixmedins_code: str | None, fallback: str) -> str:
        """The msgid of a step that names none: the runner's own (``fallback``)."""
        return fallback

    def diagnose(self, seen: list[Seen], channel: str, sender: str, msgid: str | None, wait: float) -> list[str]:
        """Why an answer did not come, as far as the messages seen show."""
        from terminal.scenarios.report import diagnose_no_answer  # report reads this module's Seen

        req, resp = self.topics(channel, sender)
        return diagnose_no_answer(seen, self.root, req, resp, msgid, wait)

    async def quiesce(self) -> None:
        """After the fence's answer: nothing more to wait for, one broker orders the events before it."""

    def fit(self, scenario: Scenario) -> Session | str:
        """This session, or why ``scenario`` cannot run on its switch."""
        needs = scenario.needs()
        if "virtual_clock" in needs and not self.virtual:
            return "needs a switch on a virtual clock (start it with --clock virtual)"
        if "system_clock" in needs and self.virtual:
            return "needs a switch on the system clock (the target runs a virtual clock)"
        if "admin_token" in needs and self.token is None:
            return "needs a switch started with --admin-token, and --token given to the runner"
        return self

    async def close(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
        self._clients.clear()
        with contextlib.suppress(aiomqtt.MqttError):
            await self.observer.close()


class Targets(Protocol):
    async def session_for(self, scenario: Scenario) -> Session | str:
        """The session to run ``scenario`` on, or why it cannot run on this target."""
        ...

    async def close(self) -> None: ...


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedTargets:
    """An amqtt broker and switches in this process: one on a virtual clock, one on the system clock.

    Each switch has its own topic root and SQLite file; the system-clock one starts only when a
    ``clock: system`` scenario needs it. Admin requests need a token, so UNAUTHORIZED is testable.
    """

    def __init__(self, timeout: float = 5.0, workdir: Path | None = None, *, http: bool = False) -> None:
        self.timeout = timeout
        self.http = http  # run over each switch's HTTP door instead of its broker
        self._tmp = tempfile.TemporaryDirectory(prefix="gongji-scenarios-") if workdir is None else None
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.token = secrets.token_hex(8)
        self.broker: EmbeddedBroker | None = None
        self._switches = contextlib.AsyncExitStack()
        self._sessions: dict[str, Session] = {}
        self._lock = asyncio.Lock()

    @property
    def url(self) -> str:
        assert self.broker is not None
        return self.broker.url

    async def _start_broker(self) -> None:
        self.broker = EmbeddedBroker("127.0.0.1", _free_port())
        await self.broker.start()

    async def _start_switch(self, clock: str) -> Session:
        if self.broker is None:
            await self._start_broker()
        root = f"gongji-scenarios/{clock}-{secrets.token_hex(4)}"
        client_id = f"gongji-scenarios-{clock}-{secrets.token_hex(4)}"
        settings = Settings(broker=self.url, db=self.workdir / f"{clock}.db", clock=clock, topic_root=root,
                            admin_token=self.token, client_id=client_id, http="127.0.0.1:0")
        switch: Running = await self._switches.enter_async_context(running(settings))
        await switch.ready(10)
        if self.http and switch.http is not None:
            from terminal.scenarios.http_targets import HttpSession

            session: Session = HttpSession(switch.http.url, self.token, self.timeout)
        else:
            session = Session(self.url, root, self.token, self.timeout)
        await session.open()
        return session

    async def session_for(self, scenario: Scenario) -> Session | str:
        async with self._lock:
            session = self._sessions.get(scenario.clock)
            if session is None:
                session = self._sessions[scenario.clock] = await self._start_switch(scenario.clock)
            return session.fit(scenario) if self.http else session

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        await self._switches.aclose()
        if self.broker is not None:
            await self.broker.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


class RemoteTargets:
    """A switch someone else started (``--broker URL --root R``): every scenario runs on it, if it can."""

    def __init__(self, broker: str, root: str = DEFAULT_ROOT, token: str | None = None,
                 timeout: float = 5.0, token_option: str = "--token") -> None:
        self.session = Session(broker, root, token, timeout)
        self.session.token_option = token_option
        self._opened = False
        self._error: RunnerError | None = None

    async def session_for(self, scenario: Scenario) -> Session | str:
        if self._error is not None:  # do not wait for the same missing switch once per scenario
            raise self._error
        if not self._opened:
            try:
                await self.session.open()
            except RunnerError as exc:
                self._error = exc
                raise
            self._opened = True
        return self.session.fit(scenario)

    async def close(self) -> None:
        await self.session.close()
