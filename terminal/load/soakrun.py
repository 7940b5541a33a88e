"""The half-rate soak: the switch as operators run it, for many minutes, with its RSS and p99 sampled.

A short run at full speed finds the switch's maximum rate on this machine; the soak then runs the
same fleet (64 tills, 10,000 people, the default mix, mosquitto) at half of it. Every sample is
one interval's answers: their rate, their p99 and errors, and the switch's RSS at its end. "Flat"
means the median RSS of the last third of the samples is within ``RSS_SLACK`` of the first third's,
and the median p99 of the last third within ``P99_SLACK`` times the first third's. The switch keeps
the newest ``--keep`` settlements, answers and spending rows in memory and reads older ones from
the ledger file, so its RSS levels off once those are full.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from terminal.load.fleet import FleetConfig
from terminal.load.procs import rss_mb
from terminal.load.run import LoadPlan, run_load
from terminal.load.stats import Stats, percentile
from terminal.load.tables import Grid, verdict

__all__ = ["Sampler", "flatness", "main_half_rate", "soak_grid", "soak_half_rate"]

RSS_SLACK = 0.10  # the last sample's RSS at most 10% above the first's
P99_SLACK = 1.5  # the last third's median p99 at most 1.5 times the first third's
TERMINALS, PER_CONNECTION, PEOPLE = 64, 16, 10_000


@dataclass
class Sampler:
    """Called on every tick of the fleet: closes a sample each ``every`` seconds of the run."""

    every: float
    pid: int | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    _index: int = 0  # latencies before this one belong to earlier samples
    _errors: int = 0
    _since: float | None = None

    def __call__(self, stats: Stats) -> None:
        now = time.perf_counter()
        if self._since is None:
            self._since = stats.started
        if now - self._since >= self.every:
            self.close(stats, now)

    def close(self, stats: Stats, now: float) -> None:
        assert self._since is not None
        fresh = sorted(stats.latencies[self._index:])
        errors = stats.timeouts + sum(stats.unexpected.values())
        rss = (rss_mb(self.pid) or (0.0, 0.0))[0] if self.pid is not None else 0.0
        self.samples.append({
            "minute": round((now - stats.started) / 60, 2), "requests": len(fresh),
            "requests_per_s": round(len(fresh) / max(now - self._since, 1e-9), 1),
            "p50_ms": round(percentile(fresh, 50) * 1000, 2), "p99_ms": round(percentile(fresh, 99) * 1000, 2),
            "errors": errors - self._errors, "rss_mb": round(rss, 1),
            "load_average": round(os.getloadavg()[0], 2)})  # the machine is shared: say how busy it was
        self._index, self._errors, self._since = len(stats.latencies), errors, now
        print(json.dumps(self.samples[-1]), file=sys.stderr, flush=True)  # progress, for the long soak


def flatness(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """RSS and p99, each the median of the first third of the samples against that of the last third, with
    verdicts: the first minutes fill what the switch keeps of recent traffic (``serve --keep``), and a sample
    alone moves with the machine; a steady growth still shows as the last third above the first."""
    if len(samples) < 3:
        return {"rss_flat": None, "p99_flat": None}
    third = len(samples) // 3
    first, last = samples[:third], samples[-third:]
    first_p99 = statistics.median(s["p99_ms"] for s in first)
    last_p99 = statistics.median(s["p99_ms"] for s in last)
    first_rss = statistics.median(s["rss_mb"] for s in first)
    last_rss = statistics.median(s["rss_mb"] for s in last)
    hours = max(statistics.median(s["minute"] for s in last) - statistics.median(s["minute"] for s in first),
                1e-9) / 60
    return {"rss_first_mb": first_rss, "rss_last_mb": last_rss,
            "rss_growth_mb_per_hour": round((last_rss - first_rss) / hours, 1),
            "rss_flat": last_rss <= first_rss * (1 + RSS_SLACK),
            "p99_first_third_ms": first_p99, "p99_last_third_ms": last_p99,
            "p99_flat": last_p99 <= first_p99 * P99_SLACK}


async def soak_half_rate(minutes: float, every: float, rate: float | None = None,
                         probe_seconds: float = 6.0) -> dict[str, Any]:
    """The soak's figures: the rate found (or given), the samples and the flatness verdicts."""
    fleet = FleetConfig(terminals=TERMINALS, per_connection=PER_CONNECTION, duration=probe_seconds, warmup=1.0)
    plan = LoadPlan(fleet=fleet, people=PEOPLE, families=PEOPLE // 5, switch_log_level="INFO")
    result: dict[str, Any] = {"minutes": minutes, "sample_seconds": every}
    if rate is None:
        probe = await run_load(plan)
        result["max_requests_per_s"] = probe["stats"]["requests_per_s"]
        rate = round(probe["stats"]["requests_per_s"] / 2)
    result["rate"] = rate
    sampler = Sampler(every)

    def started(pids: dict[str, int]) -> None:
        sampler.pid = pids.get("switch")

    soak_fleet = FleetConfig(terminals=TERMINALS, per_connection=PER_CONNECTION, duration=minutes * 60,
                             rate=rate, timeout=30.0)
    run = await run_load(LoadPlan(fleet=soak_fleet, people=PEOPLE, families=PEOPLE // 5),
                         on_tick=sampler, on_fleet=started)
    stats = run["stats"]
    result.update(samples=sampler.samples, **flatness(sampler.samples),
                  requests=stats["requests"], requests_per_s=stats["requests_per_s"],
                  p99_ms=stats["latency_ms"]["p99"], timeouts=stats["timeouts"],
                  unexpected=sum(stats["unexpected"].values()), audit_ok=run.get("audit", {}).get("ok"),
                  counts_match=run.get("counts_match"), cpu_us_per_request=run.get("cpu_us_per_request"),
                  rss_after_load_mb=run.get("rss_after_load_mb"))
    return result


def soak_grid(result: dict[str, Any]) -> tuple[Grid, Grid]:
    """The samples, and the verdicts."""
    samples = Grid(f"soak: {result['minutes']:g} min at {result['rate']:,.0f} req/s "
                   f"(half of {result.get('max_requests_per_s', 0):,.0f}), {TERMINALS} tills, {PEOPLE:,} people",
                   ("minute", "req/s", "p50 ms", "p99 ms", "errors", "switch RSS MB", "load average"))
    for s in result["samples"]:
        samples.add(f"{s['minute']:.1f}", f"{s['requests_per_s']:,.0f}", f"{s['p50_ms']:.1f}",
                    f"{s['p99_ms']:.1f}", f"{s['errors']:,}", f"{s['rss_mb']:.0f}", f"{s['load_average']:.1f}")
    flat = Grid("soak: flat or not", ("figure", "first", "last", "flat"),
                note=f"medians of the first and last third of the samples: RSS within {RSS_SLACK:.0%}, p99 within "
                     f"{P99_SLACK:g}×")
    if result.get("rss_flat") is not None:
        flat.add("switch RSS MB", f"{result['rss_first_mb']:.0f}", f"{result['rss_last_mb']:.0f} "
                 f"({result['rss_growth_mb_per_hour']:+,.0f} MB/h)", verdict(result["rss_flat"]))
        flat.add("p99 ms", f"{result['p99_first_third_ms']:.1f}", f"{result['p99_last_third_ms']:.1f}",
                 verdict(result["p99_flat"]))
    flat.add("books (admin.audit, counts)", "", f"{result['timeouts']} timeouts, {result['unexpected']} unexpected",
             verdict(bool(result["audit_ok"] and result["counts_match"])))
    return samples, flat


def main_half_rate(args: argparse.Namespace) -> int:
    from rich.console import Console

    result = asyncio.run(soak_half_rate(args.minutes, args.sample_seconds, args.rate))
    if args.save:
        with open(args.save, "w", encoding="utf-8") as out:
            json.dump(result, out, ensure_ascii=False, indent=2)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    grids = soak_grid(result)
    if args.markdown:
        print("\n\n".join(g.markdown() for g in grids))
    else:
        for grid in grids:
            Console(highlight=False).print(grid.rich())
    return 0
