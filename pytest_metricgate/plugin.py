"""pytest glue only: options, the ``metric_gate`` fixture, and the hooks that drive a ``GateSession``.

Nothing here decides a verdict. With ``--metric-gate`` off, this module is all
that loads: no config is read and neither numpy nor matplotlib is imported.

PYTEST_DONT_REWRITE: loaded at every pytest start-up, so it skips assertion rewriting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .datacheck import DataCheck
    from .recording import MetricGate, Recorded
    from .session import GateSession

_SINK_KEY = pytest.StashKey["list[Recorded]"]()
_DATA_SINK_KEY = pytest.StashKey["list[DataCheck]"]()
_SESSION_KEY = pytest.StashKey["GateSession"]()
# The keys under which an xdist worker hands its recorded values, how many tests
# it deselected, and its data checks to the controller.
WORKER_OUTPUT_KEY = "metricgate_records"
WORKER_DESELECTED_KEY = "metricgate_deselected"
WORKER_DATA_KEY = "metricgate_data_checks"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Make ``pytest_metricgate_result`` known, so conftest files and plugins can implement it."""
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("metricgate", "metric gate (pytest-metricgate)")
    group.addoption(
        "--metric-gate",
        action="store_true",
        default=False,
        help="Judge this run's metrics against [tool.metricgate] in pyproject.toml, fail the "
        "session on a breach, and write charts and summaries to the report directory.",
    )
    group.addoption(
        "--metric-gate-report-dir",
        metavar="DIR",
        default=None,
        help="Where to write the report (default: report-dir in [tool.metricgate], else metricgate-report).",
    )
    group.addoption(
        "--metric-gate-history",
        metavar="PATH",
        default=None,
        help="The history file (.jsonl or .csv), or mlflow:EXPERIMENT, to use instead of "
        "[tool.metricgate] history.",
    )
    group.addoption(
        "--metric-gate-current",
        metavar="PATH",
        default=None,
        help="A JSON file of this run's metrics, or mlflow:runs/RUN_ID, instead of [tool.metricgate] current.",
    )
    group.addoption(
        "--metric-gate-record",
        action="store_true",
        default=False,
        help="Append this run's metrics to the history file when the gate and the tests passed.",
    )
    group.addoption(
        "--metric-gate-require-history",
        action="store_true",
        default=None,
        help="Fail with a usage error when the history is missing, empty or holds fewer than window "
        "runs of the baseline branch (as require-history = true does), instead of judging without a baseline.",
    )


@pytest.fixture
def metric_gate(request: pytest.FixtureRequest) -> MetricGate:
    """Record this run's metrics: ``metric_gate.record("accuracy", 0.91, n=2000)``."""
    from .recording import MetricGate

    return MetricGate(
        request.config.stash.get(_SINK_KEY, None),
        request.node.nodeid,
        request.config.stash.get(_DATA_SINK_KEY, None),
    )


def pytest_configure(config: pytest.Config) -> None:
    """Called once per process after the command line is parsed: set up the gate when it is on."""
    if not config.getoption("metric_gate"):
        return
    sink: list[Recorded] = []
    data_sink: list[DataCheck] = []
    config.stash[_SINK_KEY] = sink
    config.stash[_DATA_SINK_KEY] = data_sink
    if hasattr(config, "workerinput"):
        # An xdist worker only records; the controller judges once.
        config.pluginmanager.register(_WorkerPlugin(sink, data_sink), "metricgate-worker")
        return
    gate = _open_gate(config)
    config.stash[_SESSION_KEY] = gate
    junit = config.getoption("xmlpath", None)
    # The path exactly as pytest's junitxml resolves it (relative to where pytest started).
    junit_path = (
        Path(os.path.normpath(os.path.abspath(os.path.expanduser(os.path.expandvars(junit)))))
        if junit
        else None
    )
    config.pluginmanager.register(
        _ControllerPlugin(gate, sink, junit_path, data_sink), "metricgate-controller"
    )


