"""The AsyncAPI 3.0 document and the JSON Schemas: valid, complete, and true to what the switch sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from switch.cli import main
from switch.core.codes import Code
from switch.kit.asyncapi import build, message_key, message_schemas, operations
from switch.kit.examples import Exchange, recorded
from switch.service.transactions import INPUT_MODELS, OUTPUT_MODELS, TRANSACTIONS, output_model
from switch.wire.events import EVENT_MODELS
from switch.wire.glossary import GLOSSARY
from switch.wire.outputs import CODE_WHEN

OFFICIAL = Path(__file__).resolve().parents[1] / "data" / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build()


def payload_validator(doc: dict[str, Any], key: str) -> jsonschema.Draft7Validator:
    schema = {**doc["components"]["messages"][key]["payload"], "components": doc["components"]}
    return jsonschema.Draft7Validator(schema)


def problems(validator: jsonschema.Draft7Validator, payload: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(payload)]


def test_document_validates_against_the_official_asyncapi_3_schema(doc: dict[str, Any]) -> None:
    """The generated document is valid AsyncAPI 3.0.0 by the schema of @asyncapi/specs."""
    official = json.loads(OFFICIAL.read_text(encoding="utf-8"))
    assert official["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    validator = jsonschema.Draft7Validator(official)
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(doc)]
    assert errors == []
    assert doc["asyncapi"] == "3.0.0"


def test_official_schema_rejects_a_broken_document(doc: dict[str, Any]) -> None:
    """The validation has teeth: a QoS the MQTT binding does not allow makes the document invalid."""
    official = json.loads(OFFICIAL.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(doc))
    broken["operations"]["pos.2102"]["bindings"]["mqtt"]["qos"] = 3
    assert not jsonschema.Draft7Validator(official).is_valid(broken)


def test_every_input_model_code_and_event_appears(doc: dict[str, Any]) -> None:
    """Every (channel, infno) is an operation whose request names its input model; codes, events too."""
    schemas = doc["components"]["schemas"]
    for (channel, infno), model in INPUT_MODELS.items():
        op = next(o for o in operations() if (o.channel, o.infno) == (channel, infno))
        payload = doc["components"]["messages"][message_key(op, "request")]["payload"]
        assert payload["properties"]["infno"]["const"] == infno
        assert payload["properties"]["input"]["$ref"] == f"#/components/schemas/{model.__name__}"
        assert model.__name__ in schemas
        assert doc["operations"][op.key]["messages"][0]["$ref"].endswith(message_key(op, "request"))
    assert [key for key in INPUT_MODELS if key not in OUTPUT_MODELS] == []
    for op in operations():
        output = doc["components"]["messages"][message_key(op, "response")]["payload"]["properties"]["output"]
        named = [o["$ref"].rsplit("/", 1)[1] for o in output["anyOf"] if "$ref" in o]
        assert named == [m.__name__ for m in OUTPUT_MODELS[(op.channel, op.infno)]] + [
            "ErrorsOutput", "NoOutput"], op.key
    assert schemas["Code"]["enum"] == [c.value for c in Code]
    assert set(CODE_WHEN) == set(Code)
    assert set(TRANSACTIONS) == {infno for _, infno in INPUT_MODELS}
    events = doc["channels"]["events"]["messages"]
    assert sorted(m.removeprefix("event.") for m in events) == sorted(EVENT_MODELS)


def test_operations_are_mqtt_qos1_not_retained_with_a_reply(doc: dict[str, Any]) -> None:
    """Each request operation is received on its req channel and answered on the matching resp one, QoS 1."""
    for op in operations():
        operation = doc["operations"][op.key]
        assert operation["action"] == "receive"
        assert operation["bindings"] == {"mqtt": {"qos": 1, "retain": False, "bindingVersion": "0.2.0"}}
        req = doc["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]
        resp = doc["channels"][operation["reply"]["channel"]["$ref"].rsplit("/", 1)[1]]
        assert req["address"].endswith("/req") and resp["address"] == req["address"][:-3] + "resp"
        assert req.get("parameters") == resp.get("parameters")
    assert doc["channels"]["posRequests"]["address"] == "gongji/v1/pos/{terminal_id}/req"
    assert doc["channels"]["appRequests"]["parameters"] == {
        "psn_no": {"description": "the member's own psn_no (the caller): 1-64 characters of A-Za-z0-9_-",
                   "examples": ["DH"]}}
    assert build("lab/7")["channels"]["adminResponses"]["address"] == "lab/7/admin/resp"


def test_event_operations_are_mqtt_qos0_not_retained(doc: dict[str, Any]) -> None:
    """Events are sent at QoS 0 (at most once) on the operators' topic and each recipient's own; answers at QoS 1."""
    sends = {key: op["bindings"]["mqtt"]["qos"] for key, op in doc["operations"].items() if op["action"] == "send"}
    assert sends == {"events": 0, "posEvents": 0, "appEvents": 0,
                     "pos.rejected": 1, "app.rejected": 1, "admin.rejected": 1}  # refusals are answers
    for key in ("events", "posEvents", "appEvents"):
        assert doc["operations"][key]["bindings"] == {"mqtt": {"qos": 0, "retain": False, "bindingVersion": "0.2.0"}}


def _key_of(doc: dict[str, Any], x: Exchange) -> tuple[str | None, str]:
    body = x.response_json
    op = next((o for o in operations() if (o.channel, o.infno) == (x.step.channel, body["infno"])), None)
    if op is None or body["inf_refmsgid"] is None or body["code"] == "UNKNOWN_INFNO":
        return None, f"{x.step.channel}.rejected.response"
    request = message_key(op, "request") if body["code"] != "INVALID_REQUEST" else None
    return request, message_key(op, "response")


def test_every_recorded_exchange_matches_its_message_schemas(doc: dict[str, Any]) -> None:
    """Requests, answers and events the real switch exchanged in the scripted day all fit the document."""
    exchanges = [*recorded("worked"), *recorded("tour")]
    assert len(exchanges) >= 40
    seen_codes, seen_events = set(), set()
    for x in exchanges:
        request_key, response_key = _key_of(doc, x)
        if request_key is not None:
            assert problems(payload_validator(doc, request_key), x.request_json) == [], x.step.label
        assert problems(payload_validator(doc, response_key), x.response_json) == [], x.step.label
        for event in x.events_json:
            assert problems(payload_validator(doc, f"event.{event['type']}"), event) == [], x.step.label
            seen_events.add(event["type"])
        seen_codes.add(x.response_json["code"])
    assert {"OK", "POOLING_AVAILABLE", "INVALID_REQUEST", "DUPLICATE_MSGID", "REVERSED"} <= seen_codes
    assert set(EVENT_MODELS) - seen_events == set()


APP_REFUSALS = {"NOT_HOLDER", "FACE_VERIFICATION_REQUIRED", "PREMIUM_ALREADY_PAID", "INSUFFICIENT_BALANCE",
                "BINDING_NOT_FOUND", "HOLDER_IS_RELATIVE", "PERSON_NOT_FOUND", "INVALID_REQUEST"}


def test_every_recorded_app_answer_is_its_output_model(doc: dict[str, Any]) -> None:
    """Each app answer of the scripted day is exactly one of its infno's output models, or a refusal."""
    answers = [x.response_json for x in recorded("tour") if x.step.channel == "app"]
    models: dict[str, set[str]] = {}
    refused: set[str] = set()
    for body in answers:
        key = f"{body['infno']}.response"
        assert problems(payload_validator(doc, key), body) == [], body["inf_refmsgid"]
        model = output_model("app", body["infno"], body["output"])
        if body["infcode"] == 0:
            assert model is not None, body
            models.setdefault(body["infno"], set()).add(model.__name__)
        else:
            assert model is None and (body["output"] == {} or set(body["output"]) == {"errors"}), body
            refused.add(body["code"])
    assert models == {"app.bind": {"BindOutput", "BindPendingOutput"}, "app.unbind": {"UnbindOutput"},
                      "app.set_cap": {"SetCapOutput"},
                      "app.bindings": {"BindingsHolder", "BindingsRelative", "BindingsNone"},
                      "app.records": {"RecordsOutput"}, "app.pay_premium": {"PremiumOutput"},
                      "app.accept": {"BindOutput"}, "app.decline": {"DeclineOutput"}}
    assert refused == APP_REFUSALS


