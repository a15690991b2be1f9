"""What a metric value is, and how one is read from JSON.

A value is a number, optionally with ``n``: the size of the set it was measured
on. In JSON (the ``current`` file and JSONL history) it is written either as a
bare number or as ``{"value": 0.91, "n": 2000}``.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ValuesFileError


@dataclass(frozen=True)
class Measurement:
    """One value of one metric, with the evaluation set's size when known."""

    value: float
    n: int | None = None

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)


@dataclass(frozen=True)
class Run:
    """One history run: its metrics and what describes it.

    ``label`` is what the chart's x axis shows for the run: the CSV's first
    descriptive column, or the JSONL ``run``, else its ``timestamp``, else its
    ``commit``; ``None`` when the run has none of them.

    ``extra`` holds further descriptive fields by name (a branch, a mark), which
    every store keeps and reads back without knowing what they mean.
    """

    metrics: Mapping[str, Measurement]
    label: str | None = None
    run: str | None = None
    timestamp: str | None = None
    commit: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def is_number(raw: object) -> bool:
    """True for ints and floats (numpy's included), never for bools."""
    return isinstance(raw, numbers.Real) and not isinstance(raw, bool)


def describe(raw: object) -> str:
    """A short rendering of a found value for error messages, spelled as JSON and TOML spell it."""
    text = json.dumps(raw) if isinstance(raw, (dict, list, str, bool)) or raw is None else repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def measurement_from_json(raw: object) -> Measurement:
    """Read a number or ``{"value": number, "n": integer}``.

    Raises ``ValueError`` whose message says what was found, for the caller to
    put in context (file, line, key).
    """
    if is_number(raw):
        return Measurement(float(raw))  # type: ignore[arg-type]
    if is_measurement_object(raw):
        assert isinstance(raw, Mapping)
        value, n = raw["value"], raw.get("n")
        if not is_number(value):
            raise ValueError(f'"value" must be a number, got {describe(value)}')
        if n is not None and not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
            raise ValueError(f'"n" must be an integer >= 1, got {describe(n)}')
        return Measurement(float(value), n)
    raise ValueError(f'must be a number or {{"value": number, "n": integer}}, got {describe(raw)}')


def is_measurement_object(raw: object) -> bool:
    """An object whose keys are only ``value`` and ``n`` is one value, not a namespace."""
    return isinstance(raw, Mapping) and "value" in raw and set(raw) <= {"value", "n"}


def read_current_file(path: Path, shown: str, gated: frozenset[str]) -> dict[str, Measurement]:
    """Read this run's metrics from a JSON object, flattening nested objects.

    ``{"eval": {"accuracy": 0.91}}`` gives ``eval.accuracy``. A leaf that is not
    a number is ignored (pipelines write strings and lists beside their
    metrics) unless it is a gated metric, where it is an error. ``shown`` is
    the path as messages name it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValuesFileError(f"{shown}: current metrics file not found") from None
    except IsADirectoryError:
        raise ValuesFileError(f"{shown}: current must be a JSON file, found a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValuesFileError(f"{shown}: cannot read current metrics file: {_reason(exc)}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValuesFileError(
            f"{shown}: line {exc.lineno}: current metrics file is not valid JSON: {exc.msg}"
        ) from None
    except RecursionError:
        raise ValuesFileError(f"{shown}: current metrics file is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValuesFileError(
            f"{shown}: current metrics file must hold a JSON object of metrics, "
            f"found {type(data).__name__} {describe(data)}"
        )
    found: dict[str, Measurement] = {}
    try:
        _flatten(data, "", found, shown, gated)
    except RecursionError:
        raise ValuesFileError(f"{shown}: current metrics file is nested too deeply") from None
    return found


def _flatten(
    data: Mapping[str, object],
    prefix: str,
    found: dict[str, Measurement],
    shown: str,
    gated: frozenset[str],
) -> None:
    for key, raw in data.items():
        name = f"{prefix}{key}"
        if isinstance(raw, Mapping) and not is_measurement_object(raw):
            _flatten(raw, f"{name}.", found, shown, gated)
            continue
        try:
            found[name] = measurement_from_json(raw)
        except ValueError as exc:
            if name in gated:
                raise ValuesFileError(f'{shown}: metric "{name}" {exc}') from None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
