"""What the tools print is true: demo --stay runs on real time, serve's ready line appears once, and serve
stops cleanly when its whole process group is signalled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from switch.service.clock import CST
from terminal.clients.admin import Admin
from tests.support.brokers import free_port
from tests.support.switches import ROOT

pytestmark = pytest.mark.e2e


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text()
        if text in content:
            return content
        assert proc.poll() is None, content
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} within {timeout} s:\n{path.read_text()}")


def test_the_ready_line_appears_once_when_stdout_and_stderr_share_a_file(tmp_path: Path) -> None:
    """serve > log 2>&1 at --log-level INFO: one "gongji-switch ready" line in the log, not two."""
    log = tmp_path / "switch.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "switch", "serve", "--listen", f"127.0.0.1:{free_port()}",
                                 "--db", str(tmp_path / "ledger.db"), "--log-level", "INFO"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(log, "gongji-switch ready", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        content = log.read_text()
        assert content.count("gongji-switch ready") == 1, content
        assert "ledger loaded: 0 people" in content and "stopped cleanly" in content
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_listen_on_port_0_says_and_uses_the_port_it_got(tmp_path: Path) -> None:
    """serve --listen 127.0.0.1:0: the ready line names the free port the embedded broker took, and a client
    there is answered (the doors used to connect to 1883 instead, for ever)."""
    log = tmp_path / "switch.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "switch", "serve", "--listen", "127.0.0.1:0", "--http", "off",
                                 "--db", str(tmp_path / "ledger.db")], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        content = await asyncio.to_thread(_wait_for, log, "gongji-switch ready", proc)
        url = content.split("gongji-switch ready: broker ")[1].split()[0]
        assert url.startswith("mqtt://127.0.0.1:") and url != "mqtt://127.0.0.1:0", content
        assert "1883" not in content
        async with Admin(url, timeout=10) as admin:
            assert (await admin.clock())["virtual"] is False
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_demo_stay_moves_the_clock_to_real_time(tmp_path: Path) -> None:
    """demo --fast --stay: the clock it says is at real time reads real China time and runs at speed 1."""
    log, root = tmp_path / "demo.log", "gongji-test/stay"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from terminal.cli import main; sys.exit(main())",
                                 "demo", "--fast", "--stay", "--root", root], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        content = await asyncio.to_thread(_wait_for, log, "Ctrl-C stops it", proc, 60)
        url = content.split("The switch stays up on ")[1].split()[0]
        async with Admin(url, root=root) as admin:
            clock = await admin.clock()
        now = datetime.fromisoformat(clock["now"])
        assert abs((now - datetime.now(CST)).total_seconds()) < 5, clock
        assert (clock["virtual"], clock["speed"]) == (True, 1.0)
        printed = datetime.combine(now.date(), datetime.strptime(
            content.split("clock at real time: ")[1][:8], "%H:%M:%S").time(), CST)
        assert abs((now - printed).total_seconds()) < 5, content
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "service-stop"])
def test_a_signal_to_the_whole_process_group_stops_serve_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C in a terminal (SIGINT) or a service manager (SIGTERM) signals every process of the group, the
    ledger writer too: serve still commits what it holds, says "stopped cleanly", exits 0, and leaves no process."""
    log = tmp_path / "switch.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "switch", "serve", "--listen", f"127.0.0.1:{free_port()}",
                                 "--db", str(tmp_path / "ledger.db"), "--log-level", "INFO"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(log, "gongji-switch ready", proc)
        writers = _children(proc.pid)
        assert writers, "serve runs its ledger writer as a child process"
        os.killpg(proc.pid, sig)
        assert proc.wait(30) == 0, log.read_text()
        content = log.read_text()
        assert "stopped cleanly" in content and "Traceback" not in content and "StoreError" not in content, content
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{w}").exists() for w in writers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(Path(f"/proc/{w}").exists() for w in writers)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
