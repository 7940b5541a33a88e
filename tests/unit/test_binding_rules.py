"""The binding rules, as admin.load applies them (the member app shares the same rule code)."""

from __future__ import annotations

from typing import Any

import pytest

from switch.core import admin as admin_core
from switch.core.codes import Code
from switch.core.model import Decision, UseCap
from switch.wire.inputs import Load
from tests.support.families import person
from tests.unit.core_helpers import T0, commit, new_state


def bind(holder: str, relative: str, rltn: str = "child", **extra: Any) -> dict[str, Any]:
    return {"holder_psn_no": holder, "relative_psn_no": relative, "rltn": rltn, **extra}


PEOPLE = [
    person("H", "370500", "100.00"), person("H2", "370500", "100.00"), person("R", "370500", insutype="390"),
    person("RES", "370500", insutype="390"), person("SUS", "370500", "5.00", status="suspended"),
    person("ZB", "370300", "100.00"), person("ZR", "370300", insutype="390"),
    person("BJ", "110100", insutype="390"), person("CS", "430100", insutype="390"),
    person("CSE", "430100", "10.00"), person("YY", "430600", "10.00"), person("ZZ", "430200", "10.00"),
    person("ZZR", "430200", insutype="390"), person("YYR", "430600", insutype="390"),
]

CASES = [
    ([bind("H", "R")], None),
    ([bind("H", "H")], Code.SELF_BINDING),
    ([bind("RES", "R")], Code.HOLDER_NOT_EMPLOYEE),
    ([bind("SUS", "R")], Code.HOLDER_SUSPENDED),
    ([bind("H", "SUS", "spouse")], Code.INSURANCE_SUSPENDED),
    ([bind("H", "R"), bind("H2", "R")], Code.RELATIVE_ALREADY_BOUND),  # rule 1: one holder per relative
    ([bind("H2", "R"), bind("H", "H2", "spouse")], Code.RELATIVE_IS_HOLDER),  # rule 2
    ([bind("H", "H2", "spouse"), bind("H2", "R")], Code.HOLDER_IS_RELATIVE),  # rule 3
    ([bind("H", "NOBODY")], Code.PERSON_NOT_FOUND),
    ([bind("NOBODY", "R")], Code.PERSON_NOT_FOUND),
    ([bind("H", "R", "spouse_parent")], None),  # Dongying allows the spouse's parents
    ([bind("ZB", "ZR", "spouse_parent")], Code.RELATION_NOT_ALLOWED),  # Zibo does not
    ([bind("ZB", "ZR", "sibling")], Code.RELATION_NOT_ALLOWED),
    ([bind("YY", "YYR", "spouse_parent")], Code.RELATION_NOT_ALLOWED),  # Hunan explicitly does not
    ([bind("H", "BJ")], Code.REGION_NOT_ALLOWED),  # relative must be insured in the same province
    ([bind("H", "ZR")], None),  # same province, other city: fine
    ([bind("ZZ", "ZZR")], Code.REGION_NOT_ALLOWED),  # 株洲: pooling switched off
    ([bind("YY", "ZZR")], Code.REGION_NOT_ALLOWED),  # nor to relatives insured there
    ([bind("YY", "CS")], Code.REGION_NOT_ALLOWED),  # other Hunan employees → 长沙 residents: no
    ([bind("CSE", "CS")], None),  # 长沙 employee → 长沙 resident: yes
    ([bind("YY", "YYR")], None),
]


@pytest.mark.parametrize(("bindings", "code"), CASES)
def test_binding_rule(bindings: list[dict[str, Any]], code: Code | None) -> None:
    """Each binding rule of DOMAIN.md refuses with its own code; a refused load changes nothing."""
    state = new_state()
    decision = admin_core.load(state, Load.model_validate({"people": PEOPLE, "bindings": bindings}), T0)
    if code is None:
        assert decision.code is Code.OK
        commit(state, decision)
        assert {b.relative: b.holder for b in state.binding_of.values()} == {
            b["relative_psn_no"]: b["holder_psn_no"] for b in bindings}
    else:
        assert decision.code is code, decision.err_msg
        assert decision.effects == ()
        assert decision.output["errors"][0]["loc"] == ["input", "bindings", len(bindings) - 1]  # type: ignore[index]


