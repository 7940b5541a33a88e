"""Reading paho's session in bulk: whole packets pass on in order, PUBACKs are taken out with their ids."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from switch.doors.publish import PUBACK, split_pubacks


def _packet(first: int, body: bytes) -> bytes:
    length, header = len(body), bytearray([first])
    while True:
        digit, length = length & 0x7F, length >> 7
        header.append(digit | 0x80 if length else digit)
        if not length:
            return bytes(header) + body


_pubacks = st.integers(1, 0xFFFF).map(lambda mid: ("ack", mid, _packet(PUBACK, mid.to_bytes(2, "big"))))
# A PUBLISH at QoS 1, a PINGRESP, a SUBACK; bodies long enough for two- and three-byte lengths.
_others = st.builds(lambda first, body: ("other", None, _packet(first, body)),
                    st.sampled_from([0x32, 0xD0, 0x90, 0x30]),
                    st.one_of(st.binary(max_size=40), st.binary(min_size=120, max_size=300),
                              st.binary(min_size=16_384, max_size=16_500)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_pubacks, _others), max_size=30), st.lists(st.integers(1, 20_000), max_size=40))
def test_any_cut_of_the_stream_gives_paho_every_other_packet_and_the_ids_of_every_puback(
        packets: list[tuple[str, int | None, bytes]], cuts: list[int]) -> None:
    stream = b"".join(p for _, _, p in packets)
    raw, ready, acked = bytearray(), bytearray(), []
    at = 0
    for size in [*cuts, len(stream)]:  # read as the kernel might hand it over: any sizes, the rest last
        raw += stream[at:at + size]
        at += size
        acked += split_pubacks(raw, ready)
        assert bytes(ready) == b"".join(p for kind, _, p in packets if kind == "other")[:len(ready)]
    assert bytes(ready) == b"".join(p for kind, _, p in packets if kind == "other")
    assert acked == [mid for kind, mid, _ in packets if kind == "ack"]
    assert raw == b""


def test_a_packet_cut_inside_its_length_waits_for_the_rest() -> None:
    publish = _packet(0x32, b"t" * 200)  # a two-byte length
    raw, ready = bytearray(publish[:2]), bytearray()
    assert split_pubacks(raw, ready) == [] and ready == b"" and raw == publish[:2]
    raw += publish[2:] + bytes([PUBACK, 2, 0x12, 0x34])
    assert split_pubacks(raw, ready) == [0x1234] and ready == publish and raw == b""


def test_a_length_mqtt_forbids_goes_to_paho_whole_for_it_to_refuse() -> None:
    bad = bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"rest"
    raw, ready = bytearray(bytes([PUBACK, 2, 0, 7]) + bad), bytearray()
    assert split_pubacks(raw, ready) == [7]
    assert ready == bad and raw == b""


def test_a_puback_of_another_length_is_not_taken_out() -> None:
    odd = bytes([PUBACK, 3, 0, 9, 0])  # MQTT 5 adds a reason code; the door speaks 3.1.1, paho judges this
    raw, ready = bytearray(odd), bytearray()
    assert split_pubacks(raw, ready) == [] and ready == odd
