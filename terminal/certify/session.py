"""A conformance run: the switch (started here or running already), the population, each case played and judged.

Strategy: every case gets a day of its own on the switch's virtual clock and everyone's starting
balance, so no case leans on another's leftovers; the fault a case needs is armed for the till alone
(``match.terminal_id``: the terminal over MQTT, the institution over HTTP) and cleared after it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from switch.bootstrap import Running, Settings, running
from switch.doors.broker import port_taken_in
from switch.wire.topics import DEFAULT_ROOT
from terminal.certify.cases import Case, all_cases
from terminal.certify.driver import Worker
from terminal.certify.journal_http import DEFAULT_SWITCH_HTTP, HttpTraffic
from terminal.certify.judges import Verdict, Watched
from terminal.certify.population import load_input
from terminal.certify.traffic import Exchange, JournalTraffic
from terminal.clients.admin import AdminCalls, admin_client
from terminal.clients.mqtt import Refused
from terminal.clients.pace import parse_switch_time
from terminal.clients.state import CHINA
from terminal.errors import TerminalError

__all__ = ["CertifyError", "Options", "Result", "certify"]

START = datetime(2026, 11, 25, 9, 0, tzinfo=CHINA)
LATE_MARGIN = 1.0  # seconds after a late answer's time before its exchange is read (a busy host is slow)


class CertifyError(TerminalError):
    """The run cannot go on; the message is the one line to print."""


@dataclass(frozen=True)
class Options:
    door: str = "mqtt"
    terminal: str = "POS-01"
    fixmedins: str = "P37050200001"
    broker: str | None = None  # a running switch's broker
    http: str | None = None  # a running switch's HTTP door
    db: Path | None = None  # a running switch's ledger, for its traffic journal (else read over HTTP)
    own_broker: str | None = None  # the switch started here uses this broker (else an embedded one)
    token: str | None = None
    root: str = DEFAULT_ROOT
    late_after: float = 10.0
    only: tuple[str, ...] = ()
    workdir: Path = Path("certify-report")
    switch_http: str | None = None  # a running switch's HTTP door, for its journal (default: --http, or :8080)

    @property
    def sender(self) -> str:
        """Who the switch sees sending: the terminal over MQTT, the institution over the national door."""
        return self.terminal if self.door == "mqtt" else self.fixmedins

    def cases(self) -> list[Case]:
        cases = all_cases(self.late_after)
        known = {c.id for c in cases}
        unknown = [c for c in self.only if c not in known]
        if unknown:
            raise CertifyError(f"--case {unknown[0]!r}: no such case (one of {', '.join(sorted(known))})")
        return [c for c in cases if not self.only or c.id in self.only]


@dataclass
class Result:
    case: Case
    verdict: Verdict
    exchanges: list[Exchange] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Target:
    admin: AdminCalls
    traffic: JournalTraffic
    till_url: str  # where the till connects: the broker or the HTTP door


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT_TRIES = 3


async def _own_switch(stack: AsyncExitStack, opts: Options, db: Path) -> Running:
    """The switch certify starts, on its embedded broker; another port when the one just found was taken.

    A free port is found by binding and letting go, so another program (another certify run at the
    same moment, in CI) may take it first: the broker's ``PortTaken`` then means try again.
    """
    def settings() -> Settings:
        return Settings(broker=opts.own_broker, listen=f"127.0.0.1:{_free_port()}", db=db, clock="virtual",
                        clock_start=START, topic_root=opts.root, http="127.0.0.1:0", admin_token=opts.token)

    for _ in range(PORT_TRIES - 1):
        try:
            return await stack.enter_async_context(running(settings()))
        except Exception as exc:
            if opts.own_broker is not None or port_taken_in(exc) is None:
                raise
    return await stack.enter_async_context(running(settings()))


@asynccontextmanager
async def target(opts: Options) -> AsyncIterator[Target]:
    """The switch to certify against: a running one (``--broker``/``--http``) or one started here."""
    if opts.broker or opts.http:
        if opts.door == "http" and not opts.http:
            raise CertifyError("--http: --door http against a running switch needs its HTTP door's URL")
        if opts.door == "mqtt" and not opts.broker:
            raise CertifyError("--broker: --door mqtt against a running switch needs its broker's URL")
        url = opts.http if opts.door == "http" else opts.broker
        assert url is not None
        line = admin_client(url, root=opts.root, token=opts.token)
        try:
            await line.__aenter__()
        except aiomqtt.MqttError as exc:
            raise CertifyError(f"cannot reach the broker {url}: {exc}") from None
        try:
            # the journal is read at --switch-http, else at the door's --http over HTTP: the hint names that option
            option = "--http" if opts.door == "http" and not opts.switch_http else "--switch-http"
            traffic = JournalTraffic(opts.db, opts.sender) if opts.db is not None else \
                HttpTraffic(opts.switch_http or opts.http or DEFAULT_SWITCH_HTTP, opts.sender, opts.door, opts.token,
                            option)
            await traffic.mark()  # a journal that cannot be read is one line before the first case
            yield Target(line, traffic, url)
        finally:
            await line.__aexit__(None, None, None)
        return
    opts.workdir.mkdir(parents=True, exist_ok=True)
    db = opts.workdir / "certify.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    async with AsyncExitStack() as stack:
        run = await _own_switch(stack, opts, db)
        if not await run.ready(20):
            raise CertifyError("the switch stopped before it was ready")
        store = run.service.store
        write = getattr(store, "write_journal", None)
        url = run.http.url if opts.door == "http" and run.http is not None else run.broker_url
        async with admin_client(url, root=opts.root, token=opts.token) as admin:
            yield Target(admin, JournalTraffic(db, opts.sender, write), url)


NOT_VIRTUAL = "the switch's clock is not virtual: start it with --clock virtual (each case runs on a day of its own)"


async def _virtual_clock(admin: AdminCalls) -> None:
    """Refuse a switch on the system clock before anything is loaded on it: every case needs a day of its own."""
    try:
        clock = await admin.clock()
    except Refused as exc:
        raise CertifyError(f"admin.clock refused: {exc.code} ({exc.err_msg})") from None
    if clock.get("virtual") is not True:
        raise CertifyError(NOT_VIRTUAL)


async def _new_day(admin: AdminCalls) -> str:
    """Move the switch clock to 09:00 of the next day (China time); the day's date."""
    try:
        now = parse_switch_time(str((await admin.clock())["now"])).astimezone(CHINA)
        day = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        await admin.clock(set=day)
    except Refused as exc:
        if exc.code == "CLOCK_NOT_VIRTUAL":
            raise CertifyError(NOT_VIRTUAL) from None
        raise CertifyError(f"admin.clock refused: {exc.code} ({exc.err_msg})") from None
    return f"{day:%Y-%m-%d}"


