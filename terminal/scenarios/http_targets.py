"""Scenarios over the HTTP door: pos steps as national tills send them, admin and app on the v1 paths, SSE events.

An ``HttpSession`` is the runner's line to one switch's HTTP door, with the same face as the MQTT
``Session``: what it exchanged is recorded (``{path}/req``, ``{path}/resp``) beside the events read
from ``GET /gongji/v1/events`` (``events``), so a failure shows the messages as over MQTT. A pos
step goes to the national path in the platform's envelope, sent by its ``fixmedins_code`` (the
terminal id when the scenario gives none), under a platform-shaped msgid unless the step names one.

Strategy for the fence after each step: over MQTT one broker orders a step's events before the
answer to the runner's next admin request; over HTTP the events come on another connection, so the
session also waits until the event stream has been quiet for ``QUIET`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from datetime import datetime
from typing import Any

from terminal.clients.http import ADMIN_PATH, APP_PATH, HttpLink, HttpStatus, HttpSwitchClient, Unreachable
from terminal.clients.mqtt import NoAnswer
from terminal.clients.state import CHINA, next_platform_msgid
from terminal.scenarios.format import Scenario
from terminal.scenarios.match import to_json
from terminal.scenarios.targets import Observer, RunnerError, Seen, Session, access_refused, token_refused

__all__ = ["HttpObserver", "HttpSession", "HttpTargets"]

QUIET = 0.03  # seconds without an event that end a step's fence
FENCE_MAX = 0.5


class HttpObserver(Observer):
    """The exchanges of one HTTP session and the switch's events, in the order this client saw them."""

    def __init__(self) -> None:
        self.log: list[Seen] = []
        self._news = asyncio.Event()
        self.last_event = time.monotonic()

    def note(self, topic: str, payload: bytes) -> None:
        self.log.append(Seen(topic, payload, time.monotonic()))
        if topic == "events":
            self.last_event = time.monotonic()
        self._news.set()

    async def open(self) -> None:  # nothing to connect: the session feeds it
        return None

    async def close(self) -> None:
        return None


