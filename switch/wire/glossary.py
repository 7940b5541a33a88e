"""Every wire field name, explained once: the descriptions of the AsyncAPI document and the reference.

What each transaction does, in a line, is its entry's summary in ``switch/service/transactions.py``.

The national platform's field names are kept on the wire (``acct_mulaid_pay``, not ``pooled``);
this is where each is explained. A field a model gains without an entry here fails a test.
"""

from __future__ import annotations

__all__ = ["GLOSSARY", "describe"]

GLOSSARY: dict[str, str] = {
    # envelopes
    "infno": "transaction code (交易编号): 2102, admin.load, app.bind...",
    "msgid": "message id (报文ID), 1-64 characters, unique per sender: the idempotency key",
    "inf_time": "the sender's clock, informational only; timing rules use the switch's clock",
    "fixmedins_code": "institution code (定点医药机构编号); required on the pos channel; "
                      "windows are per institution",
    "token": "the admin token, when the switch was started with --admin-token",
    "input": "the transaction's input",
    "inf_refmsgid": "the msgid this answers; null when the request had no usable msgid",
    "infcode": "0 success, -1 failure",
    "code": "machine-readable outcome (see the code table)",
    "err_msg": "human-readable message (Chinese where the real platform is Chinese)",
    "respond_time": "the switch's clock when it answered, ISO 8601 with offset",
    "output": "the transaction's output; {} for most refusals",
    "errors": "every problem found, with where it is",
    "loc": "path to the field at fault, e.g. [\"input\", \"druginfo\", \"medfee_sumamt\"]",
    "msg": "what is wrong there",
    # people and certificates
    "psn_no": "insured person's number (人员编号)",
    "psn_name": "insured person's name",
    "mdtrt_cert_type": "certificate type (就诊凭证类型): 01 e-certificate QR, 02 ID card, "
                       "03 social security card",
    "mdtrt_cert_no": "certificate number (就诊凭证编号)",
    "certs": "the person's certificate numbers by type (\"01\", \"02\", \"03\")",
    "insutype": "insurance type (险种): 310 employee (has a personal account), 390 resident (has none)",
    "insuplc_admdvs": "insured region (参保地), a 6-digit division code",
    "status": "insurance status: active or suspended",
    "psn_insu_stas": "insurance status (参保状态): active or suspended",
    "baseinfo": "the person (基本信息)",
    "insuinfo": "the person's insurance (参保信息), one entry",
    "mulaid": "family pooling (共济) binding of this person as a relative, or null",
    "balc": "personal account balance (个人账户余额)",
    # settlement
    "druginfo": "the pharmacy settlement (2101/2102)",
    "drugdetail": "optional line items; their det_item_fee_sumamt must add up to medfee_sumamt",
    "data": "the outpatient settlement (2206/2207); in events, the event's details",
    "med_list_codg": "drug or item code (医疗目录编码)",
    "cnt": "quantity",
    "pric": "unit price",
    "det_item_fee_sumamt": "line total (明细项目费用总额)",
    "medfee_sumamt": "total medical fee (医疗费总额)",
    "acct_used_flag": "use the personal account (个人账户使用标志): \"1\" yes, \"0\" all cash",
    "med_type": "medical type (医疗类别): 41 pharmacy, 11 outpatient; defaults by infno",
    "setlinfo": "the settlement result (结算信息)",
    "setl_id": "settlement id (结算ID): SETL and ten digits",
    "setl_time": "settlement time, the switch's clock",
    "fund_pay_sumamt": "paid by the pooled fund (基金支付总额): medfee_sumamt × the fund ratio",
    "acct_pay": "paid from the patient's own personal account (个人账户支出)",
    "acct_mulaid_pay": "paid from the family holder's account (个人账户共济支付金额)",
    "psn_cash_pay": "paid by the patient in cash (个人现金支出)",
    "mulaid_psn_no": "the holder whose account paid (or would pay), else null",
    "cancelled_by": "the terminal that sent the cancel (of the settling institution)",
    "self_pay": "the patient's part: medfee_sumamt − fund_pay_sumamt",
    "acct_balc": "the patient's own balance now",
    "shortfall": "what the own account cannot cover: the part pooling would pay",
    "window_expires_at": "pay again before this instant (exclusive) to pool",
    "window_seconds": "the policy's window length in seconds",
    "omsgid": "the msgid of the sender's earlier message to reverse",
    "oinfno": "that message's infno (2102 or 2207)",
    "reversed": "whether anything was undone",
    # families
    "holder_psn_no": "the holder (共济人): whose account pays",
    "holder_name": "the holder's name",
    "relative_psn_no": "the relative (近亲属): who may spend from the holder's account",
    "rltn": "relation of the relative to the holder",
    "face_verified": "the caller passed face verification; bind and unbind need true",
    "cap": "cumulative limit of the relative's pooled spending; null = no limit",
    "used": "pooled spending counted against the cap so far",
    "year": "premium year",
    "amount": "amount in yuan",
    "limit": "at most this many rows",
    "before": "only rows older than this record id",
    # member app
    "created": "true: a new binding; false: the caller already held it and only rltn changed",
    "windows_closed": "how many of the relative's open retry windows closed with the binding",
    "remaining": "cap − used, at least 0.00; null without a cap",
    "role": "the caller's place in a family: holder, relative, or none",
    "read_only": "true when the caller may not change these bindings (a relative)",
    "holder": "the family's holder: the caller when role is holder; null when role is none",
    "relatives": "the relatives, sorted by psn_no; for a relative, the others only",
    "self": "the caller's own binding (role relative)",
    "records": "rows of pooled spending, newest first",
    "rec_id": "record id, rising with every row: the paging cursor",
    "time": "when the settlement (or its cancel) happened, the switch's clock",
    "next_before": "pass as before for the next page; null when there are no older rows",
    # admin
    "people": "people (a list), or how many were loaded",
    "bindings": "bindings (a list), or how many were loaded",
    "windows": "open retry windows",
    "counts": "how many of each",
    "settlements": "settlements in effect",
    "undone": "settlements cancelled or reversed",
    "reset": "true: every table was emptied",
    "advance": "move the virtual clock forward by this much",
    "rules": "admin.faults: the fault rules, applied in order; [] clears them",
    "match": "a fault rule's filter: terminal_id and/or infno (absent = any)",
    "action": "what a fault rule does: drop_response, delay_response, duplicate_response, drop_request, error",
    "times": "how many requests a fault rule hits before it stops (absent = every one)",
    "delay_ms": "a fault's delay in milliseconds, or [min, max] drawn per request",
    "left": "how many more requests a fault rule will hit (null = unlimited)",
    "set": "admin.clock: set the virtual clock to this instant; admin.policy: add or replace this policy",
    "speed": "virtual clock speed: 0 frozen, 1 real time, 60 a minute per second",
    "now": "the switch's clock",
    "virtual": "whether the switch runs a virtual clock",
    "ok": "true when the books balance",
    "violations": "what does not balance, one sentence each",
    "checked": "what the audit looked at",
    "policies": "every policy",
    "policy": "the policy as stored",
    "name": "policy name",
    "admdvs": "regions: 6-digit codes, a province as 37xxxx, or default",
    "flow": "retry_window (decline, then pool on the next swipe), automatic, or disabled",
    "max_relatives": "most relatives one holder may bind",
    "relations": "relations a holder may bind",
    "fund_ratio": "fund share by insutype and med_type",
    "own_first": "spend the patient's own account before the holder's",
    "no_pool_to": "regions (and insutypes) that may not receive pooling from holders insured elsewhere",
    # events
    "type": "event type",
    "at": "when it happened, the switch's clock",
    "terminal_id": "the POS terminal that sent the message",
    "opened_at": "when the window opened",
    "expires_at": "when the window ends (exclusive)",
    "reason": "why the window closed",
    "via": "the transaction that created or removed the binding",
}


def describe(name: str) -> str:
    """The glossary entry of a wire field, or "" (a test requires one for every field)."""
    return GLOSSARY.get(name, "")
