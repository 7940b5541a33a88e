"""From a raw payload (MQTT or HTTP) to a validated request, or a precise INVALID_REQUEST saying what is wrong."""

from __future__ import annotations

import difflib
import hashlib
import hmac
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from switch.core.codes import Code
from switch.errors import RequestRejected, json_kind
from switch.wire.inputs import MAX_PAYLOAD_BYTES, Envelope
from switch.wire.lenient import DECODER, JsonConstant
from switch.wire.topics import ID_RULE, valid_id

__all__ = ["NATIONAL", "Request", "check_token", "encode", "errors_of", "fingerprint", "parse_request",
           "table_channel", "unknown_infno", "usable_ids", "validate_input"]

M = TypeVar("M", bound=BaseModel)

# The HTTP door's national paths: the pos transactions, the sender read from the envelope's
# fixmedins_code (with --access: the terminal account that logged in), answered in the platform's form,
# remembered under their own (channel, sender, msgid).
NATIONAL = "national"


def table_channel(channel: str) -> str:
    """The channel whose transactions (and fault rules) ``channel`` uses: national requests are pos ones."""
    return "pos" if channel == NATIONAL else channel


@dataclass(frozen=True, slots=True)
class Request:
    channel: str
    sender: str
    envelope: Envelope
    raw_input: dict[str, Any]

    @property
    def infno(self) -> str:
        return self.envelope.infno

    @property
    def msgid(self) -> str:
        return self.envelope.msgid


# Built once: json.dumps/json.loads with any option build a new encoder or decoder on every call,
# which costs more than encoding a whole answer.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str, sort_keys=True)


# orjson writes an answer in a seventh of the standard library's time, the same bytes for what answers
# hold (tests/unit/test_encode.py); what it refuses, the standard library writes as before.
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode(obj: Any) -> bytes:
    """Compact UTF-8 JSON, Chinese kept readable.

    A lone surrogate (the JSON escape "\\ud800") can reach an echoed field; it goes back out as that same
    escape instead of making the answer unencodable. (A float below 0.0001 is written positionally,
    0.00001 rather than 1e-05: the same number.)

    orjson's bytes keep the whole buffer it wrote into: 4 KB and more for an answer of a few hundred bytes,
    and the switch keeps its newest answers for replays. They are copied into bytes of their own size.
    """
    try:
        return memoryview(orjson.dumps(obj, default=_answer_default, option=_ORJSON)).tobytes()
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, an integer past 64 bits
        return _ENCODER.encode(obj).encode("utf-8", "backslashreplace")


def _answer_default(value: Any) -> Any:
    # A NaN read from a payload is written as orjson writes any NaN (null); anything else it refuses, as text.
    return float(value) if isinstance(value, JsonConstant) else str(value)


