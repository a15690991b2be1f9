"""The weekly monitoring scenario: a history of accuracy, precision and recall, a floor of 0.88."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

WEEKLY = EXAMPLES / "weekly-monitoring"


@pytest.fixture
def weekly(any_runner_project):
    project = any_runner_project
    project.file("pyproject.toml", (WEEKLY / "pyproject.toml").read_text())
    return project


def test_the_newest_week_below_the_floor_turns_the_session_red(weekly):
    weekly.file("history.csv", (WEEKLY / "history.csv").read_text())
    result = weekly.run()
    assert result.ret == 1
    # week 12: 0.86 0.85 0.84; baselines are medians of weeks 7-11, by hand:
    # accuracy .90 .89 .87 .85 .86 -> .87; precision .88 .87 .86 .84 .85 -> .86; recall .88 .86 .85 .83 .84 -> .85
    result.stdout.fnmatch_lines(
        [
            "metric     current  baseline  limit     verdict  reason",
            "accuracy   0.860    0.870     min 0.88  FAIL     below min 0.88",
            "precision  0.850    0.860     min 0.88  FAIL     below min 0.88",
            "recall     0.840    0.850     min 0.88  FAIL     below min 0.88",
            (
                "values: no test recorded any and no current file gave any, so the newest history run (week 12) "
                "is judged against the 11 runs before it"
            ),
            "metric gate: FAILED (3 of 3 metrics breached)",
        ]
    )
    summary = weekly.summary()
    assert summary["status"] == "failed"
    assert {m["name"]: m["chart"] for m in summary["metrics"]} == {
        "accuracy": "accuracy.png",
        "precision": "precision.png",
        "recall": "recall.png",
    }
    for name in ("accuracy.png", "precision.png", "recall.png", "overview.png"):
        assert (weekly.path / "metricgate-report" / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_passing_twin_stays_green_through_week_7(weekly):
    # weeks 1-7 only: week 7 is 0.90 0.88 0.88, and a value equal to the floor passes
    lines = (WEEKLY / "history.csv").read_text().splitlines()[:8]
    weekly.file("history.csv", "\n".join(lines) + "\n")
    result = weekly.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "accuracy   0.900 * pass",
            "precision  0.880 * pass",
            "recall     0.880 * pass",
            "metric gate: passed (3 metrics)",
        ]
    )


@pytest.mark.parametrize("week", [8, 9])
def test_the_gate_goes_red_in_the_first_week_below_the_floor(project, week):
    project.file("pyproject.toml", (WEEKLY / "pyproject.toml").read_text())
    lines = (WEEKLY / "history.csv").read_text().splitlines()[: week + 1]
    project.file("history.csv", "\n".join(lines) + "\n")
    # week 8: precision 0.87 and recall 0.86 breach, accuracy 0.89 holds; week 9: all three breach
    expected = {
        8: "metric gate: FAILED (2 of 3 metrics breached)",
        9: "metric gate: FAILED (3 of 3 metrics breached)",
    }
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines([expected[week]])
