"""The bench's HTTP part and the half-rate soak, run for real at their smallest: real processes, real figures."""

from __future__ import annotations

import json

import pytest

from terminal.cli import main as terminal_main
from terminal.load.soakrun import soak_half_rate

pytestmark = pytest.mark.e2e


def test_bench_http_part_prints_json_targets_whose_verdicts_follow_the_figures(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Echo and switch on the HTTP door, one short run each: three targets, each met exactly when its ratio is."""
    code = terminal_main(["bench", "--parts", "http", "--repeat", "1", "--duration", "1.5", "--terminals", "4",
                          "--people", "100", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    figures = out["doors"]["HTTP"]
    assert figures["all_healthy"] is True and figures["echo_rps"] > 0 and figures["switch_rps"] > 0
    assert figures["half_rate"] == round(figures["switch_rps"] / 2)
    assert [t["target"] for t in out["targets"]] == [
        "HTTP: throughput ≥ 0.8 × echo", f"HTTP: p99 at half rate ({figures['half_rate']:,}/s) ≤ 2 × echo",
        "HTTP: CPU per request ≤ 2 × echo"]
    assert [t["met"] for t in out["targets"]] == [figures["throughput_ratio"] >= 0.8, figures["p99_ratio"] <= 2,
                                                  figures["cpu_ratio"] <= 2]
    switch_run = figures["runs"]["switch"][0]
    assert switch_run["audit"]["ok"] is True and switch_run["counts_match"] is True
    assert set(switch_run["cpu_us_per_request"]) == {"switch", "load generator"}
    assert set(figures["runs"]["echo"][0]["cpu_us_per_request"]) == {"echo", "load generator"}
    assert out["setup"]["journal"] is False and figures["journal_rows"] == 0  # as advised for load tests
    # every switch run had a switch of its own, as on the MQTT door: its books start at the run's own checkouts
    for run in (*figures["runs"]["switch"], *figures["runs"]["switch_half"]):
        assert run["broker"].startswith("HTTP door of a switch started here (its broker: mqtt://127.0.0.1:")
        assert run["rss_before_load_mb"] > 0 and run["counts_match"] is True


def test_bench_with_journal_runs_the_switch_as_serve_defaults_do(capsys: pytest.CaptureFixture[str]) -> None:
    """--journal keeps the traffic journal on: every request the switch answered is a row of it, and the
    tables say the journal was on."""
    code = terminal_main(["bench", "--parts", "http", "--repeat", "1", "--duration", "1.5", "--terminals", "4",
                          "--people", "100", "--journal", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    figures = out["doors"]["HTTP"]
    answered = sum(r["stats"]["requests"] for r in (*figures["runs"]["switch"], *figures["runs"]["switch_half"]))
    assert out["setup"]["journal"] is True and figures["all_healthy"] is True
    assert figures["journal_rows"] >= answered > 0
    for run in (*figures["runs"]["switch"], *figures["runs"]["switch_half"]):  # each run's own switch and journal
        assert run["journal_rows"] >= run["stats"]["requests"] > 0


async def test_soak_samples_rss_and_p99_at_the_rate_given() -> None:
    """A 9-second soak at 40 requests/s sampled every 2 s: about 80 answers a sample, the switch's RSS, clean books."""
    result = await soak_half_rate(minutes=0.15, every=2.0, rate=40)
    assert result["rate"] == 40 and "max_requests_per_s" not in result
    samples = result["samples"]
    assert len(samples) >= 3
    assert all(30 <= s["requests_per_s"] <= 50 and s["errors"] == 0 and s["rss_mb"] > 20 for s in samples)
    assert result["timeouts"] == 0 and result["unexpected"] == 0
    assert result["audit_ok"] is True and result["counts_match"] is True
    assert isinstance(result["rss_flat"], bool) and isinstance(result["p99_flat"], bool)
