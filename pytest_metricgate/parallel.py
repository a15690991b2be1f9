"""Sharing per-metric work among processes, where that is safe and pays.

A few hundred metrics mean a few hundred charts and level-shift searches,
each independent of the others. On Linux, worker processes share them; on
other systems, or for a handful of metrics, the work runs in this process.
The results are the same either way.

How the workers start matters. ``fork()`` copies only the calling thread, so
with other threads running Python code a lock one of them holds (the import
lock, a stream's) would stay locked forever in the child. Such threads are
counted by their Python frames (``sys._current_frames``): ``threading`` does
not see threads started with ``_thread``, as execnet starts xdist's, and native
threads that run no Python (a BLAS library's) hold none of those locks. A
process with one such thread forks its workers (the cheapest start: they
inherit every import). A process with more uses a *forkserver*: a fresh
interpreter (fork+exec is safe beside threads) that imports the drawing code
and forks the workers from its single thread. It is started when a pool first
needs it, and then only for work that pays for its start, about a second.
xdist's controller needs none: the plugin shuts xdist's workers down, and
their execnet threads with them, before the gate judges.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Result = TypeVar("Result")

PARALLEL_FROM = 16  # fewer tasks than this finish before a pool has started
# Without a running forkserver, threads alive mean starting one (a fresh interpreter and its
# imports), which costs about as much as drawing thirty charts: fewer tasks than this run here.
FORKSERVER_FROM = 64
MAX_WORKERS = 4
# What the forkserver imports before it forks any worker, so that no worker pays for it.
PRELOAD = ("pytest_metricgate.charts", "pytest_metricgate.session")
_server_started = False  # this process started the forkserver; later pools reuse it


def python_threads() -> int:
    """How many threads of this process run Python code (see the module's note)."""
    return len(sys._current_frames())


def _start_forkserver() -> None:
    """Start the forkserver with ``PRELOAD``; being a fresh interpreter, it is safe beside threads."""
    global _server_started
    import multiprocessing
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    # Returns once the server is spawned; the pool's workers wait for its imports.
    forkserver.ensure_running()
    _server_started = True


def worker_count(tasks: int) -> int:
    """How many processes to use for ``tasks`` independent tasks (1: none besides this one)."""
    if tasks < PARALLEL_FROM or sys.platform != "linux":
        return 1
    if python_threads() > 1 and not _server_started and tasks < FORKSERVER_FROM:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS, tasks // 4))


def start_method() -> str:
    """``fork`` while one thread of this process runs Python, else the forkserver (see the module's note)."""
    return "fork" if python_threads() == 1 else "forkserver"


def starmap(
    function: Callable[..., Result],
    jobs: Sequence[tuple[Any, ...]],
    *,
    workers: int | None = None,
    first: tuple[Callable[..., Any], tuple[Any, ...]] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> tuple[list[Result], Any]:
    """``[function(*job) for job in jobs]``, in order, shared among ``workers`` processes.

    ``first``, an extra ``(function, arguments)``, starts before the jobs (the
    largest task, so it runs beside the others) and its result is returned
    second. ``meanwhile`` is work for this process while the workers work
    (without workers, it runs after the jobs).
    """
    count = worker_count(len(jobs)) if workers is None else workers
    if count <= 1:
        extra = first[0](*first[1]) if first is not None else None
        results = [function(*job) for job in jobs]
        if meanwhile is not None:
            meanwhile()
        return results, extra
    import multiprocessing

    method = start_method()
    if method == "forkserver" and not _server_started:
        _start_forkserver()
    with multiprocessing.get_context(method).Pool(processes=count) as pool:
        pending = pool.apply_async(first[0], first[1]) if first is not None else None
        mapped = pool.starmap_async(function, jobs, chunksize=max(1, len(jobs) // (count * 4)))
        if meanwhile is not None:
            meanwhile()
        return mapped.get(), (pending.get() if pending is not None else None)
