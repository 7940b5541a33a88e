"""The national platform's answer fields beside v1's: who the person is, the visit, how the fund paid.

Real checkout software reads these (``mdtrt_id``, ``psn_part_amt``, ``setldetail``...) and fails
without them. gongji has no drug catalogue and no hospital share, so the catalogue amounts
(``fulamt_ownpay_amt``, ``overlmt_selfpay``, ``preselfpay_amt``) and ``hosp_part_amt`` are always
zero and the whole fee is in scope; everything else is derived from what the switch knows.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from typing import Any

from switch.core.books import CHINA
from switch.core.model import Person
from switch.core.money import format_fen

__all__ = [
    "CHINA",
    "CLR_TYPE",
    "PSN_TYPE",
    "baseinfo",
    "identity",
    "insuinfo",
    "mdtrt_id_of",
    "setldetail",
    "who",
]

# 人员类别: the simulator knows two kinds of insured person.
PSN_TYPE = {"310": "1101", "390": "1501"}
# 清算类别 by transaction: a pharmacy sale or an outpatient visit.
CLR_TYPE = {"2101": "41", "2102": "41", "2206": "11", "2207": "11"}
# 基金支付类型: the basic fund of each insurance type.
FUND = {"310": ("310100", "职工基本医疗保险统筹基金"), "390": ("390100", "城乡居民基本医疗保险基金")}
CLR_WAY = "1"  # 按项目结算: settled item by item
NATY = "01"  # 民族: not loaded; the platform's code of the most common one
ZERO = "0.00"


def _from_id_number(number: str | None) -> tuple[str | None, date | None]:
    """Gender and birth date from an 18-digit resident ID number, or (None, None) if it is not one."""
    if number is None or len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789Xx":
        return None, None
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None, None
    return ("1" if int(number[16]) % 2 else "2"), born


@functools.lru_cache(maxsize=1 << 16)
def _who(certno: str | None, gend: str | None, brdy: str | None) -> tuple[str | None, date | None, str | None]:
    """(gend, birth date, its text): loaded values first, else read from the ID number. Cached: every
    settlement asks, and parsing the number costs as much as deciding the settlement."""
    from_id, born = _from_id_number(certno)
    if brdy is not None:
        born = date.fromisoformat(brdy)
    return gend if gend is not None else from_id, born, None if born is None else born.isoformat()


_day: tuple[datetime, datetime, date] | None = None


def _today(now: datetime) -> date:
    """The switch clock's date in China. Every settlement asks; converting time zones each time
    costs more than the rest of the identity, so the last day's bounds are kept and compared."""
    global _day
    if _day is not None and _day[0] <= now < _day[1]:
        return _day[2]
    day = now.astimezone(CHINA).date()
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    _day = (start, start + timedelta(days=1), day)
    return day


def _age(born: date | None, today: date) -> int | None:
    if born is None or born > today:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def who(person: Person, now: datetime) -> tuple[str | None, str | None, str | None, str | None, int | None]:
    """(psn_cert_type, certno, gend, brdy, age): loaded values first, else read from the ID number."""
    certno = person.certs.get("02")
    gend, born, brdy = _who(certno, person.gend, person.brdy)
    return "01" if certno is not None else None, certno, gend, brdy, _age(born, _today(now))


def identity(person: Person, now: datetime) -> dict[str, Any]:
    """``who`` as the fields of an answer."""
    return dict(zip(("psn_cert_type", "certno", "gend", "brdy", "age"), who(person, now), strict=True))


def baseinfo(person: Person, now: datetime) -> dict[str, Any]:
    """1101's baseinfo: v1's psn_no and psn_name, and the platform's identity fields."""
    who = identity(person, now)
    return {"psn_no": person.psn_no, "psn_cert_type": who["psn_cert_type"], "certno": who["certno"],
            "psn_name": person.psn_name, "gend": who["gend"], "naty": NATY, "brdy": who["brdy"],
            "age": who["age"]}


def insuinfo(person: Person) -> dict[str, Any]:
    """1101's insuinfo entry; ``psn_insu_stas`` keeps v1's words (the HTTP door maps them to codes)."""
    insu: dict[str, Any] = {}
    if person.insutype == "310":
        insu["balc"] = format_fen(person.balc)
    insu["insutype"] = person.insutype
    insu["psn_type"] = PSN_TYPE[person.insutype]
    insu["psn_insu_stas"] = person.status
    insu["psn_insu_date"] = None
    insu["paus_insu_date"] = None
    insu["cvlserv_flag"] = "0"
    insu["insuplc_admdvs"] = person.admdvs
    insu["emp_name"] = None
    return insu


def mdtrt_id_of(setl_id: str) -> str:
    """The visit the platform creates for a settlement: derived from its setl_id, so never stored."""
    return "MDTRT" + setl_id[4:]


def setldetail(insutype: str, fund: int, medfee: int, sign: int = 1) -> list[dict[str, Any]]:
    """How the funds paid: the basic fund's line when it paid anything (no line when it paid nothing)."""
    if not fund:
        return []
    code, name = FUND[insutype]
    return [{"fund_pay_type": code, "fund_pay_type_name": name, "fund_payamt": format_fen(sign * fund),
             "inscp_scp_amt": format_fen(sign * medfee)}]