def _armed(case: Case, sender: str) -> list[dict[str, Any]]:
    return [{**rule, "match": {**rule["match"], "terminal_id": sender}} for rule in case.faults]


async def _play(opts: Options, t: Target, worker: Worker, case: Case, run: list[Exchange]) -> Result:
    started = time.monotonic()
    date = await _new_day(t.admin)
    await t.admin.call("admin.load", load_input(bindings=False))
    mark = await t.traffic.mark()
    if case.faults:
        await t.admin.call("admin.faults", {"rules": _armed(case, opts.sender)})
    try:
        answers = await worker.play(case.instruction(date))
    finally:
        if case.faults:
            await t.admin.call("admin.faults", {"rules": []})
    if case.late:  # the late answer goes out this long after the request: read the case once it has
        await asyncio.sleep(max(0.0, started + case.late + LATE_MARGIN - time.monotonic()))
    exchanges = await t.traffic.since(mark)
    run.extend(exchanges)
    verdict = case.judge(Watched(opts.door, opts.fixmedins, exchanges, tuple(run), answers))
    return Result(case, verdict, exchanges, answers, time.monotonic() - started)


async def certify(opts: Options, worker: Worker, on_cards: Callable[[str], None],
                  on_result: Callable[[Result], None]) -> list[Result]:
    """Play every case with ``worker`` at the till; ``on_result`` hears each verdict as it is reached."""
    cases = opts.cases()
    results: list[Result] = []
    async with target(opts) as t:
        await _virtual_clock(t.admin)  # before the population is loaded: a refused run leaves the switch as it was
        try:
            await t.admin.call("admin.load", load_input(bindings=True))
        except Refused as exc:
            raise CertifyError(f"admin.load of the test population refused: {exc.code} ({exc.err_msg})") from None
        on_cards(t.till_url)
        kind = "terminal" if opts.door == "mqtt" else "institution"
        await worker.start({"type": "hello", "door": opts.door, "switch": t.till_url, "topic_root": opts.root,
                            "terminal_id": opts.terminal, "fixmedins_code": opts.fixmedins,
                            "sender": opts.sender, "sender_kind": kind})
        run: list[Exchange] = []
        try:
            for case in cases:
                if opts.door not in case.doors:
                    result = Result(case, Verdict("n/a", case.why_not))
                else:
                    result = await _play(opts, t, worker, case, run)
                results.append(result)
                on_result(result)
        finally:
            await worker.stop()
    return results
