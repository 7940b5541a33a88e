"""The tills' daily sign-in (9001), sign-out (9002), and the policy that may require one (``require_sign_in``).

A sign-in belongs to one institution (``fixmedins_code``): its ``sign_no`` lets that institution's
tills transact, no other's. It is live until its 9002 or the end of its day (China time), as a
till signs in each morning. Whether one is required is the policy of the institution's region:
a national institution code is a letter, the 6-digit region and a sequence (``P37050000001`` is
in 370500); a code of another shape falls under the ``default`` policy.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from switch.core.clinic import PutSignIn, SignIn, sign_no
from switch.core.codes import Code
from switch.core.model import Decision, State, iso, refuse
from switch.core.platform import CHINA
from switch.wire.inputs_visit import SignInRequest, SignOutRequest

__all__ = ["EXEMPT", "institution_region", "live", "require_sign_in", "sign_in", "sign_out"]

EXEMPT = frozenset({"9001", "9002"})  # a till must be able to sign in without a sign_no
_REGION = re.compile(r"^[A-Za-z]([0-9]{6})")


def institution_region(fixmedins_code: str) -> str:
    """The region whose policy an institution follows: the 6 digits after a national code's letter."""
    match = _REGION.match(fixmedins_code)
    return match.group(1) if match else "default"


def live(state: State, number: str | None, fixmedins_code: str, now: datetime) -> bool:
    """Whether ``number`` is a sign-in of this institution, not signed out, from today (China time)."""
    found = None if number is None else state.sign_ins.get(number)
    return (found is not None and found.fixmedins_code == fixmedins_code and found.signed_out_at is None
            and found.at.astimezone(CHINA).date() == now.astimezone(CHINA).date() and found.at <= now)


def require_sign_in(state: State, infno: str, number: str | None, fixmedins_code: str,
                    now: datetime) -> Decision | None:
    """SIGN_IN_REQUIRED when the institution's policy requires a live ``sign_no`` and this has none."""
    if infno in EXEMPT or not state.policies.for_region(institution_region(fixmedins_code)).require_sign_in:
        return None
    if live(state, number, fixmedins_code, now):
        return None
    why = "没有签到编号 sign_no" if number is None else f"签到编号 {number} 无效或已签退"
    return refuse(Code.SIGN_IN_REQUIRED, f"{why}:机构 {fixmedins_code} 须先签到(9001)")


def sign_in(state: State, cmd: SignInRequest, fixmedins_code: str, now: datetime) -> Decision:
    """9001: a new sign_no for this institution's till, every time."""
    record = SignIn(sign_no(state.next_sign), fixmedins_code, cmd.signIn.opter_no, now)
    return Decision(Code.OK, {"signinoutb": {"sign_time": iso(now), "sign_no": record.sign_no}}, "签到成功",
                    effects=(PutSignIn(record),))


def sign_out(state: State, cmd: SignOutRequest, fixmedins_code: str, now: datetime) -> Decision:
    """9002: ends a live sign-in of this institution."""
    number = cmd.signOut.sign_no
    if not live(state, number, fixmedins_code, now):
        return refuse(Code.INVALID_REQUEST, f"签到编号 {number} 不是本机构有效的签到",
                      {"errors": [{"loc": ["input", "signOut", "sign_no"],
                                   "msg": f"{number} is not a live sign-in of {fixmedins_code}"}]})
    ended = replace(state.sign_ins[number], signed_out_at=now)  # live: read (back) just now
    return Decision(Code.OK, {"signoutoutb": {"sign_time": iso(now)}}, "签退成功", effects=(PutSignIn(ended),))
