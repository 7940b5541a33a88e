"""A switch that answers admin requests properly and POS requests wrongly, over a real broker.

It is what "I only get timeouts" looks like from a terminal: answers naming another msgid,
answers on a topic the terminal does not read, or silence.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt

from switch.doors.mqtt import parse_broker_url

__all__ = ["misbehaving_switch"]

ADMIN_OUTPUT = {"virtual": True, "now": "2026-11-25T10:00:00.000+08:00", "ok": True, "violations": [],
                "policies": [], "people": [], "bindings": [], "windows": []}


def _answer(request: dict[str, Any], ref: Any, output: dict[str, Any]) -> bytes:
    return json.dumps({"infno": request.get("infno"), "inf_refmsgid": ref, "infcode": 0, "code": "OK",
                       "err_msg": "success", "output": output}).encode()


@asynccontextmanager
async def misbehaving_switch(broker: str, root: str, mode: str) -> AsyncIterator[None]:
    """mode: ``other-msgid``, ``other-topic`` or ``silent`` (for POS requests)."""
    address = parse_broker_url(broker)
    async with aiomqtt.Client(address.host, address.port) as client:
        await client.subscribe([(f"{root}/admin/req", 1), (f"{root}/pos/+/req", 1)])

        async def serve() -> None:
            async for message in client.messages:
                request = json.loads(bytes(message.payload))
                topic = str(message.topic)
                msgid = request["msgid"]
                if topic == f"{root}/admin/req":
                    await client.publish(f"{root}/admin/resp", _answer(request, msgid, ADMIN_OUTPUT), qos=1)
                elif mode == "other-msgid":
                    await client.publish(topic[:-3] + "resp", _answer(request, "T1-999999", {}), qos=1)
                elif mode == "other-topic":
                    await client.publish(topic[:-3] + "response", _answer(request, msgid, {}), qos=1)

        task = asyncio.create_task(serve())
        try:
            yield
        finally:
            task.cancel()
