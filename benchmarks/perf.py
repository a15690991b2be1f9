"""Speed and memory of the metric gate, as ratios measured in one run on this machine.

Run it from the repository's root with the project installed (``pip install -e '.[test]'``)::

    python benchmarks/perf.py            # prints a Markdown table; exit status 1 when a target is missed
    python benchmarks/perf.py --quick    # fewer repetitions, for a smoke test

It generates its own projects in a temporary directory and runs each scenario
as real ``pytest`` processes, several times, alternating the variants it
compares so that load on the machine hits both alike; it reports medians.

The targets (from the project's performance, shared-history and data-drift issues):

1. **Off costs nothing.** With the plugin installed and no ``--metric-gate``, a
   50-test session takes at most 2 % longer than the same session with
   ``-p no:metricgate``, and neither numpy nor matplotlib is imported.
2. **Flat in history length.** With 20 metrics, ``pytest --metric-gate``
   (charts included) on a 1,000,000-run history takes at most 1.5x the wall
   time and 1.5x the peak memory of the same on a 1,000-run history, for JSONL
   and for CSV, and for a team's JSONL history (every run timestamped, one in
   four from a feature branch, an accepted mark 150 runs back) judged with
   ``baseline-branch = "main"`` and ``require-history = true``.
3. **Charts near the floor.** One 200-point metric chart, drawn in a single
   process the way the gate draws many of them (one reused figure), costs at
   most 1.2x the floor, PNG and SVG: an Agg ``Figure`` of the same size with
   one line of the same number of points, saved the way the charts are
   (a ``charts.ChartFigure`` through ``charts.save_figure``) in this process. The table also shows what PNG's
   zlib levels and PIL's encoder cost, the measurements behind the charts'
   own PNG writer and its level.
4. **Many metrics.** With 200 gated metrics and a 1,000-run history, all
   charts as PNG, the wall time is at most a third of the same run on the code
   before the chart work (commit ``CHARTS_BASELINE_COMMIT``, checked out of git
   and timed in the same alternation), and the gate's own work besides charts
   is under 10 % of the whole run: the run with chart drawing replaced by a
   stub, minus the same session with the gate off (pytest's own start-up and
   the tests are not the gate's work).
5. **xdist.** The same session under ``-n 2``: the gate's wall time (the run
   minus the same run with the gate off, which removes xdist's start-up and the
   tests' own time) is at most 1.1x the gate's wall time without xdist.
7. **Data checks.** ``metric_gate.check_data`` on 50 columns of 100,000 rows
   (reference and current) adds under 2 s of wall time to a gated session with
   chart drawing stubbed, measured against the same session that makes the same
   data but does not check it; and one distribution chart costs at most 1.5x
   one trend chart of 200 points, the existing per-chart budget.
   (``--data-only`` runs this scenario alone.)

6. **Shared history on MLflow** (``--only mlflow`` runs just this; it needs the full ``mlflow``
   package for the server, which ``.ci/run`` installs into ``.venv-mlflow``, or
   ``METRICGATE_MLFLOW_SERVER`` naming its ``mlflow`` executable). On one local server (sqlite
   backend), with 20 metrics: reading the history from an experiment of 10,000 runs costs at most
   1.5x reading it from one of 200 runs; a gate session on a 1,000-run experiment costs at most 2 s
   more wall time than the same on a 1,000-run JSONL file; and recording into MLflow at most 1 s
   more than appending to JSONL. Server start-up is excluded. The big experiments are made by
   copying one real recorded run's database rows, so that making 10,000 runs takes seconds.

Other installed pytest plugins (hypothesis; xdist except in scenario 5) are
disabled in every run (``-p no:...``), so the measurements see this plugin and pytest alone, and
Python's bytecode cache is on (``PYTHONDONTWRITEBYTECODE`` is removed from the
runs' environment), as on a developer's machine.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ISOLATE = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q")
NO_XDIST = ("-p", "no:xdist")
# The code path the chart targets are measured against: main just before the chart work of the
# "charts for many metrics" issue. Its package is checked out of git into a temporary directory
# and put first on PYTHONPATH, so the same run times it beside today's code.
CHARTS_BASELINE_COMMIT = "2615589"
STUB_CHARTS = textwrap.dedent(
    """
    # Loaded with -p: replaces chart drawing, so the run shows the gate's work without charts.
    import sys, types
    stub = types.ModuleType("pytest_metricgate.charts")
    stub.draw_all = lambda series, verdicts, rules, fmt, **options: ([b"" for _ in series], b"")
    stub.draw_distributions = lambda items, fmt, **options: [b"" for _ in items]
    stub.fonts = lambda: None
    sys.modules["pytest_metricgate.charts"] = stub
    """
)


@dataclass
class Measured:
    wall: float
    cpu: float
    peak_mib: float
    output: str


def run_pytest(project: Path, *args: str, env: dict[str, str] | None = None, xdist: bool = False) -> Measured:
    """Run pytest in ``project`` as its own process; wall time, CPU time and peak RSS of that process.

    CPU time and memory count that process only (not xdist's workers).
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", *ISOLATE, *(() if xdist else NO_XDIST), *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=child_environment(env),
    )
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"pytest {' '.join(args)} in {project} exited {process.returncode}:\n{output}")
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output)


