"""Answers and events are written by orjson: the same bytes the standard library wrote, for what answers hold."""

from __future__ import annotations

import json
import tracemalloc
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switch.core.codes import Code
from switch.wire.envelope import encode

_STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def _before(obj: Any) -> bytes:
    """What encode wrote before orjson: the standard library's compact JSON, lone surrogates escaped."""
    return _STDLIB.encode(obj).encode("utf-8", "backslashreplace")


# What answers and events hold: text (Chinese, control characters, any code point), integers (fen, counts),
# amounts as text or Decimal, floats only for window seconds, counts and speeds (never below 0.0001).
_floats = st.one_of(st.just(0.0), st.floats(min_value=1e-4, max_value=1e15),
                    st.floats(min_value=-1e15, max_value=-1e-4))
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), _floats, st.text(),
                     st.decimals(allow_nan=False, allow_infinity=False),
                     st.sampled_from(["中文", "\x00\x1f\x7f", "\u2028"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.one_of(st.text(), st.integers(-99, 99)), inner, max_size=5)),
    max_leaves=30)


@settings(max_examples=2000, deadline=None)
@given(_values)
def test_encode_writes_the_bytes_the_standard_library_wrote(value: Any) -> None:
    assert encode(value) == _before(value)


def test_what_orjson_refuses_is_written_as_before() -> None:
    for value in ({"msgid": "a\ud800b"}, {"n": 2**70}, ["\udfff", -(2**64)]):
        assert encode(value) == _before(value)
    assert encode({"msgid": "a\ud800b"}) == b'{"msgid":"a\\ud800b"}'


def test_codes_are_written_as_their_text() -> None:
    value = {"code": Code.POOLING_AVAILABLE, "codes": [Code.OK, Code.DUPLICATE_MSGID]}
    assert encode(value) == _before(value) == b'{"code":"POOLING_AVAILABLE","codes":["OK","DUPLICATE_MSGID"]}'


def test_a_settlement_answer_round_trips_with_its_amounts_as_text() -> None:
    answer = {"infno": "2102", "code": "OK", "output": {"setlinfo": {"acct_pay": Decimal("80.00"), "psn_name": "张三"}},
              "window_seconds": 300, "cnt": 1.5}
    assert encode(answer) == _before(answer)
    assert json.loads(encode(answer))["output"]["setlinfo"] == {"acct_pay": "80.00", "psn_name": "张三"}


def test_an_answer_holds_no_more_memory_than_its_bytes() -> None:
    """The switch keeps its newest answers for replays: each must cost its length, not orjson's buffer."""
    answer = {"infcode": 0, "inf_refmsgid": "370500" + "2" * 24, "code": "OK", "err_msg": None,
              "output": {"setlinfo": {"psn_name": "王小明", "medfee_sumamt": Decimal("80.00"), "acct_pay": "80.00"}}}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [encode(answer) for _ in range(200)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    length = len(kept[0])
    assert kept[0] == _before(answer)
    assert 150 < length < 300
    # a bytes object is its length plus a header of about 33 bytes; the list adds 8 bytes an answer
    assert held / len(kept) < length + 100, f"{held / len(kept):.0f} bytes held per answer of {length} bytes"
