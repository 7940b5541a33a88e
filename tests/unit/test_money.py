"""Amounts: exact parsing of wire amounts into fen, and formatting back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from switch.core.money import AmountError, format_fen, parse_amount, round_half_up


@pytest.mark.parametrize(("wire", "fen"), [
    ("80.00", 8000), ("80", 8000), ("0.01", 1), ("80.5", 8050), (80, 8000), (Decimal("12.34"), 1234),
    ("1000000.00", 100_000_000),
])
def test_accepted_amounts_become_exact_fen(wire: object, fen: int) -> None:
    """Strings and JSON numbers with at most two decimals become integer fen exactly."""
    assert parse_amount(wire) == fen


@pytest.mark.parametrize(("wire", "why"), [
    ("1.005", "two decimals"), (Decimal("1.005"), "two decimals"), ("-5.00", "greater than 0"),
    (-5, "greater than 0"), ("0", "greater than 0"), ("0.00", "greater than 0"), ("1000000.01", "at most"),
    (True, "boolean"), ("abc", "decimal amount"), ("1e3", "decimal amount"), (None, "string or number"),
    (["1"], "string or number"), ("NaN", "decimal amount"), (" 7.10 ", "spaces around"), (" 80.00", "spaces"),
])
def test_refused_amounts_say_why(wire: object, why: str) -> None:
    """Inexact, negative, zero, oversized and non-numeric amounts are refused with the reason."""
    with pytest.raises(AmountError, match=why):
        parse_amount(wire)


def test_zero_is_allowed_where_asked() -> None:
    """Balances and caps may be zero."""
    assert parse_amount("0.00", allow_zero=True) == 0


@pytest.mark.parametrize(("fen", "text"), [(8000, "80.00"), (5, "0.05"), (-8000, "-80.00"), (0, "0.00"),
                                           (-5, "-0.05"), (123456789, "1234567.89")])
def test_format_fen_two_decimals(fen: int, text: str) -> None:
    """Output amounts always carry exactly two decimals, negatives keep their sign."""
    assert format_fen(fen) == text


@pytest.mark.parametrize(("fen", "ratio", "expected"), [
    (8001, Decimal("0.5"), 4001), (8003, Decimal("0.5"), 4002), (1, Decimal("0.5"), 1), (1, Decimal("0.4"), 0),
    (12345, Decimal("0.4"), 4938), (12345, Decimal("0"), 0),
])
def test_fund_share_rounds_half_up(fen: int, ratio: Decimal, expected: int) -> None:
    """The fund share is medfee × ratio rounded half-up to the fen."""
    assert round_half_up(fen, ratio) == expected


@pytest.mark.parametrize(("wire", "message"), [
    (Decimal("80.001"), "80.001 has more than two decimals; amounts have at most two decimals"),
    ("80.001", '"80.001" has more than two decimals; amounts have at most two decimals'),
    (None, 'null is not an amount; send a string or number such as "80.00"'),
    (True, 'true is a boolean, not an amount; send a string such as "80.00"'),
    ({"yuan": 80}, 'an object is not an amount; send a string or number such as "80.00"'),
    (" 80.00", '" 80.00" has spaces around the amount; send "80.00"'),
    (0, "0 is zero; an amount must be greater than 0"),
])
def test_refusals_quote_the_amount_as_sent(wire: object, message: str) -> None:
    """A refused amount is quoted in JSON as the sender wrote it (80.001, null), never as Decimal('80.001')."""
    with pytest.raises(AmountError) as refused:
        parse_amount(wire)
    assert str(refused.value) == message


@pytest.mark.parametrize("wire", ["-1", -1, Decimal("-0.01")])
def test_a_negative_amount_where_zero_is_allowed_says_zero_is_allowed(wire: object) -> None:
    """A cap (zero allowed: no pooling) refused for being negative says "0 or more", not "greater than 0"."""
    with pytest.raises(AmountError) as refused:
        parse_amount(wire, allow_zero=True)
    assert str(refused.value).endswith(" is negative; an amount must be 0 or more")
    assert parse_amount("0.00", allow_zero=True) == 0
    with pytest.raises(AmountError, match="must be greater than 0"):
        parse_amount(wire)
