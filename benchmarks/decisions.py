"""How often does the metric gate cry wolf, and how fast does it catch a real regression?

A seeded simulation that runs the plugin's own judging function,
``pytest_metricgate.gate.judge_metric``, on many metric histories whose truth is
known, and prints a Markdown table. Nothing here re-implements a rule: every
verdict comes from the gate.

Method
------
* **Measurement noise.** A model has a true accuracy ``p``. Each CI run
  evaluates it on ``n`` examples (``n`` in 200, 1000, 10000), so the observed
  accuracy is ``Binomial(n, p) / n`` and is passed to the gate as
  ``Measurement(value, n)``. All draws come from ``numpy.random.default_rng``
  seeded from ``--seed``, the scenario and ``n``: the output is identical run to
  run. Every rule set is judged on the same draws (common random numbers), so
  differences between rows are differences between rules, not luck.
* **History.** The history is what ``--metric-gate-record`` would have written:
  every judged run whose verdict is not ``fail`` is appended with its ``n`` (a
  ``warn`` is recorded; the plugin refuses to record a failing run). Each trial
  starts with 20 warm-up runs at the stable level, recorded without judging.
  The gate-wide settings are ``baseline = "median"`` and ``window = 5``.
* **Stable histories.** ``p = 0.90`` for 40 judged runs. *False alarms* is the
  share of these judged runs whose verdict is ``fail``.
* **Regressions.** 5 judged stable runs, then 20 judged changed runs, the
  first of them ``t0``: a step of 1, 2 or 5 points (``p`` drops from
  0.90 to 0.89, 0.88 or 0.85 and stays there) and a slow drift of 0.3 points a
  run (``p = 0.90 - 0.003 k`` on the k-th run from ``t0``, k = 1, 2, ...).
  *Detection* is the first ``fail`` at or after ``t0``; its *delay* counts runs
  from ``t0`` as 1 (caught on the first changed run = delay 1). A cell reads
  ``detected % / caught within 2 runs % / mean delay of the detected trials``.
  Fails before ``t0`` are false alarms; they shape the history (they are not
  recorded) but are not counted anywhere: the false-alarm column comes from the
  stable histories only, and detection looks at runs from ``t0`` on.
* **Single outlier.** 5 judged stable runs, then one run at ``p = 0.85`` at
  ``t0``. *Outlier flagged* is the share of trials in which that run failed.
  This is neither good nor bad in itself: a one-run glitch (a bad shard of the
  evaluation set, a flaky data loader) may be worth blocking or may be noise the
  team would rather ride out; the column shows what each rule set does with it.

Rule sets
---------
``naive`` (``min = 0.88``, ``max-drop = 0.02``, judged on the point value),
``naive`` plus ``patience = 2``, ``naive`` plus ``confidence = 0.95`` (a limit
fails only when even the favourable end of the Wilson interval breaches it),
``min = 0.88`` with ``max-sigma = 3`` (``min-history = 5``) instead of
``max-drop``, and a *recommended* configuration picked from a few candidates
(confidence alone at 0.95, 0.9 and 0.8, confidence + patience, confidence +
max-sigma) by three criteria in order:

1. the target at ``n = 1000``: false alarms <= 1 % of stable runs, and a
   5-point step caught within 2 runs in >= 95 % of trials;
2. false alarms within the same 1 % at every ``n``, or the least excess over
   it (the recommendation should not depend on a large evaluation set);
3. the soonest detection: fewest mean runs to detection over every regression
   trial at every ``n``, an undetected trial counted as 21 runs.

*Warnings* (the share of stable runs whose verdict is ``warn``) are shown too:
they do not block, but a gate that warns on most green runs trains people to
ignore it.

Reading the numbers: a 1-point step stays inside the tolerance of ``min 0.88``
and ``max-drop 0.02``, so a rule set that "detects" it at small ``n`` mostly
fails on noise, as its false-alarm column shows; and because a run that only
warns is recorded, a drop that stays inconclusive for 3 runs becomes the median
baseline, after which only ``min`` (or ``max-sigma``) can still catch it.

Run ``python benchmarks/decisions.py`` (``--trials``, ``--seed``; ``--check``
exits with status 1 when the recommended configuration misses the target).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from pytest_metricgate.config import MetricRule
from pytest_metricgate.gate import (
    FAIL,
    WARN,
    Bootstrap,
    CurrentValues,
    Settings,
    judge,
    judge_metric,
    limits_text,
)
from pytest_metricgate.stats import baseline_noise_factor, level_shifts, wilson_interval, z_for_tail
from pytest_metricgate.values import Measurement, Run

STABLE_ACCURACY = 0.90
SAMPLE_SIZES = (200, 1000, 10000)
TARGET_SAMPLE_SIZE = 1000
WARM_UP_RUNS = 20
STABLE_JUDGED_RUNS = 40
RUNS_BEFORE_CHANGE = 5
RUNS_FROM_CHANGE = 20
OUTLIER_ACCURACY = 0.85
SETTINGS = Settings(baseline="median", window=5)
DEFAULT_SEED = 20240601
DEFAULT_TRIALS = 300
MAX_FALSE_ALARM_RATE = 0.01
MIN_FAST_DETECTION_RATE = 0.95
FAST_DETECTION_RUNS = 2
TARGET_SCENARIO = "step 5pt"
TARGET_SCENARIO_TEXT = "a 5-point step"
UNDETECTED_DELAY = RUNS_FROM_CHANGE + 1

NAIVE = MetricRule("accuracy", min=0.88, max_drop=0.02, kind="proportion")


# -- scenarios --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """The true accuracy of every judged run, and where the change (if any) happens."""

    name: str
    kind: str  # "stable", "regression" or "outlier"
    accuracies: tuple[float, ...]  # of the judged runs, after the warm-up
    change_at: int = 0  # index of t0 among the judged runs

    def true_accuracies(self) -> np.ndarray:
        """Warm-up runs at the stable level, then the judged runs."""
        return np.array((STABLE_ACCURACY,) * WARM_UP_RUNS + self.accuracies)


def stable_history() -> Scenario:
    return Scenario("stable", "stable", (STABLE_ACCURACY,) * STABLE_JUDGED_RUNS)


def step_drop(points: int) -> Scenario:
    changed = round(STABLE_ACCURACY - points / 100, 10)
    accuracies = (STABLE_ACCURACY,) * RUNS_BEFORE_CHANGE + (changed,) * RUNS_FROM_CHANGE
    return Scenario(f"step {points}pt", "regression", accuracies, RUNS_BEFORE_CHANGE)


def slow_drift(points_per_run: float) -> Scenario:
    drifting = tuple(STABLE_ACCURACY - points_per_run / 100 * k for k in range(1, RUNS_FROM_CHANGE + 1))
    accuracies = (STABLE_ACCURACY,) * RUNS_BEFORE_CHANGE + drifting
    return Scenario(f"drift {points_per_run:g}/run", "regression", accuracies, RUNS_BEFORE_CHANGE)


def single_outlier() -> Scenario:
    accuracies = (STABLE_ACCURACY,) * RUNS_BEFORE_CHANGE + (OUTLIER_ACCURACY,)
    return Scenario("outlier", "outlier", accuracies, RUNS_BEFORE_CHANGE)


def all_scenarios() -> tuple[Scenario, ...]:
    return (stable_history(), single_outlier(), step_drop(1), step_drop(2), step_drop(5), slow_drift(0.3))


def observed_accuracies(scenario: Scenario, n: int, trials: int, seed: int) -> np.ndarray:
    """``trials`` rows of observed accuracies: Binomial(n, p) / n for each run's true p.

    The generator is seeded from the seed, the scenario's name and n, so adding
    a scenario or a rule set changes no other draw.
    """
    rng = np.random.default_rng([seed, zlib.crc32(scenario.name.encode()), n])
    accuracies = scenario.true_accuracies()
    return rng.binomial(n, accuracies, size=(trials, accuracies.size)) / n


# -- rule sets --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSet:
    """A named metric rule, as one row of the table."""

    name: str
    rule: MetricRule


def required_rule_sets() -> tuple[RuleSet, ...]:
    return (
        RuleSet("naive", NAIVE),
        RuleSet("patience = 2", replace(NAIVE, patience=2)),
        RuleSet("confidence = 0.95", replace(NAIVE, confidence=0.95)),
        RuleSet(
            "max-sigma = 3", MetricRule("accuracy", min=0.88, max_sigma=3.0, min_history=5, kind="proportion")
        ),
    )


def candidate_rule_sets() -> tuple[RuleSet, ...]:
    """Noise-aware configurations that keep the naive limits (min 0.88, max-drop 0.02).

    ``confidence = 0.95`` is the same rule as the required row of that name, so
    it is simulated once.
    """
    return (
        RuleSet("confidence = 0.95", replace(NAIVE, confidence=0.95)),
        RuleSet("confidence 0.95 + patience 2", replace(NAIVE, confidence=0.95, patience=2)),
        RuleSet("confidence 0.95 + max-sigma 3", replace(NAIVE, confidence=0.95, max_sigma=3.0)),
        RuleSet("confidence 0.9", replace(NAIVE, confidence=0.9)),
        RuleSet("confidence 0.8", replace(NAIVE, confidence=0.8)),
    )


# -- judging ----------------------------------------------------------------------------------------


def verdicts_of_one_history(
    rule: MetricRule, observed: Sequence[float], n: int, stop_after_fail_from: int | None
) -> list[str]:
    """Judge each run after the warm-up against the runs recorded before it.

    A run is recorded unless it failed. With ``stop_after_fail_from``, stop at
    the first fail at or after that judged run (nothing after it is reported).
    """
    history = [Measurement(float(value), n) for value in observed[:WARM_UP_RUNS]]
    verdicts: list[str] = []
    for index, value in enumerate(observed[WARM_UP_RUNS:]):
        current = Measurement(float(value), n)
        verdict = judge_metric(rule, current, history, SETTINGS).verdict
        verdicts.append(verdict)
        if verdict != FAIL:
            history.append(current)
        elif stop_after_fail_from is not None and index >= stop_after_fail_from:
            break
    return verdicts


@dataclass(frozen=True)
class Outcome:
    """What one rule set did in one scenario at one n, over all trials."""

    trials: int
    judged_runs: int = 0
    fails: int = 0
    warnings: int = 0
    delays: tuple[int | None, ...] = ()  # per trial: runs from t0 to the first fail, None if never

    @property
    def fail_rate(self) -> float:
        return self.fails / self.judged_runs

    @property
    def warning_rate(self) -> float:
        return self.warnings / self.judged_runs

    @property
    def detected(self) -> float:
        return sum(delay is not None for delay in self.delays) / self.trials

    def caught_within(self, runs: int) -> float:
        return sum(delay is not None and delay <= runs for delay in self.delays) / self.trials

    @property
    def mean_delay(self) -> float | None:
        found = [delay for delay in self.delays if delay is not None]
        return sum(found) / len(found) if found else None

    @property
    def censored_mean_delay(self) -> float:
        """Mean delay with an undetected trial counted as ``UNDETECTED_DELAY`` runs."""
        return sum(UNDETECTED_DELAY if delay is None else delay for delay in self.delays) / self.trials


def outcome_of(rule: MetricRule, scenario: Scenario, n: int, observed: np.ndarray) -> Outcome:
    """Judge every trial of ``scenario`` with ``rule`` and sum up what the gate did."""
    judged_runs = fails = warnings = 0
    delays: list[int | None] = []
    watching = scenario.change_at if scenario.kind == "regression" else None
    for row in observed:
        verdicts = verdicts_of_one_history(rule, row.tolist(), n, watching)
        if scenario.kind == "stable":
            judged_runs += len(verdicts)
            fails += verdicts.count(FAIL)
            warnings += verdicts.count(WARN)
        else:
            delays.append(delay_of_first_fail(verdicts, scenario.change_at))
    return Outcome(len(observed), judged_runs, fails, warnings, tuple(delays))


def delay_of_first_fail(verdicts: Sequence[str], change_at: int) -> int | None:
    """Runs from t0 (counted as 1) to the first fail at or after it; ``None`` when none failed."""
    for index in range(change_at, len(verdicts)):
        if verdicts[index] == FAIL:
            return index - change_at + 1
    return None


Results = dict[tuple[str, int, str], Outcome]  # (rule set, n, scenario) -> outcome


def simulate(rule_sets: Sequence[RuleSet], scenarios: Sequence[Scenario], trials: int, seed: int) -> Results:
    """Every rule set on the same draws of every scenario at every n (a rule set named twice runs once)."""
    unique = list({rule_set.name: rule_set for rule_set in rule_sets}.values())
    results: Results = {}
    for n in SAMPLE_SIZES:
        for scenario in scenarios:
            observed = observed_accuracies(scenario, n, trials, seed)
            for rule_set in unique:
                results[rule_set.name, n, scenario.name] = outcome_of(rule_set.rule, scenario, n, observed)
    return results


# -- choosing the recommended configuration -----------------------------------------------------------


def meets_target(results: Results, name: str) -> bool:
    """False alarms <= 1 % of stable runs and a 5-point step caught within 2 runs in >= 95 % of trials."""
    stable = results[name, TARGET_SAMPLE_SIZE, "stable"]
    step = results[name, TARGET_SAMPLE_SIZE, TARGET_SCENARIO]
    fast = step.caught_within(FAST_DETECTION_RUNS)
    return stable.fail_rate <= MAX_FALSE_ALARM_RATE and fast >= MIN_FAST_DETECTION_RATE


def worst_false_alarm_rate(results: Results, name: str) -> float:
    return max(results[name, n, "stable"].fail_rate for n in SAMPLE_SIZES)


def detection_score(results: Results, name: str, scenarios: Sequence[Scenario]) -> float:
    """Mean runs to detection over every regression trial at every n (undetected = 21); lower is better."""
    delays = [
        results[name, n, s.name].censored_mean_delay
        for n in SAMPLE_SIZES
        for s in scenarios
        if s.kind == "regression"
    ]
    return sum(delays) / len(delays)


def best_candidate(results: Results, candidates: Sequence[RuleSet], scenarios: Sequence[Scenario]) -> RuleSet:
    """The recommended configuration, by three criteria in order.

    1. It meets the target at n = 1000.
    2. Its false alarms stay within the same 1 % at every n, or exceed it by
       the least (an evaluation set of 200 should not turn the gate into a
       coin flip); candidates within the budget tie here.
    3. It detects regressions soonest (``detection_score``).
    """

    def rank(candidate: RuleSet) -> tuple[bool, float, float]:
        excess = max(0.0, worst_false_alarm_rate(results, candidate.name) - MAX_FALSE_ALARM_RATE)
        missed = not meets_target(results, candidate.name)
        return missed, excess, detection_score(results, candidate.name, scenarios)

    return min(candidates, key=rank)


# -- printing ---------------------------------------------------------------------------------------


def percent(share: float, decimals: int = 0) -> str:
    """``share`` in percent; never rounded to a misleading 0 or 100 (``<1``, ``>99`` instead)."""
    shown = f"{100 * share:.{decimals}f}"
    smallest = 10.0**-decimals
    if 0 < share and float(shown) == 0:
        return f"<{smallest:g}"
    if share < 1 and float(shown) == 100:
        return f">{100 - smallest:g}"
    return shown


def with_interval(share: float, count: int, decimals: int) -> str:
    """``0.07 (0.03–0.15)``: a share in percent with its Wilson 95% interval."""
    low, high = wilson_interval(share, count, 0.95)
    return f"{100 * share:.{decimals}f} ({100 * low:.{decimals}f}\u2013{100 * high:.{decimals}f})"


def detection_cell(outcome: Outcome) -> str:
    delay = outcome.mean_delay
    shown = "-" if delay is None else f"{delay:.1f}"
    return f"{percent(outcome.detected)} / {percent(outcome.caught_within(FAST_DETECTION_RUNS))} / {shown}"


def row_of(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def results_table(
    results: Results, rows: Sequence[tuple[str, str]], n: int, scenarios: Sequence[Scenario]
) -> list[str]:
    """One Markdown table for one n; ``rows`` pairs the shown name with the name in ``results``."""
    regressions = [s for s in scenarios if s.kind == "regression"]
    header = ["rule set", "false alarms %", "warnings %", "outlier flagged %"] + [s.name for s in regressions]
    lines = [row_of(header), row_of(["---"] + ["--:"] * (len(header) - 1))]
    for shown, name in rows:
        stable = results[name, n, "stable"]
        cells = [
            shown,
            percent(stable.fail_rate, 2),
            percent(stable.warning_rate),
            percent(results[name, n, "outlier"].caught_within(1)),
        ]
        cells += [detection_cell(results[name, n, s.name]) for s in regressions]
        lines.append(row_of(cells))
    return lines


def candidates_table(
    results: Results, candidates: Sequence[RuleSet], scenarios: Sequence[Scenario]
) -> list[str]:
    header = [
        "candidate",
        *(f"false alarms % (n = {n:,}, 95% interval)" for n in SAMPLE_SIZES),
        f"{TARGET_SCENARIO} within {FAST_DETECTION_RUNS} runs % (n = {TARGET_SAMPLE_SIZE:,})",
        "meets target",
        "mean runs to detect",
    ]
    lines = [row_of(header), row_of(["---", *("--:" for _ in SAMPLE_SIZES), "--:", ":-:", "--:"])]
    for candidate in candidates:
        name = candidate.name
        step = results[name, TARGET_SAMPLE_SIZE, TARGET_SCENARIO]
        lines.append(
            row_of(
                [
                    name,
                    *(
                        with_interval(
                            results[name, n, "stable"].fail_rate, results[name, n, "stable"].judged_runs, 2
                        )
                        for n in SAMPLE_SIZES
                    ),
                    with_interval(step.caught_within(FAST_DETECTION_RUNS), step.trials, 1),
                    "yes" if meets_target(results, name) else "no",
                    f"{detection_score(results, name, scenarios):.2f}",
                ]
            )
        )
    return lines


def toml_of(rule: MetricRule) -> str:
    lines = [
        "[tool.metricgate]",
        f'baseline = "{SETTINGS.baseline}"',
        f"window = {SETTINGS.window}",
        "",
        f"[tool.metricgate.metrics.{rule.name}]",
    ]
    for key, value in (
        ("min", rule.min),
        ("max-drop", rule.max_drop),
        ("confidence", rule.confidence),
        ("max-sigma", rule.max_sigma),
    ):
        if value is not None:
            lines.append(f"{key} = {value:g}")
    if rule.max_sigma is not None:
        lines.append(f"min-history = {rule.min_history}")
    if rule.patience > 1:
        lines.append(f"patience = {rule.patience}")
    if rule.kind != "value":
        lines.append(f'kind = "{rule.kind}"')
    return "\n".join(lines)


def chance_detection(false_alarm_rate: float) -> float:
    """The share of trials a rule failing at random at this rate would 'detect' within the 20 runs."""
    return 1 - (1 - false_alarm_rate) ** RUNS_FROM_CHANGE


def cost_paragraph(results: Results, recommended: RuleSet, scenarios: Sequence[Scenario]) -> str:
    """What the recommended rule set costs in detection time against naive, at the target n."""
    n = TARGET_SAMPLE_SIZE
    parts = []
    for scenario in (s for s in scenarios if s.kind == "regression"):
        naive = results["naive", n, scenario.name]
        chosen = results[recommended.name, n, scenario.name]
        lag = chosen.censored_mean_delay - naive.censored_mean_delay
        parts.append(
            f"{scenario.name} {lag:+.1f} runs (detected {percent(chosen.detected)}% vs "
            f"{percent(naive.detected)}%)"
        )
    naive_alarms = results["naive", n, "stable"].fail_rate
    chosen_alarms = results[recommended.name, n, "stable"].fail_rate
    return (
        f"Cost at n = {n:,}: `{recommended.name}` cuts false alarms from {percent(naive_alarms, 2)}% to "
        f"{percent(chosen_alarms, 2)}% of stable runs and pays in detection time. Mean runs to detection, "
        f"compared with naive (an undetected trial counted as {UNDETECTED_DELAY}): " + "; ".join(parts) + ". "
        f"Part of naive's speed is luck: failing {percent(naive_alarms, 1)}% of runs at random alone would "
        f"'detect' {percent(chance_detection(naive_alarms))}% of trials within {RUNS_FROM_CHANGE} runs. "
        f"Besides, a 1-point step stays inside the tolerance of min 0.88 and max-drop 0.02, and a 2-point "
        f"step lands exactly on both limits."
    )


# -- main -------------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="False alarms and detection delays of the metric gate's rules, simulated."
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=DEFAULT_TRIALS,
        help=f"trials per scenario and n (default {DEFAULT_TRIALS})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a target is missed (the single-metric one at n = 1,000 and every many-metric one)",
    )
    parser.add_argument(
        "--part",
        choices=("all", "single", "scale"),
        default="all",
        help="the single-metric tables, the many-metric and interval targets, or both (default)",
    )
    arguments = parser.parse_args(argv)
    if arguments.trials < 1:
        parser.error("--trials must be >= 1")
    if arguments.seed < 0:
        parser.error("--seed must be >= 0")
    return arguments


def legend() -> str:
    return (
        f"True accuracy {STABLE_ACCURACY:g}, each run observed as Binomial(n, p) / n; baseline = median "
        f"of the last {SETTINGS.window} recorded runs; a failing run is not recorded, a warning is. False "
        f"alarms and warnings: % of the {STABLE_JUDGED_RUNS} judged runs of a stable history that fail / "
        f"warn. Outlier flagged: % of trials whose single run at p = {OUTLIER_ACCURACY:g} failed. Regression "
        f"cells: detected within {RUNS_FROM_CHANGE} runs % / caught within {FAST_DETECTION_RUNS} runs % / "
        f"mean delay in runs of the detected trials (the first changed run = 1)."
    )


def how_the_pick_is_made() -> str:
    return (
        f"Target at n = {TARGET_SAMPLE_SIZE:,}: false alarms <= {percent(MAX_FALSE_ALARM_RATE)}% of stable "
        f"runs and {TARGET_SCENARIO_TEXT} caught within {FAST_DETECTION_RUNS} runs in >= "
        f"{percent(MIN_FAST_DETECTION_RATE)}% of trials. Among the candidates meeting it, the pick keeps "
        f"false alarms within {percent(MAX_FALSE_ALARM_RATE)}% at every n (or comes closest), then detects "
        f"soonest: fewest mean runs to detection over every regression trial at every n, an undetected trial "
        f"counted as {UNDETECTED_DELAY}."
    )


def report(
    results: Results,
    rule_sets: Sequence[RuleSet],
    candidates: Sequence[RuleSet],
    recommended: RuleSet,
    scenarios: Sequence[Scenario],
) -> str:
    """The whole Markdown report: a table per n, the candidates, the pick as TOML and what it costs."""
    rows = [(r.name, r.name) for r in rule_sets] + [(f"recommended ({recommended.name})", recommended.name)]
    lines = [
        "",
        legend(),
    ]
    for n in SAMPLE_SIZES:
        lines += ["", f"## n = {n:,}", "", *results_table(results, rows, n, scenarios)]
    lines += [
        "",
        "## The recommended configuration",
        "",
        how_the_pick_is_made(),
        "",
        *candidates_table(results, candidates, scenarios),
        "",
        f"Recommended: `{recommended.name}` ({limits_text(recommended.rule)}).",
        "",
        "```toml",
        toml_of(recommended.rule),
        "```",
        "",
        cost_paragraph(results, recommended, scenarios),
    ]
    return "\n".join(lines)


def check_message(results: Results, recommended: RuleSet) -> str:
    stable = results[recommended.name, TARGET_SAMPLE_SIZE, "stable"]
    step = results[recommended.name, TARGET_SAMPLE_SIZE, TARGET_SCENARIO]
    verdict = "meets" if meets_target(results, recommended.name) else "misses"
    fast = step.caught_within(FAST_DETECTION_RUNS)
    return (
        f"single metric: `{recommended.name}` {verdict} the target at n = {TARGET_SAMPLE_SIZE:,}: false alarms "
        f"{with_interval(stable.fail_rate, stable.judged_runs, 2)}% (at most {percent(MAX_FALSE_ALARM_RATE)}%), "
        f"{TARGET_SCENARIO_TEXT} caught within {FAST_DETECTION_RUNS} runs in "
        f"{with_interval(fast, step.trials, 1)}% of trials (at least {percent(MIN_FAST_DETECTION_RATE)}%)"
    )


# == decisions at scale ================================================================================
# Many metrics judged together, intervals for metrics that are not proportions, and the baseline's own
# noise. Every verdict again comes from the gate (``judge`` over all metrics, ``judge_metric`` for one);
# only the reference test ("the optimum") is computed here, vectorised.

SCALE_METRICS = 200
SCALE_N = 1000
SCALE_STABLE_RUNS = 2000
SCALE_STEP_TRIALS = 600
SCALE_STEP_RUNS = 10  # judged runs after the step; detection within 2 and 3 is what the target reads
SCALE_STEP = 0.05
MAX_FAMILY_FALSE_ALARM_RATE = 0.01
MAX_DETECTION_SHORTFALL = 0.05
EDGE_TRIALS = 20000
EDGE_TOLERANCE = 0.01
COVERAGE_SETS = 1000
COVERAGE_EXAMPLES = 200
COVERAGE_TOLERANCE = 0.02

# The configuration the README recommends for many metrics: every metric a proportion tested for any drop
# beyond noise (max-drop = 0) at confidence 0.998, i.e. a one-sided 0.1% level shared by the family, against
# the median of the last 10 runs (a longer window than the default 5: the shared baseline's noise is what
# limits detection, see the table).
SCALE_SETTINGS = Settings(baseline="median", window=10, family_wise=True)
SCALE_RULE = MetricRule("m", max_drop=0.0, confidence=0.998, kind="proportion")


def scale_rules() -> list[MetricRule]:
    return [replace(SCALE_RULE, name=f"m{index}") for index in range(SCALE_METRICS)]


def family_level() -> float:
    assert SCALE_RULE.confidence is not None
    return (1 - SCALE_RULE.confidence) / 2


@dataclass(frozen=True)
class Rate:
    """A share of trials with its Wilson 95% interval."""

    hits: int
    trials: int

    @property
    def share(self) -> float:
        return self.hits / self.trials

    def text(self, decimals: int = 1) -> str:
        low, high = wilson_interval(self.share, self.trials, 0.95)
        return f"{100 * self.share:.{decimals}f}% ({100 * low:.{decimals}f}\u2013{100 * high:.{decimals}f})"


def _run_of(values: np.ndarray, n: int) -> Run:
    return Run({f"m{index}": Measurement(float(value), n) for index, value in enumerate(values)})


def scale_false_alarms(seed: int) -> Rate:
    """Stable runs of 200 independent metrics that fail any of them, each against a fresh stable history."""
    rng = np.random.default_rng([seed, 1])
    rules = scale_rules()
    window = SCALE_SETTINGS.window
    failed = 0
    for _ in range(SCALE_STABLE_RUNS):
        draws = rng.binomial(SCALE_N, STABLE_ACCURACY, size=(window + 1, SCALE_METRICS)) / SCALE_N
        history = [_run_of(row, SCALE_N) for row in draws[:-1]]
        current = CurrentValues(_run_of(draws[-1], SCALE_N).metrics)
        failed += not judge(rules, current, history, SCALE_SETTINGS).passed
    return Rate(failed, SCALE_STABLE_RUNS)


@dataclass(frozen=True)
class Detection:
    """Runs from the step to the first fail of the stepped metric, per trial (``None``: not within the runs)."""

    delays: tuple[int | None, ...]

    def within(self, runs: int) -> Rate:
        return Rate(sum(d is not None and d <= runs for d in self.delays), len(self.delays))

    def median(self) -> str:
        ordered = sorted(SCALE_STEP_RUNS + 1 if d is None else d for d in self.delays)
        middle = ordered[len(ordered) // 2]
        return f">{SCALE_STEP_RUNS}" if middle > SCALE_STEP_RUNS else str(middle)


def scale_step_draws(seed: int) -> np.ndarray:
    """Per trial: the stepped metric's warm-up runs at 0.90, then its runs at 0.85."""
    rng = np.random.default_rng([seed, 2])
    window = SCALE_SETTINGS.window
    truth = np.array([STABLE_ACCURACY] * window + [STABLE_ACCURACY - SCALE_STEP] * SCALE_STEP_RUNS)
    return rng.binomial(SCALE_N, truth, size=(SCALE_STEP_TRIALS, truth.size)) / SCALE_N


