"""Result codes of the wire protocol: the machine-readable outcome of every request."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["POOLING_PROMPT", "Code", "pooling_prompt"]


class Code(StrEnum):
    """Every ``code`` a response can carry; ``infcode`` is 0 only for ``OK``."""

    OK = "OK"
    POOLING_AVAILABLE = "POOLING_AVAILABLE"
    INVALID_REQUEST = "INVALID_REQUEST"
    UNKNOWN_INFNO = "UNKNOWN_INFNO"
    PERSON_NOT_FOUND = "PERSON_NOT_FOUND"
    CERT_MISMATCH = "CERT_MISMATCH"
    INSURANCE_SUSPENDED = "INSURANCE_SUSPENDED"
    DUPLICATE_MSGID = "DUPLICATE_MSGID"
    REVERSED = "REVERSED"
    SETTLEMENT_NOT_FOUND = "SETTLEMENT_NOT_FOUND"
    ALREADY_CANCELLED = "ALREADY_CANCELLED"
    NOT_REVERSIBLE = "NOT_REVERSIBLE"
    FACE_VERIFICATION_REQUIRED = "FACE_VERIFICATION_REQUIRED"
    RELATIVE_ALREADY_BOUND = "RELATIVE_ALREADY_BOUND"
    RELATIVE_IS_HOLDER = "RELATIVE_IS_HOLDER"
    HOLDER_IS_RELATIVE = "HOLDER_IS_RELATIVE"
    MAX_RELATIVES = "MAX_RELATIVES"
    RELATION_NOT_ALLOWED = "RELATION_NOT_ALLOWED"
    SELF_BINDING = "SELF_BINDING"
    HOLDER_NOT_EMPLOYEE = "HOLDER_NOT_EMPLOYEE"
    HOLDER_SUSPENDED = "HOLDER_SUSPENDED"
    REGION_NOT_ALLOWED = "REGION_NOT_ALLOWED"
    BINDING_NOT_FOUND = "BINDING_NOT_FOUND"
    NOT_HOLDER = "NOT_HOLDER"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    PREMIUM_ALREADY_PAID = "PREMIUM_ALREADY_PAID"
    CLOCK_NOT_VIRTUAL = "CLOCK_NOT_VIRTUAL"
    UNAUTHORIZED = "UNAUTHORIZED"
    SIGN_IN_REQUIRED = "SIGN_IN_REQUIRED"
    VISIT_NOT_FOUND = "VISIT_NOT_FOUND"
    FEES_NOT_FOUND = "FEES_NOT_FOUND"
    FEE_MISMATCH = "FEE_MISMATCH"
    VISIT_SETTLED = "VISIT_SETTLED"
    INTERNAL_ERROR = "INTERNAL_ERROR"

    @property
    def infcode(self) -> int:
        return 0 if self is Code.OK else -1


# The national platform's prompt, word for word (Dongying, seed 001); the minutes follow the policy.
POOLING_PROMPT = "您存在有效的家庭共济绑定关系,{span}内再次刷卡,可以走家庭共济消费"


def pooling_prompt(window_seconds: float) -> str:
    """The decline prompt with the policy's window: "5分钟" for 300 s, "90秒" for 90 s."""
    if window_seconds >= 60 and window_seconds % 60 == 0:
        span = f"{int(window_seconds // 60)}分钟"
    else:
        span = f"{window_seconds:g}秒"
    return POOLING_PROMPT.format(span=span)
