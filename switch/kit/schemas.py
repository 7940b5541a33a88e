"""Standalone JSON Schemas: one self-contained draft-07 schema per message of the AsyncAPI document."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

__all__ = ["message_schemas"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _relink(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("#/components/schemas/", "#/definitions/") if k == "$ref" and isinstance(v, str)
                    else _relink(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_relink(v) for v in node]
    return node


def message_schemas(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One self-contained draft-07 JSON Schema per message of ``doc``, by file name."""
    components = doc["components"]["schemas"]
    files = {}
    for key, msg in doc["components"]["messages"].items():
        payload = copy.deepcopy(msg["payload"])
        needed: dict[str, Any] = {}
        todo = list(_refs(payload))
        while todo:
            name = todo.pop()
            if name not in needed:
                needed[name] = components[name]
                todo += _refs(components[name])
        schema = {"$schema": "http://json-schema.org/draft-07/schema#", **_relink(payload)}
        schema["description"] = msg["summary"]
        if needed:
            schema["definitions"] = _relink(dict(sorted(needed.items())))
        files[f"{key}.schema.json"] = schema
    return files
