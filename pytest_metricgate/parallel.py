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
and forks the workers from its single thread. xdist's controller, whose
execnet threads run until the session ends, starts it in advance (``prepare``),
while the tests run; any other process starts it when a pool needs one, and
then only for work that pays for its start, about a second.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Result = TypeVar("Result")

PARALLEL_FROM = 16  # fewer tasks than this finish before a pool has started
# Without a prepared forkserver, threads alive mean starting one (a fresh interpreter and its
# imports), which costs about as much as drawing thirty charts: fewer tasks than this run here.
FORKSERVER_FROM = 64
MAX_WORKERS = 4
# What the forkserver imports before it forks any worker, so that no worker pays for it.
PRELOAD = ("pytest_metricgate.charts", "pytest_metricgate.session")
_prepared = False  # prepare() started the forkserver in this process


def python_threads() -> int:
    """How many threads of this process run Python code (see the module's note)."""
    return len(sys._current_frames())


def prepare() -> bool:
    """Start the forkserver in the background, for a process that will have threads when it needs
    workers; return whether it runs (Linux only). The server is a fresh interpreter, so this may
    be called at any time."""
    global _prepared
    if sys.platform != "linux":
        return False
    import multiprocessing
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    # Returns once the server is spawned; it imports PRELOAD on its own core while this process
    # carries on, and the first pool's workers wait for it then.
    forkserver.ensure_running()
    _prepared = True
    return True


def worker_count(tasks: int) -> int:
    """How many processes to use for ``tasks`` independent tasks (1: none besides this one)."""
    if tasks < PARALLEL_FROM or sys.platform != "linux":
        return 1
    if python_threads() > 1 and not _prepared and tasks < FORKSERVER_FROM:
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
    if method == "forkserver" and not _prepared:
        prepare()  # the first pool that needs the server starts it; later pools reuse it
    with multiprocessing.get_context(method).Pool(processes=count) as pool:
        pending = pool.apply_async(first[0], first[1]) if first is not None else None
        mapped = pool.starmap_async(function, jobs, chunksize=max(1, len(jobs) // (count * 4)))
        if meanwhile is not None:
            meanwhile()
        return mapped.get(), (pending.get() if pending is not None else None)
