"""Decisions at scale: interval kinds, baseline noise, robust max-sigma, family-wise levels, defaults and globs.

Every expected number comes from scipy, statsmodels or a hand computation in a comment.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from pytest_metricgate.config import MetricRule, from_document
from pytest_metricgate.errors import ConfigError
from pytest_metricgate.gate import CurrentValues, Settings, judge, judge_metric
from pytest_metricgate.stats import (
    baseline_noise_factor,
    baseline_variance,
    bootstrap_means,
    holm_levels,
    normal_tail,
    score_p_value,
)
from pytest_metricgate.values import Measurement

MEDIAN5 = Settings(baseline="median", window=5)
Z95 = stats.norm.ppf(0.975)


# -- stats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("z", [-3.0, -0.5, 0.0, 1.0, 2.5, 6.0, 12.0])
def test_normal_tail_matches_scipy(z):
    assert normal_tail(z) == pytest.approx(stats.norm.sf(z), rel=1e-12)


@pytest.mark.parametrize(
    ("successes", "n", "edge", "prefers_high"),
    [(351, 400, 0.88, True), (320, 400, 0.88, True), (930, 1000, 0.9, False), (50, 100, 0.3, True)],
)
def test_score_p_value_is_the_one_sided_score_test(successes, n, edge, prefers_high):
    p = successes / n
    z = (edge - p) / math.sqrt(edge * (1 - edge) / n)
    expected = stats.norm.sf(z if prefers_high else -z)
    assert score_p_value(p, n, edge, prefers_high) == pytest.approx(expected, rel=1e-9)


def test_the_score_test_rejects_at_its_level_exactly_where_the_wilson_interval_ends():
    low, high = proportion_confint(351, 400, alpha=0.05, method="wilson")
    assert score_p_value(351 / 400, 400, high, True) == pytest.approx(0.025, rel=1e-6)
    assert score_p_value(351 / 400, 400, low, False) == pytest.approx(0.025, rel=1e-6)


@pytest.mark.parametrize(
    "p_values",
    [
        [0.01, 0.04, 0.03, 0.005],
        [0.001, 0.002, 0.003, 0.2, 0.9],
        [0.02, 0.02, 0.02],
        [0.5],
        [1e-6] * 10 + [0.049],
    ],
)
def test_holm_levels_reject_what_statsmodels_holm_rejects(p_values):
    levels = holm_levels(p_values, 0.05)
    rejected = [p <= level for p, level in zip(p_values, levels)]
    assert rejected == list(multipletests(p_values, alpha=0.05, method="holm")[0])


def test_holm_levels_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04: levels 0.05/4, 0.05/3, 0.05/2 (0.03 > 0.025: stop), then 0.025 on
    assert holm_levels([0.01, 0.04, 0.03, 0.005], 0.05) == pytest.approx([0.05 / 3, 0.025, 0.025, 0.0125])


def _order_statistic_variance(count, rank):
    """Variance of the rank-th smallest of count standard normals, by scipy's adaptive quadrature."""
    coefficient = math.factorial(count) / (math.factorial(rank - 1) * math.factorial(count - rank))

    def density(x):
        cdf = stats.norm.cdf(x)
        return coefficient * cdf ** (rank - 1) * (1 - cdf) ** (count - rank) * stats.norm.pdf(x)

    first = integrate.quad(lambda x: x * density(x), -12, 12)[0]
    second = integrate.quad(lambda x: x * x * density(x), -12, 12)[0]
    return second - first**2


