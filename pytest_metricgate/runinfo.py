"""Who is this run: label, commit, branch, time and CI job link, read from the CI's environment.

One module owns these facts so that recorded runs, summaries, alerts and store tags all agree.
``detect`` takes the environment as a mapping and git as an injectable callable, so the rules are
table-tested without touching the real environment.
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# The first non-empty variable wins. GITHUB_HEAD_REF comes first because it names the pull request's
# source branch and is empty on push events, where GITHUB_REF_NAME names the pushed branch.
BRANCH_VARIABLES = (
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_COMMIT_REF_NAME",
    "BUILDKITE_BRANCH",
    "CIRCLE_BRANCH",
    "BITBUCKET_BRANCH",
    "BUILD_SOURCEBRANCHNAME",
    "GIT_BRANCH",
)
COMMIT_VARIABLES = (
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "BUILDKITE_COMMIT",
    "CIRCLE_SHA1",
    "BITBUCKET_COMMIT",
    "BUILD_SOURCEVERSION",
    "GIT_COMMIT",
)

GitRunner = Callable[[Sequence[str]], "str | None"]


@dataclass(frozen=True)
class RunInfo:
    """The facts about this run that reports, alerts and recorded runs carry."""

    label: str | None
    commit: str | None
    # Set when the commit is not the one the author pushed (a pull request's merge commit).
    commit_note: str | None
    branch: str | None
    timestamp: str
    ci_url: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "run": self.label,
            "commit": self.commit,
            "commit_note": self.commit_note,
            "branch": self.branch,
            "timestamp": self.timestamp,
            "ci_url": self.ci_url,
        }


def detect(
    env: Mapping[str, str] | None = None,
    *,
    directory: os.PathLike[str] | str | None = None,
    git: GitRunner | None = None,
    now: _dt.datetime | None = None,
) -> RunInfo:
    """This run's facts from ``env`` (default ``os.environ``), falling back to git in ``directory``."""
    env = os.environ if env is None else env
    run_git: GitRunner = git if git is not None else (lambda args: _git(args, directory))
    moment = now if now is not None else _dt.datetime.now(_dt.timezone.utc)
    commit = _first(env, COMMIT_VARIABLES)
    commit_note = None
    if commit is not None and env.get("GITHUB_EVENT_NAME", "").startswith("pull_request"):
        commit_note = "the pull request's merge commit, not its head"
    if commit is None:
        commit = run_git(["rev-parse", "HEAD"])
    branch = _first(env, BRANCH_VARIABLES)
    if branch is None:
        named = run_git(["rev-parse", "--abbrev-ref", "HEAD"])
        branch = named if named and named != "HEAD" else None
    return RunInfo(
        label=env.get("METRICGATE_RUN_LABEL") or None,
        commit=commit,
        commit_note=commit_note,
        branch=branch,
        timestamp=moment.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        ci_url=ci_url(env),
    )


def ci_url(env: Mapping[str, str]) -> str | None:
    """A link to the CI job or run that is gating, where the environment gives one."""
    server, repository, run_id = (
        env.get("GITHUB_SERVER_URL"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    if server and repository and run_id:
        return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"
    for variable in ("CI_JOB_URL", "BUILDKITE_BUILD_URL", "CIRCLE_BUILD_URL", "BUILD_URL"):
        if env.get(variable):
            return env[variable]
    return None


def _first(env: Mapping[str, str], variables: Sequence[str]) -> str | None:
    for variable in variables:
        value = env.get(variable, "").strip()
        if value:
            return value
    return None


def _git(args: Sequence[str], directory: os.PathLike[str] | str | None) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=Path(directory) if directory is not None else None,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = completed.stdout.strip()
    return out if completed.returncode == 0 and out else None
