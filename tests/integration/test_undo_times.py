"""Cancel and reversal outputs keep the settlement's setl_time and say their own moment in undo_time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from switch.core.model import iso
from switch.service.clock import VirtualClock
from tests.integration.service_helpers import Driver, make_switch
from tests.support.families import ZIBO, pharmacy_input
from tests.unit.core_helpers import T0


async def test_cancel_and_reversal_keep_setl_time_and_add_undo_time(tmp_path: Path) -> None:
    """Settled at 10:00, cancelled at 10:05 and reversed at 10:07 after a restart: setl_time 10:00 in each."""
    db, clock = tmp_path / "ledger.db", VirtualClock(T0)
    switch = make_switch(db, clock)
    await switch.start()
    driver = Driver(switch)
    await driver.admin("admin.load", ZIBO)
    first = await driver.pos("2102", pharmacy_input("ZR", "80.00"), msgid="s-1")
    await driver.pos("2102", pharmacy_input("ZR", "20.00"), msgid="s-2")
    clock.advance(timedelta(minutes=5))
    cancel = await driver.pos("2103", {"setl_id": first["output"]["setlinfo"]["setl_id"], "psn_no": "ZR"})
    assert (cancel["code"], cancel["output"]["setlinfo"]["medfee_sumamt"]) == ("OK", "-80.00")
    assert cancel["output"]["setlinfo"]["setl_time"] == first["output"]["setlinfo"]["setl_time"] == iso(T0)
    assert cancel["output"]["undo_time"] == cancel["respond_time"] == iso(T0 + timedelta(minutes=5))
    await switch.stop()

    clock = VirtualClock(T0 + timedelta(minutes=7))
    again = make_switch(db, clock)  # the settlement's time comes back from the ledger file
    await again.start()
    driver = Driver(again)
    undo = await driver.pos("2601", {"psn_no": "ZR", "omsgid": "s-2", "oinfno": "2102"})
    assert (undo["output"]["reversed"], undo["output"]["setlinfo"]["psn_cash_pay"]) == (True, "0.00")
    assert undo["output"]["setlinfo"]["setl_time"] == iso(T0)
    assert undo["output"]["undo_time"] == iso(T0 + timedelta(minutes=7))
    assert (await driver.balances())["ZH"] == "200.00"
    await again.stop()
