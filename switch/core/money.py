"""Money on the wire (two-decimal yuan strings) and inside (integer fen)."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from switch.errors import GongjiError, json_kind

__all__ = ["MAX_AMOUNT_FEN", "AmountError", "format_fen", "parse_amount", "round_half_up"]

MAX_AMOUNT_FEN = 100_000_000  # 1,000,000.00 yuan
_AMOUNT_TEXT = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")
_MANY_DECIMALS = re.compile(r"^[0-9]+\.[0-9]{3,}$")


class AmountError(GongjiError, ValueError):
    """An input amount the protocol does not accept; the message says why."""


def _as_sent(value: object) -> str:
    """The amount as the sender wrote it in JSON: ``80.001``, ``"80.001"``, ``null``."""
    if isinstance(value, str):
        # A lone surrogate ("\ud800") stays its escape: a message must stay encodable.
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return str(value)
    return "null" if value is None else json_kind(value)


def _least(allow_zero: bool) -> str:
    return "an amount must be 0 or more" if allow_zero else "an amount must be greater than 0"


def _text_amount(value: str, allow_zero: bool) -> Decimal:
    """A string amount, exactly as sent: spaces, signs and exponents are a sender's bug, not an amount."""
    if value != value.strip():
        # Refused rather than trimmed: a serializer padding its numbers is a bug a vendor wants to find here.
        raise AmountError(f"{_as_sent(value)} has spaces around the amount; send {_as_sent(value.strip())}")
    if value.startswith("-"):
        raise AmountError(f"{_as_sent(value)} is negative; {_least(allow_zero)}")
    if _MANY_DECIMALS.match(value):
        raise AmountError(f"{_as_sent(value)} has more than two decimals; amounts have at most two decimals")
    if not _AMOUNT_TEXT.match(value):
        raise AmountError(f"{_as_sent(value)} is not a decimal amount such as \"80.00\"")
    return Decimal(value)


def parse_amount(value: object, *, allow_zero: bool = False) -> int:
    """Turn a wire amount (string or JSON number) into fen, refusing anything inexact.

    Strategy: JSON numbers reach us as int or Decimal (the envelope is parsed with
    ``parse_float=Decimal``), so no binary float ever touches money. Messages quote the value as
    it was on the wire (``80.001``, ``null``), not as Python holds it.
    """
    if isinstance(value, bool):
        raise AmountError(f"{str(value).lower()} is a boolean, not an amount; send a string such as \"80.00\"")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal | float):
        amount = Decimal(str(value))
    elif isinstance(value, str):
        amount = _text_amount(value, allow_zero)
    else:
        raise AmountError(f"{_as_sent(value)} is not an amount; send a string or number such as \"80.00\"")
    if not amount.is_finite():
        raise AmountError(f"{_as_sent(value)} is not a finite amount")
    try:
        fen = amount * 100
        if fen != fen.to_integral_value():
            raise AmountError(f"{_as_sent(value)} has more than two decimals; amounts have at most two decimals")
    except InvalidOperation as exc:  # pragma: no cover - Decimal limits
        raise AmountError(f"{_as_sent(value)} is not a usable amount") from exc
    result = int(fen)
    if result < 0:
        raise AmountError(f"{_as_sent(value)} is negative; {_least(allow_zero)}")
    if result == 0 and not allow_zero:
        raise AmountError(f"{_as_sent(value)} is zero; an amount must be greater than 0")
    if result > MAX_AMOUNT_FEN:
        raise AmountError(f"{_as_sent(value)} is too large; an amount must be at most 1000000.00")
    return result


def format_fen(fen: int) -> str:
    """Integer fen as the wire's two-decimal string: 8000 -> "80.00", -5 -> "-0.05"."""
    if fen > 0:  # every answer formats a dozen amounts, many of them 0.00: the common cases first
        return "%d.%02d" % divmod(fen, 100)  # noqa: UP031 - measurably faster than an f-string here
    if fen == 0:
        return "0.00"
    return "-%d.%02d" % divmod(-fen, 100)  # noqa: UP031


def round_half_up(fen: int, ratio: Decimal) -> int:
    """``fen × ratio`` rounded half-up to a whole fen, as the fund share rule says."""
    if not ratio:  # pharmacy purchases: no fund share, no Decimal arithmetic
        return 0
    return int((Decimal(fen) * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
