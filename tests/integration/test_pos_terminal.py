"""The POS terminal on a real broker (amqtt and mosquitto) against the switch: checkout as real tills do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from terminal.clients.admin import Admin
from terminal.clients.mqtt import Refused
from terminal.clients.pace import JumpPace, RealPace
from terminal.clients.pos import Card, Step, Terminal
from terminal.clients.state import TerminalState
from tests.support.families import DONGYING, ZIBO, cert, pharmacy_input
from tests.support.switches import InProcessSwitch

PHARMACY = "P37050000001"


def admin_of(live: InProcessSwitch) -> Admin:
    return Admin(live.url, root=live.root)


def till(live: InProcessSwitch, state_dir: Path, **kw: Any) -> Terminal:
    return Terminal(live.url, "T1", PHARMACY, root=live.root, state_dir=state_dir, **kw)


def infnos_sent(into: list[str]) -> Callable[[Step], None]:
    def record(step: Step) -> None:
        if step.kind == "send":
            into.append(str(step.infno))
    return record


def card(psn_no: str) -> Card:
    return Card("01", cert(psn_no), psn_no)


async def test_msgids_survive_a_terminal_restart(live: InProcessSwitch, tmp_path: Path) -> None:
    """A restarted terminal object settles again under new msgids: two settlements, charged twice."""
    steps: list[Step] = []
    async with admin_of(live) as admin:
        await admin.load(**DONGYING)
        async with till(live, tmp_path, on_step=steps.append) as t:
            first = await t.checkout(card("DH"), "10.00")
        async with till(live, tmp_path, on_step=steps.append) as t:
            second = await t.checkout(card("DH"), "10.00")
        assert first.setlinfo and second.setlinfo
        assert (first.setlinfo["setl_id"], second.setlinfo["setl_id"]) == ("SETL0000000001", "SETL0000000002")
        assert (first.setlinfo["balc"], second.setlinfo["balc"]) == ("490.00", "480.00")
        assert (await admin.balances("DH"))["DH"] == "480.00"
    sent = [str(s.msgid) for s in steps if s.kind == "send"]
    assert len(sent) == 6 and len(set(sent)) == 6
    assert [m[-6:] for m in sent] == ["000001", "000002", "000003", "000005", "000006", "000007"]


async def test_pharmacy_does_1101_2101_2102_and_clinic_1101_2206_2207(live: InProcessSwitch,
                                                                    tmp_path: Path) -> None:
    """Each kind of till sends its own national codes in checkout order; the clinic gets the fund share."""
    pharmacy: list[str] = []
    clinic: list[str] = []
    async with admin_of(live) as admin:
        await admin.load(**DONGYING)
        async with till(live, tmp_path, on_step=infnos_sent(pharmacy)) as t:
            bought = await t.checkout(card("DH"), "20.00")
        async with Terminal(live.url, "C1", "H37050000002", kind="clinic", root=live.root, state_dir=tmp_path,
                            on_step=infnos_sent(clinic), visit_chain=False) as c:
            seen = await c.checkout(card("DH"), "100.00")
    assert pharmacy == ["1101", "2101", "2102"] and clinic == ["1101", "2206", "2207"]
    assert bought.setlinfo is not None and seen.setlinfo is not None
    assert (bought.setlinfo["acct_pay"], bought.setlinfo["balc"]) == ("20.00", "480.00")
    assert (seen.setlinfo["fund_pay_sumamt"], seen.setlinfo["acct_pay"], seen.setlinfo["balc"]) == (
        "50.00", "50.00", "430.00")


async def test_automatic_cashier_swipes_again_inside_the_window(live: InProcessSwitch,
                                                                tmp_path: Path) -> None:
    """On POOLING_AVAILABLE an automatic cashier swipes again after its delay (90 s) and the holder pays."""
    async with admin_of(live) as admin:
        await admin.load(**DONGYING)
        async with till(live, tmp_path, pace=JumpPace(admin), auto_retry=[timedelta(seconds=90)]) as t:
            result = await t.checkout(card("DR"), "80.00")
        assert [s.code for s in result.swipes] == ["POOLING_AVAILABLE", "OK"]
        prompt = result.prompts[0]
        assert (prompt.shortfall, prompt.holder, prompt.window_seconds) == ("80.00", "DH", 300.0)
        assert prompt.text == "您存在有效的家庭共济绑定关系,5分钟内再次刷卡,可以走家庭共济消费"
        info = result.setlinfo
        assert info is not None
        assert (info["acct_mulaid_pay"], info["psn_cash_pay"], info["mulaid_psn_no"]) == (
            "80.00", "0.00", "DH")
        settled_at = datetime.fromisoformat(info["setl_time"])
        assert settled_at - prompt.declined_at == timedelta(seconds=90)
        assert await admin.balances("DH") == {"DH": "420.00", "DR": "0.00", "DE": "30.00"}


async def test_automatic_cashier_waits_switch_time_on_a_running_clock(live: InProcessSwitch,
                                                                      tmp_path: Path) -> None:
    """With the switch clock at 600x, a 60 s delay is 0.1 s of real time and still lands inside the window."""
    live.clock.set_speed(Decimal(600))
    async with admin_of(live) as admin:
        await admin.load(**DONGYING)
        async with till(live, tmp_path, pace=RealPace(600), auto_retry=[timedelta(seconds=60)]) as t:
            result = await t.checkout(card("DR"), "80.00")
        assert [s.code for s in result.swipes] == ["POOLING_AVAILABLE", "OK"]
        info = result.setlinfo
        assert info is not None and info["acct_mulaid_pay"] == "80.00"
        waited = datetime.fromisoformat(info["setl_time"]) - result.prompts[0].declined_at
        assert timedelta(seconds=60) <= waited < timedelta(seconds=300)
        assert (await admin.balances("DH"))["DH"] == "420.00"


async def test_automatic_cashier_after_the_window_gets_a_new_prompt(live: InProcessSwitch,
                                                                    tmp_path: Path) -> None:
    """A swipe again at exactly 5m00s is a first swipe again: a new prompt and a new window, nothing paid."""
    async with admin_of(live) as admin:
        await admin.load(**DONGYING)
        async with till(live, tmp_path, pace=JumpPace(admin), auto_retry=[timedelta(minutes=5)]) as t:
            result = await t.checkout(card("DR"), "80.00")
        assert [s.code for s in result.swipes] == ["POOLING_AVAILABLE", "POOLING_AVAILABLE"]
        first, second = result.prompts
        assert second.expires_at - first.expires_at == timedelta(minutes=5)
        assert result.status == "declined" and result.setlinfo is None
        assert (await admin.balances("DH"))["DH"] == "500.00"


async def test_zibo_pools_in_one_swipe_and_cancel_refunds(live: InProcessSwitch, tmp_path: Path) -> None:
    """Automatic flow needs no second swipe even for an automatic cashier; a cancel restores the holder."""
    async with admin_of(live) as admin:
        await admin.load(**ZIBO)
        async with Terminal(live.url, "Z1", "P37030000001", root=live.root, state_dir=tmp_path,
                            pace=JumpPace(admin), auto_retry=[timedelta(seconds=30)]) as t:
            result = await t.checkout(card("ZR"), "45.50")
            assert len(result.swipes) == 1 and result.setlinfo is not None
            assert (result.setlinfo["acct_mulaid_pay"], result.setlinfo["mulaid_psn_no"]) == ("45.50", "ZH")
            assert (await admin.balances("ZH"))["ZH"] == "154.50"
            refund = await t.cancel(result.setlinfo["setl_id"], "ZR")
        assert refund["code"] == "OK" and refund["output"]["setlinfo"]["acct_mulaid_pay"] == "-45.50"
        assert (await admin.balances("ZH"))["ZH"] == "200.00"
        assert (await admin.audit())["ok"] is True


async def test_reversal_owed_from_a_crash_is_sent_at_the_next_start(live: InProcessSwitch,
                                                                     tmp_path: Path) -> None:
    """A terminal that died after sending a settlement reverses it, under the reserved msgid, at its start."""
    async with admin_of(live) as admin:
        await admin.load(**DONGYING)
        # The crashed run: reservation written, settlement published, no answer ever read.
        owed = TerminalState(tmp_path, "T1").arm_settlement("2102", "DH")
        async with live.pos("T1", PHARMACY) as raw:
            settled = await raw.request("2102", pharmacy_input("DH", "50.00"), msgid=owed.omsgid)
        assert settled["code"] == "OK" and (await admin.balances("DH"))["DH"] == "450.00"
        steps: list[Step] = []
        async with till(live, tmp_path, on_step=steps.append) as t:
            pass
        reversal = next(s.answer for s in steps if s.kind == "answer" and s.infno == "2601")
        assert reversal is not None and reversal["inf_refmsgid"] == owed.msgid
        assert reversal["output"]["reversed"] is True
        assert reversal["output"]["setlinfo"]["acct_pay"] == "-50.00"
        assert (await admin.balances("DH"))["DH"] == "500.00"
        assert t.state.pending() == []


async def test_admin_helpers_return_outputs_and_raise_refused_with_the_code(live: InProcessSwitch) -> None:
    """Helpers return outputs, and a refusal raises Refused carrying the switch's code and message."""
    async with admin_of(live) as admin:
        loaded = await admin.load(**DONGYING)
        assert loaded == {"people": 3, "bindings": 2}
        await admin.credit("DE", "12.34")
        assert (await admin.balances("DE"))["DE"] == "42.34"
        try:
            await admin.credit("NOBODY", "1.00")
        except Refused as refused:
            assert refused.code == "PERSON_NOT_FOUND" and refused.answer["infcode"] == -1
        else:
            raise AssertionError("crediting an unknown person must be refused")
        clock = await admin.clock(advance="4m59s")
        assert clock["virtual"] is True
        assert (await admin.audit())["ok"] is True


async def test_a_clinic_till_runs_the_whole_visit_and_settles_its_batch_once(live: InProcessSwitch,
                                                                           tmp_path: Path) -> None:
    """By default a clinic till sends 1101 2201 2203 2204 2206 2207; a swipe again after the prompt settles the
    same batch (no new visit), which the visit's mdtrt_id then names."""
    sent: list[str] = []
    async with admin_of(live) as admin:
        await admin.load(**DONGYING)
        async with Terminal(live.url, "C2", "H37050000002", kind="clinic", root=live.root, state_dir=tmp_path,
                            on_step=infnos_sent(sent)) as c:
            seen = await c.checkout(card("DR"), "80.00", retry_after=[timedelta(seconds=1)])
        assert (await admin.balances("DH"))["DH"] == "452.00"
    assert sent == ["1101", "2201", "2203", "2204", "2206", "2207", "1101", "2206", "2207"]
    assert [s.status for s in seen.swipes] == ["declined", "settled"]
    assert seen.setlinfo is not None and seen.last.visit is not None
    assert (seen.setlinfo["mdtrt_id"], seen.setlinfo["fund_pay_sumamt"], seen.setlinfo["acct_mulaid_pay"]) == (
        seen.last.visit.mdtrt_id, "32.00", "48.00")
