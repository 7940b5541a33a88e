"""What the switch keeps for the ledger's life shares the names every record repeats (memory of a long day)."""

from __future__ import annotations

from pathlib import Path

from switch.core.model import Settlement
from tests.support.direct import direct_switch
from tests.support.families import ZIBO, pharmacy_input

NAMES = ("infno", "terminal_id", "fixmedins_code", "psn_no", "med_type", "mdtrt_cert_type")


def _distinct_objects(settlements: list[Settlement], name: str) -> int:
    return len({id(getattr(s, name)) for s in settlements})


async def test_settlements_share_their_names_when_decided_and_when_loaded(tmp_path: Path) -> None:
    """Five sales by one till for one patient keep one string object per repeated name, and so do the same
    five settlements loaded from the ledger by a restarted switch."""
    db = tmp_path / "l.db"
    async with direct_switch(db) as sw:
        await sw.admin("admin.load", ZIBO)
        for n in range(5):
            sale = await sw.pos("T1", "2102", pharmacy_input("ZR", "1.00"), msgid=f"sale-{n}")
            assert sale["code"] == "OK"
        assert sw.switch.state is not None
        decided = list(sw.switch.state.settlements.values())
        assert len(decided) == 5
        assert {name: _distinct_objects(decided, name) for name in NAMES} == dict.fromkeys(NAMES, 1)
    async with direct_switch(db, sw.clock.now()) as restarted:
        assert restarted.switch.state is not None
        loaded = list(restarted.switch.state.settlements.values())
        assert [s.setl_id for s in loaded] == [s.setl_id for s in decided]
        assert {name: _distinct_objects(loaded, name) for name in NAMES} == dict.fromkeys(NAMES, 1)
