"""The AsyncAPI 3.0 document and the per-message JSON Schemas, generated from the wire models.

Strategy: the operations are the entries of the transaction table (``switch/service/transactions.py``),
every schema comes from the wire models they name (``switch/wire/``) through pydantic, every
description of a wire field from the glossary, and every example from ``switch/kit/examples.py``
(a scripted day run through the real switch).
Nothing about a message is written twice, so the document cannot disagree with the switch.
The document describes the switch: it *receives* requests and *sends* replies and events.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from switch.core.codes import Code
from switch.kit.examples import ROOT, Exchange, recorded
from switch.kit.schemas import message_schemas
from switch.service.transactions import TABLE, output_model
from switch.wire.events import EVENT_MODELS
from switch.wire.glossary import describe
from switch.wire.inputs import CHANNELS, Envelope
from switch.wire.outputs import ErrorsOutput, NoOutput, Response

__all__ = ["ASYNCAPI_VERSION", "Operation", "build", "envelope_schemas", "message_key", "message_schemas",
           "operations"]

ASYNCAPI_VERSION = "3.0.0"
MQTT_BINDING = {"mqtt": {"qos": 1, "retain": False, "bindingVersion": "0.2.0"}}
EVENT_BINDING = {"mqtt": {"qos": 0, "retain": False, "bindingVersion": "0.2.0"}}  # events: at most once
SCHEMA_REF = "#/components/schemas/{model}"
ID_PARAMETER = {
    "pos": ("terminal_id", "the POS terminal's id: 1-64 characters of A-Za-z0-9_-", "T1"),
    "app": ("psn_no", "the member's own psn_no (the caller): 1-64 characters of A-Za-z0-9_-", "DH"),
}
CHANNEL_TITLE = {"pos": "POS terminals", "app": "member apps", "admin": "operators and test harnesses"}
# A transaction without output models (one added without them) is described as this, not a crash;
# a test fails naming it.
UNTYPED_OUTPUT: dict[str, Any] = {"type": "object", "description": "not modelled yet"}


@dataclass(frozen=True, slots=True)
class Operation:
    """One transaction of the table: a request on a channel and its reply."""

    channel: str
    infno: str
    input_model: type[BaseModel]
    output_models: tuple[type[BaseModel], ...]
    summary: str

    @property
    def key(self) -> str:
        return self.infno if "." in self.infno else f"{self.channel}.{self.infno}"


def operations() -> list[Operation]:
    return [Operation(t.channel, t.infno, t.input, t.outputs, t.summary) for t in TABLE.values()]


def message_key(operation: Operation, direction: str) -> str:
    return f"{operation.key}.{direction}"


def channel_key(channel: str, direction: str) -> str:
    return f"{channel}{'Requests' if direction == 'req' else 'Responses'}"


def address(channel: str, direction: str, root: str) -> str:
    if channel == "admin":
        return f"{root}/admin/{direction}"
    return f"{root}/{channel}/{{{ID_PARAMETER[channel][0]}}}/{direction}"


# --- schemas ---------------------------------------------------------------------------------


def _models() -> list[tuple[type[BaseModel], Any]]:
    ops = operations()
    models: list[type[BaseModel]] = [*(op.input_model for op in ops), Response, ErrorsOutput, NoOutput]
    for op in ops:
        models += op.output_models
    models += EVENT_MODELS.values()
    unique = list(dict.fromkeys(models))
    return [(m, "validation") for m in unique]


def _polish(node: Any) -> Any:
    """Drop pydantic's generated property titles ("Psn No") and describe each wire field from the glossary."""
    if isinstance(node, list):
        return [_polish(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _polish(v) for k, v in node.items()}
    if isinstance(out.get("properties"), dict):
        for name, prop in out["properties"].items():
            if not isinstance(prop, dict):
                continue
            prop.pop("title", None)
            if "description" not in prop and "$ref" not in prop:
                prop["description"] = describe(name)
    return out


def component_schemas() -> tuple[dict[Any, str], dict[str, Any]]:
    keys, top = models_json_schema(_models(), ref_template=SCHEMA_REF)
    names = {key: value["$ref"].rsplit("/", 1)[1] for key, value in keys.items()}
    components = _polish(top.get("$defs", {}))
    # admin.policy takes the policy as a plain object (the core reports its errors with their own
    # locations), but what it must look like is the Policy model.
    components["PolicyRequest"]["properties"]["set"] = {"anyOf": [_ref("Policy"), {"type": "null"}],
                                                        "description": describe("set")}
    return names, components


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=name)}


