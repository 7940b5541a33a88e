"""Scenarios over the HTTP door of an in-process switch: the platform library, skips by door, HTTP in reports."""

from __future__ import annotations

from pathlib import Path

from terminal.scenarios.format import load_scenarios, parse_scenario
from terminal.scenarios.runner import Found, discover, run_scenarios
from terminal.scenarios.targets import EmbeddedTargets

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"


async def test_the_platform_scenarios_pass_over_http(tmp_path: Path) -> None:
    """Every scenario of scenarios/platform passes over the national door, as it does over MQTT."""
    found = discover([LIBRARY / "platform"])
    results = await run_scenarios(found, EmbeddedTargets(5.0, tmp_path, http=True))
    assert len(results) == sum(len(s) for _, s in found if isinstance(s, list)) >= 4
    assert [(r.name, r.status) for r in results if r.status != "passed"] == []


async def test_an_mqtt_only_scenario_is_skipped_over_http_and_runs_over_mqtt(tmp_path: Path) -> None:
    """doors: [mqtt] — skipped over HTTP with the reason, passed over MQTT."""
    path = LIBRARY / "flows" / "idempotency.yaml"
    found: list[Found] = [(path, load_scenarios(path)[:1])]
    (tmp_path / "h").mkdir()
    (tmp_path / "m").mkdir()
    over_http = await run_scenarios(found, EmbeddedTargets(5.0, tmp_path / "h", http=True))
    over_mqtt = await run_scenarios(found, EmbeddedTargets(5.0, tmp_path / "m"))
    assert [(r.status, r.reason) for r in over_http] == [("skipped", "runs on the mqtt door only (doors: in the "
                                                                     "scenario)")]
    assert [r.status for r in over_mqtt] == ["passed"]


async def test_a_failure_over_http_shows_the_exchange_and_the_events(tmp_path: Path) -> None:
    """A wrong expectation fails at its step; the report lists the POSTs, their answers and the SSE events."""
    scenario = parse_scenario({
        "name": "wrong balance over HTTP", "pos": {"terminal": "T1", "fixmedins_code": "P37050000001"},
        "people": [{"psn_no": "DH", "insuplc_admdvs": "370500", "balc": "500.00"}],
        "steps": [{"name": "card", "card": "DH", "expect": {"code": "OK"}},
                  {"name": "buy", "settle": {"psn_no": "DH", "amount": "10.00"},
                   "expect": {"code": "OK", "events": ["settlement.committed"], "balances": {"DH": "480.00"}}}]})
    found: list[Found] = [(tmp_path / "s.yaml", [scenario])]
    (result,) = await run_scenarios(found, EmbeddedTargets(5.0, tmp_path, http=True))
    assert result.status == "failed" and result.failure is not None
    text = result.details()
    assert "step 2 'buy'" in text and 'balances.DH: expected "480.00", got "490.00"' in text
    assert "→ fsi/api/rsfComIfsService/callService/req" in text
    assert "← fsi/api/rsfComIfsService/callService/resp" in text and "• events" in text
    assert '"fixmedins_code":"P37050000001"' in text and '"druginfo":{"psn_no":"DH"' in text


async def test_the_dropped_answer_flow_passes_over_both_doors(tmp_path: Path) -> None:
    """flows/dropped_answer.yaml: a drop_response expected as no answer (answer: none), then reversed by its
    msgid; over MQTT the answer never comes, over HTTP the door ends the connection."""
    path = LIBRARY / "flows" / "dropped_answer.yaml"
    found: list[Found] = [(path, load_scenarios(path))]
    for door in ("mqtt", "http"):
        (tmp_path / door).mkdir()
        results = await run_scenarios(found, EmbeddedTargets(5.0, tmp_path / door, http=door == "http"))
        assert [(r.status, r.details()) for r in results] == [("passed", "")], door


async def test_the_exchange_over_http_shows_answers_as_they_came(tmp_path: Path) -> None:
    """The answer's 0.0 (admin.clock's speed) is shown as the number it was, and the mismatch says which is text."""
    scenario = parse_scenario({"name": "speed as text", "steps": [
        {"infno": "admin.clock", "input": {}, "expect": {"output": {"speed": "0.0"}}}]})
    (result,) = await run_scenarios([(tmp_path / "s.yaml", [scenario])], EmbeddedTargets(5.0, tmp_path, http=True))
    assert result.failure is not None
    assert result.failure.problems == ['output.speed: expected "0.0" (text), got 0.0 (number)']
    assert '"speed":0.0' in result.details() and '"speed":"0.0"' not in result.details()
