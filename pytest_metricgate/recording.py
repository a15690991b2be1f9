"""What tests record through the ``metric_gate`` fixture, checked at the moment they record it.

Light on purpose: the fixture exists in every session, gate on or off, so this
module imports nothing heavy.

PYTEST_DONT_REWRITE: loaded at every pytest start-up, so it skips assertion rewriting.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .datacheck import DataCheck
    from .values import Measurement


@dataclass(frozen=True)
class Recorded:
    """One value one test recorded. Plain data, so it crosses from xdist workers as a dict."""

    name: str
    value: float
    n: int | None
    test: str
    stderr: float | None = None
    samples: tuple[float, ...] | None = None

    def to_plain(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> Recorded:
        samples = data.get("samples")
        return cls(
            name=data["name"],
            value=data["value"],
            n=data["n"],
            test=data["test"],
            stderr=data.get("stderr"),
            samples=None if samples is None else tuple(samples),
        )


class MetricGate:
    """The ``metric_gate`` fixture: ``metric_gate.record("accuracy", 0.91, n=2000)``.

    Values recorded while the gate is off are checked the same way and then
    dropped, so a test suite behaves alike with and without ``--metric-gate``.
    """

    def __init__(
        self, sink: list[Recorded] | None, test: str, data_sink: list[DataCheck] | None = None
    ) -> None:
        self._sink = sink
        self._test = test
        self._data_sink = data_sink

    def record(
        self,
        name: str,
        value: float,
        *,
        n: int | None = None,
        stderr: float | None = None,
        samples: Any = None,
    ) -> None:
        """Record this run's ``value`` of metric ``name``.

        ``n`` is the evaluation set's size; ``stderr`` the value's standard error;
        ``samples`` the per-example values (a sequence or 1-D numpy array of at
        least 2 finite numbers) that the gate bootstraps an interval from. A value
        that is not a number raises ``TypeError``, a negative ``stderr`` or too few
        samples ``ValueError``; NaN and infinite values are accepted and then fail
        the gate as ``not finite``.
        """
        _check_name(name)
        # numpy's floats and ints are numbers.Real; bool (and numpy.bool_) are not values.
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(
                f"metric_gate.record({name!r}): value must be a number, got {type(value).__name__} {value!r}"
            )
        if n is not None and (not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1):
            raise TypeError(f"metric_gate.record({name!r}): n must be an integer >= 1, got {n!r}")
        from .values import check_samples, check_stderr

        try:
            checked_stderr, checked_samples = check_stderr(stderr), check_samples(samples)
        except ValueError as exc:
            raise ValueError(f"metric_gate.record({name!r}): {str(exc).replace(chr(34), '')}") from None
        if self._sink is not None:
            self._sink.append(
                Recorded(
                    name=name,
                    value=float(value),
                    n=None if n is None else int(n),
                    test=self._test,
                    stderr=checked_stderr,
                    samples=checked_samples,
                )
            )

    def record_drift(self, name: str, reference: Any, current: Any, *, bins: int = 10) -> None:
        """Record ``NAME.psi`` and ``NAME.ks`` (the KS statistic D) for one feature in one call."""
        _check_name(name)
        from . import quality

        self.record(f"{name}.psi", quality.psi(reference, current, bins=bins))
        statistic, _p_value = quality.ks_statistic(reference, current)
        self.record(f"{name}.ks", statistic)

    def check_data(
        self,
        reference: Any,
        current: Any,
        *,
        categorical: Iterable[str] = (),
        ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
        key: str | None = None,
        columns: Iterable[str] | None = None,
        prefix: str = "data",
        alpha: float | None = None,
        bins: int = 10,
    ) -> DataCheck:
        """Compare this run's dataset with a reference, column by column, and record every figure.

        ``reference`` and ``current`` are column-oriented: a mapping of column
        name to values, a numpy structured array, or a pandas or pyarrow table.
        Per column it records ``PREFIX.COL.psi``, ``.js``, ``.missing`` (and
        ``.out_of_range`` for a column named in ``ranges``), with ``.ks`` and
        ``.ks_p`` for numbers or ``.chi2_p`` for the ``categorical`` columns;
        per dataset ``PREFIX.drift_share``, ``PREFIX.missing`` and
        ``PREFIX.duplicates`` (of the ``key`` column when given, else of whole
        rows). A column is drifted when its KS or chi-square p-value, Holm-adjusted
        across the columns, is at most ``alpha`` (default 0.01): a dataset without
        drift flags any column at most that often. Gate the figures like any
        metric. Input that cannot be compared fails the calling test with one line
        naming the column.
        """
        from . import datacheck

        try:
            found = datacheck.check(
                reference,
                current,
                categorical=categorical,
                ranges=ranges,
                key=key,
                columns=columns,
                prefix=prefix,
                alpha=datacheck.DEFAULT_ALPHA if alpha is None else alpha,
                bins=bins,
                test=self._test,
            )
        except datacheck.DataCheckError as exc:
            import pytest

            # One line, no traceback: the message names the column and what was found.
            pytest.fail(str(exc), pytrace=False)
        for name, (value, n) in found.metrics().items():
            self.record(name, value, n=n)
        if self._data_sink is not None:
            self._data_sink.append(found)
        return found


def _check_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(
            f"metric_gate.record: metric name must be a string, got {type(name).__name__} {name!r}"
        )
    if not name.strip():
        raise ValueError(f"metric_gate.record: metric name must not be empty, got {name!r}")


def merge(
    records: Iterable[Recorded],
) -> tuple[dict[str, Measurement], dict[str, str], dict[str, tuple[str, ...]]]:
    """Values by name, the test that recorded each, and names recorded more than once (with every test)."""
    from .values import Measurement  # only the gate needs it: keep the fixture's import light

    values: dict[str, Measurement] = {}
    sources: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record.test)
        values[record.name] = Measurement(record.value, record.n, record.stderr, record.samples)
        sources[record.name] = record.test
    # Sorted, so the message is the same whichever xdist worker finished first.
    conflicts = {name: tuple(sorted(tests)) for name, tests in by_name.items() if len(tests) > 1}
    return values, sources, conflicts
