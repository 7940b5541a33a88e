"""The clinic's whole visit against a switch subprocess over MQTT: kill -9 keeps the paid batch, sign-in, 3201."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from terminal.clients.mqtt import SwitchClient
from terminal.clients.pos import Card, Terminal
from tests.support.clinic import settle_input
from tests.support.families import ZIBO, cert
from tests.support.switches import SwitchProcess

pytestmark = pytest.mark.e2e
CLINIC = "H37030000001"  # a Zibo clinic: region 370300 in its code


def start(broker_url: str, root: str, db: Path) -> SwitchProcess:
    return SwitchProcess("--broker", broker_url, "--db", str(db), "--topic-root", root, "--clock", "virtual",
                         "--clock-start", "2026-11-25T10:00:00+08:00").start()


async def pos(url: str, root: str, infno: str, body: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    async with SwitchClient(url, "pos", "C9", root=root, fixmedins_code=CLINIC, timeout=10) as client:
        msgid = client.next_msgid()
        return await client.send({**client.envelope(infno, body, msgid), **envelope}, msgid=msgid)


async def admin(url: str, root: str, infno: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with SwitchClient(url, "admin", root=root, timeout=10) as client:
        return await client.request(infno, body or {})


async def test_a_clinic_chain_survives_kill_9_and_reconciles(broker_url: str, topic_root: str,
                                                            tmp_path: Path) -> None:
    """The till's chain settles batch B01 once; after SIGKILL and a restart it is still VISIT_SETTLED, the
    night's 3201 balances with the pooled part and names acct_pay without it; require_sign_in then refuses
    a till until 9001, and accepts its sign_no."""
    db = tmp_path / "ledger.db"
    proc = await asyncio.to_thread(start, broker_url, topic_root, db)
    try:
        await admin(broker_url, topic_root, "admin.load", ZIBO)
        async with Terminal(broker_url, "C1", CLINIC, kind="clinic", root=topic_root, state_dir=tmp_path) as till:
            checkout = await till.checkout(Card("01", cert("ZR"), "ZR"), "100.00")
        assert checkout.setlinfo is not None and checkout.last.visit is not None
        mdtrt_id = checkout.last.visit.mdtrt_id
        assert (checkout.setlinfo["mdtrt_id"], checkout.setlinfo["acct_mulaid_pay"]) == (mdtrt_id, "60.00")
        proc.kill()
        proc = await asyncio.to_thread(start, broker_url, topic_root, db)
        again = await pos(broker_url, topic_root, "2207", settle_input("ZR", "100.00", mdtrt_id, "B01"))
        assert again["code"] == "VISIT_SETTLED"
        state = (await admin(broker_url, topic_root, "admin.state"))["output"]
        assert [(b["chrg_bchno"], b["status"]) for b in state["batches"]] == [("B01", "settled")]
        day = {"clr_type": "11", "stmt_begndate": "2026-11-25", "stmt_enddate": "2026-11-25",
               "medfee_sumamt": "100.00", "fund_pay_sumamt": "40.00", "fixmedins_setl_cnt": 1}
        right = await pos(broker_url, topic_root, "3201", {"data": {**day, "acct_pay": "60.00"}})
        wrong = await pos(broker_url, topic_root, "3201", {"data": {**day, "acct_pay": "0.00"}})
        assert right["output"]["stmtinfo"]["stmt_rslt"] == "0"
        assert wrong["output"]["stmtinfo"]["stmt_rslt_dscr"] == "acct_pay: switch 60.00, institution 0.00"
        await admin(broker_url, topic_root, "admin.policy", {"set": {"name": "zibo", "admdvs": ["370300"],
                                                                      "flow": "automatic", "require_sign_in": True}})
        card = {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("ZH")}}
        assert (await pos(broker_url, topic_root, "1101", card))["code"] == "SIGN_IN_REQUIRED"
        signed = await pos(broker_url, topic_root, "9001", {"signIn": {"opter_no": "OP01"}})
        sign_no = signed["output"]["signinoutb"]["sign_no"]
        assert (await pos(broker_url, topic_root, "1101", card, sign_no=sign_no))["code"] == "OK"
        assert (await admin(broker_url, topic_root, "admin.audit"))["output"]["ok"] is True
    finally:
        proc.kill()
