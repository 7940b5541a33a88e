"""Hostile bodies over real HTTP, fuzzed as the MQTT door is: each gets a national answer with a specific code."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from switch.core.codes import Code
from switch.doors.http import HttpDoor
from switch.service.delivery import serving
from switch.wire.inputs import MAX_PAYLOAD_BYTES
from tests.support.direct import direct_switch
from tests.support.families import DONGYING, pharmacy_input
from tests.support.fuzzing import Mutator, envelopes
from tests.support.http import CALL_SERVICE, HttpClient, http_client, national

EXAMPLES = int(os.environ.get("GONGJI_HTTP_FUZZ_EXAMPLES", "60"))
MUTANTS = 15  # 60 × 16 × 2 paths ≈ 1,900 bodies over HTTP
PATHS = (CALL_SERVICE, "/csb/2102")
CODES = {c.value for c in Code}


def check(sent: bytes, body: bytes, status: int, codes: Counter[str]) -> None:
    """One answer: 413 for a body over the limit, else HTTP 200, the national envelope, a known code."""
    if len(sent) > MAX_PAYLOAD_BYTES:
        assert status == 413, (status, body[:300])
        codes["(413)"] += 1
        return
    assert status == 200, (status, body[:300])
    answer = json.loads(body, parse_float=Decimal)
    assert list(answer) == ["infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "warn_msg",
                            "cainfo", "signtype", "output", "code"], answer
    code = answer["code"]
    assert (code in CODES and code != "INTERNAL_ERROR") or answer["err_msg"].startswith("internal error (injected"), \
        answer
    assert answer["infcode"] == (0 if code == "OK" else -1)
    assert re.fullmatch(r"\d{30}", answer["inf_refmsgid"]) and re.fullmatch(r"\d{17}", answer["respond_time"])
    if code == "INVALID_REQUEST":
        assert answer["output"]["errors"] and all(e["msg"] for e in answer["output"]["errors"]), answer
    codes[code] += 1


def test_hostile_bodies_over_http(tmp_path: Path) -> None:
    """~1,900 generated and mutated bodies on two national paths: none crashes the door, each answered exactly."""
    loop = asyncio.new_event_loop()
    codes: Counter[str] = Counter()

    async def start() -> tuple[object, HttpDoor, asyncio.Event, asyncio.Task[None], object, HttpClient]:
        direct_cm = direct_switch(tmp_path / "fuzz.db")
        direct = await direct_cm.__aenter__()
        await direct.admin("admin.load", DONGYING)
        door = HttpDoor(serving(direct.switch), "127.0.0.1", 0)
        await door.open()
        stop = asyncio.Event()
        task = asyncio.create_task(door.run(stop))
        client_cm = http_client(door.url)
        return direct_cm, door, stop, task, client_cm, await client_cm.__aenter__()

    direct_cm, _door, stop, task, client_cm, client = loop.run_until_complete(start())
    corpus: list[bytes] = []

    async def batch(bodies: list[bytes]) -> None:
        results = await asyncio.gather(*(client.raw(PATHS[i % 2], b) for i, b in enumerate(bodies)))
        for sent, (status, body) in zip(bodies, results, strict=True):
            check(sent, body, status, codes)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(pos=envelopes("pos"), seed=st.integers(0, 2**32 - 1))
    def hostile(pos: bytes, seed: int) -> None:
        nonlocal corpus
        bodies = [pos, *Mutator(random.Random(seed)).variants(pos, MUTANTS, corpus)]
        loop.run_until_complete(batch(bodies))
        corpus = (corpus + bodies[:4])[-100:]

    try:
        hostile()
        settled = loop.run_until_complete(client.call("2102", pharmacy_input("DE", "30.00")))
        assert settled["code"] in ("OK", "INSUFFICIENT_BALANCE", "POOLING_AVAILABLE"), settled
        again = loop.run_until_complete(client.post(CALL_SERVICE, national("1101", {"mdtrt_cert_type": "01",
                                                                                    "mdtrt_cert_no": "QRDH"})))
        assert again["code"] == "OK"
        assert sum(codes.values()) >= EXAMPLES * (MUTANTS + 1) and codes["INVALID_REQUEST"] > EXAMPLES, codes
    finally:
        async def finish() -> None:
            await client_cm.__aexit__(None, None, None)  # type: ignore[attr-defined]
            stop.set()
            await task
            await direct_cm.__aexit__(None, None, None)  # type: ignore[attr-defined]
        loop.run_until_complete(finish())
        loop.close()
