"""Hostile payloads: Hypothesis builds envelopes (valid seeds with edits, arbitrary JSON, raw bytes), and a
seeded mutator derives many byte- and structure-level variants of each, cheaply."""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st

from switch.wire.inputs import MAX_PAYLOAD_BYTES
from tests.support.families import DONGYING, ZIBO, cert, pharmacy_input

__all__ = ["SEEDS", "Mutator", "envelopes", "expected_ref"]

_settle = pharmacy_input("DR", "80.00")
_outpatient = {"data": {**_settle["druginfo"], "med_type": "11"}}
SEEDS: dict[str, list[dict[str, Any]]] = {
    "pos": [
        {"infno": "1101", "input": {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("DR")}},
        {"infno": "2101", "input": _settle}, {"infno": "2102", "input": _settle},
        {"infno": "2102", "input": {**pharmacy_input("ZR", "12.34"), "drugdetail": [
            {"med_list_codg": "X1", "cnt": 2, "pric": "6.17", "det_item_fee_sumamt": "12.34"}]}},
        {"infno": "2206", "input": _outpatient}, {"infno": "2207", "input": _outpatient},
        {"infno": "2103", "input": {"setl_id": "SETL0000000001", "psn_no": "DR"}},
        {"infno": "2208", "input": {"setl_id": "SETL0000000002", "psn_no": "ZR"}},
        {"infno": "2601", "input": {"psn_no": "DR", "omsgid": "m-1", "oinfno": "2102"}},
    ],
    "app": [
        {"infno": "app.bind", "input": {"relative_psn_no": "DE", "rltn": "spouse", "face_verified": True}},
        {"infno": "app.unbind", "input": {"relative_psn_no": "DE", "face_verified": True}},
        {"infno": "app.set_cap", "input": {"relative_psn_no": "DR", "cap": "100.00"}},
        {"infno": "app.bindings", "input": {}}, {"infno": "app.records", "input": {"limit": 5}},
        {"infno": "app.pay_premium", "input": {"relative_psn_no": "DR", "year": 2026, "amount": "380.00"}},
    ],
    "admin": [
        {"infno": "admin.load", "input": DONGYING}, {"infno": "admin.load", "input": ZIBO},
        {"infno": "admin.credit", "input": {"psn_no": "DH", "amount": "10.00"}},
        {"infno": "admin.set_status", "input": {"psn_no": "DH", "status": "suspended"}},
        {"infno": "admin.set_status", "input": {"psn_no": "DH", "status": "active"}},
        {"infno": "admin.clock", "input": {"advance": "4m59s"}}, {"infno": "admin.clock", "input": {}},
        {"infno": "admin.clock", "input": {"set": "2026-11-25T10:00:00+08:00"}},
        {"infno": "admin.state", "input": {"psn_no": "DH"}}, {"infno": "admin.audit", "input": {}},
        {"infno": "admin.policy", "input": {}},
        {"infno": "admin.faults", "input": {"rules": [{"match": {"terminal_id": "T1"}, "action": "error",
                                                       "times": 1}]}},
    ],
}

# Values that have broken JSON and validation code elsewhere: huge and tiny numbers, odd strings, deep nests.
NASTY: list[Any] = [
    None, True, False, 0, -1, 2**63, -(2**63) - 1, 10**400, 1e308, -0.0, 0.001, 1.005, "1e9999", "NaN",
    "-0.01", "0.00", "1000000.01", "80.001", " 80.00 ", "８０.００", "", " ", "\u0000", "\ud800x", "💊" * 70,
    "a" * 5000, "DR\n", "../../etc", "%s%n", "'; DROP TABLE ledger; --", [], {}, [[[]]], {"": {}},
    "9999-12-31T23:59:59+08:00", "0001-01-01T00:00:00", "99999999h", "1e6s", "-5s", 10**12,
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20) | st.sampled_from(NASTY),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value that an edit could target."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


def _edit(doc: Any, path: tuple[Any, ...], op: str, new: Any) -> Any:
    if not path:
        return new if op == "replace" else doc
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = new
    elif op == "wrap":
        parent[last] = [parent[last]]
    elif op == "stringify":
        parent[last] = json.dumps(parent[last])
    elif op == "add" and isinstance(parent[last], dict):
        parent[last][str(new)[:20]] = new
    return doc


