"""Tests for pytest_metricgate.stats, pinned against hand calculations,
published worked examples and scipy as an independent implementation."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, norm

from pytest_metricgate import stats
from pytest_metricgate.stats import LevelShift

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def binomial_accuracy(rng: random.Random, p: float, n: int) -> float:
    """Accuracy on n examples with true rate p: successes / n.

    Successes come from the normal approximation to the binomial (de Moivre-
    Laplace), rounded to a whole count and clipped to [0, n]: summing n
    Bernoulli draws would be exact but ~10^4 times slower at n = 10 000, and at
    n >= 200 with p = 0.9 (n p (1 - p) >= 18) the approximation is close; the
    rounding keeps the discreteness of real accuracies (steps of 1 / n).
    """
    sd = math.sqrt(n * p * (1.0 - p))
    successes = min(n, max(0, round(rng.gauss(n * p, sd))))
    return successes / n


def accuracy_series(rng: random.Random, levels: Sequence[tuple[float, int]], n: int) -> list[float]:
    """Concatenated runs: for each (p, runs) pair, `runs` accuracies with true rate p."""
    return [binomial_accuracy(rng, p, n) for p, runs in levels for _ in range(runs)]


def indices(shifts: list[LevelShift]) -> list[int]:
    return [s.index for s in shifts]


# ---------------------------------------------------------------------------
# baseline
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "method", "higher_is_better", "expected"),
    [
        # last: the newest value, whatever the direction.
        ([0.80, 0.90, 0.85], "last", True, 0.85),
        ([0.80, 0.90, 0.85], "last", False, 0.85),
        # best: the maximum when higher is better, the minimum for a loss.
        ([0.80, 0.90, 0.85], "best", True, 0.90),
        ([0.30, 0.20, 0.25], "best", False, 0.20),
        # mean: (0.80 + 0.90 + 0.85) / 3 = 2.55 / 3 = 0.85.
        ([0.80, 0.90, 0.85], "mean", True, 0.85),
        # mean: (1 + 2 + 3 + 4) / 4 = 2.5.
        ([1.0, 2.0, 3.0, 4.0], "mean", False, 2.5),
        # median, odd count: sorted 0.80 0.85 0.90 -> 0.85.
        ([0.90, 0.80, 0.85], "median", True, 0.85),
        # median, even count: sorted 1 2 3 10 -> (2 + 3) / 2 = 2.5 (the mean would be 4).
        ([10.0, 1.0, 3.0, 2.0], "median", True, 2.5),
        # a single value is every baseline.
        ([0.7], "best", False, 0.7),
        ([0.7], "median", True, 0.7),
    ],
)
def test_baseline_matches_hand_computed_values(
    values: list[float], method: str, higher_is_better: bool, expected: float
) -> None:
    assert stats.baseline(values, method, higher_is_better) == pytest.approx(expected, rel=1e-12)


def test_baseline_methods_are_the_four_documented_names() -> None:
    assert stats.BASELINE_METHODS == ("last", "best", "mean", "median")


@pytest.mark.parametrize("method", stats.BASELINE_METHODS)
def test_every_baseline_method_accepts_any_non_empty_window(method: str) -> None:
    assert isinstance(stats.baseline([0.5, 0.25], method, True), float)


def test_baseline_rejects_an_unknown_method_an_empty_window_and_non_finite_values() -> None:
    with pytest.raises(ValueError):
        stats.baseline([0.9], "mode", True)
    with pytest.raises(ValueError):
        stats.baseline([], "last", True)
    with pytest.raises(ValueError):
        stats.baseline([0.9, math.nan], "mean", True)
    with pytest.raises(ValueError):
        stats.baseline([0.9, math.inf], "best", True)


def test_baseline_mean_and_median_do_not_overflow_near_the_float_limit() -> None:
    assert stats.baseline([1e308, 1e308], "mean", True) == 1e308
    assert stats.baseline([1e308, 1e308], "median", True) == 1e308


# ---------------------------------------------------------------------------
# z_for_confidence
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        # Standard two-sided normal table values (Abramowitz & Stegun 26.5;
        # scipy.stats.norm.ppf(0.975) prints 1.959963984540054).  NormalDist's
        # AS 241 gives these to within 1 ulp, hence rel=1e-14.
        (0.95, 1.959963984540054),
        (0.99, 2.5758293035489004),
        (0.90, 1.6448536269514722),
        # P(|Z| <= 1) = 0.6826894921370859 (the "68 %" of the 68-95-99.7 rule).
        (0.6826894921370859, 1.0),
    ],
)
def test_z_for_confidence_matches_normal_tables(confidence: float, expected: float) -> None:
    assert stats.z_for_confidence(confidence) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.975, 0.999, 0.999999])
def test_z_for_confidence_agrees_with_scipy(confidence: float) -> None:
    assert stats.z_for_confidence(confidence) == pytest.approx(norm.ppf(0.5 + confidence / 2), rel=1e-12)


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 1.5, math.nan])
def test_z_for_confidence_rejects_levels_outside_the_open_unit_interval(confidence: float) -> None:
    with pytest.raises(ValueError):
        stats.z_for_confidence(confidence)


# ---------------------------------------------------------------------------
# Wilson interval
# ---------------------------------------------------------------------------


def test_wilson_interval_reproduces_newcombe_1998_table_i() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, 81/263 at
    # 95 %, method 3 (score interval): 0.2553 to 0.3662.
    low, high = stats.wilson_interval(81 / 263, 263, 0.95)
    assert round(low, 4) == 0.2553
    assert round(high, 4) == 0.3662


def test_wilson_interval_for_zero_of_ten_is_zero_to_z_squared_over_ten_plus_z_squared() -> None:
    # At p = 0 the formula reduces to (0, z^2 / (n + z^2)):
    # 1.959964^2 = 3.841459, 3.841459 / 13.841459 = 0.2775 (the textbook
    # "0 of 10" example; the Wald interval would be the useless (0, 0)).
    z = 1.959963984540054
    low, high = stats.wilson_interval(0.0, 10, 0.95)
    assert low == 0.0
    assert high == pytest.approx(z * z / (10 + z * z), rel=1e-12)
    assert round(high, 4) == 0.2775


def test_wilson_interval_for_ten_of_ten_mirrors_zero_of_ten() -> None:
    low, high = stats.wilson_interval(1.0, 10, 0.95)
    assert high == 1.0
    assert low == pytest.approx(1 - 0.27753279986288915, rel=1e-12)


def test_wilson_interval_matches_the_hand_formula() -> None:
    # 45 of 50 at 95 %: centre = (0.9 + z^2/100) / (1 + z^2/50),
    # half = z / (1 + z^2/50) * sqrt(0.9 * 0.1 / 50 + z^2 / 10000).
    z = 1.959963984540054
    p, n = 0.9, 50
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = stats.wilson_interval(p, n, 0.95)
    assert low == pytest.approx(centre - half, rel=1e-12)
    assert high == pytest.approx(centre + half, rel=1e-12)
    assert stats.wilson_half_width(p, n, 0.95) == pytest.approx(half, rel=1e-12)


@pytest.mark.parametrize(
    ("k", "n", "confidence"),
    [
        (0, 1, 0.95),
        (1, 1, 0.95),
        (0, 10, 0.95),
        (3, 10, 0.90),
        (81, 263, 0.95),
        (180, 200, 0.95),
        (900, 1000, 0.99),
        (999, 1000, 0.95),
        (5000, 10000, 0.5),
        (9712, 10000, 0.999),
        (1, 1_000_000, 0.95),
    ],
)
def test_wilson_interval_agrees_with_scipy_binomtest(k: int, n: int, confidence: float) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = stats.wilson_interval(k / n, n, confidence)
    assert low == pytest.approx(expected.low, rel=1e-9, abs=1e-15)
    assert high == pytest.approx(expected.high, rel=1e-9, abs=1e-15)


def test_wilson_half_width_is_half_the_interval_width() -> None:
    low, high = stats.wilson_interval(0.73, 120, 0.9)
    assert stats.wilson_half_width(0.73, 120, 0.9) == (high - low) / 2


@pytest.mark.parametrize(
    ("proportion", "n", "confidence"),
    [(-0.1, 10, 0.95), (1.1, 10, 0.95), (math.nan, 10, 0.95), (0.5, 0, 0.95), (0.5, 10, 1.0)],
)
def test_wilson_interval_rejects_invalid_inputs(proportion: float, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        stats.wilson_interval(proportion, n, confidence)
    with pytest.raises(ValueError):
        stats.wilson_half_width(proportion, n, confidence)


def test_wilson_interval_rejects_a_fractional_number_of_trials() -> None:
    with pytest.raises(TypeError):
        stats.wilson_interval(0.5, 10.5, 0.95)  # type: ignore[arg-type]


proportions = st.floats(min_value=0.0, max_value=1.0)
trial_counts = st.integers(min_value=1, max_value=10**9)
confidences = st.floats(min_value=0.01, max_value=0.9999)


@given(proportions, trial_counts, confidences)
def test_wilson_interval_contains_the_proportion_and_lies_in_the_unit_interval(
    p: float, n: int, confidence: float
) -> None:
    low, high = stats.wilson_interval(p, n, confidence)
    assert 0.0 <= low <= p <= high <= 1.0


@given(
    proportions,
    st.integers(min_value=1, max_value=10**7),
    st.integers(min_value=2, max_value=100),
    confidences,
)
def test_wilson_interval_narrows_as_n_grows(p: float, n: int, factor: int, confidence: float) -> None:
    # Strictly decreasing in n (see n_for_half_width); a factor >= 2 keeps the
    # difference far above rounding.
    assert stats.wilson_half_width(p, n * factor, confidence) < stats.wilson_half_width(p, n, confidence)


# ---------------------------------------------------------------------------
# n_for_half_width
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "half_width", "confidence"),
    [
        (0.9, 0.011, 0.95),
        (0.5, 0.05, 0.95),
        (0.5, 0.01, 0.99),
        (0.99, 0.001, 0.95),
        (0.0, 0.01, 0.95),
        (1.0, 0.02, 0.9),
        (0.3, 0.2, 0.8),
        (0.75, 1e-4, 0.95),
    ],
)
def test_n_for_half_width_returns_the_smallest_sufficient_n(
    p: float, half_width: float, confidence: float
) -> None:
    n = stats.n_for_half_width(p, half_width, confidence)
    assert n >= 1
    assert stats.wilson_half_width(p, n, confidence) <= half_width
    if n > 1:
        assert stats.wilson_half_width(p, n - 1, confidence) > half_width


def test_n_for_half_width_is_close_to_the_normal_approximation_for_accuracy_090() -> None:
    # Normal approximation: n = z^2 p (1 - p) / w^2 = 3.8415 * 0.09 / 0.011^2
    # = 2857.3.  Wilson's interval is slightly wider at the same n (its z^2
    # terms), so it needs a few more: 2861, within 0.2 % -- assert 1 %.
    approx = 1.959963984540054**2 * 0.9 * 0.1 / 0.011**2
    n = stats.n_for_half_width(0.9, 0.011, 0.95)
    assert n == pytest.approx(approx, rel=0.01)
    assert n >= math.ceil(approx)


def test_n_for_half_width_handles_a_tiny_target_quickly_and_exactly() -> None:
    # About 3.5e11 trials; the doubling-plus-bisection needs ~80 evaluations.
    n = stats.n_for_half_width(0.9, 1e-6, 0.95)
    assert n > 10**11
    assert stats.wilson_half_width(0.9, n, 0.95) <= 1e-6 < stats.wilson_half_width(0.9, n - 1, 0.95)


def test_n_for_half_width_is_one_when_a_single_trial_suffices() -> None:
    assert stats.n_for_half_width(0.5, 0.5, 0.95) == 1
    assert stats.n_for_half_width(0.5, math.inf, 0.95) == 1


@pytest.mark.parametrize("half_width", [0.0, -0.01, math.nan])
def test_n_for_half_width_rejects_a_non_positive_target(half_width: float) -> None:
    with pytest.raises(ValueError):
        stats.n_for_half_width(0.9, half_width, 0.95)


# ---------------------------------------------------------------------------
# mean_and_sample_sd
# ---------------------------------------------------------------------------


def test_mean_and_sample_sd_of_the_textbook_example() -> None:
    # 2 4 4 4 5 5 7 9: mean 40 / 8 = 5; squared deviations 9 1 1 1 0 0 4 16
    # sum to 32; the sample sd is sqrt(32 / 7) = 2.1381 (the population sd
    # would be sqrt(32 / 8) = 2).
    mean, sd = stats.mean_and_sample_sd([2, 4, 4, 4, 5, 5, 7, 9])
    assert mean == 5.0
    assert sd == pytest.approx(math.sqrt(32 / 7), rel=1e-15)


def test_mean_and_sample_sd_agrees_with_the_statistics_module() -> None:
    rng = random.Random(7)
    values = [rng.gauss(0.9, 0.01) for _ in range(50)]
    mean, sd = stats.mean_and_sample_sd(values)
    assert mean == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert sd == pytest.approx(statistics.stdev(values), rel=1e-12)


def test_mean_and_sample_sd_is_accurate_for_a_large_offset() -> None:
    # The naive one-pass sum(x^2) - n mean^2 loses every digit here.
    mean, sd = stats.mean_and_sample_sd([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16])
    assert mean == 1e9 + 10
    assert sd == pytest.approx(math.sqrt(90 / 3), rel=1e-12)


def test_mean_and_sample_sd_of_a_constant_is_zero_and_huge_values_stay_finite() -> None:
    assert stats.mean_and_sample_sd([0.9, 0.9, 0.9]) == (0.9, 0.0)
    mean, sd = stats.mean_and_sample_sd([1e308, -1e308])
    assert mean == 0.0
    assert math.isfinite(sd)


@pytest.mark.parametrize("values", [[], [0.9], [0.9, math.nan], [math.inf, 0.9]])
def test_mean_and_sample_sd_needs_two_finite_values(values: list[float]) -> None:
    with pytest.raises(ValueError):
        stats.mean_and_sample_sd(values)


# ---------------------------------------------------------------------------
# level_shifts: worked examples
# ---------------------------------------------------------------------------

WEEKLY_ACCURACY = [0.89, 0.90, 0.91, 0.91, 0.92, 0.91, 0.90, 0.89, 0.87, 0.85, 0.86, 0.86]
WEEKLY_PRECISION = [0.88, 0.88, 0.89, 0.90, 0.89, 0.89, 0.88, 0.87, 0.86, 0.84, 0.85, 0.85]
WEEKLY_RECALL = [0.87, 0.88, 0.90, 0.89, 0.91, 0.90, 0.88, 0.86, 0.85, 0.83, 0.84, 0.84]


def test_weekly_accuracy_shows_one_shift_at_week_9_from_0905_to_086() -> None:
    # Before: weeks 1-8 sorted .89 .89 .90 .90 .91 .91 .91 .92 -> (.90 + .91) / 2
    # = .905.  After: weeks 9-12 sorted .85 .86 .86 .87 -> (.86 + .86) / 2 = .86.
    # Index 8 is the unique best single split: moving .87 (week 9) to the old
    # level costs more absolute deviation than leaving it in the new one.
    shifts = stats.level_shifts(WEEKLY_ACCURACY)
    assert len(shifts) == 1
    assert shifts[0].index == 8
    assert shifts[0].before == pytest.approx(0.905, abs=1e-12)
    assert shifts[0].after == pytest.approx(0.86, abs=1e-12)


def test_weekly_precision_shows_one_shift_at_week_9() -> None:
    # Week 8 (0.87) sits between the levels (~0.885 and 0.85): splitting before
    # or after it gives exactly the same absolute-deviation cost, and ties go to
    # the later position, so the shift is at index 8 (week 9): medians 0.885
    # (weeks 1-8: .87 .88 .88 .88 .89 .89 .89 .90) and 0.85 (.84 .85 .85 .86).
    shifts = stats.level_shifts(WEEKLY_PRECISION)
    assert len(shifts) == 1
    assert shifts[0].index == 8
    assert shifts[0].before == pytest.approx(0.885, abs=1e-12)
    assert shifts[0].after == pytest.approx(0.85, abs=1e-12)


def test_weekly_recall_shows_one_shift_at_week_8() -> None:
    # Recall already drops in week 8 (0.86, below every value of weeks 1-7,
    # .87-.91), so the best split is index 7: medians 0.89 (weeks 1-7) and 0.84
    # (weeks 8-12: .83 .84 .84 .85 .86).
    shifts = stats.level_shifts(WEEKLY_RECALL)
    assert len(shifts) == 1
    assert shifts[0].index == 7
    assert shifts[0].before == pytest.approx(0.89, abs=1e-12)
    assert shifts[0].after == pytest.approx(0.84, abs=1e-12)


def test_a_noiseless_up_then_down_series_shows_both_shifts_with_exact_levels() -> None:
    shifts = stats.level_shifts([0.85] * 5 + [0.90] * 5 + [0.85] * 5)
    assert shifts == [
        LevelShift(index=5, before=0.85, after=0.90),
        LevelShift(index=10, before=0.90, after=0.85),
    ]


# ---------------------------------------------------------------------------
# level_shifts: simulated false alarms and detections
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", [12, 50, 200])
def test_flat_noisy_accuracy_shows_a_shift_in_at_most_one_percent_of_series(length: int) -> None:
    # 300 series per length: 100 seeds for each of n = 200, 1 000 and 10 000
    # examples, true accuracy 0.90 throughout.  Measured with these seeds:
    # 0 of 300 flagged at every length.  Larger runs (5 000 series per n at
    # 12 values, 3 000 at 50, 1 000 at 200): 0.18-0.34 % at 12 values,
    # 1 of 9 000 (0.01 %) at 50, 0 of 3 000 at 200.
    flagged = 0
    for n in (200, 1000, 10000):
        for seed in range(100):
            rng = random.Random(f"flat-{length}-{n}-{seed}")
            series = [binomial_accuracy(rng, 0.90, n) for _ in range(length)]
            flagged += bool(stats.level_shifts(series))
    assert flagged <= 3


def test_a_constant_series_shows_no_shift() -> None:
    assert stats.level_shifts([0.9] * 30) == []
    assert stats.level_shifts([0.0] * 30) == []


def test_a_series_with_mostly_repeated_values_does_not_divide_by_zero() -> None:
    # More than half the first differences are 0, so their MAD is 0; the
    # mean-square successive difference still gives a noise scale.
    series = [0.9] * 10 + [0.901] + [0.9] * 10 + [0.899] + [0.9] * 10
    assert stats.level_shifts(series) == []


def test_float_rounding_differences_are_not_shifts() -> None:
    # 0.1 + 0.2 != 0.3 by one ulp: the noise floor (1e-12 of the magnitude)
    # keeps such rounding from being a level.
    assert stats.level_shifts([0.3] * 10 + [0.1 + 0.2] * 10) == []


@pytest.mark.parametrize(("drop", "n"), [(0.05, 1000), (0.02, 10000)])
def test_a_clear_drop_after_20_runs_is_found_at_index_20_in_95_percent_of_trials(drop: float, n: int) -> None:
    # 5 points at n = 1 000 is 5.3 binomial sd; 2 points at n = 10 000 is 6.7 sd.
    # A trial counts only if exactly one shift is reported, at 20 +- 1.
    # Measured: 199 and 200 of these 200 seeds (99.9 % and 100 % of 2 000).
    hits = 0
    trials = 200
    for seed in range(trials):
        rng = random.Random(f"drop-{drop}-{n}-{seed}")
        series = accuracy_series(rng, [(0.90, 20), (0.90 - drop, 20)], n)
        found = indices(stats.level_shifts(series))
        hits += len(found) == 1 and abs(found[0] - 20) <= 1
    assert hits >= 0.95 * trials


def test_an_up_then_down_bump_shows_both_shifts() -> None:
    # 15 runs at 0.85, 15 at 0.90, 15 at 0.85, n = 1 000 (step = 4.4 sd).
    # Measured: both shifts (15 +- 1, 30 +- 1, nothing else) in 100 % of these
    # 100 seeds (99.8 % of 2 000).
    hits = 0
    trials = 100
    for seed in range(trials):
        rng = random.Random(f"bump-{seed}")
        series = accuracy_series(rng, [(0.85, 15), (0.90, 15), (0.85, 15)], 1000)
        found = indices(stats.level_shifts(series))
        hits += len(found) == 2 and abs(found[0] - 15) <= 1 and abs(found[1] - 30) <= 1
    assert hits >= 0.95 * trials


# ---------------------------------------------------------------------------
# level_shifts: outliers and segment lengths
# ---------------------------------------------------------------------------


def test_a_single_outlier_in_a_constant_series_is_not_a_shift() -> None:
    # With the median (L1) cost a 2-value segment {outlier, normal} costs
    # |outlier - normal| whether or not it is cut out, so cutting never pays.
    assert stats.level_shifts([0.90] * 15 + [0.85] + [0.90] * 14) == []
    assert stats.level_shifts([0.90] * 29 + [0.85]) == []  # the newest run
    assert stats.level_shifts([0.85] + [0.90] * 29) == []  # the oldest run


def test_a_single_five_point_outlier_in_a_flat_noisy_series_is_not_a_shift() -> None:
    # 30 runs at n = 1 000 (sd 0.0095), one value 0.05 lower in the middle.
    # Measured: 0 of these 100 seeds flagged (0 of 2 000 in a larger run).
    flagged = 0
    for seed in range(100):
        rng = random.Random(f"outlier-{seed}")
        series = [binomial_accuracy(rng, 0.90, 1000) for _ in range(30)]
        series[15] -= 0.05
        flagged += bool(stats.level_shifts(series))
    assert flagged == 0


def test_a_level_lasting_one_value_is_impossible() -> None:
    # min_segment < 2 would let one value form a level: it is rejected.
    with pytest.raises(ValueError):
        stats.level_shifts([0.9, 0.9, 0.5, 0.9, 0.9], min_segment=1)
    with pytest.raises(ValueError):
        stats.level_shifts([0.9, 0.9, 0.5, 0.9, 0.9], min_segment=0)


def test_min_segment_sets_the_shortest_level_that_can_be_reported() -> None:
    series = [0.9] * 10 + [0.8] * 3 + [0.9] * 10
    # A noiseless 3-run dip is a level of its own when levels may last 2 runs.
    assert indices(stats.level_shifts(series)) == [10, 13]
    # With min_segment=4 it cannot be: the best admissible fit is a 4-run level
    # holding the dip and one normal run (median still 0.8), then back to 0.9.
    shifts = stats.level_shifts(series, min_segment=4)
    assert shifts == [LevelShift(10, 0.9, 0.8), LevelShift(14, 0.8, 0.9)]
    # A 2-run dip is a level with min_segment=2 but not with 3: a 3-run
    # segment around it must include a normal run, which halves the absolute
    # deviation saved -- too little to pay the penalty of two shifts.
    short_dip = [0.9] * 10 + [0.8] * 2 + [0.9] * 10
    assert indices(stats.level_shifts(short_dip)) == [10, 12]
    assert stats.level_shifts(short_dip, min_segment=3) == []


# ---------------------------------------------------------------------------
# level_shifts: input handling
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[], [0.9], [0.9, 0.5], [0.9, 0.5, 0.1]])
def test_fewer_than_four_values_give_no_shift(values: list[float]) -> None:
    assert stats.level_shifts(values) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError):
        stats.level_shifts([0.9, 0.9, bad, 0.9, 0.9])
    with pytest.raises(ValueError):
        stats.level_shifts([bad])


def test_level_shift_is_an_immutable_value() -> None:
    shift = LevelShift(index=3, before=0.9, after=0.8)
    with pytest.raises(AttributeError):
        shift.index = 4  # type: ignore[misc]
    assert shift == LevelShift(3, 0.9, 0.8)


finite_floats = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.lists(finite_floats, max_size=40),
        # Few distinct values: many ties, repeated values and real steps.
        st.lists(st.sampled_from([0.0, 0.5, 0.85, 0.9, 1.0, -3.0, 1e300]), max_size=40),
    ),
    st.integers(min_value=2, max_value=6),
)
def test_level_shifts_never_raises_on_finite_floats_and_respects_min_segment(
    values: list[float], min_segment: int
) -> None:
    shifts = stats.level_shifts(values, min_segment=min_segment)
    if not shifts:
        return
    bounds = [0, *indices(shifts), len(values)]
    assert all(min_segment <= s.index <= len(values) - min_segment for s in shifts)
    # Every segment, not only the first and last, lasts min_segment values.
    assert all(b - a >= min_segment for a, b in itertools.pairwise(bounds))
    # before / after are the medians of the adjacent segments.
    for k, shift in enumerate(shifts):
        assert shift.before == stats.baseline(values[bounds[k] : bounds[k + 1]], "median", True)
        assert shift.after == stats.baseline(values[bounds[k + 1] : bounds[k + 2]], "median", True)


def test_a_width_no_realistic_set_reaches_gives_max_trials_instead_of_overflowing():
    # found by hypothesis through the gate: max-drop-pct of 1e-308 asked for a width of about 1e-310
    assert stats.n_for_half_width(0.0, 1e-310, 0.8) == stats.MAX_TRIALS
    assert stats.wilson_half_width(0.5, stats.MAX_TRIALS, 0.95) < 1e-6
