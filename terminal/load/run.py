"""One load run from start to finish: broker and responder up, population loaded, fleet run, books checked.

The run starts what it is not given — a broker (mosquitto, or the embedded amqtt in a process of
its own) and the switch (or the echo responder) as child processes, so each one's CPU is its own —
and stops them afterwards. Against a switch that is already running it only loads its population
(upserting the same people every time) and checks the books with ``admin.audit``. Given a switch's
HTTP door (``http``) it drives that running switch there: admin on ``POST /gongji/v1/admin``, the
fleet in the national form; with ``http_door`` it starts a switch (on a broker, as always) and drives
that switch's HTTP door the same way.
"""

from __future__ import annotations

import asyncio
import resource
import secrets
import sqlite3
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switch.doors.link import parse_broker_url
from switch.wire.topics import DEFAULT_ROOT
from terminal.clients.admin import Admin, HttpAdmin
from terminal.clients.http import HttpStatus, Unreachable
from terminal.clients.mqtt import NoAnswer, no_switch_under
from terminal.load.fleet import Fleet, FleetConfig
from terminal.load.population import Population, build_population
from terminal.load.procs import (
    Child,
    amqtt_process,
    cpu_seconds,
    echo_process,
    free_port,
    mosquitto_process,
    rss_mb,
    switch_process,
    temp_dir,
)
from terminal.load.stats import Stats

__all__ = ["LoadPlan", "NoSwitch", "load_population", "probe_switch", "run_load"]

LOADS_IN_FLIGHT = 4  # admin.load chunks sent before the first answer: decide one while another commits
PROBE_SECONDS = 3.0  # a switch answers admin.clock in milliseconds; silence this long means none is there


class NoSwitch(RuntimeError):
    """No switch answered on the broker and topic root given: the message says what to check."""


async def probe_switch(admin: Admin | HttpAdmin, url: str) -> None:
    """Ask a running switch the time before loading anything, so a wrong broker or root fails in seconds."""
    try:
        answer = await admin.request("admin.clock", {}, timeout=PROBE_SECONDS)
    except NoAnswer:
        if isinstance(admin, HttpAdmin):
            raise NoSwitch(f"no switch answered at {url} within {PROBE_SECONDS:g} s") from None
        raise NoSwitch(no_switch_under(url, admin.root)) from None
    except (Unreachable, HttpStatus) as exc:
        raise NoSwitch(str(exc)) from None
    if answer.get("code") == "UNAUTHORIZED":
        switch = f"the switch at {url}" if isinstance(admin, HttpAdmin) else f"the switch on {url} under {admin.root}"
        if admin.token:
            raise NoSwitch(f"admin token wrong: the one given with --admin-token is not the one {switch} was started "
                           "with (its --admin-token)")
        raise NoSwitch(f"{switch} requires its admin token: pass it with --admin-token (the switch's --admin-token)")


@dataclass(frozen=True)
class LoadPlan:
    fleet: FleetConfig = field(default_factory=FleetConfig)
    people: int = 1_000
    families: int = 200
    prefix: str = "LD"
    broker: str | None = None  # a running broker; None: start one
    embedded: bool = False  # the broker started is amqtt (the embedded one) instead of mosquitto
    spawn_switch: bool | None = None  # None: start one exactly when the broker was started here
    echo: bool = False  # the echo responder instead of the switch
    root: str | None = None  # None: DEFAULT_ROOT on a running switch, a fresh root otherwise
    admin_token: str | None = None
    switch_log_level: str = "INFO"
    # The traffic journal's {root}/# watcher receives every message a second time; load tests measure
    # the settlement path, so the switch started here runs with --journal-max 0 unless asked.
    switch_journal: bool = False
    db: Path | None = None  # the spawned switch's ledger; None: a temporary file
    http: str | None = None  # a running switch's HTTP door: the fleet and admin go there, nothing is started
    http_door: bool = False  # start a switch (and a broker unless given) and drive its HTTP door
    verify: bool = True
    broker_pid: int | None = None  # a running broker whose CPU to measure too (the bench's own)
    # Other running processes to measure, by name: the switch or echo behind an HTTP door given as ``http``.
    watch: dict[str, int] = field(default_factory=dict)

    @property
    def spawns_switch(self) -> bool:
        if self.http_door:
            return True
        if self.http is not None:
            return False
        return not self.echo and (self.spawn_switch if self.spawn_switch is not None else self.broker is None)


