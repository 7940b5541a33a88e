"""The bench's doors: the switch against its floor on MQTT (echo responder) and on HTTP (aiohttp echo).

Strategy: the machine is shared, so every comparison is made in one run, interleaved (echo, switch,
echo, switch...), and medians are compared. The maximum rate comes first; then both again at half
the switch's median maximum, where the p99 is read. CPU per request is each responder's own CPU
time over the requests it answered: steadier than rates on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from terminal.load.tables import Grid

__all__ = ["Runs", "door_figures", "doors_grid", "http_door", "mqtt_door", "one_run"]

Runs = list[dict[str, Any]]


def median(runs: Runs, path: Callable[[dict[str, Any]], float]) -> float:
    return float(statistics.median(path(r) for r in runs))


def _rps(r: dict[str, Any]) -> float:
    return float(r["stats"]["requests_per_s"])


def _p99(r: dict[str, Any]) -> float:
    return float(r["stats"]["latency_ms"]["p99"])


def _cpu_us(name: str) -> Callable[[dict[str, Any]], float]:
    return lambda r: float(r.get("cpu_us_per_request", {}).get(name, 0))


async def one_run(plan: Any, err: Any, label: str) -> dict[str, Any]:
    from terminal.load.cli import healthy
    from terminal.load.run import run_load

    err.print(f"  {label}...", end="")
    result = await run_load(plan)
    s = result["stats"]
    loaded = (f", admin.load {result['load']['seconds']:.1f} s, RSS {result.get('rss_after_load_mb', 0):,.0f} MB"
              if "load" in result else "")
    err.print(f" {s['requests_per_s']:,.0f} req/s, p99 {s['latency_ms']['p99']:.1f} ms{loaded}"
              f"{'' if healthy(result) else ' [red](errors)[/]'}")
    return result


async def _interleaved(echo_plan: Any, switch_plan: Any, repeat: int, err: Any, door: str) -> dict[str, Any]:
    """Echo and switch alternately at the maximum rate, then at half the switch's median maximum."""
    err.print(f"{door}: echo and switch at the maximum rate, {repeat}× each, alternating")
    echo: Runs = []
    switch: Runs = []
    for i in range(repeat):
        echo.append(await one_run(echo_plan, err, f"echo {i + 1}"))
        switch.append(await one_run(switch_plan, err, f"switch {i + 1}"))
    half = round(median(switch, _rps) / 2)
    err.print(f"{door}: both at half the switch's maximum, {half:,} req/s")
    echo_half: Runs = []
    switch_half: Runs = []
    for i in range(repeat):
        echo_half.append(await one_run(replace(echo_plan, fleet=replace(echo_plan.fleet, rate=half)), err,
                                       f"echo @{half} {i + 1}"))
        switch_half.append(await one_run(replace(switch_plan, fleet=replace(switch_plan.fleet, rate=half)), err,
                                         f"switch @{half} {i + 1}"))
    return door_figures(echo, switch, echo_half, switch_half, half)


def door_figures(echo: Runs, switch: Runs, echo_half: Runs, switch_half: Runs, half: int) -> dict[str, Any]:
    """Medians of each kind of run and the three ratios the targets name."""
    from terminal.load.cli import healthy

    echo_rps, switch_rps = median(echo, _rps), median(switch, _rps)
    echo_p99, switch_p99 = median(echo_half, _p99), median(switch_half, _p99)
    echo_cpu, switch_cpu = median(echo, _cpu_us("echo")), median(switch, _cpu_us("switch"))
    return {
        "echo_rps": echo_rps, "switch_rps": switch_rps,
        "throughput_ratio": round(switch_rps / echo_rps, 3) if echo_rps else 0.0,
        "switch_settlements_per_s": median(switch, lambda r: r["stats"]["settlements_per_s"]),
        "echo_p50_ms": median(echo, lambda r: r["stats"]["latency_ms"]["p50"]),
        "switch_p50_ms": median(switch, lambda r: r["stats"]["latency_ms"]["p50"]),
        "half_rate": half, "echo_p99_half_ms": echo_p99, "switch_p99_half_ms": switch_p99,
        "p99_ratio": round(switch_p99 / echo_p99, 3) if echo_p99 else float("inf"),
        "echo_cpu_us": echo_cpu, "switch_cpu_us": switch_cpu,
        "cpu_ratio": round(switch_cpu / echo_cpu, 3) if echo_cpu else float("inf"),
        "load_generator_cpu_us": median(switch, _cpu_us("load generator")),
        "broker_cpu_us": median(switch, _cpu_us("broker")),
        "all_healthy": all(healthy(r) for r in (*echo, *switch, *echo_half, *switch_half)),
        "runs": {"echo": echo, "switch": switch, "echo_half": echo_half, "switch_half": switch_half},
    }


