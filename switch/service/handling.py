"""The service layer: one request in, one durable answer out, exactly once per msgid.

Strategy: the core decides against the in-memory state synchronously, so decisions are
serialised by the event loop without a lock; the effects go to memory at once and to disk via
group commit; the answer is released only when its batch is durable. The reply index (channel,
sender, msgid) is consulted and updated in the same synchronous step, so a duplicate arriving
while the first is still being written waits for that first answer instead of deciding again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from switch.core.codes import Code
from switch.core.model import Event, Reset, State, apply, iso
from switch.core.policy import Policy
from switch.core.settlement import Original
from switch.core.windows import expire_windows
from switch.errors import RequestRejected
from switch.service.clock import Clock, VirtualClock
from switch.service.committer import Committer
from switch.service.context import Context
from switch.service.delivery import Reply
from switch.service.faults import FaultBook
from switch.service.trail import log_answer
from switch.service.transactions import TABLE, Transaction
from switch.store.base import Commit, ReplyRow, Store
from switch.wire.envelope import (
    Request,
    check_token,
    encode,
    fingerprint,
    parse_request,
    unknown_infno,
    usable_ids,
    validate_input,
)
from switch.wire.inputs import FaultRule
from switch.wire.topics import ID_RULE, valid_id

__all__ = ["Reply", "SettlementSwitch"]

log = logging.getLogger("gongji.switch")
RECENT_REPLIES_IN_MEMORY = 20_000


@dataclass(slots=True)
class _Recorded:
    fingerprint: str
    infno: str
    code: str
    setl_id: str | None
    response: bytes | None  # None once evicted from memory: read it back from the store
    durable: asyncio.Future[None] | None = None


class SettlementSwitch:
    """The switch without its transport: ``handle`` turns a payload into a durable reply."""

    def __init__(self, store: Store, clock: Clock, policies: Sequence[Policy], admin_token: str | None = None,
                 on_fatal: Callable[[BaseException], None] | None = None, faults: Sequence[FaultRule] = ()) -> None:
        self.store = store
        self.clock = clock
        self.base_policies = tuple(policies)
        self.admin_token = admin_token
        self._loaded_replies = 0
        self.state: State | None = None
        self._replies: dict[tuple[str, str, str], _Recorded] = {}
        self._recent: deque[tuple[str, str, str]] = deque()
        self._on_fatal = on_fatal
        self.committer = Committer(store, self._fatal)
        self._listeners: list[Callable[[list[bytes]], None]] = []
        self.faults = FaultBook(faults)

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.open()
        self.state, rows = await self.store.load(self.base_policies)
        for r in rows:
            self._replies[(r.channel, r.sender, r.msgid)] = _Recorded(r.fingerprint, r.infno, r.code, r.setl_id, None)
        self.committer.start()
        self._loaded_replies = len(rows)

    def loaded(self) -> str:
        """What ``start`` loaded, for the log line ``serve`` writes once every part has started."""
        state = self._state()
        return (f"ledger loaded: {len(state.people)} people, {len(state.binding_of)} bindings, "
                f"{len(state.settlements)} settlements, {self._loaded_replies} recorded replies")

    async def stop(self) -> None:
        await self.committer.stop()
        await self.store.close()

    def _fatal(self, exc: BaseException) -> None:
        if self._on_fatal is not None:
            self._on_fatal(exc)

    # --- events --------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[list[bytes]], None]) -> None:
        """Have ``listener`` announce every event from now on (each door that carries events subscribes)."""
        self._listeners.append(listener)

    def announce(self, events: list[bytes]) -> None:
        """Hand events to every subscribed door; they are sent whichever door the request came through."""
        if events:
            for listener in self._listeners:
                listener(events)

    # --- requests ------------------------------------------------------------------------------

    async def handle(self, channel: str, sender: str, payload: bytes) -> Reply:
        """The answer to a request heard from ``sender`` on ``channel``: any payload, any sender, never raises.

        ``sender`` is the id the door read (a topic's terminal_id or psn_no; ``admin`` on the admin
        channel). Every answer, refusals and internal errors included, is built here, so each one
        has the shape the published models promise.
        """
        if channel != "admin" and not valid_id(sender):
            return self._refuse_sender(channel, sender, payload)
        try:
            return await self._handle(channel, sender, payload)
        except Exception:  # the switch never crashes on input: answer, log, go on
            log.exception("internal error on %s/%s", channel, sender)
            try:
                msgid, infno = usable_ids(channel, sender, payload)
            except Exception:  # the envelope parser itself failed: answer without ids
                msgid, infno = None, None
            body = self._answer(infno, msgid, Code.INTERNAL_ERROR,
                                "internal error; nothing was committed for this request", {})
            return Reply(body, code=Code.INTERNAL_ERROR.value)

    def _refuse_sender(self, channel: str, sender: str, payload: bytes) -> Reply:
        started = time.perf_counter()
        msgid, infno = usable_ids(channel, sender, payload)
        body = self._answer(infno, msgid, Code.INVALID_REQUEST, f"topic id {sender!r} must be {ID_RULE}",
                            {"errors": [{"loc": ["topic"], "msg": "bad id"}]})
        self._log(channel, sender, infno, msgid, Code.INVALID_REQUEST, None, started)
        return Reply(body, code=Code.INVALID_REQUEST.value)

    async def _handle(self, channel: str, sender: str, payload: bytes) -> Reply:
        started = time.perf_counter()
        try:
            request = parse_request(channel, sender, payload)
            if channel == "admin" and self.admin_token is not None:
                check_token(request, self.admin_token, payload)
            entry = TABLE.get((channel, request.infno))
            if entry is None:
                raise unknown_infno(request)
            model = validate_input(request, entry.input)
        except RequestRejected as rejected:
            output = {"errors": rejected.errors} if rejected.errors is not None else {}
            body = self._answer(rejected.infno, rejected.msgid, rejected.code, rejected.err_msg, output)
            self._log(channel, sender, rejected.infno, rejected.msgid, rejected.code, None, started)
            return Reply(body, code=rejected.code.value)
        fault = self.faults.match(channel, sender, request.infno)
        if fault is None:
            return await self._handle_valid(request, entry, model, started)
        # Injected faults (admin.faults): an error is not recorded, so a retry of the msgid can succeed;
        # a dropped answer is recorded like any other, so the retry gets what was committed.
        log.info("%s/%s %s %s fault %s", channel, sender, request.infno, request.msgid, fault.action)
        if fault.action == "drop_request":
            return Reply(b"", code="DROPPED", sends=())
        if fault.action == "error":
            body = self._answer(request.infno, request.msgid, Code.INTERNAL_ERROR,
                                "internal error (injected by admin.faults); nothing was committed", {})
            return Reply(body, code=Code.INTERNAL_ERROR.value)
        reply = await self._handle_valid(request, entry, model, started)
        return Reply(reply.payload, reply.events, reply.code, fault.sends())

    async def _handle_valid(self, request: Request, entry: Transaction[Any], model: BaseModel,
                            started: float) -> Reply:
        key = (request.channel, request.sender, request.msgid)
        fp = fingerprint(request.infno, request.raw_input)
        seen = self._replies.get(key)
        if seen is not None:
            return await self._replay(request, seen, fp, started)
        state = self._state()
        findings = await self._disk_findings() if entry.reads_disk else None
        now = self.clock.now()
        ctx = Context(state, request.infno, request.sender, request.msgid, request.envelope.fixmedins_code or "",
                      now, self.clock, self.faults, self, findings)
        ctx.sign_no = request.envelope.sign_no
        decision = entry.decide(ctx, model)
        for effect in decision.effects:
            apply(state, effect)
        # respond_time is the moment decided at: ctx.now, which admin.clock moves with the clock.
        body = self._answer(request.infno, request.msgid, decision.code, decision.err_msg, decision.output, ctx.now)
        recorded = entry.recorded
        reply_row = None
        if recorded:
            kept = _Recorded(fp, request.infno, decision.code.value, decision.setl_id, body)
            self._remember(key, kept)
            reply_row = ReplyRow(request.channel, request.sender, request.msgid, request.infno, fp,
                                 decision.code.value, decision.setl_id, body, iso(now))
        elif any(isinstance(e, Reset) for e in decision.effects):
            self._replies.clear()
            self._recent.clear()
        durable = self.committer.submit(Commit(decision.effects, reply_row))
        if recorded:
            kept.durable = durable
        await durable
        if recorded:
            kept.durable = None
        self._log(request.channel, request.sender, request.infno, request.msgid, decision.code, decision, started)
        return Reply(body, [self._event(e) for e in decision.events], decision.code.value)

    async def _replay(self, request: Request, seen: _Recorded, fp: str, started: float) -> Reply:
        if seen.durable is not None:
            await asyncio.shield(seen.durable)
        if seen.fingerprint != fp:
            body = self._answer(request.infno, request.msgid, Code.DUPLICATE_MSGID,
                                f"msgid {request.msgid} was already used for a different request "
                                f"(infno {seen.infno}); use a new msgid", {})
            self._log(request.channel, request.sender, request.infno, request.msgid, Code.DUPLICATE_MSGID, None,
                      started)
            return Reply(body, code=Code.DUPLICATE_MSGID.value)
        response = seen.response
        if response is None:
            response = await self.store.reply_bytes(request.channel, request.sender, request.msgid)
        if response is None:  # pragma: no cover - the index and the table are written together
            raise RuntimeError(f"reply {request.msgid} is indexed but not stored")
        log.info("%s/%s %s %s replayed (%s) %.1f ms", request.channel, request.sender, request.infno,
                 request.msgid, seen.code, (time.perf_counter() - started) * 1000)
        return Reply(response, code=seen.code)

    def _remember(self, key: tuple[str, str, str], entry: _Recorded) -> None:
        self._replies[key] = entry
        self._recent.append(key)
        if len(self._recent) > RECENT_REPLIES_IN_MEMORY:
            old = self._replies.get(self._recent.popleft())
            if old is not None and old.durable is None:
                old.response = None

    def _state(self) -> State:
        if self.state is None:
            raise RuntimeError("switch not started")
        return self.state

    # --- what decisions may ask of the service ------------------------------------------------

    def original(self, sender: str, msgid: str) -> Original | None:
        """What this switch answered to ``sender``'s pos message ``msgid`` (2601 reverses by it)."""
        seen = self._replies.get(("pos", sender, msgid))
        return None if seen is None else Original(seen.infno, seen.code, seen.setl_id)

    async def _disk_findings(self) -> list[str]:
        """admin.audit: once every commit is durable, what the ledger on disk says is wrong, and where
        memory and disk disagree on a balance."""
        await self.committer.drain()
        violations = await self.store.audit()
        state = self._state()
        disk = await self.store.load(self.base_policies)
        for psn_no, person in state.people.items():
            on_disk = disk[0].people.get(psn_no)
            if on_disk is None or on_disk.balc != person.balc:
                violations.append(f"{psn_no}: memory says {person.balc} fen, disk says "
                                  f"{None if on_disk is None else on_disk.balc}")
        return violations

    # --- the sweeper ---------------------------------------------------------------------------

    def seconds_to_next_expiry(self, longest: float = 1.0) -> float:
        """Real seconds until the next window ends (at most ``longest``), on whatever clock runs.

        A running virtual clock (the demo's --speed 60) passes a window in seconds of real time, so the
        sweeper must not sleep a fixed second; a frozen clock is swept by admin.clock itself.
        """
        state = self.state
        if state is None or not state.windows:
            return longest
        speed = float(self.clock.speed) if isinstance(self.clock, VirtualClock) else 1.0
        if speed <= 0:
            return longest
        now = self.clock.now()
        nearest = min(w.expires_at for w in state.windows.values())
        return max(0.005, min(longest, (nearest - now).total_seconds() / speed))

    async def sweep(self) -> list[bytes]:
        """Close windows that passed their end; returns the events to announce."""
        state = self._state()
        decision = expire_windows(state, self.clock.now())
        if not decision.effects:
            return []
        for effect in decision.effects:
            apply(state, effect)
        await self.committer.submit(Commit(decision.effects, None))
        return [self._event(e) for e in decision.events]

    # --- encoding ------------------------------------------------------------------------------

    def _answer(self, infno: str | None, msgid: str | None, code: Code, err_msg: str | None,
                output: dict[str, Any] | None, at: datetime | None = None) -> bytes:
        return encode({
            "infno": infno, "inf_refmsgid": msgid, "infcode": code.infcode, "code": code.value,
            "err_msg": err_msg or ("success" if code is Code.OK else code.value),
            "respond_time": iso(at or self.clock.now()), "output": output or {},
        })

    @staticmethod
    def _event(event: Event) -> bytes:
        return encode({"type": event.type, "at": iso(event.at), "data": event.data})

    _log = staticmethod(log_answer)

