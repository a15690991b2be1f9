"""Pure judging: (rules, history, this run's values) -> verdicts with reasons.

No pytest and no I/O here: every function takes plain data and returns plain
data, so each rule is tested with tables.

A "drop" always means "worse": ``baseline - value`` when higher is better,
``value - baseline`` when lower is better. Differences smaller than float
rounding (a relative 1e-9) count as equal, so ``0.91 - 0.89`` is not a drop
larger than ``max-drop = 0.02``.
"""

from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .config import MetricRule
from .stats import baseline as compute_baseline
from .stats import (
    baseline_variance,
    bootstrap_means,
    holm_levels,
    mean_and_sample_sd,
    n_for_half_width,
    normal_tail,
    score_p_value,
    wilson_interval,
    z_for_confidence,
    z_for_tail,
)
from .values import Measurement, Run

PASS, FAIL, WARN, UNGATED = "pass", "fail", "warn", "ungated"
# A breach a reviewed ``[[tool.metricgate.accept]]`` entry covers (see ``acceptance``), and a
# gated metric that no selected test could record (tests deselected): neither fails the session.
ACCEPTED, NOT_RUN = "accepted", "not run"
NOTE = "note"

# Two floats this close (relative) are treated as equal: limits are written in
# decimal, values are computed in binary.
_RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Settings:
    """The gate-wide judging settings from ``[tool.metricgate]``."""

    baseline: str = "median"
    window: int = 5
    family_wise: bool = True


@dataclass(frozen=True)
class CurrentValues:
    """This run's values, where each came from, and metrics recorded more than once."""

    values: Mapping[str, Measurement]
    sources: Mapping[str, str] = field(default_factory=dict)
    conflicts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One reason: ``fail`` and ``warn`` decide the verdict, ``note`` only explains.

    ``breach`` marks a limit failing conclusively, the thing patience counts.
    """

    level: str
    text: str
    breach: bool = False
    rule: str | None = None  # the rule that breached: "min", "max-drop", ...


@dataclass(frozen=True)
class Verdict:
    """One metric's verdict and every reason behind it."""

    name: str
    verdict: str
    value: float | None
    n: int | None = None
    baseline: float | None = None
    baseline_text: str | None = None
    limits: str = ""
    reasons: tuple[str, ...] = ()
    severity: str | None = None
    source: str | None = None
    configured_by: str | None = None  # the glob table that configured a metric with no table of its own
    # The rules that breached conclusively, which an acceptance must cover.
    breaches: tuple[str, ...] = ()
    # A breach that only passed (as a warning) because of ``patience``: recorded with a
    # mark, so it never enters a later baseline.
    held_by_patience: bool = False
    # The reasons that decided the verdict (a failing limit, or for a warn its warning), so a message
    # can lead with them and never with an "inconclusive" note that came first in rule order.
    decisive: tuple[str, ...] = ()
    # The values at which each of the metric's limits starts to breach (min, max, the baseline less
    # max-drop, ...): a table shows the value with enough digits to tell it from each of them.
    edges: tuple[float, ...] = ()

    @property
    def gated(self) -> bool:
        return self.verdict != UNGATED


@dataclass(frozen=True)
class GateResult:
    """Every verdict of one session, and the gate's status."""

    verdicts: tuple[Verdict, ...]
    notes: tuple[str, ...] = ()
    family: Family | None = None
    # Said in the headline, the first line of every summary: what the gate could not judge.
    caveat: str | None = None

    @property
    def gated(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.gated)

    @property
    def failures(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == FAIL)

    @property
    def warnings(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == WARN)

    @property
    def accepted(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == ACCEPTED)

    @property
    def not_run(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == NOT_RUN)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    def headline(self) -> str:
        """``metric gate: FAILED (2 of 3 metrics breached)`` or ``metric gate: passed (3 metrics, 1 accepted)``."""
        total = len(self.gated)
        caveat = f" \u2014 {self.caveat}" if self.caveat else ""
        if not self.passed:
            return f"metric gate: FAILED ({len(self.failures)} of {_count(total, 'metric')} breached){caveat}"
        extra = ""
        if self.warnings:
            extra += f", {_count(len(self.warnings), 'warning')}"
        if self.accepted:
            extra += f", {len(self.accepted)} accepted"
        if self.not_run:
            extra += f", {len(self.not_run)} not run"
        return f"metric gate: passed ({_count(total, 'metric')}{extra}){caveat}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@dataclass(frozen=True)
class MetricHistory:
    """What one metric is judged against when runs carry marks (see ``baselines``).

    ``values`` are the earlier values that may form its baseline, oldest first;
    ``held`` counts the runs directly before this one whose breach passed only
    because of patience (kept out of ``values``, but part of the streak);
    ``restarted_at`` is the place among the runs where an acceptance restarted it.
    """

    values: tuple[Measurement, ...]
    held: int = 0
    restarted_at: int | None = None


def judge(
    rules: Sequence[MetricRule],
    current: CurrentValues,
    history: Sequence[Run],
    settings: Settings,
    notes: Sequence[str] = (),
    *,
    histories: Mapping[str, MetricHistory] | None = None,
) -> GateResult:
    """Judge every configured metric, then list recorded metrics no rule names as ungated.

    ``history`` holds the runs before this one, oldest first; ``histories``, when
    given, says per metric which of their values count (see ``MetricHistory``).
    The statistical tests of all metrics form one family (see ``Family``).
    """
    assessments = []
    for rule in rules:
        given = histories.get(rule.name) if histories is not None else None
        assessments.append(
            _assess(
                rule,
                current.values.get(rule.name),
                given.values if given is not None else history_values(history, rule.name),
                settings,
                source=current.sources.get(rule.name),
                recorded_by=current.conflicts.get(rule.name, ()),
                held=given.held if given is not None else 0,
            )
        )
    family = Family.of(assessments, settings.family_wise)
    verdicts = [assessment.verdict(family, settings) for assessment in assessments]
    configured = {rule.name for rule in rules}
    for name in sorted(current.values):
        if name not in configured:
            measurement = current.values[name]
            verdicts.append(
                Verdict(
                    name=name,
                    verdict=UNGATED,
                    value=measurement.value,
                    n=measurement.n,
                    source=current.sources.get(name),
                )
            )
    summary = family.summary()
    return GateResult(
        verdicts=tuple(verdicts), notes=(*notes, *(() if summary is None else (summary,))), family=family
    )


