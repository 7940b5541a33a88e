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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from switch.service.forms import Asked, NationalForm, form_of
from switch.service.replies import DEFAULT_RETENTION, Recorded, ReplyIndex
from switch.service.trail import log_answer
from switch.service.transactions import TABLE, Transaction
from switch.store.base import Commit, ReplyRow, Store
from switch.wire.envelope import (
    NATIONAL,
    Request,
    check_token,
    encode,
    fingerprint,
    parse_request,
    table_channel,
    unknown_infno,
    usable_ids,
    validate_input,
)
from switch.wire.events import announced
from switch.wire.inputs import FaultRule
from switch.wire.topics import ID_RULE, valid_id

__all__ = ["Reply", "SettlementSwitch"]

log = logging.getLogger("gongji.switch")
PRUNE_EVERY = 10.0  # real seconds between deletions of expired answers from the store


@dataclass(frozen=True, slots=True)
class _ChannelReplies:
    """The recorded answers of one channel, as a decision's ``Replies``."""

    service: SettlementSwitch
    channel: str

    def original(self, sender: str, msgid: str) -> Original | None:
        return self.service.original(sender, msgid, self.channel)


class SettlementSwitch:
    """The switch without its transport: ``handle`` turns a payload into a durable reply."""

    def __init__(self, store: Store, clock: Clock, policies: Sequence[Policy], admin_token: str | None = None,
                 on_fatal: Callable[[BaseException], None] | None = None, faults: Sequence[FaultRule] = (),
                 national_form: NationalForm | None = None, institutions: Mapping[str, str] | None = None,
                 retention: timedelta = DEFAULT_RETENTION) -> None:
        self.store = store
        self.clock = clock
        self.base_policies = tuple(policies)
        self.admin_token = admin_token
        self._loaded_replies = 0
        self.state: State | None = None
        self._replies = ReplyIndex(retention)  # the idempotency record, for ``retention`` of switch time
        self._expired_since_prune = 0
        self._pruned_at = time.monotonic()
        self._on_fatal = on_fatal
        self.committer = Committer(store, self._fatal)
        # Cleared while admin.audit fixes its snapshot: nothing is decided until memory and disk are the same.
        self._deciding = asyncio.Event()
        self._deciding.set()
        self._auditing = asyncio.Lock()
        self._listeners: list[Callable[[list[bytes]], None]] = []
        self.faults = FaultBook(faults)
        self._national_form = national_form or NationalForm()
        self._national = _ChannelReplies(self, NATIONAL)  # a 2601 on the national door reverses its own msgids
        # terminal_id -> fixmedins_code registered with the terminal's broker account (--access)
        self.institutions: Mapping[str, str] = institutions or {}

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.open()
        # Only answers within the retention are loaded: older ones are forgotten (and pruned soon).
        since = self.clock.now() - self._replies.retention
        self.state, rows = await self.store.load(self.base_policies, iso(since))
        self._replies.archive = self.store.archive
        self._replies.keep = self.store.keep
        for r in rows:
            kept = Recorded(r.fingerprint, r.infno, r.code, r.setl_id, None)
            self._replies.remember((r.channel, r.sender, r.msgid), kept, datetime.fromisoformat(r.at))
        self._replies.expire(since)
        # The store loads the newest ``keep`` answers within the retention: when it gave that many, older ones
        # may be on disk only.
        self._replies.cold = self.store.keep is not None and len(rows) >= self.store.keep
        self.committer.start()
        self._loaded_replies = len(rows)

    def loaded(self) -> str:
        """What ``start`` loaded, for the log line ``serve`` writes once every part has started."""
        state = self._state()
        return (f"ledger loaded: {len(state.people)} people, {len(state.binding_of)} bindings, "
                f"{len(state.settlements)} settlements, {self._loaded_replies} recorded replies")

    async def stop(self, discard: bool = False) -> None:
        """Commit what is pending and close the ledger; ``discard`` (a start that failed before serving) also
        removes a ledger file that ``start`` created."""
        await self.committer.stop()
        await self.store.close(discard)

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

    async def handle(self, channel: str, sender: str, payload: bytes, *, infno: str | None = None) -> Reply:
        """The answer to a request heard from ``sender`` on ``channel``: any payload, any sender, never raises.

        ``sender`` is the id the door read (a topic's terminal_id or psn_no; ``admin`` on the admin
        channel; on the national channel ``""``, and the envelope's fixmedins_code is read instead, or
        the terminal account the HTTP door's credentials proved, with ``--access``). ``infno`` is
        the transaction an HTTP path names. Every answer, refusals and internal errors included, is
        built here, in the form of the door it came through, so each has the shape its models promise.
        """
        asked = Asked(channel, self.clock.now())
        if channel not in ("admin", NATIONAL) and not valid_id(sender):
            return self._refuse_sender(asked, sender, payload)
        try:
            return await self._handle(asked, sender, payload, infno)
        except Exception:  # the switch never crashes on input: answer, log, go on
            log.exception("internal error on %s/%s", channel, sender)
            try:
                asked.msgid, asked.infno = usable_ids(channel, sender, payload, infno)
            except Exception:  # the envelope parser itself failed: answer without ids
                asked.msgid, asked.infno = None, None
            body = self._answer(asked, Code.INTERNAL_ERROR,
                                "internal error; nothing was committed for this request", {})
            return Reply(body, code=Code.INTERNAL_ERROR.value)

    def _refuse_sender(self, asked: Asked, sender: str, payload: bytes) -> Reply:
        started = time.perf_counter()
        asked.msgid, asked.infno = usable_ids(asked.channel, sender, payload)
        body = self._answer(asked, Code.INVALID_REQUEST, f"topic id {sender!r} must be {ID_RULE}",
                            {"errors": [{"loc": ["topic"], "msg": "bad id"}]})
        self._log(asked.channel, sender, asked.infno, asked.msgid, Code.INVALID_REQUEST, None, started)
        return Reply(body, code=Code.INVALID_REQUEST.value)

    async def _handle(self, asked: Asked, sender: str, payload: bytes, path_infno: str | None) -> Reply:
        started = time.perf_counter()
        channel = asked.channel
        try:
            request = parse_request(channel, sender, payload, path_infno)
            asked.infno, asked.msgid, asked.envelope = request.infno, request.msgid, request.envelope
            sender = request.sender
            if channel == "admin" and self.admin_token is not None:
                check_token(request, self.admin_token, payload)
            entry = TABLE.get((table_channel(channel), request.infno))
            if entry is None:
                raise unknown_infno(request)
            model = validate_input(request, entry.input)
            fixmedins_code = self._institution(request)
        except RequestRejected as rejected:
            asked.infno, asked.msgid = rejected.infno, rejected.msgid
            output = {"errors": rejected.errors} if rejected.errors is not None else {}
            body = self._answer(asked, rejected.code, rejected.err_msg, output)
            self._log(channel, sender, rejected.infno, rejected.msgid, rejected.code, None, started)
            return Reply(body, code=rejected.code.value)
        fault = self.faults.match(table_channel(channel), sender, request.infno)
        if fault is None:
            return await self._handle_valid(asked, request, entry, model, fixmedins_code, started)
        # Injected faults (admin.faults): an error is not recorded, so a retry of the msgid can succeed;
        # a dropped answer is recorded like any other, so the retry gets what was committed.
        log.info("%s/%s %s %s fault %s", channel, sender, request.infno, request.msgid, fault.action)
        if fault.action == "drop_request":
            return Reply(b"", code="DROPPED", sends=())
        if fault.action == "error":
            body = self._answer(asked, Code.INTERNAL_ERROR,
                                "internal error (injected by admin.faults); nothing was committed", {})
            return Reply(body, code=Code.INTERNAL_ERROR.value)
        reply = await self._handle_valid(asked, request, entry, model, fixmedins_code, started)
        return Reply(reply.payload, reply.events, reply.code, fault.sends(), reply.said)

    def _institution(self, request: Request) -> str:
        """The institution a request acts for: from a terminal (the pos channel, or the national door with
        ``--access``, where the sender is the terminal's account), the one its account is registered for
        when there is one (a claim of another is refused), else what the envelope says."""
        claimed = request.envelope.fixmedins_code or ""
        registered = self.institutions.get(request.sender) if table_channel(request.channel) == "pos" else None
        if registered is None or claimed == registered:
            return claimed
        raise RequestRejected(Code.UNAUTHORIZED, f"fixmedins_code {claimed!r} is not the institution terminal "
                              f"{request.sender} is registered for", request.msgid, request.infno)

    async def _handle_valid(self, asked: Asked, request: Request, entry: Transaction[Any], model: BaseModel,
                            fixmedins_code: str, started: float) -> Reply:
        key = (request.channel, request.sender, request.msgid)
        fp = fingerprint(request.infno, request.raw_input)
        seen = self._replies.get(key)
        if seen is not None:
            replayed = await self._replay(asked, request, seen, fp, started)
            if replayed is not None:
                return replayed
        findings = await self._disk_findings() if entry.reads_disk else None
        if not self._deciding.is_set():  # an audit is fixing its snapshot (a few ms)
            await self._deciding.wait()
        state = self._state()
        now = self.clock.now()
        ctx = Context(state, request.infno, request.sender, request.msgid, fixmedins_code,
                      now, self.clock, self.faults, self._national if request.channel == NATIONAL else self,
                      findings)
        ctx.sign_no = request.envelope.sign_no
        decision = entry.decide(ctx, model)
        for effect in decision.effects:
            apply(state, effect)
        # What this decision touched may leave memory once its commit is durable (it is in this batch or before).
        books = state.books()
        marks = [book.seq for book in books]
        # respond_time is the moment decided at: ctx.now, which admin.clock moves with the clock.
        body = self._answer(asked, decision.code, decision.err_msg, decision.output, ctx.now)
        recorded = entry.recorded
        reply_row = None
        if recorded:
            kept = Recorded(fp, request.infno, decision.code.value, decision.setl_id, body)
            reply_row = ReplyRow(request.channel, request.sender, request.msgid, request.infno, fp,
                                 decision.code.value, decision.setl_id, body, iso(now))
        elif any(isinstance(e, Reset) for e in decision.effects):
            self._replies.clear()
        durable = self.committer.submit(Commit(decision.effects, reply_row))
        if recorded:
            kept.durable = durable  # before it is indexed: an answer not yet on disk never leaves memory
            self._replies.remember(key, kept, now)
        await durable
        if recorded:
            kept.durable = None
        for book, mark in zip(books, marks, strict=True):
            book.durable(mark)
        self._log(request.channel, request.sender, request.infno, request.msgid, decision.code, decision, started)
        return Reply(body, [self._event(e) for e in decision.events], decision.code.value,
                     said=(request.sender, request.infno, request.msgid))

    async def _replay(self, asked: Asked, request: Request, seen: Recorded, fp: str,
                      started: float) -> Reply | None:
        """The recorded answer again, DUPLICATE_MSGID for other content, or None: the answer has expired."""
        if seen.durable is not None:
            await asyncio.shield(seen.durable)
        if seen.fingerprint != fp:
            body = self._answer(asked, Code.DUPLICATE_MSGID,
                                f"msgid {request.msgid} was already used for a different request "
                                f"(infno {seen.infno}); use a new msgid", {})
            self._log(request.channel, request.sender, request.infno, request.msgid, Code.DUPLICATE_MSGID, None,
                      started)
            return Reply(body, code=Code.DUPLICATE_MSGID.value)
        response = seen.response
        if response is None:
            response = await self.store.reply_bytes(request.channel, request.sender, request.msgid)
        if response is None:
            # The table is pruned by the time each answer was decided; after a virtual clock moved back the
            # index may keep a key a little longer (never shorter). Its answer is past the retention: decide
            # afresh, as for any expired msgid (a settled one is still refused by the settlement's record).
            self._replies.forget((request.channel, request.sender, request.msgid))
            return None
        log.info("%s/%s %s %s replayed (%s) %.1f ms", request.channel, request.sender, request.infno,
                 request.msgid, seen.code, (time.perf_counter() - started) * 1000)
        return Reply(response, code=seen.code, said=(request.sender, request.infno, request.msgid))

    def _state(self) -> State:
        if self.state is None:
            raise RuntimeError("switch not started")
        return self.state

    # --- what decisions may ask of the service ------------------------------------------------

    def original(self, sender: str, msgid: str, channel: str = "pos") -> Original | None:
        """What this switch answered to ``sender``'s ``channel`` message ``msgid`` (2601 reverses by it).

        A msgid that settled is found by its settlement first, also once its answer is past the
        retention (or was replaced by the DUPLICATE_MSGID of a reuse after it): a reversal of it must
        undo it, not register a tombstone and leave the money taken.
        """
        state = self._state()
        setl_id = state.settlements.settled_id(sender, msgid)
        if setl_id is not None:
            return Original(state.settlements[setl_id].infno, Code.OK.value, setl_id)
        seen = self._replies.get((channel, sender, msgid))
        return None if seen is None else Original(seen.infno, seen.code, seen.setl_id)

    async def expire_replies(self) -> None:
        """Forget the answers older than the retention, in memory now and in the store every ``PRUNE_EVERY`` s."""
        cutoff = self.clock.now() - self._replies.retention
        self._expired_since_prune += self._replies.expire(cutoff)
        if self._expired_since_prune and time.monotonic() - self._pruned_at >= PRUNE_EVERY:
            deleted = await self.store.prune_replies(iso(cutoff))
            log.info("idempotency: %d answers older than %s forgotten (%d kept)", deleted, iso(cutoff),
                     len(self._replies))
            self._expired_since_prune, self._pruned_at = 0, time.monotonic()

    async def _disk_findings(self) -> list[str]:
        """admin.audit: what the ledger on disk says is wrong, and where memory and disk disagree on a balance.

        Requests go on being answered while the switch runs: memory is ahead of the disk by every decision
        not yet committed. So no request is decided from the moment the audit begins until every commit is
        durable, memory's balances are copied, and the disk's read snapshot is fixed (milliseconds; tens under load);
        then requests go on, and the audit reads that snapshot as long as it needs.
        """
        async with self._auditing:
            held = time.perf_counter()
            self._deciding.clear()
            pinned: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def fixed() -> None:
                if not pinned.done():
                    pinned.set_result(None)

            try:
                await self.committer.drain()
                memory = {psn_no: person.balc for psn_no, person in self._state().people.items()}
                audit = asyncio.ensure_future(self.store.audit(memory, fixed))
                await asyncio.wait((pinned, audit), return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._deciding.set()
            log.info("admin.audit: decisions held %.1f ms while its snapshot was fixed",
                     (time.perf_counter() - held) * 1000)
            return await audit

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

    def _answer(self, asked: Asked, code: Code, err_msg: str | None, output: dict[str, Any] | None,
                at: datetime | None = None) -> bytes:
        return form_of(asked.channel, self._national_form)(asked, code, err_msg, output, at or self.clock.now())

    @staticmethod
    def _event(event: Event) -> bytes:
        return announced(encode({"type": event.type, "at": iso(event.at), "data": event.data}), event.data)

    _log = staticmethod(log_answer)

