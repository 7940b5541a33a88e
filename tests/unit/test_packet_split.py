"""Reading the door's session in bulk: PUBACKs taken out with their ids, requests handed on, the rest to paho."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from switch.doors.publish import PUBACK, Publish, split_packets


def _packet(first: int, body: bytes) -> bytes:
    length, header = len(body), bytearray([first])
    while True:
        digit, length = length & 0x7F, length >> 7
        header.append(digit | 0x80 if length else digit)
        if not length:
            return bytes(header) + body


_bodies = st.one_of(st.binary(max_size=40), st.binary(min_size=120, max_size=300),
                    st.binary(min_size=16_384, max_size=16_500))  # lengths of one, two and three bytes
_pubacks = st.integers(1, 0xFFFF).map(lambda mid: ("ack", mid, _packet(PUBACK, mid.to_bytes(2, "big"))))


@st.composite
def _publishes(draw: st.DrawFn) -> tuple[str, Publish, bytes]:
    qos, dup, retain = draw(st.sampled_from([0, 1])), draw(st.booleans()), draw(st.booleans())
    topic = draw(st.text(min_size=1, max_size=30)).encode()
    mid = draw(st.integers(1, 0xFFFF)) if qos else 0
    payload = draw(_bodies)
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"") + payload
    return "publish", (mid, topic, payload), _packet(0x30 | dup << 3 | qos << 1 | retain, body)


# PINGRESP, SUBACK, CONNACK, and a QoS 2 PUBLISH: paho's to read
_others = st.builds(lambda first, body: ("other", None, _packet(first, body)),
                    st.sampled_from([0xD0, 0x90, 0x20, 0x34]), _bodies)


def _feed(stream: bytes, cuts: list[int], publishes: list[Publish] | None) -> tuple[bytearray, list[int], bytearray]:
    """The stream read as the kernel might hand it over: any sizes, the rest last."""
    raw, ready, acked, at = bytearray(), bytearray(), [], 0
    for size in [*cuts, len(stream)]:
        raw += stream[at:at + size]
        at += size
        acked += split_packets(raw, ready, publishes)
    return ready, acked, raw


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_pubacks, _publishes(), _others), max_size=30), st.lists(st.integers(1, 20_000), max_size=40))
def test_any_cut_of_the_stream_hands_on_each_request_and_each_puback_and_paho_the_rest(
        packets: list[tuple[str, object, bytes]], cuts: list[int]) -> None:
    stream = b"".join(p for _, _, p in packets)
    publishes: list[Publish] = []
    ready, acked, raw = _feed(stream, cuts, publishes)
    assert publishes == [what for kind, what, _ in packets if kind == "publish"]
    assert acked == [what for kind, what, _ in packets if kind == "ack"]
    assert bytes(ready) == b"".join(p for kind, _, p in packets if kind == "other")
    assert raw == b""
    # Without a handler the requests go to paho, in their place among the rest.
    ready, acked, raw = _feed(stream, cuts, None)
    assert bytes(ready) == b"".join(p for kind, _, p in packets if kind != "ack")
    assert acked == [what for kind, what, _ in packets if kind == "ack"] and raw == b""


def test_a_packet_cut_inside_its_length_waits_for_the_rest() -> None:
    publish = _packet(0x32, b"\x00\x01t\x00\x05" + b"p" * 200)  # a two-byte length
    raw, ready, heard = bytearray(publish[:2]), bytearray(), list[Publish]()
    assert split_packets(raw, ready, heard) == [] and ready == b"" and heard == [] and raw == publish[:2]
    raw += publish[2:] + bytes([PUBACK, 2, 0x12, 0x34])
    assert split_packets(raw, ready, heard) == [0x1234]
    assert heard == [(5, b"t", b"p" * 200)] and ready == b"" and raw == b""


def test_a_length_mqtt_forbids_goes_to_paho_whole_for_it_to_refuse() -> None:
    bad = bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"rest"
    raw, ready = bytearray(bytes([PUBACK, 2, 0, 7]) + bad), bytearray()
    assert split_packets(raw, ready, []) == [7]
    assert ready == bad and raw == b""


def test_a_publish_whose_topic_overruns_it_goes_to_paho() -> None:
    bad = _packet(0x32, b"\x00\x09abc")  # a topic of 9 bytes in a body of 5
    raw, ready, heard = bytearray(bad), bytearray(), list[Publish]()
    assert split_packets(raw, ready, heard) == [] and heard == [] and ready == bad


def test_a_puback_of_another_length_is_not_taken_out() -> None:
    odd = bytes([PUBACK, 3, 0, 9, 0])  # MQTT 5 adds a reason code; the door speaks 3.1.1, paho judges this
    raw, ready = bytearray(odd), bytearray()
    assert split_packets(raw, ready) == [] and ready == odd