async def load_population(admin: Admin | HttpAdmin, population: Population) -> dict[str, Any]:
    """Load every chunk with a few in flight; the figures of the load."""
    chunks = list(population.chunks())
    gate = asyncio.Semaphore(LOADS_IN_FLIGHT)
    started = time.perf_counter()

    async def one(chunk: dict[str, Any]) -> None:
        async with gate:
            await admin.call("admin.load", chunk, timeout=120)

    await asyncio.gather(*(one(c) for c in chunks))
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "people": population.people, "bindings": population.bindings,
            "chunks": len(chunks), "people_per_s": round(population.people / seconds) if seconds else None}


async def _counts(admin: Admin | HttpAdmin, population: Population) -> dict[str, int]:
    """The switch's global counts, asked about one person so the answer stays small."""
    anyone = (population.singles or population.families[0].members)[0]
    return dict((await admin.state(anyone))["counts"])


def _cpu(pids: dict[str, int]) -> dict[str, float | None]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    sample = {name: cpu_seconds(pid) for name, pid in pids.items()}
    sample["load generator"] = usage.ru_utime + usage.ru_stime
    return sample


async def run_load(plan: LoadPlan, on_tick: Callable[[Stats], None] | None = None,
                   on_phase: Callable[[str], None] | None = None,
                   on_fleet: Callable[[dict[str, int]], None] | None = None) -> dict[str, Any]:
    """Run ``plan``; returns the figures (``stats``, ``cpu_percent``, ``load``, ``audit``, ``rss_mb``...).

    ``on_fleet`` is told the process ids measured (``switch``, ``echo``, ``broker``...) as the fleet starts.
    """
    phase = on_phase or (lambda text: None)
    run_id = f"L{secrets.token_hex(3)}"
    population = build_population(plan.people, plan.families, plan.prefix)
    result: dict[str, Any] = {"responder": "echo" if plan.echo else "switch", "run_id": run_id}
    with ExitStack() as stack:
        children: dict[str, Child] = {}
        url, root, ledger = _start(plan, Path(stack.enter_context(temp_dir())), stack, children, phase, run_id,
                                   result)
        http = url if plan.http_door else plan.http
        result.update(root=root, people=population.people, families=len(population.families),
                      terminals=plan.fleet.terminals,
                      # over HTTP each till keeps a connection of its own alive
                      connections=plan.fleet.terminals if http else
                      -(-plan.fleet.terminals // plan.fleet.per_connection),
                      rate=plan.fleet.rate, full_checkout=plan.fleet.full_checkout)
        responder = children["switch"].pid if "switch" in children else plan.watch.get("switch")
        admin_line = (HttpAdmin(url, token=plan.admin_token, timeout=30) if http else
                      Admin(url, root=root, token=plan.admin_token, timeout=30))
        async with admin_line as admin:
            before: dict[str, int] = {}
            if not (plan.echo or plan.spawns_switch):
                phase("asking the switch the time")
                await probe_switch(admin, url)
            if not plan.echo:
                if responder is not None:
                    result["rss_before_load_mb"] = round((rss_mb(responder) or (0.0, 0.0))[0], 1)
                phase(f"loading {population.people:,} people, {len(population.families):,} families")
                cpu_before = cpu_seconds(responder) if responder is not None else None
                result["load"] = await load_population(admin, population)
                cpu_after = cpu_seconds(responder) if responder is not None else None
                if cpu_before is not None and cpu_after is not None:  # steadier than seconds on a busy machine
                    result["load"]["switch_cpu_s"] = round(cpu_after - cpu_before, 2)
                if responder is not None:
                    result["rss_after_load_mb"] = round((rss_mb(responder) or (0.0, 0.0))[0], 1)
                if plan.verify:
                    before = await _counts(admin, population)
            broker = None if http else parse_broker_url(url)
            fleet = Fleet(broker, root, population, plan.fleet, run_id, http=http)
            phase("running the fleet")
            stats = await _measure(plan, fleet, children, on_tick, result, on_fleet)
            if responder is not None:
                rss, peak = rss_mb(responder) or (0.0, 0.0)
                result["rss_mb"], result["rss_peak_mb"] = round(rss, 1), round(peak, 1)
            if not plan.echo and plan.verify:
                phase("checking the books")
                await _check_books(admin, population, before, stats, result)
            if ledger is not None and plan.switch_journal:  # the books' audit committed every row before it
                result["journal_rows"] = _journal_rows(ledger)
    return result


def _journal_rows(ledger: Path) -> int:
    with closing(sqlite3.connect(ledger)) as db:  # WAL: read beside the running switch
        return int(db.execute("SELECT count(*) FROM journal").fetchone()[0])


def _start(plan: LoadPlan, tmp: Path, stack: ExitStack, children: dict[str, Child], phase: Callable[[str], None],
           run_id: str, result: dict[str, Any]) -> tuple[str, str, Path | None]:
    """The broker and the responder the plan needs, started (and stopped with ``stack``); (url, root, the
    ledger of a switch started here)."""

    def start(child: Child) -> Child:
        phase(f"starting {child.name}")
        child.start()
        stack.callback(child.stop)
        children[child.name] = child
        return child

    if plan.http is not None:
        result["broker"] = f"HTTP door {plan.http}"
        return plan.http, "", None
    if plan.broker is None:
        url = start(amqtt_process(tmp) if plan.embedded else mosquitto_process(tmp)).url
        result["broker"] = "amqtt (embedded broker, own process)" if plan.embedded else "mosquitto"
    else:
        url = parse_broker_url(plan.broker).url
        result["broker"] = url
    spawned = plan.echo or plan.spawns_switch
    root = plan.root or (f"gongji-load/{run_id}" if spawned else DEFAULT_ROOT)
    if plan.echo:
        start(echo_process(tmp, url, root))
    elif plan.spawns_switch:
        db = plan.db or tmp / "ledger.db"
        switch = start(switch_process(tmp, url, root, db, plan.switch_log_level,
                                      () if plan.switch_journal else ("--journal-max", "0"),
                                      http_port=free_port() if plan.http_door else 0))
        if plan.http_door:
            result["broker"] = f"HTTP door of a switch started here (its broker: {result['broker']})"
            return switch.url, root, db
        return url, root, db
    return url, root, None


async def _measure(plan: LoadPlan, fleet: Fleet, children: dict[str, Child],
                   on_tick: Callable[[Stats], None] | None, result: dict[str, Any],
                   on_fleet: Callable[[dict[str, int]], None] | None = None) -> Stats:
    """Run the fleet; its figures and every process's CPU share go into ``result``."""
    pids = {name: child.pid for name, child in children.items()}
    pids.update(plan.watch)
    if plan.broker_pid is not None:
        pids["broker"] = plan.broker_pid
    if on_fleet is not None:
        on_fleet(pids)
    cpu_before = _cpu(pids)
    started = time.perf_counter()
    stats = await fleet.run(on_tick)
    elapsed = time.perf_counter() - started
    cpu_after = _cpu(pids)
    result["stats"] = stats.summary()
    used = {name: cpu_after[name] - cpu_before[name] for name in cpu_after  # type: ignore[operator]
            if cpu_after[name] is not None and cpu_before[name] is not None}
    result["cpu_percent"] = {name: round(cpu / elapsed * 100, 1) for name, cpu in used.items()}
    # CPU time per round trip: steadier than rates on a machine shared with other work.
    result["cpu_us_per_request"] = {name: round(cpu / max(stats.requests, 1) * 1e6)
                                    for name, cpu in used.items()}
    return stats


async def _check_books(admin: Admin | HttpAdmin, population: Population, before: dict[str, int], stats: Stats,
                       result: dict[str, Any]) -> None:
    """The audit, and whether the switch counted what the fleet saw settled and undone."""
    result["audit"] = await admin.audit()
    after = await _counts(admin, population)
    result["counts"] = {"settled": after["settlements"] - before["settlements"],
                        "undone": after["undone"] - before["undone"]}
    result["counts_match"] = result["counts"] == {"settled": stats.settled - stats.undone,
                                                  "undone": stats.undone}
