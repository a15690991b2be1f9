"""End to end: each rule, each exit status, and what the terminal and summary.json say."""

from __future__ import annotations

import pytest

ACC_HISTORY = {"accuracy": [0.90, 0.91, 0.92, 0.91, 0.90]}  # median 0.91


@pytest.mark.parametrize(
    ("metric_table", "value", "exit_code", "row"),
    [
        pytest.param("min = 0.88", 0.90, 0, "accuracy *0.900 *0.910 *min 0.88 *pass", id="min-pass"),
        pytest.param("min = 0.88", 0.88, 0, "accuracy *0.880 *0.910 *min 0.88 *pass", id="min-equal"),
        pytest.param(
            "min = 0.88", 0.87, 1, "accuracy *0.870 *0.910 *min 0.88 *FAIL *below min 0.88", id="min-fail"
        ),
        pytest.param(
            "max = 0.89", 0.90, 1, "accuracy *0.900 *0.910 *max 0.89 *FAIL *above max 0.89", id="max-fail"
        ),
        pytest.param(
            "max-drop = 0.02",
            0.885,
            1,
            "accuracy *0.885 *0.910 *max-drop 0.02 *FAIL *drop 0.025 > max-drop 0.02 vs median 0.910 of last 5",
            id="max-drop-fail",
        ),
        pytest.param(
            "max-drop = 0.02", 0.895, 0, "accuracy *0.895 *0.910 *max-drop 0.02 *pass", id="max-drop-pass"
        ),
        # 100 * (0.91 - 0.88) / 0.91 = 3.297%
        pytest.param(
            "max-drop-pct = 3",
            0.88,
            1,
            "accuracy *0.880 *0.910 *max-drop-pct 3% *FAIL *drop 3.3% > max-drop-pct 3% vs median 0.910 of last 5",
            id="max-drop-pct-fail",
        ),
        pytest.param(
            'min = 0.95\nseverity = "warning"',
            0.90,
            0,
            "accuracy *0.900 *0.910 *min 0.95 *WARN *below min 0.95",
            id="severity-warning",
        ),
    ],
)
def test_each_rule_end_to_end(project, metric_table, value, exit_code, row):
    project.config(f"""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        {metric_table}
    """)
    project.history_of("history.jsonl", **ACC_HISTORY)
    project.records({"accuracy": value})
    result = project.run()
    assert result.ret == exit_code
    result.stdout.fnmatch_lines(["*= metric gate =*", row])


def test_lower_is_better_rise_fails(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.latency_ms]
        direction = "lower"
        max-drop = 10
    """)
    project.history_of("history.jsonl", latency_ms=[100, 100, 100])
    project.records({"latency_ms": 112})
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["latency_ms *112 *100 *FAIL *rise 12 > max-drop 10 vs median 100 of last 3"])


def test_gate_fails_the_session_even_when_every_test_passed(any_runner_project):
    project = any_runner_project
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.9
        [tool.metricgate.metrics.recall]
        min = 0.9
        [tool.metricgate.metrics.precision]
        min = 0.5
    """)
    project.records({"accuracy": 0.8, "recall": 0.7, "precision": 0.9})
    result = project.run()
    assert result.ret == 1
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "metric * verdict  reason",
            "accuracy *FAIL *below min 0.9",
            "recall *FAIL *below min 0.9",
            "precision *pass",
            "metric gate: FAILED (2 of 3 metrics breached)",
        ]
    )
    summary = project.summary()
    assert summary["status"] == "failed"
    assert [(m["name"], m["verdict"]) for m in summary["metrics"]] == [
        ("accuracy", "fail"),
        ("recall", "fail"),
        ("precision", "pass"),
    ]


def test_passing_gate_keeps_pytest_exit_status(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.records({"accuracy": 0.8})
    project.file("test_broken.py", "def test_broken():\n    assert False\n")
    result = project.run()
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["metric gate: passed (1 metric)"])