def test_app_answer_schemas_have_teeth(doc: dict[str, Any]) -> None:
    """A drifted app answer fails its schema: an extra field, a number for an amount, a missing view field."""
    answers = {x.step.label: x.response_json for x in recorded("tour")}
    bind, relative = answers["bind"], answers["a relative's view: the family, read-only"]
    premium = answers["a resident relative's premium"]
    assert premium["output"] == {"holder_psn_no": "DH", "relative_psn_no": "DR", "year": 2027, "amount": "380.00",
                                 "balc": "120.00"}
    assert relative["output"]["self"] == {"psn_no": "DR", "rltn": "child", "cap": "100.00", "used": "0.00"}
    drifted = [
        ("app.bind.response", {**bind, "output": {**bind["output"], "extra": 1}}),
        ("app.pay_premium.response", {**premium, "output": {**premium["output"], "balc": 120}}),
        ("app.bindings.response", {**relative, "output": {k: v for k, v in relative["output"].items()
                                                          if k != "self"}}),
    ]
    for key, body in drifted:
        assert not payload_validator(doc, key).is_valid(body), key
        assert output_model("app", body["infno"], body["output"]) is None


def test_app_examples_in_the_document_are_recorded_answers(doc: dict[str, Any]) -> None:
    """Every app example the document shows is an answer the real switch gave; every app view is shown."""
    recorded_answers = [x.response_json for x in recorded("tour") if x.step.channel == "app"]
    shown = {op.infno: doc["components"]["messages"][message_key(op, "response")].get("examples", [])
             for op in operations() if op.channel == "app"}
    assert all(e["payload"] in recorded_answers for examples in shown.values() for e in examples)
    assert all(any(e["payload"]["code"] == "OK" for e in examples) for examples in shown.values()), shown
    views = [e["payload"]["output"]["role"] for e in shown["app.bindings"] if e["payload"]["code"] == "OK"]
    assert views == ["holder", "relative", "none"]


