"""End to end: ``--metric-gate-record`` appends a passing run, and only then."""

from __future__ import annotations

import csv
import json

import pytest

JSONL_CONFIG = """
    [tool.metricgate]
    history = "history.jsonl"
    [tool.metricgate.metrics.accuracy]
    min = 0.8
"""


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_passing_run_is_appended_to_jsonl_with_n(any_runner_project, monkeypatch):
    project = any_runner_project
    monkeypatch.setenv("GITHUB_SHA", "abc123")
    monkeypatch.setenv("METRICGATE_RUN_LABEL", "nightly-7")
    project.config(JSONL_CONFIG)
    history = project.history_of("history.jsonl", accuracy=[0.85])
    project.records({"accuracy": (0.9, 500), "f1": 0.7})
    result = project.run("--metric-gate-record")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["history: appended this run to history.jsonl"])
    runs = read_jsonl(history)
    assert len(runs) == 2
    assert runs[0] == {"run": "r1", "metrics": {"accuracy": 0.85}}
    assert runs[1]["metrics"] == {"accuracy": {"value": 0.9, "n": 500}, "f1": 0.7}
    assert runs[1]["commit"] == "abc123"
    assert runs[1]["run"] == "nightly-7"
    assert runs[1]["timestamp"].endswith("+00:00")


def test_missing_history_file_is_created_by_the_first_record(project):
    project.config(JSONL_CONFIG)
    project.records({"accuracy": 0.9})
    result = project.run("--metric-gate-record")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["first run: history.jsonl does not exist yet, so there is no baseline"])
    assert [run["metrics"] for run in read_jsonl(project.path / "history.jsonl")] == [{"accuracy": 0.9}]


@pytest.mark.parametrize(
    ("tests", "reason"),
    [
        pytest.param(
            "def test_r(metric_gate):\n    metric_gate.record('accuracy', 0.5)\n",
            "the gate failed",
            id="gate-failed",
        ),
        pytest.param(
            "def test_r(metric_gate):\n    metric_gate.record('accuracy', 0.9)\n\ndef test_bad():\n    assert 0\n",
            "tests failed",
            id="tests-failed",
        ),
        pytest.param("", "the values came from the history itself", id="values-from-history"),
    ],
)
def test_nothing_is_written_when_the_run_must_not_be_recorded(project, tests, reason):
    project.config(JSONL_CONFIG)
    project.history_of("history.jsonl", accuracy=[0.85, 0.86])
    if tests:
        project.file("test_x.py", tests)
    before = project.snapshot()
    result = project.run("--metric-gate-record")
    result.stdout.fnmatch_lines([f"history: nothing written to history.jsonl: {reason}"])
    assert project.snapshot() == before


def test_a_warning_does_not_stop_the_record(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        min = 0.95
        severity = "warning"
    """)
    history = project.history_of("history.jsonl", accuracy=[0.9])
    project.records({"accuracy": 0.9})
    result = project.run("--metric-gate-record")
    assert result.ret == 0
    assert len(read_jsonl(history)) == 2


def test_a_run_without_record_leaves_the_history_untouched(project):
    project.config(JSONL_CONFIG)
    project.history_of("history.jsonl", accuracy=[0.85])
    project.records({"accuracy": 0.9})
    before = project.snapshot()
    assert project.run().ret == 0
    assert project.snapshot() == before


def test_csv_history_gets_a_row_in_its_own_format(project):
    project.config("""
        [tool.metricgate]
        history = "history.csv"
        [tool.metricgate.metrics.accuracy]
        min = 0.8
    """)
    history = project.file("history.csv", "week,accuracy,recall\n1,0.90,0.80\n2,0.91,0.81\n")
    project.records({"accuracy": 0.92, "recall": 0.82})
    assert project.run("--metric-gate-record").ret == 0
    rows = list(csv.DictReader(history.open()))
    assert len(rows) == 3
    assert (rows[2]["accuracy"], rows[2]["recall"]) == ("0.92", "0.82")
    assert rows[2]["week"]  # the label column gets the run's label (its timestamp here)


def test_csv_header_grows_for_a_new_metric(project):
    project.config("""
        [tool.metricgate]
        history = "history.csv"
        [tool.metricgate.metrics.accuracy]
        min = 0.8
    """)
    history = project.file("history.csv", "week,accuracy\n1,0.90\n")
    project.records({"accuracy": 0.92, "f1": 0.5})
    assert project.run("--metric-gate-record").ret == 0
    assert history.read_text().splitlines()[:2] == ["week,accuracy,f1", "1,0.90,"]
    assert history.read_text().splitlines()[2].endswith(",0.92,0.5")


def test_record_with_an_inline_history_is_a_usage_error(project):
    project.config("""
        [tool.metricgate]
        history = { accuracy = [0.9] }
        [tool.metricgate.metrics.accuracy]
        min = 0.8
    """)
    project.records({"accuracy": 0.9})
    result = project.run("--metric-gate-record")
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        [
            (
                "ERROR: pyproject.toml: --metric-gate-record cannot append to an inline history ([tool.metricgate] "
                "history is a table, which is read-only); name a .jsonl or .csv file"
            )
        ]
    )


def test_concurrent_recording_sessions_each_append_their_run(project):
    """Real pytest processes at once (the 16-writer version of this runs on history.append directly)."""
    import subprocess
    import sys

    project.config(JSONL_CONFIG)
    history = project.history_of("history.jsonl", accuracy=[0.85])
    project.records({"accuracy": 0.9})
    sessions = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--metric-gate",
                "--metric-gate-record",
                f"--metric-gate-report-dir=report-{index}",
            ],
            cwd=project.path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for index in range(3)
    ]
    assert [session.wait(120) for session in sessions] == [0, 0, 0]
    assert [run["metrics"] for run in read_jsonl(history)] == [{"accuracy": 0.85}] + [{"accuracy": 0.9}] * 3
