"""``metric_gate.check_data``: one reference dataset against this run's, column by column.

Pure: column data in, a :class:`DataCheck` (plain, frozen data) out. The
figures come from :mod:`pytest_metricgate.quality`; this module decides which
columns drifted and what each metric is called.

**The drift verdict.** Each column gets one test that accounts for both
sample sizes: the two-sample Kolmogorov-Smirnov test for numeric columns
(its p-value, ``data.COL.ks_p``) and Pearson's chi-square test of homogeneity
for categorical ones (``data.COL.chi2_p``). The p-values of all the columns
of one call are adjusted together by Holm's step-down method, so that the
chance that a dataset without any drift flags *at least one* column stays at
most ``alpha`` (default 0.01), however many columns it has. A column is
"drifted" when its Holm-adjusted p-value is at most ``alpha``.

Why these tests and not a PSI threshold: a fixed PSI limit ignores sample
size (on 285 vs 284 rows of one unshifted feature PSI exceeds 0.1 in about
15% of random splits), and PSI's asymptotic chi-square null (Yurdakul 2018)
depends on the binning and the smoothing and is least accurate in the far
tail, exactly where a family-wise threshold (0.01 / 30 columns = 3e-4) puts
it. A permutation null would be exact but needs thousands of resamples per
column, far outside the time budget of a 50-column, 100,000-row check. The
KS test is distribution-free with a null that depends only on
``n m / (n + m)``, and the chi-square test is the standard one for counts.
The raw PSI is still recorded for the classic fixed thresholds.

Missing values are dropped from every distribution comparison and reported
as ``data.COL.missing`` (the share of this run's rows missing the column).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import quality
from .gate import FAIL, WARN, GateResult

__all__ = [
    "DEFAULT_ALPHA",
    "ColumnCheck",
    "DataCheck",
    "DataCheckError",
    "DistributionChart",
    "check",
    "holm_adjust",
]

#: The family-wise level of the drift verdicts of one call: with no drift at all,
#: at most this chance that any column is flagged.
DEFAULT_ALPHA = 0.01
DEFAULT_BINS = 10
#: Besides every drifted column, this many columns with the smallest p-values get a chart.
CHARTED_SMALLEST = 5
_HISTOGRAM_BINS = 30
_ECDF_POINTS = 101
_MAX_CATEGORIES_SHOWN = 12
_FUNC = "metric_gate.check_data"

NUMERIC, CATEGORICAL = "numeric", "categorical"


class DataCheckError(ValueError):
    """The data given to ``check_data`` cannot be compared; the message says which column and why."""


@dataclass(frozen=True)
class DistributionChart:
    """What a reference-vs-current chart of one column shows, small enough to travel from xdist workers.

    Numeric: shares of each sample in ``edges``' bins (the outer bins take the
    tails beyond the pooled 0.5% and 99.5% quantiles), the two ECDFs as
    quantiles at ``probabilities``, and where the KS gap is largest.
    Categorical: each sample's share of each of ``labels``.
    """

    kind: str
    reference: tuple[float, ...]
    current: tuple[float, ...]
    labels: tuple[str, ...] = ()
    edges: tuple[float, ...] = ()
    probabilities: tuple[float, ...] = ()
    reference_quantiles: tuple[float, ...] = ()
    current_quantiles: tuple[float, ...] = ()
    gap_at: float | None = None


@dataclass(frozen=True)
class ColumnCheck:
    """One column's figures and verdict. Figures that do not apply (or cannot be computed) are ``None``."""

    name: str
    kind: str
    n_reference: int  # observed (non-missing) values
    n_current: int
    missing: float  # share of this run's rows missing this column
    out_of_range: float | None = None
    infinite: int = 0  # infinite values in this run's sample
    psi: float | None = None
    js: float | None = None
    ks: float | None = None
    ks_p: float | None = None
    chi2_p: float | None = None
    p_adjusted: float | None = None
    drifted: bool = False
    note: str = ""
    chart: DistributionChart | None = None

    @property
    def p_value(self) -> float | None:
        """The drift test's own p-value: KS for numbers, chi-square for categories."""
        return self.ks_p if self.kind == NUMERIC else self.chi2_p

    @property
    def test_name(self) -> str:
        return "KS" if self.kind == NUMERIC else "chi-square"


