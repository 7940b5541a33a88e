"""Running scenarios: fresh switch state, timed steps, every expectation checked, failures explained.

Per scenario: ``admin.reset``, the virtual clock to the scenario's start, its policies, its
people and bindings (``admin.load``); then each step (clock moved or real time waited, message
sent, answer and state checked); then ``admin.audit``. The first failed step ends the scenario:
later steps build on it, so their failures would only be noise.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt

from terminal.clients.http import shown
from terminal.clients.mqtt import ConnectionEnded, NoAnswer
from terminal.scenarios.format import EventSpec, Expect, SameAs, Scenario, ScenarioError, load_scenarios, offset_text
from terminal.scenarios.match import (
    MISSING,
    ReferenceError_,
    in_order,
    lookup,
    match,
    render_diff,
    same_set,
    substitute,
)
from terminal.scenarios.report import Failure, ScenarioResult
from terminal.scenarios.targets import RunnerError, Seen, Session, Targets

__all__ = ["Found", "Runner", "discover", "run_scenarios"]

EVENT_WAIT = 2.0  # seconds an expected event may trail its answer
SILENCE = 1.0  # seconds a step expecting no answer (answer: none) waits, unless its timeout or --timeout says less


def _clock_text(moment: datetime, start: datetime) -> str:
    """A clock reading as people compare them: ``10:01:00``, the date too when it is not the start's."""
    local = moment.astimezone(start.tzinfo)
    text = local.strftime("%H:%M:%S") + (f".{local.microsecond // 1000:03d}" if local.microsecond else "")
    return text if local.date() == start.date() else f"{local.date().isoformat()} {text}"


Found = tuple[Path, list[Scenario] | ScenarioError]


def discover(paths: Iterable[Path]) -> list[Found]:
    """Scenario files under the given files and directories (``*.yaml``, ``*.yml``), loaded or refused."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            files.append(path)
    found: list[Found] = []
    for file in files:
        try:
            found.append((file, load_scenarios(file)))
        except ScenarioError as exc:
            found.append((file, exc))
    return found


async def run_scenarios(found: list[Found], targets: Targets, timeout: float = 5.0,
                        on_result: Callable[[ScenarioResult], None] = lambda r: None,
                        keyword: str | None = None) -> list[ScenarioResult]:
    """Run every scenario found, in order; invalid files become ``invalid`` results."""
    runner = Runner(targets, timeout)
    results: list[ScenarioResult] = []
    try:
        for path, loaded in found:
            if isinstance(loaded, ScenarioError):
                result = ScenarioResult(path.name, path, "invalid", reason=str(loaded))
                results.append(result)
                on_result(result)
                continue
            for scenario in loaded:
                if keyword and keyword.lower() not in f"{path} {scenario.name}".lower():
                    continue
                result = await runner.run(scenario, path)
                results.append(result)
                on_result(result)
    finally:
        await targets.close()
    return results


class _StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.step)
        self.failure = failure


class Runner:
    """Runs scenarios one after another on the targets' switches."""

    def __init__(self, targets: Targets, timeout: float = 5.0) -> None:
        self.targets = targets
        self.timeout = timeout
        self.run_id = secrets.token_hex(3)

    async def run(self, scenario: Scenario, path: Path | None = None) -> ScenarioResult:
        started = time.monotonic()
        result = ScenarioResult(scenario.name, path, "passed", steps_total=len(scenario.steps),
                                scenario=scenario)
        target = await self.targets.session_for(scenario)
        if isinstance(target, str):
            result.status, result.reason = "skipped", target
            return result
        run = _Run(target, scenario, f"S{self.run_id}{secrets.token_hex(2)}", self.timeout)
        try:
            await run.setup()
            for i in range(len(scenario.steps)):
                await run.step(i)
                result.steps_run = i + 1
            if scenario.audit:
                await run.audit()
        except _StepFailed as failed:
            result.status, result.failure = "failed", failed.failure
        except RunnerError:  # the run cannot go on at all (a switch started with --access): one line
            raise
        except (aiomqtt.MqttError, OSError) as exc:
            result.status = "failed"
            result.failure = Failure(f"step {result.steps_run + 1}",
                                     [f"lost the broker {shown(target.broker)}: {exc}"])
        except Exception as exc:  # a runner bug must not end the whole run: report it on this scenario
            result.status = "failed"
            where = "".join(traceback.format_exception(exc, limit=-3)).rstrip()
            result.failure = Failure(f"step {result.steps_run + 1}", [f"the runner failed: {exc!r}", where])
        result.seconds = time.monotonic() - started
        return result


