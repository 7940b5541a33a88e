"""pytest plugin: YAML scenarios under a ``scenarios/`` directory become test items (as Tavern does).

``pytest scenarios/`` runs them on one embedded broker and switch for the whole session (state
reset per scenario); ``--gongji-broker URL`` runs them on a switch already running there, and
``--gongji-http URL`` on a switch's HTTP door (pos steps in the platform's form). The
switch, the broker and the runner live on an event loop of their own thread, so they keep
answering keep-alives between items and never meet pytest-asyncio's loops.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from switch.wire.topics import DEFAULT_ROOT

__all__ = ["ScenarioFailed", "ScenarioFile", "ScenarioItem"]

_HOST = pytest.StashKey["_Host"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gongji", "gongji scenarios")
    group.addoption("--gongji-broker", metavar="URL",
                    help="run scenarios on the switch at this broker, not an embedded one (it gets reset)")
    group.addoption("--gongji-http", metavar="URL",
                    help="run scenarios on the switch at this HTTP door, http://host:port (it gets reset)")
    group.addoption("--gongji-root", default=DEFAULT_ROOT, help=f"that switch's topic root (default {DEFAULT_ROOT})")
    group.addoption("--gongji-token", help="that switch's admin token")
    group.addoption("--gongji-timeout", type=float, default=5.0, help="seconds to wait for each answer")
    parser.addini("gongji_scenario_dirs", type="args", default=["scenarios"],
                  help="directory names whose *.yaml files are gongji scenarios (default: scenarios)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Give pytest-asyncio the loop scope it will default to, when a vendor's project leaves it unset.

    Scenarios run on the plugin's own loop and never use pytest-asyncio's, but installing gongji's
    test extras brings pytest-asyncio, which warns at every run of a project that does not set it.
    """
    name = "asyncio_default_fixture_loop_scope"
    if config.pluginmanager.hasplugin("asyncio") and not config.getini(name):
        # No public setter exists for an ini value; the cache is what getini answers from.
        config._inicache[name] = "function"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    dirs = set(parent.config.getini("gongji_scenario_dirs"))
    if not dirs.intersection(file_path.parent.parts):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


class ScenarioFile(pytest.File):
    def collect(self) -> Any:
        from terminal.scenarios.format import load_scenarios

        for scenario in load_scenarios(self.path):
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        from terminal.scenarios.format import ScenarioError

        if isinstance(excinfo.value, ScenarioError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class ScenarioFailed(AssertionError):
    """A scenario whose expectations were not met; its report is the failure text."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        from terminal.scenarios.targets import RunnerError

        try:
            result = _host(self.config).run(self.scenario, self.path)
        except RunnerError as exc:
            raise ScenarioFailed(str(exc)) from None
        if result.status == "skipped":
            pytest.skip(result.reason)
        if result.status != "passed":
            raise ScenarioFailed(result.details())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario: {self.name}"


class _Host:
    """The session's runner and its switch, on an event loop in a thread of their own."""

    def __init__(self, config: pytest.Config) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="gongji-scenarios")
        self.thread.start()
        self.runner = self._call(self._make_runner(config))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    @staticmethod
    async def _make_runner(config: pytest.Config) -> Any:
        from terminal.scenarios.runner import Runner
        from terminal.scenarios.targets import EmbeddedTargets, RemoteTargets, Targets

        timeout = config.getoption("gongji_timeout")
        broker = config.getoption("gongji_broker")
        http = config.getoption("gongji_http")
        targets: Targets
        if http:
            from terminal.scenarios.http_targets import HttpTargets

            targets = HttpTargets(http, config.getoption("gongji_token"), timeout, token_option="--gongji-token")
        elif broker:
            targets = RemoteTargets(broker, config.getoption("gongji_root"), config.getoption("gongji_token"),
                                    timeout, token_option="--gongji-token")
        else:
            targets = EmbeddedTargets(timeout)
        return Runner(targets, timeout)

    def run(self, scenario: Any, path: Path) -> Any:
        return self._call(self.runner.run(scenario, path))

    def close(self) -> None:
        try:
            self._call(self.runner.targets.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


def _host(config: pytest.Config) -> _Host:
    host = config.stash.get(_HOST, None)
    if host is None:
        host = config.stash[_HOST] = _Host(config)
        config.add_cleanup(host.close)
    return host
