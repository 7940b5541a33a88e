"""The scenario runner on a switch over a real broker (amqtt and mosquitto): passes, failures, diagnoses."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from terminal.scenarios.format import load_scenarios, parse_scenario
from terminal.scenarios.runner import Runner
from terminal.scenarios.targets import RemoteTargets, RunnerError
from tests.support.misbehaving import misbehaving_switch
from tests.support.switches import InProcessSwitch

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"

WINDOW: dict[str, Any] = {
    "name": "window edge, wrongly expected",
    "pos": {"terminal": "T1", "fixmedins_code": "P37050000001"},
    "people": [{"psn_no": "DH", "insuplc_admdvs": "370500", "balc": "500.00"},
               {"psn_no": "DR", "insuplc_admdvs": "370500", "insutype": "390"}],
    "bindings": [{"holder_psn_no": "DH", "relative_psn_no": "DR", "rltn": "child"}],
    "steps": [
        {"name": "first", "settle": {"psn_no": "DR", "amount": "80.00"},
         "expect": {"code": "POOLING_AVAILABLE"}},
        {"name": "second", "at": "+5m", "settle": {"psn_no": "DR", "amount": "80.00"},
         "expect": {"code": "OK", "output": {"setlinfo.acct_mulaid_pay": "80.00"},
                    "balances": {"DH": "420.00"}}},
        {"name": "never-run", "infno": "admin.state"},
    ],
}


def runner_on(live: InProcessSwitch, timeout: float = 3.0) -> Runner:
    return Runner(RemoteTargets(live.url, live.root, None, timeout), timeout)


async def test_library_scenarios_pass_on_a_running_switch_from_a_fresh_state(live: InProcessSwitch) -> None:
    """A running virtual-clock switch runs library scenarios; one runs twice since each starts reset."""
    runner = runner_on(live)
    try:
        scenario = load_scenarios(LIBRARY / "dongying" / "cap_per_relative.yaml")[0]
        for _ in range(2):
            result = await runner.run(scenario)
            assert (result.status, result.steps_run, result.details()) == ("passed", 5, "")
    finally:
        await runner.targets.close()


async def test_a_failed_expectation_shows_the_step_the_diff_and_the_messages(live: InProcessSwitch) -> None:
    """The report names the step and its time, each mismatch, a diff of expected vs actual, the exchange."""
    runner = runner_on(live)
    try:
        result = await runner.run(parse_scenario(WINDOW))
    finally:
        await runner.targets.close()
    assert (result.status, result.steps_run) == ("failed", 1)
    failure = result.failure
    assert failure is not None
    assert failure.step == "step 2 'second': pos T1 sends 2102 at +5m"
    assert failure.problems == [
        'code: expected "OK", got "POOLING_AVAILABLE"',
        'output.setlinfo.acct_mulaid_pay: expected "80.00", but it is missing',
        'balances.DH: expected "420.00", got "500.00"',
    ]
    assert '-  "code": "OK",' in failure.diff and '+  "code": "POOLING_AVAILABLE",' in failure.diff
    assert '-    "DH": "420.00"' in failure.diff and '+    "DH": "500.00"' in failure.diff
    topics = [m.topic for m in failure.exchanged]
    assert topics[:2] == ["admin/req", "admin/resp"]  # the clock moved to +5m
    request = next(m.body for m in failure.exchanged if m.topic == "pos/T1/req")
    answer = next(m.body for m in failure.exchanged if m.topic == "pos/T1/resp")
    assert request["input"]["druginfo"]["medfee_sumamt"] == "80.00"
    assert (answer["inf_refmsgid"], answer["code"]) == (request["msgid"], "POOLING_AVAILABLE")
    text = failure.text()
    assert f"messages exchanged (topics under {live.root}/)" in text
    assert "→ pos/T1/req" in text and "← pos/T1/resp" in text and "• events" in text


@pytest.mark.parametrize(("mode", "cause"), [
    ("other-msgid", "an answer on {root}/pos/T1/resp names inf_refmsgid 'T1-999999', not our '{msgid}': "
                    "OK: success"),
    ("other-topic", "the answer to '{msgid}' was published on {root}/pos/T1/response, not on "
                    "{root}/pos/T1/resp"),
    ("silent", "nothing on {root}/pos/T1/resp within 0.5 s and nothing else under {root}/: is a switch "
               "running on this broker with topic root '{root}'?"),
], ids=["other-msgid", "other-topic", "silent"])
async def test_a_step_without_an_answer_says_why(broker_url: str, topic_root: str, mode: str,
                                                 cause: str) -> None:
    """No answer: the report names the answer for another msgid, the answer on another topic, or silence."""
    scenario = parse_scenario({"name": "timeouts", "audit": False,
                               "pos": {"terminal": "T1", "fixmedins_code": "P1"},
                               "steps": [{"name": "buy", "msgid": "T1-000001", "timeout": "0.5s",
                                          "infno": "2102", "input": {}}]})
    async with misbehaving_switch(broker_url, topic_root, mode):
        runner = Runner(RemoteTargets(broker_url, topic_root, None, 2.0), 2.0)
        try:
            result = await runner.run(scenario)
        finally:
            await runner.targets.close()
    assert result.failure is not None
    assert result.failure.step == "step 1 'buy': pos T1 sends 2102"
    assert result.failure.problems == ["no answer", cause.format(root=topic_root, msgid="T1-000001")]


async def test_events_of_one_step_never_count_for_the_next(live: InProcessSwitch) -> None:
    """A step expecting window.opened fails if only the step before opened the window."""
    look = {"name": "look", "infno": "admin.state", "expect": {"events": ["window.opened"]}}
    steps = [WINDOW["steps"][0], look]
    runner = runner_on(live)
    try:
        result = await runner.run(parse_scenario({**WINDOW, "steps": steps}))
    finally:
        await runner.targets.close()
    assert result.failure is not None
    assert result.failure.problems == ["events: expected ['window.opened'] in this order, saw []"]


async def test_what_the_target_cannot_run_is_skipped_with_the_reason(live: InProcessSwitch) -> None:
    """On a virtual-clock switch without a token, system-clock and token scenarios are skipped, saying why."""
    runner = runner_on(live)
    try:
        system = await runner.run(load_scenarios(LIBRARY / "flows" / "clock_not_virtual.yaml")[0])
        token = await runner.run(load_scenarios(LIBRARY / "flows" / "admin_token.yaml")[0])
    finally:
        await runner.targets.close()
    assert (system.status, system.reason) == (
        "skipped", "needs a switch on the system clock (the target runs a virtual clock)")
    assert (token.status, token.reason) == (
        "skipped", "needs a switch started with --admin-token, and --token given to the runner")


async def test_no_switch_on_the_topic_root_stops_the_run_with_advice(live: InProcessSwitch) -> None:
    """A wrong --root is not a pile of timeouts: the runner says what to check, once, not per scenario."""
    targets = RemoteTargets(live.url, live.root + "-wrong", None, 0.5)
    scenario = load_scenarios(LIBRARY / "zibo" / "holder_zero_cash.yaml")[0]
    try:
        with pytest.raises(RunnerError, match=r"no switch answered admin.clock on .*-wrong/admin/req within"):
            await Runner(targets).run(scenario)
        started = time.monotonic()
        with pytest.raises(RunnerError, match="no switch answered"):
            await Runner(targets).run(scenario)
        assert time.monotonic() - started < 0.1
    finally:
        await targets.close()


ZIBO_FAMILY: dict[str, Any] = {
    "pos": {"terminal": "Z1", "fixmedins_code": "P37030000001"},
    "people": [{"psn_no": "ZH", "insuplc_admdvs": "370300", "balc": "200.00"},
               {"psn_no": "ZR", "insuplc_admdvs": "370300", "insutype": "390"}],
    "bindings": [{"holder_psn_no": "ZH", "relative_psn_no": "ZR", "rltn": "parent"}],
}
DROP = {"name": "fault", "infno": "admin.faults",
        "input": {"rules": [{"match": {"infno": "2102"}, "action": "drop_response", "times": 1}]}}


async def run_on(live: InProcessSwitch, document: dict[str, Any]) -> Any:
    runner = runner_on(live)
    try:
        return await runner.run(parse_scenario(document))
    finally:
        await runner.targets.close()


async def test_a_dropped_answer_is_not_blamed_on_the_events_topics(live: InProcessSwitch) -> None:
    """drop_response: "no answer", and the events on …/events/pos/Z1 and …/events/app/ZR are not listed as
    answers on an unexpected topic; the one cause given says the switch did not answer, naming answer: none."""
    result = await run_on(live, {**ZIBO_FAMILY, "name": "dropped, expected", "audit": False, "steps": [
        DROP, {"name": "buy", "settle": {"psn_no": "ZR", "amount": "80.00"}, "timeout": "0.5s",
               "expect": {"code": "OK"}}]})
    assert result.failure is not None
    problems = result.failure.problems
    assert problems[0] == "no answer" and len(problems) == 2, problems
    assert problems[1].startswith(f"nothing on {live.root}/pos/Z1/resp within 0.5 s, though the switch published ")
    assert problems[1].endswith("it did not answer this request (a fault rule's drop_response or drop_request does "
                                "this; expect: {answer: none} expects it)")
    assert any(m.topic.startswith("events/") for m in result.failure.exchanged)  # they were there, and not blamed


async def test_answer_none_fails_when_an_answer_comes(live: InProcessSwitch) -> None:
    """A step expecting no answer that gets one fails, saying what came."""
    result = await run_on(live, {**ZIBO_FAMILY, "name": "answered after all", "steps": [
        {"name": "buy", "settle": {"psn_no": "ZR", "amount": "80.00"}, "expect": {"answer": "none"}}]})
    assert result.failure is not None
    assert result.failure.problems == ["expected no answer (answer: none) within 1 s, got one: OK: 结算成功"]


async def test_at_after_admin_clock_moved_further_fails_naming_both_times(live: InProcessSwitch) -> None:
    """admin.clock advanced the clock to 10:10; a later at: +1m would set it back to 10:01: the step fails in one
    line naming both times and the step that moved the clock. at: +10m (where it stands) is fine."""
    jump = {"name": "jump", "infno": "admin.clock", "input": {"advance": "10m"}, "expect": {"code": "OK"}}
    late = {"name": "late", "at": "+1m", "settle": {"psn_no": "ZR", "amount": "80.00"}}
    result = await run_on(live, {**ZIBO_FAMILY, "name": "back in time", "steps": [jump, late]})
    assert result.failure is not None
    assert result.failure.step == "step 2 'late': pos Z1 sends 2102 at +1m"
    assert result.failure.problems == [
        "at +1m is 10:01:00, but the clock already stands at 10:10:00, where step 1 'jump' moved it with "
        "admin.clock; at: counts from the scenario start (10:00:00) and never sets the clock back: write at: +10m "
        "or later"]
    result = await run_on(live, {**ZIBO_FAMILY, "name": "at the clock", "steps": [jump, {**late, "at": "+10m"}]})
    assert result.status == "passed", result.details()


async def test_a_text_expected_where_a_number_came_shows_both_kinds(live: InProcessSwitch) -> None:
    """"0.0" expected, the number 0.0 answered: the line shows them differing, and the exchange shows the answer's
    0.0 as the number it was on the wire."""
    result = await run_on(live, {"name": "speed as text", "steps": [
        {"infno": "admin.clock", "input": {}, "expect": {"output": {"speed": "0.0"}}}]})
    assert result.failure is not None
    assert result.failure.problems == ['output.speed: expected "0.0" (text), got 0.0 (number)']
    text = result.failure.text()
    assert '"speed":0.0' in text and '"speed":"0.0"' not in text
    assert '+    "speed": 0.0' in result.failure.diff


async def test_a_windows_failure_names_the_institutions(live: InProcessSwitch) -> None:
    """Two windows of DR, at two pharmacies: the windows line shows where each is open."""
    steps = [{"settle": {"psn_no": "DR", "amount": "80.00"}},
             {"pos": {"terminal": "T2", "fixmedins_code": "P37050000002"}, "settle": {"psn_no": "DR", "amount": "9"},
              "expect": {"code": "POOLING_AVAILABLE", "windows": ["DR"]}}]
    result = await run_on(live, {**WINDOW, "name": "two windows", "steps": steps})
    assert result.failure is not None
    assert result.failure.problems == [
        'windows: expected exactly [{"psn_no": "DR"}] open, found [{"psn_no": "DR", "fixmedins_code": '
        '"P37050000001"}, {"psn_no": "DR", "fixmedins_code": "P37050000002"}]']
