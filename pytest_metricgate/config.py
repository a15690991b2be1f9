"""Find and validate ``[tool.metricgate]``: every key checked once, into frozen dataclasses.

Paths in the file are relative to the pyproject.toml that holds them, never to
the current directory; paths given on the command line are relative to where
pytest was started. Every mistake is a ``ConfigError`` whose message names the
file, the table and key, what was expected and what was found.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import fnmatch
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError
from .values import describe, is_number

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10; a test hides tomllib to run this branch on newer Pythons too
    import tomli as tomllib

BASELINE_METHODS = ("last", "best", "mean", "median")
DIRECTIONS = ("higher", "lower")
SEVERITIES = ("error", "warning")
CHART_FORMATS = ("png", "svg")
CHART_METRICS = ("all", "breached")
HISTORY_SUFFIXES = (".jsonl", ".csv")
# The rules an acceptance may cover; without ``rules`` it covers the relative ones, which
# compare against the baseline an intended change leaves behind.
ACCEPTABLE_RULES = ("min", "max", "max-drop", "max-drop-pct", "max-sigma")
RELATIVE_RULES = ("max-drop", "max-drop-pct", "max-sigma")
KINDS = ("value", "proportion")
_GLOB_CHARACTERS = "*?["
# A history, current or baseline that lives on an MLflow tracking server starts with this.
MLFLOW_PREFIX = "mlflow:"
MLFLOW_RUN_PREFIX = "mlflow:runs/"
MODEL_PREFIX = "models:/"
MLFLOW_EXTRA_HINT = "pip install 'pytest-metricgate[mlflow]'"

_TOP_KEYS = (
    "history",
    "current",
    "report-dir",
    "baseline",
    "window",
    "chart-format",
    "chart-runs",
    "chart-metrics",
    "metrics",
    "alerts",
    "baseline-branch",
    "require-history",
    "accept-max-days",
    "accept",
    "family-wise",
    "defaults",
    "mlflow",
    "baseline-model",
    "gitlab-metrics",
)
_ACCEPT_KEYS = ("metric", "reason", "until", "rules", "value")
_MLFLOW_KEYS = ("tracking-uri", "filter", "timeout")
_ALERT_KEYS = ("on", "command", "timeout", "webhook-env", "network-timeout", "email")
_EMAIL_KEYS = ("smtp-host", "smtp-port", "from", "to", "username-env", "password-env")
_METRIC_KEYS = (
    "min",
    "max",
    "max-drop",
    "max-drop-pct",
    "direction",
    "severity",
    "required",
    "confidence",
    "max-sigma",
    "min-history",
    "patience",
    "kind",
    "min-sigma",
    "window",
    "baseline",
)


@dataclass(frozen=True)
class MetricRule:
    """The limits of one gated metric, as ``[tool.metricgate.metrics.NAME]`` gives them."""

    name: str
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_drop_pct: float | None = None
    direction: str = "higher"
    severity: str = "error"
    required: bool = True
    confidence: float | None = None
    max_sigma: float | None = None
    min_history: int = 5
    patience: int = 1
    kind: str = "value"  # "proportion" lets n alone give a Wilson interval
    min_sigma: float | None = None  # max-sigma's floor on the spread; None: 1e-6 x |window mean|
    window: int | None = None  # None: the gate-wide window
    baseline: str | None = None  # None: the gate-wide baseline method
    configured_by: str | None = None  # the glob table or defaults, for a metric with no table of its own

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    @property
    def has_relative_rule(self) -> bool:
        return self.max_drop is not None or self.max_drop_pct is not None


@dataclass(frozen=True)
class Acceptance:
    """One ``[[tool.metricgate.accept]]`` entry: a reviewed, dated permission for a breach.

    ``metric`` is a name or a glob; ``until`` is the last UTC day the entry
    applies; ``low``/``high`` bound the values it accepts (``value = {min, max}``),
    so it cannot hide a further collapse.
    """

    number: int  # its place among the entries, 1-based, for messages
    metric: str
    reason: str
    until: _dt.date
    rules: tuple[str, ...] = RELATIVE_RULES
    low: float | None = None
    high: float | None = None

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.metric)

    def admits(self, value: float | None) -> bool:
        """Whether ``value`` lies in the range this entry accepts."""
        if value is None or not math.isfinite(value):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    @property
    def range_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f">= {self.low:g}"
        if self.low is None:
            return f"<= {self.high:g}"
        return f"{self.low:g} to {self.high:g}"


@dataclass(frozen=True)
class MetricPattern:
    """A metric table whose name is a glob: ``[tool.metricgate.metrics."class_*.recall"]``."""

    pattern: str
    fields: Mapping[str, object]  # the validated keys it sets, by MetricRule field name

    @property
    def table(self) -> str:
        return table_name(self.pattern)

    @property
    def specificity(self) -> int:
        """The number of non-wildcard characters: the more, the more specific."""
        return len(re.sub(r"\[[^\]]*\]|[*?]", "", self.pattern))

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)


@dataclass(frozen=True)
class MlflowSettings:
    """``[tool.metricgate.mlflow]``: which tracking server, which of its runs, how long to wait.

    ``tracking_uri`` may hold credentials in its user-info part; messages use
    ``shown_uri``, where that part is masked.
    """

    tracking_uri: str
    shown_uri: str
    filter: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class HistorySpec:
    """Where the history lives: a JSONL or CSV file, arrays inline in the config, or an MLflow experiment."""

    kind: str  # "jsonl", "csv", "inline" or "mlflow"
    shown: str  # how messages name it
    path: Path | None = None
    inline: Mapping[str, tuple[float, ...]] | None = None
    experiment: str | None = None
    server: MlflowSettings | None = None


@dataclass(frozen=True)
class Overrides:
    """Command-line values, which win over the file; ``None`` means not given.

    ``history`` and ``current`` are a ``str`` when they name an MLflow store
    (``mlflow:...``), which is never a path.
    """

    history: Path | str | None = None
    current: Path | str | None = None
    report_dir: Path | None = None
    require_history: bool | None = None


@dataclass(frozen=True)
class EmailSettings:
    """``[tool.metricgate.alerts.email]``: where the alert mail goes and how to log in."""

    smtp_host: str
    smtp_port: int
    sender: str
    to: tuple[str, ...]
    username_env: str | None = None
    password_env: str | None = None


@dataclass(frozen=True)
class AlertSettings:
    """``[tool.metricgate.alerts]``: what to do when the gate goes red."""

    on: str = "fail"  # "fail", or "warn" for failures and warnings
    command: str | None = None
    timeout: float = 60.0
    webhook_env: str | None = None
    network_timeout: float = 10.0
    email: EmailSettings | None = None


@dataclass(frozen=True)
class GateConfig:
    """The whole validated ``[tool.metricgate]`` table."""

    source: Path
    shown: str
    history: HistorySpec | None
    current: Path | None
    current_shown: str | None
    report_dir: Path
    baseline: str = "median"
    window: int = 5
    chart_format: str = "png"
    chart_runs: int = 200
    # "breached": per-metric charts only for metrics that did not pass (the overview shows all).
    chart_metrics: str = "all"
    metrics: tuple[MetricRule, ...] = ()
    alerts: AlertSettings | None = None
    warnings: tuple[str, ...] = ()
    baseline_branch: str | None = None
    require_history: bool = False
    accept_max_days: int = 30
    # Only the entries in force today; expired ones are left out with a warning.
    acceptances: tuple[Acceptance, ...] = ()
    family_wise: bool = True
    patterns: tuple[MetricPattern, ...] = ()
    defaults: Mapping[str, object] = field(default_factory=dict)
    # ``current = "mlflow:runs/RUN_ID"``: this run's values are that MLflow run's metrics.
    current_run: str | None = None
    # ``baseline-model = "models:/NAME@ALIAS"``: relative rules compare against that model's run.
    baseline_model: str | None = None
    mlflow: MlflowSettings | None = None
    # Write GitLab's metrics.txt: True or False as configured; None leaves it to GITLAB_CI.
    gitlab_metrics: bool | None = None

    @property
    def gated_names(self) -> frozenset[str]:
        return frozenset(rule.name for rule in self.metrics)

    @property
    def gated(self) -> GatedNames:
        """``name in config.gated``: whether an exact or a glob table configures ``name``."""
        return GatedNames(self)

    def is_gated(self, name: str) -> bool:
        """Whether an exact table or a glob table configures ``name``."""
        return name in self.gated_names or any(pattern.matches(name) for pattern in self.patterns)

    def rules_for(self, names: Iterable[str]) -> tuple[tuple[MetricRule, ...], tuple[str, ...]]:
        """The exact tables' rules, then one rule per other name in ``names`` that a glob configures.

        Also returns a warning for every glob that matches neither an exact table
        nor any of ``names``. Two matching globs of equal specificity are a
        ``ConfigError`` naming both.
        """
        rules = list(self.metrics)
        exact = self.gated_names
        used = {
            pattern.pattern
            for rule in self.metrics
            for pattern in self.patterns
            if pattern.matches(rule.name)
        }
        for name in sorted(set(names) - exact):
            pattern = most_specific(self.shown, self.patterns, name)
            if pattern is None:
                continue
            used.add(pattern.pattern)
            rule = build_rule(self.shown, name, pattern.table, [self.defaults, pattern.fields], self.window)
            rules.append(replace(rule, configured_by=pattern.table))
        warnings = tuple(
            f"{self.shown}: {pattern.table} matches no metric"
            for pattern in self.patterns
            if pattern.pattern not in used
        )
        return tuple(rules), warnings


@dataclass(frozen=True)
class GatedNames:
    """The names a config gates, exact or through a glob, as a container for ``in`` tests."""

    config: GateConfig

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.config.is_gated(name)


def most_specific(shown: str, patterns: Sequence[MetricPattern], name: str) -> MetricPattern | None:
    """The matching glob with the most non-wildcard characters; a tie between two is a ``ConfigError``."""
    matching = sorted((p for p in patterns if p.matches(name)), key=lambda p: -p.specificity)
    if len(matching) > 1 and matching[0].specificity == matching[1].specificity:
        raise ConfigError(
            f"{shown}: {matching[0].table} and {matching[1].table} both match metric "
            f'"{name}" with equal specificity ({matching[0].specificity} non-wildcard characters); '
            "make one more specific or give the metric its own table"
        )
    return matching[0] if matching else None


def build_rule(
    shown: str, name: str, where: str, layers: Sequence[Mapping[str, object]], window: int
) -> MetricRule:
    """Merge validated keys, later layers over earlier ones, into the rule for ``name``; check the result."""
    merged: dict[str, object] = {}
    for layer in layers:
        merged.update(layer)
    rule = MetricRule(name=name, **merged)  # type: ignore[arg-type]
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise ConfigError(
            f"{shown}: {where} min must not exceed max, got min {rule.min:g} > max {rule.max:g}"
        )
    effective = rule.window if rule.window is not None else window
    if rule.max_sigma is not None and effective < 2:
        whose = "window" if rule.window is not None else "[tool.metricgate] window"
        raise ConfigError(
            f"{shown}: {where} max-sigma needs {whose} >= 2 "
            f"(one run has no standard deviation), got window {effective}"
        )
    return rule


def load(
    pyproject: Path,
    *,
    shown: str,
    overrides: Overrides = Overrides(),
    invocation_dir: Path | None = None,
    strict: bool = False,
    today: _dt.date | None = None,
) -> GateConfig:
    """Read and validate ``[tool.metricgate]`` from ``pyproject``.

    ``shown`` is how messages name the file. Unknown keys become warnings in
    ``GateConfig.warnings``, or a ``ConfigError`` when ``strict`` (pytest's
    ``--strict-config``). ``today`` (default: today in UTC) decides which
    acceptances are in force.
    """
    try:
        text = pyproject.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}: not found; --metric-gate reads its limits from [tool.metricgate] "
            "in the pyproject.toml at pytest's rootdir"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_error(shown, text, exc)) from None
    return from_document(
        document,
        pyproject,
        shown=shown,
        overrides=overrides,
        invocation_dir=invocation_dir,
        strict=strict,
        today=today,
    )


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def toml_error(shown: str, text: str, exc: Exception) -> str:
    """One line for a TOML syntax error, naming the line, its table, the key and what was found there.

    tomllib names only a line and column ("Cannot overwrite a value (at line 7, column 10)"); a user
    needs to know which key was set twice, or which line does not parse.
    """
    message = str(exc)
    position = _TOML_POSITION.search(message)
    if position is None:
        return f"{shown}: invalid TOML: {message}"
    reason = message[: position.start()]
    number = int(position.group(1))
    lines = text.splitlines()
    found = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    table = next(
        (line.strip() for line in reversed(lines[: number - 1]) if line.strip().startswith("[")),
        "the top level",
    )
    where = f"{shown}, line {number}"
    if found.startswith("["):
        if reason.startswith("Cannot declare"):
            return f"{where}: table {found} is declared twice; each table may appear once, found it again"
        return f"{where}: invalid TOML table header ({reason}), found {found!r}"
    key = found.split("=", 1)[0].strip() if "=" in found else found.split(" ", 1)[0]
    if reason.startswith(("Cannot overwrite", "Duplicate", "Cannot mutate immutable namespace")):
        # Inside an inline table the parser names the repeated key itself: 'x' or ('x', 'y').
        named = re.findall(r"'([^']*)'", reason)
        if named and not reason.startswith("Cannot overwrite"):
            key = ".".join(named)
        return (
            f"{where}: {table} {key} is set twice; each key may appear once in a table, "
            f"found {found!r} after an earlier {key}"
        )
    return f"{where}: {table} {key}: invalid TOML ({reason}), found {found!r}"


def from_document(
    document: Mapping[str, object],
    pyproject: Path,
    *,
    shown: str,
    overrides: Overrides = Overrides(),
    invocation_dir: Path | None = None,
    strict: bool = False,
    today: _dt.date | None = None,
) -> GateConfig:
    """Validate the parsed pyproject ``document`` (see ``load``)."""
    tool = document.get("tool", {})
    table = tool.get("metricgate") if isinstance(tool, dict) else None
    if table is None:
        raise ConfigError(
            f"{shown}: no [tool.metricgate] table; --metric-gate needs it to know which metrics to gate"
        )
    reader = _Reader(shown, pyproject.parent, invocation_dir or pyproject.parent)
    if today is None:
        today = _dt.datetime.now(_dt.timezone.utc).date()
    return reader.gate_config(table, pyproject, overrides, strict, today)


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False


def mask_uri(uri: str) -> str:
    """``uri`` with any user-info (``user:password@``) replaced by ``***@``, for messages and reports."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1***@", uri)


