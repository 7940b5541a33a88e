"""Examples taken from real exchanges: scripted requests run through the real switch, answers recorded.

Strategy: nothing here is written by hand but the requests. Each script runs on a fresh
``SettlementSwitch`` (the real core, idempotency and SQLite ledger, in a temporary directory)
with a frozen virtual clock, so the recorded answers, ids and times are the same on every run
and the generated documents built from them are stable enough to commit and compare.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from switch.core.policy import packaged_policies
from switch.service.clock import CST, VirtualClock
from switch.service.handling import SettlementSwitch
from switch.store.sqlite import SqliteStore
from switch.wire.topics import DEFAULT_ROOT, request_topic, response_topic

__all__ = ["FIXMEDINS", "ROOT", "START", "TOUR", "WORKED", "Exchange", "Step", "record", "recorded"]

ROOT = DEFAULT_ROOT
START = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
FIXMEDINS = "P37050000001"  # a pharmacy in Dongying


@dataclass(frozen=True, slots=True)
class Step:
    """One message a client publishes: ``payload`` is a JSON object, or raw bytes sent as they are."""

    label: str
    channel: str
    sender: str
    payload: dict[str, Any] | bytes

    @property
    def raw(self) -> bytes:
        if isinstance(self.payload, bytes):
            return self.payload
        # One line, readable, no single quotes: it is pasted into shell commands as it is.
        return json.dumps(self.payload, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request as published and everything the switch published because of it."""

    step: Step
    response: bytes
    events: tuple[bytes, ...]

    @property
    def request_topic(self) -> str:
        return topic(self.step.channel, self.step.sender, "req")

    @property
    def response_topic(self) -> str:
        return topic(self.step.channel, self.step.sender, "resp")

    @property
    def request_json(self) -> dict[str, Any] | None:
        try:
            body = json.loads(self.step.raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    @property
    def response_json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.response)
        return body

    @property
    def events_json(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.events]


def topic(channel: str, sender: str, direction: str, root: str = ROOT) -> str:
    return (request_topic if direction == "req" else response_topic)(root, channel, sender)


def _person(psn_no: str, name: str, admdvs: str, insutype: str, balc: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"psn_no": psn_no, "psn_name": name, "insutype": insutype, "insuplc_admdvs": admdvs,
                         "certs": {"01": f"QR{psn_no}", "02": f"ID{psn_no}"}}
    if balc is not None:
        p["balc"] = balc
    return p


def _pos(label: str, infno: str, msgid: str, input: dict[str, Any], terminal: str = "T1") -> Step:
    return Step(label, "pos", terminal, {"infno": infno, "msgid": msgid, "inf_time": "2026-11-25 10:00:00",
                                         "fixmedins_code": FIXMEDINS, "input": input})


def _admin(label: str, infno: str, msgid: str, input: dict[str, Any] | None = None) -> Step:
    return Step(label, "admin", "admin", {"infno": infno, "msgid": msgid, "input": input or {}})


def _app(label: str, psn_no: str, infno: str, msgid: str, input: dict[str, Any]) -> Step:
    return Step(label, "app", psn_no, {"infno": infno, "msgid": msgid, "input": input})


def _swipe(psn_no: str, amount: str, kind: str = "druginfo") -> dict[str, Any]:
    return {kind: {"psn_no": psn_no, "mdtrt_cert_type": "01", "mdtrt_cert_no": f"QR{psn_no}",
                   "medfee_sumamt": amount, "acct_used_flag": "1"}}


# 东营 (retry window): holder DH with 500.00, DR a resident child (no account).
DONGYING = {"people": [_person("DH", "张伟", "370500", "310", "500.00"),
                       _person("DR", "张小明", "370500", "390")],
            "bindings": [{"holder_psn_no": "DH", "relative_psn_no": "DR", "rltn": "child"}]}

WORKED: tuple[Step, ...] = (
    _admin("start from an empty ledger", "admin.reset", "demo-1"),
    _admin("load the family", "admin.load", "demo-2", DONGYING),
    _pos("first swipe: DR (no personal account) pays 80.00", "2102", "T1-000001", _swipe("DR", "80.00")),
    _admin("a minute passes (virtual clock)", "admin.clock", "demo-3", {"advance": "1m"}),
    _pos("second swipe inside the window: a new msgid", "2102", "T1-000002", _swipe("DR", "80.00")),
)
"""The retry-window story of the reference's worked example, message by message."""

