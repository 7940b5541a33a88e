"""``gongji-terminal run`` / ``scenario-schema`` and the pytest plugin, as a vendor's CI would run them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from terminal.scenarios.format import load_scenarios
from tests.support.brokers import MosquittoProcess, free_port, wait_port
from tests.support.switches import SwitchProcess

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "scenarios"
TERMINAL = [sys.executable, "-c", "import sys; from terminal.cli import main; sys.exit(main())"]

FAILING = """\
name: expects the holder to pay at the edge
pos: {terminal: T1, fixmedins_code: P37050000001}
people:
  - {psn_no: DH, insuplc_admdvs: "370500", balc: "500.00"}
  - {psn_no: DR, insuplc_admdvs: "370500", insutype: "390"}
bindings:
  - {holder_psn_no: DH, relative_psn_no: DR, rltn: child}
steps:
  - {name: first, settle: {psn_no: DR, amount: "80.00"}, expect: {code: POOLING_AVAILABLE}}
  - {name: second, at: +5m, settle: {psn_no: DR, amount: "80.00"}, expect: {code: OK}}
"""


def terminal(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    return subprocess.run([*TERMINAL, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_run_prints_the_table_the_failure_and_writes_junit(tmp_path: Path) -> None:
    """Embedded run: a table row per scenario, the failed step with its diff, exit 1, and JUnit XML for CI."""
    failing = tmp_path / "scenarios" / "edge.yaml"
    failing.parent.mkdir()
    failing.write_text(FAILING, encoding="utf-8")
    junit = tmp_path / "results.xml"
    passing = LIBRARY / "dongying" / "window_edge_300s.yaml"
    done = terminal("run", str(passing), str(failing), "--junitxml", str(junit))
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "Dongying 5-minute window, pooled at 4m59.999s" in out and "passed" in out
    assert "expects the holder to pay at the edge" in out and "failed" in out
    assert "FAILED at step 2 'second': pos T1 sends 2102 at +5m" in out
    assert '-  "code": "OK"' in out and '+  "code": "POOLING_AVAILABLE"' in out
    assert "1 passed, 1 failed" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite.find("testcase[@name='expects the holder to pay at the edge']/failure")
    assert failure is not None and failure.get("message") == 'code: expected "OK", got "POOLING_AVAILABLE"'


def test_run_against_a_running_switch_with_a_token(mosquitto_url: str, tmp_path: Path) -> None:
    """--broker/--root/--token: the library's Dongying folder passes on a switch running as a process."""
    switch = SwitchProcess("--broker", mosquitto_url, "--db", str(tmp_path / "ledger.db"), "--clock",
                           "virtual", "--topic-root", "vendor/ci", "--admin-token", "s3cret").start()
    try:
        done = terminal("run", str(LIBRARY / "dongying"), "--broker", mosquitto_url, "--root", "vendor/ci",
                        "--token", "s3cret")
    finally:
        switch.terminate()
    assert done.returncode == 0, done.stdout + done.stderr
    count = sum(len(load_scenarios(path)) for path in (LIBRARY / "dongying").glob("*.yaml"))
    assert f"{count} passed in" in done.stdout


def test_run_with_no_broker_there_says_what_to_check() -> None:
    """An unreachable broker ends the run with one clear line and exit status 2, not a pile of timeouts."""
    done = terminal("run", str(LIBRARY / "zibo"), "--broker", "mqtt://127.0.0.1:9", "--timeout", "1")
    assert done.returncode == 2
    assert "cannot connect to the broker mqtt://127.0.0.1:9" in done.stdout


