"""Concurrency: many terminals settling against one account at the same instant never overdraw it,
and every outcome equals the serial order the switch reports (its setl_id order)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from terminal.clients.mqtt import SwitchClient
from tests.support.families import person, pharmacy_input
from tests.support.money import MoneyModel, Paid
from tests.support.switches import InProcessSwitch, SwitchProcess


def fen(text: str) -> int:
    return int(Decimal(text) * 100)


def paid_of(info: dict[str, Any]) -> Paid:
    return Paid(fen(info["fund_pay_sumamt"]), fen(info["acct_pay"]), fen(info["acct_mulaid_pay"]),
                fen(info["psn_cash_pay"]), info["mulaid_psn_no"])


def check_serial(model: MoneyModel, settled: list[tuple[str, int, dict[str, Any]]]) -> None:
    """Replay (patient, fee, setlinfo) in setl_id order through the model: every fen must agree."""
    for patient, fee, info in sorted(settled, key=lambda s: s[2]["setl_id"]):
        expected = model.quote(patient, fee)
        assert paid_of(info) == expected, (info["setl_id"], patient, fee)
        model.settle(patient, expected)


async def at_once(clients: list[SwitchClient], requests: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each client sends its request in the same event-loop turn: the switch sees them back to back."""
    return list(await asyncio.gather(*(c.request(infno, body, timeout=20) for c, (infno, body) in
                                       zip(clients, requests, strict=True))))


async def seven_terminals(live: InProcessSwitch, region: str) -> tuple[MoneyModel, list[SwitchClient]]:
    fees = [8000, 6000, 5500, 4000, 3500, 3000, 2500]  # 295.00 wanted of a 250.00 account, after own and cap
    model = MoneyModel()
    model.person("H", 25000)
    people = [person("H", region, "250.00")]
    bindings = []
    for i, _ in enumerate(fees, 1):
        employee = i % 3 == 0  # some relatives have a small account of their own
        people.append(person(f"R{i}", region, "10.00" if employee else None, insutype="310" if employee else "390"))
        model.person(f"R{i}", 1000, employee)
        cap = 5000 if i == 2 else None  # one relative capped below their fee
        bindings.append({"holder_psn_no": "H", "relative_psn_no": f"R{i}", "rltn": "child",
                         **({"cap": "50.00"} if cap else {})})
        model.bind("H", f"R{i}", cap)
    async with live.client("admin") as admin:
        assert (await admin.request("admin.load", {"people": people, "bindings": bindings}))["code"] == "OK"
    return model, [live.pos(f"T{i}", fixmedins_code=f"P{i}") for i in range(1, 8)]


@pytest.mark.parametrize("region", ["370300", "370500"], ids=["automatic", "retry-window"])
async def test_seven_relatives_settle_at_the_same_instant(live: InProcessSwitch, region: str) -> None:
    """Seven relatives of one holder, seven terminals, one instant: no overdraft, outcomes = setl_id order."""
    fees = [8000, 6000, 5500, 4000, 3500, 3000, 2500]
    model, clients = await seven_terminals(live, region)
    for client in clients:
        await client.__aenter__()
    try:
        requests = [("2102", pharmacy_input(f"R{i}", f"{fee / 100:.2f}")) for i, fee in enumerate(fees, 1)]
        answers = await at_once(clients, requests)
        if region == "370500":  # Dongying: every first swipe is declined and opens a window; swipe again at once
            assert {a["code"] for a in answers} == {"POOLING_AVAILABLE"}
            answers = await at_once(clients, requests)
        assert {a["code"] for a in answers} == {"OK"}
        settled = [(f"R{i}", fee, a["output"]["setlinfo"]) for i, (fee, a) in enumerate(zip(fees, answers,
                                                                                            strict=True), 1)]
        check_serial(model, settled)
        pooled = sum(fen(s[2]["acct_mulaid_pay"]) for s in settled)
        assert pooled == 25000  # the whole account, not a fen more: someone paid the rest in cash
        async with live.client("admin") as admin:
            state = await admin.request("admin.state", {"psn_no": "H"})
            assert {p["psn_no"]: p["balc"] for p in state["output"]["people"]}["H"] == "0.00"
            assert {b["relative_psn_no"]: b["used"] for b in state["output"]["bindings"]}["R2"] == \
                f"{model.used['R2'] / 100:.2f}"
            assert (await admin.request("admin.audit"))["output"]["ok"] is True
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)


