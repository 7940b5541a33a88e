"""The HTTP echo: the HTTP door's floor, on the same server library (aiohttp) as the switch's door.

It answers every POST at once with a fixed answer in the national platform's form, the size of a
settlement answer, and does the least a responder must: read the body and parse its JSON (a body
that is not JSON still gets the fixed answer). Keep-alive as the switch's door keeps it, no access
log. ``python -m terminal.load.http_echo --listen 127.0.0.1:PORT``; it prints a ready line.

``--durable FILE`` makes it the floor of a durable responder: each body is inserted into a SQLite
file (WAL, ``synchronous=FULL``, as the switch's ledger) and answered only once its commit returned,
commits grouped by one thread that takes whatever arrived while the last one was on disk. Against the
plain echo it shows what durability alone costs on a machine (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import queue
import sqlite3
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from switch.signals import stop_on_signals
from terminal.load.echo import FIXED_OUTPUT

__all__ = ["DurableRows", "national_answer", "serve_http_echo"]

_HEAD = ('{"infcode":0,"inf_refmsgid":"37050020261125100000000000001","refmsg_time":"20261125100000000",'
         '"respond_time":"20261125100000001","err_msg":null,"warn_msg":null,"cainfo":null,"signtype":null,'
         '"output":')


def national_answer(body: bytes) -> bytes:
    """The fixed answer (``code`` OK, the setlinfo of a settlement) once ``body`` is parsed."""
    try:
        json.loads(body)
    except ValueError:
        pass
    return (_HEAD + FIXED_OUTPUT + ',"code":"OK"}').encode()


class DurableRows:
    """One row per body in a SQLite file, committed in groups by a thread of its own; ``add`` waits for it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[tuple[bytes, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        self._thread = threading.Thread(target=self._run, args=(db,), name="durable-echo", daemon=True)
        self._thread.start()

    def add(self, body: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = self._loop.create_future()
        self._queue.put((body, done))
        return done

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self, db: sqlite3.Connection) -> None:
        try:
            while (first := self._queue.get()) is not None:
                batch, closing = [first], False
                while not self._queue.empty():
                    item = self._queue.get()
                    if item is None:
                        closing = True
                        break
                    batch.append(item)
                failed: sqlite3.Error | None = None
                try:
                    db.execute("BEGIN")
                    db.executemany("INSERT INTO bodies (body) VALUES (?)", [(body,) for body, _ in batch])
                    db.execute("COMMIT")
                except sqlite3.Error as exc:  # a full disk: these requests are answered 500, the next try again
                    failed = exc
                    if db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            db.execute("ROLLBACK")
                self._loop.call_soon_threadsafe(_settle, [done for _, done in batch], failed)
                if closing:
                    break
        finally:
            db.close()


def _settle(waiting: list[asyncio.Future[None]], failed: BaseException | None) -> None:
    for done in waiting:
        if not done.done():
            if failed is None:
                done.set_result(None)
            else:
                done.set_exception(failed)


def _answerer(rows: DurableRows | None) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def answer(request: web.Request) -> web.Response:
        body = await request.read()
        if rows is not None:
            await rows.add(body)
        return web.Response(body=national_answer(body), content_type="application/json", charset="utf-8")

    return answer


async def serve_http_echo(host: str, port: int, stop: asyncio.Event, durable: Path | None = None) -> int:
    """Listen on (host, port) until ``stop`` is set; says the port it got once listening.

    With ``durable``, every body is committed to that SQLite file before it is answered.
    """
    rows = DurableRows(durable) if durable is not None else None
    app = web.Application()
    app.router.add_route("POST", "/{path:.*}", _answerer(rows))
    runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=10)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        bound = int(runner.addresses[0][1])
        kind = f"durable http echo (commits to {durable})" if durable is not None else "http echo"
        print(f"{kind} ready on http://{host}:{bound}", flush=True)
        await stop.wait()
        await runner.cleanup()
    finally:
        if rows is not None:
            rows.close()
    return bound


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminal.load.http_echo", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT")
    parser.add_argument("--durable", type=Path, metavar="FILE",
                        help="commit every body to this SQLite file (WAL, synchronous=FULL) before answering")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        print(f"http echo: --listen {args.listen!r}: expected HOST:PORT", file=sys.stderr)
        return 2

    async def run() -> None:
        with stop_on_signals(asyncio.Event()) as stop:
            await serve_http_echo(host, int(port), stop, args.durable)

    try:
        asyncio.run(run())
    except sqlite3.Error as exc:
        print(f"http echo: cannot use {args.durable}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"http echo: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