def mark_not_run(result: GateResult, reason: str) -> GateResult:
    """Turn every gated metric without a value into ``not run`` with ``reason``.

    For a session whose tests were partly deselected: a metric no selected test
    recorded was not measured, which is not a regression. A metric recorded twice
    keeps its failure (it has a value).
    """
    verdicts = tuple(
        replace(v, verdict=NOT_RUN, reasons=(reason,), breaches=())
        if v.gated and v.value is None and v.verdict in (FAIL, WARN, PASS)
        else v
        for v in result.verdicts
    )
    return replace(result, verdicts=verdicts)


def history_values(history: Sequence[Run], name: str) -> list[Measurement]:
    """The finite values ``name`` has in ``history``, oldest first (runs without it are skipped)."""
    values = []
    for run in history:
        measurement = run.metrics.get(name)
        if measurement is not None and math.isfinite(measurement.value):
            values.append(measurement)
    return values


def history_breaches(
    rule: MetricRule, values: Sequence[Measurement | float | None], settings: Settings
) -> list[bool]:
    """For each history value, whether it breached ``rule`` judged against the values before it.

    A breach is a limit failing conclusively (an inconclusive value is not one);
    severity and patience do not enter. Each run is judged on its own, at its
    tests' own levels (no family adjustment: the family of a past run is not
    known). ``None`` (not measured) and non-finite values are never marked, and
    do not enter later baselines.
    """
    flags = []
    earlier: list[Measurement] = []
    for value in values:
        measurement = _measurement(value)
        if measurement is None:
            flags.append(False)
            continue
        flags.append(_breached(rule, measurement, earlier, settings))
        earlier.append(measurement)
    return flags


def judge_metric(
    rule: MetricRule,
    current: Measurement | None,
    history: Sequence[Measurement | float],
    settings: Settings,
    *,
    source: str | None = None,
    recorded_by: Sequence[str] = (),
    held: int = 0,
) -> Verdict:
    """The verdict of one configured metric against its limits and its history, as the only metric judged.

    ``history`` holds the metric's earlier values, oldest first; non-finite ones
    are skipped. ``held`` counts the patience-held breaches directly before this
    run. Its own tests (a metric with ``confidence`` and ``max-sigma`` has two)
    still form a family when ``settings.family_wise``.
    """
    assessment = _assess(rule, current, history, settings, source=source, recorded_by=recorded_by, held=held)
    return assessment.verdict(Family.of([assessment], settings.family_wise), settings)


def _assess(
    rule: MetricRule,
    current: Measurement | None,
    history: Sequence[Measurement | float],
    settings: Settings,
    *,
    source: str | None,
    recorded_by: Sequence[str],
    held: int = 0,
) -> _Assessment:
    earlier = tuple(m for m in (_measurement(value) for value in history) if m is not None)
    context = _Context.of(rule, earlier, settings)
    items = tuple(_items(rule, current, context, recorded_by))
    return _Assessment(rule, current, context, items, source, tuple(recorded_by), held)


@dataclass(frozen=True)
class _Assessment:
    """One metric before the family is known: its decided findings and its pending tests, in reason order."""

    rule: MetricRule
    current: Measurement | None
    context: _Context
    items: tuple[Finding | Judgement, ...]
    source: str | None
    recorded_by: tuple[str, ...]
    held: int = 0  # patience-held breaches directly before this run

    @property
    def tests(self) -> tuple[Judgement, ...]:
        return tuple(item for item in self.items if isinstance(item, Judgement) and item.level is not None)

    def verdict(self, family: Family, settings: Settings) -> Verdict:
        """The one place a verdict is built: findings at the family's levels, then patience, then severity."""
        rule = self.rule
        findings: list[Finding] = []
        for item in self.items:
            if isinstance(item, Finding):
                findings.append(item)
            else:
                findings.extend(_evaluate(item, family.level_of(item), family.size))
        breaches = tuple(dict.fromkeys(f.rule or "" for f in findings if f.breach))
        held_now = False
        if self.current is not None and breaches and rule.patience > 1:
            findings = _apply_patience(rule, self.context.history, settings, findings, self.held)
            held_now = not any(finding.level == FAIL for finding in findings)
        levels = {finding.level for finding in findings}
        if FAIL in levels:
            # A conflict is a mistake in the test suite, not a metric level: it fails
            # whatever the severity, so it cannot hide behind "warning".
            verdict = FAIL if rule.severity == "error" or self.recorded_by else WARN
        elif WARN in levels:
            verdict = WARN
        else:
            verdict = PASS
        current = self.current
        return Verdict(
            name=rule.name,
            verdict=verdict,
            value=None if current is None else current.value,
            n=None if current is None else current.n,
            baseline=self.context.reference,
            baseline_text=self.context.reference_text or None,
            limits=limits_text(rule) + _via(rule),
            reasons=tuple(finding.text for finding in findings),
            severity=rule.severity,
            source=self.source,
            configured_by=rule.configured_by,
            breaches=breaches,
            held_by_patience=held_now,
            decisive=tuple(
                finding.text for finding in findings if finding.level == (FAIL if FAIL in levels else WARN)
            ),
            edges=_edges(rule, self.context) if current is not None else (),
        )


