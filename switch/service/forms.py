"""The forms an answer is written in: v1 (MQTT, and the HTTP admin/app paths) and the national platform's.

Strategy: the pipeline (checks, decision, commit, replay) is one; only the last step, turning a
code, a text and an output into bytes, depends on the door the request came through. Each form
is one builder taking the same ``Asked``; the service picks it by the request's channel, and the
bytes it returns are what is recorded, so a replay repeats the form of the first answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switch.core.codes import Code
from switch.core.model import iso
from switch.wire.envelope import NATIONAL, encode
from switch.wire.inputs import Envelope
from switch.wire.national import RefmsgidSource, msgid_warning, platform_time

__all__ = ["Asked", "Form", "NationalForm", "form_of", "v1_answer"]

# On the national door, 1101's insurance status is the platform's code, not v1's word.
_INSU_STAS = {"active": "1", "suspended": "2"}


@dataclass(slots=True)
class Asked:
    """What an answer's form needs of its request, filled in as far as the request could be read."""

    channel: str
    received: datetime
    infno: str | None = None
    msgid: str | None = None
    envelope: Envelope | None = None


# (the request, its code, err_msg, output, the moment decided at) -> the answer's bytes
Form = Callable[[Asked, Code, "str | None", "dict[str, Any] | None", datetime], bytes]


def v1_answer(asked: Asked, code: Code, err_msg: str | None, output: dict[str, Any] | None,
              at: datetime) -> bytes:
    """The v1 envelope of PROTOCOL.md: ``inf_refmsgid`` is the request's msgid, for correlation."""
    return encode({
        "infno": asked.infno, "inf_refmsgid": asked.msgid, "infcode": code.infcode, "code": code.value,
        "err_msg": err_msg or ("success" if code is Code.OK else code.value),
        "respond_time": iso(at), "output": output or {},
    })


class NationalForm:
    """The platform's envelope (docs/national.md): its own 30-digit id, its times, warn_msg, and v1's code."""

    def __init__(self, refmsgids: RefmsgidSource | None = None) -> None:
        self.refmsgids = refmsgids or RefmsgidSource()

    def __call__(self, asked: Asked, code: Code, err_msg: str | None, output: dict[str, Any] | None,
                 at: datetime) -> bytes:
        envelope = asked.envelope
        warning = None
        if envelope is not None and envelope.fixmedins_code is not None:
            warning = msgid_warning(envelope.msgid, envelope.fixmedins_code)
        # A settlement tied to a visit notes a certificate that is not the patient's (docs/national.md):
        # the platform says such things in the envelope's warn_msg, after any word on the msgid.
        noted = (output or {}).get("warn_msg")
        if isinstance(noted, str):
            warning = noted if warning is None else f"{warning}; {noted}"
        failed = code is not Code.OK
        return encode({
            "infcode": code.infcode,
            "inf_refmsgid": self.refmsgids.next(None if envelope is None else envelope.mdtrtarea_admvs, at),
            "refmsg_time": platform_time(asked.received), "respond_time": platform_time(at),
            "err_msg": (err_msg or code.value) if failed else None, "warn_msg": warning,
            "cainfo": None, "signtype": None,
            "output": (output or None) if failed else _national_output(output or {}),
            "code": code.value,
        })


def _national_output(output: dict[str, Any]) -> dict[str, Any]:
    insuinfo = output.get("insuinfo")
    if not isinstance(insuinfo, list):
        return output
    return {**output, "insuinfo": [
        {**insu, "psn_insu_stas": _INSU_STAS.get(insu.get("psn_insu_stas"), insu.get("psn_insu_stas"))}
        for insu in insuinfo]}


def form_of(channel: str, national: NationalForm) -> Form:
    """The form answers on ``channel`` are written in."""
    return national if channel == NATIONAL else v1_answer
