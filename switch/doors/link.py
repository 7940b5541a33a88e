"""The switch's links to an MQTT broker: its address, socket options, and staying connected.

Strategy: broker trouble is never a crash. Each connection of the switch (the MQTT door, the
journal's stray watcher) runs one session at a time in ``keep_connected``, which waits with a
growing, jittered backoff after each loss and starts over until it is told to stop. The backoff
starts again from the shortest only after a connection that stayed up ``STABLE_AFTER`` seconds: a
session that is dropped as soon as it connects (another client taking over its client id, a
broker refusing it) backs off instead of hammering the broker.

What a person reads: each loss is explained by its cause (``trouble``) — nothing listens at the
address, the broker refused the login and with which code, the broker closed a session that was up,
or closed it again right after it was made (the one case where another client using the same client
id is the likely reason). ``TroubleLog`` says each cause once, when it changes, not at every retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from switch.doors.liveness import Deaf
from switch.errors import ConfigError

__all__ = ["NODELAY", "BrokerAddress", "Trouble", "TroubleLog", "keep_connected", "parse_broker_url", "read_until",
           "trouble"]

# paho leaves Nagle on; with delayed ACKs every request/response round trip then costs ~40-90 ms.
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
FIRST_BACKOFF, LONGEST_BACKOFF = 0.2, 5.0
STABLE_AFTER = 10.0  # seconds connected after which the next loss waits the shortest backoff again


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]`` (port 1883 when omitted)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp"):
        raise ConfigError(f"broker URL {url!r}: scheme must be mqtt://")
    if not parts.hostname:
        raise ConfigError(f"broker URL {url!r} has no host")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise ConfigError(f"broker URL {url!r}: {exc}") from None
    return BrokerAddress(parts.hostname, port, unquote(parts.username) if parts.username else None,
                         unquote(parts.password) if parts.password else None)


async def keep_connected(session: Callable[[Callable[[], None]], Awaitable[None]], stop: asyncio.Event,
                         lost: Callable[[aiomqtt.MqttError, float, float | None], None], *,
                         first: float = FIRST_BACKOFF, longest: float = LONGEST_BACKOFF,
                         stable_after: float = STABLE_AFTER) -> None:
    """Run ``session(up)`` again after each broker error until ``stop`` is set.

    The session calls ``up()`` once it is connected; a loss after ``stable_after`` seconds of that
    waits ``first`` again, an earlier one waits twice the last wait (at most ``longest``, with
    jitter). ``lost(error, seconds, up_for)`` hears each loss before the wait: ``up_for`` is how long
    the session had been up, None when it never came up.
    """
    backoff = first
    connected_at: float | None = None

    def up() -> None:
        nonlocal connected_at
        connected_at = time.monotonic()

    while not stop.is_set():
        try:
            await session(up)
        except aiomqtt.MqttError as exc:
            up_for = None if connected_at is None else time.monotonic() - connected_at
            if up_for is not None and up_for >= stable_after:
                backoff = first
            connected_at = None
            lost(exc, backoff, up_for)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, longest) * random.uniform(0.9, 1.1)


async def read_until(stop: asyncio.Event, reading: Awaitable[None]) -> None:
    """Run ``reading`` until ``stop`` is set; a broker error it meets is raised here."""
    reader = asyncio.ensure_future(reading)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not reader.done():
            reader.cancel()
    if reader.done() and not reader.cancelled() and reader.exception() is not None:
        raise reader.exception()  # type: ignore[misc]


# CONNACK's refusals: MQTT 3.1.1's return codes (what the switch speaks), and MQTT 5's other reason codes.
_REFUSALS = {1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
             4: "bad user name or password", 5: "not authorised", 137: "server busy", 138: "banned",
             140: "bad authentication method"}
_LOGIN = {4, 5, 138, 140}  # the broker does not accept this login
_AS_3_1_1 = {132: 1, 133: 2, 136: 3, 134: 4, 135: 5}  # paho reports a 3.1.1 return code as its MQTT 5 reason code


@dataclass(frozen=True, slots=True)
class Trouble:
    """Why a session to the broker ended, for a person: ``key`` names the cause, ``text`` says it in one line.

    ``broker_wide`` troubles (nothing listens, the login is refused) are the same for every connection
    of the switch to that broker; the others belong to one session.
    """

    key: str
    text: str
    broker_wide: bool = False


def _os_error(exc: BaseException) -> OSError | None:
    """The operating system's error behind ``exc``: aiomqtt and the tap raise their own ``from None``, which
    keeps it as the context."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def connack_code(exc: BaseException) -> int | None:
    """The broker's CONNACK refusal code behind ``exc``, if it refused the connection."""
    code = getattr(exc, "connack", None)  # switch.doors.tap.TapError
    if isinstance(exc, MqttConnectError):
        code = exc.rc
    if code is None:
        return None
    value = getattr(code, "value", code)  # paho's ReasonCode, or a plain int
    return _AS_3_1_1.get(value, value) if isinstance(value, int) else None


