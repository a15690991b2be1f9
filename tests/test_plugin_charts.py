"""Which charts a run draws (``chart-metrics``) and what they name, end to end."""

from __future__ import annotations

import pytest

CONFIG = """
    [tool.metricgate]
    history = "history.jsonl"
    {extra}
    [tool.metricgate.metrics.accuracy]
    min = 0.88
    [tool.metricgate.metrics.recall]
    min = 0.80
    [tool.metricgate.metrics.latency_ms]
    direction = "lower"
    max = 50
    severity = "warning"
"""


@pytest.fixture
def gated(any_runner_project):
    project = any_runner_project
    project.history_of("history.jsonl", accuracy=[0.90, 0.91], recall=[0.85, 0.86], latency_ms=[40, 41])
    # accuracy fails, latency_ms warns, recall passes, f1 is recorded but not configured (ungated)
    project.records({"accuracy": 0.87, "recall": 0.85, "latency_ms": 55, "f1": 0.5})
    return project


def test_breached_draws_charts_only_for_metrics_that_did_not_pass_and_says_so(gated):
    gated.config(CONFIG.format(extra='chart-metrics = "breached"'))
    result = gated.run()
    assert result.ret == 1
    note = (
        'charts: 2 metrics without a breach not drawn on their own (chart-metrics = "breached"); '
        "the overview shows every metric"
    )
    result.stdout.fnmatch_lines([note, "overview: failing metrics first, then warnings, then the rest"])
    report = gated.path / "metricgate-report"
    charts = {m["name"]: m["chart"] for m in gated.summary()["metrics"]}
    assert charts == {"accuracy": "accuracy.png", "latency_ms": "latency_ms.png", "recall": None, "f1": None}
    assert sorted(p.name for p in report.glob("*.png")) == ["accuracy.png", "latency_ms.png", "overview.png"]
    assert note in gated.summary()["notes"]
    result.stdout.fnmatch_lines(["report: metricgate-report/ (2 charts, overview, *"])


def test_all_is_the_default_and_draws_every_metric(gated):
    gated.config(CONFIG.format(extra=""))
    result = gated.run()
    assert result.ret == 1
    assert "not drawn on" not in result.stdout.str()
    report = gated.path / "metricgate-report"
    assert len(list(report.glob("*.png"))) == 5  # four metrics and the overview


def test_an_unknown_chart_metrics_value_is_a_usage_error_naming_the_choices(project):
    project.config(CONFIG.format(extra='chart-metrics = "failed"'))
    project.records({"accuracy": 0.9})
    result = project.run()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ['ERROR: pyproject.toml: [tool.metricgate] chart-metrics must be "all" or "breached", got "failed"']
    )
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_the_run_label_names_this_runs_point(project, monkeypatch):
    monkeypatch.setenv("METRICGATE_RUN_LABEL", "pr-42")
    project.config(CONFIG.format(extra=""))
    project.history_of("history.jsonl", accuracy=[0.90, 0.91])
    project.records({"accuracy": 0.87})
    project.file(
        "conftest.py",
        "import pytest\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_unconfigure(config):\n"
        "    from pytest_metricgate.plugin import _SESSION_KEY\n"
        "    gate = config.stash[_SESSION_KEY]\n"
        "    print('LABELS', gate.series['accuracy'].labels)\n",
    )
    result = project.run("-s")
    result.stdout.fnmatch_lines(["LABELS ('r1', 'r2', 'pr-42')"])