def _envelope_properties(channel: str) -> dict[str, Any]:
    props = _polish(Envelope.model_json_schema(ref_template=SCHEMA_REF))["properties"]
    if channel == "pos":  # required there, so not null either
        code = props["fixmedins_code"]
        props["fixmedins_code"] = {**code["anyOf"][0], "description": code["description"]}
    else:
        props.pop("fixmedins_code")
    if channel != "admin":
        props.pop("token")
    return dict(props)


def envelope_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The request and response envelopes common to every transaction."""
    request = _polish(Envelope.model_json_schema(ref_template=SCHEMA_REF))
    response = _polish(Response.model_json_schema(ref_template=SCHEMA_REF))
    response.pop("$defs", None)
    return request, response


def _request_schema(op: Operation, names: dict[Any, str], components: dict[str, Any]) -> dict[str, Any]:
    props = _envelope_properties(op.channel)
    props["infno"] = {"type": "string", "const": op.infno, "description": describe("infno")}
    props["input"] = _ref(names[(op.input_model, "validation")])
    required = ["infno", "msgid"] + (["fixmedins_code"] if op.channel == "pos" else [])
    if components[names[(op.input_model, "validation")]].get("required"):
        required.append("input")
    return {"type": "object", "title": f"{op.infno} request", "properties": props, "required": required}


def _response_schema(title: str, infno: dict[str, Any], refmsgid: dict[str, Any],
                     outputs: list[dict[str, Any]]) -> dict[str, Any]:
    schema = _polish(Response.model_json_schema(ref_template=SCHEMA_REF))
    schema.pop("$defs", None)
    schema["title"] = title
    schema["properties"]["infno"] = infno
    schema["properties"]["inf_refmsgid"] = refmsgid
    schema["properties"]["output"] = {"anyOf": outputs, "description": describe("output")}
    return dict(schema)


def _outputs(op: Operation, names: dict[Any, str]) -> list[dict[str, Any]]:
    # A transaction added without output models is described as an object; a test names it.
    models = op.output_models
    success = [_ref(names[(m, "validation")]) for m in models] if models else [UNTYPED_OUTPUT]
    return [*success, _ref(names[(ErrorsOutput, "validation")]), _ref(names[(NoOutput, "validation")])]


def _event_schema(type_: str, data: type[BaseModel], names: dict[Any, str]) -> dict[str, Any]:
    return {"type": "object", "title": f"{type_} event", "additionalProperties": False,
            "required": ["type", "at", "data"],
            "properties": {"type": {"type": "string", "const": type_, "description": describe("type")},
                           "at": {"type": "string", "format": "date-time", "description": describe("at")},
                           "data": _ref(names[(data, "validation")])}}


# --- examples --------------------------------------------------------------------------------


def _examples() -> dict[str, list[dict[str, Any]]]:
    """Message key -> examples: requests as sent, and one answer per code, from the recorded day."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str]] = set()
    # One answer per code, and per output model when one code has several (app.bindings' views).
    first_model: dict[tuple[str, str], type[BaseModel] | None] = {}
    ops = {(op.channel, op.infno): op for op in operations()}

    def add(key: str, name: str, summary: str, payload: Any) -> None:
        if (key, name) not in seen:
            seen.add((key, name))
            by_key.setdefault(key, []).append({"name": name, "summary": summary, "payload": payload})

    for x in [*recorded("worked"), *recorded("tour")]:
        body = x.response_json
        op = ops.get((x.step.channel, body["infno"])) if body["inf_refmsgid"] is not None else None
        if op is None or body["code"] == Code.UNKNOWN_INFNO:
            add(f"{x.step.channel}.rejected.response", _name(body["code"], x), x.step.label, body)
            continue
        request = x.request_json
        if body["code"] != Code.INVALID_REQUEST and request is not None:
            add(message_key(op, "request"), _name("request", x), x.step.label, request)
        key, code = message_key(op, "response"), body["code"]
        model = output_model(op.channel, op.infno, body["output"])
        first = first_model.setdefault((key, code), model)
        add(key, _name(code if model is first or model is None else f"{code}_{model.__name__}", x),
            x.step.label, body)
        for event in x.events_json:
            add(f"event.{event['type']}", event["type"].replace(".", "_"), x.step.label, event)
    return by_key