def _end_xdist_nodes(config: pytest.Config) -> None:
    """Shut xdist's workers down now that they have finished, rather than at sessionfinish.

    Their execnet IO threads live until then, and with them alive the gate
    could not fork its own workers (see ``parallel``). Without them the
    controller judges and draws exactly as a session without xdist does.
    xdist's own teardown then finds nothing left to do.
    """
    dsession = config.pluginmanager.getplugin("dsession")
    nodes = getattr(dsession, "nodemanager", None)
    if nodes is not None:
        nodes.teardown_nodes()


def _open_gate(config: pytest.Config) -> GateSession:
    from . import config as gate_config
    from .errors import MetricGateError
    from .session import GateSession

    invocation_dir = config.invocation_params.dir
    pyproject = config.rootpath / "pyproject.toml"
    overrides = gate_config.Overrides(
        history=_store_or_path_option(config, "metric_gate_history", invocation_dir),
        current=_store_or_path_option(config, "metric_gate_current", invocation_dir),
        report_dir=_path_option(config, "metric_gate_report_dir", invocation_dir),
        require_history=config.getoption("metric_gate_require_history"),
    )
    try:
        loaded = gate_config.load(
            pyproject,
            shown=gate_config.display_path(pyproject, invocation_dir),
            overrides=overrides,
            invocation_dir=invocation_dir,
            strict=_strict_config(config),
        )
        for warning in loaded.warnings:
            config.issue_config_time_warning(pytest.PytestConfigWarning(warning), stacklevel=2)
        return GateSession.open(
            loaded, record=config.getoption("metric_gate_record"), invocation_dir=invocation_dir
        )
    except MetricGateError as exc:
        raise pytest.UsageError(str(exc) + _rootdir_hint(config, pyproject)) from None


def _rootdir_hint(config: pytest.Config, pyproject: Path) -> str:
    """Point at a nearer pyproject.toml with [tool.metricgate] when pytest chose another rootdir."""
    nearer = config.invocation_params.dir / "pyproject.toml"
    if nearer == pyproject or not nearer.is_file():
        return ""
    try:
        has_table = "[tool.metricgate" in nearer.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    if not has_table:
        return ""
    return (
        f" (pytest's rootdir is {config.rootpath}; to use {nearer}, run with --rootdir=. "
        "or add a [tool.pytest.ini_options] table to it)"
    )


def _path_option(config: pytest.Config, name: str, base: Path) -> Path | None:
    raw = config.getoption(name)
    return None if raw is None else base / raw


def _store_or_path_option(config: pytest.Config, name: str, base: Path) -> Path | str | None:
    """An ``mlflow:...`` value names a tracking-server store, never a file: it is kept as text."""
    raw = config.getoption(name)
    if isinstance(raw, str) and raw.startswith("mlflow:"):
        return raw
    return None if raw is None else base / raw


def _strict_config(config: pytest.Config) -> bool:
    """pytest's ``--strict-config``: an ini option since pytest 9 (``strict = true`` implies it), a flag before."""
    for name in ("strict_config", "strict"):
        try:
            value = config.getini(name)
        except ValueError:  # pytest 8 has neither ini option (and its --strict means strict markers)
            return bool(config.getoption("strict_config", default=False))
        if value is not None:
            return bool(value)
    return False


def _selection(config: pytest.Config, deselected: int) -> str | None:
    """How this session ran only some tests (``None`` when it ran them all), in a few words."""
    if deselected:
        return f"{deselected} {'test' if deselected == 1 else 'tests'} deselected"
    if any("::" in str(arg) for arg in config.args):
        return "tests selected by node id"
    return None


class _WorkerPlugin:
    """Registered on xdist workers: hands the recorded values to the controller as plain data."""

    def __init__(self, sink: list[Recorded], data_sink: list[DataCheck]) -> None:
        self.sink = sink
        self.data_sink = data_sink
        self.deselected = 0

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = session.config.workeroutput  # type: ignore[attr-defined]
        output[WORKER_OUTPUT_KEY] = [record.to_plain() for record in self.sink]
        output[WORKER_DESELECTED_KEY] = self.deselected
        output[WORKER_DATA_KEY] = [check.to_plain() for check in self.data_sink]


