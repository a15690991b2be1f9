"""Sharing per-metric work among processes, where that is safe and pays.

A few hundred metrics mean a few hundred charts and level-shift searches,
each independent of the others. On Linux, worker processes share them; on
other systems, or for a handful of metrics, the work runs in this process.
The results are the same either way.

How the workers start matters. ``fork()`` copies only the calling thread, so
with other threads alive a lock one of them holds would stay locked forever in
the child. A process with one thread forks its workers (the cheapest start:
they inherit every import). That is the usual case, xdist's controller
included: its execnet threads have ended by the time the gate judges. A
process that still has threads starts a *forkserver* instead, once: a fresh
interpreter (fork+exec is safe beside threads) that imports the drawing code
and forks the workers from its single thread. It costs about a second, so it
is started only then, and only for work that pays for it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Result = TypeVar("Result")

PARALLEL_FROM = 16  # fewer tasks than this finish before a pool has started
# With threads alive the workers come from a forkserver, whose start (a fresh interpreter and
# its imports) costs about as much as drawing thirty charts: fewer tasks than this run here.
FORKSERVER_FROM = 64
MAX_WORKERS = 4
# What the forkserver imports before it forks any worker, so that no worker pays for it.
PRELOAD = ("pytest_metricgate.charts", "pytest_metricgate.session")


def worker_count(tasks: int) -> int:
    """How many processes to use for ``tasks`` independent tasks (1: none besides this one)."""
    if tasks < PARALLEL_FROM or sys.platform != "linux":
        return 1
    if threading.active_count() > 1 and tasks < FORKSERVER_FROM:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS, tasks // 4))


def start_method() -> str:
    """``fork`` while this process has one thread, else the forkserver (see the module's note)."""
    return "fork" if threading.active_count() == 1 else "forkserver"


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
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # Read when the server starts (the first pool that needs it); later pools reuse it.
        context.set_forkserver_preload(list(PRELOAD))
    with context.Pool(processes=count) as pool:
        pending = pool.apply_async(first[0], first[1]) if first is not None else None
        mapped = pool.starmap_async(function, jobs, chunksize=max(1, len(jobs) // (count * 4)))
        if meanwhile is not None:
            meanwhile()
        return mapped.get(), (pending.get() if pending is not None else None)