def _fleet(args: argparse.Namespace) -> Any:
    from terminal.load.fleet import FleetConfig

    return FleetConfig(terminals=args.terminals, per_connection=16, duration=args.duration, warmup=1.0)


async def mqtt_door(args: argparse.Namespace, broker_name: str, err: Any) -> dict[str, Any]:
    """The MQTT door through ``broker_name``: a fresh switch (or echo) for every run, one broker for all."""
    from terminal.load.procs import amqtt_process, mosquitto_process, temp_dir
    from terminal.load.run import LoadPlan

    fleet = _fleet(args)
    with temp_dir() as tmp:
        broker = (amqtt_process if broker_name == "amqtt" else mosquitto_process)(Path(tmp)).start()
        try:
            base = LoadPlan(fleet=fleet, people=args.people, families=args.people // 5, broker=broker.url,
                            spawn_switch=True, switch_log_level="INFO", broker_pid=broker.pid,
                            switch_journal=args.journal)
            echo = replace(base, echo=True, fleet=replace(fleet, expect=False))
            return await _interleaved(echo, base, args.repeat, err, f"MQTT via {broker_name}")
        finally:
            broker.stop()


async def http_door(args: argparse.Namespace, err: Any) -> dict[str, Any]:
    """The HTTP door: a fresh switch for every run (on mosquitto, its MQTT door idle), as the MQTT part
    runs, and one aiohttp echo for all, driven alike."""
    from terminal.load.procs import http_echo_process, mosquitto_process, temp_dir
    from terminal.load.run import LoadPlan

    fleet = _fleet(args)
    with temp_dir() as tmp_name:
        tmp = Path(tmp_name)
        started = [mosquitto_process(tmp).start()]
        try:
            started.append(echo := http_echo_process(tmp).start())
            base = LoadPlan(fleet=fleet, people=args.people, families=args.people // 5, broker=started[0].url,
                            http_door=True, switch_log_level="INFO", switch_journal=args.journal)
            echo_plan = LoadPlan(fleet=replace(fleet, expect=False), people=args.people,
                                 families=args.people // 5, http=echo.url, echo=True, watch={"echo": echo.pid})
            figures = await _interleaved(echo_plan, base, args.repeat, err, "HTTP door")
        finally:
            for child in reversed(started):
                child.stop()
    switch_runs = (*figures["runs"]["switch"], *figures["runs"]["switch_half"])
    figures["journal_rows"] = sum(r.get("journal_rows", 0) for r in switch_runs)  # what the journal kept, if on
    return figures


def doors_grid(doors: dict[str, dict[str, Any]], args: argparse.Namespace) -> Grid:
    """Every door's medians side by side: throughput, p99 at half rate, CPU per request."""
    grid = Grid(f"switch vs echo floor per door: {args.terminals} tills, {args.people:,} people, median of "
                f"{args.repeat} interleaved {args.duration:g} s runs",
                ("door", "echo req/s", "switch req/s", "ratio", "settlements/s", "half rate", "echo p99 ms",
                 "switch p99 ms", "ratio", "CPU µs/req echo", "switch", "ratio"))
    for name, f in doors.items():
        grid.add(name, f"{f['echo_rps']:,.0f}", f"{f['switch_rps']:,.0f}", f"{f['throughput_ratio']:.2f}",
                 f"{f['switch_settlements_per_s']:,.0f}", f"{f['half_rate']:,}", f"{f['echo_p99_half_ms']:.1f}",
                 f"{f['switch_p99_half_ms']:.1f}", f"{f['p99_ratio']:.2f}", f"{f['echo_cpu_us']:,.0f}",
                 f"{f['switch_cpu_us']:,.0f}", f"{f['cpu_ratio']:.2f}")
    grid.note = ("healthy: every run answered without timeouts or unexpected codes, books audited"
                 if all(f["all_healthy"] for f in doors.values()) else "some runs had errors: see --json")
    return grid

