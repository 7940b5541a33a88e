"""Files people write for the switch (policies, fault rules): YAML, JSON (which is YAML) or TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["parse_items", "read_data_file", "yaml_problem"]

M = TypeVar("M", bound=BaseModel)


def read_data_file(path: Path, error: type[ValueError]) -> object:
    """The parsed document; any problem is raised as ``error`` with the file named first."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: {exc.strerror}") from exc
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from exc
    except yaml.YAMLError as exc:  # PyYAML's own text is several lines and names "<unicode string>": one line
        kind = "JSON" if path.suffix == ".json" else "YAML"  # a .json file is read as YAML, of which JSON is part
        raise error(f"{path}: not valid {kind}: {yaml_problem(exc)}") from exc


def yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, in one line: ``line 3, column 7: mapping values are not allowed here``."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part) or "cannot be read"
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}" if mark is not None else what
    return " ".join(str(exc).split())


def parse_items(data: object, key: str, model: type[M], source: str, what: str, error: type[ValueError],
                *, plural: str, empty_ok: bool = False) -> list[M]:
    """A list of ``model`` items, given bare or under ``key``; each problem names the item and field."""
    if isinstance(data, dict) and key in data:
        data = data[key]
    if data is None and empty_ok:
        return []
    if not isinstance(data, list):
        raise error(f"{source}: expected a list of {plural} (or a '{key}:' key)")
    items = []
    for i, item in enumerate(data):
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or what}: {e['msg']}"
                                 for e in exc.errors(include_url=False))
            raise error(f"{source}: {what} #{i + 1}: {problems}") from None
    return items