_FAMILIES = {
    "people": [*DONGYING["people"], _person("DE", "李娜", "370500", "310", "30.00"),
               _person("ZH", "王强", "370300", "310", "200.00"), _person("ZR", "王秀英", "370300", "390")],
    "bindings": [*DONGYING["bindings"], {"holder_psn_no": "DH", "relative_psn_no": "DE", "rltn": "spouse"},
                 {"holder_psn_no": "ZH", "relative_psn_no": "ZR", "rltn": "parent"}],
}

def _fee(sn: str, cnt: str, pric: str, amount: str, batch: str = "B1") -> dict[str, Any]:
    return {"feedetl_sn": sn, "mdtrt_id": "MDTRTV000000001", "psn_no": "ZR", "chrg_bchno": batch,
            "med_list_codg": f"XJ0{sn}", "det_item_fee_sumamt": amount, "cnt": cnt, "pric": pric}


def _batch(amount: str, batch: str = "B1") -> dict[str, Any]:
    return {"data": {**_swipe("ZR", amount, "data")["data"], "med_type": "11", "mdtrt_id": "MDTRTV000000001",
                     "chrg_bchno": batch}}


_VISIT = {"psn_no": "ZR", "mdtrt_id": "MDTRTV000000001"}
_DAY = {"clr_type": "11", "setl_optins": "370300", "stmt_begndate": "2026-11-25",
        "stmt_enddate": "2026-11-25", "medfee_sumamt": "100.00", "fund_pay_sumamt": "0.00", "fixmedins_setl_cnt": 1}
# The clinic's visit (2201-2205, 2206/2207 on its batch), a sign-in and the night's reconciliation. By then
# Zibo's policy is zibo-consent (no fund share): the holder's account pays ZR's whole 100.00.
_CLINIC: tuple[Step, ...] = (
    _pos("a till signs in", "9001", "t-30", {"signIn": {"opter_no": "OP01", "mac": "00:1A:2B:3C:4D:5E"}}),
    _pos("register a visit with the holder's card", "2201", "t-31",
         {"data": {"psn_no": "ZR", "mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZH", "ipt_otp_no": "OP0001"}}),
    _pos("register a visit", "2201", "t-32",
         {"data": {"psn_no": "ZR", "mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZR", "ipt_otp_no": "OP0001",
                   "dept_name": "内科", "dr_name": "王医生"}}),
    _pos("the visit's details", "2203", "t-33",
         {"mdtrtinfo": {**_VISIT, "med_type": "11", "dise_codg": "J00", "dise_name": "急性鼻咽炎"}}),
    _pos("a line that is not cnt x pric", "2204", "t-34", {"feedetail": [_fee("1", "2", "30.00", "60.01")]}),
    _pos("upload the fee lines of batch B1", "2204", "t-35",
         {"feedetail": [_fee("1", "2", "30.00", "60.00"), _fee("2", "0.5", "80.00", "40.00")]}),
    _pos("a fee that is not the batch's total", "2206", "t-36", _batch("90.00")),
    _pos("pre-settle the batch", "2206", "t-37", _batch("100.00")),
    _pos("settle the batch", "2207", "t-38", _batch("100.00")),
    _pos("settle it again", "2207", "t-39", _batch("100.00")),
    _pos("a batch never uploaded", "2207", "t-40", _batch("100.00", "B9")),
    _pos("withdraw the paid batch", "2205", "t-41", {"data": {**_VISIT, "chrg_bchno": "B1"}}),
    _pos("cancel the paid visit", "2202", "t-42", {"data": {**_VISIT, "ipt_otp_no": "OP0001"}}),
    _pos("details of a visit not the person's", "2203", "t-43",
         {"mdtrtinfo": {**_VISIT, "psn_no": "ZH"}}),
    _pos("the night's totals, pooled money in acct_pay", "3201", "t-44", {"data": {**_DAY, "acct_pay": "100.00"}}),
    _pos("the night's totals without the pooled part", "3201", "t-45", {"data": {**_DAY, "acct_pay": "0.00"}}),
    _pos("sign out", "9002", "t-46", {"signOut": {"sign_no": "SN0000000001", "opter_no": "OP01"}}),
    _admin("the family's visit and batch", "admin.state", "a-16", {"psn_no": "ZR"}),
)

