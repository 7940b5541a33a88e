"""The composition root: clock, store, policies, broker, doors and loops wired together, run, stopped.

``running(settings)`` is the one way a switch runs: ``gongji-switch serve``, the demo, the scenario
runner and the test fixtures all enter it and get a ``Running`` handle (the service, the broker's
URL, the clock, the doors); leaving it stops everything in order (doors first, so what is in
flight is answered, then the loops, the store and an embedded broker).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from switch.core.policy import Policy, PolicyFileError, load_policy_file, packaged_policies
from switch.doors.access import DEFAULT_LISTEN, SWITCH_USER, amqtt_plugins, read_access
from switch.doors.broker import EmbeddedBroker
from switch.doors.http import HttpDoor, parse_http_address
from switch.doors.journal_http import journal_route
from switch.doors.link import BrokerAddress, parse_broker_url
from switch.doors.mqtt import MqttDoor
from switch.errors import ConfigError
from switch.journal.hints import DEFAULT_MAX_ROWS, Journal, JournalWriter
from switch.journal.recording import flush_journal, journaled
from switch.journal.watch import StrayWatcher
from switch.service.clock import Clock, ClockRangeError, SystemClock, VirtualClock
from switch.service.delivery import Serve, serving, sweep_windows
from switch.service.faults import FaultFileError, load_fault_file
from switch.service.handling import SettlementSwitch
from switch.service.heap import freeze_state, keep_young
from switch.signals import stop_on_signals
from switch.store.archive import KEEP
from switch.store.sqlite import SqliteStore
from switch.wire.inputs import Clock as ClockChange
from switch.wire.topics import DEFAULT_ROOT, checked_root

__all__ = ["Door", "Running", "Settings", "build_switch", "client_id", "make_clock", "policies_from", "running",
           "serve"]

log = logging.getLogger("gongji")
MAX_IDEMPOTENCY_HOURS = 24 * 366  # a year: longer is memory for nothing (and timedelta has its limits)


@dataclass(frozen=True)
class Settings:
    """Everything a switch is started with; ``gongji-switch serve``'s options and their defaults."""

    broker: str | None = None  # None: start the embedded broker on ``listen``
    listen: str = DEFAULT_LISTEN
    db: Path = Path("gongji.db")
    clock: str = "system"
    clock_start: datetime | None = None  # a virtual clock's start (None: now); only with clock "virtual"
    clock_speed: Decimal | None = None  # a virtual clock's speed (None: 0, frozen); only with clock "virtual"
    topic_root: str = DEFAULT_ROOT
    admin_token: str | None = None
    policy: Path | None = None
    client_id: str | None = None
    journal_max: int = DEFAULT_MAX_ROWS  # rows of traffic journal kept; 0 keeps none
    faults: Path | None = None  # fault rules in force from the start (admin.faults can change them)
    access: Path | None = None  # users and ACLs written by `mosquitto-config`: enforced by the embedded broker
    http: str = "127.0.0.1:8080"  # the HTTP door's HOST:PORT (port 0: any free one), or "off"
    idempotency_hours: float = 24.0  # how long (switch time) a msgid's answer is kept and replayed
    keep: int = KEEP  # of settlements, answers, spending rows, visits and sign-ins, the newest kept in memory


def policies_from(path: Path | None) -> list[Policy]:
    """The packaged starting set, with a policy file's entries added or replacing by name."""
    policies = {p.name: p for p in packaged_policies()}
    if path is not None:
        try:
            for p in load_policy_file(path):
                policies[p.name] = p
        except PolicyFileError as exc:
            raise ConfigError(str(exc)) from exc
    return list(policies.values())


