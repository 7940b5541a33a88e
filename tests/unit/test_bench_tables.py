"""The bench's and the soak's own logic: target verdicts, tables, flatness, the HTTP echo's answer."""

from __future__ import annotations

import json
import os
from array import array
from typing import Any

import pytest

from terminal.cli import main as terminal_main
from terminal.load.bench import targets_grid
from terminal.load.echo import FIXED_OUTPUT
from terminal.load.http_echo import national_answer
from terminal.load.soakrun import Sampler, flatness, soak_grid
from terminal.load.stats import Stats
from terminal.load.tables import Grid


def door(echo_rps: float, switch_rps: float, echo_p99: float, switch_p99: float, echo_cpu: float,
         switch_cpu: float, half: int) -> dict[str, Any]:
    return {"echo_rps": echo_rps, "switch_rps": switch_rps, "throughput_ratio": round(switch_rps / echo_rps, 3),
            "half_rate": half, "echo_p99_half_ms": echo_p99, "switch_p99_half_ms": switch_p99,
            "p99_ratio": round(switch_p99 / echo_p99, 3), "echo_cpu_us": echo_cpu, "switch_cpu_us": switch_cpu,
            "cpu_ratio": round(switch_cpu / echo_cpu, 3), "all_healthy": True}


RESULTS: dict[str, Any] = {
    "setup": {"terminals": 64, "people": 10_000, "repeat": 3, "duration_s": 6.0},
    "doors": {"MQTT via amqtt": door(1_000, 900, 5.0, 6.0, 200, 300, 450),
              "MQTT via mosquitto": door(2_463, 790, 2.7, 36.6, 234, 1_071, 395),
              "HTTP": door(1_000, 800, 10.0, 20.0, 150, 300, 400)},
    "people": {"people": 100_000, "load_s": 6.4, "load_cpu_s": 5.9, "people_per_s": 15_625, "rss_after_load_mb": 310.0,
               "bytes_per_person": 1_100},
}


def test_targets_table_gives_each_target_its_figures_and_verdict() -> None:
    """mosquitto's figures stand for MQTT; 0.8× and 2× are met at the bound; RSS 310 MB fails 300."""
    grid = targets_grid(RESULTS)
    assert grid.rows == [
        ("MQTT via mosquitto: throughput ≥ 0.8 × echo", "2,463 req/s", "790 req/s", "0.32 ×", "no"),
        ("MQTT via mosquitto: p99 at half rate (395/s) ≤ 2 × echo", "2.7 ms", "36.6 ms", "13.56 ×", "no"),
        ("MQTT via mosquitto: CPU per request ≤ 2 × echo", "234 µs", "1,071 µs", "4.58 ×", "no"),
        ("HTTP: throughput ≥ 0.8 × echo", "1,000 req/s", "800 req/s", "0.80 ×", "yes"),
        ("HTTP: p99 at half rate (400/s) ≤ 2 × echo", "10.0 ms", "20.0 ms", "2.00 ×", "yes"),
        ("HTTP: CPU per request ≤ 2 × echo", "150 µs", "300 µs", "2.00 ×", "yes"),
        ("100,000 people: admin.load < 10 s", "", "6.4 s", "15,625 people/s, 5.9 s of CPU", "yes"),
        ("100,000 people: switch RSS < 300 MB", "", "310 MB", "1,100 B/person", "no"),
    ]
    assert grid.note == ("64 tills, 10,000 people; medians of 3 interleaved runs of 6.0 s, echo and switch "
                         "alternating on this machine; the switch's traffic journal off (--journal-max 0)")
    journaled = targets_grid({**RESULTS, "setup": {**RESULTS["setup"], "journal": True}})
    assert (journaled.note or "").endswith("the switch's traffic journal on, as serve's defaults")


def test_targets_table_has_only_the_rows_of_the_parts_run() -> None:
    """Without a people part there are no admin.load rows; a core part adds its own row."""
    grid = targets_grid({"doors": {"HTTP": RESULTS["doors"]["HTTP"]}, "core": {"decisions_per_s": 54_000.0}})
    assert [row[0] for row in grid.rows] == ["HTTP: throughput ≥ 0.8 × echo",
                                             "HTTP: p99 at half rate (400/s) ≤ 2 × echo",
                                             "HTTP: CPU per request ≤ 2 × echo", "pure core ≥ 100,000 decisions/s"]
    assert grid.rows[-1][2:] == ("54,000/s", "", "no")


