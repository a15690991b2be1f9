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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .config import MetricRule
from .stats import baseline as compute_baseline
from .stats import mean_and_sample_sd, n_for_half_width, wilson_interval
from .values import Measurement, Run

PASS, FAIL, WARN, UNGATED = "pass", "fail", "warn", "ungated"
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

    @property
    def gated(self) -> bool:
        return self.verdict != UNGATED


@dataclass(frozen=True)
class GateResult:
    """Every verdict of one session, and the gate's status."""

    verdicts: tuple[Verdict, ...]
    notes: tuple[str, ...] = ()

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
    def passed(self) -> bool:
        return not self.failures

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    def headline(self) -> str:
        """``metric gate: FAILED (2 of 3 metrics breached)`` or ``metric gate: passed (3 metrics)``."""
        total = len(self.gated)
        if not self.passed:
            return f"metric gate: FAILED ({len(self.failures)} of {_count(total, 'metric')} breached)"
        warned = f", {_count(len(self.warnings), 'warning')}" if self.warnings else ""
        return f"metric gate: passed ({_count(total, 'metric')}{warned})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def judge(
    rules: Sequence[MetricRule],
    current: CurrentValues,
    history: Sequence[Run],
    settings: Settings,
    notes: Sequence[str] = (),
) -> GateResult:
    """Judge every configured metric, then list recorded metrics no rule names as ungated.

    ``history`` holds the runs before this one, oldest first.
    """
    verdicts = []
    for rule in rules:
        verdicts.append(
            judge_metric(
                rule,
                current.values.get(rule.name),
                history_values(history, rule.name),
                settings,
                source=current.sources.get(rule.name),
                recorded_by=current.conflicts.get(rule.name, ()),
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
) -> Verdict:
    """The verdict of one configured metric against its limits and its history.

    ``history`` holds the metric's earlier values, oldest first; non-finite ones
    are skipped.
    """
    earlier = [m for m in (_measurement(value) for value in history) if m is not None]
    context = _Context.of(rule, earlier, settings)
    findings = _findings(rule, current, context, recorded_by)
    if current is not None and any(finding.breach for finding in findings) and rule.patience > 1:
        findings = _apply_patience(rule, earlier, settings, findings)
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
    rule: MetricRule, history: Sequence[Measurement], settings: Settings, findings: list[Finding]
) -> list[Finding]:
    """Fail only when the ``patience - 1`` newest history runs breached too, each judged by its own past."""
    streak = 1
    for index in range(len(history) - 1, max(-1, len(history) - rule.patience), -1):
        if not _breached(rule, history[index], history[:index], settings):
            break
        streak += 1
    if streak >= rule.patience:
        return findings
    held = [Finding(WARN, f.text) if f.breach else f for f in findings]
    held.append(
        Finding(
            WARN,
            f"breach {streak} of {rule.patience} (patience: fails after {rule.patience} breaching runs in a row)",
        )
    )
    return held


def _limit_findings(rule: MetricRule, current: Measurement, context: _Context) -> list[Finding]:
    """Every limit rule judged at the point value, or at the favourable end of its Wilson interval.

    Labels and reasons are built lazily: charts judge every history run, and
    only a breach needs its words.
    """
    value = current.value
    interval = _Interval.of(rule, current)
    findings: list[Finding] = []
    if rule.confidence is not None and interval is None:
        why = "no n was given" if current.n is None else "the value is not a proportion in [0, 1]"
        findings.append(Finding(NOTE, f"confidence: {why}, so the rules use the point value"))

    def check(
        label: Callable[[], str],
        prefers_high: bool,
        breached: Callable[[float], bool],
        failure: Callable[[float], str],
        resolution: Callable[[], tuple[float, float, str]] | None = None,
    ) -> None:
        finding = _check(value, interval, prefers_high, breached, failure, label)
        if finding is not None:
            findings.append(finding)
        elif interval is not None and resolution is not None:
            distance, at, described = resolution()
            if interval.half_width > distance:
                findings.append(Finding(WARN, interval.too_small(described, distance, at)))

    def check_bound(name: str, limit: float, prefers_high: bool) -> None:
        reference = context.reference
        check(
            lambda: f"{name} {format_limit(limit)}",
            prefers_high,
            (lambda x: _less(x, limit)) if prefers_high else (lambda x: _less(limit, x)),
            lambda x: f"{'below' if name == 'min' else 'above'} {name} {format_limit(limit)}",
            # Whether the set can tell the metric's usual level (the baseline) from the limit: a
            # property of the set and the rule, not of this run's noise.
            None
            if reference is None
            else (
                lambda: (
                    abs(reference - limit),
                    reference,
                    f"{name} {format_limit(limit)} from the baseline {format_value(reference)}",
                )
            ),
        )

    if rule.min is not None:
        check_bound("min", rule.min, True)
    if rule.max is not None:
        check_bound("max", rule.max, False)
    reference = context.reference
    if reference is None:
        if rule.has_relative_rule or rule.max_sigma is not None:
            findings.append(Finding(NOTE, "no baseline yet"))
        return findings
    word, higher = _drop_word(rule), rule.higher_is_better
    if rule.max_drop is not None:
        allowed = rule.max_drop
        check(
            lambda: f"max-drop {format_limit(allowed)}",
            higher,
            lambda x: _less(allowed, worsening(x, reference, higher)),
            lambda x: (
                f"{word} {format_value(worsening(x, reference, higher))} > max-drop "
                f"{format_limit(allowed)} vs {context.reference_text}"
            ),
            lambda: (allowed, value, f"max-drop {format_limit(allowed)}"),
        )
    if rule.max_drop_pct is not None:
        pct = rule.max_drop_pct
        if reference == 0:
            findings.append(Finding(NOTE, "max-drop-pct skipped: baseline is 0"))
        else:
            scale = abs(reference)
            check(
                lambda: f"max-drop-pct {format_limit(pct)}%",
                higher,
                lambda x: _less(pct, 100 * worsening(x, reference, higher) / scale),
                lambda x: (
                    f"{word} {format_pct(100 * worsening(x, reference, higher) / scale)} > max-drop-pct "
                    f"{format_limit(pct)}% vs {context.reference_text}"
                ),
                lambda: (
                    pct / 100 * scale,
                    value,
                    f"max-drop-pct {format_limit(pct)}% ({format_value(pct / 100 * scale)})",
                ),
            )
    if rule.max_sigma is not None:
        findings.extend(_sigma_findings(rule, value, interval, context))
    return findings


