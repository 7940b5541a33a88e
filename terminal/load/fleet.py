"""Simulated checkout fleets for load runs: many tills over a few MQTT connections, a realistic mix.

Strategy: a real till is one device with one connection, but a thousand connections driven from
one Python process would make the load generator, not the switch, the thing measured. So tills
share connections (``per_connection``, like the tills of a store behind one uplink): a connection
subscribes to the resp topics of its own tills only, matches answers by ``inf_refmsgid`` and
publishes without awaiting PUBACKs. Each till still does one checkout at a time and waits for
every answer, as a till does; a person is at one till at a time, so every answer is predictable
and checked. msgids are counted in memory under a run prefix, not by ``terminal.clients.pos``'s durable
counter, whose fsync per msgid would throttle the fleet. Over the HTTP door (``http``) the tills
share ``HttpLine`` sessions instead and speak the national form (``terminal.load.http_line``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from switch.core.money import format_fen
from switch.doors.mqtt import NODELAY, BrokerAddress
from switch.doors.publish import MAX_INFLIGHT, publish_nowait
from switch.wire.topics import request_topic, response_topic
from terminal.load.http_line import HttpLine
from terminal.load.population import Population, cert_of
from terminal.load.stats import Stats

__all__ = ["DEFAULT_MIX", "Fleet", "FleetConfig", "parse_mix"]

# Checkout kinds: own account; Dongying relative declined then pooled on the swipe again (retry);
# Zibo relative pooled at once (auto); a settlement then its cancel; a settlement then its 2601.
DEFAULT_MIX = {"own": 50.0, "retry": 15.0, "auto": 20.0, "cancel": 10.0, "reversal": 5.0}
INFNOS = {"pharmacy": ("2101", "2102", "2103"), "clinic": ("2206", "2207", "2208")}
BODY_KEY = {"pharmacy": "druginfo", "clinic": "data"}
CLINIC_EVERY = 5  # one till in five is a clinic's (2206/2207), the rest pharmacies'
TILLS_PER_INSTITUTION = 4
NO_SETL_ID = "SETL0000000000"  # what a cancel names when the echo responder gave no setl_id


def parse_mix(text: str) -> dict[str, float]:
    """``own=50,retry=15,auto=20,cancel=10,reversal=5`` (weights, any scale)."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in DEFAULT_MIX:
            raise ValueError(f"unknown checkout kind {name!r}; kinds: {', '.join(DEFAULT_MIX)}")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise ValueError(f"weight of {name!r} must be a number, got {weight!r}") from None
        if mix[name] < 0:
            raise ValueError(f"weight of {name!r} must not be negative")
    if not any(mix.values()):
        raise ValueError("the mix needs at least one kind with a weight above 0")
    return mix


@dataclass(frozen=True)
class FleetConfig:
    terminals: int = 50
    per_connection: int = 25
    rate: float | None = None  # requests per second across the fleet; None: as fast as answers come
    duration: float | None = 10.0  # seconds during which checkouts start...
    count: int | None = None  # ...or this many checkouts in all
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    seed: int = 1
    timeout: float = 10.0
    full_checkout: bool = False  # 1101 and pre-settlement before each settlement, as a till does
    expect: bool = True  # check each code against the rules (off for the echo responder)
    warmup: float = 0.0