class HttpSession(Session):
    """The runner's connection to one switch's HTTP door (``url``), speaking the national form on pos steps."""

    national = True
    delayed_log = False  # an answer is recorded before the runner reads it

    def __init__(self, url: str, token: str | None, timeout: float = 5.0) -> None:
        self.link = HttpLink(url, timeout=timeout, connections=8)
        self.broker = url
        self.root = self.link.base
        self.token = token
        self.timeout = timeout
        self.observer: HttpObserver = HttpObserver()
        self.virtual = False
        self._msgids: dict[str, dict[str, Any]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await self.link.__aenter__()
        opened = asyncio.Event()
        self._reader = asyncio.create_task(self._read_events(opened), name="scenario-sse")
        done, _ = await asyncio.wait({self._reader, asyncio.ensure_future(opened.wait())}, timeout=self.timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self._reader in done:
            error = self._reader.exception()
            raise RunnerError(str(error) if error else f"the event stream of {self.root} ended at once")
        if not opened.is_set():
            raise RunnerError(f"no event stream from {self.root} within {self.timeout:g} s: is that gongji's "
                              "HTTP door?")
        envelope: dict[str, Any] = {"infno": "admin.clock", "msgid": f"runner-{secrets.token_hex(6)}", "input": {}}
        if self.token is not None:
            envelope["token"] = self.token
        try:
            answer = await self.send("admin", "admin", envelope)
        except NoAnswer:
            raise RunnerError(f"no switch answered admin.clock at {self.root} within {self.timeout:g} s") from None
        if answer.get("code") == "UNAUTHORIZED":
            raise token_refused(self.token, self.token_option)
        if answer.get("code") != "OK":
            raise RunnerError(f"admin.clock answered {answer.get('code')}: {answer.get('err_msg')}")
        self.virtual = bool(answer.get("output", {}).get("virtual"))
        if self.link.credentials:
            await self._no_access(envelope)

    async def _no_access(self, envelope: dict[str, Any]) -> None:
        """An account in the URL: whether the door asks for one (``--access``), by the same admin.clock reading
        sent without it (refused unread, or answered: nothing changes either way)."""
        probe = {**envelope, "msgid": f"runner-{secrets.token_hex(6)}"}
        async with HttpLink(self.link.base, timeout=self.timeout, connections=1) as anonymous:
            try:
                await anonymous.post_json(ADMIN_PATH, probe)
            except HttpStatus as exc:
                if exc.status == 401:
                    raise RunnerError(access_refused(f"the switch at {self.link.url} asks every request for an "
                                                     "account")) from None
                raise

    async def _read_events(self, opened: asyncio.Event) -> None:
        try:
            async for event in self.link.events(opened):
                self.observer.note("events", to_json(event).encode())
        except HttpStatus as exc:
            if exc.status in (401, 403):
                raise RunnerError(access_refused(f"{self.link.url} answered HTTP {exc.status} to the event "
                                                 "stream")) from None
            raise RunnerError(str(exc)) from None
        except Unreachable as exc:
            raise RunnerError(str(exc)) from None

    def path(self, channel: str, sender: str) -> str:
        return {"admin": ADMIN_PATH, "app": APP_PATH + sender}.get(channel, self.link.path)

    def envelope(self, channel: str, infno: str | None, msgid: str, body: dict[str, Any],
                 fixmedins_code: str | None, sender: str) -> dict[str, Any]:
        """A step's envelope before its own fields: on pos steps the platform's, from ``fixmedins_code``."""
        if channel != "pos":
            return super().envelope(channel, infno, msgid, body, fixmedins_code, sender)
        till = HttpSwitchClient(self.root, fixmedins_code or sender, link=self.link)
        return till.envelope(str(infno), body, msgid)

    def default_msgid(self, channel: str, sender: str, fixmedins_code: str | None, fallback: str) -> str:
        """Platform-shaped msgids for pos steps (unique within this run), the runner's own elsewhere."""
        if channel != "pos":
            return fallback
        code = fixmedins_code or sender
        return next_platform_msgid(self._msgids.setdefault(code, {}), code, datetime.now(CHINA))

    async def send(self, channel: str, sender: str, envelope: dict[str, Any], timeout: float | None = None
                   ) -> dict[str, Any]:
        payload = json.dumps(envelope, ensure_ascii=False, default=str).encode()
        return await self.send_raw(channel, sender, payload, timeout)

    async def send_raw(self, channel: str, sender: str, payload: bytes, timeout: float | None = None
                       ) -> dict[str, Any]:
        path = self.path(channel, sender)
        topic = path.lstrip("/")
        self.observer.note(f"{topic}/req", payload)
        try:
            answer, raw = await self.link.exchange(path, payload, timeout=timeout,
                                                   headers={"Content-Type": "application/json"})
        except HttpStatus as exc:
            if exc.status in (401, 403):  # --access: this account may not speak for this channel
                raise RunnerError(access_refused(f"{self.link.url} answered HTTP {exc.status} to {path}")) from None
            raise
        self.observer.note(f"{topic}/resp", raw)  # as it came: 0.0 stays a number
        return answer

    def topics(self, channel: str, sender: str) -> tuple[str, str]:
        topic = self.path(channel, sender).lstrip("/")
        return f"{topic}/req", f"{topic}/resp"

    def diagnose(self, seen: list[Seen], channel: str, sender: str, msgid: str | None, wait: float) -> list[str]:
        return [f"POST {self.root}{self.path(channel, sender)} got no answer within {wait:g} s (the door "
                "answers every request it reads, so the switch is stuck, or a fault rule held the answer)"]

    async def quiesce(self) -> None:
        """Until the event stream has been quiet for ``QUIET`` s (at most ``FENCE_MAX``): a step's events are in."""
        deadline = time.monotonic() + FENCE_MAX
        await asyncio.sleep(QUIET)
        while time.monotonic() - self.observer.last_event < QUIET and time.monotonic() < deadline:
            await asyncio.sleep(QUIET)

    def fit(self, scenario: Scenario) -> Session | str:
        if "http" not in scenario.doors:
            return f"runs on the {' and '.join(scenario.doors)} door only (doors: in the scenario)"
        return super().fit(scenario)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        await self.link.__aexit__(None, None, None)


class HttpTargets:
    """A switch someone else started, reached at its HTTP door (``--http URL``): every scenario runs there if it can."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 5.0,
                 token_option: str = "--token") -> None:
        self.session = HttpSession(url, token, timeout)
        self.session.token_option = token_option
        self._opened = False
        self._error: RunnerError | None = None

    async def session_for(self, scenario: Scenario) -> Session | str:
        if self._error is not None:
            raise self._error
        if not self._opened:
            try:
                await self.session.open()
            except (RunnerError, Unreachable) as exc:
                self._error = exc if isinstance(exc, RunnerError) else RunnerError(str(exc))
                raise self._error from None
            self._opened = True
        return self.session.fit(scenario)

    async def close(self) -> None:
        await self.session.close()
