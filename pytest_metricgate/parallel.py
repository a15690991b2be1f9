"""Sharing per-metric work among processes, where that is safe and pays.

A few hundred metrics mean a few hundred charts and level-shift searches,
each independent of the others. On Linux, forked workers share them; anywhere
else, or with other threads alive (fork() copies only the calling thread, so
a lock held by another thread would stay locked forever), or for a handful of
metrics, the work runs in this process. The results are the same either way.
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


def worker_count(tasks: int) -> int:
    """How many processes to use for ``tasks`` independent tasks (1: none besides this one)."""
    if tasks < PARALLEL_FROM or sys.platform != "linux" or threading.active_count() > 1:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS, tasks // 4))


def starmap(
    function: Callable[..., Result],
    jobs: Sequence[tuple[Any, ...]],
    *,
    workers: int | None = None,
    first: tuple[Callable[..., Any], tuple[Any, ...]] | None = None,
) -> tuple[list[Result], Any]:
    """``[function(*job) for job in jobs]``, in order, shared among ``workers`` forked processes.

    ``first``, an extra ``(function, arguments)``, starts before the jobs (the
    largest task, so it runs beside the others) and its result is returned
    second.
    """
    count = worker_count(len(jobs)) if workers is None else workers
    if count <= 1:
        extra = first[0](*first[1]) if first is not None else None
        return [function(*job) for job in jobs], extra
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(processes=count) as pool:
        pending = pool.apply_async(first[0], first[1]) if first is not None else None
        results = pool.starmap(function, jobs, chunksize=max(1, len(jobs) // (count * 4)))
        return results, (pending.get() if pending is not None else None)