def scale_detection(seed: int, stepped: np.ndarray) -> Detection:
    """The gate on all 200 metrics, metric 0 stepped; a run is recorded unless the gate failed."""
    rng = np.random.default_rng([seed, 3])
    rules = scale_rules()
    window = SCALE_SETTINGS.window
    delays: list[int | None] = []
    for row in stepped:
        others = rng.binomial(SCALE_N, STABLE_ACCURACY, size=(row.size, SCALE_METRICS)) / SCALE_N
        others[:, 0] = row
        history = [_run_of(values, SCALE_N) for values in others[:window]]
        delay = None
        for run in range(SCALE_STEP_RUNS):
            current = _run_of(others[window + run], SCALE_N)
            result = judge(rules, CurrentValues(current.metrics), history, SCALE_SETTINGS)
            if result.verdicts[0].verdict == FAIL:
                delay = run + 1
                break
            if result.passed:
                history.append(current)
        delays.append(delay)
    return Detection(tuple(delays))


def optimum_detection(stepped: np.ndarray) -> Detection:
    """The reference: a one-sided z-test of "no drop" with the true binomial variances of this run and of the
    median baseline, at the family's first-rank level (level / 200), on the same draws and the same
    recording (a run is recorded unless this test fails)."""
    window = SCALE_SETTINGS.window
    p0, p1 = STABLE_ACCURACY, STABLE_ACCURACY - SCALE_STEP
    sd = math.sqrt(
        p1 * (1 - p1) / SCALE_N + baseline_noise_factor("median", window) * p0 * (1 - p0) / SCALE_N
    )
    critical = z_for_tail(family_level() / SCALE_METRICS)
    delays: list[int | None] = []
    for row in stepped:
        recorded = list(row[:window])
        delay = None
        for run in range(SCALE_STEP_RUNS):
            value = row[window + run]
            if (float(np.median(recorded[-window:])) - value) / sd > critical:
                delay = run + 1
                break
            recorded.append(value)
        delays.append(delay)
    return Detection(tuple(delays))


