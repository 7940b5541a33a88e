"""What every door shares between the service and its transport: the reply, its timing, the sweeper.

A door turns what it hears into ``Serve`` calls and gives each a ``Send`` for the answer; events
go out through the service's subscribers (``SettlementSwitch.announce``), so an event caused by a
request on one door reaches every door that carries events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from switch.service.handling import SettlementSwitch

__all__ = ["Reply", "Send", "Serve", "deliver", "serving", "sweep_windows"]

log = logging.getLogger("gongji.switch")

# Put one answer on the wire; False when it could not go out (it is then not journaled as sent).
Send = Callable[[bytes], bool]


class Serve(Protocol):
    """Serve one request: where it was heard, channel, sender, payload, how to answer; and the transaction
    its address names, if any (an HTTP path such as ``/csb/2102``)."""

    def __call__(self, where: str, channel: str, sender: str, payload: bytes, send: Send, /, *,
                 infno: str | None = None) -> Awaitable[Reply | None]: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send: the answer to the sender, then the events.

    ``sends`` says when to send the answer, in seconds after it is durable: once at once
    normally; never, later or twice when a fault rule says so.
    """

    payload: bytes
    events: list[bytes] = field(default_factory=list)
    code: str = "OK"
    sends: tuple[float, ...] = (0.0,)
    # (sender, infno, msgid) of a request the service read whole: the journal then needs no JSON of its own.
    said: tuple[str, str, str] | None = None


async def deliver(reply: Reply, send: Send, announce: Callable[[list[bytes]], None]) -> None:
    """Send the answer when ``reply.sends`` says, and announce its events.

    The events tell what was committed, so they are never held back with a late or dropped answer.
    """
    events, waited = reply.events, 0.0
    for at in reply.sends:
        if at > waited:
            announce(events)
            events = []
            await asyncio.sleep(at - waited)
            waited = at
        send(reply.payload)
    announce(events)


def serving(service: SettlementSwitch) -> Serve:
    """The plain ``Serve`` of a service: its answer, delivered on time (the journal wraps this)."""

    async def serve(where: str, channel: str, sender: str, payload: bytes, send: Send, /, *,
                    infno: str | None = None) -> Reply:
        reply = await service.handle(channel, sender, payload, infno=infno)
        await deliver(reply, send, service.announce)
        return reply

    return serve


async def sweep_windows(service: SettlementSwitch, stop: asyncio.Event) -> None:
    """Close pooling windows as their time passes, and forget answers past the idempotency retention, on
    whatever clock runs, until ``stop`` is set."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), service.seconds_to_next_expiry())
        except TimeoutError:
            pass
        try:
            service.announce(await service.sweep())
            await service.expire_replies()
        except Exception:
            log.exception("window sweep or the expiry of answers failed")
