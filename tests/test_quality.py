"""Tests for pytest_metricgate.quality.

Numbers are pinned against independent sources: scipy (a test-only
dependency) for the KS statistic, the Kolmogorov distribution and the
Jensen-Shannon distance, and hand computations written out in comments for
PSI and category PSI.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from pytest_metricgate import quality
from pytest_metricgate.quality import (
    PSI_EPSILON,
    category_psi,
    duplicate_rate,
    js_distance,
    ks_statistic,
    missing_rate,
    out_of_range_rate,
    psi,
)

NAN = float("nan")

# No example database: the suite must not write into the project tree, and
# CI runs should not depend on state left by earlier runs.
PROPERTY_SETTINGS = settings(database=None, deadline=None, max_examples=60)


def _normal(seed: int, size: int, loc: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, 1.0, size)


# ---------------------------------------------------------------------------
# missing_rate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        pytest.param([1.0, NAN, 3.0, NAN], 0.5, id="float-list"),
        pytest.param(np.array([1.0, NAN, 3.0, 4.0]), 0.25, id="float-array"),
        pytest.param(np.array([1, 2, 3], dtype=np.int64), 0.0, id="int-array"),
        pytest.param([1, None, 3, None], 0.5, id="list-with-None"),
        pytest.param(np.array(["a", None, NAN, "b"], dtype=object), 0.5, id="object-array"),
        pytest.param([[NAN, 1.0], [2.0, 3.0]], 0.25, id="2d-counts-every-entry"),
        pytest.param(["a", "b"], 0.0, id="strings"),
        pytest.param([True, False], 0.0, id="bools"),
        pytest.param(np.array(["NaT", "2024-01-01"], dtype="datetime64[D]"), 0.5, id="NaT"),
        pytest.param([NAN, None], 1.0, id="all-missing"),
    ],
)
def test_missing_rate_counts_nan_and_none_as_missing(x: Any, expected: float) -> None:
    assert missing_rate(x) == pytest.approx(expected, abs=1e-15)


def test_missing_rate_returns_a_builtin_float() -> None:
    assert type(missing_rate(np.array([1.0, NAN]))) is float


@pytest.mark.parametrize("x", [[], np.array([]), np.empty((0, 3))], ids=["list", "array", "2d"])
def test_missing_rate_rejects_empty_input(x: Any) -> None:
    with pytest.raises(ValueError, match="^missing_rate: x is empty$"):
        missing_rate(x)


@pytest.mark.parametrize("x", [3.0, None, "abc"], ids=["float", "None", "string"])
def test_missing_rate_rejects_scalars_and_strings(x: Any) -> None:
    with pytest.raises(ValueError, match="^missing_rate: x must be a sequence or array"):
        missing_rate(x)


# ---------------------------------------------------------------------------
# out_of_range_rate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "low", "high", "expected"),
    [
        pytest.param([0.0, 1.0, 2.0], 0, 2, 0.0, id="bounds-are-inclusive"),
        pytest.param([-1, 0, 1, 2, 3], 0, 2, 0.4, id="int-list"),
        pytest.param(np.array([-1.5, 0.5, 9.0, 1.0]), 0.0, 1.0, 0.5, id="float-array"),
        pytest.param(np.array([5, 6, 7], dtype=np.int32), None, 6, 1 / 3, id="open-low"),
        pytest.param([5, 6, 7], 6, None, 1 / 3, id="open-high"),
        pytest.param([-1e300, 1e300], None, None, 0.0, id="both-open"),
        pytest.param([NAN, 5.0, 1.0, NAN], 0, 2, 0.5, id="nan-excluded-from-both-counts"),
        pytest.param([None, 5, 1], 0, 2, 0.5, id="None-excluded"),
        pytest.param([float("inf"), 1.0], 0, 2, 0.5, id="inf-is-out-of-range"),
        pytest.param([float("inf"), 1.0], 0, None, 0.0, id="inf-within-open-high"),
        pytest.param([[1, 10], [1, 1]], 0, 2, 0.25, id="2d-counts-every-entry"),
    ],
)
def test_out_of_range_rate_is_share_of_present_values_outside_bounds(
    x: Any, low: float | None, high: float | None, expected: float
) -> None:
    assert out_of_range_rate(x, low, high) == pytest.approx(expected, abs=1e-15)


def test_out_of_range_rate_returns_a_builtin_float() -> None:
    assert type(out_of_range_rate(np.array([1, 2, 3]), 0, 2)) is float


def test_out_of_range_rate_names_both_bounds_when_they_are_reversed() -> None:
    with pytest.raises(ValueError, match=r"^out_of_range_rate: low \(5\.0\) must not exceed high \(1\.0\)$"):
        out_of_range_rate([1.0], 5.0, 1.0)


@pytest.mark.parametrize(
    ("x", "low", "high", "message"),
    [
        pytest.param([], 0, 1, "x is empty", id="empty"),
        pytest.param([NAN, NAN], 0, 1, "x has no non-missing values", id="all-nan"),
        pytest.param([None], 0, 1, "x has no non-missing values", id="all-None"),
        pytest.param(["a", "b"], 0, 1, "x must be numeric", id="strings"),
        pytest.param([1, None, "b"], 0, 1, "x must contain only numbers", id="mixed-objects"),
        pytest.param([1.0], NAN, 1, "low must not be NaN", id="nan-low"),
        pytest.param([1.0], 0, "9", "high must be a real number or None", id="string-high"),
        pytest.param(5.0, 0, 1, "x must be a sequence or array", id="scalar"),
    ],
)
def test_out_of_range_rate_rejects_bad_input_naming_the_argument(
    x: Any, low: Any, high: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^out_of_range_rate: {message}"):
        out_of_range_rate(x, low, high)


# ---------------------------------------------------------------------------
# duplicate_rate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(["a", "a", "b"], 1 / 3, id="strings-a-a-b"),
        pytest.param([7, 7, 7], 2 / 3, id="first-occurrence-not-counted"),
        pytest.param([1, 2, 3], 0.0, id="no-duplicates"),
        pytest.param([[1, 2], [1, 2], [2, 1]], 1 / 3, id="2d-list-order-matters"),
        pytest.param(np.array([[1, 2], [1, 2], [2, 1], [1, 2]]), 0.5, id="2d-int-array"),
        pytest.param(np.array([[1.0, NAN], [1.0, NAN], [1.0, 2.0]]), 1 / 3, id="nan-equals-nan"),
        pytest.param(np.array([[-0.0, 1.0], [0.0, 1.0]]), 0.5, id="minus-zero-equals-zero"),
        pytest.param([NAN, NAN, None, None], 0.5, id="1d-missing-values"),
        pytest.param([(1, "x"), (1, "x"), ("x", 1)], 1 / 3, id="tuples"),
        pytest.param([[1, 2], [1, 2], [3]], 1 / 3, id="ragged-rows"),
        pytest.param([(1, "x"), [1, "x"]], 0.5, id="list-equals-tuple"),
        pytest.param([(1, "x"), ("1", "x")], 0.0, id="int-is-not-its-string"),
        pytest.param(np.array([[1 + 0j, NAN + 1j], [1 + 0j, NAN + 1j]]), 0.5, id="complex"),
        pytest.param(np.array([[True], [True]]), 0.5, id="bool"),
        pytest.param(iter([1, 1]), 0.5, id="iterator"),
    ],
)
def test_duplicate_rate_counts_rows_repeating_an_earlier_row(rows: Any, expected: float) -> None:
    assert duplicate_rate(rows) == pytest.approx(expected, abs=1e-15)


def test_duplicate_rate_returns_a_builtin_float() -> None:
    assert type(duplicate_rate(np.array([1, 1]))) is float


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        pytest.param([], "rows is empty", id="empty-list"),
        pytest.param(np.empty((0, 2)), "rows is empty", id="empty-array"),
        pytest.param("aab", "rows must be a sequence or array, got a string", id="string"),
        pytest.param(3, "rows must be a sequence or array", id="scalar"),
        pytest.param(np.zeros((2, 2, 2)), "rows must be 1-D or 2-D", id="3d"),
        pytest.param([{"a": 1}, {"a": 1}], "row 0 \\(dict\\) is not hashable", id="dicts"),
    ],
)
def test_duplicate_rate_rejects_bad_input_naming_the_argument(rows: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^duplicate_rate: {message}"):
        duplicate_rate(rows)


def _brute_force_duplicate_rate(rows: list[list[float]]) -> float:
    def same(a: list[float], b: list[float]) -> bool:
        return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))

    dupes = sum(any(same(rows[i], rows[j]) for j in range(i)) for i in range(len(rows)))
    return dupes / len(rows)


@PROPERTY_SETTINGS
@given(
    st.integers(1, 3).flatmap(
        lambda width: st.lists(
            st.lists(
                st.sampled_from([0.0, -0.0, 1.0, 2.5, NAN, -NAN]),
                min_size=width,
                max_size=width,
            ),
            min_size=1,
            max_size=12,
        )
    )
)
def test_duplicate_rate_numeric_and_object_paths_agree_with_brute_force(
    rows: list[list[float]],
) -> None:
    expected = _brute_force_duplicate_rate(rows)
    assert duplicate_rate(np.array(rows)) == pytest.approx(expected, abs=1e-15)
    assert duplicate_rate(np.array(rows, dtype=object)) == pytest.approx(expected, abs=1e-15)


# ---------------------------------------------------------------------------
# psi
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param([1.0, 2.0, 3.0, 4.0, 5.0], id="float-list"),
        pytest.param(list(range(20)), id="int-list"),
        pytest.param(np.random.default_rng(0).integers(0, 4, 200), id="int-array-with-ties"),
        pytest.param(_normal(1, 500), id="float-array"),
        pytest.param(np.full(10, 3.5), id="constant"),
        pytest.param([2.0], id="single-value"),
    ],
)
def test_identical_samples_have_zero_psi_and_zero_js_distance(sample: Any) -> None:
    assert psi(sample, sample) == 0.0
    assert js_distance(sample, sample) == 0.0


def test_psi_matches_a_hand_computation_on_four_quartile_bins() -> None:
    # reference = 0..99; its quartiles (linear interpolation) are 24.75, 49.5
    # and 74.25, so each of the 4 bins holds 25 values: r = (.25, .25, .25, .25).
    # current puts 10, 20, 30 and 40 of its 100 values in those bins:
    # c = (.10, .20, .30, .40).
    #   (.10 - .25) * ln(.10 / .25) = -.15 * -0.916291 = 0.137444
    #   (.20 - .25) * ln(.20 / .25) = -.05 * -0.223144 = 0.011157
    #   (.30 - .25) * ln(.30 / .25) =  .05 *  0.182322 = 0.009116
    #   (.40 - .25) * ln(.40 / .25) =  .15 *  0.470004 = 0.070501
    #   PSI                                              = 0.228217
    # The 1e-4 smoothing leaves r unchanged ((.25 + 1e-4) / 1.0004 = .25) and
    # moves each c_i by less than 1e-4, shifting PSI by about 2e-4, hence the
    # tolerance.
    reference = np.arange(100)
    current = [0] * 10 + [30] * 20 + [60] * 30 + [90] * 40
    assert psi(reference, current, bins=4) == pytest.approx(0.228217, abs=5e-4)
    assert quality._psi_from_shares([0.25] * 4, [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.228217, abs=5e-4)


@pytest.mark.parametrize(
    ("r", "c"),
    [
        ([0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]),
        ([0.5, 0.5, 0.0], [0.0, 0.2, 0.8]),
        ([1.0, 0.0], [0.0, 1.0]),
        ([0.1] * 10, [0.05] * 10 + []),
    ],
)
def test_psi_of_shares_is_symmetric_in_reference_and_current(r: list[float], c: list[float]) -> None:
    assert quality._psi_from_shares(r, c) == pytest.approx(quality._psi_from_shares(c, r), rel=1e-12)


@PROPERTY_SETTINGS
@given(
    st.integers(2, 12).flatmap(
        lambda k: st.tuples(
            st.lists(st.integers(0, 50), min_size=k, max_size=k).filter(any),
            st.lists(st.integers(0, 50), min_size=k, max_size=k).filter(any),
        )
    )
)
def test_psi_of_any_two_share_vectors_is_symmetric_and_non_negative(
    counts: tuple[list[int], list[int]],
) -> None:
    r = np.array(counts[0]) / sum(counts[0])
    c = np.array(counts[1]) / sum(counts[1])
    forward = quality._psi_from_shares(r, c)
    assert forward >= 0.0
    assert forward == pytest.approx(quality._psi_from_shares(c, r), rel=1e-12, abs=1e-15)


def test_one_standard_deviation_mean_shift_gives_psi_well_above_the_alarm_level() -> None:
    # Rule of thumb: PSI > 0.25 is a significant shift. A 1-sigma shift of a
    # normal is a large one (about 0.95 at 10 bins); fresh draws from the same
    # normal are far below the 0.1 "stable" level.
    reference = _normal(11, 5000)
    assert psi(reference, _normal(12, 5000, loc=1.0)) > 0.5
    assert psi(reference, _normal(13, 5000)) < 0.1


def test_psi_grows_with_the_size_of_the_shift() -> None:
    reference = _normal(21, 4000)
    values = [psi(reference, _normal(22, 4000, loc=shift)) for shift in (0.0, 0.25, 0.5, 1.0)]
    assert values == sorted(values)


def test_psi_gives_an_empty_bin_the_documented_epsilon_treatment() -> None:
    # Constant reference 5 -> bins (x < 5, x == 5, x > 5). reference shares
    # (0, 1, 0), current (all 3.0) shares (1, 0, 0). After smoothing,
    # s' = (s + eps) / (1 + 3 eps), the two non-empty bins contribute
    # (1 + eps - eps) / (1 + 3 eps) * ln((1 + eps) / eps) each.
    eps = PSI_EPSILON
    one_bin = (1.0 / (1 + 3 * eps)) * math.log((1 + eps) / eps)
    value = psi([5.0] * 8, [3.0] * 8)
    assert value == pytest.approx(2 * one_bin, rel=1e-12)
    assert math.isfinite(value) and value > 10


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        pytest.param([0.0, 1.0, 2.0, 3.0], [100.0, 101.0], id="current-above"),
        pytest.param(list(range(50)), [-1000, -999], id="current-below-ints"),
        pytest.param([4] * 10, [9] * 10, id="constant-up"),
        pytest.param(np.full(10, 4.0), np.full(3, -9.0), id="constant-down"),
    ],
)
def test_psi_of_disjoint_supports_is_large_and_finite(reference: Any, current: Any) -> None:
    value = psi(reference, current)
    assert math.isfinite(value)
    assert value > 2.0


def test_constant_reference_puts_current_values_equal_to_it_in_its_bin() -> None:
    ref_share, cur_share = quality._binned_shares([2, 2, 2], [1, 2, 2, 3], 10, "psi")
    assert ref_share.tolist() == [0.0, 1.0, 0.0]
    assert cur_share.tolist() == [0.25, 0.5, 0.25]


def test_tied_quantile_edges_are_merged_into_fewer_bins() -> None:
    # 90 zeros: the first nine deciles are all 0 and collapse to a single
    # edge; only the 0.9 decile (0.1 by interpolation) survives beside it.
    reference = np.array([0] * 90 + list(range(1, 11)), dtype=float)
    edges = quality._reference_edges(reference, 10)
    assert np.all(np.diff(edges) > 0)
    assert edges.tolist() == pytest.approx([0.0, 0.1])
    ref_share, _cur_share = quality._binned_shares(reference, reference, 10, "psi")
    assert ref_share.tolist() == pytest.approx([0.9, 0.0, 0.1])
    assert psi(reference, reference) == 0.0


def test_reference_edges_are_numpy_default_quantiles() -> None:
    sample = _normal(31, 257)
    expected = np.quantile(sample, np.arange(1, 10) / 10)
    np.testing.assert_allclose(quality._reference_edges(np.sort(sample), 10), expected, rtol=1e-12)


def test_reference_edges_do_not_overflow_near_the_float_limit() -> None:
    edges = quality._reference_edges(np.array([-1.7e308, 1.7e308]), 2)
    assert edges.tolist() == [0.0]


def test_psi_is_the_same_for_integer_float_list_and_array_inputs() -> None:
    ints = np.random.default_rng(41).integers(0, 30, 300)
    other = np.random.default_rng(42).integers(5, 35, 200)
    expected = psi(ints, other)
    assert psi(ints.astype(float), other.astype(float)) == expected
    assert psi(ints.tolist(), other.tolist()) == expected
    assert psi(ints.astype(np.int32), other) == expected


def test_psi_drops_missing_values_before_binning() -> None:
    reference = _normal(51, 300)
    current = _normal(52, 300, loc=0.3)
    with_gaps = np.concatenate([reference, [NAN] * 40])
    assert psi(with_gaps, list(current) + [None]) == psi(reference, current)


def test_psi_puts_infinite_current_values_in_the_outer_bins() -> None:
    reference = list(range(10))
    assert math.isfinite(psi(reference, [float("-inf"), float("inf"), 3.0]))


def test_psi_returns_a_builtin_float() -> None:
    assert type(psi(np.arange(10), np.arange(10) + 1)) is float


@pytest.mark.parametrize("func", [psi, js_distance], ids=["psi", "js_distance"])
@pytest.mark.parametrize(
    "bins",
    [1, 0, -3, 2.5, 10.0, "10", None, True],
    ids=["one", "zero", "negative", "fraction", "float", "string", "None", "bool"],
)
def test_binned_metrics_reject_bins_that_are_not_integers_of_at_least_two(func: Any, bins: Any) -> None:
    with pytest.raises(ValueError, match=f"^{func.__name__}: bins must be an integer >= 2, got"):
        func([1.0, 2.0, 3.0], [1.0, 2.0], bins=bins)


def test_binned_metrics_message_shows_the_rejected_bins_value() -> None:
    with pytest.raises(ValueError, match="^psi: bins must be an integer >= 2, got 1$"):
        psi([1.0, 2.0], [1.0], bins=1)


def test_binned_metrics_accept_numpy_integer_bins() -> None:
    assert psi([1, 2, 3, 4], [1, 2, 3, 4], bins=np.int64(2)) == 0.0


BAD_SAMPLES = [
    pytest.param([], "is empty", id="empty-list"),
    pytest.param(np.array([], dtype=float), "is empty", id="empty-array"),
    pytest.param([NAN, NAN], "has no non-missing values", id="all-nan"),
    pytest.param([None, None], "has no non-missing values", id="all-None"),
    pytest.param(["a", "b"], "must be numeric", id="strings"),
    pytest.param([1.0, None, "b"], "must contain only numbers", id="mixed-objects"),
    pytest.param([[1.0, 2.0]], "must be one-dimensional", id="2d"),
    pytest.param(1.0, "must be a sequence or array", id="scalar"),
    pytest.param("12", "must be a sequence or array", id="string"),
]


@pytest.mark.parametrize("func", [psi, js_distance, ks_statistic], ids=lambda f: f.__name__)
@pytest.mark.parametrize("side", ["reference", "current"])
@pytest.mark.parametrize(("bad", "message"), BAD_SAMPLES)
def test_distribution_metrics_reject_bad_samples_naming_the_argument(
    func: Any, side: str, bad: Any, message: str
) -> None:
    good = [1.0, 2.0, 3.0]
    args = (bad, good) if side == "reference" else (good, bad)
    with pytest.raises(ValueError, match=f"^{func.__name__}: {side} {message}"):
        func(*args)


@pytest.mark.parametrize("func", [psi, js_distance], ids=["psi", "js_distance"])
def test_binned_metrics_reject_an_infinite_reference(func: Any) -> None:
    with pytest.raises(ValueError, match=f"^{func.__name__}: reference contains infinite"):
        func([1.0, float("inf")], [1.0])


# ---------------------------------------------------------------------------
# js_distance
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "current", "bins"),
    [
        pytest.param(_normal(61, 400), _normal(62, 300, loc=0.4), 10, id="normal-shift"),
        pytest.param(_normal(63, 1000), _normal(64, 50, loc=-1.0), 5, id="small-current"),
        pytest.param(
            np.random.default_rng(65).integers(0, 6, 300),
            np.random.default_rng(66).integers(2, 9, 300),
            20,
            id="int-ties",
        ),
        pytest.param(list(range(100)), [150, 200, 250], 4, id="current-in-top-bin"),
    ],
)
def test_js_distance_matches_scipy_on_the_binned_shares(reference: Any, current: Any, bins: int) -> None:
    p, q = quality._binned_shares(reference, current, bins, "js_distance")
    expected = float(jensenshannon(p, q, base=2))
    assert js_distance(reference, current, bins=bins) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("reference", "current", "bins"),
    [
        pytest.param([5.0] * 10, [6.0] * 4, 10, id="constant-vs-larger-constant"),
        pytest.param([5] * 10, [1, 2, 3], 10, id="constant-vs-smaller-ints"),
        # Quartile edges of five 0s and five 1s are 0, 0.5, 1: the bins
        # (0, 0.5] and (1, inf) hold no reference mass, so values above 1
        # share no bin with the reference.
        pytest.param([0] * 5 + [1] * 5, [2.0, 7.0, 9.0], 4, id="tied-reference"),
    ],
)
def test_js_distance_is_one_when_all_mass_is_in_disjoint_bins(
    reference: Any, current: Any, bins: int
) -> None:
    assert js_distance(reference, current, bins=bins) == pytest.approx(1.0, abs=1e-12)


def test_js_distance_of_shares_treats_zero_times_log_zero_as_zero() -> None:
    assert quality._js_from_shares([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0, abs=1e-12)
    assert quality._js_from_shares([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0


def test_js_distance_lies_strictly_between_zero_and_one_for_partial_overlap() -> None:
    value = js_distance(_normal(71, 500), _normal(72, 500, loc=1.0))
    assert 0.0 < value < 1.0
    assert type(value) is float


# ---------------------------------------------------------------------------
# ks_statistic
# ---------------------------------------------------------------------------

KS_SAMPLES = [
    pytest.param(_normal(81, 100), _normal(82, 80, loc=0.3), id="floats"),
    pytest.param(
        np.random.default_rng(83).integers(0, 5, 60),
        np.random.default_rng(84).integers(0, 7, 45),
        id="int-ties",
    ),
    pytest.param(
        np.random.default_rng(85).integers(0, 3, 500).astype(np.int8),
        np.random.default_rng(86).integers(1, 3, 7).astype(np.uint16),
        id="mixed-int-dtypes",
    ),
    pytest.param(np.round(_normal(87, 200), 1), np.round(_normal(88, 300, loc=0.1), 1), id="float-ties"),
    pytest.param([1, 2, 2, 3, 3, 3], [3.0, 3.0, 4.0], id="lists-int-vs-float"),
    pytest.param([1.0], [2.0], id="single-values"),
    pytest.param([2**62, 2**62 + 1, 2**62 + 2], [2**62 + 1], id="large-int64"),
    pytest.param(np.arange(1000), np.arange(500, 1500), id="half-overlap"),
]


# scipy's asymp p-value divides by round(n*m/(n+m)), which is 0 for 1 vs 1.
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize(("reference", "current"), KS_SAMPLES)
def test_ks_statistic_d_matches_scipy_exactly(reference: Any, current: Any) -> None:
    d, _ = ks_statistic(reference, current)
    expected = stats.ks_2samp(reference, current, method="asymp").statistic
    assert d == pytest.approx(float(expected), abs=1e-12)


@pytest.mark.parametrize(("reference", "current"), KS_SAMPLES)
def test_ks_statistic_is_symmetric_in_its_samples(reference: Any, current: Any) -> None:
    assert ks_statistic(reference, current)[0] == ks_statistic(current, reference)[0]


@pytest.mark.parametrize(
    ("n", "m"),
    [(10, 10), (12, 40), (50, 50), (37, 91), (100, 100), (100, 1000), (500, 300), (2000, 1500)],
)
@pytest.mark.parametrize("shift", [0.0, 0.3, 0.8])
def test_ks_p_value_is_within_the_documented_tolerance_of_scipy_asymp(n: int, m: int, shift: float) -> None:
    # scipy's asymp p-value is the exact one-sample KS distribution at
    # round(n*m/(n+m)); ours is Stephens' corrected asymptotic formula. Over a
    # dense grid of sizes and D the gap stays below 0.16/sqrt(en) for en >= 5
    # (en = n*m/(n+m)); the documented 0.2/sqrt(en) leaves headroom.
    reference = _normal(90 + n, n)
    current = _normal(91 + m, m, loc=shift)
    en = n * m / (n + m)
    _, p = ks_statistic(reference, current)
    expected = float(stats.ks_2samp(reference, current, method="asymp").pvalue)
    assert abs(p - expected) <= 0.2 / math.sqrt(en)


def test_ks_p_value_decision_at_five_percent_agrees_with_scipy_for_large_samples() -> None:
    size = 3000
    tolerance = 0.2 / math.sqrt(size / 2)
    decisions: list[bool] = []
    for seed, shift in enumerate([0.0, 0.02, 0.04, 0.06, 0.08, 0.12, 0.2] * 2):
        reference = _normal(200 + seed, size)
        current = _normal(300 + seed, size, loc=shift)
        _, p = ks_statistic(reference, current)
        expected = float(stats.ks_2samp(reference, current, method="asymp").pvalue)
        if abs(expected - 0.05) <= tolerance:
            continue  # too close to call under the documented tolerance
        assert (p < 0.05) == (expected < 0.05)
        decisions.append(expected < 0.05)
    # The table must exercise both outcomes, or the check proves little.
    assert any(decisions) and not all(decisions)


@pytest.mark.parametrize("lam", [0.05, 0.3, 0.5, 0.8, 0.99, 1.0, 1.01, 1.36, 1.63, 2.0, 3.0, 5.0])
def test_kolmogorov_tail_matches_scipy_kstwobign(lam: float) -> None:
    assert quality._kolmogorov_sf(lam) == pytest.approx(float(stats.kstwobign.sf(lam)), rel=1e-10, abs=1e-15)


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param(_normal(101, 50), id="floats"),
        pytest.param([3, 1, 2, 2], id="int-list"),
        pytest.param(np.full(7, -2.0), id="constant"),
    ],
)
def test_identical_samples_have_zero_ks_d_and_p_value_one(sample: Any) -> None:
    assert ks_statistic(sample, sample) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        pytest.param([0.0, 1.0, 2.0], [3.0, 4.0], id="floats"),
        pytest.param(np.arange(100), np.arange(100) + 1000, id="int-arrays"),
        pytest.param([7] * 30, [8] * 30, id="constants"),
    ],
)
def test_disjoint_supports_have_ks_d_of_one(reference: Any, current: Any) -> None:
    d, p = ks_statistic(reference, current)
    assert d == 1.0
    assert 0.0 <= p <= 1.0


def test_disjoint_moderate_samples_have_a_tiny_ks_p_value() -> None:
    _, p = ks_statistic(np.arange(100), np.arange(100) + 1000)
    assert p < 1e-10


def test_ks_statistic_returns_builtin_floats() -> None:
    d, p = ks_statistic(np.arange(10), np.arange(5, 15))
    assert type(d) is float and type(p) is float


def test_ks_statistic_drops_missing_values() -> None:
    reference = [1.0, 2.0, NAN, 3.0]
    current = np.array([2.0, NAN, 4.0])
    assert ks_statistic(reference, current) == ks_statistic([1.0, 2.0, 3.0], [2.0, 4.0])


# ---------------------------------------------------------------------------
# category_psi
# ---------------------------------------------------------------------------


def test_category_psi_matches_a_hand_computation() -> None:
    # reference: 50 "a", 30 "b", 20 "c" -> r = (.5, .3, .2)
    # current:   40 "a", 30 "b", 30 "c" -> c = (.4, .3, .3)
    #   (.4 - .5) * ln(.4 / .5) = -.1 * -0.223144 = 0.022314
    #   (.3 - .3) * ln(.3 / .3) =  0                = 0
    #   (.3 - .2) * ln(.3 / .2) =  .1 *  0.405465 = 0.040547
    #   PSI                                         = 0.062861
    # Epsilon smoothing (1e-4) moves this by about 4e-5.
    reference = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    current = ["c"] * 30 + ["a"] * 40 + ["b"] * 30
    assert category_psi(reference, current) == pytest.approx(0.062861, abs=1e-4)


def test_category_seen_in_one_sample_only_gets_the_epsilon_treatment() -> None:
    # "d" is new: shares r = (1/2, 1/2, 0), c = (1/2, 1/4, 1/4). Only the
    # last two categories differ; smoothing s' = (s + eps) / (1 + 3 eps).
    eps = PSI_EPSILON

    def smooth(s: float) -> float:
        return (s + eps) / (1 + 3 * eps)

    expected = sum(
        (smooth(c) - smooth(r)) * math.log(smooth(c) / smooth(r))
        for r, c in [(0.5, 0.5), (0.5, 0.25), (0.0, 0.25)]
    )
    value = category_psi(["x", "y"], ["x", "x", "y", "d"])
    assert value == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(value) and value > 1.0


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param(["a", "b", "b"], id="strings"),
        pytest.param(np.array(["a", "b", "b"]), id="numpy-strings"),
        pytest.param([1, 2, 2, 3], id="ints"),
        pytest.param([None, "a", NAN, float("nan")], id="missing-categories"),
        pytest.param([(1, 2), (1, 2), (3,)], id="tuples"),
    ],
)
def test_identical_category_samples_have_zero_category_psi(sample: Any) -> None:
    assert category_psi(sample, list(sample)) == 0.0


def test_category_psi_is_the_same_for_lists_and_numpy_arrays() -> None:
    reference = ["x"] * 5 + ["y"] * 3
    current = ["x"] * 2 + ["z"] * 2
    assert category_psi(np.array(reference), np.array(current)) == category_psi(reference, current)
    assert type(category_psi(reference, current)) is float


def test_category_psi_of_disjoint_categories_is_large_and_finite() -> None:
    value = category_psi(["a"] * 10, ["b"] * 10)
    assert math.isfinite(value) and value > 10


@pytest.mark.parametrize("side", ["reference", "current"])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param([], " is empty", id="empty"),
        pytest.param("abc", " must be a sequence of categories, got a string", id="string"),
        pytest.param(5, " must be a sequence of categories", id="scalar"),
        pytest.param(np.array([["a"], ["b"]]), " must be one-dimensional", id="2d"),
        pytest.param([["a"], ["b"]], r"\[0\] \(list\) is not hashable", id="unhashable"),
    ],
)
def test_category_psi_rejects_bad_input_naming_the_argument(side: str, bad: Any, message: str) -> None:
    good = ["a", "b"]
    args = (bad, good) if side == "reference" else (good, bad)
    # `message` carries its own separator: " is empty" vs "[0] (list) ...".
    with pytest.raises(ValueError, match=f"^category_psi: {side}{message}"):
        category_psi(*args)


# ---------------------------------------------------------------------------
# Properties over arbitrary input
# ---------------------------------------------------------------------------

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
finite_samples = st.one_of(
    st.lists(finite_floats, min_size=1, max_size=40),
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=40),
)


@PROPERTY_SETTINGS
@given(finite_samples, finite_samples, st.integers(2, 20))
def test_psi_is_non_negative_and_js_distance_lies_in_the_unit_interval(
    reference: list[float], current: list[float], bins: int
) -> None:
    value = psi(reference, current, bins=bins)
    assert math.isfinite(value) and value >= 0.0
    assert 0.0 <= js_distance(reference, current, bins=bins) <= 1.0


@PROPERTY_SETTINGS
@given(finite_samples, finite_samples)
def test_ks_d_and_p_value_lie_in_the_unit_interval(reference: list[float], current: list[float]) -> None:
    d, p = ks_statistic(np.array(reference), current)
    assert 0.0 <= d <= 1.0
    assert 0.0 <= p <= 1.0


@PROPERTY_SETTINGS
@given(finite_samples)
def test_any_finite_sample_compared_with_itself_shows_no_drift(sample: list[float]) -> None:
    assert psi(sample, sample) == 0.0
    assert js_distance(sample, sample) == 0.0
    assert ks_statistic(sample, sample) == (0.0, 1.0)


junk_scalars = st.one_of(
    st.floats(),
    st.integers(-(2**70), 2**70),
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.complex_numbers(max_magnitude=10),
)
junk = st.one_of(
    junk_scalars,
    st.lists(junk_scalars, max_size=6),
    st.lists(st.lists(junk_scalars, max_size=3), max_size=4),
    st.lists(st.floats(), max_size=6).map(np.array),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6).map(np.array),
    st.lists(junk_scalars, max_size=6).map(lambda v: np.array(v, dtype=object)),
    st.lists(st.text(max_size=2), max_size=4).map(np.array),
    st.lists(st.floats(width=32), min_size=1, max_size=6).map(
        lambda v: np.array(v, dtype=np.float32).reshape(-1, 1)
    ),
    st.dictionaries(st.text(max_size=2), junk_scalars, max_size=3),
)
junk_bins = st.one_of(st.integers(-3, 30), st.floats(), st.none(), st.text(max_size=2))


@pytest.mark.filterwarnings("error")
@PROPERTY_SETTINGS
@given(junk, junk, junk, junk_bins)
def test_metrics_raise_nothing_but_value_error_on_arbitrary_input(a: Any, b: Any, c: Any, bins: Any) -> None:
    calls = [
        lambda: missing_rate(a),
        lambda: out_of_range_rate(a, b, c),
        lambda: out_of_range_rate(a, None, None),
        lambda: duplicate_rate(a),
        lambda: psi(a, b, bins=bins),
        lambda: js_distance(a, b, bins=bins),
        lambda: ks_statistic(a, b),
        lambda: category_psi(a, b),
    ]
    for call in calls:
        try:
            call()
        except ValueError:
            pass


# ---------------------------------------------------------------------------
# chi2_sf, category_drift and numeric_drift (the figures check_data records)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("df", [1, 2, 3, 7, 29, 120])
@pytest.mark.parametrize("x", [0.001, 0.5, 1.0, 4.0, 12.5, 40.0, 150.0, 600.0])
def test_chi2_sf_matches_scipy_to_relative_precision_deep_into_the_tail(df: int, x: float) -> None:
    # scipy.stats.chi2.sf is the independent oracle (Cephes' igamc); tails down to ~1e-120 included.
    expected = stats.chi2.sf(x, df)
    assert quality.chi2_sf(x, df) == pytest.approx(expected, rel=1e-10, abs=1e-300)


@pytest.mark.parametrize(
    ("x", "df", "expected"),
    [
        pytest.param(0.0, 1, 1.0, id="zero"),
        pytest.param(-3.0, 4, 1.0, id="negative"),
        pytest.param(math.inf, 4, 0.0, id="infinite"),
        # df = 2 is the exponential distribution: P(X > x) = exp(-x / 2).
        pytest.param(6.0, 2, math.exp(-3.0), id="df2-is-exponential"),
    ],
)
def test_chi2_sf_edges(x: float, df: int, expected: float) -> None:
    assert quality.chi2_sf(x, df) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    ("x", "df", "message"),
    [
        (1.0, 0, "chi2_sf: df must be an integer >= 1, got 0"),
        (1.0, 1.5, "chi2_sf: df must be an integer >= 1, got 1.5"),
        (1.0, True, "chi2_sf: df must be an integer >= 1, got True"),
        (NAN, 3, "chi2_sf: x must not be NaN"),
    ],
)
def test_chi2_sf_rejects_bad_arguments(x: Any, df: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        quality.chi2_sf(x, df)


def test_category_drift_is_pearsons_test_of_homogeneity_as_scipy_computes_it() -> None:
    rng = np.random.default_rng(7)
    reference = rng.choice(["a", "b", "c", "d"], size=400, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    current = rng.choice(["a", "b", "c", "d", "e"], size=250, p=[0.3, 0.3, 0.2, 0.15, 0.05]).tolist()
    found = quality.category_drift(reference, current)
    table = np.array([found.reference_counts, found.current_counts])
    statistic, p_value, df, _ = stats.chi2_contingency(table, correction=False)
    assert set(found.categories) == set("abcde")
    assert table.sum() == 650 and found.df == df == 4
    assert found.chi2 == pytest.approx(statistic, rel=1e-12)
    assert found.chi2_p == pytest.approx(p_value, rel=1e-9)
    assert found.psi == category_psi(reference, current)
    ref_share = table[0] / table[0].sum()
    cur_share = table[1] / table[1].sum()
    assert found.js == pytest.approx(jensenshannon(ref_share, cur_share, base=2), abs=1e-12)


def test_category_drift_worked_example() -> None:
    # Reference 60 a / 40 b, current 40 a / 60 b: totals 100 a, 100 b, every expected count 50,
    # chi2 = 4 * (10^2 / 50) = 8 on 1 df, p = P(chi2_1 > 8) = erfc(sqrt(8 / 2)) = erfc(2) = 0.004677735.
    found = quality.category_drift(["a"] * 60 + ["b"] * 40, ["a"] * 40 + ["b"] * 60)
    assert found.chi2 == pytest.approx(8.0, rel=1e-12)
    assert found.chi2_p == pytest.approx(math.erfc(2.0), rel=1e-12)
    assert found.chi2_p == pytest.approx(0.004677735, rel=1e-6)


def test_category_drift_with_one_category_has_nothing_to_test() -> None:
    found = quality.category_drift(["x"] * 5, ["x"] * 9)
    assert (found.chi2, found.chi2_p, found.df, found.psi) == (0.0, 1.0, 0, 0.0)


def test_category_drift_needs_both_sample_sizes_not_only_shares() -> None:
    # The same 60/40 vs 40/60 shares: ten times the rows give ten times chi2 and a far smaller p.
    small = quality.category_drift(["a"] * 6 + ["b"] * 4, ["a"] * 4 + ["b"] * 6)
    large = quality.category_drift(["a"] * 600 + ["b"] * 400, ["a"] * 400 + ["b"] * 600)
    assert small.psi == pytest.approx(large.psi)
    assert small.chi2_p == pytest.approx(stats.chi2.sf(0.8, 1), rel=1e-10)  # 0.371
    assert large.chi2_p == pytest.approx(stats.chi2.sf(80.0, 1), rel=1e-9)  # 3.7e-19


@PROPERTY_SETTINGS
@given(
    reference=st.lists(st.integers(-20, 20), min_size=1, max_size=60),
    current=st.lists(st.integers(-25, 25), min_size=1, max_size=60),
    bins=st.integers(2, 12),
)
def test_numeric_drift_equals_the_single_figure_functions(reference, current, bins) -> None:
    found = quality.numeric_drift(reference, current, bins=bins)
    assert found.psi == psi(reference, current, bins=bins)
    assert found.js == js_distance(reference, current, bins=bins)
    assert (found.ks, found.ks_p) == ks_statistic(reference, current)
    assert (found.n_reference, found.n_current) == (len(reference), len(current))


def test_numeric_drift_ks_matches_scipy_on_continuous_samples() -> None:
    reference, current = _normal(3, 1_000), _normal(4, 800, loc=0.2)
    found = quality.numeric_drift(reference, current)
    assert found.ks == pytest.approx(stats.ks_2samp(reference, current).statistic, abs=1e-15)
    # Stephens' asymptotic p-value vs scipy's: within 0.2 / sqrt(n m / (n + m)) (see ks_statistic).
    assert found.ks_p == pytest.approx(stats.ks_2samp(reference, current, method="asymp").pvalue, abs=0.01)


def test_numeric_drift_puts_infinities_in_the_outer_bins_and_drops_nans() -> None:
    # Reference: 1..10 plus -inf and +inf; the edges come from 1..10 alone, so with bins=2 the one
    # interior edge is the median 5.5: bins (-inf, 5.5] and (5.5, inf) hold 6 and 6 of 12 values.
    reference = [-math.inf, *range(1, 11), math.inf, NAN]
    current = [1.0, 2.0, 3.0, math.inf, NAN, NAN]
    found = quality.numeric_drift(reference, current, bins=2)
    assert (found.n_reference, found.n_current) == (12, 4)
    # current: 3 of 4 below the edge, 1 above; PSI of (0.5, 0.5) vs (0.75, 0.25), smoothed by 1e-4.
    r = (np.array([0.5, 0.5]) + PSI_EPSILON) / (1 + 2 * PSI_EPSILON)
    c = (np.array([0.75, 0.25]) + PSI_EPSILON) / (1 + 2 * PSI_EPSILON)
    assert found.psi == pytest.approx(float(np.sum((c - r) * np.log(c / r))), rel=1e-12)
    assert found.ks == pytest.approx(stats.ks_2samp(reference[:-1], current[:4]).statistic)


def test_numeric_drift_needs_a_finite_reference_value() -> None:
    with pytest.raises(ValueError, match="^numeric_drift: reference has no finite values$"):
        quality.numeric_drift([math.inf, -math.inf], [1.0])


def test_numeric_drift_says_where_the_ks_gap_is_reached() -> None:
    # ECDFs of [1, 2, 3, 4] and [3, 4, 5, 6]: at x = 2 they are 0.5 and 0, the largest gap (also at x = 4
    # by symmetry, 1 vs 0.5); the first one found in the reference is reported.
    found = quality.numeric_drift([1, 2, 3, 4], [3, 4, 5, 6])
    assert found.ks == 0.5
    assert found.ks_at in (2.0, 4.0)


@PROPERTY_SETTINGS
@given(
    rows=st.lists(
        st.lists(st.sampled_from([0.0, -0.0, 1.0, 2.5, NAN, math.inf]), min_size=3, max_size=3),
        min_size=1,
        max_size=40,
    )
)
def test_duplicate_rate_of_wide_rows_counts_like_python_tuples(rows) -> None:
    # Three float64 columns (24 bytes a row) take the hashed path; the oracle is a set of tuples in
    # which every NaN is one key and -0.0 equals 0.0, as the function documents.
    keys = {tuple("nan" if math.isnan(v) else v for v in row) for row in rows}
    assert duplicate_rate(np.array(rows)) == (len(rows) - len(keys)) / len(rows)


def test_a_hash_collision_falls_back_to_comparing_whole_rows() -> None:
    words = np.array([[1, 2, 3], [1, 2, 3], [4, 5, 6]], dtype=np.uint64)
    assert quality._count_distinct_by_hash(words) == 2
    # Force a "collision": rows that differ but are presented as equal-hash neighbours.
    colliding = np.array([[7, 0, 0], [7, 0, 1]], dtype=np.uint64)
    hashes_equal = quality._count_distinct_by_hash(colliding)
    assert hashes_equal in (2, None)  # 2 when the hashes differ, None (fall back) if they ever collide