def edge_false_failures(seed: int, with_baseline_noise: bool) -> Rate:
    """One metric truly dropped by exactly max-drop 0.02 (0.90 -> 0.88) against a noisy median of 5."""
    rng = np.random.default_rng([seed, 4])
    rule = MetricRule("accuracy", max_drop=0.02, confidence=0.95, kind="proportion")
    truth = np.array([STABLE_ACCURACY] * 5 + [STABLE_ACCURACY - 0.02])
    draws = rng.binomial(SCALE_N, truth, size=(EDGE_TRIALS, truth.size)) / SCALE_N
    settings = Settings(baseline="median", window=5)
    failed = 0
    for row in draws:
        # Without n the history's values carry no sampling error: the old judgement, this run's noise only.
        history = [Measurement(float(v), SCALE_N if with_baseline_noise else None) for v in row[:-1]]
        verdict = judge_metric(rule, Measurement(float(row[-1]), SCALE_N), history, settings).verdict
        failed += verdict == FAIL
    return Rate(failed, EDGE_TRIALS)


@dataclass(frozen=True)
class PerExample:
    """A metric that is the mean of per-example values, with its true mean."""

    name: str
    true_mean: float

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.name == "log loss":
            # the probability given to the true class ~ Beta(4, 2): E[-ln q] = psi(6) - psi(4) = H5 - H3 = 0.45
            return -np.log(rng.beta(4.0, 2.0, size=COVERAGE_EXAMPLES))
        # per-example F1 (as in extractive QA): 1 with p 0.6, 0 with p 0.1, else Uniform(0.2, 0.9)
        kind = rng.random(COVERAGE_EXAMPLES)
        partial = rng.uniform(0.2, 0.9, size=COVERAGE_EXAMPLES)
        return np.where(kind < 0.6, 1.0, np.where(kind < 0.7, 0.0, partial))


