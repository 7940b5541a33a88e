"""The idempotency fingerprint is the standard library's canonical JSON, whoever writes it.

Answers on disk carry fingerprints made by the standard library (sorted keys, compact, UTF-8, a Decimal as
its quoted text); a resend after an upgrade must match them. orjson now writes the canonical text where it
writes the same bytes; these tests hold the two to the same fingerprint over everything a payload can hold.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switch.wire.envelope import encode, fingerprint, parse_request
from switch.wire.lenient import DECODER, JsonConstant

_REFERENCE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str, sort_keys=True)


def reference(infno: str, raw_input: Any) -> str:
    """The fingerprint as the switch has always made it (the standard library alone)."""
    canonical = _REFERENCE.encode([infno, raw_input])
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# What json.loads(..., parse_float=Decimal, parse_constant=JsonConstant) can give: every JSON value.
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(JsonConstant),
    st.text(), st.text(alphabet=st.characters(max_codepoint=0x3F)),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=30)


@settings(max_examples=300)
@given(st.text(max_size=6), st.dictionaries(st.text(max_size=10), values, max_size=8))
def test_the_fingerprint_is_the_standard_librarys(infno: str, raw_input: dict[str, Any]) -> None:
    assert fingerprint(infno, raw_input) == reference(infno, raw_input)


def test_payloads_read_from_the_wire_keep_their_fingerprints() -> None:
    """Values only the wire makes: NaN and Infinity, exponents, a lone surrogate escape, nesting past orjson's."""
    for text in ['{"a": NaN, "b": [Infinity, -Infinity]}', '{"x": 1e999, "y": -0.0, "z": 12345678901234567890123}',
                 '{"k": "\\ud800 lone", "\\u0000": "\\u001f\\u007f\\u2028"}', '{"deep": ' + "[" * 300 + "]" * 300 + "}",
                 '{"b": 1, "a": {"d": "10.00", "c": 10.00}, "中": "文"}']:
        raw = DECODER.decode(text)
        assert fingerprint("2102", raw) == reference("2102", raw), text


def test_a_nan_stays_a_float_and_answers_write_it_as_before() -> None:
    """parse_constant marks NaN and Infinity, and nothing else about them changes: still floats, and an
    answer echoing one writes null, as orjson writes any NaN."""
    raw = DECODER.decode('{"cnt": NaN, "n": Infinity}')
    assert isinstance(raw["cnt"], float) and raw["cnt"] != raw["cnt"] and raw["n"] == float("inf")
    assert encode(raw) == b'{"cnt":null,"n":null}'
    assert encode({"fee": Decimal("10.00")}) == b'{"fee":"10.00"}'


def test_a_request_parsed_whole_is_fingerprinted_by_its_content() -> None:
    """Two payloads of the same request, keys in another order and an input sent as a string, match."""
    one = parse_request("pos", "T1", b'{"infno":"2102","msgid":"m1","fixmedins_code":"H1",'
                                     b'"input":{"b":"1.50","a":[1,2]}}')
    two = parse_request("pos", "T1", b'{"input":"{\\"a\\":[1,2],\\"b\\":\\"1.50\\"}","fixmedins_code":"H1",'
                                     b'"msgid":"m1","infno":"2102"}')
    assert fingerprint(one.infno, one.raw_input) == fingerprint(two.infno, two.raw_input)
    assert fingerprint(one.infno, one.raw_input) != fingerprint("2103", one.raw_input)
