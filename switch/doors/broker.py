"""The embedded broker: amqtt in the switch's own process, so one command needs nothing installed.

With access files it also ties each client id to its login (``ClientIdIsLogin``). What that can and
cannot do: amqtt 0.12 looks up the session of a client id, and takes it over (or deletes it, for a
clean session), *before* its plugins authenticate the newcomer. So the plugin refuses anyone who
logs in under another id than their own user name, and such a client never holds the switch's
session or hears its requests; but its attempt still drops the switch's connection or leaves it
deaf, which the switch's door detects and repairs by reconnecting (``switch/doors/liveness.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

__all__ = ["ClientIdIsLogin", "EmbeddedBroker"]


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
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._broker = Broker(self._config())
        await self._broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