@st.composite
def envelopes(draw: st.DrawFn, channel: str) -> bytes:
    """One payload for ``channel``: a seed with random edits, a random JSON value, or random bytes."""
    kind = draw(st.sampled_from(["seed", "seed", "seed", "edited", "edited", "edited", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    doc: Any = json.loads(json.dumps(draw(st.sampled_from(SEEDS[channel]))))
    doc["msgid"] = draw(st.sampled_from(["m-1", "m-2"]) | st.text(min_size=1, max_size=12).map(lambda t: f"f-{t}"))
    if channel == "pos":
        doc["fixmedins_code"] = draw(st.sampled_from(["P37050000001", "P37030000001"]))
    if kind == "edited":
        for _ in range(draw(st.integers(1, 3))):
            paths = _paths(doc)
            path = draw(st.sampled_from(paths))
            op = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "stringify", "add"]))
            if op == "delete" and not path:
                continue
            # A copy: NASTY holds shared lists and dicts that a later edit would otherwise change for good.
            doc = _edit(doc, path, op, copy.deepcopy(draw(json_values)))
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


class Mutator:
    """Cheap seeded byte- and text-level variants of a payload (the fuzzer's volume comes from here)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def variants(self, payload: bytes, n: int, corpus: list[bytes]) -> list[bytes]:
        return [self.mutate(payload, corpus) for _ in range(n)]

    def mutate(self, payload: bytes, corpus: list[bytes]) -> bytes:
        rng = self.rng
        data = bytearray(payload)
        # Deep nests and near-limit sizes cost a full parse of up to 64 KiB: rarer, so volume stays cheap.
        op = rng.choices(range(10), weights=(10, 10, 10, 10, 10, 1, 1, 8, 8, 8))[0]
        if op == 0 and data:  # flip some bits
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # truncate
            del data[rng.randrange(len(data)):]
        elif op == 2:  # insert special bytes
            pos = rng.randint(0, len(data))
            data[pos:pos] = rng.choice([b"\x00", b"\xff\xfe", b"\\u0000", b'"', b"{", b"]", b",", b"\xe4\xb8",
                                        b"\\ud800", b"1e999", b"-", b"NaN", b"null"])
        elif op == 3 and corpus:  # splice with another payload
            other = rng.choice(corpus)
            data = data[:rng.randint(0, len(data))] + other[rng.randint(0, len(other)):]
        elif op == 4:  # swap a JSON token for a nasty value
            text = data.decode("utf-8", "replace")
            for token in ('"80.00"', '"01"', '"1"', "true", '"DR"', '"2102"', "[", '"m-1"', "2026"):
                if token in text and rng.random() < 0.5:
                    text = text.replace(token, json.dumps(rng.choice(NASTY)), 1)
            data = bytearray(text.encode("utf-8", "surrogatepass"))
        elif op == 5:  # deep nesting inside the limit
            depth = rng.choice([100, 1000, 30_000])
            data = bytearray(b'{"infno":"2102","msgid":"deep","input":' + b"[" * depth + b"]" * depth + b"}")
        elif op == 6:  # around the size limit
            size = rng.choice([MAX_PAYLOAD_BYTES - 20, MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES * 3])
            pad = max(0, size - len(data) - 12)
            data = bytearray(payload.rstrip(b"}") + b',"pad":"' + b"x" * pad + b'"}')
        elif op == 7:  # duplicate keys: the last one wins in json.loads
            data = bytearray(payload.replace(b'"infno"', b'"infno":"admin.reset","infno"', 1))
        elif op == 8:  # numbers everywhere
            data = bytearray(payload.replace(b'"', b"", rng.randint(1, 6)))
        else:  # re-encode in another encoding
            data = bytearray(payload.decode("utf-8", "replace").encode(rng.choice(["utf-16", "latin-1", "utf-8"]),
                                                                         "replace"))
        return bytes(data)


def expected_ref(payload: bytes) -> str | None:
    """The msgid an answer must name: the payload's own when it is readable and usable, else null."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = json.loads(payload, parse_float=Decimal)
    except (ValueError, ArithmeticError, RecursionError):
        return None
    msgid = data.get("msgid") if isinstance(data, dict) else None
    return msgid if isinstance(msgid, str) and 1 <= len(msgid) <= 64 else None
