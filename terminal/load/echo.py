"""The echo responder: the transport's floor, measured the same way as the switch.

It answers every request at once with a fixed response, through the same broker and the same
client library as the switch (aiomqtt, TCP_NODELAY, QoS 1 both ways, answers queued on paho
without awaiting PUBACKs). It does the least any responder must: read the msgid out of the JSON
request to name it in ``inf_refmsgid``. The fixed response is a settlement answer of typical
size, so the bytes on the wire match. ``python -m terminal.load.echo --broker URL --root ROOT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable

import aiomqtt

from switch.doors.mqtt import NODELAY, parse_broker_url
from switch.doors.publish import MAX_INFLIGHT, publish_nowait
from switch.signals import stop_on_signals
from switch.wire.topics import DEFAULT_ROOT, request_filters

__all__ = ["FIXED_OUTPUT", "answer_to", "serve_echo"]

FIXED_OUTPUT = json.dumps({"setlinfo": {
    "setl_id": "SETL0000000000", "psn_no": "LDS0000000", "psn_name": "负载000000", "insutype": "310",
    "setl_time": "2026-11-25T10:00:00.000+08:00", "medfee_sumamt": "80.00", "fund_pay_sumamt": "0.00",
    "acct_pay": "80.00", "acct_mulaid_pay": "0.00", "psn_cash_pay": "0.00", "balc": "420.00",
    "mulaid_psn_no": None}}, ensure_ascii=False, separators=(",", ":"))
_TAIL = (',"infcode":0,"code":"OK","err_msg":"success","respond_time":"2026-11-25T10:00:00.000+08:00",'
         f'"output":{FIXED_OUTPUT}}}').encode()


def answer_to(payload: bytes) -> bytes:
    """The fixed answer, naming the request's infno and msgid (null for a payload that is not JSON)."""
    try:
        request = json.loads(payload)
    except ValueError:
        request = None
    if not isinstance(request, dict):
        request = {}
    head = json.dumps({"infno": request.get("infno"), "inf_refmsgid": request.get("msgid")},
                      ensure_ascii=False, separators=(",", ":"))
    return head[:-1].encode() + _TAIL


async def serve_echo(broker_url: str, root: str, stop: asyncio.Event,
                     on_ready: Callable[[], None] | None = None) -> None:
    """Answer on ``{root}/{channel}/{id}/resp`` (admin: ``{root}/admin/resp``) until ``stop`` is set."""
    broker = parse_broker_url(broker_url)
    root = root.rstrip("/")
    async with aiomqtt.Client(broker.host, broker.port, username=broker.username, password=broker.password,
                              socket_options=NODELAY, max_inflight_messages=MAX_INFLIGHT) as client:
        await client.subscribe([(topic, 1) for topic in request_filters(root)])
        if on_ready is not None:
            on_ready()
        reader = asyncio.create_task(_answer_all(client))
        await stop.wait()
        reader.cancel()


async def _answer_all(client: aiomqtt.Client) -> None:
    async for message in client.messages:
        topic = message.topic.value
        publish_nowait(client, topic[:-3] + "resp", answer_to(message.payload))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminal.load.echo", description=__doc__)
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL")
    parser.add_argument("--root", default=DEFAULT_ROOT, help=f"topic root (default {DEFAULT_ROOT})")
    args = parser.parse_args(argv)

    async def run() -> None:
        with stop_on_signals(asyncio.Event()) as stop:
            await serve_echo(args.broker, args.root, stop, lambda: print(f"echo ready on {args.broker} under "
                                                                         f"{args.root}/", flush=True))

    try:
        asyncio.run(run())
    except aiomqtt.MqttError as exc:
        print(f"echo: broker {args.broker}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