def make_clock(settings: Settings) -> Clock:
    if settings.clock == "system":
        # The system clock cannot be set or sped up: an option that would do it is a mistake to say, not ignore.
        for option, given in (("--clock-start", settings.clock_start), ("--clock-speed", settings.clock_speed)):
            if given is not None:
                raise ConfigError(f"{option} sets a virtual clock, and this switch runs the system clock: "
                                  f"add --clock virtual")
        return SystemClock()
    if settings.clock == "virtual":
        try:  # admin.clock's own rules: a start with its time zone, a speed from 0 to 10,000
            ClockChange(set=settings.clock_start, speed=settings.clock_speed)
        except ValidationError as exc:
            error = exc.errors()[0]
            why = error["msg"].removeprefix("Value error, ")
            if error["loc"] == ("set",):  # the message shows the time
                raise ConfigError(f"--clock-start: {why}") from None
            raise ConfigError(f"--clock-speed: {why}, not {settings.clock_speed}") from None
        try:
            clock = VirtualClock(settings.clock_start)
            clock.change(speed=settings.clock_speed)  # and not so fast that it passes the clock's end
        except ClockRangeError as exc:
            raise ConfigError(f"--clock-{'speed' if exc.field == 'speed' else 'start'}: {exc}") from None
        return clock
    raise ConfigError(f"--clock must be 'system' or 'virtual', not {settings.clock!r}")


def build_switch(settings: Settings, on_fatal: Callable[[BaseException], None] | None = None) -> SettlementSwitch:
    checked_root(settings.topic_root)  # before any topic or subscription is built under it
    if settings.journal_max < 0:
        raise ConfigError(f"--journal-max must be 0 (no journal) or more, not {settings.journal_max}")
    journal = Journal(settings.journal_max) if settings.journal_max else None
    try:
        faults = load_fault_file(settings.faults) if settings.faults is not None else []
    except FaultFileError as exc:
        raise ConfigError(str(exc)) from exc
    if not 0 < settings.idempotency_hours <= MAX_IDEMPOTENCY_HOURS:  # also refuses NaN
        raise ConfigError(f"--idempotency-hours must be more than 0 and at most {MAX_IDEMPOTENCY_HOURS}, "
                          f"not {settings.idempotency_hours}")
    if settings.keep < 1:
        raise ConfigError(f"--keep must be 1 or more, not {settings.keep}")
    institutions = read_access(settings.access).institutions if settings.access is not None else {}
    return SettlementSwitch(SqliteStore(settings.db, journal, settings.keep), make_clock(settings),
                            policies_from(settings.policy), settings.admin_token, on_fatal, faults,
                            institutions=institutions, retention=timedelta(hours=settings.idempotency_hours))


def _listen_address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise ConfigError(f"--listen {listen!r}: expected HOST:PORT") from None


class Door(Protocol):
    """A transport into the service: it turns what it hears into ``Serve`` calls and sends what it is given."""

    name: str
    connected: asyncio.Event  # set while the door can hear requests

    def describe(self) -> str: ...  # for the ready line, e.g. "topics gongji/v1/"

    def publish_events(self, events: list[bytes]) -> None: ...

    async def run(self, stop: asyncio.Event) -> None: ...  # until ``stop``, answering what is in flight


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