@pytest.fixture
def switch_on_mosquitto(mosquitto_url: str, topic_root: str, tmp_path: Path) -> Iterator[SwitchProcess]:
    process = SwitchProcess("--broker", mosquitto_url, "--db", str(tmp_path / "ledger.db"), "--clock", "virtual",
                            "--topic-root", topic_root, "--log-level", "WARNING").start()
    yield process
    assert process.terminate() == 0


async def test_two_hundred_terminals_over_a_hundred_families(
        switch_on_mosquitto: SwitchProcess, mosquitto_url: str, topic_root: str) -> None:
    """200 terminals, 2 per family, 3 settlements each at once: per family the outcomes equal the serial order."""
    rng = random.Random(200)
    model = MoneyModel()
    people, bindings = [], []
    for f in range(100):
        holder, spouse, child = f"H{f:03d}", f"S{f:03d}", f"C{f:03d}"
        balance = rng.randint(0, 30000)
        people += [person(holder, "370300", f"{balance / 100:.2f}"), person(spouse, "370300", "20.00"),
                   person(child, "370300", insutype="390")]
        model.person(holder, balance)
        model.person(spouse, 2000)
        model.person(child, 0, employee=False)
        cap = rng.choice([None, 5000])
        bindings += [{"holder_psn_no": holder, "relative_psn_no": spouse, "rltn": "spouse"},
                     {"holder_psn_no": holder, "relative_psn_no": child, "rltn": "child",
                      **({"cap": "50.00"} if cap else {})}]
        model.bind(holder, spouse)
        model.bind(holder, child, cap)
    async with SwitchClient(mosquitto_url, "admin", root=topic_root) as admin:
        for i in range(0, 100, 25):  # 25 families a message keeps each under the 64 KiB payload limit
            chunk = {"people": people[3 * i:3 * (i + 25)], "bindings": bindings[2 * i:2 * (i + 25)]}
            assert (await admin.request("admin.load", chunk))["code"] == "OK"
    clients = [SwitchClient(mosquitto_url, "pos", f"T{t:03d}", root=topic_root, fixmedins_code="P1", timeout=30)
               for t in range(200)]
    await asyncio.gather(*(c.__aenter__() for c in clients))
    try:
        plan: list[list[tuple[str, int]]] = []
        for t in range(200):
            family = t // 2
            plan.append([(rng.choice([f"S{family:03d}", f"C{family:03d}", f"H{family:03d}"]), rng.randint(1, 9000))
                         for _ in range(3)])

        async def terminal(client: SwitchClient, work: list[tuple[str, int]]) -> list[tuple[str, int, dict[str, Any]]]:
            done = []
            for patient, fee in work:
                answer = await client.request("2102", pharmacy_input(patient, f"{fee / 100:.2f}"))
                assert answer["code"] == "OK", answer
                done.append((patient, fee, answer["output"]["setlinfo"]))
            return done

        results = await asyncio.gather(*(terminal(c, w) for c, w in zip(clients, plan, strict=True)))
    finally:
        await asyncio.gather(*(c.__aexit__(None, None, None) for c in clients))
    settled = [s for r in results for s in r]
    assert len(settled) == 600 and len({s[2]["setl_id"] for s in settled}) == 600
    check_serial(model, settled)
    async with SwitchClient(mosquitto_url, "admin", root=topic_root) as admin:
        state = await admin.request("admin.state", {}, timeout=20)
        balances = {p["psn_no"]: fen(p["balc"]) for p in state["output"]["people"]}
        assert balances == model.balances and min(balances.values()) >= 0
        drained = [h for h in balances if h.startswith("H") and balances[h] == 0]
        assert len(drained) >= 20  # contention was real: many holders' accounts ran dry mid-stream
        assert (await admin.request("admin.audit", {}, timeout=20))["output"]["ok"] is True