def test_examples_are_the_switchs_own_answers(doc: dict[str, Any]) -> None:
    """The 2102 examples are the recorded retry-window answers, amounts and all, not invented ones."""
    message = doc["components"]["messages"]["pos.2102.response"]
    examples = {e["name"]: e["payload"] for e in message["examples"]}
    prompt, pooled = examples["POOLING_AVAILABLE"], examples["OK"]
    worked = recorded("worked")
    assert prompt == worked[2].response_json and pooled == worked[4].response_json
    assert (prompt["output"]["shortfall"], prompt["output"]["window_expires_at"]) == (
        "80.00", "2026-11-25T10:05:00.000+08:00")
    assert pooled["output"]["setlinfo"]["acct_mulaid_pay"] == "80.00"


def test_every_wire_field_is_in_the_glossary(doc: dict[str, Any]) -> None:
    """A field a model gains without an explanation fails here, so the reference never shows a blank."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                names.update(node["properties"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc["components"])
    assert names - set(GLOSSARY) == set()


def test_schemas_command_writes_one_schema_per_message(tmp_path: Path, doc: dict[str, Any]) -> None:
    """``gongji-switch schemas DIR`` writes a self-contained draft-07 schema per message; real answers fit."""
    assert main(["schemas", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(f"{key}.schema.json" for key in doc["components"]["messages"])
    pooled = json.loads((tmp_path / "pos.2102.response.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(pooled)
    assert "#/components" not in json.dumps(pooled)
    validator = jsonschema.Draft7Validator(pooled)
    answer = recorded("worked")[4].response_json
    assert validator.is_valid(answer)
    assert not validator.is_valid({**answer, "output": {"setlinfo": {**answer["output"]["setlinfo"],
                                                                     "acct_mulaid_pay": 80}}})
    assert message_schemas(doc).keys() == {p for p in files}


def test_asyncapi_command_prints_json_or_the_same_document_as_yaml(
        capsys: pytest.CaptureFixture[str]) -> None:
    """``gongji-switch asyncapi`` prints JSON; ``--yaml`` prints the same document, without YAML aliases."""
    assert main(["asyncapi"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert main(["asyncapi", "--yaml"]) == 0
    text = capsys.readouterr().out
    assert "&id" not in text and yaml.safe_load(text) == as_json