PER_EXAMPLE = (PerExample("log loss", 1 / 4 + 1 / 5), PerExample("F1", 0.6 + 0.3 * 0.55))


def coverage(metric: PerExample, seed: int) -> Rate:
    """How often the gate's 95% bootstrap interval of a set's value covers the true mean."""
    rng = np.random.default_rng([seed, 5, zlib.crc32(metric.name.encode())])
    covered = 0
    for _ in range(COVERAGE_SETS):
        samples = metric.draw(rng)
        measured = Measurement(float(samples.mean()), samples=tuple(samples.tolist()))
        low, high = Bootstrap.of(measured).interval(0.95)
        covered += low <= metric.true_mean <= high
    return Rate(covered, COVERAGE_SETS)


SHIFT_TRIALS = 500
SHIFT_LENGTHS = (12, 24, 50)
SHIFT_POSITIONS = ("middle", "random", "newest two")


def shift_found(seed: int, length: int, position: str) -> Rate:
    """How often ``level_shifts`` finds a 5-point drop (n = 1,000) within one run of where it happened.

    ``middle``: the first run at the new level is run ``length // 2``; ``random``: any place a level of
    two runs allows (uniform); ``newest two``: only the newest two runs are at the new level.
    """
    rng = np.random.default_rng([seed, 6, length, zlib.crc32(position.encode())])
    found = 0
    for _ in range(SHIFT_TRIALS):
        if position == "middle":
            at = length // 2
        elif position == "random":
            at = int(rng.integers(2, length - 1))
        else:
            at = length - 2
        truth = np.where(np.arange(length) < at, STABLE_ACCURACY, STABLE_ACCURACY - SCALE_STEP)
        values = rng.binomial(SCALE_N, truth) / SCALE_N
        found += any(abs(shift.index - at) <= 1 for shift in level_shifts(values.tolist()))
    return Rate(found, SHIFT_TRIALS)