def child_environment(extra: dict[str, str] | None) -> dict[str, str]:
    """This environment, with Python's default bytecode caching (some sandboxes and CI images turn it off)."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {**environment, **(extra or {})}


def alternate(variants: dict[str, Callable[[], Measured]], rounds: int) -> dict[str, list[Measured]]:
    """Run every variant ``rounds`` times, interleaved (A B A B ...), after one warm-up each."""
    for run in variants.values():
        run()
    results: dict[str, list[Measured]] = {name: [] for name in variants}
    for index in range(rounds):
        order = list(variants) if index % 2 == 0 else list(reversed(variants))
        for name in order:
            results[name].append(variants[name]())
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# -- projects ---------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def config(metrics: Sequence[str], history: str, *extra: str) -> str:
    lines = ["[tool.pytest.ini_options]", "", "[tool.metricgate]", f'history = "{history}"', *extra, ""]
    for name in metrics:
        lines += [f"[tool.metricgate.metrics.{name}]", "min = 0.5", "max-drop = 0.05", ""]
    return "\n".join(lines)


def recording_test(metrics: Sequence[str]) -> str:
    return textwrap.dedent(
        f"""
        import random

        def test_record(metric_gate):
            rng = random.Random(7)
            for name in {list(metrics)!r}:
                metric_gate.record(name, round(0.9 + rng.gauss(0, 0.01), 4), n=1000)
        """
    )


def write_jsonl_history(path: Path, metrics: Sequence[str], runs: int) -> None:
    """``runs`` lines; a few thousand distinct lines repeated, so that a million are quick to write."""
    rng = random.Random(1)
    templates = [
        json.dumps({"run": "r{0}", "metrics": {m: round(0.9 + rng.gauss(0, 0.01), 4) for m in metrics}})
        for _ in range(1000)
    ]
    with path.open("w") as stream:
        for index in range(runs):
            stream.write(templates[index % 1000].replace("r{0}", f"r{index}", 1) + "\n")


def write_team_history(path: Path, metrics: Sequence[str], runs: int) -> None:
    """Timestamped runs, one in four from a feature branch, and an accepted mark 150 runs from the end."""
    rng = random.Random(1)
    templates = [
        json.dumps(
            {
                "run": "r{0}",
                "timestamp": "T",
                "branch": "B",
                "metrics": {m: round(0.9 + rng.gauss(0, 0.01), 4) for m in metrics},
            }
        )
        for _ in range(1000)
    ]
    start = 1_700_000_000
    with path.open("w") as stream:
        for index in range(runs):
            line = templates[index % 1000].replace("r{0}", f"r{index}", 1)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start + 600 * index))
            line = line.replace('"T"', f'"{stamp}"', 1).replace(
                '"B"', '"feat"' if index % 4 == 3 else '"main"', 1
            )
            if index == runs - 150:
                line = line.replace('"metrics"', f'"marks": "{metrics[0]}=accepted", "metrics"', 1)
            stream.write(line + "\n")


def write_csv_history(path: Path, metrics: Sequence[str], runs: int) -> None:
    rng = random.Random(1)
    templates = [",".join(f"{0.9 + rng.gauss(0, 0.01):.4f}" for _ in metrics) for _ in range(1000)]
    with path.open("w") as stream:
        stream.write("run," + ",".join(metrics) + "\n")
        for index in range(runs):
            stream.write(f"r{index},{templates[index % 1000]}\n")


# -- 1. off -------------------------------------------------------------------------


def scenario_off(base: Path, rounds: int) -> list[Row]:
    project = base / "off"
    write(project / "pyproject.toml", config(["accuracy"], "history.jsonl"))
    write(project / "test_many.py", "".join(f"def test_{i}():\n    assert {i} == {i}\n\n" for i in range(50)))
    write(
        project / "conftest.py",
        "import sys, json\n"
        "def pytest_sessionfinish(session):\n"
        "    with open('modules.json', 'w') as out:\n"
        "        json.dump(sorted(m for m in ('numpy', 'matplotlib') if m in sys.modules), out)\n",
    )
    results = alternate(
        {
            "installed, gate off": lambda: run_pytest(project),
            "-p no:metricgate": lambda: run_pytest(project, "-p", "no:metricgate"),
        },
        rounds,
    )
    run_pytest(project)
    heavy = json.loads((project / "modules.json").read_text())
    on = median([m.wall for m in results["installed, gate off"]])
    off = median([m.wall for m in results["-p no:metricgate"]])
    cpu_on = median([m.cpu for m in results["installed, gate off"]])
    cpu_off = median([m.cpu for m in results["-p no:metricgate"]])
    return [
        Row(
            "1. off: 50 tests, gate off vs -p no:metricgate (wall)",
            f"{on * 1000:.0f} ms vs {off * 1000:.0f} ms",
            on / off,
            1.02,
        ),
        Row(
            "   the same, CPU time",
            f"{cpu_on * 1000:.0f} ms vs {cpu_off * 1000:.0f} ms",
            cpu_on / cpu_off,
            None,
        ),
        Row(
            "   numpy or matplotlib imported with the gate off",
            ", ".join(heavy) or "neither",
            None,
            None,
            passed=not heavy,
        ),
    ]


# -- 2. history length ---------------------------------------------------------------


def scenario_history(base: Path, rounds: int, big_runs: int) -> list[Row]:
    metrics = [f"metric_{i:02d}" for i in range(20)]
    rows = []
    team = ('baseline-branch = "main"', "require-history = true")
    for kind, writer in (
        ("jsonl", write_jsonl_history),
        ("csv", write_csv_history),
        ("team jsonl", write_team_history),
    ):
        projects = {}
        suffix = kind.split()[-1]
        for runs in (1000, big_runs):
            project = base / f"history-{kind.replace(' ', '-')}-{runs}"
            extra = team if kind.startswith("team") else ()
            write(project / "pyproject.toml", config(metrics, f"history.{suffix}", *extra))
            write(project / "test_record.py", recording_test(metrics))
            writer(project / f"history.{suffix}", metrics, runs)
            projects[runs] = project
        size = (projects[big_runs] / f"history.{suffix}").stat().st_size / 2**20
        results = alternate(
            {
                str(runs): (lambda p=project: run_pytest(p, "--metric-gate"))
                for runs, project in projects.items()
            },
            rounds,
        )
        small, big = results["1000"], results[str(big_runs)]
        wall = median([m.wall for m in big]) / median([m.wall for m in small])
        memory = median([m.peak_mib for m in big]) / median([m.peak_mib for m in small])
        label = f"{big_runs:,} vs 1,000 runs"
        rows.append(
            Row(
                f"2. {kind.replace('jsonl', 'JSONL').replace('csv', 'CSV')} history {label} ({size:.0f} MiB), 20 metrics: wall",
                f"{median([m.wall for m in big]):.2f} s vs {median([m.wall for m in small]):.2f} s",
                wall,
                1.5,
            )
        )
        rows.append(
            Row(
                "   peak memory",
                f"{median([m.peak_mib for m in big]):.0f} MiB vs {median([m.peak_mib for m in small]):.0f} MiB",
                memory,
                1.5,
            )
        )
    return rows


# -- 3. charts -------------------------------------------------------------------------


def chart_inputs(points: int, many: int) -> list[Any]:
    """``many`` metrics' chart jobs of ``points`` points each, one failing near the end (a streak, a shortfall)."""
    from pytest_metricgate import charts
    from pytest_metricgate.config import MetricRule
    from pytest_metricgate.gate import Verdict
    from pytest_metricgate.report import Series

    rng = random.Random(3)
    values = tuple(round(0.9 + rng.gauss(0, 0.01), 4) for _ in range(points))
    rule = MetricRule("accuracy", min=0.88, max_drop=0.02)
    verdict = Verdict(
        "accuracy",
        "fail",
        values[-1],
        baseline=0.9,
        baseline_text="median 0.900 of last 5",
        limits="min 0.88, max-drop 0.02",
        reasons=("below min 0.88",),
        severity="error",
    )
    return [
        charts.ChartJob(
            Series(
                f"metric_{index}",
                tuple(f"r{i}" for i in range(points)),
                values,
                tuple(v < 0.88 for v in values[:-1]) + (False,),
                True,
                "run",
            ),
            verdict,
            rule,
        )
        for index in range(many)
    ]