@dataclass(frozen=True)
class Family:
    """The statistical tests of one session, judged together by Holm's step-down procedure.

    Each test is one-sided: a limit judged under ``confidence = c`` at level
    ``(1 - c) / 2``, ``max-sigma = k`` at ``Phi(-k)``. With ``family-wise`` on
    and more than one test, the family's level is the smallest of their levels
    and Holm (1979) shares it among them, so the chance that a run with no real
    change fails any of them stays at that level whatever their dependence.
    """

    levels: Mapping[int, float]  # id(test) -> the level it is judged at
    size: int = 0
    family_level: float | None = None

    @classmethod
    def of(cls, assessments: Sequence[_Assessment], family_wise: bool) -> Family:
        tests = [test for assessment in assessments for test in assessment.tests]
        if not family_wise or len(tests) < 2:
            return cls({id(test): test.level for test in tests if test.level is not None}, len(tests))
        level = min(test.level for test in tests if test.level is not None)
        judged = holm_levels([test.p_value for test in tests], level)
        return cls({id(test): at for test, at in zip(tests, judged)}, len(tests), level)

    def level_of(self, test: Judgement) -> float | None:
        return self.levels.get(id(test), test.level)

    def summary(self) -> str | None:
        """``family-wise: 200 tests shared a 1% level (Holm); the first rank was judged at 0.005%``."""
        if self.family_level is None:
            return None
        first = self.family_level / self.size
        return (
            f"family-wise: {self.size} tests shared a {_percent(self.family_level)} level (Holm step-down); "
            f"the first rank was judged at {_percent(first)}"
        )


def _via(rule: MetricRule) -> str:
    """`` via "class_*.recall"`` for a metric a glob table configured; empty for an exact table."""
    if rule.configured_by is None:
        return ""
    return f" via {rule.configured_by.removeprefix('[tool.metricgate.metrics.').removesuffix(']')}"


def _percent(level: float) -> str:
    return f"{100 * level:.3g}%"


def _edges(rule: MetricRule, context: _Context) -> tuple[float, ...]:
    edges = (item.edge for item in _limits(rule, context) if isinstance(item, Limit))
    return tuple(edge for edge in edges if math.isfinite(edge))


def _measurement(value: Measurement | float | None) -> Measurement | None:
    if value is None:
        return None
    measurement = value if isinstance(value, Measurement) else Measurement(float(value))
    return measurement if math.isfinite(measurement.value) else None


@dataclass(frozen=True)
class _Context:
    """What every rule of one metric compares against: the history, its window and baseline."""

    history: Sequence[Measurement]
    window: tuple[Measurement, ...]
    reference: float | None
    method: str

    @classmethod
    def of(cls, rule: MetricRule, history: Sequence[Measurement], settings: Settings) -> _Context:
        size = settings.window if rule.window is None else rule.window
        method = settings.baseline if rule.baseline is None else rule.baseline
        window = tuple(history[-size:])
        values = [m.value for m in window]
        reference = compute_baseline(values, method, rule.higher_is_better) if window else None
        return cls(history, window, reference, method)

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(m.value for m in self.window)

    @property
    def reference_text(self) -> str:
        return _baseline_text(self.method, self.reference, len(self.window))

    def sampling_variances(self, rule: MetricRule) -> list[float] | None:
        """Each window run's sampling variance, or ``None`` unless every run has one."""
        variances = [_sampling_variance(rule, m) for m in self.window]
        if not variances or any(v is None for v in variances):
            return None
        return [v for v in variances if v is not None]

    def baseline_sd(self, rule: MetricRule) -> float | None:
        """The baseline's own standard error, when every run in the window carries its sampling error."""
        variances = self.sampling_variances(rule)
        if variances is None:
            return None
        return math.sqrt(baseline_variance(variances, self.method))


def _sampling_variance(rule: MetricRule, measurement: Measurement) -> float | None:
    standard_error = measurement.standard_error
    if standard_error is not None:
        return standard_error**2
    if _is_proportion(rule, measurement):
        assert measurement.n is not None
        return measurement.value * (1 - measurement.value) / measurement.n
    return None


def _is_proportion(rule: MetricRule, measurement: Measurement) -> bool:
    return rule.kind == "proportion" and measurement.n is not None and 0 <= measurement.value <= 1


def _items(
    rule: MetricRule,
    current: Measurement | None,
    context: _Context,
    recorded_by: Sequence[str],
) -> list[Finding | Judgement]:
    if len(recorded_by) > 1:
        if len(set(recorded_by)) == 1:
            return [Finding(FAIL, f"recorded {len(recorded_by)} times by {recorded_by[0]}")]
        times = "twice" if len(recorded_by) == 2 else f"{len(recorded_by)} times"
        return [Finding(FAIL, f"recorded {times}: by " + " and ".join(recorded_by))]
    if current is None:
        return [Finding(FAIL, "missing") if rule.required else Finding(NOTE, "missing (optional)")]
    if not math.isfinite(current.value):
        return [Finding(FAIL, f"not finite ({current.value})")]
    return _limit_items(rule, current, context)


def _breached(
    rule: MetricRule, current: Measurement, history: Sequence[Measurement], settings: Settings
) -> bool:
    context = _Context.of(rule, history, settings)
    for item in _limit_items(rule, current, context):
        if isinstance(item, Judgement) and any(f.breach for f in _evaluate(item, item.level, 1)):
            return True
    return False


