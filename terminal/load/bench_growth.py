"""The bench's growth parts: a big population's admin.load, and how the cost grows with tills and people.

``people`` loads 100,000 people into a fresh switch (the target: under 10 s, RSS under 300 MB).
``growth`` runs the switch on mosquitto with 10, 100 and 1,000 tills (10,000 people), then with
1,000 to 1,000,000 people (64 tills): admin.load time, RSS before and after the load and at the
end, memory per person (the load's RSS growth over the people loaded), rates and latencies.
``core`` is the pure core's decisions per second, in this process.
"""

from __future__ import annotations

import argparse
from typing import Any

from terminal.load.bench_doors import median, one_run
from terminal.load.tables import Grid, verdict

__all__ = ["GROWTH_PEOPLE", "GROWTH_TILLS", "core", "core_grid", "growth", "growth_grid", "people",
           "people_grid"]

GROWTH_TILLS = (10, 100, 1_000)
GROWTH_PEOPLE = (1_000, 10_000, 100_000, 1_000_000)
BIG = 100_000  # the population of the admin.load target


def core(err: Any) -> dict[str, Any]:
    from terminal.load.corebench import run_core_bench

    err.print("core: decisions of the pure core in one process, 3 runs...")
    runs = [run_core_bench() for _ in range(3)]
    return {"decisions_per_s": median(runs, lambda r: float(r["decisions_per_s"])), "runs": runs}


def core_grid(result: dict[str, Any]) -> Grid:
    grid = Grid("pure core (python -m terminal.load.corebench), median of 3", ("decisions/s", "target", "met"))
    grid.add(f"{result['decisions_per_s']:,.0f}", "100,000", verdict(result["decisions_per_s"] >= 100_000))
    return grid


async def people(err: Any, count: int = BIG) -> dict[str, Any]:
    """A fresh switch on mosquitto loads ``count`` people; a short fleet run checks it answers."""
    from terminal.load.fleet import FleetConfig
    from terminal.load.run import LoadPlan

    err.print(f"people: loading {count:,} (admin.load in chunks under 64 KiB)")
    plan = LoadPlan(fleet=FleetConfig(terminals=8, count=200), people=count, families=count // 5)
    return _load_figures(await one_run(plan, err, f"{count:,} people"))


def _load_figures(r: dict[str, Any]) -> dict[str, Any]:
    load = r["load"]
    before, after = r.get("rss_before_load_mb", 0.0), r.get("rss_after_load_mb", 0.0)
    return {"people": load["people"], "bindings": load["bindings"], "chunks": load["chunks"],
            "load_s": load["seconds"], "people_per_s": load["people_per_s"],
            "load_cpu_s": load.get("switch_cpu_s", 0.0), "rss_before_mb": before,
            "rss_after_load_mb": after, "rss_end_mb": r.get("rss_mb", 0.0),
            "bytes_per_person": round((after - before) * 1024 * 1024 / max(load["people"], 1)),
            "run": r}


def people_grid(result: dict[str, Any]) -> Grid:
    grid = Grid("admin.load of a population (families of 2-5, a fifth of people in families)",
                ("people", "bindings", "chunks", "admin.load s", "its CPU s", "people/s", "switch RSS MB",
                 "bytes/person"))
    grid.add(f"{result['people']:,}", f"{result['bindings']:,}", str(result["chunks"]), f"{result['load_s']:.2f}",
             _cpu(result),
             f"{result['people_per_s']:,}", f"{result['rss_after_load_mb']:.0f}", f"{result['bytes_per_person']:,}")
    return grid


async def growth(args: argparse.Namespace, err: Any) -> dict[str, Any]:
    """Tills 10 → 1,000 at 10,000 people, then people 1,000 → 1,000,000 at ``args.terminals`` tills."""
    from terminal.load.fleet import FleetConfig
    from terminal.load.run import LoadPlan

    rows: dict[str, Any] = {}
    for terminals in GROWTH_TILLS:
        per_connection = terminals // 8 if terminals > 100 else 16  # at most 8 connections for 1,000 tills
        fleet = FleetConfig(terminals=terminals, per_connection=per_connection, duration=args.duration,
                            warmup=1.0, timeout=30.0)
        plan = LoadPlan(fleet=fleet, people=10_000, families=2_000)
        rows[f"{terminals:,} tills, 10,000 people"] = _load_figures(await one_run(plan, err, f"{terminals} tills"))
    for count in GROWTH_PEOPLE:
        fleet = FleetConfig(terminals=args.terminals, per_connection=16, duration=args.duration, warmup=1.0)
        plan = LoadPlan(fleet=fleet, people=count, families=count // 5)  # every run's books audited, 1,000,000 too
        rows[f"{args.terminals} tills, {count:,} people"] = _load_figures(await one_run(plan, err, f"{count:,} people"))
    return rows


def growth_grid(rows: dict[str, Any]) -> Grid:
    grid = Grid("how the cost grows: switch on mosquitto, maximum rate",
                ("run", "admin.load s", "its CPU s", "RSS after load MB", "bytes/person", "req/s", "p50 ms", "p99 ms",
                 "switch CPU µs/req", "RSS at end MB"))
    for label, f in rows.items():
        s = f["run"]["stats"]
        grid.add(label, f"{f['load_s']:.1f}", _cpu(f), f"{f['rss_after_load_mb']:,.0f}",
                 f"{f['bytes_per_person']:,}",
                 f"{s['requests_per_s']:,.0f}", f"{s['latency_ms']['p50']:.1f}", f"{s['latency_ms']['p99']:.1f}",
                 f"{f['run']['cpu_us_per_request'].get('switch', 0):,}", f"{f['rss_end_mb']:,.0f}")
    grid.note = "bytes/person: the switch's RSS growth during admin.load over the people loaded"
    return grid


def _cpu(figures: dict[str, Any]) -> str:
    return f"{figures['load_cpu_s']:.1f}" if figures.get("load_cpu_s") else "—"  # figures saved before it was measured
