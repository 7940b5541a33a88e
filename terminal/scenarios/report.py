"""What a person reads after a run: failures with diffs and exchanged messages, the table, JUnit XML.

The no-answer diagnosis works from what the observer saw on ``{root}/#`` while the step waited;
"I only get timeouts" is the most common complaint about payment simulators, so the runner says
which of the usual causes it can see: an answer naming another msgid, an answer on another topic,
a request the broker never routed, or silence.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from terminal.scenarios.match import to_json
from terminal.scenarios.targets import Seen

if TYPE_CHECKING:
    from terminal.scenarios.format import Scenario

__all__ = ["Failure", "ScenarioResult", "diagnose_no_answer", "print_results", "write_junit"]

MAX_SHOWN = 1200  # characters of one message in a failure report
_RESP = re.compile(r"^(admin/resp|(pos|app)/[^/]+/resp)$")


@dataclass
class Failure:
    """Where a scenario stopped and why: the step, the problems, the diff, the messages exchanged."""

    step: str
    problems: list[str]
    diff: str = ""
    exchanged: list[Seen] = field(default_factory=list)
    root: str = ""

    def text(self) -> str:
        lines = [f"FAILED at {self.step}"]
        lines += [f"  - {p}" for p in self.problems]
        if self.diff:
            lines += ["", *("  " + line for line in self.diff.splitlines())]
        if self.exchanged:
            lines += ["", f"  messages exchanged (topics under {self.root}/):"]
            start = self.exchanged[0].at
            for seen in self.exchanged:
                offset = seen.at - start
                lines.append(f"    +{offset:6.3f}s {_arrow(seen.topic)} {seen.topic:<16} {_compact(seen)}")
        return "\n".join(lines)


Status = Literal["passed", "failed", "skipped", "invalid"]


@dataclass
class ScenarioResult:
    name: str
    path: Path | None
    status: Status
    steps_run: int = 0
    steps_total: int = 0
    seconds: float = 0.0
    failure: Failure | None = None
    reason: str = ""  # why skipped or invalid
    scenario: Scenario | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "skipped")

    def details(self) -> str:
        if self.failure is not None:
            return self.failure.text()
        return self.reason


def _arrow(topic: str) -> str:
    if topic.endswith("/req"):
        return "→"
    if _event(topic):
        return "•"
    return "←"


def _event(topic: str) -> bool:
    """``events`` and each terminal's and app's own copy (``events/app/DR``): never a misrouted answer."""
    return topic == "events" or topic.startswith("events/")


def _compact(seen: Seen) -> str:
    body = seen.body
    if body is None:
        text = repr(seen.payload[:MAX_SHOWN])
    else:
        if isinstance(body, dict) and "token" in body:
            body = {**body, "token": "***"}  # never print the admin token
        text = to_json(body, separators=(",", ":"))  # numbers as they were on the wire (0.0 stays 0.0)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + f"… ({len(text)} characters)"


def diagnose_no_answer(seen: Sequence[Seen], root: str, req_topic: str, resp_topic: str, msgid: str | None,
                       waited: float) -> list[str]:
    """Why a step got no answer, from the messages seen under the root while it waited."""
    resp = f"{root}/{resp_topic}"
    causes: list[str] = []
    if not any(m.topic == req_topic and (msgid is None or m.field("msgid") == msgid) for m in seen):
        causes.append(f"our request never came back through the broker on {root}/{req_topic}: the broker did "
                      "not route it (connection lost, or an ACL refuses publishing there?)")
    for m in seen:
        said = f"{m.field('code')}: {m.field('err_msg')}"
        ref = m.field("inf_refmsgid")
        if m.topic == resp_topic and msgid is not None and ref is None:
            causes.append(f"an answer on {resp} names no inf_refmsgid (the switch could not read the msgid): "
                          f"{said}")
        elif m.topic == resp_topic and msgid is not None and ref != msgid:
            causes.append(f"an answer on {resp} names inf_refmsgid {ref!r}, not our {msgid!r}: {said}")
        elif m.topic != resp_topic and msgid is not None and ref == msgid and not m.topic.endswith("/req"):
            causes.append(f"the answer to {msgid!r} was published on {root}/{m.topic}, not on {resp}")
        elif not m.topic.endswith("/req") and not _event(m.topic) and not _RESP.match(m.topic):
            causes.append(f"a message on an unexpected topic {root}/{m.topic} (the answer belongs on "
                          f"{resp}): {_compact(m)[:200]}")
    answered_elsewhere = any(m.topic == resp_topic or not (m.topic.endswith("/req") or _event(m.topic)
                                                            or _RESP.match(m.topic)) for m in seen)
    if not answered_elsewhere:
        alive = [m for m in seen if _event(m.topic) or _RESP.match(m.topic)]
        if alive:
            causes.append(f"nothing on {resp} within {waited:g} s, though the switch published {len(alive)} "
                          "other message(s) under the root meanwhile: it did not answer this request (a fault "
                          "rule's drop_response or drop_request does this; expect: {answer: none} expects it)")
        else:
            causes.append(f"nothing on {resp} within {waited:g} s and nothing else under {root}/: is a "
                          f"switch running on this broker with topic root {root!r}?")
    return causes


def print_results(results: Sequence[ScenarioResult], console: Console, seconds: float) -> None:
    """The results table, then each failure in full."""
    table = Table(title="gongji scenarios", title_justify="left")
    table.add_column("scenario", overflow="fold")
    table.add_column("file", style="dim", overflow="fold")
    table.add_column("steps", justify="right")
    table.add_column("result")
    table.add_column("time", justify="right")
    styles = {"passed": "green", "failed": "bold red", "skipped": "yellow", "invalid": "bold red"}
    for r in results:
        steps = f"{r.steps_run}/{r.steps_total}" if r.steps_total else "-"
        result = Text(r.status, style=styles[r.status])
        table.add_row(r.name, str(r.path or ""), steps, result, f"{r.seconds:.2f}s")
    console.print(table)
    # Failures are not boxed: a box breaks every line at its border, and these lines hold the JSON that
    # was exchanged, the prompt beside its code, topics — what people copy. Each line is written whole.
    for r in results:
        if r.status in ("failed", "invalid"):
            console.print()
            console.print(Text(f"✗ {r.name}  ({r.path})", style="bold red"), soft_wrap=True)
            console.print(Text(r.details()), soft_wrap=True)
        elif r.status == "skipped":
            console.print(Text.assemble(("skipped ", "yellow"), f"{r.name}: {r.reason}"), soft_wrap=True)
    counts = {s: sum(1 for r in results if r.status == s) for s in styles}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    console.print(f"{summary or 'nothing run'} in {seconds:.2f}s",
                  style="green" if all(r.ok for r in results) else "bold red")


def write_junit(results: Sequence[ScenarioResult], path: Path, seconds: float) -> None:
    """JUnit XML as CI servers read it: one testcase per scenario, classname from its file."""
    suite = ET.Element("testsuite", name="gongji-scenarios", tests=str(len(results)),
                       failures=str(sum(r.status == "failed" for r in results)),
                       errors=str(sum(r.status == "invalid" for r in results)),
                       skipped=str(sum(r.status == "skipped" for r in results)), time=f"{seconds:.3f}")
    for r in results:
        classname = ".".join(r.path.with_suffix("").parts) if r.path is not None else "scenarios"
        case = ET.SubElement(suite, "testcase", classname=classname, name=r.name, time=f"{r.seconds:.3f}")
        if r.status == "failed":
            first = r.failure.problems[0] if r.failure and r.failure.problems else "failed"
            ET.SubElement(case, "failure", message=first).text = r.details()
        elif r.status == "invalid":
            ET.SubElement(case, "error", message="invalid scenario").text = r.reason
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", message=r.reason)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
