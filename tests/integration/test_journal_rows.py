"""A request answered OK is journaled from the ids the service read, not by parsing its payloads again.

The row must be the very row the payloads give: every exchange below is journaled through the real
service and its row compared with the row worked out from the payloads alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from switch.journal.hints import Journal, row_of
from switch.journal.recording import journaled
from switch.service.delivery import serving
from tests.support.direct import direct_switch
from tests.support.families import DONGYING, ZIBO, pharmacy_input
from tests.support.http import national


async def test_rows_of_answered_requests_equal_the_rows_their_payloads_give(tmp_path: Path) -> None:
    async with direct_switch(tmp_path / "ledger.db") as d:
        journal = Journal()
        serve = journaled(serving(d.switch), journal, d.clock)
        answers: list[bytes] = []

        def send(answer: bytes) -> bool:
            answers.append(answer)
            return True

        async def exchange(channel: str, sender: str, payload: bytes, infno: str | None = None) -> None:
            await serve(f"gongji/v1/{channel}/{sender}/req", channel, sender, payload, send, infno=infno)

        sale = d.envelope("pos", "2102", pharmacy_input("ZH", "30.00"), "T1-000001")
        await exchange("admin", "admin", d.envelope("admin", "admin.load", ZIBO, "A-1"))
        await exchange("admin", "admin", d.envelope("admin", "admin.load", DONGYING, "A-0"))
        await exchange("pos", "T1", sale)                                  # settled
        await exchange("pos", "T1", sale)                                  # replayed
        await exchange("pos", "T1", d.envelope("pos", "2102", pharmacy_input("ZH", "31.00"), "T1-000001"))
        await exchange("pos", "T1", d.envelope("pos", "2102", pharmacy_input("DR", "10.00"), "T1-000002"))
        await exchange("pos", "T1", b'{"infno": "2102", "input": {}}')    # no msgid
        await exchange("pos", "T1", b"not json")
        await exchange("admin", "admin", d.envelope("admin", "admin.state", {}, "A-2"))
        body = json.dumps(national("2102", pharmacy_input("ZH", "12.00"))).encode()
        await exchange("national", "", body)                               # the door's sender is the envelope's
        await exchange("national", "P37050000001", body, infno="2102")     # replayed, sender given

        heard = journal.take()
        outcomes = [(h.said is not None, row_of(h)[7]) for h in heard]
        assert outcomes == [(True, "OK"), (True, "OK"), (True, "OK"), (True, "OK"), (False, "DUPLICATE_MSGID"),
                            (False, "POOLING_AVAILABLE"), (False, "INVALID_REQUEST"),
                            (False, "INVALID_REQUEST"), (True, "OK"), (True, "OK"), (True, "OK")]
        for h in heard:
            assert row_of(h) == row_of(replace(h, said=None)), h.payload
        assert [row_of(h)[4:9] for h in heard[2:4]] == [("T1", "2102", "T1-000001", "OK", 1)] * 2
        assert row_of(heard[9])[3:7] == ("national", "P37050000001", "2102", json.loads(body)["msgid"])
        assert len(answers) == len(heard) == 11
