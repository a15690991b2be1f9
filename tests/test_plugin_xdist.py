"""pytest-xdist: workers only record; the controller merges, judges once and writes once."""

from __future__ import annotations

import json

import pytest

CONFIG = """
    [tool.metricgate]
    history = "history.jsonl"
    [tool.metricgate.metrics.accuracy]
    min = 0.8
    max-drop = 0.05
    [tool.metricgate.metrics.recall]
    min = 0.7
    [tool.metricgate.metrics.precision]
    min = 0.7
"""


def spread_over_files(project):
    """Three test files, each recording one metric, so several workers record."""
    for metric, value in (("accuracy", 0.83), ("recall", 0.65), ("precision", 0.75)):
        project.file(
            f"test_{metric}.py",
            f"def test_{metric}(metric_gate):\n    metric_gate.record({metric!r}, {value}, n=500)\n"
            "def test_other():\n    pass\n",
        )


@pytest.mark.parametrize(
    "xdist_args",
    [("-n", "2"), ("-n", "4"), ("-n", "2", "--dist", "loadfile")],
    ids=["n2", "n4", "loadfile"],
)
def test_xdist_gives_the_same_verdicts_summary_and_charts(project, xdist_args):
    project.config(CONFIG)
    project.history_of("history.jsonl", accuracy=[0.90, 0.91, 0.89], recall=[0.7, 0.7, 0.7])
    spread_over_files(project)

    plain = project.run("--metric-gate-report-dir=plain")
    parallel = project.run("--metric-gate-report-dir=parallel", *xdist_args)
    assert plain.ret == parallel.ret == 1

    def gate_section(result):
        lines = result.stdout.lines
        start = next(i for i, line in enumerate(lines) if "metric gate" in line and "=" in line)
        end = next(i for i, line in enumerate(lines) if line.startswith("metric gate: "))
        return [line for line in lines[start : end + 1] if not line.startswith("report: ")]

    assert gate_section(parallel) == gate_section(plain)
    report = project.path

    def summary(directory):
        document = json.loads((report / directory / "summary.json").read_text())
        # Only what tells the two runs apart by design: when they ran and where their reports are.
        document["run"].pop("timestamp")
        assert document.pop("report") == str(report / directory / "index.html")
        return document

    assert summary("parallel") == summary("plain")
    for chart in ("accuracy.png", "recall.png", "precision.png", "overview.png"):
        assert (report / "parallel" / chart).read_bytes() == (report / "plain" / chart).read_bytes()


def test_xdist_appends_the_history_once(project):
    project.config(CONFIG.replace("min = 0.7", "min = 0.5"))
    history = project.history_of("history.jsonl", accuracy=[0.85])
    spread_over_files(project)
    result = project.run("-n", "2", "--metric-gate-record")
    assert result.ret == 0
    runs = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(runs) == 2
    assert runs[1]["metrics"] == {
        "accuracy": {"value": 0.83, "n": 500},
        "precision": {"value": 0.75, "n": 500},
        "recall": {"value": 0.65, "n": 500},
    }


def test_a_crashed_worker_is_named_and_its_metrics_are_missing(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
        [tool.metricgate.metrics.recall]
        min = 0.5
    """)
    project.file(
        "test_crash.py",
        "import os\n"
        "def test_record_then_crash(metric_gate):\n"
        "    metric_gate.record('accuracy', 0.9)\n"
        "    os._exit(1)\n",
    )
    project.file("test_fine.py", "def test_recall(metric_gate):\n    metric_gate.record('recall', 0.9)\n")
    result = project.run("-n", "2", "--dist", "loadfile")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "accuracy *FAIL *missing",
            "recall *pass",
            "worker gw* crashed: the metrics it had recorded are lost (shown as missing)",
            "metric gate: FAILED (1 of 2 metrics breached)",
        ]
    )


@pytest.mark.parametrize("runner", [(), ("-n", "2", "--dist", "loadfile")], ids=["plain", "xdist"])
def test_a_metric_recorded_by_two_tests_is_an_error_naming_both(project, runner):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
        severity = "warning"
    """)
    project.file("test_one.py", "def test_one(metric_gate):\n    metric_gate.record('accuracy', 0.9)\n")
    project.file("test_two.py", "def test_two(metric_gate):\n    metric_gate.record('accuracy', 0.6)\n")
    result = project.run(*runner)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["accuracy *FAIL *recorded twice: by test_one.py::test_one and test_two.py::test_two"]
    )


def test_a_bad_value_on_a_worker_fails_that_test_naming_the_metric(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.file("test_bad.py", "def test_bad(metric_gate):\n    metric_gate.record('accuracy', None)\n")
    result = project.run("-n", "2")
    assert result.ret == 1
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*TypeError: metric_gate.record('accuracy'): value must be a number, got NoneType None*"]
    )


WHO_WORKS_FOR_THE_CONTROLLER = """
import sys
from multiprocessing import forkserver

from pytest_metricgate import parallel


def pytest_metricgate_result(config, result):
    if hasattr(config, "workerinput"):
        return
    workers = parallel.worker_count(len(result.verdicts))
    server = "a forkserver" if forkserver._forkserver._forkserver_pid is not None else "no forkserver"
    print(f"\\ncontroller: {parallel.python_threads()} Python thread(s), {workers} workers by {parallel.start_method()}, {server}")
"""


def test_the_controller_judges_after_xdists_threads_end_and_forks_its_own_workers(project):
    # Forking beside execnet's IO threads is unsafe; with them alive the gate would need a forkserver
    # (a fresh interpreter importing matplotlib). Once every worker has finished they are shut down,
    # so the controller judges as a session without xdist does.
    metrics = [f"metric_{index:02d}" for index in range(20)]
    project.config("".join(f"[tool.metricgate.metrics.{name}]\nmin = 0.5\n" for name in metrics))
    for half in (metrics[:10], metrics[10:]):
        project.records({name: 0.9 for name in half}, name=f"test_{half[0]}.py")
    project.file("conftest.py", WHO_WORKS_FOR_THE_CONTROLLER)
    result = project.pytester.runpytest_subprocess("--metric-gate", "-p", "no:cacheprovider", "-n", "2", "-s")
    assert result.ret == 0, result.stdout.str()
    line = next(line for line in result.stdout.lines if line.startswith("controller: "))
    if " 1 workers " in line:
        pytest.skip("a single core, or not Linux: the gate works in one process here")
    assert line.startswith("controller: 1 Python thread(s), ")
    assert line.endswith(" workers by fork, no forkserver")
    result.stdout.fnmatch_lines(["metric gate: passed (20 metrics)"])
    result.stderr.no_fnmatch_line("*Traceback*")
