"""Judging tables: each row is a rule, a history, a value, and the verdict a person computes by hand."""

from __future__ import annotations

import math

import pytest

from pytest_metricgate.config import MetricRule
from pytest_metricgate.gate import (
    CurrentValues,
    Settings,
    format_value,
    history_breaches,
    judge,
    judge_metric,
)
from pytest_metricgate.values import Measurement, Run

MEDIAN5 = Settings(baseline="median", window=5)


def verdict_of(rule: MetricRule, value: float | None, history=(), settings=MEDIAN5):
    current = None if value is None else Measurement(value)
    return judge_metric(rule, current, list(history), settings)


@pytest.mark.parametrize(
    ("rule", "value", "verdict", "reasons"),
    [
        pytest.param(MetricRule("acc", min=0.88), 0.90, "pass", (), id="above-min"),
        pytest.param(MetricRule("acc", min=0.88), 0.88, "pass", (), id="equal-to-min-passes"),
        pytest.param(MetricRule("acc", min=0.88), 0.8799, "fail", ("below min 0.88",), id="below-min"),
        pytest.param(
            MetricRule("loss", max=0.3, direction="lower"), 0.3, "pass", (), id="equal-to-max-passes"
        ),
        pytest.param(
            MetricRule("loss", max=0.3, direction="lower"), 0.31, "fail", ("above max 0.3",), id="above-max"
        ),
        pytest.param(
            MetricRule("acc", min=0.5, max=0.6),
            0.7,
            "fail",
            ("above max 0.6",),
            id="max-applies-to-higher-too",
        ),
        pytest.param(MetricRule("acc"), None, "fail", ("missing",), id="required-missing"),
        pytest.param(
            MetricRule("acc", required=False), None, "pass", ("missing (optional)",), id="optional-missing"
        ),
        pytest.param(MetricRule("acc", min=0.1), math.nan, "fail", ("not finite (nan)",), id="nan"),
        pytest.param(MetricRule("acc", max=1.0), math.inf, "fail", ("not finite (inf)",), id="inf"),
        pytest.param(
            MetricRule("acc", min=0.88, severity="warning"),
            0.80,
            "warn",
            ("below min 0.88",),
            id="severity-warning",
        ),
        pytest.param(MetricRule("acc"), 0.5, "pass", (), id="no-limits"),
    ],
)
def test_absolute_limits(rule, value, verdict, reasons):
    result = verdict_of(rule, value)
    assert (result.verdict, result.reasons) == (verdict, reasons)