def scenario_charts(rounds: int) -> list[Row]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from pytest_metricgate import charts, parallel

    points, batch, many = 200, 20, 40
    jobs = chart_inputs(points, many)
    values = jobs[0].series.values
    with charts.drawing_style():
        painter = charts.MetricPainter()
        painter.paint(jobs[0])
        size = painter.figure.get_size_inches()

    def timed(function: Callable[[], object], repeat: int) -> float:
        function()  # warm caches (fonts, text layout)
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(repeat):
                function()
            samples.append((time.perf_counter() - started) / repeat)
        return median(samples)

    rows = []
    for fmt in ("png", "svg"):

        def floor(fmt: str = fmt) -> None:
            # A chart's figure class and writer: saved the way the charts are (for SVG, with the
            # charts' shared text outlines; for PNG, the charts' PNG writer).
            figure = charts.ChartFigure(figsize=size, dpi=100)
            FigureCanvasAgg(figure)
            figure.add_subplot().plot(range(points), values)
            charts.save_figure(figure, fmt)

        floor_cost = timed(floor, 10)
        in_batch = timed(functools.partial(charts.draw_batch, jobs[:batch], fmt), 1) / batch
        alone = timed(functools.partial(charts.draw_batch, jobs[:1], fmt), 5)
        workers = parallel.worker_count(many)
        gate_jobs = [(jobs[i : i + 10], fmt) for i in range(0, many, 10)]
        pooled = (
            timed(functools.partial(parallel.starmap, charts.draw_batch, gate_jobs, workers=workers), 1)
            / many
        )
        rows += [
            Row(
                f"3. {fmt.upper()} chart of {points} points drawn in one process, per chart of {batch}, vs the floor",
                f"{in_batch * 1000:.1f} ms vs {floor_cost * 1000:.1f} ms",
                in_batch / floor_cost,
                1.2,
            ),
            Row(
                "   a lone chart (its figure built for it)",
                f"{alone * 1000:.1f} ms vs {floor_cost * 1000:.1f} ms",
                alone / floor_cost,
                None,
            ),
            Row(
                f"   marginal cost of {many} charts shared among {workers} processes",
                f"{pooled * 1000:.1f} ms vs {floor_cost * 1000:.1f} ms",
                pooled / floor_cost,
                None,
            ),
        ]
    rows += png_levels(jobs[0])
    return rows


