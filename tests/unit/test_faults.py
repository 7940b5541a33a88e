"""Fault rules: matching in order, spending ``times``, channels, delays, and the rule file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from switch.service.faults import Fault, FaultBook, FaultFileError, load_fault_file
from switch.wire.inputs import FaultRule


def rules(*items: dict[str, object]) -> list[FaultRule]:
    return [FaultRule.model_validate(item) for item in items]


def test_first_live_matching_rule_wins_in_order() -> None:
    """Rules are tried in order: the first one whose match fits decides the fault."""
    book = FaultBook(rules({"match": {"infno": "2102"}, "action": "drop_response"},
                           {"action": "error"}))
    assert book.match("pos", "T1", "2102") == Fault("drop_response")
    assert book.match("pos", "T1", "2103") == Fault("error")


def test_times_fails_n_times_then_the_next_rule_or_nothing() -> None:
    """``times: 2`` hits two matching requests; the third falls through to later rules, then to none."""
    book = FaultBook(rules({"match": {"terminal_id": "T1"}, "action": "error", "times": 2},
                           {"match": {"terminal_id": "T1"}, "action": "drop_request", "times": 1}))
    seen = [book.match("pos", "T1", "2102") for _ in range(4)]
    assert [f.action if f else None for f in seen] == ["error", "error", "drop_request", None]
    assert [r["left"] for r in book.view()] == [0, 0]


def test_terminal_id_matches_only_that_pos_sender_and_admin_is_never_faulted() -> None:
    """``terminal_id`` is the pos sender; a rule without it hits app requests too, never admin ones."""
    book = FaultBook(rules({"match": {"terminal_id": "T1"}, "action": "error"}))
    assert book.match("pos", "T2", "2102") is None
    assert book.match("app", "T1", "app.bind") is None
    catch_all = FaultBook(rules({"action": "drop_request"}))
    assert catch_all.match("app", "DH", "app.bind") == Fault("drop_request")
    assert catch_all.match("admin", "admin", "admin.faults") is None


def test_replacing_rules_restarts_counters_and_empty_list_clears() -> None:
    """admin.faults replaces the whole set: new counters; ``[]`` means no fault at all."""
    book = FaultBook(rules({"action": "error", "times": 1}))
    assert book.match("pos", "T1", "1101") is not None
    book.replace(rules({"action": "error", "times": 1}))
    assert book.match("pos", "T1", "1101") is not None
    book.replace([])
    assert book.match("pos", "T1", "1101") is None and book.view() == []


def test_delay_range_is_drawn_per_request_within_bounds() -> None:
    """``delay_ms: [min, max]`` draws a fresh delay for each request, always inside the range."""
    book = FaultBook(rules({"action": "delay_response", "delay_ms": [100, 300]}), random.Random(7))
    delays = [book.match("pos", "T1", "2102").delay for _ in range(200)]  # type: ignore[union-attr]
    assert all(0.1 <= d <= 0.3 for d in delays)
    assert len(set(delays)) > 100 and min(delays) < 0.15 and max(delays) > 0.25


def test_sends_say_when_the_answer_goes_out() -> None:
    """Each action becomes a schedule of sends: none, one late, two, or one at once."""
    assert Fault("drop_response").sends() == ()
    assert Fault("delay_response", 1.5).sends() == (1.5,)
    assert Fault("duplicate_response", 0.2).sends() == (0.0, 0.2)
    assert Fault("duplicate_response").sends() == (0.0, 0.0)


@pytest.mark.parametrize(("rule", "problem"), [
    ({"action": "delay_response"}, "delay_response needs delay_ms"),
    ({"action": "error", "delay_ms": 10}, "delay_ms applies to delay_response"),
    ({"action": "delay_response", "delay_ms": [500, 100]}, "min above max"),
    ({"action": "explode"}, "Input should be"),
    ({"action": "error", "times": 0}, "greater than or equal to 1"),
    ({"action": "error", "match": {"terminal": "T1"}}, "Extra inputs"),
])
def test_bad_rules_are_refused_with_the_reason(rule: dict[str, object], problem: str) -> None:
    """A rule that cannot mean anything precise is refused, saying why."""
    with pytest.raises(ValidationError, match=problem):
        FaultRule.model_validate(rule)


def test_fault_file_in_yaml_list_or_rules_key(tmp_path: Path) -> None:
    """``--faults FILE`` reads a YAML list of rules, or a mapping with ``rules:``; JSON is YAML."""
    listed = tmp_path / "faults.yaml"
    listed.write_text("- {match: {terminal_id: T1, infno: '2102'}, action: drop_response, times: 1}\n"
                      "- action: delay_response\n  delay_ms: [100, 200]\n")
    keyed = tmp_path / "faults.json"
    keyed.write_text('{"rules": [{"action": "duplicate_response"}]}')
    assert [r.action for r in load_fault_file(listed)] == ["drop_response", "delay_response"]
    assert load_fault_file(listed)[1].delay_ms == (100, 200)
    assert [r.action for r in load_fault_file(keyed)] == ["duplicate_response"]


def test_bad_fault_file_names_the_rule(tmp_path: Path) -> None:
    """A broken rule file is a start-up error naming the file, the rule number and the field."""
    path = tmp_path / "faults.yaml"
    path.write_text("- action: error\n- action: delay_response\n")
    with pytest.raises(FaultFileError, match=r"faults.yaml: rule #2: rule: Value error, delay_response needs"):
        load_fault_file(path)
    with pytest.raises(FaultFileError, match="No such file"):
        load_fault_file(tmp_path / "missing.yaml")
