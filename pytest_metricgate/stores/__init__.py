"""The history stores behind one small interface: read the newest runs; append one run.

The session and the judging code talk to a ``HistoryStore`` and never learn
which kind it is. ``open_store`` picks the class from the configured history's
kind (a name -> a class, imported on first use, so a file history never imports
what a server store needs). One module per kind of store:

* ``files``: JSONL, CSV and inline arrays in ``[tool.metricgate]``;
* ``mlflow``: the runs of one experiment on an MLflow tracking server.

A ``Run`` carries, beside its metrics and label/run/timestamp/commit, a mapping
of extra descriptive fields (``Run.extra``, string to string). Every store keeps
them generically and gives them back on reading: JSONL as top-level keys of the
line, CSV as columns. Features that mark runs add a field there instead of a
new code path per store.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..config import HistorySpec
    from ..runinfo import RunInfo
    from ..values import Run


@dataclass(frozen=True)
class HistoryTail:
    """The newest runs of a history, oldest first, and what reading them found."""

    runs: tuple[Run, ...]
    shown: str
    exists: bool = True
    older_runs_left_out: bool = False
    label_name: str | None = None
    warnings: tuple[str, ...] = ()
    # The store chose the newest runs by time itself (a server's ordering), not by where they are
    # stored: reading further back cannot find a newer run, so a tail of the needed size is enough.
    time_ordered: bool = False


@dataclass(frozen=True)
class Recording:
    """What the gate knows about a run it records, beyond the run itself.

    File stores use only ``column_order`` (the configured metrics first when a
    CSV header is made or grows); a store that can keep more (tags, artifacts)
    takes the rest.
    """

    column_order: tuple[str, ...] = ()
    info: RunInfo | None = None
    verdict: str | None = None
    report_dir: Path | None = None
    # This session's values came from this MLflow run: mark it recorded instead of adding a run.
    current_run: str | None = None


class HistoryStore(Protocol):
    """One history: where it lives (``shown``, as messages name it), how to read it and append to it."""

    @property
    def shown(self) -> str: ...

    @property
    def writable(self) -> bool:
        """False for a history that can only be read (an inline table)."""
        ...

    def read(self, *, limit: int, gated: frozenset[str]) -> HistoryTail:
        """The newest ``limit`` runs, oldest first; a missing history is an empty one (a first run).

        ``gated`` names the metrics whose values must be numbers. Raises
        ``HistoryError`` with a message ready to print.
        """
        ...

    def append(self, run: Run, recording: Recording | None = None) -> None:
        """Keep ``run`` as the newest run, all or nothing; raises ``HistoryError`` when it cannot."""
        ...


# The configured history's kind -> (module in this package, class). Modules are imported on first use.
_KINDS: dict[str, tuple[str, str]] = {
    "jsonl": ("files", "JsonlStore"),
    "csv": ("files", "CsvStore"),
    "inline": ("files", "InlineStore"),
    "mlflow": ("mlflow", "MlflowStore"),
}


def open_store(spec: HistorySpec) -> HistoryStore:
    """The store for the history ``spec`` names."""
    module_name, class_name = _KINDS[spec.kind]
    module = importlib.import_module(f"{__name__}.{module_name}")
    store: HistoryStore = getattr(module, class_name)(spec)
    return store


def read(spec: HistorySpec, *, limit: int, gated: frozenset[str]) -> HistoryTail:
    """The newest ``limit`` runs of the history ``spec`` names (see ``HistoryStore.read``)."""
    return open_store(spec).read(limit=limit, gated=gated)


def append(spec: HistorySpec, run: Run, *, column_order: Sequence[str] = ()) -> None:
    """Append ``run`` to the history ``spec`` names (see ``HistoryStore.append``)."""
    open_store(spec).append(run, Recording(column_order=tuple(column_order)))


__all__ = ["HistoryStore", "HistoryTail", "Recording", "append", "open_store", "read"]
