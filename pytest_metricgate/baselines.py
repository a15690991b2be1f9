"""Which earlier runs each metric is judged against: pure functions over the runs a store gave back.

* **Time order**: when every run read carries a timestamp, runs are ordered by it
  (a union-merged JSONL file holds one branch's appends after the other's).
* **Baseline branch**: with ``baseline-branch``, only that branch's runs form
  baselines, windows, sigma and level shifts; runs without a branch (histories
  from before branches were recorded) count as its runs.
* **Marks** (a run's ``marks`` field, see ``acceptance``): the newest run marked
  ``accepted`` for a metric restarts that metric's baseline (it and later runs
  only); runs marked ``patience`` never enter a baseline or sigma window, but
  still count towards the patience streak they belong to.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from .acceptance import ACCEPTED_MARK, PATIENCE_MARK, parse_marks
from .config import MetricRule
from .gate import MetricHistory, Settings, history_breaches
from .values import Measurement, Run

# The fields of a run (``Run.extra``) this module reads; every store keeps them.
BRANCH_FIELD, MARKS_FIELD = "branch", "marks"


@dataclass(frozen=True)
class Scope:
    """The runs this session judges against, oldest first, and what was left out to get them."""

    runs: tuple[Run, ...]
    branch: str | None  # the baseline branch; None: every run counts
    other_branches: int = 0  # runs of other branches, left out
    unbranched: int = 0  # runs without a branch, counted as the baseline branch's

    def notes(self) -> list[str]:
        if self.branch is None:
            return []
        notes = [
            f'baseline branch: "{self.branch}": only its runs form baselines'
            + (
                f" ({_plural(self.other_branches, 'run')} of other branches left out)"
                if self.other_branches
                else ""
            )
        ]
        if self.unbranched:
            notes.append(
                f"baseline branch: {_plural(self.unbranched, 'run')} without a branch (recorded before branches were) "
                f'counted as "{self.branch}" runs'
            )
        return notes


def scope(runs: Sequence[Run], branch: str | None) -> Scope:
    """``runs`` in time order, keeping only ``branch``'s (and unbranched) ones when ``branch`` is set."""
    ordered = in_time_order(runs)
    if branch is None:
        return Scope(tuple(ordered), None)
    kept, others, unbranched = [], 0, 0
    for run in ordered:
        own = branch_of(run)
        if own is None:
            unbranched += 1
            kept.append(run)
        elif own == branch:
            kept.append(run)
        else:
            others += 1
    return Scope(tuple(kept), branch, others, unbranched)


def branch_of(run: Run) -> str | None:
    raw = run.extra.get(BRANCH_FIELD, "").strip()
    return raw or None


def timestamp_of(run: Run) -> _dt.datetime | None:
    """The run's timestamp as an aware datetime (naive ones are taken as UTC); ``None`` if it has none."""
    if not run.timestamp:
        return None
    text = run.timestamp.strip()
    if text.endswith(("Z", "z")):  # Python 3.10 reads no "Z"
        text = text[:-1] + "+00:00"
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_dt.timezone.utc)


def in_time_order(runs: Sequence[Run]) -> list[Run]:
    """Ordered by timestamp when every run has one (stable for equal ones); else as stored."""
    stamps = [timestamp_of(run) for run in runs]
    if not runs or any(stamp is None for stamp in stamps):
        return list(runs)
    order = sorted(range(len(runs)), key=lambda index: stamps[index])  # type: ignore[arg-type, return-value]
    return [runs[index] for index in order]


def oldest_read_are_older(runs: Sequence[Run], used: int, slack: int) -> bool:
    """Whether the ``slack`` runs stored first among ``runs`` (a history's tail, as stored) are all
    older than the newest ``used`` runs by time, so nothing stored before them can be newer.

    False when there are too few runs to tell; True when the runs carry no timestamps (then
    the stored order is the order).
    """
    stamps = [timestamp_of(run) for run in runs]
    if any(stamp is None for stamp in stamps):
        return True
    if len(runs) < used + slack:
        return False
    cutoff = sorted(stamps)[-used]  # type: ignore[type-var]
    return all(stamp < cutoff for stamp in stamps[:slack])  # type: ignore[operator]


