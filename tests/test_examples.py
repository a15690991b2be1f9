"""The bundled examples run as the README says, and the CI workflow example is complete."""

from __future__ import annotations

import shutil

import pytest
import yaml
from conftest import EXAMPLES


def copy_example(project, name):
    shutil.copytree(
        EXAMPLES / name, project.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("metricgate-report")
    )


def test_the_model_evaluation_example_passes_and_records_through_the_fixture(project):
    copy_example(project, "model-evaluation")
    result = project.run()
    assert result.ret == 0
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["accuracy *0.8930 *pass", "metric gate: passed (4 metrics)"])
    metrics = {m["name"]: m for m in project.summary()["metrics"]}
    assert metrics["accuracy"]["source"] == "tests/test_model.py::test_record_classification_metrics"
    # precision = TP / predicted positives and recall = TP / actual positives, so both n times the
    # value give the same whole number of true positives; neither n is the whole set of 2000.
    precision, recall = metrics["precision"], metrics["recall"]
    assert metrics["accuracy"]["n"] == 2000
    assert 0 < precision["n"] < 2000 and 0 < recall["n"] < 2000 and precision["n"] != recall["n"]
    true_positives = precision["value"] * precision["n"]
    assert true_positives == pytest.approx(round(true_positives), abs=1e-6)
    assert recall["value"] * recall["n"] == pytest.approx(true_positives, abs=1e-6)


def test_the_weekly_example_fails_at_the_newest_week(project):
    copy_example(project, "weekly-monitoring")
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["metric gate: FAILED (3 of 3 metrics breached)"])


def test_the_github_workflow_uploads_the_report_even_when_the_gate_fails():
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key "on" as true
    steps = workflow["jobs"]["metric-gate"]["steps"]
    gate = next(step for step in steps if "--metric-gate" in step.get("run", ""))
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact"))
    assert steps.index(upload) > steps.index(gate)
    assert "--metric-gate-require-history" in gate["run"]  # a cache miss stops the job
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "metricgate-report/"


def test_the_data_quality_example_catches_the_drifted_feature(project):
    copy_example(project, "data-quality")
    result = project.run()
    assert result.ret == 1
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "income.psi *FAIL *above max 0.2",
            "income.ks *WARN *above max 0.1",
            "metric gate: FAILED (1 of 5 metrics breached)",
        ]
    )
    metrics = {m["name"]: m for m in project.summary()["metrics"]}
    assert metrics["income.missing_rate"]["verdict"] == "pass"
    assert 0.015 < metrics["income.missing_rate"]["value"] < 0.025  # 2% of values were dropped upstream


def test_the_github_workflow_evaluates_once_records_into_mlflow_on_main_and_pushes_nothing():
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    assert list(workflow["jobs"]) == ["metric-gate"]
    steps = workflow["jobs"]["metric-gate"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert sum("--metric-gate" in run and "pytest" in run for run in runs) == 1
    gate = next(step for step in steps if "--metric-gate-record" in step.get("run", ""))
    assert 'record="--metric-gate-record"' in gate["run"]
    assert '"${{ github.ref_name }}" = main' in gate["run"]
    assert gate["env"]["MLFLOW_TRACKING_URI"] == "${{ secrets.MLFLOW_TRACKING_URI }}"
    assert gate["env"]["MLFLOW_TRACKING_TOKEN"] == "${{ secrets.MLFLOW_TRACKING_TOKEN }}"
    assert not any("git push" in run or "git commit" in run for run in runs)
    assert workflow["permissions"] == {"contents": "read"}
    install = next(run for run in runs if "pip install" in run)
    assert "'pytest-metricgate[mlflow]'" in install


def test_the_file_history_workflow_says_what_it_costs():
    text = (EXAMPLES / "github-actions-file-history.yml").read_text()
    assert "evaluated twice" in text
    assert "second\n#   `git push` is rejected" in text
    assert "cache miss" in text
    workflow = yaml.safe_load(text)
    assert any("git push" in step.get("run", "") for step in workflow["jobs"]["record"]["steps"])


def test_the_gitlab_pipeline_keeps_the_junit_and_metrics_reports_even_when_the_gate_fails():
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    job = pipeline["metric-gate"]
    gate = next(line for line in job["script"] if "--metric-gate" in line)
    junit = gate.split("--junitxml=")[1].split()[0]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    # GitLab sets GITLAB_CI=true, so the gate writes metrics.txt into the report directory.
    assert artifacts["reports"] == {"junit": junit, "metrics": "metricgate-report/metrics.txt"}
    assert "metricgate-report/" in artifacts["paths"]
