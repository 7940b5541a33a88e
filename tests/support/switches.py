"""The switch under test: in-process (same event loop as the test) or as a real subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from switch.bootstrap import Settings, running
from switch.doors.mqtt import MqttDoor
from switch.service.clock import VirtualClock
from switch.service.handling import SettlementSwitch
from terminal.clients.mqtt import SwitchClient

__all__ = ["InProcessSwitch", "SwitchProcess", "in_process_switch"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class InProcessSwitch:
    switch: SettlementSwitch
    adapter: MqttDoor
    url: str
    root: str
    http: str = ""  # the HTTP door's base URL, e.g. http://127.0.0.1:40123

    @property
    def clock(self) -> VirtualClock:
        assert isinstance(self.switch.clock, VirtualClock)
        return self.switch.clock

    def client(self, channel: str, sender: str = "admin", **kw: object) -> SwitchClient:
        return SwitchClient(self.url, channel, sender, root=self.root, **kw)  # type: ignore[arg-type]

    def pos(self, terminal: str = "T1", fixmedins_code: str = "P37050000001", **kw: object) -> SwitchClient:
        return self.client("pos", terminal, fixmedins_code=fixmedins_code, **kw)


@asynccontextmanager
async def in_process_switch(url: str, root: str, db: Path, clock: str = "virtual",
                            **settings: object) -> AsyncIterator[InProcessSwitch]:
    settings.setdefault("http", "127.0.0.1:0")  # every test switch has its HTTP door, on a free port
    config = Settings(broker=url, db=db, clock=clock, topic_root=root, **settings)  # type: ignore[arg-type]
    async with running(config) as run:
        await run.ready(10)
        yield InProcessSwitch(run.service, run.mqtt, url, root, run.http.url if run.http is not None else "")


class SwitchProcess:
    """``python -m switch serve`` as a child process; ``ready`` once it printed its ready line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        # A free port for the HTTP door unless the test names one: tests run beside other switches.
        http = () if "--http" in args else ("--http", "127.0.0.1:0")
        self.args = [sys.executable, "-m", "switch", "serve", *args, *http]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.stderr_lines: list[str] = []
        self.ready = threading.Event()

    def start(self, timeout: float = 20.0) -> SwitchProcess:
        self.launch()
        if not self.ready.wait(timeout):
            self.kill()
            raise RuntimeError("switch did not become ready:\n" + "".join(self.stderr_lines[-30:]))
        return self

    def launch(self) -> SwitchProcess:
        """Start it without waiting: ``ready`` is set once it printed its ready line (a switch whose broker
        is not there yet keeps trying, and says why on stderr)."""
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.ready = threading.Event()
        self.ready_line = ""

        def read_stdout() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if "ready" in line:
                    self.ready_line = line.strip()
                    self.ready.set()

        threading.Thread(target=read_stdout, daemon=True).start()
        return self

    @property
    def http_url(self) -> str:
        """The HTTP door's base URL, read from the ready line (``http http://127.0.0.1:PORT/``)."""
        found = re.search(r"http (http://\S+?)/?,", self.ready_line)
        assert found is not None, self.ready_line
        return found.group(1)

    def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def mosquitto_config(directory: Path, root: str, port: int, terminals: tuple[str, ...],
                     apps: tuple[str, ...]) -> str:
    """Write access files with the real command line, as an operator runs it; its output."""
    args = [sys.executable, "-m", "switch", "mosquitto-config", str(directory), "--topic-root", root,
            "--listen", f"127.0.0.1:{port}", "--admin-password", "admin-pw"]
    for terminal in terminals:
        args += ["--terminal", terminal]
    for app in apps:
        args += ["--app", app]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    return done.stdout
