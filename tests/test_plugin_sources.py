"""End to end: where this run's values come from (fixture, current file, newest history run)."""

from __future__ import annotations

import json

CONFIG = """
    [tool.metricgate]
    history = "history.jsonl"
    current = "metrics.json"
    [tool.metricgate.metrics.accuracy]
    min = 0.8
    [tool.metricgate.metrics."eval.recall"]
    min = 0.8
"""


def test_fixture_values_are_judged(any_runner_project):
    project = any_runner_project
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.8
    """)
    project.file(
        "test_a.py",
        "def test_accuracy(metric_gate):\n    metric_gate.record('accuracy', 0.85, n=400)\n",
    )
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["accuracy *0.850 *min 0.8 *pass"])
    (accuracy,) = project.summary()["metrics"]
    assert (accuracy["value"], accuracy["n"], accuracy["source"]) == (0.85, 400, "test_a.py::test_accuracy")


def test_current_file_values_flatten_nested_objects_and_keep_n(project):
    project.config(CONFIG)
    project.file(
        "metrics.json",
        json.dumps(
            {"accuracy": {"value": 0.9, "n": 1000}, "eval": {"recall": 0.7, "note": "text is ignored"}}
        ),
    )
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["eval.recall *0.700 *FAIL *below min 0.8", "accuracy *0.900 *pass"])
    metrics = {m["name"]: m for m in project.summary()["metrics"]}
    assert (metrics["accuracy"]["value"], metrics["accuracy"]["n"]) == (0.9, 1000)
    assert metrics["eval.recall"]["source"] == "current file metrics.json"


def test_fixture_value_wins_over_the_current_file(project):
    project.config(CONFIG)
    project.file("metrics.json", json.dumps({"accuracy": 0.5, "eval": {"recall": 0.9}}))
    project.records({"accuracy": 0.95})
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["accuracy *0.950 *pass"])


def test_current_option_overrides_the_file_setting(project):
    project.config(CONFIG)
    project.file("metrics.json", json.dumps({"accuracy": 0.1, "eval": {"recall": 0.1}}))
    project.file("other.json", json.dumps({"accuracy": 0.9, "eval": {"recall": 0.9}}))
    result = project.run("--metric-gate-current=other.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["metric gate: passed (2 metrics)"])


def test_without_values_the_newest_history_run_is_judged_against_the_runs_before_it(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        max-drop = 0.02
    """)
    # median of the runs before the newest: 0.90 0.92 0.91 -> 0.91; newest 0.88 drops 0.03
    project.history_of("history.jsonl", accuracy=[0.90, 0.92, 0.91, 0.88])
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "accuracy *0.880 *0.910 *FAIL *drop 0.030 > max-drop 0.02 vs median 0.910 of last 3",
            (
                "values: no test recorded any and no current file gave any, so the newest history run (r4) "
                "is judged against the 3 runs before it"
            ),
        ]
    )


def test_history_option_overrides_the_file_setting(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.history_of("history.jsonl", accuracy=[0.1])
    project.history_of("other.jsonl", accuracy=[0.9])
    result = project.run("--metric-gate-history=other.jsonl")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["accuracy *0.900 *pass"])


def test_inline_history_gives_the_baseline(project):
    project.config("""
        [tool.metricgate]
        history = { accuracy = [0.89, 0.90, 0.91], recall = [0.87, 0.88, 0.89] }
        [tool.metricgate.metrics.accuracy]
        max-drop = 0.01
    """)
    project.records({"accuracy": 0.85})
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["accuracy *0.850 *0.900 *FAIL *drop 0.050 > max-drop 0.01 vs median 0.900 of last 3"]
    )


def test_csv_history_with_a_label_column(project):
    project.config("""
        [tool.metricgate]
        history = "history.csv"
        [tool.metricgate.metrics.accuracy]
        max-drop = 0.02
    """)
    project.file("history.csv", "week,accuracy,loss\n1,0.90,0.3\n2,0.91,0.29\n3,,0.31\n4,0.92,0.28\n")
    project.records({"accuracy": 0.80})
    result = project.run()
    assert result.ret == 1
    # week 3 did not measure accuracy: the baseline is the median of 0.90 0.91 0.92
    result.stdout.fnmatch_lines(
        ["accuracy *0.800 *0.910 *FAIL *drop 0.110 > max-drop 0.02 vs median 0.910 of last 3"]
    )


def test_a_long_history_is_read_from_its_end(project):
    """Only the newest runs matter: a malformed first line is never read, the last runs set the baseline."""
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        chart-runs = 20
        [tool.metricgate.metrics.accuracy]
        max-drop = 0.02
    """)
    old = [json.dumps({"run": f"old{i}", "metrics": {"accuracy": 0.5}}) for i in range(20_000)]
    new = [json.dumps({"run": f"new{i}", "metrics": {"accuracy": 0.95}}) for i in range(30)]
    project.file("history.jsonl", "\n".join(["{not json", *old, *new]) + "\n")
    project.records({"accuracy": 0.90})
    result = project.run()
    assert result.ret == 1
    # had the old 0.5 runs counted, 0.90 would have been a rise
    result.stdout.fnmatch_lines(
        [
            "accuracy *0.900 *0.950 *FAIL *drop 0.050 > max-drop 0.02 vs median 0.950 of last 5",
            "charts: the newest 20 runs are shown; older runs left out (chart-runs)",
        ]
    )


def test_many_metrics_are_charted_through_the_worker_pool(project):
    project.config(
        "[tool.metricgate]\n" + "".join(f"[tool.metricgate.metrics.m{i:02d}]\nmin = 0.5\n" for i in range(20))
    )
    project.records({f"m{i:02d}": 0.9 for i in range(20)})
    # its own process: in-process runs may share this one's threads, where the gate does not fork
    result = project.pytester.runpytest_subprocess("--metric-gate", "-p", "no:cacheprovider")
    assert result.ret == 0
    charts = {m["name"]: m["chart"] for m in project.summary()["metrics"]}
    assert len(charts) == 20
    for chart in charts.values():
        assert (project.path / "metricgate-report" / chart).read_bytes().startswith(b"\x89PNG")