@pytest.mark.parametrize("count", [3, 5, 7, 9])
def test_the_median_of_an_odd_window_has_the_order_statistic_variance(count):
    expected = _order_statistic_variance(count, count // 2 + 1)
    assert baseline_noise_factor("median", count) == pytest.approx(expected, rel=1e-4)


def test_known_values_of_the_median_and_the_best():
    # Teichroew (1956): Var(median of 3) = 0.4487, of 5 = 0.2868; max of 2 standard normals: 1 - 1/pi
    assert baseline_noise_factor("median", 3) == pytest.approx(0.4487, abs=1e-4)
    assert baseline_noise_factor("median", 5) == pytest.approx(0.2868, abs=1e-4)
    assert baseline_noise_factor("best", 2) == pytest.approx(1 - 1 / math.pi, rel=1e-5)
    assert baseline_noise_factor("best", 4) == pytest.approx(_order_statistic_variance(4, 4), rel=1e-4)
    assert baseline_noise_factor("median", 2) == pytest.approx(0.5, rel=1e-6)  # the mean of two


@pytest.mark.parametrize("count", [4, 6, 10])
def test_the_median_of_an_even_window_matches_simulation(count):
    rng = np.random.default_rng(count)
    medians = np.median(rng.standard_normal((400_000, count)), axis=1)
    # the variance of a sample variance of 400k draws is about 2 v^2 / 400k: 0.3% relative sd
    assert baseline_noise_factor("median", count) == pytest.approx(medians.var(), rel=0.015)


def test_baseline_variance_of_last_and_mean_is_exact():
    assert baseline_variance([1.0, 2.0, 4.0], "last") == 4.0
    assert baseline_variance([1.0, 2.0, 3.0], "mean") == pytest.approx(6 / 9)
    assert baseline_variance([2.0] * 5, "median") == pytest.approx(2.0 * 0.28683, rel=1e-4)


def test_bootstrap_is_reproducible_and_its_spread_is_the_standard_error():
    samples = np.random.default_rng(1).exponential(size=500)
    first = bootstrap_means(samples, seed=7)
    assert np.array_equal(first, bootstrap_means(samples, seed=7))
    assert not np.array_equal(first, bootstrap_means(samples, seed=8))
    assert list(first) == sorted(first)
    # 4000 resamples: the bootstrap sd estimates s / sqrt(n) within a few percent
    assert first.std(ddof=1) == pytest.approx(samples.std(ddof=1) / math.sqrt(500), rel=0.05)


# -- interval kinds ------------------------------------------------------------------------------


def test_n_on_a_value_metric_gives_no_wilson_interval_and_says_why():
    rule = MetricRule("log_loss", max=0.18, confidence=0.95, direction="lower")
    result = judge_metric(rule, Measurement(0.2031, 228), [], MEDIAN5)
    assert result.verdict == "fail"
    assert result.reasons == (
        (
            'confidence: n alone gives no interval for a metric of kind "value" (give stderr or samples, '
            'or set kind = "proportion"), so the rules use the point value'
        ),
        "above max 0.18",
    )


def test_a_loss_with_stderr_gets_a_normal_interval():
    rule = MetricRule("log_loss", max=0.2, confidence=0.95, direction="lower")
    low, high = 0.2031 - Z95 * 0.01, 0.2031 + Z95 * 0.01  # 0.1835, 0.2227
    result = judge_metric(rule, Measurement(0.2031, stderr=0.01), [], MEDIAN5)
    assert result.verdict == "warn"
    assert result.reasons == (
        f"inconclusive: 0.2031 ({low:.4f}\u2013{high:.4f}, stderr 0.01, normal 95%) vs max 0.2",
    )
    strict = MetricRule("log_loss", max=0.18, confidence=0.95, direction="lower")
    result = judge_metric(strict, Measurement(0.2031, stderr=0.01), [], MEDIAN5)
    assert result.reasons == (
        (
            f"above max 0.18 \u2014 even the lower end {low:.4f} of {low:.4f}\u2013{high:.4f}, stderr 0.01, "
            "normal 95% breaches"
        ),
    )


def test_f1_with_samples_gets_a_seeded_bootstrap_interval_close_to_the_normal_one():
    samples = np.random.default_rng(3).beta(8, 2, size=400)
    mean = float(samples.mean())
    rule = MetricRule("f1", min=mean + 0.5, confidence=0.95)
    first = judge_metric(rule, Measurement(mean, samples=tuple(samples)), [], MEDIAN5)
    again = judge_metric(rule, Measurement(mean, samples=tuple(samples)), [], MEDIAN5)
    assert first == again
    assert first.verdict == "fail"
    text = first.reasons[0]
    assert text.startswith("below min") and "bootstrap of 400 samples, 95% breaches" in text
    interval = text.split(" of ")[-2].split(",")[0]
    low, high = (float(x) for x in interval.split("\u2013"))
    half = Z95 * samples.std(ddof=1) / math.sqrt(400)
    assert low == pytest.approx(mean - half, abs=half * 0.1)
    assert high == pytest.approx(mean + half, abs=half * 0.1)


# -- baseline noise ------------------------------------------------------------------------------


PROPORTION_DROP = MetricRule("acc", max_drop=0.02, confidence=0.95, kind="proportion")


def test_a_drop_within_both_sides_noise_is_inconclusive():
    # baseline median 0.90 of five runs at n=1000; 0.859 drops 0.041, 0.021 past the edge 0.88.
    # this run at the edge: var 0.88 * 0.12 / 1000 = 1.056e-4; baseline: 0.28683 * 0.09 / 1000 = 2.5815e-5
    # z = 0.021 / sqrt(1.3142e-4) = 1.832 < 1.96; this run's noise alone gives 0.021 / 0.010276 = 2.04
    history = [Measurement(0.9, 1000)] * 5
    result = judge_metric(PROPORTION_DROP, Measurement(0.859, 1000), history, MEDIAN5)
    low, high = proportion_confint(859, 1000, alpha=0.05, method="wilson")
    assert result.verdict == "warn"
    assert result.reasons == (
        (
            f"inconclusive: 0.859 ({low:.4f}\u2013{high:.4f} at n=1000, Wilson 95%; baseline \u00b10.0051) "
            "vs max-drop 0.02"
        ),
    )


def test_without_the_baselines_n_only_this_runs_noise_counts():
    result = judge_metric(PROPORTION_DROP, Measurement(0.859, 1000), [0.9] * 5, MEDIAN5)
    assert result.verdict == "fail"


def test_a_drop_beyond_both_sides_noise_fails():
    # 0.85: 0.03 past the edge; z = 0.03 / 0.011464 = 2.62 > 1.96
    history = [Measurement(0.9, 1000)] * 5
    result = judge_metric(PROPORTION_DROP, Measurement(0.85, 1000), history, MEDIAN5)
    assert result.verdict == "fail"
    assert result.reasons == (
        (
            "drop 0.050 > max-drop 0.02 vs median 0.900 of last 5 \u2014 beyond the noise of this run and the "
            "baseline (Wilson \u00b10.01, baseline \u00b10.0051; 95%)"
        ),
    )


def test_baseline_noise_from_stderr():
    # baseline median of 5 runs with stderr 0.01: sd sqrt(0.28683) * 0.01 = 0.005356; this run 0.01
    # drop 0.05 vs allowed 0.02: z = 0.03 / sqrt(1e-4 + 2.8683e-5) = 2.645 > 1.96
    rule = MetricRule("loss", max_drop=0.02, confidence=0.95, direction="lower")
    history = [Measurement(0.30, stderr=0.01)] * 5
    result = judge_metric(rule, Measurement(0.35, stderr=0.01), history, MEDIAN5)
    assert result.verdict == "fail"
    assert "baseline \u00b10.0054" in result.reasons[0]
    # 0.345: z = 0.025 / 0.011345 = 2.20 fails; 0.34: 0.02 / 0.011345 = 1.76 is inconclusive
    assert judge_metric(rule, Measurement(0.34, stderr=0.01), history, MEDIAN5).verdict == "warn"


# -- robust max-sigma ----------------------------------------------------------------------------

SIGMA = MetricRule("acc", max_sigma=3)
ROUNDED = [0.9, 0.9 + 1e-12, 0.9 - 1e-12, 0.9, 0.9 + 1e-12]


def test_a_rounding_error_is_no_drop_however_small_the_spread():
    assert judge_metric(SIGMA, Measurement(0.9 - 1e-10), ROUNDED, MEDIAN5).verdict == "pass"


def test_a_real_drop_on_a_rounding_noise_window_is_judged_against_the_floor():
    # sample sd about 8e-13 < floor 1e-6 x 0.9 = 9e-7; 0.89 drops 0.01 = 11,111 sigma
    result = judge_metric(SIGMA, Measurement(0.89), ROUNDED, MEDIAN5)
    assert result.verdict == "fail"
    assert result.reasons[0].startswith("drop 0.010 = 11111.1 sigma > max-sigma 3 (mean 0.900, spread 9e-07")


def test_min_sigma_sets_the_floor():
    rule = MetricRule("acc", max_sigma=3, min_sigma=0.005)
    # 0.985 is 0.015 = 3.0 sigma below 1.0: not more than 3; 0.98 is 4.0 sigma
    assert judge_metric(rule, Measurement(0.986), [1.0] * 5, MEDIAN5).verdict == "pass"
    result = judge_metric(rule, Measurement(0.98), [1.0] * 5, MEDIAN5)
    assert result.reasons == (
        (
            "drop 0.020 = 4.0 sigma > max-sigma 3 (mean 1, spread 0.005 from min-sigma: "
            "the sample sd 0.000 of the last 5 is smaller)"
        ),
    )


def test_proportions_with_n_floor_the_spread_at_their_sampling_error():
    # flat 0.9 at n=1000: sqrt(0.9 * 0.1 / 1000) = 0.0094868; 0.87 is 0.03 / 0.0094868 = 3.16 sigma
    rule = MetricRule("acc", max_sigma=3, kind="proportion")
    result = judge_metric(rule, Measurement(0.87, 1000), [Measurement(0.9, 1000)] * 5, MEDIAN5)
    assert result.reasons == (
        (
            "drop 0.030 = 3.2 sigma > max-sigma 3 (mean 0.900, spread 0.009487 from the runs' sampling error: "
            "the sample sd 0.000 of the last 5 is smaller)"
        ),
    )


# -- family-wise ---------------------------------------------------------------------------------


def _family(family_wise):
    rule = MetricRule("x", min=0.83, confidence=0.95)
    rules = [MetricRule(name, min=0.83, confidence=0.95) for name in ("a", "b", "c")]
    # z past min 0.83: a 3.0 (p 0.00135), b 2.2 (p 0.0139), c -0.5 (p 0.69)
    values = {
        "a": Measurement(0.80, stderr=0.01),
        "b": Measurement(0.808, stderr=0.01),
        "c": Measurement(0.835, stderr=0.01),
    }
    del rule
    return judge(rules, CurrentValues(values), [], Settings(family_wise=family_wise))


def test_holm_shares_the_smallest_level_among_all_tests():
    # levels 0.025/3 = 0.00833 (a rejects), then 0.025/2 = 0.0125 (b's 0.0139 does not: stop)
    assert stats.norm.sf(2.2) == pytest.approx(0.0139, abs=1e-4)
    result = _family(True)
    verdicts = {v.name: (v.verdict, v.reasons) for v in result.verdicts}
    assert verdicts["a"][0] == "fail"
    low, high = 0.80 - stats.norm.isf(0.025 / 3) * 0.01, 0.80 + stats.norm.isf(0.025 / 3) * 0.01
    confidence = f"{100 * (1 - 2 * 0.025 / 3):.5g}"
    assert verdicts["a"][1] == (
        (
            f"below min 0.83 \u2014 even the upper end {high:.4f} of {low:.4f}\u2013{high:.4f}, stderr 0.01, "
            f"normal {confidence}% breaches"
        ),
    )
    assert verdicts["b"][0] == "warn"
    assert verdicts["b"][1][0].startswith("inconclusive, family-wise: 0.808 (")
    assert verdicts["c"] == ("pass", ())
    assert result.notes == (
        "family-wise: 3 tests shared a 2.5% level (Holm step-down); the first rank was judged at 0.833%",
    )


def test_family_wise_off_judges_each_test_at_its_own_level():
    result = _family(False)
    assert [v.verdict for v in result.verdicts] == ["fail", "fail", "pass"]
    assert result.notes == ()


def test_a_point_breach_within_noise_in_a_family_is_only_a_note():
    rules = [MetricRule(name, min=0.83, confidence=0.95) for name in ("a", "b")]
    values = {"a": Measurement(0.825, stderr=0.01), "b": Measurement(0.9, stderr=0.01)}
    result = judge(rules, CurrentValues(values), [], Settings())
    a = result.verdicts[0]
    assert (a.verdict, a.reasons) == (
        "pass",
        (
            (
                f"within noise: 0.825 ({0.825 - Z95 * 0.01:.4f}\u2013{0.825 + Z95 * 0.01:.4f}, stderr 0.01, normal 95%) "
                "vs min 0.83"
            ),
        ),
    )


def test_max_sigma_joins_the_family_at_phi_of_minus_k():
    # two metrics with max-sigma 3: family level Phi(-3) = 0.0013499, first rank 0.000675 = 3.205 sigma
    rules = [MetricRule(name, max_sigma=3) for name in ("a", "b")]
    history = [[0.90, 0.91, 0.89, 0.90, 0.90]]  # sd 0.0070711, mean 0.9
    from pytest_metricgate.values import Run

    runs = [Run({"a": Measurement(v), "b": Measurement(v)}) for v in history[0]]
    # a: 0.878 is 0.022 / 0.0070711 = 3.11 sigma: past 3, short of 3.205
    values = {"a": Measurement(0.878), "b": Measurement(0.9)}
    result = judge(rules, CurrentValues(values), runs, Settings())
    assert stats.norm.isf(stats.norm.sf(3) / 2) == pytest.approx(3.205, abs=1e-3)
    assert result.verdicts[0].verdict == "warn"
    assert (
        result.verdicts[0].reasons[0].startswith("inconclusive, family-wise (needs 3.21 sigma): drop 0.022")
    )
    values = {"a": Measurement(0.87), "b": Measurement(0.9)}  # 4.24 sigma
    assert judge(rules, CurrentValues(values), runs, Settings()).verdicts[0].verdict == "fail"


# -- defaults and globs --------------------------------------------------------------------------


def config_of(metricgate):
    return from_document(
        {"tool": {"metricgate": metricgate}},
        __import__("pathlib").Path("pyproject.toml"),
        shown="pyproject.toml",
    )


GLOBS = {
    "defaults": {"min": 0.5, "confidence": 0.95},
    "metrics": {
        "class_*.recall": {"min": 0.7, "kind": "proportion"},
        "class_1*.recall": {"min": 0.8},
        "class_1.recall": {"max-drop": 0.01},
        "loss": {"direction": "lower", "window": 10, "baseline": "mean"},
    },
}


def test_exact_over_most_specific_glob_over_defaults():
    config = config_of(GLOBS)
    rules, warnings = config.rules_for(
        ["class_1.recall", "class_2.recall", "class_10.recall", "other", "loss"]
    )
    by_name = {rule.name: rule for rule in rules}
    assert set(by_name) == {"class_1.recall", "loss", "class_2.recall", "class_10.recall"}
    assert by_name["class_1.recall"] == MetricRule(
        "class_1.recall", min=0.8, max_drop=0.01, confidence=0.95, kind="value"
    )
    assert by_name["class_2.recall"] == MetricRule(
        "class_2.recall",
        min=0.7,
        confidence=0.95,
        kind="proportion",
        configured_by='[tool.metricgate.metrics."class_*.recall"]',
    )
    # "class_1*.recall" has 14 non-wildcard characters, "class_*.recall" 13
    assert by_name["class_10.recall"].min == 0.8
    assert by_name["loss"] == MetricRule(
        "loss", min=0.5, confidence=0.95, direction="lower", window=10, baseline="mean"
    )
    assert warnings == ()


def test_a_glob_that_matches_nothing_is_a_warning():
    config = config_of({"metrics": {"slice_*.f1": {"min": 0.5}, "acc": {"min": 0.5}}})
    assert config.rules_for(["acc"])[1] == (
        'pyproject.toml: [tool.metricgate.metrics."slice_*.f1"] matches no metric',
    )


def test_two_globs_of_equal_specificity_matching_one_name_are_an_error_naming_both():
    config = config_of({"metrics": {"a*": {"min": 0.1}, "*a": {"min": 0.2}}})
    with pytest.raises(ConfigError) as error:
        config.rules_for(["aa"])
    assert str(error.value) == (
        'pyproject.toml: [tool.metricgate.metrics."a*"] and [tool.metricgate.metrics."*a"] both match '
        'metric "aa" with equal specificity (1 non-wildcard characters); make one more specific or give '
        "the metric its own table"
    )


def test_window_and_baseline_per_metric_are_used():
    rule = MetricRule("loss", max_drop=1.0, direction="lower", window=2, baseline="mean")
    result = judge_metric(rule, Measurement(0.5), [0.1, 0.2, 0.4], MEDIAN5)
    assert result.baseline_text == "mean 0.300 of last 2"