class _Run:
    """One scenario's run: the values its steps produced, and the session it talks on."""

    def __init__(self, session: Session, scenario: Scenario, prefix: str, timeout: float) -> None:
        self.session = session
        self.scenario = scenario
        self.prefix = prefix
        self.timeout = timeout
        self.context: dict[str, dict[str, Any]] = {}
        self.observer = session.observer
        self.clock_moved_by: str | None = None  # the last step that moved the clock with admin.clock

    # --- talking -------------------------------------------------------------------------------------

    def _fail(self, where: str, problems: list[str], mark: int, diff: str = "") -> _StepFailed:
        return _StepFailed(Failure(where, problems, diff, self.observer.log[mark:], self.session.root))

    async def _admin(self, infno: str, input: dict[str, Any], where: str, mark: int) -> dict[str, Any]:
        """A request the runner itself needs answered OK (reset, clock, policy, load, state, audit)."""
        envelope: dict[str, Any] = {"infno": infno, "msgid": f"{self.prefix}-{secrets.token_hex(4)}",
                                    "input": input}
        if self.session.token is not None:
            envelope["token"] = self.session.token
        try:
            answer = await self.session.send("admin", "admin", envelope)
        except NoAnswer:
            await self._settle_log(envelope["msgid"])
            causes = self.session.diagnose(self.observer.log[mark:], "admin", "admin", envelope["msgid"],
                                           self.session.timeout)
            raise self._fail(where, [f"no answer to {infno}", *causes], mark) from None
        if answer.get("code") != "OK":
            await self._settle_log(envelope["msgid"])
            errors = answer.get("output", {}).get("errors")
            detail = f"; errors: {json.dumps(errors, ensure_ascii=False, default=str)}" if errors else ""
            said = f"{infno} answered {answer.get('code')}: {answer.get('err_msg')}{detail}"
            raise self._fail(where, [said], mark)
        return answer

    async def _settle_log(self, msgid: str | None, timeout: float = 0.5) -> None:
        """Let the observer catch up with an answer the client already has, so the report shows it."""
        if not self.session.delayed_log:
            return
        await self.observer.wait(lambda seen: any(m.field("inf_refmsgid") == msgid for m in seen
                                                  if not m.topic.endswith("/req")), 0, timeout)

    # --- the phases ----------------------------------------------------------------------------------

    async def setup(self) -> None:
        self.observer.clear()
        where = "setup (reset, clock, policy, people and bindings)"
        await self._admin("admin.reset", {}, where, 0)
        if self.session.virtual:
            clock: dict[str, Any] = {"set": self.scenario.start.isoformat(), "speed": 0}
            await self._admin("admin.clock", clock, where, 0)
        if self.scenario.policies:
            listed = await self._admin("admin.policy", {}, where, 0)
            existing = {p["name"]: p for p in listed.get("output", {}).get("policies", [])}
            for spec in self.scenario.policies:
                base_name = spec.extends or spec.name
                if spec.extends is not None and spec.extends not in existing:
                    known = ", ".join(existing)
                    raise self._fail(where, [f"policy {spec.name}: extends {spec.extends!r}, which the "
                                             f"switch does not have (it has {known})"], 0)
                await self._admin("admin.policy", {"set": spec.over(existing.get(base_name))}, where, 0)
        if self.scenario.people or self.scenario.bindings:
            family = {"people": [p.wire() for p in self.scenario.people],
                      "bindings": [b.wire() for b in self.scenario.bindings]}
            await self._admin("admin.load", family, where, 0)
        await self._fence(0, where)

    async def audit(self) -> None:
        mark = self.observer.mark()
        answer = await self._admin("admin.audit", {}, "the ledger audit after the last step", mark)
        output = answer.get("output", {})
        if output.get("ok") is not True:
            raise self._fail("the ledger audit after the last step",
                             ["admin.audit found violations", *map(str, output.get("violations", []))], mark)

    async def step(self, i: int) -> None:
        scenario, step = self.scenario, self.scenario.steps[i]
        channel, sender, fixmedins_code = scenario.actor(i)
        where = self._where(i, channel, sender)
        mark = self.observer.mark()
        if step.wait is not None:
            await asyncio.sleep(step.wait.total_seconds())
        if step.at is not None:
            moved = scenario.start + step.at
            await self._not_back(i, moved, where, mark)
            await self._admin("admin.clock", {"set": moved.isoformat()}, f"{where}: moving the clock", mark)
        try:
            infno, body = scenario.request(i) if step.raw is None else (None, {})
            if self.session.national and channel == "pos" and (step.card is not None or step.reverse is not None):
                body = {"data": body}  # the shorthands in the platform's layout, as a national till sends them
            body = substitute(body, self.context)
            msgid = self._msgid(i)
            if step.msgid is None:
                msgid = self.session.default_msgid(channel, sender, fixmedins_code, msgid)
            envelope = self.session.envelope(channel, infno, msgid, body, fixmedins_code, sender)
            token = step.token if step.token is not None else self.session.token
            if channel == "admin" and token is not None:
                envelope["token"] = token
            for key, value in substitute(step.envelope or {}, self.context).items():
                if value is None:
                    envelope.pop(key, None)
                else:
                    envelope[key] = value
        except ReferenceError_ as exc:
            raise self._fail(where, [str(exc)], mark) from None
        expect = step.expect_http if self.session.national and step.expect_http is not None else step.expect
        silent = expect.answer == "none"
        if step.timeout is not None:
            wait = step.timeout.total_seconds()
        else:
            wait = min(self.timeout, SILENCE) if silent else self.timeout
        expected_ref = None if step.raw is not None else envelope.get("msgid")
        response: dict[str, Any] | None
        try:
            if step.raw is not None:
                response = await self.session.send_raw(channel, sender, step.raw.encode(), wait)
            elif not isinstance(expected_ref, str):  # the step took the msgid away: any answer will do
                payload = json.dumps(envelope, ensure_ascii=False, default=str).encode()
                response = await self.session.send_raw(channel, sender, payload, wait)
            else:
                response = await self.session.send(channel, sender, envelope, wait)
        except ConnectionEnded as exc:  # the HTTP door closed the connection: a dropped answer, not a wait
            if not silent:
                raise self._fail(where, ["no answer", f"{exc} (a fault rule's drop_response does this, and "
                                                      "expect: {answer: none} expects it; whether the request was "
                                                      "committed, the same msgid sent again tells)"],
                                 mark) from None
            response = None
        except NoAnswer:
            if not silent:
                causes = self.session.diagnose(self.observer.log[mark:], channel, sender,
                                               expected_ref if isinstance(expected_ref, str) else None, wait)
                raise self._fail(where, ["no answer", *causes], mark) from None
            response = None
        if silent and response is not None:
            await self._settle_log(expected_ref)
            said = f"{response.get('code')}: {response.get('err_msg')}"
            raise self._fail(where, [f"expected no answer (answer: none) within {wait:g} s, got one: {said}"],
                             mark)
        self.context[step.name or f"#{i + 1}"] = {"msgid": envelope.get("msgid"), "infno": infno,
                                                  "response": response, "saved": {}}
        await self._check(i, where, expect, response, mark, expected_ref)
        if response is not None:
            self._save(i, where, response, mark)
            self._clock_moved(i, channel, infno, body, response)
        await self._fence(mark, where)

    def _clock_moved(self, i: int, channel: str, infno: str | None, body: dict[str, Any],
                     response: dict[str, Any]) -> None:
        """Note where a step's own admin.clock left the clock, so a later ``at:`` cannot set it back unseen."""
        if channel != "admin" or infno != "admin.clock" or response.get("code") != "OK":
            return
        if not any(body.get(k) is not None for k in ("set", "advance", "speed")):
            return
        self.clock_moved_by = self.scenario.label(i)

    async def _not_back(self, i: int, target: datetime, where: str, mark: int) -> None:
        """An ``at:`` after a step that moved the clock itself (admin.clock) must not set it back."""
        if self.clock_moved_by is None:
            return
        answer = await self._admin("admin.clock", {}, f"{where}: reading the clock", mark)
        now = datetime.fromisoformat(str(answer.get("output", {}).get("now")))
        if target < now:
            start = self.scenario.start
            step = self.scenario.steps[i]
            assert step.at is not None
            raise self._fail(where, [
                f"at {offset_text(step.at)} is {_clock_text(target, start)}, but the clock already stands at "
                f"{_clock_text(now, start)}, where {self.clock_moved_by} moved it with admin.clock; at: counts from "
                f"the scenario start ({_clock_text(start, start)}) and never sets the clock back: write at: "
                f"{offset_text(now - start)} or later"], mark)

    def _where(self, i: int, channel: str, sender: str) -> str:
        step = self.scenario.steps[i]
        who = {"pos": f"pos {sender}", "app": f"app {sender}", "admin": "admin"}[channel]
        what = "raw bytes" if step.raw is not None else step.sent_infno
        when = f" at {offset_text(step.at)}" if step.at is not None else ""
        if step.wait is not None:
            when += f" after waiting {step.wait.total_seconds():g} s"
        return f"{self.scenario.label(i)}: {who} sends {what}{when}"

    def _msgid(self, i: int) -> str:
        step = self.scenario.steps[i]
        if isinstance(step.msgid, SameAs):
            return str(self.context[step.msgid.same_as]["msgid"])
        if step.msgid is not None:
            return str(substitute(step.msgid, self.context))
        return f"{self.prefix}-{i + 1:03d}"

    def _save(self, i: int, where: str, response: dict[str, Any], mark: int) -> None:
        step = self.scenario.steps[i]
        saved = self.context[step.name or f"#{i + 1}"]["saved"]
        for name, path in (step.save or {}).items():
            value = lookup(response, path)
            if value is MISSING:
                raise self._fail(where, [f"save {name}: the answer has no {path}"], mark)
            saved[name] = value

    # --- expectations --------------------------------------------------------------------------------

    async def _check(self, i: int, where: str, expect: Expect, response: dict[str, Any] | None, mark: int,
                     msgid: Any) -> None:
        try:
            expected, actual, extra = self._answer_checks(expect, response) if response is not None else ({}, {}, [])
            problems = [m.line() for m in match(expected, actual)] + extra
            if expect.events is not None or expect.events_absent is not None:
                # once the answer is wrong, the events will not come right: do not wait long for them
                patience = 0.2 if problems else EVENT_WAIT
                problems += await self._events(expect, mark, expected, actual, patience)
            if expect.needs_state():
                state_problems = await self._state(expect, where, mark, expected, actual)
                problems += state_problems
        except ReferenceError_ as exc:
            problems, expected, actual = [str(exc)], {}, {}
        if problems:
            await self._settle_log(msgid)
            raise self._fail(where, problems, mark, render_diff(expected, actual) if expected else "")

    def _answer_checks(self, expect: Expect, response: dict[str, Any]
                       ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        expected: dict[str, Any] = {}
        if expect.code is not None:
            expected["code"] = expect.code.value
        if expect.infcode is not None:
            expected["infcode"] = expect.infcode
        if expect.err_msg is not None:
            expected["err_msg"] = substitute(expect.err_msg, self.context)
        if expect.checks_refmsgid():
            expected["inf_refmsgid"] = substitute(expect.inf_refmsgid, self.context)
        if expect.output is not None:
            expected["output"] = substitute(expect.output, self.context)
        actual = dict(response)
        extra: list[str] = []
        contains = substitute(expect.err_msg_contains, self.context)
        if contains is not None and str(contains) not in str(response.get("err_msg")):
            extra.append(f"err_msg: expected it to contain {contains!r}, got {response.get('err_msg')!r}")
        if expect.same_response_as is not None:
            first = self.context[expect.same_response_as]["response"]
            if first != response:
                extra.append(f"the answer differs from step {expect.same_response_as!r}'s answer "
                             "(a repeated msgid must get the first answer again, byte for byte)")
                expected["same_response_as"] = first
                actual["same_response_as"] = response
        return expected, actual, extra

    async def _events(self, expect: Expect, mark: int, expected: dict[str, Any], actual: dict[str, Any],
                      patience: float) -> list[str]:
        wanted = [EventSpec(type=e) if isinstance(e, str) else e for e in expect.events or []]
        wanted = [EventSpec(type=e.type, data=substitute(e.data, self.context)) for e in wanted]

        def events(seen: list[Seen]) -> list[dict[str, Any]]:
            return [b for m in seen if m.topic == "events" and isinstance(b := m.body, dict)]

        def found(seen: list[Seen]) -> bool:
            return in_order(wanted, events(seen))

        problems: list[str] = []
        ok = await self.observer.wait(found, mark, patience)
        if expect.events_absent:
            await self._fence(mark, "checking events")
        seen = events(self.observer.log[mark:])
        types = [e.get("type") for e in seen]
        if not ok:
            shown = [w.type + (json.dumps(w.data, ensure_ascii=False, default=str) if w.data else "")
                     for w in wanted]
            problems.append(f"events: expected {shown} in this order, saw {types}")
        unwanted = [t for t in expect.events_absent or [] if t in types]
        if unwanted:
            problems.append(f"events: expected no {unwanted}, saw {types}")
        if expect.events is not None:
            expected["events"] = [w.type if not w.data else {"type": w.type, "data": w.data} for w in wanted]
            actual["events"] = [e.get("type") if not any(w.data for w in wanted) else e for e in seen]
        return problems

    async def _fence(self, mark: int, where: str) -> None:
        """An admin round trip after a step: its events, published before the switch read this, are in then.

        Without it a step's events can trail into the next step and satisfy that step's expectations.
        """
        answer = await self._admin("admin.state", {}, where, mark)
        await self._settle_log(answer.get("inf_refmsgid"))
        await self.session.quiesce()

    async def _state(self, expect: Expect, where: str, mark: int, expected: dict[str, Any],
                     actual: dict[str, Any]) -> list[str]:
        answer = await self._admin("admin.state", {}, f"{where}: reading admin.state", mark)
        state = answer.get("output", {})
        problems: list[str] = []
        if expect.balances is not None:
            balances = {p["psn_no"]: p["balc"] for p in state.get("people", [])}
            expected["balances"] = dict(expect.balances)
            actual["balances"] = balances
            problems += [m.line() for m in match(expected["balances"], balances, "balances")]
        if expect.windows is not None:
            wanted = [{"psn_no": w} if isinstance(w, str) else substitute(w, self.context)
                      for w in expect.windows]
            windows = state.get("windows", [])
            # whose window and where: a person may have one open at each institution
            keys = ["psn_no", "fixmedins_code", *sorted({k for w in wanted for k in w} - {"psn_no", "fixmedins_code"})]
            expected["windows"] = wanted
            actual["windows"] = [{k: w.get(k) for k in keys} for w in windows]
            if not same_set(wanted, windows):
                problems.append(f"windows: expected exactly {json.dumps(wanted, ensure_ascii=False)} open, "
                                f"found {json.dumps(actual['windows'], ensure_ascii=False)}")
        if expect.state is not None:
            wanted_state = substitute(expect.state, self.context)
            expected["state"] = wanted_state
            actual["state"] = state
            problems += [m.line() for m in match(wanted_state, state, "state")]
        return problems