@pytest.mark.parametrize(
    ("rule", "history", "value", "verdict", "reasons"),
    [
        # median of .90 .91 .92 .91 .90 (sorted .90 .90 .91 .91 .92) is 0.91; 0.91 - 0.885 = 0.025 > 0.02
        pytest.param(
            MetricRule("acc", max_drop=0.02),
            [0.90, 0.91, 0.92, 0.91, 0.90],
            0.885,
            "fail",
            ("drop 0.025 > max-drop 0.02 vs median 0.910 of last 5",),
            id="drop-larger-than-max-drop-fails",
        ),
        # 0.91 - 0.89 is 0.020000000000000018 in binary: equal to the limit, so it passes
        pytest.param(
            MetricRule("acc", max_drop=0.02), [0.91] * 5, 0.89, "pass", (), id="drop-equal-to-max-drop-passes"
        ),
        # only the newest 5 count: the old 0.99s do not raise the median
        pytest.param(
            MetricRule("acc", max_drop=0.02),
            [0.99, 0.99, 0.99, 0.90, 0.90, 0.90, 0.90, 0.90],
            0.89,
            "pass",
            (),
            id="window-limits-the-baseline",
        ),
        # 0.80 -> 0.77: drop 0.03, 100 * 0.03 / 0.80 = 3.75% > 3%
        pytest.param(
            MetricRule("rec", max_drop_pct=3),
            [0.80] * 5,
            0.77,
            "fail",
            ("drop 3.75% > max-drop-pct 3% vs median 0.800 of last 5",),
            id="pct-drop-fails",
        ),
        # lower is better: a rise of 12 ms over a median of 100 ms
        pytest.param(
            MetricRule("latency", max_drop=10, direction="lower"),
            [100, 100, 100],
            112,
            "fail",
            ("rise 12 > max-drop 10 vs median 100 of last 3",),
            id="lower-is-better-rise-fails",
        ),
        pytest.param(
            MetricRule("latency", max_drop=10, direction="lower"),
            [100] * 3,
            80,
            "pass",
            (),
            id="lower-improvement-passes",
        ),
        pytest.param(
            MetricRule("acc", max_drop=0.01), [0.5] * 3, 0.99, "pass", (), id="improvement-never-fails"
        ),
        pytest.param(
            MetricRule("acc", max_drop=0.01, min=0.5), [], 0.6, "pass", ("no baseline yet",), id="no-history"
        ),
        pytest.param(
            MetricRule("acc", max_drop=0.01, min=0.7),
            [],
            0.6,
            "fail",
            ("below min 0.7", "no baseline yet"),
            id="no-history-absolute-still-applies",
        ),
        pytest.param(
            MetricRule("errors", max_drop_pct=10, direction="lower"),
            [0.0, 0.0],
            0.5,
            "pass",
            ("max-drop-pct skipped: baseline is 0",),
            id="zero-baseline-skips-pct",
        ),
        pytest.param(
            MetricRule("acc", min=0.9, max_drop=0.01),
            [0.95] * 5,
            0.8,
            "fail",
            ("below min 0.9", "drop 0.150 > max-drop 0.01 vs median 0.950 of last 5"),
            id="every-reason-listed",
        ),
        # non-finite history values are not measurements: the baseline skips them
        pytest.param(
            MetricRule("acc", max_drop=0.02),
            [0.9, math.nan, 0.9],
            0.85,
            "fail",
            ("drop 0.050 > max-drop 0.02 vs median 0.900 of last 2",),
            id="nan-in-history-skipped",
        ),
    ],
)
def test_relative_rules(rule, history, value, verdict, reasons):
    finite = [v for v in history if math.isfinite(v)]
    result = verdict_of(rule, value, finite)
    assert (result.verdict, result.reasons) == (verdict, reasons)


@pytest.mark.parametrize(
    ("method", "higher", "expected", "text"),
    [
        # history .88 .92 .90 .86 (window 4)
        ("last", True, 0.86, "last run 0.860"),
        ("best", True, 0.92, "best 0.920 of last 4"),
        ("best", False, 0.86, "best 0.860 of last 4"),
        ("mean", True, 0.89, "mean 0.890 of last 4"),  # (0.88 + 0.92 + 0.90 + 0.86) / 4
        ("median", True, 0.89, "median 0.890 of last 4"),  # (0.88 + 0.90) / 2
    ],
)
def test_baseline_methods(method, higher, expected, text):
    rule = MetricRule("m", max_drop=1.0, direction="higher" if higher else "lower")
    result = verdict_of(rule, 0.5, [0.88, 0.92, 0.90, 0.86], Settings(baseline=method, window=4))
    assert result.baseline == pytest.approx(expected)
    assert result.baseline_text == text


def test_recorded_twice_fails_naming_both_tests_even_as_warning():
    rule = MetricRule("acc", severity="warning")
    result = judge_metric(rule, Measurement(0.9), [], MEDIAN5, recorded_by=("t.py::a", "t.py::b"))
    assert result.verdict == "fail"
    assert result.reasons == ("recorded twice: by t.py::a and t.py::b",)


def test_unconfigured_metrics_are_ungated_and_never_fail():
    current = CurrentValues(values={"acc": Measurement(0.9), "extra": Measurement(-5.0)})
    result = judge([MetricRule("acc", min=0.5)], current, [], MEDIAN5)
    assert [(v.name, v.verdict) for v in result.verdicts] == [("acc", "pass"), ("extra", "ungated")]
    assert result.passed
    assert result.headline() == "metric gate: passed (1 metric)"