def test_grid_renders_markdown_with_its_title_and_note() -> None:
    """A bold title, right-aligned figures, an escaped pipe and the note in italics."""
    grid = Grid("t", ("what", "n"), note="how")
    grid.add("a|b", "1")
    assert grid.markdown() == "**t**\n\n| what | n |\n|---|---:|\n| a\\|b | 1 |\n\n*how*"


def test_grid_refuses_a_row_of_the_wrong_width() -> None:
    """A row must have one cell per column; the error names the table."""
    with pytest.raises(ValueError, match=r"^t: a row of 1 cells for 2 columns$"):
        Grid("t", ("a", "b")).add("x")


def test_bench_refuses_an_unknown_part(capsys: pytest.CaptureFixture[str]) -> None:
    """--parts scaling is exit 2 with one line naming the parts there are."""
    assert terminal_main(["bench", "--parts", "scaling"]) == 2
    assert capsys.readouterr().out == ("gongji-terminal bench: unknown part(s) scaling; "
                                       "parts: transport, http, people, core, growth\n")


def test_bench_refuses_a_duration_inside_the_warmup(capsys: pytest.CaptureFixture[str]) -> None:
    """A run of 1 s would be all warm-up: exit 2 before anything starts."""
    assert terminal_main(["bench", "--parts", "http", "--duration", "1"]) == 2
    assert "--duration > 1" in capsys.readouterr().out


def test_http_echo_answers_the_fixed_national_answer_whatever_the_body() -> None:
    """infcode 0, code OK and the fixed setlinfo, for JSON and for bytes that are not JSON."""
    for body in (b'{"infno":"2102","msgid":"m1"}', b"not json"):
        answer = json.loads(national_answer(body))
        assert answer["infcode"] == 0 and answer["code"] == "OK" and answer["err_msg"] is None
        assert answer["output"] == json.loads(FIXED_OUTPUT)


def test_flatness_says_flat_within_the_slack_and_not_beyond() -> None:
    """RSS +10% and p99 ×1.5 are flat; RSS +20 MB of 100 over an hour is 20 MB/h and not flat."""
    flat = [{"minute": m, "p99_ms": p, "rss_mb": r}
            for m, p, r in ((0, 10.0, 100.0), (20, 12.0, 105.0), (40, 15.0, 108.0), (60, 15.0, 110.0))]
    assert flatness(flat)["rss_flat"] is True and flatness(flat)["p99_flat"] is True
    grown = [*flat[:-1], {"minute": 60, "p99_ms": 16.0, "rss_mb": 120.0}]
    result = flatness(grown)
    assert result["rss_growth_mb_per_hour"] == 20.0 and result["rss_flat"] is False
    assert result["p99_first_third_ms"] == 10.0 and result["p99_last_third_ms"] == 16.0
    assert result["p99_flat"] is False
    assert flatness(flat[:2]) == {"rss_flat": None, "p99_flat": None}


def test_rss_that_fills_then_levels_is_flat_and_a_steady_climb_is_not() -> None:
    """The first minutes fill the switch's tails of recent traffic: thirds' medians, not the first sample alone."""
    def samples(rss: tuple[float, ...]) -> list[dict[str, float]]:
        return [{"minute": float(m), "p99_ms": 10.0, "rss_mb": r} for m, r in enumerate(rss, 1)]

    levelled = flatness(samples((100.0, 110.0, 111.0, 111.0, 112.0, 112.0)))
    assert (levelled["rss_first_mb"], levelled["rss_last_mb"], levelled["rss_flat"]) == (105.0, 112.0, True)
    climbing = flatness(samples((100.0, 106.0, 112.0, 118.0, 124.0, 130.0)))
    assert (climbing["rss_first_mb"], climbing["rss_last_mb"], climbing["rss_flat"]) == (103.0, 127.0, False)
    assert climbing["rss_growth_mb_per_hour"] == 360.0  # 24 MB over the 4 minutes between the thirds' middles


