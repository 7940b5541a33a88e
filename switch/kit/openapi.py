"""The OpenAPI 3.1 document of the HTTP door, generated from the same table and wire models as the AsyncAPI one.

Strategy: every schema comes from ``switch.kit.asyncapi``'s components (the wire models through
pydantic, described from the glossary); this module only says where each message goes over HTTP
and adds the national answer envelope (``switch/service/forms.py`` writes it; its model is here).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from switch.core.codes import Code
from switch.kit.asyncapi import (
    SCHEMA_REF,
    _event_schema,
    _outputs,
    _polish,
    _ref,
    _request_schema,
    _response_schema,
    component_schemas,
    operations,
)
from switch.wire.events import EVENT_MODELS
from switch.wire.glossary import describe
from switch.wire.inputs import MAX_PAYLOAD_BYTES

__all__ = ["OPENAPI_VERSION", "NationalAnswer", "build"]

OPENAPI_VERSION = "3.1.0"
CALL_SERVICE = "/fsi/api/rsfComIfsService/callService"
CODED = "/csb/{infno}"


class NationalAnswer(BaseModel):
    """The platform's answer envelope on the HTTP door's national paths (docs/national.md)."""

    model_config = ConfigDict(extra="forbid")

    infcode: Literal[0, -1] = Field(description="0 success, -1 failure (the platform's)")
    inf_refmsgid: str = Field(pattern=r"^[0-9]{30}$", description="the platform's id of this exchange: region "
                              "(6 digits) + yyyyMMddHHmmss + a 10-digit sequence")
    refmsg_time: str = Field(pattern=r"^[0-9]{17}$", description="when the request was received, "
                             "yyyyMMddHHmmssSSS, switch clock, China time")
    respond_time: str = Field(pattern=r"^[0-9]{17}$", description="when it was decided, yyyyMMddHHmmssSSS")
    err_msg: str | None = Field(description="null on success; the v1 text on failure")
    warn_msg: str | None = Field(description="what is wrong with a msgid not shaped like the platform's, else null")
    cainfo: None = Field(description="always null here")
    signtype: None = Field(description="always null here")
    output: dict[str, Any] | None = Field(description="the transaction's output; null on most failures")
    code: Literal[tuple(c.value for c in Code)] = Field(  # type: ignore[valid-type]
        description="gongji's code (PROTOCOL.md), beside infcode")


def _national_answer(outputs: list[dict[str, Any]], title: str) -> dict[str, Any]:
    schema = _polish(NationalAnswer.model_json_schema(ref_template=SCHEMA_REF))
    schema["title"] = title
    schema["properties"]["output"] = {"anyOf": [*outputs, {"type": "null"}], "description": describe("output")}
    return dict(schema)


def _national_person_info(components: dict[str, Any]) -> None:
    """1101's output as the national door sends it: psn_insu_stas is the platform's "1" / "2"."""
    insu = copy.deepcopy(components["InsuInfo"])
    insu["title"] = "NationalInsuInfo"
    insu["properties"]["psn_insu_stas"] = {"type": "string", "enum": ["1", "2"],
                                           "description": "insurance status (参保状态): 1 normal, 2 suspended"}
    person = copy.deepcopy(components["PersonInfo"])
    person["title"] = "NationalPersonInfo"
    person["properties"]["insuinfo"]["items"] = _ref("NationalInsuInfo")
    components["NationalInsuInfo"], components["NationalPersonInfo"] = insu, person


# serve --access: the door wants an account of the access files, as HTTP Basic credentials (switch/doors/http.py).
_ACCOUNTS = {
    "401": {"description": "with --access only: no credentials, or wrong ones; nothing was read or decided "
                           "(`WWW-Authenticate: Basic realm=\"gongji\"`, one line saying what to send)",
            "content": {"text/plain": {"schema": {"type": "string"}}}},
    "403": {"description": "with --access only: the account's role may not use this path (a terminal the "
                           "national paths, a member app its own app path, the admin the rest); one line",
            "content": {"text/plain": {"schema": {"type": "string"}}}},
}
_SECURITY = {"access": {
    "type": "http", "scheme": "basic",
    "description": "Only on a switch started with `serve --access DIR`: the user name and password of an account "
                   "written by `gongji-switch mosquitto-config` (users.yaml), the same as at the broker. A "
                   "terminal's national requests are then its own (sender = its account) and checked against the "
                   "institution it is registered for. Without --access the door asks for nothing."}}


def _post(summary: str, description: str, request: dict[str, Any], answer: dict[str, Any],
          parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body = {"required": True, "content": {media: {"schema": request} for media in ("application/json",
                                                                                   "text/plain")}}
    op: dict[str, Any] = {
        "summary": summary, "description": description, "requestBody": body,
        "responses": {
            "200": {"description": "the answer, failures included (the code is in the body)",
                    "content": {"application/json": {"schema": answer}}},
            "413": {"description": f"the body is larger than {MAX_PAYLOAD_BYTES} bytes; nothing was read"},
            **_ACCOUNTS,
        },
    }
    if parameters:
        op["parameters"] = parameters
    return {"post": op}


_TEXT = {"type": ["string", "null"]}
_ROW = {
    "title": "JournalRow", "type": "object", "additionalProperties": False,
    "description": "one exchange as the switch journaled it (`gongji-switch journal`)",
    "required": ["id", "received", "switch_time", "topic", "channel", "sender", "infno", "msgid", "code", "answers",
                 "took_ms", "hint", "request", "request_size", "request_encoding", "response", "response_size",
                 "response_encoding"],
    "properties": {
        "id": {"type": "integer", "description": "the row id; ids only grow"},
        "received": {"type": "number", "description": "when the request was heard, Unix seconds (host clock)"},
        "switch_time": {**_TEXT, "description": "when it was heard on the switch clock (ISO 8601)"},
        "topic": {"type": "string", "description": "the MQTT topic, or the HTTP method, path and header names"},
        "channel": {**_TEXT, "description": "pos, national, app, admin, or null for a stray message"},
        "sender": {**_TEXT, "description": "the terminal_id, the fixmedins_code on the national door, psn_no, admin"},
        "infno": _TEXT, "msgid": _TEXT,
        "code": {**_TEXT, "description": "the first answer's code; null when none went out"},
        "answers": {"type": "integer", "description": "answers sent: 0 dropped, 2 duplicated (fault rules)"},
        "took_ms": {"type": ["number", "null"]}, "hint": {**_TEXT, "description": "what looks wrong, if anything"},
        "request": {"type": "string", "description": "the request as heard, cut to the journal's payload limit"},
        "request_size": {"type": "integer"},
        "request_encoding": {"enum": ["utf-8", "base64"], "description": "base64 when the bytes are not UTF-8"},
        "response": {**_TEXT, "description": "the first answer sent, cut likewise; null when none went out"},
        "response_size": {"type": ["integer", "null"]},
        "response_encoding": {"enum": ["utf-8", "base64"]},
    },
}


def _journal() -> dict[str, Any]:
    """``GET /gongji/v1/journal`` (switch/doors/journal_http.py)."""
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    text = {"type": "string", "minLength": 1, "maxLength": 64}
    plain = {"text/plain": {"schema": {"type": "string"}}}
    refused = {"application/json": {"schema": {
        "type": "object", "required": ["code", "err_msg"],
        "properties": {"code": {"const": "UNAUTHORIZED"}, "err_msg": {"type": "string"}}}}}
    page = {"type": "object", "required": ["rows", "after", "more"], "additionalProperties": False, "properties": {
        "rows": {"type": "array", "items": _ref("JournalRow"), "description": "oldest first"},
        "after": {"type": "integer", "description": "the last row's id (the query's after when none): the next "
                                                    "page's after"},
        "more": {"type": "boolean", "description": "the page is full: ask again from after"}}}
    return {"get": {
        "summary": "the traffic journal, read-only",
        "description": "The rows after a row id, oldest first; the switch writes its pending rows before it "
                       "answers. With --admin-token it needs `Authorization: Bearer <token>`; with --access, "
                       "the admin account's Basic credentials instead (the bearer token is then not asked).",
        "parameters": [
            query("after", {"type": "integer", "minimum": 0, "default": 0}, "rows with a larger id"),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "at most this many"),
            query("terminal_id", text, "the sender, or a terminal its topic names"),
            query("fixmedins_code", text, "the national door's sender, or the envelope's fixmedins_code")],
        "responses": {
            "200": {"description": "a page of rows", "content": {"application/json": {"schema": page}}},
            "400": {"description": "a query parameter is wrong (one line naming it)", "content": plain},
            "401": {"description": "the admin token is missing (with --access: no or wrong credentials, one "
                                   "line of text)", "content": {**refused, **plain}},
            "403": {"description": "the admin token is wrong (with --access: an account other than the admin, "
                                   "one line of text)", "content": {**refused, **plain}},
            "404": {"description": "the switch keeps no traffic journal (--journal-max 0)", "content": plain}}}}


def build(server: str = "http://127.0.0.1:8080") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP door listening at ``server``."""
    names, components = component_schemas()
    by_channel: dict[str, list[dict[str, Any]]] = {"pos": [], "app": [], "admin": []}
    outputs: dict[str, list[dict[str, Any]]] = {"pos": [], "app": [], "admin": []}
    for op in operations():
        key = f"{op.channel}.{op.infno}.request" if op.channel == "pos" else f"{op.infno}.request"
        components[key] = _request_schema(op, names, components)
        by_channel[op.channel].append(_ref(key))
        outputs[op.channel] += [o for o in _outputs(op, names) if o not in outputs[op.channel]]
    _national_person_info(components)
    national_outputs = [_ref("NationalPersonInfo") if o == _ref("PersonInfo") else o for o in outputs["pos"]]
    components["NationalAnswer"] = _national_answer(national_outputs, "national answer")
    for channel in ("app", "admin"):
        components[f"{channel}.response"] = _response_schema(
            f"{channel} answer (v1)", {"type": ["string", "null"], "description": describe("infno")},
            {"type": ["string", "null"], "description": describe("inf_refmsgid")}, outputs[channel])
    national = {"oneOf": by_channel["pos"]}
    pos_infnos = sorted({op.infno for op in operations() if op.channel == "pos"})
    events = [_event_schema(t, data, names) for t, data in EVENT_MODELS.items()]
    paths = {
        CALL_SERVICE: _post("a national transaction, named by the envelope's infno",
                            "Any path ending in `/callService` is this one (every province's URL shape).",
                            national, _ref("NationalAnswer")),
        CODED: _post("a national transaction, named by the path",
                     "Any path whose last segment is a 4-digit infno or ends in `-` and one (`/csb/2102`, "
                     "`/1.0.0/hsa-fsi-2102`); an envelope infno that differs is INVALID_REQUEST.",
                     national, _ref("NationalAnswer"),
                     [{"name": "infno", "in": "path", "required": True,
                       "schema": {"type": "string", "enum": pos_infnos}}]),
        "/gongji/v1/admin": _post("an operator request (v1 envelope and answer)", "As on MQTT's admin channel.",
                                  {"oneOf": by_channel["admin"]}, _ref("admin.response")),
        "/gongji/v1/app/{psn_no}": _post(
            "a member-app request by the member psn_no (v1)", "As on MQTT's app channel.",
            {"oneOf": by_channel["app"]}, _ref("app.response"),
            [{"name": "psn_no", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}]),
        "/gongji/v1/events": {"get": {
            "summary": "the events as Server-Sent Events",
            "description": "`event: <type>` and `data: <the v1 event JSON>` per event, a `: heartbeat` comment "
                           "now and then; a subscriber that does not read is dropped.",
            "responses": {"200": {"description": "an endless event stream (with --access: a terminal's or member "
                                                 "app's own events only, every event for the admin)", "content": {
                "text/event-stream": {"schema": {"type": "string",
                                                 "description": "each data line is one of the events",
                                                 "x-gongji-events": {"oneOf": events}}}}}, **_ACCOUNTS}}},
    }
    paths["/gongji/v1/journal"] = _journal()
    components["JournalRow"] = _ROW
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "gongji settlement switch: the HTTP door", "version": "1",
                 "description": "The national interface's envelope over HTTP (docs/national.md), and the v1 "
                                "admin and member-app envelopes (docs/protocol.md). Every answer is HTTP 200, "
                                "failures included, except 404 (unknown path), 405 (method) and 413 (size); "
                                "the journal's GET answers 400, 401 and 403 as well, and a switch started "
                                "with --access answers 401 and 403 on every path (HTTP Basic credentials of "
                                "its accounts)."},
        "servers": [{"url": server}],
        "security": [{}, {"access": []}],  # none, unless the switch was started with --access
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": _SECURITY},
    }
