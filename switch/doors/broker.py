"""The embedded broker: amqtt in the switch's own process, so one command needs nothing installed."""

from __future__ import annotations

import logging
from typing import Any

from amqtt.broker import Broker

__all__ = ["EmbeddedBroker"]


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
