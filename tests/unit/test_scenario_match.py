"""Expectations against answers: subset matches over dotted paths, diffs, references, no-answer diagnoses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from terminal.scenarios.match import MISSING, ReferenceError_, lookup, match, render_diff, substitute, to_json
from terminal.scenarios.report import diagnose_no_answer
from terminal.scenarios.targets import Seen

ANSWER = {"code": "OK", "output": {
    "setlinfo": {"acct_mulaid_pay": "80.00", "balc": "0.00", "mulaid_psn_no": "DH"},
    "errors": [{"loc": ["input", "x"], "msg": "bad"}]}}


def test_dotted_paths_reach_into_dicts_and_lists() -> None:
    """setlinfo.balc and errors.0.loc address nested values; a wrong path is MISSING, not an error."""
    assert lookup(ANSWER, "output.setlinfo.balc") == "0.00"
    assert lookup(ANSWER, "output.errors.0.loc") == ["input", "x"]
    assert lookup(ANSWER, "output.errors.5.loc") is MISSING
    assert lookup(ANSWER, "output.setlinfo.balc.more") is MISSING


def test_a_subset_matches_and_each_difference_is_reported_with_its_path() -> None:
    """Only the named fields are compared; a wrong value and a missing one are two precise mismatches."""
    assert match({"output": {"setlinfo.acct_mulaid_pay": "80.00"}}, ANSWER) == []
    expected = {"code": "POOLING_AVAILABLE", "output": {"setlinfo": {"balc": "0.00", "setl_id": "x"}}}
    found = match(expected, ANSWER)
    assert [m.line() for m in found] == [
        'code: expected "POOLING_AVAILABLE", got "OK"',
        'output.setlinfo.setl_id: expected "x", but it is missing',
    ]


def test_a_mismatch_shows_json_with_the_kinds_where_they_differ() -> None:
    """Text against a number reads differently ("0.0" (text), 0.0 (number)); true against "true" too; a number
    compared by value with text is not told apart by kind; the diff keeps 80.00 a number."""
    lines = [m.line() for m in match({"a": "0.0", "b": True, "c": 1, "d": "x"},
                                     {"a": Decimal("0.0"), "b": "true", "c": "2", "d": "y"})]
    assert lines == ['a: expected "0.0" (text), got 0.0 (number)', 'b: expected true (boolean), got "true" (text)',
                     'c: expected 1, got "2"', 'd: expected "x", got "y"']
    assert '+  "a": 80.00' in render_diff({"a": "80"}, {"a": Decimal("80.00")})
    assert to_json({"a": [Decimal("0.0"), "<x>"]}, separators=(",", ":")) == '{"a":[0.0,"<x>"]}'


def test_unquoted_numbers_compare_by_value_quoted_text_exactly() -> None:
    """80 (YAML number) equals "80.00"; the text "80.0" does not; true is not 1."""
    assert match({"a": 80}, {"a": "80.00"}) == []
    assert match({"a": 300}, {"a": Decimal(300)}) == []
    assert match({"a": "80.0"}, {"a": "80.00"}) != []
    assert match({"a": True}, {"a": 1}) != []


def test_any_and_absent_markers() -> None:
    """"<any>" needs the key present with any value; "<absent>" needs it missing."""
    assert match({"setl_id": "<any>"}, {"setl_id": "SETL1"}) == []
    assert match({"setl_id": "<any>"}, {}) != []
    assert match({"balc": "<absent>"}, {}) == []
    lines = [m.line() for m in match({"balc": "<absent>"}, {"balc": "1.00"})]
    assert lines == ['balc: expected no such key, got "1.00"']


def test_lists_match_element_by_element_and_need_the_same_length() -> None:
    """An expected list is compared item by item; a different length is one mismatch for the list."""
    assert match({"l": [{"a": 1}, {"b": 2}]}, {"l": [{"a": 1, "z": 0}, {"b": 2}]}) == []
    assert len(match({"l": [{"a": 1}]}, {"l": [{"a": 1}, {"b": 2}]})) == 1


def test_the_diff_shows_expected_fields_against_actual_values_only() -> None:
    """The diff is of the expected shape: the answer's other fields do not clutter it."""
    diff = render_diff({"code": "OK", "output": {"setlinfo.acct_mulaid_pay": "70.00"}},
                       {"code": "OK", "output": {"setlinfo": {"acct_mulaid_pay": "80.00", "balc": "0.00"}}})
    assert '-    "setlinfo.acct_mulaid_pay": "70.00"' in diff
    assert '+    "setlinfo.acct_mulaid_pay": "80.00"' in diff
    assert "balc" not in diff