def shift_table(seed: int) -> str:
    lines = [
        "",
        "## Level-shift sensitivity",
        "",
        (
            f"A 5-point drop of an accuracy of {STABLE_ACCURACY:g} measured on n = {SCALE_N:,}, found within one run "
            f"of where it happened ({SHIFT_TRIALS} histories per cell, Wilson 95% intervals)."
        ),
        "",
        "| runs in the history | " + " | ".join(f"shift {p}" for p in SHIFT_POSITIONS) + " |",
        "| --: | " + " | ".join("--:" for _ in SHIFT_POSITIONS) + " |",
    ]
    for length in SHIFT_LENGTHS:
        cells = [shift_found(seed, length, position).text(0) for position in SHIFT_POSITIONS]
        lines.append(f"| {length} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class ScaleResults:
    false_alarms: Rate
    gate: Detection
    optimum: Detection
    edge_noisy: Rate
    edge_exact: Rate
    coverages: tuple[tuple[str, Rate], ...]

    def targets(self) -> list[tuple[str, bool]]:
        """Each target of the issue with whether it is met."""
        met = [
            (
                f"200 stable metrics: runs falsely failing any {self.false_alarms.text(2)} <= 1%",
                self.false_alarms.share <= MAX_FAMILY_FALSE_ALARM_RATE,
            )
        ]
        for runs in (2, 3):
            gate, best = self.gate.within(runs).share, self.optimum.within(runs).share
            met.append(
                (
                    (
                        f"5-point step caught within {runs} runs: gate {100 * gate:.1f}% vs optimum {100 * best:.1f}% "
                        f"(at most 5 points below)"
                    ),
                    gate >= best - MAX_DETECTION_SHORTFALL,
                )
            )
        nominal = (1 - 0.95) / 2
        met.append(
            (
                (
                    f"true drop = max-drop, noisy median-of-5 baseline: false failures {self.edge_noisy.text(2)} "
                    f"within 1 point of {100 * nominal:g}%"
                ),
                abs(self.edge_noisy.share - nominal) <= EDGE_TOLERANCE,
            )
        )
        for name, rate in self.coverages:
            met.append(
                (
                    f"{name} bootstrap 95% coverage {rate.text(1)} within 2 points of 95%",
                    abs(rate.share - 0.95) <= COVERAGE_TOLERANCE,
                )
            )
        return met


def simulate_scale(seed: int) -> ScaleResults:
    stepped = scale_step_draws(seed)
    return ScaleResults(
        false_alarms=scale_false_alarms(seed),
        gate=scale_detection(seed, stepped),
        optimum=optimum_detection(stepped),
        edge_noisy=edge_false_failures(seed, True),
        edge_exact=edge_false_failures(seed, False),
        coverages=tuple((metric.name, coverage(metric, seed)) for metric in PER_EXAMPLE),
    )


def scale_report(results: ScaleResults) -> str:
    level = family_level()
    lines = [
        "",
        "## Many metrics",
        "",
        (
            f"{SCALE_METRICS} independent metrics, each a proportion at p = {STABLE_ACCURACY:g} on n = {SCALE_N:,}, "
            f"judged together with the recommended configuration: max-drop 0, confidence {SCALE_RULE.confidence:g} "
            f"(one-sided {100 * level:g}% per test), kind proportion, baseline median of the last "
            f"{SCALE_SETTINGS.window} runs, family-wise (Holm): the first rank is judged at "
            f"{100 * level / SCALE_METRICS:.4g}%. Rates with Wilson 95% intervals."
        ),
        "",
        "| measure | gate | optimum |",
        "| --- | --: | --: |",
        f"| stable runs failing any metric ({SCALE_STABLE_RUNS:,} runs) | {results.false_alarms.text(2)} | - |",
    ]
    for runs in (2, 3):
        lines.append(
            f"| 5-point step caught within {runs} runs ({SCALE_STEP_TRIALS} trials) | "
            f"{results.gate.within(runs).text()} | {results.optimum.within(runs).text()} |"
        )
    lines += [
        f"| median runs to detection | {results.gate.median()} | {results.optimum.median()} |",
        "",
        (
            "The optimum is a one-sided z-test of no drop with the true binomial variance of this run and of the "
            "median baseline, at the same first-rank level, on the same draws."
        ),
        "",
        "## Baseline noise and intervals for values",
        "",
        "| measure | rate |",
        "| --- | --: |",
        (
            f"| true drop = max-drop 0.02, confidence 0.95, history with n (baseline noise counted), "
            f"{EDGE_TRIALS:,} trials | {results.edge_noisy.text(2)} |"
        ),
        f"| the same, history without n (this run's noise only) | {results.edge_exact.text(2)} |",
    ]
    for name, rate in results.coverages:
        lines.append(
            f"| {name}: 95% bootstrap interval (samples=) covers the true mean, {COVERAGE_SETS:,} sets of "
            f"{COVERAGE_EXAMPLES} | {rate.text(1)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    started = time.perf_counter()
    targets: list[tuple[str, bool]] = []
    body = ""
    if arguments.part in ("all", "single"):
        scenarios = all_scenarios()
        rule_sets, candidates = required_rule_sets(), candidate_rule_sets()
        results = simulate([*rule_sets, *candidates], scenarios, arguments.trials, arguments.seed)
        recommended = best_candidate(results, candidates, scenarios)
        body += report(results, rule_sets, candidates, recommended, scenarios)
        targets.append((check_message(results, recommended), meets_target(results, recommended.name)))
    if arguments.part in ("all", "scale"):
        scale = simulate_scale(arguments.seed)
        body += "\n" + scale_report(scale) + "\n" + shift_table(arguments.seed)
        targets += scale.targets()
    elapsed = time.perf_counter() - started
    print(
        f"# Metric gate decisions: {arguments.trials} trials per scenario and n, "
        f"seed {arguments.seed}, wall time {elapsed:.1f} s"
    )
    print(body)
    if not arguments.check:
        return 0
    print()
    for text, met in targets:
        print(f"check: {'ok  ' if met else 'MISS'} {text}", file=sys.stdout if met else sys.stderr)
    return 0 if all(met for _, met in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
