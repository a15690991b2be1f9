"""What a metric value is, and how one is read from JSON.

A value is a number, optionally with ``n`` (the size of the set it was measured
on), ``stderr`` (its standard error) or ``samples`` (the per-example values it is
the mean of). In JSON (the ``current`` file and JSONL history) it is written either
as a bare number or as an object such as ``{"value": 0.91, "n": 2000}`` or
``{"value": 0.35, "stderr": 0.01}``.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ValuesFileError

_VALUE_KEYS = frozenset({"value", "n", "stderr", "samples"})


@dataclass(frozen=True)
class Measurement:
    """One value of one metric, with what is known of its sampling error.

    ``n`` is the evaluation set's size; ``stderr`` a standard error the user
    computed; ``samples`` the per-example values (at least two) whose mean the
    value estimates, from which the gate bootstraps an interval.
    """

    value: float
    n: int | None = None
    stderr: float | None = None
    samples: tuple[float, ...] | None = None

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)

    @property
    def standard_error(self) -> float | None:
        """``stderr``, else the standard error of the mean of ``samples``, else ``None``."""
        if self.stderr is not None:
            return self.stderr
        if self.samples is not None and len(self.samples) >= 2:
            count = len(self.samples)
            mean = math.fsum(self.samples) / count
            variance = math.fsum((x - mean) ** 2 for x in self.samples) / (count - 1)
            return math.sqrt(variance / count)
        return None

    def to_json(self) -> float | dict[str, float | int]:
        """How history stores the value: per-example samples are kept as their standard error only."""
        stored: dict[str, float | int] = {"value": self.value}
        if self.n is not None:
            stored["n"] = self.n
        elif self.samples is not None:
            stored["n"] = len(self.samples)
        standard_error = self.standard_error
        if standard_error is not None:
            stored["stderr"] = standard_error
        return self.value if len(stored) == 1 else stored


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
    """Read a number or ``{"value": number, "n": integer, "stderr": number, "samples": [numbers]}``.

    Only ``value`` is required in the object. Raises ``ValueError`` whose message
    says what was found, for the caller to put in context (file, line, key).
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
        return Measurement(
            float(value), n, check_stderr(raw.get("stderr")), check_samples(raw.get("samples"))
        )
    raise ValueError(f'must be a number or {{"value": number, "n": integer}}, got {describe(raw)}')


def check_stderr(raw: object) -> float | None:
    """A standard error: ``None`` or a finite number >= 0 (ValueError naming what was found)."""
    if raw is None:
        return None
    if not is_number(raw) or not math.isfinite(raw) or raw < 0:  # type: ignore[arg-type,operator]
        raise ValueError(f'"stderr" must be a finite number >= 0, got {describe(raw)}')
    return float(raw)  # type: ignore[arg-type]


def check_samples(raw: object) -> tuple[float, ...] | None:
    """Per-example values: ``None`` or a flat sequence of at least 2 finite numbers (ValueError otherwise)."""
    if raw is None:
        return None
    tolist = getattr(raw, "tolist", None)  # a numpy array, without importing numpy here
    items = tolist() if callable(tolist) else raw
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, (list, tuple)):
        # ValueError like every other bad value: the callers put its message in context.
        raise ValueError(f'"samples" must be an array of at least 2 numbers, got {describe(raw)}')  # noqa: TRY004
    if len(items) < 2:
        raise ValueError(f'"samples" must be an array of at least 2 numbers, got {len(items)}')
    for index, item in enumerate(items):
        if not is_number(item) or not math.isfinite(item):
            raise ValueError(f'"samples"[{index}] must be a finite number, got {describe(item)}')
    return tuple(float(item) for item in items)


def is_measurement_object(raw: object) -> bool:
    """An object holding ``value`` and only the keys a value may carry is one value, not a namespace."""
    return isinstance(raw, Mapping) and "value" in raw and set(raw) <= _VALUE_KEYS


def read_current_file(path: Path, shown: str, gated: Container[str]) -> dict[str, Measurement]:
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
    gated: Container[str],
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
