"""Fault injection: which misbehaviour, if any, the switch plays on a request (admin.faults, --faults FILE).

Rules are tried in order and the first live rule that matches wins; a rule with ``times`` hits that
many requests and is then spent. Faults touch the ``pos`` and ``app`` channels only: the admin
channel is never faulted, so a harness can always clear what it set. ``terminal_id`` matches the
sender of the ``pos`` channel only. This module decides; the service and the adapter act on it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switch.datafile import parse_items, read_data_file
from switch.errors import DataFileError
from switch.wire.inputs import FaultRule

__all__ = ["Fault", "FaultBook", "FaultFileError", "load_fault_file", "parse_fault_rules"]

FAULTED_CHANNELS = ("pos", "app")


class FaultFileError(DataFileError):
    """A ``--faults`` file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request: the action, and the delay drawn for it (seconds)."""

    action: str
    delay: float = 0.0

    def sends(self) -> tuple[float, ...]:
        """When to publish the answer, in seconds after it is durable; empty means never."""
        if self.action == "drop_response":
            return ()
        if self.action == "delay_response":
            return (self.delay,)
        if self.action == "duplicate_response":
            return (0.0, self.delay)
        return (0.0,)


class FaultBook:
    """The rules in force and how many hits each has left."""

    def __init__(self, rules: Sequence[FaultRule] = (), rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._initial = tuple(rules)  # the rules the switch started with (--faults FILE): admin.reset's
        self.replace(rules)

    def restore(self) -> None:
        """Put the rules the switch started with back in force, their counters afresh (admin.reset)."""
        self.replace(self._initial)

    def replace(self, rules: Sequence[FaultRule]) -> None:
        """Put new rules in force (counters start afresh); an empty list clears every fault."""
        self._rules = list(rules)
        self._left: list[int | None] = [rule.times for rule in self._rules]

    def match(self, channel: str, sender: str, infno: str) -> Fault | None:
        """The fault for this request, spending one hit of the rule that matched."""
        if channel not in FAULTED_CHANNELS:
            return None
        for i, rule in enumerate(self._rules):
            left = self._left[i]
            if left == 0:
                continue
            if rule.match.infno is not None and rule.match.infno != infno:
                continue
            if rule.match.terminal_id is not None and (channel != "pos" or rule.match.terminal_id != sender):
                continue
            if left is not None:
                self._left[i] = left - 1
            return Fault(rule.action, self._delay(rule))
        return None

    def _delay(self, rule: FaultRule) -> float:
        if rule.delay_ms is None:
            return 0.0
        if isinstance(rule.delay_ms, tuple):
            low, high = rule.delay_ms
            return self._rng.uniform(low, high) / 1000
        return rule.delay_ms / 1000

    def view(self) -> list[dict[str, Any]]:
        """The rules as admin.faults shows them, with ``left``: hits remaining (null: unlimited)."""
        return [{**rule.model_dump(mode="json", exclude_none=True), "left": left}
                for rule, left in zip(self._rules, self._left, strict=True)]


def parse_fault_rules(data: object, source: str) -> list[FaultRule]:
    return parse_items(data, "rules", FaultRule, source, "rule", FaultFileError, plural="fault rules",
                       empty_ok=True)


def load_fault_file(path: Path) -> list[FaultRule]:
    """Read a YAML (or JSON, which is YAML) or TOML list of fault rules."""
    return parse_fault_rules(read_data_file(path, FaultFileError), str(path))
