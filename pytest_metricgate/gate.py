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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .config import MetricRule
from .stats import baseline as compute_baseline
from .values import Measurement, Run

PASS, FAIL, WARN, UNGATED = "pass", "fail", "warn", "ungated"

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
    """One reason: ``fail`` and ``warn`` decide the verdict, ``note`` only explains."""

    level: str
    text: str


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


def history_values(history: Sequence[Run], name: str) -> list[float]:
    """The finite values ``name`` has in ``history``, oldest first (runs without it are skipped)."""
    values = []
    for run in history:
        measurement = run.metrics.get(name)
        if measurement is not None and math.isfinite(measurement.value):
            values.append(measurement.value)
    return values


def history_breaches(rule: MetricRule, values: Sequence[float | None], settings: Settings) -> list[bool]:
    """For each history value, whether it breached ``rule`` judged against the values before it.

    ``None`` (not measured) and non-finite values are never marked, and do not
    enter later baselines, as in ``history_values``.
    """
    flags = []
    earlier: list[float] = []
    for value in values:
        if value is None or not math.isfinite(value):
            flags.append(False)
            continue
        verdict = judge_metric(rule, Measurement(value), earlier, settings)
        flags.append(verdict.verdict in (FAIL, WARN))
        earlier.append(value)
    return flags


def judge_metric(
    rule: MetricRule,
    current: Measurement | None,
    history: Sequence[float],
    settings: Settings,
    *,
    source: str | None = None,
    recorded_by: Sequence[str] = (),
) -> Verdict:
    """The verdict of one configured metric against its limits and its history's baseline."""
    window = list(history[-settings.window :])
    reference = compute_baseline(window, settings.baseline, rule.higher_is_better) if window else None
    reference_text = _baseline_text(settings.baseline, reference, len(window))
    findings = _findings(rule, current, reference, reference_text, recorded_by)
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
        baseline=reference,
        baseline_text=reference_text if reference is not None else None,
        limits=limits_text(rule),
        reasons=tuple(finding.text for finding in findings),
        severity=rule.severity,
        source=source,
    )


def _findings(
    rule: MetricRule,
    current: Measurement | None,
    reference: float | None,
    reference_text: str,
    recorded_by: Sequence[str],
) -> list[Finding]:
    if len(recorded_by) > 1:
        if len(set(recorded_by)) == 1:
            return [Finding(FAIL, f"recorded {len(recorded_by)} times by {recorded_by[0]}")]
        times = "twice" if len(recorded_by) == 2 else f"{len(recorded_by)} times"
        return [Finding(FAIL, f"recorded {times}: by " + " and ".join(recorded_by))]
    if current is None:
        return [Finding(FAIL, "missing") if rule.required else Finding("note", "missing (optional)")]
    value = current.value
    if not math.isfinite(value):
        return [Finding(FAIL, f"not finite ({value})")]
    findings = []
    if rule.min is not None and _less(value, rule.min):
        findings.append(Finding(FAIL, f"below min {format_limit(rule.min)}"))
    if rule.max is not None and _less(rule.max, value):
        findings.append(Finding(FAIL, f"above max {format_limit(rule.max)}"))
    if rule.has_relative_rule:
        if reference is None:
            findings.append(Finding("note", "no baseline yet"))
        else:
            findings.extend(_relative_findings(rule, value, reference, reference_text))
    return findings


def _relative_findings(rule: MetricRule, value: float, reference: float, reference_text: str) -> list[Finding]:
    findings = []
    drop = worsening(value, reference, rule.higher_is_better)
    if rule.max_drop is not None and _less(rule.max_drop, drop):
        findings.append(
            Finding(
                FAIL,
                f"{_drop_word(rule)} {format_value(drop)} > max-drop {format_limit(rule.max_drop)} "
                f"vs {reference_text}",
            )
        )
    if rule.max_drop_pct is not None:
        if reference == 0:
            findings.append(Finding("note", "max-drop-pct skipped: baseline is 0"))
        else:
            drop_pct = 100 * drop / abs(reference)
            if _less(rule.max_drop_pct, drop_pct):
                findings.append(
                    Finding(
                        FAIL,
                        f"{_drop_word(rule)} {format_pct(drop_pct)} > max-drop-pct "
                        f"{format_limit(rule.max_drop_pct)}% vs {reference_text}",
                    )
                )
    return findings


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
