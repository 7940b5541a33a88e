"""Benchmark: the switch against the echo floor through mosquitto and the embedded broker, and its scaling.

Everything (the default) takes about 7 minutes; --parts transport --brokers mosquitto gives the
headline table in about 2. Parts: transport runs echo and switch back to back, alternating,
--repeat times per broker at the maximum rate, then both again at half the switch's maximum rate,
and prints medians and the ratios of the targets; core is the pure core's decisions per second;
people loads 1,000 and 100,000 people; scaling runs the switch with 10, 100 and 1,000 tills and
with 1,000 and 100,000 people. Figures are medians of one run on this machine: rerun on a quiet
machine before comparing with other figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections.abc import Callable
from dataclasses import replace
from typing import Any

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "bench"
HELP = "benchmark, about 7 minutes: switch vs echo floor on mosquitto and amqtt, the core, big loads, scaling"
PARTS = ("transport", "core", "people", "scaling")
BROKERS = ("mosquitto", "amqtt")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parts", default=",".join(PARTS),
                   help=f"which parts, comma-separated (default {','.join(PARTS)})")
    p.add_argument("--brokers", default=",".join(BROKERS),
                   help=f"brokers of the transport part, comma-separated: {', '.join(BROKERS)} "
                        f"(default {','.join(BROKERS)}; amqtt runs in a process of its own)")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each kind; medians are reported (default 3)")
    p.add_argument("--duration", type=float, default=6.0,
                   help="seconds per run (default 6, the first 1 is warm-up)")
    p.add_argument("--terminals", type=int, default=64, help="tills of the transport runs (default 64)")
    p.add_argument("--people", type=int, default=10_000,
                   help="population of the transport runs (default 10000)")
    p.add_argument("--json", action="store_true", help="print every figure as JSON instead of tables")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        print(f"gongji-terminal bench: unknown part(s) {', '.join(sorted(unknown))}; "
              f"parts: {', '.join(PARTS)}")
        return 2
    brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    if not brokers or set(brokers) - set(BROKERS):
        print(f"gongji-terminal bench: --brokers {args.brokers!r}: brokers are {', '.join(BROKERS)}")
        return 2
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    results: dict[str, Any] = {}
    show = (lambda table: None) if args.json else out.print
    if "core" in parts:
        results["core"] = _core(err, show)
    if "transport" in parts:
        results["transport"] = asyncio.run(_transport(args, err, show))
    if "people" in parts:
        results["people"] = asyncio.run(_people(err, show))
    if "scaling" in parts:
        results["scaling"] = asyncio.run(_scaling(args, err, show))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


def _median(runs: list[dict[str, Any]], path: Callable[[dict[str, Any]], float]) -> float:
    return float(statistics.median(path(r) for r in runs))


def _rps(r: dict[str, Any]) -> float:
    return float(r["stats"]["requests_per_s"])


def _p99(r: dict[str, Any]) -> float:
    return float(r["stats"]["latency_ms"]["p99"])


def _cpu_us(name: str) -> Callable[[dict[str, Any]], float]:
    return lambda r: float(r.get("cpu_us_per_request", {}).get(name, 0))


def _core(err: Any, show: Callable[[Any], None]) -> dict[str, Any]:
    from rich.table import Table

    from terminal.load.corebench import run_core_bench

    err.print("core: decisions of the pure core in one process...")
    runs = [run_core_bench() for _ in range(3)]
    rate = _median(runs, lambda r: float(r["decisions_per_s"]))
    result: dict[str, Any] = {"decisions_per_s": rate, "runs": runs}
    table = Table(title="pure core (python -m terminal.load.corebench), median of 3", title_justify="left")
    table.add_column("decisions/s", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met")
    table.add_row(f"{rate:,.0f}", "100,000", _met(rate >= 100_000))
    show(table)
    return result


def _met(ok: bool) -> str:
    return "[green]yes[/]" if ok else "[red]no[/]"


async def _one(plan: Any, err: Any, label: str) -> dict[str, Any]:
    from terminal.load.cli import healthy
    from terminal.load.run import run_load

    err.print(f"  {label}...", end="")
    result = await run_load(plan)
    s = result["stats"]
    err.print(f" {s['requests_per_s']:,.0f} req/s, p99 {s['latency_ms']['p99']:.1f} ms"
              f"{'' if healthy(result) else ' [red](errors)[/]'}")
    return result


async def _transport(args: argparse.Namespace, err: Any, show: Callable[[Any], None]) -> dict[str, Any]:
    from rich.table import Table

    from terminal.load.fleet import FleetConfig
    from terminal.load.procs import amqtt_process, mosquitto_process, temp_dir
    from terminal.load.run import LoadPlan

    fleet = FleetConfig(terminals=args.terminals, per_connection=16, duration=args.duration, warmup=1.0)
    results: dict[str, Any] = {}
    for broker_name in [b.strip() for b in args.brokers.split(",") if b.strip()]:
        with temp_dir() as tmp:
            from pathlib import Path

            broker = (amqtt_process if broker_name == "amqtt" else mosquitto_process)(Path(tmp)).start()
            try:
                base = LoadPlan(fleet=fleet, people=args.people, families=args.people // 5, broker=broker.url,
                                spawn_switch=True, switch_log_level="INFO", broker_pid=broker.pid)
                err.print(f"{broker_name}: echo and switch at the maximum rate, {args.repeat}× each")
                echo, switch = [], []
                for i in range(args.repeat):
                    echo.append(await _one(replace(base, echo=True, fleet=replace(fleet, expect=False)), err,
                                           f"echo {i + 1}"))
                    switch.append(await _one(base, err, f"switch {i + 1}"))
                half = round(_median(switch, _rps) / 2)
                err.print(f"{broker_name}: both at half the switch's maximum, {half:,} req/s")
                echo_half, switch_half = [], []
                for i in range(args.repeat):
                    echo_at_half = replace(base, echo=True, fleet=replace(fleet, expect=False, rate=half))
                    echo_half.append(await _one(echo_at_half, err, f"echo @{half} {i + 1}"))
                    switch_half.append(await _one(replace(base, fleet=replace(fleet, rate=half)), err,
                                                  f"switch @{half} {i + 1}"))
            finally:
                broker.stop()
        results[broker_name] = _transport_figures(echo, switch, echo_half, switch_half, half)
    table = Table(title=f"switch vs echo floor: {args.terminals} tills, {args.people:,} people, median of "
                  f"{args.repeat}, {args.duration:g} s runs", title_justify="left")
    for column in ("broker", "echo req/s", "switch req/s", "ratio (≥0.8)", "settlements/s", "half rate",
                   "echo p99 ms", "switch p99 ms", "ratio (≤2)", "CPU µs/req echo · switch"):
        table.add_column(column, justify="left" if column == "broker" else "right")
    for name, f in results.items():
        table.add_row(name, f"{f['echo_rps']:,.0f}", f"{f['switch_rps']:,.0f}",
                      f"{f['throughput_ratio']:.2f} {_met(f['throughput_ratio'] >= 0.8)}",
                      f"{f['switch_settlements_per_s']:,.0f}", f"{f['half_rate']:,}",
                      f"{f['echo_p99_half_ms']:.1f}", f"{f['switch_p99_half_ms']:.1f}",
                      f"{f['p99_ratio']:.2f} {_met(f['p99_ratio'] <= 2)}",
                      f"{f['echo_cpu_us']:.0f} · {f['switch_cpu_us']:.0f}")
    show(table)
    return results


Runs = list[dict[str, Any]]


def _transport_figures(echo: Runs, switch: Runs, echo_half: Runs, switch_half: Runs,
                       half: int) -> dict[str, Any]:
    echo_rps, switch_rps = _median(echo, _rps), _median(switch, _rps)
    echo_p99, switch_p99 = _median(echo_half, _p99), _median(switch_half, _p99)
    return {
        "echo_rps": echo_rps, "switch_rps": switch_rps, "throughput_ratio": round(switch_rps / echo_rps, 3),
        "switch_settlements_per_s": _median(switch, lambda r: r["stats"]["settlements_per_s"]),
        "echo_p50_ms": _median(echo, lambda r: r["stats"]["latency_ms"]["p50"]),
        "switch_p50_ms": _median(switch, lambda r: r["stats"]["latency_ms"]["p50"]),
        "half_rate": half, "echo_p99_half_ms": echo_p99, "switch_p99_half_ms": switch_p99,
        "p99_ratio": round(switch_p99 / echo_p99, 3) if echo_p99 else float("inf"),
        "echo_cpu_us": _median(echo, _cpu_us("echo")), "switch_cpu_us": _median(switch, _cpu_us("switch")),
        "load_generator_cpu_us": _median(switch, _cpu_us("load generator")),
        "broker_cpu_us": _median(switch, _cpu_us("broker")),
        "all_healthy": all(_healthy(r) for r in (*echo, *switch, *echo_half, *switch_half)),
        "runs": {"echo": echo, "switch": switch, "echo_half": echo_half, "switch_half": switch_half},
    }


def _healthy(result: dict[str, Any]) -> bool:
    from terminal.load.cli import healthy

    return healthy(result)


async def _people(err: Any, show: Callable[[Any], None]) -> dict[str, Any]:
    from rich.table import Table

    from terminal.load.fleet import FleetConfig
    from terminal.load.run import LoadPlan

    results = {}
    for people in (1_000, 100_000):
        err.print(f"people: loading {people:,} (admin.load in chunks under 64 KiB)")
        plan = LoadPlan(fleet=FleetConfig(terminals=8, count=200), people=people, families=people // 5)
        results[people] = await _one(plan, err, f"{people:,} people")
    table = Table(title="admin.load of a population (families of 2-5, a fifth of people in families)",
                  title_justify="left")
    for column in ("people", "bindings", "chunks", "admin.load s", "people/s", "switch RSS MB", "targets"):
        table.add_column(column, justify="right")
    for people, r in results.items():
        load = r["load"]
        ok = load["seconds"] < 10 and r["rss_after_load_mb"] < 300 if people >= 100_000 else True
        table.add_row(f"{people:,}", f"{load['bindings']:,}", str(load["chunks"]), f"{load['seconds']:.2f}",
                      f"{load['people_per_s']:,}", f"{r['rss_after_load_mb']:.0f}",
                      f"<10 s, <300 MB {_met(ok)}" if people >= 100_000 else "")
    show(table)
    return {str(k): v for k, v in results.items()}


async def _scaling(args: argparse.Namespace, err: Any, show: Callable[[Any], None]) -> dict[str, Any]:
    from rich.table import Table

    from terminal.load.fleet import FleetConfig
    from terminal.load.run import LoadPlan

    rows: list[tuple[str, dict[str, Any]]] = []
    for terminals in (10, 100, 1_000):
        per_connection = terminals // 8 if terminals > 100 else 16  # at most 8 connections for 1,000 tills
        fleet = FleetConfig(terminals=terminals, per_connection=per_connection, duration=args.duration,
                            warmup=1.0)
        plan = LoadPlan(fleet=fleet, people=10_000, families=2_000)
        rows.append((f"{terminals:,} tills, 10,000 people", await _one(plan, err, f"{terminals} tills")))
    for people in (1_000, 100_000):
        fleet = FleetConfig(terminals=args.terminals, per_connection=16, duration=args.duration, warmup=1.0)
        plan = LoadPlan(fleet=fleet, people=people, families=people // 5)
        rows.append((f"{args.terminals} tills, {people:,} people", await _one(plan, err, f"{people} people")))
    table = Table(title="switch on mosquitto: how the cost grows", title_justify="left")
    for column in ("run", "req/s", "settlements/s", "p50 ms", "p99 ms", "switch CPU µs/req", "switch RSS MB"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for label, r in rows:
        s = r["stats"]
        table.add_row(label, f"{s['requests_per_s']:,.0f}", f"{s['settlements_per_s']:,.0f}",
                      f"{s['latency_ms']['p50']:.1f}", f"{s['latency_ms']['p99']:.1f}",
                      f"{r['cpu_us_per_request'].get('switch', 0):,}", f"{r.get('rss_mb', 0):.0f}")
    show(table)
    return {label: r for label, r in rows}
