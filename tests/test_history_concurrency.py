"""History writes under real concurrency and real crashes: no run is ever lost or damaged."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_metricgate import stores as history
from pytest_metricgate.config import HistorySpec
from pytest_metricgate.values import Measurement, Run

WRITERS = 16


def _append_when_released(path: str, index: int, barrier, new_column: bool) -> None:
    spec = HistorySpec(kind=Path(path).suffix[1:], shown=Path(path).name, path=Path(path))
    metrics = {"accuracy": Measurement(index / 100, 1000)}
    if new_column:
        metrics[f"slice_{index:02d}"] = Measurement(float(index))  # every writer grows a CSV's header
    barrier.wait()
    history.append(spec, Run(metrics, run=f"writer-{index}"), column_order=["accuracy"])


def run_writers(path: Path, *, new_column: bool) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WRITERS)
    processes = [
        context.Process(target=_append_when_released, args=(str(path), index, barrier, new_column))
        for index in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * WRITERS


@pytest.mark.parametrize("attempt", range(3))
def test_sixteen_processes_appending_to_jsonl_leave_sixteen_complete_runs(tmp_path, attempt):
    path = tmp_path / "history.jsonl"
    path.write_text('{"run": "before", "metrics": {"accuracy": 0.5}}\n')
    run_writers(path, new_column=False)
    lines = path.read_text().splitlines()
    assert len(lines) == WRITERS + 1
    runs = [json.loads(line) for line in lines]  # every line parses
    assert runs[0]["run"] == "before"
    assert sorted(run["run"] for run in runs[1:]) == sorted(f"writer-{i}" for i in range(WRITERS))


@pytest.mark.parametrize("attempt", range(3))
def test_sixteen_processes_growing_a_csv_header_leave_sixteen_complete_rows(tmp_path, attempt):
    path = tmp_path / "history.csv"
    path.write_text("run,accuracy\nbefore,0.5\n")
    run_writers(path, new_column=True)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == WRITERS + 1
    assert rows[0]["run"] == "before"
    by_run = {row["run"]: row for row in rows[1:]}
    assert sorted(by_run) == sorted(f"writer-{i}" for i in range(WRITERS))
    for index in range(WRITERS):
        row = by_run[f"writer-{index}"]
        assert float(row["accuracy"]) == index / 100
        assert float(row[f"slice_{index:02d}"]) == index  # each writer's own column survived every rewrite
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]  # no temporary files left


KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from pytest_metricgate import stores as history
    from pytest_metricgate.stores import files
    from pytest_metricgate.config import HistorySpec
    from pytest_metricgate.values import Measurement, Run

    def write_half_then_die(fd, data):
        os.write(fd, bytes(data[: len(data) // 2]))
        os.kill(os.getpid(), signal.SIGKILL)

    files._write_all = write_half_then_die
    path = Path(sys.argv[1])
    history.append(HistorySpec("jsonl", path.name, path), Run({"accuracy": Measurement(0.123456789)}, run="killed"))
    """
)


def test_a_writer_killed_mid_append_leaves_every_earlier_run_intact(tmp_path):
    path = tmp_path / "history.jsonl"
    earlier = "".join(json.dumps({"run": f"r{i}", "metrics": {"accuracy": 0.9}}) + "\n" for i in range(3))
    path.write_text(earlier)
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], check=False)
    assert killed.returncode == -signal.SIGKILL
    text = path.read_text()
    assert text.startswith(earlier) and not text.endswith("\n")  # the residue: a cut-off line

    spec = HistorySpec("jsonl", "history.jsonl", path)
    tail = history.read(spec, limit=10, gated=frozenset())
    assert [run.run for run in tail.runs] == ["r0", "r1", "r2"]
    assert tail.warnings == ("history.jsonl: line 4: incomplete run (a write cut off mid-line), skipped",)

    # the next append ends the residue with a newline: it stays a line of its own, still only a warning
    history.append(spec, Run({"accuracy": Measurement(0.8)}, run="after"))
    lines = path.read_text().splitlines()
    assert lines[:3] == earlier.splitlines() and lines[3] == text[len(earlier) :]
    tail = history.read(spec, limit=10, gated=frozenset())
    assert [run.run for run in tail.runs] == ["r0", "r1", "r2", "after"]
    assert tail.warnings == ("history.jsonl: line 4: incomplete run (a write cut off mid-line), skipped",)


def test_reading_does_not_change_the_file(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text('{"metrics": {"a": 1}}\n{"metrics": {"a": 0.')
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    history.read(HistorySpec("jsonl", "h", path), limit=5, gated=frozenset())
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
