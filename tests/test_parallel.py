"""Charts and analyses shared among forked workers are exactly those drawn in one process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pytest_metricgate import parallel


def test_few_tasks_or_other_threads_keep_the_work_in_this_process(monkeypatch):
    assert parallel.worker_count(parallel.PARALLEL_FROM - 1) == 1
    monkeypatch.setattr(parallel, "python_threads", lambda: 2)
    # With threads alive, workers need a forkserver, whose start only many tasks pay for.
    assert parallel.worker_count(parallel.FORKSERVER_FROM - 1) == 1


def test_threads_started_as_execnet_starts_them_are_counted():
    # threading.active_count() misses threads started with _thread, as execnet starts xdist's.
    import _thread
    import threading

    started, release = threading.Event(), threading.Event()

    def wait() -> None:
        started.set()
        release.wait()

    before = parallel.python_threads()
    _thread.start_new_thread(wait, ())
    started.wait()
    try:
        assert parallel.python_threads() == before + 1
    finally:
        release.set()


def test_starmap_keeps_the_order_and_returns_the_first_task_apart():
    ran = []
    results, first = parallel.starmap(
        pow,
        [(2, n) for n in range(40)],
        workers=1,
        first=(max, (3, 9)),
        meanwhile=lambda: ran.append(len(ran)),
    )
    assert results == [2**n for n in range(40)]
    assert first == 9
    assert ran == [0]  # without workers, meanwhile still runs, once


PARALLEL_EQUALS_SEQUENTIAL = textwrap.dedent(
    """
    from pytest_metricgate import charts, parallel
    from pytest_metricgate.config import MetricRule
    from pytest_metricgate.gate import Verdict
    from pytest_metricgate.report import Series

    series = [
        Series(f"m{i}", tuple(str(r) for r in range(30)), tuple(0.9 + ((r * (i + 3)) % 7) / 1000 for r in range(30)),
               (False,) * 30, True, "run")
        for i in range(20)
    ]
    verdicts = {s.name: Verdict(s.name, "pass", s.values[-1], baseline=0.9) for s in series}
    rules = {s.name: MetricRule(s.name, min=0.85) for s in series}
    assert parallel.worker_count(len(series)) > 1, "this test needs a machine where the pool is used"
    together = charts.draw_all(series, verdicts, rules, "png")
    alone = charts.draw_all(series, verdicts, rules, "png", workers=1)
    assert together == alone
    assert len(together[0]) == 20 and all(chart.startswith(b"\\x89PNG") for chart in together[0])
    print("identical")
    """
)


def test_charts_drawn_by_workers_are_byte_identical_to_charts_drawn_here():
    # a fresh interpreter: this one may have threads, where the gate never forks
    completed = subprocess.run(
        [sys.executable, "-c", PARALLEL_EQUALS_SEQUENTIAL], capture_output=True, text=True, check=False
    )
    if "needs a machine where the pool is used" in completed.stderr:
        pytest.skip("a single core, or not Linux: the gate draws in one process here")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "identical"


WHO_FORKS_THE_WORKERS = textwrap.dedent(
    """
    import os, sys, threading
    from pytest_metricgate import parallel

    import _thread

    running, done = threading.Event(), threading.Event()

    def wait():
        running.set()
        done.wait()

    assert parallel.worker_count(parallel.FORKSERVER_FROM) > 1, "this test needs a machine where the pool is used"
    tasks = parallel.FORKSERVER_FROM
    if sys.argv[1] == "thread":
        threading.Thread(target=wait, daemon=True).start()
    elif sys.argv[1] == "_thread":  # as execnet starts xdist's threads, unseen by threading
        _thread.start_new_thread(wait, ())
    elif sys.argv[1] == "reused":  # the forkserver an earlier, larger pool started
        _thread.start_new_thread(wait, ())
        running.wait()  # the thread runs before that pool looks for threads
        parallel.starmap(os.getpid, [()] * parallel.FORKSERVER_FROM)
        tasks = parallel.PARALLEL_FROM
    else:
        running.set()
    running.wait()
    ran = []  # meanwhile runs here, while the workers work
    parents, _ = parallel.starmap(os.getppid, [()] * tasks, meanwhile=lambda: ran.append(os.getpid()))
    assert ran == [os.getpid()], ran
    if set(parents) == {os.getppid()}:
        print("in this process")
    else:
        print(parallel.start_method(), "here" if set(parents) == {os.getpid()} else "elsewhere")
    """
)


@pytest.mark.parametrize(
    ("threads", "expected"),
    [
        ("none", "fork here"),
        ("thread", "forkserver elsewhere"),
        ("_thread", "forkserver elsewhere"),
        ("reused", "forkserver elsewhere"),
    ],
)
def test_workers_fork_from_this_process_only_while_it_has_one_thread(threads, expected):
    # fork() beside another thread can leave a lock held forever in the child: then the workers
    # are forked by a forkserver, a fresh interpreter, and so are not this process's children.
    completed = subprocess.run(
        [sys.executable, "-c", WHO_FORKS_THE_WORKERS, threads], capture_output=True, text=True, check=False
    )
    if "needs a machine where the pool is used" in completed.stderr:
        pytest.skip("a single core, or not Linux: the gate works in one process here")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == expected