def test_headline_counts_breaches_of_gated_metrics():
    rules = [MetricRule("a", min=0.5), MetricRule("b", min=0.5), MetricRule("c", min=0.5)]
    current = CurrentValues(values={"a": Measurement(0.1), "b": Measurement(0.9), "c": Measurement(0.2)})
    result = judge(rules, current, [], MEDIAN5)
    assert result.status == "failed"
    assert result.headline() == "metric gate: FAILED (2 of 3 metrics breached)"


def test_warnings_are_counted_in_a_passing_headline():
    rules = [MetricRule("a", min=0.5, severity="warning"), MetricRule("b")]
    current = CurrentValues(values={"a": Measurement(0.1), "b": Measurement(0.9)})
    assert judge(rules, current, [], MEDIAN5).headline() == "metric gate: passed (2 metrics, 1 warning)"


def test_history_runs_without_the_metric_are_skipped():
    runs = [Run({"acc": Measurement(0.9)}), Run({"other": Measurement(1.0)}), Run({"acc": Measurement(0.8)})]
    rule = MetricRule("acc", max_drop=0.5)
    result = judge([rule], CurrentValues({"acc": Measurement(0.85)}), runs, MEDIAN5)
    # median of 0.9 and 0.8, hand computed
    assert result.verdicts[0].baseline == pytest.approx(0.85)
    assert result.verdicts[0].baseline_text == "median 0.850 of last 2"


def test_history_breaches_judge_each_run_against_the_runs_before_it():
    rule = MetricRule("acc", min=0.8, max_drop=0.05)
    values = [0.9, 0.9, 0.79, None, 0.9, 0.8]
    # 0.79 is below min; 0.8 is a drop of 0.1 from median(0.9, 0.9, 0.79, 0.9) = 0.9
    assert history_breaches(rule, values, MEDIAN5) == [False, False, True, False, False, True]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.91, "0.910"),
        (0.025000000000000022, "0.025"),
        (0.8991008991, "0.8991"),
        (12.0, "12"),
        (123.456, "123.5"),
        (0.0, "0.000"),
        (None, "-"),
        (math.nan, "nan"),
        (-0.005, "-0.005"),
    ],
)
def test_values_are_formatted_for_people(value, text):
    assert format_value(value) == text


# -- noise-aware rules ---------------------------------------------------------
# Wilson intervals below are scipy.stats.binomtest(k, n).proportion_ci(method="wilson"), 95%:
#   351/400 = 0.8775 -> 0.8417-0.9061;  320/400 = 0.80 -> 0.7580-0.8363;  270/300 = 0.90 -> 0.8608-0.9291
#   (half-width 0.0341).

CONFIDENT_MIN = MetricRule("acc", min=0.88, confidence=0.95, kind="proportion")


def test_a_point_below_min_with_the_interval_above_it_is_inconclusive():
    result = verdict_of_measurement(CONFIDENT_MIN, Measurement(351 / 400, 400))
    assert result.verdict == "warn"
    assert result.reasons == ("inconclusive: 0.8775 (0.8417\u20130.9061 at n=400, Wilson 95%) vs min 0.88",)


def test_an_interval_wholly_below_min_fails():
    result = verdict_of_measurement(CONFIDENT_MIN, Measurement(320 / 400, 400))
    assert result.verdict == "fail"
    assert result.reasons == (
        "below min 0.88 \u2014 even the upper end 0.8363 of 0.758\u20130.8363 at n=400, Wilson 95% breaches",
    )


def test_without_n_confidence_falls_back_to_the_point_value_and_says_so():
    result = verdict_of_measurement(CONFIDENT_MIN, Measurement(0.8775))
    assert result.verdict == "fail"
    assert result.reasons == (
        "confidence: no n, stderr or samples was given, so the rules use the point value",
        "below min 0.88",
    )


def test_a_value_outside_0_1_has_no_wilson_interval():
    rule = MetricRule("loss", max=2.0, confidence=0.95, direction="lower", kind="proportion")
    result = verdict_of_measurement(rule, Measurement(2.5, 400))
    assert result.reasons == (
        "confidence: the value is not a proportion in [0, 1], so the rules use the point value",
        "above max 2",
    )


