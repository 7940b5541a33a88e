"""Visits, their batches and sign-ins under ``serve --keep``: the newest in memory, older ones read back from the file.

A visit that left memory is settled, refused, cancelled and reversed with the same amounts, balances and
answers as one that stayed (a switch keeping everything, sent the same requests, answers the same bytes);
memory holds at most ``keep`` visits and sign-ins however many were made, and a restart loads only those.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from switch.core.model import State
from tests.support.clinic import fee_line, register_input, settle_input
from tests.support.direct import Direct, direct_switch
from tests.support.families import ZIBO

KEEP = 2


def state_of(d: Direct) -> State:
    assert d.switch.state is not None
    return d.switch.state


def setlinfo(answer: dict[str, Any]) -> tuple[str, ...]:
    info = answer["output"]["setlinfo"]
    return tuple(info[k] for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay",
                                   "psn_cash_pay", "mulaid_psn_no", "mdtrt_id"))


async def others(d: Direct, count: int = KEEP + 1) -> None:
    """``count`` newer visits of the holder, each with a batch, and as many sign-ins: the older ones leave memory."""
    for _ in range(count):
        mdtrt_id = (await d.pos("T9", "2201", register_input("ZH")))["output"]["data"]["mdtrt_id"]
        up = await d.pos("T9", "2204", {"feedetail": [fee_line("1", mdtrt_id, "ZH", "B1", "1", "1.00")]})
        assert up["code"] == "OK"
        assert (await d.pos("T9", "9001", {"signIn": {"opter_no": "OP9"}}))["code"] == "OK"


async def chain(d: Direct, keep: int | None) -> list[dict[str, Any]]:
    """A visit's whole life, older visits and sign-ins pushed out of memory before each step; every answer."""
    state = state_of(d)
    answers = [await d.admin("admin.load", ZIBO)]

    async def pos(infno: str, input: dict[str, Any], msgid: str | None = None) -> dict[str, Any]:
        answers.append(await d.pos("T1", infno, input, msgid=msgid))
        return answers[-1]

    sign_no = (await pos("9001", {"signIn": {"opter_no": "OP1"}}))["output"]["signinoutb"]["sign_no"]
    mdtrt_id = (await pos("2201", register_input("ZR")))["output"]["data"]["mdtrt_id"]
    assert (await pos("2204", {"feedetail": [fee_line("1", mdtrt_id, "ZR", "B1", "2", "25.00")]}))["code"] == "OK"
    assert (await pos("2204", {"feedetail": [fee_line("2", mdtrt_id, "ZR", "B2", "1", "30.00")]}))["code"] == "OK"

    async def gone() -> None:
        await others(d)
        if keep is not None:
            assert not state.visits.holds(mdtrt_id) and not state.sign_ins.holds(sign_no)
            assert state.visits.in_memory <= keep and state.sign_ins.in_memory <= keep

    await gone()
    first = await pos("2207", settle_input("ZR", "50.00", mdtrt_id, "B1"), msgid="settle-1")
    assert setlinfo(first) == ("50.00", "20.00", "0.00", "30.00", "0.00", "ZH", mdtrt_id)
    assert await d.balances() == {"ZH": "170.00", "ZR": "0.00"}
    await gone()
    assert (await pos("2207", settle_input("ZR", "50.00", mdtrt_id, "B1")))["code"] == "VISIT_SETTLED"
    await gone()
    assert (await pos("2205", {"data": {"psn_no": "ZR", "mdtrt_id": mdtrt_id, "chrg_bchno": "B1"}}))["code"] == \
        "VISIT_SETTLED"
    await gone()
    assert (await pos("2202", {"data": {"psn_no": "ZR", "mdtrt_id": mdtrt_id}}))["code"] == "VISIT_SETTLED"
    await gone()
    setl_id = first["output"]["setlinfo"]["setl_id"]
    cancel = await pos("2208", {"data": {"setl_id": setl_id, "psn_no": "ZR"}})
    assert (cancel["code"], cancel["output"]["setlinfo"]["mdtrt_id"]) == ("OK", mdtrt_id)
    assert await d.balances() == {"ZH": "200.00", "ZR": "0.00"}
    await gone()
    again = await pos("2207", settle_input("ZR", "50.00", mdtrt_id, "B1"), msgid="settle-2")  # freed by the cancel
    assert setlinfo(again) == ("50.00", "20.00", "0.00", "30.00", "0.00", "ZH", mdtrt_id)
    assert await d.balances() == {"ZH": "170.00", "ZR": "0.00"}
    await gone()
    reversal = await pos("2601", {"psn_no": "ZR", "omsgid": "settle-2", "oinfno": "2207"})
    assert (reversal["code"], reversal["output"]["reversed"]) == ("OK", True)
    assert await d.balances() == {"ZH": "200.00", "ZR": "0.00"}
    await gone()
    wrong = await pos("2207", settle_input("ZR", "29.99", mdtrt_id, "B2"))
    assert wrong["code"] == "FEE_MISMATCH" and "30.00" in wrong["err_msg"]
    await gone()
    assert (await pos("2205", {"data": {"psn_no": "ZR", "mdtrt_id": mdtrt_id, "chrg_bchno": "B2"}}))["code"] == "OK"
    await gone()
    assert (await pos("2207", settle_input("ZR", "30.00", mdtrt_id, "B2")))["code"] == "FEES_NOT_FOUND"
    await gone()
    assert (await pos("2202", {"data": {"psn_no": "ZR", "mdtrt_id": mdtrt_id}}))["code"] == "OK"
    await gone()
    assert (await pos("2204", {"feedetail": [fee_line("3", mdtrt_id, "ZR", "B3", "1", "1.00")]}))["code"] == \
        "VISIT_NOT_FOUND"
    assert (await pos("9002", {"signOut": {"sign_no": sign_no}}))["code"] == "OK"
    await gone()
    answers.append(await d.pos("T1", "9002", {"signOut": {"sign_no": sign_no}}))
    assert answers[-1]["code"] == "INVALID_REQUEST"  # signed out once, also when read back from the file
    answers.append(await d.admin("admin.state", {"psn_no": "ZR"}))
    answers.append(await d.admin("admin.state"))
    return answers