def trouble(exc: BaseException, broker: BrokerAddress, client_id: str, up_for: float | None,
            before: str | None = None, stable_after: float = STABLE_AFTER) -> Trouble:
    """Why the session ended, with what to check; ``before`` is the key of the loss before this one."""
    where = broker.where
    code = connack_code(exc)
    if code is not None:
        reason = _REFUSALS.get(code, "refused")
        who = f"the login of user {broker.username!r}" if broker.username else "an anonymous login"
        if code in _LOGIN:
            check = ("check the user name and password the switch logs in with (--broker "
                     "mqtt://USER:PASSWORD@HOST:PORT, or its user in --access DIR's users.yaml) and that the "
                     "broker's password file and ACL have that user" if broker.username else
                     "the broker wants a login: pass --broker mqtt://USER:PASSWORD@HOST:PORT, or --access DIR")
            return Trouble(f"login {code}", f"the broker at {where} refused {who}: {reason} (CONNACK code "
                           f"{code}); {check}. Retrying until it accepts", broker_wide=True)
        return Trouble(f"refused {code}", f"the broker at {where} refused the connection of client id "
                       f"{client_id!r}: {reason} (CONNACK code {code}). Retrying until it accepts", broker_wide=True)
    error = _os_error(exc)
    if up_for is None and isinstance(error, ConnectionRefusedError):
        return Trouble("connection refused", f"cannot reach the broker at {where}: connection refused. Is the "
                       "broker running, and is that its host and port? Retrying until it answers", broker_wide=True)
    if up_for is None and error is not None:
        why = "no answer in time" if isinstance(error, TimeoutError) else (
            error.strerror or str(error) or type(error).__name__)
        return Trouble(f"unreachable {why}", f"cannot reach the broker at {where}: {why}. Check the host and "
                       "port; retrying until it answers", broker_wide=True)
    if isinstance(exc, Deaf):  # connected, but hears nothing: not even its own probe
        return Trouble("deaf", f"the session of client id {client_id!r} on {where} is deaf ({exc}); reconnecting")
    if up_for is not None:
        if before in ("closed", "taken over") and up_for < stable_after:
            return Trouble("taken over", f"the broker at {where} closed the connection again {up_for:.1f} s after "
                           f"it was made: another client is probably using the client id {client_id!r}, and each "
                           "connection takes the session from the other. Give each client its own id, or tie client "
                           "ids to logins (gongji-switch mosquitto-config); reconnecting")
        return Trouble("closed", f"the broker at {where} closed the connection ({exc}); reconnecting")
    return Trouble(f"other {exc}", f"cannot connect to the broker at {where} ({exc}); retrying")


class TroubleLog:
    """Says why a connection to the broker was lost, once per change of cause: a broker that stays down, or
    keeps refusing the login, is one line however long it takes, not one per retry.

    A connection that stayed up ``stable_after`` seconds starts afresh: its loss is news even for the same
    cause. ``quiet_broker_wide`` logs the troubles every connection to the broker shares at DEBUG, for a
    second connection whose first one says them already.
    """

    def __init__(self, log: logging.Logger, broker: BrokerAddress, client_id: str, *, level: int = logging.WARNING,
                 prefix: str = "", quiet_broker_wide: bool = False, stable_after: float = STABLE_AFTER) -> None:
        self.log = log
        self.broker = broker
        self.client_id = client_id
        self.level = level
        self.prefix = prefix
        self.quiet_broker_wide = quiet_broker_wide
        self.stable_after = stable_after
        self.last: str | None = None
        self._said_unreached = False  # a broker-wide trouble was said: say when the broker is reached again

    def __call__(self, exc: aiomqtt.MqttError, retry_in: float, up_for: float | None) -> Trouble:
        if up_for is not None and up_for >= self.stable_after:
            self.last = None
        found = trouble(exc, self.broker, self.client_id, up_for, self.last, self.stable_after)
        if found.key == self.last or (found.broker_wide and self.quiet_broker_wide):
            self.log.debug("%s%s (again: next try in %.1f s)", self.prefix, found.text, retry_in)
        else:
            self.log.log(self.level, "%s%s", self.prefix, found.text)
            self._said_unreached = found.broker_wide
        self.last = found.key
        return found

    def up(self) -> None:
        """The session is up: after a broker-wide trouble was said, say that it is over (at the same level)."""
        if self._said_unreached:
            self._said_unreached = False
            self.log.log(self.level, "%sconnected to the broker at %s again", self.prefix, self.broker.where)
