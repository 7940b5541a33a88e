"""The HTTP echo: the HTTP door's floor, on the same server library (aiohttp) as the switch's door.

It answers every POST at once with a fixed answer in the national platform's form, the size of a
settlement answer, and does the least a responder must: read the body and parse its JSON (a body
that is not JSON still gets the fixed answer). Keep-alive as the switch's door keeps it, no access
log. ``python -m terminal.load.http_echo --listen 127.0.0.1:PORT``; it prints a ready line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from aiohttp import web

from switch.signals import stop_on_signals
from terminal.load.echo import FIXED_OUTPUT

__all__ = ["national_answer", "serve_http_echo"]

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


async def _answer(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(body=national_answer(body), content_type="application/json", charset="utf-8")


async def serve_http_echo(host: str, port: int, stop: asyncio.Event) -> int:
    """Listen on (host, port) until ``stop`` is set; says the port it got once listening."""
    app = web.Application()
    app.router.add_route("POST", "/{path:.*}", _answer)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=10)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = int(runner.addresses[0][1])
    print(f"http echo ready on http://{host}:{bound}", flush=True)
    await stop.wait()
    await runner.cleanup()
    return bound


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminal.load.http_echo", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        print(f"http echo: --listen {args.listen!r}: expected HOST:PORT", file=sys.stderr)
        return 2

    async def run() -> None:
        with stop_on_signals(asyncio.Event()) as stop:
            await serve_http_echo(host, int(port), stop)

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"http echo: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
