"""Soaks: the switch at half its maximum rate for many minutes, or distinct lookups against its replies table.

``--minutes M`` runs the operators' soak: mosquitto and ``gongji-switch serve`` with its defaults (the
traffic journal aside, as in every load run), 10,000 people, 64 tills at half the rate a short run
at full speed reached, for M minutes; every ``--every`` seconds it samples the switch's RSS and the
p99 of the answers of that interval, and says at the end whether both stayed flat
(``terminal.load.soakrun``). Without ``--minutes``, the idempotency soak below.

Every answer is recorded under its msgid for ``--idempotency-hours`` of the switch's clock. The soak
starts ``gongji-switch serve`` (embedded broker, a virtual clock running ``--speed`` times real
time, a fresh ledger), sends ``--requests`` lookups with distinct msgids from one terminal, and
prints the switch's resident memory and the rows of its replies table every ``--every`` requests.
With a retention of a minute of switch time at speed 60, an answer is kept about a real second, so
memory and the table stay flat; with the default 24 hours they grow with every request.
``python -m terminal.load.soak [--requests 60000] [--retention-hours 0.0167] [--speed 60]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from terminal.clients.mqtt import SwitchClient
from terminal.load.procs import free_port, rss_mb

__all__ = ["main", "soak"]

QUERY = {"mdtrt_cert_type": "01", "mdtrt_cert_no": "nobody"}


def _wait_ready(switch: subprocess.Popen[str]) -> None:
    """Until the switch prints its ready line (subscribed: nothing sent from then on is lost)."""
    assert switch.stdout is not None
    for line in switch.stdout:
        if "ready" in line:
            return
    raise RuntimeError(f"the switch ended before it was ready (status {switch.wait()})")


def _replies(db: Path) -> int:
    with sqlite3.connect(db) as con:  # WAL: reading beside the switch is fine
        return int(con.execute("SELECT count(*) FROM replies").fetchone()[0])


async def _lookups(url: str, root: str, first: int, count: int, concurrency: int) -> None:
    """``count`` lookups with distinct msgids, ``concurrency`` at a time; each must be answered."""
    async with SwitchClient(url, "pos", "SOAK", root=root, fixmedins_code="P1", timeout=30) as pos:
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with gate:
                answer = await pos.request("1101", QUERY, msgid=f"soak-{n:07d}")
                if answer["code"] != "PERSON_NOT_FOUND":
                    raise RuntimeError(f"lookup {n}: {answer['code']}")

        await asyncio.gather(*(one(n) for n in range(first, first + count)))


def soak(requests: int, every: int, retention_hours: float, speed: float, concurrency: int) -> list[str]:
    """Run the soak; returns the printed table's lines."""
    home = Path(tempfile.mkdtemp(prefix="gongji-soak-"))
    db, port, root = home / "soak.db", free_port(), f"soak/{uuid.uuid4().hex[:8]}"
    switch = subprocess.Popen([sys.executable, "-m", "switch", "serve", "--listen", f"127.0.0.1:{port}",
                               "--db", str(db), "--clock", "virtual", "--clock-speed", str(speed),
                               "--idempotency-hours", str(retention_hours), "--topic-root", root,
                               "--journal-max", "0", "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    lines = [f"retention {retention_hours:g} h of switch time, clock speed {speed:g}: "
             f"{requests:,} distinct 1101 lookups",
             f"{'requests':>9} {'RSS MB':>7} {'replies rows':>12} {'seconds':>8}"]
    try:
        _wait_ready(switch)
        started = time.monotonic()
        url = f"mqtt://127.0.0.1:{port}"
        asyncio.run(_lookups(url, root, 0, 100, concurrency))  # warm up: imports, first connections
        for done in range(0, requests + 1, every):
            if done:
                asyncio.run(_lookups(url, root, done - every + 100, every, concurrency))
            rss = (rss_mb(switch.pid) or (0.0, 0.0))[0]
            lines.append(f"{done:>9,} {rss:>7.1f} {_replies(db):>12,} {time.monotonic() - started:>8.1f}")
            print(lines[-1], flush=True)
    finally:
        switch.terminate()
        switch.wait(30)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminal.load.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--every", type=int, default=10_000, help="sample after every N requests")
    parser.add_argument("--retention-hours", type=float, default=1 / 60, help="--idempotency-hours of the switch")
    parser.add_argument("--speed", type=float, default=60, help="virtual clock speed (60: a minute per second)")
    parser.add_argument("--concurrency", type=int, default=20, help="lookups in flight at once")
    parser.add_argument("--minutes", type=float, help="the half-rate soak instead, this long")
    parser.add_argument("--rate", type=float, help="with --minutes: this rate instead of half the maximum")
    parser.add_argument("--sample-seconds", type=float, default=60, help="with --minutes: sample every N s")
    parser.add_argument("--json", action="store_true", help="with --minutes: the figures as JSON")
    parser.add_argument("--markdown", action="store_true", help="with --minutes: the table as Markdown")
    parser.add_argument("--save", metavar="FILE", help="with --minutes: the figures as JSON into FILE as well")
    args = parser.parse_args(argv)
    if args.minutes is not None:
        from terminal.load.soakrun import main_half_rate

        return main_half_rate(args)
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt counts pending publishes out loud
    print(soak(args.requests, args.every, args.retention_hours, args.speed, args.concurrency)[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
