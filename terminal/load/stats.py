"""What a load run measured: every round trip's latency and code, and the table and JSON made of them.

Latencies go into a flat ``array('d')`` (8 bytes each, no object per sample); percentiles are
nearest-rank over the sorted samples, so p99 of 1,000 samples is the 990th, never interpolated.
"""

from __future__ import annotations

import math
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stats", "percentile", "result_table"]


def percentile(ordered: array[float] | list[float], p: float) -> float:
    """Nearest-rank percentile of ascending ``ordered`` (0 when there are no samples)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Stats:
    """Counters of one run; ``record`` is called once per answered request."""

    warmup: float = 0.0  # seconds at the start left out of the rate (connections and caches warming)
    started: float = field(default_factory=time.perf_counter)
    deadline: float | None = None  # perf_counter time after which no checkout starts
    latencies: array[float] = field(default_factory=lambda: array("d"))
    answered_at: array[float] = field(default_factory=lambda: array("d"))
    codes: Counter[str] = field(default_factory=Counter)
    by_infno: Counter[str] = field(default_factory=Counter)
    scenarios: Counter[str] = field(default_factory=Counter)  # checkouts completed, by kind
    unexpected: Counter[str] = field(default_factory=Counter)  # "2102 POOLING_AVAILABLE→OK"
    timeouts: int = 0
    settled: int = 0  # settlements answered OK (2102/2207)
    undone: int = 0  # cancels and reversals that undid one
    paid_fen: int = 0  # from personal accounts (own and pooled), net of refunds, as the answers say

    def record(self, infno: str, code: str, latency: float, now: float) -> None:
        self.latencies.append(latency)
        self.answered_at.append(now)
        self.codes[code] += 1
        self.by_infno[infno] += 1

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def window(self) -> tuple[float, float]:
        """The measured span: after the warm-up, until the deadline (or the last answer)."""
        last = self.answered_at[-1] if self.answered_at else self.started
        end = min(last, self.deadline) if self.deadline is not None else last
        start = min(self.started + self.warmup, end)
        return start, end

    def rate(self, count_settled: bool = False) -> float:
        start, end = self.window()
        if end <= start:
            return 0.0
        inside = float(sum(1 for t in self.answered_at if start <= t <= end))
        if count_settled:  # settlements are a steady share of the requests of a mix
            inside *= self.settled / max(self.requests, 1)
        return inside / (end - start)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        start, end = self.window()
        ms = {f"p{p:g}": round(percentile(ordered, p) * 1000, 3) for p in (50, 95, 99)}
        ms["max"] = round((ordered[-1] if ordered else 0.0) * 1000, 3)
        ms["mean"] = round(sum(ordered) / len(ordered) * 1000, 3) if ordered else 0.0
        return {
            "requests": self.requests, "settled": self.settled, "undone": self.undone,
            "paid_fen": self.paid_fen,
            "seconds": round(end - start, 3),
            "requests_per_s": round(self.rate(), 1), "settlements_per_s": round(self.rate(True), 1),
            "latency_ms": ms, "codes": dict(self.codes.most_common()),
            "by_infno": dict(sorted(self.by_infno.items())),
            "checkouts": dict(sorted(self.scenarios.items())),
            "unexpected": dict(self.unexpected.most_common()),
            "timeouts": self.timeouts,
        }


def result_table(result: dict[str, Any], title: str) -> Any:
    """The run's figures as a rich table: rates, latency percentiles, codes, errors, resources."""
    from rich.table import Table

    s = result["stats"]
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_column("", style="dim")
    table.add_row("settlements/s", f"{s['settlements_per_s']:,.0f}",
                  f"{s['settled']:,} settled, {s['undone']:,} undone")
    table.add_row("requests/s", f"{s['requests_per_s']:,.0f}",
                  f"{s['requests']:,} round trips in {s['seconds']:.1f} s")
    lat = s["latency_ms"]
    over_http = str(result.get("broker", "")).startswith("HTTP door")  # a POST and its response, not MQTT
    table.add_row("latency p50 / p95", f"{lat['p50']:.2f} / {lat['p95']:.2f} ms",
                  "request → response" if over_http else "publish → answer")
    table.add_row("latency p99 / max", f"{lat['p99']:.2f} / {lat['max']:.2f} ms", "")
    for code, n in s["codes"].items():
        table.add_row(f"  {code}", f"{n:,}", "responses")
    checkouts = ", ".join(f"{k} {v:,}" for k, v in s["checkouts"].items())
    table.add_row("checkouts", f"{sum(s['checkouts'].values()):,}", checkouts)
    unexpected = sum(s["unexpected"].values())
    table.add_row("unexpected codes", f"{unexpected:,}",
                  ", ".join(f"{k} ×{v}" for k, v in s["unexpected"].items()),
                  style="red" if unexpected else None)
    table.add_row("timeouts", f"{s['timeouts']:,}", "", style="red" if s["timeouts"] else None)
    for name, cpu in (result.get("cpu_percent") or {}).items():
        table.add_row(f"CPU {name}", f"{cpu:.0f} %", "of one core, during the run")
    if result.get("rss_mb") is not None:
        table.add_row("switch memory", f"{result['rss_mb']:.0f} MB",
                      f"RSS (peak {result.get('rss_peak_mb', 0):.0f} MB)")
    if result.get("load") is not None:
        load = result["load"]
        table.add_row("admin.load", f"{load['seconds']:.2f} s",
                      f"{load['people']:,} people, {load['bindings']:,} bindings in {load['chunks']} chunks")
    if result.get("audit") is not None:
        audit = result["audit"]
        table.add_row("admin.audit", "ok" if audit["ok"] else "FAILED",
                      "; ".join(audit.get("violations", [])[:3]), style=None if audit["ok"] else "red")
    return table
