"""serve --keep 2: older settlements, answers and spending rows leave memory and are read back from the file.

The switch runs as a subprocess on a real broker with two of each kind of traffic in memory. Every
answer a till and the member app get about the older ones is what a switch holding all of it gives:
replays byte for byte, a reused msgid refused, cancels and reversals once, the holder's pages, the
night's 3201; and again after kill -9 and a restart that loads only the newest.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from terminal.clients.mqtt import SwitchClient
from tests.support.families import person, pharmacy_input
from tests.support.switches import SwitchProcess

pytestmark = pytest.mark.e2e
FAMILY = {"people": [person("ZH", "370300", "1000.00"), person("ZR", "370300", insutype="390")],
          "bindings": [{"holder_psn_no": "ZH", "relative_psn_no": "ZR", "rltn": "parent"}]}
NIGHT = {"clr_type": "41", "stmt_begndate": "2026-11-25", "stmt_enddate": "2026-11-25",
         "medfee_sumamt": "40.00", "fund_pay_sumamt": "0.00", "acct_pay": "40.00", "fixmedins_setl_cnt": 4}


def _start(broker_url: str, root: str, db: Path) -> SwitchProcess:
    return SwitchProcess("--broker", broker_url, "--db", str(db), "--topic-root", root, "--clock", "virtual",
                         "--clock-start", "2026-11-25T10:00:00+08:00", "--log-level", "WARNING",
                         "--keep", "2").start()


async def _ask(url: str, root: str, channel: str, sender: str, infno: str, body: dict[str, Any],
               msgid: str | None = None) -> dict[str, Any]:
    code = "P37030000001" if channel == "pos" else None
    async with SwitchClient(url, channel, sender, root=root, fixmedins_code=code, timeout=10) as client:
        return await client.request(infno, body, msgid=msgid)


async def _pages(url: str, root: str) -> list[tuple[str, str]]:
    """Every row of ZH's pooled spending, walked newest first in pages of 3."""
    rows: list[tuple[str, str]] = []
    before = None
    while True:
        body: dict[str, Any] = {"limit": 3} if before is None else {"limit": 3, "before": before}
        page = (await _ask(url, root, "app", "ZH", "app.records", body))["output"]
        rows += [(r["amount"], r["setl_id"]) for r in page["records"]]
        before = page["next_before"]
        if before is None:
            return rows


async def test_old_traffic_is_answered_from_the_file(broker_url: str, topic_root: str, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    proc = await asyncio.to_thread(_start, broker_url, topic_root, db)
    try:
        assert (await _ask(broker_url, topic_root, "admin", "admin", "admin.load", FAMILY))["code"] == "OK"
        sold = [await _ask(broker_url, topic_root, "pos", "T1", "2102", pharmacy_input("ZR", "10.00"), f"k-{n}")
                for n in range(1, 7)]
        assert all(s["code"] == "OK" for s in sold), sold[0]
        setl_ids = [s["output"]["setlinfo"]["setl_id"] for s in sold]
        assert [s["output"]["setlinfo"]["acct_mulaid_pay"] for s in sold] == ["10.00"] * 6
        # k-1 and k-2 left memory four settlements ago: a resend is replayed, a reuse refused.
        assert await _ask(broker_url, topic_root, "pos", "T1", "2102", pharmacy_input("ZR", "10.00"), "k-1") == sold[0]
        reused = await _ask(broker_url, topic_root, "pos", "T1", "2102", pharmacy_input("ZR", "12.00"), "k-1")
        assert reused["code"] == "DUPLICATE_MSGID"
        cancel = {"setl_id": setl_ids[0], "psn_no": "ZR"}
        assert (await _ask(broker_url, topic_root, "pos", "T1", "2103", cancel))["code"] == "OK"
        assert (await _ask(broker_url, topic_root, "pos", "T1", "2103", cancel))["code"] == "ALREADY_CANCELLED"
        reverse = {"psn_no": "ZR", "omsgid": "k-2", "oinfno": "2102"}
        assert (await _ask(broker_url, topic_root, "pos", "T1", "2601", reverse))["output"]["reversed"] is True
        assert (await _ask(broker_url, topic_root, "pos", "T1", "2601", reverse))["output"]["reversed"] is False
        expected = [("-10.00", setl_ids[1]), ("-10.00", setl_ids[0]),
                    *(("10.00", s) for s in reversed(setl_ids))]
        assert await _pages(broker_url, topic_root) == expected
        night = await _ask(broker_url, topic_root, "pos", "T1", "3201", {"data": NIGHT})
        assert night["output"]["stmtinfo"]["stmt_rslt"] == "0", night
        state = (await _ask(broker_url, topic_root, "admin", "admin", "admin.state", {"psn_no": "ZH"}))["output"]
        assert (state["people"][0]["balc"], state["counts"]["settlements"], state["counts"]["undone"]) == (
            "960.00", 4, 2)

        proc.kill()  # the restart loads the newest two of each; the rest is found on disk as before
        proc = await asyncio.to_thread(_start, broker_url, topic_root, db)
        assert await _ask(broker_url, topic_root, "pos", "T1", "2102", pharmacy_input("ZR", "10.00"), "k-3") == sold[2]
        assert (await _ask(broker_url, topic_root, "pos", "T1", "2103", cancel))["code"] == "ALREADY_CANCELLED"
        assert await _pages(broker_url, topic_root) == expected
        night = await _ask(broker_url, topic_root, "pos", "T1", "3201", {"data": NIGHT})
        assert night["output"]["stmtinfo"]["stmt_rslt"] == "0", night
        assert (await _ask(broker_url, topic_root, "pos", "T1", "2103",
                           {"setl_id": setl_ids[2], "psn_no": "ZR"}))["code"] == "OK"
        audit = await _ask(broker_url, topic_root, "admin", "admin", "admin.audit", {})
        assert audit["output"]["ok"] is True and audit["output"]["checked"]["settlements"] == 6
    finally:
        proc.kill()
