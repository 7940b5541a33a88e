"""What --help says: no reST markup, no promise of tools to come, bench's cost and its broker names."""

from __future__ import annotations

import argparse

import pytest

from switch.cli import _parser as switch_parser
from terminal.cli import main as terminal_main
from terminal.cli import parser as terminal_parser


def _subcommands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_help_text_is_plain_and_current() -> None:
    """Every gongji-switch and gongji-terminal help page is free of ``markup``; none says "later"."""
    for top in (switch_parser(), terminal_parser()):
        pages = [top.format_help(), *(p.format_help() for p in _subcommands(top).values())]
        assert pages and all("``" not in page and "later" not in page for page in pages)
    assert "vendor kit's tools" in switch_parser().format_help()


def test_bench_help_gives_its_duration_and_broker_names() -> None:
    """bench --help says it takes about 7 minutes, how to get the headline table sooner, and the broker names."""
    text = " ".join(_subcommands(terminal_parser())["bench"].format_help().split())
    assert "takes about 7 minutes; --parts transport --brokers mosquitto gives the headline table" in text
    assert "comma-separated: mosquitto, amqtt (default mosquitto,amqtt;" in text


def test_bench_refuses_an_unknown_broker(capsys: pytest.CaptureFixture[str]) -> None:
    """--brokers mosq is exit 2 naming the brokers there are, before anything starts."""
    assert terminal_main(["bench", "--parts", "transport", "--brokers", "mosq"]) == 2
    assert capsys.readouterr().out == "gongji-terminal bench: --brokers 'mosq': brokers are mosquitto, amqtt\n"
