"""Benchmark: the switch against its floor on both doors, a big population, and one table of the targets.

The default (every target) takes about 7 minutes; --parts transport --brokers mosquitto gives the
headline table in about 2. Parts: transport runs the MQTT echo responder and the switch alternately,
--repeat times each per broker at the maximum rate, then both at half the switch's maximum rate;
http does the same on the HTTP door against an aiohttp echo answering a fixed national answer;
people loads 100,000 people; core is the pure core's decisions per second; growth (not in the
default, about 6 minutes more) runs 10 to 1,000 tills and 1,000 to 1,000,000 people. It prints one
table, each target and whether it is met (--detail: every part's own table as well; --markdown: as
Markdown, for the README; --json: every figure). Figures are medians of one run on this machine:
rerun on a quiet machine before comparing with other figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from terminal.load.tables import Grid, verdict

__all__ = ["HELP", "NAME", "add_arguments", "run", "targets_grid"]

NAME = "bench"
HELP = ("benchmark, about 7 minutes: switch vs echo floor on MQTT (mosquitto, amqtt) and HTTP, 100,000 people; "
        "one table of the targets")
PARTS = ("transport", "http", "people", "core", "growth")
DEFAULT_PARTS = ("transport", "http", "people")
BROKERS = ("mosquitto", "amqtt")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parts", default=",".join(DEFAULT_PARTS),
                   help=f"which parts, comma-separated: {', '.join(PARTS)} (default {','.join(DEFAULT_PARTS)})")
    p.add_argument("--brokers", default=",".join(BROKERS),
                   help=f"brokers of the transport part, comma-separated: {', '.join(BROKERS)} "
                        f"(default {','.join(BROKERS)}; amqtt runs in a process of its own)")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each kind; medians are reported (default 3)")
    p.add_argument("--duration", type=float, default=6.0,
                   help="seconds per run (default 6, the first 1 is warm-up)")
    p.add_argument("--terminals", type=int, default=64, help="tills of the door runs (default 64)")
    p.add_argument("--people", type=int, default=10_000,
                   help="population of the door runs (default 10000)")
    p.add_argument("--journal", action="store_true",
                   help="the door parts: keep the switch's traffic journal on, as serve's defaults do (default: "
                        "--journal-max 0, as advised for load tests)")
    p.add_argument("--detail", action="store_true", help="every part's own table after the targets")
    p.add_argument("--replay", metavar="FILE", type=Path,
                   help="measure nothing: print the tables of a run saved with --json")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print every figure as JSON instead of tables")
    out.add_argument("--markdown", action="store_true", help="print the tables as Markdown (for the README)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown or not parts:
        print(f"gongji-terminal bench: unknown part(s) {', '.join(sorted(unknown)) or '(none)'}; "
              f"parts: {', '.join(PARTS)}")
        return 2
    brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    if not brokers or set(brokers) - set(BROKERS):
        print(f"gongji-terminal bench: --brokers {args.brokers!r}: brokers are {', '.join(BROKERS)}")
        return 2
    if args.repeat < 1 or args.duration <= 1 or args.terminals < 1 or args.people < 10:
        print("gongji-terminal bench: --repeat ≥ 1, --duration > 1 (the first second is warm-up), "
              "--terminals ≥ 1 and --people ≥ 10")
        return 2
    err = Console(stderr=True, highlight=False)
    if args.replay is not None:
        try:
            results = json.loads(args.replay.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"gongji-terminal bench: --replay {args.replay}: {exc}")
            return 2
        results.pop("targets", None)
        args.terminals, args.people = results["setup"]["terminals"], results["setup"]["people"]
        args.repeat, args.duration = results["setup"]["repeat"], results["setup"]["duration_s"]
        args.journal = results["setup"].get("journal", False)
    else:
        results = asyncio.run(_measure(parts, brokers, args, err))
    targets = targets_grid(results)
    grids = [targets] if targets.rows else []  # growth alone has no target
    if args.detail or not grids:
        grids += _detail_grids(results, args)
    if args.json:
        rows = [{"target": t, "echo": e, "switch": s, "measured": m, "met": met == "yes"}
                for t, e, s, m, met in targets.rows]
        print(json.dumps({"targets": rows, **results}, ensure_ascii=False, indent=2))
    elif args.markdown:
        print("\n\n".join(g.markdown() for g in grids))
    else:
        out = Console(highlight=False)
        for grid in grids:
            out.print(grid.rich())
    return 0


async def _measure(parts: list[str], brokers: list[str], args: argparse.Namespace, err: Any) -> dict[str, Any]:
    from terminal.load import bench_doors, bench_growth

    results: dict[str, Any] = {"setup": {"terminals": args.terminals, "people": args.people,
                                         "repeat": args.repeat, "duration_s": args.duration,
                                         "journal": args.journal}}
    doors: dict[str, Any] = {}
    if "transport" in parts:
        for broker in brokers:
            doors[f"MQTT via {broker}"] = await bench_doors.mqtt_door(args, broker, err)
    if "http" in parts:
        doors["HTTP"] = await bench_doors.http_door(args, err)
    if doors:
        results["doors"] = doors
    if "people" in parts:
        results["people"] = await bench_growth.people(err)
    if "core" in parts:
        results["core"] = bench_growth.core(err)
    if "growth" in parts:
        results["growth"] = await bench_growth.growth(args, err)
    return results


def targets_grid(results: dict[str, Any]) -> Grid:
    """One row per target of the parts that ran: the echo's and the switch's figure, the ratio, met or not."""
    grid = Grid("gongji-terminal bench: the targets", ("target", "echo", "switch", "measured", "met"))
    doors = results.get("doors", {})
    mqtt = next((name for name in doors if name == "MQTT via mosquitto"), None) or next(
        (name for name in doors if name.startswith("MQTT")), None)
    for name in (mqtt, "HTTP" if "HTTP" in doors else None):
        if name is None:
            continue
        f = doors[name]
        grid.add(f"{name}: throughput ≥ 0.8 × echo", f"{f['echo_rps']:,.0f} req/s", f"{f['switch_rps']:,.0f} req/s",
                 f"{f['throughput_ratio']:.2f} ×", verdict(f["throughput_ratio"] >= 0.8))
        grid.add(f"{name}: p99 at half rate ({f['half_rate']:,}/s) ≤ 2 × echo", f"{f['echo_p99_half_ms']:.1f} ms",
                 f"{f['switch_p99_half_ms']:.1f} ms", f"{f['p99_ratio']:.2f} ×", verdict(f["p99_ratio"] <= 2))
        grid.add(f"{name}: CPU per request ≤ 2 × echo", f"{f['echo_cpu_us']:,.0f} µs", f"{f['switch_cpu_us']:,.0f} µs",
                 f"{f['cpu_ratio']:.2f} ×", verdict(f["cpu_ratio"] <= 2))
    if "people" in results:
        p = results["people"]
        grid.add(f"{p['people']:,} people: admin.load < 10 s", "", f"{p['load_s']:.1f} s",
                 f"{p['people_per_s']:,} people/s, {p.get('load_cpu_s', 0):.1f} s of CPU", verdict(p["load_s"] < 10))
        grid.add(f"{p['people']:,} people: switch RSS < 300 MB", "", f"{p['rss_after_load_mb']:.0f} MB",
                 f"{p['bytes_per_person']:,} B/person", verdict(p["rss_after_load_mb"] < 300))
    if "core" in results:
        rate = results["core"]["decisions_per_s"]
        grid.add("pure core ≥ 100,000 decisions/s", "", f"{rate:,.0f}/s", "", verdict(rate >= 100_000))
    if doors:
        setup = results.get("setup", {})
        grid.note = (f"{setup.get('terminals', '?')} tills, {setup.get('people', 0):,} people; medians of "
                     f"{setup.get('repeat', '?')} interleaved runs of {setup.get('duration_s', '?')} s, echo and "
                     "switch alternating on this machine; the switch's traffic journal "
                     + ("on, as serve's defaults" if setup.get("journal") else "off (--journal-max 0)")
                     + ("" if all(f["all_healthy"] for f in doors.values()) else "; SOME RUNS HAD ERRORS"))
    return grid


def _detail_grids(results: dict[str, Any], args: argparse.Namespace) -> list[Grid]:
    from terminal.load import bench_doors, bench_growth

    grids = []
    if "doors" in results:
        grids.append(bench_doors.doors_grid(results["doors"], args))
    if "people" in results:
        grids.append(bench_growth.people_grid(results["people"]))
    if "core" in results:
        grids.append(bench_growth.core_grid(results["core"]))
    if "growth" in results:
        grids.append(bench_growth.growth_grid(results["growth"]))
    return grids