def _name(kind: str, x: Exchange) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", kind if kind != "request" else x.step.label)[:60].strip("_")


# --- the document ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Messages:
    """The document's messages as they are added, each with up to four recorded examples."""

    examples: dict[str, list[dict[str, Any]]]
    messages: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, title: str, summary: str, payload: dict[str, Any]) -> dict[str, str]:
        self.messages[key] = {"name": key, "title": title, "summary": summary, "contentType": "application/json",
                              "payload": payload}
        if key in self.examples:
            self.messages[key]["examples"] = self.examples[key][:4]
        return {"$ref": f"#/components/messages/{key}"}


def _transactions(msgs: _Messages, channels: dict[str, Any], ops: dict[str, Any], names: dict[Any, str],
                  components: dict[str, Any]) -> None:
    """One receive operation per transaction: its request message and its reply."""
    for op in operations():
        req_key, resp_key = message_key(op, "request"), message_key(op, "response")
        req_ch, resp_ch = channel_key(op.channel, "req"), channel_key(op.channel, "resp")
        channels[req_ch]["messages"][req_key] = msgs.add(req_key, f"{op.infno} request", op.summary,
                                                         _request_schema(op, names, components))
        refmsgid = {"type": "string", "description": describe("inf_refmsgid")}
        channels[resp_ch]["messages"][resp_key] = msgs.add(
            resp_key, f"{op.infno} response", f"the answer to {op.infno}",
            _response_schema(f"{op.infno} response", {"type": "string", "const": op.infno}, refmsgid,
                             _outputs(op, names)))
        ops[op.key] = {
            "action": "receive", "title": op.infno, "summary": op.summary,
            "channel": {"$ref": f"#/channels/{req_ch}"},
            "messages": [{"$ref": f"#/channels/{req_ch}/messages/{req_key}"}],
            "reply": {"channel": {"$ref": f"#/channels/{resp_ch}"},
                      "messages": [{"$ref": f"#/channels/{resp_ch}/messages/{resp_key}"}]},
            "bindings": MQTT_BINDING,
        }


def _rejections(msgs: _Messages, channels: dict[str, Any], ops: dict[str, Any], names: dict[Any, str]) -> None:
    """Per channel, the answer to a payload that belongs to no operation."""
    refusals = [_ref(names[(ErrorsOutput, "validation")]), _ref(names[(NoOutput, "validation")])]
    for channel in CHANNELS:
        key, resp_ch = f"{channel}.rejected.response", channel_key(channel, "resp")
        channels[resp_ch]["messages"][key] = msgs.add(
            key, "unreadable request", "the answer to a payload that belongs to no operation",
            _response_schema("answer to an unreadable request", {"type": ["string", "null"]},
                             {"type": ["string", "null"], "description": describe("inf_refmsgid")}, refusals))
        ops[f"{channel}.rejected"] = {
            "action": "send", "title": f"{channel}: unreadable request",
            "summary": "INVALID_REQUEST or UNKNOWN_INFNO for a payload that is not JSON, has no usable "
                       "msgid, or names an unknown infno; inf_refmsgid is null when no msgid could be read",
            "channel": {"$ref": f"#/channels/{resp_ch}"},
            "messages": [{"$ref": f"#/channels/{resp_ch}/messages/{key}"}], "bindings": MQTT_BINDING,
        }


