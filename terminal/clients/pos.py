"""A simulated pharmacy or clinic POS terminal that checks out the way real checkout software does.

A swipe is: 1101 (read the card), pre-settlement (2101 / 2206), settlement (2102 / 2207); a clinic's
till first registers the visit and uploads its fees (2201, 2203, 2204: ``terminal.clients.visit``)
and settles that batch, unless made with ``visit_chain=False``. Every
msgid comes from the terminal's durable counter (``terminal.clients.state``), so a restarted terminal
never replays an old settlement by accident. A settlement left unanswered is never re-sent under
a new msgid (that could charge twice): the terminal sends a 2601 reversal of it, under one reversal
msgid reserved before the settlement went out, again and again with backoff until the switch
answers. A ``POOLING_AVAILABLE`` decline puts the prompt and its countdown on the screen; an
automatic cashier swipes again after the configured delays (in switch time, see ``terminal.clients.pace``).

The terminal talks through a ``PosLine``: MQTT (``SwitchClient``, topics of ``terminal_id``) or the
national door over HTTP (``HttpSwitchClient``, sender ``fixmedins_code``), chosen by the address
(``mqtt://`` or ``http://``). Over HTTP it speaks as a national till does: the platform's layouts
(``data{...}`` for 1101, 2103/2208 and 2601) and msgids in the platform's shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from switch.doors.mqtt import BrokerAddress
from switch.wire.topics import DEFAULT_ROOT
from terminal.clients.http import HttpSwitchClient
from terminal.clients.mqtt import ConnectionEnded, NoAnswer, SwitchClient
from terminal.clients.pace import Pace, RealPace, SwitchTime, parse_switch_time
from terminal.clients.state import NATIONAL_DOOR, PendingReversal, TerminalState, default_state_dir
from terminal.clients.visit import OpenVisit, open_visit

__all__ = ["Card", "Checkout", "Kind", "PosLine", "Prompt", "Step", "Swipe", "Terminal", "pos_line"]

Kind = Literal["pharmacy", "clinic"]
# (pre-settlement, settlement, cancel) and the settlement body's key, per kind of terminal.
INFNOS: dict[str, tuple[str, str, str]] = {"pharmacy": ("2101", "2102", "2103"),
                                           "clinic": ("2206", "2207", "2208")}
BODY_KEY = {"pharmacy": "druginfo", "clinic": "data"}
# A reversal the switch could not process (nothing moved) is worth sending again; any other code is final.
REVERSAL_TRANSIENT = {"INTERNAL_ERROR"}


class PosLine(Protocol):
    """What a terminal needs of its line to the switch: one request, one answer (or ``NoAnswer``)."""

    timeout: float

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def request(self, infno: str, input: dict[str, Any] | None = None, *, msgid: str,
                      timeout: float | None = None) -> dict[str, Any]: ...


def pos_line(switch: BrokerAddress | str | PosLine, terminal_id: str, fixmedins_code: str, *,
             root: str = DEFAULT_ROOT, timeout: float = 5.0) -> PosLine:
    """The line an address names: ``http(s)://`` the national door, else a broker (``mqtt://``)."""
    if isinstance(switch, str) and switch.startswith(("http://", "https://")):
        return HttpSwitchClient(switch, fixmedins_code, timeout=timeout)
    if isinstance(switch, (str, BrokerAddress)):
        return SwitchClient(switch, "pos", terminal_id, root=root, fixmedins_code=fixmedins_code, timeout=timeout)
    return switch


def national_line(line: PosLine) -> bool:
    """Whether a line speaks the national door (platform layouts and msgids, answers per institution)."""
    return bool(getattr(line, "national", False))


@dataclass(frozen=True, slots=True)
class Card:
    """What the patient presents: their own certificate (the card cannot be shared)."""

    cert_type: str
    cert_no: str
    psn_no: str | None = None  # None: taken from the 1101 answer


@dataclass(frozen=True, slots=True)
class Prompt:
    """A ``POOLING_AVAILABLE`` decline: the prompt to show and when the window ends (switch clock)."""

    text: str
    psn_no: str
    holder: str
    shortfall: str
    expires_at: datetime
    window_seconds: float
    declined_at: datetime

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> Prompt:
        out = answer["output"]
        return cls(str(answer.get("err_msg")), out["psn_no"], out["mulaid_psn_no"], out["shortfall"],
                   parse_switch_time(out["window_expires_at"]), float(out["window_seconds"]),
                   parse_switch_time(answer["respond_time"]))


