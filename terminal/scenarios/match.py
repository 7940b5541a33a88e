"""Comparing what a scenario expects with what came back: subset matches, diffs, ``${step.path}`` values.

Two markers stand for what a value cannot say: ``"<any>"`` (present, whatever it is) and
``"<absent>"`` (the key must not be there, e.g. ``balc`` of a resident in 1101).

Strategy: an expectation names only what matters (``setlinfo.acct_mulaid_pay: "80.00"``), so a
match is a subset match over dotted paths; the diff shows the expected fields next to the actual
values at the same paths, never the whole (noisy) answer. Numbers written unquoted in YAML compare
by value ("80.00" == 80); quoted text compares exactly, so a vendor can pin the wire format.
"""

from __future__ import annotations

import difflib
import json
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from terminal.errors import TerminalError

if TYPE_CHECKING:
    from terminal.scenarios.format import EventSpec

__all__ = ["ABSENT", "ANY", "MISSING", "Mismatch", "ReferenceError_", "in_order", "lookup", "match", "project",
           "render_diff", "same_set", "substitute", "to_json"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
ANY, ABSENT = "<any>", "<absent>"
_WHOLE_REF = re.compile(r"^\$\{([A-Za-z0-9_-]+)\.([^}]+)\}$")
_REF = re.compile(r"\$\{([A-Za-z0-9_-]+)\.([^}]+)\}")


class ReferenceError_(TerminalError, LookupError):  # the builtin ReferenceError means something else
    """A ``${step.path}`` that names nothing the run has seen."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    path: str
    expected: Any
    actual: Any

    def line(self) -> str:
        if self.actual is MISSING:
            return f"{self.path}: expected {_show(self.expected)}, but it is missing"
        if self.expected == ABSENT:
            return f"{self.path}: expected no such key, got {_show(self.actual)}"
        expected, actual = _show_both(self.expected, self.actual)
        return f"{self.path}: expected {expected}, got {actual}"


def to_json(value: Any, indent: int | None = None, separators: tuple[str, str] | None = None) -> str:
    """``value`` as JSON, numbers as they were on the wire: a Decimal (how answers are read, so 80.00
    keeps its two places) is written as the number it is, never quoted as text."""
    numbers: dict[str, str] = {}
    tag = secrets.token_hex(4)

    def marked(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            mark = f"<{tag}:{len(numbers)}>"
            numbers[mark] = str(obj) if obj.is_finite() else json.dumps(str(obj))
            return mark
        if isinstance(obj, dict):
            return {k: marked(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [marked(v) for v in obj]
        return obj

    text = json.dumps(marked(value), ensure_ascii=False, default=str, indent=indent, separators=separators)
    if numbers:
        text = re.sub(f'"(<{tag}:[0-9]+>)"', lambda m: numbers[m.group(1)], text)
    return text


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "text"
    return "array" if isinstance(value, list | tuple) else "object" if isinstance(value, dict) else "value"


def _show(value: Any) -> str:
    return to_json(value)


def _show_both(expected: Any, actual: Any) -> tuple[str, str]:
    """Expected and actual as JSON; each with its kind when the kinds differ ("0.0" (text), 0.0 (number))."""
    left, right = _show(expected), _show(actual)
    kinds = _kind(expected), _kind(actual)
    by_value = kinds == ("number", "text")  # an unquoted number matches text of the same value: not the point
    if kinds[0] != kinds[1] and not by_value:
        return f"{left} ({kinds[0]})", f"{right} ({kinds[1]})"
    return left, right


def _parts(path: str) -> list[str]:
    return [p for p in path.split(".") if p != ""]


def lookup(obj: Any, path: str) -> Any:
    """The value at a dotted path (``setlinfo.balc``, ``errors.0.loc``), or MISSING."""
    for part in _parts(path):
        if isinstance(obj, dict):
            obj = obj.get(part, MISSING)
        elif isinstance(obj, list) and re.fullmatch(r"-?\d+", part) and -len(obj) <= int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return MISSING
        if obj is MISSING:
            return MISSING
    return obj


def _same_scalar(expected: Any, actual: Any) -> bool:
    if expected == ABSENT:
        return actual is MISSING
    if actual is MISSING:
        return False
    if expected == ANY:
        return True
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float | Decimal) and isinstance(actual, int | float | Decimal | str):
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except InvalidOperation:
            return False
    return bool(expected == actual)


def match(expected: Any, actual: Any, path: str = "") -> list[Mismatch]:
    """Every way ``actual`` fails to contain ``expected``.

    Dicts match as subsets (keys may be dotted paths); lists element by element, of the same length.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [Mismatch(path or "(value)", expected, actual)]
        found: list[Mismatch] = []
        for key, value in expected.items():
            found += match(value, lookup(actual, str(key)), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [Mismatch(path or "(value)", expected, actual)]
        found = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found += match(e, a, f"{path}.{i}" if path else str(i))
        return found
    return [] if _same_scalar(expected, actual) else [Mismatch(path or "(value)", expected, actual)]


def project(expected: Any, actual: Any) -> Any:
    """``actual`` cut to the shape of ``expected``: what the diff shows on the "actual" side."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {key: project(value, lookup(actual, str(key))) for key, value in expected.items()}
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [project(e, a) for e, a in zip(expected, actual, strict=True)]
    if actual is MISSING:
        return ABSENT if expected == ABSENT else "<missing>"
    if expected == ANY or (isinstance(expected, int | float | Decimal) and _same_scalar(expected, actual)):
        return expected  # equal by value: do not show a difference in spelling
    return actual


def _dump(obj: Any) -> list[str]:
    return to_json(obj, indent=2).splitlines()


def render_diff(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    """A unified diff of the expected fields against the actual values at the same paths."""
    lines = difflib.unified_diff(_dump(expected), _dump(project(expected, actual)), "expected", "actual",
                                 lineterm="", n=2)
    return "\n".join(lines)


def _resolve(ref: str, path: str, context: dict[str, dict[str, Any]]) -> Any:
    step = context.get(ref)
    if step is None:
        raise ReferenceError_(f"${{{ref}.{path}}}: no step named {ref!r} has run")
    if path in step.get("saved", {}):
        return step["saved"][path]
    if path in ("msgid", "infno"):
        return step[path]
    if step.get("response") is None:
        raise ReferenceError_(f"${{{ref}.{path}}}: step {ref!r} got no answer (it expected none)")
    value = lookup(step.get("response"), path)
    if value is MISSING:
        raise ReferenceError_(f"${{{ref}.{path}}}: step {ref!r} saved no {path!r}; its answer lacks it")
    return value


def substitute(obj: Any, context: dict[str, dict[str, Any]]) -> Any:
    """Fill ``${step.path}`` references; a whole-string reference keeps the value's type."""
    if isinstance(obj, str):
        whole = _WHOLE_REF.match(obj)
        if whole:
            return _resolve(whole.group(1), whole.group(2), context)
        return _REF.sub(lambda m: str(_resolve(m.group(1), m.group(2), context)), obj)
    if isinstance(obj, dict):
        return {substitute(k, context): substitute(v, context) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, context) for v in obj]
    return obj


def in_order(wanted: list[EventSpec], seen: list[dict[str, Any]]) -> bool:
    """Whether the wanted events occur in ``seen`` in this order (other events may come between)."""
    position = 0
    for event in seen:
        if position < len(wanted) and event.get("type") == wanted[position].type and not match(
                wanted[position].data, event.get("data")):
            position += 1
    return position == len(wanted)


def same_set(wanted: list[dict[str, Any]], windows: list[dict[str, Any]]) -> bool:
    """Whether each wanted pattern matches its own one of ``windows``, with none left over."""
    if len(wanted) != len(windows):
        return False
    left = list(windows)
    for w in wanted:
        hit = next((j for j, a in enumerate(left) if not match(w, a)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True