@pytest.mark.parametrize(("admdvs", "limit"), [("370500", 7), ("370300", 7), ("370100", 7), ("430600", 10),
                                               ("110100", 10)])
def test_max_relatives_per_region(admdvs: str, limit: int) -> None:
    """7 relatives in Dongying/Zibo/Shandong, 10 in Hunan and by the national default; one more is refused."""
    people = [person("H", admdvs, "10.00")] + [person(f"R{i}", admdvs, insutype="390") for i in range(limit + 1)]
    bindings = [bind("H", f"R{i}") for i in range(limit)]
    state = new_state()
    ok = admin_core.load(state, Load.model_validate({"people": people, "bindings": bindings}), T0)
    assert ok.code is Code.OK
    commit(state, ok)
    over = admin_core.load(state, Load.model_validate({"bindings": [bind("H", f"R{limit}")]}), T0)
    assert over.code is Code.MAX_RELATIVES


def test_load_refuses_a_certificate_of_someone_else() -> None:
    """A certificate number belongs to one person: loading it for another is INVALID_REQUEST."""
    state = new_state()
    commit(state, admin_core.load(state, Load.model_validate({"people": [person("A", "370500", "1.00")]}), T0))
    other = person("B", "370500", "1.00")
    other["certs"] = {"01": "QRA"}
    d = admin_core.load(state, Load.model_validate({"people": [other]}), T0)
    assert d.code is Code.INVALID_REQUEST and d.output["errors"][0]["loc"] == ["input", "people", 0, "certs", "01"]  # type: ignore[index]


def test_resident_cannot_be_loaded_with_a_balance() -> None:
    """Resident-insured people have no personal account: a balc is a validation error."""
    with pytest.raises(ValueError, match="no personal account"):
        Load.model_validate({"people": [person("R", "370500", "5.00", insutype="390")]})


def test_the_same_binding_in_a_later_load_updates_it() -> None:
    """Binding a relative the holder already has, in a later load, updates the relation and keeps one binding."""
    state = new_state()
    commit(state, admin_core.load(state, Load.model_validate({"people": PEOPLE, "bindings": [bind("H", "R")]}), T0))
    again = admin_core.load(state, Load.model_validate({"bindings": [bind("H", "R", "parent")]}), T0)
    assert again.code is Code.OK
    commit(state, again)
    assert [(b.holder, b.relative, b.rltn) for b in state.binding_of.values()] == [("H", "R", "parent")]


@pytest.mark.parametrize(("given", "cap"), [({}, 10_000), ({"cap": None}, None), ({"cap": "50.00"}, 5_000)])
def test_a_later_load_keeps_the_cap_unless_it_names_one(given: dict[str, Any], cap: int | None) -> None:
    """Like a person's balc, a binding's cap omitted in a later load is kept (a spending limit is never lifted
    unasked); "cap": null removes it, an amount sets it. Usage stays in every case."""
    state = new_state()
    first = Load.model_validate({"people": PEOPLE, "bindings": [bind("H", "R", cap="100.00")]})
    commit(state, admin_core.load(state, first, T0))
    commit(state, Decision(Code.OK, effects=(UseCap("R", "H", 8_000, state.binding_of["R"].bid),)))
    again = admin_core.load(state, Load.model_validate({"bindings": [bind("H", "R", "parent", **given)]}), T0)
    assert again.code is Code.OK
    commit(state, again)
    binding = state.binding_of["R"]
    assert (binding.rltn, binding.cap, binding.used) == ("parent", cap, 8_000)


