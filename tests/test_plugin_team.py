"""The team's workflow end to end: baselines from the main branch, accepted changes, patience marks,
deselection, and a history two branches append to and git merges."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import time

import pytest

from pytest_metricgate.runinfo import BRANCH_VARIABLES, COMMIT_VARIABLES

TODAY = dt.datetime.now(dt.timezone.utc).date()
MAIN_VALUES = (0.971, 0.968, 0.966, 0.973, 0.970)  # median 0.970


@pytest.fixture
def branch(monkeypatch):
    """Set the branch this run is on, as a CI would (and nothing else from a real CI leaks in)."""
    for name in (*BRANCH_VARIABLES, *COMMIT_VARIABLES, "GITHUB_EVENT_NAME"):
        monkeypatch.delenv(name, raising=False)

    def on(name: str | None) -> None:
        if name is None:
            monkeypatch.delenv("GITHUB_REF_NAME", raising=False)
        else:
            monkeypatch.setenv("GITHUB_REF_NAME", name)

    return on


def run_line(value: float, day: int, branch: str | None = "main", marks: str | None = None) -> dict:
    line: dict = {"timestamp": f"2026-11-{day:02d}T02:00:00+00:00", "metrics": {"precision": value}}
    if branch is not None:
        line["branch"] = branch
    if marks is not None:
        line["marks"] = marks
    return line


def main_history(project, *extra: dict) -> None:
    project.jsonl(
        "history.jsonl", [run_line(v, day) for day, v in enumerate(MAIN_VALUES, start=1)] + list(extra)
    )


CONFIG = """
[tool.metricgate]
history = "history.jsonl"
baseline-branch = "main"