def _events(msgs: _Messages, channels: dict[str, Any], ops: dict[str, Any], names: dict[Any, str],
            root: str) -> None:
    """The events channel and its one send operation."""
    channels["events"] = {"address": f"{root}/events", "title": "events", "messages": {},
                          "description": "Everything that happened, for dashboards and tests; never needed "
                                         "to settle."}
    for type_, data in EVENT_MODELS.items():
        key = f"event.{type_}"
        summary = (data.__doc__ or type_).strip().splitlines()[0]
        channels["events"]["messages"][key] = msgs.add(key, type_, summary, _event_schema(type_, data, names))
    for channel in ("", *ID_PARAMETER):  # the operators' feed, then each terminal's and each app's own
        key = f"{channel}Events" if channel else "events"
        if channel:
            name, description, example = ID_PARAMETER[channel]
            channels[key] = {"address": f"{root}/events/{channel}/{{{name}}}", "title": f"{channel} events",
                             "description": f"The events whose data names this {name}: only its own.",
                             "parameters": {name: {"description": description, "examples": [example]}},
                             "messages": dict(channels["events"]["messages"])}
        ops[key] = {"action": "send", "title": channels[key]["title"], "summary": "announce what happened",
                    "channel": {"$ref": f"#/channels/{key}"},
                    "messages": [{"$ref": f"#/channels/{key}/messages/{m}"} for m in channels[key]["messages"]],
                    "bindings": EVENT_BINDING}


def build(root: str = ROOT) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the switch under topic root ``root``."""
    names, components = component_schemas()
    msgs = _Messages(_examples())
    channels: dict[str, Any] = {channel_key(channel, direction): _channel(channel, direction, root)
                                for channel in CHANNELS for direction in ("req", "resp")}
    ops: dict[str, Any] = {}
    _transactions(msgs, channels, ops, names, components)
    _rejections(msgs, channels, ops, names)
    _events(msgs, channels, ops, names, root)
    messages = msgs.messages
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(root),
        "defaultContentType": "application/json",
        "servers": {"local": {
            "host": "127.0.0.1:1883", "protocol": "mqtt", "protocolVersion": "3.1.1",
            "description": "`gongji-switch serve` with its embedded broker; any MQTT 3.1.1/5.0 broker works",
            "bindings": {"mqtt": {"clientId": f"gongji-switch-{root.replace('/', '-')}",
                                  "cleanSession": False, "keepAlive": 30, "bindingVersion": "0.2.0"}}}},
        "channels": channels,
        "operations": ops,
        "components": {"messages": messages, "schemas": components},
    }


def _info(root: str) -> dict[str, Any]:
    return {
        "title": "gongji settlement switch",
        "version": "1",
        "description": (
            "Family-pooling (家庭共济) settlement over MQTT, protocol v1. Every request and answer is one "
            "UTF-8 JSON object, never retained, at most 65,536 bytes; requests and answers QoS 1 both ways, "
            "events QoS 0 (at most once). A request on "
            f"`{root}/{{channel}}/{{id}}/req` is answered on the matching `resp` topic; `msgid` is the "
            "idempotency key per sender (the same msgid and content gets the first answer again, byte for "
            "byte). "
            f"The topic root `{root}` is configurable (`gongji-switch serve --topic-root`). Prose: "
            "docs/protocol.md; field reference: docs/reference.md."
        ),
    }


def _channel(channel: str, direction: str, root: str) -> dict[str, Any]:
    who = CHANNEL_TITLE[channel]
    body: dict[str, Any] = {
        "address": address(channel, direction, root),
        "title": f"{channel} {'requests' if direction == 'req' else 'responses'}",
        "description": (f"Requests from {who}." if direction == "req" else
                        f"Answers to {who}: always on the `resp` topic matching the request's topic."),
        "messages": {},
    }
    if channel in ID_PARAMETER:
        name, description, example = ID_PARAMETER[channel]
        body["parameters"] = {name: {"description": description, "examples": [example]}}
    return body


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
