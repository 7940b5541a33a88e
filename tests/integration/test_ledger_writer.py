"""The ledger writer process: commits on disk before they return, its death fails writes, it dies with the switch."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from switch.core.model import Person, PutPerson
from switch.core.policy import packaged_policies
from switch.store import Commit, SqliteStore, StoreError, StoreOpenError


def _people(first: int, n: int) -> Commit:
    return Commit(tuple(PutPerson(Person(f"W{i:06d}", "写入", "310", "370500", "active", {"01": f"QRW{i:05d}"}))
                        for i in range(first, first + n)), None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has ended, only not yet reaped
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


async def test_commits_are_on_disk_when_they_return_and_pipelined_in_order(tmp_path: Path) -> None:
    """Three commits sent without waiting all land, in order; another connection sees every row once each returns."""
    db = tmp_path / "ledger.db"
    store = SqliteStore(db)
    await store.open()
    assert store.writer.pid is not None and store.writer.pid != os.getpid()
    await asyncio.gather(store.commit([_people(0, 5)]), store.commit([_people(5, 5)]), store.commit([_people(10, 1)]))
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT count(*) FROM people WHERE psn_no LIKE 'W%'").fetchone() == (11,)
    assert await store.prune_replies("9999") == 0  # a write that reports its row count
    await store.close()
    assert store.writer.pid is None


async def test_a_writer_that_died_fails_every_write_with_one_line(tmp_path: Path) -> None:
    """Killing the writer turns the next commit into a StoreError that says so; nothing half-written is claimed."""
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    await store.commit([_people(0, 2)])
    pid = store.writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(StoreError) as failed:
        for _ in range(50):  # the pipe may take a moment to report the end
            await store.commit([_people(2, 1)])
            await asyncio.sleep(0.05)
    assert str(failed.value).startswith("commit failed: the ledger writer process ended")
    await store.close()


_HOLDER = """
import asyncio, sys
from switch.store import SqliteStore
async def main():
    store = SqliteStore(sys.argv[1])
    await store.open()
    print(store.writer.pid, flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""


def test_the_writer_dies_with_a_killed_switch_and_frees_the_ledger(tmp_path: Path) -> None:
    """SIGKILL of the switch's process ends its writer too, so a restarted switch can lock the ledger."""
    db = tmp_path / "ledger.db"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        writer = int(holder.stdout.readline())
        assert _alive(writer)

        async def second_open() -> None:
            await SqliteStore(db).open()

        with pytest.raises(StoreOpenError, match="in use by another switch"):
            asyncio.run(second_open())
        holder.kill()
        holder.wait(10)
        deadline = time.monotonic() + 10
        while _alive(writer) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(writer)
    finally:
        holder.kill()

    async def reopen() -> int:
        store = SqliteStore(db)
        await store.open()
        await store.commit([_people(0, 3)])
        state, _ = await store.load(packaged_policies())
        await store.close()
        return len(state.people)

    assert asyncio.run(reopen()) == 3
