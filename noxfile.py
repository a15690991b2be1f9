"""The versions pytest-metricgate claims to support, each installed into its own virtual environment and tested.

    nox -s tests        the suite against the newest release of every dependency (what a new install gets)
    nox -s lowest       the suite with every direct dependency at the minimum pyproject.toml declares
    nox -s lint         ruff and mypy, at the versions pinned in the test extra
    nox -s mlflow       the MLflow store's tests with the [mlflow] extra at its lowest mlflow-skinny
    nox -s prerelease   the suite under pytest's newest pre-release (CI lets this one fail)

Every session runs on the interpreter nox itself runs on; ``--force-python 3.10`` picks another.
Arguments after ``--`` go to pytest (``nox -s tests -- -k alerts``). A session fails whenever
pytest's exit status is not 0, so "no tests ran" (status 5) fails too.

nox rather than tox: a session is a Python function, so ``lowest`` can check what it installed
against pyproject.toml and every session can print the versions it resolved; the environment
passes through unchanged, so what ``.ci/run`` exports (``METRICGATE_REQUIRE_BROWSER`` and the
servers' settings) reaches the tests without a pass-through list; and uv, which resolves the
lowest versions (``--resolution lowest-direct``), is its built-in backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# The oldest nox this file has been run with; the test extra declares the same floor.
nox.needs_version = ">=2025.2.9"
# uv resolves the lowest versions and installs in seconds; --resolution is a uv option.
nox.options.default_venv_backend = "uv"
# Plain `nox` runs these; `mlflow` and `prerelease` are asked for by name.
nox.options.sessions = ["lint", "tests", "lowest"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
# The distributions whose versions each session prints, as `pip freeze` lines.
SHOWN = ("pytest", "numpy", "matplotlib", "tomli", "mlflow-skinny")
# The declared minimums predate Python 3.12: their oldest releases have no wheels for it (the first
# numpy with wheels for 3.12 is 1.26.0, for 3.13 2.1.0), so the lowest versions are tested on these.
LOWEST_PYTHONS = ("3.10", "3.11")
# One xdist worker per core: the suite's runs are independent, and the landing check runs it with -n 2 too.
PYTEST = ("python", "-m", "pytest", "-n", "auto")

# Run inside a session's interpreter: its marker environment and every installed distribution.
_INSTALLED = """
import json
from importlib import metadata
from packaging.markers import default_environment
from packaging.utils import canonicalize_name

print(json.dumps({
    "environment": default_environment(),
    "versions": {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()},
}))
"""


@nox.session
def tests(session: nox.Session) -> None:
    """The suite against the newest release of every dependency."""
    session.install("-e", ".[test]")
    _show_versions(session)
    session.run(*PYTEST, *session.posargs)


@nox.session
def lowest(session: nox.Session) -> None:
    """The suite with every direct dependency (the package's and the test extra's) at its declared minimum."""
    python = session.run("python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", silent=True)
    if str(python).strip() not in LOWEST_PYTHONS:
        session.skip(
            f"the declared minimums have no wheels for Python {str(python).strip()}; "
            f"run this session on {' or '.join(LOWEST_PYTHONS)}"
        )
    # --only-binary: a minimum without a wheel for this Python would otherwise be built from source
    # for minutes, or silently replaced by a newer release; the check below then names it instead.
    session.install("--resolution", "lowest-direct", "--only-binary", ":all:", "-e", ".[test]")
    _check_minimums(session, extras=("test",))
    _show_versions(session)
    session.run(*PYTEST, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict, with the package's dependencies installed so mypy sees their types."""
    session.install("-e", ".[test]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(default=False)
def mlflow(session: nox.Session) -> None:
    """The MLflow store's tests with mlflow-skinny at the lowest version the [mlflow] extra allows."""
    extras = PYPROJECT["project"].get("optional-dependencies", {})
    if "mlflow" not in extras:
        session.error("pyproject.toml declares no [mlflow] extra")
    skinny = next(
        (
            Requirement(text)
            for text in extras["mlflow"]
            if canonicalize_name(Requirement(text).name) == "mlflow-skinny"
        ),
        None,
    )
    if skinny is None:
        session.error("the [mlflow] extra does not name mlflow-skinny")
    minimum = _minimum(skinny)
    # Only mlflow-skinny is held at its floor; the rest resolves to the newest that goes with it.
    session.install("-e", ".[test,mlflow]", f"mlflow-skinny=={minimum}")
    _show_versions(session)
    selected = sorted(str(path) for path in Path("tests").glob("test_*mlflow*.py"))
    if not selected:
        session.error("no tests/test_*mlflow*.py to run")
    session.run(*PYTEST, *selected, *session.posargs)


@nox.session(default=False)
def prerelease(session: nox.Session) -> None:
    """The suite under pytest's newest pre-release, so a coming pytest change shows before users meet it.

    The newest final release is installed when no newer pre-release exists. CI runs this session as
    allowed to fail: a red result is news about pytest, not a broken change here.
    """
    session.install("-e", ".[test]")
    session.install("--prerelease", "allow", "--upgrade-package", "pytest", "pytest")
    _show_versions(session)
    session.run(*PYTEST, *session.posargs)


def _installed(session: nox.Session) -> dict[str, dict[str, str]]:
    output = session.run("python", "-c", _INSTALLED, silent=True, log=False)
    assert isinstance(output, str)  # silent=True returns the output
    result: dict[str, dict[str, str]] = json.loads(output)
    return result


def _show_versions(session: nox.Session) -> None:
    versions = _installed(session)["versions"]
    for name in SHOWN:
        if name in versions:
            session.log(f"{name}=={versions[name]}")


def _minimum(requirement: Requirement) -> Version:
    """The lowest version ``requirement`` admits: its ``>=`` or ``==`` bound."""
    bounds = [Version(spec.version) for spec in requirement.specifier if spec.operator in (">=", "==")]
    if not bounds:
        raise ValueError(f"{requirement} declares no minimum (>= or ==)")
    return max(bounds)


def _check_minimums(session: nox.Session, *, extras: tuple[str, ...]) -> None:
    """Fail unless every direct dependency that applies here was installed at its declared minimum.

    That is what makes the floors in pyproject.toml true: a floor that cannot be installed (no
    wheel, a conflict that forces a newer release) fails here, naming the dependency.
    """
    installed = _installed(session)
    project = PYPROJECT["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    environment = {**installed["environment"], "extra": ""}
    checked, wrong = 0, []
    for text in texts:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue  # e.g. tomli on Python 3.11 and newer
        checked += 1
        name = canonicalize_name(requirement.name)
        minimum = _minimum(requirement)
        found = installed["versions"].get(name)
        if found is None or Version(found) != minimum:
            wrong.append(f"{requirement.name}: declared minimum {minimum}, installed {found or 'nothing'}")
    if wrong:
        session.error("declared minimums not installed: " + "; ".join(wrong))
    session.log(f"all {checked} direct dependencies that apply here are at their declared minimum")
