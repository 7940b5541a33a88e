"""``docs/reference.md``: the protocol reference rendered from the AsyncAPI document and recorded exchanges.

Strategy: the reference is a view of the same generated document vendors get from
``gongji-switch asyncapi``, so the two cannot disagree, and a test fails when the committed file
differs from what the code renders now. Prose that explains the rules lives in ``protocol.md``.
"""

from __future__ import annotations

import json
from typing import Any

from switch.core.codes import Code
from switch.kit.asyncapi import build, envelope_schemas, message_key, operations
from switch.kit.curl import curl_command, recorded_http
from switch.kit.examples import FIXMEDINS, ROOT, START, Exchange, recorded
from switch.wire.glossary import describe
from switch.wire.outputs import CODE_WHEN
from switch.wire.topics import ID_PATTERN

__all__ = ["SERVE_DEMO", "SUB_DEMO", "pub_command", "render"]

SERVE_DEMO = f"gongji-switch serve --clock virtual --clock-start {START.isoformat()} --db demo.db"
# -T hides the copies of each event sent to the terminals and apps it names ({root}/events/pos/T1...).
SUB_DEMO = f"mosquitto_sub -h 127.0.0.1 -p 1883 -v -t '{ROOT}/#' -T '{ROOT}/events/+/+'"
_INPUT_AMOUNT = r"^[0-9]+(\.[0-9]{1,2})?$"
_OUTPUT_AMOUNT = r"^-?[0-9]+\.[0-9]{2}$"


def pub_command(x: Exchange) -> str:
    """The mosquitto_pub line that publishes this exchange's request (payloads never hold a single quote)."""
    return f"mosquitto_pub -h 127.0.0.1 -p 1883 -q 1 -t '{x.request_topic}' -m '{x.step.raw.decode()}'"


def sub_lines(x: Exchange) -> list[str]:
    """What ``mosquitto_sub -v`` prints for this exchange: the request, the answer, the events."""
    lines = [f"{x.request_topic} {x.step.raw.decode()}", f"{x.response_topic} {x.response.decode()}"]
    return lines + [f"{ROOT}/events {e.decode()}" for e in x.events]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _link(name: str) -> str:
    return f"[{name}](#{name.lower()})"


