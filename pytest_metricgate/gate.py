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
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .config import MetricRule
from .stats import baseline as compute_baseline
from .stats import mean_and_sample_sd, n_for_half_width, wilson_interval
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
    # The rules that breached conclusively, which an acceptance must cover.
    breaches: tuple[str, ...] = ()
    # A breach that only passed (as a warning) because of ``patience``: recorded with a
    # mark, so it never enters a later baseline.
    held_by_patience: bool = False

    @property
    def gated(self) -> bool:
        return self.verdict != UNGATED


@dataclass(frozen=True)
class GateResult:
    """Every verdict of one session, and the gate's status."""

    verdicts: tuple[Verdict, ...]
    notes: tuple[str, ...] = ()
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
    """
    verdicts = []
    for rule in rules:
        given = histories.get(rule.name) if histories is not None else None
        verdicts.append(
            judge_metric(
                rule,
                current.values.get(rule.name),
                given.values if given is not None else history_values(history, rule.name),
                settings,
                source=current.sources.get(rule.name),
                recorded_by=current.conflicts.get(rule.name, ()),
                held=given.held if given is not None else 0,
            )
        )
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
    return GateResult(verdicts=tuple(verdicts), notes=tuple(notes))


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
    severity and patience do not enter. ``None`` (not measured) and non-finite
    values are never marked, and do not enter later baselines.
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
    """The verdict of one configured metric against its limits and its history.

    ``history`` holds the metric's earlier values, oldest first; non-finite ones
    are skipped. ``held`` counts the patience-held breaches directly before this run.
    """
    earlier = [m for m in (_measurement(value) for value in history) if m is not None]
    context = _Context.of(rule, earlier, settings)
    findings = _findings(rule, current, context, recorded_by)
    breaches = tuple(dict.fromkeys(f.rule or "" for f in findings if f.breach))
    held_now = False
    if current is not None and breaches and rule.patience > 1:
        findings = _apply_patience(rule, earlier, settings, findings, held)
        held_now = not any(finding.level == FAIL for finding in findings)
    levels = {finding.level for finding in findings}
    if FAIL in levels:
        # A conflict is a mistake in the test suite, not a metric level: it fails
        # whatever the severity, so it cannot hide behind "warning".
        verdict = FAIL if rule.severity == "error" or recorded_by else WARN
    elif WARN in levels:
        verdict = WARN
    else:
        verdict = PASS
    return Verdict(
        name=rule.name,
        verdict=verdict,
        value=None if current is None else current.value,
        n=None if current is None else current.n,
        baseline=context.reference,
        baseline_text=context.reference_text or None,
        limits=limits_text(rule),
        reasons=tuple(finding.text for finding in findings),
        severity=rule.severity,
        source=source,
        breaches=breaches,
        held_by_patience=held_now,
    )


def _measurement(value: Measurement | float | None) -> Measurement | None:
    if value is None:
        return None
    measurement = value if isinstance(value, Measurement) else Measurement(float(value))
    return measurement if math.isfinite(measurement.value) else None


@dataclass(frozen=True)
class _Context:
    """What every rule of one metric compares against: the history, its window and baseline."""

    history: Sequence[Measurement]
    window: tuple[float, ...]
    reference: float | None
    method: str

    @classmethod
    def of(cls, rule: MetricRule, history: Sequence[Measurement], settings: Settings) -> _Context:
        window = tuple(m.value for m in history[-settings.window :])
        reference = compute_baseline(window, settings.baseline, rule.higher_is_better) if window else None
        return cls(history, window, reference, settings.baseline)

    @property
    def reference_text(self) -> str:
        return _baseline_text(self.method, self.reference, len(self.window))


def _findings(
    rule: MetricRule,
    current: Measurement | None,
    context: _Context,
    recorded_by: Sequence[str],
) -> list[Finding]:
    if len(recorded_by) > 1:
        if len(set(recorded_by)) == 1:
            return [Finding(FAIL, f"recorded {len(recorded_by)} times by {recorded_by[0]}")]
        times = "twice" if len(recorded_by) == 2 else f"{len(recorded_by)} times"
        return [Finding(FAIL, f"recorded {times}: by " + " and ".join(recorded_by))]
    if current is None:
        return [Finding(FAIL, "missing") if rule.required else Finding(NOTE, "missing (optional)")]
    if not math.isfinite(current.value):
        return [Finding(FAIL, f"not finite ({current.value})")]
    return _limit_findings(rule, current, context)


def _breached(
    rule: MetricRule, current: Measurement, history: Sequence[Measurement], settings: Settings
) -> bool:
    context = _Context.of(rule, history, settings)
    return any(finding.breach for finding in _limit_findings(rule, current, context))


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


def _limit_findings(rule: MetricRule, current: Measurement, context: _Context) -> list[Finding]:
    """Every limit of ``rule`` judged by the one evaluator, ``_evaluate``, in the order they are listed.

    Labels and reasons are built lazily by the limit objects: charts judge every
    history run, and only a breach needs its words.
    """
    interval = _Interval.of(rule, current)
    findings: list[Finding] = []
    if rule.confidence is not None and interval is None:
        why = "no n was given" if current.n is None else "the value is not a proportion in [0, 1]"
        findings.append(Finding(NOTE, f"confidence: {why}, so the rules use the point value"))
    for item in _limits(rule, context):
        if isinstance(item, Finding):
            findings.append(item)
        else:
            findings.extend(_evaluate(item, current.value, interval))
    return findings


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
        items.append(MaxDrop(rule.max_drop, reference, higher, context.reference_text))
    if rule.max_drop_pct is not None:
        if reference == 0:
            items.append(Finding(NOTE, "max-drop-pct skipped: baseline is 0"))
        else:
            items.append(MaxDropPct(rule.max_drop_pct, reference, higher, context.reference_text))
    if rule.max_sigma is not None:
        items.append(_sigma_limit(rule, rule.max_sigma, context))
    return items


def _sigma_limit(rule: MetricRule, limit: float, context: _Context) -> Limit | Finding:
    measured = len(context.history)
    if measured < rule.min_history:
        return Finding(NOTE, f"max-sigma: not enough history ({measured} of {rule.min_history})")
    if len(context.window) < 2:
        return Finding(NOTE, "max-sigma: needs at least 2 runs in the window")
    mean, sd = mean_and_sample_sd(context.window)
    if sd == 0:
        return Finding(NOTE, f"max-sigma skipped: the last {len(context.window)} runs have no spread")
    return MaxSigma(limit, mean, sd, len(context.window), rule.higher_is_better)


def _evaluate(limit: Limit, value: float, interval: _Interval | None) -> list[Finding]:
    """Judge one limit: at the point value, or, with an interval, failing only when even its favourable end breaches.

    A value that passes but whose interval is wider than the distance the limit
    has to resolve gets a warning that the evaluation set is too small.
    """
    if limit.breached(value):
        if interval is None:
            return [Finding(FAIL, limit.failure(value), breach=True, rule=limit.key)]
        favourable = interval.high if limit.prefers_high else interval.low
        if limit.breached(favourable):
            end = "upper" if limit.prefers_high else "lower"
            return [
                Finding(
                    FAIL,
                    f"{limit.failure(value)} \u2014 even the {end} end {format_value(favourable)} "
                    f"of {interval.text()} breaches",
                    breach=True,
                    rule=limit.key,
                )
            ]
        return [Finding(WARN, f"inconclusive: {format_value(value)} ({interval.text()}) vs {limit.label()}")]
    if interval is not None:
        resolution = limit.resolution(value)
        if resolution is not None and interval.half_width > resolution.distance:
            return [Finding(WARN, interval.too_small(resolution))]
    return []


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


@dataclass(frozen=True)
class MaxDrop(Limit):
    """``max-drop``: how much worse than the baseline the value may be, in the metric's units."""

    allowed: float
    reference: float
    higher_is_better: bool
    reference_text: str

    @property
    def key(self) -> str:
        return "max-drop"

    @property
    def prefers_high(self) -> bool:
        return self.higher_is_better

    @property
    def threshold(self) -> float:
        return self.allowed

    def badness(self, value: float) -> float:
        return worsening(value, self.reference, self.higher_is_better)

    def label(self) -> str:
        return f"max-drop {format_limit(self.allowed)}"

    def failure(self, value: float) -> str:
        return (
            f"{_word(self.higher_is_better)} {format_value(self.badness(value))} > {self.label()} "
            f"vs {self.reference_text}"
        )

    def resolution(self, value: float) -> Resolution | None:
        return Resolution(self.allowed, value, self.label())