def marks_of(run: Run) -> dict[str, str]:
    return parse_marks(run.extra.get(MARKS_FIELD))


def restart_index(runs: Sequence[Run], name: str) -> int | None:
    """The place of the newest run marked ``accepted`` for ``name``, where its baseline starts again."""
    for index in range(len(runs) - 1, -1, -1):
        if MARKS_FIELD in runs[index].extra and marks_of(runs[index]).get(name) == ACCEPTED_MARK:
            return index
    return None


def metric_history(runs: Sequence[Run], name: str) -> MetricHistory:
    """The values ``name`` is judged against (from its newest acceptance on, patience-held runs left
    out), and how many patience-held runs directly precede this one."""
    restart = restart_index(runs, name)
    start = 0 if restart is None else restart
    values: list[Measurement] = []
    held, streak_open = 0, True
    for run in reversed(runs[start:]):
        measurement = run.metrics.get(name)
        if measurement is None:
            continue
        if MARKS_FIELD in run.extra and marks_of(run).get(name) == PATIENCE_MARK:
            if streak_open:
                held += 1
            continue
        streak_open = False
        values.append(measurement)
    values.reverse()
    return MetricHistory(tuple(values), held=held, restarted_at=restart)


def usable_runs(runs: Sequence[Run], name: str) -> tuple[int, bool]:
    """How many runs give ``name`` a baseline value, and whether its baseline restarts among them."""
    history = metric_history(runs, name)
    return len(history.values), history.restarted_at is not None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclass(frozen=True)
class Need:
    """How much of a history a session must read: enough runs of the baseline branch for the charts
    and the window, each metric's window not emptied by patience-held runs (unless an acceptance
    restarts it sooner), and, for timestamped runs, far enough that no newer run hides further up."""

    branch: str | None
    runs: int
    per_metric: tuple[tuple[str, int], ...] = ()

    def met_by(self, stored: Sequence[Run], *, time_ordered: bool = False) -> bool:
        """Whether ``stored`` (a history's newest runs, as stored) is enough.

        ``time_ordered``: the store itself returned the newest runs by time (a tracking
        server ordering by start time), so no older-looking block can hide a newer run.
        """
        if not time_ordered and not oldest_read_are_older(stored, self.runs, self.runs):
            return False
        runs = scope(stored, self.branch).runs
        if len(runs) < self.runs:
            return False
        for name, wanted in self.per_metric:
            restart = restart_index(runs, name)
            since = runs[restart or 0 :]
            if restart is None and sum(1 for run in since if _mark(run, name) != PATIENCE_MARK) < wanted:
                return False
        return True


def _mark(run: Run, name: str) -> str | None:
    return marks_of(run).get(name) if MARKS_FIELD in run.extra else None


def metric_marks(runs: Sequence[Run], name: str) -> list[str | None]:
    """Each run's mark for ``name`` (``None`` for none), for the charts."""
    return [_mark(run, name) for run in runs]


def breach_flags(
    rule: MetricRule, values: Sequence[Measurement | None], marks: Sequence[str | None], settings: Settings
) -> list[bool]:
    """For each history value, whether it breached, judged as the gate judged it then: against the
    runs since the acceptance before it, without patience-held runs (which are breaches)."""
    cuts = sorted({0, len(values), *(i for i, mark in enumerate(marks) if mark == ACCEPTED_MARK)})
    flags: list[bool] = []
    for start, end in itertools.pairwise(cuts):
        # Each acceptance starts a segment: its runs are judged only against the runs since it.
        segment = [None if marks[i] == PATIENCE_MARK else values[i] for i in range(start, end)]
        found = history_breaches(rule, segment, settings)
        flags += [marks[i] == PATIENCE_MARK or found[i - start] for i in range(start, end)]
    return flags
