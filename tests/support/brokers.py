"""Real MQTT brokers for tests: embedded amqtt on its own thread, and Debian's mosquitto as a process."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from switch.doors.broker import EmbeddedBroker

__all__ = ["AmqttThread", "MosquittoProcess", "free_port", "wait_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class AmqttThread:
    """The embedded amqtt broker on a thread with its own event loop, shared by many tests."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._broker = EmbeddedBroker("127.0.0.1", self.port)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="amqtt")

    def start(self) -> AmqttThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._broker.start(), self._loop).result(10)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._broker.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class MosquittoProcess:
    """Debian's mosquitto on a free port; missing mosquitto is a failure, never a skip."""

    def __init__(self, extra_config: str = "", port: int | None = None) -> None:
        binary = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None)
        if binary is None:
            raise RuntimeError("mosquitto is not installed: install Debian's 'mosquitto' package "
                               "(.ci/run does this); broker tests need a real mosquitto")
        self.binary: str = binary
        self.port = port or free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="gongji-mosquitto-"))
        self.extra_config = extra_config
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MosquittoProcess:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(self.extra_config or (
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            "persistence false\nmax_queued_messages 100000\n"))
        self.log = open(self.dir / "mosquitto.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {(self.dir / 'mosquitto.log').read_text()}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        self.log.close()