def test_missing_required_metric_fails_and_optional_does_not(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
        [tool.metricgate.metrics.gpu_memory]
        required = false
    """)
    project.file("test_nothing.py", "def test_nothing(metric_gate):\n    pass\n")
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "accuracy *-*FAIL *missing",
            "gpu_memory *-*pass *missing (optional)",
            "metric gate: FAILED (1 of 2 metrics breached)",
        ]
    )


def test_nan_is_accepted_then_fails_as_not_finite(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.file(
        "test_nan.py", "def test_nan(metric_gate):\n    metric_gate.record('accuracy', float('nan'))\n"
    )
    result = project.run()
    assert result.ret == 1
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["accuracy *nan *FAIL *not finite (nan)"])
    assert project.summary()["metrics"][0]["value"] == "nan"


def test_recorded_but_unconfigured_metric_is_ungated_and_charted(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.records({"accuracy": 0.8, "f1": 0.01})
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["f1 *0.010 *- *- *ungated"])
    f1 = next(m for m in project.summary()["metrics"] if m["name"] == "f1")
    assert f1["verdict"] == "ungated"
    assert (project.path / "metricgate-report" / f1["chart"]).is_file()


def test_relative_rule_without_history_says_no_baseline_yet(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        max-drop = 0.01
    """)
    project.records({"accuracy": 0.8})
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "accuracy *0.800 *- *max-drop 0.01 *pass *no baseline yet",
            "first run: history.jsonl does not exist yet, so there is no baseline",
        ]
    )


def test_summary_json_lists_value_n_baseline_reasons_and_chart(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        min = 0.95
    """)
    project.history_of("history.jsonl", **ACC_HISTORY)
    project.records({"accuracy": (0.9, 2000)})
    project.run()
    accuracy = project.summary()["metrics"][0]
    assert accuracy["name"] == "accuracy"
    assert accuracy["value"] == 0.9
    assert accuracy["n"] == 2000
    assert accuracy["baseline"] == pytest.approx(0.91)
    assert accuracy["verdict"] == "fail"
    assert accuracy["reasons"] == ["below min 0.95"]
    assert accuracy["chart"] == "accuracy.png"
    assert accuracy["source"] == "test_metrics.py::test_record"


def test_usage_error_exits_4_without_traceback(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = "high"
    """)
    project.records({"accuracy": 0.9})
    result = project.run()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ['ERROR: pyproject.toml: [tool.metricgate.metrics.accuracy] min must be a finite number, got "high"']
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_no_tests_and_a_passing_gate_exit_0(project):
    project.config("""
        [tool.metricgate]
        history = { accuracy = [0.9, 0.91] }
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["metric gate: passed (1 metric)"])


def test_no_tests_without_the_gate_keep_pytests_exit_5(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    assert project.run(gate=False).ret == 5


def test_report_dir_option_wins_over_the_file(project):
    project.config("""
        [tool.metricgate]
        report-dir = "from-config"
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.records({"accuracy": 0.9})
    result = project.run("--metric-gate-report-dir=from-cli")
    assert result.ret == 0
    assert (project.path / "from-cli" / "summary.json").is_file()
    assert not (project.path / "from-config").exists()
    result.stdout.fnmatch_lines(
        ["report: from-cli/ (1 chart, overview, index.html, summary.json, summary.md)"]
    )


def test_paths_in_the_config_are_relative_to_the_pyproject_not_the_cwd(project):
    project.config("""
        [tool.metricgate]
        history = "data/history.jsonl"
        report-dir = "out"
        [tool.metricgate.metrics.accuracy]
        max-drop = 0.01
    """)
    project.history_of("data/history.jsonl", accuracy=[0.9])
    project.records({"accuracy": 0.5}, name="tests/test_metrics.py")
    sub = project.path / "tests"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(sub)
        result = project.pytester.runpytest(
            "--metric-gate", "-p", "no:cacheprovider", f"--rootdir={project.path}"
        )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["accuracy *FAIL *drop 0.400 > max-drop 0.01 vs median 0.900 of last 1"])
    assert (project.path / "out" / "summary.json").is_file()


def test_quiet_shows_only_failing_rows_and_the_headline(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.9
        [tool.metricgate.metrics.recall]
        min = 0.1
    """)
    project.records({"accuracy": 0.5, "recall": 0.5})
    result = project.run("-q")
    text = result.stdout.str()
    assert "accuracy" in text and "below min 0.9" in text
    assert "recall" not in text
    result.stdout.fnmatch_lines(["metric gate: FAILED (1 of 2 metrics breached)"])
