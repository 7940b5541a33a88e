"""The member-app channel over a real broker (amqtt and mosquitto): every code, and each family story."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from terminal.clients.mqtt import SwitchClient
from tests.support.families import DONGYING, ZIBO, person, pharmacy_input
from tests.support.switches import InProcessSwitch

FACE = {"face_verified": True}


class Apps:
    """One member app per psn_no (its own topic pair), opened on first use."""

    def __init__(self, live: InProcessSwitch, stack: AsyncExitStack) -> None:
        self.live, self.stack = live, stack
        self.clients: dict[str, SwitchClient] = {}

    async def __call__(self, psn_no: str, infno: str, input: dict[str, Any] | None = None,
                       msgid: str | None = None) -> dict[str, Any]:
        if psn_no not in self.clients:
            self.clients[psn_no] = await self.stack.enter_async_context(self.live.client("app", psn_no))
        return await self.clients[psn_no].request(infno, input or {}, msgid=msgid)


@asynccontextmanager
async def family_world(live: InProcessSwitch, load: dict[str, Any]) -> AsyncIterator[
        tuple[SwitchClient, SwitchClient, Apps]]:
    """admin (listening to events), a POS at a Dongying pharmacy, and the member apps; ``load`` loaded."""
    async with AsyncExitStack() as stack:
        admin = await stack.enter_async_context(live.client("admin", events=True))
        pos = await stack.enter_async_context(live.pos())
        answer = await admin.request("admin.load", load)
        assert answer["code"] == "OK", answer
        yield admin, pos, Apps(live, stack)


async def events(admin: SwitchClient, count: int) -> list[tuple[str, dict[str, Any]]]:
    """The next ``count`` events, in arrival order, as (type, data)."""
    return [(e["type"], e["data"]) for e in [await admin.next_event() for _ in range(count)]]


def _merge(*loads: dict[str, Any]) -> dict[str, Any]:
    return {"people": [p for ld in loads for p in ld["people"]],
            "bindings": [b for ld in loads for b in ld.get("bindings", [])]}


# People for every refusal: a full Dongying family (7), suspended and resident would-be holders,
# other provinces, Hunan regions.
EVERYONE = _merge(DONGYING, ZIBO, {
    "people": [person("FULL", "370500", "10.00"),
               *(person(f"F{i}", "370500", insutype="390") for i in range(8)),
               person("HS", "370500", status="suspended"), person("RH", "370500", insutype="390"),
               person("XS", "370500", status="suspended"), person("X1", "370500"),
               person("QD", "110000", insutype="390"), person("XT", "430300"),
               person("CR", "430100", insutype="390"), person("ZZ", "430200"),
               person("ZW", "430200", insutype="390")],
    "bindings": [{"holder_psn_no": "FULL", "relative_psn_no": f"F{i}", "rltn": "child"} for i in range(7)],
})

def _premium(relative: str, amount: str, year: object = 2027) -> dict[str, Any]:
    return {"relative_psn_no": relative, "year": year, "amount": amount}


# (caller, infno, input, code) — run in order against EVERYONE; together they reach every app code.
EVERY_CODE: list[tuple[str, str, dict[str, Any], str]] = [
    ("DH", "app.bind", {"relative_psn_no": "X1", "rltn": "child"}, "FACE_VERIFICATION_REQUIRED"),
    ("DH", "app.unbind", {"relative_psn_no": "DR", "face_verified": False}, "FACE_VERIFICATION_REQUIRED"),
    ("NOBODY", "app.bindings", {}, "PERSON_NOT_FOUND"),
    ("DH", "app.bind", {"relative_psn_no": "DH", "rltn": "spouse", **FACE}, "SELF_BINDING"),
    ("RH", "app.bind", {"relative_psn_no": "X1", "rltn": "child", **FACE}, "HOLDER_NOT_EMPLOYEE"),
    ("HS", "app.bind", {"relative_psn_no": "X1", "rltn": "child", **FACE}, "HOLDER_SUSPENDED"),
    ("DE", "app.bind", {"relative_psn_no": "X1", "rltn": "child", **FACE}, "HOLDER_IS_RELATIVE"),
    ("FULL", "app.bind", {"relative_psn_no": "DR", "rltn": "child", **FACE}, "RELATIVE_ALREADY_BOUND"),
    ("FULL", "app.bind", {"relative_psn_no": "DH", "rltn": "spouse", **FACE}, "RELATIVE_IS_HOLDER"),
    ("DH", "app.bind", {"relative_psn_no": "XS", "rltn": "child", **FACE}, "INSURANCE_SUSPENDED"),
    ("ZH", "app.bind", {"relative_psn_no": "X1", "rltn": "spouse_parent", **FACE}, "RELATION_NOT_ALLOWED"),
    ("DH", "app.bind", {"relative_psn_no": "QD", "rltn": "child", **FACE}, "REGION_NOT_ALLOWED"),
    ("XT", "app.bind", {"relative_psn_no": "CR", "rltn": "child", **FACE}, "REGION_NOT_ALLOWED"),
    ("ZZ", "app.bind", {"relative_psn_no": "ZW", "rltn": "child", **FACE}, "REGION_NOT_ALLOWED"),
    ("FULL", "app.bind", {"relative_psn_no": "F7", "rltn": "child", **FACE}, "MAX_RELATIVES"),
    ("DH", "app.bind", {"relative_psn_no": "X1", "rltn": "spouse_parent", **FACE}, "OK"),
    ("DH", "app.unbind", {"relative_psn_no": "ZR", **FACE}, "NOT_HOLDER"),
    ("DR", "app.unbind", {"relative_psn_no": "DR", **FACE}, "NOT_HOLDER"),
    ("DH", "app.unbind", {"relative_psn_no": "XT", **FACE}, "BINDING_NOT_FOUND"),
    ("DE", "app.set_cap", {"relative_psn_no": "DE", "cap": "999.00"}, "NOT_HOLDER"),
    ("DH", "app.set_cap", {"relative_psn_no": "F0", "cap": "1.00"}, "NOT_HOLDER"),
    ("DH", "app.set_cap", {"relative_psn_no": "RH", "cap": "1.00"}, "BINDING_NOT_FOUND"),
    ("DH", "app.set_cap", {"relative_psn_no": "DR", "cap": "-1.00"}, "INVALID_REQUEST"),
    ("DH", "app.pay_premium", _premium("DR", "500.01"), "INSUFFICIENT_BALANCE"),
    ("DH", "app.pay_premium", _premium("DR", "380.00"), "OK"),
    ("DH", "app.pay_premium", _premium("DR", "1.00"), "PREMIUM_ALREADY_PAID"),
    ("DH", "app.pay_premium", _premium("DE", "1.00"), "INVALID_REQUEST"),
    ("DH", "app.pay_premium", _premium("DR", "1.00", year="2027"), "INVALID_REQUEST"),
    ("DE", "app.pay_premium", _premium("DR", "1.00", year=2028), "NOT_HOLDER"),
    ("DH", "app.records", {"limit": 0}, "INVALID_REQUEST"),
    ("DH", "app.bindings", {"psn_no": "DH"}, "INVALID_REQUEST"),
    ("DH", "app.nope", {}, "UNKNOWN_INFNO"),
]


async def test_every_app_code_over_the_broker(live: InProcessSwitch) -> None:
    """Each code of the app channel comes back on the caller's resp topic, refusals with nothing moved."""
    async with family_world(live, EVERYONE) as (admin, _pos, app):
        for caller, infno, input, code in EVERY_CODE:
            answer = await app(caller, infno, input)
            expected = (code, 0 if code == "OK" else -1)
            assert (answer["code"], answer["infcode"]) == expected, (caller, infno, input, answer)
            assert answer["inf_refmsgid"] is not None and answer["err_msg"]
        first = await app("DH", "app.bindings", {}, msgid="same")
        again = await app("DH", "app.records", {}, msgid="same")
        assert (first["code"], again["code"]) == ("OK", "DUPLICATE_MSGID")
        state = (await admin.request("admin.state", {"psn_no": "DH"}))["output"]
        balances = {p["psn_no"]: p["balc"] for p in state["people"]}
        assert balances == {"DH": "120.00", "DR": "0.00", "DE": "30.00", "X1": "0.00"}
        assert sorted(b["relative_psn_no"] for b in state["bindings"]) == ["DE", "DR", "X1"]
        assert (await admin.request("admin.audit"))["output"]["ok"] is True