@dataclass(frozen=True, slots=True)
class Step:
    """One thing that happened at the terminal, for a screen or a log: sent, answered, timed out..."""

    terminal: str
    # send | answer | timeout (no answer: in time, or before the switch closed the connection) | prompt | wait
    # | reversal | recover
    kind: str
    text: str
    infno: str | None = None
    msgid: str | None = None
    answer: dict[str, Any] | None = None


@dataclass(slots=True)
class Swipe:
    """One pass of the card: what 1101, the pre-settlement and the settlement answered."""

    status: Literal["settled", "declined", "refused", "reversed"]
    card: dict[str, Any] | None = None
    preview: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None  # the settlement's (or, when reversed, the reversal's) answer
    msgid: str | None = None
    visit: OpenVisit | None = None  # a clinic's registered visit and batch, settled again on a swipe again

    @property
    def code(self) -> str:
        last = self.answer or self.preview or self.card or {}
        # A reversed swipe's last answer is the reversal's OK; what the cashier needs to know is why.
        return "NO_ANSWER" if self.status == "reversed" else str(last.get("code"))

    @property
    def prompt(self) -> Prompt | None:
        if self.status == "declined" and self.answer and self.answer.get("code") == "POOLING_AVAILABLE":
            return Prompt.from_answer(self.answer)
        return None


@dataclass(slots=True)
class Checkout:
    """A whole checkout: the first swipe and any swipe again after a pooling prompt."""

    swipes: list[Swipe] = field(default_factory=list)

    @property
    def last(self) -> Swipe:
        return self.swipes[-1]

    @property
    def status(self) -> str:
        return self.last.status

    @property
    def code(self) -> str:
        return self.last.code

    @property
    def setlinfo(self) -> dict[str, Any] | None:
        answer = self.last.answer
        return answer["output"].get("setlinfo") if answer and self.last.status == "settled" else None

    @property
    def prompts(self) -> list[Prompt]:
        return [p for s in self.swipes if (p := s.prompt) is not None]


