"""Builders for generated projects, and the runner that runs them with and without xdist."""

from __future__ import annotations

import importlib
import json
import pkgutil
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pytest_metricgate

# pytester's in-process runs drop modules first imported inside them, so each run would import (and
# pytest would parse and rewrite) them anew. numpy cannot be imported twice in one process, and
# CPython 3.11's parser can fail with "AST constructor recursion depth mismatch" after a test caught
# a RecursionError in the same process (test_properties' deeply nested JSON): load every module of
# the package once, out here. None of them imports mlflow at import time.
for _module in pkgutil.walk_packages(pytest_metricgate.__path__, "pytest_metricgate."):
    if not _module.name.endswith("__main__"):
        importlib.import_module(_module.name)

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@dataclass
class Project:
    """A user project inside ``pytester``'s directory: config, history, tests, and a way to run them."""

    pytester: pytest.Pytester
    runner_args: tuple[str, ...] = ()
    written: dict[str, Path] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.pytester.path

    def config(self, body: str) -> Path:
        """Write pyproject.toml: ``body`` (TOML) below an empty pytest table, so this dir is the rootdir."""
        text = "[tool.pytest.ini_options]\n\n" + textwrap.dedent(body).strip() + "\n"
        return self.file("pyproject.toml", text)

    def file(self, name: str, text: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.written[name] = path
        return path

    def jsonl(self, name: str, runs: Sequence[Mapping | str]) -> Path:
        """A JSONL history: dicts become lines, strings are written as they are (for malformed lines)."""
        lines = [run if isinstance(run, str) else json.dumps(run) for run in runs]
        return self.file(name, "".join(line + "\n" for line in lines))

    def history_of(self, name: str, **columns: Sequence[float]) -> Path:
        """A JSONL history with one run per index of the given per-metric value lists."""
        length = max(len(values) for values in columns.values())
        runs = [
            {"run": f"r{index + 1}", "metrics": {m: v[index] for m, v in columns.items() if index < len(v)}}
            for index in range(length)
        ]
        return self.jsonl(name, runs)

    def records(
        self, values: Mapping[str, float | tuple[float, int]], *, name: str = "test_metrics.py"
    ) -> Path:
        """A test file with one test that records each value (``(value, n)`` records ``n`` too)."""
        lines = ["def test_record(metric_gate):"]
        for metric, value in values.items():
            if isinstance(value, tuple):
                lines.append(f"    metric_gate.record({metric!r}, {value[0]!r}, n={value[1]!r})")
            else:
                lines.append(f"    metric_gate.record({metric!r}, float({str(value)!r}))")
        if len(lines) == 1:
            lines.append("    pass")
        return self.file(name, "\n".join(lines) + "\n")

    def run(self, *args: str, gate: bool = True) -> pytest.RunResult:
        flags = ("--metric-gate",) if gate else ()
        return self.pytester.runpytest(*self.runner_args, *flags, "-p", "no:cacheprovider", *args)

    def summary(self, report_dir: str = "metricgate-report") -> dict:
        return json.loads((self.path / report_dir / "summary.json").read_text(encoding="utf-8"))

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Bytes and mtime of every file the test wrote, to prove a run changed none of them."""
        return {
            name: (path.read_bytes(), path.stat().st_mtime_ns)
            for name, path in self.written.items()
            if path.is_file()
        }


RUNNERS = {"plain": (), "xdist": ("-n", "2")}


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    """A project run without xdist."""
    return Project(pytester)


@pytest.fixture(params=sorted(RUNNERS))
def any_runner_project(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Project:
    """A project run once without xdist and once with ``-n 2``: the gate must not tell the difference."""
    return Project(pytester, RUNNERS[request.param])


# Every variable runinfo, the CI outputs and the report link read: tests start from none of them, so a
# CI machine's own environment cannot change what they pin.
CI_VARIABLES = (
    "METRICGATE_RUN_LABEL",
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_NAME",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_STEP_SUMMARY",
    "GITLAB_CI",
    "CI_JOB_URL",
    "CI_PROJECT_DIR",
    "BUILDKITE_BUILD_URL",
    "CIRCLE_BUILD_URL",
    "BUILD_URL",
)


@pytest.fixture
def ci_env(monkeypatch: pytest.MonkeyPatch):
    """Clear every CI variable; call the result with ``NAME=value`` pairs to set some."""
    from pytest_metricgate import runinfo

    for name in (*CI_VARIABLES, *runinfo.BRANCH_VARIABLES, *runinfo.COMMIT_VARIABLES):
        monkeypatch.delenv(name, raising=False)

    def setenv(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return setenv
