"""The composition root: clock, store, policies, broker and MQTT adapter wired together, run, stopped."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from switch.core.policy import Policy, PolicyFileError, load_policy_file, packaged_policies
from switch.doors.access import SWITCH_USER, amqtt_plugins, read_access
from switch.doors.broker import EmbeddedBroker
from switch.doors.mqtt import MqttSwitch, parse_broker_url
from switch.errors import ConfigError
from switch.journal.hints import DEFAULT_MAX_ROWS, Journal
from switch.service.clock import Clock, ClockRangeError, SystemClock, VirtualClock
from switch.service.faults import FaultFileError, load_fault_file
from switch.service.handling import SettlementSwitch
from switch.service.heap import freeze_state, keep_young
from switch.store.sqlite import SqliteStore

__all__ = ["Settings", "build_switch", "make_clock", "policies_from", "serve"]

log = logging.getLogger("gongji")


@dataclass(frozen=True)
class Settings:
    broker: str | None = None  # None: start the embedded broker on ``listen``
    listen: str = "127.0.0.1:1883"
    db: Path = Path("gongji.db")
    clock: str = "system"
    clock_start: datetime | None = None
    clock_speed: Decimal = Decimal(0)
    topic_root: str = "gongji/v1"
    admin_token: str | None = None
    policy: Path | None = None
    client_id: str | None = None
    journal_max: int = DEFAULT_MAX_ROWS  # rows of traffic journal kept; 0 keeps none
    faults: Path | None = None  # fault rules in force from the start (admin.faults can change them)
    access: Path | None = None  # users and ACLs written by `mosquitto-config`: enforced by the embedded broker


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
    if settings.clock == "virtual":
        try:
            return VirtualClock(settings.clock_start, settings.clock_speed)
        except ClockRangeError as exc:
            raise ConfigError(f"--clock-start: {exc}") from None
    if settings.clock == "system":
        return SystemClock()
    raise ConfigError(f"--clock must be 'system' or 'virtual', not {settings.clock!r}")


def build_switch(settings: Settings, on_fatal: Callable[[BaseException], None] | None = None) -> SettlementSwitch:
    if settings.journal_max < 0:
        raise ConfigError(f"--journal-max must be 0 (no journal) or more, not {settings.journal_max}")
    journal = Journal(settings.journal_max) if settings.journal_max else None
    try:
        faults = load_fault_file(settings.faults) if settings.faults is not None else []
    except FaultFileError as exc:
        raise ConfigError(str(exc)) from exc
    return SettlementSwitch(SqliteStore(settings.db, journal), make_clock(settings),
                            policies_from(settings.policy), settings.admin_token, on_fatal, faults)


def _listen_address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise ConfigError(f"--listen {listen!r}: expected HOST:PORT") from None


async def serve(settings: Settings, stop: asyncio.Event | None = None,
                on_ready: Callable[[str], None] | None = None) -> int:
    """Run the switch until SIGINT/SIGTERM (or ``stop``); returns the process exit status."""
    stop = stop or asyncio.Event()
    fatal: list[BaseException] = []

    def on_fatal(exc: BaseException) -> None:
        fatal.append(exc)
        stop.set()

    switch = build_switch(settings, on_fatal)
    access = read_access(settings.access) if settings.access is not None else None
    if access is not None and access.topic_root != settings.topic_root.rstrip("/"):
        raise ConfigError(f"the access files in {settings.access} are for topic root {access.topic_root!r}; "
                          f"start with --topic-root {access.topic_root}")
    embedded: EmbeddedBroker | None = None
    if settings.broker is None:
        host, port = _listen_address(settings.listen)
        embedded = EmbeddedBroker(host, port, amqtt_plugins(access) if access is not None else None)
        try:
            await embedded.start()
        except Exception as exc:
            raise ConfigError(f"cannot start the embedded broker on {host}:{port}: {exc}") from exc
        address = parse_broker_url(embedded.url)
    else:
        address = parse_broker_url(settings.broker)
    if access is not None and address.username is None:
        address = replace(address, username=SWITCH_USER, password=access.switch.password)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not the main thread
            pass
    collector: asyncio.Task[None] | None = None
    try:
        await switch.start()
        freeze_state()  # the loaded ledger stays out of garbage collections (switch/service/heap.py)
        collector = asyncio.create_task(keep_young(stop), name="gongji-heap")
        adapter = MqttSwitch(switch, address, settings.topic_root, settings.client_id)
        runner = asyncio.create_task(adapter.run(stop))
        connected = asyncio.create_task(adapter.connected.wait())
        await asyncio.wait({runner, connected}, return_when=asyncio.FIRST_COMPLETED)
        if adapter.connected.is_set():
            line = (f"gongji-switch ready: broker {address.url}{' (embedded)' if embedded else ''}, "
                    f"topics {adapter.root}/, db {settings.db}, clock {settings.clock}")
            log.info(line)
            if on_ready is not None:
                on_ready(line)
        connected.cancel()
        await runner
    finally:
        if collector is not None:
            collector.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        await switch.stop()
        if embedded is not None:
            await embedded.stop()
    if fatal:
        print(f"gongji-switch: stopped after a storage failure: {fatal[0]}", file=sys.stderr)
        return 3
    log.info("gongji-switch stopped cleanly")
    return 0
