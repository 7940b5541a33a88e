"""The scenario format: validation naming the problem, shorthands expanding to wire inputs, the schema."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from switch.core.codes import Code
from switch.core.policy import Policy
from switch.wire.events import EVENT_MODELS
from terminal.scenarios.format import (
    Scenario,
    ScenarioError,
    load_scenarios,
    offset_text,
    parse_scenario,
    scenario_schema,
)

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "scenarios"

FAMILY: dict[str, Any] = {
    "name": "sample",
    "pos": {"terminal": "T1", "fixmedins_code": "P37050000001"},
    "people": [{"psn_no": "DH", "insuplc_admdvs": 370500, "balc": 500},
               {"psn_no": "DR", "insuplc_admdvs": "370500", "insutype": 390}],
    "bindings": [{"holder_psn_no": "DH", "relative_psn_no": "DR", "rltn": "child"}],
}


def scenario(*steps: dict[str, Any], **top: Any) -> Scenario:
    return parse_scenario({**FAMILY, **top, "steps": list(steps)})


def refusal(*steps: dict[str, Any], **top: Any) -> str:
    with pytest.raises(ScenarioError) as caught:
        scenario(*steps, **top)
    return str(caught.value)


def test_settle_expands_to_the_pharmacy_input_with_the_patients_own_certificate() -> None:
    """settle: {psn_no, amount} becomes a full 2102 druginfo carrying the patient's own e-voucher."""
    s = scenario({"settle": {"psn_no": "DR", "amount": 80}})
    assert s.request(0) == ("2102", {"druginfo": {
        "psn_no": "DR", "mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDR", "medfee_sumamt": "80.00",
        "acct_used_flag": "1"}})
    assert s.actor(0) == ("pos", "T1", "P37050000001")


def test_settle_with_infno_2207_uses_data_and_another_card_when_asked() -> None:
    """infno 2207 puts the body under data; cert_of/cert_type present someone else's ID card."""
    s = scenario({"infno": 2207, "settle": {"psn_no": "DR", "amount": "12.3", "cert_of": "DH", "cert_type": 2,
                                            "flag": 0}})
    assert s.request(0) == ("2207", {"data": {
        "psn_no": "DR", "mdtrt_cert_type": "02", "mdtrt_cert_no": "IDDH", "medfee_sumamt": "12.3",
        "acct_used_flag": "0"}})


def test_reverse_of_a_step_refers_to_its_msgid_and_goes_out_from_its_terminal() -> None:
    """reverse: <step> becomes 2601 {psn_no, omsgid, oinfno} sent by the terminal of that step."""
    s = scenario({"name": "buy", "pos": {"terminal": "T7", "fixmedins_code": "P9"},
                  "settle": {"psn_no": "DR", "amount": "1.00"}}, {"reverse": "buy"})
    assert s.request(1) == ("2601", {"psn_no": "DR", "omsgid": "${buy.msgid}", "oinfno": "${buy.infno}"})
    assert s.actor(1) == ("pos", "T7", "P9")


def test_admin_infnos_go_to_the_admin_channel_without_saying_so() -> None:
    """A step sending admin.* needs no actor; a person's balance and default certificates load as given."""
    s = scenario({"infno": "admin.state"})
    assert s.actor(0) == ("admin", "admin", None)
    assert s.people[0].wire() == {"psn_no": "DH", "psn_name": "参保人DH", "insutype": "310",
                                  "insuplc_admdvs": "370500", "status": "active", "balc": "500.00",
                                  "certs": {"01": "QRDH", "02": "IDDH", "03": "SSDH"}}


SETTLE = {"settle": {"psn_no": "DR", "amount": 1}}


@pytest.mark.parametrize(("steps", "top", "says"), [
    ([{**SETTLE, "expect": {"cod": "OK"}}], {}, "\n  step 1: expect.cod: unknown key (typo?)"),
    ([SETTLE, {**SETTLE, "name": "b", "expcet": {}}], {}, "\n  step 2 'b': expcet: unknown key (typo?)"),
    ([{**SETTLE, "name": "a"}, {"name": "b", "reverse": "c"}], {},
     "\n  step 2 'b': refers to step 'c', which is not an earlier named step"),
    ([{**SETTLE, "expect": {"code": "POOLING_AVAILBLE"}}], {}, "POOLING_AVAILABLE"),
    ([{**SETTLE, "msgid": {"same_as": "later"}}], {}, "'later', which is not an earlier"),
    ([{"infno": "1101", "input": {"x": "${ghost.setl_id}"}}], {}, "refers to step 'ghost'"),
    ([{"at": "+5m", "infno": "admin.state"}, {"at": "+4m", "infno": "admin.state"}], {}, "moves forward"),
    ([{"at": "+5m", "infno": "admin.state"}], {"clock": "system"}, "use 'wait'"),
    ([{"infno": "app.bind", "input": {}}], {}, "needs 'app: <psn_no>'"),
    ([{"settle": {"psn_no": "NOBODY", "amount": 1}}], {}, "NOBODY is not among the scenario's people"),
    ([{**SETTLE, "card": "DR"}], {}, "give one of settle, card, reverse, raw"),
    ([{"infno": "2102"}, {"infno": "2102"}], {"pos": None}, "no actor"),
    ([{"name": "a", "infno": "1101"}, {"name": "a", "infno": "1101"}], {}, "step name 'a' used twice"),
])
def test_a_bad_scenario_is_refused_naming_the_problem(steps: list[dict[str, Any]], top: dict[str, Any],
                                                       says: str) -> None:
    """Typos, forward references, time going backwards, missing actors fail at load time, not at run time."""
    assert says in refusal(*steps, **top)