def png_levels(job: Any) -> list[Row]:
    """What PNG's zlib level costs on a chart's pixels, and what PIL's encoder (used before) costs:
    the measurements behind the level and the writer the charts use."""
    import numpy as np
    from PIL import Image

    from pytest_metricgate import charts

    with charts.drawing_style():
        painter = charts.MetricPainter()
        painter.paint(job)
        painter.figure.canvas.draw()
        pixels = np.asarray(painter.figure.canvas.buffer_rgba())  # type: ignore[attr-defined]

    def pil(level: int) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="png", compress_level=level)
        return buffer.getvalue()

    encoders: dict[str, Callable[[], bytes]] = {
        "charts' writer, zlib level 1": lambda: charts.png_bytes(pixels, 100, level=1),
        "charts' writer, zlib level 6": lambda: charts.png_bytes(pixels, 100, level=6),
        "charts' writer, zlib level 9": lambda: charts.png_bytes(pixels, 100, level=9),
        "PIL (row filters chosen per row), zlib level 1": lambda: pil(1),
        "PIL, zlib level 6 (matplotlib's default)": lambda: pil(6),
    }
    costs = {}
    for name, encode in encoders.items():
        samples, size = [], 0
        for _ in range(15):
            started = time.perf_counter()
            size = len(encode())
            samples.append(time.perf_counter() - started)
        costs[name] = (median(samples), size)
    chosen_name = next(iter(encoders))
    chosen = costs[chosen_name]
    return [
        Row(
            f"   PNG encoding: {name} vs {chosen_name} (the charts' choice)",
            f"{cost * 1000:.1f} ms, {size / 1024:.0f} KiB vs {chosen[0] * 1000:.1f} ms, {chosen[1] / 1024:.0f} KiB",
            cost / chosen[0],
            None,
        )
        for name, (cost, size) in costs.items()
        if name != chosen_name
    ]


# -- 4. many metrics ----------------------------------------------------------------------


def baseline_package(base: Path) -> Path | None:
    """The package as it was at ``CHARTS_BASELINE_COMMIT``, for PYTHONPATH; None outside a git checkout."""
    target = base / "baseline"
    target.mkdir()
    root = Path(__file__).resolve().parent.parent
    try:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", CHARTS_BASELINE_COMMIT, "pytest_metricgate"],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return target