class _ControllerPlugin:
    """Registered in the process that judges: merges values, judges after the tests, reports."""

    def __init__(
        self, gate: GateSession, sink: list[Recorded], junit_path: Path | None, data_sink: list[DataCheck]
    ) -> None:
        self.gate = gate
        self.sink = sink
        self.data_sink = data_sink
        self.junit_path = junit_path
        self.worker_records: list[Recorded] = []
        self.worker_data: list[DataCheck] = []
        self.skipped_because: str | None = None
        # Every xdist worker collects (and deselects) the whole suite, so the largest count is the count.
        self.deselected = 0

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist calls this on the controller as each worker finishes or crashes."""
        output = getattr(node, "workeroutput", None) or {}
        from .recording import Recorded

        self.worker_records.extend(Recorded.from_plain(item) for item in output.get(WORKER_OUTPUT_KEY, ()))
        self.deselected = max(self.deselected, int(output.get(WORKER_DESELECTED_KEY, 0)))
        if output.get(WORKER_DATA_KEY):
            from .datacheck import DataCheck

            self.worker_data.extend(DataCheck.from_plain(item) for item in output[WORKER_DATA_KEY])
        if error is not None:
            self.gate.crashed_workers.append(str(getattr(getattr(node, "gateway", None), "id", node)))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> object:
        """Judge after every test ran, and count a failed gate in ``session.testsfailed``.

        Doing it here, not in ``pytest_sessionfinish``, lets pytest's own exit
        status and every later hook see the failure (as pytest-cov does).
        """
        try:
            outcome = yield
        except BaseException:
            self.skipped_because = "the session stopped before every test ran (-x, --maxfail or an interrupt)"
            raise
        if session.config.option.collectonly:
            self.skipped_because = "--collect-only runs no tests"
            return outcome
        from .errors import MetricGateError

        _end_xdist_nodes(session.config)
        tests_passed = session.testsfailed == 0
        self.gate.records = [*self.sink, *self.worker_records]
        self.gate.data_checks = [*self.data_sink, *self.worker_data]
        try:
            # Judging can still find a user mistake: two globs that match a recorded name equally.
            result = self.gate.judge(selection=_selection(session.config, self.deselected))
        except MetricGateError as exc:
            raise pytest.UsageError(str(exc)) from None
        if not result.passed:
            session.testsfailed += 1
        try:
            self.gate.write_report()
            self.gate.append_history(tests_passed=tests_passed)
        except MetricGateError as exc:
            raise pytest.UsageError(str(exc)) from None
        session.config.hook.pytest_metricgate_result(config=session.config, result=result)
        self.gate.send_alerts()
        return outcome

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Runs after pytest's junitxml wrote its file, which then gains one test case per gated metric."""
        result = self.gate.result
        if result is None:
            return
        # A monitoring repository may hold no tests at all: there the gate is the
        # check that ran, so its pass is a pass, not "no tests collected".
        if result.passed and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK
        if self.junit_path is not None and self.junit_path.is_file():
            from .report import add_to_junit_file, junit_properties, junit_testcases

            add_to_junit_file(self.junit_path, junit_testcases(result), junit_properties(result))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .report import terminal_lines

        terminalreporter.ensure_newline()
        terminalreporter.section("metric gate")
        shown = self.gate.shown_result
        if shown is None:
            terminalreporter.write_line(
                f"metric gate: not judged: {self.skipped_because or 'no result'}", yellow=True
            )
            return
        # GitHub reads workflow commands from any line of the step's output: plain, at the line's start.
        for command in self.gate.annotations:
            terminalreporter.write_line(command)
        quiet = terminalreporter.config.get_verbosity() < 0
        lines = terminal_lines(shown, details=self.gate.details, quiet=quiet, undone=self.gate.undone)
        for line in lines:
            terminalreporter.write_line(line.text, **line.markup)
