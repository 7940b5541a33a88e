"""A POS that behaves like a careful checkout: resend an unanswered request with the same msgid, or reverse it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiomqtt

from terminal.clients.mqtt import NoAnswer, SwitchClient

__all__ = ["RetryingPos", "Tally"]


@dataclass
class Tally:
    """What the terminals did, for the figures a test prints."""

    requests: int = 0  # distinct msgids sent
    sends: int = 0  # publishes, first tries and retries
    retries: int = 0
    reversals: int = 0  # requests given up on and reversed with 2601

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.sends += other.sends
        self.retries += other.retries
        self.reversals += other.reversals


class RetryingPos:
    """Wraps a connected ``SwitchClient``: every request is answered eventually, or it raises NoAnswer."""

    def __init__(self, client: SwitchClient, attempt_timeout: float = 1.0, attempts: int = 120) -> None:
        self.client = client
        self.attempt_timeout = attempt_timeout
        self.attempts = attempts
        self.tally = Tally()

    async def once(self, infno: str, input: dict[str, Any], msgid: str) -> dict[str, Any] | None:
        """One try: the answer, or None when none came within the attempt timeout."""
        self.tally.sends += 1
        try:
            return await self.client.request(infno, input, msgid=msgid, timeout=self.attempt_timeout)
        except (NoAnswer, aiomqtt.MqttError):
            return None

    async def request(self, infno: str, input: dict[str, Any], msgid: str | None = None,
                      attempts: int | None = None) -> dict[str, Any]:
        """Send until answered, always with the same msgid (the switch answers a repeat from its record)."""
        msgid = msgid or self.client.next_msgid()
        self.tally.requests += 1
        for attempt in range(attempts or self.attempts):
            if attempt:
                self.tally.retries += 1
            answer = await self.once(infno, input, msgid)
            if answer is not None:
                return answer
            await asyncio.sleep(0)
        raise NoAnswer(f"{self.client.sender}: {infno} {msgid} unanswered after {attempts or self.attempts} tries")

    async def settle_or_reverse(self, infno: str, input: dict[str, Any], psn_no: str,
                                msgid: str | None = None) -> tuple[str, dict[str, Any]]:
        """Try a settlement once; without an answer, reverse it (2601) as the national spec tells a POS to.

        Returns ("answered", answer) or ("reversed", the reversal's answer).
        """
        msgid = msgid or self.client.next_msgid()
        self.tally.requests += 1
        answer = await self.once(infno, input, msgid)
        if answer is not None:
            return "answered", answer
        self.tally.reversals += 1
        reversal = await self.request("2601", {"psn_no": psn_no, "omsgid": msgid, "oinfno": infno})
        return "reversed", reversal