def scenario_many(base: Path, rounds: int) -> list[Row]:
    metrics = [f"metric_{i:03d}" for i in range(200)]
    project = base / "many"
    write(project / "pyproject.toml", config(metrics, "history.jsonl"))
    write(project / "test_record.py", recording_test(metrics))
    write_jsonl_history(project / "history.jsonl", metrics, 1000)
    breached = base / "many-breached"
    write(breached / "pyproject.toml", config(metrics, "history.jsonl", 'chart-metrics = "breached"'))
    write(breached / "test_record.py", recording_test(metrics))
    write_jsonl_history(breached / "history.jsonl", metrics, 1000)
    write(base / "stubs" / "metricgate_stub_charts.py", STUB_CHARTS)
    stub_env = {"PYTHONPATH": str(base / "stubs")}
    old = baseline_package(base)
    variants: dict[str, Callable[[], Measured]] = {
        "full": lambda: run_pytest(project, "--metric-gate"),
        "stub": lambda: run_pytest(project, "--metric-gate", "-p", "metricgate_stub_charts", env=stub_env),
        "off": lambda: run_pytest(project),
        "xdist": lambda: run_pytest(project, "--metric-gate", "-n", "2", xdist=True),
        "xdist off": lambda: run_pytest(project, "-n", "2", xdist=True),
        "breached": lambda: run_pytest(breached, "--metric-gate"),
    }
    if old is not None:
        variants["before"] = lambda: run_pytest(project, "--metric-gate", env={"PYTHONPATH": str(old)})
    results = alternate(variants, rounds)
    wall = {name: median([m.wall for m in measured]) for name, measured in results.items()}
    full, stub, off = wall["full"], wall["stub"], wall["off"]
    rows = []
    if "before" in wall:
        rows.append(
            Row(
                f"4. 200 metrics, 1,000-run history, all charts PNG: wall, today vs {CHARTS_BASELINE_COMMIT}",
                f"{full:.2f} s vs {wall['before']:.2f} s",
                full / wall["before"],
                1 / 3,
            )
        )
    else:
        rows.append(
            Row(
                "4. 200 metrics, 1,000-run history, all charts PNG: wall",
                f"{full:.2f} s ({CHARTS_BASELINE_COMMIT} not in this checkout's git history)",
                None,
                None,
                passed=False,
            )
        )
    gate_plain, gate_xdist = full - off, wall["xdist"] - wall["xdist off"]
    return rows + [
        Row("   share spent in charts", f"{100 * (full - stub) / full:.0f} %", None, None),
        Row(
            "   the gate's work besides charts, share of the whole",
            f"{stub - off:.2f} s of {full:.2f} s (stub {stub:.2f} s, gate off {off:.2f} s)",
            (stub - off) / full,
            0.10,
        ),
        Row(
            "   the whole run with charts stubbed, share (pytest start-up included)",
            f"{stub:.2f} s",
            stub / full,
            None,
        ),
        Row(
            "5. the same under -n 2: the gate's wall time (gate on minus gate off), vs without xdist",
            f"{gate_xdist:.2f} s ({wall['xdist']:.2f} - {wall['xdist off']:.2f}) vs {gate_plain:.2f} s "
            f"({full:.2f} - {off:.2f})",
            gate_xdist / gate_plain,
            1.1,
        ),
        Row(
            '6. the same with chart-metrics = "breached" (all pass: the overview only)',
            f"{wall['breached']:.2f} s vs {full:.2f} s",
            wall["breached"] / full,
            None,
        ),
    ]


# -- 6. MLflow ------------------------------------------------------------------------------