async def test_bind_pool_unbind_story(live: InProcessSwitch) -> None:
    """Bind by app, the relative is prompted; unbind closes the window and the next swipe is all cash."""
    people = {"people": DONGYING["people"]}
    async with family_world(live, people) as (admin, pos, app):
        bound = await app("DH", "app.bind", {"relative_psn_no": "DR", "rltn": "child", **FACE})
        assert (bound["code"], bound["output"]["created"], bound["output"]["cap"]) == ("OK", True, None)
        assert await events(admin, 1) == [("binding.created", {"holder_psn_no": "DH", "relative_psn_no": "DR",
                                                               "rltn": "child", "via": "app.bind"})]
        prompt = await pos.request("2102", pharmacy_input("DR", "80.00"))
        assert (prompt["code"], prompt["output"]["mulaid_psn_no"]) == ("POOLING_AVAILABLE", "DH")
        await events(admin, 2)  # window.opened, settlement.declined
        unbound = await app("DH", "app.unbind", {"relative_psn_no": "DR", **FACE})
        assert (unbound["code"], unbound["output"]["windows_closed"]) == ("OK", 1)
        got = dict(await events(admin, 2))
        assert got["window.closed"]["psn_no"] == "DR" and got["window.closed"]["reason"] == "unbound"
        assert got["binding.removed"] == {"holder_psn_no": "DH", "relative_psn_no": "DR", "rltn": "child",
                                          "via": "app.unbind"}
        cash = await pos.request("2102", pharmacy_input("DR", "80.00"))
        info = cash["output"]["setlinfo"]
        assert (cash["code"], info["acct_mulaid_pay"], info["psn_cash_pay"], info["mulaid_psn_no"]) == (
            "OK", "0.00", "80.00", None)
        state = (await admin.request("admin.state", {"psn_no": "DH"}))["output"]
        assert (state["bindings"], state["windows"], state["people"][0]["balc"]) == ([], [], "500.00")