@dataclass(frozen=True)
class MaxDropPct(Limit):
    """``max-drop-pct``: how much worse than the baseline the value may be, in percent of the baseline."""

    pct: float
    reference: float  # never 0
    higher_is_better: bool
    reference_text: str

    @property
    def key(self) -> str:
        return "max-drop-pct"

    @property
    def prefers_high(self) -> bool:
        return self.higher_is_better

    @property
    def threshold(self) -> float:
        return self.pct

    def badness(self, value: float) -> float:
        return 100 * worsening(value, self.reference, self.higher_is_better) / abs(self.reference)

    def label(self) -> str:
        return f"max-drop-pct {format_limit(self.pct)}%"

    def failure(self, value: float) -> str:
        return (
            f"{_word(self.higher_is_better)} {format_pct(self.badness(value))} > {self.label()} "
            f"vs {self.reference_text}"
        )

    def resolution(self, value: float) -> Resolution | None:
        allowed = self.pct / 100 * abs(self.reference)
        return Resolution(allowed, value, f"{self.label()} ({format_value(allowed)})")


@dataclass(frozen=True)
class MaxSigma(Limit):
    """``max-sigma``: how many sample standard deviations of the window the value may fall below its mean."""

    limit: float
    mean: float
    sd: float  # > 0
    count: int
    higher_is_better: bool

    @property
    def key(self) -> str:
        return "max-sigma"

    @property
    def prefers_high(self) -> bool:
        return self.higher_is_better

    @property
    def threshold(self) -> float:
        return self.limit

    def badness(self, value: float) -> float:
        return worsening(value, self.mean, self.higher_is_better) / self.sd

    def spread(self) -> str:
        return f"mean {format_value(self.mean)}, sample sd {format_value(self.sd)} of last {self.count}"

    def label(self) -> str:
        return f"max-sigma {format_limit(self.limit)} ({self.spread()})"

    def failure(self, value: float) -> str:
        drop = worsening(value, self.mean, self.higher_is_better)
        return (
            f"{_word(self.higher_is_better)} {format_value(drop)} = {drop / self.sd:.1f} sigma > "
            f"max-sigma {format_limit(self.limit)} ({self.spread()})"
        )