class Terminal:
    """One POS terminal (``terminal_id`` on the pos channel) of institution ``fixmedins_code``."""

    def __init__(self, broker: BrokerAddress | str | PosLine, terminal_id: str, fixmedins_code: str, *,
                 kind: Kind = "pharmacy", root: str = DEFAULT_ROOT, state_dir: Path | None = None,
                 timeout: float = 5.0, pace: Pace | None = None, auto_retry: Sequence[timedelta] = (),
                 reversal_backoff: tuple[float, float] = (0.5, 8.0), reversal_attempts: int | None = None,
                 on_step: Callable[[Step], None] | None = None, name: str | None = None,
                 visit_chain: bool = True) -> None:
        if kind not in INFNOS:
            raise ValueError(f"kind must be 'pharmacy' or 'clinic', not {kind!r}")
        self.terminal_id = terminal_id
        self.fixmedins_code = fixmedins_code
        self.kind = kind
        self.visit_chain = visit_chain and kind == "clinic"  # 2201/2203/2204 before 2206/2207
        self.name = name or terminal_id
        self.client = pos_line(broker, terminal_id, fixmedins_code, root=root, timeout=timeout)
        self.national = national_line(self.client)
        self.door = NATIONAL_DOOR if self.national else "mqtt"
        self.state = TerminalState(state_dir or default_state_dir(), terminal_id,
                                   national=fixmedins_code if self.national else None)
        self.pace: Pace = pace or RealPace(1.0)
        self.time = SwitchTime(self.pace.speed)
        self.auto_retry = tuple(auto_retry)
        self.reversal_backoff = reversal_backoff
        self.reversal_attempts = reversal_attempts
        self.on_step = on_step or (lambda step: None)
        self._busy = asyncio.Lock()  # one checkout at a time, like a real till
        # What the screen shows; a live view reads these.
        self.status_line = "ready"
        self.prompt: Prompt | None = None
        self.waiting_until: datetime | None = None

    async def __aenter__(self) -> Terminal:
        await self.client.__aenter__()
        await self.recover()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)

    # --- one request -----------------------------------------------------------------------------

    def _step(self, kind: str, text: str, **kw: Any) -> None:
        self.status_line = text
        self.on_step(Step(self.terminal_id, kind, text, **kw))

    async def _request(self, infno: str, body: dict[str, Any], msgid: str) -> dict[str, Any]:
        """Send once and wait ``timeout``; raises ``NoAnswer``."""
        self._step("send", f"{infno} → {msgid}", infno=infno, msgid=msgid)
        try:
            answer = await self.client.request(infno, body, msgid=msgid)
        except NoAnswer as exc:
            why = ("the switch closed the connection without an answer" if isinstance(exc, ConnectionEnded)
                   else f"no answer within {self.client.timeout:g} s")
            self._step("timeout", f"{infno} {msgid}: {why}", infno=infno, msgid=msgid)
            raise
        self.time.observe(answer.get("respond_time"))
        self._step("answer", f"{infno} ← {answer.get('code')} {answer.get('err_msg') or ''}".rstrip(), infno=infno,
                   msgid=msgid, answer=answer)
        return answer

    async def _safe_request(self, infno: str, body: dict[str, Any], attempts: int = 3) -> dict[str, Any]:
        """A request that may be repeated: the same msgid every time, so the switch answers it once."""
        msgid = self.state.next_msgid()
        for attempt in range(1, attempts + 1):
            try:
                return await self._request(infno, body, msgid)
            except NoAnswer:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- the transactions ------------------------------------------------------------------------

    async def read_card(self, card: Card) -> dict[str, Any]:
        """1101: who is this, what is their balance, are they bound to a holder."""
        body: dict[str, Any] = {"mdtrt_cert_type": card.cert_type, "mdtrt_cert_no": card.cert_no}
        if card.psn_no is not None:
            body["psn_no"] = card.psn_no
        return await self._safe_request("1101", self._layout(body))

    def _layout(self, body: dict[str, Any]) -> dict[str, Any]:
        """The input as this terminal's door expects it: the platform's ``data{...}`` on the national door."""
        return {"data": body} if self.national else body

    def settlement_body(self, psn_no: str, card: Card, amount: str | Decimal, use_account: bool = True,
                        details: list[dict[str, Any]] | None = None, visit: OpenVisit | None = None) -> dict[str, Any]:
        data = {"psn_no": psn_no, "mdtrt_cert_type": card.cert_type, "mdtrt_cert_no": card.cert_no,
                "medfee_sumamt": str(amount), "acct_used_flag": "1" if use_account else "0"}
        if visit is not None:
            data.update(mdtrt_id=visit.mdtrt_id, chrg_bchno=visit.chrg_bchno)
        body: dict[str, Any] = {BODY_KEY[self.kind]: data}
        if details and self.kind == "pharmacy":
            body["drugdetail"] = details
        return body

    async def presettle(self, body: dict[str, Any]) -> dict[str, Any]:
        """2101 / 2206: what settling now would do; changes nothing, so it may simply be repeated."""
        return await self._safe_request(INFNOS[self.kind][0], body)

    async def settle(self, body: dict[str, Any], psn_no: str) -> tuple[dict[str, Any], str, bool]:
        """2102 / 2207 under reversal protection: (answer, msgid, False), or after a timeout
        (the reversal's answer, msgid, True)."""
        infno = INFNOS[self.kind][1]
        pending = self.state.arm_settlement(infno, psn_no)
        try:
            answer = await self._request(infno, body, pending.omsgid)
        except NoAnswer:
            return await self.reverse(pending), pending.omsgid, True
        self.state.disarm(pending)
        return answer, pending.omsgid, False

    async def reverse(self, pending: PendingReversal) -> dict[str, Any]:
        """2601 of an unanswered settlement, same msgid each time, with backoff, until the switch answers."""
        delay, ceiling = self.reversal_backoff
        attempt = 0
        while True:
            attempt += 1
            self._step("reversal", f"2601 reversal of {pending.omsgid}, attempt {attempt}", infno="2601",
                       msgid=pending.msgid)
            try:
                answer = await self._request("2601", self._layout(pending.input()), pending.msgid)
            except NoAnswer:
                answer = None
            if answer is not None and answer.get("code") not in REVERSAL_TRANSIENT:
                self.state.disarm(pending)
                return answer
            if self.reversal_attempts is not None and attempt >= self.reversal_attempts:
                raise NoAnswer(f"reversal {pending.msgid} of {pending.omsgid} unanswered after {attempt} "
                               f"attempts; it stays owed in {self.state.path}, sent again at the next start")
            await asyncio.sleep(delay)
            delay = min(delay * 2, ceiling)

    async def recover(self) -> list[dict[str, Any]]:
        """Send the reversals an earlier run of this terminal still owes (a crash while waiting)."""
        answers = []
        for pending in self.state.pending():
            if pending.door != self.door:  # its msgids are known only on the door it was sent through
                self._step("recover", f"owed from an earlier run over {pending.door}: reversal {pending.msgid} "
                           f"of {pending.omsgid}; it is sent when this terminal next runs over {pending.door}")
                continue
            self._step("recover", f"owed from an earlier run: reversal {pending.msgid} of {pending.omsgid}",
                       infno="2601", msgid=pending.msgid)
            answers.append(await self.reverse(pending))
        return answers

    async def cancel(self, setl_id: str, psn_no: str) -> dict[str, Any]:
        """2103 / 2208: refund a settlement in full (repeated under the same msgid if unanswered)."""
        async with self._busy:
            self.prompt = None
            return await self._safe_request(INFNOS[self.kind][2], self._layout({"setl_id": setl_id, "psn_no": psn_no}))

    async def send(self, infno: str, body: dict[str, Any]) -> dict[str, Any]:
        """Any other transaction of the till (9001, 2205, 3201...), repeated under one msgid if unanswered."""
        async with self._busy:
            return await self._safe_request(infno, body)

    # --- the checkout ----------------------------------------------------------------------------

    async def swipe(self, card: Card, amount: str | Decimal, *, use_account: bool = True,
                    details: list[dict[str, Any]] | None = None, visit: OpenVisit | None = None) -> Swipe:
        """Read the card, (a clinic: open the visit,) pre-settle, settle: one pass of the card
        (``checkout`` adds the swipes again, on the same visit)."""
        self.prompt = None
        info = await self.read_card(card)
        if info.get("code") != "OK":
            return Swipe("refused", card=info)
        psn_no = card.psn_no or info["output"]["baseinfo"]["psn_no"]
        if self.visit_chain and visit is None:
            opened = await open_visit(self._safe_request, self.terminal_id, psn_no, card.cert_type, card.cert_no,
                                      amount, details)
            if not isinstance(opened, OpenVisit):
                return Swipe("refused", card=info, preview=opened)
            visit = opened
        body = self.settlement_body(psn_no, card, amount, use_account, details, visit)
        preview = await self.presettle(body)
        if preview.get("code") not in ("OK", "POOLING_AVAILABLE"):
            return Swipe("refused", card=info, preview=preview, visit=visit)
        answer, msgid, reversed_ = await self.settle(body, psn_no)
        if reversed_:
            self._step("reversal", f"settlement {msgid} unanswered, reversal answered {answer.get('code')} "
                       f"(reversed={(answer.get('output') or {}).get('reversed')})", answer=answer)
            return Swipe("reversed", info, preview, answer, msgid, visit)
        if answer.get("code") == "OK":
            return Swipe("settled", info, preview, answer, msgid, visit)
        if answer.get("code") == "POOLING_AVAILABLE":
            self.prompt = Prompt.from_answer(answer)
            self._step("prompt", self.prompt.text, answer=answer)
            return Swipe("declined", info, preview, answer, msgid, visit)
        return Swipe("refused", info, preview, answer, msgid, visit)

    async def checkout(self, card: Card, amount: str | Decimal, *, use_account: bool = True,
                       details: list[dict[str, Any]] | None = None,
                       retry_after: Sequence[timedelta] | None = None) -> Checkout:
        """A swipe, then — after a pooling prompt — a swipe again after each delay of ``retry_after``
        (default: the terminal's ``auto_retry``; empty for a cashier who waits for the patient)."""
        delays = list(self.auto_retry if retry_after is None else retry_after)
        async with self._busy:
            result = Checkout([await self.swipe(card, amount, use_account=use_account, details=details)])
            while delays and result.last.prompt is not None:
                delay = delays.pop(0)
                prompt = result.last.prompt
                self.waiting_until = prompt.declined_at + delay
                self._step("wait", f"cashier swipes again in {_span(delay)}; the window ends "
                           f"{prompt.expires_at:%H:%M:%S}")
                self.time.observe(await self.pace.wait(delay))
                self.waiting_until = None
                result.swipes.append(await self.swipe(card, amount, use_account=use_account, details=details,
                                                      visit=result.last.visit))
            return result


def _span(delta: timedelta) -> str:
    seconds = max(delta.total_seconds(), 0)
    minutes, secs = divmod(seconds, 60)
    text = f"{int(minutes)}m" if minutes else ""
    if secs or not minutes:
        text += f"{secs:g}s" if secs != int(secs) else f"{int(secs)}s"
    return text
