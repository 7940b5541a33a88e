"""The ledger file at start: one switch per file, and one clear line (exit status 2) for any --db it cannot use."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from switch.store.sqlite import SqliteStore
from terminal.clients.mqtt import SwitchClient
from tests.support.brokers import free_port
from tests.support.families import ZIBO
from tests.support.switches import ROOT, SwitchProcess

pytestmark = pytest.mark.e2e


def serve_args(db: Path, root: str) -> list[str]:
    return [sys.executable, "-m", "switch", "serve", "--listen", f"127.0.0.1:{free_port()}", "--db", str(db),
            "--topic-root", root, "--clock", "virtual"]


async def test_a_second_switch_on_the_same_ledger_refuses_to_start(tmp_path: Path, topic_root: str) -> None:
    """The second serve exits 2 with one line naming the file and the first's pid; the first keeps serving."""
    db = tmp_path / "ledger.db"
    first = SwitchProcess(*serve_args(db, topic_root)[4:]).start()
    try:
        assert first.proc is not None
        second = subprocess.run(serve_args(db, topic_root + "-b"), cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
        assert str(db) in lines[0] and f"pid {first.proc.pid}, started 20" in lines[0], lines[0]
        journal = subprocess.run([sys.executable, "-m", "switch", "journal", "--db", str(db)], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
        assert journal.returncode == 0, journal.stderr
        url = first.ready_line.split("broker ")[1].split(" ")[0]
        async with SwitchClient(url, "admin", root=topic_root, timeout=10) as admin:
            assert (await admin.call("admin.load", ZIBO)) == {"people": 2, "bindings": 1}
    finally:
        first.kill()
    again = SwitchProcess(*serve_args(db, topic_root)[4:]).start()  # SIGKILL released the lock
    assert again.terminate() == 0


def _run_serve(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(serve_args(db, "gongji-test/bad-db"), cwd=ROOT, capture_output=True, text=True, timeout=60)


def _ledger(path: Path) -> None:
    async def make() -> None:
        store = SqliteStore(path)
        await store.open()
        await store.close()

    asyncio.run(make())


@contextmanager
def _immutable(path: Path) -> Iterator[None]:
    """chattr +i: not even root may write it (a real read-only mount needs privileges a test does not have)."""
    # Fail, not skip: a missing chattr (Debian's e2fsprogs, which .ci/run checks) must not hide this case.
    assert shutil.which("chattr") is not None, "chattr is missing: install Debian's e2fsprogs"
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, f"chattr +i {path} failed: {done.stderr.strip()}"
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def _random(d: Path) -> Path:
    (d / "x.db").write_bytes(os.urandom(8192))
    return d / "x.db"


def _text(d: Path) -> Path:
    (d / "x.db").write_text("ledger\n" * 500)
    return d / "x.db"


def _directory(d: Path) -> Path:
    (d / "x.db").mkdir()
    return d / "x.db"


def _foreign(d: Path) -> Path:
    with sqlite3.connect(d / "x.db") as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
    return d / "x.db"


BAD: list[tuple[str, Callable[[Path], Path], str]] = [
    ("missing directory", lambda d: d / "nowhere" / "ledger.db", "does not exist"),
    ("random bytes", _random, "not a SQLite database"),
    ("text file", _text, "not a SQLite database"),
    ("directory", _directory, "is a directory"),
    ("another program's database", _foreign, "another program"),
]


@pytest.mark.parametrize(("make", "says"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_an_unusable_db_is_one_line_and_status_2(tmp_path: Path, make: Callable[[Path], Path], says: str) -> None:
    """Each unusable --db ends serve with exit status 2 and one line saying what is wrong, no traceback."""
    db = make(tmp_path)
    result = _run_serve(db)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("gongji-switch: ") and says in lines[0] and str(db) in lines[0], lines[0]


@pytest.mark.parametrize("db", [".", "..", ""], ids=["dot", "dotdot", "empty"])
def test_a_db_that_names_a_directory_without_a_name_is_one_line_and_status_2(tmp_path: Path, db: str) -> None:
    """--db . (or .., or "") is a directory like --db /tmp: the same one line, not a traceback from the lock file."""
    (tmp_path / "here").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # run from elsewhere, with this checkout's packages
    command = [*serve_args(Path("x"), "gongji-test/bad-db")[:6], "--db", db, "--http", "off"]
    result = subprocess.run(command, cwd=tmp_path / "here", env=env, capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stdout + result.stderr
    assert lines[0].startswith("gongji-switch: cannot open ledger ") and "is a directory" in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"] and not any((tmp_path / "here").iterdir())


def test_an_immutable_ledger_or_directory_is_one_line_and_status_2(tmp_path: Path) -> None:
    """An unwritable ledger (SQLITE_READONLY), or a directory where no file can be made: one line, status 2."""
    db = tmp_path / "ledger.db"
    _ledger(db)
    with _immutable(db):
        result = _run_serve(db)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "readonly database (SQLITE_READONLY)" in result.stderr
    locked = tmp_path / "locked"
    locked.mkdir()
    with _immutable(locked):
        result = _run_serve(locked / "ledger.db")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot create the lock file" in result.stderr and "Operation not permitted" in result.stderr


def test_a_second_serve_on_the_same_port_and_ledger_names_the_ledgers_holder(tmp_path: Path) -> None:
    """Two serves, same --listen and --db: the second names the ledger's pid (not the port), exit 2, one line."""
    db, listen = tmp_path / "gongji.db", f"127.0.0.1:{free_port()}"
    first = SwitchProcess("--listen", listen, "--db", str(db), "--clock", "virtual").start()
    try:
        assert first.proc is not None
        second = subprocess.run([sys.executable, "-m", "switch", "serve", "--listen", listen, "--db", str(db),
                                 "--clock", "virtual"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        lines = second.stderr.strip().splitlines()
        assert second.returncode == 2 and len(lines) == 1, second.stderr
        assert f"ledger {db} is in use by another switch (pid {first.proc.pid}, started 20" in lines[0], lines[0]
        assert "broker" not in lines[0] and listen not in lines[0], lines[0]
    finally:
        assert first.terminate() == 0
