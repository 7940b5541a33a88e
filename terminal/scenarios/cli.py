"""``gongji-terminal run`` and ``gongji-terminal scenario-schema``: scenarios from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from switch.wire.topics import DEFAULT_ROOT

if TYPE_CHECKING:
    from terminal.scenarios.report import ScenarioResult
    from terminal.scenarios.targets import Targets

__all__ = ["add_run_parser", "add_schema_parser"]

# The parser is built for every gongji-terminal command: the runner, broker and switch are imported
# only when a scenario command runs.

def _display_path(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from terminal.scenarios.report import print_results, write_junit
    from terminal.scenarios.runner import discover, run_scenarios
    from terminal.scenarios.targets import EmbeddedTargets, RemoteTargets, RunnerError

    console = Console()
    found = [(_display_path(p), s) for p, s in discover(args.paths)]
    total = sum(len(s) if isinstance(s, list) else 1 for _, s in found)
    if not found:
        console.print(f"[red]no scenario files under {' '.join(map(str, args.paths))}[/]")
        return 2
    if args.http:
        from terminal.scenarios.http_targets import HttpTargets

        try:
            targets: Targets = HttpTargets(args.http, args.token, args.timeout)
        except ValueError as exc:
            console.print(f"[bold red]gongji-terminal run:[/] {exc}", soft_wrap=True)
            return 2
    elif args.broker:
        from rich.markup import escape

        from terminal.clients.mqtt import broker_url_problem

        if (problem := broker_url_problem(args.broker)) is not None:
            console.print(f"[bold red]gongji-terminal run:[/] {escape(problem)}", soft_wrap=True)
            return 2
        targets = RemoteTargets(args.broker, args.root, args.token, args.timeout)
    else:
        targets = EmbeddedTargets(args.timeout)
    started = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("scenarios", total=total)

        def advanced(result: ScenarioResult) -> None:
            progress.update(task, advance=1, description=f"{result.status:>7} {result.name}"[:60])

        try:
            results = asyncio.run(run_scenarios(found, targets, args.timeout, advanced, args.keyword))
        except RunnerError as exc:
            progress.stop()
            console.print(f"[bold red]gongji-terminal run:[/] {exc}", soft_wrap=True)  # one line: people copy it
            return 2
    seconds = time.monotonic() - started
    print_results(results, console, seconds)
    if args.junitxml is not None:
        write_junit(results, args.junitxml, seconds)
    return 0 if results and all(r.ok for r in results) else 1


def add_run_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run", help="run YAML scenarios and print a table of results",
        description="Run scenario files (or directories of them). Without --broker the scenarios run on a "
                    "broker and switches started in this process on a virtual clock; with --broker they run "
                    "on a switch already running there (it is reset before every scenario); with --http on "
                    "the switch at that HTTP door, pos steps in the platform's form, events from its SSE stream.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scenario files or directories")
    p.add_argument("--broker", metavar="URL", help="run on the switch at this broker, mqtt://host:port (not one "
                                                   "started with --access: the runner speaks as the admin, every till "
                                                   "and every app at once)")
    p.add_argument("--http", metavar="URL",
                   help="run on the switch at this HTTP door instead, http://host:port (scenarios marked "
                        "doors: [mqtt] are skipped)")
    p.add_argument("--root", default=DEFAULT_ROOT, help=f"that switch's topic root (default {DEFAULT_ROOT})")
    p.add_argument("--token", help="that switch's admin token (--admin-token)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer (default 5)")
    p.add_argument("--junitxml", type=Path, metavar="FILE", help="also write JUnit XML for CI")
    p.add_argument("-k", dest="keyword", metavar="TEXT",
                   help="only scenarios whose file or name contains TEXT")
    p.set_defaults(func=_run, run=_run)


def _schema(args: argparse.Namespace) -> int:
    import json

    from terminal.scenarios.format import scenario_schema

    text = json.dumps(scenario_schema(), ensure_ascii=False, indent=2) + "\n"
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def add_schema_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("scenario-schema", help="print the JSON Schema of scenario files",
                              description="The JSON Schema of a scenario document, for editors and tools.")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write it to FILE instead of stdout")
    p.set_defaults(func=_schema, run=_schema)


def register(subparsers: Any) -> None:
    """The scenario commands: ``run`` and ``scenario-schema``."""
    add_run_parser(subparsers)
    add_schema_parser(subparsers)
