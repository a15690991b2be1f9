"""The bundled examples run as the README says, and the CI workflow example is complete."""

from __future__ import annotations

import shutil

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
    result.stdout.fnmatch_lines(["accuracy *0.893 *pass", "metric gate: passed (4 metrics)"])
    sources = {m["name"]: m["source"] for m in project.summary()["metrics"]}
    assert sources["accuracy"] == "tests/test_model.py::test_record_classification_metrics"


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
