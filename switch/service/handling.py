"""The service layer: one request in, one durable answer out, exactly once per msgid.

Strategy: the core decides against the in-memory state synchronously, so decisions are
serialised by the event loop without a lock; the effects go to memory at once and to disk via
group commit; the answer is released only when its batch is durable. The reply index (channel,
sender, msgid) is consulted and updated in the same synchronous step, so a duplicate arriving
while the first is still being written waits for that first answer instead of deciding again.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from switch.core import admin as admin_core
from switch.core import member_app as app_core
from switch.core import settlement as settle_core
from switch.core.codes import Code
from switch.core.model import Decision, Event, Reset, State, apply, iso
from switch.core.policy import Policy
from switch.core.windows import expire_windows
from switch.errors import RequestRejected
from switch.service.clock import Clock, ClockRangeError, VirtualClock
from switch.service.committer import Committer
from switch.service.faults import FaultBook
from switch.store.base import Commit, ReplyRow, Store
from switch.wire.envelope import Request, encode, fingerprint, parse_request, validate_input
from switch.wire.inputs import (
    Cancel,
    Credit,
    FaultRule,
    Faults,
    Load,
    OutpatientSettle,
    PersonQuery,
    PharmacySettle,
    PolicyRequest,
    Reverse,
    SetStatus,
    StateQuery,
)
from switch.wire.inputs import Clock as ClockInput

__all__ = ["Reply", "SettlementSwitch"]

log = logging.getLogger("gongji.switch")
RECENT_REPLIES_IN_MEMORY = 20_000
# Answers that depend on nothing but the moment (reads of the whole state) are not recorded.
UNRECORDED = {("admin", "admin.state"), ("admin", "admin.audit"), ("admin", "admin.reset")}


@dataclass(frozen=True, slots=True)
class Reply:
    """What to publish: the answer on the sender's resp topic, then the events.

    ``sends`` says when to publish the answer, in seconds after it is durable: once at once
    normally; never, later or twice when a fault rule says so.
    """

    payload: bytes
    events: list[bytes] = field(default_factory=list)
    code: str = "OK"
    sends: tuple[float, ...] = (0.0,)


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
        self.state: State | None = None
        self._replies: dict[tuple[str, str, str], _Recorded] = {}
        self._recent: deque[tuple[str, str, str]] = deque()
        self._on_fatal = on_fatal
        self.committer = Committer(store, self._fatal)
        self.on_events: Callable[[list[bytes]], None] = lambda events: None
        self.faults = FaultBook(faults)

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.open()
        self.state, rows = await self.store.load(self.base_policies)
        for r in rows:
            self._replies[(r.channel, r.sender, r.msgid)] = _Recorded(r.fingerprint, r.infno, r.code, r.setl_id, None)
        self.committer.start()
        log.info("ledger loaded: %d people, %d bindings, %d settlements, %d recorded replies",
                 len(self.state.people), len(self.state.binding_of), len(self.state.settlements), len(rows))

    async def stop(self) -> None:
        await self.committer.stop()
        await self.store.close()

    def _fatal(self, exc: BaseException) -> None:
        if self._on_fatal is not None:
            self._on_fatal(exc)

    # --- requests ------------------------------------------------------------------------------

    async def handle(self, channel: str, sender: str, payload: bytes) -> Reply:
        started = time.perf_counter()
        try:
            request = parse_request(channel, sender, payload)
            if channel == "admin" and self.admin_token is not None:
                given = request.envelope.token or ""
                if not hmac.compare_digest(given.encode(), self.admin_token.encode()):
                    raise RequestRejected(Code.UNAUTHORIZED, "admin token missing or wrong", request.msgid,
                                          request.infno)
            model = validate_input(request)
            if channel == "app" and request.infno not in APP_HANDLERS:
                raise RequestRejected(Code.UNKNOWN_INFNO, f"{request.infno} is not available on the app channel",
                                      request.msgid, request.infno)
        except RequestRejected as rejected:
            output = {"errors": rejected.errors} if rejected.errors is not None else {}
            body = self._answer(rejected.infno, rejected.msgid, rejected.code, rejected.err_msg, output)
            self._log(channel, sender, rejected.infno, rejected.msgid, rejected.code, None, started)
            return Reply(body, code=rejected.code.value)
        fault = self.faults.match(channel, sender, request.infno)
        if fault is None:
            return await self._handle_valid(request, model, started)
        # Injected faults (admin.faults): an error is not recorded, so a retry of the msgid can succeed;
        # a dropped answer is recorded like any other, so the retry gets what was committed.
        log.info("%s/%s %s %s fault %s", channel, sender, request.infno, request.msgid, fault.action)
        if fault.action == "drop_request":
            return Reply(b"", code="DROPPED", sends=())
        if fault.action == "error":
            body = self._answer(request.infno, request.msgid, Code.INTERNAL_ERROR,
                                "internal error (injected by admin.faults); nothing was committed", {})
            return Reply(body, code=Code.INTERNAL_ERROR.value)
        reply = await self._handle_valid(request, model, started)
        return Reply(reply.payload, reply.events, reply.code, fault.sends())

    async def _handle_valid(self, request: Request, model: Any, started: float) -> Reply:
        key = (request.channel, request.sender, request.msgid)
        fp = fingerprint(request.infno, request.raw_input)
        seen = self._replies.get(key)
        if seen is not None:
            return await self._replay(request, seen, fp, started)
        state = self._state()
        now = self.clock.now()
        if (request.channel, request.infno) == ("admin", "admin.audit"):
            return await self._audit(request, started)
        decision = self._decide(request, model, now)
        for effect in decision.effects:
            apply(state, effect)
        # respond_time is the moment decided at, unless the request moved the clock itself.
        at = None if request.infno == "admin.clock" else now
        body = self._answer(request.infno, request.msgid, decision.code, decision.err_msg, decision.output, at)
        recorded = (request.channel, request.infno) not in UNRECORDED
        reply_row = None
        if recorded:
            entry = _Recorded(fp, request.infno, decision.code.value, decision.setl_id, body)
            self._remember(key, entry)
            reply_row = ReplyRow(request.channel, request.sender, request.msgid, request.infno, fp,
                                 decision.code.value, decision.setl_id, body, iso(now))
        elif any(isinstance(e, Reset) for e in decision.effects):
            self._replies.clear()
            self._recent.clear()
        durable = self.committer.submit(Commit(decision.effects, reply_row))
        if recorded:
            entry.durable = durable
        await durable
        if recorded:
            entry.durable = None
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

    # --- dispatch to the core ------------------------------------------------------------------

    def _decide(self, request: Request, model: Any, now: Any) -> Decision:
        state = self._state()
        channel, infno = request.channel, request.infno
        if channel == "pos":
            code = request.envelope.fixmedins_code or ""
            if isinstance(model, PharmacySettle):
                return settle_core.settle(state, settle_core.SettleCommand(
                    infno, request.sender, request.msgid, code, model.druginfo), now)
            if isinstance(model, OutpatientSettle):
                return settle_core.settle(state, settle_core.SettleCommand(
                    infno, request.sender, request.msgid, code, model.data), now)
            if isinstance(model, PersonQuery):
                return settle_core.person_info(state, model)
            if isinstance(model, Cancel):
                return settle_core.cancel(state, model, infno, now)
            if isinstance(model, Reverse):
                seen = self._replies.get(("pos", request.sender, model.omsgid))
                original = None if seen is None else settle_core.Original(seen.infno, seen.code, seen.setl_id)
                return settle_core.reverse(state, model, request.sender, original, now)
        if channel == "admin":
            return self._admin(request, model, now)
        handler = APP_HANDLERS.get(infno)
        if handler is not None:
            return handler(state, request.sender, model, now)
        raise RequestRejected(Code.UNKNOWN_INFNO, f"{infno} is not available on the {channel} channel yet",
                              request.msgid, infno)

    def _admin(self, request: Request, model: Any, now: Any) -> Decision:
        state = self._state()
        infno = request.infno
        if infno == "admin.load":
            assert isinstance(model, Load)
            return admin_core.load(state, model, now)
        if infno == "admin.reset":
            self.faults.replace([])  # a reset switch is a fresh one: no fault rules carried over
            return Decision(Code.OK, {"reset": True}, "all tables emptied", effects=(Reset(),))
        if infno == "admin.credit":
            assert isinstance(model, Credit)
            return admin_core.credit(state, model, now, f"credit:{request.sender}:{request.msgid}")
        if infno == "admin.set_status":
            assert isinstance(model, SetStatus)
            return admin_core.set_status(state, model, now)
        if infno == "admin.state":
            assert isinstance(model, StateQuery)
            return admin_core.state_view(state, model.psn_no, now)
        if infno == "admin.policy":
            assert isinstance(model, PolicyRequest)
            if model.set is None:
                return Decision(Code.OK, {"policies": [p.to_wire() for p in state.policies.all()]}, "success")
            return admin_core.set_policy(state, model.set)
        if infno == "admin.clock":
            assert isinstance(model, ClockInput)
            return self._clock(model)
        if infno == "admin.faults":
            assert isinstance(model, Faults)
            if model.rules is not None:
                self.faults.replace(model.rules)
            return Decision(Code.OK, {"rules": self.faults.view()}, "success")
        raise RequestRejected(Code.UNKNOWN_INFNO, f"{infno} is not available yet", request.msgid, infno)

    def _clock(self, model: ClockInput) -> Decision:
        changes = model.advance is not None or model.set is not None or model.speed is not None
        if changes:
            if not isinstance(self.clock, VirtualClock):
                return Decision(Code.CLOCK_NOT_VIRTUAL,
                                err_msg="the switch runs on the system clock; start it with --clock virtual")
            try:
                self.clock.change(model.set, model.advance, model.speed)
            except ClockRangeError as exc:
                return Decision(Code.INVALID_REQUEST, {"errors": [{"loc": ["input", exc.field], "msg": str(exc)}]},
                                str(exc))
        now = self.clock.now()
        output = {"now": iso(now), "virtual": self.clock.virtual}
        if isinstance(self.clock, VirtualClock):
            output["speed"] = float(self.clock.speed)
        expired = expire_windows(self._state(), now) if changes else Decision(Code.OK)
        return Decision(Code.OK, output, "success", effects=expired.effects, events=expired.events)

    async def _audit(self, request: Request, started: float) -> Reply:
        await self.committer.drain()
        violations = await self.store.audit()
        state = self._state()
        disk = await self.store.load(self.base_policies)
        for psn_no, person in state.people.items():
            on_disk = disk[0].people.get(psn_no)
            if on_disk is None or on_disk.balc != person.balc:
                violations.append(f"{psn_no}: memory says {person.balc} fen, disk says "
                                  f"{None if on_disk is None else on_disk.balc}")
        output = {"ok": not violations, "violations": violations,
                  "checked": {"people": len(state.people), "settlements": len(state.settlements)}}
        body = self._answer(request.infno, request.msgid, Code.OK, "success", output)
        self._log(request.channel, request.sender, request.infno, request.msgid, Code.OK, None, started)
        return Reply(body)

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

    @staticmethod
    def _log(channel: str, sender: str, infno: str | None, msgid: str | None, code: Code,
             decision: Decision | None, started: float) -> None:
        # One line per transaction is the switch's audit trail for people; at thousands a second
        # it must cost little: nothing is formatted unless INFO is on, and then lazily, once.
        if not log.isEnabledFor(logging.INFO):
            return
        elapsed = (time.perf_counter() - started) * 1000
        info = decision.output.get("setlinfo") if decision is not None and decision.output else None
        if info is None:
            log.info("%s/%s %s %s %s %.1f ms", channel, sender, infno, msgid, code.value, elapsed)
            return
        log.info("%s/%s %s %s %s fee=%s fund=%s acct=%s mulaid=%s cash=%s %.1f ms", channel, sender, infno, msgid,
                 code.value, info["medfee_sumamt"], info["fund_pay_sumamt"], info["acct_pay"],
                 info["acct_mulaid_pay"], info["psn_cash_pay"], elapsed)


# The member-app channel: infno -> decision of the pure core (switch/core/member_app.py).
APP_HANDLERS: dict[str, Callable[[State, str, Any, Any], Decision]] = dict(app_core.HANDLERS)