def wilson_half_width(p: float, n: int, z: float = 1.959963984540054) -> float:
    """Wilson (1927) half-width, written out independently of the code under test."""
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)


def smallest_n(p: float, target: float) -> int:
    n = 1
    while wilson_half_width(p, n) > target:
        n += 1
    return n


def test_an_evaluation_set_too_small_for_max_drop_is_a_warning_with_the_n_it_needs():
    rule = MetricRule("acc", max_drop=0.005, confidence=0.95, kind="proportion")
    result = verdict_of_measurement(rule, Measurement(0.9, 300), [0.9] * 5)
    # half-width at n=300: 0.0341 > 0.005; the normal approximation needs 1.96^2 * 0.09 / 0.005^2 = 13,830
    needed = smallest_n(0.9, 0.005)
    assert abs(needed - 13830) < 50
    assert result.verdict == "warn"
    assert result.reasons == (
        f"evaluation set too small to resolve max-drop 0.005 (\u00b10.034 at n=300, Wilson 95%; needs n\u2248{needed:,})",
    )


def test_an_evaluation_set_large_enough_for_max_drop_is_silent():
    rule = MetricRule("acc", max_drop=0.05, confidence=0.95, kind="proportion")
    assert verdict_of_measurement(rule, Measurement(0.9, 300), [0.9] * 5).reasons == ()


def test_a_set_that_cannot_tell_the_usual_level_from_min_warns():
    # the baseline 0.885 sits 0.005 above min 0.88; at n=400 the interval is about +-0.03 wide
    result = verdict_of_measurement(CONFIDENT_MIN, Measurement(0.9, 400), [0.885] * 5)
    needed = smallest_n(0.885, 0.005)
    assert result.verdict == "warn"
    assert result.reasons == (
        (
            "evaluation set too small to resolve min 0.88 from the baseline 0.885 "
            f"(\u00b10.03 at n=400, Wilson 95%; needs n\u2248{needed:,})"
        ),
    )


def test_a_set_that_resolves_the_distance_to_min_is_silent():
    # baseline 0.95 is 0.07 above the floor: far more than the half-width 0.03
    assert verdict_of_measurement(CONFIDENT_MIN, Measurement(0.9, 400), [0.95] * 5).reasons == ()


def test_the_drop_rule_is_judged_at_the_upper_end_too():
    # baseline 0.92; 360/400 = 0.90 drops 0.02 > max-drop 0.01, but the upper end 0.9257 does not drop at all
    rule = MetricRule("acc", max_drop=0.01, confidence=0.95, kind="proportion")
    result = verdict_of_measurement(rule, Measurement(0.9, 400), [0.92] * 5)
    assert result.verdict == "warn"
    assert (
        result.reasons[0] == "inconclusive: 0.900 (0.8667\u20130.9257 at n=400, Wilson 95%) vs max-drop 0.01"
    )


SIGMA = MetricRule("acc", max_sigma=3)
# history 0.90 0.91 0.89 0.90 0.90: mean 0.90; squared deviations sum to 0.0002, / 4 = 0.00005, sd = 0.0070711


@pytest.mark.parametrize(
    ("value", "verdict", "reasons"),
    [
        (0.885, "pass", ()),  # 0.015 / 0.0070711 = 2.1 sigma
        (0.87, "fail", ("drop 0.030 = 4.2 sigma > max-sigma 3 (mean 0.900, sample sd 0.007071 of last 5)",)),
        (0.95, "pass", ()),  # better is never a breach
    ],
)
def test_max_sigma_against_the_spread_of_the_window(value, verdict, reasons):
    result = verdict_of(SIGMA, value, [0.90, 0.91, 0.89, 0.90, 0.90])
    assert (result.verdict, result.reasons) == (verdict, reasons)


def test_max_sigma_needs_min_history_runs():
    result = verdict_of(SIGMA, 0.5, [0.90, 0.91, 0.89])
    assert (result.verdict, result.reasons) == ("pass", ("max-sigma: not enough history (3 of 5)",))


