"""``metric_gate.check_data``'s pure part: names, figures, verdicts and bad input, pinned against scipy and hand
computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pytest_metricgate import datacheck, quality
from pytest_metricgate.datacheck import DataCheck, DataCheckError, check, holm_adjust

NAN = float("nan")


def _normal(seed: int, size: int, loc: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, 1.0, size)


@pytest.mark.parametrize(
    ("p_values", "expected"),
    [
        # m = 4, sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005 = 0.02, 3*0.01 = 0.03, 2*0.03 = 0.06,
        # 1*0.04 = 0.04 raised to the running maximum 0.06; back in the input's order:
        ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
        ([0.5], [0.5]),
        ([0.4, 0.3], [0.6, 0.6]),  # 2*0.3 = 0.6, then max(0.6, 0.4) = 0.6
        ([0.9, 0.8, 0.7], [1.0, 1.0, 1.0]),  # capped at 1
        ([], []),
    ],
)
def test_holm_adjusted_p_values_by_hand(p_values, expected):
    assert holm_adjust(p_values) == pytest.approx(expected)


def _three_columns(shift: float = 0.0) -> tuple[dict, dict]:
    reference = {"age": _normal(1, 400), "income": _normal(2, 400), "city": ["a", "b", "c", "d"] * 100}
    current = {
        "age": _normal(3, 300),
        "income": _normal(4, 300, loc=shift),
        "city": ["a", "b", "c", "d", "d", "d"] * 50,
    }
    return reference, current


def test_every_metric_name_of_a_dataset():
    reference, current = _three_columns()
    found = check(reference, current, categorical=["city"], ranges={"age": (-3, 3)})
    assert list(found.metrics()) == [
        "data.age.psi",
        "data.age.ks",
        "data.age.ks_p",
        "data.age.js",
        "data.age.missing",
        "data.age.out_of_range",
        "data.income.psi",
        "data.income.ks",
        "data.income.ks_p",
        "data.income.js",
        "data.income.missing",
        "data.city.psi",
        "data.city.chi2_p",
        "data.city.js",
        "data.city.missing",
        "data.drift_share",
        "data.missing",
        "data.duplicates",
    ]
    assert "train.age.psi" in check(reference, current, categorical=["city"], prefix="train").metrics()


def test_the_figures_are_quality_s_on_the_observed_values_and_scipy_s_tests():
    reference, current = _three_columns(shift=0.3)
    current["income"] = current["income"].copy()
    current["income"][:30] = NAN
    found = check(reference, current, categorical=["city"])
    income = {column.name: column for column in found.columns}["income"]
    observed = current["income"][30:]
    assert income.psi == quality.psi(reference["income"], observed)
    assert income.js == quality.js_distance(reference["income"], observed)
    assert income.ks == pytest.approx(stats.ks_2samp(reference["income"], observed).statistic, abs=1e-15)
    assert income.ks_p == pytest.approx(
        stats.ks_2samp(reference["income"], observed, method="asymp").pvalue, abs=0.01
    )
    assert income.missing == 0.1  # 30 of 300 rows
    city = {column.name: column for column in found.columns}["city"]
    # reference 100 each of a-d; current 50 a, 50 b, 50 c, 150 d.
    _, p_value, _, _ = stats.chi2_contingency([[100, 100, 100, 100], [50, 50, 50, 150]], correction=False)
    assert city.chi2_p == pytest.approx(p_value, rel=1e-9)
    # 30 missing cells of 3 columns x 300 rows.
    assert found.missing == pytest.approx(30 / 900)


def test_a_drifted_column_is_holm_adjusted_against_the_others():
    reference, current = _three_columns(shift=0.6)
    found = check(reference, current, categorical=["city"])
    by_name = {column.name: column for column in found.columns}
    p_values = [by_name[name].p_value for name in ("age", "income", "city")]
    assert [by_name[name].p_adjusted for name in ("age", "income", "city")] == pytest.approx(
        holm_adjust(p_values)
    )
    assert by_name["income"].drifted and by_name["income"].p_adjusted <= 0.01
    assert by_name["city"].drifted  # 150 of 300 "d" against 25%: chi2 = 60 on 3 df
    assert not by_name["age"].drifted
    assert found.drift_share == pytest.approx(2 / 3)
    assert [column.name for column in found.drifted] == ["income", "city"]


def test_alpha_sets_the_family_wise_level():
    reference, current = _three_columns(shift=0.25)
    found = check(reference, current, categorical=["city"], columns=["age", "income"])
    income = found.columns[1]
    assert (
        not check(reference, current, columns=["age", "income"], alpha=income.p_adjusted * 0.99)
        .columns[1]
        .drifted
    )
    assert check(reference, current, columns=["age", "income"], alpha=income.p_adjusted).columns[1].drifted


def test_charts_go_to_drifted_columns_and_the_five_smallest_p_values():
    rng = np.random.default_rng(5)
    reference = {f"f{i}": rng.normal(size=200) for i in range(9)}
    current = {f"f{i}": rng.normal(size=200) + (1.0 if i == 4 else 0.0) for i in range(9)}
    found = check(reference, current)
    charted = [column.name for column in found.charted()]
    assert charted[0] == "f4" and found.columns[4].drifted
    others = sorted((c for c in found.columns if c.name != "f4"), key=lambda c: c.p_value)[:5]
    assert charted[1:] == [column.name for column in others]
    assert all(column.chart is None for column in found.columns if column.name not in charted)
    chart = found.columns[4].chart
    assert chart is not None and chart.kind == "numeric"
    assert sum(chart.reference) == pytest.approx(1.0) and sum(chart.current) == pytest.approx(1.0)
    assert chart.edges[0] < chart.gap_at < chart.edges[-1]


@pytest.mark.parametrize(
    ("current_key", "expected"),
    [
        (None, 1 / 5),  # rows (1, "a") twice among 5: one repeat
        ("id", 2 / 5),  # ids 1, 1, 2, 3, 3: two repeats
    ],
)
def test_duplicates_of_whole_rows_or_of_the_key_column(current_key, expected):
    reference = {"id": [1, 2, 3, 4, 5], "x": [1.0, 2.0, 3.0, 4.0, 5.0], "c": ["a", "b", "a", "b", "a"]}
    current = {"id": [1, 1, 2, 3, 3], "x": [1.0, 1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "b", "a", "b"]}
    found = check(reference, current, categorical=["c"], key=current_key)
    assert found.duplicates == pytest.approx(expected)
    assert found.duplicates_of == current_key


def _table_inputs():
    reference, current = _three_columns(shift=0.2)
    return reference, current


def test_a_structured_array_pandas_and_pyarrow_give_the_same_metrics():
    pandas = pytest.importorskip("pandas")
    pyarrow = pytest.importorskip("pyarrow")
    reference, current = _table_inputs()
    expected = check(reference, current, categorical=["city"]).metrics()

    def structured(columns: dict) -> np.ndarray:
        dtype = [("age", "f8"), ("income", "f8"), ("city", "U1")]
        return np.array(list(zip(columns["age"], columns["income"], columns["city"])), dtype=dtype)

    for ref, cur in [
        (structured(reference), structured(current)),
        (pandas.DataFrame(reference), pandas.DataFrame(current)),
        (pyarrow.table(reference), pyarrow.table(current)),
    ]:
        assert check(ref, cur, categorical=["city"]).metrics() == expected


def test_pandas_and_pyarrow_nulls_are_missing_values():
    pandas = pytest.importorskip("pandas")
    pyarrow = pytest.importorskip("pyarrow")
    reference = {"n": [1, 2, 3, 4], "c": ["a", "b", "a", "b"]}
    current_pandas = pandas.DataFrame(
        {
            "n": pandas.array([1, None, 3, 4], dtype="Int64"),
            "c": pandas.array(["a", None, "a", "b"], dtype="string"),
        }
    )
    current_arrow = pyarrow.table({"n": [1, None, 3, 4], "c": ["a", None, "a", "b"]})
    for current in (current_pandas, current_arrow):
        found = check(reference, current, categorical=["c"])
        assert [column.missing for column in found.columns] == [0.25, 0.25]
        assert [column.n_current for column in found.columns] == [3, 3]


def test_a_column_with_every_current_value_missing_counts_as_drifted():
    reference = {"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]}
    current = {"x": [NAN, NAN, NAN], "y": [1.0, 2.0, 3.0]}
    found = check(reference, current)
    x = found.columns[0]
    assert (x.drifted, x.note, x.missing, x.psi, x.ks_p) == (True, "every value missing", 1.0, None, None)
    assert found.drift_share == 0.5
    assert "data.x.psi" not in found.metrics() and found.metrics()["data.x.missing"] == (1.0, 3)


def test_infinite_values_are_extreme_values_out_of_any_range():
    reference = {"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}
    current = {"x": [1.0, 2.0, math.inf, 4.0, -math.inf, 6.0]}
    found = check(reference, current, ranges={"x": (0, 10)})
    x = found.columns[0]
    assert x.infinite == 2
    assert x.out_of_range == pytest.approx(2 / 6)
    assert x.ks == pytest.approx(stats.ks_2samp(reference["x"], current["x"]).statistic)


@pytest.mark.parametrize(
    ("reference", "current", "kwargs", "message"),
    [
        pytest.param(
            {"a": [1.0], "b": [2.0]},
            {"a": [1.0], "c": [2.0]},
            {},
            "metric_gate.check_data: the columns differ: reference has 'b' that current lacks; current has 'c' "
            "that reference lacks (pass columns=[...] to compare a subset)",
            id="mismatched-columns",
        ),
        pytest.param(
            {"a": [1.0, 2.0]},
            {"a": []},
            {},
            "metric_gate.check_data: current has no rows",
            id="empty-column",
        ),
        pytest.param(
            {"city": ["x", "y"]},
            {"city": ["x", "z"]},
            {},
            "metric_gate.check_data: column 'city' holds strings (reference dtype <U1); name it in "
            "categorical=[...] to compare its categories",
            id="strings-not-declared",
        ),
        pytest.param(
            {"city": np.array(["x", 1], dtype=object)},
            {"city": ["x", "z"]},
            {},
            "metric_gate.check_data: column 'city' holds strings (reference value 'x'); name it in "
            "categorical=[...] to compare its categories",
            id="strings-in-objects",
        ),
        pytest.param(
            {"x": [NAN, NAN]},
            {"x": [1.0, 2.0]},
            {},
            "metric_gate.check_data: column 'x' has no values in reference (every one missing); there is "
            "nothing to compare this run's values with",
            id="all-nan-reference",
        ),
        pytest.param(
            {"x": [math.inf, -math.inf]},
            {"x": [1.0, 2.0]},
            {},
            "metric_gate.check_data: column 'x' has no finite values in reference",
            id="all-infinite-reference",
        ),
        pytest.param(
            [[1.0, 2.0]],
            {"x": [1.0]},
            {},
            "metric_gate.check_data: reference must be a mapping of column name to values, a numpy "
            "structured array, or a table with named columns (pandas, pyarrow), got list",
            id="not-columns",
        ),
        pytest.param(
            {"a": [1.0, 2.0], "b": [1.0]},
            {"a": [1.0], "b": [1.0]},
            {},
            "metric_gate.check_data: reference columns differ in length: 'a' has 2 rows, 'b' has 1",
            id="ragged",
        ),
        pytest.param(
            {"a": [1.0]},
            {"a": [1.0]},
            {"categorical": ["b"]},
            "metric_gate.check_data: categorical names 'b', not a column of reference",
            id="unknown-categorical",
        ),
        pytest.param(
            {"a": [1.0]},
            {"a": [1.0]},
            {"alpha": 0},
            "metric_gate.check_data: alpha must be a number between 0 and 1 (exclusive), got 0",
            id="alpha",
        ),
        pytest.param(
            {"a": [1.0]},
            {"a": [1.0]},
            {"prefix": ".data"},
            "metric_gate.check_data: prefix must be a non-empty name without leading or trailing dots, "
            "got '.data'",
            id="prefix",
        ),
        pytest.param(
            {"a": [1.0]},
            {"a": [1.0]},
            {"ranges": {"a": (5, 1)}},
            "metric_gate.check_data: ranges['a'] has low 5 above high 1",
            id="range-upside-down",
        ),
        pytest.param(
            {"a": [1.0]},
            {"a": [1.0]},
            {"key": "id"},
            "metric_gate.check_data: key 'id' is not a column of current",
            id="unknown-key",
        ),
        pytest.param(
            {"a": [[1.0, 2.0]]},
            {"a": [1.0]},
            {},
            "metric_gate.check_data: reference column 'a' must be one-dimensional, got shape (1, 2)",
            id="two-dimensional",
        ),
        pytest.param(
            {"a": [1 + 2j]},
            {"a": [1.0]},
            {},
            "metric_gate.check_data: column 'a' has dtype complex128, which is neither numbers nor categories",
            id="complex",
        ),
    ],
)
def test_bad_input_is_one_clear_message(reference, current, kwargs, message):
    with pytest.raises(DataCheckError) as raised:
        check(reference, current, **kwargs)
    assert str(raised.value) == message


def test_a_check_survives_the_trip_from_an_xdist_worker():
    reference, current = _three_columns(shift=0.5)
    found = check(reference, current, categorical=["city"], ranges={"age": (None, 2.0)}, test="t.py::test")
    assert DataCheck.from_plain(found.to_plain()) == found


def test_the_default_level_is_documented_in_the_fixture():
    from pytest_metricgate.recording import MetricGate

    assert datacheck.DEFAULT_ALPHA == 0.01
    assert "default 0.01" in (MetricGate.check_data.__doc__ or "")


def test_64_bit_identifiers_are_not_merged_when_counting_duplicates():
    # 2**60 and 2**60 + 1 are the same float64: compared as floats they would be one duplicate.
    ids = np.array([2**60, 2**60 + 1, 2**60 + 2, 2**60 + 2], dtype=np.int64)
    reference = {"id": ids, "x": [1.0, 2.0, 3.0, 4.0]}
    current = {"id": ids, "x": [1.0, 1.0, 1.0, 1.0]}
    assert check(reference, current, key="id").duplicates == 0.25  # only the repeated 2**60 + 2
    assert check(reference, current).duplicates == 0.25  # whole rows: the same single repeat