@dataclass
class Running:
    """A switch that runs: what its users need to talk to it, watch it and wait for it."""

    settings: Settings
    service: SettlementSwitch
    broker: BrokerAddress
    embedded: bool
    stop: asyncio.Event
    fatal: list[BaseException]
    doors: list[Door] = field(default_factory=list)
    watcher: StrayWatcher | None = None
    door_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _watched: bool = False

    @property
    def clock(self) -> Clock:
        return self.service.clock

    @property
    def broker_url(self) -> str:
        return self.broker.url

    @property
    def mqtt(self) -> MqttDoor:
        return next(door for door in self.doors if isinstance(door, MqttDoor))

    @property
    def http(self) -> HttpDoor | None:
        """The HTTP door, None with ``--http off``; its ``url`` has the port it really listens on."""
        return next((door for door in self.doors if isinstance(door, HttpDoor)), None)

    def ready_line(self) -> str:
        doors = ", ".join(door.describe() for door in self.doors)
        return (f"gongji-switch ready: broker {self.broker.url}{' (embedded)' if self.embedded else ''}, "
                f"{doors}, db {self.settings.db}, clock {self.settings.clock}")

    async def ready(self, timeout: float | None = None) -> bool:
        """Wait until every door hears requests (True), or the switch stops first (False).

        Raises TimeoutError after ``timeout`` seconds. At the first call it also waits briefly for
        the journal's stray watcher: "ready" then means misdirected messages get journaled.
        """
        async with asyncio.timeout(timeout):
            connected: asyncio.Future[Any] = asyncio.gather(*(door.connected.wait() for door in self.doors))
            stopped: asyncio.Future[Any] = asyncio.ensure_future(self.stop.wait())
            try:
                await asyncio.wait({connected, stopped, *self.door_tasks}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                connected.cancel()
                stopped.cancel()
                # A gather cancelled before every door connected ends with CancelledError as its exception:
                # taken here, or asyncio logs "exception was never retrieved" at the stop.
                connected.add_done_callback(_retrieve)
            if not all(door.connected.is_set() for door in self.doors):
                return False
            await self._watching()
        return True

    async def _watching(self) -> None:
        if self.watcher is None or self._watched:
            return
        self._watched = True
        try:
            await asyncio.wait_for(self.watcher.ready.wait(), 5)
        except TimeoutError:
            log.warning("stray watcher not subscribed yet; misdirected messages are journaled once it is")

    async def finished(self) -> None:
        """Wait until the switch is told to stop, or a door gave up."""
        stopped: asyncio.Future[Any] = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({stopped, *self.door_tasks}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()


async def _broker(settings: Settings, stack: AsyncExitStack) -> tuple[BrokerAddress, bool]:
    """The broker the doors use, started here (and stopped with ``stack``) when it is the embedded one."""
    access = read_access(settings.access) if settings.access is not None else None
    if access is not None and access.topic_root != settings.topic_root.rstrip("/"):
        raise ConfigError(f"the access files in {settings.access} are for topic root {access.topic_root!r}; "
                          f"start with --topic-root {access.topic_root}")
    if settings.broker is None:
        host, port = _listen_address(settings.listen)
        embedded = EmbeddedBroker(host, port, amqtt_plugins(access) if access is not None else None)
        try:
            await embedded.start()
        except ConfigError:  # explained already, with the address (switch/doors/broker.py)
            raise
        except Exception as exc:
            raise ConfigError(f"cannot start the embedded broker on {host}:{port}: {exc}") from exc
        stack.push_async_callback(embedded.stop)
        address = parse_broker_url(embedded.url)
    else:
        address = parse_broker_url(settings.broker)
    if access is not None and address.username is None:
        address = replace(address, username=SWITCH_USER, password=access.switch.password)
    return address, settings.broker is None


def _served(service: SettlementSwitch) -> Serve:
    """The ``Serve`` every door calls: the service's, journaled when the store keeps a journal."""
    store = service.store
    if isinstance(store, JournalWriter) and store.journal is not None:
        return journaled(serving(service), store.journal, service.clock)
    return serving(service)


async def _http_door(settings: Settings, serve: Serve, stack: AsyncExitStack, store: object) -> HttpDoor | None:
    """The HTTP door, listening already (it serves once it runs), or None with ``--http off``."""
    address = parse_http_address(settings.http)
    if address is None:
        return None
    access = read_access(settings.access) if settings.access is not None else None
    # With access files the journal is the admin account's (Basic credentials, in the one Authorization
    # header the bearer token would take); without them the admin token guards it, as before.
    journal = journal_route(store, settings.admin_token if access is None else None)
    door = HttpDoor(serve, *address, studio=True, journal=journal, access=access)
    await door.open()
    stack.push_async_callback(door.close)
    return door


def client_id(settings: Settings) -> str:
    """The switch's MQTT client id: with access files its user name (the brokers tie client ids to logins)."""
    if settings.access is None:
        return settings.client_id or f"gongji-switch-{settings.topic_root.rstrip('/').replace('/', '-')}"
    if settings.client_id not in (None, SWITCH_USER):
        raise ConfigError(f"with --access the switch's client id is its user name {SWITCH_USER!r}, "
                          f"not {settings.client_id!r}: the brokers tie client ids to logins")
    return SWITCH_USER


def _doors(settings: Settings, serve: Serve, broker: BrokerAddress, watcher: StrayWatcher | None,
           http: HttpDoor | None) -> list[Door]:
    """Every door the settings ask for, all serving the same service."""
    doors: list[Door] = [MqttDoor(serve, broker, settings.topic_root, client_id(settings), watcher)]
    return doors if http is None else [*doors, http]


async def _stopped(tasks: list[asyncio.Task[None]], timeout: float = 15) -> None:
    """Wait for tasks that end by themselves once ``stop`` is set; a failure of theirs is raised here."""
    if tasks:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout)


async def _cancelled(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def running(settings: Settings, stop: asyncio.Event | None = None, *,
                  tune_heap: bool = False) -> AsyncIterator[Running]:
    """Start a switch from ``settings``; leaving the block (or setting ``stop``) stops it cleanly.

    ``tune_heap`` applies the process-wide garbage-collection policy of ``switch.service.heap``:
    for a process that is the switch, not for one that also runs tests or a demo.
    """
    stop = stop or asyncio.Event()
    fatal: list[BaseException] = []

    def on_fatal(exc: BaseException) -> None:
        fatal.append(exc)
        stop.set()

    service = build_switch(settings, on_fatal)
    serve = _served(service)
    listening = False

    async def stop_service() -> None:
        # A start that failed before its doors listened (a port taken) removes the ledger it created, if it did.
        await service.stop(discard=not listening)

    async with AsyncExitStack() as stack:
        # The ledger first: a second switch on the same --db is told who holds it (pid, start time),
        # instead of stopping at the embedded broker's port, which it would share as well.
        stack.push_async_callback(stop_service)
        await service.start()
        broker, embedded = await _broker(settings, stack)
        # like the broker's, a taken port is serve's one line
        http = await _http_door(settings, serve, stack, service.store)
        listening = True
        log.info(service.loaded())  # only now: a port that is taken stays the one line serve prints
        run = Running(settings, service, broker, embedded, stop, fatal)
        loops: list[asyncio.Task[None]] = []
        stack.push_async_callback(_cancelled, loops)

        def spawn(coro: Coroutine[Any, Any, None], name: str, into: list[asyncio.Task[None]] = loops) -> None:
            into.append(asyncio.create_task(coro, name=name))

        if tune_heap:
            freeze_state()  # the loaded ledger stays out of garbage collections (switch/service/heap.py)
            spawn(keep_young(stop), "gongji-heap")
        spawn(sweep_windows(service, stop), "gongji-sweeper")
        store = service.store
        if isinstance(store, JournalWriter) and store.journal is not None:
            spawn(flush_journal(store, stop), "gongji-journal")
            # With access files the switch's login reads only request topics, so a second connection would
            # see no strays; and one login is one client id, which a watcher would take from the door.
            if settings.access is None:
                run.watcher = StrayWatcher(broker, settings.topic_root.rstrip("/"), store.journal, service.clock,
                                           f"{client_id(settings)}-watch")
                spawn(run.watcher.run(stop), "gongji-watch")
        run.doors = _doors(settings, serve, broker, run.watcher, http)
        stack.push_async_callback(_stopped, run.door_tasks)
        stack.callback(stop.set)  # first thing on the way out: the doors answer what is in flight and stop
        for door in run.doors:
            service.subscribe(door.publish_events)
            spawn(door.run(stop), f"gongji-door-{door.name}", run.door_tasks)
        yield run


async def serve(settings: Settings, stop: asyncio.Event | None = None,
                on_ready: Callable[[str], None] | None = None, *, log_ready: bool = True) -> int:
    """Run the switch until SIGINT/SIGTERM (or ``stop``); returns the process exit status.

    ``log_ready`` False leaves the ready line to ``on_ready`` alone: the command line passes it when
    stdout and stderr are one file (``serve > log 2>&1``), where it would otherwise appear twice.
    """
    stop = stop or asyncio.Event()
    with stop_on_signals(stop):
        async with running(settings, stop, tune_heap=True) as run:
            if await run.ready():
                line = run.ready_line()
                if log_ready:
                    log.info(line)
                if on_ready is not None:
                    on_ready(line)
            await run.finished()
    if run.fatal:
        print(f"gongji-switch: stopped after a storage failure: {run.fatal[0]}", file=sys.stderr)
        return 3
    log.info("gongji-switch stopped cleanly")
    return 0
