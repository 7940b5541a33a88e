"""Hostile input through real brokers: mutated payloads on every channel, the size limit, bad topic ids."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from decimal import Decimal
from typing import Any

import aiomqtt

from switch.doors.mqtt import NODELAY
from switch.wire.inputs import MAX_PAYLOAD_BYTES
from tests.support.families import DONGYING, pharmacy_input
from tests.support.fuzzing import SEEDS, Mutator, expected_ref
from tests.support.switches import InProcessSwitch

PER_CHANNEL = 1500
TOPIC_IDS = {"pos": "T-fuzz", "app": "DR"}


def corpus(channel: str, rng: random.Random) -> list[bytes]:
    """Seeds with fresh msgids and their mutants; never admin.faults (a dropped answer is not a lost one)."""
    seeds = []
    for i, seed in enumerate(SEEDS[channel]):
        doc: dict[str, Any] = {**seed, "msgid": f"b-{channel}-{i}"}
        if channel == "pos":
            doc["fixmedins_code"] = "P37050000001"
        seeds.append(json.dumps(doc, ensure_ascii=False).encode())
    mutator = Mutator(rng)
    payloads = [mutator.mutate(rng.choice(seeds), seeds) for _ in range(PER_CHANNEL)]
    return [p for p in payloads if b"admin.faults" not in p]


async def test_mutated_payloads_through_the_broker_each_get_one_specific_answer(live: InProcessSwitch) -> None:
    """Every mutated payload on every channel gets exactly one answer, naming its msgid when it has one."""
    rng = random.Random(5)
    root = live.root
    sent = {channel: corpus(channel, rng) for channel in ("pos", "app", "admin")}
    req = {"pos": f"{root}/pos/T-fuzz/req", "app": f"{root}/app/DR/req", "admin": f"{root}/admin/req"}
    resp = {f"{root}/pos/T-fuzz/resp": "pos", f"{root}/app/DR/resp": "app", f"{root}/admin/resp": "admin"}
    got: dict[str, list[dict[str, Any]]] = {"pos": [], "app": [], "admin": []}
    host, port = live.url.removeprefix("mqtt://").split(":")
    async with live.client("admin") as admin:
        await admin.request("admin.load", DONGYING)
    async with aiomqtt.Client(host, int(port), socket_options=NODELAY) as client:
        for topic in resp:
            await client.subscribe(topic, qos=1)

        async def read() -> None:
            async for message in client.messages:
                got[resp[str(message.topic)]].append(json.loads(bytes(message.payload), parse_float=Decimal))

        reader = asyncio.create_task(read())
        for channel, payloads in sent.items():
            for payload in payloads:
                await client.publish(req[channel], payload, qos=1)
        total = sum(len(p) for p in sent.values())
        for _ in range(600):
            if sum(len(g) for g in got.values()) >= total:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # and nothing more than one answer each
        reader.cancel()
    for channel, payloads in sent.items():
        answers = got[channel]
        assert len(answers) == len(payloads), channel
        assert Counter(a["inf_refmsgid"] for a in answers) == Counter(expected_ref(p) for p in payloads)
        assert "INTERNAL_ERROR" not in {a["code"] for a in answers}
    async with live.client("admin") as admin, live.pos("T9") as pos:
        # The fuzz may have loaded, credited or suspended anyone: start the check from a known family.
        assert (await admin.request("admin.reset"))["code"] == "OK"
        assert (await admin.request("admin.load", DONGYING))["code"] == "OK"
        first = await pos.request("2102", pharmacy_input("DR", "80.00"))
        second = await pos.request("2102", pharmacy_input("DR", "80.00"))
        assert (first["code"], second["output"]["setlinfo"]["acct_mulaid_pay"]) == ("POOLING_AVAILABLE", "80.00")


async def test_size_limit_is_enforced_before_parsing_over_the_broker(live: InProcessSwitch) -> None:
    """A valid request of exactly 65,536 bytes is processed; one byte more is INVALID_REQUEST with no msgid."""
    async with live.client("admin") as admin, live.pos("T1") as pos:
        await admin.request("admin.load", DONGYING)
        base = {"infno": "1101", "msgid": "big-1", "fixmedins_code": "P1",
                "input": {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDR"}, "pad": ""}
        filler = MAX_PAYLOAD_BYTES - len(json.dumps(base).encode())
        exact = json.dumps({**base, "pad": "x" * filler}).encode()
        assert len(exact) == MAX_PAYLOAD_BYTES
        answer = await pos.send_raw(exact, msgid="big-1")
        assert answer["code"] == "OK" and answer["output"]["baseinfo"]["psn_no"] == "DR"
        over = json.dumps({**base, "msgid": "big-2", "pad": "x" * (filler + 1)}).encode()
        refused = await pos.send_raw(over)
        assert (refused["code"], refused["inf_refmsgid"]) == ("INVALID_REQUEST", None)
        assert str(MAX_PAYLOAD_BYTES) in refused["err_msg"]
        huge = await pos.send_raw(b"[" * (MAX_PAYLOAD_BYTES * 4))
        assert (huge["code"], huge["output"]["errors"][0]["loc"]) == ("INVALID_REQUEST", [])


async def test_bad_topic_ids_are_answered_on_their_own_resp_topic(live: InProcessSwitch) -> None:
    """A topic id the protocol does not allow is refused on that topic's resp, and nothing else happens."""
    host, port = live.url.removeprefix("mqtt://").split(":")
    bad = ["a" * 65, "T.1", "终端1"]
    async with aiomqtt.Client(host, int(port), socket_options=NODELAY) as client:
        for terminal in bad:
            await client.subscribe(f"{live.root}/pos/{terminal}/resp", qos=1)
        for terminal in bad:
            await client.publish(f"{live.root}/pos/{terminal}/req", b'{"infno":"1101","msgid":"x"}', qos=1)
        answers = []
        async with asyncio.timeout(10):
            async for message in client.messages:
                answers.append((str(message.topic), json.loads(bytes(message.payload))))
                if len(answers) == len(bad):
                    break
    assert sorted(t for t, _ in answers) == sorted(f"{live.root}/pos/{t}/resp" for t in bad)
    assert {a["code"] for _, a in answers} == {"INVALID_REQUEST"}
    assert all(a["output"]["errors"][0]["loc"] == ["topic"] for _, a in answers)