@dataclass(frozen=True)
class _Interval:
    """The Wilson score interval of a proportion measured on ``n`` examples."""

    low: float
    high: float
    n: int
    confidence: float

    @classmethod
    def of(cls, rule: MetricRule, current: Measurement) -> _Interval | None:
        if rule.confidence is None or current.n is None or not 0 <= current.value <= 1:
            return None
        low, high = wilson_interval(current.value, current.n, rule.confidence)
        return cls(low, high, current.n, rule.confidence)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def text(self) -> str:
        return (
            f"{format_value(self.low)}\u2013{format_value(self.high)} at n={self.n}, "
            f"Wilson {format_limit(100 * self.confidence)}%"
        )

    def too_small(self, resolution: Resolution) -> str:
        """Why the set cannot resolve ``resolution.distance`` around ``resolution.at``."""
        needed = (
            n_for_half_width(min(max(resolution.at, 0.0), 1.0), resolution.distance, self.confidence)
            if resolution.distance > 0
            else None
        )
        needs = f"needs n\u2248{needed:,}" if needed is not None else "no n can resolve a value on the limit"
        return (
            f"evaluation set too small to resolve {resolution.described} (\u00b1{self.half_width:.2g} at n={self.n}, "
            f"Wilson {format_limit(100 * self.confidence)}%; {needs})"
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
