"""End to end: many metrics through defaults and globs, interval kinds, the family adjustment, robust
max-sigma and level shifts that matter now."""

from __future__ import annotations

import json
import math

from scipy import stats


def test_two_hundred_metrics_configured_through_defaults_and_globs(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.defaults]
        max-drop = 0.05
        [tool.metricgate.metrics."class_*.recall"]
        min = 0.5
        [tool.metricgate.metrics."class_1*.recall"]
        min = 0.6
        [tool.metricgate.metrics."class_7.recall"]
        min = 0.95
    """)
    names = [f"class_{index}.recall" for index in range(200)]
    project.jsonl("history.jsonl", [{"run": f"r{i}", "metrics": dict.fromkeys(names, 0.9)} for i in range(5)])
    project.records(dict.fromkeys(names, 0.9) | {"class_3.recall": 0.8, "untracked": 1.0})
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            # class_7 has an exact table: min 0.95 over the glob's, max-drop from the defaults
            "class_7.recall *0.900 *0.900 *min 0.95, max-drop 0.05 *FAIL *below min 0.95",
            'class_3.recall *0.800 *0.900 *min 0.5, max-drop 0.05 via "class_[*].recall" *FAIL *drop 0.100 > max-drop 0.05*',
            'class_12.recall *0.900 *0.900 *min 0.6, max-drop 0.05 via "class_1[*].recall" *pass',
            "untracked *1.000 *- *- *ungated",  # the column's three decimals, as every row
            "metric gate: FAILED (2 of 200 metrics breached)",
        ]
    )


def test_a_loss_with_n_gets_no_proportion_interval(project):
    project.config("""
        [tool.metricgate]
        [tool.metricgate.metrics.log_loss]
        max = 0.2
        direction = "lower"
        confidence = 0.95
    """)
    project.file("test_m.py", "def test_m(metric_gate):\n    metric_gate.record('log_loss', 0.2031, n=228)\n")
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            (
                'log_loss *0.2031 *FAIL *confidence: n alone gives no interval for a metric of kind "value" '
                '(give stderr or samples, or set kind = "proportion"), so the rules use the point value; above max 0.2'
            )
        ]
    )


def test_a_loss_with_stderr_is_judged_on_its_normal_interval(any_runner_project):
    project = any_runner_project
    project.config("""
        [tool.metricgate]
        [tool.metricgate.metrics.log_loss]
        max = 0.2
        direction = "lower"
        confidence = 0.95
    """)
    project.file(
        "test_m.py", "def test_m(metric_gate):\n    metric_gate.record('log_loss', 0.2031, stderr=0.01)\n"
    )
    result = project.run()
    assert result.ret == 0
    z = stats.norm.ppf(0.975)  # 0.2031 -/+ 1.96 * 0.01
    result.stdout.fnmatch_lines(
        [
            (
                f"log_loss *0.2031 *WARN *inconclusive: 0.2031 ({0.2031 - z * 0.01:.4f}?{0.2031 + z * 0.01:.4f}, "
                "stderr 0.01, normal 95%) vs max 0.2"
            )
        ]
    )


def test_f1_with_samples_is_judged_on_a_reproducible_bootstrap_interval(any_runner_project):
    project = any_runner_project
    project.config("""
        [tool.metricgate]
        [tool.metricgate.metrics.f1]
        min = 0.8
        confidence = 0.95
    """)
    project.file(
        "test_m.py",
        "import numpy as np\n\n"
        "def test_m(metric_gate):\n"
        "    samples = np.random.default_rng(5).beta(7.5, 2.5, size=300)\n"
        "    metric_gate.record('f1', float(samples.mean()), samples=samples)\n",
    )
    first = project.run()
    second = project.run()
    rows = [line for line in first.stdout.lines if line.startswith("f1 ")]
    assert rows == [line for line in second.stdout.lines if line.startswith("f1 ")]
    # the mean of Beta(7.5, 2.5) is 0.75, its sd 0.131: at n=300 the interval is about +-0.015, wholly below 0.8
    assert len(rows) == 1 and "FAIL" in rows[0]
    assert "bootstrap of 300 samples, 95% breaches" in rows[0]


def test_the_summary_says_how_many_tests_shared_the_family(project):
    project.config("""
        [tool.metricgate]
        current = "metrics.json"
        [tool.metricgate.defaults]
        min = 0.83
        confidence = 0.95
        [tool.metricgate.metrics."m*"]
    """)
    values = {f"m{i}": {"value": 0.9, "stderr": 0.01} for i in range(40)}
    values["m0"] = {"value": 0.80, "stderr": 0.01}  # 3 standard errors below min: p = 0.00135
    project.file("metrics.json", json.dumps(values))
    project.records({})
    result = project.run()
    # 40 tests share 2.5%: the first rank is judged at 0.025 / 40 = 0.000625 < 0.00135
    assert stats.norm.sf(3) > 0.025 / 40
    assert result.ret == 0
    line = "family-wise: 40 tests shared a 2.5% level (Holm step-down); the first rank was judged at 0.0625%"
    result.stdout.fnmatch_lines(["m0 *0.800 *WARN *inconclusive, family-wise: 0.800 (*", line])
    assert line in project.summary()["notes"]


def sigma_project(project, history, value):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        max-sigma = 3
    """)
    project.jsonl(
        "history.jsonl", [{"run": f"r{i}", "metrics": {"accuracy": v}} for i, v in enumerate(history)]
    )
    project.records({"accuracy": value})
    return project.run()


def test_max_sigma_on_a_flat_window_fails_a_real_drop(project):
    result = sigma_project(project, [0.9] * 5, 0.5)
    assert result.ret == 1
    # floor 1e-6 x 0.9 = 9e-7: 0.4 / 9e-7 = 444,444 sigma
    result.stdout.fnmatch_lines(
        [
            "accuracy *FAIL *drop 0.400 = 4.44e+05 sigma > max-sigma 3 (mean 0.900, spread 9e-07 from min-sigma*"
        ]
    )


def test_max_sigma_on_a_rounding_noise_window_ignores_a_rounding_drop(project):
    window = [0.9, 0.9 + 1e-12, 0.9 - 1e-12, 0.9, 0.9 + 1e-12]
    result = sigma_project(project, window, 0.9 - 1e-10)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["accuracy *pass"])
    assert math.isclose(0.9 - 1e-10, 0.9, rel_tol=1e-9)


def test_a_shift_outside_the_window_is_not_mentioned_but_stays_on_the_chart(project):
    # a step from 0.95 to 0.90 after run 10, then 10 flat-ish runs: the shift lies 11 runs back
    history = [0.95, 0.951, 0.949, 0.95, 0.952, 0.948, 0.95, 0.951, 0.949, 0.95]
    history += [0.90, 0.901, 0.899, 0.90, 0.902, 0.898, 0.90, 0.901, 0.899, 0.90]
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.jsonl(
        "history.jsonl", [{"run": f"r{i + 1}", "metrics": {"accuracy": v}} for i, v in enumerate(history)]
    )
    project.records({"accuracy": 0.9})
    result = project.run()
    assert result.ret == 0
    assert "level shift" not in result.stdout.str()
    (accuracy,) = project.summary()["metrics"]
    assert accuracy["shifts"] == []
    # the same history judged with a window of 12 runs reaches back past the shift at r11
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        window = 12
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    result = project.run()
    result.stdout.fnmatch_lines(["accuracy: level shift at r11: 0.950 \u2192 0.900"])