def _sigma_findings(
    rule: MetricRule, value: float, interval: _Interval | None, context: _Context
) -> list[Finding]:
    measured = len(context.history)
    if measured < rule.min_history:
        return [Finding(NOTE, f"max-sigma: not enough history ({measured} of {rule.min_history})")]
    if len(context.window) < 2:
        return [Finding(NOTE, "max-sigma: needs at least 2 runs in the window")]
    mean, sd = mean_and_sample_sd(context.window)
    if sd == 0:
        return [Finding(NOTE, f"max-sigma skipped: the last {len(context.window)} runs have no spread")]
    limit, higher, word = rule.max_sigma, rule.higher_is_better, _drop_word(rule)
    assert limit is not None

    def spread() -> str:
        return f"mean {format_value(mean)}, sample sd {format_value(sd)} of last {len(context.window)}"

    def failure(x: float) -> str:
        drop = worsening(x, mean, higher)
        return f"{word} {format_value(drop)} = {drop / sd:.1f} sigma > max-sigma {format_limit(limit)} ({spread()})"

    finding = _check(
        value,
        interval,
        higher,
        lambda x: _less(limit, worsening(x, mean, higher) / sd),
        failure,
        lambda: f"max-sigma {format_limit(limit)} ({spread()})",
    )
    return [] if finding is None else [finding]


def _check(
    value: float,
    interval: _Interval | None,
    prefers_high: bool,
    breached: Callable[[float], bool],
    failure: Callable[[float], str],
    label: Callable[[], str],
) -> Finding | None:
    """One limit at the point value; with an interval, it fails only if even the favourable end breaches."""
    if not breached(value):
        return None
    if interval is None:
        return Finding(FAIL, failure(value), breach=True)
    favourable = interval.high if prefers_high else interval.low
    if breached(favourable):
        end = "upper" if prefers_high else "lower"
        return Finding(
            FAIL,
            f"{failure(value)} \u2014 even the {end} end {format_value(favourable)} of {interval.text()} breaches",
            breach=True,
        )
    return Finding(WARN, f"inconclusive: {format_value(value)} ({interval.text()}) vs {label()}")


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

    def too_small(self, label: str, resolution: float, value: float) -> str:
        """Why the set cannot resolve ``label`` (a distance of ``resolution`` around ``value``)."""
        needed = (
            n_for_half_width(min(max(value, 0.0), 1.0), resolution, self.confidence)
            if resolution > 0
            else None
        )
        needs = f"needs n\u2248{needed:,}" if needed is not None else "no n can resolve a value on the limit"
        return (
            f"evaluation set too small to resolve {label} (\u00b1{self.half_width:.2g} at n={self.n}, "
            f"Wilson {format_limit(100 * self.confidence)}%; {needs})"
        )


def worsening(value: float, reference: float, higher_is_better: bool) -> float:
    """How much worse ``value`` is than ``reference`` (negative when better)."""
    return reference - value if higher_is_better else value - reference


def _drop_word(rule: MetricRule) -> str:
    return "drop" if rule.higher_is_better else "rise"


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