def display_path(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` when it lies below it, else absolute."""
    try:
        return str(path.relative_to(start))
    except ValueError:
        return str(path)


def table_name(metric: str) -> str:
    """The TOML header of a metric's table, quoting names that need it."""
    key = metric if re.fullmatch(r"[A-Za-z0-9_-]+", metric) else '"' + metric.replace('"', '\\"') + '"'
    return f"[tool.metricgate.metrics.{key}]"


class _Reader:
    """Validates one file's table; carries the file name for every message."""

    def __init__(self, shown: str, root: Path, invocation_dir: Path) -> None:
        self.shown = shown
        self.root = root
        self.invocation_dir = invocation_dir
        self.warnings: list[str] = []
        # Warnings that stay warnings under --strict-config: an acceptance that expired or
        # matches nothing is a fact about time and names, not a mistake in the file.
        self.notices: list[str] = []
        self.mlflow_table: object = None

    def fail(self, table: str, key: str, expected: str, got: object) -> ConfigError:
        return ConfigError(f"{self.shown}: {table} {key} must be {expected}, got {describe(got)}")

    def check_keys(self, table: str, data: Mapping[str, object], known: tuple[str, ...]) -> None:
        for key in data:
            if key not in known:
                # A known key the typo starts with ("minimum" -> "min") beats a merely similar one.
                prefixes = sorted((k for k in known if key.startswith(k)), key=len, reverse=True)
                close = prefixes[:1] or difflib.get_close_matches(key, known, n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.warnings.append(f'{self.shown}: {table} unknown key "{key}"{hint}')

    def gate_config(
        self,
        table: object,
        pyproject: Path,
        overrides: Overrides,
        strict: bool,
        today: _dt.date,
    ) -> GateConfig:
        top = "[tool.metricgate]"
        if not isinstance(table, dict):
            raise ConfigError(f"{self.shown}: [tool.metricgate] must be a table, got {describe(table)}")
        self.check_keys(top, table, _TOP_KEYS)

        self.mlflow_table = table.get("mlflow")
        history = self.history(table, top, overrides.history)
        current, current_shown, current_run = self.current(table, top, overrides.current)
        baseline_model = self.baseline_model(table, top)
        mlflow = self.mlflow_settings(
            history.shown if history is not None and history.kind == "mlflow" else None,
            current_shown if current_run is not None else None,
            baseline_model,
        )
        if history is not None and history.kind == "mlflow":
            assert mlflow is not None
            history = replace(history, shown=f"{history.shown} at {mlflow.shown_uri}", server=mlflow)
        if overrides.report_dir is not None:
            report_dir = overrides.report_dir
        else:
            report_dir = self.root / self.string(table, top, "report-dir", "metricgate-report")
        baseline = self.choice(table, top, "baseline", BASELINE_METHODS, "median")
        window = self.integer(table, top, "window", 5, minimum=1)
        chart_format = self.choice(table, top, "chart-format", CHART_FORMATS, "png")
        chart_runs = self.integer(table, top, "chart-runs", 200, minimum=1)
        chart_metrics = self.choice(table, top, "chart-metrics", CHART_METRICS, "all")
        family_wise = self.boolean(table, top, "family-wise", True)
        defaults_raw = table.get("defaults", {})
        if not isinstance(defaults_raw, dict):
            raise self.fail(top, "defaults", "a table of per-metric keys", defaults_raw)
        defaults = self.metric_fields("[tool.metricgate.defaults]", defaults_raw)
        exact: list[tuple[str, dict[str, object]]] = []
        patterns: list[MetricPattern] = []
        raw_metrics = table.get("metrics", {})
        if not isinstance(raw_metrics, dict):
            raise self.fail("[tool.metricgate]", "metrics", "a table of metric tables", raw_metrics)
        self.collect_metrics(raw_metrics, "", exact, patterns)
        metrics = tuple(
            build_rule(
                self.shown,
                name,
                table_name(name),
                [defaults, *(() if glob is None else (glob.fields,)), fields],
                window,
            )
            for name, fields in exact
            for glob in (most_specific(self.shown, patterns, name),)
        )

        baseline_branch = None
        if "baseline-branch" in table:
            baseline_branch = self.string(table, top, "baseline-branch", "").strip()
        if overrides.require_history is not None:
            require_history = overrides.require_history
        else:
            require_history = self.boolean(table, top, "require-history", False)
        accept_max_days = self.integer(table, top, "accept-max-days", 30, minimum=1)
        acceptances = self.acceptances(table.get("accept"), metrics, today, accept_max_days)

        if strict and self.warnings:
            raise ConfigError(self.warnings[0] + " (an error under --strict-config)")
        return GateConfig(
            source=pyproject,
            shown=self.shown,
            history=history,
            current=current,
            current_shown=current_shown,
            report_dir=report_dir,
            baseline=baseline,
            window=window,
            chart_format=chart_format,
            chart_runs=chart_runs,
            chart_metrics=chart_metrics,
            metrics=metrics,
            alerts=self.alerts(table.get("alerts")),
            warnings=(*self.warnings, *self.notices),
            baseline_branch=baseline_branch,
            require_history=require_history,
            accept_max_days=accept_max_days,
            acceptances=acceptances,
            family_wise=family_wise,
            patterns=tuple(patterns),
            defaults=defaults,
            current_run=current_run,
            baseline_model=baseline_model,
            mlflow=mlflow,
            gitlab_metrics=None
            if table.get("gitlab-metrics") is None
            else self.boolean(table, top, "gitlab-metrics", False),
        )

    # -- top-level keys -------------------------------------------------

    def history(
        self, table: Mapping[str, object], top: str, override: Path | str | None
    ) -> HistorySpec | None:
        if isinstance(override, str):
            return self.mlflow_history(override, "--metric-gate-history")
        if override is not None:
            shown = display_path(override, self.invocation_dir)
            return self.history_file(override, shown, "--metric-gate-history")
        raw = table.get("history")
        if raw is None:
            return None
        if isinstance(raw, dict):
            return self.inline_history(raw)
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(top, "history", "a path to a .jsonl or .csv file, or a table of arrays", raw)
        # Recognised before any path handling: "mlflow:x" is never a file name.
        if raw.startswith(MLFLOW_PREFIX):
            return self.mlflow_history(raw, f"{self.shown}: {top} history")
        path = self.root / raw
        return self.history_file(
            path, display_path(path, self.invocation_dir), f"{self.shown}: {top} history"
        )

    def history_file(self, path: Path, shown: str, key: str) -> HistorySpec:
        suffix = path.suffix.lower()
        if suffix not in HISTORY_SUFFIXES:
            raise ConfigError(f"{key} must name a .jsonl or .csv file, got {describe(shown)}")
        return HistorySpec(kind=suffix[1:], shown=shown, path=path)

    def inline_history(self, raw: Mapping[str, object]) -> HistorySpec:
        where = "[tool.metricgate.history]"
        columns: dict[str, tuple[float, ...]] = {}
        length: int | None = None
        first = ""
        for name, values in raw.items():
            if not isinstance(values, list):
                raise self.fail(where, name, "an array of numbers", values)
            for index, value in enumerate(values):
                if not is_number(value):
                    raise ConfigError(
                        f"{self.shown}: {where} {name}[{index}] must be a number, got {describe(value)}"
                    )
            if length is not None and len(values) != length:
                raise ConfigError(
                    f"{self.shown}: {where} arrays must have equal lengths (one per run): "
                    f"{first} has {length}, {name} has {len(values)}"
                )
            length, first = len(values), first or name
            columns[name] = tuple(float(v) for v in values)
        return HistorySpec(kind="inline", shown=f"{self.shown} {where}", inline=columns)

    def mlflow_history(self, raw: str, key: str) -> HistorySpec:
        experiment = raw[len(MLFLOW_PREFIX) :].strip()
        if not experiment:
            raise ConfigError(
                f'{key} must name an MLflow experiment after "{MLFLOW_PREFIX}", got {describe(raw)}'
            )
        # The server settings are filled in once the whole table is read (see mlflow_settings).
        return HistorySpec(kind="mlflow", shown=raw, experiment=experiment)

    def current(
        self, table: Mapping[str, object], top: str, override: Path | str | None
    ) -> tuple[Path | None, str | None, str | None]:
        """This run's values: a JSON file (path, shown) or an MLflow run (None, shown, run id)."""
        if isinstance(override, str):
            return None, override, self.mlflow_run(override, "--metric-gate-current")
        if override is not None:
            return override, display_path(override, self.invocation_dir), None
        raw = table.get("current")
        if raw is None:
            return None, None, None
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(top, "current", "a path to a JSON file", raw)
        if raw.startswith(MLFLOW_PREFIX):
            return None, raw, self.mlflow_run(raw, f"{self.shown}: {top} current")
        path = self.root / raw
        return path, display_path(path, self.invocation_dir), None

    def mlflow_run(self, raw: str, key: str) -> str:
        run_id = raw[len(MLFLOW_RUN_PREFIX) :] if raw.startswith(MLFLOW_RUN_PREFIX) else ""
        if not re.fullmatch(r"[0-9A-Za-z]+", run_id):
            raise ConfigError(
                f'{key} must be "{MLFLOW_RUN_PREFIX}RUN_ID" (an MLflow run ID), got {describe(raw)}'
            )
        return run_id

    def baseline_model(self, table: Mapping[str, object], top: str) -> str | None:
        raw = table.get("baseline-model")
        if raw is None:
            return None
        if not isinstance(raw, str) or not re.fullmatch(re.escape(MODEL_PREFIX) + r"[^@/]+@[^@/]+", raw):
            raise self.fail(
                top, "baseline-model", f'"{MODEL_PREFIX}NAME@ALIAS" (a registered model alias)', raw
            )
        return raw

    def mlflow_settings(
        self, history: str | None, current: str | None, model: str | None
    ) -> MlflowSettings | None:
        """``[tool.metricgate.mlflow]``, checked always, needed when something lives on a tracking server."""
        where = "[tool.metricgate.mlflow]"
        raw = self.mlflow_table
        if raw is not None and not isinstance(raw, dict):
            raise self.fail("[tool.metricgate]", "mlflow", "a table", raw)
        table: Mapping[str, object] = raw or {}
        self.check_keys(where, table, _MLFLOW_KEYS)
        uri_raw = table.get("tracking-uri")
        if uri_raw is not None and (not isinstance(uri_raw, str) or not uri_raw.strip()):
            raise self.fail(
                where, "tracking-uri", "an http:// or https:// URL of an MLflow tracking server", uri_raw
            )
        filter_raw = table.get("filter")
        if filter_raw is not None and (not isinstance(filter_raw, str) or not filter_raw.strip()):
            raise self.fail(where, "filter", "an MLflow search filter string", filter_raw)
        timeout = self.positive(table, where, "timeout")
        needed_by = next(
            (
                f'{label} "{value}"'
                for label, value in (
                    ("history", history),
                    ("current", current),
                    ("baseline-model", model),
                )
                if value is not None
            ),
            None,
        )
        if needed_by is None:
            return None
        import importlib.util  # only when something lives on a tracking server

        if importlib.util.find_spec("mlflow") is None:
            raise ConfigError(f"{self.shown}: {needed_by} needs the MLflow client: {MLFLOW_EXTRA_HINT}")
        if uri_raw is not None:
            uri, source = str(uri_raw).strip(), f"{self.shown}: {where} tracking-uri"
        else:
            uri, source = os.environ.get("MLFLOW_TRACKING_URI", "").strip(), "MLFLOW_TRACKING_URI"
            if not uri:
                raise ConfigError(
                    f"{self.shown}: {needed_by} needs a tracking server: set tracking-uri in {where} "
                    "or the MLFLOW_TRACKING_URI environment variable"
                )
        if not re.match(r"https?://[^/]", uri):
            raise ConfigError(
                f"{source} must be an http:// or https:// URL of an MLflow tracking server, "
                f"got {describe(mask_uri(uri))}"
            )
        return MlflowSettings(
            tracking_uri=uri,
            shown_uri=mask_uri(uri),
            filter=None if filter_raw is None else str(filter_raw),
            timeout=30.0 if timeout is None else timeout,
        )

    def string(self, table: Mapping[str, object], where: str, key: str, default: str) -> str:
        raw = table.get(key, default)
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(where, key, "a non-empty string", raw)
        return raw

    def choice(
        self, table: Mapping[str, object], where: str, key: str, allowed: tuple[str, ...], default: str
    ) -> str:
        raw = table.get(key, default)
        if raw not in allowed:
            expected = " or ".join(f'"{option}"' for option in allowed)
            raise self.fail(where, key, expected, raw)
        return str(raw)

    def integer(
        self, table: Mapping[str, object], where: str, key: str, default: int, *, minimum: int
    ) -> int:
        raw = table.get(key, default)
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < minimum:
            raise self.fail(where, key, f"an integer >= {minimum}", raw)
        return raw

    def number(
        self, table: Mapping[str, object], where: str, key: str, *, non_negative: bool = False
    ) -> float | None:
        if key not in table:
            return None
        raw = table[key]
        if not is_number(raw) or not _finite(raw):  # type: ignore[arg-type]
            raise self.fail(where, key, "a finite number", raw)
        if non_negative and raw < 0:  # type: ignore[operator]
            raise self.fail(where, key, "a number >= 0", raw)
        return float(raw)  # type: ignore[arg-type]

    def fraction(self, table: Mapping[str, object], where: str, key: str) -> float | None:
        raw = table.get(key)
        if raw is None:
            return None
        if not is_number(raw) or not 0 < raw < 1:  # type: ignore[operator]
            raise self.fail(where, key, "a number between 0 and 1 (exclusive), such as 0.95", raw)
        return float(raw)  # type: ignore[arg-type]

    def positive(self, table: Mapping[str, object], where: str, key: str) -> float | None:
        value = self.number(table, where, key)
        if value is not None and value <= 0:
            raise self.fail(where, key, "a number > 0", table[key])
        return value

    def boolean(self, table: Mapping[str, object], where: str, key: str, default: bool) -> bool:
        raw = table.get(key, default)
        if not isinstance(raw, bool):
            raise self.fail(where, key, "true or false", raw)
        return raw

    # -- acceptances ----------------------------------------------------------

    def acceptances(
        self, raw: object, metrics: tuple[MetricRule, ...], today: _dt.date, max_days: int
    ) -> tuple[Acceptance, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.fail(
                "[tool.metricgate]", "accept", "an array of tables ([[tool.metricgate.accept]] entries)", raw
            )
        active = []
        for number, entry in enumerate(raw, start=1):
            accepted = self.acceptance(number, entry, today, max_days)
            where = f"[[tool.metricgate.accept]] #{number} ({accepted.metric})"
            if accepted.until < today:
                self.notices.append(
                    f"{self.shown}: {where} expired on {accepted.until.isoformat()} and is ignored; "
                    "delete it, or renew it in a reviewed change"
                )
                continue
            if not any(accepted.matches(rule.name) for rule in metrics):
                self.notices.append(
                    f"{self.shown}: {where} matches no metric in [tool.metricgate.metrics], so it accepts nothing"
                )
                continue
            active.append(accepted)
        return tuple(active)

    def acceptance(self, number: int, entry: object, today: _dt.date, max_days: int) -> Acceptance:
        """One entry, checked whatever the date: a mistake is an error even in an expired entry."""
        where = f"[[tool.metricgate.accept]] #{number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{self.shown}: {where} must be a table, got {describe(entry)}")
        self.check_keys(where, entry, _ACCEPT_KEYS)
        needs = {
            "metric": "the metric name or glob it accepts",
            "reason": "why the change is intended, for the review trail",
            "until": "the last UTC day it applies, a TOML date: until = YYYY-MM-DD",
        }
        for key, why in needs.items():
            if key not in entry:
                raise ConfigError(f"{self.shown}: {where} needs {key} ({why})")
        metric = self.string(entry, where, "metric", "")
        reason = self.string(entry, where, "reason", "")
        until = entry["until"]
        # A TOML date parses to ``date``; a date-time (a subclass) or a string is not one.
        if not isinstance(until, _dt.date) or isinstance(until, _dt.datetime):
            found = until.isoformat() if isinstance(until, (_dt.datetime, _dt.time)) else until
            raise self.fail(where, "until", "a TOML date, YYYY-MM-DD (no quotes, no time)", found)
        latest = today + _dt.timedelta(days=max_days)
        if until > latest:
            raise ConfigError(
                f"{self.shown}: {where} until must be at most {max_days} days ahead "
                f"(accept-max-days), by {latest.isoformat()}, got {until.isoformat()}"
            )
        rules: tuple[str, ...] = RELATIVE_RULES
        if "rules" in entry:
            listed = entry["rules"]
            expected = "a non-empty array of rule names from " + ", ".join(f'"{r}"' for r in ACCEPTABLE_RULES)
            if not isinstance(listed, list) or not listed:
                raise self.fail(where, "rules", expected, listed)
            for item in listed:
                if item not in ACCEPTABLE_RULES:
                    raise ConfigError(
                        f"{self.shown}: {where} rules must hold rule names from "
                        + ", ".join(f'"{r}"' for r in ACCEPTABLE_RULES)
                        + f", got {describe(item)}"
                    )
            rules = tuple(dict.fromkeys(str(item) for item in listed))
        low = high = None
        if "value" in entry:
            bounds = entry["value"]
            if not isinstance(bounds, dict) or not bounds:
                raise self.fail(where, "value", "a table such as { min = 0.92, max = 0.95 }", bounds)
            inner = f"{where} value"
            self.check_keys(inner, bounds, ("min", "max"))
            low = self.number(bounds, inner, "min")
            high = self.number(bounds, inner, "max")
            if low is not None and high is not None and low > high:
                raise ConfigError(
                    f"{self.shown}: {inner} min must not exceed max, got min {low:g} > max {high:g}"
                )
        return Acceptance(
            number=number, metric=metric, reason=reason.strip(), until=until, rules=rules, low=low, high=high
        )

    # -- alerts -------------------------------------------------------------

    def alerts(self, raw: object) -> AlertSettings | None:
        where = "[tool.metricgate.alerts]"
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise self.fail("[tool.metricgate]", "alerts", "a table", raw)
        self.check_keys(where, raw, _ALERT_KEYS)
        command = raw.get("command")
        if command is not None and (not isinstance(command, str) or not command.strip()):
            raise self.fail(where, "command", "a non-empty shell command", command)
        return AlertSettings(
            on=self.choice(raw, where, "on", ("fail", "warn"), "fail"),
            command=command,
            timeout=self.positive(raw, where, "timeout") or 60.0,
            webhook_env=self.env_name(raw, where, "webhook-env"),
            network_timeout=self.positive(raw, where, "network-timeout") or 10.0,
            email=self.email(raw.get("email")),
        )

    def email(self, raw: object) -> EmailSettings | None:
        where = "[tool.metricgate.alerts.email]"
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise self.fail("[tool.metricgate.alerts]", "email", "a table", raw)
        self.check_keys(where, raw, _EMAIL_KEYS)
        for key in ("smtp-host", "from", "to"):
            if key not in raw:
                raise ConfigError(f"{self.shown}: {where} needs {key}")
        port = self.integer(raw, where, "smtp-port", 587, minimum=1)
        if port > 65535:
            raise self.fail(where, "smtp-port", "a port number from 1 to 65535", port)
        recipients = raw["to"]
        if isinstance(recipients, str):
            recipients = [recipients]
        if (
            not isinstance(recipients, list)
            or not recipients
            or not all(isinstance(item, str) and "@" in item for item in recipients)
        ):
            raise self.fail(where, "to", "a list of e-mail addresses", raw["to"])
        sender = raw["from"]
        if not isinstance(sender, str) or "@" not in sender:
            raise self.fail(where, "from", "an e-mail address", sender)
        return EmailSettings(
            smtp_host=self.string(raw, where, "smtp-host", ""),
            smtp_port=port,
            sender=sender,
            to=tuple(recipients),
            username_env=self.env_name(raw, where, "username-env"),
            password_env=self.env_name(raw, where, "password-env"),
        )

    def env_name(self, table: Mapping[str, object], where: str, key: str) -> str | None:
        raw = table.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", raw):
            raise self.fail(where, key, "the name of an environment variable", raw)
        return raw

    # -- metric tables --------------------------------------------------

    def collect_metrics(
        self,
        raw: Mapping[str, object],
        prefix: str,
        exact: list[tuple[str, dict[str, object]]],
        patterns: list[MetricPattern],
    ) -> None:
        # A table holding only tables is a namespace: [tool.metricgate.metrics.eval.accuracy]
        # gates "eval.accuracy", the dotted name a flattened metrics.json gives.
        for key, value in raw.items():
            name = prefix + key
            if not isinstance(value, dict):
                where = table_name(prefix[:-1]) if prefix else "[tool.metricgate.metrics]"
                raise self.fail(where, key, "a table of limits", value)
            if value and all(isinstance(item, dict) for item in value.values()):
                self.collect_metrics(value, name + ".", exact, patterns)
            elif any(character in name for character in _GLOB_CHARACTERS):
                patterns.append(MetricPattern(name, self.metric_fields(table_name(name), value)))
            else:
                exact.append((name, self.metric_fields(table_name(name), value)))

    def metric_fields(self, where: str, table: Mapping[str, object]) -> dict[str, object]:
        """The per-metric keys ``table`` sets, validated, by ``MetricRule`` field name (absent keys left out)."""
        self.check_keys(where, table, _METRIC_KEYS)
        found: dict[str, object] = {
            "min": self.number(table, where, "min"),
            "max": self.number(table, where, "max"),
            "max-drop": self.number(table, where, "max-drop", non_negative=True),
            "max-drop-pct": self.number(table, where, "max-drop-pct", non_negative=True),
            "direction": self.choice(table, where, "direction", DIRECTIONS, "higher"),
            "severity": self.choice(table, where, "severity", SEVERITIES, "error"),
            "required": self.boolean(table, where, "required", True),
            "confidence": self.fraction(table, where, "confidence"),
            "max-sigma": self.positive(table, where, "max-sigma"),
            "min-history": self.integer(table, where, "min-history", 5, minimum=2),
            "patience": self.integer(table, where, "patience", 1, minimum=1),
            "kind": self.choice(table, where, "kind", KINDS, "value"),
            "min-sigma": self.positive(table, where, "min-sigma"),
            "window": self.integer(table, where, "window", 5, minimum=1),
            "baseline": self.choice(table, where, "baseline", BASELINE_METHODS, "median"),
        }
        # Only the keys the table sets: a default must not override a glob's or the defaults' value.
        return {key.replace("-", "_"): value for key, value in found.items() if key in table}
