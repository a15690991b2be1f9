"""What CI systems read natively: GitHub workflow-command annotations (parsed back by the rules GitHub
documents for workflow commands) and GitLab's metrics.txt (parsed with prometheus_client's text parser)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from pytest_metricgate.ci import escape_data, escape_property, gitlab_metrics
from pytest_metricgate.gate import GateResult, Verdict

# GitHub's workflow-command syntax: ::command key=value,key=value::message, where a property value may
# not hold "," or ":" raw, and a message may not hold CR or LF raw; "%XX" escapes them.
COMMAND = re.compile(r"^::(?P<command>[a-z]+)(?: (?P<properties>[^:]*))?::(?P<message>.*)$")


def _unescape(text: str) -> str:
    # GitHub's order: %0D, %0A, %3A, %2C, and %25 last, so "%253A" stays a literal "%3A".
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND.match(line)
    assert match, line
    properties = {}
    for pair in (match["properties"] or "").split(","):
        key, _, value = pair.partition("=")
        properties[key] = _unescape(value)
    assert "\r" not in match["message"] and "\n" not in match["message"]
    return match["command"], properties, _unescape(match["message"])


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("100%", "100%25", "100%25"),
        ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
        ("line1\nline2\r", "line1%0Aline2%0D", "line1%0Aline2%0D"),
        ("%3A", "%253A", "%253A"),  # an escape-looking name stays literal
    ],
)
def test_workflow_command_escaping_follows_githubs_rules(raw, data, prop):
    assert (escape_data(raw), escape_property(raw)) == (data, prop)


@given(st.text())
def test_escaped_properties_and_messages_parse_back_to_the_text(text):
    line = f"::error title={escape_property(text)}::{escape_data(text)}"
    assert parse_command(line) == ("error", {"title": text}, text)


NAMES = ["accuracy", "f1, macro: 100%", "two\nlines", "latency_ms"]


@pytest.fixture
def annotated(project, ci_env):
    project.config(
        '[tool.metricgate]\nhistory = "history.jsonl"\n'
        + "".join(f"[tool.metricgate.metrics.{json.dumps(name)}]\nmin = 0.5\n" for name in NAMES[:3])
        + '[tool.metricgate.metrics.latency_ms]\ndirection = "lower"\nmax = 50\nseverity = "warning"\n'
    )
    project.history_of("history.jsonl", **{name: [0.9, 0.8, 0.9] for name in NAMES[:3]}, latency_ms=[40])
    project.records({"accuracy": 0.4, "f1, macro: 100%": 0.45, "two\nlines": 0.9, "latency_ms": 55})
    return project, ci_env


def test_on_github_actions_each_failure_and_warning_is_an_annotation(annotated):
    project, ci_env = annotated
    ci_env(GITHUB_ACTIONS="true")
    result = project.run("-q")
    commands = [parse_command(line) for line in result.stdout.lines if line.startswith("::")]
    assert commands == [
        ("error", {"title": "metric gate: accuracy"}, "accuracy 0.400 below min 0.5 (baseline 0.900)"),
        (
            "error",
            {"title": "metric gate: f1, macro: 100%"},
            "f1, macro: 100% 0.450 below min 0.5 (baseline 0.900)",
        ),
        ("warning", {"title": "metric gate: latency_ms"}, "latency_ms 55 above max 50 (baseline 40)"),
    ]
    assert "::error title=metric gate%3A accuracy::accuracy 0.400 below min 0.5 (baseline 0.900)" in (
        result.stdout.lines
    )


def test_a_name_with_a_line_break_stays_on_one_annotation_line(project, ci_env):
    ci_env(GITHUB_ACTIONS="true")
    project.config('[tool.metricgate.metrics."two\\nlines"]\nmin = 0.5\n')
    project.records({"two\nlines": 0.25})
    result = project.run()
    (line,) = [line for line in result.stdout.lines if line.startswith("::")]
    assert line == "::error title=metric gate%3A two%0Alines::two%0Alines 0.250 below min 0.5"
    assert parse_command(line)[1] == {"title": "metric gate: two\nlines"}


def test_no_annotation_outside_github_actions(annotated):
    project, ci_env = annotated
    ci_env(GITHUB_ACTIONS="false")
    result = project.run()
    assert not [line for line in result.stdout.lines if line.startswith("::")]


# -- GitLab ------------------------------------------------------------------------


def _samples(text: str) -> dict[str, float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert sample.labels == {}, sample  # GitLab splits lines on whitespace: no labels
            assert sample.name not in samples
            samples[sample.name] = sample.value
    return samples


def test_gitlab_metrics_txt_has_one_distinct_sample_per_metric(annotated):
    project, ci_env = annotated
    ci_env(GITLAB_CI="true")
    result = project.run()
    result.stdout.fnmatch_lines(["report: metricgate-report/ (*, summary.md, metrics.txt)"])
    text = (project.path / "metricgate-report/metrics.txt").read_text()
    assert all(len(line.split()) == 2 for line in text.splitlines())
    assert _samples(text) == {"accuracy": 0.4, "f1_macro_100": 0.45, "two_lines": 0.9, "latency_ms": 55.0}


def test_gitlab_metrics_names_that_clean_alike_stay_distinct():
    result = GateResult(
        verdicts=tuple(
            Verdict(name=name, verdict="pass", value=value)
            for name, value in (("a b", 1.0), ("a/b", 2.0), ("9lives", 3.0), ("nan", float("nan")))
        )
        + (Verdict(name="gone", verdict="fail", value=None),)
    )
    samples = _samples(gitlab_metrics(result))
    assert {k: v for k, v in samples.items() if k != "nan"} == {
        "a_b": 1.0,
        "a_b_2": 2.0,
        "metric_9lives": 3.0,
    }
    assert samples["nan"] != samples["nan"]  # NaN survives as NaN


@pytest.mark.parametrize(
    ("variable", "key", "written"),
    [
        ({}, None, False),
        ({"GITLAB_CI": "true"}, None, True),
        ({}, "true", True),
        ({"GITLAB_CI": "true"}, "false", False),
    ],
)
def test_gitlab_metrics_are_written_on_gitlab_or_when_the_key_asks(project, ci_env, variable, key, written):
    ci_env(**variable)
    extra = "" if key is None else f"gitlab-metrics = {key}\n"
    project.config(f"[tool.metricgate]\n{extra}[tool.metricgate.metrics.accuracy]\nmin = 0.5\n")
    project.records({"accuracy": 0.9})
    assert project.run().ret == 0
    assert (project.path / "metricgate-report/metrics.txt").exists() is written


def test_gitlab_metrics_key_must_be_a_boolean(project):
    project.config(
        '[tool.metricgate]\ngitlab-metrics = "yes"\n[tool.metricgate.metrics.accuracy]\nmin = 0.5\n'
    )
    result = project.run()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ['ERROR: pyproject.toml: [tool.metricgate] gitlab-metrics must be true or false, got "yes"']
    )


# -- run metadata ----------------------------------------------------------------


def test_summary_json_and_md_carry_the_run_on_a_pull_request(project, ci_env):
    ci_env(
        METRICGATE_RUN_LABEL="pr-7",
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_SHA="feedfacefeedfacefeedfacefeedfacefeedface",
        GITHUB_HEAD_REF="fix/threshold",
        GITHUB_REF_NAME="7/merge",
        GITHUB_SERVER_URL="https://github.example",
        GITHUB_REPOSITORY="org/model",
        GITHUB_RUN_ID="123",
    )
    project.config("[tool.metricgate.metrics.accuracy]\nmin = 0.5\n")
    project.records({"accuracy": 0.9})
    project.run()
    summary = project.summary()
    run = summary["run"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", run.pop("timestamp"))
    assert run == {
        "run": "pr-7",
        "commit": "feedfacefeedfacefeedfacefeedfacefeedface",
        "commit_note": "the pull request's merge commit, not its head",
        "branch": "fix/threshold",
        "ci_url": "https://github.example/org/model/actions/runs/123",
    }
    assert summary["report"] == str(project.path / "metricgate-report" / "index.html")
    heading = (project.path / "metricgate-report/summary.md").read_text().splitlines()[:3]
    assert heading[0] == "### \u2705 metric gate: passed (1 metric)"
    assert re.fullmatch(
        r"run pr-7, commit feedfacefeed \(the pull request's merge commit, not its head\), branch fix/threshold, "
        r"\S+ \u00b7 \[CI run\]\(<https://github\.example/org/model/actions/runs/123>\)",
        heading[2],
    ), heading[2]


def test_on_gitlab_the_report_is_the_jobs_artifact_link(project, ci_env):
    ci_env(
        GITLAB_CI="true", CI_JOB_URL="https://gitlab.example/g/p/-/jobs/5", CI_PROJECT_DIR=str(project.path)
    )
    project.config("[tool.metricgate.metrics.accuracy]\nmin = 0.5\n")
    project.records({"accuracy": 0.9})
    project.run()
    summary = project.summary()
    assert (
        summary["report"] == "https://gitlab.example/g/p/-/jobs/5/artifacts/file/metricgate-report/index.html"
    )
    assert summary["run"]["ci_url"] == "https://gitlab.example/g/p/-/jobs/5"


# -- -q ------------------------------------------------------------------------------


def test_quiet_still_says_what_was_not_done(project, ci_env, monkeypatch):
    ci_env()
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    project.config(
        '[tool.metricgate]\nhistory = "history.jsonl"\n[tool.metricgate.metrics.accuracy]\nmin = 0.5\n'
        '[tool.metricgate.alerts]\nwebhook-env = "NO_SUCH_HOOK"\n'
    )
    project.records({"accuracy": 0.25})
    result = project.run("-q", "--metric-gate-record")
    result.stdout.fnmatch_lines(
        [
            "accuracy  0.250    -         min 0.5  FAIL     below min 0.5",
            "history: nothing written to history.jsonl: the gate failed",
            "warning: alert webhook not delivered: $NO_SUCH_HOOK is not set; nothing was sent",
            "metric gate: FAILED (1 of 1 metric breached)",
        ]
    )
    assert not any(line.startswith("report:") for line in result.stdout.lines)  # -q keeps only these
