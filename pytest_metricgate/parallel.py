"""Sharing per-metric work among processes, where that is safe and pays.

A few hundred metrics mean a few hundred charts and level-shift searches,
each independent of the others. On Linux, worker processes share them; on
other systems, or for a handful of metrics, the work runs in this process.
The results are the same either way.

How the workers start matters. ``fork()`` copies only the calling thread, so
with other threads alive (the xdist controller runs execnet's) a lock one of
them holds would stay locked forever in the child. A process with one thread
forks its workers (the cheapest start: they inherit every import). A process
that will have threads starts a *forkserver* in advance, while it still does
other work (``prepare``): a fresh interpreter, started with fork+exec, which
imports the drawing code once and forks the workers from its single thread.
Without that preparation, a process with threads works alone.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Result = TypeVar("Result")

PARALLEL_FROM = 16  # fewer tasks than this finish before a pool has started
MAX_WORKERS = 4
# What the forkserver imports before it forks any worker, so that no worker pays for it.
PRELOAD = ("pytest_metricgate.charts", "pytest_metricgate.session")


def prepare() -> bool:
    """Start the forkserver in the background, for a process that will have threads when it needs
    workers; return whether it runs (Linux only). Call it before threads exist, or at any time:
    the server is a fresh interpreter either way."""
    if sys.platform != "linux":
        return False
    import multiprocessing
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    # Returns once the server is spawned; it imports PRELOAD on its own core while this process
    # carries on, and the first pool's workers wait for it then.
    forkserver.ensure_running()
    return True


def worker_count(tasks: int, *, forkserver: bool = False) -> int:
    """How many processes to use for ``tasks`` independent tasks (1: none besides this one).

    ``forkserver``: ``prepare()`` started one, so workers may be had with threads alive.
    """
    if tasks < PARALLEL_FROM or sys.platform != "linux":
        return 1
    if threading.active_count() > 1 and not forkserver:
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
    forkserver: bool = False,
) -> tuple[list[Result], Any]:
    """``[function(*job) for job in jobs]``, in order, shared among ``workers`` processes.

    ``first``, an extra ``(function, arguments)``, starts before the jobs (the
    largest task, so it runs beside the others) and its result is returned
    second. ``forkserver`` as for ``worker_count``.
    """
    count = worker_count(len(jobs), forkserver=forkserver) if workers is None else workers
    if count <= 1:
        extra = first[0](*first[1]) if first is not None else None
        return [function(*job) for job in jobs], extra
    import multiprocessing

    with multiprocessing.get_context(start_method()).Pool(processes=count) as pool:
        pending = pool.apply_async(first[0], first[1]) if first is not None else None
        results = pool.starmap(function, jobs, chunksize=max(1, len(jobs) // (count * 4)))
        return results, (pending.get() if pending is not None else None)