def test_references_fill_in_saved_values_msgids_and_answer_paths() -> None:
    """${step.x} looks in saved values, then msgid/infno, then the step's answer; whole strings keep types."""
    context = {"buy": {"msgid": "M1", "infno": "2102", "saved": {"id": "SETL0000000001"},
                       "response": {"output": {"setlinfo": {"balc": "1.00"}}, "infcode": 0}}}
    assert substitute({"setl_id": "${buy.id}", "omsgid": "${buy.msgid}", "n": "${buy.infcode}",
                       "text": "paid ${buy.output.setlinfo.balc} left"}, context) == {
        "setl_id": "SETL0000000001", "omsgid": "M1", "n": 0, "text": "paid 1.00 left"}
    with pytest.raises(ReferenceError_, match="its answer lacks it"):
        substitute("${buy.nothing}", context)


ROOT = "r"


def seen(topic: str, payload: str) -> Seen:
    return Seen(topic, payload.encode(), 0.0)


REQUEST = seen("pos/T1/req", '{"infno":"2102","msgid":"M1"}')


def test_no_answer_names_an_answer_for_another_msgid() -> None:
    """An answer on the right topic naming another inf_refmsgid is the cause given."""
    other = seen("pos/T1/resp", '{"inf_refmsgid":"M0","code":"OK","err_msg":"x"}')
    causes = diagnose_no_answer([REQUEST, other], ROOT, "pos/T1/req", "pos/T1/resp", "M1", 5)
    assert causes == ["an answer on r/pos/T1/resp names inf_refmsgid 'M0', not our 'M1': OK: x"]


def test_no_answer_names_a_message_on_an_unexpected_topic() -> None:
    """A message under the root on a topic nobody listens to is pointed out, with the right topic."""
    causes = diagnose_no_answer([REQUEST, seen("pos/T1/response", '{"inf_refmsgid":"M1"}')],
                                ROOT, "pos/T1/req", "pos/T1/resp", "M1", 5)
    assert causes == ["the answer to 'M1' was published on r/pos/T1/response, not on r/pos/T1/resp"]
    causes = diagnose_no_answer([REQUEST, seen("status", "up")], ROOT, "pos/T1/req", "pos/T1/resp", "M1", 5)
    assert causes[0].startswith("a message on an unexpected topic r/status")


def test_no_answer_with_silence_asks_whether_a_switch_listens_there() -> None:
    """Nothing at all: the report says so and asks about the switch and its topic root."""
    causes = diagnose_no_answer([REQUEST], ROOT, "pos/T1/req", "pos/T1/resp", "M1", 2)
    assert causes == ["nothing on r/pos/T1/resp within 2 s and nothing else under r/: is a switch running on "
                      "this broker with topic root 'r'?"]
    alive = diagnose_no_answer([REQUEST, seen("events", "{}")], ROOT, "pos/T1/req", "pos/T1/resp", "M1", 2)
    assert "it did not answer this request" in alive[0]


def test_no_answer_notices_a_request_the_broker_never_routed() -> None:
    """If our own request never came back through the broker, that is reported first."""
    causes = diagnose_no_answer([], ROOT, "pos/T1/req", "pos/T1/resp", "M1", 2)
    assert causes[0].startswith("our request never came back through the broker on r/pos/T1/req")
