"""The HTTP echo floors as processes: the durable echo commits each body before answering, and
``gongji-terminal load --http URL --echo`` drives an echo already listening there."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import aiohttp
import pytest

from terminal.load.http_echo import national_answer
from terminal.load.procs import Child, http_echo_process
from tests.support.switches import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture
def durable_echo(tmp_path: Path) -> Iterator[tuple[Child, Path]]:
    rows = tmp_path / "rows.db"
    echo = http_echo_process(tmp_path, durable=rows).start()
    try:
        yield echo, rows
    finally:
        echo.stop()


def _bodies(path: Path) -> list[bytes]:
    with closing(sqlite3.connect(path)) as db:
        return [bytes(row[0]) for row in db.execute("SELECT body FROM bodies ORDER BY id")]


async def test_the_durable_echo_answers_each_body_once_it_is_in_the_file(durable_echo: tuple[Child, Path]) -> None:
    """Each POST's body is a row of the SQLite file (WAL) by the time its fixed answer arrives, in order;
    twenty at once are all there when the last answer is."""
    echo, rows = durable_echo
    async with aiohttp.ClientSession() as session:
        first = b'{"infno":"2102","msgid":"m-1","input":{}}'
        async with session.post(f"{echo.url}/fsi/api/rsfComIfsService/callService", data=first) as response:
            assert response.status == 200 and await response.read() == national_answer(first)
        assert _bodies(rows) == [first]
        many = [f'{{"msgid":"m-{n}"}}'.encode() for n in range(2, 22)]

        async def post(body: bytes) -> bytes:
            async with session.post(f"{echo.url}/csb/2102", data=body) as answered:
                return await answered.read()

        answers = await asyncio.gather(*(post(body) for body in many))
    assert answers == [national_answer(body) for body in many]
    stored = _bodies(rows)
    assert stored[0] == first and sorted(stored[1:]) == sorted(many) and len(stored) == 21
    with closing(sqlite3.connect(rows)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def _run(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120"})
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_load_drives_an_http_echo_at_a_url(durable_echo: tuple[Child, Path]) -> None:
    """load --http URL --echo: no population loaded, no books checked, every answer the echo's OK, and every
    settlement the tills sent is a row of the durable echo's file."""
    echo, rows = durable_echo
    code, out, err = await _run("terminal", "load", "--http", echo.url, "--echo", "--terminals", "4",
                                "--per-connection", "2", "--count", "20", "--people", "20", "--families", "4",
                                "--json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["responder"] == "echo" and "load" not in result and "audit" not in result
    stats = result["stats"]
    assert (stats["timeouts"], stats["unexpected"]) == (0, {}) and set(stats["codes"]) == {"OK"}
    assert stats["requests"] == sum(stats["codes"].values()) == len(_bodies(rows)) >= 20


async def test_the_durable_echo_says_in_one_line_when_it_cannot_open_its_file(tmp_path: Path) -> None:
    """A --durable file in a directory that does not exist: one line naming it, exit 2, no traceback."""
    missing = tmp_path / "nowhere" / "rows.db"
    code, out, err = await _run("terminal.load.http_echo", "--listen", "127.0.0.1:0", "--durable", str(missing))
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip() == f"http echo: cannot use {missing}: unable to open database file"


async def test_load_over_http_refuses_a_broker_flag_in_one_line() -> None:
    """--http URL with --embedded: nothing starts; one line says what --http drives and what to drop."""
    code, out, err = await _run("terminal", "load", "--http", "http://127.0.0.1:9", "--echo", "--embedded")
    assert code == 2 and out == ""
    assert err == ("gongji-terminal load: --http drives what already answers at that URL (a switch's HTTP door, "
                   "or with --echo an HTTP echo); drop --embedded\n")