[tool.metricgate.metrics.precision]
min = 0.9
max-drop = 0.03
"""


def accept_entry(until: dt.date, extra: str = "") -> str:
    return (
        "\n[[tool.metricgate.accept]]\n"
        'metric = "precision"\n'
        'reason = "decision threshold lowered on purpose for recall"\n'
        f"until = {until.isoformat()}\n" + extra
    )


def history_lines(project) -> list[dict]:
    return [json.loads(line) for line in (project.path / "history.jsonl").read_text().splitlines()]


def gate_lines(result) -> list[str]:
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "metric gate" in line and "=" in line)
    return [line.rstrip() for line in lines[start + 1 :] if not line.startswith("=")]


# -- baseline-branch ---------------------------------------------------------------------


def test_a_feature_branch_is_judged_against_main_runs_only(project, branch):
    # Three newer feature-branch runs at 0.90-0.91 would make the median of the last five 0.91,
    # and 0.935 a pass; against main's five (median 0.970) it is a drop of 0.035 > 0.03.
    main_history(
        project, run_line(0.90, 6, "feat/x"), run_line(0.91, 7, "feat/x"), run_line(0.905, 8, "feat/x")
    )
    project.config(CONFIG)
    project.records({"precision": 0.935})
    branch("feat/threshold")

    result = project.run()

    assert result.ret == 1
    assert gate_lines(result) == [
        "metric     current  baseline  limit                   verdict  reason",
        "precision  0.935    0.970     min 0.9, max-drop 0.03  FAIL     drop 0.035 > max-drop 0.03 vs median 0.970 of last 5",
        "baseline: median of the newest 5 history runs",
        'baseline branch: "main": only its runs form baselines (3 runs of other branches left out)',
        'branch: this run is on branch "feat/threshold", judged against "main" runs',
        "report: metricgate-report/ (1 chart, overview, index.html, summary.json, summary.md)",
        "metric gate: FAILED (1 of 1 metric breached)",
    ]


def test_a_run_recorded_on_a_feature_branch_is_kept_but_never_a_baseline(project, branch):
    main_history(project)
    project.config(CONFIG)
    project.records({"precision": 0.80})
    project.config(CONFIG.replace("min = 0.9\n", ""))
    branch("feat/x")
    # 0.80 fails on the feature branch too; record a passing one to see it kept.
    project.records({"precision": 0.95})
    assert project.run("--metric-gate-record").ret == 0
    assert history_lines(project)[-1]["branch"] == "feat/x"

    branch("main")
    project.records({"precision": 0.935})
    result = project.run()
    # Had the feature run (0.95) entered the window [0.968, 0.966, 0.973, 0.970, 0.95], the median
    # would be 0.968 and the drop 0.033; main's own five keep 0.970 and a drop of 0.035.
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAIL     drop 0.035 > max-drop 0.03 vs median 0.970 of last 5"])


def test_runs_without_a_branch_count_as_the_baseline_branch_with_a_note(project, branch):
    project.jsonl("history.jsonl", [run_line(v, day, branch=None) for day, v in enumerate(MAIN_VALUES, 1)])
    project.config(CONFIG)
    project.records({"precision": 0.96})
    branch("main")
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "precision  0.960    0.970  *pass",
            'baseline branch: 5 runs without a branch (recorded before branches were) counted as "main" runs',
        ]
    )


def test_the_chart_and_summary_say_which_runs_they_show(project, branch):
    main_history(project, run_line(0.90, 6, "feat/x"))
    project.config(CONFIG)
    project.records({"precision": 0.96})
    branch("feat/y")
    assert project.run().ret == 0
    notes = project.summary()["notes"]
    assert 'branch: this run is on branch "feat/y", judged against "main" runs' in notes
    assert 'baseline branch: "main": only its runs form baselines (1 run of other branches left out)' in notes


# -- require-history -------------------------------------------------------------------------


def test_without_require_history_the_first_line_says_relative_rules_were_not_applied(project, branch):
    project.config(CONFIG)
    project.records({"precision": 0.935})
    branch("main")
    result = project.run()
    assert result.ret == 0
    headline = (
        "metric gate: passed (1 metric) \u2014 relative rules not applied: history.jsonl does not exist"
    )
    assert gate_lines(result)[-1] == headline
    assert (project.path / "metricgate-report" / "summary.md").read_text().splitlines()[0] == (
        "### \u2705 " + headline
    )


def test_require_history_counts_the_whole_history_not_only_since_an_acceptance(project, branch):
    # Five main runs, the newest accepted: the window since the acceptance holds one run, but
    # require-history counts all five, so this is no error.
    main_history(project)
    lines = history_lines(project)
    lines[-1]["marks"] = "precision=accepted"
    project.jsonl("history.jsonl", lines)
    project.config(
        CONFIG.replace('baseline-branch = "main"', 'baseline-branch = "main"\nrequire-history = true')
    )
    project.records({"precision": 0.969})
    branch("main")
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["precision  0.969    0.970  *pass"])


# -- accepting an intended change ------------------------------------------------------------


def test_an_accepted_drop_is_recorded_and_the_next_nightly_passes_against_the_new_level(project, branch):
    main_history(project)
    project.config(CONFIG + accept_entry(TODAY + dt.timedelta(days=14)))
    project.records({"precision": 0.9346})
    branch("main")

    accepted = project.run("--metric-gate-record")

    assert accepted.ret == 0
    until = (TODAY + dt.timedelta(days=14)).isoformat()
    lines = gate_lines(accepted)
    assert lines[1] == (
        "precision  0.9346   0.9700    min 0.9, max-drop 0.03  ACCEPTED  drop 0.0354 > max-drop 0.03 vs "
        f"median 0.970 of last 5; accepted until {until}: decision threshold lowered on purpose for recall "
        "([[tool.metricgate.accept]] #1)"
    )
    assert (
        f"acceptance in force until {until}: precision (max-drop, max-drop-pct, max-sigma): "
        "decision threshold lowered on purpose for recall"
    ) in lines
    assert "history: appended this run to history.jsonl (precision marked accepted)" in lines
    assert lines[-1] == "metric gate: passed (1 metric, 1 accepted)"
    recorded = history_lines(project)[-1]
    assert (recorded["branch"], recorded["marks"], recorded["metrics"]) == (
        "main",
        "precision=accepted",
        {"precision": 0.9346},
    )
    summary = project.summary()
    assert summary["metrics"][0]["verdict"] == "accepted"

    # The entry is deleted; the next nightly is judged against the accepted run alone (baseline
    # 0.9346, a drop of -0.0015), not the old median 0.970 (a drop of 0.0339 > 0.03).
    project.config(CONFIG)
    project.records({"precision": 0.9361})
    nightly = project.run("--metric-gate-record")
    assert nightly.ret == 0
    lines = gate_lines(nightly)
    assert lines[1] == "precision  0.9361   0.9346    min 0.9, max-drop 0.03  pass"
    assert any(line.startswith("precision: baseline restarted at the accepted run 2026-") for line in lines)
    assert "marks" not in history_lines(project)[-1]


def test_an_expired_entry_is_ignored_with_a_warning_and_the_breach_fails_again(project, branch):
    main_history(project)
    yesterday = TODAY - dt.timedelta(days=1)
    project.config(CONFIG + accept_entry(yesterday))
    project.records({"precision": 0.9346})
    branch("main")
    # Expiry is not a configuration error: a warning even under --strict-config.
    result = project.run("--metric-gate-record", "--strict-config")
    assert result.ret == 1
    assert (
        f"PytestConfigWarning: pyproject.toml: [[tool.metricgate.accept]] #1 (precision) expired on "
        f"{yesterday.isoformat()} and is ignored; delete it, or renew it in a reviewed change"
    ) in result.stdout.str()
    assert gate_lines(result)[1] == (
        "precision  0.9346   0.9700    min 0.9, max-drop 0.03  FAIL     drop 0.0354 > max-drop 0.03 vs "
        "median 0.970 of last 5"
    )
    assert len(history_lines(project)) == 5  # a failing run is not recorded


def test_an_entry_that_matches_no_metric_is_a_warning(project, branch):
    main_history(project)
    project.config(CONFIG + accept_entry(TODAY).replace('metric = "precision"', 'metric = "recall*"'))
    project.records({"precision": 0.96})
    branch("main")
    result = project.run()
    assert result.ret == 0
    assert (
        "PytestConfigWarning: pyproject.toml: [[tool.metricgate.accept]] #1 (recall*) matches no metric "
        "in [tool.metricgate.metrics], so it accepts nothing"
    ) in result.stdout.str()


def test_a_value_range_stops_an_acceptance_from_hiding_a_further_collapse(project, branch):
    main_history(project)
    project.config(CONFIG + accept_entry(TODAY + dt.timedelta(days=3), "value = { min = 0.93 }\n"))
    branch("main")
    project.records({"precision": 0.9346})
    assert project.run("--metric-gate-record").ret == 0

    # With the entry still in force, a collapse to 0.90 (a drop of 0.0346 from the accepted 0.9346)
    # is outside the range the entry accepts, so it fails.
    project.records({"precision": 0.90})
    result = project.run("--metric-gate-record")
    assert result.ret == 1
    assert gate_lines(result)[1] == (
        "precision  0.9000   0.9346    min 0.9, max-drop 0.03  FAIL     drop 0.0346 > max-drop 0.03 vs "
        "median 0.9346 of last 1; not accepted: 0.900 is outside the range >= 0.93 that "
        "[[tool.metricgate.accept]] #1 accepts"
    )
    assert len(history_lines(project)) == 6


def test_an_acceptance_covers_min_only_when_named(project, branch):
    main_history(project)
    project.config(CONFIG + accept_entry(TODAY))
    project.records({"precision": 0.89})
    branch("main")
    result = project.run()
    assert result.ret == 1
    assert gate_lines(result)[1] == (
        "precision  0.890    0.970     min 0.9, max-drop 0.03  FAIL     below min 0.9; drop 0.080 > max-drop 0.03 "
        "vs median 0.970 of last 5; not accepted: [[tool.metricgate.accept]] #1 covers max-drop, "
        "max-drop-pct, max-sigma, not min (name it in rules to accept it)"
    )


def test_accepted_is_shown_apart_in_junit(project, branch):
    main_history(project)
    project.config(CONFIG + accept_entry(TODAY))
    project.records({"precision": 0.9346})
    branch("main")
    assert project.run("--junitxml=junit.xml").ret == 0
    text = (project.path / "junit.xml").read_text()
    assert '<property name="metricgate.precision.verdict" value="accepted" />' in text
    assert "<system-out>ACCEPTED: drop 0.0354 &gt; max-drop 0.03" in text


# -- patience without poisoning ----------------------------------------------------------------


def test_a_run_held_by_patience_is_marked_and_never_enters_a_later_baseline(project, branch):
    # baseline "last": had the held 0.93 entered the baseline, 0.91 would be a drop of only 0.02.
    project.jsonl("history.jsonl", [run_line(0.97, day) for day in range(1, 4)])
    project.config(
        CONFIG.replace('baseline-branch = "main"', 'baseline-branch = "main"\nbaseline = "last"').replace(
            "max-drop = 0.03", "max-drop = 0.03\npatience = 2"
        )
    )
    branch("main")
    project.records({"precision": 0.93})
    held = project.run("--metric-gate-record")
    assert held.ret == 0
    held.stdout.fnmatch_lines(
        ["*WARN  *drop 0.040 > max-drop 0.03 vs last run 0.970; breach 1 of 2 (patience: *"]
    )
    assert history_lines(project)[-1]["marks"] == "precision=patience"

    project.records({"precision": 0.91})
    result = project.run("--metric-gate-record")
    assert result.ret == 1
    assert gate_lines(result)[1] == (
        "precision  0.910    0.970     min 0.9, max-drop 0.03, patience 2  FAIL     drop 0.060 > max-drop 0.03 "
        "vs last run 0.970"
    )


# -- deselection --------------------------------------------------------------------------------

TWO_TESTS = """
def test_precision(metric_gate):
    metric_gate.record("precision", 0.96)

