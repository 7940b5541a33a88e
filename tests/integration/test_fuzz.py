"""Hostile input: over 100,000 generated and mutated payloads per channel never crash the switch, each gets a
specific answer naming its msgid when it has one, memory stays bounded, and settling still works after."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import time
import tracemalloc
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from switch.core.codes import Code
from switch.service.handling import SettlementSwitch
from tests.support.direct import Direct, direct_switch
from tests.support.families import DONGYING, pharmacy_input
from tests.support.fuzzing import Mutator, envelopes, expected_ref

CHANNELS = ("pos", "app", "admin")
SENDERS = {"pos": ("T1", "T2", "T-fuzz"), "app": ("DH", "DR", "nobody"), "admin": ("admin",)}
# Each Hypothesis example sends one generated payload per channel plus this many mutants of it.
MUTANTS = 34
EXAMPLES = int(os.environ.get("GONGJI_FUZZ_EXAMPLES", "3000"))  # 3000 × 35 = 105,000 payloads per channel
CODES = {c.value for c in Code}


class Fuzz:
    """Counts and checks every answer; keeps a corpus of recent payloads for splicing."""

    def __init__(self, direct: Direct, loop: asyncio.AbstractEventLoop) -> None:
        self.direct = direct
        self.switch: SettlementSwitch = direct.switch
        self.loop = loop
        self.sent: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()
        self.corpus: list[bytes] = []
        self.window_replies = self.window_sent = self.grown = self.recorded = 0

    def feed(self, generated: dict[str, bytes], rng: random.Random) -> None:
        mutator = Mutator(rng)
        for channel in CHANNELS:
            payloads = [generated[channel], *mutator.variants(generated[channel], MUTANTS, self.corpus)]
            senders = [rng.choice(SENDERS[channel]) for _ in payloads]

            replies = self.loop.run_until_complete(self.batch(channel, senders, payloads))
            for payload, reply in zip(payloads, replies, strict=True):
                self.check(channel, payload, reply.payload, reply.sends)
            self.sent[channel] += len(payloads)
            self.corpus = (self.corpus + payloads[:4])[-200:]
        if self.switch.faults.view():  # a fuzzed admin.faults may set rules; the next batch starts clean
            self.switch.faults.replace([])

    async def batch(self, channel: str, senders: list[str], payloads: list[bytes]) -> list[Any]:
        """All at once, so decisions interleave with group commits as under real load."""
        return list(await asyncio.gather(
            *(self.switch.handle(channel, s, p) for s, p in zip(senders, payloads, strict=True))))

    def check(self, channel: str, payload: bytes, answer: bytes, sends: tuple[float, ...]) -> None:
        if not sends and not answer:  # a fault rule set by a fuzzed admin.faults dropped it
            self.codes["(dropped by an injected fault)"] += 1
            return
        body = json.loads(answer, parse_float=Decimal)
        code = body["code"]
        self.codes[code] += 1
        assert (code in CODES and code != "INTERNAL_ERROR") or body["err_msg"].startswith("internal error (injected"), \
            (channel, payload[:300], body)
        assert body["infcode"] == (0 if code == "OK" else -1)
        assert body["inf_refmsgid"] == expected_ref(payload), (channel, payload[:300], body)
        assert set(body) >= {"infno", "inf_refmsgid", "infcode", "code", "err_msg", "output"}
        if code == "INVALID_REQUEST":
            errors = body["output"].get("errors")
            assert errors and all("loc" in e and e["msg"] for e in errors), body

    def traced_switch_bytes(self) -> int:
        if not tracemalloc.is_tracing():
            return 0
        gc.collect()  # garbage awaiting the cycle collector is not held memory
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/switch/*")])
        if os.environ.get("GONGJI_FUZZ_MEMORY"):
            for stat in snapshot.statistics("lineno")[:8]:
                print(stat)
        return sum(stat.size for stat in snapshot.statistics("filename")) if tracemalloc.is_tracing() else 0


def run_hostile(fuzz: Fuzz) -> None:
    """Feed EXAMPLES generated payloads per channel (and their mutants), watching memory over one stretch."""
    # tracemalloc slows every allocation several times over, so it watches one stretch late in the
    # run, once caches are warm: what the switch allocated there and still holds at its end.
    window = (int(EXAMPLES * 0.85), int(EXAMPLES * 0.88))
    examples = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(pos=envelopes("pos"), app=envelopes("app"), admin=envelopes("admin"),
           seed=st.integers(0, 2**32 - 1))
    def hostile(pos: bytes, app: bytes, admin: bytes, seed: int) -> None:
        nonlocal examples
        examples += 1
        if examples == window[0]:
            tracemalloc.start()
            fuzz.window_replies = len(fuzz.switch._replies)
            fuzz.window_sent = -sum(fuzz.sent.values())
        fuzz.feed({"pos": pos, "app": app, "admin": admin}, random.Random(seed))
        if examples == window[1]:
            fuzz.window_sent += sum(fuzz.sent.values())
            fuzz.grown = fuzz.traced_switch_bytes()
            fuzz.recorded = len(fuzz.switch._replies) - fuzz.window_replies
            tracemalloc.stop()

    hostile()


async def still_settles(direct: Direct) -> dict[str, Any]:
    """After the storm, from a reset: the Dongying retry window still pools, and the books balance."""
    await direct.admin("admin.faults", {"rules": []})
    await direct.admin("admin.reset")
    await direct.admin("admin.load", DONGYING)
    first = await direct.pos("T9", "2102", pharmacy_input("DR", "80.00"))
    assert first["code"] == "POOLING_AVAILABLE"
    second = await direct.pos("T9", "2102", pharmacy_input("DR", "80.00"))
    audit = await direct.admin("admin.audit")
    assert audit["output"]["ok"], audit
    return second


def test_fuzz_every_channel(tmp_path: Path) -> None:
    """≥100,000 hostile payloads per channel: no crash, a specific code each, bounded memory, settling after."""
    loop = asyncio.new_event_loop()
    direct_cm = direct_switch(tmp_path / "fuzz.db")
    direct = loop.run_until_complete(direct_cm.__aenter__())
    fuzz = Fuzz(direct, loop)
    started = time.monotonic()
    try:
        loop.run_until_complete(direct.admin("admin.load", DONGYING))
        run_hostile(fuzz)
        grown, recorded = fuzz.grown, fuzz.recorded
        window = fuzz.window_sent
        # Memory may grow only by what the switch is meant to keep: ledger rows and one idempotency
        # record per accepted msgid. A leak on the refusal path would be ~every payload of the window.
        assert grown < 200_000 + 2_000 * max(recorded, 0), (grown, recorded, window)
        for channel in CHANNELS:
            assert fuzz.sent[channel] >= 100_000 or EXAMPLES < 3000, fuzz.sent
        assert fuzz.codes["INVALID_REQUEST"] > 10_000 and fuzz.codes["OK"] > 100, fuzz.codes
        second = loop.run_until_complete(still_settles(direct))
        assert (second["code"], second["output"]["setlinfo"]["acct_mulaid_pay"]) == ("OK", "80.00")
        print(f"\nfuzz: {sum(fuzz.sent.values())} payloads {dict(fuzz.sent)} in {time.monotonic() - started:.1f} s; "
              f"switch memory grew {grown / 1e3:.1f} kB over {window} payloads with {recorded} new recorded msgids; "
              f"codes {dict(fuzz.codes.most_common(8))}")
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        loop.run_until_complete(direct_cm.__aexit__(None, None, None))
        loop.close()
