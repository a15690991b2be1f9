"""End to end: confidence, max-sigma, min-history, patience and level shifts, each with pass, warn and fail."""

from __future__ import annotations

import json
import random

import pytest


def gate(project, metric_table: str, history: list, value, *args):
    project.config(f"""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        {metric_table}
    """)
    project.jsonl(
        "history.jsonl", [{"run": f"r{i + 1}", "metrics": {"accuracy": v}} for i, v in enumerate(history)]
    )
    project.records({"accuracy": value})
    return project.run(*args)


@pytest.mark.parametrize(
    ("value", "exit_code", "row"),
    [
        # Wilson 95% intervals (scipy.stats.binomtest(k, 400).proportion_ci(method="wilson")):
        # 380/400 -> 0.9264-0.9656 (clear of 0.88 by far); 351/400 -> 0.8417-0.9061; 320/400 -> 0.7580-0.8363
        ((0.95, 400), 0, "accuracy *0.950 *min 0.88, confidence 95% *pass"),
        (
            (0.8775, 400),
            0,
            "accuracy *0.8775 *WARN *inconclusive: 0.8775 (0.8417*0.9061 at n=400, Wilson 95%) vs min 0.88",
        ),
        (
            (0.80, 400),
            1,
            "accuracy *0.800 *FAIL *below min 0.88 * even the upper end 0.8363 of 0.758*0.8363 at n=400, Wilson 95% breaches",
        ),
    ],
    ids=["pass", "warn", "fail"],
)
def test_confidence(any_runner_project, value, exit_code, row):
    result = gate(any_runner_project, 'min = 0.88\nconfidence = 0.95\nkind = "proportion"', [], value)
    assert result.ret == exit_code
    result.stdout.fnmatch_lines([row])


def test_confidence_reads_n_from_the_current_file(project):
    project.config("""
        [tool.metricgate]
        current = "metrics.json"
        [tool.metricgate.metrics.accuracy]
        min = 0.88
        confidence = 0.95
        kind = "proportion"
    """)
    project.file("metrics.json", json.dumps({"accuracy": {"value": 0.8775, "n": 400}}))
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["accuracy *WARN *inconclusive: 0.8775 (0.8417*0.9061 at n=400, Wilson 95%) vs min 0.88"]
    )


def test_too_small_an_evaluation_set_is_a_warning(project):
    result = gate(project, 'max-drop = 0.005\nconfidence = 0.95\nkind = "proportion"', [0.9] * 5, (0.9, 300))
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "accuracy *WARN *evaluation set too small to resolve max-drop 0.005 (*0.034 at n=300, Wilson 95%; needs n*)"
        ]
    )


SPREAD = [0.90, 0.91, 0.89, 0.90, 0.90]  # mean 0.90, sample sd 0.007071


@pytest.mark.parametrize(
    ("history", "value", "exit_code", "row"),
    [
        (SPREAD, 0.885, 0, "accuracy *0.885 *max-sigma 3 *pass"),
        (SPREAD[:3], 0.5, 0, "accuracy *0.500 *max-sigma 3 *pass *max-sigma: not enough history (3 of 5)"),
        (
            SPREAD,
            0.87,
            1,
            "accuracy *FAIL *drop 0.030 = 4.2 sigma > max-sigma 3 (mean 0.900, sample sd 0.007071 of last 5)",
        ),
    ],
    ids=["pass", "not-enough-history", "fail"],
)
def test_max_sigma(any_runner_project, history, value, exit_code, row):
    result = gate(any_runner_project, "max-sigma = 3", history, value)
    assert result.ret == exit_code
    result.stdout.fnmatch_lines([row])


def test_max_sigma_warns_as_a_warning_severity(project):
    result = gate(project, 'max-sigma = 3\nseverity = "warning"', SPREAD, 0.87)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["accuracy *WARN *drop 0.030 = 4.2 sigma*"])


def test_min_history_is_configurable(project):
    result = gate(project, "max-sigma = 3\nmin-history = 8", SPREAD, 0.5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["accuracy *pass *max-sigma: not enough history (5 of 8)"])


@pytest.mark.parametrize(
    ("history", "value", "exit_code", "row"),
    [
        ([0.9, 0.9, 0.9], 0.9, 0, "accuracy *0.900 *min 0.88, patience 2 *pass"),
        (
            [0.9, 0.9, 0.9],
            0.85,
            0,
            "accuracy *WARN *below min 0.88; breach 1 of 2 (patience: fails after 2 breaching runs in a row)",
        ),
        ([0.9, 0.9, 0.86], 0.85, 1, "accuracy *FAIL *below min 0.88"),
    ],
    ids=["pass", "warn", "fail"],
)
def test_patience(any_runner_project, history, value, exit_code, row):
    result = gate(any_runner_project, "min = 0.88\npatience = 2", history, value)
    assert result.ret == exit_code
    result.stdout.fnmatch_lines([row])


def test_a_warned_run_is_recorded_so_the_next_breach_fails(project):
    first = gate(project, "min = 0.88\npatience = 2", [0.9, 0.9], 0.85, "--metric-gate-record")
    assert first.ret == 0
    project.records({"accuracy": 0.84})
    second = project.run()
    assert second.ret == 1
    second.stdout.fnmatch_lines(["accuracy *0.840 *FAIL *below min 0.88"])


def test_the_weekly_drop_is_reported_as_a_level_shift(project):
    weeks = [0.89, 0.90, 0.91, 0.91, 0.92, 0.91, 0.90, 0.89, 0.87, 0.85, 0.86, 0.86]
    project.config("""
        [tool.metricgate]
        history = "history.csv"
        [tool.metricgate.metrics.accuracy]
        min = 0.88
    """)
    project.file("history.csv", "week,accuracy\n" + "".join(f"{i + 1},{v}\n" for i, v in enumerate(weeks)))
    result = project.run()
    # medians by hand: weeks 1-8 sorted .89 .89 .90 .90 .91 .91 .91 .92 -> 0.905; weeks 9-12 -> 0.86
    result.stdout.fnmatch_lines(["accuracy: level shift at week 9: 0.905 \u2192 0.860"])
    (accuracy,) = project.summary()["metrics"]
    assert accuracy["shifts"] == [{"at": "9", "before": 0.905, "after": 0.86}]


def test_a_flat_noisy_history_shows_no_shift(project):
    rng = random.Random(7)
    # binomial noise of accuracy 0.90 on 1,000 examples, 60 runs
    values = [sum(rng.random() < 0.9 for _ in range(1000)) / 1000 for _ in range(60)]
    result = gate(project, "min = 0.5", values[:-1], values[-1])
    assert result.ret == 0
    assert "level shift" not in result.stdout.str()
    assert project.summary()["metrics"][0]["shifts"] == []