async def test_cap_records_cancel_and_reversal(live: InProcessSwitch) -> None:
    """Zibo, cap 50.00: pooled 30.00 + 20.00, cancel and reversal give it back; records show all four rows."""
    async with family_world(live, ZIBO) as (admin, pos, app):
        cap = await app("ZH", "app.set_cap", {"relative_psn_no": "ZR", "cap": "50.00"})
        assert (cap["code"], cap["output"]["cap"], cap["output"]["remaining"]) == ("OK", "50.00", "50.00")
        first = await pos.request("2102", pharmacy_input("ZR", "30.00"), msgid="ZR-1")
        second = await pos.request("2102", pharmacy_input("ZR", "30.00"), msgid="ZR-2")
        assert [(a["output"]["setlinfo"]["acct_mulaid_pay"], a["output"]["setlinfo"]["psn_cash_pay"])
                for a in (first, second)] == [("30.00", "0.00"), ("20.00", "10.00")]
        view = (await app("ZH", "app.bindings"))["output"]["relatives"]
        assert [(r["psn_no"], r["cap"], r["used"]) for r in view] == [("ZR", "50.00", "50.00")]
        setl_id = first["output"]["setlinfo"]["setl_id"]
        assert (await pos.request("2103", {"setl_id": setl_id, "psn_no": "ZR"}))["code"] == "OK"
        reversal = await pos.request("2601", {"psn_no": "ZR", "omsgid": "ZR-2", "oinfno": "2102"})
        assert reversal["output"]["reversed"] is True
        own = (await app("ZR", "app.bindings"))["output"]["self"]
        assert (own["cap"], own["used"]) == ("50.00", "0.00")
        page = (await app("ZH", "app.records", {"limit": 3}))["output"]
        assert [(r["amount"], r["psn_no"]) for r in page["records"]] == [("-20.00", "ZR"), ("-30.00", "ZR"),
                                                                          ("20.00", "ZR")]
        rest = (await app("ZH", "app.records", {"limit": 3, "before": page["next_before"]}))["output"]
        assert ([(r["amount"], r["setl_id"]) for r in rest["records"]], rest["next_before"]) == (
            [("30.00", setl_id)], None)
        assert (await app("ZR", "app.records"))["output"] == {"records": [], "next_before": None}
        removed = await app("ZH", "app.set_cap", {"relative_psn_no": "ZR", "cap": None})
        assert (removed["output"]["cap"], removed["output"]["remaining"]) == (None, None)
        assert (await admin.request("admin.audit"))["output"]["ok"] is True


async def test_premium_paid_once_and_replayed_exactly(live: InProcessSwitch) -> None:
    """A premium moves the holder's money once; the same msgid replays the same bytes; the books balance."""
    async with family_world(live, ZIBO) as (admin, _pos, app):
        paid = await app("ZH", "app.pay_premium", _premium("ZR", "200.00"), msgid="prem-1")
        assert (paid["code"], paid["output"]["balc"]) == ("OK", "0.00")
        replay = await app("ZH", "app.pay_premium", _premium("ZR", "200.00"), msgid="prem-1")
        assert replay == paid
        next_year = await app("ZH", "app.pay_premium", _premium("ZR", "0.01", year=2028))
        assert next_year["code"] == "INSUFFICIENT_BALANCE"
        state = (await admin.request("admin.state", {"psn_no": "ZH"}))["output"]
        assert {p["psn_no"]: p["balc"] for p in state["people"]} == {"ZH": "0.00", "ZR": "0.00"}
        assert (await admin.request("admin.audit"))["output"]["ok"] is True