def test_sampler_closes_one_sample_per_interval_with_its_own_answers() -> None:
    """A sample holds only the answers since the previous one: its count, rate, p99 and the RSS of the pid."""
    stats = Stats()
    stats.started = 100.0
    sampler = Sampler(every=10.0, pid=os.getpid())
    stats.latencies = array("d", [0.001] * 99 + [0.5])
    sampler._since = 100.0
    sampler.close(stats, 110.0)
    stats.latencies.extend([0.002] * 50)
    stats.timeouts = 2
    sampler.close(stats, 120.0)
    first, second = sampler.samples
    assert (first["requests"], first["requests_per_s"], first["p99_ms"], first["errors"]) == (100, 10.0, 1.0, 0)
    assert (second["requests"], second["requests_per_s"], second["p99_ms"], second["errors"]) == (50, 5.0, 2.0, 2)
    assert second["minute"] == 0.33 and second["rss_mb"] > 0


def test_soak_tables_list_the_samples_and_the_verdicts() -> None:
    """One row per sample; the verdict table says RSS, p99 and the books."""
    samples = [{"minute": float(m), "requests_per_s": 400.0, "p50_ms": 5.0, "p99_ms": 20.0, "errors": 0,
                "rss_mb": 100.0 + m, "load_average": 2.0} for m in (1, 2, 3)]
    result = {"minutes": 3, "rate": 400, "max_requests_per_s": 800.0, "samples": samples, **flatness(samples),
              "timeouts": 0, "unexpected": 0, "audit_ok": True, "counts_match": True}
    table, verdicts = soak_grid(result)
    assert table.rows[0] == ("1.0", "400", "5.0", "20.0", "0", "101", "2.0")
    assert verdicts.rows == [("switch RSS MB", "101", "103 (+60 MB/h)", "yes"), ("p99 ms", "20.0", "20.0", "yes"),
                             ("books (admin.audit, counts)", "", "0 timeouts, 0 unexpected", "yes")]


def test_bench_replays_a_saved_run_as_markdown(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """--replay prints the targets of a --json file without measuring: the README's table comes from a run."""
    saved = tmp_path / "bench.json"
    saved.write_text(json.dumps({"targets": [], **RESULTS}), encoding="utf-8")
    assert terminal_main(["bench", "--replay", str(saved), "--markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == ["**gongji-terminal bench: the targets**", "", "| target | echo | switch | measured | met |",
                         "|---|---:|---:|---:|---:|"]
    assert lines[4] == "| MQTT via mosquitto: throughput ≥ 0.8 × echo | 2,463 req/s | 790 req/s | 0.32 × | no |"
    assert len(lines) == 14


def test_bench_replay_of_a_missing_file_is_one_line(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A --replay file that is not there: exit 2 and one line naming it."""
    assert terminal_main(["bench", "--replay", str(tmp_path / "none.json")]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"gongji-terminal bench: --replay {tmp_path / 'none.json'}: ") and out.count("\n") == 1


def test_partitions_sum_the_generators_and_tabulate_one_against_many() -> None:
    """Rates add up across load generators, p99 is the worst of them, errors count timeouts and codes."""
    from terminal.load.partitions import _sum, grid

    runs = [{"stats": {"requests_per_s": 250.0, "latency_ms": {"p99": 40.0}, "timeouts": 1,
                       "unexpected": {"2102 OK→X": 2}}},
            {"stats": {"requests_per_s": 300.0, "latency_ms": {"p99": 55.0}, "timeouts": 0, "unexpected": {}}}]
    assert _sum(runs) == {"requests_per_s": 550.0, "p99_ms": 55.0, "errors": 3}
    table = grid({"switches": 2, "tills": 64, "people": 10_000, "repeat": 3, "one_rps": 503.0, "many_rps": 583.4,
                  "one_p99_ms": 406.0, "many_p99_ms": 283.0, "errors": 0})
    assert table.rows == [("1", "503", "406.0"), ("2", "583", "283.0")]


def test_partitions_refuse_a_single_switch(capsys: pytest.CaptureFixture[str]) -> None:
    """--switches 1 compares nothing: exit 2 with one line, before anything starts."""
    from terminal.load.partitions import main

    assert main(["--switches", "1"]) == 2
    assert capsys.readouterr().err == "partitions: --switches ≥ 2 and at least one till per switch\n"
