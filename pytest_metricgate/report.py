"""Verdicts -> what people read: terminal lines, summary.json, and the report directory.

The builders are pure (data in, strings and dicts out). ``write_report_dir``
is the one place that writes files: each atomically, and it cleans only files
a previous run listed in its manifest, never following a symlink.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .gate import FAIL, PASS, UNGATED, WARN, GateResult, Verdict, format_value

MANIFEST = ".metricgate-manifest.json"
_RESERVED_STEMS = frozenset({"overview", "index", "summary"})
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)
_VERDICT_ORDER = {FAIL: 0, WARN: 1, PASS: 2, UNGATED: 3}
_VERDICT_MARKUP = {FAIL: {"red": True, "bold": True}, WARN: {"yellow": True, "bold": True}, PASS: {"green": True}}


@dataclass(frozen=True)
class Series:
    """One metric's points as its chart shows them, oldest first; ``None`` where a run lacks it.

    The last point is this run's value when ``has_current``.
    """

    name: str
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    breaches: tuple[bool, ...]
    has_current: bool
    label_name: str | None = None


@dataclass(frozen=True)
class TerminalLine:
    text: str
    markup: Mapping[str, bool]


def ordered(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Failures first, then warnings, passes and ungated metrics; config order within each."""
    return sorted(verdicts, key=lambda v: _VERDICT_ORDER[v.verdict])


def terminal_lines(
    result: GateResult,
    *,
    details: Sequence[str] = (),
    quiet: bool = False,
) -> list[TerminalLine]:
    """The ``metric gate`` section: an aligned table, failures first, notes, and the headline last.

    ``quiet`` (``-q``) keeps only failing rows and the headline.
    """
    rows = ordered(result.verdicts)
    if quiet:
        rows = [v for v in rows if v.verdict == FAIL]
    header = ("metric", "current", "baseline", "limit", "verdict", "reason")
    cells = [
        (
            v.name,
            format_value(v.value),
            format_value(v.baseline),
            v.limits or "-",
            v.verdict.upper() if v.verdict in (FAIL, WARN) else v.verdict,
            "; ".join(v.reasons),
        )
        for v in rows
    ]
    lines: list[TerminalLine] = []
    if cells:
        widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header) - 1)]

        def render(row: Sequence[str]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]

        lines.append(TerminalLine(render(header).rstrip(), {"bold": True}))
        for verdict, row in zip(rows, cells):
            lines.append(TerminalLine(render(row).rstrip(), _VERDICT_MARKUP.get(verdict.verdict, {})))
    if not quiet:
        lines.extend(TerminalLine(note, {}) for note in (*result.notes, *details))
    headline_markup = {"red": True, "bold": True} if not result.passed else {"green": True, "bold": True}
    lines.append(TerminalLine(result.headline(), headline_markup))
    return lines


def summary_json(result: GateResult, charts: Mapping[str, str], extra: Mapping[str, object] | None = None) -> dict:
    """The ``summary.json`` document: status, and each metric with its numbers, reasons and chart file."""
    metrics = []
    for v in result.verdicts:
        metrics.append(
            {
                "name": v.name,
                "value": _json_number(v.value),
                "n": v.n,
                "baseline": _json_number(v.baseline),
                "baseline_method": v.baseline_text,
                "limits": v.limits,
                "verdict": v.verdict,
                "severity": v.severity,
                "reasons": list(v.reasons),
                "source": v.source,
                "chart": charts.get(v.name),
            }
        )
    document: dict = {"status": result.status, "headline": result.headline(), "notes": list(result.notes)}
    if extra:
        document.update(extra)
    document["metrics"] = metrics
    return document


def _json_number(value: float | None) -> float | str | None:
    # JSON has no NaN or infinity; write them as strings so the file stays strict JSON.
    if value is None or value == value and value not in (float("inf"), float("-inf")):
        return value
    return str(value)


def chart_file_names(names: Sequence[str], extension: str) -> dict[str, str]:
    """A safe, distinct file name in the report directory for each metric's chart.

    Metric names are user data: path separators, dots at the start, markup and
    device names are cleaned away, and two names that clean to the same file
    get numbered suffixes, so no chart overwrites another or lands outside.
    """
    taken: set[str] = {f"{stem}.{extension}" for stem in _RESERVED_STEMS}
    files: dict[str, str] = {}
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:100] or "metric"
        if stem.lower() in _RESERVED_STEMS or stem.lower().split(".")[0] in _WINDOWS_DEVICES:
            stem = f"metric_{stem}"
        candidate, counter = f"{stem}.{extension}", 2
        while candidate.lower() in {t.lower() for t in taken}:
            candidate, counter = f"{stem}-{counter}.{extension}", counter + 1
        taken.add(candidate)
        files[name] = candidate
    return files


def write_report_dir(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) into ``directory`` and remove what an earlier run wrote and this one does not.

    Only names listed in the previous manifest are ever removed, and only when
    they are regular files (a symlink is removed as a link, never followed).
    """
    directory.mkdir(parents=True, exist_ok=True)
    previous = _read_manifest(directory)
    for name in sorted(previous - set(files)):
        path = directory / name
        with contextlib.suppress(OSError):
            if path.is_symlink() or path.is_file():
                path.unlink()
    for name, data in files.items():
        _write_atomically(directory / name, data)
    manifest = json.dumps({"files": sorted(files)}, indent=1).encode()
    _write_atomically(directory / MANIFEST, manifest)


def _read_manifest(directory: Path) -> set[str]:
    try:
        listed = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if not isinstance(listed, list):
        return set()
    # A manifest is only trusted for plain names inside the directory.
    return {
        name
        for name in listed
        if isinstance(name, str) and name and "/" not in name and "\\" not in name and name not in (".", "..")
    }


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temp, 0o644)
        # os.replace swaps a symlink at ``path`` for the file; it never writes through it.
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