@pytest.mark.parametrize("door", ["mqtt-amqtt", "mqtt-mosquitto", "http"])
def test_run_on_a_switch_with_access_says_in_one_line_that_it_cannot(door: str) -> None:
    """A switch started with --access, the admin's account in the URL: the runner, which speaks as the admin, the
    tills and the apps at once, says so in one line and exits 2 (no "Not authorized" alone, no traceback)."""
    home = Path(tempfile.mkdtemp(prefix="gongji-runner-access-"))
    home.chmod(0o755)  # mosquitto, started as root, reads its files as its own user
    port = free_port()
    made = subprocess.run([sys.executable, "-m", "switch", "mosquitto-config", str(home / "access"), "--listen",
                           f"127.0.0.1:{port}", "--admin-password", "admin-pw", "--terminal", "T1@P37050000001",
                           "--app", "DH"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    common = ["--db", str(home / "ledger.db"), "--clock", "virtual", "--access", str(home / "access"),
              "--log-level", "WARNING"]
    broker = None
    if door == "mqtt-mosquitto":
        conf = (home / "access" / "mosquitto.conf").read_text()
        broker = MosquittoProcess(extra_config=conf, port=port).start()
        switch = SwitchProcess("--broker", f"mqtt://127.0.0.1:{port}", *common).start()
    else:
        switch = SwitchProcess("--listen", f"127.0.0.1:{port}", *common).start()
        wait_port(port)
    try:
        target = (["--http", switch.http_url.replace("http://", "http://admin:admin-pw@")] if door == "http"
                  else ["--broker", f"mqtt://admin:admin-pw@127.0.0.1:{port}"])
        done = terminal("run", str(LIBRARY / "dongying" / "window_edge_300s.yaml"), *target, "--timeout", "2")
    finally:
        switch.terminate()
        if broker is not None:
            broker.stop()
        shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gongji-terminal run: "), done.stdout
    assert "the switch runs with --access" in lines[0] and "Run scenarios on a test switch started without " \
        "--access" in lines[0]
    assert "admin-pw" not in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_scenario_schema_prints_the_json_schema() -> None:
    """scenario-schema prints a JSON Schema whose top level lists the scenario keys."""
    done = terminal("scenario-schema")
    schema = json.loads(done.stdout)
    assert schema["title"] == "gongji scenario"
    assert {"name", "people", "bindings", "policy", "steps"} <= set(schema["properties"])


def test_pytest_collects_scenarios_as_test_items(pytester: pytest.Pytester) -> None:
    """`pytest --junitxml` runs each YAML scenario under scenarios/ as an item (other YAML is left alone)."""
    scenarios = pytester.mkdir("scenarios")
    good = (LIBRARY / "zibo" / "holder_zero_cash.yaml").read_text(encoding="utf-8")
    (scenarios / "good.yaml").write_text(good, encoding="utf-8")
    (scenarios / "bad.yaml").write_text(FAILING, encoding="utf-8")
    (pytester.path / "elsewhere.yaml").write_text("not: a scenario\n", encoding="utf-8")
    result = pytester.runpytest_subprocess("--junitxml=out.xml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED at step 2 'second': pos T1 sends 2102 at +5m*",
                                 "*code: expected \"OK\", got \"POOLING_AVAILABLE\"*"])
    cases = ET.parse(pytester.path / "out.xml").getroot().iter("testcase")
    # Every testcase element has a name: the None the type allows cannot reach sorted().
    assert sorted(c.get("name") for c in cases) == ["Zibo holder with a zero balance cannot pool",  # type: ignore[type-var]
                                                    "expects the holder to pay at the edge"]


def _readme_block(language: str) -> str:
    """The README's ``language`` code block that sets gongji_scenario_dirs."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(rf"```{language}\n(.*?)```", text, re.S)
    (block,) = [b for b in blocks if "gongji_scenario_dirs" in b]
    return block


@pytest.mark.parametrize(("language", "file"), [("ini", "pytest.ini"), ("toml", "pyproject.toml")])
def test_the_readmes_forms_of_gongji_scenario_dirs_collect(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                           language: str, file: str) -> None:
    """gongji_scenario_dirs as the README writes it, in pytest.ini and in pyproject.toml: scenarios under both
    directories named there are collected, YAML elsewhere is not."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # this checkout's plugin
    (pytester.path / file).write_text(_readme_block(language), encoding="utf-8")
    good = (LIBRARY / "zibo" / "holder_zero_cash.yaml").read_text(encoding="utf-8")
    for directory in ("my-scenarios", "regression", "elsewhere"):
        pytester.mkdir(directory)
        (pytester.path / directory / "case.yaml").write_text(good, encoding="utf-8")
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["my-scenarios/case.yaml::Zibo holder with a zero balance cannot pool",
                                 "regression/case.yaml::Zibo holder with a zero balance cannot pool",
                                 "2 tests collected*"])
