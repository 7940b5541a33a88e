"""The processes a load run starts — a broker, the switch, the echo responder — and their CPU and memory.

Each runs as a child process, so the CPU it uses is its own and is read from ``/proc`` (Linux;
elsewhere the figures are simply absent). ``python -m terminal.load.procs amqtt HOST:PORT`` runs the
embedded broker on its own, so echo and switch runs through it are measured the same way as
through mosquitto.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from switch.signals import until_signalled

__all__ = ["Child", "amqtt_process", "cpu_seconds", "echo_process", "free_port", "http_echo_process",
           "mosquitto_process", "rss_mb", "switch_process"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its live children so far (the switch's ledger writer is
    one); None where /proc is not available."""
    fields = _stat(pid)
    if fields is None:
        return None
    total = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (child := _stat(int(entry.name))) is not None and child[1] == str(pid):
            total += int(child[11]) + int(child[12])  # child[1]: the parent's pid (field 4 of stat)
    return total / _TICK


def rss_mb(pid: int) -> tuple[float, float] | None:
    """(resident memory now, its peak) in MB, from /proc/PID/status."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    values = {k: int(v.split()[0]) / 1024 for k, _, v in (line.partition(":") for line in lines)
              if k in ("VmRSS", "VmHWM")}
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class Child:
    """A child process, ready once ``ready()`` says so; its output goes to a log file."""

    def __init__(self, name: str, args: list[str], log_dir: Path, ready: Callable[[Child], bool],
                 env: dict[str, str] | None = None, url: str = "") -> None:
        self.name, self.args, self.ready, self.url = name, args, ready, url
        self.log_path = log_dir / f"{name}.log"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> Child:
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child holds it; closed with the process
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=log, env=self.env)
        log.close()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self.ready(self):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-2_000:]
                raise RuntimeError(f"{self.name} did not start ({' '.join(self.args)}):\n{tail}")
            time.sleep(0.05)
        return self

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def said(self, word: str) -> bool:
        return any(word in line for line in self.lines)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def mosquitto_process(log_dir: Path, port: int | None = None) -> Child:
    """Debian's mosquitto on a free port, TCP_NODELAY on, configured as the test suite runs it."""
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None)
    if binary is None:
        raise RuntimeError("mosquitto is not installed (Debian: apt-get install mosquitto); "
                           "use --embedded for the embedded broker")
    port = port or free_port()
    conf = log_dir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                    "persistence false\nmax_queued_messages 100000\n")
    return Child("mosquitto", [binary, "-c", str(conf)], log_dir, lambda c: _port_open(port),
                 url=f"mqtt://127.0.0.1:{port}")


def amqtt_process(log_dir: Path, port: int | None = None) -> Child:
    """The embedded broker (amqtt) alone in a process of its own."""
    port = port or free_port()
    return Child("amqtt", [sys.executable, "-m", "terminal.load.procs", "amqtt", f"127.0.0.1:{port}"], log_dir,
                 lambda c: c.said("ready") and _port_open(port), url=f"mqtt://127.0.0.1:{port}")


def switch_process(log_dir: Path, broker_url: str, root: str, db: Path, log_level: str = "INFO",
                   extra: tuple[str, ...] = (), http_port: int = 0) -> Child:
    """``gongji-switch serve`` on that broker, as operators run it (system clock, WAL, synchronous=FULL);
    its HTTP door on ``http_port`` (0: any free one, for runs that do not use it)."""
    client_id = f"gongji-load-{os.getpid()}-{root.replace('/', '-')}"
    args = [sys.executable, "-m", "switch", "serve", "--broker", broker_url, "--topic-root", root,
            "--db", str(db), "--log-level", log_level, "--client-id", client_id,
            "--http", f"127.0.0.1:{http_port}", *extra]
    return Child("switch", args, log_dir, lambda c: c.said("ready"),
                 url=f"http://127.0.0.1:{http_port}" if http_port else "")


def echo_process(log_dir: Path, broker_url: str, root: str) -> Child:
    args = [sys.executable, "-m", "terminal.load.echo", "--broker", broker_url, "--root", root]
    return Child("echo", args, log_dir, lambda c: c.said("ready"))


def http_echo_process(log_dir: Path, port: int | None = None, durable: Path | None = None) -> Child:
    """The HTTP echo (``terminal.load.http_echo``) on a free port: the HTTP door's floor; with ``durable``,
    each body committed to that SQLite file before its answer."""
    port = port or free_port()
    args = [sys.executable, "-m", "terminal.load.http_echo", "--listen", f"127.0.0.1:{port}",
            *(("--durable", str(durable)) if durable is not None else ())]
    return Child("echo", args, log_dir, lambda c: c.said("ready") and _port_open(port),
                 url=f"http://127.0.0.1:{port}")


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="gongji-load-")


def _amqtt_main(listen: str) -> int:
    import asyncio

    from switch.doors.broker import EmbeddedBroker

    host, _, port = listen.rpartition(":")

    async def serve() -> None:
        broker = EmbeddedBroker(host or "127.0.0.1", int(port))
        await broker.start()
        print(f"amqtt ready on {listen}", flush=True)
        await until_signalled()
        await broker.stop()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "amqtt":
        sys.exit(_amqtt_main(sys.argv[2]))
    print("usage: python -m terminal.load.procs amqtt HOST:PORT", file=sys.stderr)
    sys.exit(2)