def test_a_file_that_is_not_yaml_names_the_file(tmp_path: Path) -> None:
    """load_scenarios turns a YAML error into a ScenarioError naming the file and the line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: [\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"(?s)bad\.yaml: not valid YAML.*line 3"):
        load_scenarios(bad)


def test_offsets_print_the_way_scenarios_write_them() -> None:
    """+4m59.999s and +5m read back the same in failure reports."""
    from datetime import timedelta

    assert offset_text(timedelta(minutes=4, seconds=59.999)) == "+4m59.999s"
    assert offset_text(timedelta(minutes=5)) == "+5m"
    assert offset_text(timedelta(seconds=90)) == "+1m30s"
    assert offset_text(timedelta(0)) == "+0s"


def test_the_exported_schema_accepts_a_sample_and_refuses_a_typo() -> None:
    """The JSON Schema for editors validates a scenario and rejects an unknown key, as the loader does."""
    schema = scenario_schema()
    sample = yaml.safe_load((LIBRARY / "dongying" / "window_edge_300s.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(sample, schema)
    typo = {**sample, "steps": [{**sample["steps"][0], "expct": {}}]}
    with pytest.raises(jsonschema.ValidationError, match="expct"):
        jsonschema.validate(typo, schema)


def test_the_committed_schema_file_is_current() -> None:
    """scenarios/scenario.schema.json (what editors load) equals what scenario-schema prints now."""
    committed = json.loads((LIBRARY / "scenario.schema.json").read_text(encoding="utf-8"))
    assert committed == scenario_schema()


@functools.cache
def _library() -> list[tuple[Path, Scenario]]:
    return [(path, s) for path in sorted(LIBRARY.rglob("*.yaml")) for s in load_scenarios(path)]


def test_every_library_scenario_loads_and_fits_the_schema() -> None:
    """The library has at least 40 scenarios in the region folders and flows, each valid by the schema too."""
    validator = jsonschema.Draft202012Validator(scenario_schema())
    found = _library()
    for path in sorted(LIBRARY.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            validator.validate(document)
    folders = {path.parent.name for path, _ in found}
    assert {"zibo", "dongying", "shandong", "hunan", "flows"} <= folders
    assert len(found) >= 40


def test_the_library_expects_every_protocol_code() -> None:
    """Every code of the protocol is the expected answer of some library step (INTERNAL_ERROR via admin.faults)."""
    expected = {step.expect.code for _, s in _library() for step in s.steps if step.expect.code is not None}
    assert set(Code) - expected == set()


def test_every_timing_edge_is_tested_on_both_sides() -> None:
    """For each window length in the library there is a step at the last millisecond and one at the edge."""
    offsets = {offset_text(step.at) for _, s in _library() for step in s.steps if step.at is not None}
    for inside, edge in (("+4m59.999s", "+5m"), ("+1m29.999s", "+1m30s"), ("+1m59.999s", "+2m")):
        assert {inside, edge} <= offsets, (inside, edge)


def test_a_start_without_a_zone_is_refused_as_admin_clock_refuses_it() -> None:
    """start: 2026-11-25 09:00 names no zone: refused in one line naming the field, as admin.clock's set is."""
    says = refusal({"infno": "admin.state"}, start="2026-11-25 09:00")
    assert says.splitlines()[1:] == [
        "  start: 2026-11-25 09:00:00 has no time zone; write it as 2026-11-25T09:00:00+08:00 (China time)"]
    assert scenario({"infno": "admin.state"}, start="2026-11-25T09:00:00Z").start.isoformat() == \
        "2026-11-25T09:00:00+00:00"
    assert scenario({"infno": "admin.state"}, start="2026-11-25T09:00:00+08:00").start.isoformat() == \
        "2026-11-25T09:00:00+08:00"


