"""QoS 1 publishing for request/response at high rates: hand the message to paho and move on.

Strategy: ``aiomqtt.Client.publish`` waits for the broker's PUBACK with an Event, a ``wait_for``
task and a scan of every pending call (plus a warning log line per publish above 10 pending); at
thousands of answers per second that costs more than the answer itself. The PUBACK adds no
promise here: paho keeps an unacknowledged QoS 1 message and sends it again after a reconnect,
and a lost answer is recovered by the sender's retry with the same msgid. So the message is
queued on paho directly, and only refusal at the door (not connected) is reported.
"""

from __future__ import annotations

import aiomqtt
import paho.mqtt.client as paho

__all__ = ["MAX_INFLIGHT", "publish_nowait"]

# paho lets 20 QoS 1 messages await their PUBACK and queues the rest, so a switch answering
# hundreds of requests at once would wait a broker round trip per 20 answers. 0 lifts the limit,
# and with it paho's scan of every in-flight message on each PUBACK (quadratic in a burst, such
# as the binding.created events of a big admin.load).
MAX_INFLIGHT = 0


def publish_nowait(client: aiomqtt.Client, topic: str, payload: bytes, qos: int = 1) -> None:
    """Queue ``payload`` on ``topic``; raise ``aiomqtt.MqttCodeError`` if paho refuses it (not connected)."""
    # aiomqtt 2.x keeps its paho client in ``_client``; this is the one place that relies on it.
    info = client._client.publish(topic, payload, qos)
    if info.rc != paho.MQTT_ERR_SUCCESS:
        raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