@dataclass(frozen=True)
class DataCheck:
    """Everything one ``check_data`` call found, as plain data."""

    prefix: str
    alpha: float
    rows_reference: int
    rows_current: int
    columns: tuple[ColumnCheck, ...]
    missing: float
    duplicates: float
    duplicates_of: str | None  # the key column, or None for whole rows
    test: str = ""
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)

    @property
    def drifted(self) -> tuple[ColumnCheck, ...]:
        return tuple(column for column in self.columns if column.drifted)

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.columns)

    def metrics(self) -> dict[str, tuple[float, int | None]]:
        """Every metric this check records: name -> (value, n), per column first, then the dataset's."""
        found: dict[str, tuple[float, int | None]] = {}
        for column in self.columns:
            stem = f"{self.prefix}.{column.name}"
            for suffix, value in (
                ("psi", column.psi),
                ("ks", column.ks),
                ("ks_p", column.ks_p),
                ("chi2_p", column.chi2_p),
                ("js", column.js),
            ):
                if value is not None:
                    found[f"{stem}.{suffix}"] = (value, None)
            found[f"{stem}.missing"] = (column.missing, self.rows_current)
            if column.out_of_range is not None:
                found[f"{stem}.out_of_range"] = (column.out_of_range, column.n_current or None)
        found[f"{self.prefix}.drift_share"] = (self.drift_share, None)
        found[f"{self.prefix}.missing"] = (self.missing, self.rows_current * len(self.columns))
        found[f"{self.prefix}.duplicates"] = (self.duplicates, self.rows_current)
        return found

    def charted(self) -> tuple[ColumnCheck, ...]:
        """The columns that have a chart: every drifted one, and the smallest p-values, smallest first."""
        return tuple(
            sorted(
                (column for column in self.columns if column.chart is not None),
                key=lambda column: (not column.drifted, _p_order(column)),
            )
        )

    def terminal_line(self) -> str:
        """``data: 30 columns checked, 1 drifted: income (KS p 1.2e-08)`` (the prefix names the dataset)."""
        drifted = self.drifted
        head = f"{self.prefix}: {_plural(len(self.columns), 'column')} checked, {len(drifted)} drifted"
        if not drifted:
            return f"{head} (family-wise level {_g(self.alpha)})"
        named = ", ".join(f"{column.name} ({_why(column)})" for column in drifted)
        return f"{head}: {named} (family-wise level {_g(self.alpha)})"

    def to_plain(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> DataCheck:
        """Rebuild a check from ``to_plain``'s dict (as it arrives from an xdist worker)."""
        columns = []
        for raw in data["columns"]:
            chart: dict[str, Any] | None = raw.get("chart")
            rebuilt = None
            if chart is not None:
                fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in chart.items()}
                rebuilt = DistributionChart(**fields)
            columns.append(ColumnCheck(**{**raw, "chart": rebuilt}))
        ranges = {name: (bounds[0], bounds[1]) for name, bounds in data.get("ranges", {}).items()}
        return cls(**{**data, "columns": tuple(columns), "ranges": ranges})


def _p_order(column: ColumnCheck) -> float:
    p_value = column.p_value
    return 2.0 if p_value is None else p_value


def _why(column: ColumnCheck) -> str:
    if column.note:
        return column.note
    return f"{column.test_name} p {_g(column.p_value)}"


