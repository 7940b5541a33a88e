"""The load tool's parts: the population and its admin.load chunks, statistics, the mix, the echo answer."""

from __future__ import annotations

import json
from array import array

import pytest

from switch.wire.inputs import MAX_PAYLOAD_BYTES, Load
from terminal.load.corebench import run_core_bench
from terminal.load.echo import answer_to
from terminal.load.fleet import DEFAULT_MIX, parse_mix
from terminal.load.population import BALANCE_FEN, build_population
from terminal.load.stats import Stats, percentile


def test_population_counts_families_and_singles_exactly() -> None:
    """1,000 people with 200 families: families of 2-5 in turn, half Dongying, half Zibo, the rest singles."""
    population = build_population(1_000, 200)
    assert population.people == 1_000
    assert (len(population.dongying), len(population.zibo)) == (100, 100)
    assert population.bindings == 500  # relatives 1, 2, 3, 4 in turn: 50 × 10
    assert len(population.singles) == 300
    assert {f.admdvs for f in population.dongying} == {"370500"}
    assert {f.admdvs for f in population.zibo} == {"370300"}
    assert build_population(1_000, 200) == population  # the same people every time


def test_population_with_few_people_keeps_every_family_and_uses_everyone() -> None:
    """Families shrink evenly when people are scarce: 25 people in 10 families, nobody single or left out."""
    population = build_population(25, 10)
    assert population.people == 25 and population.singles == ()
    assert sorted(len(f.relatives) for f in population.families) == [1] * 5 + [2] * 5
    with pytest.raises(ValueError, match="10 families need at least 20 people"):
        build_population(19, 10)


def test_chunks_stay_under_the_payload_limit_however_encoded_and_keep_families_whole() -> None:
    """Every admin.load chunk fits in 64 KiB even with Chinese escaped as \\uXXXX; a binding never
    names someone loaded in a later chunk; every person and binding is in exactly one chunk."""
    population = build_population(20_000, 4_000)
    chunks = list(population.chunks())
    seen: set[str] = set()
    people = bindings = 0
    for i, chunk in enumerate(chunks):
        envelope = {"infno": "admin.load", "msgid": f"load-{i:06d}", "inf_time": None, "input": chunk}
        assert len(json.dumps(envelope).encode()) <= MAX_PAYLOAD_BYTES
        Load.model_validate(chunk)  # what the switch will accept
        names = {p["psn_no"] for p in chunk["people"]}
        assert not names & seen
        seen |= names
        assert all({b["holder_psn_no"], b["relative_psn_no"]} <= names for b in chunk["bindings"])
        people += len(chunk["people"])
        bindings += len(chunk["bindings"])
    assert (people, bindings, len(seen)) == (20_000, population.bindings, 20_000)
    assert len(chunks) > 60  # about 300 people a chunk
    assert chunks[0]["people"][0]["balc"] == f"{BALANCE_FEN // 100}.00"  # singles first, with their account


def test_percentile_is_nearest_rank() -> None:
    """p99 of 1..100 ms is the 99th sample; p50 of four samples is the second; no samples give 0."""
    samples = array("d", [i / 1000 for i in range(1, 101)])
    assert percentile(samples, 99) == 0.099 and percentile(samples, 100) == 0.1
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([], 99) == 0.0


def test_stats_rate_counts_the_window_after_warmup_until_the_deadline() -> None:
    """Answers before the warm-up or after the deadline are not in the rate; settlements count by share."""
    stats = Stats(warmup=1.0, started=100.0, deadline=103.0)
    for i in range(40):  # one answer every 0.1 s from 100.0 to 103.9
        stats.record("2102" if i % 2 else "1101", "OK", 0.002, 100.0 + i / 10)
    stats.settled = 20
    assert stats.window() == (101.0, 103.0)
    assert stats.rate() == pytest.approx(21 / 2.0)  # 101.0 ... 103.0 inclusive
    assert stats.rate(count_settled=True) == pytest.approx(21 / 2.0 / 2)
    summary = stats.summary()
    assert summary["codes"] == {"OK": 40} and summary["by_infno"] == {"1101": 20, "2102": 20}
    assert summary["latency_ms"]["p99"] == 2.0


def test_mix_parses_weights_and_refuses_unknown_kinds() -> None:
    """--mix names kinds with weights; unknown kinds, bad numbers and an all-zero mix are refused."""
    assert parse_mix("own=1,retry=0.5") == {"own": 1.0, "retry": 0.5}
    assert set(DEFAULT_MIX) == {"own", "retry", "auto", "cancel", "reversal"}
    for bad, message in (("own=1,shop=2", "unknown checkout kind 'shop'"), ("own=x", "must be a number"),
                         ("own=-1", "must not be negative"), ("own=0", "at least one kind")):
        with pytest.raises(ValueError, match=message):
            parse_mix(bad)


def test_echo_answer_names_the_request_and_survives_garbage() -> None:
    """The echo's fixed answer names the request's infno and msgid; a payload that is not JSON gets nulls."""
    answer = json.loads(answer_to(json.dumps({"infno": "2102", "msgid": "T1-7", "input": {}}).encode()))
    assert (answer["infno"], answer["inf_refmsgid"], answer["code"]) == ("2102", "T1-7", "OK")
    assert answer["output"]["setlinfo"]["setl_id"] == "SETL0000000000"
    broken = json.loads(answer_to(b"\xff not json"))
    assert (broken["infno"], broken["inf_refmsgid"]) == (None, None)


def test_core_benchmark_runs_the_whole_mix_on_a_consistent_state() -> None:
    """The micro-benchmark decides every kind of the mix: a retry and a cancel or reversal count twice."""
    result = run_core_bench(decisions=2_000, people=500, families=100)
    assert 2_000 < result["decisions"] < 2_000 * 2
    assert result["settlements_in_memory"] > 1_000 and result["decisions_per_s"] > 0


@pytest.mark.parametrize(("broker", "measured"), [
    ("mosquitto", "publish → answer"), ("HTTP door http://127.0.0.1:8080", "request → response"),
    ("HTTP door of a switch started here (its broker: mosquitto)", "request → response")])
def test_the_result_table_says_what_its_latency_measured_on_each_door(broker: str, measured: str) -> None:
    from rich.console import Console

    from terminal.load.stats import result_table

    stats = Stats()
    stats.record("2102", "OK", 0.004, 1.0)
    console = Console(width=120, record=True)
    console.print(result_table({"broker": broker, "stats": stats.summary()}, "run"))
    latency = next(line for line in console.export_text().splitlines() if "latency p50" in line)
    assert measured in latency and "4.00 / 4.00 ms" in latency


def test_too_few_people_for_the_default_families_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """load --people 200 alone: exit 2, one line naming the default --families and the most that fit."""
    from terminal.cli import main

    assert main(["load", "--people", "200", "--count", "5"]) == 2
    assert capsys.readouterr().err == ("gongji-terminal load: 200 families (--families, default 200) need at least "
                                       "400 people, a holder and a relative each: with --people 200 pass "
                                       "--families N, N at most 100\n")
