"""The load tool end to end at CI size: exact counts, exact money and a clean audit, on both brokers."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from terminal.clients.admin import Admin
from terminal.load.fleet import FleetConfig
from terminal.load.population import BALANCE_FEN, build_population
from terminal.load.run import LoadPlan, run_load
from tests.support.switches import ROOT, SwitchProcess

pytestmark = pytest.mark.e2e


def expected_codes(checkouts: dict[str, int], full_checkout: bool) -> Counter[str]:
    """Every answer a mix must get: per settlement 1101 and the pre-settlement too when ``full_checkout``."""
    per_settle = 3 if full_checkout else 1
    settles = sum(checkouts.values()) + checkouts.get("retry", 0)  # a retry settles twice: declined, pooled
    codes = Counter({"OK": settles * per_settle + checkouts.get("cancel", 0) + checkouts.get("reversal", 0)})
    if checkouts.get("retry"):
        declined = checkouts["retry"] * (2 if full_checkout else 1)  # the pre-settlement declines as well
        codes["OK"] -= declined
        codes["POOLING_AVAILABLE"] = declined
    return codes


def assert_clean(result: dict[str, Any], count: int, full_checkout: bool) -> None:
    stats = result["stats"]
    assert stats["timeouts"] == 0 and stats["unexpected"] == {}
    assert sum(stats["checkouts"].values()) == count
    assert Counter(stats["codes"]) == expected_codes(stats["checkouts"], full_checkout)
    assert stats["settled"] == count  # each kind settles once (a retry's first swipe is declined)
    assert stats["undone"] == stats["checkouts"].get("cancel", 0) + stats["checkouts"].get("reversal", 0)
    assert result["audit"] == {"ok": True, "violations": [], "checked": result["audit"]["checked"]}
    assert result["counts"] == {"settled": stats["settled"] - stats["undone"], "undone": stats["undone"]}


@pytest.mark.parametrize("embedded", [False, True], ids=["mosquitto", "amqtt"])
async def test_load_command_starts_broker_and_switch_and_checks_the_books(embedded: bool) -> None:
    """`gongji-terminal load --count` on its own broker and switch subprocess: every checkout of the mix
    completes with the codes its rules give, the counts match the ledger's and admin.audit is ok."""
    args = ["load", "--count", "40", "--terminals", "6", "--per-connection", "4", "--people", "50",
            "--families", "10", "--full-checkout", "--json", *(["--embedded"] if embedded else [])]
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "terminal", *args, cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE,
                                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["broker"] == ("amqtt (embedded broker, own process)" if embedded else "mosquitto")
    assert result["load"]["people"] == 50 and result["load"]["bindings"] == 23  # families of 2, 3, 4, 5, 2...
    assert set(result["stats"]["checkouts"]) == {"own", "retry", "auto", "cancel", "reversal"}
    assert_clean(result, 40, full_checkout=True)
    broker = "amqtt" if embedded else "mosquitto"
    assert set(result["cpu_percent"]) == {broker, "switch", "load generator"}


async def test_load_against_a_running_switch_moves_exactly_the_money_it_reports(
        broker_url: str, topic_root: str, tmp_path: Path) -> None:
    """Against a switch already running: what the answers say left the accounts is exactly what the
    balances lost; a second run reloads the same people (balances reset) and adds up the same way."""
    switch = SwitchProcess("--broker", broker_url, "--db", str(tmp_path / "ledger.db"),
                           "--topic-root", topic_root, "--log-level", "WARNING").start()
    try:
        population = build_population(40, 8, prefix="T")
        for seed in (1, 2):
            plan = LoadPlan(fleet=FleetConfig(terminals=5, per_connection=2, count=30, seed=seed), people=40,
                            families=8, prefix="T", broker=broker_url, root=topic_root)
            result = await run_load(plan)
            assert_clean(result, 30, full_checkout=False)
            async with Admin(broker_url, root=topic_root) as admin:
                balances = await admin.balances()
            holders_and_singles = [*population.singles, *(f.holder for f in population.families)]
            total = sum(int(Decimal(balances[p]) * 100) for p in holders_and_singles)
            assert total == BALANCE_FEN * len(holders_and_singles) - result["stats"]["paid_fen"]
            assert result["stats"]["paid_fen"] > 0
    finally:
        assert switch.terminate() == 0


async def test_echo_responder_answers_every_request_through_the_broker(broker_url: str) -> None:
    """--echo: the same requests through the same broker, each answered at once; nothing is checked
    against the rules (the echo knows none), so every checkout completes and every answer is OK."""
    fleet = FleetConfig(terminals=4, per_connection=2, count=25, expect=False)
    plan = LoadPlan(fleet=fleet, people=20, families=4, broker=broker_url, echo=True)
    result = await run_load(plan)
    stats = result["stats"]
    assert result["responder"] == "echo" and "load" not in result and "audit" not in result
    assert stats["timeouts"] == 0 and sum(stats["checkouts"].values()) == 25
    assert stats["codes"] == {"OK": stats["requests"]}
    assert stats["requests"] == sum(stats["by_infno"].values()) >= 25
    assert set(result["cpu_percent"]) == {"echo", "load generator"}
