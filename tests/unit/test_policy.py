"""Region policies as data: lookup order, the packaged starting set, and policy files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from switch.bootstrap import policies_from
from switch.core.policy import PolicyBook, load_policy_file, packaged_policies
from switch.errors import ConfigError


@pytest.mark.parametrize(("admdvs", "name"), [
    ("370500", "dongying"), ("370300", "zibo"), ("370100", "shandong"), ("371000", "shandong"),
    ("430100", "hunan"), ("430200", "hunan-off"), ("430500", "hunan-off"), ("431100", "hunan-off"),
    ("430800", "hunan-off"), ("110000", "national-2024"), ("440300", "national-2024"),
])
def test_policy_is_chosen_by_exact_code_then_province_then_default(admdvs: str, name: str) -> None:
    """Exact 6-digit code first, then the province ("37xxxx"), then "default"."""
    assert PolicyBook(packaged_policies()).for_region(admdvs).name == name


def test_starting_set_matches_domain_table() -> None:
    """The packaged policies carry DOMAIN.md's flows, windows, limits and relations."""
    book = {p.name: p for p in packaged_policies()}
    assert (book["dongying"].flow, book["dongying"].window_seconds, book["dongying"].max_relatives) == (
        "retry_window", Decimal(300), 7)
    assert "spouse_parent" in book["dongying"].relations and "spouse_parent" not in book["hunan"].relations
    assert (book["zibo"].flow, book["hunan"].max_relatives, book["national-2024"].max_relatives) == (
        "automatic", 10, 10)
    assert {"sibling", "grandparent", "grandchild"} <= set(book["national-2024"].relations)
    assert book["hunan-off"].flow == "disabled"
    assert book["zibo"].fund_ratio_for("310", "11") == Decimal("0.5")
    assert book["zibo"].fund_ratio_for("390", "11") == Decimal("0.4")
    assert book["zibo"].fund_ratio_for("310", "41") == Decimal(0)
    assert book["zibo"].fund_ratio_for("310", "99") == Decimal(0)


def test_no_pool_to_only_binds_holders_from_elsewhere() -> None:
    """Hunan: other regions' employees cannot pool to 长沙 residents; 长沙's own employees can."""
    hunan = PolicyBook(packaged_policies()).for_region("430600")
    assert hunan.refuses_pooling_to("430600", "430100", "390")
    assert not hunan.refuses_pooling_to("430100", "430100", "390")
    assert not hunan.refuses_pooling_to("430600", "430100", "310")


def test_policy_files_in_yaml_and_toml_add_or_replace_by_name(tmp_path: Path) -> None:
    """--policy FILE: YAML or TOML; entries replace packaged ones of the same name or are added."""
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text("- name: dongying\n  admdvs: ['370500']\n  flow: retry_window\n  window_seconds: 60\n")
    toml_file = tmp_path / "p.toml"
    toml_file.write_text('[[policies]]\nname = "beijing"\nadmdvs = ["110000"]\nflow = "automatic"\n')
    merged = {p.name: p for p in policies_from(yaml_file)}
    assert merged["dongying"].window_seconds == Decimal(60) and len(merged) == 6
    assert [p.name for p in load_policy_file(toml_file)] == ["beijing"]
    assert {p.name for p in policies_from(toml_file)} >= {"beijing", "zibo"}


@pytest.mark.parametrize(("text", "says"), [
    ("- name: x\n  admdvs: ['3705']\n  flow: automatic\n", "admdvs"),
    ("- name: x\n  admdvs: ['370500']\n  flow: sometimes\n", "flow"),
    ("- name: x\n  admdvs: ['370500']\n  flow: automatic\n  colour: red\n", "colour"),
    ("name: x\n", "expected a list"),
    ("- [unclosed\n", "p.yaml"),
])
def test_bad_policy_file_is_explained(tmp_path: Path, text: str, says: str) -> None:
    """A policy file that cannot be used stops the start with the file and the field named."""
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=says):
        policies_from(path)


@pytest.mark.parametrize(("name", "text", "says"), [
    ("p.yaml", "- name: x\n  window_seconds: [1,\n", "p.yaml: not valid YAML: line 3, column 1: while parsing a flow "
                                                     "node expected the node content, but found '<stream end>'"),
    ("p.json", '{"policies": [1,}', "p.json: not valid JSON: line 1, column 17: while parsing a flow node "
                                     "expected the node content, but found '}'"),
    ("p.toml", "a = \n", "p.toml: not valid TOML: Invalid value (at line 1, column 5)"),
])
def test_a_file_that_is_not_yaml_json_or_toml_is_one_line_naming_it(tmp_path: Path, name: str, text: str,
                                                                     says: str) -> None:
    """Where and what, in one line, the file named (PyYAML's own text was six lines and said <unicode string>)."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        policies_from(path)
    assert str(refused.value) == f"{tmp_path}/{says}"
