"""Partitioned families: N switch processes behind one mosquitto, each with its own families, ledger and topic root.

Strategy: a family's money is one holder's account, so families partition cleanly — every request
about a family goes to the one switch that holds it, and each switch keeps its promises alone. The
tills of a partition speak to its topic root (a till, or a router in front of the switches, knows
the partition of the person it serves). To measure it the same way as one switch, the same number
of tills drives, alternately, one switch (split over N load generators, so the generator is not
the limit) and N switches (one generator each); every process is its own, so the figures are the
sum of N generators. ``python -m terminal.load.partitions [--switches 2] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from terminal.load.procs import Child, mosquitto_process, switch_process, temp_dir
from terminal.load.tables import Grid

__all__ = ["main", "measure"]


def _generators(broker: str, roots: list[str], tills: int, people: int, duration: float) -> list[dict[str, Any]]:
    """One ``gongji-terminal load`` process per root (roots may repeat), all at once; their JSON figures."""
    procs = [subprocess.Popen([sys.executable, "-m", "terminal", "load", "--broker", broker, "--root", root,
                               "--prefix", f"P{i}", "--terminals", str(tills), "--per-connection", "16",
                               "--people", str(people), "--families", str(people // 5), "--duration",
                               str(duration), "--warmup", "1", "--json"], stdout=subprocess.PIPE, text=True)
             for i, root in enumerate(roots)]
    return [json.loads(p.communicate()[0]) for p in procs]


def _sum(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {"requests_per_s": sum(r["stats"]["requests_per_s"] for r in runs),
            "p99_ms": max(r["stats"]["latency_ms"]["p99"] for r in runs),
            "errors": sum(r["stats"]["timeouts"] + sum(r["stats"]["unexpected"].values()) for r in runs)}


def measure(switches: int, repeat: int, tills: int, people: int, duration: float) -> dict[str, Any]:
    """One switch and ``switches`` switches, alternately, ``repeat`` times: medians of the summed rates."""
    with temp_dir() as name:
        tmp = Path(name)
        started: list[Child] = [mosquitto_process(tmp).start()]
        try:
            roots = []
            for i in range(switches):
                root = f"gongji-part/{secrets.token_hex(3)}-{i}"
                (tmp / str(i)).mkdir()
                started.append(switch_process(tmp / str(i), started[0].url, root, tmp / str(i) / "ledger.db",
                                              "INFO", ("--journal-max", "0")).start())
                roots.append(root)
            one: list[dict[str, float]] = []
            many: list[dict[str, float]] = []
            for _ in range(repeat):
                one.append(_sum(_generators(started[0].url, [roots[0]] * switches, tills // switches,
                                            people // switches, duration)))
                many.append(_sum(_generators(started[0].url, roots, tills // switches, people // switches,
                                             duration)))
                print(f"1 switch {one[-1]['requests_per_s']:,.0f} req/s · {switches} switches "
                      f"{many[-1]['requests_per_s']:,.0f} req/s", file=sys.stderr, flush=True)
        finally:
            for child in reversed(started):
                child.stop()
    return {"switches": switches, "tills": tills, "people": people, "repeat": repeat, "one": one, "many": many,
            "one_rps": statistics.median(r["requests_per_s"] for r in one),
            "many_rps": statistics.median(r["requests_per_s"] for r in many),
            "one_p99_ms": statistics.median(r["p99_ms"] for r in one),
            "many_p99_ms": statistics.median(r["p99_ms"] for r in many),
            "errors": sum(r["errors"] for r in (*one, *many))}


def grid(result: dict[str, Any]) -> Grid:
    table = Grid(f"partitioned families on one mosquitto: {result['tills']} tills, {result['people']:,} people, "
                 f"median of {result['repeat']} alternating runs", ("switch processes", "req/s", "p99 ms"))
    table.add("1", f"{result['one_rps']:,.0f}", f"{result['one_p99_ms']:.1f}")
    table.add(str(result["switches"]), f"{result['many_rps']:,.0f}", f"{result['many_p99_ms']:.1f}")
    table.note = f"{result['errors']} errors; one load generator per partition in both cases"
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminal.load.partitions", description=__doc__)
    parser.add_argument("--switches", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tills", type=int, default=64)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.switches < 2 or args.tills < args.switches:
        print("partitions: --switches ≥ 2 and at least one till per switch", file=sys.stderr)
        return 2
    result = measure(args.switches, args.repeat, args.tills, args.people, args.duration)
    print(json.dumps(result, indent=2) if args.json else grid(result).markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