def type_of(schema: dict[str, Any]) -> str:
    """A JSON Schema as a short phrase for a table cell."""
    if "$ref" in schema:
        return _link(schema["$ref"].rsplit("/", 1)[1])
    if "anyOf" in schema:
        parts = schema["anyOf"]
        patterns = {p.get("pattern") for p in parts}
        if _INPUT_AMOUNT in patterns:
            return 'amount: `"80.00"` or `80`'
        return " or ".join(dict.fromkeys(type_of(p) for p in parts))
    if "const" in schema:
        return f"`{json.dumps(schema['const'], ensure_ascii=False)}`"
    if "enum" in schema:
        return " | ".join(f"`{json.dumps(v, ensure_ascii=False)}`" for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            keys = type_of(schema["propertyNames"]) if "propertyNames" in schema else "string"
            return f"object: {keys} → {type_of(values)}"
        return "object"
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return f"{kind} {low:g}–{high:g}" if low is not None and high is not None else str(kind)
    return str(kind or "any")


def _string(schema: dict[str, Any]) -> str:
    pattern = schema.get("pattern")
    if pattern == _OUTPUT_AMOUNT:
        return 'amount `"80.00"`'
    if pattern == ID_PATTERN:
        return "id (1–64 of `A-Za-z0-9_-`)"
    if pattern == "^[0-9]{6}$":
        return "6 digits"
    if pattern == "^[0-9]{2}$":
        return "2 digits"
    if schema.get("format") == "date-time":
        return "ISO 8601 time"
    if "maxLength" in schema:
        return f"string (≤ {schema['maxLength']})"
    return "string"


def _fields(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        given = prop.get("default")
        shown = json.dumps(given, ensure_ascii=False)
        default = f" (default `{shown}`)" if given not in (None, [], {}) else ""
        rows.append(f"| `{name}` | {_cell(type_of(prop))} | {'yes' if name in required else ''} | "
                    f"{_cell(prop.get('description') or describe(name))}{_cell(default)} |")
    return rows


def _worked() -> list[str]:
    out = [
        "## Worked example: the retry window, as raw MQTT messages",
        "",
        "Recorded from the real switch. To replay it, start a switch with a virtual clock and watch "
        "everything under the root (mosquitto's command-line tools: `apt-get install mosquitto-clients`):",
        "",
        "```sh",
        SERVE_DEMO + "      # terminal 1: embedded broker on 127.0.0.1:1883",
        SUB_DEMO + "  # terminal 2",
        "```",
        "",
        "then publish each message from a third terminal. Each step shows the command and what "
        "`mosquitto_sub` prints for it: the request, the answer on the sender's `resp` topic, and the "
        "events on the operators' topic (their copies on each named terminal's and app's own events topic "
        "are filtered out by `-T`).",
        "",
    ]
    for i, x in enumerate(recorded("worked"), 1):
        out += [f"**{i}. {x.step.label}**", "", "```sh", pub_command(x), "```", "", "```text", *sub_lines(x),
                "```", ""]
    out += [
        "Step 3 declines with `POOLING_AVAILABLE` and opens a window for (`DR`, "
        f"`{FIXMEDINS}`) until `window_expires_at`; nothing moved. Step 5 is a *new* message (msgid "
        "`T1-000002`): inside the window the holder `DH` pays `acct_mulaid_pay` 80.00 and the window is "
        "used. Publishing step 5 again with the same msgid returns the same answer byte for byte and moves "
        "nothing.",
        "",
    ]
    return out


def _curl() -> list[str]:
    out = [
        "## The same window over HTTP, with curl",
        "",
        "The switch started above also listens for HTTP on `127.0.0.1:8080` (`--http`). The till posts the "
        "national platform's envelope to a path ending in `/callService` or in the transaction's code; the "
        "operator posts v1 envelopes to `/gongji/v1/admin` (the national interface: docs/national.md). Each "
        "step shows the command and exactly what it prints, except that the last 10 digits of "
        "`inf_refmsgid` (a sequence that keeps the platform's ids unique across restarts) differ in your run:",
        "",
    ]
    for i, x in enumerate(recorded_http(), 1):
        out += [f"**{i}. {x.step.label}**", "", "```sh", curl_command(x.step), "```", "", "```json",
                x.response.decode(), "```", ""]
    out += [
        "Step 4 declines with `POOLING_AVAILABLE` (`infcode` -1, the prompt in `err_msg`) and opens the "
        "window; step 6 is a new msgid and the holder pays `acct_mulaid_pay` 80.00; step 7 repeats step 6 "
        "and gets its answer byte for byte, `inf_refmsgid` included, moving nothing. Over HTTP the sender is "
        "`fixmedins_code`, so a window opened here is used by an MQTT swipe from the same institution.",
        "",
    ]
    return out


def render() -> str:
    """The whole of docs/reference.md."""
    doc = build()
    out = [*_head(doc), *_worked(), *_curl(), *_transactions(doc)]
    request, response = envelope_schemas()
    out += ["## Envelopes", "", "Request (every channel; `fixmedins_code` is required on `pos`, `token` is "
            "for `admin`; other fields are ignored):", "", *_fields(request), "", "Response:", "",
            *_fields(response), ""]
    out += [*_models(doc), *_events_and_codes(doc)]
    return "\n".join(out).rstrip() + "\n"


def _head(doc: dict[str, Any]) -> list[str]:
    """The title, where the page comes from, and the topics."""
    out = [
        "# Protocol v1 reference",
        "",
        "<!-- Generated by `gongji-switch reference` from the wire models; do not edit by hand. -->",
        "Generated from the code by `gongji-switch reference` (the transaction table `switch/service/transactions.py`, "
        "`switch/wire/inputs.py`, `switch/wire/outputs.py`, `switch/wire/events.py`, "
        "`switch/wire/glossary.py`, `switch/core/codes.py`) and from exchanges recorded with the real switch "
        "(`switch/kit/examples.py`); a test fails when this file is stale. The rules and their reasons are in "
        "[protocol.md](protocol.md). Machine-readable forms: `gongji-switch asyncapi` (AsyncAPI 3.0) and "
        "`gongji-switch schemas DIR` (one JSON Schema per message).",
        "",
        "## Topics",
        "",
        "| topic | what | messages |",
        "|---|---|---|",
    ]
    for key, channel in doc["channels"].items():
        names = ", ".join(f"`{m}`" for m in channel["messages"]) if key == "events" else (
            f"{len(channel['messages'])} messages")
        out.append(f"| `{channel['address']}` | {_cell(channel['description'])} | {names} |")
    return [*out, "", "Requests and answers are published with QoS 1, events with QoS 0 (at most once); "
                   "nothing is retained.", ""]


def _transactions(doc: dict[str, Any]) -> list[str]:
    """Each transaction of the table: topics, input, outputs, and two recorded examples."""
    messages = doc["components"]["messages"]
    out = ["## Transactions", ""]
    for op in operations():
        request = messages[message_key(op, "request")]
        input_schema = request["payload"]["properties"]["input"]
        output_names = [m.__name__ for m in op.output_models]
        out += [f"### `{op.infno}` — {op.summary}", "",
                f"- topic: `{doc['channels'][op.channel + 'Requests']['address']}` → "
                f"`{doc['channels'][op.channel + 'Responses']['address']}`",
                f"- input: {type_of(input_schema)}",
                "- output: " + (", ".join(_link(n) for n in output_names) or "see protocol.md") +
                "; refusals: [ErrorsOutput](#errorsoutput) or `{}`", ""]
        for example in messages[message_key(op, "response")].get("examples", [])[:2]:
            request_example = next(
                (e for e in request.get("examples", []) if e["summary"] == example["summary"]), None)
            out += [f"Example — {example['summary']}:", "", "```json"]
            if request_example is not None:
                out.append(json.dumps(request_example["payload"], ensure_ascii=False))
            out += [json.dumps(example["payload"], ensure_ascii=False), "```", ""]
    return out


def _models(doc: dict[str, Any]) -> list[str]:
    schemas = doc["components"]["schemas"]
    out = ["## Models", ""]
    for name in sorted(schemas):
        schema = schemas[name]
        if schema.get("type") != "object" or not schema.get("properties"):
            continue
        description = schema.get("description", "").replace("``", "`").strip().splitlines()
        out += [f"### {name}", ""]
        if description:
            out += [description[0], ""]
        out += [*_fields(schema), ""]
    return out


def _events_and_codes(doc: dict[str, Any]) -> list[str]:
    messages = doc["components"]["messages"]
    out = ["## Events", "", f"On `{ROOT}/events`: `{{\"type\", \"at\", \"data\"}}`.", "",
            "| type | data |", "|---|---|"]
    for key, message in messages.items():
        if key.startswith("event."):
            out.append(f"| `{message['title']}` | {type_of(message['payload']['properties']['data'])} |")
    out += ["", "## Codes", "", "| code | infcode | when |", "|---|---|---|"]
    out += [f"| `{code.value}` | {code.infcode} | {_cell(CODE_WHEN.get(code, ''))} |" for code in Code]
    return out