class Line:
    """One MQTT connection shared by several tills."""

    national = False

    def __init__(self, broker: BrokerAddress, root: str, tills: Sequence[str], stats: Stats,
                 timeout: float) -> None:
        self.broker, self.root, self.tills, self.stats, self.timeout = broker, root, tills, stats, timeout
        self.client = aiomqtt.Client(broker.host, broker.port, username=broker.username,
                                     password=broker.password, socket_options=NODELAY,
                                     max_inflight_messages=MAX_INFLIGHT, keepalive=60)
        self.client.pending_calls_threshold = 1 << 30  # subscribes in bulk are expected here
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await self.client.__aenter__()
        topics = [(response_topic(self.root, "pos", t), 1) for t in self.tills]
        for i in range(0, len(topics), 200):
            await self.client.subscribe(topics[i:i + 200])
        self._reader = asyncio.create_task(self._read(), name="load-line-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.client.__aexit__(None, None, None)

    async def _read(self) -> None:
        async for message in self.client.messages:
            try:
                body = json.loads(message.payload)
            except ValueError:
                continue
            ref = body.get("inf_refmsgid") if isinstance(body, dict) else None
            future = self._pending.pop(ref, None) if isinstance(ref, str) else None
            if future is not None and not future.done():
                future.set_result(body)

    async def request(self, till: str, infno: str, payload: bytes, msgid: str) -> dict[str, Any] | None:
        """Publish and wait for the answer naming ``msgid``; None after ``timeout`` (counted)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msgid] = future
        sent = time.perf_counter()
        publish_nowait(self.client, request_topic(self.root, "pos", till), payload)
        try:
            async with asyncio.timeout(self.timeout):
                answer = await future
        except TimeoutError:
            self._pending.pop(msgid, None)
            self.stats.timeouts += 1
            return None
        now = time.perf_counter()
        self.stats.record(infno, str(answer.get("code")), now - sent, now)
        return answer


@dataclass
class Till:
    till_id: str
    fixmedins_code: str
    kind: str
    line: Line | HttpLine
    sent: int = 0

    def layout(self, body: dict[str, Any]) -> dict[str, Any]:
        """1101, cancel and 2601 inputs as the door's tills send them: ``data{...}`` on the national door."""
        return {"data": body} if self.line.national else body

    async def send(self, infno: str, body: dict[str, Any],
                   msgid: str | None = None) -> tuple[dict[str, Any] | None, str]:
        if isinstance(self.line, HttpLine):
            msgid = msgid or self.line.next_msgid(self.fixmedins_code)
            payload = self.line.payload(self.fixmedins_code, infno, msgid, body)
            return await self.line.request(self.till_id, infno, payload, msgid), msgid
        if msgid is None:
            self.sent += 1
            msgid = f"{self.till_id}-{self.sent}"
        envelope = {"infno": infno, "msgid": msgid, "fixmedins_code": self.fixmedins_code, "input": body}
        payload = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return await self.line.request(self.till_id, infno, payload, msgid), msgid


class Pacer:
    """Spaces requests ``1/rate`` apart across the fleet; a late one goes at once (no bursts to catch up)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.perf_counter()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.perf_counter()
        slot = max(self.next, now)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class Fleet:
    """Tills running checkouts of ``config.mix`` over ``population`` until the duration or count is done."""

    def __init__(self, broker: BrokerAddress | None, root: str, population: Population, config: FleetConfig,
                 run_id: str, *, http: str | None = None) -> None:
        self.broker, self.root, self.population, self.config = broker, root, population, config
        self.http = http  # the switch's HTTP door: tills speak the national form there instead
        self.stats = Stats(warmup=config.warmup)
        self.rng = random.Random(config.seed)
        self.pacer = Pacer(config.rate)
        self.run_id = run_id
        holders = [f.holder for f in population.families]
        pools = {"own": [*population.singles, *holders],
                 "dongying": [r for f in population.dongying for r in f.relatives],
                 "zibo": [r for f in population.zibo for r in f.relatives]}
        # Which people each kind takes: a person is at one till at a time, whatever the kind.
        self.pool_of = {"own": "own", "retry": "dongying", "auto": "zibo", "reversal": "own",
                        "cancel": "zibo" if pools["zibo"] else "own"}
        self.mix = {k: w for k, w in config.mix.items() if w > 0 and pools[self.pool_of[k]]}
        if not self.mix:
            raise ValueError("no checkout kind of the mix has anyone to run it (add people or families)")
        self.free: dict[str, asyncio.Queue[str]] = {}
        for name, people in pools.items():
            queue: asyncio.Queue[str] = asyncio.Queue()
            for psn_no in people:
                queue.put_nowait(psn_no)
            self.free[name] = queue
        self._left = config.count

    def _tills(self, lines: Sequence[Line | HttpLine]) -> list[Till]:
        tills = []
        for i in range(self.config.terminals):
            kind = "clinic" if i % CLINIC_EVERY == CLINIC_EVERY - 1 else "pharmacy"
            code = f"{'H' if kind == 'clinic' else 'P'}3705{i // TILLS_PER_INSTITUTION:07d}"
            line = lines[i // self.config.per_connection]
            tills.append(Till(line.tills[i % self.config.per_connection], code, kind, line))
        return tills

    async def run(self, on_tick: Callable[[Stats], None] | None = None) -> Stats:
        c = self.config
        ids = [f"{self.run_id}-{i:04d}" for i in range(c.terminals)]
        lines: list[Line | HttpLine] = []
        msgids: dict[str, dict[str, Any]] = {}
        for i in range(0, c.terminals, c.per_connection):
            if self.http is not None:
                lines.append(HttpLine(self.http, ids[i:i + c.per_connection], self.stats, c.timeout, msgids))
            else:
                assert self.broker is not None, "a fleet needs a broker or an HTTP door"
                lines.append(Line(self.broker, self.root, ids[i:i + c.per_connection], self.stats, c.timeout))
        await asyncio.gather(*(line.open() for line in lines))
        ticker = None
        try:
            tills = self._tills(lines)
            self.stats.started = time.perf_counter()
            self.pacer.next = self.stats.started
            if c.duration is not None and c.count is None:
                self.stats.deadline = self.stats.started + c.duration
            if on_tick is not None:
                ticker = asyncio.create_task(self._tick(on_tick))
            await asyncio.gather(*(self._till_loop(t) for t in tills))
        finally:
            if ticker is not None:
                ticker.cancel()
            await asyncio.gather(*(line.close() for line in lines), return_exceptions=True)
        if on_tick is not None:
            on_tick(self.stats)
        return self.stats

    async def _tick(self, on_tick: Callable[[Stats], None]) -> None:
        while True:
            await asyncio.sleep(0.25)
            on_tick(self.stats)

    def _next_kind(self) -> tuple[str, int] | None:
        """The next checkout's kind and amount, or None when the run is over (one RNG: a fixed count
        of checkouts gives the same kinds and amounts whichever till happens to draw them)."""
        if self._left is not None:
            if self._left <= 0:
                return None
            self._left -= 1
        elif self.stats.deadline is not None and time.perf_counter() >= self.stats.deadline:
            return None
        kind = self.rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        return kind, self.rng.randint(100, 19_999)

    async def _till_loop(self, till: Till) -> None:
        while (drawn := self._next_kind()) is not None:
            kind, fen = drawn
            pool = self.free[self.pool_of[kind]]
            psn_no = await pool.get()
            try:
                if await getattr(self, f"_{kind}")(till, psn_no, fen):
                    self.stats.scenarios[kind] += 1
            finally:
                pool.put_nowait(psn_no)

    # --- the steps of a checkout ---------------------------------------------------------------------

    async def _step(self, till: Till, infno: str, body: dict[str, Any], expect: str,
                    msgid: str | None = None) -> dict[str, Any] | None:
        """One request; None if unanswered or (checking) answered other than ``expect``."""
        await self.pacer.wait()
        answer, _ = await till.send(infno, body, msgid)
        if answer is None:
            return None
        if self.config.expect and answer.get("code") != expect:
            self.stats.unexpected[f"{infno} {expect}→{answer.get('code')}"] += 1
            return None
        return answer

    async def _settle(self, till: Till, psn_no: str, fen: int,
                      expect: str = "OK") -> tuple[dict[str, Any] | None, str]:
        pre, settle, _ = INFNOS[till.kind]
        data = {"psn_no": psn_no, "mdtrt_cert_type": "01", "mdtrt_cert_no": cert_of(psn_no),
                "medfee_sumamt": format_fen(fen), "acct_used_flag": "1"}
        body = {BODY_KEY[till.kind]: data}
        if self.config.full_checkout:
            card = till.layout({"mdtrt_cert_type": "01", "mdtrt_cert_no": cert_of(psn_no)})
            if await self._step(till, "1101", card, "OK") is None:
                return None, ""
            if await self._step(till, pre, body, expect) is None:
                return None, ""
        await self.pacer.wait()
        answer, msgid = await till.send(settle, body)
        if answer is None:  # an unanswered settlement is reversed, never sent again (it might have settled)
            await self._step(till, "2601", till.layout({"psn_no": psn_no, "omsgid": msgid, "oinfno": settle}), "OK")
            return None, msgid
        code = answer.get("code")
        if self.config.expect and code != expect:
            self.stats.unexpected[f"{settle} {expect}→{code}"] += 1
            return None, msgid
        if code == "OK":
            self.stats.settled += 1
            self._paid(answer)
        return answer, msgid

    def _paid(self, answer: dict[str, Any]) -> None:
        """Count what left (or, negative, came back to) personal accounts, by the answer's setlinfo."""
        info = (answer.get("output") or {}).get("setlinfo")
        if self.config.expect and info:
            self.stats.paid_fen += _fen(info["acct_pay"]) + _fen(info["acct_mulaid_pay"])

    async def _own(self, till: Till, psn_no: str, fen: int) -> bool:
        answer, _ = await self._settle(till, psn_no, fen)
        return answer is not None

    async def _auto(self, till: Till, psn_no: str, fen: int) -> bool:
        return await self._own(till, psn_no, fen)

    async def _retry(self, till: Till, psn_no: str, fen: int) -> bool:
        """Dongying: the first swipe is declined with the prompt and opens the window; the next one pools."""
        declined, _ = await self._settle(till, psn_no, fen, "POOLING_AVAILABLE")
        return declined is not None and (await self._settle(till, psn_no, fen))[0] is not None

    async def _cancel(self, till: Till, psn_no: str, fen: int) -> bool:
        answer, _ = await self._settle(till, psn_no, fen)
        if answer is None:
            return False
        setl_id = ((answer.get("output") or {}).get("setlinfo") or {}).get("setl_id") or NO_SETL_ID
        undone = await self._step(till, INFNOS[till.kind][2], till.layout({"setl_id": setl_id, "psn_no": psn_no}),
                                  "OK")
        if undone is None:
            return False
        self.stats.undone += 1
        self._paid(undone)
        return True

    async def _reversal(self, till: Till, psn_no: str, fen: int) -> bool:
        answer, msgid = await self._settle(till, psn_no, fen)
        if answer is None:
            return False
        body = till.layout({"psn_no": psn_no, "omsgid": msgid, "oinfno": INFNOS[till.kind][1]})
        undone = await self._step(till, "2601", body, "OK")
        if undone is None:
            return False
        if self.config.expect and (undone.get("output") or {}).get("reversed") is not True:
            self.stats.unexpected["2601 reversed→false"] += 1
            return False
        self.stats.undone += 1
        self._paid(undone)
        return True


def _fen(amount: str) -> int:
    """An answer's two-decimal amount ("-80.00" included) in fen."""
    whole, _, cents = amount.lstrip("-").partition(".")
    fen = int(whole) * 100 + int(cents or 0)
    return -fen if amount.startswith("-") else fen