async def test_a_visit_that_left_memory_is_settled_cancelled_and_reversed_exactly(tmp_path: Path) -> None:
    """Each step on a visit (and a sign-in) only the file holds: the amounts, the balances, every answer's bytes as
    a switch keeping all of it in memory gives them; admin.state lists every visit and batch, oldest first."""
    async with direct_switch(tmp_path / "small.db", keep=KEEP) as small:
        answers = await chain(small, KEEP)
        state = state_of(small)
        assert len(state.visits) == 1 + 13 * (KEEP + 1) and state.visits.in_memory <= KEEP
    async with direct_switch(tmp_path / "whole.db", keep=None) as whole:
        assert await chain(whole, None) == answers
    view = answers[-1]["output"]
    assert [v["mdtrt_id"] for v in view["visits"]] == [f"MDTRTV{n:09d}" for n in range(1, len(view["visits"]) + 1)]
    family = answers[-2]["output"]  # ZR's and the holder's, ZR's the oldest
    assert (family["visits"][0]["psn_no"], family["visits"][0]["status"]) == ("ZR", "cancelled")
    ours = [(b["chrg_bchno"], b["status"], b["total"], b["setl_id"]) for b in family["batches"] if b["psn_no"] == "ZR"]
    assert ours == [("B1", "withdrawn", "50.00", None), ("B2", "withdrawn", "30.00", None)]
    assert len(family["visits"]) == len(view["visits"]) and len(family["batches"]) == len(view["batches"])


async def test_memory_holds_at_most_keep_visits_and_sign_ins_however_many_are_made(tmp_path: Path) -> None:
    """40 visit chains (register, upload, settle) and 40 sign-ins with --keep 3: at most 3 of each in memory after
    every answer, all 40 counted; a restart loads only the newest 3, and new ids go on from the highest."""
    keep, made = 3, 40
    db = tmp_path / "ledger.db"
    async with direct_switch(db, keep=keep) as d:
        state = state_of(d)
        await d.admin("admin.load", {"people": [{**p, "balc": "100000.00"} if p["psn_no"] == "ZH" else p
                                                for p in ZIBO["people"]], "bindings": ZIBO["bindings"]})
        for n in range(1, made + 1):
            mdtrt_id = (await d.pos("T1", "2201", register_input("ZR")))["output"]["data"]["mdtrt_id"]
            assert (await d.pos("T1", "2204", {"feedetail": [fee_line("1", mdtrt_id, "ZR", "B1", "1", "10.00")]})
                    )["code"] == "OK"
            assert (await d.pos("T1", "2207", settle_input("ZR", "10.00", mdtrt_id, "B1")))["code"] == "OK"
            assert (await d.pos("T1", "9001", {"signIn": {"opter_no": "OP1"}}))["code"] == "OK"
            assert state.visits.in_memory <= keep and state.sign_ins.in_memory <= keep
            assert (len(state.visits), len(state.sign_ins)) == (n, n)
        assert state.visits.holds(f"MDTRTV{made:09d}") and not state.visits.holds("MDTRTV000000001")
    async with direct_switch(db, keep=keep) as d:
        state = state_of(d)
        assert (state.visits.in_memory, len(state.visits)) == (keep, made)
        assert (state.sign_ins.in_memory, len(state.sign_ins)) == (keep, made)
        assert [state.visits.holds(f"MDTRTV{n:09d}") for n in range(made - keep, made + 1)] == [False, True, True, True]
        assert (await d.pos("T2", "2201", register_input("ZR")))["output"]["data"]["mdtrt_id"] == "MDTRTV000000041"
        sign = await d.pos("T2", "9001", {"signIn": {"opter_no": "OP1"}})
        assert sign["output"]["signinoutb"]["sign_no"] == "SN0000000041"
        view = (await d.admin("admin.state"))["output"]
        assert len(view["visits"]) == len(view["batches"]) + 1 == made + 1  # every one, from the file
        assert {b["status"] for b in view["batches"]} == {"settled"}
        assert state.visits.in_memory <= keep  # listing them left them on disk
