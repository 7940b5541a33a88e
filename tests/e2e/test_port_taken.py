"""A port already taken (mosquitto on 1883, an earlier switch) is one line with what to pass instead, exit 2."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from switch.core.model import Person, PutPerson
from switch.store.base import Commit
from switch.store.sqlite import SqliteStore

pytestmark = pytest.mark.e2e

SWITCH = [sys.executable, "-c", "import sys; from switch.cli import main; sys.exit(main())"]
TERMINAL = [sys.executable, "-c", "import sys; from terminal.cli import main; sys.exit(main())"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on, as mosquitto does on 1883."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, done.stdout + done.stderr
    assert "Traceback" not in lines[0] and "amqtt" not in lines[0]
    return lines[0]


def test_serve_on_a_taken_port_says_so_in_one_line(taken_port: int, tmp_path: Path) -> None:
    """serve: exit 2 and one line naming the port, another --listen that is free, and --broker for the one there;
    the new ledger it had opened (and its lock file) is removed again."""
    done = _run([*SWITCH, "serve", "--listen", f"127.0.0.1:{taken_port}", "--db", f"{tmp_path}/ledger.db"])
    assert done.returncode == 2
    line = _one_line(done)
    assert line.startswith(f"gongji-switch: 127.0.0.1:{taken_port} is taken")
    assert f"--broker mqtt://127.0.0.1:{taken_port} to use the broker already there" in line
    suggested = int(line.split("--listen 127.0.0.1:")[1].split()[0])
    assert suggested > taken_port
    with socket.socket() as probe:  # the suggestion works: nothing listens there
        probe.bind(("127.0.0.1", suggested))
    assert list(tmp_path.iterdir()) == []


def test_a_ledger_that_was_there_stays_when_the_port_is_taken(taken_port: int, tmp_path: Path) -> None:
    """Only a ledger the failed serve created is removed: one that existed keeps its file, its people and its
    lock file."""
    db = tmp_path / "ledger.db"

    async def make() -> None:
        store = SqliteStore(db)
        await store.open()
        person = Person("DH", "张伟", "310", "370500", "active", {"01": "QRDH"})
        await store.commit([Commit((PutPerson(person),), None)])
        await store.close()

    asyncio.run(make())
    before = sorted(p.name for p in tmp_path.iterdir())
    done = _run([*SWITCH, "serve", "--listen", f"127.0.0.1:{taken_port}", "--db", str(db)])
    assert done.returncode == 2 and "is taken" in _one_line(done)
    assert sorted(p.name for p in tmp_path.iterdir()) == before == ["ledger.db", "ledger.db.lock"]
    with sqlite3.connect(db) as ledger:
        assert ledger.execute("SELECT psn_no FROM people").fetchall() == [("DH",)]


def test_demo_on_a_taken_port_says_so_in_one_line(taken_port: int) -> None:
    """demo: exit 2 and the same one line, without amqtt's tracebacks."""
    done = _run([*TERMINAL, "demo", "--fast", "--listen", f"127.0.0.1:{taken_port}"])
    assert done.returncode == 2
    line = _one_line(done)
    assert f"127.0.0.1:{taken_port} is taken" in line
    assert int(line.split("--listen 127.0.0.1:")[1].split()[0]) > taken_port
    assert f"--broker mqtt://127.0.0.1:{taken_port}" in line