def _apply_patience(
    rule: MetricRule,
    history: Sequence[Measurement],
    settings: Settings,
    findings: list[Finding],
    held: int = 0,
) -> list[Finding]:
    """Fail only when the ``patience - 1`` runs before this one breached too.

    The ``held`` runs directly before it were recorded as patience-held breaches;
    earlier ones are re-judged, each against its own past.
    """
    streak = 1 + held
    for index in range(len(history) - 1, max(-1, len(history) - (rule.patience - held)), -1):
        if streak >= rule.patience:
            break
        if not _breached(rule, history[index], history[:index], settings):
            break
        streak += 1
    if streak >= rule.patience:
        return findings
    softened = [Finding(WARN, f.text) if f.breach else f for f in findings]
    softened.append(
        Finding(
            WARN,
            f"breach {streak} of {rule.patience} (patience: fails after {rule.patience} breaching runs in a row)",
        )
    )
    return softened


def _limit_items(rule: MetricRule, current: Measurement, context: _Context) -> list[Finding | Judgement]:
    """Every limit of ``rule`` as a pending ``Judgement`` (notes where one cannot apply), in reason order.

    Labels and reasons are built lazily by the limit objects: charts judge every
    history run, and only a breach needs its words.
    """
    uncertainty = _uncertainty(rule, current) if rule.confidence is not None else None
    items: list[Finding | Judgement] = []
    if rule.confidence is not None and uncertainty is None:
        items.append(
            Finding(NOTE, f"confidence: {_why_no_interval(rule, current)}, so the rules use the point value")
        )
    own_level = None if rule.confidence is None or uncertainty is None else (1 - rule.confidence) / 2
    baseline_sd = context.baseline_sd(rule) if uncertainty is not None else None
    for item in _limits(rule, context):
        if isinstance(item, Finding):
            items.append(item)
        elif isinstance(item, MaxSigma):
            items.append(Judgement(item, current.value, None, item.own_level))
        else:
            relative = isinstance(item, (MaxDrop, MaxDropPct))
            items.append(
                Judgement(
                    item,
                    current.value,
                    uncertainty,
                    own_level,
                    baseline_sd if relative else None,
                    confidence=rule.confidence,
                )
            )
    return items


def _why_no_interval(rule: MetricRule, current: Measurement) -> str:
    if current.n is None:
        return "no n, stderr or samples was given"
    if rule.kind != "proportion":
        return 'n alone gives no interval for a metric of kind "value" (give stderr or samples, or set kind = "proportion")'
    return "the value is not a proportion in [0, 1]"


def _uncertainty(rule: MetricRule, current: Measurement) -> Uncertainty | None:
    """The current value's sampling error, by the most specific thing given: samples, stderr, then n."""
    if current.samples is not None:
        return Bootstrap.of(current)
    if current.stderr is not None:
        return Normal(current.value, current.stderr)
    if _is_proportion(rule, current):
        assert current.n is not None
        return Wilson(current.value, current.n)
    return None


def _limits(rule: MetricRule, context: _Context) -> list[Limit | Finding]:
    """The limits ``rule`` sets against this context, with notes where one cannot apply, in reason order."""
    items: list[Limit | Finding] = []
    reference = context.reference
    if rule.min is not None:
        items.append(Bound("min", rule.min, reference))
    if rule.max is not None:
        items.append(Bound("max", rule.max, reference))
    if reference is None:
        if rule.has_relative_rule or rule.max_sigma is not None:
            items.append(Finding(NOTE, "no baseline yet"))
        return items
    higher = rule.higher_is_better
    if rule.max_drop is not None:
        items.append(MaxDrop(rule.max_drop, reference, higher, context.method, len(context.window)))
    if rule.max_drop_pct is not None:
        if reference == 0:
            items.append(Finding(NOTE, "max-drop-pct skipped: baseline is 0"))
        else:
            items.append(
                MaxDropPct(rule.max_drop_pct, reference, higher, context.method, len(context.window))
            )
    if rule.max_sigma is not None:
        items.append(_sigma_limit(rule, rule.max_sigma, context))
    return items


def _sigma_limit(rule: MetricRule, limit: float, context: _Context) -> Limit | Finding:
    measured = len(context.history)
    if measured < rule.min_history:
        return Finding(NOTE, f"max-sigma: not enough history ({measured} of {rule.min_history})")
    if len(context.window) < 2:
        return Finding(NOTE, "max-sigma: needs at least 2 runs in the window")
    mean, sd = mean_and_sample_sd(context.values)
    # A window with no or tiny spread (a deterministic or rounded metric) must not switch the
    # rule off or make a rounding error look like many sigmas: the spread is floored by what is
    # known of the runs' noise, else by min-sigma.
    variances = context.sampling_variances(rule)
    if variances is not None:
        floor, floor_name = math.sqrt(math.fsum(variances) / len(variances)), "the runs' sampling error"
    elif rule.min_sigma is not None:
        floor, floor_name = rule.min_sigma, "min-sigma"
    else:
        floor, floor_name = _DEFAULT_MIN_SIGMA * abs(mean), "min-sigma (1e-6 x |mean|)"
    if sd >= floor:
        if sd == 0:
            return Finding(NOTE, f"max-sigma skipped: the last {len(context.window)} runs have no spread")
        return MaxSigma(limit, mean, sd, len(context.window), rule.higher_is_better)
    return MaxSigma(limit, mean, floor, len(context.window), rule.higher_is_better, floor_name, sd)


# The default floor of max-sigma's spread, relative to the window mean's magnitude: far above
# float rounding (1e-16), far below any real change of a metric.
_DEFAULT_MIN_SIGMA = 1e-6