TOUR: tuple[Step, ...] = (
    _admin("load two families", "admin.load", "a-1", _FAMILIES),
    _admin("a binding rule refuses", "admin.load", "a-2",
           {"bindings": [{"holder_psn_no": "ZH", "relative_psn_no": "DR", "rltn": "child"}]}),
    _pos("read the card", "1101", "t-1", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDR"}),
    _pos("unknown card", "1101", "t-2", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRNOBODY"}),
    _pos("pre-settlement would be declined", "2101", "t-3", _swipe("DR", "80.00")),
    _pos("first swipe declined, window opens", "2102", "t-4", _swipe("DR", "80.00")),
    _admin("a minute passes", "admin.clock", "a-3", {"advance": "1m"}),
    _pos("second swipe pooled", "2102", "t-5", _swipe("DR", "80.00")),
    _pos("msgid reused with other content", "2102", "t-5", _swipe("DR", "81.00")),
    _pos("outpatient pre-settlement", "2206", "t-6", _swipe("DE", "20.00", "data")),
    _pos("outpatient settlement", "2207", "t-7", _swipe("DE", "20.00", "data")),
    _pos("cancel the pooled settlement", "2103", "t-8", {"setl_id": "SETL0000000001", "psn_no": "DR"}),
    _pos("cancel it again", "2103", "t-9", {"setl_id": "SETL0000000001", "psn_no": "DR"}),
    _pos("cancel an unknown settlement", "2208", "t-10", {"setl_id": "SETL0000009999", "psn_no": "DE"}),
    _pos("reverse the outpatient settlement", "2601", "t-11",
         {"psn_no": "DE", "omsgid": "t-7", "oinfno": "2207"}),
    _pos("reverse a card read", "2601", "t-12", {"psn_no": "DE", "omsgid": "t-1", "oinfno": "1101"}),
    _pos("reverse a settlement not seen yet", "2601", "t-13",
         {"psn_no": "ZR", "omsgid": "t-14", "oinfno": "2102"}),
    _pos("the reversed settlement arrives", "2102", "t-14", _swipe("ZR", "50.00")),
    _pos("automatic pooling (Zibo)", "2102", "t-15", _swipe("ZR", "50.00")),
    _pos("someone else's card", "2102", "t-16",
         {"druginfo": {**_swipe("DR", "10.00")["druginfo"], "mdtrt_cert_no": "QRDH"}}),
    _pos("an amount with three decimals", "2102", "t-17", _swipe("DR", "80.001")),
    Step("no institution code", "pos", "T1",
         {"infno": "2102", "msgid": "t-18", "input": _swipe("DR", "80.00")}),
    Step("not JSON", "pos", "T1", b"2102 DR 80.00"),
    Step("JSON without a msgid", "pos", "T1", b'{"infno": "2102", "input": {}}'),
    _pos("unknown transaction code", "9999", "t-19", {}),
    _admin("unknown admin command", "admin.nothing", "a-13"),
    _admin("monthly allocation", "admin.credit", "a-4", {"psn_no": "DE", "amount": "100.00"}),
    _pos("a prompt opens a window", "2102", "t-20", _swipe("DR", "30.00")),
    _admin("suspend the holder: the window closes", "admin.set_status", "a-5",
           {"psn_no": "DH", "status": "suspended"}),
    _pos("the suspended holder pays", "2102", "t-21", _swipe("DH", "10.00")),
    _admin("reinstate the holder", "admin.set_status", "a-6", {"psn_no": "DH", "status": "active"}),
    _pos("another prompt", "2102", "t-22", _swipe("DR", "30.00")),
    _admin("five minutes pass: the window expires", "admin.clock", "a-7", {"advance": 300}),
    _admin("one family's state", "admin.state", "a-8", {"psn_no": "DH"}),
    _admin("check the books", "admin.audit", "a-9"),
    _admin("add a policy", "admin.policy", "a-10", {"set": {"name": "weifang", "admdvs": ["370700"],
                                                             "flow": "automatic"}}),
    _admin("list the policies", "admin.policy", "a-11"),
    _admin("inject a fault: drop T9's next answer to a 2102", "admin.faults", "a-12",
           {"rules": [{"match": {"terminal_id": "T9", "infno": "2102"}, "action": "drop_response", "times": 1}]}),
    _admin("the fault rules in force", "admin.faults", "a-13", {}),
    _admin("clear the fault rules", "admin.faults", "a-14", {"rules": []}),
    _app("holder's relatives", "DH", "app.bindings", "m-1", {}),
    _app("cap a relative", "DH", "app.set_cap", "m-2", {"relative_psn_no": "DR", "cap": "100.00"}),
    _app("a relative's view: the family, read-only", "DR", "app.bindings", "m-3", {}),
    _app("a relative tries to lift their own cap", "DR", "app.set_cap", "m-4", {"relative_psn_no": "DR", "cap": None}),
    _app("a relative tries to bind someone", "DE", "app.bind", "m-5",
         {"relative_psn_no": "ZR", "rltn": "parent", "face_verified": True}),
    _app("pooled spending, one row a page", "DH", "app.records", "m-6", {"limit": 1}),
    _app("the next page", "DH", "app.records", "m-7", {"limit": 1, "before": 2}),
    _app("a resident relative's premium", "DH", "app.pay_premium", "m-8",
         {"relative_psn_no": "DR", "year": 2027, "amount": "380.00"}),
    _app("the same premium again", "DH", "app.pay_premium", "m-9",
         {"relative_psn_no": "DR", "year": 2027, "amount": "380.00"}),
    _app("a premium above the balance", "ZH", "app.pay_premium", "m-10",
         {"relative_psn_no": "ZR", "year": 2027, "amount": "1000.00"}),
    _app("a premium for an employee-insured relative", "DH", "app.pay_premium", "m-11",
         {"relative_psn_no": "DE", "year": 2027, "amount": "20.00"}),
    _pos("a swipe beyond her balance opens a window", "2102", "t-23", _swipe("DE", "150.00")),
    _app("unbind without face check", "DH", "app.unbind", "m-12", {"relative_psn_no": "DE"}),
    _app("unbind: her window closes with it", "DH", "app.unbind", "m-13",
         {"relative_psn_no": "DE", "face_verified": True}),
    _app("someone in no family", "DE", "app.bindings", "m-14", {}),
    _app("a cap for someone not bound", "DH", "app.set_cap", "m-15", {"relative_psn_no": "DE", "cap": "50.00"}),
    _app("an unknown caller", "NOBODY", "app.bindings", "m-16", {}),
    _admin("a region whose binding needs the relative's consent", "admin.policy", "a-15",
           {"set": {"name": "zibo-consent", "admdvs": ["370300"], "flow": "automatic", "binding_consent": True}}),
    _app("bind under consent: an invitation", "ZH", "app.bind", "m-18",
         {"relative_psn_no": "DE", "rltn": "spouse", "face_verified": True}),
    _app("the relative declines", "DE", "app.decline", "m-19", {"holder_psn_no": "ZH"}),
    _app("invited again", "ZH", "app.bind", "m-20", {"relative_psn_no": "DE", "rltn": "spouse", "face_verified": True}),
    _admin("another Zibo employee", "admin.load", "a-17",
           {"people": [_person("ZS", "赵磊", "370300", "310", "50.00")]}),
    _app("a second holder invites her too", "ZS", "app.bind", "m-25",
         {"relative_psn_no": "DE", "rltn": "parent", "face_verified": True}),
    _app("the invited relative finds her invitations", "DE", "app.bindings", "m-26", {}),
    _app("the holder sees the invitation it sent", "ZH", "app.bindings", "m-27", {}),
    _admin("the invitations waiting for her", "admin.state", "a-18", {"psn_no": "DE"}),
    _app("accept without face check", "DE", "app.accept", "m-21", {"holder_psn_no": "ZH"}),
    _app("the relative accepts: the other invitation is withdrawn", "DE", "app.accept", "m-22",
         {"holder_psn_no": "ZH", "face_verified": True}),
    _app("accept an invitation no one sent", "DE", "app.accept", "m-23",
         {"holder_psn_no": "DH", "face_verified": True}),
    _app("the holder unbinds her again", "ZH", "app.unbind", "m-24", {"relative_psn_no": "DE", "face_verified": True}),
    _app("bind", "DH", "app.bind", "m-17", {"relative_psn_no": "DE", "rltn": "spouse", "face_verified": True}),
    *_CLINIC,
    _admin("empty every table", "admin.reset", "a-12"),
)
"""A day touching every transaction, every view of an app answer and the app channel's refusals."""


async def record(steps: tuple[Step, ...]) -> list[Exchange]:
    """Run ``steps`` through a fresh switch and return what it answered and announced."""
    exchanges = []
    with tempfile.TemporaryDirectory(prefix="gongji-examples-") as tmp:
        store = SqliteStore(Path(tmp) / "examples.db")
        switch = SettlementSwitch(store, VirtualClock(START), packaged_policies())
        await switch.start()
        try:
            for step in steps:
                reply = await switch.handle(step.channel, step.sender, step.raw)
                exchanges.append(Exchange(step, reply.payload, tuple(reply.events)))
        finally:
            await switch.stop()
    return exchanges


@cache
def recorded(script: str) -> tuple[Exchange, ...]:
    """The exchanges of ``"worked"`` or ``"tour"``, recorded once per process (needs no running loop)."""
    steps = {"worked": WORKED, "tour": TOUR}[script]
    return tuple(asyncio.run(record(steps)))