@pytest.mark.parametrize(("load", "section", "first", "second"), [
    ({"people": [person("A", "370500", "500.00"), person("B", "370500"), person("A", "370500", "100.00")]},
     "people", 0, 2),
    ({"people": [person("B", "370500"), person("A", "370500", "50.00"), person("A", "370500", insutype="390")]},
     "people", 1, 2),
    ({"people": PEOPLE, "bindings": [bind("H", "R"), bind("H", "RES"), bind("H", "R", "parent", cap="1.00")]},
     "bindings", 0, 2),
])
def test_load_refuses_an_entry_listed_twice(load: dict[str, Any], section: str, first: int, second: int) -> None:
    """A person (or a holder's binding of one relative) listed twice is INVALID_REQUEST naming both, nothing loaded."""
    state = new_state()
    commit(state, admin_core.load(state, Load.model_validate({"people": [person("A", "370500", "300.00")]}), T0))
    decision = admin_core.load(state, Load.model_validate(load), T0)
    key = "psn_no" if section == "people" else "relative_psn_no"
    assert decision.code is Code.INVALID_REQUEST
    assert [e["loc"] for e in decision.output["errors"]] == [  # type: ignore[index]
        ["input", section, first, key], ["input", section, second, key]]
    assert decision.effects == () and decision.events == ()
    assert state.people["A"].balc == 300_00 and state.people["A"].insutype == "310"


@pytest.mark.parametrize(("rltn", "change", "field", "code"), [
    ("child", [person("H", "430100", "100.00")], "insuplc_admdvs", Code.REGION_NOT_ALLOWED),  # the holder moves
    ("child", [person("R", "110100", insutype="390")], "insuplc_admdvs", Code.REGION_NOT_ALLOWED),  # the relative
    ("spouse_parent", [person("H", "370300", "100.00")], "insuplc_admdvs", Code.RELATION_NOT_ALLOWED),  # Zibo
    ("child", [person("H", "370500", insutype="390")], "insutype", Code.HOLDER_NOT_EMPLOYEE),  # account emptied
])
def test_a_load_that_would_break_a_binding_it_keeps_is_refused(rltn: str, change: list[dict[str, Any]], field: str,
                                                               code: Code) -> None:
    """The binding rules hold for bindings already made when admin.load changes their people: a holder moved to
    another province kept pooling to relatives at home (Hunan's automatic flow paid 10.00 of DH's account)."""
    state = new_state()
    made = Load.model_validate({"people": PEOPLE, "bindings": [bind("H", "R", rltn)]})
    commit(state, admin_core.load(state, made, T0))
    commit(state, admin_core.load(state, Load.model_validate({"people": [person("H", "370500", "0.00")]}), T0))
    decision = admin_core.load(state, Load.model_validate({"people": change}), T0)
    assert decision.code is Code.INVALID_REQUEST and decision.output is not None and decision.err_msg is not None
    error = decision.output["errors"][0]
    assert error["loc"] == ["input", "people", 0, field] and error["code"] == code.value
    assert "H → R" in decision.err_msg and "unbind" in decision.err_msg
    assert decision.effects == ()


def test_a_family_moved_together_keeps_its_binding() -> None:
    """Holder and relative moved to another province in one load: the binding still holds the rules."""
    state = new_state()
    commit(state, admin_core.load(state, Load.model_validate({"people": PEOPLE, "bindings": [bind("H", "R")]}), T0))
    moved = admin_core.load(state, Load.model_validate(
        {"people": [person("H", "430100", "100.00"), person("R", "430100", insutype="390")]}), T0)
    assert moved.code is Code.OK


def test_an_employee_made_resident_with_the_account_emptied_in_the_same_entry() -> None:
    """insutype 390 with balc 0.00 in one entry empties the account through the ledger; without it, refused."""
    state = new_state()
    commit(state, admin_core.load(state, Load.model_validate({"people": PEOPLE}), T0))
    kept = admin_core.load(state, Load.model_validate({"people": [person("H2", "370500", insutype="390")]}), T0)
    assert kept.code is Code.INVALID_REQUEST and kept.err_msg is not None and '"balc": "0.00"' in kept.err_msg
    emptied = admin_core.load(state, Load.model_validate({"people": [person("H2", "370500", "0.00", insutype="390")]}),
                              T0)
    assert emptied.code is Code.OK
    commit(state, emptied)
    assert (state.people["H2"].insutype, state.people["H2"].balc) == ("390", 0)