@dataclass(frozen=True)
class Judgement:
    """One limit judged against one value, pending the level the family gives it.

    ``level`` is the test's own one-sided level, ``None`` for a limit judged at
    the point value (no interval): such a limit is no statistical test and stays
    out of the family. ``baseline_sd`` is the baseline's own standard error for
    relative limits whose window runs all carry their sampling error.
    """

    limit: Limit
    value: float
    uncertainty: Uncertainty | None
    level: float | None
    baseline_sd: float | None = None
    confidence: float | None = None  # the configured confidence, shown when the level is not adjusted

    @property
    def z(self) -> float:
        """How many standard errors the value lies past the limit's edge (positive: the bad side)."""
        if isinstance(self.limit, MaxSigma):
            return self.limit.badness(self.value)
        assert self.uncertainty is not None
        edge = self.limit.edge
        if self.baseline_sd is not None:
            total = math.sqrt(self.uncertainty.variance_at(edge) + self.baseline_sd**2)
            past = self.value - edge if not self.limit.prefers_high else edge - self.value
            return _ratio(past, total)
        return self.uncertainty.z_past(edge, self.limit.prefers_high)

    @property
    def p_value(self) -> float:
        if self.level is None:
            return 1.0
        if isinstance(self.uncertainty, Bootstrap) and self.baseline_sd is None:
            return self.uncertainty.p_past(self.limit.edge, self.limit.prefers_high)
        return normal_tail(self.z)

    def confidence_at(self, level: float) -> float:
        """The two-sided confidence whose favourable end is judged at one-sided ``level``."""
        if self.confidence is not None and math.isclose(level, (1 - self.confidence) / 2, rel_tol=1e-12):
            return self.confidence
        return 1 - 2 * level


def _ratio(past: float, scale: float) -> float:
    if scale > 0:
        return past / scale
    return math.inf if past > 0 else -math.inf if past < 0 else 0.0


def _evaluate(test: Judgement, level: float | None, family_size: int) -> list[Finding]:
    """Judge one limit: at the point value, or at ``level``, failing only when the test rejects there.

    A value that passes but whose interval is wider than the distance the limit
    has to resolve gets a warning that the evaluation set is too small. In a
    family of several tests, a point breach that is not even significant at its
    own level is a note (some of many metrics always sit a little past a tight
    limit), one significant on its own but not after the adjustment a warning.
    """
    limit, value = test.limit, test.value
    if not limit.breached(value):
        uncertainty = test.uncertainty
        if uncertainty is not None and test.confidence is not None:
            resolution = limit.resolution(value)
            if resolution is not None and uncertainty.half_width(test.confidence) > resolution.distance:
                return [Finding(WARN, uncertainty.too_small(resolution, test.confidence))]
        return []
    if level is None:
        return [Finding(FAIL, limit.failure(value), breach=True, rule=limit.key)]
    if isinstance(limit, MaxSigma):
        needed = z_for_tail(level)
        if _less(needed, test.z):
            return [Finding(FAIL, limit.failure(value, level), breach=True, rule=limit.key)]
        # Past max-sigma on its own, but not past the family-adjusted level.
        return [
            Finding(WARN, f"inconclusive, family-wise (needs {needed:.2f} sigma): {limit.failure(value)}")
        ]
    confidence = test.confidence_at(level)
    uncertainty = test.uncertainty
    assert uncertainty is not None
    rejected = (
        test.p_value <= level
        if isinstance(uncertainty, Bootstrap) and test.baseline_sd is None
        else _less(z_for_tail(level), test.z)
    )
    if rejected:
        if test.baseline_sd is not None:
            return [
                Finding(
                    FAIL,
                    f"{limit.failure(value)} \u2014 beyond the noise of this run and the baseline "
                    f"({uncertainty.method} \u00b1{_sd(uncertainty, limit)}, baseline \u00b1{format_se(test.baseline_sd)}; "
                    f"{format_confidence(confidence)})",
                    breach=True,
                    rule=limit.key,
                )
            ]
        favourable = uncertainty.favourable_end(confidence, limit.prefers_high)
        end = "upper" if limit.prefers_high else "lower"
        return [
            Finding(
                FAIL,
                f"{limit.failure(value)} \u2014 even the {end} end {format_value(favourable)} "
                f"of {uncertainty.text(confidence)} breaches",
                breach=True,
                rule=limit.key,
            )
        ]
    own = test.level
    if family_size > 1 and own is not None and level < own:
        significant_alone = _less(z_for_tail(own), test.z)
        if not significant_alone:
            return [
                Finding(
                    NOTE,
                    f"within noise: {format_value(value)} ({uncertainty.text(test.confidence or confidence)}) vs {limit.label()}",
                )
            ]
    noise = "" if test.baseline_sd is None else f"; baseline \u00b1{format_se(test.baseline_sd)}"
    adjusted = "" if own is None or level >= own else ", family-wise"
    return [
        Finding(
            WARN,
            f"inconclusive{adjusted}: {format_value(value)} ({uncertainty.text(confidence)}{noise}) vs {limit.label()}",
        )
    ]


def _sd(uncertainty: Uncertainty, limit: Limit) -> str:
    return format_se(math.sqrt(uncertainty.variance_at(limit.edge)))


def format_se(se: float) -> str:
    """A standard error with two significant digits: ``0.0093``."""
    return f"{se:.2g}"


def format_confidence(confidence: float) -> str:
    """``95%``; an adjusted level keeps up to five significant digits: ``99.995%``."""
    text = f"{100 * confidence:.5g}"
    return f"{text}%"


# -- the current value's sampling error ------------------------------------------------------