def mlflow_server_executable() -> str | None:
    candidates = [
        os.environ.get("METRICGATE_MLFLOW_SERVER", ""),
        str(Path(__file__).resolve().parents[1] / ".venv-mlflow" / "bin" / "mlflow"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


class _Server:
    """A local ``mlflow server`` on a free port with a sqlite backend in ``directory``."""

    def __init__(self, executable: str, directory: Path) -> None:
        import socket

        self.directory = directory
        self.database = directory / "mlflow.db"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.command = [
            executable,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            f"sqlite:///{self.database}",
            "--artifacts-destination",
            str(directory / "artifacts"),
            "--workers",
            "2",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import urllib.request

        log = open(self.directory / "server.log", "ab")  # noqa: SIM115 - held by the server
        self.process = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(
            f"mlflow server did not start: {(self.directory / 'server.log').read_text()[-2000:]}"
        )

    def stop(self) -> None:
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


def _record_one(project: Path, uri: str) -> None:
    """One real recorded session, the run whose database rows the big experiments copy."""
    run_pytest(project, "--metric-gate", "--metric-gate-record", env={"MLFLOW_TRACKING_URI": uri})


def _clone_runs(database: Path, experiment: str, count: int) -> None:
    """Copy the experiment's one run ``count - 1`` times in the database, each started a second later."""
    import datetime
    import sqlite3
    import uuid

    with sqlite3.connect(database) as db:
        (experiment_id,) = db.execute(
            "SELECT experiment_id FROM experiments WHERE name = ?", (experiment,)
        ).fetchone()
        (template, start) = db.execute(
            "SELECT run_uuid, start_time FROM runs WHERE experiment_id = ?", (experiment_id,)
        ).fetchone()
        tables = {
            table: [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            for table in ("runs", "metrics", "latest_metrics", "tags", "params")
        }
        for index in range(1, count):
            new = uuid.uuid4().hex
            for table, columns in tables.items():
                rows = db.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE run_uuid = ?", (template,)
                ).fetchall()
                for row in rows:
                    values = dict(zip(columns, row))
                    values["run_uuid"] = new
                    if table == "runs":
                        values["start_time"] = start - index * 1000
                        values["end_time"] = start - index * 1000 + 100
                        values["name"] = f"run-{index}"
                        if values.get("artifact_uri"):
                            values["artifact_uri"] = str(values["artifact_uri"]).replace(template, new)
                    if table == "tags" and values["key"] == "mlflow.runName":
                        values["value"] = f"run-{index}"
                    if table == "tags" and values["key"] == "metricgate.timestamp":
                        # The run's own time, as the gate records it, agreeing with its start time.
                        moment = datetime.datetime.fromtimestamp(
                            (start - index * 1000) / 1000, datetime.timezone.utc
                        )
                        values["value"] = moment.isoformat()
                    db.execute(
                        f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                        tuple(values.values()),
                    )


def scenario_mlflow(base: Path, rounds: int) -> list[Row]:
    executable = mlflow_server_executable()
    if executable is None:
        raise SystemExit("scenario 6 needs an MLflow server: run .ci/run, or set METRICGATE_MLFLOW_SERVER")
    metrics = [f"metric_{i:02d}" for i in range(20)]
    directory = base / "mlflow-server"
    directory.mkdir(parents=True)
    server = _Server(executable, directory)
    server.start()
    try:
        projects: dict[str, Path] = {}
        for name, runs in (("small", 200), ("big", 10_000), ("gate", 1_000)):
            project = base / f"mlflow-{name}"
            # A generous bound: this measures speed, not the fail-closed timeout.
            write(
                project / "pyproject.toml",
                config(metrics, f"mlflow:{name}") + "\n[tool.metricgate.mlflow]\ntimeout = 300\n",
            )
            write(project / "test_record.py", recording_test(metrics))
            _record_one(project, server.uri)
            projects[name] = project
        server.stop()  # the rows are copied while nothing else writes
        for name, runs in (("small", 200), ("big", 10_000), ("gate", 1_000)):
            _clone_runs(server.database, name, runs)
        server.start()
        jsonl = base / "mlflow-jsonl"
        write(jsonl / "pyproject.toml", config(metrics, "history.jsonl"))
        write(jsonl / "test_record.py", recording_test(metrics))
        write_jsonl_history(jsonl / "history.jsonl", metrics, 1000)
        env = {"MLFLOW_TRACKING_URI": server.uri}
        rows = []

        # Reading alone, as the gate reads (its store, the newest runs it needs), in fresh processes.
        reader = textwrap.dedent(
            """
            import sys, time
            from pytest_metricgate import stores
            from pytest_metricgate.config import HistorySpec, MlflowSettings
            uri, experiment = sys.argv[1], sys.argv[2]
            settings = MlflowSettings(tracking_uri=uri, shown_uri=uri, timeout=300)
            store = stores.open_store(HistorySpec("mlflow", experiment, experiment=experiment, server=settings))
            store.read(limit=3, gated=frozenset())  # imports and connects
            started = time.perf_counter()
            tail = store.read(limit=201, gated=frozenset())
            print(time.perf_counter() - started, len(tail.runs))
            """
        )
        script = write(base / "mlflow-read.py", reader)

        def printed(script: Path, *arguments: str) -> list[str]:
            """What ``script`` prints, run in a fresh process against the server."""
            done = subprocess.run(
                [sys.executable, str(script), server.uri, *arguments],
                capture_output=True,
                text=True,
                check=False,
                env=child_environment(None),
            )
            if done.returncode != 0:
                raise SystemExit(f"{script.name} {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
            return done.stdout.split()

        def read(experiment: str) -> Measured:
            seconds, runs = printed(script, experiment)
            return Measured(float(seconds), 0.0, 0.0, runs)

        reads = alternate({"small": lambda: read("small"), "big": lambda: read("big")}, rounds)
        small, big = median([m.wall for m in reads["small"]]), median([m.wall for m in reads["big"]])
        rows.append(
            Row(
                "6. MLflow: read the newest 201 runs, 10,000- vs 200-run experiment, 20 metrics",
                f"{big * 1000:.0f} ms vs {small * 1000:.0f} ms",
                big / small,
                1.5,
            )
        )

        sessions = alternate(
            {
                "mlflow": lambda: run_pytest(projects["gate"], "--metric-gate", env=env),
                "jsonl": lambda: run_pytest(jsonl, "--metric-gate"),
            },
            rounds,
        )
        on_mlflow = median([m.wall for m in sessions["mlflow"]])
        on_jsonl = median([m.wall for m in sessions["jsonl"]])
        rows.append(
            Row(
                "6. MLflow: gate session, 1,000-run experiment vs 1,000-run JSONL (wall)",
                f"{on_mlflow:.2f} s vs {on_jsonl:.2f} s: +{on_mlflow - on_jsonl:.2f} s",
                None,
                None,
                passed=on_mlflow - on_jsonl <= 2.0,
            )
        )
        # What the MLflow client costs before the gate does anything: the floor under the row above.
        # The search is the store's own (its filter and order), the client bare.
        floor_script = write(
            base / "mlflow-floor.py",
            textwrap.dedent(
                """
                import json, os, sys, time
                os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
                started = time.perf_counter()
                from mlflow.tracking import MlflowClient
                imported = time.perf_counter()
                client = MlflowClient(sys.argv[1])
                experiment = client.get_experiment_by_name(sys.argv[2])
                client.search_runs(
                    [experiment.experiment_id],
                    filter_string=sys.argv[3],
                    max_results=201,
                    order_by=json.loads(sys.argv[4]),
                )
                print(imported - started, time.perf_counter() - imported)
                """
            ),
        )
        from pytest_metricgate.config import MlflowSettings
        from pytest_metricgate.stores import mlflow as mlflow_store

        wanted = mlflow_store.search_filter(MlflowSettings(tracking_uri=server.uri, shown_uri=server.uri))
        order = json.dumps(mlflow_store.NEWEST_FIRST)
        floors = [
            [float(part) for part in printed(floor_script, "gate", wanted, order)] for _ in range(rounds)
        ]
        imported, searched = median([f[0] for f in floors]), median([f[1] for f in floors])
        rows.append(
            Row(
                "   the MLflow client alone, fresh process: import mlflow + one search of the newest 201 runs",
                f"{imported:.2f} s + {searched:.2f} s = {imported + searched:.2f} s",
                None,
                None,
            )
        )
        recordings = alternate(
            {
                "mlflow": lambda: run_pytest(
                    projects["gate"], "--metric-gate", "--metric-gate-record", env=env
                ),
                "jsonl": lambda: run_pytest(jsonl, "--metric-gate", "--metric-gate-record"),
            },
            rounds,
        )
        recorded = median([m.wall for m in recordings["mlflow"]]) - on_mlflow
        appended = median([m.wall for m in recordings["jsonl"]]) - on_jsonl
        rows.append(
            Row(
                "6. MLflow: recording (session with --metric-gate-record minus without)",
                f"{recorded:.2f} s vs {appended:.2f} s (JSONL): +{recorded - appended:.2f} s",
                None,
                None,
                passed=recorded - appended <= 1.0,
            )
        )
        return rows
    finally:
        server.stop()


# -- 7. data checks ------------------------------------------------------------------------

DATA_TEST = textwrap.dedent(
    """
    import numpy as np

    CHECK = {check}

    def test_data(metric_gate):
        rng = np.random.default_rng(11)
        reference = {{f"feature_{{i:02d}}": rng.normal(size=100_000) for i in range(50)}}
        current = {{f"feature_{{i:02d}}": rng.normal(size=100_000) for i in range(50)}}
        current["feature_07"] = current["feature_07"] + 0.1  # one drifted column
        if CHECK:
            metric_gate.check_data(reference, current)
        else:
            metric_gate.record("data.drift_share", 0.02)
    """
)


def scenario_data(base: Path, rounds: int) -> list[Row]:
    """check_data on 50 columns x 100,000 rows: the gate's added wall time, charts stubbed, and chart cost."""
    projects = {}
    for variant, check in (("check", True), ("base", False)):
        project = base / f"data-{variant}"
        write(
            project / "pyproject.toml",
            '[tool.pytest.ini_options]\n\n[tool.metricgate.metrics."data.drift_share"]\nmax = 1\n',
        )
        write(project / "test_data.py", DATA_TEST.format(check=check))
        projects[variant] = project
    write(base / "stubs" / "metricgate_stub_charts.py", STUB_CHARTS)
    stub = ("-p", "metricgate_stub_charts")
    stub_env = {"PYTHONPATH": str(base / "stubs")}
    results = alternate(
        {
            "check": lambda: run_pytest(projects["check"], "--metric-gate", *stub, env=stub_env),
            "base": lambda: run_pytest(projects["base"], "--metric-gate", *stub, env=stub_env),
        },
        rounds,
    )
    check, plain = (median([m.wall for m in results[name]]) for name in ("check", "base"))
    check_cpu, plain_cpu = (median([m.cpu for m in results[name]]) for name in ("check", "base"))
    trend, distribution, charted = _data_chart_costs(max(3, rounds))
    return [
        Row(
            "7. check_data, 50 columns x 100,000 rows: added wall time, charts stubbed",
            f"{check - plain:.2f} s ({check:.2f} s vs {plain:.2f} s with the data made but not checked)",
            check - plain,
            2.0,
        ),
        Row("   the same, CPU time", f"{check_cpu - plain_cpu:.2f} s", None, None),
        Row(
            f"   one distribution chart vs one trend chart of 200 points (PNG, one process; {charted} charted)",
            f"{distribution * 1000:.1f} ms vs {trend * 1000:.1f} ms",
            distribution / trend,
            1.5,
        ),
    ]


def _data_chart_costs(repeat: int) -> tuple[float, float, int]:
    """Seconds for one trend chart (200 points) and one distribution chart, each drawn ``repeat`` times here."""
    import numpy as np

    from pytest_metricgate import charts, datacheck
    from pytest_metricgate.config import MetricRule
    from pytest_metricgate.gate import Verdict
    from pytest_metricgate.report import Series

    rng = np.random.default_rng(11)
    reference = {f"feature_{i:02d}": rng.normal(size=100_000) for i in range(50)}
    current = {f"feature_{i:02d}": rng.normal(size=100_000) for i in range(50)}
    current["feature_07"] = current["feature_07"] + 0.1
    columns = datacheck.check(reference, current).charted()
    series = Series(
        "accuracy",
        tuple(f"r{i}" for i in range(200)),
        tuple(0.9 + 0.01 * math.sin(i) for i in range(200)),
        (False,) * 200,
        True,
    )
    rule = MetricRule(name="accuracy", min=0.85)
    verdict = Verdict(name="accuracy", verdict="pass", value=0.9, limits="min 0.85")

    def timed(draw: Callable[[], object]) -> float:
        draw()
        started = time.perf_counter()
        for _ in range(repeat):
            draw()
        return (time.perf_counter() - started) / repeat

    trend = timed(lambda: charts.metric_chart(series, verdict, rule, "png"))
    distribution = timed(
        lambda: [charts.distribution_chart("data.x", column, "png") for column in columns]
    ) / len(columns)
    return trend, distribution, len(columns)


# -- report ---------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    measured: str
    ratio: float | None
    target: float | None
    passed: bool | None = None

    def verdict(self) -> str:
        if self.passed is not None:
            return "met" if self.passed else "MISSED"
        if self.target is None or self.ratio is None:
            return ""
        return "met" if self.ratio <= self.target else "MISSED"


def table(rows: Sequence[Row]) -> str:
    lines = ["| scenario | measured | ratio | target | |", "|---|---|--:|--:|---|"]
    for row in rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.3f}"
        target = "" if row.target is None else f"<= {row.target:g}"
        lines.append(f"| {row.what} | {row.measured} | {ratio} | {target} | {row.verdict()} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and a 100,000-run history")
    parser.add_argument(
        "--rounds", type=int, default=None, help="repetitions per variant (default 21, quick 5)"
    )
    parser.add_argument(
        "--only",
        default="off,history,charts,many,mlflow,data",
        help="comma-separated scenarios to run (default: all of off,history,charts,many,mlflow,data)",
    )
    parser.add_argument("--data-only", action="store_true", help="run the data-check scenario (7) alone")
    arguments = parser.parse_args(argv)
    chosen = set(arguments.only.split(","))
    rounds = arguments.rounds or (5 if arguments.quick else 21)
    big_runs = 100_000 if arguments.quick else 1_000_000
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="metricgate-perf-") as temporary:
        base = Path(temporary)
        if arguments.data_only:
            chosen = {"data"}
        rows = [
            *(scenario_off(base, rounds) if "off" in chosen else []),
            *(scenario_history(base, max(3, rounds // 4), big_runs) if "history" in chosen else []),
            *(scenario_charts(max(3, rounds // 4)) if "charts" in chosen else []),
            *(scenario_many(base, max(3, rounds // 6)) if "many" in chosen else []),
            *(scenario_mlflow(base, max(3, rounds // 4)) if "mlflow" in chosen else []),
            *(scenario_data(base, max(3, rounds // 4)) if "data" in chosen else []),
        ]
    import matplotlib

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"Machine: {cores} cores, Python {sys.version.split()[0]}, matplotlib {matplotlib.__version__}; "
        f"medians of {rounds} alternating runs (scenarios 2 and 4: fewer); "
        f"{time.perf_counter() - started:.0f} s in all.\n"
    )
    print(table(rows))
    missed = [row for row in rows if row.verdict() == "MISSED"]
    if missed:
        print(
            f"\n{len(missed)} target(s) missed: " + "; ".join(row.what.strip() for row in missed),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
