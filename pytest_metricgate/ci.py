"""What CI systems read natively: GitHub's workflow-command annotations and GitLab's metrics report.

Pure builders: verdicts in, text out. The session decides when to use them (``GITHUB_ACTIONS`` and
``GITLAB_CI`` in the environment, or the ``gitlab-metrics`` key) and where the text goes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

from .gate import FAIL, WARN, GateResult

GITLAB_METRICS_FILE = "metrics.txt"


def on_github_actions(environ: Mapping[str, str]) -> bool:
    """GitHub sets ``GITHUB_ACTIONS=true`` in every step; nothing else should print workflow commands."""
    return environ.get("GITHUB_ACTIONS") == "true"


def wants_gitlab_metrics(environ: Mapping[str, str], configured: bool | None) -> bool:
    """``gitlab-metrics = true`` or ``false`` decides; unset, GitLab's ``GITLAB_CI=true`` does."""
    if configured is not None:
        return configured
    return environ.get("GITLAB_CI") == "true"


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF are percent-encoded (``%`` first)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as a message, and ``:`` and ``,`` too, which end a property."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(result: GateResult) -> list[str]:
    """One ``::error`` per failing metric and one ``::warning`` per warning, titled ``metric gate: NAME``.

    The message is the JUnit failure message (value, what decided, baseline), so the annotation, the
    test report and the alert say the same thing.
    """
    from .report import failure_message, ordered

    lines = []
    for verdict in ordered(result.verdicts):
        if verdict.verdict not in (FAIL, WARN):
            continue
        command = "error" if verdict.verdict == FAIL else "warning"
        title = escape_property(f"metric gate: {verdict.name}")
        lines.append(f"::{command} title={title}::{escape_data(failure_message(verdict))}")
    return lines


def gitlab_metrics(result: GateResult) -> str:
    """GitLab's metrics report: one ``name value`` line per measured metric, in Prometheus' text format.

    GitLab splits each line on whitespace, so a label value with a space would be mangled: each metric
    gets its own sanitised name instead (distinct, numbered on a clash) and no labels. A metric with no
    value this run has no line, and GitLab shows it as removed.
    """
    taken: set[str] = set()
    lines = []
    for verdict in result.verdicts:
        if verdict.value is None:
            continue
        stem = re.sub(r"[^A-Za-z0-9_]+", "_", verdict.name).strip("_") or "metric"
        if stem[0].isdigit():
            stem = f"metric_{stem}"
        name, counter = stem, 2
        while name in taken:
            name, counter = f"{stem}_{counter}", counter + 1
        taken.add(name)
        lines.append(f"{name} {_sample(verdict.value)}")
    return "".join(f"{line}\n" for line in lines)


def _sample(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def report_link(report_dir: Path, environ: Mapping[str, str]) -> str:
    """Where a reader finds the report: GitLab's link to the job's artifact when the job keeps the
    report directory inside the project, else the directory's absolute path."""
    job_url, project_dir = environ.get("CI_JOB_URL"), environ.get("CI_PROJECT_DIR")
    absolute = report_dir.resolve()
    if job_url and project_dir:
        try:
            inside = absolute.relative_to(Path(project_dir).resolve())
        except ValueError:
            pass
        else:
            return f"{job_url.rstrip('/')}/artifacts/file/{inside.as_posix()}/index.html"
    return str(absolute / "index.html")


__all__ = [
    "GITLAB_METRICS_FILE",
    "escape_data",
    "escape_property",
    "github_annotations",
    "gitlab_metrics",
    "on_github_actions",
    "report_link",
    "wants_gitlab_metrics",
]