class Uncertainty(ABC):
    """What is known of the current value's sampling error: an interval at any level, and a test."""

    method: str

    @abstractmethod
    def interval(self, confidence: float) -> tuple[float, float]:
        """The two-sided ``confidence`` interval."""

    @abstractmethod
    def z_past(self, edge: float, prefers_high: bool) -> float:
        """Standard errors the value lies past ``edge`` on the bad side (the one-sided test statistic)."""

    @abstractmethod
    def variance_at(self, edge: float) -> float:
        """The value's sampling variance were its true value at ``edge``."""

    @abstractmethod
    def text(self, confidence: float) -> str:
        """``0.758–0.8363 at n=400, Wilson 95%``."""

    @abstractmethod
    def too_small(self, resolution: Resolution, confidence: float) -> str:
        """Why this interval cannot resolve ``resolution``."""

    def favourable_end(self, confidence: float, prefers_high: bool) -> float:
        low, high = self.interval(confidence)
        return high if prefers_high else low

    def half_width(self, confidence: float) -> float:
        low, high = self.interval(confidence)
        return (high - low) / 2


@dataclass(frozen=True)
class Wilson(Uncertainty):
    """A proportion measured on ``n`` examples: the Wilson score interval and score test."""

    value: float
    n: int
    method: str = "Wilson"

    def interval(self, confidence: float) -> tuple[float, float]:
        return wilson_interval(self.value, self.n, confidence)

    def z_past(self, edge: float, prefers_high: bool) -> float:
        p = score_p_value(self.value, self.n, edge, prefers_high)
        return z_for_tail(p) if 0 < p < 1 else (math.inf if p == 0 else -math.inf)

    def variance_at(self, edge: float) -> float:
        clipped = min(max(edge, 0.0), 1.0)
        return clipped * (1 - clipped) / self.n

    def text(self, confidence: float) -> str:
        low, high = self.interval(confidence)
        return f"{format_value(low)}\u2013{format_value(high)} at n={self.n}, Wilson {format_confidence(confidence)}"

    def too_small(self, resolution: Resolution, confidence: float) -> str:
        needed = (
            n_for_half_width(min(max(resolution.at, 0.0), 1.0), resolution.distance, confidence)
            if resolution.distance > 0
            else None
        )
        needs = f"needs n\u2248{needed:,}" if needed is not None else "no n can resolve a value on the limit"
        return (
            f"evaluation set too small to resolve {resolution.described} (\u00b1{self.half_width(confidence):.2g} "
            f"at n={self.n}, Wilson {format_confidence(confidence)}; {needs})"
        )


@dataclass(frozen=True)
class Normal(Uncertainty):
    """A value with a standard error the user gave: the normal interval ``value ± z stderr``."""

    value: float
    stderr: float
    method: str = "stderr"

    def interval(self, confidence: float) -> tuple[float, float]:
        half = z_for_confidence(confidence) * self.stderr
        return self.value - half, self.value + half

    def z_past(self, edge: float, prefers_high: bool) -> float:
        return _ratio(edge - self.value if prefers_high else self.value - edge, self.stderr)

    def variance_at(self, edge: float) -> float:
        return self.stderr**2

    def text(self, confidence: float) -> str:
        low, high = self.interval(confidence)
        return (
            f"{format_value(low)}\u2013{format_value(high)}, stderr {format_se(self.stderr)}, "
            f"normal {format_confidence(confidence)}"
        )

    def too_small(self, resolution: Resolution, confidence: float) -> str:
        needed = resolution.distance / z_for_confidence(confidence)
        return (
            f"evaluation set too small to resolve {resolution.described} (\u00b1{self.half_width(confidence):.2g}, "
            f"stderr {format_se(self.stderr)}, normal {format_confidence(confidence)}; needs stderr \u2264 {format_se(needed)})"
        )


@dataclass(frozen=True)
class Bootstrap(Uncertainty):
    """Per-example values: a seeded percentile bootstrap of their mean, moved to centre on the value.

    The value may be computed otherwise than as the plain mean (a weighted or
    clipped one); the bootstrap distribution of the mean is shifted by
    ``value - mean`` so the interval is about the recorded value.
    """

    value: float
    count: int
    replicates: tuple[float, ...]  # sorted bootstrap means, shifted to the value
    method: str = "bootstrap"

    @classmethod
    def of(cls, current: Measurement) -> Bootstrap:
        assert current.samples is not None
        samples = current.samples
        # The seed depends only on the data, so the same values always give the same verdict.
        seed = zlib.crc32(repr((len(samples), sum(samples), samples[:8])).encode())
        means = bootstrap_means(samples, seed=seed)
        shift = current.value - math.fsum(samples) / len(samples)
        return cls(current.value, len(samples), tuple(float(m) + shift for m in means))

    def _quantile(self, share: float) -> float:
        # Type 7 (linear) sample quantile of the replicates (Hyndman & Fan 1996).
        data = self.replicates
        position = share * (len(data) - 1)
        low = math.floor(position)
        high = min(low + 1, len(data) - 1)
        return data[low] + (data[high] - data[low]) * (position - low)

    def interval(self, confidence: float) -> tuple[float, float]:
        tail = (1 - confidence) / 2
        return self._quantile(tail), self._quantile(1 - tail)

    @property
    def sd(self) -> float:
        return mean_and_sample_sd(self.replicates)[1]

    def p_past(self, edge: float, prefers_high: bool) -> float:
        """The share of replicates on the far side of ``edge`` (the percentile test); normal tail beyond them.

        A percentile p-value cannot go below ``1 / resamples``; when fewer than
        20 replicates lie beyond the edge, the normal tail with the bootstrap's
        standard error is used instead, so small family-adjusted levels stay reachable.
        """
        data = self.replicates
        # The replicates on the side where the limit is not breached support "no breach".
        supporting = len(data) - bisect_left(data, edge) if prefers_high else bisect_right(data, edge)
        if supporting >= 20:
            return supporting / len(data)
        return normal_tail(self.z_past(edge, prefers_high))

    def z_past(self, edge: float, prefers_high: bool) -> float:
        return _ratio(edge - self.value if prefers_high else self.value - edge, self.sd)

    def variance_at(self, edge: float) -> float:
        return self.sd**2

    def text(self, confidence: float) -> str:
        low, high = self.interval(confidence)
        return (
            f"{format_value(low)}\u2013{format_value(high)}, bootstrap of {self.count:,} samples, "
            f"{format_confidence(confidence)}"
        )

    def too_small(self, resolution: Resolution, confidence: float) -> str:
        return (
            f"evaluation set too small to resolve {resolution.described} (\u00b1{self.half_width(confidence):.2g}, "
            f"bootstrap of {self.count:,} samples, {format_confidence(confidence)})"
        )