@pytest.mark.parametrize("event", sorted(EVENT_MODELS))
def test_every_event_type_of_the_switch_can_be_expected(event: str) -> None:
    """The event types are the switch's own (binding.requested and binding.declined too), in events and
    events_absent, bare or with data."""
    s = scenario({"infno": "admin.state", "expect": {"events": [event, {"type": event, "data": {}}],
                                                     "events_absent": [event]}})
    assert s.steps[0].expect.events_absent == [event]


def test_a_misspelt_event_type_is_one_line() -> None:
    """A typo in an event type is one line naming the place and the types, not one per way it could be read."""
    for written in ("binding.requsted", {"type": "binding.requsted"}):
        lines = refusal({"infno": "admin.state", "expect": {"events": [written]}}).splitlines()[1:]
        assert len(lines) == 1, lines
        assert lines[0].startswith("  step 1: expect.events.0") and "'binding.requested'" in lines[0]
        assert "EventSpec" not in lines[0] and "literal[" not in lines[0]


def test_every_policy_field_of_the_switch_can_be_set() -> None:
    """A scenario's policy takes every field of the switch's Policy (binding_consent, require_sign_in...), as a
    dict or in a list; YAML's numbers become the text the switch wants."""
    given: dict[str, Any] = {
        "name": "dongying", "admdvs": [370500], "flow": "retry_window", "window_seconds": 90, "max_relatives": 3,
        "relations": ["spouse"], "fund_ratio": {310: {"11": 0.5}}, "own_first": False,
        "no_pool_to": [{"admdvs": 430100, "insutype": 390}], "binding_consent": True, "require_sign_in": True}
    assert set(given) == set(Policy.model_fields)
    for policy in (given, [given]):
        (spec,) = scenario({"infno": "admin.state"}, policy=policy).policies
        wire = spec.over({})
        assert (wire["binding_consent"], wire["require_sign_in"], wire["admdvs"]) == (True, True, ["370500"])
        assert wire["fund_ratio"] == {"310": {"11": "0.5"}}
        assert wire["no_pool_to"] == [{"admdvs": "430100", "insutype": "390"}]
        Policy.model_validate(wire)  # what admin.policy is sent is a policy the switch accepts


@pytest.mark.parametrize("policy", [{"name": "dongying", "binding_consnt": True},
                                    [{"name": "dongying", "binding_consnt": True}]], ids=["dict", "list"])
def test_a_misspelt_policy_field_is_one_line(policy: Any) -> None:
    """An unknown policy key is one line naming it, without a line about the form it was not written in."""
    lines = refusal({"infno": "admin.state"}, policy=policy).splitlines()[1:]
    where = "policy" if isinstance(policy, dict) else "policy.0"
    assert lines == [f"  {where}.binding_consnt: unknown key (typo?)"]


def test_problems_of_several_steps_are_all_reported_in_step_order() -> None:
    """A step the scenario's checks refuse (an unknown person) and a later step with a misspelt key: both, the
    first first; a reference to a step that did not load is not a further problem."""
    lines = refusal({"name": "a", "settle": {"psn_no": "NOBODY", "amount": 1}},
                    {"name": "b", "infno": "admin.state", "expect": {"cod": "OK"}},
                    {"name": "c", "reverse": "b"},
                    {"name": "d", "reverse": "ghost"}).splitlines()[1:]
    assert lines == ["  step 1 'a': NOBODY is not among the scenario's people (whose card?)",
                     "  step 2 'b': expect.cod: unknown key (typo?)",
                     "  step 4 'd': refers to step 'ghost', which is not an earlier named step"]


def test_wait_is_refused_on_the_virtual_clock() -> None:
    """wait: is real time; on the virtual clock it would move nothing, so it is refused, pointing at at:."""
    says = refusal({"infno": "admin.state", "wait": "2s"})
    assert "step 1: wait: is real time and leaves the virtual clock where it is; to let virtual time pass " \
           "write at:" in says
    assert scenario({"infno": "admin.clock", "wait": "2s"}, clock="system").steps[0].wait is not None


def test_answer_none_leaves_nothing_of_an_answer_to_check() -> None:
    """answer: none with code or output, or with save, is refused; with events and balances it loads."""
    says = refusal({**SETTLE, "expect": {"answer": "none", "code": "OK", "output": {}}})
    assert "step 1: expect: answer: none expects no answer, so nothing of one can be checked; remove code, " \
           "output" in says
    assert "save needs an answer" in refusal({**SETTLE, "save": {"x": "output.y"}, "expect": {"answer": "none"}})
    s = scenario({**SETTLE, "expect": {"answer": "none", "events": ["settlement.committed"],
                                       "balances": {"DH": "500.00"}}})
    assert s.steps[0].expect.answer == "none"