def _g(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if value >= 1e-3 or value == 0 else f"{value:.2g}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order.

    With ``m`` p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the
    adjusted value of rank ``i`` is ``max_{j <= i} min(1, (m - j + 1) p_(j))``.
    Rejecting every hypothesis whose adjusted p-value is at most ``alpha``
    controls the family-wise error rate at ``alpha`` under any dependence
    between the tests (Holm, Scand. J. Statist. 6(2), 1979), and rejects at
    least what Bonferroni's ``p <= alpha / m`` rejects.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


# ---------------------------------------------------------------------------
# Reading columns from whatever the caller has
# ---------------------------------------------------------------------------


def _columns(data: object, side: str) -> dict[str, NDArray[Any]]:
    """Column name -> 1-D array, from a mapping, a structured array, or a table with named columns."""
    items: list[tuple[object, Any]]
    if isinstance(data, Mapping):
        items = list(data.items())
    elif isinstance(data, np.ndarray) and data.dtype.names:
        items = [(name, data[name]) for name in data.dtype.names]
    elif hasattr(data, "column_names") and hasattr(data, "column"):
        # pyarrow.Table (and anything shaped like it): nulls become NaN or None.
        items = [(name, _arrow_values(data.column(name))) for name in data.column_names]
    elif hasattr(data, "columns") and hasattr(data, "__getitem__") and not isinstance(data, np.ndarray):
        # pandas.DataFrame (and anything shaped like it).
        items = [(name, data[name]) for name in list(data.columns)]
    else:
        raise DataCheckError(
            f"{_FUNC}: {side} must be a mapping of column name to values, a numpy structured array, "
            f"or a table with named columns (pandas, pyarrow), got {type(data).__name__}"
        )
    columns: dict[str, NDArray[Any]] = {}
    for raw_name, values in items:
        if not isinstance(raw_name, str) or not raw_name.strip():
            raise DataCheckError(f"{_FUNC}: {side} column names must be non-empty strings, got {raw_name!r}")
        if raw_name in columns:
            raise DataCheckError(f"{_FUNC}: {side} has two columns named {raw_name!r}")
        if hasattr(values, "columns") and not isinstance(values, np.ndarray):
            raise DataCheckError(f"{_FUNC}: {side} has two columns named {raw_name!r}")
        columns[raw_name] = _column_array(values, side, raw_name)
    if not columns:
        raise DataCheckError(f"{_FUNC}: {side} has no columns")
    lengths = {name: values.size for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        (first, n1), (other, n2) = (
            next(iter(lengths.items())),
            next((name, n) for name, n in lengths.items() if n != next(iter(lengths.values()))),
        )
        raise DataCheckError(
            f"{_FUNC}: {side} columns differ in length: {first!r} has {n1} rows, {other!r} has {n2}"
        )
    if next(iter(lengths.values())) == 0:
        raise DataCheckError(f"{_FUNC}: {side} has no rows")
    return columns


def _arrow_values(column: Any) -> Any:
    to_numpy = getattr(column, "to_numpy", None)
    if to_numpy is None:
        return column
    try:
        return to_numpy(zero_copy_only=False)
    except TypeError:  # ChunkedArray.to_numpy takes no zero_copy_only on some versions
        return to_numpy()


def _column_array(values: Any, side: str, name: str) -> NDArray[Any]:
    if isinstance(values, (str, bytes)):
        raise DataCheckError(f"{_FUNC}: {side} column {name!r} must be a sequence of values, got a string")
    to_numpy = getattr(values, "to_numpy", None)
    try:
        array = np.asarray(to_numpy() if callable(to_numpy) else values)
    except (TypeError, ValueError) as exc:
        raise DataCheckError(f"{_FUNC}: {side} column {name!r} cannot be read as an array ({exc})") from None
    if array.ndim != 1:
        raise DataCheckError(
            f"{_FUNC}: {side} column {name!r} must be one-dimensional, got shape {array.shape}"
        )
    return array


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    # pandas' NA and NaT, recognised by name so that pandas stays optional.
    return type(value).__name__ in ("NAType", "NaTType") or (
        isinstance(value, np.floating) and bool(np.isnan(value))
    )


def _numeric_values(array: NDArray[Any], side: str, name: str) -> NDArray[Any]:
    """The column as numbers (NaN for missing), or a clear error for strings and other objects."""
    kind = array.dtype.kind
    if kind in "iufb":
        return array
    if kind in "mM":
        as_int = array.view(np.int64)
        values = as_int.astype(np.float64)
        values[np.isnat(array)] = np.nan
        return values
    if kind in "US":
        raise DataCheckError(
            f"{_FUNC}: column {name!r} holds strings ({side} dtype {array.dtype}); "
            f"name it in categorical=[...] to compare its categories"
        )
    if kind == "O":
        values = np.empty(array.size, dtype=np.float64)
        for index, value in enumerate(array.tolist()):
            if _is_missing(value):
                values[index] = np.nan
            elif isinstance(value, numbers.Real) and not isinstance(value, bool):
                values[index] = float(value)
            elif isinstance(value, str):
                raise DataCheckError(
                    f"{_FUNC}: column {name!r} holds strings ({side} value {value!r}); "
                    f"name it in categorical=[...] to compare its categories"
                )
            else:
                raise DataCheckError(
                    f"{_FUNC}: column {name!r} must hold numbers, got {type(value).__name__} "
                    f"{value!r} in {side}; name it in categorical=[...] to compare its values as categories"
                )
        return values
    raise DataCheckError(
        f"{_FUNC}: column {name!r} has dtype {array.dtype}, which is neither numbers nor categories"
    )


def _category_values(array: NDArray[Any], side: str, name: str) -> list[Hashable]:
    """The column's observed categories (missing ones dropped); unhashable values are an error."""
    found: list[Hashable] = []
    for value in array.tolist():
        if _is_missing(value):
            continue
        try:
            hash(value)
        except TypeError:
            raise DataCheckError(
                f"{_FUNC}: categorical column {name!r} holds an unhashable {type(value).__name__} in {side}"
            ) from None
        found.append(value)
    return found


def _missing_count(array: NDArray[Any]) -> int:
    kind = array.dtype.kind
    if kind in "fc":
        return int(np.count_nonzero(np.isnan(array)))
    if kind in "mM":
        return int(np.count_nonzero(np.isnat(array)))
    if kind == "O":
        return sum(1 for value in array.tolist() if _is_missing(value))
    return 0


# ---------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------


def check(
    reference: object,
    current: object,
    *,
    categorical: Iterable[str] = (),
    ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
    key: str | None = None,
    columns: Iterable[str] | None = None,
    prefix: str = "data",
    alpha: float = DEFAULT_ALPHA,
    bins: int = DEFAULT_BINS,
    test: str = "",
) -> DataCheck:
    """Compare ``current`` with ``reference`` column by column; see the module's docstring for the verdict.

    Raises:
        DataCheckError: the inputs cannot be compared (the message names the
            column and what was found).
    """
    prefix = _check_prefix(prefix)
    alpha = _check_alpha(alpha)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise DataCheckError(f"{_FUNC}: bins must be an integer >= 2, got {bins!r}")
    ref_columns = _columns(reference, "reference")
    cur_columns = _columns(current, "current")
    names = _column_names(ref_columns, cur_columns, columns)
    categorical_names = _names_argument(categorical, "categorical", ref_columns)
    bounds = _ranges_argument(ranges, ref_columns, categorical_names)
    if key is not None and key not in cur_columns:
        raise DataCheckError(f"{_FUNC}: key {key!r} is not a column of current")

    rows_reference = next(iter(ref_columns.values())).size
    rows_current = next(iter(cur_columns.values())).size
    found: list[ColumnCheck] = []
    cells_missing = 0
    codes: list[NDArray[Any]] = []
    for name in names:
        ref, cur = ref_columns[name], cur_columns[name]
        missing = _missing_count(cur)
        cells_missing += missing
        is_categorical = name in categorical_names or (ref.dtype.kind == "b" and cur.dtype.kind == "b")
        if is_categorical:
            column, code = _categorical_column(name, ref, cur, missing)
        else:
            column, code = _numeric_column(name, ref, cur, missing, bounds.get(name), bins)
        found.append(column)
        codes.append(code)

    found = _judge(found, alpha)
    found = _with_charts(found, ref_columns, cur_columns)
    if key is not None:
        duplicates = _duplicate_rate([_codes_for_duplicates(cur_columns[key], key)])
    else:
        duplicates = _duplicate_rate(codes)
    return DataCheck(
        prefix=prefix,
        alpha=alpha,
        rows_reference=rows_reference,
        rows_current=rows_current,
        columns=tuple(found),
        missing=cells_missing / (rows_current * len(names)),
        duplicates=duplicates,
        duplicates_of=key,
        test=test,
        ranges=bounds,
    )


def _check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not prefix.strip() or prefix != prefix.strip(". "):
        raise DataCheckError(
            f"{_FUNC}: prefix must be a non-empty name without leading or trailing dots, got {prefix!r}"
        )
    return prefix


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < float(alpha) < 1:
        raise DataCheckError(f"{_FUNC}: alpha must be a number between 0 and 1 (exclusive), got {alpha!r}")
    return float(alpha)


def _column_names(
    ref_columns: Mapping[str, Any], cur_columns: Mapping[str, Any], columns: Iterable[str] | None
) -> list[str]:
    if columns is not None:
        names = _names_argument(columns, "columns", ref_columns)
        absent = [name for name in names if name not in cur_columns]
        if absent:
            raise DataCheckError(f"{_FUNC}: current lacks the column(s) {_listing(absent)} named in columns")
        if not names:
            raise DataCheckError(f"{_FUNC}: columns names no column")
        return list(names)
    only_ref = [name for name in ref_columns if name not in cur_columns]
    only_cur = [name for name in cur_columns if name not in ref_columns]
    if only_ref or only_cur:
        parts = []
        if only_ref:
            parts.append(f"reference has {_listing(only_ref)} that current lacks")
        if only_cur:
            parts.append(f"current has {_listing(only_cur)} that reference lacks")
        raise DataCheckError(
            f"{_FUNC}: the columns differ: {'; '.join(parts)} (pass columns=[...] to compare a subset)"
        )
    return list(ref_columns)


def _names_argument(raw: Iterable[str], argument: str, known: Mapping[str, Any]) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = (raw,)
    names = tuple(raw)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise DataCheckError(f"{_FUNC}: {argument} names {_listing(unknown)}, not a column of reference")
    return names


def _ranges_argument(
    raw: Mapping[str, tuple[float | None, float | None]] | None,
    known: Mapping[str, Any],
    categorical: tuple[str, ...],
) -> dict[str, tuple[float | None, float | None]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DataCheckError(
            f"{_FUNC}: ranges must map column names to (low, high), got {type(raw).__name__}"
        )
    bounds: dict[str, tuple[float | None, float | None]] = {}
    for name, pair in raw.items():
        if name not in known:
            raise DataCheckError(f"{_FUNC}: ranges names {name!r}, not a column of reference")
        if name in categorical:
            raise DataCheckError(
                f"{_FUNC}: ranges names {name!r}, a categorical column; ranges apply to numbers"
            )
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(
                bound is None
                or (isinstance(bound, numbers.Real) and not isinstance(bound, bool) and not math.isnan(bound))
                for bound in pair
            )
        ):
            raise DataCheckError(
                f"{_FUNC}: ranges[{name!r}] must be (low, high) with numbers or None, got {pair!r}"
            )
        low, high = pair
        if low is not None and high is not None and low > high:
            raise DataCheckError(f"{_FUNC}: ranges[{name!r}] has low {low!r} above high {high!r}")
        bounds[name] = (None if low is None else float(low), None if high is None else float(high))
    return bounds


def _listing(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _numeric_column(
    name: str,
    ref: NDArray[Any],
    cur: NDArray[Any],
    missing: int,
    bounds: tuple[float | None, float | None] | None,
    bins: int,
) -> tuple[ColumnCheck, NDArray[Any]]:
    ref_values = _numeric_values(ref, "reference", name)
    cur_values = _numeric_values(cur, "current", name)
    if ref_values.dtype.kind == "f":
        ref_observed = int(np.count_nonzero(~np.isnan(ref_values)))
        if ref_observed == 0:
            raise DataCheckError(
                f"{_FUNC}: column {name!r} has no values in reference (every one missing); "
                "there is nothing to compare this run's values with"
            )
        if not np.isfinite(ref_values[~np.isnan(ref_values)]).any():
            raise DataCheckError(f"{_FUNC}: column {name!r} has no finite values in reference")
    infinite = int(np.count_nonzero(np.isinf(cur_values))) if cur_values.dtype.kind == "f" else 0
    observed = cur.size - missing
    out_of_range = None
    if bounds is not None and observed > 0:
        out_of_range = quality.out_of_range_rate(cur_values, bounds[0], bounds[1])
    elif bounds is not None:
        out_of_range = 0.0
    base = ColumnCheck(
        name=name,
        kind=NUMERIC,
        n_reference=int(ref_values.size - _missing_count(ref_values)),
        n_current=observed,
        missing=missing / cur.size,
        out_of_range=out_of_range,
        infinite=infinite,
    )
    code = _codes_for_duplicates(cur_values, name)
    if observed == 0:
        return _replace(base, drifted=True, note="every value missing"), code
    drift = quality.numeric_drift(ref_values, cur_values, bins=bins)
    return (
        _replace(base, psi=drift.psi, js=drift.js, ks=drift.ks, ks_p=drift.ks_p),
        code,
    )


def _categorical_column(
    name: str, ref: NDArray[Any], cur: NDArray[Any], missing: int
) -> tuple[ColumnCheck, NDArray[Any]]:
    ref_values = _category_values(ref, "reference", name)
    cur_values = _category_values(cur, "current", name)
    if not ref_values:
        raise DataCheckError(
            f"{_FUNC}: column {name!r} has no values in reference (every one missing); "
            "there is nothing to compare this run's values with"
        )
    base = ColumnCheck(
        name=name,
        kind=CATEGORICAL,
        n_reference=len(ref_values),
        n_current=len(cur_values),
        missing=missing / cur.size,
    )
    code = _codes_for_duplicates(cur, name)
    if not cur_values:
        return _replace(base, drifted=True, note="every value missing"), code
    drift = quality.category_drift(ref_values, cur_values)
    return _replace(base, psi=drift.psi, js=drift.js, chi2_p=drift.chi2_p), code


def _replace(column: ColumnCheck, **changes: Any) -> ColumnCheck:
    return replace(column, **changes)


def _judge(columns: list[ColumnCheck], alpha: float) -> list[ColumnCheck]:
    """Holm-adjust the tested columns' p-values together and mark those at or below ``alpha`` drifted."""
    tested = [index for index, column in enumerate(columns) if column.p_value is not None]
    adjusted = holm_adjust([columns[index].p_value or 0.0 for index in tested])
    judged = list(columns)
    for index, p_adjusted in zip(tested, adjusted):
        judged[index] = _replace(columns[index], p_adjusted=p_adjusted, drifted=p_adjusted <= alpha)
    return judged


def _with_charts(
    columns: list[ColumnCheck],
    ref_columns: Mapping[str, NDArray[Any]],
    cur_columns: Mapping[str, NDArray[Any]],
) -> list[ColumnCheck]:
    """Chart data for every drifted column and the ``CHARTED_SMALLEST`` smallest p-values among the rest."""
    candidates = [column for column in columns if column.p_value is not None]
    smallest = sorted((c for c in candidates if not c.drifted), key=_p_order)[:CHARTED_SMALLEST]
    chosen = {column.name for column in candidates if column.drifted} | {column.name for column in smallest}
    charted = []
    for column in columns:
        if column.name in chosen:
            ref, cur = ref_columns[column.name], cur_columns[column.name]
            chart = (
                _numeric_chart(
                    _numeric_values(ref, "reference", column.name),
                    _numeric_values(cur, "current", column.name),
                )
                if column.kind == NUMERIC
                else _category_chart(
                    _category_values(ref, "reference", column.name),
                    _category_values(cur, "current", column.name),
                )
            )
            column = _replace(column, chart=chart)
        charted.append(column)
    return charted


def _numeric_chart(reference: NDArray[Any], current: NDArray[Any]) -> DistributionChart:
    ref = reference.astype(np.float64, copy=False)
    cur = current.astype(np.float64, copy=False)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if cur.size == 0:  # every observed current value infinite: chart the reference alone
        cur = np.array([], dtype=np.float64)
    pooled_low = min(np.quantile(ref, 0.005), np.quantile(cur, 0.005) if cur.size else np.inf)
    pooled_high = max(np.quantile(ref, 0.995), np.quantile(cur, 0.995) if cur.size else -np.inf)
    low, high = float(pooled_low), float(pooled_high)
    if not high > low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, _HISTOGRAM_BINS + 1)

    def shares(values: NDArray[np.float64]) -> tuple[float, ...]:
        if values.size == 0:
            return (0.0,) * _HISTOGRAM_BINS
        counts, _ = np.histogram(np.clip(values, low, high), bins=edges)
        return tuple(float(c) for c in counts / values.size)

    probabilities = np.linspace(0.0, 1.0, _ECDF_POINTS)
    ref_q = np.quantile(ref, probabilities)
    cur_q = np.quantile(cur, probabilities) if cur.size else np.full(_ECDF_POINTS, np.nan)
    gap_at = _largest_gap(np.sort(ref), np.sort(cur)) if cur.size else None
    return DistributionChart(
        kind=NUMERIC,
        reference=shares(ref),
        current=shares(cur),
        edges=tuple(float(e) for e in edges),
        probabilities=tuple(float(p) for p in probabilities),
        reference_quantiles=tuple(float(q) for q in ref_q),
        current_quantiles=tuple(float(q) for q in cur_q),
        gap_at=gap_at,
    )


def _largest_gap(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> float:
    return quality._ks_sorted(ref, cur)[2]


def _category_chart(reference: list[Hashable], current: list[Hashable]) -> DistributionChart:
    drift = (
        quality.category_drift(reference, current)
        if current
        else quality.category_drift(reference, reference)
    )
    n_ref = sum(drift.reference_counts) or 1
    n_cur = sum(drift.current_counts) or 1
    ref_share = [count / n_ref for count in drift.reference_counts]
    cur_share = [count / n_cur for count in drift.current_counts] if current else [0.0] * len(ref_share)
    order = sorted(range(len(ref_share)), key=lambda i: -max(ref_share[i], cur_share[i]))
    shown = order[:_MAX_CATEGORIES_SHOWN]
    labels = [str(drift.categories[i]) for i in shown]
    ref_shown = [ref_share[i] for i in shown]
    cur_shown = [cur_share[i] for i in shown]
    rest = order[_MAX_CATEGORIES_SHOWN:]
    if rest:
        labels.append(f"{len(rest)} others")
        ref_shown.append(sum(ref_share[i] for i in rest))
        cur_shown.append(sum(cur_share[i] for i in rest))
    return DistributionChart(
        kind=CATEGORICAL, reference=tuple(ref_shown), current=tuple(cur_shown), labels=tuple(labels)
    )


# ---------------------------------------------------------------------------
# Duplicates
# ---------------------------------------------------------------------------


def _codes_for_duplicates(values: NDArray[Any], name: str) -> NDArray[Any]:
    """A float64 code per row such that two codes are equal exactly when the values are (missing equals missing)."""
    kind = values.dtype.kind
    if kind in "fb":
        return values.astype(np.float64)
    if kind in "iu":
        if values.size and max(abs(int(values.min())), abs(int(values.max()))) > _EXACT_IN_FLOAT64:
            # 64-bit identifiers would merge in float64: number the distinct values instead.
            return np.unique(values, return_inverse=True)[1].astype(np.float64)
        return values.astype(np.float64)
    codes: dict[Hashable, int] = {}
    out = np.empty(values.size, dtype=np.float64)
    for index, value in enumerate(values.tolist()):
        key: Hashable = None if _is_missing(value) else value
        try:
            out[index] = codes.setdefault(key, len(codes))
        except TypeError:
            raise DataCheckError(
                f"{_FUNC}: column {name!r} holds an unhashable {type(value).__name__}"
            ) from None
    return out


_EXACT_IN_FLOAT64 = 2**53  # every integer up to this magnitude is exact in a float64


def _duplicate_rate(codes: Sequence[NDArray[Any]]) -> float:
    """Share of rows repeating an earlier row, over the given per-column codes (NaN equals NaN)."""
    if len(codes) == 1:
        return quality.duplicate_rate(codes[0])
    return quality.duplicate_rate(np.column_stack(codes))


# ---------------------------------------------------------------------------
# What the gate makes of the checks
# ---------------------------------------------------------------------------


def quiet_names(checks: Sequence[DataCheck], result: GateResult) -> frozenset[str]:
    """The checks' metrics that no rule gates: kept out of the terminal table and the trend charts."""
    recorded = {name for check in checks for name in check.metrics()}
    return frozenset(v.name for v in result.verdicts if v.name in recorded and not v.gated)


def explain(result: GateResult, checks: Sequence[DataCheck]) -> GateResult:
    """Add to each failing or warning dataset-level verdict the columns behind its number.

    ``data.drift_share`` above its limit says which columns drifted and why;
    ``data.missing`` names the columns missing most; ``data.duplicates`` says
    what was compared.
    """
    extra: dict[str, str] = {}
    for check in checks:
        drifted = check.drifted
        if drifted:
            extra[f"{check.prefix}.drift_share"] = "drifted: " + ", ".join(
                f"{column.name} ({_why_adjusted(column, check.alpha)})" for column in drifted
            )
        else:
            extra[f"{check.prefix}.drift_share"] = f"no column drifted at family-wise level {_g(check.alpha)}"
        worst = sorted((c for c in check.columns if c.missing > 0), key=lambda c: -c.missing)[:3]
        if worst:
            extra[f"{check.prefix}.missing"] = "most missing: " + ", ".join(
                f"{column.name} {_percent(column.missing)}" for column in worst
            )
        extra[f"{check.prefix}.duplicates"] = (
            f"duplicates of key column {check.duplicates_of}"
            if check.duplicates_of
            else f"duplicates of whole rows over {_plural(len(check.columns), 'column')}"
        )
    verdicts = []
    for verdict in result.verdicts:
        if verdict.name in extra and verdict.verdict in (FAIL, WARN):
            verdict = replace(verdict, reasons=(*verdict.reasons, extra[verdict.name]))
        verdicts.append(verdict)
    return replace(result, verdicts=tuple(verdicts))


def _why_adjusted(column: ColumnCheck, alpha: float) -> str:
    if column.note:
        return column.note
    return f"{column.test_name} p {_g(column.p_value)}, Holm-adjusted {_g(column.p_adjusted)} <= {_g(alpha)}"


def _percent(share: float) -> str:
    return f"{share * 100:.3g}%"