# -- the limits ---------------------------------------------------------------------------------
# Each limit measures how bad a value is in its own units (a value, a drop, a percentage, sigmas),
# larger meaning worse, and breaches when that exceeds its threshold by more than float rounding.


@dataclass(frozen=True)
class Resolution:
    """The distance an evaluation set must resolve for a limit to mean anything, and where."""

    distance: float
    at: float  # the value whose sampling error matters
    described: str


class Limit(ABC):
    """One limit of one metric: how far a value lies past it, and how to say so."""

    @property
    @abstractmethod
    def key(self) -> str:
        """The config key that sets it (``min``, ``max-drop``, ...), which acceptances name."""

    @property
    @abstractmethod
    def prefers_high(self) -> bool:
        """Whether higher values are further from breaching."""

    @property
    @abstractmethod
    def threshold(self) -> float:
        """The most ``badness`` allowed."""

    @abstractmethod
    def badness(self, value: float) -> float:
        """How bad ``value`` is in this limit's units; larger is worse."""

    @property
    @abstractmethod
    def edge(self) -> float:
        """The value at which the limit is just reached (what a test judges the value against)."""

    @abstractmethod
    def label(self) -> str:
        """The limit in a few words: ``min 0.88``."""

    @abstractmethod
    def failure(self, value: float) -> str:
        """Why ``value`` breaches: ``below min 0.88``."""

    def excess(self, value: float) -> float:
        """How far ``value`` lies past the limit, in the limit's units (negative inside it)."""
        return self.badness(value) - self.threshold

    def breached(self, value: float) -> bool:
        return _less(self.threshold, self.badness(value))

    def resolution(self, value: float) -> Resolution | None:
        """What an interval around ``value`` must resolve; ``None`` when the limit has no such distance."""
        return None


@dataclass(frozen=True)
class Bound(Limit):
    """``min`` or ``max``: an absolute limit on the value itself."""

    kind: str  # "min" or "max"
    limit: float
    reference: float | None  # the baseline, whose distance to the limit a set must resolve

    @property
    def key(self) -> str:
        return self.kind

    @property
    def prefers_high(self) -> bool:
        return self.kind == "min"

    @property
    def threshold(self) -> float:
        return -self.limit if self.kind == "min" else self.limit

    def badness(self, value: float) -> float:
        return -value if self.kind == "min" else value

    @property
    def edge(self) -> float:
        return self.limit

    def label(self) -> str:
        return f"{self.kind} {format_limit(self.limit)}"

    def failure(self, value: float) -> str:
        return f"{'below' if self.kind == 'min' else 'above'} {self.label()}"

    def resolution(self, value: float) -> Resolution | None:
        # Whether the set can tell the metric's usual level (the baseline) from the limit: a
        # property of the set and the rule, not of this run's noise.
        if self.reference is None:
            return None
        return Resolution(
            abs(self.reference - self.limit),
            self.reference,
            f"{self.label()} from the baseline {format_value(self.reference)}",
        )


class _FromBaseline:
    """What the two limits relative to the baseline share (both are dataclasses with these fields)."""

    reference: float
    higher_is_better: bool
    # How the baseline was found (its method and how many runs): words only a failure needs, so
    # they are made then (the charts judge every history run, and nearly every run passes).
    method: str
    runs: int

    @property
    def reference_text(self) -> str:
        return _baseline_text(self.method, self.reference, self.runs)

    @property
    def prefers_high(self) -> bool:
        return self.higher_is_better


@dataclass(frozen=True)
class MaxDrop(_FromBaseline, Limit):
    """``max-drop``: how much worse than the baseline the value may be, in the metric's units."""

    allowed: float
    reference: float
    higher_is_better: bool
    method: str
    runs: int

    @property
    def key(self) -> str:
        return "max-drop"

    @property
    def threshold(self) -> float:
        return self.allowed

    def badness(self, value: float) -> float:
        return worsening(value, self.reference, self.higher_is_better)

    @property
    def edge(self) -> float:
        return self.reference - self.allowed if self.higher_is_better else self.reference + self.allowed

    def label(self) -> str:
        return f"max-drop {format_limit(self.allowed)}"

    def failure(self, value: float) -> str:
        return (
            f"{_word(self.higher_is_better)} {format_value(self.badness(value))} > {self.label()} "
            f"vs {self.reference_text}"
        )

    def resolution(self, value: float) -> Resolution | None:
        # max-drop = 0 asks for any drop beyond noise: there is no tolerance for a set to resolve.
        return Resolution(self.allowed, value, self.label()) if self.allowed > 0 else None


