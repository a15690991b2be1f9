"""Without --metric-gate the plugin is invisible and costs nothing."""

from __future__ import annotations

import subprocess
import sys


def test_without_the_flag_nothing_is_shown_or_written(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.99
    """)
    project.records({"accuracy": 0.5})
    result = project.run(gate=False)
    assert result.ret == 0
    assert "metric gate" not in result.stdout.str()
    assert not (project.path / "metricgate-report").exists()


def test_without_the_flag_a_bad_config_is_not_read(project):
    project.config("""
        [tool.metricgate]
        window = "not a number"
    """)
    project.records({"accuracy": 0.5})
    assert project.run(gate=False).ret == 0


def test_without_the_flag_a_bad_value_still_fails_its_test(project):
    project.config("[tool.metricgate]")
    project.file("test_bad.py", "def test_bad(metric_gate):\n    metric_gate.record('accuracy', '0.9')\n")
    result = project.run(gate=False)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*TypeError: metric_gate.record('accuracy'): value must be a number, got str '0.9'"]
    )


def test_without_the_flag_neither_numpy_nor_matplotlib_is_imported(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.records({"accuracy": 0.9})
    project.file(
        "conftest.py",
        "import sys\n"
        "def pytest_sessionfinish(session):\n"
        "    heavy = sorted(m for m in ('numpy', 'matplotlib') if m in sys.modules)\n"
        "    print('HEAVY-MODULES:', heavy)\n",
    )
    # a fresh interpreter: this process already has numpy loaded
    result = project.pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*HEAVY-MODULES: []"])


def test_the_plugin_can_be_disabled_by_name(project):
    project.config("""
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.file("test_x.py", "def test_x():\n    pass\n")
    result = project.pytester.runpytest("-p", "no:metricgate", "--metric-gate")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*unrecognized arguments: --metric-gate*"])


def test_options_are_listed_in_their_own_help_group(project):
    result = project.pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "metric gate (pytest-metricgate):",
            "  --metric-gate *",
            "*--metric-gate-report-dir=DIR*",
            "*--metric-gate-history=PATH*",
            "*--metric-gate-current=PATH*",
            "*--metric-gate-record*",
        ]
    )


def test_importing_the_plugin_imports_nothing_heavy():
    code = "import sys, pytest_metricgate.plugin; print(sorted(m for m in ('numpy', 'matplotlib') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_the_quality_helpers_load_on_first_use():
    code = (
        "import sys, pytest_metricgate as gate; before = 'numpy' in sys.modules; "
        "print(before, gate.quality.psi([1, 2, 3], [1, 2, 3]))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "0.0"]
