"""The command line beside the plugin: ``python -m pytest_metricgate history copy SRC DST``.

``history copy`` moves a history between any two stores (JSONL, CSV, MLflow),
keeping each run's label, timestamp, commit, extra fields and ``n``. A run that
the destination already holds (the same description and values) is not copied
again, so running the command twice copies nothing the second time.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import stores
from .config import HISTORY_SUFFIXES, MLFLOW_PREFIX, HistorySpec, MlflowSettings, mask_uri
from .errors import MetricGateError
from .stores.files import jsonl_line
from .values import Run, describe

# Reading "everything" from a store: far more runs than any history holds.
_ALL = 10**9


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_metricgate")
    commands = parser.add_subparsers(dest="command", required=True)
    history = commands.add_parser("history", help="work with a history store").add_subparsers(
        dest="action", required=True
    )
    copy = history.add_parser("copy", help="copy every run of SRC that DST does not hold yet into DST")
    copy.add_argument("src", metavar="SRC", help="a .jsonl or .csv file, or mlflow:EXPERIMENT")
    copy.add_argument("dst", metavar="DST", help="a .jsonl or .csv file, or mlflow:EXPERIMENT")
    copy.add_argument(
        "--tracking-uri",
        default=None,
        help="the MLflow tracking server (default: the MLFLOW_TRACKING_URI environment variable)",
    )
    copy.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per MLflow store call")
    args = parser.parse_args(list(argv))
    try:
        source = _spec(args.src, "SRC", args.tracking_uri, args.timeout)
        target = _spec(args.dst, "DST", args.tracking_uri, args.timeout)
        copied, present = copy_history(source, target)
    except MetricGateError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 4
    print(
        f"history copy: {copied} run{'' if copied == 1 else 's'} copied from {source.shown} to "
        f"{target.shown} ({present} already there)"
    )
    return 0


def copy_history(source: HistorySpec, target: HistorySpec) -> tuple[int, int]:
    """Copy the runs of ``source`` that ``target`` lacks, oldest first; returns (copied, already there)."""
    tail = stores.open_store(source).read(limit=_ALL, gated=frozenset())
    if not tail.exists:
        raise MetricGateError(f"{source.shown}: history not found")
    destination = stores.open_store(target)
    if not destination.writable:
        raise MetricGateError(f"{target.shown}: cannot be written to")
    held = {_fingerprint(run) for run in destination.read(limit=_ALL, gated=frozenset()).runs}
    order: list[str] = []
    for run in tail.runs:
        order.extend(name for name in run.metrics if name not in order)
    copied = present = 0
    for run in tail.runs:
        if _fingerprint(run) in held:
            present += 1
            continue
        destination.append(run, stores.Recording(column_order=tuple(order)))
        held.add(_fingerprint(run))
        copied += 1
    return copied, present


def _fingerprint(run: Run) -> str:
    """Two runs are the same run when their stored descriptions and values are the same."""
    return jsonl_line(run)


def _spec(raw: str, role: str, tracking_uri: str | None, timeout: float) -> HistorySpec:
    if raw.startswith(MLFLOW_PREFIX):
        experiment = raw[len(MLFLOW_PREFIX) :].strip()
        uri = (tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "")).strip()
        if not experiment:
            raise MetricGateError(f"history copy: {role} must name an experiment after {MLFLOW_PREFIX!r}")
        if not uri:
            raise MetricGateError(
                f"history copy: {raw} needs a tracking server: set the MLFLOW_TRACKING_URI environment variable"
                " or pass --tracking-uri"
            )
        if not uri.startswith(("http://", "https://")):
            raise MetricGateError(
                f"history copy: the tracking URI must be an http:// or https:// URL of an MLflow tracking "
                f"server, got {describe(mask_uri(uri))}"
            )
        import importlib.util

        if importlib.util.find_spec("mlflow") is None:
            raise MetricGateError(
                f"history copy: {raw} needs the MLflow client: pip install 'pytest-metricgate[mlflow]'"
            )
        settings = MlflowSettings(tracking_uri=uri, shown_uri=mask_uri(uri), timeout=timeout)
        return HistorySpec(
            kind="mlflow", shown=f"{raw} at {settings.shown_uri}", experiment=experiment, server=settings
        )
    path = Path(raw)
    if path.suffix.lower() not in HISTORY_SUFFIXES:
        raise MetricGateError(
            f'history copy: {role} must name a .jsonl or .csv file or {MLFLOW_PREFIX}EXPERIMENT, got "{raw}"'
        )
    return HistorySpec(kind=path.suffix.lower()[1:], shown=raw, path=path)