def fingerprint(infno: str, raw_input: Any) -> str:
    """What makes a repeated msgid "the same request": its infno and input, canonically.

    The canonical text is the standard library's (sorted keys, compact, UTF-8, a Decimal as its quoted
    text); the fingerprints of answers on disk were made from it, so it must not change. orjson writes
    the same bytes for what a payload can hold (tests/unit/test_fingerprint.py), several times faster;
    what it would write otherwise (NaN or Infinity, an integer past 64 bits, a lone surrogate) it is
    made to refuse, and the standard library writes that.
    """
    try:
        canonical = orjson.dumps([infno, raw_input], default=_canonical_default, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        canonical = _CANONICAL.encode([infno, raw_input]).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def _canonical_default(value: Any) -> str:
    if type(value) is Decimal:
        return str(value)
    raise TypeError  # a JsonConstant (orjson would write null) or anything unforeseen: the standard library


def _loads(payload: bytes) -> Any:
    """``json.loads(payload, parse_float=Decimal)``, decoding the bytes exactly as json.loads does."""
    return DECODER.decode(payload.decode(json.detect_encoding(payload), "surrogatepass"))


def errors_of(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[dict[str, Any]]:
    errors = []
    for e in exc.errors(include_url=False):
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        errors.append({"loc": [*prefix, *e["loc"]], "msg": msg})
    return errors


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "payload"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def parse_request(channel: str, sender: str, payload: bytes, path_infno: str | None = None) -> Request:
    """Check size, JSON and envelope; raise RequestRejected with everything a sender needs to fix it.

    ``path_infno`` is the transaction an HTTP path names (``/csb/2102``): an envelope without infno
    takes it, one with another infno is refused. On the national channel the sender is the envelope's
    ``fixmedins_code``, unless the door names one: the terminal account that logged in (``--access``).
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise RequestRejected(Code.INVALID_REQUEST,
                              f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}",
                              errors=[{"loc": [], "msg": f"payload larger than {MAX_PAYLOAD_BYTES} bytes"}])
    try:
        data = _loads(payload)
    except (ValueError, RecursionError) as exc:
        raise RequestRejected(Code.INVALID_REQUEST, f"payload is not UTF-8 JSON: {exc}",
                              errors=[{"loc": [], "msg": f"not JSON: {exc}"}]) from None
    except ArithmeticError:  # a number no Decimal can hold, such as 1e99999999999999999999
        raise RequestRejected(Code.INVALID_REQUEST, "payload has a number out of any usable range",
                              errors=[{"loc": [], "msg": "number out of range"}]) from None
    if not isinstance(data, dict):
        raise RequestRejected(Code.INVALID_REQUEST, "payload must be a JSON object",
                              errors=[{"loc": [], "msg": f"expected an object, got {json_kind(data)}"}])
    msgid = data.get("msgid")
    usable_msgid = msgid if isinstance(msgid, str) and 1 <= len(msgid) <= 64 else None
    if path_infno is not None and data.get("infno") in (None, ""):
        data["infno"] = path_infno
    infno = data.get("infno") if isinstance(data.get("infno"), str) else None
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        # Without a usable msgid the answer cannot be correlated: say that first.
        errors = sorted(errors_of(exc, ()), key=lambda e: e["loc"][:1] != ["msgid"])
        raise RequestRejected(Code.INVALID_REQUEST, _summary(errors), usable_msgid, infno, errors) from None
    if channel in ("pos", NATIONAL) and envelope.fixmedins_code is None:
        errors = [{"loc": ["fixmedins_code"], "msg": "required on the pos channel (the institution code)"}]
        raise RequestRejected(Code.INVALID_REQUEST, _summary(errors), envelope.msgid, infno, errors)
    if path_infno is not None and envelope.infno != path_infno:
        errors = [{"loc": ["infno"], "msg": f"the path names transaction {path_infno}, the envelope {envelope.infno}"}]
        raise RequestRejected(Code.INVALID_REQUEST, _summary(errors), envelope.msgid, infno, errors)
    if channel == NATIONAL and not sender:  # an open door: the institution is the sender
        sender = envelope.fixmedins_code or ""
        if not valid_id(sender):
            errors = [{"loc": ["fixmedins_code"], "msg": f"must be {ID_RULE} (it names the sender)"}]
            raise RequestRejected(Code.INVALID_REQUEST, _summary(errors), envelope.msgid, infno, errors)
    return Request(channel, sender, envelope, envelope.input)


def check_token(request: Request, expected: str, payload: bytes) -> None:
    """Raise UNAUTHORIZED unless the envelope's ``token`` is ``expected``, saying whether it is missing or wrong.

    A missing token is often a misspelt one: the envelope ignores unknown fields (the platform's
    envelope has many), so the refusal names a field that looks like ``token``. The output stays
    empty: a refusal without the token tells nothing about the request itself.
    """
    given = request.envelope.token
    if given and hmac.compare_digest(given.encode(), expected.encode()):
        return
    if given:
        raise RequestRejected(Code.UNAUTHORIZED, "admin token wrong: the envelope's \"token\" is not the one this "
                              "switch was started with (--admin-token)", request.msgid, request.infno)
    data = _loads(payload)
    near = difflib.get_close_matches("token", [k for k in data if k != "token"], n=1, cutoff=0.6)
    if near:
        field = json.dumps(near[0], ensure_ascii=False)
        raise RequestRejected(Code.UNAUTHORIZED, f'admin token missing: unknown field {field}, did you mean "token"?',
                              request.msgid, request.infno)
    raise RequestRejected(Code.UNAUTHORIZED, "admin token missing: this switch was started with --admin-token; "
                          'send it in the envelope\'s "token" field', request.msgid, request.infno)


def unknown_infno(request: Request) -> RequestRejected:
    """The rejection of a request whose (channel, infno) names no transaction."""
    return RequestRejected(Code.UNKNOWN_INFNO, f"unknown infno {request.infno!r} on the {request.channel} channel",
                           request.msgid, request.infno)


def validate_input(request: Request, model: type[M]) -> M:
    """The request's input as ``model``, or INVALID_REQUEST naming every field at fault."""
    try:
        return model.model_validate(request.raw_input)
    except ValidationError as exc:
        errors = errors_of(exc, ("input",))
        raise RequestRejected(Code.INVALID_REQUEST, _summary(errors), request.msgid, request.infno, errors) from None


def usable_ids(channel: str, sender: str, payload: bytes,
               path_infno: str | None = None) -> tuple[str | None, str | None]:
    """(msgid, infno) of any payload, each None unless the envelope rules let an answer name it."""
    try:
        request = parse_request(channel, sender, payload, path_infno)
    except RequestRejected as rejected:
        return rejected.msgid, rejected.infno
    return request.msgid, request.infno