async def test_suspension_stops_family_and_resume_restores(live: InProcessSwitch) -> None:
    """Suspended holder: the relative's window closes, swipes are cash, no bind or premium; resuming pools."""
    load = _merge(DONGYING, {"people": [person("X1", "370500")]})
    async with family_world(live, load) as (admin, pos, app):
        assert (await pos.request("2102", pharmacy_input("DR", "80.00")))["code"] == "POOLING_AVAILABLE"
        await events(admin, 2)
        suspended = await admin.request("admin.set_status", {"psn_no": "DH", "status": "suspended"})
        assert suspended["code"] == "OK"
        assert (await admin.next_event("window.closed"))["data"]["reason"] == "holder_suspended"
        cash = (await pos.request("2102", pharmacy_input("DR", "80.00")))["output"]["setlinfo"]
        assert (cash["acct_mulaid_pay"], cash["psn_cash_pay"]) == ("0.00", "80.00")
        bind = await app("DH", "app.bind", {"relative_psn_no": "X1", "rltn": "child", **FACE})
        premium = await app("DH", "app.pay_premium", _premium("DR", "1.00"))
        assert (bind["code"], premium["code"]) == ("HOLDER_SUSPENDED", "HOLDER_SUSPENDED")
        view = (await app("DR", "app.bindings"))["output"]
        assert (view["holder"]["psn_no"], view["holder"]["status"]) == ("DH", "suspended")
        await admin.request("admin.set_status", {"psn_no": "DH", "status": "active"})
        assert (await pos.request("2102", pharmacy_input("DR", "80.00")))["code"] == "POOLING_AVAILABLE"
        live.clock.advance(timedelta(seconds=10))
        pooled = (await pos.request("2102", pharmacy_input("DR", "80.00")))["output"]["setlinfo"]
        assert (pooled["acct_mulaid_pay"], pooled["mulaid_psn_no"]) == ("80.00", "DH")


async def test_relative_sees_family_read_only(live: InProcessSwitch) -> None:
    """A relative's app shows the holder and the other relatives; every change they try is refused."""
    async with family_world(live, DONGYING) as (_admin, _pos, app):
        view = (await app("DE", "app.bindings"))["output"]
        assert (view["role"], view["read_only"], view["holder"]["psn_no"]) == ("relative", True, "DH")
        assert view["self"] == {"psn_no": "DE", "rltn": "spouse", "cap": None, "used": "0.00"}
        assert [(r["psn_no"], r["rltn"]) for r in view["relatives"]] == [("DR", "child")]
        holder = (await app("DH", "app.bindings"))["output"]
        assert [(r["psn_no"], r["rltn"], r["cap"]) for r in holder["relatives"]] == [
            ("DE", "spouse", None), ("DR", "child", None)]
        tries: list[tuple[str, dict[str, Any]]] = [
            ("app.unbind", {"relative_psn_no": "DR", **FACE}),
            ("app.set_cap", {"relative_psn_no": "DE", "cap": "1.00"}),
            ("app.pay_premium", _premium("DR", "1.00"))]
        assert [(await app("DE", infno, body))["code"] for infno, body in tries] == ["NOT_HOLDER"] * 3


def _readme_families_json() -> list[dict[str, Any]]:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Families", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]


async def test_readme_family_examples_work(live: InProcessSwitch) -> None:
    """The README's Families examples do what it says: load the people, bind by app, load the whole family."""
    bind, load = _readme_families_json()
    people_only = {"people": load["input"]["people"], "bindings": []}
    async with family_world(live, people_only) as (admin, _pos, app):
        bound = await app("DH", bind["infno"], bind["input"], msgid=bind["msgid"])
        assert (bound["code"], bound["output"]["relative_psn_no"]) == ("OK", "DR")
        loaded = await admin.request(load["infno"], load["input"], msgid=load["msgid"])
        assert loaded["code"] == "OK"
        view = (await app("DH", "app.bindings"))["output"]["relatives"]
        assert [(r["psn_no"], r["rltn"], r["cap"]) for r in view] == [("DR", "child", "100.00")]
