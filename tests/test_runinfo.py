"""Run metadata read from CI environments: which variable wins, and the git fallback."""

from __future__ import annotations

import datetime as dt

import pytest

from pytest_metricgate import runinfo

NOON = dt.datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=dt.timezone.utc)


def no_git(args):
    return None


@pytest.mark.parametrize(
    ("env", "branch"),
    [
        # a GitHub pull request: the head ref names the PR's own branch
        ({"GITHUB_HEAD_REF": "feature/x", "GITHUB_REF_NAME": "42/merge"}, "feature/x"),
        # a GitHub push: GITHUB_HEAD_REF is set but empty
        ({"GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": "main"}, "main"),
        ({"CI_COMMIT_REF_NAME": "develop"}, "develop"),
        ({"BUILDKITE_BRANCH": "release"}, "release"),
        ({}, None),
    ],
)
def test_branch_is_the_first_non_empty_ci_variable(env, branch):
    assert runinfo.detect(env, git=no_git, now=NOON).branch == branch


def test_git_gives_branch_and_commit_outside_ci():
    answers = {("rev-parse", "HEAD"): "abc123", ("rev-parse", "--abbrev-ref", "HEAD"): "topic"}
    info = runinfo.detect({}, git=lambda args: answers.get(tuple(args)), now=NOON)
    assert (info.commit, info.branch) == ("abc123", "topic")


def test_a_detached_head_has_no_branch():
    info = runinfo.detect({}, git=lambda args: "HEAD" if "--abbrev-ref" in args else None, now=NOON)
    assert info.branch is None


def test_a_pull_request_commit_is_marked_as_the_merge_commit():
    env = {"GITHUB_SHA": "m3rge", "GITHUB_EVENT_NAME": "pull_request"}
    info = runinfo.detect(env, git=no_git, now=NOON)
    assert info.commit == "m3rge"
    assert info.commit_note == "the pull request's merge commit, not its head"


def test_github_run_url_and_gitlab_job_url():
    github = {"GITHUB_SERVER_URL": "https://github.com/", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "7"}
    assert runinfo.ci_url(github) == "https://github.com/o/r/actions/runs/7"
    assert runinfo.ci_url({"CI_JOB_URL": "https://gitlab.example/j/1"}) == "https://gitlab.example/j/1"
    assert runinfo.ci_url({"GITHUB_REPOSITORY": "o/r"}) is None


def test_label_and_timestamp_in_utc_to_the_second():
    info = runinfo.detect({"METRICGATE_RUN_LABEL": "nightly-7"}, git=no_git, now=NOON)
    assert info.label == "nightly-7"
    assert info.timestamp == "2026-11-25T12:00:00+00:00"
