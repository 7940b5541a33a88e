"""The embedded broker: amqtt in the switch's own process, so one command needs nothing installed.

With access files it also ties each client id to its login (``ClientIdIsLogin``). What that can and
cannot do: amqtt 0.12 looks up the session of a client id, and takes it over (or deletes it, for a
clean session), *before* its plugins authenticate the newcomer. So the plugin refuses anyone who
logs in under another id than their own user name, and such a client never holds the switch's
session or hears its requests; but its attempt still drops the switch's connection or leaves it
deaf, which the switch's door detects and repairs by reconnecting (``switch/doors/liveness.py``).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from switch.errors import ConfigError

__all__ = ["ClientIdIsLogin", "EmbeddedBroker", "PortTaken", "port_taken_in"]

AMQTT_LOGGERS = ("amqtt", "transitions")


class PortTaken(ConfigError):
    """The embedded broker's address is in use; the message says what to pass instead."""


def port_taken_in(exc: BaseException | None) -> PortTaken | None:
    """The ``PortTaken`` behind ``exc`` (itself or a cause of it), if a taken port is why it failed."""
    while exc is not None:
        if isinstance(exc, PortTaken):
            return exc
        exc = exc.__cause__
    return None


class ClientIdIsLogin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """An amqtt authentication plugin: a client's id must be its user name (as mosquitto's
    ``use_username_as_clientid`` makes it), so no account can speak under the switch's id or another's."""

    async def authenticate(self, *, session: Session) -> bool | None:
        if not session.username or session.client_id != session.username:
            self.context.logger.warning("refused client id %r of user %r: a client id must be its user name",
                                        session.client_id, session.username)
            return False
        return True


class EmbeddedBroker:
    """An MQTT 3.1.1 broker on ``host:port`` (anonymous, loopback by default).

    ``plugins`` replaces the anonymous default, e.g. with the password file and ACLs of
    ``switch.doors.access.amqtt_plugins``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, plugins: dict[str, Any] | None = None) -> None:
        self.host = host
        self.port = port
        self.plugins = plugins
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 0}},
            # Only anonymous auth: amqtt's event/packet loggers and $SYS publisher are noise here.
            "plugins": self.plugins or {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    async def start(self) -> None:
        """Listen on ``host:port``; ``PortTaken`` (or another ``ConfigError``) in one line when it cannot.

        Port 0 asks for a free one: it is chosen here, so ``url`` (what the doors connect to and the ready
        line says) names the port the broker really listens on.
        """
        if self.port == 0:
            with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as probe:
                probe.bind((self.host, 0))
                self.port = int(probe.getsockname()[1])
        for name in AMQTT_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        broker = Broker(self._config())
        try:
            with _silenced(AMQTT_LOGGERS):
                await broker.start()
        except Exception as exc:
            raise self._explain(exc) from exc
        self._broker = broker

    def _explain(self, exc: BaseException) -> ConfigError:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        where = f"{self.host}:{self.port}"
        if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
            return PortTaken(f"{where} is taken (by mosquitto, or another switch?): pass --listen "
                             f"{self.host}:{free_port_after(self.host, self.port)} for another port, or "
                             f"--broker mqtt://{where} to use the broker already there")
        if isinstance(cause, OSError):
            return ConfigError(f"cannot listen on {where}: {cause.strerror or cause}")
        return ConfigError(f"cannot start the embedded broker on {where}: {exc}")

    async def stop(self, deliver_seconds: float = 3.0) -> None:
        """Deliver what the broker holds for its subscribers (at most ``deliver_seconds``), then shut it down.

        amqtt's shutdown drops every message not yet sent on ("N messages not broadcasted"): the answers the
        doors published just before the switch stopped would never reach their terminals.
        """
        broker = self._broker
        if broker is None:
            return
        queue = getattr(broker, "_broadcast_queue", None)  # amqtt 0.12's; without it, shut down at once
        sending = getattr(broker, "_tasks_queue", ())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deliver_seconds
        while queue is not None and loop.time() < deadline and (
                not queue.empty() or any(not task.done() for task in sending)):
            await asyncio.sleep(0.005)
        await broker.shutdown()
        self._broker = None


def free_port_after(host: str, port: int, tries: int = 50) -> int:
    """The first port above ``port`` that ``host`` can listen on now (a suggestion, not a reservation)."""
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        with socket.socket() as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return port + 1


@contextmanager
def _silenced(names: tuple[str, ...]) -> Iterator[None]:
    """amqtt logs its own start-up failure with a traceback; the error raised instead says it in one line."""
    # ``disabled`` is per logger (a parent's does not stop its children): set it on every amqtt.* one.
    prefixes = tuple(f"{name}." for name in names)
    loggers = [logging.getLogger(name) for name in dict.fromkeys([*names, *logging.root.manager.loggerDict])
               if name in names or name.startswith(prefixes)]
    before = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, was in zip(loggers, before, strict=True):
            logger.disabled = was
