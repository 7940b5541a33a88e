"""Micro-benchmark of the pure core: settlement decisions per second in one process, no I/O at all.

The same checkout mix as the load tool (own account, Dongying decline then pooled, Zibo pooled,
cancel, reversal) over a loaded population; inputs are validated once beforehand, so the figure
is the core alone: decide, then apply the effects to the in-memory state.
``python -m terminal.load.corebench [--decisions N] [--people N] [--families N]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from switch.core import admin as admin_core
from switch.core.model import Decision, State, apply
from switch.core.policy import PolicyBook, packaged_policies
from switch.core.settlement import Original, SettleCommand, cancel, reverse, settle
from switch.service.clock import CST
from switch.wire.inputs import Cancel, Load, Reverse, SettleData
from terminal.load.fleet import DEFAULT_MIX
from terminal.load.population import Population, build_population, cert_of

__all__ = ["run_core_bench"]

START = datetime(2026, 11, 25, 9, 0, tzinfo=CST)


def _state(population: Population) -> State:
    policies = tuple(packaged_policies())
    state = State(policies=PolicyBook(policies), base_policies=policies)
    for chunk in population.chunks():
        _commit(state, admin_core.load(state, Load.model_validate(chunk), START))
    return state


def _commit(state: State, decision: Decision) -> Decision:
    for effect in decision.effects:
        apply(state, effect)
    return decision


def run_core_bench(decisions: int = 200_000, people: int = 10_000, families: int = 2_000,
                   seed: int = 1) -> dict[str, Any]:
    """Run about ``decisions`` core decisions; returns the count, the seconds and decisions/s."""
    population = build_population(people, families)
    state = _state(population)
    rng = random.Random(seed)
    pools = {"own": list(population.singles) or [f.holder for f in population.families],
             "retry": [r for f in population.dongying for r in f.relatives],
             "auto": [r for f in population.zibo for r in f.relatives]}
    pools["cancel"] = pools["auto"] or pools["own"]
    pools["reversal"] = pools["own"]
    mix = {k: w for k, w in DEFAULT_MIX.items() if pools[k]}
    data = {psn: SettleData.model_validate({"psn_no": psn, "mdtrt_cert_type": "01",
                                           "mdtrt_cert_no": cert_of(psn), "medfee_sumamt": "12.34",
                                           "acct_used_flag": "1"})
            for pool in pools.values() for psn in pool}
    kinds = rng.choices(list(mix), weights=list(mix.values()), k=decisions)
    people_of = {k: iter(rng.choices(pools[k], k=kinds.count(k))) for k in mix}
    done = 0
    now = START
    step = timedelta(milliseconds=1)
    started, cpu_started = time.perf_counter(), time.process_time()
    for n, kind in enumerate(kinds):
        psn = next(people_of[kind])
        now += step
        cmd = SettleCommand("2102", "BENCH", f"M{n}", "P37050000001", data[psn], False, "41")
        first = _commit(state, settle(state, cmd, now))
        done += 1
        if kind == "retry":
            again = SettleCommand("2102", "BENCH", f"M{n}b", "P37050000001", data[psn], False, "41")
            _commit(state, settle(state, again, now))
            done += 1
        elif kind == "cancel" and first.setl_id:
            _commit(state, cancel(state, Cancel(setl_id=first.setl_id, psn_no=psn), "2103", now,
                                  terminal_id="BENCH", fixmedins_code="P37050000001"))
            done += 1
        elif kind == "reversal":
            original = Original("2102", first.code.value, first.setl_id)
            undo = Reverse(psn_no=psn, omsgid=f"M{n}", oinfno="2102")
            _commit(state, reverse(state, undo, "BENCH", original, now))
            done += 1
    seconds = time.perf_counter() - started
    # CPU seconds too: on a machine shared with other work, wall time also counts the time the
    # process waited for a core; decisions per CPU second is what the core itself costs.
    cpu = time.process_time() - cpu_started
    return {"decisions": done, "seconds": round(seconds, 3), "decisions_per_s": round(done / seconds),
            "cpu_seconds": round(cpu, 3), "decisions_per_cpu_s": round(done / cpu) if cpu else None,
            "people": population.people, "settlements_in_memory": len(state.settlements)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminal.load.corebench", description=__doc__)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--families", type=int, default=2_000)
    args = parser.parse_args(argv)
    result = run_core_bench(args.decisions, args.people, args.families)
    print(f"{result['decisions']:,} decisions in {result['seconds']:.2f} s: {result['decisions_per_s']:,}/s, "
          f"{result['decisions_per_cpu_s']:,} per CPU second ({result['people']:,} people)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
