"""Crash safety, measured: the switch SIGKILLed 20 times while terminals settle loses and doubles nothing."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tests.crash import figures_table, run_crash


async def test_twenty_sigkills_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    """Acknowledged settlements stored once, abandoned ones undone, audit ok, balances = independent replay."""
    figures = await run_crash(kills=20, terminals=6, seed=7, workdir=tmp_path)
    Console(width=100).print(figures_table(figures))
    assert figures.failures == []
    assert figures.kills >= 20
    # The run exercised what it claims to: retries across restarts, both pooling flows, undo paths.
    assert figures.tally.retries > 0 and figures.tally.reversals > 0
    assert figures.settled >= 100 and figures.pooled_in_window > 0 and figures.pooled_automatic > 0
    assert figures.cancels > 0 and figures.reversals > 0 and figures.credits > 0
