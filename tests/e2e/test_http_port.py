"""`serve --http`: a taken port is one line with a free one to pass and exit 2; `--http off` has no HTTP door."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.brokers import free_port
from tests.support.switches import SwitchProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other web server listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def test_a_taken_http_port_is_one_line(taken_port: int, tmp_path: Path) -> None:
    """exit 2, one line naming the address, a free --http to pass instead and --http off; nothing else said."""
    done = subprocess.run([sys.executable, "-m", "switch", "serve", "--listen", f"127.0.0.1:{free_port()}",
                           "--http", f"127.0.0.1:{taken_port}", "--db", str(tmp_path / "l.db")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"gongji-switch: 127.0.0.1:{taken_port} is taken")
    assert lines[0].endswith("or --http off for no HTTP door")
    suggested = int(lines[0].split("--http 127.0.0.1:")[1].split()[0])
    with socket.socket() as probe:  # the suggestion works: nothing listens there
        probe.bind(("127.0.0.1", suggested))
    assert list(tmp_path.iterdir()) == []  # the ledger it had created is removed again, with its lock file


def test_a_bad_http_address_is_one_line(tmp_path: Path) -> None:
    """--http 8080 (no host): exit 2 and one line saying HOST:PORT or off."""
    done = subprocess.run([sys.executable, "-m", "switch", "serve", "--listen", f"127.0.0.1:{free_port()}",
                           "--http", "8080", "--db", str(tmp_path / "l.db")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "gongji-switch: --http '8080': expected HOST:PORT (e.g. 127.0.0.1:8080) or off")


def test_http_off_runs_mqtt_only(tmp_path: Path) -> None:
    """--http off: the ready line names no HTTP door, and the switch still stops cleanly."""
    switch = SwitchProcess("--listen", f"127.0.0.1:{free_port()}", "--http", "off", "--db",
                           str(tmp_path / "l.db")).start()
    try:
        assert "topics gongji/v1/, db" in switch.ready_line and "http://" not in switch.ready_line
    finally:
        assert switch.terminate() == 0