def test_max_sigma_counts_the_whole_history_not_just_the_window():
    result = verdict_of(SIGMA, 0.5, [0.90, 0.91, 0.89, 0.90, 0.90, 0.91], Settings(window=3))
    assert result.verdict == "fail"  # 6 runs >= min-history 5, though the window holds 3


def test_max_sigma_on_a_flat_window_uses_the_min_sigma_floor():
    # five passes at 0.9 have sd 0; the floor is 1e-6 x 0.9 = 9e-7, and 0.4 / 9e-7 = 4.44e5 sigma
    result = verdict_of(SIGMA, 0.5, [0.9] * 5)
    assert result.verdict == "fail"
    assert result.reasons == (
        (
            "drop 0.400 = 4.44e+05 sigma > max-sigma 3 (mean 0.900, spread 9e-07 from min-sigma "
            "(1e-6 x |mean|): the sample sd 0.000 of the last 5 is smaller)"
        ),
    )


def test_max_sigma_on_a_flat_window_of_zeros_without_min_sigma_is_skipped_with_a_note():
    result = verdict_of(SIGMA, 0.5, [0.0] * 5)
    assert result.reasons == ("max-sigma skipped: the last 5 runs have no spread",)


def test_max_sigma_for_lower_is_better():
    rule = MetricRule("latency", max_sigma=2, direction="lower")
    # window 10 12 10 12: mean 11, sample sd sqrt(4/3) = 1.1547; 14 rises 3 = 2.6 sigma
    result = verdict_of(rule, 14, [10, 12, 10, 12, 11][:4], Settings(window=4))
    assert result.verdict == "pass"  # only 4 runs: min-history 5 not met
    result = verdict_of(rule, 14, [11, 10, 12, 10, 12], Settings(window=4))
    assert result.reasons == ("rise 3 = 2.6 sigma > max-sigma 2 (mean 11, sample sd 1.155 of last 4)",)


PATIENT = MetricRule("acc", min=0.88, patience=2)


def test_a_first_breach_waits_for_patience():
    result = verdict_of(PATIENT, 0.84, [0.90, 0.90, 0.90])
    assert result.verdict == "warn"
    assert result.reasons == (
        "below min 0.88",
        "breach 1 of 2 (patience: fails after 2 breaching runs in a row)",
    )


def test_a_second_breach_in_a_row_fails():
    result = verdict_of(PATIENT, 0.84, [0.90, 0.90, 0.85])
    assert (result.verdict, result.reasons) == ("fail", ("below min 0.88",))


def test_patience_judges_earlier_runs_against_their_own_baselines():
    # max-drop 0.02: 0.87 dropped 0.03 from the median 0.90 of the runs before it, so it breached
    rule = MetricRule("acc", max_drop=0.02, patience=2)
    assert verdict_of(rule, 0.85, [0.90, 0.90, 0.90, 0.87]).verdict == "fail"
    # here the run before dropped only 0.01 from its own baseline: no streak yet
    assert verdict_of(rule, 0.85, [0.90, 0.90, 0.90, 0.89]).verdict == "warn"


def test_patience_does_not_delay_missing_or_non_finite_values():
    assert verdict_of(PATIENT, None).verdict == "fail"
    assert verdict_of(PATIENT, math.nan).verdict == "fail"


def test_an_inconclusive_earlier_run_does_not_count_toward_patience():
    rule = MetricRule("acc", min=0.88, confidence=0.95, patience=2, kind="proportion")
    history = [Measurement(0.9, 400)] * 3 + [Measurement(351 / 400, 400)]  # inconclusive
    result = verdict_of_measurement(rule, Measurement(320 / 400, 400), history)
    assert result.verdict == "warn"
    assert result.reasons[-1] == "breach 1 of 2 (patience: fails after 2 breaching runs in a row)"


def verdict_of_measurement(rule, measurement, history=(), settings=MEDIAN5):
    return judge_metric(rule, measurement, list(history), settings)