@dataclass(frozen=True)
class MaxDropPct(_FromBaseline, Limit):
    """``max-drop-pct``: how much worse than the baseline the value may be, in percent of the baseline."""

    pct: float
    reference: float  # never 0
    higher_is_better: bool
    method: str
    runs: int

    @property
    def key(self) -> str:
        return "max-drop-pct"

    @property
    def threshold(self) -> float:
        return self.pct

    def badness(self, value: float) -> float:
        return 100 * worsening(value, self.reference, self.higher_is_better) / abs(self.reference)

    @property
    def edge(self) -> float:
        allowed = self.pct / 100 * abs(self.reference)
        return self.reference - allowed if self.higher_is_better else self.reference + allowed

    def label(self) -> str:
        return f"max-drop-pct {format_limit(self.pct)}%"

    def failure(self, value: float) -> str:
        return (
            f"{_word(self.higher_is_better)} {format_pct(self.badness(value))} > {self.label()} "
            f"vs {self.reference_text}"
        )

    def resolution(self, value: float) -> Resolution | None:
        allowed = self.pct / 100 * abs(self.reference)
        return (
            Resolution(allowed, value, f"{self.label()} ({format_value(allowed)})") if allowed > 0 else None
        )


@dataclass(frozen=True)
class MaxSigma(Limit):
    """``max-sigma``: how many standard deviations of the window the value may fall below its mean.

    A one-sided normal test at level ``Phi(-limit)``. ``sd`` is the window's
    sample standard deviation, or a floor (``floor_name`` says which) when the
    window's own spread (``window_sd``) is smaller.
    """

    limit: float
    mean: float
    sd: float  # > 0
    count: int
    higher_is_better: bool
    floor_name: str | None = None
    window_sd: float | None = None

    @property
    def key(self) -> str:
        return "max-sigma"

    @property
    def prefers_high(self) -> bool:
        return self.higher_is_better

    @property
    def threshold(self) -> float:
        return self.limit

    @property
    def own_level(self) -> float:
        return normal_tail(self.limit)

    def badness(self, value: float) -> float:
        return worsening(value, self.mean, self.higher_is_better) / self.sd

    @property
    def edge(self) -> float:
        drop = self.limit * self.sd
        return self.mean - drop if self.higher_is_better else self.mean + drop

    def breached(self, value: float) -> bool:
        # The float-rounding tolerance applies to the drop itself, so a drop of 1e-10 on a value
        # near 0.9 is no drop, however small the spread it is divided by.
        better, worse = (value, self.mean) if self.higher_is_better else (self.mean, value)
        return _less(better, worse) and _less(self.threshold, self.badness(value))

    def spread(self) -> str:
        if self.floor_name is None:
            return f"mean {format_value(self.mean)}, sample sd {format_value(self.sd)} of last {self.count}"
        return (
            f"mean {format_value(self.mean)}, spread {format_value(self.sd)} from {self.floor_name}: "
            f"the sample sd {format_value(self.window_sd)} of the last {self.count} is smaller"
        )

    def label(self) -> str:
        return f"max-sigma {format_limit(self.limit)} ({self.spread()})"

    def failure(self, value: float, level: float | None = None) -> str:
        drop = worsening(value, self.mean, self.higher_is_better)
        sigmas = drop / self.sd
        shown = f"{sigmas:.1f}" if abs(sigmas) < 1e5 else f"{sigmas:.3g}"
        judged = ""
        if level is not None and not math.isclose(level, self.own_level, rel_tol=1e-9):
            judged = f", family-wise {z_for_tail(level):.2f} sigma"
        return (
            f"{_word(self.higher_is_better)} {format_value(drop)} = {shown} sigma > "
            f"max-sigma {format_limit(self.limit)}{judged} ({self.spread()})"
        )


def worsening(value: float, reference: float, higher_is_better: bool) -> float:
    """How much worse ``value`` is than ``reference`` (negative when better)."""
    return reference - value if higher_is_better else value - reference


def _word(higher_is_better: bool) -> str:
    return "drop" if higher_is_better else "rise"


def _less(smaller: float, larger: float) -> bool:
    """``smaller < larger`` by more than float rounding."""
    if math.isinf(smaller) or math.isinf(larger):
        return smaller < larger
    tolerance = _RELATIVE_TOLERANCE * max(1.0, abs(smaller), abs(larger))
    return larger - smaller > tolerance


def _baseline_text(method: str, reference: float | None, count: int) -> str:
    if reference is None:
        return ""
    if method == "last":
        return f"last run {format_value(reference)}"
    return f"{method} {format_value(reference)} of last {count}"


def limits_text(rule: MetricRule) -> str:
    """The rule's limits in one short phrase: ``min 0.88, max-drop 0.02``."""
    parts = []
    for label, limit, suffix in (
        ("min", rule.min, ""),
        ("max", rule.max, ""),
        ("max-drop", rule.max_drop, ""),
        ("max-drop-pct", rule.max_drop_pct, "%"),
    ):
        if limit is not None:
            parts.append(f"{label} {format_limit(limit)}{suffix}")
    if rule.max_sigma is not None:
        parts.append(f"max-sigma {format_limit(rule.max_sigma)}")
    if rule.confidence is not None:
        parts.append(f"confidence {format_limit(100 * rule.confidence)}%")
    if rule.patience > 1:
        parts.append(f"patience {rule.patience}")
    if rule.direction == "lower" and parts:
        parts.append("lower is better")
    return ", ".join(parts)


def format_value(value: float | None) -> str:
    """A measured value, with at least three decimals below 1 (0.91 -> ``0.910``) and four significant digits."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.4g}"
    if "e" in text or abs(value) >= 1:
        return text
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{value:.{max(3, decimals)}f}"


def format_limit(limit: float) -> str:
    """A configured limit as the user wrote it: 0.88 stays ``0.88``, 2.0 becomes ``2``."""
    return f"{limit:g}" if limit == float(f"{limit:g}") else repr(limit)


def format_pct(pct: float) -> str:
    """A percentage with up to two decimals: ``2.75%``."""
    return f"{pct:.2f}".rstrip("0").rstrip(".") + "%"