def test_recall(metric_gate):
    metric_gate.record("recall", 0.80)

def test_other():
    pass
"""


def test_a_metric_whose_test_was_deselected_is_not_run_and_does_not_fail(project, branch):
    project.config(
        """
        [tool.metricgate.metrics.precision]
        min = 0.9
        [tool.metricgate.metrics.recall]
        min = 0.7
        """
    )
    project.file("test_m.py", TWO_TESTS)
    result = project.run("-k", "precision")
    assert result.ret == 0
    assert gate_lines(result)[:3] == [
        "metric     current  baseline  limit    verdict  reason",
        "recall     -        -         min 0.7  not run  not run: no selected test recorded it (2 tests deselected)",
        "precision  0.960    -         min 0.9  pass",
    ]
    assert gate_lines(result)[-1] == "metric gate: passed (2 metrics, 1 not run)"


def test_every_recording_test_deselected_is_said_in_one_line(project, branch):
    project.config("[tool.metricgate.metrics.precision]\nmin = 0.9\n")
    project.file("test_m.py", TWO_TESTS)
    result = project.run("-k", "other")
    assert result.ret == 0
    lines = gate_lines(result)
    assert lines[0] == (
        "every test that records metrics was deselected (2 tests deselected): no metric was measured, "
        "so nothing was judged"
    )
    assert lines[-1] == "metric gate: passed (1 metric, 1 not run)"


def test_a_node_id_selection_counts_as_deselection(project, branch):
    project.config("[tool.metricgate.metrics.recall]\nmin = 0.7\n")
    project.file("test_m.py", TWO_TESTS)
    result = project.run("test_m.py::test_precision")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["recall *not run  not run: no selected test recorded it (tests selected by node id)"]
    )


def test_without_deselection_a_missing_metric_still_fails(project, branch):
    project.config("[tool.metricgate.metrics.f1]\nmin = 0.7\n")
    project.file("test_m.py", TWO_TESTS)
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["f1 * FAIL     missing"])


# -- histories in git ----------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(project, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(project.path),
    }
    done = subprocess.run(
        ["git", *args], cwd=project.path, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@needs_git
def test_two_branches_histories_merge_with_union_and_are_judged_in_time_order(project, branch):
    branch(None)  # the branch comes from git itself, as on a developer's machine
    project.config(
        """
        [tool.metricgate]
        history = "history.jsonl"
        baseline = "last"
        [tool.metricgate.metrics.precision]
        max-drop = 0.05
        """
    )
    project.jsonl("history.jsonl", [run_line(v, day, branch=None) for day, v in enumerate(MAIN_VALUES, 1)])
    project.file(".gitattributes", "history.jsonl merge=union\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "pyproject.toml", "history.jsonl", ".gitattributes")
    git(project, "commit", "-q", "-m", "base")

    # Branch "older" records first; branch "newer" records a second later.
    git(project, "checkout", "-q", "-b", "older")
    project.records({"precision": 0.95})
    assert project.run("--metric-gate-record").ret == 0
    git(project, "commit", "-q", "-am", "older run")
    time.sleep(1.1)  # timestamps have whole seconds
    git(project, "checkout", "-q", "main")
    git(project, "checkout", "-q", "-b", "newer")
    project.records({"precision": 0.96})
    assert project.run("--metric-gate-record").ret == 0
    git(project, "commit", "-q", "-am", "newer run")

    # Merged into "newer": union keeps both lines, ours (the newer run) before theirs (the older).
    git(project, "merge", "-q", "--no-edit", "older")
    lines = history_lines(project)
    assert [(line.get("branch"), line["metrics"]["precision"]) for line in lines[-2:]] == [
        ("newer", 0.96),
        ("older", 0.95),
    ]
    assert git(project, "status", "--porcelain", "--untracked-files=no") == ""

    # Judged in time order: the last run is the newer one (0.960), though the older one is stored last.
    project.records({"precision": 0.96})
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["precision  0.960    0.960 * pass"])


def test_a_csv_history_keeps_branch_and_marks_in_columns(project, branch):
    rows = "".join(
        f"{day},2026-11-{day:02d}T02:00:00+00:00,main,{v}\n" for day, v in enumerate(MAIN_VALUES, 1)
    )
    project.file("history.csv", "run,timestamp,branch,precision\n" + rows)
    csv_config = CONFIG.replace("history.jsonl", "history.csv")
    project.config(csv_config + accept_entry(TODAY))
    project.records({"precision": 0.9346})
    branch("main")
    assert project.run("--metric-gate-record").ret == 0
    lines = (project.path / "history.csv").read_text().splitlines()
    assert lines[0] == "run,timestamp,branch,precision,marks"
    assert lines[1] == "1,2026-11-01T02:00:00+00:00,main,0.971,"
    assert lines[-1].split(",")[2:] == ["main", "0.9346", "precision=accepted"]

    # Read back: the marked row restarts the baseline, as in JSONL.
    project.config(csv_config)
    project.records({"precision": 0.9361})
    result = project.run()
    assert result.ret == 0
    assert gate_lines(result)[1] == "precision  0.9361   0.9346    min 0.9, max-drop 0.03  pass"
